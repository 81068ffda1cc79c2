"""Bernoulli bandits: the environment, task distributions and the classic bandit algorithms.

The environment has the gymnax shape used throughout the book: ``reset(key, params)`` and
``step(key, state, action, params)`` are pure, and a task lives in :class:`EnvParams` (the arm
success probabilities ``probs: (k,)``), so ``vmap`` over params ranges over tasks. The
observation is the one RL² sees (previous action one-hot, previous reward, time). Every baseline
is a pure ``select(key, successes, failures, t) -> arm`` rule over the Beta(1, 1) posterior
counts that the state carries, and :func:`run` plays it on a batch of tasks with one compiled
``lax.scan`` over pulls (tasks are a ``vmap`` axis).
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import validate

PRIORS = ("uniform", "dependent", "beta", "skewed")


def sample_tasks(key, num_tasks: int, num_arms: int, prior: str = "uniform", a: float = 1.0,
                 b: float = 1.0) -> jax.Array:
    """Arm probabilities ``(num_tasks, num_arms)``.

    prior: "uniform" — independent p ~ U[0, 1] (Duan et al. 2016);
    "dependent" — two arms with p₁ ~ U[0, 1], p₂ = 1 − p₁ (Wang et al. 2016);
    "beta" — independent p ~ Beta(a, b);
    "skewed" — the first arm p₀ ~ U[0.5, 1], every other arm p ~ U[0, 0.5]: the first arm is always
    the best, so "always pull arm 0" is the optimal policy and exploring never pays.
    """
    validate.prng_key("key", key)
    num_tasks = validate.integer("num_tasks", num_tasks, minimum=1)
    num_arms = validate.integer("num_arms", num_arms, minimum=1)
    validate.choice("prior", prior, PRIORS)
    if prior == "dependent":
        if num_arms != 2:
            raise ValueError(f"num_arms must be 2 for the dependent prior, got {num_arms}")
        p1 = jax.random.uniform(key, (num_tasks, 1))
        return jnp.concatenate([p1, 1.0 - p1], axis=1)
    if prior == "beta":
        # Drawn in float32: a shape that underflows there would give NaN draws; one above 1e6
        # loses the draw's precision (the Beta is then a point mass at a / (a + b) anyway).
        a = validate.real("a", a, low=0.0, low_open=True, high=1e6, dtype=np.float32)
        b = validate.real("b", b, low=0.0, low_open=True, high=1e6, dtype=np.float32)
        return jax.random.beta(key, a, b, (num_tasks, num_arms))
    u = jax.random.uniform(key, (num_tasks, num_arms))
    if prior == "skewed":
        return 0.5 * u + jnp.where(jnp.arange(num_arms) == 0, 0.5, 0.0)
    return u


def oracle_value(probs, num_pulls: int) -> jax.Array:
    """Expected successes of always pulling the best arm: n · max p, per task."""
    validate.probabilities("probs", probs)
    if np.ndim(probs) == 0:
        raise ValueError(f"probs must hold one probability per arm (shape (..., k)), got a scalar {probs!r}")
    num_pulls = validate.integer("num_pulls", num_pulls, minimum=1)
    return num_pulls * jnp.max(jnp.asarray(probs), axis=-1)


# ---------------------------------------------------------------------------------------------
# Baselines as index rules over posterior counts (s = successes, f = failures, both (k,)).

def _argmax_random_ties(key, scores):
    """Argmax that breaks exact ties uniformly at random (matters at t = 0 for every rule)."""
    # A uniform draw per arm decides among the best; drawn on [0, 1) it has 2^23 distinct float32
    # values, so the draw itself almost never ties (1 + 1e-6·u had only 8, which favoured arm 0).
    noise = jax.random.uniform(key, scores.shape)
    best = scores >= scores.max() - 1e-12
    return jnp.argmax(jnp.where(best, noise, -1.0))


def random_policy(key, s, f, t):
    """Pull an arm uniformly at random."""
    return jax.random.randint(key, (), 0, s.shape[-1])


def greedy(key, s, f, t):
    """Pull the arm with the highest posterior mean (s + 1) / (s + f + 2)."""
    return _argmax_random_ties(key, (s + 1.0) / (s + f + 2.0))


def epsilon_greedy(key, s, f, t, epsilon: float = 0.1):
    """With probability ε a random arm, otherwise the greedy one."""
    k1, k2, k3 = jax.random.split(key, 3)
    explore = jax.random.uniform(k1) < epsilon
    return jnp.where(explore, random_policy(k2, s, f, t), greedy(k3, s, f, t))


def thompson(key, s, f, t):
    """Thompson sampling: draw p̃ ~ Beta(s + 1, f + 1) per arm and pull the argmax."""
    return jnp.argmax(jax.random.beta(key, s + 1.0, f + 1.0))


def ucb1(key, s, f, t, c: float = 1.0):
    """UCB1 (Auer et al. 2002): pull each arm once, then argmax mean + c·sqrt(2 ln t / nᵢ)."""
    n = s + f
    mean = s / jnp.maximum(n, 1.0)
    bonus = c * jnp.sqrt(2.0 * jnp.log(jnp.maximum(t, 1.0)) / jnp.maximum(n, 1.0))
    return _argmax_random_ties(key, jnp.where(n == 0, jnp.inf, mean + bonus))


def pooled_evidence(s, f):
    """For two dependent arms (p₂ = 1 − p₁): s₁ + f₂ − (f₁ + s₂), > 0 when arm 1 is favoured.

    Works on counts of shape (..., 2), NumPy or JAX.
    """
    if np.shape(s) != np.shape(f) or np.shape(s)[-1:] != (2,):
        raise ValueError(f"s and f must be counts of two arms with one shape (..., 2), got {np.shape(s)} and {np.shape(f)}")
    return (s[..., 0] + f[..., 1]) - (f[..., 0] + s[..., 1])


def dependent_greedy(key, s, f, t):
    """The Bayes-optimal rule for two dependent arms, p₂ = 1 − p₁ with p₁ ~ U[0, 1].

    A success on arm 1 or a failure on arm 2 is the same evidence that p₁ > 1/2, so the posterior
    of p₁ is Beta(1 + s₁ + f₂, 1 + f₁ + s₂). Either pull is equally informative about p₁, so
    nothing is gained by exploring: pull the arm the pooled evidence favours (ties at random).
    """
    evidence = pooled_evidence(s, f)
    tie = jax.random.randint(key, (), 0, 2)
    return jnp.where(evidence > 0, 0, jnp.where(evidence < 0, 1, tie))


def gittins(key, s, f, t, table):
    """The Gittins index rule: pull the arm whose (s, f) state has the highest index in ``table``."""
    idx = table[s.astype(jnp.int32), f.astype(jnp.int32)]  # s + f < num_pulls <= max_count
    return _argmax_random_ties(key, idx)


def gittins_policy(table):
    """The Gittins rule as a plain ``select(key, s, f, t)`` closure over one table (for custom use;
    :func:`run` passes the table as data instead, so it compiles once per horizon).

    ``table``: a square (m + 1, m + 1) table from :func:`gittins_table` with finite entries where
    s + f <= m (good for up to m pulls; the NaN entries beyond are never read).
    """
    _check_table("table", table)
    table = jnp.asarray(table)
    return lambda key, s, f, t: gittins(key, s, f, t, table)


def _check_table(name, table):
    arr = validate.array(name, table, ndim=2, allow_nan=True)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square (m + 1, m + 1) Gittins table, got shape {arr.shape}")
    s, f = np.meshgrid(np.arange(arr.shape[0]), np.arange(arr.shape[0]), indexing="ij")
    inside = arr[s + f < arr.shape[0]]
    if not np.all(np.isfinite(inside)) or inside.min() < 0 or inside.max() > 1:
        raise ValueError(f"{name} must hold indices in [0, 1] wherever s + f <= {arr.shape[0] - 1}")
    return arr


GITTINS_GRID = 1025     # calibration rewards λ on a uniform grid over [0, 1]
GITTINS_TOL = 1e-6      # the tail beyond the lookahead contributes at most this much
GITTINS_NS_PER_CELL = 8         # an idle laptop core; a loaded 2-core CI machine measured 25
GITTINS_PROGRESS_CELLS = 5e9    # about a minute at 8 ns a cell: show a progress bar
GITTINS_MAX_CELLS = 5e10        # about seven minutes at 8 ns (twenty on a loaded CI machine): refuse


def gittins_table(discount: float, max_count: int, depth: int | None = None, grid: int = GITTINS_GRID) -> np.ndarray:
    """Gittins indices of a Bernoulli arm with a Beta(1, 1) prior, for s, f in [0, max_count].

    Entry [s, f] (for s + f <= max_count; the rest is NaN) is the index after s successes and
    f failures under geometric ``discount``: the per-step reward λ of a sure arm at which pulling
    once more and continuing optimally is exactly as good as retiring (the calibration
    definition, Gittins 1979). For every λ of a uniform grid, one backward induction over the
    whole Beta lattice (s + f up to max_count + depth; beyond it, retire or stay forever) gives
    the advantage of pulling over retiring, and its slope in λ, in every state at once; the
    advantage falls strictly as λ grows, so each state's index is where it crosses zero, located
    on the grid and refined with the tangents at its two ends (exact for a piecewise-linear
    advantage with at most one kink per grid cell). Cost: grid × lattice states, in float64.
    When there are few states and a long lookahead (a discount near 1), each state's index is
    bisected with its own backward induction instead, whichever is cheaper. ``depth`` defaults to
    the number of steps after which the discounted tail is below 1e-6. Cached: the arguments are
    checked first, then a table already computed is returned (a copy, so the cache stays intact).
    """
    discount = validate.real("discount", discount, low=0.0, high=1.0, high_open=True)
    max_count = validate.integer("max_count", max_count, minimum=0)
    if depth is not None:
        depth = validate.integer("depth", depth, minimum=1)
    grid = validate.integer("grid", grid, minimum=3)
    return _gittins_table(discount, max_count, depth, grid).copy()


@functools.lru_cache(maxsize=16)
def _gittins_table(discount: float, max_count: int, depth: int | None = None, grid: int = GITTINS_GRID) -> np.ndarray:
    if depth is None:
        depth = 1 if discount == 0 else int(np.ceil(np.log(GITTINS_TOL) / np.log(discount)))
    cells = (max_count + depth + 1) * (max_count + depth + 2) // 2 * grid
    bisection = (max_count + 1) * (max_count + 2) // 2 * depth * depth / 2 * 34
    if min(cells, bisection) > GITTINS_MAX_CELLS:
        cost = min(cells, bisection)
        raise ValueError(f"max_count={max_count} at discount={discount} needs {cost:.1e} cell updates (about "
                         f"{cost * GITTINS_NS_PER_CELL * 1e-9 / 60:.0f} min at {GITTINS_NS_PER_CELL} ns each; the "
                         f"limit is {GITTINS_MAX_CELLS:.0e}, about "
                         f"{GITTINS_MAX_CELLS * GITTINS_NS_PER_CELL * 1e-9 / 60:.0f} min); use fewer pulls or a "
                         "smaller discount")
    if bisection < cells:                                        # few states, long lookahead: bisect each
        return _gittins_bisection(discount, max_count, depth)
    return _gittins_lattice(discount, max_count, depth, grid, cells)


def _gittins_bisection(discount: float, max_count: int, depth: int, iters: int = 34) -> np.ndarray:
    """Calibration by bisection on λ for every state at once, each state with its own backward
    induction over the ``depth`` pulls that follow it (cheaper than the lattice for few states)."""
    s0, f0 = np.meshgrid(np.arange(max_count + 1), np.arange(max_count + 1), indexing="ij")
    reachable = (s0 + f0) <= max_count
    a0, b0 = s0[reachable] + 1.0, f0[reachable] + 1.0           # Beta parameters of each root
    lo, hi = a0 / (a0 + b0), np.ones_like(a0)                   # index ∈ [posterior mean, 1]
    scale = 1.0 / (1.0 - discount)
    for _ in range(iters):
        lam = 0.5 * (lo + hi)
        retire = lam * scale
        i = np.arange(depth + 1)
        mean = (a0[:, None] + i) / (a0[:, None] + b0[:, None] + depth)
        value = np.maximum(retire[:, None], mean * scale)       # beyond the lookahead: retire or stay forever
        for d in range(depth - 1, -1, -1):
            i = np.arange(d + 1)
            p = (a0[:, None] + i) / (a0[:, None] + b0[:, None] + d)
            cont = p * (1.0 + discount * value[:, 1:d + 2]) + (1.0 - p) * discount * value[:, :d + 1]
            value = cont if d == 0 else np.maximum(retire[:, None], cont)
        go_on = value[:, 0] > retire                            # pulling beats retiring at λ
        lo, hi = np.where(go_on, lam, lo), np.where(go_on, hi, lam)
    table = np.full((max_count + 1, max_count + 1), np.nan)
    table[reachable] = 0.5 * (lo + hi)
    return table


def _gittins_lattice(discount: float, max_count: int, depth: int, grid: int, cells: float) -> np.ndarray:
    """One backward induction over the whole lattice per calibration reward on the grid."""
    bar = None
    if cells > GITTINS_PROGRESS_CELLS:   # more than about a minute: say so
        from tqdm.auto import tqdm
        bar = tqdm(total=max_count + depth, desc=f"Gittins table (discount {discount})", unit="level")
    lam = np.linspace(0.0, 1.0, grid)[:, None]                  # (grid, 1)
    scale = 1.0 / (1.0 - discount)
    retire = lam * scale
    top = max_count + depth                                      # s + f on the last lattice level
    i = np.arange(top + 1)
    stay = (i + 1.0) / (top + 2.0) * scale
    value = np.maximum(retire, stay)                             # level top: retire or stay forever
    slope = np.where(retire >= stay, scale, 0.0)                 # d value / d λ, carried alongside
    table = np.full((max_count + 1, max_count + 1), np.nan)
    for n in range(top - 1, -1, -1):                             # level n: states s = 0..n, f = n - s
        s = np.arange(n + 1)
        p = (s + 1.0) / (n + 2.0)
        cont = p * (1.0 + discount * value[:, 1:n + 2]) + (1.0 - p) * discount * value[:, :n + 1]
        dcont = discount * (p * slope[:, 1:n + 2] + (1.0 - p) * slope[:, :n + 1])
        if n <= max_count:
            table[s, n - s] = _crossing(lam[:, 0], cont - retire, dcont - scale, s)
        slope = np.where(retire >= cont, scale, dcont)
        value = np.maximum(retire, cont)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return table


def _crossing(lam, advantage, slope, cols):
    """Where each column of ``advantage`` (grid, m), falling in λ, crosses zero.

    The advantage is convex and piecewise linear in λ, so the tangents at the two grid points
    around the crossing both undershoot it and one of them is exact unless two kinks share the
    cell; the larger of their zeros is taken.
    """
    grid = lam.shape[0]
    j = np.clip((advantage > 0).sum(0) - 1, 0, grid - 2)
    a0, a1 = advantage[j, cols], advantage[j + 1, cols]
    d0, d1 = slope[j, cols], slope[j + 1, cols]
    left = lam[j] - a0 / np.where(d0 < 0, d0, -np.inf)
    right = lam[j + 1] - a1 / np.where(d1 < 0, d1, -np.inf)
    return np.clip(np.maximum(left, right), lam[j], lam[j + 1])


BASELINES: dict[str, Callable] = {
    "Random": random_policy,
    "Greedy": greedy,
    "ε-greedy": epsilon_greedy,
    "Thompson": thompson,
    "UCB1": ucb1,
}


class Rollout(NamedTuple):
    actions: jax.Array   # (tasks, pulls) int32
    rewards: jax.Array   # (tasks, pulls) float32, 0/1 outcomes


# ---------------------------------------------------------------------------------------------
# The environment (gymnax shape)

class EnvParams(NamedTuple):
    """One task: arm probabilities ``probs: (k,)``; ``horizon`` () scales the time feature
    t / horizon; with ``clamp_time`` () True the feature stops at 1 once t reaches the horizon."""
    probs: jax.Array
    horizon: jax.Array
    clamp_time: jax.Array


class EnvState(NamedTuple):
    """Posterior counts ``successes, failures: (k,)``, pulls made ``t`` (), and the last pull."""
    successes: jax.Array
    failures: jax.Array
    t: jax.Array
    last_action: jax.Array    # () int32, -1 before the first pull
    last_reward: jax.Array    # () float32


def default_params(probs, horizon: float | None = None, clamp_time: bool = False) -> EnvParams:
    """Params for arm probabilities ``probs: (k,)``; the time feature's scale defaults to 1."""
    if validate.concrete(probs):
        validate.probabilities("probs", probs, ndim=1)
    elif np.ndim(probs) != 1:
        raise ValueError(f"probs must have shape (k,) (one task; vmap over tasks), got shape {np.shape(probs)}")
    if horizon is not None and validate.concrete(horizon):
        horizon = validate.real("horizon", horizon, low=0.0, low_open=True, dtype=np.float32)
    probs = jnp.asarray(probs, jnp.float32)
    return EnvParams(probs, jnp.float32(1.0 if horizon is None else horizon), jnp.bool_(clamp_time))


