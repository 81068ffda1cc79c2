"""Unit tests for mesalib.irl: reward parameterizations, the identification system, the
Ng–Russell feasible set and its linear programs, regret, and environment selection."""
import mesalib  # noqa: F401  (configures XLA before the first JAX computation)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesalib import irl, mdp

S, A, GAMMA = 6, 3, 0.9


@pytest.fixture(scope="module")
def envs():
    return mdp.random_mdp(jax.random.key(3), S, A, batch=(3,))


@pytest.fixture(scope="module")
def sparse_envs():
    return mdp.random_mdp(jax.random.key(4), S, A, branching=2, batch=(6,))


def rng(seed=0):
    return np.random.default_rng(seed)


def optimal(p, r, gamma=GAMMA):
    return mdp.policy_iteration64(p, r, gamma).policy


# ---------------------------------------------------------------- parameterizations
def test_reward_features_shapes_and_meaning(envs):
    p = envs[0]
    theta_s = rng().normal(size=S)
    np.testing.assert_allclose(irl.expected_reward(theta_s, p, "state"), np.repeat(theta_s[:, None], A, 1))
    theta_sa = rng(1).normal(size=S * A)
    np.testing.assert_allclose(irl.expected_reward(theta_sa, p, "state_action"), theta_sa.reshape(S, A))
    theta_t = rng(2).normal(size=(S, A, S))
    np.testing.assert_allclose(irl.expected_reward(theta_t.ravel(), p, "transition"), (p * theta_t).sum(-1))
    assert [irl.num_parameters(S, A, k) for k in irl.PARAMETERIZATIONS] == [S, S * A, S * A * S]
    with pytest.raises(ValueError, match="parameterization"):
        irl.reward_features(p, "state-action")
    with pytest.raises(ValueError, match="parameterization"):
        irl.reward_features(p, np.zeros((S, A + 1, 2)))
    with pytest.raises(ValueError, match="theta"):
        irl.expected_reward(np.zeros(S + 1), p, "state")


# ---------------------------------------------------------------- shaping
def test_potential_shaping_leaves_optimal_and_soft_optimal_policies_unchanged(sparse_envs):
    for i, p in enumerate(sparse_envs[:3]):
        r = rng(i).normal(size=(S, A))
        phi = 5 * rng(10 + i).normal(size=S)
        r2 = irl.shaped(r, p, phi, GAMMA)
        assert np.abs(r2 - r).max() > 1.0  # a visibly different reward
        pi = optimal(p, r, GAMMA)
        np.testing.assert_array_equal(optimal(p, r2, GAMMA), pi)
        _, q, soft = mdp.soft_value_iteration(p, r, GAMMA)
        _, q2, soft2 = mdp.soft_value_iteration(p, r2, GAMMA)
        np.testing.assert_allclose(np.asarray(soft2), np.asarray(soft), atol=1e-4)
        # exact: the shaped Q is the original Q minus the potential
        np.testing.assert_allclose(np.asarray(q2), np.asarray(q) - phi[:, None], atol=2e-4)


# ---------------------------------------------------------------- identification from soft-optimal behaviour
def test_null_space_dimensions(envs, sparse_envs):
    for p in (envs, sparse_envs):
        assert irl.consistent_dimension(p[0], GAMMA, "state_action") == S      # potential shaping
        assert irl.consistent_dimension(p[:2], GAMMA, "state_action") == 1     # only a constant
        assert irl.consistent_dimension(p[:3], GAMMA, "state_action") == 1
        assert irl.consistent_dimension(p[0], GAMMA, "state") == 1
    # R(s, a, s'): the expected reward identifies S·A numbers, shaping adds S free ones back
    assert irl.consistent_dimension(envs[0], GAMMA, "transition") == S * A * S - S * A + S
    # the same environment twice teaches nothing new
    assert irl.consistent_dimension(np.stack([envs[0], envs[0]]), GAMMA, "state_action") == S


def test_identification_system_holds_for_the_truth(envs):
    r = rng(5).normal(size=(S, A))
    v, _, pi = mdp.soft_value_iteration(envs, r, GAMMA, temperature=0.7)
    m = irl.identification_system(envs, GAMMA)
    x = np.concatenate([r.ravel(), np.asarray(v, np.float64).ravel()])
    np.testing.assert_allclose(m @ x, 0.7 * np.log(np.asarray(pi, np.float64)).ravel(), atol=1e-4)


