"""Verification of small ReLU networks: bounds that prove, solvers that decide, attacks that refute.

A network is ``mesalib.nn`` MLP params (a list of ``{"w": (in, out), "b": (out,)}``, ReLU between
layers). An input set is a :class:`Box` (per-coordinate lower and upper bounds). A property is
a :class:`Property`: linear functions of the output, ``rows = c @ f(x) + d``, combined as an AND
over groups of an OR over the rows of each group: it holds at ``x`` when every group has some
row > 0. Its *margin* ``min_g max_{r in g} rows_r`` is positive exactly where it holds, so
"argmax is class 2" and "the agent never picks action 3" are both properties.

Methods, from cheap and incomplete to expensive and complete:

* ``interval_bounds`` — interval bound propagation (IBP; Gowal et al. 2018);
* ``crown_bounds`` — backward linear relaxation bounds (CROWN; Zhang et al. 2018);
* ``exact_check`` — a complete check: a mixed-integer linear program solved by HiGHS through
  ``scipy.optimize.milp`` (big-M ReLU encoding, Tjeng et al. 2019), or an SMT query to z3
  (the Reluplex family, Katz et al. 2017) when the optional ``z3-solver`` is installed;
* ``pgd_attack`` — projected gradient descent (Madry et al. 2018), a falsifier: it can only
  find counterexamples, never prove their absence.

``verify`` puts them behind one interface returning verified / falsified (with a
counterexample) / unknown. Bounds are computed in float32 with JAX; the exact check works in
float64 and widens the float32 bounds slightly, so float rounding cannot make it unsound.
"""
from __future__ import annotations

import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import scipy.optimize
import scipy.sparse
import scipy.stats

from mesalib import nn, train, validate

STATUSES = ("verified", "falsified", "unknown")
METHODS = ("ibp", "crown", "milp", "z3", "pgd", "complete")


# ----------------------------------------------------------------------------- input sets, properties

class Box(NamedTuple):
    """An axis-aligned input set: lower, upper: (d,) or (batch, d) with lower <= upper."""
    lower: jax.Array
    upper: jax.Array


class Property(NamedTuple):
    """AND over groups of OR over rows of ``c @ f(x) + d > 0``; c: (m, out), d: (m,), groups: m ints.

    ``groups`` is a tuple (static), numbered 0..G-1 with every group used.
    """
    c: jax.Array
    d: jax.Array
    groups: tuple


class Result(NamedTuple):
    """Outcome of one check. ``margin``: a certified lower bound on the property margin (bound
    methods; <= 0 when they cannot decide), the exact minimum (exact methods, when every group was
    solved), or the margin at the counterexample (falsified); NaN otherwise.
    ``counterexample``: (d,) float64 or None."""
    status: str
    method: str
    margin: float
    counterexample: np.ndarray | None
    seconds: float


def _params_numpy(params) -> list:
    if not isinstance(params, (list, tuple)) or not params:
        raise ValueError("params must be a non-empty list of {'w': (in, out), 'b': (out,)} dicts (mesalib.nn.mlp_init)")
    out = []
    for i, layer in enumerate(params):
        if not isinstance(layer, dict) or "w" not in layer or "b" not in layer:
            raise ValueError(f"params[{i}] must be a dict with keys 'w' and 'b'")
        w, b = np.asarray(layer["w"], np.float64), np.asarray(layer["b"], np.float64)
        if w.ndim != 2 or b.shape != (w.shape[1],):
            raise ValueError(f"params[{i}] has w {w.shape} and b {b.shape}; need w (in, out) and b (out,)")
        if out and out[-1]["w"].shape[1] != w.shape[0]:
            raise ValueError(f"params[{i}]['w'] takes {w.shape[0]} inputs but the layer before gives {out[-1]['w'].shape[1]}")
        out.append({"w": w, "b": b})
    return out


def _check_box(box, in_dim: int, batched: bool = False) -> Box:
    if not isinstance(box, Box):
        raise ValueError(f"box must be a mesalib.verify.Box, got {type(box).__name__}")
    lo, hi = np.asarray(box.lower, np.float64), np.asarray(box.upper, np.float64)
    want = 2 if batched else 1
    if lo.shape != hi.shape or lo.ndim != want or lo.shape[-1] != in_dim:
        raise ValueError(f"box.lower and box.upper must both have shape {'(batch, ' if batched else '('}{in_dim}), "
                         f"got {lo.shape} and {hi.shape}")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("box bounds must be finite")
    if np.any(lo > hi):
        raise ValueError("box.lower must be <= box.upper in every coordinate")
    return Box(lo, hi)


