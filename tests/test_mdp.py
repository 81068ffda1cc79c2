"""Unit tests for mesalib.mdp: tabular MDPs, value iteration, soft value iteration, and the float64
host kernels (policy evaluation, policy iteration, value iteration on successor tables)."""
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
    mdp.policy_evaluation(p, r, GAMMA, np.zeros((4, S), int))
    before = (mdp.value_iteration_kernel._cache_size(), mdp.policy_evaluation_kernel._cache_size())
    mdp.value_iteration(p, r + 1.0, 0.8, tol=1e-5, max_iters=500)
    mdp.policy_evaluation(p, r + 1.0, 0.8, np.ones((4, S), int))
    assert (mdp.value_iteration_kernel._cache_size(), mdp.policy_evaluation_kernel._cache_size()) == before


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


# ---------------------------------------------------------------- float64 kernels on the host
def numpy_policy_values(p, r, gamma, pi_probs, iters=3000):
    """Independent float64 reference: iterate V <- R_pi + gamma P_pi V (no linear solve)."""
    v = np.zeros(p.shape[0])
    for _ in range(iters):
        v = (pi_probs * (r + gamma * p @ v)).sum(1)
    return v, r + gamma * p @ v


def test_policy_evaluation64_matches_iterative_reference(problem):
    p, r = problem
    rng = np.random.default_rng(3)
    det = rng.integers(0, A, size=S)
    soft = rng.dirichlet(np.ones(A), size=S)
    for policy, probs in ((det, np.eye(A)[det]), (soft, soft)):
        v, q = mdp.policy_evaluation64(p[1], r[1], GAMMA, policy)
        v_ref, q_ref = numpy_policy_values(p[1], r[1], GAMMA, probs)
        assert v.dtype == np.float64 and v.shape == (S,) and q.shape == (S, A)
        np.testing.assert_allclose(v, v_ref, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(q, q_ref, rtol=1e-10, atol=1e-10)
    # a state reward means the same reward for every action
    v_state, _ = mdp.policy_evaluation64(p[1], r[1, :, 0], GAMMA, det)
    v_rep, _ = mdp.policy_evaluation64(p[1], np.repeat(r[1, :, :1], A, 1), GAMMA, det)
    np.testing.assert_array_equal(v_state, v_rep)


def test_policy_evaluation64_of_feature_columns_is_the_linear_map(problem):
    p, _ = problem
    feats = np.random.default_rng(4).normal(size=(S, A, 5))
    theta = np.random.default_rng(5).normal(size=5)
    pi = np.arange(S) % A
    v_map, q_map = mdp.policy_evaluation64(p[2], feats, GAMMA, pi)
    assert v_map.shape == (S, 5) and q_map.shape == (S, A, 5)
    v, q = mdp.policy_evaluation64(p[2], feats @ theta, GAMMA, pi)
    np.testing.assert_allclose(v_map @ theta, v, atol=1e-10)
    np.testing.assert_allclose(q_map @ theta, q, atol=1e-10)


def test_policy_iteration64_is_optimal_against_float64_value_iteration(problem):
    p, r = problem
    for i in range(4):
        sol = mdp.policy_iteration64(p[i], r[i], GAMMA)
        v_ref, q_ref = numpy_value_iteration(p[i], r[i], GAMMA)
        assert sol.policy.shape == (S,) and np.issubdtype(sol.policy.dtype, np.integer)
        np.testing.assert_allclose(sol.v, v_ref, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(sol.q, q_ref, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(sol.q[np.arange(S), sol.policy], q_ref.max(1), rtol=1e-9, atol=1e-9)


def test_policy_iteration64_keeps_the_first_improving_action_among_ties():
    # 3x3 room, goal top-right: from (1, 0) "up" and "right" are both shortest. Policy iteration
    # starts from "up" everywhere, finds "right" first on the left (the cells whose column leads
    # nowhere under "up"), and keeps it: not the lowest-index optimal action.
    g = mdp.gridworld(3, 3, terminals=[(0, 2)])
    reward = np.zeros(g.transitions.shape[0])
    reward[g.success] = 1.0
    sol = mdp.policy_iteration64(g.transitions, reward, 0.9)
    cell = g.cells[(1, 0)]
    optimal = np.flatnonzero(sol.q[cell] >= sol.q[cell].max() - 1e-12)
    assert set(optimal) == {mdp.ACTIONS.index("up"), mdp.ACTIONS.index("right")}
    assert sol.policy[cell] == mdp.ACTIONS.index("right")
    assert int(mdp.greedy_policy(sol.q)[cell]) == mdp.ACTIONS.index("up")     # lowest index would differ


def random_deterministic(seed, batch, s, a):
    rng = np.random.default_rng(seed)
    nxt = rng.integers(0, s, size=(batch, s, a))
    return nxt, np.eye(s)[nxt]          # successor tables and the same MDPs as dense transitions


def test_deterministic_value_iteration64_matches_dense_reference():
    nxt, dense = random_deterministic(6, 5, 9, 3)
    r = np.random.default_rng(7).normal(size=(5, 9, 3))
    v, q = mdp.deterministic_value_iteration64(nxt, r, GAMMA)
    assert v.shape == (5, 9) and q.shape == (5, 9, 3)
    for i in range(5):
        v_ref, q_ref = numpy_value_iteration(dense[i], r[i], GAMMA)
        np.testing.assert_allclose(v[i], v_ref, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(q[i], q_ref, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(mdp.successors(dense), nxt)
    # one reward broadcasts over the batch of tables
    v_b, _ = mdp.deterministic_value_iteration64(nxt, r[0], GAMMA)
    v_0, _ = mdp.deterministic_value_iteration64(nxt[0], r[0], GAMMA)
    np.testing.assert_allclose(v_b[0], v_0, rtol=1e-10, atol=1e-10)   # the batch may sweep longer


def test_float64_kernels_reject_bad_inputs_by_name(problem):
    p, r = problem
    with pytest.raises(ValueError, match="transitions must be one environment"):
        mdp.policy_evaluation64(p, r[0], GAMMA, np.zeros(S, int))
    with pytest.raises(ValueError, match="policy actions"):
        mdp.policy_evaluation64(p[0], r[0], GAMMA, np.full(S, A))
    with pytest.raises(ValueError, match="policy must be one policy"):
        mdp.policy_evaluation64(p[0], r[0], GAMMA, np.zeros((2, S), int))
    with pytest.raises(ValueError, match="policy rows must sum to 1"):
        mdp.policy_evaluation64(p[0], r[0], GAMMA, np.full((S, A), 0.5))
    with pytest.raises(ValueError, match="reward"):
        mdp.policy_evaluation64(p[0], np.zeros((S, A + 1)), GAMMA, np.zeros(S, int))
    with pytest.raises(ValueError, match="reward must be finite"):
        mdp.policy_evaluation64(p[0], np.full((S, A, 2), np.nan), GAMMA, np.zeros(S, int))
    with pytest.raises(ValueError, match="gamma"):
        mdp.policy_evaluation64(p[0], r[0], 1.0, np.zeros(S, int))
    with pytest.raises(ValueError, match="transitions must be one environment"):
        mdp.policy_iteration64(p, r, GAMMA)
    with pytest.raises(ValueError, match="reward must be one reward"):
        mdp.policy_iteration64(p[0], r, GAMMA)
    with pytest.raises(ValueError, match="max_iters"):
        mdp.policy_iteration64(p[0], r[0], GAMMA, max_iters=0)
    with pytest.raises(RuntimeError, match="max_iters"):
        mdp.policy_iteration64(p[0], r[0], GAMMA, max_iters=1)
    with pytest.raises(ValueError, match="transitions must be deterministic"):
        mdp.successors(p[0])
    nxt, _ = random_deterministic(8, 1, 4, 2)
    with pytest.raises(ValueError, match="successor_table must be integer"):
        mdp.deterministic_value_iteration64(nxt.astype(float), np.zeros(4), GAMMA)
    with pytest.raises(ValueError, match="successor_table entries"):
        mdp.deterministic_value_iteration64(nxt + 4, np.zeros(4), GAMMA)
    with pytest.raises(ValueError, match="reward"):
        mdp.deterministic_value_iteration64(nxt, np.zeros(5), GAMMA)
    with pytest.raises(ValueError, match="gamma"):
        mdp.deterministic_value_iteration64(nxt, np.zeros(4), -0.5)
    with pytest.raises(ValueError, match="tol"):
        mdp.deterministic_value_iteration64(nxt, np.zeros(4), GAMMA, tol=0.0)
