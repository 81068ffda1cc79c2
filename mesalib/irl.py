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
the behaviour leaves unidentified. The LP and linear-algebra side runs in float64 NumPy; the
forward solvers (value iteration) are the JAX ones of :mod:`mesalib.mdp`.
"""
from __future__ import annotations

import contextlib
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from mesalib import mdp, validate

PARAMETERIZATIONS = ("state", "state_action", "transition")

try:  # Small dense solves are ~10x slower with multi-threaded BLAS on a busy 2-core machine.
    from threadpoolctl import ThreadpoolController as _Controller

    _BLAS = _Controller()

    def _blas_context():
        return _BLAS.limit(limits=1, user_api="blas")
except ImportError:  # optional: without it the results are the same, only slower
    _blas_context = contextlib.nullcontext


def _one_blas_thread(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _blas_context():
            return fn(*args, **kwargs)
    return wrapper


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
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (f.shape[-1],):
        raise ValueError(f"theta must have shape ({f.shape[-1]},), got {theta.shape}")
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


@_one_blas_thread
def consistent_dimension(transitions, gamma: float, parameterization="state_action", rtol: float = 1e-9) -> int:
    """Dimension of the set of rewards consistent with soft-optimal behaviour in the given environments.

    transitions: (S, A, S) or (K, S, A, S). It depends only on the environments, not on the
    behaviour: S for state-action rewards in one environment (potential shaping), 1 (constant
    shifts) for two generic ones.
    """
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


@_one_blas_thread
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


def _policy_value_maps(p, feats, gamma, pi):
    """Linear maps theta -> V^π (S, d) and theta -> Q^π (S, A, d) for a deterministic π."""
    s = p.shape[0]
    p_pi = p[np.arange(s), pi]                      # (S, S)
    f_pi = feats[np.arange(s), pi]                  # (S, d)
    v_map = np.linalg.solve(np.eye(s) - gamma * p_pi, f_pi)
    q_map = feats + gamma * np.einsum("sat,td->sad", p, v_map)
    return v_map, q_map


@_one_blas_thread
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
    v_map, q_map = _policy_value_maps(p, feats, gamma, pi)
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
    v_map, _ = _policy_value_maps(p, feats, gamma, pi)
    v_unif = np.linalg.solve(np.eye(s) - gamma * p.mean(1), feats.mean(1))
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


@_one_blas_thread
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


@_one_blas_thread
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


@_one_blas_thread
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
@_one_blas_thread
def optimal_policy64(transitions, reward, gamma: float, max_iters: int = 1000) -> np.ndarray:
    """Exact optimal deterministic policy by float64 policy iteration (ties: keep the current action)."""
    p = mdp.check_transitions(transitions)
    if p.ndim != 3:
        raise ValueError(f"transitions must be one environment (S, A, S), got {p.shape}")
    s, a = p.shape[:2]
    r = mdp.check_reward(reward, s, a)
    gamma = mdp.check_gamma(gamma)
    pi = np.zeros(s, int)
    for _ in range(max_iters):
        v = np.linalg.solve(np.eye(s) - gamma * p[np.arange(s), pi], r[np.arange(s), pi])
        q = r + gamma * p @ v
        best = q.max(1)
        current = q[np.arange(s), pi]
        improve = current < best - 1e-12 * max(1.0, np.abs(best).max())
        if not improve.any():
            return pi
        pi = np.where(improve, q.argmax(1), pi)
    raise RuntimeError("policy iteration did not converge")


@_one_blas_thread
def is_optimal(transitions, reward, gamma: float, policy, tol: float = 1e-7) -> bool:
    """Whether the deterministic ``policy`` is optimal for ``reward`` (float64): no action improves
    on it by more than ``tol`` relative to max(1, |Q|) (1e-7 is HiGHS's feasibility tolerance)."""
    p = mdp.check_transitions(transitions)
    if p.ndim != 3:
        raise ValueError(f"transitions must be one environment (S, A, S), got {p.shape}")
    s, a = p.shape[:2]
    r = mdp.check_reward(reward, s, a)
    pi = _deterministic(policy, s, a)
    gamma = mdp.check_gamma(gamma)
    v = np.linalg.solve(np.eye(s) - gamma * p[np.arange(s), pi], r[np.arange(s), pi])
    q = r + gamma * p @ v
    return bool(np.all(q <= v[:, None] + tol * max(1.0, np.abs(q).max())))


# --------------------------------------------------------------------------- consequences in new environments
@jax.jit
def _normalized_regret(p, r_true, r_cand, gamma):
    _, q_cand = mdp.value_iteration_kernel(p, r_cand, gamma, jnp.float32(1e-6), 10_000)
    pi = jax.nn.one_hot(jnp.argmax(q_cand, -1), q_cand.shape[-1])
    v_star, _ = mdp.value_iteration_kernel(p, r_true, gamma, jnp.float32(1e-6), 10_000)
    a = p.shape[-2]
    v_pi, _ = mdp.policy_evaluation_kernel(p, r_true, gamma, pi)
    v_unif, _ = mdp.policy_evaluation_kernel(p, r_true, gamma, jnp.full(pi.shape, 1.0 / a))
    j_star, j_pi, j_unif = v_star.mean(-1), v_pi.mean(-1), v_unif.mean(-1)
    return (j_star - j_pi) / jnp.maximum(j_star - j_unif, 1e-9)


def normalized_regret(transitions, true_reward, candidate_reward, gamma: float):
    """How much worse the candidate reward's optimal policy does on the true reward, in (..., )
    environments: (J* − J^π̂) / (J* − J^uniform), J the mean value over start states; 0 = optimal,
    1 = no better than acting at random."""
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


# --------------------------------------------------------------------------- demonstration 2
class IdentificationConfig(NamedTuple):
    """Soft-optimal demonstrations in 1..max_envs environments; the reward is recovered from them
    and judged in ``held_out`` fresh environments of the same family."""
    num_mdps: int = 32
    max_envs: int = 5
    num_states: int = 10
    num_actions: int = 3
    branching: int = 2
    gamma: float = 0.9
    temperature: float = 1.0
    changed_states: int | None = None  # None: independent environments; m: vary m states of a base
    held_out: int = 16
    parameterization: str = "state_action"

    def smoke(self) -> "IdentificationConfig":
        return self._replace(num_mdps=4, max_envs=3, held_out=4)


REGRET_FLOOR = 1e-5


class IdentificationResult(NamedTuple):
    """env_counts: (k,); dimension, regret: (num_mdps, k) for the reward recovered from the first
    K environments; regret is normalized (0 = optimal in held-out environments, 1 = random) and
    averaged over the held-out environments, each counted as 0 below ``REGRET_FLOOR``."""
    env_counts: np.ndarray
    dimension: np.ndarray
    regret: np.ndarray


@_one_blas_thread
def identification_experiment(key, config: IdentificationConfig = IdentificationConfig()) -> IdentificationResult:
    """Recover rewards from soft-optimal behaviour in K = 1..max_envs environments, for many random MDPs."""
    key = validate.prng_key("key", key)
    c = config
    n = validate.integer("num_mdps", c.num_mdps, minimum=1)
    kmax = validate.integer("max_envs", c.max_envs, minimum=1)
    s = validate.integer("num_states", c.num_states, minimum=2)
    a = validate.integer("num_actions", c.num_actions, minimum=2)
    held = validate.integer("held_out", c.held_out, minimum=1)
    gamma = mdp.check_gamma(c.gamma)
    if c.parameterization not in ("state", "state_action"):
        raise ValueError("parameterization must be 'state' or 'state_action' for this experiment")
    k_base, k_obs, k_held, k_reward = jax.random.split(key, 4)
    base = mdp.random_mdp(k_base, s, a, branching=c.branching, batch=(n,))
    obs = np.stack([environment_family(k, b, kmax, c.changed_states, c.branching)
                    for k, b in zip(jax.random.split(k_obs, n), base)])
    obs[:, 0] = base  # the first observed environment is the base itself
    held_envs = np.stack([environment_family(k, b, held, c.changed_states, c.branching)
                           for k, b in zip(jax.random.split(k_held, n), base)])
    d = num_parameters(s, a, c.parameterization)
    theta = mdp.host_rng(k_reward).normal(size=(n, d))
    feats = reward_features(np.asarray(base[0]), c.parameterization)
    true_r = np.asarray(theta, np.float64) @ feats.reshape(s * a, d).T
    true_r = true_r.reshape(n, s, a)
    _, _, pi = mdp.soft_value_iteration(obs, true_r[:, None], gamma, c.temperature)
    obs64, pi64 = np.asarray(obs, np.float64), np.asarray(pi, np.float64)
    dims = np.zeros((n, kmax), int)
    recovered = np.zeros((kmax, n, s, a))
    for i in range(n):
        for k in range(1, kmax + 1):
            rec = recover_reward(obs64[i, :k], pi64[i, :k], gamma, c.temperature, c.parameterization)
            dims[i, k - 1] = rec.null_basis.shape[1]
            recovered[k - 1, i] = (feats.reshape(s * a, d) @ rec.theta).reshape(s, a)
    per_env = np.stack([np.asarray(normalized_regret(held_envs, true_r[:, None], recovered[k][:, None], gamma))
                        for k in range(kmax)], axis=1)
    # Regret is >= 0 exactly; float32 solves leave noise of ~1e-7, which would make printed
    # results machine-dependent, so values below REGRET_FLOOR count as 0.
    regret = np.where(per_env < REGRET_FLOOR, 0.0, per_env).mean(-1)
    return IdentificationResult(np.arange(1, kmax + 1), dims, regret)


# --------------------------------------------------------------------------- demonstration 3
class SelectionConfig(NamedTuple):
    """Optimal demonstrations; after a first environment the learner picks ``steps`` more from a
    menu of ``menu_size`` candidates, and the feasible set of state rewards is measured."""
    num_trials: int = 20
    num_states: int = 6
    num_actions: int = 3
    menu_size: int = 24
    steps: int = 5
    gamma: float = 0.9
    branching: int = 2
    committee_mix: float = 0.2

    def smoke(self) -> "SelectionConfig":
        return self._replace(num_trials=3, steps=2, menu_size=8)


@jax.jit
def _committee_disagreement(menu, rewards, gamma):
    """Σ_s (1 − largest share of committee votes for one action), per menu environment: (M,)."""
    r = jnp.repeat(rewards[:, None, :, None], menu.shape[-2], axis=-1)     # (C, 1, S, A)
    _, q = mdp.value_iteration_kernel(menu[None], r, gamma, jnp.float32(1e-5), 10_000)
    votes = jax.nn.one_hot(jnp.argmax(q, -1), q.shape[-1]).mean(0)    # (M, S, A)
    return (1.0 - votes.max(-1)).sum(-1)


@_one_blas_thread
def select_environments(key, true_reward, first, menu, gamma: float, steps: int, strategy: str = "greedy",
                        committee_mix: float = 0.2):
    """Observe the optimal policy of ``true_reward`` (S,) in ``first`` (S, A, S), then in ``steps``
    environments chosen from ``menu`` (M, S, A, S); returns (chosen (steps,), sizes (steps + 1,)).

    "random" picks uniformly among unused candidates; "greedy" picks the candidate on which a
    committee of rewards from the current feasible set (its LP vertices, pulled ``committee_mix``
    of the way to their mean) disagree most about what to do. Neither looks at the true reward.
    Sizes are the mean per-coordinate widths of the normalized feasible set (``feasible_set``).
    """
    key = validate.prng_key("key", key)
    validate.choice("strategy", strategy, {"greedy", "random"})
    menu = mdp.check_transitions(menu, "menu")
    first = mdp.check_transitions(first, "first")
    if menu.ndim != 4 or first.shape != menu.shape[1:]:
        raise ValueError(f"menu must be (M, S, A, S) and first (S, A, S) with the same S, A; got {menu.shape}, {first.shape}")
    steps = validate.integer("steps", steps, minimum=0, maximum=menu.shape[0])
    gamma = mdp.check_gamma(gamma)
    committee_mix = validate.real("committee_mix", committee_mix, low=0.0, high=1.0)
    r = mdp.check_reward(true_reward, menu.shape[1], menu.shape[2], "true_reward")
    if not np.allclose(r, r[:, :1]):
        raise ValueError("true_reward must be a state reward (S,) for this experiment")
    fs = feasible_set(first, optimal_policy64(first, r, gamma), gamma, "state")
    widths = coordinate_widths(fs)
    sizes, chosen = [widths.size], []
    used = np.zeros(menu.shape[0], bool)
    menu32 = jnp.asarray(menu, jnp.float32)
    for _ in range(steps):
        key, k_pick = jax.random.split(key)
        noise = mdp.host_rng(k_pick).random(menu.shape[0])
        if strategy == "random":
            score = noise
        else:
            pts = widths.points
            committee = (1 - committee_mix) * pts + committee_mix * pts.mean(0)
            score = np.asarray(_committee_disagreement(menu32, jnp.asarray(committee, jnp.float32),
                                                       jnp.float32(gamma))) + 1e-3 * noise
        score = np.where(used, -np.inf, score)
        m = int(np.argmax(score))
        used[m] = True
        chosen.append(m)
        fs = add_environment(fs, menu[m], optimal_policy64(menu[m], r, gamma), gamma, "state")
        widths = coordinate_widths(fs)
        sizes.append(widths.size)
    return np.array(chosen), np.array(sizes)


def selection_experiment(key, config: SelectionConfig = SelectionConfig()):
    """Greedy against random environment selection over ``num_trials`` random problems.

    Returns sizes: dict strategy -> (num_trials, steps + 1), each row divided by its size after
    the first environment (the same for both strategies).
    """
    key = validate.prng_key("key", key)
    c = config
    n = validate.integer("num_trials", c.num_trials, minimum=1)
    s = validate.integer("num_states", c.num_states, minimum=2)
    a = validate.integer("num_actions", c.num_actions, minimum=2)
    msize = validate.integer("menu_size", c.menu_size, minimum=1)
    out = {"greedy": [], "random": []}
    for k in jax.random.split(key, n):
        k_env, k_menu, k_r, k_sel = jax.random.split(k, 4)
        first = np.asarray(mdp.random_mdp(k_env, s, a, branching=c.branching))
        menu = np.asarray(mdp.random_mdp(k_menu, s, a, branching=c.branching, batch=(msize,)))
        theta = mdp.host_rng(k_r).normal(size=s)
        for strategy in out:
            _, sizes = select_environments(k_sel, theta, first, menu, c.gamma, c.steps, strategy, c.committee_mix)
            out[strategy].append(sizes / sizes[0])
    return {k: np.array(v) for k, v in out.items()}


# --------------------------------------------------------------------------- demonstration 1 and the Chapter 2 model
def corner_room(size: int = 5, goal=None) -> mdp.Grid:
    """An open ``size`` x ``size`` room whose goal cell is terminal; the goal defaults to the
    top-right corner (0, size − 1), where it sits in every training level of Chapter 2 at α = 0."""
    size = validate.integer("size", size, minimum=2)
    goal = (0, size - 1) if goal is None else tuple(int(x) for x in goal)
    return mdp.gridworld(size, size, terminals=[goal])


def goal_and_corner_rewards(grid: mdp.Grid, corner=None):
    """The two objectives of Chapter 2 as state rewards (S,): "goal" pays 1 for reaching the goal,
    wherever it is (the ``success`` state); "corner" pays 1 per step in the top-right corner cell."""
    corner = (0, grid.width - 1) if corner is None else tuple(corner)
    s = grid.transitions.shape[0]
    goal_r, corner_r = np.zeros(s), np.zeros(s)
    goal_r[grid.success] = 1.0
    corner_r[grid.cells[corner]] = 1.0
    return goal_r, corner_r


def shaped(reward, transitions, potential, gamma: float) -> np.ndarray:
    """Potential-based shaping written as a state-action table for given dynamics (S, A):
    R'(s, a) = R(s, a) + γ Σ_s' P(s'|s, a) Φ(s') − Φ(s) (Ng, Harada & Russell 1999)."""
    p = mdp.check_transitions(transitions)
    if p.ndim != 3:
        raise ValueError(f"transitions must be one environment (S, A, S), got {p.shape}")
    s, a = p.shape[:2]
    r = mdp.check_reward(reward, s, a)
    phi = np.asarray(potential, dtype=np.float64)
    if phi.shape != (s,) or not np.all(np.isfinite(phi)):
        raise ValueError(f"potential must be finite with shape ({s},), got {phi.shape}")
    gamma = mdp.check_gamma(gamma)
    return r + gamma * p @ phi - phi[:, None]


def explaining_rewards(train: mdp.Grid, gamma: float, shaping_scale: float = 0.5, l1: float = 0.05) -> dict:
    """Very different rewards (name -> (S, A)) under which the goal-seeking policy of ``train`` is optimal.

    "goal" (the truth), "corner" (a proxy that coincides with it in training), "zero" (every
    policy is optimal), "shaped goal" (the truth plus potential shaping Φ = −scale·distance to
    the corner, stored as a state-action table for the training dynamics) and "LP" (Ng & Russell's
    max-margin state reward with an L1 penalty).
    """
    gamma = mdp.check_gamma(gamma)
    goal_r, corner_r = goal_and_corner_rewards(train)
    p = train.transitions
    corner = np.array([0, train.width - 1])
    phi = np.where(train.coords[:, 0] >= 0, -shaping_scale * np.abs(train.coords - corner).sum(1), 0.0)
    pi = optimal_policy64(p, goal_r, gamma)
    lp = max_margin_reward(p, pi, gamma, "state", l1=l1)
    s, a = p.shape[:2]
    rep = lambda r: np.repeat(np.asarray(r, np.float64)[:, None], a, axis=1)
    return {"goal": rep(goal_r), "corner": rep(corner_r), "zero": np.zeros((s, a)),
            "shaped goal": shaped(goal_r, p, phi, gamma), "LP": rep(lp)}


def behaviour_table(grid: mdp.Grid, rewards: dict, gamma: float, horizon: int = 30, corner=None):
    """Where each reward's optimal agent goes in ``grid``, over all start cells (a DataFrame).

    Columns: reward; reaches goal, visits corner (shares of start cells from which the optimal
    policy, ties to the lowest action index, reaches the goal / steps into the top-right corner
    within ``horizon`` steps); all actions optimal (share of cells where the reward expresses
    no preference at all).
    """
    import pandas as pd

    gamma = mdp.check_gamma(gamma)
    horizon = validate.integer("horizon", horizon, minimum=1)
    corner = grid.cells[(0, grid.width - 1) if corner is None else tuple(corner)]
    p = grid.transitions
    starts = [i for (rc, i) in grid.cells.items() if p[i, 0, grid.success] < 1]
    rows = []
    for name, r in rewards.items():
        pi, q = _optimal_policy_and_q(p, r, gamma)
        ties = np.all(q >= q.max(1, keepdims=True) - 1e-9 * max(1.0, np.abs(q).max()), axis=1)
        reached = visited = 0
        for s0 in starts:
            path = mdp.rollout_states(p, pi, s0, horizon)
            reached += grid.success in path
            visited += corner in path[1:]
        rows.append({"reward": name, "reaches goal": reached / len(starts), "visits corner": visited / len(starts),
                     "all actions optimal": float(ties[list(grid.cells.values())].mean())})
    return pd.DataFrame(rows)


def _optimal_policy_and_q(p, r, gamma):
    r = mdp.check_reward(r, p.shape[0], p.shape[1])
    pi = optimal_policy64(p, r, gamma)
    s = p.shape[0]
    v = np.linalg.solve(np.eye(s) - gamma * p[np.arange(s), pi], r[np.arange(s), pi])
    return pi, r + gamma * p @ v


def reward_maps(grid: mdp.Grid, rewards: dict, policy=None):
    """Long table (reward, row, column, value) for charting rewards on the grid. value is
    R(s, policy(s)), the reward for the demonstrated action (the mean over actions if ``policy`` is
    None); the column "goal ✓" holds the reward of the ``success`` state, i.e. for reaching the goal."""
    import pandas as pd

    s = grid.transitions.shape[0]
    pi = None if policy is None else _deterministic(policy, s, grid.transitions.shape[1])
    rows = []
    for name, r in rewards.items():
        r = mdp.check_reward(r, s, grid.transitions.shape[1], name)
        value = r.mean(1) if pi is None else r[np.arange(s), pi]
        for (row, col), i in grid.cells.items():
            rows.append({"reward": name, "row": row, "column": str(col), "value": float(value[i])})
        rows.append({"reward": name, "row": 0, "column": "goal ✓", "value": float(value[grid.success])})
    return pd.DataFrame(rows)


def corner_test_informativeness(size: int = 5, gamma: float = 0.95, horizon: int = 30):
    """Chapter 2 in a table: which deployment tests tell the corner-walker from a goal-seeker?

    The α = 0 agent is modelled as goal-blind: in every level it takes the actions that are
    optimal in the training room (goal in the top-right corner; ties to the lowest action index),
    and its episode ends if it steps on the goal. For every level (goal cell ≠ corner) and start
    cell, the test is informative if some action it takes before reaching the goal (within
    ``horizon`` steps) is not optimal for the "goal" reward of that level. Returns a float array
    (size, size, size, size) indexed [goal_row, goal_col, start_row, start_col], 1 = informative,
    NaN where undefined (goal = start, or goal = corner, where the two objectives coincide).
    """
    size = validate.integer("size", size, minimum=2)
    gamma = mdp.check_gamma(gamma)
    horizon = validate.integer("horizon", horizon, minimum=1)
    out = np.full((size, size, size, size), np.nan)
    corner = (0, size - 1)
    train = corner_room(size)
    walker, _ = _optimal_policy_and_q(train.transitions, goal_and_corner_rewards(train)[0], gamma)
    for g in [(r, c) for r in range(size) for c in range(size) if (r, c) != corner]:
        level = corner_room(size, g)
        goal_r, _ = goal_and_corner_rewards(level)
        _, q_goal = _optimal_policy_and_q(level.transitions, goal_r, gamma)
        ok = q_goal >= q_goal.max(1, keepdims=True) - 1e-9
        # the walker's action in each cell of the level is its training action in that cell
        pi = np.zeros(level.transitions.shape[0], int)
        for rc, i in level.cells.items():
            pi[i] = walker[train.cells[rc]]
        for (r0, c0), s0 in level.cells.items():
            if (r0, c0) == g:
                continue
            path = mdp.rollout_states(level.transitions, pi, s0, horizon)
            before_goal = [s for s in path[:-1] if level.coords[s, 0] >= 0 and s != level.cells[g]]
            out[g + (r0, c0)] = float(any(not ok[s, pi[s]] for s in before_goal))
    return out


def informativeness_by_goal(informative) -> tuple:
    """From ``corner_test_informativeness``: (p, per_goal) with p the share of informative
    (level, start) tests and per_goal (size, size) the share for each goal cell (NaN at the corner)."""
    inf = np.asarray(informative, dtype=np.float64)
    if inf.ndim != 4 or inf.shape[:2] != inf.shape[2:]:
        raise ValueError(f"informative must be (size, size, size, size), got {inf.shape}")
    counts = np.isfinite(inf).sum(axis=(2, 3))
    totals = np.nansum(inf, axis=(2, 3))
    per_goal = np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)
    return float(np.nansum(inf) / np.isfinite(inf).sum()), per_goal


# --------------------------------------------------------------------------- summaries for charts
def summarize_identification(results: dict):
    """DataFrame (family, environments, dimension, regret, low, high) from label -> IdentificationResult;
    regret is the mean over MDPs with a 95% bootstrap interval."""
    import pandas as pd

    from mesalib import stats

    rows = []
    for label, res in results.items():
        for j, k in enumerate(res.env_counts):
            ci = stats.mean_ci(res.regret[:, j])
            rows.append({"family": label, "environments": int(k), "dimension": float(res.dimension[:, j].mean()),
                         "regret": float(ci.mean), "low": float(ci.low), "high": float(ci.high),
                         "MDPs": int(res.regret.shape[0])})
    return pd.DataFrame(rows)


def summarize_selection(sizes: dict):
    """DataFrame (strategy, environments chosen, size, low, high) from strategy -> (trials, steps + 1)."""
    import pandas as pd

    from mesalib import stats

    rows = []
    for strategy, arr in sizes.items():
        for j in range(arr.shape[1]):
            ci = stats.mean_ci(arr[:, j])
            rows.append({"strategy": strategy, "environments chosen": j, "size": float(ci.mean),
                         "low": float(ci.low), "high": float(ci.high)})
    return pd.DataFrame(rows)
