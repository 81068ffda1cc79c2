"""Checkers for the exercises of Chapter 3 (unidentifiability and goal ambiguity).

Every checker prints what is right or wrong and returns True or False; none raises on a wrong or
missing answer, so a notebook keeps running top to bottom.
"""
from __future__ import annotations

import jax
import numpy as np

from mesalib import irl, mdp
from mesalib.experiments import unidentifiability as experiment
from mesalib.exercises.common import fail as _fail

GAMMA = 0.9
# Exercise 1's environment: 5 states, 3 actions, every transition possible.
EX1_STATES, EX1_ACTIONS = 5, 3
# Exercise 3: a 7x7 room, tests until the walker is exposed with probability 0.99.
EX3_SIZE, EX3_CONFIDENCE = 7, 0.99


def exercise1_environment():
    """The environment of Exercise 1: (5, 3, 5) transitions with full support."""
    return mdp.random_mdp(jax.random.key(31), EX1_STATES, EX1_ACTIONS)


def check_dimensions(answer) -> bool:
    """answer: (dimension for state rewards R(s), dimension for transition rewards R(s, a, s'))
    of the rewards consistent with soft-optimal behaviour in Exercise 1's one environment."""
    try:
        state, transition = (int(v) for v in answer)
    except (TypeError, ValueError):
        return _fail("Give two integers: (dimension for R(s), dimension for R(s, a, s')).")
    p = exercise1_environment()
    want_state = irl.consistent_dimension(p, GAMMA, "state")
    want_transition = irl.consistent_dimension(p, GAMMA, "transition")
    s, a = EX1_STATES, EX1_ACTIONS
    wrong = []
    if state != want_state:
        wrong.append(f"R(s): not {state}. A state reward must satisfy R(s) = τ log π(a|s) + V(s) − γ E[V(s')] for "
                     f"every action a at once; which potentials V keep the right side the same for all {a} actions?")
    if transition != want_transition:
        wrong.append(f"R(s, a, s'): not {transition}. Behaviour only sees the expected reward E[R(s, a, s')] "
                     f"({s}·{a} numbers), and shaping adds {s} more free directions; count the parameters the "
                     f"expectation cannot see.")
    if wrong:
        return _fail("Not yet. " + " ".join(wrong))
    print(f"Correct: {want_state} for R(s) (only a constant shift survives) and {want_transition} for R(s, a, s') "
          f"(= S·A·S − S·A + S): the parameterization, not the behaviour, sets how much is left unknown.")
    return True


def check_goal_free_reward(reward) -> bool:
    """reward: a state reward (S,) for the 5x5 training room that pays nothing for reaching the goal
    (reward[room.success] == 0) yet makes the demonstrated goal-reaching policy optimal, strictly
    better than acting at random."""
    room = experiment.corner_room(5)
    s = room.transitions.shape[0]
    try:
        if reward is None:
            raise TypeError
        r = np.asarray(reward, dtype=np.float64)
    except (TypeError, ValueError):
        return _fail(f"Give a numeric array of shape ({s},): one reward per state of unidentifiability.corner_room(5).")
    if r.shape != (s,) or not np.all(np.isfinite(r)):
        return _fail(f"The reward must be a finite array of shape ({s},) (25 cells, then success, then end); "
                     f"got shape {r.shape}.")
    if abs(r[room.success]) > 1e-12:
        return _fail("This reward pays for reaching the goal (reward[room.success] != 0); the point is to explain "
                     "the behaviour without mentioning the goal.")
    goal_r, _ = experiment.goal_and_corner_rewards(room)
    pi = mdp.policy_iteration64(room.transitions, goal_r, GAMMA).policy
    if not irl.is_optimal(room.transitions, r, GAMMA, pi):
        return _fail("Under this reward some state has a better action than the demonstrated one, so it does not "
                     "explain the behaviour. Check with irl.is_optimal(room.transitions, reward, 0.9, pi).")
    adv = float(irl.advantage_row(room.transitions, pi, GAMMA, "state") @ r)
    if adv <= 1e-9:
        return _fail("This reward makes every policy (or at least the random one) just as good: it explains the "
                     "behaviour only the way R = 0 does. Find one that actually prefers it.")
    new = experiment.corner_room(5, (4, 0))
    table = experiment.behaviour_table(new, {"yours": r}, GAMMA)
    reached = float(table.loc[0, "reaches goal"])
    print(f"Correct: it explains the demonstration without rewarding the goal. With the goal moved to (4, 0) its "
          f"agent reaches the goal from {reached:.0%} of the start cells.")
    if reached > 0.99:
        print("Its agent still finds the new goal: in this room the episode can only end at the goal, so a reward "
              "that pays for ending the episode (a step cost, say) names the goal through the dynamics. It is the "
              "goal in disguise, not a goal-free explanation.")
    return True


def column_informativeness(informative) -> float:
    """The share of informative tests among those whose goal lies in the right-hand column (below the
    corner), from the array of ``experiments.unidentifiability.corner_test_informativeness``."""
    inf = np.ma.asarray(informative).astype(np.float64)   # masked (undefined) tests are skipped
    return float(inf[:, inf.shape[1] - 1].mean())


def check_tests_needed(answer) -> bool:
    """answer: (k_random, k_column): how many deployment tests the corner-walker of a 7x7 open room
    must take so that at least one exposes it with probability >= 0.99, (a) with level and start
    cell uniform, (b) with the goal drawn only from the right-hand column (below the corner)."""
    try:
        k_all, k_col = answer
        ks = []
        for k in (k_all, k_col):
            if int(k) != k:
                raise ValueError
            ks.append(int(k))
    except (TypeError, ValueError):
        return _fail("Give two whole numbers: (tests with random levels, tests with right-hand-column goals).")
    inf = experiment.corner_test_informativeness(EX3_SIZE)
    p, _ = experiment.informativeness_by_goal(inf)
    p_col = column_informativeness(inf)
    wants = (experiment.tests_needed(p, EX3_CONFIDENCE), experiment.tests_needed(p_col, EX3_CONFIDENCE))
    wrong = []
    for label, k, want, share in (("random levels", ks[0], wants[0], "p = the share of informative tests"),
                                  ("right-hand-column goals", ks[1], wants[1],
                                   "the share among tests whose goal is in the last column")):
        if k < want:
            wrong.append(f"{label}: {k} is not enough; the walker stays hidden with probability (1 − p)^{k} > 0.01, "
                         f"with {share}.")
        elif k > want:
            wrong.append(f"{label}: {k} would do, but fewer suffice: find the smallest k with (1 − p)^k ≤ 0.01.")
    if wrong:
        return _fail("Not yet. " + " ".join(wrong) + " Start from unidentifiability.corner_test_informativeness(7).")
    print(f"Correct: p = {p:.3f} per random test, so {wants[0]} tests; but only {p_col:.3f} for goals on the "
          f"walker's own column, so {wants[1]}. A test suite is only as good as its share of tests on which the "
          f"alternatives disagree, and at α = 0 no number of training levels would do.")
    return True
