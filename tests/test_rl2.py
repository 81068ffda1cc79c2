import jax
import numpy as np
import pytest

from mesalib import bandits, rl2
from tests.helpers import assert_shape


def test_init_params_shapes_and_zero_value_head():
    p = rl2.init_params(jax.random.key(0), num_arms=5, hidden=16)
    assert_shape(p["gru"]["wi"], (7, 48))
    assert_shape(p["pi"]["w"], (16, 5))
    assert float(abs(p["v"]["w"]).sum()) == 0.0


def test_smoke_training_runs_for_several_seeds():
    cfg = rl2.Config(hidden=16).smoke()
    res = rl2.train_seeds(jax.random.split(jax.random.key(1), 3), cfg, progress=False)
    assert_shape(res.returns, (cfg.num_updates, 3))
    assert np.all(np.isfinite(res.returns)) and np.all(res.returns <= cfg.num_pulls)
    assert_shape(res.params["pi"]["w"], (3, 16, 5))


def test_untrained_network_plays_like_random():
    params = rl2.init_params(jax.random.key(2), 5, 16)
    probs = bandits.sample_tasks(jax.random.key(3), 2000, 5)
    r = np.asarray(rl2.evaluate(params, jax.random.key(4), probs, 10).rewards.sum(1))
    assert abs(r.mean() - 5.0) < 4 * r.std() / np.sqrt(r.size)


def test_evaluate_shapes_and_greedy_is_deterministic():
    params = rl2.init_params(jax.random.key(2), 3, 8)
    probs = bandits.sample_tasks(jax.random.key(3), 7, 3)
    out = rl2.evaluate(params, jax.random.key(5), probs, 12)
    assert_shape(out.actions, (7, 12)) and assert_shape(out.rewards, (7, 12))
    a = rl2.evaluate(params, jax.random.key(5), probs, 12, greedy=True).actions
    b = rl2.evaluate(params, jax.random.key(6), probs, 12, greedy=True).actions
    assert np.array_equal(np.asarray(a[:, 0]), np.asarray(b[:, 0]))  # first choice has no randomness


def test_second_evaluation_does_not_recompile():
    params = rl2.init_params(jax.random.key(2), 3, 8)
    probs = bandits.sample_tasks(jax.random.key(3), 16, 3)
    rl2.evaluate(params, jax.random.key(5), probs, 9)
    before = rl2._evaluate._cache_size()
    rl2.evaluate(params, jax.random.key(6), probs, 9)
    assert rl2._evaluate._cache_size() == before


@pytest.mark.parametrize("call, match", [
    (lambda: rl2.Config(num_arms=1).validated(), "num_arms"),
    (lambda: rl2.Config(num_pulls=-3).validated(), "num_pulls"),
    (lambda: rl2.Config(num_arms=5, prior="dependent").validated(), "num_arms must be 2"),
    (lambda: rl2.Config(prior="beta").validated(), "prior"),
    (lambda: rl2.Config(gae_lambda=1.5).validated(), "gae_lambda"),
    (lambda: rl2.Config(learning_rate=0.0).validated(), "learning_rate"),
    (lambda: rl2.train_seeds(jax.random.key(0), rl2.Config()), "1-D batch"),
    (lambda: rl2.train_seeds([0, 1], rl2.Config()), "keys must be a JAX PRNG key"),
    (lambda: rl2.evaluate(rl2.init_params(jax.random.key(0), 3, 4), jax.random.key(0), np.full((2, 4), .5), 5),
     "trained for 3"),
    (lambda: rl2.evaluate(rl2.init_params(jax.random.key(0), 3, 4), 7, np.full((2, 3), .5), 5), "key"),
    (lambda: rl2.evaluate(rl2.init_params(jax.random.key(0), 3, 4), jax.random.key(0), np.full((2, 3), .5), 0),
     "num_pulls"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()
