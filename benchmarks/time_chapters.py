"""Cold execution time of every chapter: a fresh kernel per notebook, compilation included.

    python benchmarks/time_chapters.py [chapters/NAME.ipynb ...]

Nothing is written back to the notebooks. Prints a Markdown table.
"""
import pathlib
import sys
import time

import nbclient
import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main():
    paths = [pathlib.Path(p) for p in sys.argv[1:]] or sorted((ROOT / "chapters").glob("*.ipynb"))
    print("| chapter | cold execution, s |\n|---|---|")
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}}).execute()
        print(f"| {path.stem} | {time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
