"""Tabular Markov decision processes as arrays: value iteration, soft value iteration, policy
evaluation and policy iteration.

An environment is its transition array ``P[s, a, s'] = Pr(s' | s, a)`` of shape (S, A, S); a
reward is an array over state-action pairs ``R[s, a]`` of shape (S, A) (a state-only reward
``R[s]`` of shape (S,) is accepted and means the same reward for every action). Values are
discounted sums with discount ``gamma`` in [0, 1).

Three kinds of solver:

* JAX, float32, on the accelerator: :func:`value_iteration`, :func:`soft_value_iteration` and
  :func:`policy_evaluation` check their inputs on the host and call the module-level jitted
  kernels :func:`value_iteration_kernel`, :func:`soft_value_iteration_kernel` and
  :func:`policy_evaluation_kernel` (unchecked, for use inside other jitted code). They broadcast
  over leading batch axes, so ``P: (n, S, A, S)`` with ``R: (n, S, A)`` solves n MDPs in one call.
* NumPy, float64, on the host, for one environment: :func:`policy_evaluation64` and
  :func:`policy_iteration64`, exact up to float64 rounding (the linear programs of
  :mod:`mesalib.irl` need that precision).
* NumPy, float64, for deterministic dynamics given as successor tables (:func:`successors`):
  :func:`deterministic_value_iteration64`, batched, in time linear in the table's size.
"""
from __future__ import annotations

import contextlib
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import validate

#: Grid actions, in the order of the action axis.
ACTIONS = ("up", "right", "down", "left")
_MOVES = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])


# --------------------------------------------------------------------------- boundary checks
def check_transitions(transitions, name: str = "transitions", atol: float = 1e-5) -> np.ndarray:
    """Return ``transitions`` as float64 NumPy if it is a (..., S, A, S) array of distributions.

    Rows within ``atol`` of summing to 1 are renormalized exactly, so float32 input is accepted.
    """
    p = validate.array(name, transitions, allow_nan=True, allow_empty=True).astype(np.float64)
    if p.ndim < 3 or p.shape[-1] != p.shape[-3] or p.shape[-1] < 1 or p.shape[-2] < 1:
        raise ValueError(f"{name} must have shape (..., S, A, S) with P[s, a, s'] = Pr(s' | s, a); "
                         f"got shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < -atol:
        raise ValueError(f"{name} must contain finite, non-negative probabilities")
    worst = np.abs(p.sum(-1) - 1.0).max()
    if worst > atol:
        raise ValueError(f"{name} must be row-stochastic (each P[s, a, :] sums to 1); "
                         f"a row is off by {worst:.3g}")
    p = np.clip(p, 0.0, None)
    return p / p.sum(-1, keepdims=True)  # exact in float64 (float32 inputs are off by ~1e-7)


def check_gamma(gamma, name: str = "gamma") -> float:
    """The discount must lie in [0, 1) for the values to be finite."""
    return validate.real(name, gamma, low=0.0, high=1.0, high_open=True)


def check_reward(reward, num_states: int, num_actions: int, name: str = "reward", dtype=None) -> np.ndarray:
    """Return the reward as (..., S, A) float64; a (..., S) state-only reward is repeated over actions.

    A reward whose last axis is ambiguous (S == A) is read as (S, A) when it has two or more axes
    matching (S, A) at the end, else as state-only.
    """
    r = validate.array(name, reward, allow_empty=True, dtype=dtype).astype(np.float64)
    if r.ndim >= 2 and r.shape[-2:] == (num_states, num_actions):
        return r
    if r.ndim >= 1 and r.shape[-1] == num_states:
        return np.repeat(r[..., None], num_actions, axis=-1)
    raise ValueError(f"{name} must have shape (S,) = ({num_states},) or (S, A) = ({num_states}, {num_actions}) "
                     f"(optionally with leading batch axes); got {r.shape}")


def check_policy(policy, num_states: int, num_actions: int, name: str = "policy") -> np.ndarray:
    """Return a policy as (..., S, A) action probabilities; integer (..., S) arrays are deterministic."""
    arr = np.asarray(policy)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.ndim < 1 or arr.shape[-1] != num_states:
            raise ValueError(f"{name} (deterministic) must have shape (..., S) = (..., {num_states}); got {arr.shape}")
        if arr.min() < 0 or arr.max() >= num_actions:
            raise ValueError(f"{name} actions must lie in [0, {num_actions - 1}]")
        return np.eye(num_actions)[arr]
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-2:] != (num_states, num_actions):
        raise ValueError(f"{name} must be integer actions (..., S) or probabilities (..., S, A) = "
                         f"(..., {num_states}, {num_actions}); got {arr.shape}")
    validate.probabilities(name, arr)
    if np.abs(arr.sum(-1) - 1).max() > 1e-5:
        raise ValueError(f"{name} rows must sum to 1")
    return arr