_NO_STATE = object()


def _check_env(state, params, action=None):
    """Types and shapes always (they are known while tracing); values only outside jit."""
    validate.instance("params", params, EnvParams, "a bandits.EnvParams (make one with bandits.default_params)")
    if state is not _NO_STATE:
        validate.instance("state", state, EnvState, "a bandits.EnvState (from bandits.reset)")
        if np.shape(state.successes) != np.shape(params.probs) or np.shape(state.failures) != np.shape(params.probs):
            raise ValueError(f"state counts must match params.probs {np.shape(params.probs)}; got successes "
                             f"{np.shape(state.successes)}, failures {np.shape(state.failures)}")
    if action is not None:
        if np.ndim(action) != 0:
            raise ValueError(f"action must be one arm index (a scalar), got shape {np.shape(action)}")
        if validate.concrete(action):
            validate.indices("action", action, np.shape(params.probs)[-1], what="arm indices")


def observe(state: EnvState, params: EnvParams) -> jax.Array:
    """What a learner sees before a pull: (previous action one-hot (k,), previous reward, t / horizon)."""
    _check_env(state, params)
    k = params.probs.shape[-1]
    prev = jax.nn.one_hot(state.last_action, k)            # all zeros before the first pull
    t = jnp.where(params.clamp_time, jnp.minimum(state.t, params.horizon), state.t)
    return jnp.concatenate([prev, state.last_reward[None], (t / params.horizon)[None]])


