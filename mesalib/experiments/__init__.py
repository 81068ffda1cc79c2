"""One module per chapter: the chapter's ``Config`` (its real settings and a documented smaller
``test()`` size), ``run(key, config) -> Result`` and the chapter's tables.

The layers run one way: notebooks, claim tests and :mod:`mesalib.exercises` use these modules;
these modules use the library (:mod:`mesalib.bandits`, :mod:`mesalib.rl2`, ...); no library
module imports an experiment or an exercise (``tests/test_layers.py`` checks the imports).
"""