def _check_property(prop, out_dim: int, batched: bool = False) -> Property:
    if not isinstance(prop, Property):
        raise ValueError(f"prop must be a mesalib.verify.Property, got {type(prop).__name__}")
    c, d = np.asarray(prop.c, np.float64), np.asarray(prop.d, np.float64)
    lead = c.shape[:1] if batched else ()
    if c.ndim != 2 + batched or c.shape[-1] != out_dim or d.shape != lead + c.shape[-2:-1]:
        raise ValueError(f"prop.c must have shape {'(batch, ' if batched else '('}m, {out_dim}) and prop.d "
                         f"shape {'(batch, ' if batched else '('}m,), got {c.shape} and {d.shape}")
    g = tuple(int(v) for v in prop.groups)
    if len(g) != c.shape[-2] or not g or sorted(set(g)) != list(range(max(g) + 1)):
        raise ValueError(f"prop.groups must give each of the {c.shape[-2]} rows a group number, using 0..G-1, got {prop.groups}")
    return Property(c, d, g)


def linf_ball(x, eps, lower: float | None = None, upper: float | None = None) -> Box:
    """The L-infinity ball of radius ``eps`` around x: (d,) or (batch, d), optionally clipped."""
    eps = validate.real("eps", eps, low=0.0)
    x = np.asarray(x, np.float64)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"x must have shape (d,) or (batch, d), got {x.shape}")
    lo, hi = x - eps, x + eps
    if lower is not None:
        lo = np.maximum(lo, validate.real("lower", lower))
    if upper is not None:
        hi = np.minimum(hi, validate.real("upper", upper))
    if np.any(lo > hi):
        raise ValueError("clipping to [lower, upper] left an empty box")
    return Box(lo, hi)


def argmax_in(allowed, num_outputs: int) -> Property:
    """"The argmax of the output lies in ``allowed``" (strictly: every other output is beaten).

    For each j outside ``allowed`` one group: some s in ``allowed`` has f_s - f_j > 0.
    """
    num_outputs = validate.integer("num_outputs", num_outputs, minimum=2)
    allowed = sorted({validate.integer("allowed", int(a) if isinstance(a, np.integer) else a,
                                       minimum=0, maximum=num_outputs - 1) for a in allowed})
    others = [j for j in range(num_outputs) if j not in allowed]
    if not allowed or not others:
        raise ValueError(f"allowed must be a non-empty proper subset of 0..{num_outputs - 1}, got {allowed}")
    rows, groups = [], []
    for g, j in enumerate(others):
        for s in allowed:
            row = np.zeros(num_outputs)
            row[s], row[j] = 1.0, -1.0
            rows.append(row)
            groups.append(g)
    return Property(np.array(rows), np.zeros(len(rows)), tuple(groups))


def argmax_is(label: int, num_outputs: int) -> Property:
    """Robust classification: output ``label`` beats every other output."""
    return argmax_in([label], num_outputs)


def argmax_not(action: int, num_outputs: int) -> Property:
    """Safety: output ``action`` is never the argmax (some other output beats it)."""
    num_outputs = validate.integer("num_outputs", num_outputs, minimum=2)
    action = validate.integer("action", action, minimum=0, maximum=num_outputs - 1)
    return argmax_in([j for j in range(num_outputs) if j != action], num_outputs)


def robustness_properties(labels, num_outputs: int) -> Property:
    """Batched :func:`argmax_is` for labels: (batch,) -> c: (batch, k-1, k), d: (batch, k-1)."""
    num_outputs = validate.integer("num_outputs", num_outputs, minimum=2)
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= num_outputs:
        raise ValueError(f"labels must be a 1-D integer array with values in 0..{num_outputs - 1}")
    eye = np.eye(num_outputs)
    others = np.array([[j for j in range(num_outputs) if j != y] for y in labels])
    c = eye[labels][:, None, :] - eye[others]
    return Property(c, np.zeros(c.shape[:2]), tuple(range(num_outputs - 1)))


def _group_mask(groups: tuple) -> np.ndarray:
    g = np.array(groups)
    return np.arange(g.max() + 1)[:, None] == g[None, :]


def _margin_from_rows(rows, mask):
    """min over groups of max over the group's rows; rows: (..., m), mask: (G, m)."""
    per_group = jnp.max(jnp.where(mask, rows[..., None, :], -jnp.inf), axis=-1)
    return jnp.min(per_group, axis=-1)


