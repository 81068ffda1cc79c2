"""Complete checks: a mixed-integer linear program or an SMT query decides a property exactly.

* ``solver="milp"`` — big-M ReLU encoding (Tjeng et al. 2019) solved by HiGHS through
  ``scipy.optimize.milp``; it returns the exact minimum margin;
* ``solver="z3"`` — one satisfiability query to z3 (the Reluplex family, Katz et al. 2017), in
  exact rational arithmetic, when the optional ``z3-solver`` package is installed.

Both use CROWN's bounds on the hidden layers (computed in float32 and widened slightly, so float
rounding cannot make the check unsound) to fix the stable ReLUs and size the big-M constants.
"""
from __future__ import annotations

import time

import numpy as np
import scipy.optimize
import scipy.sparse

from mesalib import validate
from mesalib.verify.bounds import batch_bounds
from mesalib.verify.spec import Box, Property, Result, certified_margin, check_problem, property_margin


def widened(bounds):
    """Hidden-layer bounds widened so that float32 rounding cannot make the exact check unsound."""
    out = []
    for l, u in bounds:
        slack = 1e-4 * (1.0 + np.maximum(np.abs(l), np.abs(u)))
        out.append((l - slack, u + slack))
    return out


def _milp_group(p, lo, hi, bounds, c, d, rows, time_limit):
    """Minimise t = max over ``rows`` of (c f(x) + d) over the box with a big-M MILP.

    Variables: x, then each hidden layer's post-activations, then one binary per unstable
    ReLU, then t. Returns (status, optimum, dual bound, x).
    """
    n_in = lo.size
    widths = [layer["w"].shape[1] for layer in p[:-1]]
    unstable = [(l < 0) & (u > 0) for l, u in bounds]
    n_a = sum(widths)
    n_bin = int(sum(m.sum() for m in unstable))
    n = n_in + n_a + n_bin + 1
    lb, ub = np.full(n, -np.inf), np.full(n, np.inf)
    lb[:n_in], ub[:n_in] = lo, hi
    integrality = np.zeros(n)
    A, b_lo, b_hi = [], [], []

    def row(entries):
        r = np.zeros(n)
        for idx, vals in entries:
            r[idx] += vals
        return r

    prev = np.arange(n_in)
    a_start, z_start = n_in, n_in + n_a
    for j, layer in enumerate(p[:-1]):
        w, bias = layer["w"], layer["b"]
        l, u = bounds[j]
        a_idx = a_start + np.arange(widths[j])
        a_start += widths[j]
        for k in range(widths[j]):
            ak = a_idx[k]
            if u[k] <= 0:  # always off
                lb[ak] = ub[ak] = 0.0
                continue
            lb[ak], ub[ak] = max(l[k], 0.0), u[k]
            if l[k] >= 0:  # always on: a = z
                A.append(row([(ak, 1.0), (prev, -w[:, k])]))
                b_lo.append(bias[k])
                b_hi.append(bias[k])
                continue
            zk = z_start
            z_start += 1
            integrality[zk], lb[zk], ub[zk] = 1, 0.0, 1.0
            A.append(row([(ak, 1.0), (prev, -w[:, k])]))  # a >= z
            b_lo.append(bias[k])
            b_hi.append(np.inf)
            A.append(row([(ak, 1.0), (prev, -w[:, k]), (zk, -l[k])]))  # a <= z - l (1 - delta)
            b_lo.append(-np.inf)
            b_hi.append(bias[k] - l[k])
            A.append(row([(ak, 1.0), (zk, -u[k])]))  # a <= u delta
            b_lo.append(-np.inf)
            b_hi.append(0.0)
        prev = a_idx
    t = n - 1
    w_out = p[-1]["w"] @ c[rows].T
    b_out = p[-1]["b"] @ c[rows].T + d[rows]
    for r in range(len(rows)):
        A.append(row([(prev, w_out[:, r]), (t, -1.0)]))  # row_r <= t
        b_lo.append(-np.inf)
        b_hi.append(-b_out[r])
    cost = np.zeros(n)
    cost[t] = 1.0
    cons = scipy.optimize.LinearConstraint(scipy.sparse.csr_array(np.array(A)), b_lo, b_hi)
    res = scipy.optimize.milp(cost, constraints=cons, integrality=integrality,
                              bounds=scipy.optimize.Bounds(lb, ub),
                              options={"time_limit": time_limit, "mip_rel_gap": 1e-6})
    x = None if res.x is None else np.clip(res.x[:n_in], lo, hi)
    fun = np.inf if res.fun is None else float(res.fun)
    dual = getattr(res, "mip_dual_bound", None)
    if dual is None or not np.isfinite(dual):  # no binaries (every ReLU stable): an LP, solved exactly
        dual = fun if res.status == 0 and n_bin == 0 else -np.inf
    return res.status, fun, dual, x