def check_problem(transitions, reward, gamma):
    """Check an MDP problem: returns (P (..., S, A, S), R (..., S, A), gamma), float64 NumPy.

    The batch axes of ``transitions`` and ``reward`` must broadcast together.
    """
    p = check_transitions(transitions)
    s, a = p.shape[-3], p.shape[-2]
    r = check_reward(reward, s, a, dtype=np.float32)   # the solvers run in float32
    try:
        np.broadcast_shapes(p.shape[:-3], r.shape[:-2])
    except ValueError:
        raise ValueError(f"batch axes of transitions {p.shape[:-3]} and reward {r.shape[:-2]} do not broadcast") from None
    return p, r, check_gamma(gamma)


def _float32(p, r, gamma):
    return jnp.asarray(p, jnp.float32), jnp.asarray(r, jnp.float32), gamma


# --------------------------------------------------------------------------- solvers
def _backup(p, r, v, gamma):
    return r + gamma * jnp.einsum("...sat,...t->...sa", p, v)


@jax.jit
def value_iteration_kernel(p, r, gamma, tol, max_iters):
    """Jitted value iteration without input checks: p (..., S, A, S), r (..., S, A) float32, gamma,
    tol, max_iters scalars (traced, so new values do not recompile). Returns (V, Q). Use
    :func:`value_iteration` unless calling from inside other jitted code."""
    shape = jnp.broadcast_shapes(p.shape[:-2], r.shape[:-1])

    def cond(c):
        _, delta, i = c
        return (delta > tol) & (i < max_iters)

    def body(c):
        v, _, i = c
        v_new = _backup(p, r, v, gamma).max(-1)
        scale = jnp.maximum(1.0, jnp.abs(v_new).max())
        # ||V_{k+1} - V_k|| <= e (1 - gamma) / gamma bounds the error of V_{k+1} by e.
        delta = jnp.abs(v_new - v).max() * gamma / ((1 - gamma) * scale)
        return v_new, delta, i + 1

    v, _, _ = jax.lax.while_loop(cond, body, (jnp.zeros(shape), jnp.inf, 0))
    q = _backup(p, r, v, gamma)
    return q.max(-1), q


@jax.jit
def soft_value_iteration_kernel(p, r, gamma, temperature, tol, max_iters):
    """Jitted soft value iteration without input checks (see :func:`soft_value_iteration`):
    returns (V, Q, policy)."""
    shape = jnp.broadcast_shapes(p.shape[:-2], r.shape[:-1])

    def soft_max(q):
        return temperature * jax.nn.logsumexp(q / temperature, axis=-1)

    def cond(c):
        _, delta, i = c
        return (delta > tol) & (i < max_iters)

    def body(c):
        v, _, i = c
        v_new = soft_max(_backup(p, r, v, gamma))
        scale = jnp.maximum(1.0, jnp.abs(v_new).max())
        delta = jnp.abs(v_new - v).max() * gamma / ((1 - gamma) * scale)
        return v_new, delta, i + 1

    v, _, _ = jax.lax.while_loop(cond, body, (jnp.zeros(shape), jnp.inf, 0))
    q = _backup(p, r, v, gamma)
    v = soft_max(q)
    return v, q, jax.nn.softmax(q / temperature, axis=-1)


def value_iteration(transitions, reward, gamma: float, tol: float = 1e-6, max_iters: int = 10_000):
    """Optimal values by value iteration: returns (V: (..., S), Q: (..., S, A)), float32.

    Iterates the Bellman optimality backup until the value error is below ``tol`` relative to
    max(1, |V|) (or ``max_iters``); transitions (..., S, A, S), reward (..., S, A) or (..., S).
    """
    p, r, gamma = _float32(*check_problem(transitions, reward, gamma))
    tol = validate.real("tol", tol, low=0.0, low_open=True)
    max_iters = validate.integer("max_iters", max_iters, minimum=1)
    return value_iteration_kernel(p, r, jnp.float32(gamma), jnp.float32(tol), max_iters)


