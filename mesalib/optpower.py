"""What counts as an optimizer, measured: optimization power in bits and Flint's criteria.

Two measures from the discussion of "what is an optimizer?" that the book's conclusion needs:

* **Optimization power in bits** (Yudkowsky 2008). Rank the possible outcomes by a preference
  ordering and weigh them by a reference distribution (for a finite space of equally likely
  outcomes: count them). The power of a system that achieved outcome ``x`` is
  ``-log2 P_ref(score >= score(x))``: how small a target, relative to the whole space, the
  achieved outcome belongs to. Eight equally likely outcomes ranked 0..7 give 3 bits for the
  best, 2 for the second best and 1 for the fourth best. :func:`power_bits` computes it over an
  enumerated space, :func:`power_bits_sampled` from samples of the reference distribution.
* **An optimizing system** (Flint 2020): a system whose configuration moves into a small
  *target set* from anywhere in a broad *basin of attraction*, and returns there when it is
  perturbed along the way. :func:`measure` estimates the three ingredients for any system given
  as pure JAX functions (:class:`System`): the size of the target under a reference draw of
  configurations, the share of that draw that ends in the target (the basin), and the share that
  returns after a perturbation (recovery). :func:`measure_family` does the same for a family of
  systems (say, one trained network per seed) in one compiled program.

A system is three pure functions over a state pytree: ``step(key, state) -> state`` (one time
step; a deterministic system ignores the key), ``sample(key) -> state`` (a draw of initial
configurations: the candidate basin, and the reference for the target's size) and
``in_target(state) -> bool``. A perturbation is ``perturb(key, state) -> state``. Everything is
``vmap``-ed over samples and compiled once per (system, perturbation, step counts). Constructors
for three small systems with closed-form answers are included: gradient descent on a quadratic
(:func:`quadratic_descent`), and a capped bottle that keeps its water in but never refills
(:func:`bottle_cap`, after Filan 2018).
"""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from mesalib import validate

# ---------------------------------------------------------------------------------------------
# Optimization power in bits
# ---------------------------------------------------------------------------------------------