def reset(key, params: EnvParams):
    """The start of a task: no pulls yet. Returns (obs, state); ``key`` is unused (deterministic)."""
    if validate.concrete(key):
        validate.prng_key("key", key)
    _check_env(_NO_STATE, params)
    k = params.probs.shape[-1]
    state = EnvState(jnp.zeros(k), jnp.zeros(k), jnp.zeros((), jnp.int32), jnp.int32(-1), jnp.zeros(()))
    return observe(state, params), state


def step(key, state: EnvState, action, params: EnvParams):
    """Pull arm ``action``: reward 1 with probability probs[action]. A bandit never terminates;
    the caller decides how many pulls an episode has. Returns (obs, state, reward, terminated,
    truncated, info)."""
    if validate.concrete(key):
        validate.prng_key("key", key)
    _check_env(state, params, action)
    k = params.probs.shape[-1]
    r = (jax.random.uniform(key) < params.probs[action]).astype(jnp.float32)
    onehot = jax.nn.one_hot(action, k)
    state = EnvState(state.successes + r * onehot, state.failures + (1.0 - r) * onehot, state.t + 1,
                     jnp.asarray(action, jnp.int32), r)
    return observe(state, params), state, r, jnp.bool_(False), jnp.bool_(False), {}


def _play(select, key, probs, num_pulls: int, table=None) -> Rollout:
    """One task: ``num_pulls`` pulls of ``select`` on arm probabilities ``probs: (k,)``.

    ``table`` (Gittins indices) is passed to the rule as data, so a new table never recompiles.
    """
    params = default_params(probs)

    def body(state, key_t):
        ka, kr = jax.random.split(key_t)
        t = state.t.astype(jnp.float32)
        if table is None:
            a = select(ka, state.successes, state.failures, t)
        else:
            a = select(ka, state.successes, state.failures, t, table)
        _, state, r, _, _, _ = step(kr, state, a, params)
        return state, (a, r)

    _, state = reset(key, params)
    _, (actions, rewards) = jax.lax.scan(body, state, jax.random.split(key, num_pulls))
    return Rollout(actions.astype(jnp.int32), rewards)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _run(select, key, probs, num_pulls, table):
    keys = jax.random.split(key, probs.shape[0])
    return jax.vmap(_play, in_axes=(None, 0, 0, None, None))(select, keys, probs, num_pulls, table)


