"""Networks as ``init(key, ...) -> params`` / ``apply(params, x)`` pairs over plain dicts.

Every network is written for one example; batch it with ``jax.vmap``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

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


def _orthogonal_host(a: np.ndarray) -> np.ndarray:
    """Q of the QR factorization of each (n, n) matrix in ``a`` (leading axes batch), with the
    signs that make R's diagonal positive."""
    a = np.asarray(a)
    flat = a.reshape((-1,) + a.shape[-2:])
    out = np.empty_like(flat)
    for i, m in enumerate(flat):
        q, r = scipy.linalg.qr(m, mode="economic", check_finite=False)
        out[i] = q * np.sign(np.diag(r))
    return out.reshape(a.shape)


def orthogonal(key, n: int) -> jax.Array:
    """A random (n, n) orthogonal matrix: the same numbers as
    ``jax.nn.initializers.orthogonal()(key, (n, n))``, with the QR factorization done on the host
    (SciPy's LAPACK) through ``jax.pure_callback``.

    Why not ``jnp.linalg.qr``: on jax/jaxlib 0.10's CPU backend a batched LAPACK call (vmapped
    seeds) splits its batch over XLA's intra-op thread pool and waits for the pieces; when as many
    such calls run at once as the pool has threads (two on a 2-core machine, e.g. the three
    recurrent blocks of a GRU), every thread waits and the program hangs at 0% CPU.
    """
    n = validate.integer("n", n, minimum=1, maximum=MAX_WIDTH)
    a = jax.random.normal(key, (n, n), jnp.float32)
    return jax.pure_callback(_orthogonal_host, jax.ShapeDtypeStruct(a.shape, a.dtype), a, vmap_method="expand_dims")


def gru_init(key, in_dim: int, hidden: int) -> dict:
    """A GRU cell (Cho et al. 2014): input weights (in, 3h), recurrent weights (h, 3h), bias (3h,)."""
    validate.prng_key("key", key)
    in_dim = validate.integer("in_dim", in_dim, minimum=1, maximum=MAX_WIDTH)
    hidden = validate.integer("hidden", hidden, minimum=1, maximum=MAX_WIDTH)
    k1, k2 = jax.random.split(key)
    wi = jax.random.normal(k1, (in_dim, 3 * hidden)) * (1.0 / in_dim) ** 0.5
    # Orthogonal recurrent weights keep the hidden state's scale over long episodes.
    wh = jnp.concatenate([orthogonal(k, hidden) for k in jax.random.split(k2, 3)], 1)
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


# --------------------------------------------------------------------------------------------- linear self-attention

def lsa_init(key, dim: int, scale: float = 0.1) -> dict:
    """One linear self-attention layer over tokens of width ``dim``: query, key and value
    matrices ``wq, wk, wv`` (dim, dim), entries N(0, scale^2)."""
    validate.prng_key("key", key)
    dim = validate.integer("dim", dim, minimum=1)
    scale = validate.real("scale", scale, low=0.0)
    kq, kk, kv = jax.random.split(key, 3)
    return {n: scale * jax.random.normal(k, (dim, dim)) for n, k in (("wq", kq), ("wk", kk), ("wv", kv))}


def lsa_attend(params: dict, context: jax.Array, queries: jax.Array) -> jax.Array:
    """Linear self-attention with a residual connection: the context tokens are keys and values.

    context: (n, dim), queries: (Q, dim) -> (Q, dim), each query becoming
    ``e + (1/n) sum_j W_V c_j (W_K c_j . W_Q e)`` (no softmax; von Oswald et al. 2023, eq. 4).
    """
    if jnp.ndim(context) != 2 or jnp.ndim(queries) != 2 or params["wq"].shape != (context.shape[1],) * 2 \
            or queries.shape[1] != context.shape[1]:
        raise ValueError(f"context (n, dim) and queries (Q, dim) must match the layer's (dim, dim) matrices "
                         f"{params['wq'].shape}; got {jnp.shape(context)} and {jnp.shape(queries)}")
    u = queries @ (params["wk"].T @ params["wq"]).T     # (Q, dim): W_K^T W_Q e for every query
    z = (u @ context.T) @ context / context.shape[0]    # (Q, dim): C W_K^T W_Q e, C = mean of c c^T
    return queries + z @ params["wv"].T


