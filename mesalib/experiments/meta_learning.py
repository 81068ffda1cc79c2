"""Chapter 1 (meta-learning): a GRU meta-trained with RL² becomes a bandit algorithm.

Each section of the chapter is one function of the chapter's key (``SEED = 0``), split once by
:func:`keys` into (evaluation tasks, baselines, training, RL² evaluation, dependent arms, shift);
the notebook and ``tests/test_claims_ch01.py`` call the same functions, the tests with
``Config().test()``.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from mesalib import bandits, pretrained, rl2, stats, train, validate

# Duan et al. (2016), Table 1: mean successes on fresh tasks (a subset of their columns).
DUAN_2016 = {(10, 5): {"Random": 5.0, "Gittins": 6.6, "Thompson": 5.7, "RL²": 6.7},
             (100, 5): {"Random": 49.9, "Gittins": 78.3, "Thompson": 74.7, "RL²": 78.7},
             (100, 10): {"Random": 49.9, "Gittins": 82.8, "Thompson": 76.7, "RL²": 83.5}}
BASELINE_NAMES = ("Random", "Greedy", "Thompson", "UCB1", "Gittins")
DEP_NET, IND_NET, POOLED = "RL², dependent-trained", "RL², independent-trained", "Bayes-optimal (pooled)"


class Config(NamedTuple):
    """The chapter's sizes. ``rl2`` is the (n=10, k=5) network trained live; the 100-pull networks
    are the stored ones of :mod:`mesalib.pretrained`."""
    rl2: rl2.Config = rl2.Config()
    train_seeds: int = 3          # live (10, 5) networks
    eval_tasks: int = 2000        # fresh tasks per setting
    dependent_tasks: int = 4000   # two dependent arms
    thompson_draws: int = 200     # posterior draws per situation for Thompson's choice probabilities
    long_tasks: int = 2000        # beyond the training horizon
    long_pulls: int = 1000

    def test(self) -> "Config":
        """Claim tests: one live network instead of three, half the long-horizon tasks."""
        return self._replace(train_seeds=1, long_tasks=1000)

    def smoke(self) -> "Config":
        """Seconds (MESALIB_SMOKE=1): tiny training and evaluation, same code path."""
        return self._replace(rl2=self.rl2.smoke(), train_seeds=1, eval_tasks=50, dependent_tasks=200,
                             thompson_draws=10, long_tasks=20, long_pulls=200)

    def validated(self) -> "Config":
        for name in ("train_seeds", "eval_tasks", "dependent_tasks", "long_tasks"):
            validate.integer(name, getattr(self, name), minimum=1, maximum=1_000_000)
        validate.integer("thompson_draws", self.thompson_draws, minimum=1, maximum=1_000_000)
        # the shift is read at 100 pulls (the training horizon) and at long_pulls
        validate.integer("long_pulls", self.long_pulls, minimum=100, maximum=100_000)
        if not isinstance(self.rl2, rl2.Config):
            raise ValueError(f"rl2 must be an rl2.Config, got {type(self.rl2).__name__}")
        return self._replace(rl2=self.rl2.validated())


class Keys(NamedTuple):
    eval: jax.Array
    base: jax.Array
    train: jax.Array
    rl2: jax.Array
    dependent: jax.Array
    shift: jax.Array


def keys(key) -> Keys:
    """The chapter's one split of its key."""
    validate.prng_key("key", key)
    return Keys(*jax.random.split(key, 6))


def _prepare(config: Config) -> Config:
    validate.instance("config", config, Config, "an experiments.meta_learning.Config")
    return train.smoke_config(config).validated()


# --------------------------------------------------------------------------------------------- sections

def run_baselines(key, config: Config = Config()) -> pd.DataFrame:
    """Classic algorithms on fresh (n=10, k=5) tasks: mean successes with CIs over tasks."""
    config, k = _prepare(config), keys(key)
    probs = bandits.sample_tasks(k.eval, config.eval_tasks, num_arms=5)
    return summarize(evaluate_baselines(k.base, probs, 10))


def run_training(key, config: Config = Config(), progress: bool | str = False) -> rl2.Result:
    """Meta-train the live (n=10, k=5) networks, one per seed, in one compiled program."""
    config, k = _prepare(config), keys(key)
    validate.progress("progress", progress)
    return rl2.train_seeds(jax.random.split(k.train, config.train_seeds), config.rl2, progress=progress)