def run(key, policy: str | Callable, probs, num_pulls: int, **hyper) -> Rollout:
    """Play a baseline on every task in ``probs: (tasks, k)`` for ``num_pulls`` pulls.

    policy: a name in ``BASELINES``, "Gittins" (``discount`` keyword, default 0.9), or any
    ``select(key, s, f, t)`` rule. Extra keywords (e.g. ``epsilon``, ``c``) go to the rule.
    """
    validate.prng_key("key", key)
    validate.probabilities("probs", probs, ndim=2)
    num_pulls = validate.integer("num_pulls", num_pulls, minimum=1)
    select, table = _resolve(policy, num_pulls, hyper, np.shape(probs)[1])
    out = _run(select, key, jnp.asarray(probs, jnp.float32), num_pulls, table)
    if not isinstance(policy, str):   # a custom rule: JAX would have clamped an arm out of range
        _check_picks("policy", np.asarray(out.actions), np.shape(probs)[1])
    return out


@functools.partial(jax.jit, static_argnums=(0, 3))
def _run_many(selects, keys, probs, num_pulls, tables):
    # one program for several rules: XLA compiles it in about half the time of separate programs
    return tuple(_run.__wrapped__(select, key, probs, num_pulls, table)
                 for select, key, table in zip(selects, keys, tables))