def _scores(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of scores, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain finite numbers")
    return arr


def _achieved(value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1:
        raise ValueError(f"achieved must be a score or a 1-D array of scores, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("achieved must contain finite numbers")
    return arr


def fraction_at_least(achieved, scores, probs=None) -> jax.Array:
    """Reference probability of the outcomes scoring at least ``achieved``.

    scores: (n,) the score of every outcome of the space; probs: (n,) their reference
    probabilities (non-negative, normalized here; default: equally likely). achieved: a score or
    (m,) scores. Returns the same shape as ``achieved``.
    """
    a = _achieved(achieved)
    s = _scores("scores", scores)
    if probs is None:
        p = np.full(s.shape, 1.0 / s.size)
    else:
        p = np.asarray(probs, dtype=np.float64)
        if p.shape != s.shape:
            raise ValueError(f"probs must have the shape of scores {s.shape}, got {p.shape}")
        if not np.all(np.isfinite(p)) or p.min() < 0 or p.sum() <= 0:
            raise ValueError("probs must be non-negative finite weights with a positive sum")
        p = p / p.sum()
    order = np.argsort(s, kind="stable")
    s, p = s[order], p[order]
    tail = np.cumsum(p[::-1])[::-1]                 # tail[i] = P(score >= s[i]) in sorted order
    return jnp.asarray(_tail_at(jnp.asarray(s), jnp.asarray(tail), jnp.asarray(a)))


@jax.jit
def _tail_at(sorted_scores, tail, achieved):
    n = sorted_scores.shape[0]
    idx = jnp.searchsorted(sorted_scores, achieved, side="left")   # first outcome at least as good
    return jnp.where(idx < n, tail[jnp.minimum(idx, n - 1)], 0.0)


def power_bits(achieved, scores, probs=None) -> jax.Array:
    """Optimization power in bits of having achieved ``achieved``: ``-log2`` of the reference
    probability of outcomes at least as good (Yudkowsky 2008).

    scores, probs: the outcome space as in :func:`fraction_at_least`. An achieved score above
    every outcome of positive probability is not an outcome of the space and raises.
    """
    frac = fraction_at_least(achieved, scores, probs)
    if np.any(np.asarray(frac) <= 0):
        raise ValueError("achieved must not exceed the best outcome of positive probability in scores")
    return -jnp.log2(frac)


def power_bits_sampled(achieved, samples) -> jax.Array:
    """Optimization power in bits against ``samples`` (n,) scores drawn from the reference
    distribution, estimated as ``-log2((k + 1) / (n + 1))`` with k the samples at least as good.

    Counting the achieved outcome as one more draw keeps the estimate finite and conservative:
    it never exceeds ``log2(n + 1)`` bits, the most that n samples can show.
    """
    a = _achieved(achieved)
    s = _scores("samples", samples)
    k = (s[None, :] >= a.reshape(-1, 1)).sum(1).reshape(a.shape)
    return jnp.asarray(-np.log2((k + 1.0) / (s.size + 1.0)))


# ---------------------------------------------------------------------------------------------
# Flint's optimizing systems
# ---------------------------------------------------------------------------------------------


class System(NamedTuple):
    """A dynamical system as three pure functions over a state pytree (see the module docstring).

    step: (key, state) -> state; sample: key -> state; in_target: state -> () bool.
    """
    step: Callable
    sample: Callable
    in_target: Callable


class Measures(NamedTuple):
    """Per-sample outcomes of :func:`measure` (leading axis: samples; may carry a seed axis first).

    start: the sampled configuration is already in the target; end: in the target after
    ``steps`` undisturbed steps; displaced: out of the target just after the perturbation;
    recovered: in the target at the end of the perturbed run; path: (..., steps + 1) in the target
    at every step of the undisturbed run; recovery_path: (..., steps_after + 1) the same from the
    perturbation on. All bool.
    """
    start: jax.Array
    end: jax.Array
    displaced: jax.Array
    recovered: jax.Array
    path: jax.Array
    recovery_path: jax.Array


def check_system(system, name: str = "system") -> System:
    """A :class:`System` of three callables."""
    if not isinstance(system, System):
        raise ValueError(f"{name} must be an optpower.System(step, sample, in_target), got {type(system).__name__}")
    for field in System._fields:
        if not callable(getattr(system, field)):
            raise ValueError(f"{name}.{field} must be a function, got {type(getattr(system, field)).__name__}")
    return system


def _check_shapes(key, system: System, perturb):
    """Trace the system once (no computation) to catch wrong signatures before compiling."""
    try:
        state = jax.eval_shape(system.sample, key)
    except Exception as e:  # noqa: BLE001 - re-raised with the parameter's name
        raise ValueError(f"system.sample(key) failed: {e}") from e
    try:
        flag = jax.eval_shape(system.in_target, state)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"system.in_target(state) failed on a sampled state: {e}") from e
    if not hasattr(flag, "shape") or flag.shape != () or flag.dtype != jnp.bool_:
        raise ValueError(f"system.in_target must return one bool per state, got {flag}")
    for label, fn in (("system.step", system.step), ("perturb", perturb)):
        if fn is None:
            continue
        try:
            out = jax.eval_shape(fn, key, state)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{label}(key, state) failed on a sampled state: {e}") from e
        if jax.tree_util.tree_structure(out) != jax.tree_util.tree_structure(state) or any(
                (a.shape, a.dtype) != (b.shape, b.dtype)
                for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(state))):
            raise ValueError(f"{label} must return a state of the same structure, shapes and dtypes as system.sample")


def _advance(system: System, key, state, steps: int):
    """``steps`` steps from ``state``: (final state, in-target flags (steps,))."""
    def body(s, k):
        s = system.step(k, s)
        return s, system.in_target(s)

    return jax.lax.scan(body, state, jax.random.split(key, steps))


def _measure_one(system: System, perturb, steps: int, perturb_at: int, steps_after: int, key) -> Measures:
    k_start, k_before, k_perturb, k_after, k_rest = jax.random.split(key, 5)
    s0 = system.sample(k_start)
    start = system.in_target(s0)
    mid, before = _advance(system, k_before, s0, perturb_at)
    end_state, rest = _advance(system, k_rest, mid, steps - perturb_at)
    path = jnp.concatenate([start[None], before, rest])
    if perturb is None:
        return Measures(start, system.in_target(end_state), jnp.bool_(False), jnp.bool_(False), path,
                        jnp.zeros(steps_after + 1, bool))
    pushed = perturb(k_perturb, mid)
    displaced = ~system.in_target(pushed)
    final, after = _advance(system, k_after, pushed, steps_after)
    return Measures(start, system.in_target(end_state), displaced, system.in_target(final), path,
                    jnp.concatenate([(~displaced)[None], after]))


@functools.lru_cache(maxsize=32)
def _measure_fn(system: System, perturb, steps: int, perturb_at: int, steps_after: int):
    one = functools.partial(_measure_one, system, perturb, steps, perturb_at, steps_after)
    return jax.jit(jax.vmap(one))


@functools.lru_cache(maxsize=32)
def _family_fn(make_system: Callable, perturb, steps: int, perturb_at: int, steps_after: int):
    def per_member(params, keys):
        one = functools.partial(_measure_one, make_system(params), perturb, steps, perturb_at, steps_after)
        return jax.vmap(one)(keys)

    return jax.jit(jax.vmap(per_member))


def _check_counts(steps, samples, perturb, perturb_at, steps_after):
    steps = validate.integer("steps", steps, minimum=1)
    samples = validate.integer("samples", samples, minimum=2)
    if perturb is not None and not callable(perturb):
        raise ValueError(f"perturb must be a function (key, state) -> state or None, got {type(perturb).__name__}")
    perturb_at = validate.integer("perturb_at", perturb_at, minimum=0, maximum=steps)
    steps_after = steps - perturb_at if steps_after is None else validate.integer("steps_after", steps_after, minimum=0)
    return steps, samples, perturb_at, steps_after


def measure(key, system: System, steps: int, samples: int = 1000, perturb: Callable | None = None,
            perturb_at: int = 0, steps_after: int | None = None) -> Measures:
    """Flint's criteria for ``system`` on ``samples`` sampled starting configurations.

    Each sample runs ``steps`` undisturbed steps. With a ``perturb(key, state) -> state`` the same
    sample (same keys) is also run ``perturb_at`` steps, perturbed, and run ``steps_after`` more
    steps (default ``steps - perturb_at``). Returns per-sample :class:`Measures`; summarize with
    :func:`rates`. ``system``, ``perturb`` and the step counts key one compiled program, so
    define them once rather than as fresh lambdas per call.
    """
    validate.prng_key("key", key)
    check_system(system)
    steps, samples, perturb_at, steps_after = _check_counts(steps, samples, perturb, perturb_at, steps_after)
    _check_shapes(key, system, perturb)
    return _measure_fn(system, perturb, steps, perturb_at, steps_after)(jax.random.split(key, samples))


def measure_family(key, make_system: Callable, params, steps: int, samples: int = 1000,
                   perturb: Callable | None = None, perturb_at: int = 0, steps_after: int | None = None) -> Measures:
    """:func:`measure` for a family of systems ``make_system(p) -> System``, one per member ``p`` of
    ``params`` (a pytree whose leaves have a leading axis, e.g. one trained network per seed).

    All members run in one compiled program (a ``vmap`` over members); the result's arrays have a
    leading member axis, (members, samples, ...), so :func:`rates` gives intervals over members.
    ``make_system`` must build the system from its argument alone (it is traced).
    """
    validate.prng_key("key", key)
    if not callable(make_system):
        raise ValueError(f"make_system must be a function params -> System, got {type(make_system).__name__}")
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves or any(np.ndim(x) == 0 for x in leaves) or len({np.shape(x)[0] for x in leaves}) != 1:
        raise ValueError("params must be a pytree whose leaves share a leading axis (one entry per member)")
    members = np.shape(leaves[0])[0]
    steps, samples, perturb_at, steps_after = _check_counts(steps, samples, perturb, perturb_at, steps_after)
    first = make_system(jax.tree_util.tree_map(lambda x: x[0], params))
    check_system(first, "make_system(params[0])")
    _check_shapes(key, first, perturb)
    keys = jax.random.split(key, members * samples).reshape(members, samples)
    return _family_fn(make_system, perturb, steps, perturb_at, steps_after)(params, keys)


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------


class Rate(NamedTuple):
    """A share with its interval: ``n`` counts samples (one seed) or training seeds (several)."""
    rate: float
    low: float
    high: float
    n: int


def binomial_rate(successes, level: float = 0.95) -> Rate:
    """Share of True in ``successes`` with an exact (Clopper-Pearson) interval. A share of no
    samples is undefined: an empty ``successes`` is rejected."""
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    x = np.asarray(successes).reshape(-1)
    if x.dtype != bool:
        raise ValueError(f"successes must be booleans, got dtype {x.dtype}")
    n, k = x.size, int(x.sum())
    if n == 0:
        raise ValueError("successes is empty: a share of no samples is undefined")
    ci = scipy.stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return Rate(k / n, float(ci.low), float(ci.high), n)


def seed_rate(per_seed, level: float = 0.95) -> Rate:
    """Mean of per-seed shares with a Student's t interval over seeds (clipped to [0, 1])."""
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    x = np.asarray(per_seed, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size < 2:
        raise ValueError(f"per_seed needs at least 2 finite values, got {x.size}")
    m = float(x.mean())
    half = float(scipy.stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return Rate(m, max(0.0, m - half), min(1.0, m + half), x.size)


def rates(m: Measures, level: float = 0.95) -> dict:
    """Flint's criteria as shares with intervals: {"target", "basin", "retention", "recovery",
    "displaced"} -> :class:`Rate`.

    target: sampled configurations already in the target (the target's size under the reference
    draw); basin: samples in the target after the undisturbed run; retention: the same among
    samples that started in it; recovery: samples back in the target at the end of the perturbed
    run, among those the perturbation pushed out; displaced: share pushed out. With a leading seed
    axis (``start`` of shape (seeds, samples)), each share is computed per seed and the interval
    is over seeds; otherwise it is exact over samples.

    A share over an empty set is undefined, and its key is left out rather than filled with a
    placeholder: "retention" when no sample started in the target, "recovery" when the push
    displaced none (with seeds: when fewer than two seeds have a defined share).
    """
    start, end = np.asarray(m.start, bool), np.asarray(m.end, bool)
    disp, rec = np.asarray(m.displaced, bool), np.asarray(m.recovered, bool)
    if start.ndim not in (1, 2):
        raise ValueError(f"m must hold (samples,) or (seeds, samples) arrays, got shape {start.shape}")
    pairs = {"target": (start, None), "basin": (end, None), "retention": (end, start),
             "recovery": (rec, disp), "displaced": (disp, None)}
    out = {}
    for name, (x, given) in pairs.items():
        if start.ndim == 1:
            sample = x if given is None else x[given]
            if sample.size:
                out[name] = binomial_rate(sample, level)
        else:
            defined = np.ones(x.shape[0], bool) if given is None else given.any(1)
            if defined.sum() >= 2:
                x, g = x[defined], (None if given is None else given[defined])
                per_seed = x.mean(1) if g is None else (x & g).sum(1) / g.sum(1)
                out[name] = seed_rate(per_seed, level)
    return out


def bits(rate: float) -> float:
    """``-log2(rate)``: the size of a target, in bits, from its reference share in (0, 1]. A
    share of 0 has no finite size; for a target no sample hit, ``bits`` of the upper end of the
    share's interval is a lower bound on its size."""
    rate = validate.real("rate", rate, low=0.0, high=1.0, low_open=True)
    return float(-np.log2(rate))


def concentration_bits(m: Measures) -> float:
    """``log2(basin / target)``: how many bits the dynamics concentrate the reference draw into the
    target (0 when the system only keeps what already started there). Computed from the pooled
    shares; both must be positive, since with no sample starting (or ending) in the target the
    ratio has no finite value."""
    start, end = np.asarray(m.start, bool), np.asarray(m.end, bool)
    if start.size == 0 or start.shape != end.shape:
        raise ValueError(f"m.start and m.end must be non-empty arrays of one shape, got {start.shape} and {end.shape}")
    if not start.any():
        raise ValueError("m.start has no sample in the target: concentration is undefined (draw more samples)")
    if not end.any():
        raise ValueError("m.end has no sample in the target: the dynamics empty it, and the concentration "
                         "has no finite value")
    return float(np.log2(end.mean() / start.mean()))


# ---------------------------------------------------------------------------------------------
# Systems with closed forms
# ---------------------------------------------------------------------------------------------


def descent_rate(eigenvalues, step_size: float) -> float:
    """Contraction factor ``max_i |1 - step_size * lambda_i|`` of gradient descent on a quadratic
    with Hessian eigenvalues ``eigenvalues``; below 1 exactly when ``0 < step_size < 2 / max(lambda)``
    (all eigenvalues positive)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.ndim != 1 or lam.size == 0 or not np.all(np.isfinite(lam)) or lam.min() <= 0:
        raise ValueError("eigenvalues must be a non-empty 1-D array of positive numbers")
    step_size = validate.real("step_size", step_size, low=0.0, low_open=True)
    return float(np.max(np.abs(1.0 - step_size * lam)))


def steps_to_reach(distance: float, tolerance: float, rate: float) -> int:
    """Steps after which a contraction by ``rate`` per step is guaranteed to bring a point at
    ``distance`` within ``tolerance``: the smallest t with ``rate**t * distance <= tolerance``."""
    distance = validate.real("distance", distance, low=0.0)
    tolerance = validate.real("tolerance", tolerance, low=0.0, low_open=True)
    rate = validate.real("rate", rate, low=0.0, high=1.0, high_open=True)
    if distance <= tolerance:
        return 0
    if rate == 0:
        return 1
    return int(np.ceil(np.log(tolerance / distance) / np.log(rate) - 1e-12))


def quadratic_descent(eigenvalues, step_size: float, radius: float = 1.0, tolerance: float = 0.1) -> System:
    """Gradient descent ``x <- x - step_size * A x`` on ``f(x) = x^T A x / 2`` with
    ``A = diag(eigenvalues)``.

    Starts are uniform in the box ``[-radius, radius]^d``; the target is the ball
    ``|x| <= tolerance`` around the minimum. For ``step_size < 2 / max(eigenvalues)`` every start
    converges (the basin is the whole space) and any perturbation is undone in at most
    :func:`steps_to_reach` steps; for larger steps the iterates diverge along the top eigenvector.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    descent_rate(lam, step_size)   # validates both
    radius = validate.real("radius", radius, low=0.0, low_open=True)
    tolerance = validate.real("tolerance", tolerance, low=0.0, low_open=True)
    factor = jnp.asarray(1.0 - step_size * lam, jnp.float32)
    d = lam.size

    def step(key, x):
        del key
        return factor * x

    def sample(key):
        return jax.random.uniform(key, (d,), minval=-radius, maxval=radius)

    def in_target(x):
        return jnp.sum(x * x) <= tolerance ** 2

    return System(step, sample, in_target)


def box_ball_fraction(dim: int, radius: float, tolerance: float) -> float:
    """Share of the box ``[-radius, radius]^dim`` inside the ball of radius ``tolerance`` (which
    must fit in the box): ``V_dim * tolerance^dim / (2 radius)^dim``."""
    dim = validate.integer("dim", dim, minimum=1)
    radius = validate.real("radius", radius, low=0.0, low_open=True)
    tolerance = validate.real("tolerance", tolerance, low=0.0, low_open=True)
    if tolerance > radius:
        raise ValueError(f"tolerance must be at most radius ({radius}) for the ball to fit in the box, got {tolerance}")
    from scipy.special import gammaln

    log_ball = dim / 2 * np.log(np.pi) - gammaln(dim / 2 + 1) + dim * np.log(tolerance)
    return float(np.exp(log_ball - dim * np.log(2 * radius)))


def push_uniform(radius: float = 1.0) -> Callable:
    """A perturbation for :func:`quadratic_descent`: move the point to a fresh uniform draw from
    the box ``[-radius, radius]^d`` (anywhere the system could have started)."""
    radius = validate.real("radius", radius, low=0.0, low_open=True)

    def perturb(key, x):
        return jax.random.uniform(key, x.shape, x.dtype, minval=-radius, maxval=radius)

    return perturb


def bottle_cap(full: float = 0.9) -> System:
    """A capped bottle (Filan 2018): the state is the share of the bottle filled with water.

    Under its normal conditions (tipped, shaken) the cap keeps every drop in, so a full bottle
    stays full: the outcome "water in the bottle" is achieved. But nothing moves water *into* the
    bottle. Starts are uniform fill levels in [0, 1]; the target is a fill of at least ``full``.
    The basin is exactly the target, and no perturbation that spills water is ever undone.
    """
    full = validate.real("full", full, low=0.0, high=1.0, low_open=True)

    def step(key, water):
        del key
        return water            # tipped or shaken, the capped bottle loses nothing

    def sample(key):
        return jax.random.uniform(key, ())

    def in_target(water):
        return water >= full

    return System(step, sample, in_target)


def spill(key, water):
    """A perturbation for :func:`bottle_cap`: uncap, pour out a uniform share of the water, recap."""
    return water * jax.random.uniform(key, (), water.dtype)
