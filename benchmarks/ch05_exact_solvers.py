"""Chapter 5's exact solvers, side by side in one run: HiGHS's MILP against z3 on the chapter's
two-moons network (every 5th test point, eps 0.1 and 0.3: verdicts and ms per point), and the MILP's
time per point as the hidden width grows (2-W-W-2 networks fitted to the same data, W = 16, 32, 64).
Run: `PYTHONPATH=. python benchmarks/ch05_exact_solvers.py > benchmarks/ch05_exact_solvers.log`
(2-core CPU, shared with other processes: compare within the run, not across machines).
"""
import time

import jax
import numpy as np
import pandas as pd

from mesalib import train, verify
from mesalib.experiments import verification as chapter

pd.set_option("display.width", 200)
key = jax.random.key(0)
config = chapter.Config()
network = chapter.run_network(key, config)


def solve(params, x, labels, eps, idx, solvers):
    props = verify.robustness_properties(labels, 2)
    rows = []
    for i in idx:
        box = verify.linf_ball(x[i], eps)
        prop = verify.Property(props.c[i], props.d[i], props.groups)
        row = {"eps": eps, "point": i}
        for s in solvers:
            r = verify.exact_check(params, box, prop, s, time_limit=30.0, skip_certified=False)
            row[s], row[f"{s}_ms"] = r.status, 1e3 * r.seconds
        rows.append(row)
    return pd.DataFrame(rows)


t0 = time.time()
idx = range(0, len(network.x_test), 5)
solve(network.params, network.x_test, network.predicted, 0.0, [0], ("milp", "z3"))   # warm-up
side = pd.concat([solve(network.params, network.x_test, network.predicted, e, idx, ("milp", "z3")) for e in (0.1, 0.3)])
print("== MILP against z3, the chapter's 2-16-16-2 network, every 5th test point")
side["agree"] = (side["milp"] == side["z3"]).astype(int)
print(side.groupby("eps").agg(points=("point", "size"), agree=("agree", "sum"),
                              milp_median_ms=("milp_ms", "median"), milp_mean_ms=("milp_ms", "mean"),
                              z3_median_ms=("z3_ms", "median"), z3_mean_ms=("z3_ms", "mean"), z3_max_ms=("z3_ms", "max")).round(1).to_string())
ratio = side["z3_ms"] / side["milp_ms"]
print(f"z3 / MILP time per point: median {ratio.median():.1f}, range {ratio.min():.1f} to {ratio.max():.1f}")

print("\n== MILP time per point by hidden width (20 test points)")
rows = []
for w, k in zip((16, 32, 64), jax.random.split(jax.random.key(1), 3)):
    params, _ = train.fit_mlp(k, network.x_train, network.y_train, config.ladder.fit._replace(hidden=(w, w)))
    pred = train.predict(params, network.x_test)
    for e in (0.1, 0.3):
        f = solve(params, network.x_test, pred, e, idx, ("milp",))
        rows.append({"width": w, "eps": e, "median_ms": f["milp_ms"].median(), "mean_ms": f["milp_ms"].mean(),
                     "max_ms": f["milp_ms"].max(), "undecided": int((f["milp"] == "unknown").sum())})
print(pd.DataFrame(rows).round(1).to_string(index=False))
print(f"\ntotal {time.time() - t0:.0f} s")