def property_margin(params, x, prop: Property) -> np.ndarray:
    """The property's margin at concrete inputs x: (d,) or (n, d), evaluated in float64 NumPy."""
    p = _params_numpy(params)
    x = np.asarray(x, np.float64)
    if x.shape[-1] != p[0]["w"].shape[0]:
        raise ValueError(f"x must have last dimension {p[0]['w'].shape[0]}, got shape {x.shape}")
    prop = _check_property(prop, p[-1]["w"].shape[1], batched=np.asarray(prop.c).ndim == 3)
    y = _forward_np(p, x)
    rows = np.einsum("...mo,...o->...m", prop.c, y) + prop.d
    per_group = np.where(_group_mask(prop.groups), rows[..., None, :], -np.inf).max(-1)
    return per_group.min(-1)


def _forward_np(p, x):
    for layer in p[:-1]:
        x = np.maximum(x @ layer["w"] + layer["b"], 0.0)
    return x @ p[-1]["w"] + p[-1]["b"]


def _fold(params, c, d):
    """Append the property's linear map to the last layer: outputs become the property's rows."""
    last = params[-1]
    return list(params[:-1]) + [{"w": last["w"] @ c.T, "b": last["b"] @ c.T + d}]


# ----------------------------------------------------------------------------- bounds

def _ibp(params, lo, hi):
    """Interval bounds of every layer's pre-activation; lo, hi: (d,)."""
    out = []
    for j, layer in enumerate(params):
        if j:
            lo, hi = jax.nn.relu(lo), jax.nn.relu(hi)
        mid, rad = (lo + hi) / 2, (hi - lo) / 2
        centre = mid @ layer["w"] + layer["b"]
        spread = rad @ jnp.abs(layer["w"])
        lo, hi = centre - spread, centre + spread
        out.append((lo, hi))
    return out


def _relax(lo, hi):
    """Linear bounds slope_lo*z <= relu(z) <= slope_hi*z + icpt_hi on [lo, hi] (CROWN's choice).

    Unstable units (lo < 0 < hi) get the chord from (lo, 0) to (hi, hi) above and, below, the
    line of slope 1 if hi > -lo else 0 (whichever leaves the smaller area).
    """
    active, inactive = lo >= 0, hi <= 0
    unstable = ~active & ~inactive
    chord = hi / jnp.where(unstable, hi - lo, 1.0)
    slope_hi = jnp.where(active, 1.0, jnp.where(unstable, chord, 0.0))
    icpt_hi = jnp.where(unstable, -chord * lo, 0.0)
    slope_lo = jnp.where(active, 1.0, jnp.where(unstable, (hi > -lo).astype(lo.dtype), 0.0))
    return slope_lo, slope_hi, icpt_hi


def _crown(params, lo_in, hi_in):
    """Backward linear bounds of every layer's pre-activation (each intersected with IBP's)."""
    ibp = _ibp(params, lo_in, hi_in)
    mid, rad = (lo_in + hi_in) / 2, (hi_in - lo_in) / 2
    out, relax = [], []
    for j, layer in enumerate(params):
        a_lo = a_hi = layer["w"].T
        c_lo = c_hi = layer["b"]
        for i in range(j - 1, -1, -1):
            s_lo, s_hi, t_hi = relax[i]
            pos, neg = jnp.maximum(a_lo, 0), jnp.minimum(a_lo, 0)
            c_lo, a_lo = c_lo + neg @ t_hi, pos * s_lo + neg * s_hi
            pos, neg = jnp.maximum(a_hi, 0), jnp.minimum(a_hi, 0)
            c_hi, a_hi = c_hi + pos @ t_hi, pos * s_hi + neg * s_lo
            c_lo, a_lo = c_lo + a_lo @ params[i]["b"], a_lo @ params[i]["w"].T
            c_hi, a_hi = c_hi + a_hi @ params[i]["b"], a_hi @ params[i]["w"].T
        lo = jnp.maximum(a_lo @ mid - jnp.abs(a_lo) @ rad + c_lo, ibp[j][0])
        hi = jnp.minimum(a_hi @ mid + jnp.abs(a_hi) @ rad + c_hi, ibp[j][1])
        out.append((lo, hi))
        relax.append(_relax(lo, hi))
    return out


_BOUNDERS = {"ibp": _ibp, "crown": _crown}


@partial(jax.jit, static_argnames="method")
def _bounds_batch(params, lo, hi, c, d, method):
    """Bounds of every layer of the network with the property folded into its last layer.

    lo, hi: (n, d); c: (n, m, out); d: (n, m). Hidden layers are unchanged by folding, so one
    compiled function serves layer bounds, property bounds and the exact check.
    """
    def one(lo, hi, c, d):
        return _BOUNDERS[method](_fold(params, c, d), lo, hi)
    return jax.vmap(one)(lo, hi, c, d)


def _jax_params(p):
    return [{"w": jnp.asarray(layer["w"], jnp.float32), "b": jnp.asarray(layer["b"], jnp.float32)} for layer in p]


