"""Tabular Markov decision processes as arrays, with value iteration and soft value iteration.

An environment is its transition array ``P[s, a, s'] = Pr(s' | s, a)`` of shape (S, A, S); a
reward is an array over state-action pairs ``R[s, a]`` of shape (S, A) (a state-only reward
``R[s]`` of shape (S,) is accepted and means the same reward for every action). Every solver
broadcasts over leading batch axes, so ``P: (n, S, A, S)`` with ``R: (n, S, A)`` solves n MDPs in
one compiled call. Values are discounted sums with discount ``gamma`` in [0, 1).
"""
from __future__ import annotations

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
    p = np.asarray(transitions, dtype=np.float64)
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


def check_gamma(gamma) -> float:
    """The discount must lie in [0, 1) for the values to be finite."""
    return validate.real("gamma", gamma, low=0.0, high=1.0, high_open=True)


def check_reward(reward, num_states: int, num_actions: int, name: str = "reward") -> np.ndarray:
    """Return the reward as (..., S, A) float64; a (..., S) state-only reward is repeated over actions.

    A reward whose last axis is ambiguous (S == A) is read as (S, A) when it has two or more axes
    matching (S, A) at the end, else as state-only.
    """
    r = np.asarray(reward, dtype=np.float64)
    if not np.all(np.isfinite(r)):
        raise ValueError(f"{name} must be finite")
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


def _prepare(transitions, reward, gamma):
    p = check_transitions(transitions)
    s, a = p.shape[-3], p.shape[-2]
    r = check_reward(reward, s, a)
    try:
        np.broadcast_shapes(p.shape[:-3], r.shape[:-2])
    except ValueError:
        raise ValueError(f"batch axes of transitions {p.shape[:-3]} and reward {r.shape[:-2]} do not broadcast") from None
    return jnp.asarray(p, jnp.float32), jnp.asarray(r, jnp.float32), check_gamma(gamma)


# --------------------------------------------------------------------------- solvers
def _backup(p, r, v, gamma):
    return r + gamma * jnp.einsum("...sat,...t->...sa", p, v)


@jax.jit
def _value_iteration(p, r, gamma, tol, max_iters):
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
def _soft_value_iteration(p, r, gamma, temperature, tol, max_iters):
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
    p, r, gamma = _prepare(transitions, reward, gamma)
    tol = validate.real("tol", tol, low=0.0, low_open=True)
    max_iters = validate.integer("max_iters", max_iters, minimum=1)
    return _value_iteration(p, r, jnp.float32(gamma), jnp.float32(tol), max_iters)


def soft_value_iteration(transitions, reward, gamma: float, temperature: float = 1.0, tol: float = 1e-6,
                         max_iters: int = 10_000):
    """Maximum-entropy (soft) values: V(s) = τ log Σ_a exp(Q(s, a)/τ), Q = R + γ P V.

    Returns (V: (..., S), Q: (..., S, A), policy: (..., S, A)) with policy(a|s) = exp((Q - V)/τ),
    the Boltzmann-rational behaviour the identification results assume (τ = ``temperature``).
    """
    p, r, gamma = _prepare(transitions, reward, gamma)
    temperature = validate.real("temperature", temperature, low=0.0, low_open=True)
    tol = validate.real("tol", tol, low=0.0, low_open=True)
    max_iters = validate.integer("max_iters", max_iters, minimum=1)
    return _soft_value_iteration(p, r, jnp.float32(gamma), jnp.float32(temperature), jnp.float32(tol), max_iters)


@jax.jit
def _policy_evaluation(p, r, gamma, pi):
    s = p.shape[-1]
    p_pi = jnp.einsum("...sa,...sat->...st", pi, p)
    r_pi = jnp.einsum("...sa,...sa->...s", pi, r)
    v = jnp.linalg.solve(jnp.eye(s) - gamma * p_pi, r_pi[..., None])[..., 0]
    return v, _backup(p, r, v, gamma)


def policy_evaluation(transitions, reward, gamma: float, policy):
    """Exact values of a fixed policy, V = (I - γ P_π)⁻¹ R_π: returns (V: (..., S), Q: (..., S, A)).

    policy: integer actions (..., S) or action probabilities (..., S, A).
    """
    p, r, gamma = _prepare(transitions, reward, gamma)
    pi = check_policy(policy, p.shape[-3], p.shape[-2])
    shape = np.broadcast_shapes(p.shape[:-2], r.shape[:-1], pi.shape[:-1])
    p = jnp.broadcast_to(p, shape[:-1] + p.shape[-3:])
    r = jnp.broadcast_to(r, shape + r.shape[-1:])
    pi = jnp.broadcast_to(jnp.asarray(pi, jnp.float32), shape + pi.shape[-1:])
    return _policy_evaluation(p, r, jnp.float32(gamma), pi)


def greedy_policy(q):
    """Deterministic policy (..., S) choosing the first action of largest Q (ties: lowest index)."""
    return jnp.argmax(jnp.asarray(q), axis=-1)


def optimal_action_mask(q, tol: float = 1e-4):
    """Boolean (..., S, A): the actions whose Q is within ``tol`` (relative to max(1, |Q|)) of the best."""
    q = jnp.asarray(q)
    best = q.max(-1, keepdims=True)
    scale = jnp.maximum(1.0, jnp.abs(q).max(axis=(-1, -2), keepdims=True))
    return q >= best - tol * scale


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
    walls = {tuple(int(x) for x in c) for c in walls}
    terminals = [tuple(int(x) for x in c) for c in terminals]
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
