"""The build-time reference pages (scripts/book_pages.py): the chapter-usage map, docstring
sanitizing, the status rows and the claims-ledger table."""
import json
import sys

import pytest

from conftest import make_record


@pytest.fixture(scope="module")
def bp(root):
    sys.path.insert(0, str(root / "scripts"))
    import book_pages

    return book_pages


def notebook(*cells):
    return {"cells": [{"cell_type": kind, "source": src, "metadata": {}} for kind, src in cells]}


def test_uses_follow_imports_aliases_and_solutions(bp):
    nb = notebook(
        ("markdown", "# Chapter 9 — Something: a title\n"),
        ("code", "%pip install x\nimport jax\nfrom mesalib import gridworld, plots as pl\n"
                 "from mesalib.exercises import optimizers as checks\nimport mesalib.optpower as op\n"),
        ("code", "r = gridworld.corner_sweep(key)\npl.table(df)\nchecks.check_bits(1)\nop.System.step\njax.numpy.ones(3)\n"),
        ("markdown", "````{solution} x\n```python\nanswer = gridworld.distances(w, t)\n```\n````\n"),
        ("code", "this is not python ("),
    )
    found = bp.uses(bp.code_of(nb))
    for name in ("mesalib.gridworld.corner_sweep", "mesalib.plots.table", "mesalib.exercises.optimizers.check_bits",
                 "mesalib.optpower.System", "mesalib.optpower.System.step", "mesalib.gridworld.distances"):
        assert name in found, name
    assert not any(n.startswith("jax") for n in found)
    assert bp.chapter_label(nb, "chapters/09_x") == "Chapter 9"
    usage = bp.usage_map({"chapters/09_x": nb, "chapters/10_y": notebook(("code", "from mesalib import plots\n"))})
    assert usage["mesalib.gridworld.corner_sweep"] == ["chapters/09_x"]
    assert usage["mesalib.plots"] == ["chapters/09_x", "chapters/10_y"]      # the module, from both


def test_usage_map_of_the_real_book_finds_each_chapter(bp, root):
    usage = bp.usage_map(bp.notebooks(root / "chapters"))
    assert "chapters/08_conclusion" in usage["mesalib.optpower.power_bits"]
    assert "chapters/02_robustness" in usage["mesalib.experiments.robustness.run"]


def test_sanitize_escapes_prose_markup_but_not_literals(bp):
    lines = ["Random transitions (*batch, S, A, S) with |x| and ``|y|``, :func:`f`, *em* and **strong**",
             "by one of", "- ``\"state\"``: R(s)", "- R(s, a)", "  continued", "or by an explicit array"]
    out = bp.sanitize(lines)
    assert out[0] == ("Random transitions (\\*batch, S, A, S) with \\|x\\| and ``|y|``, :func:`f`, *em* and "
                      "**strong**")
    assert out[1:4] == ["by one of", "", "- ``\"state\"``: R(s)"]
    assert out[-2:] == ["", "or by an explicit array"]


def test_module_list_covers_the_library_and_groups_it(bp):
    names = bp.modules()
    assert "mesalib.optpower" in names and "mesalib.experiments.optimizers" in names
    assert not any(n.split(".")[-1].startswith("_") for n in names)
    text = bp.api_text()
    assert text.index("## Library") < text.index("## Chapter experiments") < text.index("## Exercise checkers")
    assert ".. automodule:: mesalib.optpower" in text


def test_stored_run_reads_nbclient_timestamps(bp):
    nb = {"cells": [{"cell_type": "code", "metadata": {"execution": {
        "iopub.execute_input": "2026-01-01T00:00:00.000Z", "iopub.status.idle": "2026-01-01T00:00:05.000Z"}}},
        {"cell_type": "code", "metadata": {"execution": {
            "iopub.execute_input": "2026-01-01T00:01:00.000Z", "iopub.status.idle": "2026-01-01T00:01:30.000Z"}}}]}
    when, secs = bp._stored_run(nb)
    assert secs == 90 and when.minute == 1
    assert bp._stored_run({"cells": []}) == (None, None)


def test_claims_table_marks_published_values(bp, tmp_path):
    recs = [make_record("tests/test_claims_ch01.py::test_a", chapter=1, claim="inside", value=6.6, low=6.5,
                        high=6.75, published=6.7, source="Duan et al. (2016)", seeds=3, tolerance=0.1),
            make_record("tests/test_claims_ch01.py::test_b", chapter=1, claim="outside", value=1.0, low=0.9,
                        high=1.1, published=2.0, tolerance=0.1),
            make_record("tests/test_claims_ch01.py::test_c", chapter=1, claim="no interval", value=0.5, tolerance=0)]
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps({"claims": recs}))
    text = bp.claims_text(path)
    assert "3 claims from 1 chapters; 2 are compared" in text and "inside our interval for 1 of them" in text
    assert "6.7 (inside)" in text and "2 (outside)" in text and "| 3 |" in text
    assert "`test_claims_ch01.py::test_c`" in text
    assert bp.claims_text(tmp_path / "missing.json").startswith("*No claims")
