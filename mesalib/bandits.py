"""Bernoulli bandit task distributions and the classic bandit algorithms, vectorised in JAX.

A *task* is a vector of arm success probabilities ``probs: (k,)``; a task distribution samples
many of them at once. Every baseline is a pure ``select(key, successes, failures, t) -> arm`` rule
over the Beta(1, 1) posterior counts, and ``run`` plays it on a batch of tasks with one compiled
``lax.scan`` over pulls (tasks are a ``vmap`` axis).
"""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import validate

PRIORS = ("uniform", "dependent", "beta")


def sample_tasks(key, num_tasks: int, num_arms: int, prior: str = "uniform", a: float = 1.0,
                 b: float = 1.0) -> jax.Array:
    """Arm probabilities ``(num_tasks, num_arms)``.

    prior: "uniform" — independent p ~ U[0, 1] (Duan et al. 2016);
    "dependent" — two arms with p₁ ~ U[0, 1], p₂ = 1 − p₁ (Wang et al. 2016);
    "beta" — independent p ~ Beta(a, b).
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
        a = validate.real("a", a, low=0.0, low_open=True)
        b = validate.real("b", b, low=0.0, low_open=True)
        return jax.random.beta(key, a, b, (num_tasks, num_arms))
    return jax.random.uniform(key, (num_tasks, num_arms))


def oracle_value(probs, num_pulls: int) -> jax.Array:
    """Expected successes of always pulling the best arm: n · max p, per task."""
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


def gittins_policy(table):
    """The Gittins index rule: pull the arm whose (s, f) state has the highest index in ``table``."""
    table = jnp.asarray(table)

    def select(key, s, f, t):
        idx = table[s.astype(jnp.int32), f.astype(jnp.int32)]  # s + f < num_pulls <= max_count
        return _argmax_random_ties(key, idx)

    return select


@functools.lru_cache(maxsize=16)
def gittins_table(discount: float, max_count: int, depth: int | None = None, iters: int = 34) -> np.ndarray:
    """Gittins indices of a Bernoulli arm with a Beta(1, 1) prior, for s, f in [0, max_count].

    Entry [s, f] (for s + f <= max_count; the rest is NaN) is the index after s successes and
    f failures under geometric ``discount``:
    the per-step reward λ of a sure arm at which pulling once more and continuing optimally
    is exactly as good as retiring (the calibration definition, Gittins 1979). Computed in float64
    by bisection on λ for all states at once, each with a backward induction over the
    ``depth`` pulls that follow it (the tail beyond contributes at most discount^depth; by
    default depth is chosen so that this is below 1e-6).
    """
    discount = validate.real("discount", discount, low=0.0, high=1.0, high_open=True)
    max_count = validate.integer("max_count", max_count, minimum=0)
    if depth is None:
        depth = 1 if discount == 0 else int(np.ceil(np.log(1e-6) / np.log(discount)))
    depth = validate.integer("depth", depth, minimum=1)
    s0, f0 = np.meshgrid(np.arange(max_count + 1), np.arange(max_count + 1), indexing="ij")
    reachable = (s0 + f0) <= max_count
    a0, b0 = s0[reachable] + 1.0, f0[reachable] + 1.0           # Beta parameters of each root
    lo, hi = a0 / (a0 + b0), np.ones_like(a0)                   # index ∈ [posterior mean, 1]
    scale = 1.0 / (1.0 - discount)
    for _ in range(iters):
        lam = 0.5 * (lo + hi)
        retire = lam * scale
        # Values at depth d below the root, for i successes among the d pulls: shape (roots, d+1).
        i = np.arange(depth + 1)
        mean = (a0[:, None] + i) / (a0[:, None] + b0[:, None] + depth)
        value = np.maximum(retire[:, None], mean * scale)       # beyond the horizon: retire or stay forever
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


def _play(select, key, probs, num_pulls: int) -> Rollout:
    """One task: play ``num_pulls`` pulls of ``select`` on arm probabilities ``probs: (k,)``."""
    k = probs.shape[-1]

    def step(carry, inp):
        s, f = carry
        t, key_t = inp
        ka, kr = jax.random.split(key_t)
        a = select(ka, s, f, t.astype(jnp.float32))
        r = (jax.random.uniform(kr) < probs[a]).astype(jnp.float32)
        onehot = jax.nn.one_hot(a, k)
        return (s + r * onehot, f + (1.0 - r) * onehot), (a, r)

    init = (jnp.zeros(k), jnp.zeros(k))
    keys = jax.random.split(key, num_pulls)
    _, (actions, rewards) = jax.lax.scan(step, init, (jnp.arange(num_pulls), keys))
    return Rollout(actions.astype(jnp.int32), rewards)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _run(select, key, probs, num_pulls):
    keys = jax.random.split(key, probs.shape[0])
    return jax.vmap(_play, in_axes=(None, 0, 0, None))(select, keys, probs, num_pulls)


def run(key, policy: str | Callable, probs, num_pulls: int, **hyper) -> Rollout:
    """Play a baseline on every task in ``probs: (tasks, k)`` for ``num_pulls`` pulls.

    policy: a name in ``BASELINES``, "Gittins" (``discount`` keyword, default 0.9), or any
    ``select(key, s, f, t)`` rule. Extra keywords (e.g. ``epsilon``, ``c``) go to the rule.
    """
    validate.prng_key("key", key)
    validate.probabilities("probs", probs, ndim=2)
    num_pulls = validate.integer("num_pulls", num_pulls, minimum=1)
    return _run(_resolve(policy, num_pulls, hyper), key, jnp.asarray(probs, jnp.float32), num_pulls)


def _resolve(policy, num_pulls: int, hyper: dict) -> Callable:
    """The select rule for a baseline name or callable, with its keywords bound."""
    hyper = dict(hyper)
    if isinstance(policy, str):
        allowed = set(BASELINES) | {"Gittins"}
        validate.choice("policy", policy, allowed)
        if policy == "Gittins":
            select = gittins_policy(gittins_table(float(hyper.pop("discount", 0.9)), num_pulls))
        else:
            select = BASELINES[policy]
    elif callable(policy):
        select = policy
    else:
        raise ValueError(f"policy must be a baseline name or a callable, got {policy!r}")
    if "epsilon" in hyper:
        validate.real("epsilon", hyper["epsilon"], low=0.0, high=1.0)
    if "c" in hyper:
        validate.real("c", hyper["c"], low=0.0)
    if hyper:
        select = _bind(select, tuple(sorted(hyper.items())))
    return select


def choice_probs(key, policy: str | Callable, s, f, t, samples: int = 1000, **hyper) -> jax.Array:
    """How often a rule picks each arm in given states: ``(states, k)`` from counts ``s, f: (states, k)``.

    ``t: (states,)`` is the number of pulls made so far. Each state is decided ``samples`` times
    with fresh randomness, so for Thompson sampling this estimates its choice probabilities and
    for a deterministic rule it is exact up to random tie-breaking. ``policy`` as in :func:`run`.
    """
    validate.prng_key("key", key)
    samples = validate.integer("samples", samples, minimum=1)
    s, f, t = np.asarray(s, np.float32), np.asarray(f, np.float32), np.asarray(t, np.float32)
    if s.ndim != 2 or f.shape != s.shape or t.shape != s.shape[:1]:
        raise ValueError(f"s and f must be (states, arms) and t (states,), got {s.shape}, {f.shape}, {t.shape}")
    if (s < 0).any() or (f < 0).any():
        raise ValueError("s and f must be counts (non-negative)")
    horizon = int((s + f).sum(1).max(initial=0)) + 1
    return _choice_probs(_resolve(policy, horizon, hyper), key, jnp.asarray(s), jnp.asarray(f), jnp.asarray(t), samples)


@functools.partial(jax.jit, static_argnums=(0, 5))
def _choice_probs(select, key, s, f, t, samples):
    k = s.shape[1]
    keys = jax.random.split(key, (samples, s.shape[0]))
    pick = jax.vmap(jax.vmap(lambda kk, s_, f_, t_: jax.nn.one_hot(select(kk, s_, f_, t_), k),
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
    actions = np.asarray(rollout.actions)
    if actions.ndim != 2 or (actions.size and (actions.min() < 0 or actions.max() > 1)):
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


def regret(rollout: Rollout, probs) -> jax.Array:
    """Cumulative expected regret after each pull, (tasks, pulls): Σ (max p − p[aₜ])."""
    probs = jnp.asarray(probs)
    chosen = jnp.take_along_axis(probs, rollout.actions, axis=1)
    return jnp.cumsum(probs.max(axis=1, keepdims=True) - chosen, axis=1)


def counts(rollout: Rollout, num_arms: int):
    """Successes and failures of each arm *before* each pull: two (tasks, pulls, num_arms) arrays."""
    num_arms = validate.integer("num_arms", num_arms, minimum=1)
    actions = jnp.asarray(rollout.actions)
    if actions.size and int(actions.max()) >= num_arms:
        raise ValueError(f"num_arms must exceed every action in the rollout, got {num_arms} for action {int(actions.max())}")
    onehot = jax.nn.one_hot(actions, num_arms)
    r = jnp.asarray(rollout.rewards)[..., None]
    before = lambda x: jnp.cumsum(x, axis=1) - x  # noqa: E731
    return before(onehot * r), before(onehot * (1.0 - r))


def evaluate_baselines(key, probs, num_pulls: int, names=("Random", "Greedy", "Thompson", "UCB1", "Gittins")) -> dict:
    """Total successes per task of each named baseline on the same tasks: {name: (tasks,)}."""
    validate.prng_key("key", key)
    keys = jax.random.split(key, len(names))
    return {name: np.asarray(run(k, name, probs, num_pulls).rewards.sum(1)) for k, name in zip(keys, names)}


def summarize(successes: dict, level: float = 0.95):
    """A table of mean successes per algorithm with normal-approximation CIs over tasks.

    successes: {name: (tasks,) total successes per task} -> DataFrame(algorithm, mean, low, high, tasks).
    """
    import pandas as pd

    from mesalib import stats

    rows = []
    for name, values in successes.items():
        s = stats.mean_ci(np.asarray(values), method="normal", level=level)
        rows.append({"algorithm": name, "mean": float(s.mean), "low": float(s.low), "high": float(s.high), "tasks": s.n})
    return pd.DataFrame(rows)


def regret_frame(rollouts: dict, probs, points: int = 25, level: float = 0.95):
    """Mean cumulative regret with CIs at ``points`` pulls per algorithm, ready for plots.line_band.

    rollouts: {name: Rollout} all played on the same ``probs: (tasks, k)``.
    """
    import pandas as pd

    from mesalib import stats

    frames = []
    for name, rollout in rollouts.items():
        reg = np.asarray(regret(rollout, probs))
        n = reg.shape[1]
        idx = np.unique(np.linspace(0, n - 1, min(points, n)).round().astype(int))
        s = stats.mean_ci(reg[:, idx], axis=0, method="normal", level=level)
        frames.append(pd.DataFrame({"algorithm": name, "pull": idx + 1, "regret": s.mean, "low": s.low, "high": s.high}))
    return pd.concat(frames, ignore_index=True)
