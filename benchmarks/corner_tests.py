"""Time Chapter 3's corner tests (which deployment tests expose the goal-blind walker) by room size.

    python benchmarks/corner_tests.py [SIZE ...]        # default: 5 10 20

Runs ``corner_test_informativeness(size)`` once per size (the first size includes warm-up) and
prints seconds and the share p of informative tests. It also runs on the layout before the
restructuring, where the function lived in ``mesalib.irl``, so the same script measures both
side by side (PYTHONPATH pointing at the older tree). Results: ``corner_tests.log``.
"""
import sys
import time

import mesalib  # noqa: F401  (configures XLA first)

try:
    from mesalib.experiments import unidentifiability as chapter
except ImportError:  # the layout before the restructuring
    from mesalib import irl as chapter


def main():
    sizes = [int(s) for s in sys.argv[1:]] or [5, 10, 20]
    print(f"module: {chapter.__name__}")
    for size in sizes:
        t0 = time.perf_counter()
        p, _ = chapter.informativeness_by_goal(chapter.corner_test_informativeness(size))
        print(f"size {size:3d}: {time.perf_counter() - t0:7.1f} s   p = {p:.4f}", flush=True)


if __name__ == "__main__":
    main()