def soft_value_iteration(transitions, reward, gamma: float, temperature: float = 1.0, tol: float = 1e-6,
                         max_iters: int = 10_000):
    """Maximum-entropy (soft) values: V(s) = τ log Σ_a exp(Q(s, a)/τ), Q = R + γ P V.

    Returns (V: (..., S), Q: (..., S, A), policy: (..., S, A)) with policy(a|s) = exp((Q - V)/τ),
    the Boltzmann-rational behaviour the identification results assume (τ = ``temperature``).
    """
    p, r, gamma = _float32(*check_problem(transitions, reward, gamma))
    temperature = validate.real("temperature", temperature, low=0.0, low_open=True, dtype=np.float32)
    tol = validate.real("tol", tol, low=0.0, low_open=True)
    max_iters = validate.integer("max_iters", max_iters, minimum=1)
    return soft_value_iteration_kernel(p, r, jnp.float32(gamma), jnp.float32(temperature), jnp.float32(tol), max_iters)


@jax.jit
def policy_evaluation_kernel(p, r, gamma, pi):
    """Jitted exact policy evaluation without input checks: p (..., S, A, S), r (..., S, A),
    pi (..., S, A) action probabilities, batch axes equal. Returns (V, Q)."""
    s = p.shape[-1]
    p_pi = jnp.einsum("...sa,...sat->...st", pi, p)
    r_pi = jnp.einsum("...sa,...sa->...s", pi, r)
    v = jnp.linalg.solve(jnp.eye(s) - gamma * p_pi, r_pi[..., None])[..., 0]
    return v, _backup(p, r, v, gamma)


def policy_evaluation(transitions, reward, gamma: float, policy):
    """Exact values of a fixed policy, V = (I - γ P_π)⁻¹ R_π: returns (V: (..., S), Q: (..., S, A)).

    policy: integer actions (..., S) or action probabilities (..., S, A).
    """
    p, r, gamma = _float32(*check_problem(transitions, reward, gamma))
    pi = check_policy(policy, p.shape[-3], p.shape[-2])
    shape = np.broadcast_shapes(p.shape[:-2], r.shape[:-1], pi.shape[:-1])
    p = jnp.broadcast_to(p, shape[:-1] + p.shape[-3:])
    r = jnp.broadcast_to(r, shape + r.shape[-1:])
    pi = jnp.broadcast_to(jnp.asarray(pi, jnp.float32), shape + pi.shape[-1:])
    return policy_evaluation_kernel(p, r, jnp.float32(gamma), pi)


def greedy_policy(q):
    """Deterministic policy (..., S) choosing the first action of largest Q (ties: lowest index)."""
    if validate.concrete(q):
        validate.array("q", q, min_ndim=1)
    return jnp.argmax(jnp.asarray(q), axis=-1)


def optimal_action_mask(q, tol: float = 1e-4):
    """Boolean (..., S, A): the actions whose Q is within ``tol`` (relative to max(1, |Q|)) of the best."""
    if validate.concrete(q):
        validate.array("q", q, min_ndim=2)
    if validate.concrete(tol):
        validate.real("tol", tol, low=0.0)
    q = jnp.asarray(q)
    best = q.max(-1, keepdims=True)
    scale = jnp.maximum(1.0, jnp.abs(q).max(axis=(-1, -2), keepdims=True))
    return q >= best - tol * scale


# --------------------------------------------------------------------------- float64 kernels on the host
try:  # Small dense solves are ~10x slower with multi-threaded BLAS on a busy 2-core machine.
    from threadpoolctl import ThreadpoolController as _Controller

    _BLAS = _Controller()

    def _blas_context():
        return _BLAS.limit(limits=1, user_api="blas")
except ImportError:  # optional: without it the results are the same, only slower
    _blas_context = contextlib.nullcontext


