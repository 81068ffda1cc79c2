"""Specifications: input sets, properties over a network's outputs, their margins, and the checks
every public function of :mod:`mesalib.verify` runs on its inputs.

A network is ``mesalib.nn`` MLP params (a list of ``{"w": (in, out), "b": (out,)}``, ReLU between
layers). An input set is a :class:`Box` (per-coordinate lower and upper bounds). A property is
a :class:`Property`: linear functions of the output, ``rows = c @ f(x) + d``, combined as an AND
over groups of an OR over the rows of each group: it holds at ``x`` when every group has some
row > 0. Its *margin* ``min_g max_{r in g} rows_r`` is positive exactly where it holds, so
"argmax is class 2" and "the agent never picks action 3" are both properties.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import validate

STATUSES = ("verified", "falsified", "unknown")
METHODS = ("ibp", "crown", "crown_ibp", "milp", "z3", "pgd", "complete")


class Box(NamedTuple):
    """An axis-aligned input set: lower, upper: (d,) or (batch, d) with lower <= upper."""
    lower: jax.Array
    upper: jax.Array


class Property(NamedTuple):
    """AND over groups of OR over rows of ``c @ f(x) + d > 0``; c: (m, out), d: (m,), groups: m ints.

    ``groups`` is a tuple (static), numbered 0..G-1 with every group used. Batched properties have
    c: (batch, m, out) and d: (batch, m) with one ``groups`` for all.
    """
    c: jax.Array
    d: jax.Array
    groups: tuple


class Result(NamedTuple):
    """Outcome of one check. ``margin``: a certified lower bound on the property margin (bound
    methods; <= 0 when they cannot decide), the exact minimum (exact methods, when every group was
    solved), or the margin at the counterexample (falsified); None when no margin is known
    ("unknown", or a z3 proof, which gives no number). ``counterexample``: (d,) float64 or None."""
    status: str
    method: str
    margin: float | None
    counterexample: np.ndarray | None
    seconds: float


# ----------------------------------------------------------------------------- input checks

def check_params(params, name: str = "params") -> list:
    """The network as float64 NumPy layers, after checking its structure (raises ValueError).

    Weights must be finite and fit float32 (the bounds run in float32)."""
    if not isinstance(params, (list, tuple)) or not params:
        raise ValueError(f"{name} must be a non-empty list of {{'w': (in, out), 'b': (out,)}} dicts (mesalib.nn.mlp_init)")
    out = []
    for i, layer in enumerate(params):
        if not isinstance(layer, dict) or "w" not in layer or "b" not in layer:
            raise ValueError(f"{name}[{i}] must be a dict with keys 'w' and 'b'")
        w = validate.array(f"{name}[{i}]['w']", layer["w"], allow_nan=True, allow_empty=True).astype(np.float64)
        b = validate.array(f"{name}[{i}]['b']", layer["b"], allow_nan=True, allow_empty=True).astype(np.float64)
        if w.ndim != 2 or b.shape != (w.shape[1],):
            raise ValueError(f"{name}[{i}] has w {w.shape} and b {b.shape}; need w (in, out) and b (out,)")
        if out and out[-1]["w"].shape[1] != w.shape[0]:
            raise ValueError(f"{name}[{i}]['w'] takes {w.shape[0]} inputs but the layer before gives {out[-1]['w'].shape[1]}")
        validate.array(f"{name}[{i}]['w']", w, dtype=np.float32)
        validate.array(f"{name}[{i}]['b']", b, dtype=np.float32)
        out.append({"w": w, "b": b})
    return out


def check_box(box, in_dim: int, batched: bool = False, name: str = "box") -> Box:
    """``box`` as a float64 Box of shape (in_dim,) (or (batch, in_dim)), finite, lower <= upper."""
    if not isinstance(box, Box):
        raise ValueError(f"{name} must be a mesalib.verify.Box, got {type(box).__name__}")
    lo = validate.array(f"{name}.lower", box.lower, allow_nan=True, allow_empty=True).astype(np.float64)
    hi = validate.array(f"{name}.upper", box.upper, allow_nan=True, allow_empty=True).astype(np.float64)
    want = 2 if batched else 1
    if lo.shape != hi.shape or lo.ndim != want or lo.shape[-1] != in_dim:
        raise ValueError(f"{name}.lower and {name}.upper must both have shape {'(batch, ' if batched else '('}{in_dim}), "
                         f"got {lo.shape} and {hi.shape}")
    validate.array(f"{name}.lower", lo, dtype=np.float32)
    validate.array(f"{name}.upper", hi, dtype=np.float32)
    if np.any(lo > hi):
        raise ValueError(f"{name}.lower must be <= {name}.upper in every coordinate")
    return Box(lo, hi)


def check_property(prop, out_dim: int, batched: bool = False, name: str = "prop") -> Property:
    """``prop`` as a float64 Property on ``out_dim`` outputs (batched: a leading axis on c and d)."""
    if not isinstance(prop, Property):
        raise ValueError(f"{name} must be a mesalib.verify.Property, got {type(prop).__name__}")
    c = validate.array(f"{name}.c", prop.c, allow_nan=True, allow_empty=True).astype(np.float64)
    d = validate.array(f"{name}.d", prop.d, allow_nan=True, allow_empty=True).astype(np.float64)
    lead = c.shape[:1] if batched else ()
    if c.ndim != 2 + batched or c.shape[-1] != out_dim or d.shape != lead + c.shape[-2:-1]:
        raise ValueError(f"{name}.c must have shape {'(batch, ' if batched else '('}m, {out_dim}) and {name}.d "
                         f"shape {'(batch, ' if batched else '('}m,), got {c.shape} and {d.shape}")
    validate.array(f"{name}.c", c, dtype=np.float32)
    validate.array(f"{name}.d", d, dtype=np.float32)
    try:
        g = tuple(validate.integer(f"{name}.groups", v, minimum=0) for v in prop.groups)
    except (TypeError, ValueError):
        g = ()
    if len(g) != c.shape[-2] or not g or sorted(set(g)) != list(range(max(g) + 1)):
        raise ValueError(f"{name}.groups must give each of the {c.shape[-2]} rows a group number, using 0..G-1, "
                         f"got {prop.groups}")
    return Property(c, d, g)


def check_problem(params, box, prop, batched: bool | None = None):
    """The checks of (network, input set, property) together: returns float64 (layers, Box, Property).

    ``batched=None`` reads it from the box (lower: (batch, d)); a batched box needs a property
    with the same leading axis.
    """
    p = check_params(params)
    if batched is None:
        batched = isinstance(box, Box) and np.ndim(box.lower) == 2
    box = check_box(box, p[0]["w"].shape[0], batched)
    prop = check_property(prop, p[-1]["w"].shape[1], batched)
    if batched and prop.c.shape[0] != box.lower.shape[0]:
        raise ValueError(f"prop.c has batch {prop.c.shape[0]} but the box has batch {box.lower.shape[0]}")
    return p, box, prop


# ----------------------------------------------------------------------------- input sets

def linf_ball(x, eps, lower: float | None = None, upper: float | None = None) -> Box:
    """The L-infinity ball of radius ``eps`` around x: (d,) or (batch, d), optionally clipped."""
    eps = validate.real("eps", eps, low=0.0, dtype=np.float32)
    x = validate.array("x", x, allow_empty=True, dtype=np.float32).astype(np.float64)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"x must have shape (d,) or (batch, d), got {x.shape}")
    lo, hi = x - eps, x + eps
    if lower is not None:
        lo = np.maximum(lo, validate.real("lower", lower, dtype=np.float32))
    if upper is not None:
        hi = np.minimum(hi, validate.real("upper", upper, dtype=np.float32))
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"lower must be <= upper, got {lower} and {upper}")
    if np.any(lo > hi):
        raise ValueError("clipping to [lower, upper] left an empty box")
    return Box(lo, hi)


# ----------------------------------------------------------------------------- properties

def argmax_in(allowed, num_outputs: int, name: str = "allowed") -> Property:
    """"The argmax of the output lies in ``allowed``" (strictly: every other output is beaten).

    For each j outside ``allowed`` one group: some s in ``allowed`` has f_s - f_j > 0.
    """
    num_outputs = validate.integer("num_outputs", num_outputs, minimum=2)
    if isinstance(allowed, (str, bytes)) or not hasattr(allowed, "__iter__"):
        raise ValueError(f"{name} must be a collection of output indices in 0..{num_outputs - 1}, got {allowed!r}")
    allowed = sorted({validate.integer(name, int(a) if isinstance(a, np.integer) else a,
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
    return argmax_in([label], num_outputs, name="label")


def argmax_not(action: int, num_outputs: int) -> Property:
    """Safety: output ``action`` is never the argmax (some other output beats it)."""
    num_outputs = validate.integer("num_outputs", num_outputs, minimum=2)
    action = validate.integer("action", action, minimum=0, maximum=num_outputs - 1)
    return argmax_in([j for j in range(num_outputs) if j != action], num_outputs)


def robustness_properties(labels, num_outputs: int) -> Property:
    """Batched :func:`argmax_is` for labels: (batch,) -> c: (batch, k-1, k), d: (batch, k-1)."""
    num_outputs = validate.integer("num_outputs", num_outputs, minimum=2)
    labels = validate.array("labels", labels, ndim=1, integer=True)
    labels = validate.indices("labels", labels, num_outputs, what=f"classes of {num_outputs} outputs")
    eye = np.eye(num_outputs)
    others = np.array([[j for j in range(num_outputs) if j != y] for y in labels])
    c = eye[labels][:, None, :] - eye[others]
    return Property(c, np.zeros(c.shape[:2]), tuple(range(num_outputs - 1)))


def broadcast(prop: Property, n: int) -> Property:
    """One property for each of ``n`` boxes: c: (m, out) -> (n, m, out) (a batched one is kept)."""
    if np.ndim(prop.c) == 3:
        return prop
    return Property(np.broadcast_to(prop.c, (n,) + np.shape(prop.c)), np.broadcast_to(prop.d, (n,) + np.shape(prop.d)),
                    prop.groups)


# ----------------------------------------------------------------------------- margins

def group_mask(groups: tuple) -> np.ndarray:
    """(G, m) bool: row r belongs to group g."""
    g = np.array(groups)
    return np.arange(g.max() + 1)[:, None] == g[None, :]


def margin_from_rows(rows, mask):
    """min over groups of max over the group's rows, in JAX; rows: (..., m), mask: (G, m)."""
    per_group = jnp.max(jnp.where(mask, rows[..., None, :], -jnp.inf), axis=-1)
    return jnp.min(per_group, axis=-1)


