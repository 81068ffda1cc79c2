"""Small synthetic data sets generated in JAX/NumPy (no downloads).

``two_moons`` is the classic 2-D binary task for pictures of decision boundaries;
``hazard_world`` lists every observation of a one-hazard, one-goal grid task together with
the optimal actions, for training and verifying a tiny policy network.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import validate

# The book's one action order for every grid (as gridworld.ACTION_NAMES and mdp.ACTIONS).
ACTIONS = ("up", "right", "down", "left")
# The step each action takes as (dx, dy): x grows to the right (a grid's column index) and y grows
# upward (the negative of a grid's row index, since gridworld and mdp put row 0 at the top).
MOVES = np.array([(0, 1), (1, 0), (0, -1), (-1, 0)], dtype=np.int64)


def two_moons(key, n: int, noise: float = 0.1):
    """Two interleaving half circles: x: (n, 2) float32, y: (n,) int32 in {0, 1} (half each)."""
    validate.prng_key("key", key)
    n = validate.integer("n", n, minimum=2)
    noise = validate.real("noise", noise, low=0.0, dtype=np.float32)
    k_t, k_e = jax.random.split(key)
    n0 = n // 2
    t = jax.random.uniform(k_t, (n,), minval=0.0, maxval=jnp.pi)
    upper = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    lower = jnp.stack([1.0 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=1)
    y = (jnp.arange(n) >= n0).astype(jnp.int32)
    x = jnp.where(y[:, None] == 0, upper, lower) + noise * jax.random.normal(k_e, (n, 2))
    # Centre and scale so both coordinates are roughly in [-1.5, 1.5].
    x = (x - jnp.array([0.5, 0.25])) / jnp.array([1.0, 0.5])
    return x.astype(jnp.float32), y


def _distance(p, hazard, goal):
    """Shortest path length on the open plane from p to goal, never entering the hazard cell.

    One blocked cell lengthens a path only when start and goal share a row or column with the
    hazard strictly between them; then the detour costs 2 extra steps.
    """
    d = np.abs(goal - p).sum(-1)
    same_x = (p[..., 0] == goal[..., 0]) & (hazard[..., 0] == p[..., 0])
    same_y = (p[..., 1] == goal[..., 1]) & (hazard[..., 1] == p[..., 1])
    between_y = (np.minimum(p[..., 1], goal[..., 1]) < hazard[..., 1]) & (hazard[..., 1] < np.maximum(p[..., 1], goal[..., 1]))
    between_x = (np.minimum(p[..., 0], goal[..., 0]) < hazard[..., 0]) & (hazard[..., 0] < np.maximum(p[..., 0], goal[..., 0]))
    return d + 2 * ((same_x & between_y) | (same_y & between_x))


def shortest_path_length(start, hazard, goal) -> np.ndarray:
    """Shortest path length on the open plane from ``start`` to ``goal`` never entering ``hazard``;
    each (..., 2) integer offsets. The distance behind :func:`hazard_world`'s optimal actions."""
    start, hazard, goal = (np.asarray(v) for v in (start, hazard, goal))
    return _distance(start, hazard, goal)


def hazard_world(radius: int = 3):
    """Every observation of the hazard task and its optimal actions.

    The agent stands at the origin of an open grid; one hazard cell and one goal cell lie within
    ``radius`` steps in each coordinate. Observation: (hazard_dx, hazard_dy, goal_dx, goal_dy),
    float32 (n, 4), offsets along x (rightward) and y (upward) as in :data:`MOVES`. ``optimal``:
    (n, 4) bool, the actions in :data:`ACTIONS` order (up, right, down, left) that start a
    shortest path to the goal that never enters the hazard.
    """
    radius = validate.integer("radius", radius, minimum=1, maximum=10)
    r = np.arange(-radius, radius + 1)
    cells = np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)
    cells = cells[np.any(cells != 0, axis=1)]
    hz = np.repeat(cells, len(cells), axis=0)
    gl = np.tile(cells, (len(cells), 1))
    keep = np.any(hz != gl, axis=1)
    hz, gl = hz[keep], gl[keep]
    dist = np.stack([_distance(np.broadcast_to(m, hz.shape), hz, gl) for m in MOVES], axis=1)
    into_hazard = np.stack([np.all(hz == m, axis=1) for m in MOVES], axis=1)
    dist = np.where(into_hazard, np.iinfo(np.int64).max, dist)
    optimal = dist == dist.min(axis=1, keepdims=True)
    obs = np.concatenate([hz, gl], axis=1).astype(np.float32)
    return obs, optimal