def _bounds_np(p, lo, hi, c, d, method):
    """_bounds_batch on float64 NumPy inputs with a leading batch axis; float64 results."""
    f32 = partial(jnp.asarray, dtype=jnp.float32)
    out = _bounds_batch(_jax_params(p), f32(lo), f32(hi), f32(c), f32(d), method)
    return [(np.asarray(l, np.float64), np.asarray(u, np.float64)) for l, u in out]


def _layer_bounds(params, box, method):
    p = _params_numpy(params)
    box = _check_box(box, p[0]["w"].shape[0])
    k = p[-1]["w"].shape[1]
    out = _bounds_np(p, box.lower[None], box.upper[None], np.eye(k)[None], np.zeros((1, k)), method)
    return [(l[0], u[0]) for l, u in out]


def interval_bounds(params, box: Box) -> list:
    """IBP bounds [(lower, upper), ...] of every layer's pre-activation (the last is the output)."""
    return _layer_bounds(params, box, "ibp")


def crown_bounds(params, box: Box) -> list:
    """CROWN bounds [(lower, upper), ...] of every layer's pre-activation (the last is the output)."""
    return _layer_bounds(params, box, "crown")


def property_bounds(params, box: Box, prop: Property, method: str = "crown"):
    """Certified (lower, upper) bounds on each property row over the box; lower: (m,) or (n, m).

    Batched when box.lower is (n, d) and prop.c is (n, m, out).
    """
    validate.choice("method", method, {"ibp", "crown"})
    p = _params_numpy(params)
    batched = np.asarray(box.lower).ndim == 2 if isinstance(box, Box) else False
    box = _check_box(box, p[0]["w"].shape[0], batched)
    prop = _check_property(prop, p[-1]["w"].shape[1], batched)
    if batched and prop.c.shape[0] != box.lower.shape[0]:
        raise ValueError(f"prop.c has batch {prop.c.shape[0]} but the box has batch {box.lower.shape[0]}")
    lo, hi, c, d = box.lower, box.upper, prop.c, prop.d
    if not batched:
        lo, hi, c, d = lo[None], hi[None], c[None], d[None]
    r_lo, r_hi = _bounds_np(p, lo, hi, c, d, method)[-1]
    return (r_lo, r_hi) if batched else (r_lo[0], r_hi[0])


def certified_margin(row_lower, groups: tuple) -> np.ndarray:
    """A lower bound on the property margin from lower bounds of its rows: (..., m) -> (...)."""
    return np.where(_group_mask(tuple(groups)), np.asarray(row_lower)[..., None, :], -np.inf).max(-1).min(-1)


# ----------------------------------------------------------------------------- falsification

@partial(jax.jit, static_argnames=("groups", "steps", "restarts"))
def _pgd_batch(key, params, lo, hi, c, d, groups, steps, restarts):
    """Signed-gradient descent on the margin from the centre and random starts; best x per point."""
    mask = jnp.asarray(_group_mask(groups))

    def margin(x, c, d):
        return _margin_from_rows(c @ nn.mlp_apply(params, x) + d, mask)

    grad = jax.grad(margin)

    def one(key, lo, hi, c, d):
        starts = jax.random.uniform(key, (restarts,) + lo.shape, minval=lo, maxval=hi)
        starts = starts.at[0].set((lo + hi) / 2)
        step = 2.5 * (hi - lo) / 2 / steps  # Madry et al.'s 2.5·eps/steps

        def run(x0):
            def body(carry, _):
                x, best_x, best_m = carry
                x = jnp.clip(x - step * jnp.sign(grad(x, c, d)), lo, hi)
                m = margin(x, c, d)
                better = m < best_m
                return (x, jnp.where(better, x, best_x), jnp.where(better, m, best_m)), None
            m0 = margin(x0, c, d)
            (_, bx, bm), _ = jax.lax.scan(body, (x0, x0, m0), None, length=steps)
            return bx, bm

        xs, ms = jax.vmap(run)(starts)
        i = jnp.argmin(ms)
        return xs[i], ms[i]

    keys = jax.random.split(key, lo.shape[0])
    return jax.vmap(one)(keys, lo, hi, c, d)


