"""Looking inside trained networks: capture activations, fit linear probes, intervene.

A **linear probe** is a ridge regression from a layer's activations to a quantity we suspect the
network computes; its *held-out* R² (on inputs, or whole episodes, it never saw) says how much of
that quantity a linear read-out can recover (Alain and Bengio 2016). A probe shows that
information is *present*, not that the network *uses* it, so the module also holds the
interventions that test use: moving activations along a probe's direction (:func:`edit`),
adding a steering vector made from activation differences (:func:`steering_vector`), and
running an MLP with an edit applied to one hidden layer (:func:`mlp_forward`).

Probes are fitted in float64 NumPy (closed form), so results do not depend on the device.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import validate, verify

DEFAULT_ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


# --------------------------------------------------------------------------------------------- capture

def capture(cell: Callable, params, h0: jax.Array, xs: jax.Array) -> jax.Array:
    """Every state of a recurrent ``cell(params, h, x) -> h`` run over inputs ``xs: (T, in)``.

    Returns (T, hidden): row t is the state after input t. One sequence; ``jax.vmap`` for a batch.
    """
    def step(h, x):
        h = cell(params, h, x)
        return h, h

    return jax.lax.scan(step, h0, xs)[1]


def mlp_forward(layers: list, x: jax.Array, at: int = 0, edit: Callable | None = None,
                activation=jax.nn.relu) -> tuple:
    """Run an MLP (a list of ``{"w", "b"}`` layers) on one input, optionally editing one layer.

    ``edit(h) -> h`` is applied to the post-activation of hidden layer ``at`` (0 = the first
    hidden layer) before the next layer reads it. Every layer is followed by ``activation``
    (a torso whose output feeds separate heads). Returns (output of the last layer, the hidden
    activation of layer ``at`` *after* the edit).
    """
    if not 0 <= at < len(layers):
        raise ValueError(f"at must index one of the {len(layers)} layers, got {at}")
    seen = None
    for i, layer in enumerate(layers):
        x = activation(x @ layer["w"] + layer["b"])
        if i == at:
            if edit is not None:
                x = edit(x)
            seen = x
    return x, seen


# --------------------------------------------------------------------------------------------- probes

class Probe(NamedTuple):
    """A fitted linear read-out ``features @ weights + bias``: weights (p, k), bias (k,) in the
    features' own units; alpha (k,): each target's ridge penalty (per sample, on standardized
    features)."""
    weights: np.ndarray
    bias: np.ndarray
    alpha: np.ndarray


class ProbeFit(NamedTuple):
    """:func:`fit_probe`'s result: the probe refitted on the training rows, its held-out R² per
    target (k,), and which rows were held out (bool (n,))."""
    probe: Probe
    r2: np.ndarray
    test: np.ndarray


def _as_matrix(name: str, x) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(f"{name} must have shape (n, p) with n >= 2, got {np.shape(x)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def _check_pair(features, targets):
    x = _as_matrix("features", features)
    y = _as_matrix("targets", targets)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"features and targets need the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    return x, y


class _Gram(NamedTuple):
    """Sufficient statistics of a ridge fit on standardized features (reused across penalties)."""
    mean: np.ndarray
    std: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    y_mean: np.ndarray


def _gram(x: np.ndarray, y: np.ndarray) -> _Gram:
    mean, std = x.mean(0), x.std(0)
    std = np.where(std > 1e-12, std, 1.0)  # constant features get no weight, not a division by zero
    xs = (x - mean) / std
    n = x.shape[0]
    y_mean = y.mean(0)
    return _Gram(mean, std, xs.T @ xs / n, xs.T @ (y - y_mean) / n, y_mean)


def _solve(g: _Gram, alpha) -> Probe:
    """Ridge weights for one penalty, or one penalty per target column (alpha: (k,))."""
    alpha = np.broadcast_to(np.asarray(alpha, np.float64), g.xy.shape[1:])
    eye = np.eye(g.xx.shape[0])
    w = np.stack([np.linalg.solve(g.xx + a * eye, g.xy[:, j]) for j, a in enumerate(alpha)], axis=1)
    weights = w / g.std[:, None]
    return Probe(weights, g.y_mean - g.mean @ weights, alpha.copy())


def _ridge(x: np.ndarray, y: np.ndarray, alpha) -> Probe:
    return _solve(_gram(x, y), alpha)


def ridge_fit(features, targets, alpha: float = 1e-2) -> Probe:
    """Ridge regression of ``targets: (n, k)`` (or (n,)) on ``features: (n, p)``; returns a
    :class:`Probe`.

    The penalty ``alpha`` acts on standardized features and per sample (it minimizes
    mean squared error + alpha * |w|^2), so one value suits layers of any width and scale.
    """
    x, y = _check_pair(features, targets)
    alpha = validate.real("alpha", alpha, low=0.0, low_open=True)
    return _ridge(x, y, alpha)


def _probe(probe, name: str = "probe") -> "Probe":
    return validate.instance(name, probe, Probe, "a probes.Probe (from ridge_fit or fit_probe)")


def subset(probe: Probe, columns) -> Probe:
    """The probe restricted to some of its targets (e.g. before editing along them)."""
    _probe(probe)
    cols = np.atleast_1d(np.asarray(columns))
    if cols.size == 0 or cols.min() < 0 or cols.max() >= probe.weights.shape[1]:
        raise ValueError(f"columns must index the probe's {probe.weights.shape[1]} targets, got {columns!r}")
    return Probe(probe.weights[:, cols], probe.bias[cols], np.asarray(probe.alpha)[cols])


def predict(probe: Probe, features) -> np.ndarray:
    """The probe's read-out of ``features: (n, p)``: (n, k)."""
    _probe(probe)
    x = _as_matrix("features", features)
    if x.shape[1] != probe.weights.shape[0]:
        raise ValueError(f"features has {x.shape[1]} columns but the probe was fitted on {probe.weights.shape[0]}")
    return x @ probe.weights + probe.bias


