"""Chapter 2's exercise solutions pass their checkers; wrong or missing answers fail without raising."""
import mesalib  # noqa: F401

from types import SimpleNamespace

import jax
import numpy as np
import pandas as pd

from mesalib import gridworld as g
from mesalib.exercises import robustness as exercises


def fake_result():
    """The fields the checkers read from a SweepResult: 3 alphas x 2 seeds, 10 iterations."""
    room = g.open_room(7, 7)
    levels = g.sample_levels(jax.random.key(0), g.corner_task(room, 0.0, deploy=True), 8)
    episodes = np.full((10, 3, 2), 100)
    return SimpleNamespace(alphas=np.array([0.0, 0.01, 0.2]), train_metrics={"episodes": episodes}, levels=levels)


def test_counterexamples(capsys):
    r = fake_result()
    want = 0.01 * (1 - 1 / 25) * 1000
    assert abs(exercises.counterexamples(r, 0.01) - want) < 1e-9
    assert exercises.check_counterexamples(9.6, r)          # the solution: alpha * (1 - 1/25) * episodes
    assert exercises.check_counterexamples(10, r)           # ignoring the 1/25 is close enough
    assert not exercises.check_counterexamples(1000, r)     # all episodes
    assert not exercises.check_counterexamples(0.01, r)     # the fraction, not the count
    assert not exercises.check_counterexamples(None, r)
    assert not exercises.check_counterexamples("ten", r)
    assert exercises.check_counterexamples(0.2 * 0.96 * 1000, r, alpha=0.2)
    assert "episodes" in capsys.readouterr().out


def sweep_table(goal, corner, alphas=(0.0, 0.01, 0.05, 0.2)):
    rows = []
    for a, gl, c in zip(alphas, goal, corner):
        rows += [{"alpha": a, "outcome": "goal", "rate": gl}, {"alpha": a, "outcome": "corner", "rate": c},
                 {"alpha": a, "outcome": "ends in corner", "rate": c / 2}]
    return pd.DataFrame(rows)


def test_flip_alpha(capsys):
    table = sweep_table([0.1, 0.1, 0.5, 0.93], [0.9, 0.9, 0.39, 0.11])
    assert exercises.flip_alpha(table) == 0.05
    assert exercises.check_flip_alpha(0.05, table)
    assert not exercises.check_flip_alpha(0.2, table)
    assert not exercises.check_flip_alpha(0.01, table)
    assert not exercises.check_flip_alpha(0.03, table)       # not a swept alpha
    assert not exercises.check_flip_alpha(None, table)
    never = sweep_table([0.1, 0.1, 0.2, 0.3], [0.9, 0.9, 0.8, 0.7])
    assert exercises.flip_alpha(never) is None
    assert not exercises.check_flip_alpha(0.2, never)
    assert "alpha" in capsys.readouterr().out


def test_on_path_fraction(capsys):
    room = g.open_room(7, 7)
    levels = g.sample_levels(jax.random.key(4), g.corner_task(room, 0.0, deploy=True), 200)
    corner = (1, 5)
    # reference: in an open room the shortest paths to the top-right corner are the up/right
    # staircases, so the goal is on one exactly when it lies in the start-corner rectangle
    s, gl = np.asarray(levels.start), np.asarray(levels.goal)
    inside = (gl[:, 0] <= s[:, 0]) & (gl[:, 0] >= corner[0]) & (gl[:, 1] >= s[:, 1]) & (gl[:, 1] <= corner[1])
    want = inside.mean()
    assert abs(exercises.on_path_fraction(levels, corner) - want) < 1e-9
    assert exercises.check_on_path_fraction(want, levels, corner)
    assert not exercises.check_on_path_fraction(want + 0.05, levels, corner)
    assert not exercises.check_on_path_fraction(1.5, levels, corner)
    assert not exercises.check_on_path_fraction(None, levels, corner)
    assert "shortest" in capsys.readouterr().out


def test_nearer_candidate(capsys):
    from mesalib import objectives, ppo

    room = g.open_room(7, 7)
    levels = g.sample_levels(jax.random.key(1), g.corner_task(room, 0.0, deploy=True), 16)
    corner = np.array([1, 5])
    # reference targets in NumPy: open room, so BFS distance is the Manhattan distance
    s, gl = np.asarray(levels.start), np.asarray(levels.goal)
    d_goal, d_corner = np.abs(s - gl).sum(1), np.abs(s - corner).sum(1)
    want_targets = np.where((d_goal <= d_corner)[:, None], gl, corner)
    assert np.array_equal(exercises.nearer_targets(levels, corner), want_targets)
    # two alphas x two untrained networks stand in for the sweep's agents
    params = [ppo.init_policy(k, 7 * 7 * 3, 4, (8,)) for k in jax.random.split(jax.random.key(2), 4)]
    stacked = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *params)
    traj = g.evaluate(jax.random.key(3), ppo.sample_action, stacked, levels, 30)
    traj = jax.tree_util.tree_map(lambda x: np.asarray(x).reshape((2, 2) + x.shape[1:]), traj)
    sweep = SimpleNamespace(alphas=np.array([0.0, 0.05]), train_metrics={"episodes": np.ones((3, 2, 2))},
                            levels=levels, corner=corner, traj=traj)
    per_alpha = jax.tree_util.tree_map(lambda x: x[1], traj)
    fit = objectives.fit_objective(per_alpha, levels, {"goal": levels.goal, "corner": corner, "nearer": want_targets})
    right = float(fit.per_action()[:, 2].mean())
    assert exercises.check_nearer_candidate(right, sweep, alpha=0.05)
    assert not exercises.check_nearer_candidate(right + 0.1, sweep, alpha=0.05)
    assert not exercises.check_nearer_candidate(None, sweep)
    assert not exercises.check_nearer_candidate(0.0, SimpleNamespace(), alpha=0.05)   # not a sweep: no raise
    assert "nats" in capsys.readouterr().out
