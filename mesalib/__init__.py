"""mesalib: small, compiled JAX experiments for the book on learned optimization.

Importing mesalib first configures XLA's CPU backend (see :mod:`mesalib.runtime`); then the
submodules can be used as ``from mesalib import bandits, rl2``.
"""
from mesalib import runtime as _runtime

_runtime.configure_cpu_backend()

__version__ = "0.1.0"
