import pathlib

import pytest

import mesalib  # noqa: F401  (configures XLA before any test touches JAX)

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT


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
