"""The Gittins index table: one backward induction over the whole Beta lattice per calibration
reward (mesalib's method) against per-state bisection, each state with its own backward
induction (the method mesalib used before; still used for few states and a discount near 1).

    python benchmarks/gittins.py [--pulls 100 300 1000] [--bisection-max 300]

Both run in the same process, one after the other, at discount 0.9. Bisection beyond
``--bisection-max`` pulls is not run (it takes tens of minutes); its time is extrapolated from
its own measured cost per state, and the table says so. Prints a Markdown table.
"""
import argparse
import time

import numpy as np

import mesalib  # noqa: F401
from mesalib import bandits


def depth_for(discount):
    return int(np.ceil(np.log(bandits.GITTINS_TOL) / np.log(discount)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pulls", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--bisection-max", type=int, default=300)
    parser.add_argument("--discount", type=float, default=0.9)
    args = parser.parse_args()
    d = depth_for(args.discount)
    print(f"discount {args.discount}, lookahead {d} pulls, grid {bandits.GITTINS_GRID} calibration rewards\n")
    print("| pulls | states | lattice, s | per-state bisection, s | bisection / lattice | max abs difference |")
    print("|---|---|---|---|---|---|")
    per_state = None
    for n in args.pulls:
        states = (n + 1) * (n + 2) // 2
        t0 = time.perf_counter()
        lattice = bandits._gittins_table.__wrapped__(args.discount, n)   # uncached
        t_lat = time.perf_counter() - t0
        if n <= args.bisection_max:
            t0 = time.perf_counter()
            bisect = bandits._gittins_bisection(args.discount, n, d)
            t_bis = time.perf_counter() - t0
            per_state = t_bis / states
            diff = f"{np.nanmax(np.abs(lattice - bisect)):.1e}"
            bis = f"{t_bis:.1f}"
        else:
            t_bis = per_state * states if per_state else float("nan")
            bis, diff = f"~{t_bis:.0f} (extrapolated)", "not run"
        print(f"| {n} | {states} | {t_lat:.2f} | {bis} | {t_bis / t_lat:.0f}x | {diff} |", flush=True)


if __name__ == "__main__":
    main()