def pgd_attack(key, params, box: Box, prop: Property, steps: int = 40, restarts: int = 4):
    """Search the box for an input violating the property: returns (best x, margin there).

    x: (d,) or (n, d) float64; a margin <= 0 (checked in float64) is a real counterexample.
    Finding none proves nothing.
    """
    validate.prng_key("key", key)
    steps = validate.integer("steps", steps, minimum=1)
    restarts = validate.integer("restarts", restarts, minimum=1)
    p = _params_numpy(params)
    batched = isinstance(box, Box) and np.asarray(box.lower).ndim == 2
    box = _check_box(box, p[0]["w"].shape[0], batched)
    prop = _check_property(prop, p[-1]["w"].shape[1], batched)
    lo, hi, c, d = box.lower, box.upper, prop.c, prop.d
    if batched and c.shape[0] != lo.shape[0]:
        raise ValueError(f"prop.c has batch {c.shape[0]} but the box has batch {lo.shape[0]}")
    if not batched:
        lo, hi, c, d = lo[None], hi[None], c[None], d[None]
    f32 = partial(jnp.asarray, dtype=jnp.float32)
    xs, _ = _pgd_batch(key, _jax_params(p), f32(lo), f32(hi), f32(c), f32(d), prop.groups, steps, restarts)
    xs = np.clip(np.asarray(xs, np.float64), lo, hi)
    margins = property_margin(p, xs, Property(c, d, prop.groups))
    return (xs, margins) if batched else (xs[0], float(margins[0]))


# ----------------------------------------------------------------------------- exact checks

def _widened(bounds):
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
    import z3

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
    p = _params_numpy(params)
    box = _check_box(box, p[0]["w"].shape[0])
    prop = _check_property(prop, p[-1]["w"].shape[1])
    t0 = time.perf_counter()
    all_bounds = _bounds_np(p, box.lower[None], box.upper[None], prop.c[None], prop.d[None], "crown")
    bounds = _widened([(l[0], u[0]) for l, u in all_bounds[:-1]])
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


def verify(params, box: Box, prop: Property, method: str = "complete", key=None, **options) -> Result:
    """One interface: is ``prop`` true for every input in ``box``?

    method: "ibp" or "crown" (sound, incomplete: verified or unknown), "pgd" (a falsifier: falsified
    or unknown; needs ``key``), "milp" or "z3" (complete up to a time limit), "complete" (CROWN,
    then PGD if a key is given, then MILP: the usual cheap-first pipeline).
    """
    validate.choice("method", method, set(METHODS))
    p = _params_numpy(params)
    box = _check_box(box, p[0]["w"].shape[0])
    prop = _check_property(prop, p[-1]["w"].shape[1])
    if method == "pgd" and key is None:
        raise ValueError("key is required for method='pgd' (e.g. key=jax.random.key(0))")
    t0 = time.perf_counter()
    if method in ("ibp", "crown", "complete"):
        lo, _ = property_bounds(p, box, prop, "crown" if method == "complete" else method)
        m = float(certified_margin(lo, prop.groups))
        if m > 0:
            return Result("verified", method, m, None, time.perf_counter() - t0)
        if method != "complete":
            return Result("unknown", method, m, None, time.perf_counter() - t0)
    if method in ("pgd", "complete") and key is not None:
        x, m = pgd_attack(key, p, box, prop, **{k: v for k, v in options.items() if k in ("steps", "restarts")})
        if m <= 0:
            return Result("falsified", method, m, x, time.perf_counter() - t0)
        if method == "pgd":
            return Result("unknown", method, np.nan, None, time.perf_counter() - t0)
    solver = "milp" if method == "complete" else method
    r = exact_check(p, box, prop, solver=solver, time_limit=options.get("time_limit", 30.0))
    return r._replace(method=method, seconds=time.perf_counter() - t0)


# ----------------------------------------------------------------------------- training small nets

class FitConfig(NamedTuple):
    """Full-batch AdamW training of a small ReLU MLP by cross-entropy."""
    hidden: tuple = (16, 16)
    steps: int = 3000
    learning_rate: float = 1e-2
    weight_decay: float = 1e-4

    def smoke(self) -> "FitConfig":
        return self._replace(steps=300)


def fit_mlp(key, x, targets, config: FitConfig = FitConfig(), progress: bool | str = False):
    """Train an MLP classifier: x: (n, d); targets: (n,) int labels or (n, k) probabilities.

    Returns (params, losses: (steps,)). The whole loop is one compiled scan.
    """
    validate.prng_key("key", key)
    if not isinstance(config, FitConfig):
        raise ValueError("config must be a FitConfig")
    validate.integer("config.steps", config.steps, minimum=1)
    validate.real("config.learning_rate", config.learning_rate, low=0.0, low_open=True)
    x = jnp.asarray(x, jnp.float32)
    t = np.asarray(targets)
    if x.ndim != 2 or t.shape[:1] != x.shape[:1]:
        raise ValueError(f"x must be (n, d) and targets (n,) or (n, k) with the same n, got {x.shape} and {t.shape}")
    if t.ndim == 1:
        if not np.issubdtype(t.dtype, np.integer) or t.min() < 0:
            raise ValueError("integer targets must be non-negative class labels")
        t = np.eye(int(t.max()) + 1, dtype=np.float32)[t]
    t = jnp.asarray(t, jnp.float32)
    params = nn.mlp_init(key, (x.shape[1], *config.hidden, t.shape[1]))
    opt = optax.adamw(config.learning_rate, weight_decay=config.weight_decay)

    def loss_fn(params):
        logits = jax.vmap(lambda xi: nn.mlp_apply(params, xi))(x)
        return optax.softmax_cross_entropy(logits, t).mean()

    def step(carry):
        params, state = carry
        loss, g = jax.value_and_grad(loss_fn)(params)
        updates, state = opt.update(g, state, params)
        return (optax.apply_updates(params, updates), state), loss

    (params, _), losses = train.run(step, (params, opt.init(params)), config.steps, num_chunks=5, progress=progress)
    return params, losses


