"""Chapter 1 runs in a fresh virtual environment holding only `pip install .` and what a Colab
runtime already has for running notebooks (ipykernel), as a reader pressing "Open in Colab" would.

The install cell does nothing outside Colab, so the repository is installed the way that cell
would install it: as a package, not from the working tree. Training loops run with
MESALIB_SMOKE=1 (a few steps each, same code path) to keep this check short.
"""
import os
import subprocess
import sys

import pytest


@pytest.mark.timeout(1800)
def test_chapter_1_runs_after_pip_install_in_a_fresh_venv(root, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = str(venv / "bin" / "python")
    install = subprocess.run([py, "-m", "pip", "install", "--quiet", str(root), "ipykernel", "nbclient"],
                             capture_output=True, text=True, timeout=1200)
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "run"
    work.mkdir()
    script = (
        "import nbformat, nbclient\n"
        f"nb = nbformat.read({str(root / 'chapters/01_meta_learning.ipynb')!r}, as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3').execute()\n"
        "errors = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs if o.output_type == 'error']\n"
        "assert not errors, errors\n"
        "print('EXECUTED', sum(c.cell_type == 'code' for c in nb.cells))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(MESALIB_SMOKE="1", PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    run = subprocess.run([py, "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert "EXECUTED" in run.stdout
    check = subprocess.run([py, "-c", "import mesalib, pathlib; print(pathlib.Path(mesalib.__file__).parent)"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert str(venv) in check.stdout, "mesalib was not imported from the installed package"
