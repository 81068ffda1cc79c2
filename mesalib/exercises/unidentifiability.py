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
    print(f"Correct: it explains the demonstration without rewarding the goal. With the goal moved to (4, 0) its "
          f"agent reaches the goal from {table.loc[0, 'reaches goal']:.0%} of the start cells.")
    return True


def check_tests_needed(answer) -> bool:
    """answer: how many random deployment tests (level and start cell uniform) must the corner-walker
    of a 7x7 open room take so that at least one exposes it with probability ≥ 0.99?"""
    try:
        k = int(answer)
        if k != answer:
            raise ValueError
    except (TypeError, ValueError):
        return _fail("Give a whole number of tests.")
    p, _ = experiment.informativeness_by_goal(experiment.corner_test_informativeness(EX3_SIZE))
    want = experiment.tests_needed(p, EX3_CONFIDENCE)
    if k < want:
        return _fail(f"Not enough: with {k} tests the walker stays hidden with probability (1 − p)^{k}, which is "
                     f"above 0.01. First compute p with unidentifiability.corner_test_informativeness(7).")
    if k > want:
        return _fail(f"{k} tests would do, but fewer suffice: find the smallest k with (1 − p)^k ≤ 0.01.")
    print(f"Correct: p = {p:.3f} per test, so {want} tests expose the walker with probability "
          f"{1 - (1 - p) ** want:.4f}. At α = 0 no number of training levels would.")
    return True
