"""Checkers for the exercises of Chapter 5 (verification).

Every checker prints what is right or wrong and returns True or False; none raises on a wrong or
missing answer, so a notebook keeps running top to bottom.
"""
from __future__ import annotations

import numpy as np

from mesalib import datasets
from mesalib import verify as V
from mesalib.exercises.common import fail as _fail

# Exercise 1's network: y = relu(x0 + x1) + relu(x0 - x1) on the box [-1, 1]^2.
HAND_NET = [{"w": np.array([[1.0, 1.0], [1.0, -1.0]]), "b": np.zeros(2)},
            {"w": np.array([[1.0], [1.0]]), "b": np.zeros(1)}]
HAND_BOX = V.Box(np.array([-1.0, -1.0]), np.array([1.0, 1.0]))


def check_hand_bounds(answer) -> bool:
    """answer: (IBP upper bound, CROWN upper bound, true maximum) of Exercise 1's network."""
    try:
        ibp, crown, true = (float(v) for v in answer)
    except (TypeError, ValueError):
        return _fail("Give three numbers: (IBP upper bound, CROWN upper bound, true maximum).")
    want = (float(V.interval_bounds(HAND_NET, HAND_BOX)[-1][1][0]), float(V.crown_bounds(HAND_NET, HAND_BOX)[-1][1][0]), 2.0)
    names = ("IBP upper bound", "CROWN upper bound", "true maximum")
    hints = ("each ReLU output lies in [0, 2]; add the two intervals.",
             "replace each unstable ReLU by its chord 0.5·z + 1, add the two lines, then maximise over the box.",
             "try x = (1, x1): the two ReLUs are 1 + x1 and 1 - x1.")
    wrong = [f"{n} is not {v:g}: {h}" for n, v, w, h in zip(names, (ibp, crown, true), want, hints) if abs(v - w) > 1e-6]
    if wrong:
        return _fail("Not yet. " + " ".join(wrong))
    print("Correct: IBP says 4, CROWN 3, the truth is 2 — both bounds are sound, neither is tight.")
    return True


TOWARD_GOAL = ("down", "left")   # Exercise 2: for goals down and to the left, the action should be one of these


def check_toward_goal_property(prop) -> bool:
    """prop: a Property saying "the chosen action (argmax of the 4 outputs, in ``datasets.ACTIONS``
    order) is down or left"."""
    if not isinstance(prop, V.Property):
        return _fail("Build a mesalib.verify.Property (hint: verify.argmax_in).")
    try:
        rng = np.random.default_rng(0)
        y = rng.normal(size=(4000, 4))
        ident = [{"w": np.eye(4), "b": np.zeros(4)}]
        got = V.property_margin(ident, y, prop) > 0
    except ValueError as e:
        return _fail(f"That property cannot be evaluated on 4 outputs: {e}")
    allowed = [datasets.ACTIONS.index(name) for name in TOWARD_GOAL]
    want = np.isin(y.argmax(1), allowed)
    if np.array_equal(got, want):
        print(f"Correct: the property holds exactly when the argmax is {TOWARD_GOAL[0]} ({allowed[0]}) "
              f"or {TOWARD_GOAL[1]} ({allowed[1]}).")
        return True
    bad = y[np.flatnonzero(got != want)[0]]
    return _fail(f"Not yet: for outputs {np.round(bad, 2)} (argmax {int(bad.argmax())}) your property says "
                 f"{'holds' if got[got != want][0] else 'fails'}.")


def robustness_radius(params, x, label: int, high: float = 1.0, tol: float = 1e-3) -> float:
    """The largest L-infinity radius (to ``tol``) at which the exact check certifies ``label``, by bisection."""
    prop = V.argmax_is(int(label), np.asarray(params[-1]["w"]).shape[1])
    lo, hi = 0.0, float(high)
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if V.exact_check(params, V.linf_ball(x, mid), prop).status == "verified":
            lo = mid
        else:
            hi = mid
    return lo


