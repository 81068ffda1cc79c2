"""Cold execution time of every chapter: a fresh kernel per notebook, compilation included.

    python benchmarks/time_chapters.py [--against REV] [--repeats N] [chapters/NAME.ipynb ...]

Nothing is written back to the notebooks. With ``--against REV`` the same chapters of git
revision REV (checked out into a temporary worktree, its own mesalib first on the path) are
timed side by side, alternating reference and current, so both see the same machine load; the
table then gives the ratio current / reference. Prints a Markdown table: with ``--repeats N``, the
median of the N runs, every run in brackets, and the ratio of the medians.
"""
import argparse
import statistics
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import nbclient
import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]


def cold_run(path: pathlib.Path, tree: pathlib.Path) -> float:
    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(tree)           # the kernel imports this tree's mesalib
    try:
        t0 = time.perf_counter()
        nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}}).execute()
        return time.perf_counter() - t0
    finally:
        if env_before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env_before


def runs(seconds: list) -> str:
    """The median of the runs, and every run when there is more than one: ``55 (55, 57, 61)``."""
    med = f"{statistics.median(seconds):.0f}"
    return med if len(seconds) == 1 else f"{med} ({', '.join(f'{s:.0f}' for s in seconds)})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--against", help="git revision to time side by side")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    paths = [pathlib.Path(p).resolve() for p in args.paths] or sorted((ROOT / "chapters").glob("*.ipynb"))
    ref_tree = None
    if args.against:
        ref_tree = pathlib.Path(tempfile.mkdtemp(prefix="mesa-ref-"))
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(ref_tree), args.against],
                       check=True, capture_output=True)
    try:
        if ref_tree is None:
            print("| chapter | cold execution, s |\n|---|---|")
        else:
            print(f"| chapter | {args.against}, s | working tree, s | ratio |\n|---|---|---|---|")
        for path in paths:
            now, ref = [], []
            for _ in range(args.repeats):
                if ref_tree is not None:
                    old = ref_tree / path.relative_to(ROOT)
                    if old.exists():
                        ref.append(cold_run(old, ref_tree))
                now.append(cold_run(path, ROOT))
            if ref_tree is None:
                print(f"| {path.stem} | {runs(now)} |", flush=True)
            elif ref:
                ratio = statistics.median(now) / statistics.median(ref)
                print(f"| {path.stem} | {runs(ref)} | {runs(now)} | {ratio:.2f} |", flush=True)
            else:
                print(f"| {path.stem} | (new) | {runs(now)} | |", flush=True)
    finally:
        if ref_tree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref_tree)], capture_output=True)
            shutil.rmtree(ref_tree, ignore_errors=True)


if __name__ == "__main__":
    main()