def _z3_group_query(p, lo, hi, bounds, c, d, groups, time_limit):
    """One SMT query: is there x in the box where some group has every row <= 0?"""
    import z3  # optional dependency, imported only when asked for

    solver = z3.Solver()
    solver.set("timeout", int(time_limit * 1000))

    def val(v):  # the float64 as an exact rational
        num, den = float(v).as_integer_ratio()
        return z3.RealVal(f"{num}/{den}")
    xs = [z3.Real(f"x{i}") for i in range(lo.size)]
    for xi, a, b in zip(xs, lo, hi):
        solver.add(xi >= val(a), xi <= val(b))
    prev = xs
    for j, layer in enumerate(p[:-1]):
        l, u = bounds[j]
        cur = []
        for k in range(layer["w"].shape[1]):
            if u[k] <= 0:
                cur.append(val(0.0))
                continue
            z = z3.Sum([val(layer["w"][i, k]) * prev[i] for i in range(len(prev))]) + val(layer["b"][k])
            if l[k] >= 0:
                cur.append(z)
                continue
            a = z3.Real(f"a{j}_{k}")
            solver.add(a == z3.If(z > 0, z, val(0.0)), a <= val(u[k]))
            cur.append(a)
        prev = cur
    out = [z3.Sum([val(p[-1]["w"][i, o]) * prev[i] for i in range(len(prev))]) + val(p[-1]["b"][o])
           for o in range(p[-1]["w"].shape[1])]
    rows = [z3.Sum([val(c[r, o]) * out[o] for o in range(len(out)) if c[r, o] != 0]) + val(d[r]) for r in range(len(d))]
    g = np.array(groups)
    solver.add(z3.Or([z3.And([rows[r] <= 0 for r in np.flatnonzero(g == k)]) for k in range(g.max() + 1)]))
    answer = solver.check()
    if answer == z3.sat:
        model = solver.model()

        def num(v):
            v = model.eval(v, model_completion=True)
            return v.numerator_as_long() / v.denominator_as_long()
        # The model is an exact rational witness: report its margin computed in exact arithmetic.
        row_vals = np.array([num(r) for r in rows])
        margin = min(row_vals[g == k].max() for k in range(g.max() + 1))
        return "sat", np.clip(np.array([num(v) for v in xs]), lo, hi), float(margin)
    return ("unsat" if answer == z3.unsat else "unknown"), None, np.nan


def exact_check(params, box: Box, prop: Property, solver: str = "milp", time_limit: float = 30.0,
                skip_certified: bool = True) -> Result:
    """A complete check of the property over the box (up to ``time_limit`` seconds per query).

    ``solver="milp"``: per group, minimise the group's margin exactly with HiGHS (scipy.optimize.milp);
    groups that CROWN already certifies are skipped unless ``skip_certified=False``. ``solver="z3"``:
    one SMT satisfiability query for a violation (needs the optional z3-solver package), exact in
    rational arithmetic. A MILP counterexample is re-checked by a float64 forward pass; one that
    does not reproduce (the optimum lies within the solver's tolerance of 0) gives "unknown".
    """
    validate.choice("solver", solver, {"milp", "z3"})
    time_limit = validate.real("time_limit", time_limit, low=0.0, low_open=True)
    skip_certified = validate.boolean("skip_certified", skip_certified)
    p, box, prop = check_problem(params, box, prop, batched=False)
    t0 = time.perf_counter()
    all_bounds = batch_bounds(p, box.lower[None], box.upper[None], prop.c[None], prop.d[None], "crown")
    bounds = widened([(l[0], u[0]) for l, u in all_bounds[:-1]])
    row_lo = all_bounds[-1][0][0]
    method = solver
    if solver == "z3":
        answer, x, m = _z3_group_query(p, box.lower, box.upper, bounds, prop.c, prop.d, prop.groups, time_limit)
        if answer == "unsat":
            return Result("verified", method, np.nan, None, time.perf_counter() - t0)
        if answer == "sat" and m <= 0:
            return Result("falsified", method, m, x, time.perf_counter() - t0)
        return Result("unknown", method, np.nan, None, time.perf_counter() - t0)
    g = np.array(prop.groups)
    group_min = []
    for k in range(g.max() + 1):
        rows = np.flatnonzero(g == k)
        if skip_certified and row_lo[rows].max() > 0:
            group_min.append(np.nan)  # certified by bounds; its exact minimum was not computed
            continue
        status, fun, dual, x = _milp_group(p, box.lower, box.upper, bounds, prop.c, prop.d, rows, time_limit)
        if x is not None and fun <= 0:
            m = float(property_margin(p, x, prop))
            if m <= 0:
                return Result("falsified", method, m, x, time.perf_counter() - t0)
        if status == 0 and dual > 0:
            group_min.append(fun)
            continue
        return Result("unknown", method, np.nan, None, time.perf_counter() - t0)
    solved = [v for v in group_min if not np.isnan(v)]
    margin = min(solved) if len(solved) == len(group_min) else float(certified_margin(row_lo, prop.groups))
    return Result("verified", method, float(margin), None, time.perf_counter() - t0)
