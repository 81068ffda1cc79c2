"""Unit tests for mesalib.mdp: tabular MDPs, value iteration and soft value iteration."""
import mesalib  # noqa: F401  (configures XLA before the first JAX computation)

import jax
import numpy as np
import pytest

from mesalib import mdp

S, A, GAMMA = 7, 3, 0.9


def numpy_value_iteration(p, r, gamma, iters=3000):
    """Float64 reference: plain Bellman optimality backups."""
    v = np.zeros(p.shape[0])
    for _ in range(iters):
        v = (r + gamma * p @ v).max(1)
    return v, r + gamma * p @ v


def numpy_soft_value_iteration(p, r, gamma, tau, iters=3000):
    v = np.zeros(p.shape[0])
    for _ in range(iters):
        q = r + gamma * p @ v
        m = q.max(1)
        v = m + tau * np.log(np.exp((q - m[:, None]) / tau).sum(1))
    q = r + gamma * p @ v
    return v, q, np.exp((q - v[:, None]) / tau)


@pytest.fixture(scope="module")
def problem():
    p = mdp.random_mdp(jax.random.key(0), S, A, branching=3, batch=(4,))
    r = np.random.default_rng(0).normal(size=(4, S, A))
    return p, r


def test_value_iteration_matches_float64_reference(problem):
    p, r = problem
    v, q = mdp.value_iteration(p, r, GAMMA)
    assert v.shape == (4, S) and q.shape == (4, S, A)
    for i in range(4):
        v_ref, q_ref = numpy_value_iteration(p[i], r[i], GAMMA)
        np.testing.assert_allclose(np.asarray(v[i]), v_ref, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.asarray(q[i]), q_ref, rtol=1e-4, atol=1e-4)


def test_soft_value_iteration_matches_float64_reference(problem):
    p, r = problem
    for tau in (0.3, 1.0):
        v, q, pi = mdp.soft_value_iteration(p, r, GAMMA, temperature=tau)
        for i in range(4):
            v_ref, q_ref, pi_ref = numpy_soft_value_iteration(p[i], r[i], GAMMA, tau)
            np.testing.assert_allclose(np.asarray(v[i]), v_ref, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(np.asarray(pi[i]), pi_ref, atol=1e-5)
        # the identity the identification results rest on: τ log π = Q − V
        np.testing.assert_allclose(tau * np.log(np.asarray(pi)), np.asarray(q - v[..., None]), atol=1e-4)


def test_soft_values_bracket_hard_values(problem):
    p, r = problem
    tau = 0.05
    v_hard, _ = mdp.value_iteration(p, r, GAMMA)
    v_soft, _, _ = mdp.soft_value_iteration(p, r, GAMMA, temperature=tau)
    gap = np.asarray(v_soft - v_hard)
    assert gap.min() > -1e-4
    assert gap.max() < tau * np.log(A) / (1 - GAMMA) + 1e-4


def test_policy_evaluation_matches_linear_solve(problem):
    p, r = problem
    pi_det = np.array([i % A for i in range(S)])
    v, q = mdp.policy_evaluation(p[0], r[0], GAMMA, pi_det)
    p_pi = p[0][np.arange(S), pi_det]
    v_ref = np.linalg.solve(np.eye(S) - GAMMA * p_pi, r[0][np.arange(S), pi_det])
    np.testing.assert_allclose(np.asarray(v), v_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(q), r[0] + GAMMA * p[0] @ v_ref, rtol=1e-4, atol=1e-4)
    # the optimal policy's value is the optimal value
    v_star, q_star = mdp.value_iteration(p, r, GAMMA)
    v_pi, _ = mdp.policy_evaluation(p, r, GAMMA, np.asarray(mdp.greedy_policy(q_star)))
    np.testing.assert_allclose(np.asarray(v_pi), np.asarray(v_star), rtol=1e-4, atol=1e-4)


def test_batches_broadcast_like_a_loop(problem):
    p, r = problem
    v_batch, _ = mdp.value_iteration(p, r[0], GAMMA)  # one reward, four environments
    for i in range(4):
        v_i, _ = mdp.value_iteration(p[i], r[0], GAMMA)
        np.testing.assert_allclose(np.asarray(v_batch[i]), np.asarray(v_i), atol=1e-5)


def test_state_reward_means_same_reward_for_every_action(problem):
    p, _ = problem
    rs = np.arange(S, dtype=float)
    v1, _ = mdp.value_iteration(p[0], rs, GAMMA)
    v2, _ = mdp.value_iteration(p[0], np.repeat(rs[:, None], A, 1), GAMMA)
    np.testing.assert_allclose(np.asarray(v1), np.asarray(v2))


def test_gamma_zero_is_greedy_in_immediate_reward(problem):
    p, r = problem
    v, q = mdp.value_iteration(p[0], r[0], 0.0)
    np.testing.assert_allclose(np.asarray(q), r[0], atol=1e-6)


def test_second_call_does_not_recompile(problem):
    p, r = problem
    mdp.value_iteration(p, r, GAMMA)
    before = mdp._value_iteration._cache_size()
    mdp.value_iteration(p, r + 1.0, 0.8)
    assert mdp._value_iteration._cache_size() == before


def test_random_mdp_is_stochastic_sparse_and_keyed():
    p = mdp.random_mdp(jax.random.key(1), 6, 2, branching=2, batch=(5,))
    assert p.shape == (5, 6, 2, 6)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-12)
    assert ((p > 0).sum(-1) <= 2).all()
    np.testing.assert_array_equal(p, mdp.random_mdp(jax.random.key(1), 6, 2, branching=2, batch=(5,)))
    assert not np.allclose(p, mdp.random_mdp(jax.random.key(2), 6, 2, branching=2, batch=(5,)))