def test_recovered_reward_reproduces_behaviour_and_two_envs_identify_it(envs):
    r = rng(6).normal(size=(S, A))
    _, _, pi = mdp.soft_value_iteration(envs, r, GAMMA)
    one = irl.recover_reward(envs[0], np.asarray(pi[0]), GAMMA)
    assert one.null_basis.shape == (S * A, S) and one.residual < 1e-4
    # every member of the consistent set gives the same soft-optimal behaviour in env 0 ...
    z = rng(7).normal(size=S)
    for theta in (one.theta, one.theta + one.null_basis @ z):
        _, _, pi_hat = mdp.soft_value_iteration(envs[0], theta.reshape(S, A), GAMMA)
        np.testing.assert_allclose(np.asarray(pi_hat), np.asarray(pi[0]), atol=1e-4)
    # ... but one environment does not pin the reward down
    assert np.abs((one.theta - one.theta.mean()) - (r - r.mean()).ravel()).max() > 0.1
    two = irl.recover_reward(envs[:2], np.asarray(pi[:2]), GAMMA)
    assert two.null_basis.shape == (S * A, 1)
    np.testing.assert_allclose(np.abs(two.null_basis[:, 0]), 1 / np.sqrt(S * A), atol=1e-8)  # the constant
    np.testing.assert_allclose(two.theta, (r - r.mean()).ravel(), atol=1e-4)


def test_recover_reward_rejects_bad_inputs(envs):
    _, _, pi = mdp.soft_value_iteration(envs, np.zeros((S, A)), GAMMA)
    with pytest.raises(ValueError, match="policies must have shape"):
        irl.recover_reward(envs[:2], np.asarray(pi[:1]), GAMMA)
    with pytest.raises(ValueError, match="positive probability"):
        irl.recover_reward(envs[0], np.eye(A)[np.zeros(S, int)], GAMMA)
    with pytest.raises(ValueError, match="gamma"):
        irl.recover_reward(envs[0], np.asarray(pi[0]), 1.0)
    with pytest.raises(ValueError, match="row-stochastic"):
        irl.consistent_dimension(envs[0] * 1.1, GAMMA)


# ---------------------------------------------------------------- optimal behaviour: the Ng–Russell set
def _problem(p, seed):
    r = rng(seed).normal(size=S)
    return r, optimal(p, r, GAMMA)


def test_optimal_policy_is_optimal_and_others_are_not(sparse_envs):
    for i, p in enumerate(sparse_envs[:3]):
        r, pi = _problem(p, i)
        _, q = mdp.value_iteration(p, r, GAMMA)
        q = np.asarray(q)
        assert np.all(q[np.arange(S), pi] >= q.max(1) - 1e-4)
        assert irl.is_optimal(p, r, GAMMA, pi)
        worse = (pi + 1) % A
        assert not irl.is_optimal(p, r, GAMMA, worse) or np.allclose(q.max(1), q.min(1), atol=1e-6)


def test_constraints_hold_exactly_for_rewards_that_make_the_policy_optimal(sparse_envs):
    p = sparse_envs[0]
    r, pi = _problem(p, 1)
    g = irl.optimality_constraints(p, pi, GAMMA, "state")
    assert g.shape == (S * (A - 1), S)
    assert (g @ r).max() <= 1e-10
    assert np.allclose(g @ np.ones(S), 0)               # constants and zero are always feasible
    other = rng(99).normal(size=S)
    assert ((g @ other).max() <= 1e-10) == irl.is_optimal(p, other, GAMMA, pi)


@pytest.mark.parametrize("parameterization", ["state", "state_action"])
def test_every_lp_reward_makes_the_observed_policy_optimal(sparse_envs, parameterization):
    p = sparse_envs[:3]
    r = rng(3).normal(size=S)
    pis = np.stack([optimal(e, r, GAMMA) for e in p])
    theta = irl.max_margin_reward(p, pis, GAMMA, parameterization, l1=0.01)
    reward = irl.expected_reward(theta, p[0], parameterization)
    assert np.abs(theta).max() > 0.1                      # not the trivial R = 0
    for e, pi in zip(p, pis):
        assert irl.is_optimal(e, reward, GAMMA, pi)
    fs = irl.feasible_set(p, pis, GAMMA, parameterization)
    w = irl.coordinate_widths(fs)
    assert w.points.shape == (2 * theta.size, theta.size) and np.all(w.high >= w.low - 1e-9)
    for point in w.points:                                # each LP optimum is a vertex of the set
        np.testing.assert_allclose(fs.A_eq @ point, fs.b_eq, atol=1e-7)
        for e, pi in zip(p, pis):
            assert irl.is_optimal(e, irl.expected_reward(point, e, parameterization), GAMMA, pi, tol=1e-7)


