"""Checkers for the exercises of Chapter 2 (robustness: a competent agent pursuing the wrong goal).

Every checker prints what is right or wrong and returns True or False; none raises on a wrong or
missing answer, so a notebook keeps running top to bottom.
"""
from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np

from mesalib import gridworld
from mesalib.exercises.common import fail as _fail, number as _number


def _episodes_per_run(result, alpha: float) -> float:
    i = int(np.argmin(np.abs(np.asarray(result.alphas) - alpha)))
    return float(np.asarray(result.train_metrics["episodes"])[:, i].sum(0).mean())


def counterexamples(result, alpha: float) -> float:
    """Expected number of training episodes (per run) whose goal was not in the corner, for the
    runs trained at ``alpha``: alpha * (1 - 1/free cells) * mean episodes per run."""
    i = int(np.argmin(np.abs(np.asarray(result.alphas) - alpha)))
    free = int((~np.asarray(result.levels.walls[0])).sum())
    return float(result.alphas[i] * (1 - 1 / free) * _episodes_per_run(result, alpha))


def check_counterexamples(answer, result, alpha: float = 0.01) -> bool:
    """answer: about how many training episodes per run put the goal somewhere other than the
    corner, for the runs trained at ``alpha`` (within 15%)."""
    value = _number(answer)
    if value is None:
        return _fail("Give one number: the expected count of training episodes (per run) whose goal "
                     "was not in the corner. Hint: result.train_metrics['episodes'] counts the episodes "
                     "that ended in each PPO iteration.")
    want = counterexamples(result, alpha)
    if abs(value - want) > 0.15 * want:
        return _fail(f"Not yet: {value:.0f} is not within 15% of the expected count. Multiply the episodes "
                     f"per run by the chance that a training goal is moved (alpha = {alpha}), and by the chance "
                     "that the uniform draw does not land on the corner anyway.")
    print(f"Correct: about {want:.0f} episodes per run (out of about {_episodes_per_run(result, alpha):.0f}) "
          "showed a goal away from the corner.")
    return True


def flip_alpha(table) -> float | None:
    """The smallest alpha in a sweep table at which P(goal) exceeds P(corner), or None."""
    pivot = table.pivot(index="alpha", columns="outcome", values="rate").sort_index()
    above = pivot.index[pivot["goal"] > pivot["corner"]]
    return float(above[0]) if len(above) else None


def check_flip_alpha(answer, table) -> bool:
    """answer: the smallest alpha of the sweep at which the deployed agents reach the goal more
    often than they go to the corner (``table`` is ``mesalib.experiments.robustness.sweep_table(result.sweep)``)."""
    want = flip_alpha(table)
    value = _number(answer)
    if value is None:
        return _fail("Give one of the alphas of the sweep as a number, e.g. 0.01.")
    alphas = sorted(table["alpha"].unique())
    if not np.isclose(value, alphas).any():
        return _fail(f"{value} is not one of the swept alphas {alphas}.")
    if want is None:
        print("In this sweep no alpha reached the goal more often than the corner; any answer is a guess.")
        return False
    if not np.isclose(value, want):
        return _fail(f"Not yet: compare the 'goal' and 'corner' rows of the table alpha by alpha; "
                     f"at {value} the goal does {'not ' if value < want else ''}win, or a smaller alpha already does.")
    print(f"Correct: from alpha = {want} on, the agents reach the goal more often than they walk to the corner.")
    return True


def on_path_fraction(levels: gridworld.EnvParams, corner) -> float:
    """Fraction of levels whose goal lies on some shortest path from the start to the corner
    (d(start, goal) + d(goal, corner) == d(start, corner))."""
    corner = jnp.asarray(corner, jnp.int32)

    def one(walls, goal, start):
        to_corner = gridworld.bfs_distances(walls, corner)
        to_goal = gridworld.bfs_distances(walls, goal)
        return to_goal[start[0], start[1]] + to_corner[goal[0], goal[1]] == to_corner[start[0], start[1]]

    return float(np.mean(np.asarray(jax.jit(jax.vmap(one))(levels.walls, levels.goal, levels.start))))


def check_on_path_fraction(answer, levels: gridworld.EnvParams, corner) -> bool:
    """answer: the fraction of deployment ``levels`` whose goal lies on at least one shortest path
    from the start to the corner (to 0.01)."""
    value = _number(answer)
    if value is None or not 0 <= value <= 1:
        return _fail("Give a fraction between 0 and 1. Hint: gridworld.distances(walls, target) gives every "
                     "cell's distance to target; a cell g is on a shortest path from s to c when "
                     "d(s, g) + d(g, c) = d(s, c).")
    want = on_path_fraction(levels, corner)
    if abs(value - want) > 0.01:
        return _fail(f"Not yet: {value:.3f} is off. Count, over the levels, those where "
                     "d(start, goal) + d(goal, corner) equals d(start, corner).")
    print(f"Correct: {want:.3f} of the deployment levels put the goal on some shortest route to the corner, "
          "so a pure corner-seeker can step on the goal by accident.")
    return True
