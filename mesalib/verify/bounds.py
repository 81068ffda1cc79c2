"""Sound bounds on a ReLU network over a box: interval bound propagation and CROWN.

* :func:`ibp` — interval bound propagation (IBP; Gowal et al. 2018): push the box through each
  layer with interval arithmetic;
* :func:`crown` — backward linear relaxation bounds (CROWN; Zhang et al. 2018): replace each
  unstable ReLU by two lines and bound every layer by a backward pass;
* :func:`crown_ibp` — CROWN with every layer intersected with IBP's bounds (never looser than
  IBP, by construction; the exact check uses it to size its big-M constants).

Soundness holds in exact arithmetic. The kernels compute in float32 with round-to-nearest, not
outward rounding, so a bound can be wrong in its last bits; the exact check widens them.

All are pure JAX kernels for one box, written for ``jax.jit`` and ``jax.vmap``;
:func:`ibp_batch`, :func:`crown_batch` and :func:`crown_ibp_batch` are their compiled, batched forms (module level, data
passed as arguments, so a second call with the same shapes does not recompile). The NumPy-facing
functions (:func:`interval_bounds`, :func:`crown_bounds`, :func:`property_bounds`) check their
inputs, run the kernels in float32 and return float64 arrays.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import validate
from mesalib.verify.spec import Box, Property, check_box, check_params, check_problem, fold


# ----------------------------------------------------------------------------- kernels (pure JAX)

def ibp(params, lower, upper) -> list:
    """Interval bounds [(lo, hi), ...] of every layer's pre-activation; lower, upper: (d,)."""
    lo, hi = lower, upper
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


def relu_relaxation(lo, hi):
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


def _crown(params, lower, upper, interval=None) -> list:
    """The backward pass shared by :func:`crown` and :func:`crown_ibp`; ``interval``: IBP's layer
    bounds to intersect every layer with (None: pure CROWN)."""
    mid, rad = (lower + upper) / 2, (upper - lower) / 2
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
        lo = a_lo @ mid - jnp.abs(a_lo) @ rad + c_lo
        hi = a_hi @ mid + jnp.abs(a_hi) @ rad + c_hi
        if interval is not None:
            lo, hi = jnp.maximum(lo, interval[j][0]), jnp.minimum(hi, interval[j][1])
        out.append((lo, hi))
        relax.append(relu_relaxation(lo, hi))
    return out


def crown(params, lower, upper) -> list:
    """CROWN as Zhang et al. (2018) define it: backward linear bounds [(lo, hi), ...] of every
    layer's pre-activation, each intermediate layer bounded by CROWN itself; lower, upper: (d,).

    Not always tighter than IBP: on large boxes of deep or wide networks the relaxations' errors
    compound and CROWN can be looser than interval arithmetic.
    """
    return _crown(params, lower, upper)


def crown_ibp(params, lower, upper) -> list:
    """CROWN with every layer intersected with IBP's bounds ("CROWN ∩ IBP", this book's method).

    Both are sound, so the intersection is sound, and it is never looser than IBP by construction.
    It is usually, not always, at least as tight as pure CROWN: tighter intermediate bounds change
    CROWN's adaptive lower slopes, which can loosen a later bound. (Not CROWN-IBP, Zhang et al. 2020,
    a training method.)
    """
    return _crown(params, lower, upper, ibp(params, lower, upper))


def _folded(kernel):
    def one(params, lower, upper, c, d):
        return kernel(fold(params, c, d), lower, upper)
    return one


@jax.jit
def ibp_batch(params, lower, upper, c, d) -> list:
    """:func:`ibp` of the network with the property folded into its last layer, for a batch of boxes.

    lower, upper: (n, d); c: (n, m, out); d: (n, m). Hidden layers are unchanged by folding, so
    one compiled function gives layer bounds, property bounds and the exact check's bounds.
    """
    return jax.vmap(_folded(ibp), in_axes=(None, 0, 0, 0, 0))(params, lower, upper, c, d)


@jax.jit
def crown_batch(params, lower, upper, c, d) -> list:
    """:func:`crown` of the network with the property folded in, for a batch of boxes (as :func:`ibp_batch`)."""
    return jax.vmap(_folded(crown), in_axes=(None, 0, 0, 0, 0))(params, lower, upper, c, d)


@jax.jit
def crown_ibp_batch(params, lower, upper, c, d) -> list:
    """:func:`crown_ibp` with the property folded in, for a batch of boxes (as :func:`ibp_batch`)."""
    return jax.vmap(_folded(crown_ibp), in_axes=(None, 0, 0, 0, 0))(params, lower, upper, c, d)


KERNELS = {"ibp": ibp_batch, "crown": crown_batch, "crown_ibp": crown_ibp_batch}


# ----------------------------------------------------------------------------- NumPy-facing

def jax_params(p: list) -> list:
    """Checked float64 layers as float32 JAX arrays (the kernels' dtype)."""
    return [{"w": jnp.asarray(layer["w"], jnp.float32), "b": jnp.asarray(layer["b"], jnp.float32)} for layer in p]


def batch_bounds(p: list, lower, upper, c, d, method: str) -> list:
    """The batched kernel on checked float64 inputs (leading batch axis); float64 results per layer."""
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    out = KERNELS[method](jax_params(p), f32(lower), f32(upper), f32(c), f32(d))
    return [(np.asarray(l, np.float64), np.asarray(u, np.float64)) for l, u in out]


def _layer_bounds(params, box, method):
    p = check_params(params)
    box = check_box(box, p[0]["w"].shape[0])
    k = p[-1]["w"].shape[1]
    out = batch_bounds(p, box.lower[None], box.upper[None], np.eye(k)[None], np.zeros((1, k)), method)
    return [(l[0], u[0]) for l, u in out]


def interval_bounds(params, box: Box) -> list:
    """IBP bounds [(lower, upper), ...] of every layer's pre-activation (the last is the output)."""
    return _layer_bounds(params, box, "ibp")


def crown_bounds(params, box: Box, intersect: bool = False) -> list:
    """CROWN bounds [(lower, upper), ...] of every layer's pre-activation (the last is the output);
    ``intersect=True``: CROWN ∩ IBP (:func:`crown_ibp`)."""
    intersect = validate.boolean("intersect", intersect)
    return _layer_bounds(params, box, "crown_ibp" if intersect else "crown")


def property_bounds(params, box: Box, prop: Property, method: str = "crown"):
    """Certified (lower, upper) bounds on each property row over the box; lower: (m,) or (n, m).

    Batched when box.lower is (n, d) and prop.c is (n, m, out).
    """
    validate.choice("method", method, set(KERNELS))
    p, box, prop = check_problem(params, box, prop)
    batched = box.lower.ndim == 2
    lo, hi, c, d = box.lower, box.upper, prop.c, prop.d
    if not batched:
        lo, hi, c, d = lo[None], hi[None], c[None], d[None]
    r_lo, r_hi = batch_bounds(p, lo, hi, c, d, method)[-1]
    return (r_lo, r_hi) if batched else (r_lo[0], r_hi[0])