class Headline(NamedTuple):
    table: pd.DataFrame     # (algorithm, mean, low, high, tasks, n, k, oracle, Duan et al. 2016)
    rollouts: dict          # (n, k) -> (probs, the first network's Rollout)


def stored_networks() -> dict:
    """The stored 100-pull networks as one-seed batches: {(100, k): params}."""
    return {(100, k): jax.tree_util.tree_map(lambda x: x[None], pretrained.load(f"rl2_n100_k{k}")[0])
            for k in (5, 10)}


def run_headline(key, trained: rl2.Result, config: Config = Config()) -> Headline:
    """Every algorithm on fresh tasks of the three settings, beside Duan et al.'s Table 1."""
    config, k = _prepare(config), keys(key)
    validate.instance("trained", trained, rl2.Result, "an rl2.Result (from run_training)")
    networks = {(10, 5): trained.params, **stored_networks()}
    rows, rollouts = [], {}
    for (n, arms), params in networks.items():
        kp, kb, kr = jax.random.split(jax.random.fold_in(k.rl2, n * 100 + arms), 3)
        probs = bandits.sample_tasks(kp, config.eval_tasks, arms)
        scores = evaluate_baselines(kb, probs, n)
        seeds = params["pi"]["w"].shape[0]
        outs = [rl2.evaluate(train.seed_slice(params, i), jax.random.fold_in(kr, i), probs, n) for i in range(seeds)]
        scores["RL²"] = np.mean([np.asarray(o.rewards.sum(1)) for o in outs], axis=0)
        rollouts[(n, arms)] = (probs, outs[0])
        table = summarize(scores).assign(n=n, k=arms, oracle=float(bandits.oracle_value(probs, n).mean()))
        # an algorithm the paper did not report gets an explicit <NA>
        table["Duan et al. 2016"] = pd.array([DUAN_2016[(n, arms)].get(a) for a in table["algorithm"]], dtype="Float64")
        rows.append(table)
    return Headline(pd.concat(rows, ignore_index=True), rollouts)


def regret_curves(key, headline: Headline, setting=(100, 5)) -> pd.DataFrame:
    """Cumulative regret of the frozen network and the baselines on one setting's tasks."""
    k = keys(key)
    validate.instance("headline", headline, Headline, "a Headline (from run_headline)")
    try:
        setting = tuple(int(v) for v in setting)
    except (TypeError, ValueError):
        setting = None
    validate.choice("setting", setting, set(headline.rollouts))
    probs, rl2_out = headline.rollouts[tuple(setting)]
    # each baseline keeps its own key (fold_in by its place in the chart's order); they run in
    # BASELINE_NAMES order, so the program compiled for the headline's tasks is reused
    chart_order = ("Thompson", "UCB1", "Gittins", "Greedy", "Random")
    keys_ = jnp.stack([jax.random.fold_in(k.base, chart_order.index(name)) for name in BASELINE_NAMES])
    runs = bandits.run_many(keys_, BASELINE_NAMES, probs, setting[0])
    rollouts = {"RL² (frozen)": rl2_out, **{name: runs[name] for name in chart_order}}
    return regret_frame(rollouts, probs)


class Dependent(NamedTuple):
    probs: np.ndarray        # (tasks, 2)
    rollouts: dict           # name -> Rollout
    regret: pd.DataFrame     # final regret per algorithm with CIs over tasks
    differences: dict        # other -> Summary of (dependent-trained − other) final regret
    follows: pd.DataFrame    # P(pull the arm the pooled evidence favours) per algorithm, CIs over tasks
    situations: int          # number of disagreement situations in the probe
    probe_tasks: int         # tasks they come from
    configs: tuple           # (dependent-trained config, control config)
    follows_split: pd.DataFrame   # the probe split by whether the pooled arm is the less-pulled one
    cross: pd.DataFrame      # final regret of both networks on dependent and on independent tasks
    greedy: dict             # network -> Summary of final regret when it takes its most probable arm


