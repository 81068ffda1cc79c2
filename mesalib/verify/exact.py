"""Complete checks: a mixed-integer linear program or an SMT query decides a property exactly.

* ``solver="milp"`` — big-M ReLU encoding (Tjeng et al. 2019) solved by HiGHS through
  ``scipy.optimize.milp``; it returns the exact minimum margin;
* ``solver="z3"`` — one satisfiability query to z3 (the Reluplex family, Katz et al. 2017), in
  exact rational arithmetic, when the optional ``z3-solver`` package is installed.

Both use CROWN ∩ IBP's bounds on the hidden layers to fix the stable ReLUs and size the big-M
constants, computed in float32 and widened by a relative 1e-4 against rounding. The encoding is
only as sound as those bounds: :func:`milp_with_bounds` takes them from the caller, and with bounds
that are too tight it "verifies" false properties. :func:`activation_query` asks z3 about one
hidden unit instead of the output.

"Exact" means exact arithmetic. HiGHS works in floating point with feasibility and optimality
tolerances (about 1e-7 here), so a MILP verdict with a margin within that tolerance of zero is not a
proof; z3 works in exact rationals on the float64 weights, which is why it is the cross-check.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np
import scipy.optimize
import scipy.sparse

from mesalib import validate
from mesalib.verify.bounds import batch_bounds
from mesalib.verify.spec import (Box, Property, Result, certified_margin, check_box, check_params, check_problem,
                                 property_margin)


@contextlib.contextmanager
def _quiet_stdout():
    """Silence file descriptor 1 for the duration (HiGHS's MIP solver prints debug lines from C++)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


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
    with _quiet_stdout():
        res = scipy.optimize.milp(cost, constraints=cons, integrality=integrality,
                                  bounds=scipy.optimize.Bounds(lb, ub),
                                  options={"time_limit": time_limit, "mip_rel_gap": 1e-6})
    x = None if res.x is None else np.clip(res.x[:n_in], lo, hi)
    fun = np.inf if res.fun is None else float(res.fun)
    dual = getattr(res, "mip_dual_bound", None)
    if dual is None or not np.isfinite(dual):  # no binaries (every ReLU stable): an LP, solved exactly
        dual = fun if res.status == 0 and n_bin == 0 else -np.inf
    return res.status, fun, dual, x


def _z3_val(v):
    """A float64 as an exact z3 rational."""
    import z3
    num, den = float(v).as_integer_ratio()
    return z3.RealVal(f"{num}/{den}")


def _z3_network(p, lo, hi, bounds, solver, depth=None):
    """Encode the network on the box into ``solver`` in exact rationals: returns (inputs, hidden, out).

    ``hidden[j]``: layer j+1's post-activations (z3 terms); ``out``: the output terms, or None when
    ``depth`` (a number of hidden layers) stops the encoding early.
    """
    import z3
    val = _z3_val
    xs = [z3.Real(f"x{i}") for i in range(lo.size)]
    for xi, a, b in zip(xs, lo, hi):
        solver.add(xi >= val(a), xi <= val(b))
    prev, hidden = xs, []
    for j, layer in enumerate(p[:-1] if depth is None else p[:depth]):
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
        hidden.append(cur)
    if depth is not None:
        return xs, hidden, None
    out = [z3.Sum([val(p[-1]["w"][i, o]) * prev[i] for i in range(len(prev))]) + val(p[-1]["b"][o])
           for o in range(p[-1]["w"].shape[1])]
    return xs, hidden, out


def _z3_model_values(model, terms):
    import z3
    out = []
    for v in terms:
        v = model.eval(v, model_completion=True) if z3.is_expr(v) else v
        out.append(v.numerator_as_long() / v.denominator_as_long())
    return np.array(out)


def _z3_group_query(p, lo, hi, bounds, c, d, groups, time_limit):
    """One SMT query: is there x in the box where some group has every row <= 0?"""
    import z3  # optional dependency, imported only when asked for

    solver = z3.Solver()
    solver.set("timeout", int(time_limit * 1000))
    val = _z3_val
    xs, _, out = _z3_network(p, lo, hi, bounds, solver)
    rows = [z3.Sum([val(c[r, o]) * out[o] for o in range(len(out)) if c[r, o] != 0]) + val(d[r]) for r in range(len(d))]
    g = np.array(groups)
    solver.add(z3.Or([z3.And([rows[r] <= 0 for r in np.flatnonzero(g == k)]) for k in range(g.max() + 1)]))
    answer = solver.check()
    if answer == z3.sat:
        model = solver.model()
        # The model is an exact rational witness: report its margin computed in exact arithmetic.
        row_vals = _z3_model_values(model, rows)
        margin = min(row_vals[g == k].max() for k in range(g.max() + 1))
        return "sat", np.clip(_z3_model_values(model, xs), lo, hi), float(margin)
    return ("unsat" if answer == z3.unsat else "unknown"), None, None


def _milp_decide(p, box, prop, bounds, row_lo, skip_certified, time_limit, t0, method="milp") -> Result:
    """Per group, minimise the group's margin with the MILP under the given hidden-layer bounds."""
    g = np.array(prop.groups)
    group_min = []
    for k in range(g.max() + 1):
        rows = np.flatnonzero(g == k)
        if skip_certified and row_lo is not None and row_lo[rows].max() > 0:
            group_min.append(None)  # certified by bounds; its exact minimum was not computed
            continue
        status, fun, dual, x = _milp_group(p, box.lower, box.upper, bounds, prop.c, prop.d, rows, time_limit)
        if x is not None and fun <= 0:
            m = float(property_margin(p, x, prop))
            if m <= 0:
                return Result("falsified", method, m, x, time.perf_counter() - t0)
        if status == 0 and dual > 0:
            group_min.append(fun)
            continue
        return Result("unknown", method, None, None, time.perf_counter() - t0)
    solved = [v for v in group_min if v is not None]
    margin = (min(solved) if len(solved) == len(group_min) or row_lo is None
              else float(certified_margin(row_lo, prop.groups)))
    return Result("verified", method, float(margin), None, time.perf_counter() - t0)


def hidden_bounds(p, box: Box, prop: Property) -> tuple:
    """CROWN ∩ IBP bounds of the hidden layers (widened) and the property rows' lower bounds."""
    all_bounds = batch_bounds(p, box.lower[None], box.upper[None], prop.c[None], prop.d[None], "crown_ibp")
    return widened([(l[0], u[0]) for l, u in all_bounds[:-1]]), all_bounds[-1][0][0]


def exact_check(params, box: Box, prop: Property, solver: str = "milp", time_limit: float = 30.0,
                skip_certified: bool = True) -> Result:
    """A complete check of the property over the box (up to ``time_limit`` seconds per query).

    ``solver="milp"``: per group, minimise the group's margin exactly with HiGHS (scipy.optimize.milp);
    groups that the bounds already certify are skipped unless ``skip_certified=False``. ``solver="z3"``:
    one SMT satisfiability query for a violation (needs the optional z3-solver package), exact in
    rational arithmetic. A MILP counterexample is re-checked by a float64 forward pass; one that
    does not reproduce (the optimum lies within the solver's tolerance of 0) gives "unknown".
    """
    validate.choice("solver", solver, {"milp", "z3"})
    time_limit = validate.real("time_limit", time_limit, low=0.0, low_open=True)
    skip_certified = validate.boolean("skip_certified", skip_certified)
    p, box, prop = check_problem(params, box, prop, batched=False)
    t0 = time.perf_counter()
    bounds, row_lo = hidden_bounds(p, box, prop)
    if solver == "z3":
        answer, x, m = _z3_group_query(p, box.lower, box.upper, bounds, prop.c, prop.d, prop.groups, time_limit)
        if answer == "unsat":
            return Result("verified", solver, None, None, time.perf_counter() - t0)
        if answer == "sat" and m <= 0:
            return Result("falsified", solver, m, x, time.perf_counter() - t0)
        return Result("unknown", solver, None, None, time.perf_counter() - t0)
    return _milp_decide(p, box, prop, bounds, row_lo, skip_certified, time_limit, t0)


def milp_with_bounds(params, box: Box, prop: Property, bounds, time_limit: float = 30.0) -> Result:
    """The MILP of :func:`exact_check` with hidden-layer bounds supplied by the caller and trusted.

    bounds: one (lower, upper) pair of (width,) arrays per hidden layer, bounding that layer's
    pre-activations over the box. The big-M encoding is sound only if they really do: an upper
    bound below the true maximum cuts off the inputs that reach it, and the MILP may then
    "verify" a false property. For teaching and for testing bound methods.
    """
    time_limit = validate.real("time_limit", time_limit, low=0.0, low_open=True)
    p, box, prop = check_problem(params, box, prop, batched=False)
    if not isinstance(bounds, (list, tuple)) or len(bounds) != len(p) - 1:
        raise ValueError(f"bounds must be a list of {len(p) - 1} (lower, upper) pairs, one per hidden layer")
    checked = []
    for j, pair in enumerate(bounds):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"bounds[{j}] must be a (lower, upper) pair")
        width = p[j]["w"].shape[1]
        l = validate.array(f"bounds[{j}][0]", pair[0], shape=(width,)).astype(np.float64)
        u = validate.array(f"bounds[{j}][1]", pair[1], shape=(width,)).astype(np.float64)
        if np.any(l > u):
            raise ValueError(f"bounds[{j}]: lower must be <= upper")
        checked.append((l, u))
    return _milp_decide(p, box, prop, checked, None, False, time_limit, time.perf_counter())


