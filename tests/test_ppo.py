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


@pytest.mark.timeout(60)
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


@pytest.mark.timeout(60)
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


def test_smoke_config_keeps_the_code_path():
    cfg = ppo.PPOConfig()
    small = cfg.smoke()
    assert small.num_updates < cfg.num_updates and small.hidden == cfg.hidden and small.gamma == cfg.gamma