def run_dependent(key, config: Config = Config()) -> Dependent:
    """Two dependent arms (p₂ = 1 − p₁): the stored dependent-trained network, its control trained
    on independent arms, the classic algorithms and the Bayes-optimal pooled rule; then the probe
    of situations where each arm's own record and the pooled evidence disagree."""
    config, k = _prepare(config), keys(key)
    params_dep, config_dep, _, _ = pretrained.load("rl2_dependent_n100")
    params_ind, config_ind, _, _ = pretrained.load("rl2_n100_k2")
    kp, kb, kr, kh = jax.random.split(k.dependent, 4)
    probs = bandits.sample_tasks(kp, config.dependent_tasks, num_arms=2, prior="dependent")
    # The pooled rule, three baselines and the Thompson histories of the probe (below): one program.
    names = ("Thompson", "Gittins", "UCB1")
    rules = {POOLED: bandits.dependent_greedy, **{name: name for name in names}, "history": "Thompson"}
    rule_keys = jnp.stack([kb, *(jax.random.fold_in(kb, i) for i in range(len(names))), kh])
    played = bandits.run_many(rule_keys, rules, probs, 100)
    dep = {DEP_NET: rl2.evaluate(params_dep, kr, probs, 100),
           IND_NET: rl2.evaluate(params_ind, jax.random.fold_in(kr, 1), probs, 100),
           **{label: played[label] for label in (POOLED, *names)}}
    final = {name: np.asarray(bandits.regret(out, probs)[:, -1]) for name, out in dep.items()}
    regret = summarize(final)
    diffs = {other: stats.mean_ci(final[DEP_NET] - final[other], method="normal")
             for other in [IND_NET, "Thompson", "Gittins", POOLED]}

    history = played["history"]
    conflicts = bandits.evidence_conflicts(history)   # own records and pooled evidence disagree
    situations = (conflicts.task, conflicts.pull)
    choices = {DEP_NET: np.asarray(rl2.action_probs(params_dep, history))[situations],
               IND_NET: np.asarray(rl2.action_probs(params_ind, history))[situations]}
    for i, name in enumerate(["Gittins", "Thompson"]):
        choices[name] = np.asarray(bandits.choice_probs(jax.random.fold_in(kh, i), name, conflicts.s, conflicts.f,
                                                        conflicts.pull, samples=config.thompson_draws))
    m = len(conflicts.task)
    pulls = conflicts.s + conflicts.f
    pooled_less = pulls[np.arange(m), conflicts.pooled_arm] < pulls[np.arange(m), 1 - conflicts.pooled_arm]
    rows, split = [], []
    for name, probs_arm in choices.items():
        follows = probs_arm[np.arange(m), conflicts.pooled_arm]
        rows.append({"algorithm": name, **_follows_ci(follows, conflicts.task)})
        for label, mask in (("pooled arm pulled less", pooled_less), ("pooled arm pulled as often or more", ~pooled_less)):
            split.append({"algorithm": name, "situations": label, "count": int(mask.sum()),
                          **_follows_ci(follows[mask], conflicts.task[mask])})

    # The cost of specialization: both networks on dependent and on independent two-arm tasks.
    indep = bandits.sample_tasks(jax.random.fold_in(kp, 1), config.dependent_tasks, num_arms=2)
    cross = []
    for net, params in ((DEP_NET, params_dep), (IND_NET, params_ind)):
        for tasks, task_probs in (("dependent tasks", probs), ("independent tasks", indep)):
            out = dep[net] if tasks == "dependent tasks" else rl2.evaluate(
                params, jax.random.fold_in(kr, 2 + (net == IND_NET)), task_probs, 100)
            ci = stats.mean_ci(np.asarray(bandits.regret(out, task_probs)[:, -1]), method="normal")
            cross.append({"network": net, "tasks": tasks, "regret": float(ci.mean), "low": float(ci.low),
                          "high": float(ci.high)})
    greedy = {net: stats.mean_ci(np.asarray(bandits.regret(rl2.evaluate(
        params, jax.random.fold_in(kr, 4 + i), probs, 100, greedy=True), probs)[:, -1]), method="normal")
        for i, (net, params) in enumerate(((DEP_NET, params_dep), (IND_NET, params_ind)))}
    missing = {"follows pooled evidence": "Float64", "low": "Float64", "high": "Float64"}
    return Dependent(np.asarray(probs), dep, regret, diffs, stats.with_missing(rows, missing), m,
                     len(np.unique(conflicts.task)), (config_dep, config_ind), stats.with_missing(split, missing),
                     pd.DataFrame(cross), greedy)