def activation_query(params, box: Box, layer: int, unit: int, threshold: float = 0.0,
                     time_limit: float = 30.0) -> Result:
    """Does hidden unit ``unit`` of hidden layer ``layer`` (1 = first) stay <= ``threshold`` for
    every input in the box? One z3 query in exact rational arithmetic (needs z3-solver).

    A proposition about an activation, not an output: "verified" (no input in the box lifts the
    unit's post-activation above the threshold), "falsified" with a witness input (the witness's
    activation, recomputed in float64, is in ``margin`` as threshold minus activation), or "unknown"
    (time limit).
    """
    import z3

    time_limit = validate.real("time_limit", time_limit, low=0.0, low_open=True)
    p = check_params(params)
    layer = validate.integer("layer", layer, minimum=1, maximum=len(p) - 1)
    unit = validate.integer("unit", unit, minimum=0, maximum=p[layer - 1]["w"].shape[1] - 1)
    threshold = validate.real("threshold", threshold)
    box = check_box(box, p[0]["w"].shape[0])
    t0 = time.perf_counter()
    k = p[-1]["w"].shape[1]
    bounds, _ = hidden_bounds(p, box, Property(np.eye(k), np.zeros(k), tuple(range(k))))
    solver = z3.Solver()
    solver.set("timeout", int(time_limit * 1000))
    xs, hidden, _ = _z3_network(p, box.lower, box.upper, bounds, solver, depth=layer)
    solver.add(hidden[-1][unit] > _z3_val(threshold))
    answer = solver.check()
    if answer == z3.unsat:
        return Result("verified", "z3", None, None, time.perf_counter() - t0)
    if answer == z3.sat:
        x = np.clip(_z3_model_values(solver.model(), xs), box.lower, box.upper)
        act = x
        for q in p[:layer]:
            act = np.maximum(act @ q["w"] + q["b"], 0.0)
        return Result("falsified", "z3", float(threshold - act[unit]), x, time.perf_counter() - t0)
    return Result("unknown", "z3", None, None, time.perf_counter() - t0)
