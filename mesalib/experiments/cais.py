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
* :func:`run_checks`: the checks a person could run at each layer, what they catch, what they cost;
  :func:`run_probe` adds Chapter 4's linear probe of the RL² agent's hidden state to them.

Demonstration 1 compares the learned schedules with the full-horizon optimum
(:func:`mesalib.metaopt.optimal_schedule`, float64 L-BFGS-B) and the greedy closed form.
"""
from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from mesalib import bandits, metaopt as mo, pretrained, probes, rl2, stats, train, validate


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
    optimal_lrs: np.ndarray       # (T,) the full-horizon optimum (metaopt.optimal_schedule, float64 L-BFGS-B)
    optimal_losses: np.ndarray    # (T,)
    constant_lr: float            # best constant step size on the true objective
    constant_losses: np.ndarray   # (T,)
    sampled_final: np.ndarray     # (H, runs) final loss of sampled final services
    reference_final: np.ndarray   # (3, runs) the same for the greedy, optimal and best constant schedules
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
    k_tree, k_reference = jax.random.split(key)
    out = mo.develop(k_tree, mo.make_schedule_train(sc), len(horizons), mo.schedule_sgd,
                     lambda state: mo.schedule_lrs(state.u, max_lr), mo.nqm_family(sc.nqm), config.final_runs,
                     sc.num_steps, jnp.asarray(horizons, jnp.int32), progress=False)
    lrs = np.asarray(mo.schedule_lrs(out.intermediary.u, max_lr))
    losses = np.stack([np.asarray(mo.nqm_unroll(model, x)) for x in lrs])
    g_lrs, g_losses = (np.asarray(a) for a in mo.greedy_schedule(model, sc.num_steps))
    grid = np.linspace(max_lr / config.constant_lrs, max_lr, config.constant_lrs, endpoint=False)
    finals = [float(mo.nqm_unroll(model, np.full(sc.num_steps, c, np.float32))[-1]) for c in grid]
    best = float(grid[int(np.argmin(finals))])
    o_lrs = mo.optimal_schedule(model, sc.num_steps, max_lr=max_lr)
    o_losses = np.asarray(mo.nqm_unroll(model, o_lrs.astype(np.float32)))
    # the reference schedules train sampled final services too (same number, fresh noise)
    references = np.stack([g_lrs, o_lrs, np.full(sc.num_steps, best)]).astype(np.float32)
    reference_final = mo.train_final_seeds(jax.random.split(k_reference, 3), mo.schedule_sgd, references,
                                           mo.nqm_family(sc.nqm), config.final_runs, sc.num_steps)
    return HorizonResult(np.asarray(horizons), lrs, losses, g_lrs, g_losses, o_lrs, o_losses, best,
                         np.asarray(mo.nqm_unroll(model, np.full(sc.num_steps, best, np.float32))),
                         out.final_losses[:, :, -1], np.asarray(reference_final)[:, :, -1], out.metrics, out.seconds)


def horizon_label(h: int, num_steps: int) -> str:
    return f"K = {h}" + (" (full)" if h == num_steps else "")


OPTIMAL = "full-horizon optimum (L-BFGS)"
GREEDY = "greedy (closed form)"


def _reference_names(result: HorizonResult) -> list:
    return [GREEDY, OPTIMAL, f"best constant ({result.constant_lr:.2g})"]


def horizon_table(result: HorizonResult) -> pd.DataFrame:
    """Per schedule (each learned horizon, then the greedy, optimal and best constant schedules):
    step size at 10% and 50% of training, expected final loss (closed form), sampled final loss
    with a 95% interval over final services, and the ratio to the full-horizon optimum's loss."""
    T = result.lrs.shape[1]
    best = result.optimal_losses[-1]
    curves = [(horizon_label(int(h), T), result.lrs[i], result.losses[i], result.sampled_final[i])
              for i, h in enumerate(result.horizons)]
    curves += list(zip(_reference_names(result), (result.greedy_lrs, result.optimal_lrs,
                                                   np.full(T, result.constant_lr)),
                       (result.greedy_losses, result.optimal_losses, result.constant_losses), result.reference_final))
    rows = []
    for name, lrs, losses, sampled in curves:
        s = stats.mean_ci(sampled, method="normal")
        rows.append({"schedule": name, "lr at 10%": lrs[T // 10 - 1], "lr at 50%": lrs[T // 2 - 1],
                     "final loss": losses[-1], "sampled final loss": float(s.mean), "low": float(s.low),
                     "high": float(s.high), "× optimal loss": losses[-1] / best})
    return pd.DataFrame(rows)


def lr_ratio_table(result: HorizonResult, edges=(0.0, 0.1, 0.5, 0.9, 1.0)) -> pd.DataFrame:
    """How many times smaller than the full-horizon optimum's each learned schedule's step sizes
    are: the geometric mean over the steps of each span of training (``edges``: fractions of T) of
    ``optimal / learned`` (above 1: too small). A mean over a span, because schedules learned with
    K > 1 are sawtooths (small steps at the end of each K-step window, large ones inside), so a
    single step can mislead."""
    T = result.lrs.shape[1]
    bounds = [int(round(e * T)) for e in edges]
    if any(b >= c for b, c in zip(bounds, bounds[1:])) or bounds[0] != 0 or bounds[-1] != T:
        raise ValueError(f"edges must rise from 0 to 1 with at least one step between neighbours, got {edges!r}")
    log_ratio = np.log(result.optimal_lrs[None, :]) - np.log(result.lrs)
    rows = []
    for i, h in enumerate(result.horizons):
        row = {"schedule": horizon_label(int(h), T)}
        for lo, hi in zip(bounds, bounds[1:]):
            row[f"steps {lo + 1}–{hi}"] = float(np.exp(log_ratio[i, lo:hi].mean()))
        rows.append(row)
    return pd.DataFrame(rows)


def final_loss_frame(result: HorizonResult) -> pd.DataFrame:
    """Sampled final loss at the real horizon per schedule, with 95% intervals over final services
    (the meta-training itself is deterministic: the top service sees the exact closed-form objective)."""
    t = horizon_table(result)
    kind = ["learned"] * len(result.horizons) + ["closed form", "numerical optimum", "hand-tuned"]
    return t[["schedule", "sampled final loss", "low", "high"]].assign(kind=kind)


def schedule_frame(result: HorizonResult, points: int = 60) -> pd.DataFrame:
    """Long table (step, value, schedule, quantity) of step sizes and expected losses at
    ``points`` log-spaced steps, for a chart with a log step axis."""
    T = result.lrs.shape[1]
    idx = np.unique(np.geomspace(1, T, points).round().astype(int)) - 1
    frames = []
    curves = [(horizon_label(int(h), T), result.lrs[i], result.losses[i]) for i, h in enumerate(result.horizons)]
    curves.append((GREEDY, result.greedy_lrs, result.greedy_losses))
    curves.append((OPTIMAL, result.optimal_lrs, result.optimal_losses))
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
        validate.choice("weights", self.weights, set(pretrained.SINGLE))
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


class ProbeCheckConfig(NamedTuple):
    """Chapter 4's linear probe (``probes.fit_probe``) as a check on the RL² agent: a ridge read-out
    of the Bayesian posterior mean of each arm (uniform prior, the agent's training prior) from the
    GRU's hidden state, fitted on the pulls of its training horizon on ``1 - test_fraction`` of the
    first ``episodes`` training-prior episodes of Demonstration 2; its R² is then measured, with
    ``boots`` bootstrap resamples of episodes for a 95% interval, on held-out episodes (the first
    ``episodes`` of each prior) within and past the training horizon."""
    weights: str = "rl2_n100_k5"
    episodes: int = 256
    test_fraction: float = 0.25
    boots: int = 1000

    def test(self) -> "ProbeCheckConfig":
        """Claim-test size: the same (the probe takes seconds)."""
        return self


class ProbeCheckResult(NamedTuple):
    """r2: one row per (prior, span) with the probe's R² (mean over arms) on held-out episodes and a
    95% bootstrap interval over episodes; fit_r2: the held-out R² per arm within the training
    horizon on the training prior (as in Chapter 4); episodes: how many of the agent's episodes of
    each prior the probe read; seconds: replay, fit and scoring."""
    r2: pd.DataFrame
    fit_r2: np.ndarray
    train_pulls: int
    episodes: int
    seconds: float


def _r2_boot(rng, y, pred, boots: int):
    """R² (mean over columns) of ``pred`` for ``y`` (episodes, steps, k), and a 95% bootstrap
    interval over episodes (sufficient statistics per episode, so each resample is cheap)."""
    n = y.shape[1]
    sse = ((y - pred) ** 2).sum(1)                       # (episodes, k)
    sy, syy = y.sum(1), (y ** 2).sum(1)

    def r2(idx):
        N = len(idx) * n
        sst = syy[idx].sum(0) - sy[idx].sum(0) ** 2 / N
        return float(np.mean(1.0 - sse[idx].sum(0) / sst))

    every = np.arange(y.shape[0])
    draws = [r2(rng.integers(0, y.shape[0], y.shape[0])) for _ in range(boots)]
    return r2(every), float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))