def run_many(keys, policies, probs, num_pulls: int) -> dict:
    """:func:`run` for several policies at once, ``{label: Rollout}``, compiled as one program.

    ``policies``: baseline names (names in ``BASELINES`` or "Gittins", default settings; each name
    is its own label), or a dict ``{label: name or select rule}``, in which one rule may appear
    under several labels (e.g. a second Thompson run with another key). ``keys: (len(policies),)``,
    one key per policy, in order. ``run_many(keys, policies, ...)[label]`` equals
    ``run(keys[i], policy, ...)``: the same rule with the same key; only the compilation is shared.
    """
    if isinstance(policies, dict):
        labels, rules = tuple(policies), tuple(policies.values())
        for label in labels:
            if not isinstance(label, str):
                raise ValueError(f"policies must be keyed by string labels, got {label!r}")
        where = [f"policies[{label!r}]" for label in labels]
    else:
        if isinstance(policies, (str, bytes)) or not hasattr(policies, "__iter__"):
            raise ValueError(f"policies must be a sequence of baseline names or a dict of label -> policy, "
                             f"got {policies!r}")
        labels = rules = tuple(policies)
        if len(set(labels)) != len(labels):
            raise ValueError(f"policies must not repeat a name, got {labels} (give a dict to label repeats)")
        for i, name in enumerate(labels):
            if not isinstance(name, str):
                raise ValueError(f"policies[{i}] must be a baseline name (give a dict of label -> rule for a "
                                 f"custom rule), got {type(name).__name__}")
        where = [f"policies[{i}]" for i in range(len(labels))]
    if not labels:
        raise ValueError("policies must hold at least one baseline name")
    for name, rule in zip(where, rules):
        if isinstance(rule, str):
            validate.choice(name, rule, set(BASELINES) | {"Gittins"})
        elif not callable(rule):
            raise ValueError(f"{name} must be a baseline name or a select(key, s, f, t) rule, "
                             f"got {type(rule).__name__}")
    keys = validate.key_batch("keys", keys)
    if len(keys) != len(labels):
        raise ValueError(f"keys must hold one key per policy ({len(labels)}), got {len(keys)}")
    validate.probabilities("probs", probs, ndim=2)
    num_pulls = validate.integer("num_pulls", num_pulls, minimum=1)
    k = np.shape(probs)[1]
    resolved = [_resolve(rule, num_pulls, {}, k) for rule in rules]
    selects = tuple(select for select, _ in resolved)
    tables = tuple(table for _, table in resolved)
    outs = _run_many(selects, tuple(keys), jnp.asarray(probs, jnp.float32), num_pulls, tables)
    for name, rule, out in zip(where, rules, outs):
        if not isinstance(rule, str):   # a custom rule: JAX would have clamped an arm out of range
            _check_picks(name, np.asarray(out.actions), k)
    return dict(zip(labels, outs))