def lsa_apply(params: dict, tokens: jax.Array, num_context: int) -> jax.Array:
    """One LSA layer over a whole sequence, for one example: tokens (T, dim) -> (T, dim).

    The first ``num_context`` tokens are keys and values; every token (context and queries) is
    updated, as in a transformer layer, so layers can be stacked (see :func:`lsa_attend`).
    """
    if jnp.ndim(tokens) != 2:
        raise ValueError(f"tokens must have shape (T, dim), got {jnp.shape(tokens)}")
    num_context = validate.integer("num_context", num_context, minimum=1, maximum=tokens.shape[0])
    return lsa_attend(params, tokens[:num_context], tokens)


def lsa_regression_tokens(x_context: jax.Array, y_context: jax.Array, x_query: jax.Array) -> jax.Array:
    """Tokens ``(x_j, y_j)`` for an in-context regression task, then the query ``(x_q, 0)``.

    x_context: (N, d), y_context: (N,), x_query: (d,) -> (N + 1, d + 1).
    """
    ctx = jnp.concatenate([x_context, y_context[:, None]], axis=1)
    query = jnp.concatenate([x_query, jnp.zeros_like(x_query[:1])])
    return jnp.concatenate([ctx, query[None]], axis=0)


def lsa_predict(layers, x_context: jax.Array, y_context: jax.Array, x_query: jax.Array) -> jax.Array:
    """Prediction of a stack of LSA layers (a list of params) for one task: the *negated* last
    coordinate of the query token after the last layer (von Oswald et al.'s sign convention, under
    which stacked GD constructions are several GD steps). Returns a scalar."""
    layers = list(layers)
    if not layers:
        raise ValueError("layers must hold at least one LSA layer")
    tokens = lsa_regression_tokens(x_context, y_context, x_query)
    n = x_context.shape[0]
    for params in layers[:-1]:
        tokens = lsa_apply(params, tokens, n)
    return -lsa_attend(layers[-1], tokens[:n], tokens[-1:])[0, -1]  # the last layer: only the query matters


def lsa_gd_construction(dim_x: int, step: float) -> dict:
    """The LSA layer that performs one gradient-descent step (von Oswald et al. 2023, Prop. 1).

    On L(w) = 1/(2N) sum_j (w.x_j - y_j)^2 from w = 0, one step of size ``step`` gives
    w_1 = (step/N) sum_j y_j x_j. With W_K = W_Q = diag(1..1, 0) and W_V = diag(0..0, -step),
    the query's last coordinate becomes -w_1.x_q (so :func:`lsa_predict` returns w_1.x_q), and every
    context token's y_j becomes the residual y_j - w_1.x_j, so stacking k copies is k GD steps.
    """
    dim_x = validate.integer("dim_x", dim_x, minimum=1)
    step = validate.real("step", step)
    eye = jnp.diag(jnp.concatenate([jnp.ones(dim_x), jnp.zeros(1)]))
    wv = jnp.zeros((dim_x + 1, dim_x + 1)).at[-1, -1].set(-step)
    return {"wq": eye, "wk": eye, "wv": wv}


def lsa_effective(params: dict) -> tuple:
    """The parts of a layer that reach the prediction of :func:`lsa_predict` (one layer).

    The prediction is ``-(v . C M e_q)`` with ``M = W_K^T W_Q`` and ``v`` the last row of W_V,
    and the query's last coordinate is zero, so only ``M[:, :d]`` and ``v`` matter. They are
    defined up to a scale (``cM``, ``v/c``); this returns them normalized so that the mean of
    ``diag(M[:d, :d])`` is 1: (kq (d + 1, d), value (d + 1,)) with value = -v.
    """
    m = params["wk"].T @ params["wq"]
    d = m.shape[0] - 1
    kq = m[:, :d]
    scale = jnp.trace(kq[:d]) / d
    return kq / scale, -params["wv"][-1] * scale


def lsa_as_gd(params: dict) -> dict:
    """Read a trained one-layer LSA as preconditioned GD: ``y_hat ~ x_q^T P (1/N) sum_j y_j x_j``.

    Returns {"preconditioner": P (d, d) = value_y * kq_xx, "step": mean of diag(P),
    "off_kq", "off_value": the share of the squared norm of the normalized kq (value) that lies
    outside the GD construction's support (kq's x-block diagonal; value's y entry)}.
    """
    kq, value = lsa_effective(params)
    d = kq.shape[1]
    p = value[-1] * kq[:d]
    diag = jnp.sum(jnp.diagonal(kq[:d]) ** 2)
    return {"preconditioner": p, "step": jnp.trace(p) / d,
            "off_kq": 1.0 - diag / jnp.sum(kq ** 2),
            "off_value": 1.0 - value[-1] ** 2 / jnp.sum(value ** 2)}
