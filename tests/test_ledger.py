"""The claims ledger: records are checked when made, compared with tolerance, and the committed
ledger names only claim tests that exist."""
import ast
import json

import pytest

from conftest import LEDGER, compare_record, make_record, read_ledger, write_ledger


def rec(**kw):
    args = dict(chapter=1, claim="x beats y", value=0.5, low=0.4, high=0.6, tolerance=0.05)
    args.update(kw)
    return make_record("tests/test_claims_ch01.py::test_a", **args)


def test_records_round_and_compare_within_tolerance():
    r = rec(value=0.123456789, low=0.1, high=0.2)
    assert r["value"] == 0.123457
    assert compare_record(rec(value=0.52), rec()) == []
    assert any("value" in p for p in compare_record(rec(value=0.56, high=0.7), rec()))
    assert any("seeds" in p for p in compare_record(rec(seeds=3), rec(seeds=4)))
    assert any("published" in p for p in compare_record(rec(published=6.7), rec()))
    assert any("low" in p for p in compare_record(rec(low=None, high=None), rec()))


@pytest.mark.parametrize("kw, match", [
    (dict(chapter="1"), "chapter"),
    (dict(claim=" "), "claim"),
    (dict(value=float("nan")), "value"),
    (dict(value="high"), "value"),
    (dict(low=None), "low and high"),
    (dict(value=0.7), "outside"),
    (dict(seeds=0), "seeds"),
    (dict(tolerance=-1), "tolerance"),
])
def test_bad_records(kw, match):
    with pytest.raises(ValueError, match=match):
        rec(**kw)


def test_ledger_round_trip(tmp_path):
    path = tmp_path / "ledger.json"
    write_ledger([rec(chapter=2), rec()], path)
    back = read_ledger(path)
    assert [r["chapter"] for r in back] == [1, 2]
    assert read_ledger(tmp_path / "missing.json") == []


def test_committed_ledger_names_existing_claim_tests(root):
    records = json.loads(LEDGER.read_text())["claims"]
    assert records, "the ledger is empty"
    for r in records:
        make_record(r["test"], **{k: r[k] for k in ("chapter", "claim", "value", "low", "high", "unit", "interval",
                                                    "seeds", "published", "source", "tolerance")})
        path, _, name = r["test"].partition("::")
        assert path.startswith("tests/test_claims_"), r["test"]
        tree = ast.parse((root / path).read_text())
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert name.split("[")[0] in functions, f"{r['test']} is not a test in {path}"
    keys = [(r["test"], r["claim"]) for r in records]
    assert len(keys) == len(set(keys)), "a claim is recorded twice"
