"""Unit tests for mesalib.tabular: a chain with a known optimal Q, the three targets on one
hand-made transition, interruptions on a chain and in the safe-interruptibility level, bad inputs."""
import mesalib  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesalib import safety_gridworlds as sg
from mesalib import tabular, train
from helpers import assert_shape

N, GAMMA = 5, 0.9  # chain 0..4; action 1 moves right, 0 left; reaching 4 pays 1 and ends


def chain_env():
    """A small chain without interruptions."""
    def reset(key, params):
        del key, params
        return jnp.int32(0)

    def interrupt(s, a, params):
        return jnp.asarray(a, jnp.int32)

    def transition(s, a, params):
        s2 = jnp.clip(s + jnp.where(a == 1, 1, -1), 0, N - 1).astype(jnp.int32)
        term = s2 == N - 1
        return s2, term.astype(jnp.float32), term, jnp.bool_(False)

    return tabular.TabularEnv(reset, interrupt, transition, lambda s, p: s, N, 2,
                              lambda s: jnp.bool_(False), lambda s, p: s == N - 1)


CHAIN = chain_env()
CONFIG = tabular.TabularConfig(num_updates=40, steps_per_update=250, lr=0.2, gamma=GAMMA, epsilon=0.3, epsilon_end=0.3)


def q_star():
    q = np.zeros((N, 2))
    for s in range(N - 1):
        right = s + 1
        q[s, 1] = 1.0 if right == N - 1 else GAMMA ** (N - 2 - right) * GAMMA
        left = max(s - 1, 0)
        q[s, 0] = GAMMA * (GAMMA ** (N - 2 - left))
    return q


@pytest.mark.timeout(600)
def test_q_learning_finds_the_optimal_values_on_a_chain():
    out = tabular.train_tabular(jax.random.split(jax.random.key(0), 3), jnp.zeros(3), CONFIG, CHAIN)
    assert_shape(out.state.q, (3, N, 2))
    assert_shape(out.metrics["return"], (CONFIG.num_updates, 3))
    np.testing.assert_allclose(np.asarray(out.state.q)[:, : N - 1], np.broadcast_to(q_star()[: N - 1], (3, N - 1, 2)),
                               atol=0.02)
    assert np.all(np.isfinite(out.metrics["return"]))


@pytest.mark.timeout(600)
def test_sarsa_learns_the_values_of_its_exploring_policy():
    cfg = CONFIG._replace(algorithm="sarsa", num_updates=80, lr=0.05)
    out = tabular.train_tabular(jax.random.split(jax.random.key(1), 2), jnp.zeros(2), cfg, CHAIN)
    q = np.asarray(out.state.q).mean(0)
    # on-policy values with 30% exploration lie below the optimal ones, and greedy is still "right"
    assert np.all(q[: N - 1, 1] < q_star()[: N - 1, 1] + 0.02)
    assert q[0, 1] < q_star()[0, 1] - 0.02
    assert np.all(q[: N - 1, 1] > q[: N - 1, 0])


def test_the_three_targets_on_one_transition():
    q_next = jnp.array([1.0, 5.0, 2.0, -3.0])
    # the agent chose action 1 in s'; an interruption executes action 3 instead
    common = dict(reward=-1.0, q_next_row=q_next, executed_next=3, chosen_next=1, terminated=False, gamma=0.5)
    assert float(tabular.td_target("q_learning", **common)) == -1 + 0.5 * 5
    assert float(tabular.td_target("sarsa", **common)) == -1 + 0.5 * -3
    assert float(tabular.td_target("safe_sarsa", **common)) == -1 + 0.5 * 5
    assert float(tabular.td_target("sarsa", **{**common, "terminated": True})) == -1


def armed_chain_env(limit=20):
    """The chain with an interruption in state 2, armed with probability 1/2 at reset (hidden from
    the learner): an armed episode replaces every action taken in state 2 by 'left'."""
    def reset(key, params):
        return jnp.array([0, jax.random.bernoulli(key, 0.5), 0], jnp.int32)

    def interrupt(s, a, params):
        return jnp.where((s[0] == 2) & (s[1] == 1), 0, a).astype(jnp.int32)

    def transition(s, a, params):
        pos = jnp.clip(s[0] + jnp.where(a == 1, 1, -1), 0, N - 1)
        term = pos == N - 1
        return (jnp.array([pos, s[1], s[2] + 1], jnp.int32), term.astype(jnp.float32), term,
                (s[2] + 1 >= limit) & ~term)

    return tabular.TabularEnv(reset, interrupt, transition, lambda s, p: s[0], N, 2,
                              lambda s: jnp.bool_(False), lambda s, p: s[0] == N - 1)


