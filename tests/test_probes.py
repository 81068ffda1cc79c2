"""mesalib.probes: capture, ridge probes with held-out R² (against float64 NumPy references),
interventions, and bad inputs."""
import mesalib  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import assert_close, assert_shape
from mesalib import nn, probes


def test_capture_matches_gru_scan():
    p = nn.gru_init(jax.random.key(0), 3, 8)
    xs = jax.random.normal(jax.random.key(1), (12, 3))
    states = probes.capture(nn.gru_cell, p, jnp.zeros(8), xs)
    assert_shape(states, (12, 8))
    assert_close(states, nn.gru_scan(p, jnp.zeros(8), xs)[1], atol=1e-6)


def test_ridge_matches_the_closed_form_in_float64():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5)) * [1, 2, 3, 4, 5] + 1.0
    y = x @ rng.standard_normal((5, 2)) + 0.1 * rng.standard_normal((200, 2))
    alpha = 0.3
    probe = probes.ridge_fit(x, y, alpha)
    xs = (x - x.mean(0)) / x.std(0)
    w = np.linalg.solve(xs.T @ xs / 200 + alpha * np.eye(5), xs.T @ (y - y.mean(0)) / 200)
    want = (x - x.mean(0)) / x.std(0) @ w + y.mean(0)
    assert_close(probes.predict(probe, x), want, atol=1e-10, rtol=1e-10)


def test_r2_score_closed_form_and_perfect_fit():
    y = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]])
    p = np.array([[1.5, 0.5], [2.0, 0.5], [2.5, 0.5], [4.0, 0.5]])
    want = 1 - ((y - p) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    assert_close(probes.r2_score(y, p), want)
    assert_close(probes.r2_score(y, y), [1.0, 1.0])


def test_fit_probe_recovers_a_linear_signal_and_not_noise():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((600, 10))
    y = np.stack([x[:, 0] - 2 * x[:, 3], rng.standard_normal(600)], 1)
    groups = np.repeat(np.arange(60), 10)
    fit = probes.fit_probe(jax.random.key(0), x, y, groups)
    assert fit.r2[0] > 0.99
    assert fit.r2[1] < 0.05
    held = np.unique(groups[fit.test])
    assert not np.isin(groups[~fit.test], held).any()     # whole groups are held out


def test_group_split_holds_out_whole_groups():
    groups = np.repeat(np.arange(20), 5)
    test = probes.group_split(jax.random.key(3), groups, 0.25)
    assert test.sum() == 25
    for g in range(20):
        assert len(set(test[groups == g])) == 1


def test_edit_moves_one_readout_and_holds_the_others():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 6))
    y = x @ rng.standard_normal((6, 3))
    probe = probes.ridge_fit(x, y, 1e-6)
    moved = probes.edit(probe, x[:10], 1, 0.7)
    change = probes.predict(probe, moved) - probes.predict(probe, x[:10])
    assert_close(change, np.tile([0.0, 0.7, 0.0], (10, 1)), atol=1e-9)
    single = probes.edit_direction(probe, 2, hold_others=False)
    assert_close(single @ probe.weights[:, 2], 1.0)


def test_steering_vector_and_mlp_forward_edit():
    assert_close(probes.steering_vector([[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [1.0, 1.0]]), [1.5, 2.5])
    layers = nn.mlp_init(jax.random.key(0), (4, 8, 3))
    x = jax.random.normal(jax.random.key(1), (4,))
    out, h = probes.mlp_forward(layers, x, at=0)
    assert_close(h, jax.nn.relu(nn.mlp_activations(layers, x)[0]))
    v = jnp.arange(8.0)
    out2, h2 = probes.mlp_forward(layers, x, at=0, edit=lambda a: a + v)
    assert_close(h2, h + v)
    assert_close(out2, jax.nn.relu((h + v) @ layers[1]["w"] + layers[1]["b"]), atol=1e-5)


def test_bad_inputs_raise_value_errors_naming_the_parameter():
    x, y = np.zeros((10, 3)), np.zeros(10)
    with pytest.raises(ValueError, match="alpha"):
        probes.ridge_fit(x, y, alpha=0.0)
    with pytest.raises(ValueError, match="features and targets"):
        probes.ridge_fit(x, np.zeros(9))
    with pytest.raises(ValueError, match="features"):
        probes.ridge_fit(np.full((10, 3), np.nan), y)
    with pytest.raises(ValueError, match="key"):
        probes.fit_probe(0, x, y)
    with pytest.raises(ValueError, match="groups"):
        probes.fit_probe(jax.random.key(0), x, y, groups=np.zeros(4))
    with pytest.raises(ValueError, match="test_fraction"):
        probes.group_split(jax.random.key(0), np.arange(10), 1.5)
    probe = probes.ridge_fit(np.random.default_rng(0).standard_normal((10, 3)), np.arange(10.0))
    with pytest.raises(ValueError, match="index"):
        probes.edit_direction(probe, 3)
    with pytest.raises(ValueError, match="features has 2 columns"):
        probes.predict(probe, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at"):
        probes.mlp_forward(nn.mlp_init(jax.random.key(0), (2, 3)), jnp.zeros(2), at=2)
    with pytest.raises(ValueError, match="acts_to and acts_from"):
        probes.steering_vector(np.zeros((2, 3)), np.zeros((2, 4)))