def predict(params, x) -> np.ndarray:
    """Argmax outputs for x: (n, d) -> (n,) int."""
    p = _params_numpy(params)
    return _forward_np(p, np.asarray(x, np.float64)).argmax(-1)


class LadderConfig(NamedTuple):
    """The chapter's robustness ladder on two moons: data sizes, network, training, radii."""
    n_train: int = 400
    n_test: int = 100
    noise: float = 0.1
    fit: FitConfig = FitConfig(hidden=(16, 16), steps=3000)
    eps_grid: tuple = (0.05, 0.1, 0.2, 0.3)

    def smoke(self) -> "LadderConfig":
        return self._replace(n_test=30, fit=self.fit.smoke(), eps_grid=(0.1, 0.3))

    def full(self) -> "LadderConfig":
        """The full sweep recorded in the text (twice the points, twice the radii)."""
        return self._replace(n_test=200, eps_grid=(0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4))


# The hazard-task policy: 4 observations -> 16 -> 16 -> 4 actions, trained on every observation.
POLICY_FIT = FitConfig(hidden=(16, 16), steps=6000)


# ----------------------------------------------------------------------------- the ladder

def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def ladder(key, params, x, labels, eps_grid, pgd_steps: int = 40, pgd_restarts: int = 4,
           time_limit: float = 30.0, exact: bool = True):
    """Robustness of (x, labels) in L-infinity balls of each radius, by every method.

    Returns (points, times): ``points`` has one row per (eps, point) with booleans ``ibp``,
    ``crown`` (certified), ``pgd_falsified``, the exact status and the exact margin; ``times``
    has seconds per point for each method and eps (first calls compile outside the timing).
    """
    validate.prng_key("key", key)
    p = _params_numpy(params)
    x = np.asarray(x, np.float64)
    labels = np.asarray(labels)
    if x.ndim != 2 or x.shape[1] != p[0]["w"].shape[0]:
        raise ValueError(f"x must have shape (n, {p[0]['w'].shape[0]}), got {x.shape}")
    if labels.shape != x.shape[:1]:
        raise ValueError(f"labels must have shape ({x.shape[0]},), got {labels.shape}")
    eps_grid = [validate.real("eps_grid[i]", e, low=0.0) for e in np.atleast_1d(eps_grid).tolist()]
    k = p[-1]["w"].shape[1]
    props = robustness_properties(labels, k)
    # Warm up (compile) every batched function once at the real batch size.
    warm = linf_ball(x, 0.0)
    for m in ("ibp", "crown"):
        property_bounds(p, warm, props, m)
    pgd_attack(jax.random.key(0), p, warm, props, pgd_steps, pgd_restarts)
    if exact:
        exact_check(p, Box(warm.lower[0], warm.upper[0]), Property(props.c[0], props.d[0], props.groups))
    rows, times = [], []
    for e, k_e in zip(eps_grid, jax.random.split(key, len(eps_grid))):
        box = linf_ball(x, e)
        (ibp_lo, _), t_ibp = _timed(property_bounds, p, box, props, "ibp")
        (crown_lo, _), t_crown = _timed(property_bounds, p, box, props, "crown")
        (_, pgd_m), t_pgd = _timed(pgd_attack, k_e, p, box, props, pgd_steps, pgd_restarts)
        ibp_ok = certified_margin(ibp_lo, props.groups) > 0
        crown_ok = certified_margin(crown_lo, props.groups) > 0
        statuses, margins, ex_times = [], [], []
        for i in range(len(x)):
            if not exact:
                statuses.append("not run")
                margins.append(np.nan)
                continue
            # Every point goes to the solver (no skipping what CROWN certified), so the timing is
            # the solver's own and the ordering bound <= exact is a real check.
            r = exact_check(p, Box(box.lower[i], box.upper[i]), Property(props.c[i], props.d[i], props.groups),
                            time_limit=time_limit, skip_certified=False)
            statuses.append(r.status)
            margins.append(r.margin)
            ex_times.append(r.seconds)
        for i in range(len(x)):
            rows.append({"eps": e, "point": i, "ibp": bool(ibp_ok[i]), "crown": bool(crown_ok[i]),
                         "pgd_falsified": bool(pgd_m[i] <= 0), "exact": statuses[i], "exact_margin": margins[i]})
        n = len(x)
        times += [{"eps": e, "method": "IBP", "ms_per_point": 1e3 * t_ibp / n},
                  {"eps": e, "method": "CROWN", "ms_per_point": 1e3 * t_crown / n},
                  {"eps": e, "method": "PGD", "ms_per_point": 1e3 * t_pgd / n}]
        if ex_times:
            times.append({"eps": e, "method": "exact (MILP)", "ms_per_point": 1e3 * float(np.median(ex_times)),
                          "ms_max": 1e3 * float(np.max(ex_times))})
    return pd.DataFrame(rows), pd.DataFrame(times)


