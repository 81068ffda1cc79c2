"""Chapter 5's soundness cross-check on every point of the ladder: HiGHS's MILP (floating point,
with tolerances) against z3 (exact rational arithmetic) on the chapter's network, for every test
point and every eps of the chapter's ladder. A disagreement would be a verdict of one solver that
exact arithmetic does not back.
Run: `PYTHONPATH=. python benchmarks/ch05_z3_ladder.py > benchmarks/ch05_z3_ladder.log`
"""
import time

import jax
import pandas as pd

from mesalib import verify
from mesalib.experiments import verification as chapter

key = jax.random.key(0)
config = chapter.Config()
network = chapter.run_network(key, config)
props = verify.robustness_properties(network.predicted, 2)
rows = []
t0 = time.time()
for eps in config.ladder.eps_grid:
    for i in range(len(network.x_test)):
        box = verify.linf_ball(network.x_test[i], eps)
        prop = verify.Property(props.c[i], props.d[i], props.groups)
        row = {"eps": eps, "point": i}
        for solver in ("milp", "z3"):
            r = verify.exact_check(network.params, box, prop, solver, time_limit=60.0, skip_certified=False)
            row[solver], row[f"{solver}_ms"] = r.status, 1e3 * r.seconds
        rows.append(row)
df = pd.DataFrame(rows)
df["agree"] = df["milp"] == df["z3"]
print(f"== MILP against z3 on every ladder point: {len(network.x_test)} test points x eps {config.ladder.eps_grid}")
print(df.groupby("eps").agg(points=("point", "size"), agree=("agree", "sum"),
                            milp_verified=("milp", lambda s: int((s == "verified").sum())),
                            z3_verified=("z3", lambda s: int((s == "verified").sum())),
                            z3_unknown=("z3", lambda s: int((s == "unknown").sum())),
                            milp_median_ms=("milp_ms", "median"), z3_median_ms=("z3_ms", "median"),
                            z3_max_ms=("z3_ms", "max")).round(1).to_string())
bad = df[~df["agree"]]
print(f"\n{int(df['agree'].sum())} of {len(df)} verdicts agree" + ("" if bad.empty else f"; disagreements:\n{bad.to_string()}"))
print(f"total {time.time() - t0:.0f} s")
