"""Summaries over seeds and tasks: means with confidence intervals.

Bootstrap intervals use SciPy's ``scipy.stats.bootstrap`` (percentile method by default);
for long curves the normal approximation is exact enough and much cheaper.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.stats

from mesalib import validate


class Summary(NamedTuple):
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int


def mean_ci(samples, axis: int = 0, level: float = 0.95, method: str = "bootstrap",
            n_resamples: int = 2000, seed: int = 0) -> Summary:
    """Mean of ``samples`` along ``axis`` with a ``level`` confidence interval.

    method: "bootstrap" (percentile bootstrap over the samples) or "normal" (mean ± z·SE).
    """
    x = np.asarray(samples, dtype=np.float64)
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    validate.choice("method", method, {"bootstrap", "normal"})
    if x.ndim == 0:
        raise ValueError("samples must have at least one dimension")
    axis = validate.integer("axis", axis, minimum=-x.ndim, maximum=x.ndim - 1)
    n = x.shape[axis]
    if n < 2:
        raise ValueError(f"samples needs at least 2 values along axis {axis}, got {n}")
    mean = x.mean(axis=axis)
    if method == "normal":
        se = x.std(axis=axis, ddof=1) / np.sqrt(n)
        z = scipy.stats.norm.ppf(0.5 + level / 2)
        return Summary(mean, mean - z * se, mean + z * se, n)
    validate.integer("n_resamples", n_resamples, minimum=100)
    if np.all(np.ptp(x, axis=axis) == 0):  # a constant sample has a degenerate interval
        return Summary(mean, mean.copy(), mean.copy(), n)
    res = scipy.stats.bootstrap((x,), np.mean, axis=axis, confidence_level=level, n_resamples=n_resamples,
                                method="percentile", rng=np.random.default_rng(seed), vectorized=True)
    return Summary(mean, np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high), n)


def format_ci(s: Summary, digits: int = 2) -> str:
    """'6.64 [6.58, 6.70]' for a scalar summary."""
    return f"{float(s.mean):.{digits}f} [{float(s.low):.{digits}f}, {float(s.high):.{digits}f}]"


def window_means(x, num_windows: int = 30):
    """Average consecutive rows of ``x: (steps, ...)`` into at most ``num_windows`` windows.

    Returns (means: (windows, ...), window length). Trailing steps that do not fill a window are
    dropped; a training curve smoothed this way keeps its shape at any number of steps.
    """
    x = np.asarray(x, dtype=np.float64)
    num_windows = validate.integer("num_windows", num_windows, minimum=1)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError("x must have a leading axis of steps")
    window = max(1, x.shape[0] // num_windows)
    usable = x.shape[0] // window * window
    return x[:usable].reshape(usable // window, window, *x.shape[1:]).mean(axis=1), window
