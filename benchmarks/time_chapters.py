"""Cold execution time of every chapter: a fresh kernel per notebook, compilation included.

    python benchmarks/time_chapters.py [--against REV] [--repeats N] [chapters/NAME.ipynb ...]

Nothing is written back to the notebooks. With ``--against REV`` the same chapters of git
revision REV (checked out into a temporary worktree, its own mesalib first on the path) are
timed side by side, alternating reference and current, so both see the same machine load; the
table then gives the ratio current / reference. Prints a Markdown table.
"""
import argparse
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
                print(f"| {path.stem} | {min(now):.0f} |", flush=True)
            elif ref:
                print(f"| {path.stem} | {min(ref):.0f} | {min(now):.0f} | {min(now) / min(ref):.2f} |", flush=True)
            else:
                print(f"| {path.stem} | (new) | {min(now):.0f} | |", flush=True)
    finally:
        if ref_tree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref_tree)], capture_output=True)
            shutil.rmtree(ref_tree, ignore_errors=True)


if __name__ == "__main__":
    main()
