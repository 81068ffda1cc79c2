"""Does *some* linear probe work for every input? A counterexample-guided search (CEGIS).

"There is a linear read-out w of hidden layer L with |w . h(x) + b - g| <= tol for every x in every
box" has an "exists" in front of a "for all". The probe's weights enter linearly, so for a finite set
of inputs the question is a linear program (minimise the worst error t over w, b); over infinitely many
inputs it is a semi-infinite LP. The loop: fit the minimax probe on a finite set by LP; if its worst
error exceeds tol there, no probe exists at all (the finite set lies inside the boxes); otherwise ask
the verifier whether it holds on every box, add the counterexamples it returns, and repeat.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
import pandas as pd
import scipy.optimize

from mesalib import validate
from mesalib.verify.spec import Box, Property, check_box, check_params


class Synthesis(NamedTuple):
    status: str              # "verified" (a probe that holds on every box), "refuted" (no probe exists), "unknown"
    probe: list | None       # the last probe as an MLP (hidden layers, then its one linear output)
    history: pd.DataFrame    # per round: inputs in the finite set, LP's worst error there, boxes verified / falsified


def _hidden(p, layer, x):
    h = x
    for lay in p[:layer]:
        h = np.maximum(h @ lay["w"] + lay["b"], 0.0)
    return h


def minimax_probe(h, g):
    """The linear read-out (w, b) minimising max_i |h_i . w + b - g_i| by LP; returns (w, b, worst error)."""
    n, m = h.shape
    ones = np.ones((n, 1))
    a_ub = np.block([[h, ones, -ones], [-h, -ones, -ones]])
    b_ub = np.concatenate([g, -g])
    cost = np.zeros(m + 2)
    cost[-1] = 1.0
    res = scipy.optimize.linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * (m + 1) + [(0, None)],
                                 method="highs")
    if res.status != 0:
        raise RuntimeError(f"the probe LP failed: {res.message}")
    return res.x[:m], float(res.x[m]), float(res.x[-1])


def cegis_probe(key, params, layer: int, boxes: Box, targets, tolerance: float, max_rounds: int = 10,
                time_limit: float = 30.0) -> Synthesis:
    """Search for a linear probe of hidden ``layer`` that reads ``targets`` (n,) within ``tolerance`` for
    every input of every box (boxes.lower: (n, d)); counterexample-guided, at most ``max_rounds`` rounds."""
    from mesalib.verify import verify_many   # the package's cheap-first pipeline

    validate.prng_key("key", key)
    p = check_params(params)
    layer = validate.integer("layer", layer, minimum=1, maximum=len(p) - 1)
    boxes = check_box(boxes, p[0]["w"].shape[0], batched=True, name="boxes")
    n = boxes.lower.shape[0]
    g = validate.array("targets", targets, shape=(n,)).astype(np.float64)
    tol = validate.real("tolerance", tolerance, low=0.0, low_open=True)
    max_rounds = validate.integer("max_rounds", max_rounds, minimum=1)
    xs, gs = (boxes.lower + boxes.upper) / 2, g.copy()
    rows, probe = [], None
    for r, k in enumerate(jax.random.split(key, max_rounds)):
        w, b, worst = minimax_probe(_hidden(p, layer, xs), gs)
        row = {"round": r + 1, "inputs": len(xs), "worst error on them": worst, "verified": 0, "falsified": 0}
        if worst > tol:
            rows.append(row)
            return Synthesis("refuted", None, pd.DataFrame(rows))
        probe = p[:layer] + [{"w": w[:, None], "b": np.array([b])}]
        tracks = Property(np.broadcast_to([[1.0], [-1.0]], (n, 2, 1)), np.stack([tol - g, g + tol], 1), (0, 1))
        res = verify_many(probe, boxes, tracks, key=k, time_limit=time_limit)
        bad = np.flatnonzero(res["status"] == "falsified")
        row.update(verified=int((res["status"] == "verified").sum()), falsified=len(bad))
        rows.append(row)
        if row["verified"] == n:
            return Synthesis("verified", probe, pd.DataFrame(rows))
        if not len(bad):
            break
        xs = np.concatenate([xs, np.stack(list(res["counterexample"].iloc[bad]))])
        gs = np.concatenate([gs, g[bad]])
    return Synthesis("unknown", probe, pd.DataFrame(rows))
