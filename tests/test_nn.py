import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesalib import nn
from tests.helpers import assert_close, assert_shape


def np_gru(params, h, x):
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    H = h.shape[0]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    gi, gh = x @ p["wi"] + p["b"], h @ p["wh"]
    r, z = sig(gi[:H] + gh[:H]), sig(gi[H:2 * H] + gh[H:2 * H])
    n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
    return (1 - z) * n + z * h


def test_gru_cell_matches_float64_reference():
    key = jax.random.key(0)
    params = nn.gru_init(key, 4, 8)
    h = np.random.default_rng(0).normal(size=8)
    x = np.random.default_rng(1).normal(size=4)
    assert_close(nn.gru_cell(params, jnp.asarray(h, jnp.float32), jnp.asarray(x, jnp.float32)),
                 np_gru(params, h, x), atol=1e-5)


def test_gru_scan_resets_state():
    params = nn.gru_init(jax.random.key(1), 3, 5)
    xs = jax.random.normal(jax.random.key(2), (6, 3))
    resets = jnp.array([False, False, False, True, False, False])
    _, hs = nn.gru_scan(params, jnp.zeros(5), xs, resets)
    _, fresh = nn.gru_scan(params, jnp.zeros(5), xs[3:])
    assert_shape(hs, (6, 5))
    assert_close(hs[3:], fresh, atol=1e-6)


def test_mlp_shapes_and_activations():
    params = nn.mlp_init(jax.random.key(0), (2, 16, 16, 3))
    x = jnp.ones(2)
    assert_shape(nn.mlp_apply(params, x), (3,))
    pre = nn.mlp_activations(params, x)
    assert [p.shape for p in pre] == [(16,), (16,), (3,)]
    assert_close(pre[-1], nn.mlp_apply(params, x))
    batch = jax.vmap(lambda v: nn.mlp_apply(params, v))(jnp.ones((7, 2)))
    assert_shape(batch, (7, 3))


@pytest.mark.parametrize("call, match", [
    (lambda: nn.gru_init(jax.random.key(0), 0, 4), "in_dim"),
    (lambda: nn.gru_init(0, 3, 4), "key"),
    (lambda: nn.mlp_init(jax.random.key(0), (3,)), "sizes"),
    (lambda: nn.mlp_init(jax.random.key(0), (3, -1)), r"sizes\[1\]"),
    (lambda: nn.dense_init(jax.random.key(0), 2, 2.5), "out_dim"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_orthogonal_matches_jax_initializer_without_lapack_in_the_program():
    # the same numbers as jax.nn.initializers.orthogonal, one key at a time and vmapped over keys
    keys = jax.random.split(jax.random.key(3), 4)
    want = np.stack([np.asarray(jax.nn.initializers.orthogonal()(k, (24, 24))) for k in keys])
    got = np.asarray(jax.jit(jax.vmap(lambda k: nn.orthogonal(k, 24)))(keys))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got[0] @ got[0].T, np.eye(24), atol=1e-5)
    # the compiled GRU initialisation holds no LAPACK custom call (the pattern that can hang
    # XLA's CPU thread pool), only a host callback
    hlo = jax.jit(jax.vmap(lambda k: nn.gru_init(k, 3, 8))).lower(keys).as_text()
    assert "lapack" not in hlo.lower() and "callback" in hlo.lower()
