import os
import pathlib

import pytest

import mesalib  # noqa: F401  (configures XLA before any test touches JAX)

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT


def pytest_collection_modifyitems(config, items):
    # Run the cheap unit tests first, the notebooks after them, the whole-book checks last.
    def rank(item):
        path = str(item.fspath)
        if path.endswith(".ipynb"):
            return 2
        if "test_book" in path or "test_colab" in path:
            return 3
        if "claims" in path:
            return 1
        return 0
    items.sort(key=rank)
