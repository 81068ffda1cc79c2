"""The three layers of mesalib run one way: library <- experiments <- exercises, notebooks, tests."""
import ast
import pathlib

import pytest

MESALIB = pathlib.Path(__file__).resolve().parents[1] / "mesalib"
UPPER = ("mesalib.experiments", "mesalib.exercises")


def imports_of(path: pathlib.Path) -> set[str]:
    """Every module a file imports, at any depth (inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def layer(path: pathlib.Path) -> str:
    parts = path.relative_to(MESALIB).parts
    return parts[0] if parts[0] in ("experiments", "exercises") else "library"


LIBRARY = sorted(p for p in MESALIB.rglob("*.py") if layer(p) == "library")
EXPERIMENTS = sorted(p for p in MESALIB.rglob("*.py") if layer(p) == "experiments")


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(MESALIB)))
def test_library_module_imports_no_experiment_or_exercise(path):
    bad = sorted(n for n in imports_of(path) if n.startswith(UPPER))
    assert not bad, f"{path.name} imports {bad}: move the shared piece down into the library"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: str(p.relative_to(MESALIB)))
def test_experiment_imports_no_exercise(path):
    bad = sorted(n for n in imports_of(path) if n.startswith("mesalib.exercises"))
    assert not bad, f"{path.name} imports {bad}"


def test_the_rule_detects_a_violation(tmp_path):
    bad = tmp_path / "lib.py"
    bad.write_text("def f():\n    from mesalib.experiments import meta_learning\n")
    assert any(n.startswith(UPPER) for n in imports_of(bad))


def private_uses(path: pathlib.Path) -> set[str]:
    """``module._name`` uses, where ``module`` is a mesalib module imported by this file."""
    tree = ast.parse(path.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mesalib"):
            modules.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Import):
            modules.update(a.asname or a.name for a in node.names if a.name.startswith("mesalib"))
    return {f"{n.value.id}.{n.attr}" for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in modules
            and n.attr.startswith("_") and not n.attr.startswith("__")}


@pytest.mark.parametrize("path", sorted(MESALIB.rglob("*.py")), ids=lambda p: str(p.relative_to(MESALIB)))
def test_no_module_calls_another_modules_private_function(path):
    bad = sorted(private_uses(path))
    assert not bad, f"{path.name} uses {bad}: make the piece public or move it"
