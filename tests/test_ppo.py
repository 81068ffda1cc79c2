"""Tests for mesalib.ppo: a probe problem with a known answer, vmap consistency, bad inputs."""
import mesalib  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesalib import gridworld as g
from mesalib import ppo
from helpers import assert_shape

GAMMA = 0.9
RIGHT = 1


def corridor():
    """A 1x4 corridor: start at the left end, goal at the right end, three steps apart."""
    walls = np.ones((3, 6), bool)
    walls[1, 1:5] = False
    return g.make_params(walls, (1, 4), (1, 1), max_steps=12)


def fixed_level(key, task):
    del key
    level = corridor()
    return level._replace(goal=task["goal"])  # the task picks the goal cell (data, so vmap can vary it)


PROBE = ppo.PPOConfig(num_envs=8, num_steps=16, num_updates=40, epochs=4, minibatches=2, hidden=(16,),
                      lr=1e-2, lr_end=1e-3, gamma=GAMMA, ent_coef=0.01, ent_coef_end=0.0)


@pytest.mark.timeout(600)
def test_probe_corridor_learns_the_known_optimum():
    """Optimal behaviour: go right three times; V(start) = gamma ** 2 (reward 1 on the third step)."""
    tasks = {"goal": jnp.array([[1, 4], [1, 4]], jnp.int32)}
    state, metrics = ppo.train(jax.random.split(jax.random.key(0), 2), tasks, PROBE, g.ENV, fixed_level)
    assert_shape(metrics["return"], (PROBE.num_updates, 2))
    obs, _ = g.reset(jax.random.key(0), corridor())
    for run in range(2):
        params = jax.tree_util.tree_map(lambda x: x[run], state.params)
        logits, value = ppo.heads(params, obs)
        probs = np.asarray(jax.nn.softmax(logits))
        assert probs[RIGHT] > 0.9, probs
        assert abs(float(value) - GAMMA ** 2) < 0.08, float(value)
    assert np.all(metrics["length"][-5:] < 3.6)
    assert np.all(metrics["return"][-5:] == 1.0)
    assert np.all(metrics["length"][:3] > 4)  # it did have to learn: the first policy is near random


@pytest.mark.timeout(600)
def test_runs_in_one_vmap_match_separate_runs():
    cfg = ppo.PPOConfig(hidden=(8,)).smoke()
    keys = jax.random.split(jax.random.key(1), 2)
    tasks = {"goal": jnp.array([[1, 4], [1, 3]], jnp.int32)}
    both, m_both = ppo.train(keys, tasks, cfg, g.ENV, fixed_level)
    one, m_one = ppo.train(keys[1:], {"goal": tasks["goal"][1:]}, cfg, g.ENV, fixed_level)
    for a, b in zip(jax.tree_util.tree_leaves(both.params), jax.tree_util.tree_leaves(one.params)):
        np.testing.assert_allclose(np.asarray(a[1]), np.asarray(b[0]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m_both["loss"][:, 1], m_one["loss"][:, 0], rtol=1e-3, atol=1e-5)


def test_policy_init_and_heads():
    params = ppo.init_policy(jax.random.key(0), 147, 4, (32,))
    logits, value = ppo.heads(params, jnp.ones((7, 7, 3)))
    assert_shape(logits, (4,))
    assert float(value) == 0.0  # zero-initialized critic head
    assert float(jnp.abs(logits).max()) < 0.2  # near-uniform first policy
    a = ppo.sample_action(params, jax.random.key(1), jnp.ones((7, 7, 3)), greedy=True)
    assert int(a) == int(jnp.argmax(logits))


def test_bad_inputs():
    tasks = {"goal": jnp.array([[1, 4]], jnp.int32)}
    with pytest.raises(ValueError, match="minibatches"):
        ppo.train(jax.random.split(jax.random.key(0), 1), tasks, ppo.PPOConfig(num_envs=3, num_steps=3, minibatches=2),
                  g.ENV, fixed_level)
    with pytest.raises(ValueError, match="num_updates"):
        ppo.PPOConfig(num_updates=0).check()
    with pytest.raises(ValueError, match="gamma"):
        ppo.PPOConfig(gamma=1.5).check()
    with pytest.raises(ValueError, match="keys"):
        ppo.train(jax.random.key(0), tasks, PROBE, g.ENV, fixed_level)
    with pytest.raises(ValueError, match="leading axis of length 2"):
        ppo.train(jax.random.split(jax.random.key(0), 2), tasks, PROBE, g.ENV, fixed_level)
    with pytest.raises(ValueError, match="config"):
        ppo.train(jax.random.split(jax.random.key(0), 1), tasks, {"lr": 1}, g.ENV, fixed_level)
    with pytest.raises(ValueError, match="num_actions"):
        ppo.init_policy(jax.random.key(0), 4, 1)


def test_smoke_config_trains_through_the_same_code_path():
    """A smoke run goes through make_train and train_seeds like a full one: same parameter
    structure, every metric logged at every update, finite even where no episode ended."""
    cfg = ppo.PPOConfig(hidden=(8,))
    tasks = {"goal": jnp.array([[1, 4]], jnp.int32)}
    state, metrics = ppo.train(jax.random.split(jax.random.key(2), 1), tasks, cfg.smoke(), g.ENV, fixed_level)
    full_init = ppo.make_train(cfg.check(), g.ENV, fixed_level).init(jax.random.key(2), {"goal": tasks["goal"][0]})
    assert jax.tree_util.tree_structure(state.params) == jax.tree_util.tree_structure(
        jax.tree_util.tree_map(lambda x: x[None], full_init.params))
    assert set(metrics) == {"episodes", "return", "length", "loss", "policy_loss", "value_loss", "entropy"}
    for name, values in metrics.items():
        assert values.shape == (cfg.smoke().num_updates, 1) and np.all(np.isfinite(values)), name


def test_logged_return_is_zero_not_nan_when_no_episode_ends():
    # 8 steps per iteration, a 12-step limit and a goal the untrained policy rarely reaches:
    # some iterations end no episode; their return is 0 with episodes = 0 (a mask), never NaN.
    cfg = ppo.PPOConfig(num_envs=1, num_steps=2, num_updates=6, minibatches=1, hidden=(4,))
    tasks = {"goal": jnp.array([[1, 4]], jnp.int32)}
    _, metrics = ppo.train(jax.random.split(jax.random.key(3), 1), tasks, cfg, g.ENV, fixed_level)
    none_ended = metrics["episodes"] == 0
    assert none_ended.any()
    assert np.all(metrics["return"][none_ended] == 0) and np.all(np.isfinite(metrics["length"]))