def test_gridworld_moves_walls_terminals():
    g = mdp.gridworld(3, 4, walls=[(1, 1)], terminals=[(0, 3)])
    p = g.transitions
    np.testing.assert_allclose(p.sum(-1), 1.0)
    s = g.cells[(1, 0)]
    assert p[s, mdp.ACTIONS.index("right"), s] == 1.0            # the wall blocks the move
    assert p[s, mdp.ACTIONS.index("up"), g.cells[(0, 0)]] == 1.0
    assert p[g.cells[(0, 0)], mdp.ACTIONS.index("left"), g.cells[(0, 0)]] == 1.0  # the edge
    assert (p[g.cells[(0, 3)], :, g.success] == 1.0).all()
    assert (p[g.success, :, g.end] == 1.0).all() and (p[g.end, :, g.end] == 1.0).all()
    assert (1, 1) not in g.cells and len(g.cells) == 11 and p.shape == (13, 4, 13)
    slippery = mdp.gridworld(3, 3, slip=0.2).transitions
    np.testing.assert_allclose(slippery.sum(-1), 1.0)
    assert slippery[4, 0, 1] == pytest.approx(0.8 + 0.05)


def test_rollout_follows_the_policy():
    g = mdp.gridworld(3, 3, terminals=[(0, 2)])
    right = np.full(g.transitions.shape[0], mdp.ACTIONS.index("right"))
    path = mdp.rollout_states(g.transitions, right, g.cells[(0, 0)], 4)
    assert list(path) == [g.cells[(0, 0)], g.cells[(0, 1)], g.cells[(0, 2)], g.success, g.end]


@pytest.mark.parametrize("bad, match", [
    (np.full((3, 2, 3), 0.5), "row-stochastic"),
    (np.full((3, 2, 4), 0.25), r"shape \(\.\.\., S, A, S\)"),
    (np.concatenate([[[[1.5, -0.5, 0.0], [1.0, 0.0, 0.0]]], np.full((2, 2, 3), 1 / 3)]), "non-negative"),
    (np.ones((3, 3)), "shape"),
])
def test_rejects_bad_transitions(bad, match):
    with pytest.raises(ValueError, match=match):
        mdp.value_iteration(bad, np.zeros(3), 0.9)


@pytest.mark.parametrize("gamma", [1.0, -0.1, 1.5, float("nan")])
def test_rejects_gamma_outside_unit_interval(problem, gamma):
    p, r = problem
    with pytest.raises(ValueError, match="gamma"):
        mdp.value_iteration(p[0], r[0], gamma)
    with pytest.raises(ValueError, match="gamma"):
        mdp.soft_value_iteration(p[0], r[0], gamma)


def test_rejects_bad_rewards_policies_and_settings(problem):
    p, r = problem
    with pytest.raises(ValueError, match="reward"):
        mdp.value_iteration(p[0], np.zeros((S + 1, A)), GAMMA)
    with pytest.raises(ValueError, match="reward must be finite"):
        mdp.value_iteration(p[0], np.full((S, A), np.inf), GAMMA)
    with pytest.raises(ValueError, match="temperature"):
        mdp.soft_value_iteration(p[0], r[0], GAMMA, temperature=0.0)
    with pytest.raises(ValueError, match="policy actions"):
        mdp.policy_evaluation(p[0], r[0], GAMMA, np.full(S, A))
    with pytest.raises(ValueError, match="policy"):
        mdp.policy_evaluation(p[0], r[0], GAMMA, np.full((S, A), 0.5))
    with pytest.raises(ValueError, match="batch axes"):
        mdp.value_iteration(p, np.zeros((3, S, A)), GAMMA)
    with pytest.raises(ValueError, match="key"):
        mdp.random_mdp(0, 3, 2)
    with pytest.raises(ValueError, match="branching"):
        mdp.random_mdp(jax.random.key(0), 3, 2, branching=4)
    with pytest.raises(ValueError, match="outside"):
        mdp.gridworld(3, 3, walls=[(3, 0)])
    with pytest.raises(ValueError, match="terminals must not be walls"):
        mdp.gridworld(3, 3, walls=[(0, 0)], terminals=[(0, 0)])
