"""Tests for mesalib.objectives: optimal and soft value iteration and the Boltzmann-rational objective fit."""
import mesalib  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesalib import gridworld as g
from mesalib import objectives as ob
from helpers import assert_close, assert_shape

CORNER = (1, 5)


def soft_q_reference(walls, target, beta, gamma, iters):
    """float64 NumPy soft value iteration written directly from the definition."""
    h, w = walls.shape
    q = np.zeros((h, w, 4))
    v = np.zeros((h, w))
    for _ in range(iters + 1):  # iters backups of V, then Q from the last V
        for r in range(h):
            for c in range(w):
                for a, (dr, dc) in enumerate(g.DELTAS):
                    nr, nc = r + dr, c + dc
                    if not (0 <= nr < h and 0 <= nc < w) or walls[nr, nc]:
                        nr, nc = r, c
                    done = (nr, nc) == tuple(target)
                    q[r, c, a] = float(done) + gamma * (1 - done) * v[nr, nc]
        m = q.max(-1, keepdims=True)
        v = m[..., 0] + np.log(np.exp(beta * (q - m)).sum(-1)) / beta
    return q


def test_soft_q_matches_float64_reference():
    walls = np.asarray(g.open_room(5, 6)).copy()
    walls[2, 2] = True
    q = ob.soft_q(walls, (1, 4), beta=5.0, gamma=0.9, iters=40)
    assert_shape(q, (5, 6, 4))
    ref = soft_q_reference(walls, (1, 4), 5.0, 0.9, 40)
    free = ~walls
    assert_close(np.asarray(q)[free], ref[free], atol=2e-5, rtol=2e-5)


def test_soft_q_approaches_discounted_distance_at_high_beta():
    walls = np.asarray(g.mazes(jax.random.key(0), 1, 9, 9)[0])
    target = (1, 7)
    q = np.asarray(ob.soft_q(walls, target, beta=1e4, gamma=0.95, iters=120))
    d = np.asarray(g.distances(walls, target)).astype(np.float64)
    free = ~walls
    free[target] = False
    assert_close(q.max(-1)[free], 0.95 ** (d[free] - 1), atol=3e-3, rtol=0)
    pi = np.asarray(ob.boltzmann_policy(walls, target, beta=1e4))
    assert_close(pi.sum(-1), 1.0, atol=1e-5)
    # the greedy action always steps one cell closer
    for r, c in zip(*np.nonzero(free)):
        nr, nc = np.array([r, c]) + g.DELTAS[pi[r, c].argmax()]
        assert not walls[nr, nc] and d[nr, nc] == d[r, c] - 1


def test_optimal_q_is_discounted_distance_and_beta_zero_is_uniform():
    walls = np.asarray(g.mazes(jax.random.key(0), 1, 9, 9)[0])
    target = (1, 7)
    q = np.asarray(ob.optimal_q(walls, target, gamma=0.9, iters=120))
    assert_shape(q, (9, 9, 4))
    d = np.asarray(g.distances(walls, target)).astype(np.float64)
    free = ~walls
    # float64 reference from the definition: Q*(s, a) = gamma ** d(s'), s' the cell a leads to
    for r, c in zip(*np.nonzero(free)):
        if (r, c) == target:
            continue
        for a, (dr, dc) in enumerate(g.DELTAS):
            nr, nc = (r + dr, c + dc) if not walls[r + dr, c + dc] else (r, c)
            assert_close(q[r, c, a], 0.9 ** d[nr, nc], atol=1e-6, rtol=1e-5)
    uniform = np.asarray(ob.boltzmann_policy(walls, target, beta=0.0))
    assert_close(uniform[free], 0.25, atol=1e-7)
    greedy = np.asarray(ob.boltzmann_policy(walls, target, beta=1e4, gamma=0.9))
    for r, c in zip(*np.nonzero(free)):
        if (r, c) != target:
            nr, nc = np.array([r, c]) + g.DELTAS[greedy[r, c].argmax()]
            assert d[nr, nc] == d[r, c] - 1
    # unlike the soft values, a moderately rational (beta = 20) walker still prefers to approach
    pi = np.asarray(ob.boltzmann_policy(walls, target, beta=20.0))
    soft = np.asarray(jax.nn.softmax(20.0 * ob.soft_q(walls, target, beta=20.0), -1))
    step_closer = lambda p: np.mean([sum(p[r, c, a] for a, (dr, dc) in enumerate(g.DELTAS)  # noqa: E731
                                         if not walls[r + dr, c + dc] and d[r + dr, c + dc] == d[r, c] - 1)
                                     for r, c in zip(*np.nonzero(free)) if (r, c) != target])
    assert step_closer(pi) > step_closer(soft)