def test_the_true_reward_is_in_the_normalized_set_and_sets_shrink(sparse_envs):
    r, pi0 = _problem(sparse_envs[0], 4)
    fs = irl.feasible_set(sparse_envs[0], pi0, GAMMA, "state")
    g = irl.advantage_row(sparse_envs[0], pi0, GAMMA, "state")
    assert g @ r > 0
    truth = (r - r.mean()) / (g @ (r - r.mean()))            # the truth in the set's normalization
    w = irl.coordinate_widths(fs)
    assert np.all(truth >= w.low - 1e-7) and np.all(truth <= w.high + 1e-7)
    sizes = [w.size]
    for e in sparse_envs[1:]:
        fs = irl.add_environment(fs, e, optimal(e, r, GAMMA), GAMMA, "state")
        w = irl.coordinate_widths(fs)
        assert np.all(truth >= w.low - 1e-7) and np.all(truth <= w.high + 1e-7)
        sizes.append(w.size)
    assert np.all(np.diff(sizes) <= 1e-9) and sizes[-1] < 0.8 * sizes[0]


def test_unnormalized_set_contains_zero(sparse_envs):
    r, pi = _problem(sparse_envs[0], 5)
    w = irl.coordinate_widths(irl.feasible_set(sparse_envs[0], pi, GAMMA, "state", normalize=False, bound=1.0))
    assert np.all(w.low <= 1e-9) and np.all(w.high >= -1e-9)


def test_feasible_set_rejects_bad_inputs(sparse_envs):
    r, pi = _problem(sparse_envs[0], 6)
    with pytest.raises(ValueError, match="policies must be integer"):
        irl.feasible_set(sparse_envs[:2], pi, GAMMA)
    with pytest.raises(ValueError, match="policy actions"):
        irl.optimality_constraints(sparse_envs[0], np.full(S, A), GAMMA)
    with pytest.raises(ValueError, match="policy must be integer"):
        irl.optimality_constraints(sparse_envs[0], pi.astype(float), GAMMA)
    with pytest.raises(ValueError, match="gamma"):
        irl.max_margin_reward(sparse_envs[0], pi, -0.5)
    with pytest.raises(ValueError, match="bound"):
        irl.feasible_set(sparse_envs[0], pi, GAMMA, bound=0.0)


# ---------------------------------------------------------------- regret and selection
def test_normalized_regret(sparse_envs):
    r = rng(8).normal(size=(S, A))
    reg_true = np.asarray(irl.normalized_regret(sparse_envs, r, r, GAMMA))
    reg_neg = np.asarray(irl.normalized_regret(sparse_envs, r, -r, GAMMA))
    assert reg_true.shape == (6,) and np.abs(reg_true).max() < 1e-4
    assert np.all(reg_neg > 1.0)   # the opposite reward does worse than acting at random


def noise_criterion(key, widths, menu, gamma):
    return mdp.host_rng(key).random(len(menu))


def committee_criterion(key, widths, menu, gamma):
    return irl.committee_disagreement(menu, widths.points, gamma)


def test_select_environments_returns_valid_choices(sparse_envs):
    r = rng(9).normal(size=S)
    menu = mdp.random_mdp(jax.random.key(5), S, A, branching=2, batch=(5,))
    for criterion in (committee_criterion, noise_criterion):
        chosen, sizes, centers = irl.select_environments(jax.random.key(0), r, sparse_envs[0], menu, GAMMA, 3,
                                                         criterion)
        assert centers.shape == (4, S)
        assert len(set(chosen.tolist())) == 3 and chosen.max() < 5
        assert sizes.shape == (4,) and np.all(np.diff(sizes) <= 1e-9)
    # the pick is the unused candidate of highest score
    prefer_last = lambda key, widths, menu, gamma: np.arange(len(menu), dtype=float)   # noqa: E731
    sel = irl.select_environments(jax.random.key(0), r, sparse_envs[0], menu, GAMMA, 3, prefer_last)
    assert sel.chosen.tolist() == [4, 3, 2]
    with pytest.raises(ValueError, match="criterion must be a function"):
        irl.select_environments(jax.random.key(0), r, sparse_envs[0], menu, GAMMA, 3, "greedy")
    with pytest.raises(ValueError, match="criterion must return one score"):
        irl.select_environments(jax.random.key(0), r, sparse_envs[0], menu, GAMMA, 1, lambda *args: np.zeros(2))
    with pytest.raises(ValueError, match="steps"):
        irl.select_environments(jax.random.key(0), r, sparse_envs[0], menu, GAMMA, 6, noise_criterion)
    with pytest.raises(ValueError, match="state reward"):
        irl.select_environments(jax.random.key(0), rng().normal(size=(S, A)), sparse_envs[0], menu, GAMMA, 1,
                                noise_criterion)
    with pytest.raises(ValueError, match="key"):
        irl.select_environments(0, r, sparse_envs[0], menu, GAMMA, 1, noise_criterion)


