"""Checkers for the exercises of Chapter 2 (robustness: a competent agent pursuing the wrong goal).

Every checker prints what is right or wrong and returns True or False; none raises on a wrong or
missing answer, so a notebook keeps running top to bottom.
"""
from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np

from mesalib import gridworld, validate
from mesalib.exercises.common import fail as _fail, number as _number


def _alpha_index(result, alpha: float) -> int:
    """The sweep's alpha nearest ``alpha``, after checking the fields the checkers read."""
    for field in ("alphas", "train_metrics", "levels"):
        if not hasattr(result, field):
            raise ValueError(f"result must be the sweep of the chapter (out.sweep), with alphas, train_metrics and "
                             f"levels; {type(result).__name__} has no {field}")
    alphas = validate.array("result.alphas", result.alphas, ndim=1)
    alpha = validate.real("alpha", alpha, low=0.0, high=1.0)
    if not isinstance(result.train_metrics, dict) or "episodes" not in result.train_metrics:
        raise ValueError("result.train_metrics must hold 'episodes' (episodes ended per PPO iteration)")
    episodes = validate.array("result.train_metrics['episodes']", result.train_metrics["episodes"], ndim=3, low=0)
    if episodes.shape[1] != len(alphas):
        raise ValueError(f"result.train_metrics['episodes'] must be (iterations, alphas, seeds) with {len(alphas)} "
                         f"alphas, got shape {episodes.shape}")
    gridworld.check_levels(result.levels, "result.levels")
    return int(np.argmin(np.abs(alphas - alpha)))


def _episodes_per_run(result, alpha: float) -> float:
    i = _alpha_index(result, alpha)
    return float(np.asarray(result.train_metrics["episodes"])[:, i].sum(0).mean())


def counterexamples(result, alpha: float) -> float:
    """Expected number of training episodes (per run) whose goal was not in the corner, for the
    runs trained at ``alpha``: alpha * (1 - 1/free cells) * mean episodes per run."""
    i = _alpha_index(result, alpha)
    free = int((~np.asarray(result.levels.walls[0])).sum())
    return float(result.alphas[i] * (1 - 1 / free) * _episodes_per_run(result, alpha))


def _broken(what: str, e: Exception) -> bool:
    return _fail(f"The checker could not read {what} ({type(e).__name__}: {str(e)[:200]}); pass the objects "
                 "the chapter's cells made.")


def check_counterexamples(answer, result, alpha: float = 0.01) -> bool:
    """answer: about how many training episodes per run put the goal somewhere other than the
    corner, for the runs trained at ``alpha`` (within 15%)."""
    value = _number(answer)
    if value is None:
        return _fail("Give one number: the expected count of training episodes (per run) whose goal "
                     "was not in the corner. Hint: result.train_metrics['episodes'] counts the episodes "
                     "that ended in each PPO iteration.")
    try:
        want = counterexamples(result, alpha)
        per_run = _episodes_per_run(result, alpha)
    except Exception as e:  # noqa: BLE001 - a checker never raises
        return _broken("the sweep result", e)
    if abs(value - want) > 0.15 * want:
        return _fail(f"Not yet: {value:.0f} is not within 15% of the expected count. Multiply the episodes "
                     f"per run by the chance that a training goal is moved (alpha = {alpha}), and by the chance "
                     "that the uniform draw does not land on the corner anyway.")
    print(f"Correct: about {want:.0f} episodes per run (out of about {per_run:.0f}) "
          "showed a goal away from the corner.")
    return True


def flip_alpha(table) -> float | None:
    """The smallest alpha in a sweep table at which P(goal) exceeds P(corner), or None."""
    import pandas as pd

    validate.instance("table", table, pd.DataFrame, "the chapter's sweep table (a DataFrame)")
    missing = [c for c in ("alpha", "outcome", "rate") if c not in table.columns]
    if missing:
        raise ValueError(f"table must have columns alpha, outcome and rate; missing {missing}")
    if not {"goal", "corner"} <= set(table["outcome"]):
        raise ValueError("table must hold 'goal' and 'corner' outcomes")
    pivot = table.pivot(index="alpha", columns="outcome", values="rate").sort_index()
    above = pivot.index[pivot["goal"] > pivot["corner"]]
    return float(above[0]) if len(above) else None


