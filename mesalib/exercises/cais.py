"""Checkers for the exercises of Chapter 7 (Comprehensive AI Services).

Every checker prints what is right or wrong and returns True or False; none raises on a wrong or
missing answer, so a notebook keeps running top to bottom. Right answers are computed from the
library and from the chapter's results, never typed in.
"""
from __future__ import annotations


import jax.numpy as jnp
import numpy as np

from mesalib import metaopt as mo
from mesalib.exercises.common import fail as _fail, number as _number

# Exercise 1: a two-coordinate NQM state
GREEDY_H = (1.0, 0.1)
GREEDY_NOISE = (1.0, 1.0)
GREEDY_S = (1.0, 1.0)


def greedy_step(h=GREEDY_H, noise=GREEDY_NOISE, s=GREEDY_S) -> float:
    """The one-step-optimal step size of an NQM with curvatures ``h``, noise ``noise`` at second moments ``s``."""
    model = mo.NQM(jnp.asarray(h, jnp.float32), jnp.asarray(noise, jnp.float32), jnp.asarray(s, jnp.float32))
    return float(mo.greedy_lr(model, model.s0))


def check_greedy_step(answer) -> bool:
    """answer: the greedy step size for curvatures (1, 0.1), noise (1, 1) and second moments (1, 1), to 1%."""
    value = _number(answer)
    if value is None:
        return _fail("Give one number: the step size that minimizes the expected loss one step ahead.")
    want = greedy_step()
    if abs(value - want) > 0.01 * want:
        hint = " That is 1/h of the steep coordinate: the noise term is missing." if abs(value - 1.0) < 1e-6 else ""
        return _fail(f"Not yet: {value:.4g} is not the minimizer.{hint} Write the expected loss after one step, "
                     "0.5 Σ h [(1 - a h)² s + a² h² σ²], and set its derivative in a to zero.")
    print(f"Correct: a = Σ h² s / Σ h³ (s + σ²) = {want:.4f}. The flat coordinate barely moves the answer: "
          "the greedy step is set by the steep one.")
    return True


def first_good_horizon(result) -> int | None:
    """The smallest unroll horizon whose schedule beats the best constant step size at the true horizon."""
    good = [int(h) for h, loss in zip(result.horizons, result.losses[:, -1]) if loss < result.constant_losses[-1]]
    return min(good) if good else None


def check_first_good_horizon(answer, result) -> bool:
    """answer: the smallest horizon K of Demonstration 1 whose learned schedule ends with a lower
    expected loss than the best constant step size (``result``: the HorizonResult)."""
    value = _number(answer)
    horizons = [int(h) for h in result.horizons]
    if value is None or int(value) != value or int(value) not in horizons:
        return _fail(f"Give one of the horizons that were trained: {horizons}.")
    want = first_good_horizon(result)
    if want is None:
        return _fail("In this run no horizon beat the best constant step; compare result.losses[:, -1] "
                     "with result.constant_losses[-1].")
    if int(value) > want:
        return _fail("Not yet: a shorter horizon already beats the constant step; compare result.losses[:, -1] "
                     "with result.constant_losses[-1].")
    if int(value) < want:
        return _fail(f"Not yet: K = {int(value)} does not beat the constant step at the true horizon.")
    print(f"Correct: K = {want} is the shortest horizon whose schedule beats a constant step "
          f"({result.losses[horizons.index(want), -1]:.3g} against {result.constant_losses[-1]:.3g}).")
    return True


def divergence_scale(result) -> float:
    """The input scale above which gradient descent with the probe's effective step diverges on an
    average task: sqrt(2 / (a * L1)), with a the median effective step over seeds and L1 the mean
    largest curvature at input scale 1."""
    i = int(np.argmin(np.abs(np.asarray(result.scales) - 1.0)))
    return float(np.sqrt(2.0 / (np.median(result.effective_lr) * result.curvature[i] / result.scales[i] ** 2)))


def check_divergence_scale(answer, result) -> bool:
    """answer: the input scale at which the probe predicts the learned optimizer starts to diverge (to 5%)."""
    value = _number(answer)
    if value is None or value <= 0:
        return _fail("Give a positive number: an input scale. Hint: the curvature grows with the square of the scale.")
    want = divergence_scale(result)
    if abs(value - want) > 0.05 * want:
        return _fail(f"Not yet: {value:.3g} is off. Gradient descent with step a diverges once a·L > 2, and "
                     "L(scale) = scale² · L(1); solve for the scale.")
    print(f"Correct: about {want:.2f}. Compare it with the table of Demonstration 2: the probe's threshold "
          "is a rough guide, not a measurement of the rule.")
    return True


PLACES = ("final", "intermediary", "neither")
ROLES = {
    "the RL² agent": "final",
    "the learned optimizer": "intermediary",
    "SGD following a learned schedule": "neither",
    "Adam tuned by a person": "neither",
}


def check_places(answer) -> bool:
    """answer: a dict from each component of the chapter to 'final', 'intermediary' or 'neither':
    where, if anywhere, it is a place where mesa-optimization enters the service tree."""
    if not isinstance(answer, dict) or set(answer) != set(ROLES):
        return _fail(f"Give a dict with exactly these keys: {sorted(ROLES)}; values among {PLACES}.")
    bad_values = [k for k, v in answer.items() if v not in PLACES]
    if bad_values:
        return _fail(f"Each value must be one of {PLACES}; check {bad_values[0]!r}.")
    wrong = [k for k in ROLES if answer[k] != ROLES[k]]
    if wrong:
        return _fail(f"{len(wrong)} of {len(ROLES)} are not right yet, e.g. {wrong[0]!r}. Ask two questions: is the "
                     "component's algorithm learned (not written by a person), and does that algorithm itself "
                     "optimize something? Then: does it train other services, or serve a task?")
    print("Correct: the RL² agent is a learned learner at the end of the tree, the learned optimizer a learned "
          "optimizer in the middle; a learned schedule only tunes numbers inside a hand-written algorithm.")
    return True