def _check_picks(name, actions, k):
    bad = (actions < 0) | (actions >= k)
    if bad.any():
        task, pull = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} returned arm {int(actions[task, pull])} at pull {pull} of task {task}; "
                         f"with {k} arms it must return an index in [0, {k - 1}]")


_HYPER = {"ε-greedy": ("epsilon",), "UCB1": ("c",), "Gittins": ("discount",)}


def _probe(select, k: int, table):
    """Check a custom rule, traced on the state before the first pull, returns one integer arm
    index (its values are checked on the rollout)."""
    zeros = jnp.zeros(k)
    args = (jax.random.key(0), zeros, zeros, jnp.float32(0.0)) + (() if table is None else (table,))
    validate.traced_integer("policy", lambda: select(*args), "arm index", "the state before the first pull",
                            hint=" (use jnp.argmax, not a probability or a vector)")


def _resolve(policy, num_pulls: int, hyper: dict, k: int):
    """(select rule, Gittins table or None) for a baseline name or callable, keywords bound."""
    hyper = dict(hyper)
    table = None
    if isinstance(policy, str):
        allowed = set(BASELINES) | {"Gittins"}
        validate.choice("policy", policy, allowed)
        extra = sorted(set(hyper) - set(_HYPER.get(policy, ())))
        if extra:
            takes = ", ".join(_HYPER.get(policy, ())) or "no keywords"
            raise ValueError(f"{extra[0]} is not a setting of the {policy} policy (it takes {takes})")
        if policy == "Gittins":
            discount = validate.real("discount", hyper.pop("discount", 0.9), low=0.0, high=1.0, high_open=True)
            try:
                table = jnp.asarray(gittins_table(discount, num_pulls), jnp.float32)
            except ValueError as e:   # say it in the caller's terms: too many pulls for this discount
                raise ValueError(f"num_pulls = {num_pulls} is too long a horizon for the Gittins policy at "
                                 f"discount {discount}: {e}") from None
            select = gittins
        else:
            select = BASELINES[policy]
    elif callable(policy):
        select = policy
        try:
            inspect.signature(policy).bind(None, None, None, None, **hyper)
        except TypeError as e:
            raise ValueError(f"policy must be a rule select(key, s, f, t{''.join(', ' + h for h in hyper)}); "
                             f"it cannot be called that way ({e})") from None
        except ValueError:   # no signature to inspect (a builtin): the probe below still calls it
            pass
    else:
        raise ValueError(f"policy must be a baseline name or a callable, got {policy!r}")
    if "epsilon" in hyper:
        validate.real("epsilon", hyper["epsilon"], low=0.0, high=1.0)
    if "c" in hyper:
        validate.real("c", hyper["c"], low=0.0, high=1e6)
    if hyper:
        try:
            select = _bind(select, tuple(sorted(hyper.items())))
        except TypeError:   # an unhashable keyword value: bind without the cache
            select = functools.partial(select, **hyper)
    if not isinstance(policy, str):
        _probe(select, k, table)
    return select, table