def certified_margin(row_lower, groups: tuple) -> np.ndarray:
    """A lower bound on the property margin from lower bounds of its rows: (..., m) -> (...)."""
    return np.where(group_mask(tuple(groups)), np.asarray(row_lower)[..., None, :], -np.inf).max(-1).min(-1)


def forward(p: list, x) -> np.ndarray:
    """The network's outputs in float64 NumPy; p: checked layers (:func:`check_params`), x: (..., d)."""
    for layer in p[:-1]:
        x = np.maximum(x @ layer["w"] + layer["b"], 0.0)
    return x @ p[-1]["w"] + p[-1]["b"]


def property_margin(params, x, prop: Property) -> np.ndarray:
    """The property's margin at concrete inputs x: (d,) or (n, d), evaluated in float64 NumPy."""
    p = check_params(params)
    x = validate.array("x", x, min_ndim=1).astype(np.float64)
    if x.shape[-1] != p[0]["w"].shape[0]:
        raise ValueError(f"x must have last dimension {p[0]['w'].shape[0]}, got shape {x.shape}")
    prop = check_property(prop, p[-1]["w"].shape[1], batched=np.ndim(prop.c) == 3 if isinstance(prop, Property) else False)
    y = forward(p, x)
    rows = np.einsum("...mo,...o->...m", prop.c, y) + prop.d
    per_group = np.where(group_mask(prop.groups), rows[..., None, :], -np.inf).max(-1)
    return per_group.min(-1)


def fold(params, c, d):
    """Append the property's linear map to the last layer: outputs become the property's rows."""
    last = params[-1]
    return list(params[:-1]) + [{"w": last["w"] @ c.T, "b": last["b"] @ c.T + d}]
