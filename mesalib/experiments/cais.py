"""Chapter 7 (Comprehensive AI Services): services that train services, and where a learned
optimizer can sit in that tree.

Four demonstrations, each ``run_<demo>(key, config) -> Result`` with its own Config (defaults
are the book's settings; ``Config().test()`` is the smaller size of the claim tests):

* :func:`run_horizons`: a top service meta-trains a learning-rate schedule on the noisy
  quadratic model with unroll horizons K; the schedules and their final losses at the true horizon.
* :func:`run_optimizer`: a learned optimizer meta-trained on one task family, deployed on
  shifted families beside Adam tuned on the same family.
* :func:`run_learner`: a final service that is itself a learner (Chapter 1's RL² agent),
  deployed beyond its training horizon and on another prior, beside Thompson sampling.
* :func:`run_checks`: the checks a person could run at each layer, what they catch, what they cost.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from mesalib import bandits, metaopt as mo, pretrained, rl2, stats, train, validate


def _t_interval(x, level: float = 0.95):
    """Mean and Student-t interval over the first axis (a few training seeds)."""
    s = stats.mean_ci(x, axis=0, method="t", level=level)
    return s.mean, s.low, s.high


# ============================================================================ Demonstration 1


class HorizonConfig(NamedTuple):
    """The top service trains a schedule for the NQM with each unroll horizon in ``horizons``
    (the last one should equal ``schedule.num_steps``: the true objective); ``final_runs``
    sampled SGD runs (final services) per schedule check the closed form."""
    schedule: mo.ScheduleConfig = mo.ScheduleConfig()
    horizons: tuple = (1, 10, 100, 1000)
    final_runs: int = 32
    constant_lrs: int = 40   # grid of constant step sizes for the hand-designed baseline

    def test(self) -> "HorizonConfig":
        """Claim-test size: a 100-dimensional NQM, 100 steps, horizons 1, 10 and 100."""
        return self._replace(schedule=self.schedule._replace(nqm=mo.NQMConfig(dim=100), num_steps=100,
                                                             num_updates=400),
                             horizons=(1, 10, 100), final_runs=16)

    def check(self) -> "HorizonConfig":
        validate.instance("schedule", self.schedule, mo.ScheduleConfig, "a metaopt.ScheduleConfig")
        mo.make_schedule_train(self.schedule)   # checks the schedule's fields (cached: no extra cost)
        if isinstance(self.horizons, (str, bytes)) or not hasattr(self.horizons, "__len__") or not self.horizons:
            raise ValueError(f"horizons must list at least one unroll horizon, got {self.horizons!r}")
        for i, h in enumerate(self.horizons):
            validate.integer(f"horizons[{i}]", h, minimum=1, maximum=self.schedule.num_steps)
        validate.integer("final_runs", self.final_runs, minimum=2)
        validate.integer("constant_lrs", self.constant_lrs, minimum=1)
        return self


class HorizonResult(NamedTuple):
    horizons: np.ndarray          # (H,)
    lrs: np.ndarray               # (H, T) learned schedules
    losses: np.ndarray            # (H, T) expected loss after each step under each schedule
    greedy_lrs: np.ndarray        # (T,) the greedy schedule in closed form
    greedy_losses: np.ndarray     # (T,)
    constant_lr: float            # best constant step size on the true objective
    constant_losses: np.ndarray   # (T,)
    sampled_final: np.ndarray     # (H, runs) final loss of sampled final services
    metrics: dict                 # top service's metrics, (updates, H)
    seconds: float


def run_horizons(key, config: HorizonConfig = HorizonConfig()) -> HorizonResult:
    """Demonstration 1: one schedule per unroll horizon, trained by the top service in one
    compiled program (horizons are the seed axis), then deployed on sampled final services."""
    validate.prng_key("key", key)
    validate.instance("config", config, HorizonConfig, "a cais.HorizonConfig").check()
    sc = config.schedule
    horizons = tuple(validate.integer(f"horizons[{i}]", h, minimum=1, maximum=sc.num_steps)
                     for i, h in enumerate(config.horizons))
    validate.integer("final_runs", config.final_runs, minimum=2)
    model = mo.nqm(sc.nqm)
    max_lr = float(2.0 / np.max(np.asarray(model.h))) if sc.max_lr is None else sc.max_lr
    out = mo.develop(key, mo.make_schedule_train(sc), len(horizons), mo.schedule_sgd,
                     lambda state: mo.schedule_lrs(state.u, max_lr), mo.nqm_family(sc.nqm), config.final_runs,
                     sc.num_steps, jnp.asarray(horizons, jnp.int32), progress=False)
    lrs = np.asarray(mo.schedule_lrs(out.intermediary.u, max_lr))
    losses = np.stack([np.asarray(mo.nqm_unroll(model, x)) for x in lrs])
    g_lrs, g_losses = (np.asarray(a) for a in mo.greedy_schedule(model, sc.num_steps))
    grid = np.linspace(max_lr / config.constant_lrs, max_lr, config.constant_lrs, endpoint=False)
    finals = [float(mo.nqm_unroll(model, np.full(sc.num_steps, c, np.float32))[-1]) for c in grid]
    best = float(grid[int(np.argmin(finals))])
    return HorizonResult(np.asarray(horizons), lrs, losses, g_lrs, g_losses, best,
                         np.asarray(mo.nqm_unroll(model, np.full(sc.num_steps, best, np.float32))),
                         out.final_losses[:, :, -1], out.metrics, out.seconds)


def horizon_label(h: int, num_steps: int) -> str:
    return f"K = {h}" + (" (full)" if h == num_steps else "")


def horizon_table(result: HorizonResult) -> pd.DataFrame:
    """Per horizon: step size at 10% and 50% of training, expected final loss (closed form),
    sampled final loss with a 95% interval over final services, and the ratio to the full horizon's."""
    T = result.lrs.shape[1]
    full = result.losses[-1, -1]
    rows = []
    for i, h in enumerate(result.horizons):
        s = stats.mean_ci(result.sampled_final[i], method="normal")
        rows.append({"schedule": horizon_label(int(h), T), "lr at 10%": result.lrs[i, T // 10 - 1],
                     "lr at 50%": result.lrs[i, T // 2 - 1], "final loss": result.losses[i, -1],
                     "sampled final loss": float(s.mean), "low": float(s.low), "high": float(s.high),
                     "× full-horizon loss": result.losses[i, -1] / full})
    rows.append({"schedule": "greedy (closed form)", "lr at 10%": result.greedy_lrs[T // 10 - 1],
                 "lr at 50%": result.greedy_lrs[T // 2 - 1], "final loss": result.greedy_losses[-1],
                 "× full-horizon loss": result.greedy_losses[-1] / full})
    rows.append({"schedule": f"best constant ({result.constant_lr:.2g})", "lr at 10%": result.constant_lr,
                 "lr at 50%": result.constant_lr, "final loss": result.constant_losses[-1],
                 "× full-horizon loss": result.constant_losses[-1] / full})
    return pd.DataFrame(rows)


def schedule_frame(result: HorizonResult, points: int = 60) -> pd.DataFrame:
    """Long table (step, value, schedule, quantity) of step sizes and expected losses at
    ``points`` log-spaced steps, for a chart with a log step axis."""
    T = result.lrs.shape[1]
    idx = np.unique(np.geomspace(1, T, points).round().astype(int)) - 1
    frames = []
    curves = [(horizon_label(int(h), T), result.lrs[i], result.losses[i]) for i, h in enumerate(result.horizons)]
    curves.append(("greedy (closed form)", result.greedy_lrs, result.greedy_losses))
    for name, lr, loss in curves:
        frames.append(pd.DataFrame({"step": idx + 1, "value": lr[idx], "schedule": name, "quantity": "step size"}))
        frames.append(pd.DataFrame({"step": idx + 1, "value": loss[idx], "schedule": name, "quantity": "expected loss"}))
    return pd.concat(frames, ignore_index=True)


# ============================================================================ Demonstration 2, learned optimizer


class OptimizerConfig(NamedTuple):
    """The learned optimizer, meta-trained on regression tasks with input scale 1 by ``seeds``
    independent top services, deployed (with Adam tuned on the training family) on ``eval_tasks``
    held-out tasks per seed for ``eval_steps`` steps, with the inputs rescaled by each of ``scales``
    (the same tasks in other units; 1 is the training family)."""
    train: mo.OptimizerTrainConfig = mo.OptimizerTrainConfig()
    seeds: int = 8
    scales: tuple = (0.5, 1.0, 1.5, 2.0, 3.0)
    eval_tasks: int = 32
    eval_steps: int = 30
    adam_lrs: tuple = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)

    def test(self) -> "OptimizerConfig":
        """Claim-test size: 4 seeds, 120 meta-updates, scales 1 and 3."""
        return self._replace(train=self.train._replace(num_updates=120), seeds=4, scales=(1.0, 3.0))

    def check(self) -> "OptimizerConfig":
        validate.instance("train", self.train, mo.OptimizerTrainConfig, "a metaopt.OptimizerTrainConfig")
        mo.make_optimizer_train(self.train)     # checks the top service's fields
        validate.integer("seeds", self.seeds, minimum=2)
        for name in ("scales", "adam_lrs"):
            values = getattr(self, name)
            if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not len(values):
                raise ValueError(f"{name} must list at least one value, got {values!r}")
            for i, v in enumerate(values):
                validate.real(f"{name}[{i}]", v, low=0.0, low_open=True, dtype=np.float32)
        validate.integer("eval_tasks", self.eval_tasks, minimum=1)
        validate.integer("eval_steps", self.eval_steps, minimum=1)
        return self


class OptimizerResult(NamedTuple):
    scales: np.ndarray        # (S,)
    theta: list               # learned optimizers, leaves with a leading seed axis
    metrics: dict             # (updates, seeds)
    adam_lr: float
    learned: np.ndarray       # (seeds, S, tasks) log10 final/initial loss, capped at 3
    adam: np.ndarray          # (seeds, S, tasks) Adam on the same tasks
    effective_lr: np.ndarray  # (seeds,) probe of each learned rule
    curvature: np.ndarray     # (S,) mean largest Hessian eigenvalue of the tasks at each scale
    steps: int                # training steps per deployed final service
    seconds: float


def run_optimizer(key, config: OptimizerConfig = OptimizerConfig()) -> OptimizerResult:
    """Demonstration 2b: meta-train, tune Adam on the training family, deploy both on every scale."""
    validate.prng_key("key", key)
    validate.instance("config", config, OptimizerConfig, "a cais.OptimizerConfig").check()
    seeds = validate.integer("seeds", config.seeds, minimum=2)
    scales = tuple(validate.real(f"scales[{i}]", s, low=0.0, low_open=True) for i, s in enumerate(config.scales))
    k_top, k_tune, k_eval = jax.random.split(key, 3)
    out = train.train_seeds(mo.make_optimizer_train(config.train), jax.random.split(k_top, seeds),
                            progress=False)
    base = config.train.family
    family = mo.regression_family(base)
    adam_lr = mo.best_learning_rate(k_tune, mo.adam, family, config.adam_lrs, config.eval_tasks, config.eval_steps)
    make_lo = mo.learned_optimizer_factory(config.train.optimizer)
    lrs = jnp.full((seeds,), adam_lr, jnp.float32)
    k_tasks, k_train = jax.random.split(k_eval)
    train_keys = jax.random.split(k_train, seeds)
    tasks = mo.sample_seeds(jax.random.split(k_tasks, seeds), mo.regression_family(base), config.eval_tasks)
    learned, adam, curvature = [], [], []
    for scale in scales:  # the same tasks, inputs rescaled: curvature x scale**2
        shifted = mo.rescale_inputs(tasks, scale)
        learned.append(mo.log_ratio(mo.deploy_seeds(train_keys, make_lo, out.state.theta, family, shifted,
                                                    config.eval_steps)))
        adam.append(mo.log_ratio(mo.deploy_seeds(train_keys, mo.adam, lrs, family, shifted, config.eval_steps)))
        x = np.asarray(shifted[0], np.float64).reshape(-1, base.points, base.dim)
        curvature.append(float(np.linalg.eigvalsh(np.einsum("npd,npe->nde", x, x) / base.points)[:, -1].mean()))
    eff = np.array([mo.effective_lr(train.seed_slice(out.state.theta, i), config.train.optimizer) for i in range(seeds)])
    return OptimizerResult(np.asarray(scales), out.state.theta, out.metrics, adam_lr,
                           np.swapaxes(np.asarray(learned), 0, 1), np.swapaxes(np.asarray(adam), 0, 1),
                           eff, np.asarray(curvature), config.eval_steps, out.seconds)


def optimizer_table(result: OptimizerResult) -> pd.DataFrame:
    """Per deployment scale: mean log10(final/initial loss) for the learned optimizer and Adam,
    with 95% Student-t intervals over the meta-training seeds, and the fraction of runs that ended
    above their starting loss (diverged)."""
    rows = []
    for j, scale in enumerate(result.scales):
        lm, ll, lh = _t_interval(result.learned[:, j].mean(-1))
        am, al, ah = _t_interval(result.adam[:, j].mean(-1))
        dm, dl, dh = _t_interval(result.learned[:, j].mean(-1) - result.adam[:, j].mean(-1))
        rows.append({"input scale": scale, "family": "training" if scale == 1.0 else "shifted",
                     "learned": lm, "learned low": ll, "learned high": lh,
                     "Adam": am, "Adam low": al, "Adam high": ah,
                     "learned − Adam": dm, "diff low": dl, "diff high": dh,
                     "learned diverged": float((result.learned[:, j] > 0).mean()),
                     "Adam diverged": float((result.adam[:, j] > 0).mean())})
    return pd.DataFrame(rows)


def optimizer_frame(result: OptimizerResult) -> pd.DataFrame:
    """Long table for a points-with-intervals chart: scale, optimizer, mean, low, high."""
    t = optimizer_table(result)
    a = t[["input scale", "learned", "learned low", "learned high"]].set_axis(["input scale", "mean", "low", "high"], axis=1)
    b = t[["input scale", "Adam", "Adam low", "Adam high"]].set_axis(["input scale", "mean", "low", "high"], axis=1)
    return pd.concat([a.assign(optimizer="learned optimizer"), b.assign(optimizer=f"Adam (lr {result.adam_lr:g})")],
                     ignore_index=True)


# ============================================================================ Demonstration 2, learner as final service


class LearnerConfig(NamedTuple):
    """Chapter 1's meta-trained RL² agent (``weights``, trained on 100 pulls with a uniform prior)
    as a final service: ``tasks`` bandits from the training prior and from Beta(``beta_a``,
    ``beta_b``), each played for ``deploy_pulls`` pulls with the time input scaled as in training."""
    weights: str = "rl2_n100_k5"
    tasks: int = 1000
    deploy_pulls: int = 500
    beta_a: float = 1.0
    beta_b: float = 9.0

    def test(self) -> "LearnerConfig":
        """Claim-test size: 500 tasks of each prior."""
        return self._replace(tasks=500)

    def check(self) -> "LearnerConfig":
        validate.choice("weights", self.weights, set(pretrained.CONFIGS))
        validate.integer("tasks", self.tasks, minimum=1)
        validate.integer("deploy_pulls", self.deploy_pulls, minimum=1)
        validate.real("beta_a", self.beta_a, low=0.0, low_open=True, dtype=np.float32)
        validate.real("beta_b", self.beta_b, low=0.0, low_open=True, dtype=np.float32)
        return self


class LearnerResult(NamedTuple):
    train_pulls: int
    probs: dict           # prior -> (tasks, k)
    rollouts: dict        # (prior, agent) -> bandits.Rollout


def run_learner(key, config: LearnerConfig = LearnerConfig()) -> LearnerResult:
    """Demonstration 2a: the RL² agent and Thompson sampling on the same tasks of both priors."""
    validate.prng_key("key", key)
    validate.instance("config", config, LearnerConfig, "a cais.LearnerConfig").check()
    params, rl2_config, _, _ = pretrained.load(config.weights)
    n = rl2_config.num_pulls
    pulls = validate.integer("deploy_pulls", config.deploy_pulls, minimum=n)
    priors = {"uniform (training)": dict(prior="uniform"),
              f"Beta({config.beta_a:g}, {config.beta_b:g})": dict(prior="beta", a=config.beta_a, b=config.beta_b)}
    probs, rollouts = {}, {}
    for name, kw, k in zip(priors, priors.values(), jax.random.split(key, len(priors))):
        k_tasks, k_rl2, k_ts = jax.random.split(k, 3)
        probs[name] = bandits.sample_tasks(k_tasks, config.tasks, rl2_config.num_arms, **kw)
        rollouts[(name, "RL²")] = rl2.evaluate(params, k_rl2, probs[name], pulls, horizon=n)
        rollouts[(name, "Thompson")] = bandits.run(k_ts, "Thompson", probs[name], pulls)
    return LearnerResult(n, probs, rollouts)


def learner_table(result: LearnerResult) -> pd.DataFrame:
    """Expected regret of each agent in pulls 1..n (the training horizon) and n+1..end, with 95%
    intervals over tasks, per prior; and the paired difference RL² − Thompson."""
    rows = []
    n = result.train_pulls
    for prior, probs in result.probs.items():
        reg = {a: np.asarray(bandits.regret(result.rollouts[(prior, a)], probs), np.float64) for a in ("RL²", "Thompson")}
        end = reg["RL²"].shape[1]
        for span, lo, hi in ((f"pulls 1–{n}", 0, n), (f"pulls {n + 1}–{end}", n, end)):
            part = {a: r[:, hi - 1] - (r[:, lo - 1] if lo else 0.0) for a, r in reg.items()}
            row = {"prior": prior, "span": span}
            for a, v in list(part.items()) + [("RL² − Thompson", part["RL²"] - part["Thompson"])]:
                s = stats.mean_ci(v, method="normal")
                row[a], row[f"{a} low"], row[f"{a} high"] = float(s.mean), float(s.low), float(s.high)
            rows.append(row)
    return pd.DataFrame(rows)


def learner_frame(result: LearnerResult, prior: str | None = None, points: int = 40) -> pd.DataFrame:
    """Regret curves with intervals for one prior (default: the training prior)."""
    validate.integer("points", points, minimum=1)
    validate.instance("result", result, LearnerResult, "a cais.LearnerResult (from run_learner)")
    prior = next(iter(result.probs)) if prior is None else validate.choice("prior", prior, set(result.probs))
    rollouts = {a: result.rollouts[(prior, a)] for a in ("RL²", "Thompson")}
    return stats.curve_frame({a: bandits.regret(r, result.probs[prior]) for a, r in rollouts.items()}, points,
                             x="pull", y="regret")


# ============================================================================ Demonstration 3


def _row(layer, check, flagged, failures, cost):
    flagged, failures = list(flagged), list(failures)
    return {"layer": layer, "check": check, "flags": ", ".join(flagged) or "none",
            "real failures": ", ".join(failures) or "none",
            "caught": f"{sum(f in flagged for f in failures)} of {len(failures)}",
            "false alarms": sum(f not in failures for f in flagged), "cost (steps)": int(cost)}


def run_checks(horizons: HorizonResult, optimizer: OptimizerResult, learner: LearnerResult) -> pd.DataFrame:
    """The checks a person could run at each layer of the tree, applied to the results of
    Demonstrations 1 and 2: what each flags, the real failures at that layer, how many it caught,
    its false alarms, and its cost in simulated training steps (pulls for the bandit agent).

    Real failures: schedules whose loss at the true horizon is worse than the best constant step;
    input scales where the learned optimizer is worse than Adam (95% interval over seeds above 0);
    priors on which the RL² agent has more regret than Thompson sampling over the deployment
    horizon (95% interval over tasks above 0).
    """
    T = horizons.lrs.shape[1]
    H = len(horizons.horizons)
    short = max(1, T // 10)
    labels = [horizon_label(int(h), T) for h in horizons.horizons]
    failing = [lab for lab, loss in zip(labels, horizons.losses[:, -1]) if loss > horizons.constant_losses[-1]]
    at_short = [lab for lab, loss in zip(labels, horizons.losses[:, short - 1])
                if loss > horizons.constant_losses[short - 1]]
    t = optimizer_table(optimizer)
    bad = [f"{s:g}" for s in t["input scale"][t["diff low"] > 0]]
    stress = [f"{s:g}" for s in t["input scale"][(t["diff low"] > 0) & (t["input scale"] <= 1.5)]]
    predicted = [f"{s:g}" for s, c in zip(optimizer.scales, optimizer.curvature)
                 if np.median(optimizer.effective_lr) * c > 2.0]
    lt = learner_table(learner)
    spans = lt["span"].unique()
    early, late = lt[lt["span"] == spans[0]], lt[lt["span"] == spans[1]]
    worse_late = list(late["prior"][late["RL² − Thompson low"] > 0])
    tasks = len(next(iter(learner.probs.values())))
    pulls = learner.rollouts[next(iter(learner.rollouts))].actions.shape[1]
    seeds, S, n_eval = optimizer.learned.shape
    run_cost = seeds * n_eval * optimizer.steps * 2
    return pd.DataFrame([
        _row("top → schedule", f"held-out run at the true horizon ({T} steps), beside the best constant step",
             failing, failing, H * T),
        _row("top → schedule", f"cheap run of {short} steps, beside the best constant step", at_short, failing, H * short),
        _row("learned optimizer → models", "stress tasks at input scales up to 1.5, beside tuned Adam",
             stress, bad, run_cost * int((optimizer.scales <= 1.5).sum())),
        _row("learned optimizer → models", f"stress tasks at all {S} input scales, beside tuned Adam", bad, bad, run_cost * S),
        _row("learned optimizer → models", "probe: effective step × largest curvature > 2", predicted, bad, 0),
        _row("RL² agent → bandit tasks", f"held-out tasks, {learner.train_pulls} pulls, beside Thompson",
             early["prior"][early["RL² − Thompson low"] > 0], worse_late, 2 * tasks * learner.train_pulls),
        _row("RL² agent → bandit tasks", f"held-out tasks, {pulls} pulls, beside Thompson", worse_late, worse_late,
             2 * tasks * pulls),
    ])


# ============================================================================ the diagram


def tree_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes and edges of the chapter's service tree, with people checking at every layer and the
    two places the paper says mesa-optimization can enter."""
    nodes = pd.DataFrame([
        ("developers", 0.0, 3.0, "person", "set the top service's objective and check every layer"),
        ("top service", 2.0, 3.0, "service", "meta-optimizer: trains the intermediary by unrolled meta-gradients"),
        ("intermediary", 2.0, 2.0, "where mesa-optimization can enter (2)",
         "a learned schedule or learned optimizer: meta-optimizer of the services below, "
         "and possibly a mesa-optimizer with respect to the top service"),
        ("final service A", 1.0, 0.6, "service", "a model trained on a task (regression, NQM)"),
        ("final service B", 3.0, 0.6, "where mesa-optimization can enter (1)",
         "a final service that is itself a learner (the RL² agent): its base optimizer is the service "
         "above it, or the whole chain"),
        ("check: true horizon", 4.0, 2.0, "person", "held-out evaluation at the real training horizon"),
        ("check: stress tasks", 0.0, 2.0, "person", "deployment on shifted task families; a probe of the rule"),
        ("check: deployment", 4.0, 0.0, "person", "held-out tasks at the deployment horizon"),
    ], columns=["name", "x", "y", "kind", "note"])
    xy = nodes.set_index("name")[["x", "y"]]

    def edge(a, b, kind):
        return {"x": xy.loc[a, "x"], "y": xy.loc[a, "y"], "x2": xy.loc[b, "x"], "y2": xy.loc[b, "y"], "kind": kind}

    edges = pd.DataFrame([edge("developers", "top service", "trains"), edge("top service", "intermediary", "trains"),
                          edge("intermediary", "final service A", "trains"),
                          edge("intermediary", "final service B", "trains"),
                          edge("check: true horizon", "intermediary", "check"),
                          edge("check: stress tasks", "intermediary", "check"),
                          edge("check: deployment", "final service B", "check")])
    return nodes, edges