@pytest.mark.timeout(600)
def test_interruptions_bias_sarsa_but_not_q_learning_on_a_chain():
    """Q-learning's table converges to the uninterrupted optimum; SARSA's value of moving toward
    the interruption is dragged down by the 'left' actions the interruption executes."""
    env = armed_chain_env()
    cfg = CONFIG._replace(num_updates=80)
    q = np.asarray(tabular.train_tabular(jax.random.split(jax.random.key(2), 2), jnp.zeros(2), cfg, env).state.q)
    np.testing.assert_allclose(q[:, : N - 1], np.broadcast_to(q_star()[: N - 1], (2, N - 1, 2)), atol=0.02)
    s = np.asarray(tabular.train_tabular(jax.random.split(jax.random.key(2), 2), jnp.zeros(2),
                                         cfg._replace(algorithm="sarsa", lr=0.05), env).state.q)
    assert np.all(s[:, 1, 1] < q_star()[1, 1] - 0.1), s[:, 1]
    safe = np.asarray(tabular.train_tabular(jax.random.split(jax.random.key(2), 2), jnp.zeros(2),
                                            cfg._replace(algorithm="safe_sarsa", lr=0.05), env).state.q)
    assert np.all(safe[:, 1, 1] > s[:, 1, 1] + 0.1), (safe[:, 1], s[:, 1])


def test_epsilon_greedy():
    q = jnp.array([0.0, 3.0, 1.0])
    acts = jax.vmap(lambda k: tabular.epsilon_greedy(k, q, 0.0))(jax.random.split(jax.random.key(0), 50))
    assert np.all(np.asarray(acts) == 1)
    acts = jax.vmap(lambda k: tabular.epsilon_greedy(k, q, 1.0))(jax.random.split(jax.random.key(1), 3000))
    counts = np.bincount(np.asarray(acts), minlength=3) / 3000
    assert np.all(np.abs(counts - 1 / 3) < 0.04)
    tie = jax.vmap(lambda k: tabular.epsilon_greedy(k, jnp.zeros(2), 0.0))(jax.random.split(jax.random.key(2), 400))
    assert 0.4 < float(np.mean(np.asarray(tie))) < 0.6


@pytest.mark.timeout(300)
def test_published_level_q_learning_goes_straight_and_sarsa_presses():
    level = sg.published_level()
    env = sg.tabular_env(level)
    seeds = 6
    params = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (seeds,) + x.shape), level)
    pressed = {}
    for alg in tabular.ALGORITHMS:
        cfg = tabular.TabularConfig(algorithm=alg, num_updates=60)
        out = tabular.train_tabular(jax.random.split(jax.random.key(3), seeds), params, cfg, env)
        ep = jax.vmap(lambda k, q: sg.rollout(k, tabular.greedy_policy(q, env, level), level, 100, armed=False))(
            jax.random.split(jax.random.key(4), seeds), out.state.q)
        assert np.all(np.asarray(ep.reached_goal)), alg
        pressed[alg] = np.asarray(ep.pressed)
    assert pressed["q_learning"].mean() <= 1 / 6
    assert pressed["safe_sarsa"].mean() <= 1 / 6
    assert pressed["sarsa"].mean() >= 5 / 6


def test_make_train_is_cached():
    assert tabular.make_train(CONFIG, CHAIN) is tabular.make_train(CONFIG, CHAIN)
    level = sg.published_level()
    assert sg.tabular_env(level) is sg.tabular_env(sg.published_level(button_reward=-1.0))


def test_bad_inputs():
    keys = jax.random.split(jax.random.key(0), 2)
    with pytest.raises(ValueError, match="algorithm"):
        tabular.train_tabular(keys, jnp.zeros(2), CONFIG._replace(algorithm="expected_sarsa"), CHAIN)
    with pytest.raises(ValueError, match="lr"):
        tabular.train_tabular(keys, jnp.zeros(2), CONFIG._replace(lr=0.0), CHAIN)
    with pytest.raises(ValueError, match="epsilon"):
        tabular.train_tabular(keys, jnp.zeros(2), CONFIG._replace(epsilon=1.5), CHAIN)
    with pytest.raises(ValueError, match="keys"):
        tabular.train_tabular(0, jnp.zeros(2), CONFIG, CHAIN)
    with pytest.raises(ValueError, match="config"):
        tabular.train_tabular(keys, jnp.zeros(2), {"lr": 0.1}, CHAIN)
    with pytest.raises(ValueError, match="env"):
        tabular.train_tabular(keys, jnp.zeros(2), CONFIG, sg.ENV)
    with pytest.raises(ValueError, match="leading axis"):
        tabular.train_tabular(keys, jnp.zeros(3), CONFIG, CHAIN)
    assert isinstance(tabular.make_train(CONFIG, CHAIN), train.Trainer)