def single_blas_thread(fn):
    """Decorator: run ``fn`` with one BLAS thread (results are the same; many small dense float64
    solves are much faster without threading overhead)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _blas_context():
            return fn(*args, **kwargs)
    return wrapper


def _one_environment(transitions, name: str = "transitions") -> np.ndarray:
    p = check_transitions(transitions, name)
    if p.ndim != 3:
        raise ValueError(f"{name} must be one environment of shape (S, A, S), got {p.shape}")
    return p


def _reward_columns(reward, s: int, a: int) -> np.ndarray:
    """(S,) and (S, A) rewards as (S, A); a (S, A, d) array is d rewards side by side."""
    r = np.asarray(reward, dtype=np.float64)
    if r.ndim == 3 and r.shape[:2] == (s, a):
        if not np.all(np.isfinite(r)):
            raise ValueError("reward must be finite")
        return r
    if r.ndim > 2:
        raise ValueError(f"reward must have shape (S,), (S, A) or (S, A, d) with (S, A) = ({s}, {a}); got {r.shape}")
    return check_reward(r, s, a)


@single_blas_thread
def policy_evaluation64(transitions, reward, gamma: float, policy):
    """Exact values of a fixed policy in float64 on the host: V = (I − γ P_π)⁻¹ R_π, Q = R + γ P V.

    transitions: one environment (S, A, S); reward: (S,), (S, A), or (S, A, d) for d rewards side
    by side (with reward features φ(s, a) ∈ R^d this gives the linear maps θ ↦ V^π (S, d) and
    θ ↦ Q^π (S, A, d)); policy: integer actions (S,) or action probabilities (S, A).
    Returns (V: (S,) or (S, d), Q: (S, A) or (S, A, d)).
    """
    p = _one_environment(transitions)
    s, a = p.shape[:2]
    r = _reward_columns(reward, s, a)
    gamma = check_gamma(gamma)
    policy = np.asarray(policy)
    deterministic = np.issubdtype(policy.dtype, np.integer)
    if policy.ndim != (1 if deterministic else 2):
        raise ValueError(f"policy must be one policy: integer actions (S,) = ({s},) or probabilities "
                         f"(S, A) = ({s}, {a}); got shape {policy.shape}")
    pi = check_policy(policy, s, a)                       # shape, range, rows summing to 1
    if deterministic:
        p_pi, r_pi = p[np.arange(s), policy], r[np.arange(s), policy]
    else:
        p_pi, r_pi = np.einsum("sa,sat->st", pi, p), np.einsum("sa,sa...->s...", pi, r)
    v = np.linalg.solve(np.eye(s) - gamma * p_pi, r_pi)
    q = r + gamma * p @ v if r.ndim == 2 else r + gamma * np.einsum("sat,td->sad", p, v)
    return v, q


class Solution64(NamedTuple):
    """An optimal deterministic policy with its values, float64: policy (S,) int, v (S,), q (S, A)."""
    policy: np.ndarray
    v: np.ndarray
    q: np.ndarray


@single_blas_thread
def policy_iteration64(transitions, reward, gamma: float, max_iters: int = 1000) -> Solution64:
    """An optimal deterministic policy, its values V and Q, by float64 policy iteration on the host.

    Starts from action 0 in every state; each round evaluates the policy exactly and, in every
    state where some action beats the current one by more than 1e-12·max(1, |Q|), switches to
    the action of largest computed Q (the lowest index among exact ties; actions tied in exact
    arithmetic can differ by rounding). Ties are therefore broken toward the current action,
    i.e. the first improving action the iteration found: among equally good actions the result
    is not necessarily the one of lowest index. Raises RuntimeError after ``max_iters`` rounds.
    """
    p = _one_environment(transitions)
    s, a = p.shape[:2]
    r = check_reward(reward, s, a)
    if r.ndim != 2:
        raise ValueError(f"reward must be one reward (S,) or (S, A) = ({s}, {a}), got {np.shape(reward)}")
    gamma = check_gamma(gamma)
    max_iters = validate.integer("max_iters", max_iters, minimum=1)
    pi = np.zeros(s, int)
    states = np.arange(s)
    for _ in range(max_iters):
        v = np.linalg.solve(np.eye(s) - gamma * p[states, pi], r[states, pi])
        q = r + gamma * p @ v
        best = q.max(1)
        improve = q[states, pi] < best - 1e-12 * max(1.0, np.abs(best).max())
        if not improve.any():
            return Solution64(pi, v, q)
        pi = np.where(improve, q.argmax(1), pi)
    raise RuntimeError(f"policy iteration did not converge in max_iters = {max_iters} rounds")


def successors(transitions, name: str = "transitions") -> np.ndarray:
    """The next state of every (s, a) of deterministic dynamics: (..., S, A) int.

    Raises ValueError unless every P[s, a, :] puts all its probability on one state.
    """
    p = check_transitions(transitions, name)
    nxt = p.argmax(-1)
    if not np.all(np.take_along_axis(p, nxt[..., None], -1) == 1.0):
        raise ValueError(f"{name} must be deterministic (every P[s, a, :] one-hot) to have successors")
    return nxt


def deterministic_value_iteration64(successor_table, reward, gamma: float, tol: float = 1e-12,
                                    max_iters: int = 100_000):
    """Optimal values of deterministic MDPs, Q(s, a) = R(s, a) + γ V(next(s, a)), float64 on the host.

    successor_table: (..., S, A) integer next states (:func:`successors`); reward (..., S, A) or
    (..., S), broadcasting with it. Each sweep costs O(size of the table), so many MDPs can be
    solved at once. Stops when the value error is below ``tol`` relative to max(1, |V|) (an exact
    fixed point stops it at once). Returns (V: (..., S), Q: (..., S, A)).
    """
    nxt = np.asarray(successor_table)
    if nxt.ndim < 2 or not np.issubdtype(nxt.dtype, np.integer):
        raise ValueError(f"successor_table must be integer next states of shape (..., S, A); got "
                         f"{nxt.dtype} {nxt.shape}")
    s, a = nxt.shape[-2:]
    if nxt.min() < 0 or nxt.max() >= s:
        raise ValueError(f"successor_table entries must be states in [0, {s - 1}]")
    r = check_reward(reward, s, a, dtype=np.float32)   # the solvers run in float32
    try:
        shape = np.broadcast_shapes(nxt.shape, r.shape)
    except ValueError:
        raise ValueError(f"batch axes of successor_table {nxt.shape[:-2]} and reward {r.shape[:-2]} "
                         "do not broadcast") from None
    gamma = check_gamma(gamma)
    tol = validate.real("tol", tol, low=0.0, low_open=True)
    max_iters = validate.integer("max_iters", max_iters, minimum=1)
    batch = int(np.prod(shape[:-2]))
    # one flat value vector for all MDPs; column j of the table as indices into it
    offsets = (np.arange(batch) * s)[:, None]
    nxt = np.broadcast_to(nxt, shape).reshape(batch, s, a)
    cols = [nxt[:, :, j] + offsets for j in range(a)]
    r = np.broadcast_to(r, shape).reshape(batch, s, a)
    r_cols = [np.ascontiguousarray(r[:, :, j]) for j in range(a)]
    v = np.zeros((batch, s))
    for _ in range(max_iters):
        v_new = r_cols[0] + gamma * v.ravel()[cols[0]]
        for j in range(1, a):
            np.maximum(v_new, r_cols[j] + gamma * v.ravel()[cols[j]], out=v_new)
        # as in value_iteration: ||V_{k+1} - V_k|| <= e (1 - gamma) / gamma bounds the error of V_{k+1} by e
        delta = np.abs(v_new - v).max() * gamma / ((1 - gamma) * max(1.0, np.abs(v_new).max()))
        v = v_new
        if delta <= tol:
            break
    q = np.stack([r_cols[j] + gamma * v.ravel()[cols[j]] for j in range(a)], axis=-1).reshape(shape)
    return v.reshape(shape[:-1]), q


# --------------------------------------------------------------------------- environments
def host_rng(key) -> np.random.Generator:
    """A NumPy generator determined by a JAX key, for sampling on the host.

    Tabular problems are built on the host (they feed float64 linear programs); drawing them with
    NumPy avoids compiling JAX's random-number kernels for every new shape (seconds each on a
    small CPU), while results stay a pure function of the key.
    """
    key = validate.prng_key("key", key)
    data = np.asarray(jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key)
    return np.random.default_rng([int(x) for x in data.ravel()])


def random_mdp(key, num_states: int, num_actions: int, branching: int | None = None, batch: tuple = ()):
    """Random transitions (*batch, S, A, S), float64: each P[s, a] is uniform on the probability
    simplex (Dirichlet(1, ..., 1)) over ``branching`` next states drawn without replacement (all S if None)."""
    rng = host_rng(key)
    s = validate.integer("num_states", num_states, minimum=1)
    a = validate.integer("num_actions", num_actions, minimum=1)
    b = s if branching is None else validate.integer("branching", branching, minimum=1, maximum=s)
    batch = tuple(validate.integer("batch", n, minimum=1) for n in batch)
    shape = batch + (s, a)
    weights = rng.dirichlet(np.ones(b), size=shape)
    if b == s:  # the distribution is exchangeable, so no support to draw
        return weights
    support = np.argsort(rng.random(shape + (s,)), axis=-1)[..., :b]
    out = np.zeros(shape + (s,))
    np.put_along_axis(out, support, weights, axis=-1)
    return out


class Grid(NamedTuple):
    """A gridworld as a tabular MDP.

    transitions: (S, A, S) over the four moves of ``ACTIONS``; coords: (S, 2) (row, col) of each
    state, (-1, -1) for the extra states; cells: dict (row, col) -> state index; height, width;
    success, end: indices of the extra states (reaching a terminal cell moves to ``success``
    on the next step, then to the absorbing ``end``), or -1 when there are no terminal cells.
    """
    transitions: np.ndarray
    coords: np.ndarray
    cells: dict
    height: int
    width: int
    success: int
    end: int


def _cells(name: str, cells) -> list:
    """A collection of (row, col) integer pairs, each checked (a string or a float is rejected)."""
    if isinstance(cells, (str, bytes)) or not hasattr(cells, "__iter__"):
        raise ValueError(f"{name} must be a collection of (row, col) cells, got {cells!r}")
    out = []
    for i, c in enumerate(cells):
        if isinstance(c, (str, bytes)) or not hasattr(c, "__len__") or len(c) != 2:
            raise ValueError(f"{name} must be a collection of (row, col) cells; {name}[{i}] is {c!r}")
        out.append(tuple(validate.integer(f"{name}[{i}]", x) for x in c))
    return out


def gridworld(height: int, width: int, walls=(), terminals=(), slip: float = 0.0) -> Grid:
    """A ``height`` x ``width`` grid (row 0 at the top) with blocked ``walls`` cells and ``terminals``.

    A move into a wall or off the grid leaves the agent in place; with probability ``slip`` the
    move is replaced by a uniformly random one. From a terminal cell every action leads to a
    ``success`` state and then to an absorbing ``end`` state, so a reward on ``success`` is a
    reward for reaching a terminal, whichever cell it is.
    """
    h = validate.integer("height", height, minimum=1)
    w = validate.integer("width", width, minimum=1)
    slip = validate.real("slip", slip, low=0.0, high=1.0)
    walls = set(_cells("walls", walls))
    terminals = _cells("terminals", terminals)
    for name, group in (("walls", walls), ("terminals", terminals)):
        for r, c in group:
            if not (0 <= r < h and 0 <= c < w):
                raise ValueError(f"{name} cell {(r, c)} lies outside the {h}x{w} grid")
    if set(terminals) & walls:
        raise ValueError("terminals must not be walls")
    cells = {(r, c): None for r in range(h) for c in range(w) if (r, c) not in walls}
    if not cells:
        raise ValueError("walls must leave at least one free cell")
    for i, rc in enumerate(cells):
        cells[rc] = i
    n = len(cells) + (2 if terminals else 0)
    success, end = (len(cells), len(cells) + 1) if terminals else (-1, -1)
    p = np.zeros((n, 4, n))
    for (r, c), i in cells.items():
        if (r, c) in terminals:
            p[i, :, success] = 1.0
            continue
        for a, (dr, dc) in enumerate(_MOVES):
            target = cells.get((r + dr, c + dc), i)
            p[i, a, target] += 1.0 - slip
            for b, (er, ec) in enumerate(_MOVES):
                p[i, a, cells.get((r + er, c + ec), i)] += slip / 4
    if terminals:
        p[success, :, end] = 1.0
        p[end, :, end] = 1.0
    coords = np.full((n, 2), -1)
    for (r, c), i in cells.items():
        coords[i] = (r, c)
    return Grid(p, coords, dict(cells), h, w, success, end)


def rollout_states(transitions, policy, start: int, steps: int) -> np.ndarray:
    """The states visited from ``start`` under a deterministic policy in deterministic dynamics.

    Follows the most likely next state; returns (steps + 1,) state indices (host NumPy).
    """
    p = check_transitions(transitions)
    if p.ndim != 3:
        raise ValueError(f"transitions must be a single (S, A, S) MDP, got shape {p.shape}")
    pi = np.asarray(policy)
    if pi.shape != (p.shape[0],) or not np.issubdtype(pi.dtype, np.integer):
        raise ValueError(f"policy must be integer actions of shape ({p.shape[0]},), got {pi.shape} {pi.dtype}")
    start = validate.integer("start", start, minimum=0, maximum=p.shape[0] - 1)
    steps = validate.integer("steps", steps, minimum=0)
    out = [start]
    for _ in range(steps):
        out.append(int(np.argmax(p[out[-1], pi[out[-1]]])))
    return np.array(out)