def _follows_ci(follows, task) -> dict:
    """Mean probability of following the pooled evidence, each task counted once, with a CI
    (None where fewer than two tasks give no interval, or none gives a mean)."""
    per_task = pd.Series(follows).groupby(task).mean().to_numpy()
    if per_task.size < 2:
        return {"follows pooled evidence": float(per_task.mean()) if per_task.size else None,
                "low": None, "high": None}
    ci = stats.mean_ci(per_task, method="normal")
    return {"follows pooled evidence": float(ci.mean), "low": float(ci.low), "high": float(ci.high)}


UNIFORM_NET, SKEWED_NET = "RL², uniform-trained (live)", "RL², skewed-trained (stored)"
UNIFORM_TASKS, SKEWED_TASKS = "uniform tasks", "skewed tasks (arm 0 best)"


class Skewed(NamedTuple):
    table: pd.DataFrame      # network × tasks: mean successes with a t interval over training seeds
    per_seed: pd.DataFrame   # one row per (network, tasks, training seed)
    config: rl2.Config       # the skewed-trained networks' settings (Chapter 1's, prior="skewed")


def run_skewed(key, trained: rl2.Result, config: Config = Config()) -> Skewed:
    """What the learned learner is for: the live uniform-trained (10, 5) networks and three stored
    networks trained with the same settings on the skewed prior (arm 0 always the best, see
    ``bandits.sample_tasks``), each played on fresh uniform and fresh skewed tasks.

    Per network and task set: mean successes over ``eval_tasks`` tasks, averaged per training seed,
    with a Student's t interval over seeds; the share of all pulls on arm 0; and, on uniform tasks
    where arm 0 is not the best arm, the share of pulls 6-10 still on arm 0 (undefined on skewed
    tasks, where arm 0 always is the best)."""
    config, k = _prepare(config), keys(key)
    validate.instance("trained", trained, rl2.Result, "an rl2.Result (from run_training)")
    skew_params, skew_config, _, _ = pretrained.load("rl2_skewed_n10_k5")
    kp, kr = jax.random.split(jax.random.fold_in(k.rl2, 1))
    tasks = {UNIFORM_TASKS: bandits.sample_tasks(kp, config.eval_tasks, 5),
             SKEWED_TASKS: bandits.sample_tasks(jax.random.fold_in(kp, 1), config.eval_tasks, 5, prior="skewed")}
    rows = []
    for j, (net, params) in enumerate(((UNIFORM_NET, trained.params), (SKEWED_NET, skew_params))):
        for t, (task_name, probs) in enumerate(tasks.items()):
            p = np.asarray(probs)
            arm0_worse = p[:, 0] < p.max(1)
            for i in range(params["pi"]["w"].shape[0]):
                out = rl2.evaluate(train.seed_slice(params, i), jax.random.fold_in(kr, 100 * j + 10 * t + i), probs, 10)
                actions = np.asarray(out.actions)
                late = (actions[arm0_worse, 5:] == 0).mean() if arm0_worse.any() else None
                rows.append({"network": net, "tasks": task_name, "seed": i,
                             "successes": float(np.asarray(out.rewards).sum(1).mean()),
                             "arm-0 share": float((actions == 0).mean()),
                             "arm-0 share, pulls 6-10, arm 0 not best": None if late is None else float(late)})
    per_seed = stats.with_missing(rows, {"arm-0 share, pulls 6-10, arm 0 not best": "Float64"})
    table = []
    for (net, task_name), g in per_seed.groupby(["network", "tasks"], sort=False):
        row = {"network": net, "tasks": task_name, "seeds": len(g)}
        for col in ("successes", "arm-0 share", "arm-0 share, pulls 6-10, arm 0 not best"):
            values = g[col].dropna().to_numpy(np.float64)
            row[col] = float(values.mean()) if values.size else None
            if col == "successes":
                ci = stats.mean_ci(values, method="t") if values.size >= 2 else None
                row["low"], row["high"] = (float(ci.low), float(ci.high)) if ci is not None else (None, None)
        table.append(row)
    table = stats.with_missing(table, {"low": "Float64", "high": "Float64",
                                       "arm-0 share, pulls 6-10, arm 0 not best": "Float64"})
    return Skewed(table, per_seed, skew_config)


