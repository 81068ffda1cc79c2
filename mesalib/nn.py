"""Networks as ``init(key, ...) -> params`` / ``apply(params, x)`` pairs over plain dicts.

Every network is written for one example; batch it with ``jax.vmap``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from mesalib import validate


def dense_init(key, in_dim: int, out_dim: int, scale: float | None = None) -> dict:
    """A dense layer ``x @ w + b`` with LeCun-normal weights (``scale`` overrides the std)."""
    validate.prng_key("key", key)
    in_dim = validate.integer("in_dim", in_dim, minimum=1)
    out_dim = validate.integer("out_dim", out_dim, minimum=1)
    std = (1.0 / in_dim) ** 0.5 if scale is None else validate.real("scale", scale, low=0.0)
    return {"w": std * jax.random.normal(key, (in_dim, out_dim)), "b": jnp.zeros((out_dim,))}


def dense_apply(params: dict, x: jax.Array) -> jax.Array:
    """x: (in_dim,) -> (out_dim,)."""
    return x @ params["w"] + params["b"]


def mlp_init(key, sizes) -> list:
    """An MLP with layer widths ``sizes = (in, hidden..., out)``."""
    validate.prng_key("key", key)
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output width, got {sizes}")
    for i, s in enumerate(sizes):
        validate.integer(f"sizes[{i}]", s, minimum=1)
    keys = jax.random.split(key, len(sizes) - 1)
    return [dense_init(k, a, b) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def mlp_apply(params: list, x: jax.Array, activation=jax.nn.relu) -> jax.Array:
    """x: (in,) -> (out,); ``activation`` between layers, none after the last."""
    for layer in params[:-1]:
        x = activation(dense_apply(layer, x))
    return dense_apply(params[-1], x)


def mlp_activations(params: list, x: jax.Array, activation=jax.nn.relu) -> list:
    """Pre-activations of every layer for one input (for probes and verification)."""
    pre = []
    for i, layer in enumerate(params):
        z = dense_apply(layer, x)
        pre.append(z)
        x = activation(z) if i < len(params) - 1 else z
    return pre


def gru_init(key, in_dim: int, hidden: int) -> dict:
    """A GRU cell (Cho et al. 2014): input weights (in, 3h), recurrent weights (h, 3h), bias (3h,)."""
    validate.prng_key("key", key)
    in_dim = validate.integer("in_dim", in_dim, minimum=1)
    hidden = validate.integer("hidden", hidden, minimum=1)
    k1, k2 = jax.random.split(key)
    wi = jax.random.normal(k1, (in_dim, 3 * hidden)) * (1.0 / in_dim) ** 0.5
    # Orthogonal recurrent weights keep the hidden state's scale over long episodes.
    wh = jnp.concatenate([jax.nn.initializers.orthogonal()(k, (hidden, hidden)) for k in jax.random.split(k2, 3)], 1)
    return {"wi": wi, "wh": wh, "b": jnp.zeros((3 * hidden,))}


def gru_cell(params: dict, h: jax.Array, x: jax.Array) -> jax.Array:
    """One GRU step: h: (hidden,), x: (in,) -> new h: (hidden,)."""
    hidden = h.shape[-1]
    gi = x @ params["wi"] + params["b"]
    gh = h @ params["wh"]
    r = jax.nn.sigmoid(gi[:hidden] + gh[:hidden])
    z = jax.nn.sigmoid(gi[hidden:2 * hidden] + gh[hidden:2 * hidden])
    n = jnp.tanh(gi[2 * hidden:] + r * gh[2 * hidden:])
    return (1.0 - z) * n + z * h


def gru_scan(params: dict, h0: jax.Array, xs: jax.Array, resets: jax.Array | None = None):
    """Run the cell over a sequence xs: (T, in); ``resets``: (T,) bool zeroes h before that step.

    Returns (final h, all hidden states (T, hidden)).
    """
    if resets is None:
        resets = jnp.zeros(xs.shape[:1], dtype=bool)

    def step(h, inp):
        x, reset = inp
        h = jnp.where(reset, jnp.zeros_like(h), h)
        h = gru_cell(params, h, x)
        return h, h

    return jax.lax.scan(step, h0, (xs, resets))