def r2_score(targets, predictions) -> np.ndarray:
    """Coefficient of determination per column, 1 - SSE / SST: (k,). A constant target gives NaN."""
    y, p = _as_matrix("targets", targets), _as_matrix("predictions", predictions)
    if y.shape != p.shape:
        raise ValueError(f"targets and predictions must have the same shape, got {y.shape} and {p.shape}")
    sst = ((y - y.mean(0)) ** 2).sum(0)
    sse = ((y - p) ** 2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), np.nan)


def group_split(key, groups, test_fraction: float = 0.25) -> np.ndarray:
    """Hold out whole groups (e.g. every step of one episode): a bool (n,) mask of test rows.

    Splitting rows at random would let a probe score on time steps of episodes it trained on;
    splitting by group is the honest held-out test. ``groups``: (n,) integer labels.
    """
    validate.prng_key("key", key)
    g = np.asarray(groups)
    if g.ndim != 1 or g.size < 2:
        raise ValueError(f"groups must be a 1-D array of labels with at least 2 entries, got shape {g.shape}")
    test_fraction = validate.real("test_fraction", test_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    labels = np.unique(g)
    if labels.size < 2:
        raise ValueError("groups must contain at least two distinct labels")
    order = np.asarray(jax.random.permutation(key, labels.size))
    n_test = min(max(1, int(round(test_fraction * labels.size))), labels.size - 1)
    return np.isin(g, labels[order[:n_test]])


def fit_probe(key, features, targets, groups=None, alphas=DEFAULT_ALPHAS, test_fraction: float = 0.25) -> ProbeFit:
    """Fit a ridge probe and score it on held-out groups.

    The rows of ``test_fraction`` of the groups are held out; each target's penalty is chosen
    from ``alphas`` on a further validation split of the training groups, then the probe is
    refitted on all training rows. ``groups`` default: every row its own group.
    """
    validate.prng_key("key", key)
    x, y = _check_pair(features, targets)
    g = np.arange(x.shape[0]) if groups is None else np.asarray(groups)
    if g.shape != (x.shape[0],):
        raise ValueError(f"groups must have one label per row ({x.shape[0]}), got shape {g.shape}")
    alphas = tuple(alphas)
    if not alphas:
        raise ValueError("alphas must list at least one penalty")
    for i, a in enumerate(alphas):
        validate.real(f"alphas[{i}]", a, low=0.0, low_open=True)
    k_test, k_val = jax.random.split(key)
    test = group_split(k_test, g, test_fraction)
    val = np.zeros_like(test)
    val[~test] = group_split(k_val, g[~test], test_fraction)
    fit_rows = ~test & ~val
    gram = _gram(x[fit_rows], y[fit_rows])
    scores = np.stack([r2_score(y[val], predict(_solve(gram, a), x[val])) for a in alphas])  # (alphas, k)
    best = np.argmax(np.where(np.isfinite(scores), scores, -np.inf), axis=0)
    probe = _ridge(x[~test], y[~test], np.asarray(alphas, np.float64)[best])
    return ProbeFit(probe, r2_score(y[test], predict(probe, x[test])), test)


# --------------------------------------------------------------------------------------------- interventions

def edit_direction(probe: Probe, index: int, hold_others: bool = True) -> np.ndarray:
    """The smallest change of the features that raises read-out ``index`` by 1: (p,).

    With ``hold_others`` the other read-outs stay unchanged (the minimum-norm solution of
    ``d @ W = e_index``); otherwise it is ``w_index / |w_index|^2``.
    """
    w = np.asarray(probe.weights, np.float64)
    index = validate.integer("index", index, minimum=0, maximum=w.shape[1] - 1)
    if not hold_others or w.shape[1] == 1:
        col = w[:, index]
        return col / (col @ col)
    e = np.zeros(w.shape[1])
    e[index] = 1.0
    return np.linalg.lstsq(w.T, e, rcond=None)[0]


def edit(probe: Probe, features, index: int, delta: float, hold_others: bool = True) -> np.ndarray:
    """Move ``features: (n, p)`` so that the probe's read-out ``index`` changes by ``delta``."""
    _probe(probe)
    x = _as_matrix("features", features)
    delta = validate.real("delta", delta)
    if x.shape[1] != probe.weights.shape[0]:
        raise ValueError(f"features has {x.shape[1]} columns but the probe was fitted on {probe.weights.shape[0]}")
    return x + delta * edit_direction(probe, index, hold_others)


def steering_vector(acts_to, acts_from) -> np.ndarray:
    """Mean activation difference ``mean(acts_to) - mean(acts_from)`` over rows: (p,).

    Added to a layer, it pushes the network from the situations of ``acts_from`` toward those of
    ``acts_to`` (activation addition; Turner et al. 2023, Mini et al. 2023).
    """
    a = _as_matrix("acts_to", acts_to)
    b = _as_matrix("acts_from", acts_from)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"acts_to and acts_from need the same width, got {a.shape[1]} and {b.shape[1]}")
    return a.mean(0) - b.mean(0)


def layer_probe(params, layer: int, x, target):
    """Fit a least-squares linear probe of hidden layer ``layer``'s post-ReLU activations to ``target``.

    x: (n, d); target: (n,). Returns (probe_params, r2): ``probe_params`` is an MLP whose single
    output is the probe's reading, so a proposition about the probe is an output property that
    :mod:`mesalib.verify` can check.
    """
    p = verify.check_params(params)
    layer = validate.integer("layer", layer, minimum=1, maximum=len(p) - 1)
    x, target = np.asarray(x, np.float64), np.asarray(target, np.float64)
    if x.ndim != 2 or x.shape[1] != p[0]["w"].shape[0] or target.shape != x.shape[:1]:
        raise ValueError(f"x must be (n, {p[0]['w'].shape[0]}) and target (n,), got {x.shape} and {target.shape}")
    h = x
    for lay in p[:layer]:
        h = np.maximum(h @ lay["w"] + lay["b"], 0.0)
    design = np.concatenate([h, np.ones((len(h), 1))], axis=1)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    resid = target - design @ coef
    r2 = 1.0 - resid.var() / target.var()
    return p[:layer] + [{"w": coef[:-1, None], "b": coef[-1:]}], float(r2)
