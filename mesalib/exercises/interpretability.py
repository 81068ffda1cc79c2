"""Checkers for the exercises of Chapter 4 (interpretability).

Every checker prints what is right or wrong and returns True or False; none raises on a wrong or
missing answer, so a notebook keeps running top to bottom. Right answers are computed from the
library, never typed in.
"""
from __future__ import annotations


import numpy as np

from mesalib import nn, probes
from mesalib.experiments import interpretability as ex
from mesalib.exercises.common import fail as _fail, number as _number


def check_step_size(answer, layer: dict) -> bool:
    """answer: the step size of the gradient-descent step that the one-layer LSA ``layer``
    (a dict with "wq", "wk", "wv") performs, read off its weights (within 0.002)."""
    value = _number(answer)
    if value is None:
        return _fail("Give one number. Hint: the prediction is -(last row of W_V) . C . (W_K^T W_Q) e_q; "
                     "multiply the value's y-entry by the mean diagonal of the key-query product's x-block.")
    want = float(nn.lsa_as_gd(layer)["step"])
    if abs(value - want) > 2e-3:
        hint = " (check the sign: the prediction is the *negated* last coordinate)" if abs(value + want) < 2e-3 else ""
        return _fail(f"Not yet: {value:.4f} is not the step size this layer performs{hint}. Compute "
                     "M = W_K^T W_Q and v = -W_V[-1]; the step is v[-1] times the mean of diag(M[:d, :d]).")
    print(f"Correct: this layer takes a gradient step of size {want:.3f} on the in-context least-squares loss.")
    return True


def check_theory(step, loss, dim: int, context: int) -> bool:
    """step, loss: the best single GD step's size and its expected squared error for ``dim``
    dimensions and ``context`` pairs (within 1%)."""
    s, l_ = _number(step), _number(loss)
    if s is None or l_ is None:
        return _fail("Give two numbers: the step size and the expected squared error of the best single step.")
    want = ex.gd_theory(dim, context)
    ok_s = abs(s - want["step"]) <= 0.01 * want["step"]
    ok_l = abs(l_ - want["loss"]) <= 0.01 * want["loss"]
    if not ok_s or not ok_l:
        wrong = " and ".join(n for n, ok in (("the step", ok_s), ("the loss", ok_l)) if not ok)
        return _fail(f"Not yet: {wrong} is off. Use E[S^2] = (N + d + 1)/N I for S = (1/N) sum x_j x_j^T: "
                     "the best step is its inverse and the loss is d minus d times that step.")
    print(f"Correct: for d = {dim} and N = {context} the best step is {want['step']:.3f} and leaves an "
          f"expected squared error of {want['loss']:.3f}; a layer trained at N = 10 keeps its step of 0.476.")
    return True


def pulls_r2(key, hidden, pulls, groups) -> float:
    """Mean held-out R² over arms of a ridge probe decoding ``pulls`` (n, k) from ``hidden`` (n, p)."""
    return float(np.mean(probes.fit_probe(key, hidden, pulls, groups).r2))


def check_pulls_probe(answer, key, hidden, pulls, groups) -> bool:
    """answer: the mean held-out R² (over arms) of ``probes.fit_probe(key, hidden, pulls, groups)``,
    decoding how often each arm has been pulled (within 0.01)."""
    value = _number(answer)
    if value is None or not -1 <= value <= 1:
        return _fail("Give the mean over arms of fit.r2, a number at most 1, where "
                     "fit = probes.fit_probe(key, hidden, pulls, groups).")
    want = pulls_r2(key, hidden, pulls, groups)
    if abs(value - want) > 0.01:
        return _fail(f"Not yet: {value:.3f} is off. Use the same key, the hidden states, the pull counts "
                     "(successes + failures before each pull) and the episode labels as groups.")
    print(f"Correct: a linear read-out recovers the pull counts with held-out R² = {want:.2f}.")
    return True


def check_accepted(answer, result) -> bool:
    """answer: how many agents of the pool the steerability check accepts (``result`` from
    :func:`mesalib.experiments.interpretability.run_agents`)."""
    value = _number(answer)
    if value is None or value != int(value):
        return _fail("Give a whole number of agents.")
    want = int((np.asarray(result.steerability) >= result.config.accept_threshold).sum())
    if int(value) != want:
        return _fail(f"Not yet: count the agents whose steerability is at least {result.config.accept_threshold}.")
    total = int(np.size(result.steerability))
    print(f"Correct: {want} of {total} agents pass; the other {total - want} training runs are discarded.")
    return True