def test_chebyshev_center_is_inside_and_maximal(sparse_envs):
    r = rng(10).normal(size=S)
    pi = mdp.policy_iteration64(sparse_envs[0], r, GAMMA).policy
    fs = irl.feasible_set(sparse_envs[0], pi, GAMMA)
    theta, radius = irl.chebyshev_center(fs)
    assert radius > 0
    assert np.all(fs.G @ theta <= 1e-9) and np.allclose(fs.A_eq @ theta, fs.b_eq, atol=1e-8)
    # a ball of that radius in the equality subspace stays inside: check along random directions
    null = np.linalg.svd(fs.A_eq)[2][fs.A_eq.shape[0]:].T
    dirs = rng(11).normal(size=(200, null.shape[1])) @ null.T
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    pts = theta + 0.999 * radius * dirs
    assert np.all(pts @ fs.G.T <= 1e-9) and np.all(np.abs(pts) <= fs.bound)
    # the box alone: the centre of [-1, 1]^2 has radius 1
    box = irl.FeasibleSet(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), 1.0)
    theta, radius = irl.chebyshev_center(box)
    np.testing.assert_allclose(theta, 0.0, atol=1e-9)
    assert abs(radius - 1.0) < 1e-9


def test_designed_environments_ask_what_they_say():
    r = np.array([0.3, -1.0, 2.0, 0.5, 1.2])
    env = irl.comparison_environment(5, 3, [(0, 1), (2, 3)])
    pi = mdp.policy_iteration64(env, r, GAMMA).policy
    assert pi[0] == 0 and pi[1] == 1 and pi[2] == 0 and pi[3] == 1     # the smaller of each pair moves
    assert pi[4] == 0 and np.allclose(env[4, :, 4], 1.0)                 # unpaired: stays
    probs = np.array([0.5, 0.0, 0.0, 0.4, 0.9])
    env = irl.lottery_environment(5, 3, 2, 1, probs)
    np.testing.assert_allclose(env.sum(-1), 1.0)
    pi = mdp.policy_iteration64(env, r, GAMMA).policy
    u = (r - r[1]) / (r[2] - r[1])
    for i in (0, 3, 4):
        assert (pi[i] == 1) == (u[i] < probs[i])
    with pytest.raises(ValueError, match="pairs"):
        irl.comparison_environment(5, 3, [(0, 1), (1, 2)])
    with pytest.raises(ValueError, match="best and worst"):
        irl.lottery_environment(5, 3, 2, 2, probs)
    with pytest.raises(ValueError, match="probs"):
        irl.lottery_environment(5, 3, 2, 1, probs[:3])


@pytest.mark.parametrize("s", [2, 5, 6, 7])
def test_design_environments_finds_extremes_and_halves_brackets(s):
    first = mdp.random_mdp(jax.random.key(s), s, 3, branching=2)
    r = rng(s).normal(size=s)
    rounds = int(np.ceil(np.log2(s)))
    extra = 4
    design = irl.design_environments(r, first, GAMMA, rounds + 2 + extra)
    assert design.best == int(np.argmax(r)) and design.worst == int(np.argmin(r))
    u = (r - r.min()) / (r.max() - r.min())
    assert np.all(design.low <= u + 1e-12) and np.all(u <= design.high + 1e-12)
    others = [i for i in range(s) if i not in (design.best, design.worst)]
    lotteries = len(design.environments) - sum(1 for e in design.environments if not np.any((e > 0) & (e < 1)))
    if others:
        np.testing.assert_allclose((design.high - design.low)[others], 0.5 ** lotteries)
    assert design.sizes.shape == (len(design.environments) + 1,) and np.all(np.diff(design.sizes) <= 1e-9)
    assert design.centers.shape == (len(design.environments) + 1, s)
    with pytest.raises(ValueError, match="state reward"):
        irl.design_environments(rng().normal(size=(s, 3)), first, GAMMA, 1)


