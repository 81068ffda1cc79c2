import gc
import json
import math
import os
import pathlib

import pytest

import mesalib  # noqa: F401  (configures XLA before any test touches JAX)

import jax


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop every compiled program after each test module. XLA's CPU backend keeps each compiled
    executable in its own memory mappings; one process running the whole suite compiles tens of
    thousands of programs, and past the kernel's limit on mappings (vm.max_map_count, 65530 by
    default) the next compilation crashes the process. Modules rarely share programs, so clearing
    costs little recompilation."""
    yield
    jax.clear_caches()
    gc.collect()

ROOT = pathlib.Path(__file__).resolve().parents[1]
LEDGER = ROOT / "chapters" / "claims_ledger.json"
LEDGER_FIELDS = ("chapter", "claim", "value", "low", "high", "unit", "interval", "seeds", "published", "source")


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT


def pytest_addoption(parser):
    parser.addoption("--update-ledger", action="store_true", default=False,
                     help="write the claims that passing claim tests report to chapters/claims_ledger.json "
                          "(otherwise each claim is checked against its committed record)")


def pytest_configure(config):
    config.addinivalue_line("markers", "fast: unit tests and exercise checkers, a few minutes in all "
                                       "(`pytest -m fast tests`, the tier to run while editing)")
    config.addinivalue_line("markers", "slow: claim tests, notebooks (nbval), the book build, the browser "
                                       "and the Colab-style install check")


def _rank(item) -> int:
    path = str(item.fspath)
    if path.endswith(".ipynb"):
        return 2
    if "test_book" in path or "test_colab" in path:
        return 3
    if "claims" in path:
        return 1
    return 0


def pytest_collection_modifyitems(config, items):
    # Every test belongs to one tier; run the cheap unit tests first, the notebooks after them,
    # the whole-book checks last.
    for item in items:
        item.add_marker(pytest.mark.fast if _rank(item) == 0 else pytest.mark.slow)
    items.sort(key=_rank)


# ------------------------------------------------------------------------------------ claims ledger
# A claim test reports each headline number of its chapter with the `claim` fixture, next to the
# asserts that check it. With --update-ledger the records of passing tests are written to
# chapters/claims_ledger.json (the book renders that file as the claims ledger page); without it,
# every reported claim must agree with its committed record within the tolerance the test gives,
# so the ledger is re-checked whenever the claim tests run.

def _number(name, x, allow_none=True):
    if x is None and allow_none:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"claim {name} must be a number, got {x!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"claim {name} must be finite, got {v}")
    return float(f"{v:.6g}")


def make_record(nodeid, *, chapter, claim, value, tolerance, low=None, high=None, unit="", interval="",
                seeds=None, published=None, source=""):
    """One ledger record (a dict), checked and rounded to 6 significant digits."""
    if not isinstance(chapter, int) or isinstance(chapter, bool) or chapter < 0:
        raise ValueError(f"claim chapter must be a chapter number, got {chapter!r}")
    if not isinstance(claim, str) or not claim.strip():
        raise ValueError("claim must be a sentence saying what is claimed")
    if seeds is not None and (not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1):
        raise ValueError(f"claim seeds must be a positive number of training seeds or None, got {seeds!r}")
    rec = {"test": nodeid, "chapter": chapter, "claim": claim.strip(), "value": _number("value", value, False),
           "low": _number("low", low), "high": _number("high", high), "unit": str(unit),
           "interval": str(interval), "seeds": seeds, "published": _number("published", published),
           "source": str(source), "tolerance": _number("tolerance", tolerance, False)}
    if rec["tolerance"] < 0:
        raise ValueError("claim tolerance must be >= 0")
    if (rec["low"] is None) != (rec["high"] is None):
        raise ValueError("claim low and high go together")
    if rec["low"] is not None and not rec["low"] <= rec["value"] <= rec["high"]:
        raise ValueError(f"claim value {rec['value']} lies outside its interval [{rec['low']}, {rec['high']}]")
    return rec


def compare_record(fresh, committed):
    """Why ``fresh`` disagrees with ``committed`` (a list of strings; empty when they agree)."""
    problems = []
    tol = fresh["tolerance"]
    for key in LEDGER_FIELDS:
        a, b = fresh[key], committed.get(key)
        if key in ("value", "low", "high"):
            if (a is None) != (b is None) or (a is not None and abs(a - b) > tol):
                problems.append(f"{key}: now {a}, ledger {b} (tolerance {tol})")
        elif a != b:
            problems.append(f"{key}: now {a!r}, ledger {b!r}")
    return problems


def read_ledger(path=LEDGER):
    if not path.exists():
        return []
    return json.loads(path.read_text())["claims"]


def write_ledger(records, path=LEDGER):
    records = sorted(records, key=lambda r: (r["chapter"], r["test"].partition("::")[0], r.get("line", 0),
                                             r["test"], r.get("order", 0)))
    path.write_text(json.dumps({"claims": records}, indent=1, ensure_ascii=False) + "\n")


_CLAIMS = pytest.StashKey[list]()


@pytest.fixture
def claim(request):
    """Report a headline claim: claim(chapter=1, claim="...", value=..., low=..., high=...,
    unit="...", interval="95% t over seeds", seeds=3, published=6.7, source="...", tolerance=...)."""
    records = request.node.stash.setdefault(_CLAIMS, [])
    update = request.config.getoption("--update-ledger")

    def report(**kwargs):
        rec = make_record(request.node.nodeid, **kwargs)
        rec["line"] = request.node.location[1] or 0       # the test's line: the ledger keeps file order
        rec["order"] = len(records)
        if any(r["claim"] == rec["claim"] for r in records):
            raise ValueError(f"claim {rec['claim']!r} is reported twice by one test")
        records.append(rec)
        if update:
            return rec
        committed = [r for r in read_ledger() if r["test"] == rec["test"] and r["claim"] == rec["claim"]]
        if not committed:
            pytest.fail(f"claim {rec['claim']!r} is not in {LEDGER.relative_to(ROOT)}; "
                        "run this test with --update-ledger and commit the ledger", pytrace=False)
        problems = compare_record(rec, committed[0])
        if problems:
            pytest.fail(f"claim {rec['claim']!r} disagrees with the ledger: " + "; ".join(problems)
                        + " (if the change is intended, rerun with --update-ledger)", pytrace=False)
        return rec

    return report


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.passed and _CLAIMS in item.stash:
        item.config.stash.setdefault(_CLAIMS, []).extend(item.stash[_CLAIMS])
        item.config.stash.setdefault(_PASSED, set()).add(item.nodeid)


_PASSED = pytest.StashKey[set]()


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if not config.getoption("--update-ledger") or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    passed = config.stash.get(_PASSED, set())
    if not passed:
        return
    kept = [r for r in read_ledger() if r["test"] not in passed]
    write_ledger(kept + config.stash.get(_CLAIMS, []))