def run_probe(key, learner: "LearnerResult", config: ProbeCheckConfig = ProbeCheckConfig()) -> ProbeCheckResult:
    """Demonstration 3's probe: fit Chapter 4's probe of the RL² agent's hidden state for the
    posterior on the training horizon, then read it on held-out episodes of both priors, within
    and past that horizon. Needs the agent's own histories (not Thompson's, not the true arms)."""
    validate.prng_key("key", key)
    validate.choice("weights", config.weights, set(pretrained.SINGLE))
    validate.real("test_fraction", config.test_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    boots = validate.integer("boots", config.boots, minimum=100)
    m = validate.integer("episodes", config.episodes, minimum=8)
    k_fit, k_boot = jax.random.split(key)
    start = time.perf_counter()
    params, net_config, _, _ = pretrained.load(config.weights)
    n, k = learner.train_pulls, net_config.num_arms
    data = {}
    for prior in learner.probs:
        full = learner.rollouts[(prior, "RL²")]
        rollout = bandits.Rollout(full.actions[:m], full.rewards[:m])
        hidden = np.asarray(rl2.replay(params, rollout, horizon=n).hidden, np.float64)
        onehot = np.eye(k)[np.asarray(rollout.actions)]
        r = np.asarray(rollout.rewards, np.float64)[..., None]
        s = np.cumsum(onehot * r, 1) - onehot * r                    # successes and failures before each pull
        f = np.cumsum(onehot * (1 - r), 1) - onehot * (1 - r)
        data[prior] = (hidden, (s + 1) / (s + f + 2))
    train_prior = next(iter(learner.probs))
    hidden, post = data[train_prior]
    tasks, width = hidden.shape[0], hidden.shape[-1]
    fit = probes.fit_probe(k_fit, hidden[:, :n].reshape(-1, width), post[:, :n].reshape(-1, k),
                           np.repeat(np.arange(tasks), n), test_fraction=config.test_fraction)
    held_out = np.unique(np.repeat(np.arange(tasks), n)[fit.test])
    rng = np.random.default_rng(int(jax.random.randint(k_boot, (), 0, 2 ** 31 - 1)))
    rows = []
    for prior, (hidden, post) in data.items():
        episodes = held_out if prior == train_prior else np.arange(hidden.shape[0])
        T = hidden.shape[1]
        for span, lo, hi in ((f"pulls 1–{n}", 0, n), (f"pulls {n + 1}–{T}", n, T)):
            h, y = hidden[episodes, lo:hi], post[episodes, lo:hi]
            pred = probes.predict(fit.probe, h.reshape(-1, width)).reshape(y.shape)
            r2, low, high = _r2_boot(rng, y, pred, boots)
            rows.append({"prior": prior, "span": span, "r2": r2, "low": low, "high": high, "episodes": len(episodes)})
    return ProbeCheckResult(pd.DataFrame(rows), fit.r2, n, tasks, time.perf_counter() - start)


def probe_flags(probe: ProbeCheckResult, spans: int = 2) -> list:
    """Priors on which the probe's read-out is reliably worse than on held-out training episodes
    within the training horizon (its 95% interval entirely below that row's), looking at the
    first ``spans`` spans (1: the training horizon only; 2: also the pulls after it)."""
    t = probe.r2
    ref = t.iloc[0]
    seen = t[t["span"].isin(t["span"].unique()[:spans])]
    return list(dict.fromkeys(seen["prior"][seen["high"] < ref["low"]]))


def _row(layer, check, flagged, failures, cost):
    flagged, failures = list(flagged), list(failures)
    return {"layer": layer, "check": check, "flags": ", ".join(flagged) or "none",
            "real failures": ", ".join(failures) or "none",
            "caught": f"{sum(f in flagged for f in failures)} of {len(failures)}",
            "false alarms": sum(f not in failures for f in flagged), "cost (steps)": int(cost)}


def run_checks(horizons: HorizonResult, optimizer: OptimizerResult, learner: LearnerResult,
               probe: ProbeCheckResult | None = None) -> pd.DataFrame:
    """The checks a person could run at each layer of the tree, applied to the results of
    Demonstrations 1 and 2: what each flags, the real failures at that layer, how many it caught,
    its false alarms, and its cost in simulated training steps (pulls for the bandit agent).

    Real failures: schedules whose loss at the true horizon is worse than the best constant step;
    input scales where the learned optimizer is worse than Adam (95% interval over seeds above 0);
    priors on which the RL² agent has more regret than Thompson sampling over the deployment
    horizon (95% interval over tasks above 0).

    With ``probe`` (from :func:`run_probe`), two more rows: Chapter 4's probe of the agent's
    hidden state, read within its training horizon and over the whole deployment; they cost
    the agent's own pulls only (no baseline to run, no true arm probabilities needed).
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
    rows = [
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
    ]
    if probe is not None:
        for spans, length in ((1, learner.train_pulls), (2, pulls)):
            rows.append(_row("RL² agent → bandit tasks",
                             f"probe (Chapter 4) of the hidden state for the posterior, {length} pulls",
                             probe_flags(probe, spans), worse_late, len(learner.probs) * probe.episodes * length))
    return pd.DataFrame(rows)


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