def check_radius(answer, params, x, label: int) -> bool:
    """answer: the exact robustness radius of point x (class ``label``) for ``params``, within 0.005."""
    try:
        answer = float(answer)
    except (TypeError, ValueError):
        return _fail("Give the radius as a number.")
    ref = robustness_radius(params, x, label)
    if abs(answer - ref) <= 0.005:
        print(f"Correct: the exact radius is {ref:.3f}.")
        return True
    return _fail(f"Not yet: {answer:.3f} is {'too large' if answer > ref else 'too small'} "
                 "(bisect on eps with verify(..., method='milp') until the interval is below 0.001).")


# Exercise 4: which candidate specifications can today's verifiers even state?
EXPRESSIBLE = {
    "never steps into the hazard": True,
    "same action wherever the hazard is, when it is behind the agent": True,
    "a given linear probe of layer 2 reads the goal's x-offset within 0.5": True,
    "the network internally searches over plans": False,
    "reaches the goal without entering the hazard, from every start in a finite list of grids": True,
    "pursues the goal it was trained on, in every environment there could be": False,
}


def check_expressible(answer) -> bool:
    """answer: dict mapping each key of EXPRESSIBLE to True (a verifier can state it) or False.
    A blank (None or anything not a bool) is not an answer."""
    if not isinstance(answer, dict) or set(answer) != set(EXPRESSIBLE):
        return _fail("Give a dict with exactly these keys:\n  " + "\n  ".join(EXPRESSIBLE))
    blank = [k for k, v in answer.items() if not isinstance(v, (bool, np.bool_))]
    if blank:
        return _fail(f"{len(blank)} of {len(EXPRESSIBLE)} are not answered yet (use True or False), e.g. '{blank[0]}'.")
    wrong = [k for k, v in EXPRESSIBLE.items() if bool(answer[k]) != v]
    if wrong:
        return _fail(f"{len(wrong)} of {len(EXPRESSIBLE)} are not right yet, e.g. '{wrong[0]}'. Ask: is it "
                     "'for every input in a set I can write down, a linear fact about outputs or activations holds'?")
    print("Correct: the first three fix an input set and a linear fact about outputs or activations; a finite "
          "list of grids unrolls into one finite closed-loop check per start. 'Searches over plans' has no "
          "formal definition, and 'every environment there could be' is no set anyone can write down.")
    return True


# Exercise 5: big-M constants. "y < 1.5" is false for HAND_NET on HAND_BOX (y reaches 2), yet a MILP
# given hidden-layer bounds that are too tight can "verify" it.
FALSE_PROPERTY = V.Property(np.array([[-1.0]]), np.array([1.5]), (0,))


def check_tight_bounds(bounds) -> bool:
    """bounds: [(lower, upper)] for HAND_NET's one hidden layer (two units) that make
    ``verify.milp_with_bounds`` "verify" the false property y < 1.5 on HAND_BOX."""
    if bounds is None:
        return _fail("Give a list with one (lower, upper) pair of 2-vectors, e.g. [(np.full(2, -2.0), np.full(2, 2.0))].")
    try:
        r = V.milp_with_bounds(HAND_NET, HAND_BOX, FALSE_PROPERTY, bounds)
    except (TypeError, ValueError) as e:
        return _fail(f"Those bounds cannot be used: {e}")
    truth = V.exact_check(HAND_NET, HAND_BOX, FALSE_PROPERTY)
    if r.status != "verified":
        return _fail(f"Not yet: with these bounds the MILP says '{r.status}'. Sound bounds (they contain every "
                     "pre-activation, here [-2, 2]) keep the counterexample; try an upper bound below what a unit reaches.")
    g = np.linspace(-1, 1, 201)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    z = grid @ HAND_NET[0]["w"] + HAND_NET[0]["b"]
    lo, hi = (np.asarray(v, np.float64) for v in bounds[0])
    outside = int(np.any((z < lo) | (z > hi), axis=1).sum())
    print(f"Right: the MILP 'verifies' y < 1.5 (margin {r.margin:.2g}), but the exact check with sound bounds finds "
          f"y = {-truth.margin + 1.5:.2g} at x = {np.round(truth.counterexample, 2)}. Your bounds exclude the "
          f"pre-activations of {outside} of {len(grid)} grid inputs: the encoding silently dropped them.")
    return True
