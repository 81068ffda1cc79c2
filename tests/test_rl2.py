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


def test_action_probs_replays_the_networks_own_choices():
    """Fed its own greedy rollout, the network's most probable arm is the arm it chose."""
    params = rl2.init_params(jax.random.key(7), 3, 8)
    params["pi"] = {"w": params["pi"]["w"] * 300.0, "b": params["pi"]["b"]}   # sharp, not uniform
    probs = bandits.sample_tasks(jax.random.key(3), 5, 3)
    out = rl2.evaluate(params, jax.random.key(5), probs, 20, greedy=True)
    p = np.asarray(rl2.action_probs(params, out))
    assert_shape(p, (5, 20, 3))
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)
    assert np.array_equal(p.argmax(-1), np.asarray(out.actions))


def test_action_probs_depends_only_on_the_past():
    params = rl2.init_params(jax.random.key(8), 2, 8)
    params["pi"] = {"w": params["pi"]["w"] * 100.0, "b": params["pi"]["b"]}
    a = np.zeros((1, 6), np.int32)
    r = np.array([[1, 0, 1, 1, 0, 1]], np.float32)
    r2 = r.copy()
    r2[0, 4] = 1.0
    p1 = np.asarray(rl2.action_probs(params, bandits.Rollout(a, r)))
    p2 = np.asarray(rl2.action_probs(params, bandits.Rollout(a, r2)))
    np.testing.assert_array_equal(p1[0, :5], p2[0, :5])     # pulls up to the change are unaffected
    assert not np.allclose(p1[0, 5], p2[0, 5])


def test_training_can_continue_from_given_parameters():
    cfg = rl2.Config(num_arms=2, hidden=8).smoke()
    first = rl2.train_seeds(jax.random.split(jax.random.key(1), 1), cfg, progress=False)
    start = rl2.seed_slice(first.params, 0)
    # With a zero step size the parameters must come back unchanged: training started from them.
    frozen = rl2.train_seeds(jax.random.split(jax.random.key(2), 2), cfg._replace(learning_rate=1e-30),
                             progress=False, init=start)
    for a, b in zip(jax.tree_util.tree_leaves(start), jax.tree_util.tree_leaves(frozen.params)):
        np.testing.assert_allclose(np.broadcast_to(a, b.shape), b, atol=1e-6)
    with pytest.raises(ValueError, match="init must be the parameters of a network with num_arms=3"):
        rl2.train_seeds(jax.random.split(jax.random.key(2), 1), cfg._replace(num_arms=3), progress=False, init=start)


@pytest.mark.parametrize("actions, rewards, match", [
    (np.zeros((2, 3), np.int32), np.zeros((2, 4)), "same shape"),
    (np.full((2, 3), 5, np.int32), np.zeros((2, 3)), r"arm indices in \[0, 2\]"),
])
def test_action_probs_bad_inputs(actions, rewards, match):
    params = rl2.init_params(jax.random.key(0), 3, 4)
    with pytest.raises(ValueError, match=match):
        rl2.action_probs(params, bandits.Rollout(actions, rewards))


def test_evaluate_compiles_once_for_greedy_clamped_and_other_horizons():
    params = rl2.init_params(jax.random.key(0), 3, 8)
    probs = bandits.sample_tasks(jax.random.key(1), 16, 3)
    sampled = rl2.evaluate(params, jax.random.key(2), probs, 12)
    before = rl2._evaluate._cache_size()
    greedy = rl2.evaluate(params, jax.random.key(2), probs, 12, greedy=True)
    clamped = rl2.evaluate(params, jax.random.key(2), probs, 12, horizon=6, clamp_time=True)
    assert rl2._evaluate._cache_size() == before
    # greedy play takes the most probable arm: replaying its history gives probabilities whose argmax it chose
    probs_greedy = np.asarray(rl2.action_probs(params, greedy))
    np.testing.assert_array_equal(np.asarray(greedy.actions), probs_greedy.argmax(-1))
    # the first 6 pulls see the same inputs with and without clamping at horizon 6
    unclamped = rl2.evaluate(params, jax.random.key(2), probs, 12, horizon=6)
    np.testing.assert_array_equal(np.asarray(clamped.actions)[:, :7], np.asarray(unclamped.actions)[:, :7])
    assert not np.array_equal(np.asarray(sampled.actions), np.asarray(greedy.actions))