def skewed_chart_frame(skewed: Skewed) -> pd.DataFrame:
    """``Skewed.table`` for a chart with intervals: a network with one training seed (smoke
    sizes) has no interval, and its bar collapses onto its point (as in :func:`training_curve`)."""
    validate.instance("skewed", skewed, Skewed, "a meta_learning.Skewed (from run_skewed)")
    frame = skewed.table.copy()
    for col in ("low", "high"):
        frame[col] = frame[col].fillna(frame["successes"]).to_numpy(np.float64)
    return frame


class Shift(NamedTuple):
    probs: np.ndarray
    rollouts: dict           # name -> Rollout over ``long_pulls`` pulls
    curves: pd.DataFrame     # regret curves for plots.line_band
    difference: dict         # (name, pulls) -> Summary of (network − Thompson) regret
    table: pd.DataFrame      # per network variant: best-arm share after the horizon, crossing pull


SCALED, CLAMPED = "RL², time input t/100 (unseen after pull 100)", "RL², time input held at 1 after pull 100"


def run_shift(key, config: Config = Config()) -> Shift:
    """The stored (100, 5) network played for ``long_pulls`` pulls, ten times its training horizon.

    Two variants separate the explanations of its failure: the time input t/100 keeps growing
    (inputs never seen in training), or it is held at 1 after pull 100 (inputs it has seen). Both
    use the same key, so they play identical first 100 pulls (common random numbers).
    """
    config, k = _prepare(config), keys(key)
    kp, kg, kt = jax.random.split(k.shift, 3)
    params = pretrained.load("rl2_n100_k5")[0]
    probs = bandits.sample_tasks(kp, config.long_tasks, num_arms=5)
    long = {SCALED: rl2.evaluate(params, kg, probs, config.long_pulls, horizon=100),
            CLAMPED: rl2.evaluate(params, kg, probs, config.long_pulls, horizon=100, clamp_time=True),
            "Thompson": bandits.run(kt, "Thompson", probs, config.long_pulls)}
    ts = np.asarray(bandits.regret(long["Thompson"], probs))
    best = np.asarray(probs).argmax(1)[:, None]
    difference, rows = {}, []
    for name in (SCALED, CLAMPED, "Thompson"):
        reg = np.asarray(bandits.regret(long[name], probs))
        share = stats.mean_ci((np.asarray(long[name].actions)[:, 100:] == best).mean(1), method="normal")
        row = {"algorithm": name, "best-arm share, pulls 101+": float(share.mean), "low": float(share.low),
               "high": float(share.high)}
        if name != "Thompson":
            for t in (100, config.long_pulls):
                difference[(name, t)] = stats.mean_ci(reg[:, t - 1] - ts[:, t - 1], method="normal")
            not_above = np.flatnonzero(reg.mean(0) <= ts.mean(0))   # pulls (0-based) where it is not behind
            row["regret above Thompson's from pull"] = int(not_above[-1]) + 2 if not_above.size else 1
        rows.append(row)
    # Thompson's own row has no crossing with itself: an explicit <NA>
    table = stats.with_missing(rows, {"regret above Thompson's from pull": "Int64"})
    return Shift(np.asarray(probs), long, regret_frame(long, probs, points=40), difference, table)


# --------------------------------------------------------------------------------------------- tables

def evaluate_baselines(key, probs, num_pulls: int, names=BASELINE_NAMES) -> dict:
    """Total successes per task of each named baseline on the same tasks: {name: (tasks,)}."""
    validate.prng_key("key", key)
    if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
        raise ValueError(f"names must be a sequence of baseline names, got {names!r}")
    names = tuple(names)
    if not names:
        raise ValueError("names must hold at least one baseline name")
    for i, name in enumerate(names):
        validate.choice(f"names[{i}]", name, set(bandits.BASELINES) | {"Gittins"})
    outs = bandits.run_many(jax.random.split(key, len(names)), names, probs, num_pulls)
    return {name: np.asarray(out.rewards.sum(1)) for name, out in outs.items()}


