"""Summaries over seeds and tasks: means with confidence intervals.

Bootstrap intervals use SciPy's ``scipy.stats.bootstrap`` (percentile method by default);
for long curves the normal approximation is exact enough and much cheaper.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.stats

from mesalib import validate


_HUGE = 1e150   # beyond this, squared deviations overflow float64 and the interval would be inf or NaN


class Summary(NamedTuple):
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int


def mean_ci(samples, axis: int = 0, level: float = 0.95, method: str = "bootstrap",
            n_resamples: int = 2000, seed: int = 0) -> Summary:
    """Mean of ``samples`` along ``axis`` with a ``level`` confidence interval.

    method: "bootstrap" (percentile bootstrap over the samples), "normal" (mean ± z·SE, for many
    samples) or "t" (mean ± t·SE with n − 1 degrees of freedom: the interval to use over a few
    training seeds). NaN or infinite samples are rejected, not averaged into a NaN interval.
    """
    try:
        x = np.asarray(samples, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"samples must be an array of real numbers, got {type(samples).__name__}") from None
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    validate.choice("method", method, {"bootstrap", "normal", "t"})
    if x.ndim == 0:
        raise ValueError("samples must have at least one dimension")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"samples must be finite; got {int(np.isnan(x).sum())} NaN and "
                         f"{int(np.isinf(x).sum())} infinite value(s)")
    axis = validate.integer("axis", axis, minimum=-x.ndim, maximum=x.ndim - 1)
    validate.integer("seed", seed, minimum=0)
    n = x.shape[axis]
    if n < 2:
        raise ValueError(f"samples needs at least 2 values along axis {axis}, got {n}")
    if np.abs(x).max() > _HUGE:
        raise ValueError(f"samples must be smaller than {_HUGE:.0e} in magnitude (their sums would overflow float64); "
                         "rescale them first")
    mean = x.mean(axis=axis)
    if method in ("normal", "t"):
        se = x.std(axis=axis, ddof=1) / np.sqrt(n)
        z = scipy.stats.norm.ppf(0.5 + level / 2) if method == "normal" else scipy.stats.t.ppf(0.5 + level / 2, n - 1)
        return Summary(mean, mean - z * se, mean + z * se, n)
    validate.integer("n_resamples", n_resamples, minimum=100)
    if np.all(np.ptp(x, axis=axis) == 0):  # a constant sample has a degenerate interval
        return Summary(mean, mean.copy(), mean.copy(), n)
    res = scipy.stats.bootstrap((x,), np.mean, axis=axis, confidence_level=level, n_resamples=n_resamples,
                                method="percentile", rng=np.random.default_rng(seed), vectorized=True)
    return Summary(mean, np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high), n)


def format_ci(s: Summary, digits: int = 2) -> str:
    """'6.64 [6.58, 6.70]' for a scalar summary."""
    validate.instance("s", s, Summary, "a stats.Summary (from stats.mean_ci)")
    digits = validate.integer("digits", digits, minimum=0, maximum=15)
    for field in ("mean", "low", "high"):
        v = getattr(s, field)
        if np.ndim(v) != 0:
            raise ValueError(f"s.{field} must be a scalar (format one interval at a time), got shape {np.shape(v)}")
        validate.real(f"s.{field}", v)
    return f"{float(s.mean):.{digits}f} [{float(s.low):.{digits}f}, {float(s.high):.{digits}f}]"


def window_means(x, num_windows: int = 30):
    """Average consecutive rows of ``x: (steps, ...)`` into at most ``num_windows`` windows.

    Returns (means: (windows, ...), window length). Trailing steps that do not fill a window are
    dropped; a training curve smoothed this way keeps its shape at any number of steps.
    """
    num_windows = validate.integer("num_windows", num_windows, minimum=1)
    if np.ndim(x) == 0 and not isinstance(x, (str, bytes)):
        raise ValueError("x must have a leading axis of steps")
    x = validate.array("x", x, allow_empty=True).astype(np.float64)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError("x must have a leading axis of steps")
    window = max(1, x.shape[0] // num_windows)
    usable = x.shape[0] // window * window
    return x[:usable].reshape(usable // window, window, *x.shape[1:]).mean(axis=1), window


def wilson(successes, trials, level: float = 0.95):
    """Wilson score interval for a binomial proportion (SciPy's ``binomtest``): (low, high).

    ``successes`` and ``trials`` are integers (or integer arrays of one shape) with
    0 <= successes <= trials and trials >= 1.
    """
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    k, n = validate.array("successes", successes), validate.array("trials", trials)
    if k.shape != n.shape:
        raise ValueError(f"successes and trials must have the same shape, got {k.shape} and {n.shape}")
    if not (np.issubdtype(k.dtype, np.integer) and np.issubdtype(n.dtype, np.integer)):
        raise ValueError("successes and trials must be integers")
    if np.any(n < 1):
        raise ValueError("trials must be >= 1 (an interval from zero trials is undefined)")
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("successes must lie in [0, trials]")
    out = [scipy.stats.binomtest(int(a), int(b)).proportion_ci(confidence_level=level, method="wilson")
           for a, b in zip(k.reshape(-1), n.reshape(-1))]
    low = np.array([o.low for o in out]).reshape(k.shape)
    high = np.array([o.high for o in out]).reshape(k.shape)
    return (float(low), float(high)) if k.ndim == 0 else (low, high)


def curve_frame(curves: dict, points: int = 25, level: float = 0.95, x: str = "step", y: str = "value"):
    """Mean curves with normal-approximation CIs at ``points`` positions, one group per name.

    curves: {name: (samples, T) array} (e.g. cumulative regret per task) -> long DataFrame with
    columns (algorithm, ``x`` (1-based position), ``y``, low, high), ready for plots.line_band.
    """
    import pandas as pd

    frames = []
    for name, values in curves.items():
        v = np.asarray(values, np.float64)
        if v.ndim != 2:
            raise ValueError(f"curves[{name!r}] must be a (samples, T) array, got shape {v.shape}")
        n = v.shape[1]
        idx = np.unique(np.linspace(0, n - 1, min(validate.integer("points", points, minimum=1), n)).round().astype(int))
        s = mean_ci(v[:, idx], axis=0, method="normal", level=level)
        frames.append(pd.DataFrame({"algorithm": name, x: idx + 1, y: s.mean, "low": s.low, "high": s.high}))
    return pd.concat(frames, ignore_index=True)


def with_missing(rows, missing: dict):
    """A DataFrame from ``rows`` (a list of dicts) in which an undefined cell (a share of an empty
    group, a published value the paper did not give) is an explicit missing value. The columns
    named in ``missing`` ({column: "Float64" or "Int64"}) use pandas' nullable dtypes, so a cell
    that a row gives as None, or leaves out, reads ``<NA>`` and is never confused with a NaN
    computed from data; a NaN or infinite value in those columns is an error."""
    import pandas as pd

    rows = list(rows)
    validate.instance("missing", missing, dict, "a dict of column -> 'Float64' or 'Int64'")
    frame = pd.DataFrame(rows)
    for col, dtype in missing.items():
        if dtype not in ("Float64", "Int64"):
            raise ValueError(f"missing[{col!r}] must be 'Float64' or 'Int64', got {dtype!r}")
        values = [row.get(col) for row in rows]
        if any(v is not None and not np.isfinite(float(v)) for v in values):
            raise ValueError(f"column {col!r} holds NaN or infinite values; an undefined cell must be None")
        frame[col] = pd.array(values, dtype=dtype)
    return frame
