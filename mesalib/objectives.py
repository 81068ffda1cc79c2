"""Which objective explains the behaviour? A Boltzmann-rational fit over candidate rewards.

Inverse reinforcement learning reads an objective off behaviour. The candidates here are
"walk to a target" rewards on the gridworld of :mod:`mesalib.gridworld`: +1 for entering the
target cell, which ends the task; every other cell (the real goal included, if it is not the
target) is ordinary floor. "Reach the goal" (the base objective) has the goal as target;
"reach the corner" (the proxy) has the corner. For each candidate we run ordinary value
iteration on the known, deterministic dynamics (Q* of "walk to the target") and, for each inverse
temperature ``beta >= 0``, score the observed actions with the Boltzmann-rational policy
pi(a|s) ~ exp(beta * Q*(s, a)), up to the first arrival at any candidate's target (after which the
candidates have nothing left to say). beta = 0 is the uniformly random policy; large beta is the
optimal one. (The soft, entropy-regularized values of :func:`soft_q` are not used by the fit: for
beta below ~20 their entropy bonus outweighs the +1 target reward on this grid, so a "walk to the
target" policy built on them rarely enters its target.)

A mixture candidate says that in each episode the agent pursues the goal with probability ``w``
and the corner otherwise; its likelihood is w * L_goal + (1 - w) * L_corner per episode. The
behavioural objective is the candidate (or the ``w``) of highest likelihood; its distance from
"reach the goal" is the gap between the reward trained on and the objective that behaviour
reveals (Leike et al. 2018's "reward-result gap").
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import gridworld, validate

DEFAULT_BETAS = (0.0,) + tuple(float(b) for b in np.geomspace(1.0, 1024.0, 11))   # 0 (random), 1, 2, 4, ..., 1024
DEFAULT_WEIGHTS = tuple(float(w) for w in np.round(np.linspace(0.0, 1.0, 21), 2))
# Soft value iteration runs in float32: beta * Q must stay far from overflow, and at very large
# beta the logsumexp loses Q itself (NaN from 1e10 on); at very small beta V ~ log(4) / beta.
BETA_MIN, BETA_MAX = 1e-6, 1e6
MAX_ITERS = 100_000


def _beta(name, beta):
    return validate.real(name, beta, low=BETA_MIN, high=BETA_MAX, dtype=np.float32)


def _transitions(walls):
    h, w = walls.shape
    rows, cols = jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij")
    pos = jnp.stack([rows.reshape(-1), cols.reshape(-1)], -1).astype(jnp.int32)
    nxt = jax.vmap(lambda p: jax.vmap(lambda a: gridworld.move(walls, p, a))(jnp.arange(gridworld.NUM_ACTIONS)))(pos)
    return nxt[..., 0] * w + nxt[..., 1]  # (H*W, 4) flat index of the next cell


def _soft_q(walls, target, beta, gamma, iters):
    h, width = walls.shape
    nxt = _transitions(walls)
    done = (nxt == target[0] * width + target[1]).astype(jnp.float32)  # +1 and the task ends

    def backup(_, v):
        q = done + gamma * (1.0 - done) * v[nxt]
        return jax.nn.logsumexp(beta * q, axis=1) / beta

    v = jax.lax.fori_loop(0, iters, backup, jnp.zeros(h * width, jnp.float32))
    return (done + gamma * (1.0 - done) * v[nxt]).reshape(h, width, gridworld.NUM_ACTIONS)


def soft_q(walls, target, beta: float, gamma: float = 0.95, iters: int = 100) -> jax.Array:
    """Soft (maximum-entropy) Q-values of "walk to ``target``" at inverse temperature beta: (H, W, 4).

    Not the model the fit uses: the soft value adds an entropy bonus of up to log(4) / beta per
    step, which for small beta outweighs the +1 target reward (see :func:`optimal_q`).

    Q(s, a) = [s' = target] + gamma * [s' != target] * V(s'), V(s) = logsumexp_a(beta * Q(s, a)) / beta;
    ``iters`` backups from V = 0. As beta grows, V approaches gamma ** (distance - 1).
    """
    walls_np = gridworld.check_walls(walls)
    gridworld.check_position("target", target, walls_np)
    beta = _beta("beta", beta)
    gamma = validate.real("gamma", gamma, low=0.0, high=1.0, high_open=True, dtype=np.float32)
    if np.float32(gamma) == 1:
        raise ValueError(f"gamma = {gamma!r} rounds to 1 in float32, where the values diverge; use gamma <= 0.9999999")
    iters = validate.integer("iters", iters, minimum=1, maximum=MAX_ITERS)
    q = _soft_q(jnp.asarray(walls_np), jnp.asarray(target, jnp.int32), jnp.float32(beta), gamma, iters)
    if not bool(jnp.isfinite(q).all()):
        raise ValueError(f"beta = {beta:g} with gamma = {gamma:g} overflows float32 in soft value iteration; "
                         "use a beta nearer 1 or a smaller gamma")
    return q


def _optimal_q(walls, target, gamma, iters):
    h, width = walls.shape
    nxt = _transitions(walls)
    done = (nxt == target[0] * width + target[1]).astype(jnp.float32)  # +1 and the task ends

    def backup(_, v):
        return (done + gamma * (1.0 - done) * v[nxt]).max(axis=1)

    v = jax.lax.fori_loop(0, iters, backup, jnp.zeros(h * width, jnp.float32))
    return (done + gamma * (1.0 - done) * v[nxt]).reshape(h, width, gridworld.NUM_ACTIONS)


def _check_q_args(walls, target, gamma, iters):
    walls_np = gridworld.check_walls(walls)
    gridworld.check_position("target", target, walls_np)
    gamma = validate.real("gamma", gamma, low=0.0, high=1.0, high_open=True, dtype=np.float32)
    if np.float32(gamma) == 1:
        raise ValueError(f"gamma = {gamma!r} rounds to 1 in float32, where the values diverge; use gamma <= 0.9999999")
    iters = validate.integer("iters", iters, minimum=1, maximum=MAX_ITERS)
    return walls_np, gamma, iters


def optimal_q(walls, target, gamma: float = 0.95, iters: int = 100) -> jax.Array:
    """Optimal Q-values Q* of "walk to ``target``": (H, W, 4).

    ``Q*(s, a) = [s' = target] + gamma * [s' != target] * max_a' Q*(s', a')``, ``iters`` backups from
    V = 0; once ``iters`` exceeds the longest shortest path, ``Q*(s, a) = gamma ** d(s')`` for the
    distance d(s') from the next cell s' to the target (``gamma ** 0 = 1`` when s' is the target).
    """
    walls_np, gamma, iters = _check_q_args(walls, target, gamma, iters)
    return _optimal_q(jnp.asarray(walls_np), jnp.asarray(target, jnp.int32), gamma, iters)


def boltzmann_policy(walls, target, beta: float, gamma: float = 0.95, iters: int = 100) -> jax.Array:
    """pi(a | s) proportional to exp(beta * Q*(s, a)) for "walk to target", Q* the ordinary optimal
    values of :func:`optimal_q`: (H, W, 4). beta = 0 is uniformly random; large beta is greedy."""
    walls_np, gamma, iters = _check_q_args(walls, target, gamma, iters)
    beta = validate.real("beta", beta, low=0.0, high=BETA_MAX, dtype=np.float32)
    q = _optimal_q(jnp.asarray(walls_np), jnp.asarray(target, jnp.int32), gamma, iters)
    return jax.nn.softmax(jnp.float32(beta) * q, axis=-1)


class ObjectiveFit(NamedTuple):
    """Per-episode log-likelihoods of the observed actions under every candidate and beta.

    names: candidate names (C,); betas: (B,); episode_ll: (..., L, C, B) for L episodes per
    group (leading axes are groups, e.g. (alphas, seeds)); actions: (..., L) scored actions.
    """
    names: tuple
    betas: np.ndarray
    episode_ll: np.ndarray
    actions: np.ndarray

    def _index(self, name, candidate) -> int:
        validate.choice(name, candidate, set(self.names))
        return self.names.index(candidate)

    def best_beta(self) -> np.ndarray:
        """The maximum-likelihood inverse temperature per group and candidate: (..., C)
        (0 means the candidate explains the actions no better than uniformly random choice)."""
        return np.asarray(self.betas)[self.episode_ll.sum(-3).argmax(-1)]

    def loglik(self) -> np.ndarray:
        """Total log-likelihood of each candidate, beta fitted per group and candidate: (..., C)."""
        return self.episode_ll.sum(-3).max(-1)

    def per_action(self) -> np.ndarray:
        """Log-likelihood per scored action relative to a uniformly random policy, in nats
        (0 = explains the actions no better than chance, log 4 = 1.39 = perfectly): (..., C)."""
        n = np.maximum(self.actions.sum(-1), 1)
        return self.loglik() / n[..., None] + np.log(gridworld.NUM_ACTIONS)

    def best(self) -> np.ndarray:
        """Name of the best-explaining candidate per group: (...) array of str."""
        return np.asarray(self.names)[self.loglik().argmax(-1)]

    def mixture(self, first: str = "goal", second: str = "corner", weights=DEFAULT_WEIGHTS) -> np.ndarray:
        """Per-action log-likelihood (relative to random) of the per-episode mixture
        "pursue ``first`` with probability w, else ``second``", for each w: (..., W).
        Each component's beta is fitted per group (maximized over the grid)."""
        i, j = self._index("first", first), self._index("second", second)
        w = _check_grid("weights", weights, 0.0, high=1.0)
        with np.errstate(divide="ignore"):
            lw, l1w = np.log(w), np.log1p(-w)
        a = self.episode_ll[..., i, :]  # (..., L, B)
        b = self.episode_ll[..., j, :]
        # (..., W, B, B): log(w * L_first + (1 - w) * L_second) summed over episodes
        mix = np.logaddexp(lw[:, None, None, None] + a[..., None, :, :, None],
                           l1w[:, None, None, None] + b[..., None, :, None, :]).sum(-3)
        best = mix.reshape(mix.shape[:-2] + (-1,)).max(-1)
        n = np.maximum(self.actions.sum(-1), 1)
        return best / n[..., None] + np.log(gridworld.NUM_ACTIONS)

    def best_weight(self, first: str = "goal", second: str = "corner", weights=DEFAULT_WEIGHTS) -> np.ndarray:
        """The maximum-likelihood mixture weight on ``first``: (...)."""
        weights = _check_grid("weights", weights, 0.0, high=1.0)
        return np.asarray(weights)[self.mixture(first, second, weights).argmax(-1)]


def _check_grid(name, values, low, low_open=False, high=None, dtype=None):
    arr = validate.array(name, values, allow_empty=True).astype(np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
    for i, v in enumerate(arr):
        validate.real(f"{name}[{i}]", float(v), low=low, low_open=low_open, high=high, dtype=dtype)
    return arr


def fit_objective(traj: gridworld.Trajectory, levels: gridworld.EnvParams, candidates: dict,
                  betas=DEFAULT_BETAS, gamma: float = 0.95, iters: int = 100) -> ObjectiveFit:
    """Score episodes under every "walk to target" candidate at every beta.

    levels: a batch of L levels (walls (L, H, W), ...); traj: one episode per level with any
    leading group axes, e.g. pos (A, S, L, T+1, 2) for alphas x seeds. candidates: name ->
    target cell, either (2,) for all levels or (L, 2), e.g.
    ``{"goal": levels.goal, "corner": (1, 5)}``. betas: inverse temperatures >= 0 (0 is the
    uniformly random policy, so the fitted log-likelihood is never below chance). Policies are
    computed once per level and shared by every group that played it.
    """
    validate.instance("traj", traj, gridworld.Trajectory, "a gridworld.Trajectory (from gridworld.evaluate)")
    validate.instance("levels", levels, gridworld.EnvParams, "a batch of levels (an EnvParams with walls (L, H, W))")
    walls = np.asarray(levels.walls)
    if walls.ndim != 3:
        raise ValueError(f"levels must be a batch of levels with walls (L, H, W), got walls shape {walls.shape}")
    gridworld.check_levels(levels, "levels")
    n_levels = walls.shape[0]
    if np.ndim(traj.action) < 2 or np.shape(traj.action)[-2] != n_levels:
        raise ValueError(f"traj must hold one episode per level on its second-to-last axis (L = {n_levels}); "
                         f"traj.action has shape {np.shape(traj.action)}")
    _check_traj(traj, walls)
    if not isinstance(candidates, dict) or not candidates:
        raise ValueError("candidates must be a non-empty dict of name -> target cell")
    targets = []
    for name, t in candidates.items():
        t = np.asarray(t)
        t = np.broadcast_to(t, (n_levels, 2)) if t.shape == (2,) else t
        if t.shape != (n_levels, 2) or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"candidates[{name!r}] must be an integer (row, col) or (L, 2) array of them")
        for i in range(n_levels):
            gridworld.check_position(f"candidates[{name!r}][{i}]", t[i], walls[i])
        targets.append(t)
    targets = jnp.asarray(np.stack(targets, 1), jnp.int32)  # (L, C, 2)
    betas_np = _check_grid("betas", betas, 0.0)
    for i, b in enumerate(betas_np):
        validate.real(f"betas[{i}]", b, low=0.0, high=BETA_MAX, dtype=np.float32)
    gamma = validate.real("gamma", gamma, low=0.0, high=1.0, high_open=True, dtype=np.float32)
    if np.float32(gamma) == 1:
        raise ValueError(f"gamma = {gamma!r} rounds to 1 in float32, where the values diverge; use gamma <= 0.9999999")
    iters = validate.integer("iters", iters, minimum=1, maximum=MAX_ITERS)
    betas_j = jnp.asarray(betas_np, jnp.float32)

    logpi = _log_policies(levels.walls, targets, betas_j, gamma, iters)
    group_shape = traj.action.shape[:-2]
    flat = jax.tree_util.tree_map(lambda x: jnp.reshape(x, (-1,) + x.shape[len(group_shape):]), traj)
    ll, n = _episode_lls(logpi, targets, flat.pos, flat.action, flat.alive)
    ll = np.asarray(ll, np.float64).reshape(group_shape + ll.shape[1:])
    if not np.all(np.isfinite(ll)):
        raise ValueError("betas overflow float32 in the Boltzmann policies for these levels; use smaller betas")
    n = np.asarray(n).reshape(group_shape + n.shape[1:])
    return ObjectiveFit(tuple(candidates), betas_np, ll, n)


def _check_traj(traj, walls):
    """Shapes that must agree, and on the host: actions in 0..3 and positions inside the grid
    (the likelihood indexes with them, where JAX would clamp silently)."""
    act, pos, alive = np.shape(traj.action), np.shape(traj.pos), np.shape(traj.alive)
    if pos != act[:-1] + (act[-1] + 1, 2) or alive != act:
        raise ValueError(f"traj must hold pos (..., T + 1, 2) and alive (..., T) for action (..., T) = {act}; "
                         f"got pos {pos}, alive {alive}")
    action = np.asarray(traj.action)
    taken = np.asarray(traj.alive).astype(bool)
    validate.indices("traj.action", np.where(taken, action, 0), gridworld.NUM_ACTIONS, what="actions up, right, down, left")
    p = np.asarray(traj.pos)
    h, w = walls.shape[1:]
    if p.size and (p.min() < 0 or p[..., 0].max() >= h or p[..., 1].max() >= w):
        raise ValueError(f"traj.pos must hold cells inside the {h}x{w} grid")


@partial(jax.jit, static_argnums=(3, 4))
def _log_policies(walls, targets, betas, gamma, iters):
    """Boltzmann log-policies over Q* for every level, candidate and beta: (L, C, B, H, W, 4)."""
    def per_target(w, t):
        q = _optimal_q(w, t, gamma, iters)
        return jax.vmap(lambda b: jax.nn.log_softmax(b * q, axis=-1))(betas)
    per_level = lambda w, ts: jax.vmap(lambda t: per_target(w, t))(ts)  # noqa: E731
    return jax.vmap(per_level)(walls, targets)


def _scored(ts, pos, alive):
    """Actions taken before the first arrival at any target."""
    arrived = jnp.any(jnp.all(pos[:-1, None, :] == ts[None], -1), -1)
    return alive & (jnp.cumsum(arrived) == 0)


def _episode_ll(lp, ts, pos, action, alive):
    picked = lp[:, :, pos[:-1, 0], pos[:-1, 1], action]  # (C, B, T)
    mask = _scored(ts, pos, alive)
    return (picked * mask).sum(-1), mask.sum()


@jax.jit
def _episode_lls(logpi, targets, pos, action, alive):
    """Log-likelihoods of groups x levels of episodes: (G, L, C, B) and scored actions (G, L)."""
    return jax.vmap(lambda p, a, al: jax.vmap(_episode_ll)(logpi, targets, p, a, al))(pos, action, alive)
