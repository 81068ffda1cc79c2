"""Falsification by projected gradient descent (PGD; Madry et al. 2018).

PGD searches a box for an input where a property fails. It can find counterexamples, never prove
their absence: "not falsified" is evidence, not a proof.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import nn, validate
from mesalib.verify.bounds import jax_params
from mesalib.verify.spec import Box, Property, check_problem, group_mask, margin_from_rows, property_margin


@partial(jax.jit, static_argnames=("groups", "steps", "restarts"))
def pgd_batch(key, params, lower, upper, c, d, groups, steps, restarts):
    """Signed-gradient descent on the margin from the centre and random starts; best x per box.

    lower, upper: (n, d); c: (n, m, out); d: (n, m). Returns (x: (n, d), margin: (n,)) in float32.
    """
    mask = jnp.asarray(group_mask(groups))

    def margin(x, c, d):
        return margin_from_rows(c @ nn.mlp_apply(params, x) + d, mask)

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

    keys = jax.random.split(key, lower.shape[0])
    return jax.vmap(one)(keys, lower, upper, c, d)


def pgd_attack(key, params, box: Box, prop: Property, steps: int = 40, restarts: int = 4):
    """Search the box for an input violating the property: returns (best x, margin there).

    x: (d,) or (n, d) float64; a margin <= 0 (checked in float64) is a real counterexample.
    Finding none proves nothing.
    """
    validate.prng_key("key", key)
    steps = validate.integer("steps", steps, minimum=1)
    restarts = validate.integer("restarts", restarts, minimum=1)
    p, box, prop = check_problem(params, box, prop)
    batched = box.lower.ndim == 2
    lo, hi, c, d = box.lower, box.upper, prop.c, prop.d
    if not batched:
        lo, hi, c, d = lo[None], hi[None], c[None], d[None]
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    xs, _ = pgd_batch(key, jax_params(p), f32(lo), f32(hi), f32(c), f32(d), prop.groups, steps, restarts)
    xs = np.clip(np.asarray(xs, np.float64), lo, hi)
    margins = property_margin(p, xs, Property(c, d, prop.groups))
    return (xs, margins) if batched else (xs[0], float(margins[0]))