def numpy_disagreement(menu, committee, gamma, iters=2000):
    """Float64 reference: each member's greedy actions by plain value iteration, then the votes."""
    m, s, a = menu.shape[:3]
    out = np.zeros(m)
    for j in range(m):
        actions = []
        for theta in committee:
            r = np.repeat(theta[:, None], a, 1)
            v = np.zeros(s)
            for _ in range(iters):
                v = (r + gamma * menu[j] @ v).max(1)
            actions.append((r + gamma * menu[j] @ v).argmax(1))
        votes = np.eye(a)[np.array(actions)].mean(0)                 # (S, A)
        out[j] = (1 - votes.max(1)).sum()
    return out


def test_committee_disagreement_matches_float64_reference(sparse_envs):
    committee = rng(11).normal(size=(4, S))
    got = irl.committee_disagreement(sparse_envs, committee, GAMMA)
    assert got.shape == (len(sparse_envs),)
    np.testing.assert_allclose(got, numpy_disagreement(sparse_envs, committee, GAMMA), atol=1e-6)
    assert np.all(irl.committee_disagreement(sparse_envs, committee[:1].repeat(3, 0), GAMMA) == 0)  # unanimous
    with pytest.raises(ValueError, match="menu must be a stack"):
        irl.committee_disagreement(sparse_envs[0], committee, GAMMA)
    with pytest.raises(ValueError, match="committee"):
        irl.committee_disagreement(sparse_envs, committee[0], GAMMA)
    with pytest.raises(ValueError, match="gamma"):
        irl.committee_disagreement(sparse_envs, committee, 1.0)


def test_hot_paths_do_not_recompile_on_a_second_call(sparse_envs):
    committee = rng(12).normal(size=(4, S))
    irl.committee_disagreement(sparse_envs, committee, GAMMA)
    irl.normalized_regret(sparse_envs, committee[0], committee[1], GAMMA)
    before = (irl._committee_disagreement._cache_size(), irl._normalized_regret._cache_size())
    irl.committee_disagreement(sparse_envs, committee + 1.0, 0.8)
    irl.normalized_regret(sparse_envs, committee[2], committee[3], 0.8)
    assert (irl._committee_disagreement._cache_size(), irl._normalized_regret._cache_size()) == before


def test_environment_family_changes_only_the_chosen_states(sparse_envs):
    fam = irl.environment_family(jax.random.key(0), sparse_envs[0], 4, changed_states=2)
    changed = np.any(np.abs(fam - sparse_envs[0][None]) > 1e-12, axis=(2, 3))
    assert fam.shape == (4, S, A, S) and np.all(changed.sum(1) <= 2) and changed.any()
    np.testing.assert_allclose(fam.sum(-1), 1.0)


def test_bad_inputs_name_the_parameter(sparse_envs):
    p = sparse_envs[0]
    r = rng(13).normal(size=S)
    with pytest.raises(ValueError, match="potential"):
        irl.shaped(r, p, np.zeros(3), GAMMA)
    with pytest.raises(ValueError, match="candidate_reward"):
        irl.normalized_regret(sparse_envs, r, np.zeros(S + 1), GAMMA)
    with pytest.raises(ValueError, match="tol"):
        irl.is_optimal(p, r, GAMMA, optimal(p, r), tol=-1.0)
    with pytest.raises(ValueError, match="key"):
        irl.environment_family(3, p, 2)
    with pytest.raises(ValueError, match="changed_states"):
        irl.environment_family(jax.random.key(0), p, 2, changed_states=S + 1)


def test_normalized_regret_makes_one_lu_factorization_per_call():
    # Two LAPACK calls side by side can hang XLA's CPU thread pool (see nn.orthogonal): the
    # policy being judged and the uniform policy are evaluated in one batched solve.
    p = np.full((3, 5, 4, 5), 0.2, np.float32)
    r = np.zeros((3, 5, 4), np.float32)
    hlo = irl._normalized_regret.lower(p, r, r, jnp.float32(0.9)).as_text()
    assert hlo.count("lapack_sgetrf_ffi") == 1
