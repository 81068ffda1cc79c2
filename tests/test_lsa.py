"""Linear self-attention (mesalib.nn): shapes, the GD construction against float64 NumPy, the
reading of a layer as preconditioned GD, and bad inputs."""
import mesalib  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import assert_close, assert_shape
from mesalib import nn


def task(seed, n=10, d=10):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    return x, x @ w, rng.standard_normal(d)


def test_shapes_and_residual():
    p = nn.lsa_init(jax.random.key(0), 11)
    assert set(p) == {"wq", "wk", "wv"} and all(v.shape == (11, 11) for v in p.values())
    tokens = jax.random.normal(jax.random.key(1), (7, 11))
    out = nn.lsa_apply(p, tokens, 5)
    assert_shape(out, (7, 11))
    zero = {k: jnp.zeros_like(v) for k, v in p.items()}
    assert_close(nn.lsa_apply(zero, tokens, 5), tokens)  # zero weights: the residual only


def test_lsa_apply_matches_the_attention_sum_in_float64():
    rng = np.random.default_rng(0)
    p = {k: rng.standard_normal((4, 4)) for k in ("wq", "wk", "wv")}
    tokens = rng.standard_normal((6, 4))
    n = 4
    want = np.stack([e + sum(p["wv"] @ c * ((p["wk"] @ c) @ (p["wq"] @ e)) for c in tokens[:n]) / n for e in tokens])
    with jax.enable_x64(True):
        got = nn.lsa_apply({k: jnp.asarray(v) for k, v in p.items()}, jnp.asarray(tokens), n)
        assert got.dtype == jnp.float64
        assert_close(got, want, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gd_construction_is_one_gradient_step_in_float64(seed):
    x, y, xq = task(seed)
    eta = 0.3
    w1 = np.zeros(10) - eta * (-(x.T @ y) / len(y))   # w0 = 0, L = 1/(2N) sum (w.x - y)^2
    with jax.enable_x64(True):
        layer = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), nn.lsa_gd_construction(10, eta))
        pred = nn.lsa_predict([layer], jnp.asarray(x), jnp.asarray(y), jnp.asarray(xq))
        assert_close(pred, w1 @ xq, atol=1e-12, rtol=1e-12)


def test_stacked_construction_is_several_gradient_steps_in_float64():
    x, y, xq = task(3, n=7, d=5)
    steps = (0.4, 0.25, 0.6)
    w = np.zeros(5)
    for eta in steps:
        w = w - eta * (x.T @ (x @ w - y)) / len(y)
    with jax.enable_x64(True):
        layers = [jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), nn.lsa_gd_construction(5, s))
                  for s in steps]
        pred = nn.lsa_predict(layers, jnp.asarray(x), jnp.asarray(y), jnp.asarray(xq))
        assert_close(pred, w @ xq, atol=1e-10, rtol=1e-10)


def test_reading_a_layer_as_gd_is_invariant_to_the_scale_gauge():
    p = nn.lsa_gd_construction(6, 0.5)
    read = nn.lsa_as_gd(p)
    assert_close(read["step"], 0.5)
    assert_close(read["preconditioner"], 0.5 * np.eye(6))
    assert_close(read["off_kq"], 0.0)
    assert_close(read["off_value"], 0.0)
    # (c W_Q, W_K, W_V / c) computes the same function and reads the same
    q = dict(p, wq=3.0 * p["wq"], wv=p["wv"] / 3.0)
    assert_close(nn.lsa_as_gd(q)["step"], 0.5, atol=1e-6)
    x, y, xq = task(4, n=8, d=6)
    assert_close(nn.lsa_predict([q], x, y, xq), nn.lsa_predict([p], x, y, xq), atol=1e-4, rtol=1e-4)


def test_off_structure_shares_see_perturbations():
    p = nn.lsa_gd_construction(4, 0.5)
    q = dict(p, wv=p["wv"].at[-1, 0].set(-0.5))   # the value also reads x_0
    read = nn.lsa_as_gd(q)
    assert_close(read["off_value"], 0.5, atol=1e-6)  # half of the value row's squared norm
    assert_close(read["off_kq"], 0.0)


def test_bad_inputs_raise_value_errors_naming_the_parameter():
    with pytest.raises(ValueError, match="dim"):
        nn.lsa_init(jax.random.key(0), 0)
    with pytest.raises(ValueError, match="key"):
        nn.lsa_init(0, 4)
    p = nn.lsa_init(jax.random.key(0), 4)
    with pytest.raises(ValueError, match="num_context"):
        nn.lsa_apply(p, jnp.zeros((3, 4)), 5)
    with pytest.raises(ValueError, match="tokens"):
        nn.lsa_apply(p, jnp.zeros(4), 2)
    with pytest.raises(ValueError, match="dim"):
        nn.lsa_apply(p, jnp.zeros((3, 5)), 2)
    with pytest.raises(ValueError, match="layers"):
        nn.lsa_predict([], jnp.zeros((3, 3)), jnp.zeros(3), jnp.zeros(3))
    with pytest.raises(ValueError, match="dim_x"):
        nn.lsa_gd_construction(0, 0.5)
    with pytest.raises(ValueError, match="step"):
        nn.lsa_gd_construction(3, float("nan"))
