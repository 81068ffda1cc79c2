"""The repository URL lives in _config.yml; every copy of it must agree."""
import json
import re

import yaml


def test_install_cells_and_readme_point_at_the_configured_repository(root):
    url = yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url)
    notebooks = sorted((root / "chapters").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        first = json.loads(nb.read_text())["cells"][0]
        src = "".join(first["source"])
        assert "google.colab" in src and f"mesalib @ git+{url}.git" in src, nb.name
        assert "remove-output" in first["metadata"].get("tags", []), nb.name
    found = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+?(?=\.git|/blob|\"|\)|\s)", (root / "README.md").read_text()))
    assert found == {url}, found


def test_set_repository_rewrites_every_copy(root, tmp_path):
    import shutil
    import subprocess
    import sys

    for name in ["_config.yml", "README.md", "chapters", "scripts"]:
        src = root / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    new = "https://github.com/someone/fork"
    subprocess.run([sys.executable, str(tmp_path / "scripts/set_repository.py"), new], check=True, capture_output=True)
    assert yaml.safe_load((tmp_path / "_config.yml").read_text())["repository"]["url"] == new
    for nb in (tmp_path / "chapters").glob("*.ipynb"):
        assert f"git+{new}.git" in "".join(json.loads(nb.read_text())["cells"][0]["source"])
    assert "mesa-optimization/mesa-book" not in (tmp_path / "README.md").read_text()


def test_every_bibliography_entry_has_a_link(root):
    """Each reference a chapter cites carries a url or a doi, so a reader can check it."""
    missing = []
    for path in sorted((root / "bib").glob("*.bib")):
        for kind, key, body in re.findall(r"@(\w+)\{([^,]+),(.*?)\n\}", path.read_text(), re.S):
            if not re.search(r"\b(url|doi)\s*=", body):
                missing.append(f"{path.name}:{key}")
    assert not missing, missing