def wilson(k, n, level: float = 0.95):
    """Wilson score interval for a binomial proportion k/n: returns (low, high)."""
    k, n = np.asarray(k, np.float64), np.asarray(n, np.float64)
    z = scipy.stats.norm.ppf(0.5 + level / 2)
    phat = k / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def ladder_summary(points: pd.DataFrame) -> pd.DataFrame:
    """Fraction of points certified by IBP, CROWN, the exact method and not falsified by PGD, per eps,
    with 95% Wilson intervals over the test points (long format: eps, method, fraction, low, high)."""
    out = []
    for e, g in points.groupby("eps"):
        n = len(g)
        cols = {"IBP": g["ibp"], "CROWN": g["crown"], "exact (MILP)": g["exact"] == "verified",
                "not falsified by PGD": ~g["pgd_falsified"]}
        for name, v in cols.items():
            if name == "exact (MILP)" and (g["exact"] == "not run").all():
                continue
            k = int(v.sum())
            lo, hi = wilson(k, n)
            out.append({"eps": e, "method": name, "fraction": k / n, "low": float(lo), "high": float(hi), "n": n})
    return pd.DataFrame(out)


def verify_many(params, boxes: Box, props: Property, method: str = "complete", key=None,
                time_limit: float = 30.0) -> pd.DataFrame:
    """Check one property per box: boxes.lower: (n, d); props batched (n, m, out) or shared (m, out).

    Cheap first: batched CROWN for all boxes, batched PGD (when ``key`` is given) for the rest, then
    the exact check where neither decided (method "complete"). method "crown" stops after the
    bounds. Returns one row per box: status, decided_by, margin and the counterexample (or None).
    """
    validate.choice("method", method, {"crown", "complete"})
    p = _params_numpy(params)
    boxes = _check_box(boxes, p[0]["w"].shape[0], batched=True)
    n = boxes.lower.shape[0]
    if isinstance(props, Property) and np.asarray(props.c).ndim == 2:
        props = _check_property(props, p[-1]["w"].shape[1])
        props = Property(np.broadcast_to(props.c, (n,) + props.c.shape), np.broadcast_to(props.d, (n,) + props.d.shape),
                         props.groups)
    props = _check_property(props, p[-1]["w"].shape[1], batched=True)
    if props.c.shape[0] != n:
        raise ValueError(f"props has batch {props.c.shape[0]} but boxes has batch {n}")
    lo, _ = property_bounds(p, boxes, props, "crown")
    margin = certified_margin(lo, props.groups)
    status = np.where(margin > 0, "verified", "unknown").astype(object)
    decided = np.where(margin > 0, "CROWN", "").astype(object)
    cex = [None] * n
    margin = np.where(margin > 0, margin, np.nan)
    if method == "complete" and key is not None and (status == "unknown").any():
        xs, pm = pgd_attack(key, p, boxes, props)
        for i in np.flatnonzero((status == "unknown") & (pm <= 0)):
            status[i], decided[i], margin[i], cex[i] = "falsified", "PGD", pm[i], xs[i]
    if method == "complete":
        for i in np.flatnonzero(status == "unknown"):
            r = exact_check(p, Box(boxes.lower[i], boxes.upper[i]), Property(props.c[i], props.d[i], props.groups),
                            time_limit=time_limit)
            status[i], decided[i], margin[i], cex[i] = r.status, "MILP", r.margin, r.counterexample
    return pd.DataFrame({"status": status, "decided_by": decided, "margin": margin, "counterexample": cex})