def check_flip_alpha(answer, table) -> bool:
    """answer: the smallest alpha of the sweep at which the deployed agents reach the goal more
    often than they go to the corner (``table`` is ``mesalib.experiments.robustness.sweep_table(result.sweep)``)."""
    try:
        want = flip_alpha(table)
        alphas = sorted(table["alpha"].unique())
    except Exception as e:  # noqa: BLE001 - a checker never raises
        return _broken("the sweep table", e)
    value = _number(answer)
    if value is None:
        return _fail("Give one of the alphas of the sweep as a number, e.g. 0.01.")
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
    gridworld.check_levels(levels, "levels")
    gridworld.check_position("corner", corner, np.asarray(levels.walls[0]))
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
    try:
        want = on_path_fraction(levels, corner)
    except Exception as e:  # noqa: BLE001 - a checker never raises
        return _broken("the levels or the corner", e)
    if abs(value - want) > 0.01:
        return _fail(f"Not yet: {value:.3f} is off. Count, over the levels, those where "
                     "d(start, goal) + d(goal, corner) equals d(start, corner).")
    print(f"Correct: {want:.3f} of the deployment levels put the goal on some shortest route to the corner, "
          "so a pure corner-seeker can step on the goal by accident.")
    return True


def nearer_targets(levels: gridworld.EnvParams, corner) -> np.ndarray:
    """Per level, the target of the candidate "walk to whichever of the goal and the corner is
    nearer the start" (the goal on a tie): (L, 2) ints."""
    gridworld.check_levels(levels, "levels")
    gridworld.check_position("corner", corner, np.asarray(levels.walls[0]))
    corner = jnp.asarray(corner, jnp.int32)

    def one(walls, goal, start):
        d_goal = gridworld.bfs_distances(walls, goal)[start[0], start[1]]
        d_corner = gridworld.bfs_distances(walls, corner)[start[0], start[1]]
        return jnp.where(d_goal <= d_corner, goal, corner)

    return np.asarray(jax.jit(jax.vmap(one))(levels.walls, levels.goal, levels.start), np.int32)


def candidate_scores(sweep, alpha: float) -> dict:
    """Mean over seeds of the per-action log-likelihood (nats, relative to random) of the goal,
    the corner and the "nearer" candidate for the agents trained at ``alpha``."""
    from mesalib import objectives

    i = _alpha_index(sweep, alpha)
    traj = jax.tree_util.tree_map(lambda x: x[i], sweep.traj)
    cands = {"goal": sweep.levels.goal, "corner": sweep.corner, "nearer": nearer_targets(sweep.levels, sweep.corner)}
    fit = objectives.fit_objective(traj, sweep.levels, cands)
    return dict(zip(fit.names, fit.per_action().mean(0).tolist()))


def check_nearer_candidate(answer, sweep, alpha: float = 0.05) -> bool:
    """answer: the mean over seeds of the per-action log-likelihood (nats relative to random) of
    the candidate "walk to whichever of goal and corner is nearer the start", for the agents
    trained at ``alpha`` (within 0.02 nats)."""
    value = _number(answer)
    if value is None:
        return _fail("Give one number: the nearer-target candidate's log-likelihood per action relative to "
                     "random, averaged over the seeds (fit.per_action() of the new candidate, mean over seeds).")
    try:
        scores = candidate_scores(sweep, alpha)
    except Exception as e:  # noqa: BLE001 - a checker never raises
        return _broken("the sweep result", e)
    want = scores["nearer"]
    if abs(value - want) > 0.02:
        near = [name for name, v in scores.items() if abs(value - v) <= 0.02]
        hint = (f" That is the {near[0]} candidate's score; score the new candidate." if near and near[0] != "nearer"
                else " Build the per-level targets (goal where d(start, goal) <= d(start, corner), else the corner), "
                     "fit them as a third candidate and average its per_action() over seeds.")
        return _fail(f"Not yet: {value:.3f} nats is off.{hint}")
    best = max(scores, key=scores.get)
    print(f"Correct: {want:.2f} nats per action (goal {scores['goal']:.2f}, corner {scores['corner']:.2f}); "
          f"the best of the three single candidates at alpha = {alpha} is '{best}'.")
    return True
