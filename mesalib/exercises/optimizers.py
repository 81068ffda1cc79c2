"""Checkers for the exercises of the conclusion chapter ("what counts as an optimizer?").

Every checker prints what is right or wrong and returns True or False; none raises on a wrong or
missing answer, so a notebook keeps running top to bottom. Right answers are computed with
:mod:`mesalib.optpower`, never typed in.
"""
from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np

from mesalib import optpower
from mesalib.exercises.common import fail as _fail, number as _number


def rank_bits(rank: int, outcomes: int) -> float:
    """Optimization power in bits of achieving the ``rank``-th best of ``outcomes`` equally likely outcomes."""
    return float(optpower.power_bits(outcomes - rank, np.arange(outcomes)))


def check_bits(answer, rank: int = 3, outcomes: int = 16) -> bool:
    """answer: the optimization power, in bits, of a system that achieved the ``rank``-th best of
    ``outcomes`` equally likely outcomes (to 0.01 bits)."""
    value = _number(answer)
    if value is None:
        return _fail("Give one number of bits. Hint: count the outcomes at least as good as the one achieved, "
                     "divide by the number of outcomes, and take -log2.")
    want = rank_bits(rank, outcomes)
    if abs(value - want) > 0.01:
        if abs(value - np.log2(outcomes / (rank - 1 if rank > 1 else 1))) < 0.01 and rank > 1:
            return _fail("Not yet: the outcome achieved counts among the outcomes 'at least as good' as itself.")
        return _fail(f"Not yet: {value:.3f} bits is off. The achieved outcome and the {rank - 1} better ones make "
                     f"up a share {rank}/{outcomes} of the space.")
    print(f"Correct: -log2({rank}/{outcomes}) = {want:.3f} bits. The best outcome would be worth "
          f"{rank_bits(1, outcomes):.0f} bits, the median only 1.")
    return True


def guaranteed_steps(eigenvalues=(1.0, 10.0), step_size: float = 0.15, distance: float = float(np.sqrt(2)),
                     tolerance: float = 0.1) -> int:
    """Steps after which gradient descent on the quadratic is certain to be back within ``tolerance``
    from any point at most ``distance`` away (the contraction bound of optpower)."""
    return optpower.steps_to_reach(distance, tolerance, optpower.descent_rate(eigenvalues, step_size))


def check_guaranteed_steps(answer, eigenvalues=(1.0, 10.0), step_size: float = 0.15,
                           distance: float = float(np.sqrt(2)), tolerance: float = 0.1) -> bool:
    """answer: the smallest number of steps that guarantees gradient descent returns within
    ``tolerance`` of the minimum from any point of the box (at most ``distance`` away)."""
    value = _number(answer)
    if value is None or value != int(value) or value < 0:
        return _fail("Give a whole number of steps. Hint: each step multiplies the distance to the minimum by "
                     "at most max_i |1 - step_size * lambda_i|.")
    want = guaranteed_steps(eigenvalues, step_size, distance, tolerance)
    rate = optpower.descent_rate(eigenvalues, step_size)
    if int(value) != want:
        return _fail(f"Not yet: the contraction factor is {rate:.2f} per step; find the smallest t with "
                     f"{rate:.2f}^t * {distance:.3f} <= {tolerance}.")
    print(f"Correct: {want} steps. With the contraction factor {rate:.2f} the bound holds for every start and "
          "every push, which is why recovery was certain in the chapter's measurement.")
    return True


def refill_measures(step, key=None, samples: int = 500, full: float = 0.9):
    """Flint's criteria for a bottle whose one-step dynamics are ``step(key, water) -> water``,
    with the bottle cap's starts (uniform fill) and target (fill >= ``full``), spilled at step 10
    of 30. Returns optpower.rates(...)."""
    cap = optpower.bottle_cap(full)
    system = optpower.System(step, cap.sample, cap.in_target)
    key = jax.random.key(0) if key is None else key
    return optpower.rates(optpower.measure(key, system, 30, samples, optpower.spill, 10))


def check_refilling_bottle(step) -> bool:
    """step: a function ``step(key, water) -> water`` (water: the share of the bottle filled, a
    float32 scalar) that makes the bottle an optimizing system for "at least 90% full": basin and
    recovery of at least 0.95 while the water stays within [0, 1]."""
    if not callable(step):
        return _fail("Pass a function step(key, water) -> water, e.g. one that lets a tap refill the bottle.")
    try:
        grid = jnp.linspace(0.0, 1.0, 11)
        after = np.asarray(jax.vmap(lambda w: step(jax.random.key(0), w))(grid))
        if after.shape != (11,) or not np.all(np.isfinite(after)):
            return _fail("step must return one water level (a float scalar) for one water level.")
        if after.min() < -1e-6 or after.max() > 1 + 1e-6:
            return _fail("The bottle overflows or holds negative water: keep the level within [0, 1].")
        r = refill_measures(step)
    except Exception as e:  # noqa: BLE001 - a checker reports, it never raises
        return _fail(f"Calling step failed: {type(e).__name__}: {e}"[:300])
    basin, recovery = r["basin"].rate, r["recovery"].rate
    if basin < 0.95 or recovery < 0.95:
        return _fail(f"Not yet an optimizing system: basin {basin:.2f}, recovery {recovery:.2f} (want both >= 0.95 "
                     "after 30 and 20 steps). The bottle must move water *in* from any level.")
    print(f"Correct: basin {basin:.2f}, recovery {recovery:.2f}, against a target that holds "
          f"{r['target'].rate:.2f} of the starts. A tap with a float valve is an optimizing system in Flint's sense; "
          "it runs no search at all.")
    return True