def choice_probs(key, policy: str | Callable, s, f, t, samples: int = 1000, **hyper) -> jax.Array:
    """How often a rule picks each arm in given states: ``(states, k)`` from counts ``s, f: (states, k)``.

    ``t: (states,)`` is the number of pulls made so far. Each state is decided ``samples`` times
    with fresh randomness, so for Thompson sampling this estimates its choice probabilities and
    for a deterministic rule it is exact up to random tie-breaking. ``policy`` as in :func:`run`.
    """
    validate.prng_key("key", key)
    samples = validate.integer("samples", samples, minimum=1, maximum=10**6)
    s, f, t = (validate.array(n, v, allow_empty=True) for n, v in (("s", s), ("f", f), ("t", t)))
    if s.ndim != 2 or f.shape != s.shape or t.shape != s.shape[:1]:
        raise ValueError(f"s and f must be (states, arms) and t (states,), got {s.shape}, {f.shape}, {t.shape}")
    if s.shape[0] == 0 or s.shape[1] == 0:
        raise ValueError(f"s and f must hold at least one state of at least one arm, got shape {s.shape}")
    for name, v in (("s", s), ("f", f), ("t", t)):
        if (v < 0).any():
            raise ValueError(f"{name} must be counts (non-negative), got a minimum of {v.min():g}")
    s, f, t = s.astype(np.float32), f.astype(np.float32), t.astype(np.float32)
    horizon = int((s + f).sum(1).max(initial=0)) + 1
    select, table = _resolve(policy, horizon, hyper, s.shape[1])
    out = _choice_probs(select, key, jnp.asarray(s), jnp.asarray(f), jnp.asarray(t), samples, table)
    if not isinstance(policy, str):   # an arm out of range has an all-zero one-hot row
        lost = np.abs(np.asarray(out).sum(1) - 1.0) > 1e-3
        if lost.any():
            raise ValueError(f"policy returned an arm outside [0, {s.shape[1] - 1}] in state {int(np.argmax(lost))}")
    return out


@functools.partial(jax.jit, static_argnums=(0, 5))
def _choice_probs(select, key, s, f, t, samples, table):
    k = s.shape[1]
    keys = jax.random.split(key, (samples, s.shape[0]))
    rule = select if table is None else functools.partial(select, table=table)
    pick = jax.vmap(jax.vmap(lambda kk, s_, f_, t_: jax.nn.one_hot(rule(kk, s_, f_, t_), k),
                             in_axes=(0, 0, 0, 0)), in_axes=(0, None, None, None))
    return pick(keys, s, f, t).mean(0)