def probe_network(params, layer: int, x, target):
    """Fit a least-squares linear probe of hidden layer ``layer``'s post-ReLU activations to ``target``.

    x: (n, d); target: (n,). Returns (probe_params, r2): ``probe_params`` is an MLP whose single
    output is the probe's reading, so a proposition about the probe is an output property.
    """
    p = _params_numpy(params)
    layer = validate.integer("layer", layer, minimum=1, maximum=len(p) - 1)
    x, target = np.asarray(x, np.float64), np.asarray(target, np.float64)
    if x.ndim != 2 or target.shape != x.shape[:1]:
        raise ValueError(f"x must be (n, d) and target (n,), got {x.shape} and {target.shape}")
    h = x
    for lay in p[:layer]:
        h = np.maximum(h @ lay["w"] + lay["b"], 0.0)
    design = np.concatenate([h, np.ones((len(h), 1))], axis=1)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    resid = target - design @ coef
    r2 = 1.0 - resid.var() / target.var()
    return p[:layer] + [{"w": coef[:-1, None], "b": coef[-1:]}], float(r2)


# ----------------------------------------------------------------------------- status maps

def status_grid(key, params, eps, lower=(-2.0, -2.0), upper=(2.0, 2.0), resolution: int = 40,
                exact: bool = True, time_limit: float = 10.0) -> pd.DataFrame:
    """Robustness status of the predicted class at every point of a 2-D grid, for one eps.

    status: "certified by CROWN", "certified by exact only", "falsified by PGD", "falsified by exact
    only", or "unknown" (exact not run or timed out). Returns columns x0, x1, predicted, status.
    """
    p = _params_numpy(params)
    if p[0]["w"].shape[0] != 2:
        raise ValueError("status_grid needs a network with 2 inputs")
    resolution = validate.integer("resolution", resolution, minimum=2, maximum=70)
    eps = validate.real("eps", eps, low=0.0)
    g0 = np.linspace(lower[0], upper[0], resolution)
    g1 = np.linspace(lower[1], upper[1], resolution)
    pts = np.stack(np.meshgrid(g0, g1, indexing="ij"), -1).reshape(-1, 2)
    pred = predict(p, pts)
    props = robustness_properties(pred, p[-1]["w"].shape[1])
    box = linf_ball(pts, eps)
    lo, _ = property_bounds(p, box, props, "crown")
    crown_ok = certified_margin(lo, props.groups) > 0
    _, pgd_m = pgd_attack(key, p, box, props)
    status = np.where(crown_ok, "certified by CROWN", np.where(pgd_m <= 0, "falsified by PGD", "unknown")).astype(object)
    if exact:
        for i in np.flatnonzero(status == "unknown"):
            r = exact_check(p, Box(box.lower[i], box.upper[i]), Property(props.c[i], props.d[i], props.groups),
                            time_limit=time_limit)
            status[i] = {"verified": "certified by exact only", "falsified": "falsified by exact only"}.get(r.status, "unknown")
    return pd.DataFrame({"x0": pts[:, 0], "x1": pts[:, 1], "predicted": pred, "status": status})


STATUS_ORDER = ["certified by CROWN", "certified by exact only", "unknown", "falsified by exact only", "falsified by PGD"]
STATUS_COLORS = ["#3b6ea8", "#8fb3dc", "#c9a227", "#e8a58f", "#d1603d"]


def status_chart(grid: pd.DataFrame, points: pd.DataFrame | None = None, title: str = ""):
    """The output of :func:`status_grid` as a map (cell colour: status; darker cells: class 1),
    optionally with test points (columns x0, x1, label) on top."""
    import altair as alt

    from mesalib import plots

    data = plots.round_frame(grid.assign(cls=grid["predicted"].map(lambda c: f"class {c}")), 3)
    step = float(np.diff(np.unique(data["x0"]))[:1].mean()) if data["x0"].nunique() > 1 else 0.1
    rect = alt.Chart(data, title=title).mark_square(size=120 * (step / 0.1) ** 2, opacity=0.9).encode(
        x=alt.X("x0:Q", title="x₀", scale=alt.Scale(nice=False)),
        y=alt.Y("x1:Q", title="x₁", scale=alt.Scale(nice=False)),
        color=alt.Color("status:N", scale=alt.Scale(domain=STATUS_ORDER, range=STATUS_COLORS), title="status"),
        opacity=alt.Opacity("cls:N", scale=alt.Scale(domain=["class 0", "class 1"], range=[0.55, 1.0]),
                            title="predicted"),
        tooltip=["x0", "x1", "cls", "status"])
    layers = [rect]
    if points is not None:
        pts = plots.round_frame(points.assign(label=points["label"].map(lambda c: f"class {c}")), 3)
        layers.append(alt.Chart(pts).mark_point(filled=True, size=25, color="black").encode(
            x="x0:Q", y="x1:Q", shape=alt.Shape("label:N", title="test point")))
    return alt.layer(*layers).properties(width=360, height=360)