def boltzmann_episodes(key, levels, targets, beta, max_steps=30):
    """One episode per level from the Boltzmann policy (over Q*) towards targets (L, 2)."""
    pis = jax.vmap(lambda w, t: jax.nn.softmax(beta * ob._optimal_q(w, t, 0.95, 100), -1))(levels.walls, targets)

    def one(k, lv, pi):
        def policy(kk, obs):
            agent = jnp.argmax(obs[..., 1].reshape(-1))
            h, w = obs.shape[:2]
            return jax.random.categorical(kk, jnp.log(pi[agent // w, agent % w]))
        return g.rollout(k, policy, lv, max_steps)

    return jax.jit(jax.vmap(one))(jax.random.split(key, targets.shape[0]), levels, pis)


@pytest.mark.timeout(600)
def test_fit_recovers_the_objective_that_generated_the_behaviour():
    room = g.open_room(7, 7)
    levels = g.sample_levels(jax.random.key(0), g.corner_task(room, 0.0, deploy=True), 64)
    corner = jnp.broadcast_to(jnp.array(CORNER, jnp.int32), (64, 2))
    to_goal = boltzmann_episodes(jax.random.key(1), levels, levels.goal, beta=64.0)
    to_corner = boltzmann_episodes(jax.random.key(2), levels, corner, beta=64.0)
    half = jax.tree_util.tree_map(lambda a, b: jnp.where(
        (jnp.arange(64) % 2 == 0).reshape((64,) + (1,) * (a.ndim - 1)), a, b), to_goal, to_corner)
    traj = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), to_goal, to_corner, half)  # groups (3, L, ...)
    fit = ob.fit_objective(traj, levels, {"goal": levels.goal, "corner": CORNER})
    assert fit.names == ("goal", "corner")
    assert_shape(fit.episode_ll, (3, 64, 2, len(ob.DEFAULT_BETAS)))
    assert list(fit.best()[:2]) == ["goal", "corner"]
    pa = fit.per_action()
    assert pa[0, 0] > 0.5 and pa[1, 1] > 0.5  # the true objective explains its behaviour well
    assert pa[0, 1] < pa[0, 0] - 0.5 and pa[1, 0] < pa[1, 1] - 0.5
    w = fit.best_weight()
    assert w[0] >= 0.9 and w[1] <= 0.1 and 0.3 <= w[2] <= 0.7
    beta_hat = fit.best_beta()
    assert_shape(beta_hat, (3, 2))
    assert beta_hat[0, 0] == fit.betas[fit.episode_ll[0, :, 0].sum(0).argmax()]
    assert 32 <= beta_hat[0, 0] <= 128 and 32 <= beta_hat[1, 1] <= 128  # generated at beta = 64, a grid point
    assert fit.betas[0] == 0.0 and np.all(pa >= -1e-6)  # beta = 0 (random) is a candidate: never below chance
    mix = fit.mixture()
    assert_shape(mix, (3, len(ob.DEFAULT_WEIGHTS)))
    assert_close(mix[:2, [-1, 0]].diagonal(), pa[[0, 1], [0, 1]], atol=1e-6)  # w = 1, w = 0 are the pure fits
    # scored actions stop at the first arrival at either target
    assert np.all(fit.actions <= np.asarray(traj.alive).sum(-1))
    # a second fit of the same shapes reuses the compiled programs
    before = (ob._log_policies._cache_size(), ob._episode_lls._cache_size())
    ob.fit_objective(traj, levels, {"goal": levels.goal, "corner": (2, 2)})
    assert (ob._log_policies._cache_size(), ob._episode_lls._cache_size()) == before


def test_fit_bad_inputs():
    room = g.open_room(7, 7)
    levels = g.sample_levels(jax.random.key(0), g.corner_task(room, 0.0, deploy=True), 4)
    traj = jax.vmap(lambda k, lv: g.rollout(k, g.random_policy, lv, 5))(jax.random.split(jax.random.key(1), 4), levels)
    with pytest.raises(ValueError, match="candidates"):
        ob.fit_objective(traj, levels, {})
    with pytest.raises(ValueError, match="on a wall"):
        ob.fit_objective(traj, levels, {"corner": (0, 0)})
    with pytest.raises(ValueError, match="outside"):
        ob.fit_objective(traj, levels, {"corner": (1, 9)})
    with pytest.raises(ValueError, match="betas"):
        ob.fit_objective(traj, levels, {"corner": CORNER}, betas=[-1.0, 1.0])
    with pytest.raises(ValueError, match="one episode per level"):
        ob.fit_objective(jax.tree_util.tree_map(lambda x: x[:3], traj), levels, {"corner": CORNER})
    with pytest.raises(ValueError, match="levels must be a batch"):
        ob.fit_objective(traj, jax.tree_util.tree_map(lambda x: x[0], levels), {"corner": CORNER})
    with pytest.raises(ValueError, match="beta"):
        ob.soft_q(room, CORNER, beta=-1.0)
    with pytest.raises(ValueError, match="target .* on a wall"):
        ob.soft_q(room, (0, 0), beta=1.0)
    fit = ob.fit_objective(traj, levels, {"corner": CORNER, "goal": levels.goal}, betas=[1.0, 10.0])
    assert_shape(fit.loglik(), (2,))