class Conflicts(NamedTuple):
    """Situations in two-arm histories; each field has one entry per situation."""
    task: np.ndarray         # (m,) which task
    pull: np.ndarray         # (m,) the pull about to be chosen (0-based)
    s: np.ndarray            # (m, 2) successes of each arm before it
    f: np.ndarray            # (m, 2) failures of each arm before it
    pooled_arm: np.ndarray   # (m,) the arm the pooled evidence favours


def evidence_conflicts(rollout: Rollout) -> Conflicts:
    """Where each arm's own record and the pooled evidence of dependent arms disagree.

    Own record: the posterior means (sᵢ + 1)/(sᵢ + fᵢ + 2) of independent arms. Pooled evidence
    (for p₂ = 1 − p₁): s₁ + f₂ successes against f₁ + s₂ failures for arm 1. A situation is a
    conflict when both favour an arm strictly and not the same one.
    """
    actions, _ = check_rollout(rollout)
    if actions.size and (actions.min() < 0 or actions.max() > 1):
        raise ValueError("rollout must be a (tasks, pulls) history of two-arm pulls (actions 0 or 1)")
    s, f = map(np.asarray, counts(rollout, 2))
    pooled = pooled_evidence(s, f)
    own = (s + 1) / (s + f + 2)
    task, pull = np.nonzero(np.sign(pooled) * np.sign(own[..., 0] - own[..., 1]) < 0)
    return Conflicts(task, pull, s[task, pull], f[task, pull], (pooled[task, pull] < 0).astype(np.int32))


@functools.lru_cache(maxsize=64)
def _bind(select, items):
    """A hashable partial (so repeated calls reuse the compiled program)."""
    return functools.partial(select, **dict(items))


def check_rollout(rollout, name: str = "rollout", num_arms: int | None = None, tasks: int | None = None,
                  tasks_name: str = "probs"):
    """Check a :class:`Rollout` on the host: (tasks, pulls) integer actions (in [0, num_arms) when
    given) and 0/1 rewards of the same shape. Returns (actions, rewards) as NumPy arrays."""
    validate.instance(name, rollout, Rollout, "a bandits.Rollout (from bandits.run or rl2.evaluate)")
    actions = validate.array(f"{name}.actions", rollout.actions, ndim=2, integer=True, allow_empty=True)
    rewards = validate.array(f"{name}.rewards", rollout.rewards, low=0.0, high=1.0, allow_empty=True)
    if rewards.shape != actions.shape:
        raise ValueError(f"{name}.actions and {name}.rewards must have the same (tasks, pulls) shape, got "
                         f"{actions.shape} and {rewards.shape}")
    if tasks is not None and actions.shape[0] != tasks:
        raise ValueError(f"{name} has {actions.shape[0]} tasks but {tasks_name} has {tasks}: score a rollout "
                         f"against the probabilities it was played on")
    if num_arms is not None:
        validate.indices(f"{name}.actions", actions, num_arms, what=f"arm indices for {num_arms} arms")
    elif actions.size and actions.min() < 0:
        raise ValueError(f"{name}.actions must be arm indices (>= 0), got {actions.min()}")
    return actions.astype(np.int32), rewards


def regret(rollout: Rollout, probs) -> jax.Array:
    """Cumulative expected regret after each pull, (tasks, pulls): Σ (max p − p[aₜ]).

    ``probs: (tasks, k)`` are the arm probabilities the rollout was played on.
    """
    validate.probabilities("probs", probs, ndim=2)
    check_rollout(rollout, num_arms=np.shape(probs)[1], tasks=np.shape(probs)[0])
    probs = jnp.asarray(probs)
    chosen = jnp.take_along_axis(probs, rollout.actions, axis=1)
    return jnp.cumsum(probs.max(axis=1, keepdims=True) - chosen, axis=1)


def counts(rollout: Rollout, num_arms: int):
    """Successes and failures of each arm *before* each pull: two (tasks, pulls, num_arms) arrays."""
    num_arms = validate.integer("num_arms", num_arms, minimum=1)
    check_rollout(rollout)
    actions = jnp.asarray(rollout.actions)
    if actions.size and int(actions.max()) >= num_arms:
        raise ValueError(f"num_arms must exceed every action in the rollout, got {num_arms} for action {int(actions.max())}")
    onehot = jax.nn.one_hot(actions, num_arms)
    r = jnp.asarray(rollout.rewards)[..., None]
    before = lambda x: jnp.cumsum(x, axis=1) - x  # noqa: E731
    return before(onehot * r), before(onehot * (1.0 - r))