def summarize(values: dict, level: float = 0.95) -> pd.DataFrame:
    """Mean per algorithm with normal-approximation CIs over tasks.

    values: {name: (tasks,)} -> DataFrame(algorithm, mean, low, high, tasks).
    """
    validate.dict_keys("values", values, (), "a dict of algorithm name -> per-task values")
    if not values:
        raise ValueError("values must hold at least one algorithm")
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    rows = []
    for name, v in values.items():
        if len(validate.array(f"values[{name!r}]", v, ndim=1)) < 2:
            raise ValueError(f"values[{name!r}] needs at least 2 tasks for an interval, got {len(v)}")
        s = stats.mean_ci(np.asarray(v), method="normal", level=level)
        rows.append({"algorithm": name, "mean": float(s.mean), "low": float(s.low), "high": float(s.high), "tasks": s.n})
    return pd.DataFrame(rows)


def regret_frame(rollouts: dict, probs, points: int = 25, level: float = 0.95) -> pd.DataFrame:
    """Mean cumulative regret with CIs at ``points`` pulls per algorithm, for plots.line_band.

    rollouts: {name: Rollout} all played on the same ``probs: (tasks, k)``.
    """
    validate.dict_keys("rollouts", rollouts, (), "a dict of algorithm name -> bandits.Rollout")
    if not rollouts:
        raise ValueError("rollouts must hold at least one algorithm")
    validate.probabilities("probs", probs, ndim=2)
    points = validate.integer("points", points, minimum=1)
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    for name, rollout in rollouts.items():
        bandits.check_rollout(rollout, f"rollouts[{name!r}]", num_arms=np.shape(probs)[1], tasks=np.shape(probs)[0])
    return stats.curve_frame({name: bandits.regret(r, probs) for name, r in rollouts.items()}, points, level,
                             x="pull", y="regret")


def stored_training_curves(num_windows: int = 20) -> pd.DataFrame:
    """The meta-training curves of the stored 100-pull networks (one training run each), read from
    their files: windowed mean successes per task of the sampled play during training, per setting
    (columns setting, update, fraction of training, successes), with Duan et al.'s published RL²
    value beside each."""
    rows = []
    for k in (5, 10):
        _, net_config, returns, _ = pretrained.load(f"rl2_n100_k{k}")
        curve, window = stats.window_means(returns, num_windows=num_windows)
        updates = (np.arange(len(curve)) + 1) * window
        for u, v in zip(updates, curve):
            rows.append({"setting": f"n=100, k={k}", "update": int(u), "fraction of training": u / net_config.num_updates,
                         "successes": float(v), "Duan et al. 2016": DUAN_2016[(100, k)]["RL²"]})
    return pd.DataFrame(rows)


def plateau_table(curves: pd.DataFrame) -> pd.DataFrame:
    """From :func:`stored_training_curves`: per setting, the windowed training score at three
    quarters of training and at the end, the gain between them, and Duan et al.'s value."""
    validate.instance("curves", curves, pd.DataFrame, "a DataFrame from stored_training_curves")
    rows = []
    for setting, g in curves.groupby("setting", sort=False):
        quarter = g.loc[g["fraction of training"] <= 0.75, "successes"].iloc[-1]
        end = g["successes"].iloc[-1]
        rows.append({"setting": setting, "at 3/4 of training": quarter, "at the end": end, "gain": end - quarter,
                     "Duan et al. 2016 (evaluation)": g["Duan et al. 2016"].iloc[0]})
    return pd.DataFrame(rows)


def training_curve(trained: rl2.Result, num_windows: int = 30, level: float = 0.95) -> pd.DataFrame:
    """Mean successes per task over meta-training, windowed, with a Student-t interval over seeds
    (one seed: no interval)."""
    validate.instance("trained", trained, rl2.Result, "an rl2.Result (from run_training)")
    curve, window = stats.window_means(trained.returns, num_windows=num_windows)   # (windows, seeds)
    frame = pd.DataFrame({"update": (np.arange(len(curve)) + 1) * window, "successes": curve.mean(1)})
    if curve.shape[1] > 1:
        s = stats.mean_ci(curve, axis=1, method="t", level=level)
        frame["low"], frame["high"] = s.low, s.high
    else:
        frame["low"] = frame["high"] = frame["successes"]
    return frame
