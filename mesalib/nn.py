"""Networks as ``init(key, ...) -> params`` / ``apply(params, x)`` pairs over plain dicts.

Every network is written for one example; batch it with ``jax.vmap``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import validate

MAX_WIDTH = 1 << 20   # a wider layer is a typo (its weight matrix would not fit in memory)


def dense_init(key, in_dim: int, out_dim: int, scale: float | None = None) -> dict:
    """A dense layer ``x @ w + b`` with LeCun-normal weights (``scale`` overrides the std)."""
    validate.prng_key("key", key)
    in_dim = validate.integer("in_dim", in_dim, minimum=1, maximum=MAX_WIDTH)
    out_dim = validate.integer("out_dim", out_dim, minimum=1, maximum=MAX_WIDTH)
    std = (1.0 / in_dim) ** 0.5 if scale is None else validate.real("scale", scale, low=0.0, high=1e6, dtype=np.float32)
    return {"w": std * jax.random.normal(key, (in_dim, out_dim)), "b": jnp.zeros((out_dim,))}


def _check_dense(name: str, params) -> tuple:
    validate.dict_keys(name, params, ("w", "b"), "a dense layer {'w': (in, out), 'b': (out,)} (nn.dense_init)")
    w, b = np.shape(params["w"]), np.shape(params["b"])
    if len(w) != 2 or b != w[1:]:
        raise ValueError(f"{name} must hold w (in, out) and b (out,), got w {w} and b {b}")
    return w


def _check_input(name: str, x, width: int, what: str):
    if np.ndim(x) < 1 or np.shape(x)[-1] != width:
        raise ValueError(f"{name} must have last dimension {width} ({what}), got shape {np.shape(x)}")
    if validate.concrete(x):
        validate.array(name, x)


def dense_apply(params: dict, x: jax.Array) -> jax.Array:
    """x: (in_dim,) -> (out_dim,)."""
    w = _check_dense("params", params)
    _check_input("x", x, w[0], "the layer's input width")
    return x @ params["w"] + params["b"]


def mlp_init(key, sizes) -> list:
    """An MLP with layer widths ``sizes = (in, hidden..., out)``."""
    validate.prng_key("key", key)
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ValueError(f"sizes must be a sequence of layer widths (in, hidden..., out), got {sizes!r}")
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output width, got {sizes}")
    for i, s in enumerate(sizes):
        validate.integer(f"sizes[{i}]", s, minimum=1, maximum=MAX_WIDTH)
    keys = jax.random.split(key, len(sizes) - 1)
    return [dense_init(k, a, b) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def mlp_apply(params: list, x: jax.Array, activation=jax.nn.relu) -> jax.Array:
    """x: (in,) -> (out,); ``activation`` between layers, none after the last."""
    _check_mlp(params, x, activation)
    for layer in params[:-1]:
        x = activation(dense_apply(layer, x))
    return dense_apply(params[-1], x)


def _check_mlp(params, x, activation):
    if not isinstance(params, (list, tuple)) or not params:
        raise ValueError(f"params must be a non-empty list of dense layers (nn.mlp_init), got {type(params).__name__}")
    width = None
    for i, layer in enumerate(params):
        w = _check_dense(f"params[{i}]", layer)
        if width is not None and w[0] != width:
            raise ValueError(f"params[{i}] takes {w[0]} inputs but params[{i - 1}] gives {width}")
        width = w[1]
    validate.function("activation", activation, "array -> array (e.g. jax.nn.relu)")
    _check_input("x", x, _check_dense("params[0]", params[0])[0], "the network's input width")


def mlp_activations(params: list, x: jax.Array, activation=jax.nn.relu) -> list:
    """Pre-activations of every layer for one input (for probes and verification)."""
    _check_mlp(params, x, activation)
    pre = []
    for i, layer in enumerate(params):
        z = dense_apply(layer, x)
        pre.append(z)
        x = activation(z) if i < len(params) - 1 else z
    return pre


def gru_init(key, in_dim: int, hidden: int) -> dict:
    """A GRU cell (Cho et al. 2014): input weights (in, 3h), recurrent weights (h, 3h), bias (3h,)."""
    validate.prng_key("key", key)
    in_dim = validate.integer("in_dim", in_dim, minimum=1, maximum=MAX_WIDTH)
    hidden = validate.integer("hidden", hidden, minimum=1, maximum=MAX_WIDTH)
    k1, k2 = jax.random.split(key)
    wi = jax.random.normal(k1, (in_dim, 3 * hidden)) * (1.0 / in_dim) ** 0.5
    # Orthogonal recurrent weights keep the hidden state's scale over long episodes.
    wh = jnp.concatenate([jax.nn.initializers.orthogonal()(k, (hidden, hidden)) for k in jax.random.split(k2, 3)], 1)
    return {"wi": wi, "wh": wh, "b": jnp.zeros((3 * hidden,))}


def _check_gru(params) -> tuple:
    validate.dict_keys("params", params, ("wi", "wh", "b"), "GRU parameters {'wi', 'wh', 'b'} (nn.gru_init)")
    wi, wh, b = np.shape(params["wi"]), np.shape(params["wh"]), np.shape(params["b"])
    if len(wh) != 2 or wh[1] != 3 * wh[0] or len(wi) != 2 or wi[1] != wh[1] or b != (wh[1],):
        raise ValueError(f"params must hold wi (in, 3h), wh (h, 3h) and b (3h,), got {wi}, {wh} and {b}")
    return wi[0], wh[0]


def gru_cell(params: dict, h: jax.Array, x: jax.Array) -> jax.Array:
    """One GRU step: h: (hidden,), x: (in,) -> new h: (hidden,)."""
    in_dim, hidden = _check_gru(params)
    if np.shape(h) != (hidden,):
        raise ValueError(f"h must have shape ({hidden},) for this cell, got {np.shape(h)}")
    if np.shape(x) != (in_dim,):
        raise ValueError(f"x must have shape ({in_dim},) for this cell, got {np.shape(x)}")
    if validate.concrete(h, x):
        validate.array("h", h)
        validate.array("x", x)
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
    in_dim, hidden = _check_gru(params)
    if np.ndim(xs) != 2 or np.shape(xs)[1] != in_dim:
        raise ValueError(f"xs must have shape (T, {in_dim}), got {np.shape(xs)}")
    if np.shape(h0) != (hidden,):
        raise ValueError(f"h0 must have shape ({hidden},), got {np.shape(h0)}")
    if resets is not None and np.shape(resets) != np.shape(xs)[:1]:
        raise ValueError(f"resets must have shape ({np.shape(xs)[0]},) (one flag per step), got {np.shape(resets)}")
    if resets is None:
        resets = jnp.zeros(xs.shape[:1], dtype=bool)

    def step(h, inp):
        x, reset = inp
        h = jnp.where(reset, jnp.zeros_like(h), h)
        h = gru_cell(params, h, x)
        return h, h

    return jax.lax.scan(step, h0, (xs, resets))
