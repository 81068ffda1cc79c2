"""Inverse reinforcement learning on tabular MDPs: which rewards explain observed behaviour?

A reward is parameterized linearly, ``R[s, a] = features[s, a] @ theta``, by one of
- ``"state"``: R(s), one parameter per state (d = S);
- ``"state_action"``: R(s, a), one per state-action pair (d = S·A);
- ``"transition"``: R(s, a, s'), one per transition (d = S·A·S); the features of (s, a) are then
  P(s' | s, a), so the reward the agent feels, E[R(s, a, s')], depends on the environment;
or by an explicit ``(S, A, d)`` feature array.

Two inverse problems are solved exactly. For an *optimal* deterministic policy, the rewards
that make it optimal form a polyhedral cone (Ng & Russell 2000), handled with linear programs
(SciPy's HiGHS). For *soft-optimal* (Boltzmann) policies, the consistent rewards form an
affine space given by a linear system (Cao, Cohen & Szpruch 2021); its dimension measures what
the behaviour leaves unidentified. Beyond the two inverse problems: the regret of a recovered
reward in new environments, families of related environments, the active choice of the next
environment to observe from a menu by a given criterion (e.g. query by committee), and environments
designed to ask one question each (comparisons and lotteries between states, chosen by binary
search; :func:`design_environments`). The LP and linear-algebra
side runs in float64 NumPy (with the float64 kernels of :mod:`mesalib.mdp`); batched forward
solves use its jitted JAX kernels.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from mesalib import mdp, validate

PARAMETERIZATIONS = ("state", "state_action", "transition")


# --------------------------------------------------------------------------- parameterizations
def reward_features(transitions, parameterization="state_action") -> np.ndarray:
    """Features (S, A, d) with R[s, a] = features[s, a] @ theta, for one environment (S, A, S).

    ``parameterization`` is a name in ``PARAMETERIZATIONS`` or an explicit (S, A, d) array.
    """
    p = mdp.check_transitions(transitions)
    if p.ndim != 3:
        raise ValueError(f"transitions must be one environment of shape (S, A, S), got {p.shape}")
    s, a = p.shape[:2]
    if isinstance(parameterization, str):
        validate.choice("parameterization", parameterization, set(PARAMETERIZATIONS))
        if parameterization == "state":
            return np.repeat(np.eye(s)[:, None, :], a, axis=1)
        if parameterization == "state_action":
            return np.eye(s * a).reshape(s, a, s * a)
        out = np.zeros((s, a, s, a, s))
        idx_s, idx_a = np.meshgrid(np.arange(s), np.arange(a), indexing="ij")
        out[idx_s, idx_a, idx_s, idx_a, :] = p
        return out.reshape(s, a, s * a * s)
    f = np.asarray(parameterization, dtype=np.float64)
    if f.ndim != 3 or f.shape[:2] != (s, a) or not np.all(np.isfinite(f)):
        raise ValueError(f"parameterization must be one of {list(PARAMETERIZATIONS)} or finite features of shape "
                         f"(S, A, d) = ({s}, {a}, d); got {getattr(f, 'shape', None)}")
    return f


def num_parameters(num_states: int, num_actions: int, parameterization) -> int:
    """d, the number of reward parameters of a named parameterization."""
    if not isinstance(parameterization, str):
        return int(np.asarray(parameterization).shape[-1])
    validate.choice("parameterization", parameterization, set(PARAMETERIZATIONS))
    return {"state": num_states, "state_action": num_states * num_actions,
            "transition": num_states * num_actions * num_states}[parameterization]


def expected_reward(theta, transitions, parameterization="state_action") -> np.ndarray:
    """The reward R[s, a] = features[s, a] @ theta the agent feels in ``transitions``: (S, A)."""
    f = reward_features(transitions, parameterization)
    theta = validate.array("theta", theta, allow_nan=True, allow_empty=True).astype(np.float64)
    if theta.shape != (f.shape[-1],):
        raise ValueError(f"theta must have shape ({f.shape[-1]},), got {theta.shape}")
    validate.array("theta", theta)
    return f @ theta


def _environments(transitions, name="transitions"):
    p = mdp.check_transitions(transitions, name)
    if p.ndim == 3:
        p = p[None]
    if p.ndim != 4:
        raise ValueError(f"{name} must be (S, A, S) or a stack (K, S, A, S); got {p.shape}")
    return p


# --------------------------------------------------------------------------- soft-optimal: a linear system
def identification_system(transitions, gamma: float, parameterization="state_action"):
    """The matrix M of the linear system that soft-optimal behaviour imposes on a reward.

    For each environment k, soft optimality gives, for every (s, a),
    R[s, a] = τ log π_k(a|s) + V_k(s) − γ Σ_s' P_k(s'|s, a) V_k(s').
    Unknowns x = (theta, V_1, …, V_K); M: (K·S·A, d + K·S) so that M x = τ log π stacked.
    """
    p = _environments(transitions)
    gamma = mdp.check_gamma(gamma)
    k, s, a = p.shape[:3]
    feats = [reward_features(p[i], parameterization).reshape(s * a, -1) for i in range(k)]
    d = feats[0].shape[1]
    m = np.zeros((k * s * a, d + k * s))
    e = np.repeat(np.eye(s), a, axis=0)  # (S·A, S): picks V(s) for row (s, a)
    for i in range(k):
        rows = slice(i * s * a, (i + 1) * s * a)
        m[rows, :d] = feats[i]
        m[rows, d + i * s: d + (i + 1) * s] = -(e - gamma * p[i].reshape(s * a, s))
    return m


def _solve(m, b, rtol):
    """One SVD of M: the least-norm solution of M x = b (or None) and an orthonormal null basis."""
    rows, cols = m.shape
    u, sv, vt = np.linalg.svd(m, full_matrices=rows < cols)
    rank = int((sv > rtol * (sv[0] if sv.size else 1.0)).sum())
    null = vt[rank:].T
    x = None if b is None else vt[:rank].T @ ((u[:, :rank].T @ b) / sv[:rank])
    return x, null


def _reward_null_basis(null, d, rtol):
    """Orthonormal basis (d, k) of the reward directions in the null space of M (its first d rows)."""
    n = null[:d]
    if n.shape[1] == 0:
        return np.zeros((d, 0))
    u, sv, _ = np.linalg.svd(n, full_matrices=False)
    return u[:, sv > rtol * max(1.0, sv[0])]


@mdp.single_blas_thread
def consistent_dimension(transitions, gamma: float, parameterization="state_action", rtol: float = 1e-9) -> int:
    """Dimension of the set of rewards consistent with soft-optimal behaviour in the given environments.

    transitions: (S, A, S) or (K, S, A, S). It depends only on the environments, not on the
    behaviour: S for state-action rewards in one environment (potential shaping), 1 (constant
    shifts) for two generic ones.
    """
    rtol = validate.real("rtol", rtol, low=0.0, low_open=True)
    m = identification_system(transitions, gamma, parameterization)
    p = _environments(transitions)
    d = m.shape[1] - p.shape[0] * p.shape[1]
    return int(_reward_null_basis(_solve(m, None, rtol)[1], d, rtol).shape[1])


class Recovery(NamedTuple):
    """theta: (d,) the smallest-norm consistent reward; null_basis: (d, k) the directions it is
    free to move in; residual: max |M x − b| (≈ 0 when the behaviour is exactly soft-optimal)."""
    theta: np.ndarray
    null_basis: np.ndarray
    residual: float


@mdp.single_blas_thread
def recover_reward(transitions, policies, gamma: float, temperature: float = 1.0,
                   parameterization="state_action", rtol: float = 1e-9) -> Recovery:
    """Solve the identification system for the reward of soft-optimal ``policies`` (K, S, A).

    Every reward theta + null_basis @ z explains the behaviour equally well; the returned one is
    the smallest in Euclidean norm (for state-action rewards: mean zero).
    """
    p = _environments(transitions)
    k, s, a = p.shape[:3]
    pi = np.asarray(policies, dtype=np.float64)
    if pi.ndim == 2:
        pi = pi[None]
    if pi.shape != (k, s, a):
        raise ValueError(f"policies must have shape (K, S, A) = ({k}, {s}, {a}), got {pi.shape}")
    validate.probabilities("policies", pi)
    if pi.min() <= 0:
        raise ValueError("policies must give every action positive probability (soft-optimal behaviour)")
    temperature = validate.real("temperature", temperature, low=0.0, low_open=True)
    m = identification_system(p, gamma, parameterization)
    b = temperature * np.log(pi).reshape(-1)
    d = m.shape[1] - k * s
    x, null = _solve(m, b, rtol)
    basis = _reward_null_basis(null, d, rtol)
    theta = x[:d] - basis @ (basis.T @ x[:d])
    residual = float(np.abs(m @ x - b).max())
    return Recovery(theta, basis, residual)


# --------------------------------------------------------------------------- optimal: a polyhedral cone
def _deterministic(policy, s, a, name="policy"):
    pi = np.asarray(policy)
    if pi.shape != (s,) or not np.issubdtype(pi.dtype, np.integer):
        raise ValueError(f"{name} must be integer actions of shape ({s},), got {pi.shape} {pi.dtype}")
    if pi.min() < 0 or pi.max() >= a:
        raise ValueError(f"{name} actions must lie in [0, {a - 1}]")
    return pi


@mdp.single_blas_thread
def optimality_constraints(transitions, policy, gamma: float, parameterization="state") -> np.ndarray:
    """Rows G (S·(A−1), d) with G @ theta <= 0 exactly when ``policy`` is optimal (Ng & Russell 2000).

    Each row is Q^π(s, a) − V^π(s) for an action a ≠ π(s); both are linear in theta, and a policy
    is optimal iff no single action improves on it (the policy improvement theorem).
    """
    p = mdp.check_transitions(transitions)
    if p.ndim != 3:
        raise ValueError(f"transitions must be one environment (S, A, S), got {p.shape}")
    s, a = p.shape[:2]
    pi = _deterministic(policy, s, a)
    gamma = mdp.check_gamma(gamma)
    feats = reward_features(p, parameterization)
    v_map, q_map = mdp.policy_evaluation64(transitions, feats, gamma, pi)   # linear maps theta -> V, Q
    gap = q_map - v_map[:, None, :]
    keep = np.ones((s, a), bool)
    keep[np.arange(s), pi] = False
    return gap[keep]


def advantage_row(transitions, policy, gamma: float, parameterization="state") -> np.ndarray:
    """Row g (d,) with g @ theta = mean_s [V^π(s) − V^uniform(s)]: how much ``policy`` beats acting
    at random. It is ≥ 0 on the feasible cone and 0 for the degenerate rewards (zero, constants)."""
    p = mdp.check_transitions(transitions)
    s, a = p.shape[:2]
    pi = _deterministic(policy, s, a)
    gamma = mdp.check_gamma(gamma)
    feats = reward_features(p, parameterization)
    v_map, _ = mdp.policy_evaluation64(transitions, feats, gamma, pi)
    v_unif, _ = mdp.policy_evaluation64(transitions, feats, gamma, np.full((s, a), 1.0 / a))
    return (v_map - v_unif).mean(0)


class FeasibleSet(NamedTuple):
    """{theta : G theta <= 0, A_eq theta = b_eq, |theta_i| <= bound}: the rewards (in a chosen
    normalization) under which every observed policy is optimal in its environment."""
    G: np.ndarray
    A_eq: np.ndarray
    b_eq: np.ndarray
    bound: float


def _environments_and_policies(transitions, policies):
    """Environments (K, S, A, S) and deterministic policies as integer actions (K, S), checked together."""
    p = _environments(transitions)
    k, s = p.shape[:2]
    pis = np.asarray(policies)
    if pis.ndim == 1:
        pis = pis[None]
    if pis.shape != (k, s):
        raise ValueError(f"policies must be integer actions of shape (K, S) = ({k}, {s}), got {pis.shape}")
    return p, pis


@mdp.single_blas_thread
def feasible_set(transitions, policies, gamma: float, parameterization="state", normalize: bool = True,
                 bound: float = 1e3) -> FeasibleSet:
    """The Ng–Russell feasible set for deterministic policies (K, S) observed in environments (K, S, A, S).

    With ``normalize`` the two trivial freedoms are removed: the mean reward over (s, a) is 0
    (no constant shift) and the first observed policy beats the uniform policy by exactly one
    unit of mean value (no rescaling, and R = 0 is excluded). Without it the set is the cone
    (which always contains R = 0) cut by the box.
    """
    p, pis = _environments_and_policies(transitions, policies)
    k, s, a = p.shape[:3]
    bound = validate.real("bound", bound, low=0.0, low_open=True)
    g = np.concatenate([optimality_constraints(p[i], pis[i], gamma, parameterization) for i in range(k)])
    d = g.shape[1]
    if normalize:
        mean_row = reward_features(p[0], parameterization).mean((0, 1))
        a_eq = np.stack([mean_row, advantage_row(p[0], pis[0], gamma, parameterization)])
        b_eq = np.array([0.0, 1.0])
    else:
        a_eq, b_eq = np.zeros((0, d)), np.zeros(0)
    return FeasibleSet(g, a_eq, b_eq, bound)


def add_environment(fs: FeasibleSet, transitions, policy, gamma: float, parameterization="state") -> FeasibleSet:
    """The feasible set after also observing ``policy`` optimal in ``transitions``."""
    g = optimality_constraints(transitions, policy, gamma, parameterization)
    if g.shape[1] != fs.G.shape[1]:
        raise ValueError(f"parameterization gives {g.shape[1]} parameters, the set has {fs.G.shape[1]}")
    return fs._replace(G=np.concatenate([fs.G, g]))


def _linprog(c, fs: FeasibleSet, extra_ub=None):
    a_ub, b_ub = fs.G, np.zeros(fs.G.shape[0])
    res = scipy.optimize.linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=fs.A_eq if fs.A_eq.size else None,
                                 b_eq=fs.b_eq if fs.b_eq.size else None, bounds=(-fs.bound, fs.bound),
                                 method="highs")
    if res.status != 0:
        raise RuntimeError(f"linear program failed: {res.message}")
    return res.x


class Widths(NamedTuple):
    """Per-coordinate extent of a feasible set: low, high (d,); points (2d, d), the LP solutions
    attaining each low and high (vertices of the set)."""
    low: np.ndarray
    high: np.ndarray
    points: np.ndarray

    @property
    def size(self) -> float:
        """Mean width, high − low, over the coordinates."""
        return float(np.mean(self.high - self.low))


@mdp.single_blas_thread
def coordinate_widths(fs: FeasibleSet) -> Widths:
    """Minimize and maximize each coordinate of theta over the feasible set (2d linear programs)."""
    d = fs.G.shape[1]
    pts = []
    for i in range(d):
        for sign in (1.0, -1.0):
            c = np.zeros(d)
            c[i] = sign
            pts.append(_linprog(c, fs))
    pts = np.array(pts)
    idx = np.arange(d)
    return Widths(pts[2 * idx, idx], pts[2 * idx + 1, idx], pts)


@mdp.single_blas_thread
def max_margin_reward(transitions, policies, gamma: float, parameterization="state", l1: float = 0.0,
                      bound: float = 1.0) -> np.ndarray:
    """Ng & Russell's (2000) linear program: the reward in the box |theta| <= bound that makes the
    observed policies optimal with the largest total margin, minus ``l1`` times |theta|_1.

    Margin of state s: V^π(s) − max_{a ≠ π(s)} Q^π(s, a). Returns theta (d,).
    """
    p, pis = _environments_and_policies(transitions, policies)
    k, s, a = p.shape[:3]
    l1 = validate.real("l1", l1, low=0.0)
    bound = validate.real("bound", bound, low=0.0, low_open=True)
    if a < 2:
        raise ValueError("max_margin_reward needs at least two actions")
    g = np.concatenate([optimality_constraints(p[i], pis[i], gamma, parameterization) for i in range(k)])
    d, n_t = g.shape[1], k * s
    # variables: theta (d), t (K·S margins), u (d) with u >= |theta|
    rows_per_state = a - 1
    t_index = np.repeat(np.arange(n_t), rows_per_state)
    a_margin = np.zeros((g.shape[0], d + n_t + d))
    a_margin[:, :d] = g
    a_margin[np.arange(g.shape[0]), d + t_index] = 1.0       # t_s + (Q − V)(s, a) <= 0
    eye = np.eye(d)
    a_abs = np.block([[eye, np.zeros((d, n_t)), -eye], [-eye, np.zeros((d, n_t)), -eye]])
    a_ub = np.concatenate([a_margin, a_abs])
    c = np.concatenate([np.zeros(d), -np.ones(n_t), l1 * np.ones(d)])
    # t >= 0 keeps the hard constraints G theta <= 0: the observed policies stay optimal
    bounds = [(-bound, bound)] * d + [(0, None)] * n_t + [(0, bound)] * d
    res = scipy.optimize.linprog(c, A_ub=a_ub, b_ub=np.zeros(a_ub.shape[0]), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"linear program failed: {res.message}")
    return res.x[:d]


# --------------------------------------------------------------------------- float64 checks on the host
@mdp.single_blas_thread
def is_optimal(transitions, reward, gamma: float, policy, tol: float = 1e-7) -> bool:
    """Whether the deterministic ``policy`` is optimal for ``reward`` (float64): no action improves
    on it by more than ``tol`` relative to max(1, |Q|) (1e-7 is HiGHS's feasibility tolerance)."""
    p = mdp.check_transitions(transitions)
    if p.ndim != 3:
        raise ValueError(f"transitions must be one environment (S, A, S), got {p.shape}")
    s, a = p.shape[:2]
    r = mdp.check_reward(reward, s, a)
    pi = _deterministic(policy, s, a)
    tol = validate.real("tol", tol, low=0.0)
    v, q = mdp.policy_evaluation64(transitions, r, gamma, pi)
    return bool(np.all(q <= v[:, None] + tol * max(1.0, np.abs(q).max())))


# --------------------------------------------------------------------------- consequences in new environments
@jax.jit
def _normalized_regret(p, r_true, r_cand, gamma):
    _, q_cand = mdp.value_iteration_kernel(p, r_cand, gamma, jnp.float32(1e-6), 10_000)
    pi = jax.nn.one_hot(jnp.argmax(q_cand, -1), q_cand.shape[-1])
    v_star, _ = mdp.value_iteration_kernel(p, r_true, gamma, jnp.float32(1e-6), 10_000)
    a = p.shape[-2]
    # Both policies in one batched solve: two LAPACK calls running side by side can hang XLA's
    # CPU thread pool on jaxlib 0.10 (see nn.orthogonal).
    pis = jnp.stack([pi, jnp.full(pi.shape, 1.0 / a)])
    v, _ = mdp.policy_evaluation_kernel(jnp.broadcast_to(p, pis.shape[:1] + p.shape),
                                        jnp.broadcast_to(r_true, pis.shape[:-1] + (a,)), gamma, pis)
    j_star, j_pi, j_unif = v_star.mean(-1), v[0].mean(-1), v[1].mean(-1)
    return (j_star - j_pi) / jnp.maximum(j_star - j_unif, 1e-9)


def normalized_regret(transitions, true_reward, candidate_reward, gamma: float):
    """How much worse the candidate reward's optimal policy does on the true reward, in (..., )
    environments: (J* − J^π̂) / (J* − J^uniform), J the mean value over start states; 0 = optimal,
    1 = no better than acting at random. π̂ is greedy in the candidate's Q (ties: lowest action
    index); values come from the float32 JAX solvers of :mod:`mesalib.mdp`, in one compiled call."""
    p, r_true, gamma = mdp.check_problem(transitions, true_reward, gamma)
    r_cand = mdp.check_reward(candidate_reward, p.shape[-3], p.shape[-2], "candidate_reward")
    shape = np.broadcast_shapes(p.shape[:-3], r_true.shape[:-2], r_cand.shape[:-2])
    p = jnp.broadcast_to(jnp.asarray(p, jnp.float32), shape + p.shape[-3:])
    r_true = jnp.broadcast_to(jnp.asarray(r_true, jnp.float32), shape + r_true.shape[-2:])
    r_cand = jnp.broadcast_to(jnp.asarray(r_cand, jnp.float32), shape + r_cand.shape[-2:])
    return _normalized_regret(p, r_true, r_cand, jnp.float32(gamma))


# --------------------------------------------------------------------------- environment families
def environment_family(key, base, num_envs: int, changed_states: int | None = None, branching: int | None = 2):
    """``num_envs`` variations (num_envs, S, A, S) of the ``base`` environment (S, A, S).

    Each variation redraws the transitions of ``changed_states`` random states (all states if
    None, i.e. independent random environments on the same state and action sets).
    """
    key = validate.prng_key("key", key)
    p = mdp.check_transitions(base, "base")
    if p.ndim != 3:
        raise ValueError(f"base must be one environment (S, A, S), got {p.shape}")
    s, a = p.shape[:2]
    n = validate.integer("num_envs", num_envs, minimum=1)
    m = s if changed_states is None else validate.integer("changed_states", changed_states, minimum=1, maximum=s)
    k_new, k_states = jax.random.split(key)
    new = mdp.random_mdp(k_new, s, a, branching=branching, batch=(n,))
    chosen = np.argsort(mdp.host_rng(k_states).random((n, s)), axis=-1)[:, :m]
    mask = np.zeros((n, s), bool)
    np.put_along_axis(mask, chosen, True, axis=-1)
    return np.where(mask[:, :, None, None], new, p[None])


def shaped(reward, transitions, potential, gamma: float) -> np.ndarray:
    """Potential-based shaping written as a state-action table for given dynamics (S, A):
    R'(s, a) = R(s, a) + γ Σ_s' P(s'|s, a) Φ(s') − Φ(s) (Ng, Harada & Russell 1999)."""
    p = mdp.check_transitions(transitions)
    if p.ndim != 3:
        raise ValueError(f"transitions must be one environment (S, A, S), got {p.shape}")
    s, a = p.shape[:2]
    r = mdp.check_reward(reward, s, a)
    phi = validate.array("potential", potential, allow_nan=True, allow_empty=True).astype(np.float64)
    if phi.shape != (s,):
        raise ValueError(f"potential must have shape ({s},), got {phi.shape}")
    validate.array("potential", phi)
    gamma = mdp.check_gamma(gamma)
    return r + gamma * p @ phi - phi[:, None]


# --------------------------------------------------------------------------- choosing environments to observe
@jax.jit
def _committee_disagreement(menu, rewards, gamma):
    """menu (M, S, A, S), rewards (C, S, A) float32 -> (M,) float32."""
    _, q = mdp.value_iteration_kernel(menu[None], rewards[:, None], gamma, jnp.float32(1e-5), 10_000)   # (C, M, S, A)
    votes = jax.nn.one_hot(jnp.argmax(q, -1), q.shape[-1]).mean(0)    # (M, S, A)
    return (1.0 - votes.max(-1)).sum(-1)


def committee_disagreement(menu, committee, gamma: float) -> np.ndarray:
    """How much a committee of rewards disagrees about what to do in each candidate environment.

    menu: (M, S, A, S); committee: C rewards, (C, S) state rewards or (C, S, A). Each member votes,
    in every state, for its optimal action (float32 value iteration; ties: lowest action index);
    returns (M,) float32, Σ_s (1 − the largest share of votes for one action): 0 when the
    committee agrees everywhere. The query-by-committee criterion of Seung, Opper & Sompolinsky (1992).
    """
    p = mdp.check_transitions(menu, "menu")
    if p.ndim != 4:
        raise ValueError(f"menu must be a stack of environments (M, S, A, S), got {p.shape}")
    s, a = p.shape[1:3]
    r = mdp.check_reward(committee, s, a, "committee")
    if r.ndim != 3:
        raise ValueError(f"committee must be rewards (C, S) or (C, S, A) with (S, A) = ({s}, {a}); got "
                         f"{np.shape(committee)}")
    gamma = mdp.check_gamma(gamma)
    return np.asarray(_committee_disagreement(jnp.asarray(p, jnp.float32), jnp.asarray(r, jnp.float32),
                                              jnp.float32(gamma)))


class Selection(NamedTuple):
    """chosen: (steps,) menu indices in the order chosen; sizes: (steps + 1,) the mean coordinate
    width of the normalized feasible set after the first environment and after each choice;
    centers: (steps + 1, d) its Chebyshev centre (:func:`chebyshev_center`) at the same moments."""
    chosen: np.ndarray
    sizes: np.ndarray
    centers: np.ndarray


@mdp.single_blas_thread
def chebyshev_center(fs: FeasibleSet) -> tuple:
    """The centre of the largest ball inside the feasible set, within the affine subspace of its
    equalities: one linear program, independent of the vertices :func:`coordinate_widths` finds.

    Every inequality (the rows of G and the box |theta_i| <= bound) must hold with slack at least
    r times the length of its row projected onto the equality subspace; r is maximized.
    Returns (theta (d,), r); r = 0 when the set has no interior (e.g. an observed action ties).
    """
    d = fs.G.shape[1]
    if fs.A_eq.size:
        proj = np.eye(d) - np.linalg.pinv(fs.A_eq) @ fs.A_eq
    else:
        proj = np.eye(d)
    rows = np.concatenate([fs.G, np.eye(d), -np.eye(d)])
    rhs = np.concatenate([np.zeros(fs.G.shape[0]), np.full(2 * d, fs.bound)])
    norms = np.linalg.norm(rows @ proj, axis=1)
    if norms.max() < 1e-12:   # the equalities leave a single point: no ball, radius 0
        return _linprog(np.zeros(d), fs), 0.0
    a_ub = np.concatenate([rows, norms[:, None]], axis=1)
    a_eq = np.concatenate([fs.A_eq, np.zeros((fs.A_eq.shape[0], 1))], axis=1) if fs.A_eq.size else None
    c = np.zeros(d + 1)
    c[-1] = -1.0
    res = scipy.optimize.linprog(c, A_ub=a_ub, b_ub=rhs, A_eq=a_eq, b_eq=fs.b_eq if fs.A_eq.size else None,
                                 bounds=[(None, None)] * d + [(0, None)], method="highs")
    if res.status != 0:
        raise RuntimeError(f"linear program failed: {res.message}")
    return res.x[:d], float(res.x[-1])


def _check_selection_problem(key, true_reward, first, gamma, steps, menu_size=None):
    key = validate.prng_key("key", key) if key is not None else None
    first = mdp.check_transitions(first, "first")
    if first.ndim != 3:
        raise ValueError(f"first must be one environment (S, A, S), got {first.shape}")
    steps = validate.integer("steps", steps, minimum=0, maximum=menu_size)
    gamma = mdp.check_gamma(gamma)
    r = mdp.check_reward(true_reward, first.shape[0], first.shape[1], "true_reward")
    if r.ndim != 2 or not np.allclose(r, r[:, :1]):
        raise ValueError("true_reward must be a state reward (S,) for this experiment")
    return key, first, steps, gamma, r


@mdp.single_blas_thread
def select_environments(key, true_reward, first, menu, gamma: float, steps: int,
                        criterion: Callable) -> Selection:
    """Observe the optimal policy of ``true_reward`` (S,) in ``first`` (S, A, S), then in ``steps``
    environments picked one at a time from ``menu`` (M, S, A, S), each time the unused candidate
    with the highest score.

    ``criterion(key, widths, menu, gamma) -> (M,)`` scores the candidates from what the learner
    knows: ``widths`` is :func:`coordinate_widths` of the current feasible set (its ``points``
    are LP vertices of the set, i.e. rewards that explain everything observed so far) and ``key``
    a fresh key for each choice. It never sees the true reward. Sizes are measured on the
    normalized feasible set of state rewards (:func:`feasible_set`); the observed policies are
    the optimal ones of :func:`mesalib.mdp.policy_iteration64`.
    """
    key = validate.prng_key("key", key)
    if not callable(criterion):
        raise ValueError(f"criterion must be a function (key, widths, menu, gamma) -> scores (M,), "
                         f"got {type(criterion).__name__}")
    menu = mdp.check_transitions(menu, "menu")
    first = mdp.check_transitions(first, "first")
    if menu.ndim != 4 or first.shape != menu.shape[1:]:
        raise ValueError(f"menu must be (M, S, A, S) and first (S, A, S) with the same S, A; got {menu.shape}, {first.shape}")
    key, first, steps, gamma, r = _check_selection_problem(key, true_reward, first, gamma, steps, menu.shape[0])
    fs = feasible_set(first, mdp.policy_iteration64(first, r, gamma).policy, gamma, "state")
    widths = coordinate_widths(fs)
    sizes, chosen, centers = [widths.size], [], [chebyshev_center(fs)[0]]
    used = np.zeros(menu.shape[0], bool)
    for _ in range(steps):
        key, k_pick = jax.random.split(key)
        score = np.asarray(criterion(k_pick, widths, menu, gamma), dtype=np.float64)
        if score.shape != used.shape:
            raise ValueError(f"criterion must return one score per menu environment, shape {used.shape}; "
                             f"got {score.shape}")
        m = int(np.argmax(np.where(used, -np.inf, score)))
        used[m] = True
        chosen.append(m)
        fs = add_environment(fs, menu[m], mdp.policy_iteration64(menu[m], r, gamma).policy, gamma, "state")
        widths = coordinate_widths(fs)
        sizes.append(widths.size)
        centers.append(chebyshev_center(fs)[0])
    return Selection(np.array(chosen, dtype=int), np.array(sizes), np.array(centers))


# --------------------------------------------------------------------------- designing environments
def comparison_environment(num_states: int, num_actions: int, pairs) -> np.ndarray:
    """An environment (S, A, S) that asks, for each pair (i, j), which of R(i), R(j) is larger.

    In a paired state, action 0 stays and action 1 moves to the partner; every other action, and
    every action of an unpaired state, stays. Staying forever in i is worth R(i)/(1 − γ); moving
    to j (where the agent then stays, or comes back if i is better) is worth more exactly when
    R(j) > R(i). So an optimal agent takes action 1 in the state of the pair with the smaller
    reward and action 0 in the other. ``pairs``: disjoint (i, j) state pairs.
    """
    s = validate.integer("num_states", num_states, minimum=2)
    a = validate.integer("num_actions", num_actions, minimum=2)
    p = np.zeros((s, a, s))
    p[np.arange(s), :, np.arange(s)] = 1.0
    seen = set()
    for pair in pairs:
        i, j = (int(x) for x in pair)
        if not (0 <= i < s and 0 <= j < s) or i == j or i in seen or j in seen:
            raise ValueError(f"pairs must be disjoint pairs of distinct states in [0, {s - 1}], got {list(pairs)}")
        seen |= {i, j}
        for x, y in ((i, j), (j, i)):
            p[x, 1] = 0.0
            p[x, 1, y] = 1.0
    return p


def lottery_environment(num_states: int, num_actions: int, best: int, worst: int, probs) -> np.ndarray:
    """An environment (S, A, S) that asks every state i whether R(i) < probs[i] R(best) + (1 − probs[i]) R(worst).

    ``best`` and ``worst`` stay put under every action. In any other state i, action 0 stays and
    action 1 is a lottery: to ``best`` with probability probs[i], else to ``worst``; every other
    action stays. Staying is worth R(i)/(1 − γ), the lottery R(i) + γ (p R(best) + (1 − p) R(worst))/(1 − γ),
    so an optimal agent takes the lottery exactly when R(i) < p R(best) + (1 − p) R(worst): with
    u(i) = (R(i) − R(worst)) / (R(best) − R(worst)), when u(i) < p. All states are asked at once.
    """
    s = validate.integer("num_states", num_states, minimum=2)
    a = validate.integer("num_actions", num_actions, minimum=2)
    b = validate.integer("best", best, minimum=0, maximum=s - 1)
    w = validate.integer("worst", worst, minimum=0, maximum=s - 1)
    if b == w:
        raise ValueError("best and worst must be different states")
    pr = validate.array("probs", probs).astype(np.float64)
    if pr.shape != (s,) or pr.min() < 0 or pr.max() > 1:
        raise ValueError(f"probs must be probabilities of shape ({s},), got {pr.shape}")
    p = np.zeros((s, a, s))
    p[np.arange(s), :, np.arange(s)] = 1.0
    for i in range(s):
        if i not in (b, w):
            p[i, 1] = 0.0
            p[i, 1, b] += pr[i]
            p[i, 1, w] += 1.0 - pr[i]
    return p


class Design(NamedTuple):
    """environments: (steps, S, A, S) the designed environments in order; sizes, centers: as in
    :class:`Selection`; best, worst: the states the tournament found (-1 if the budget ran out
    first); low, high: (S,) the bracket of u(s) = (R(s) − R(worst)) / (R(best) − R(worst)) left
    by the lotteries (0 and 1 at best and worst themselves)."""
    environments: np.ndarray
    sizes: np.ndarray
    centers: np.ndarray
    best: int
    worst: int
    low: np.ndarray
    high: np.ndarray


def _tournament_pairs(pool, used):
    pairs, free = [], [x for x in pool if x not in used]
    for i in range(0, len(free) - 1, 2):
        pairs.append((free[i], free[i + 1]))
    return pairs


@mdp.single_blas_thread
def design_environments(true_reward, first, gamma: float, steps: int) -> Design:
    """Adaptive experiment design for a state reward, by binary search (our construction in the
    spirit of Amin & Singh's (2016) free-dynamics result; the reward never leaves the "agent").

    After observing the optimal policy of ``true_reward`` (S,) in ``first`` (S, A, S), the learner
    builds each next environment from what it has seen so far:

    1. a knockout tournament of :func:`comparison_environment`: every environment compares
       disjoint pairs; winners go to a "best" bracket, losers to a "worst" bracket, both brackets
       played in the same environment, until one state is left in each (about log2 S environments);
    2. then :func:`lottery_environment` with, for every other state, probability the midpoint of
       its bracket of u(s): each environment halves every bracket at once, so k lotteries pin
       every u(s), i.e. the reward up to a shift and a positive scale, to within 2^-k.

    Each observation also enters the Ng–Russell feasible set, whose size and centre are tracked as
    in :func:`select_environments`. Ties (measure zero for random rewards) count as "not larger".
    """
    _, first, steps, gamma, r = _check_selection_problem(None, true_reward, first, gamma, steps)
    s, a = first.shape[:2]
    if a < 2:
        raise ValueError("design_environments needs at least two actions")
    fs = feasible_set(first, mdp.policy_iteration64(first, r, gamma).policy, gamma, "state")
    sizes, centers, envs = [coordinate_widths(fs).size], [chebyshev_center(fs)[0]], []
    up, down = list(range(s)), list(range(s))
    first_round = True
    low, high = np.zeros(s), np.ones(s)
    for _ in range(steps):
        if first_round or len(up) > 1 or len(down) > 1:
            up_pairs = _tournament_pairs(up, set())
            down_pairs = [] if first_round else _tournament_pairs(down, {x for pr in up_pairs for x in pr})
            pairs = up_pairs + down_pairs
            env = comparison_environment(s, a, pairs)
            pi = mdp.policy_iteration64(env, r, gamma).policy
            winner = {pr: (pr[1] if pi[pr[0]] == 1 else pr[0]) for pr in pairs}
            loser = {pr: (pr[0] if pi[pr[0]] == 1 else pr[1]) for pr in pairs}
            if first_round:   # one pool: winners to the best bracket, losers to the worst, byes to both
                played = {x for pr in up_pairs for x in pr}
                up = [winner[pr] for pr in up_pairs] + [x for x in up if x not in played]
                down = [loser[pr] for pr in up_pairs] + [x for x in down if x not in played]
                first_round = False
            else:
                played = {x for pr in up_pairs for x in pr}
                up = [winner[pr] for pr in up_pairs] + [x for x in up if x not in played]
                played = {x for pr in down_pairs for x in pr}
                down = [loser[pr] for pr in down_pairs] + [x for x in down if x not in played]
        else:
            b, w = up[0], down[0]
            mid = (low + high) / 2
            env = lottery_environment(s, a, b, w, mid)
            pi = mdp.policy_iteration64(env, r, gamma).policy
            takes = pi == 1
            others = np.array([i not in (b, w) for i in range(s)])
            high = np.where(others & takes, mid, high)
            low = np.where(others & ~takes, mid, low)
        envs.append(env)
        fs = add_environment(fs, env, pi, gamma, "state")
        sizes.append(coordinate_widths(fs).size)
        centers.append(chebyshev_center(fs)[0])
    done = len(up) == 1 and len(down) == 1 and not first_round
    b, w = (up[0], down[0]) if done else (-1, -1)
    if done:
        low[b], high[b], low[w], high[w] = 1.0, 1.0, 0.0, 0.0
    return Design(np.array(envs).reshape(len(envs), s, a, s), np.array(sizes), np.array(centers), b, w, low, high)
