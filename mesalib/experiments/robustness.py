"""Chapter 2 (robustness to distributional shift): PPO agents trained with the goal (almost)
always in the top-right corner, deployed where it is elsewhere.

``run(key, Config())`` trains every (alpha, seed) pair in one compiled, vmapped program, deploys
each agent on the same levels, measures an untrained baseline and fits the Boltzmann-rational
model of :mod:`mesalib.objectives`. The notebook and ``tests/test_claims_ch02.py`` call it with
the same key split; the tests use ``Config().test()``.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from mesalib import gridworld, objectives, ppo, stats, train, validate


class Config(NamedTuple):
    """The chapter's settings: 4 values of alpha x 16 seeds, 128 deployment levels."""
    alphas: tuple = (0.0, 0.01, 0.05, 0.2)
    seeds: int = 16
    ppo: ppo.PPOConfig = ppo.PPOConfig()
    size: int = 7
    layout: str = "room"          # "room" (open size x size) or "maze" (a bank of random mazes)
    num_layouts: int = 64
    eval_levels: int = 128
    max_steps: int = 30

    def full(self) -> "Config":
        """The full sweep quoted in the chapter: 7 values of alpha x 32 seeds."""
        return self._replace(alphas=(0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2), seeds=32)

    def test(self) -> "Config":
        """The claim tests' size: the two ends of the sweep, 8 seeds, 64 deployment levels."""
        return self._replace(alphas=(0.0, 0.2), seeds=8, eval_levels=64)

    def smoke(self) -> "Config":
        """Seconds: the same code path with a tiny budget (MESALIB_SMOKE=1)."""
        return self._replace(alphas=(0.0, 0.2), seeds=2, eval_levels=8, ppo=self.ppo.smoke())

    def validated(self) -> "Config":
        """Check every field (names as in the config); alphas become a tuple of floats."""
        arr = validate.array("alphas", self.alphas, allow_empty=True)
        alphas = tuple(float(a) for a in np.atleast_1d(arr.astype(np.float64)))
        if not alphas or arr.ndim > 1:
            raise ValueError(f"alphas must be a non-empty 1-D sequence, got {self.alphas!r}")
        for i, a in enumerate(alphas):
            validate.real(f"alphas[{i}]", a, low=0.0, high=1.0)
        validate.integer("seeds", self.seeds, minimum=1, maximum=10_000)
        validate.choice("layout", self.layout, {"room", "maze"})
        size = validate.integer("size", self.size, minimum=4, maximum=gridworld.MAX_SIDE)   # (size - 2)² >= 3 free cells
        if self.layout == "maze":
            validate.integer("size", size, minimum=5, maximum=63)
            if size % 2 == 0:
                raise ValueError(f"size must be odd for mazes, got {size}")
        validate.integer("num_layouts", self.num_layouts, minimum=1, maximum=100_000)
        validate.integer("eval_levels", self.eval_levels, minimum=1, maximum=1_000_000)
        validate.integer("max_steps", self.max_steps, minimum=1, maximum=100_000)
        if not isinstance(self.ppo, ppo.PPOConfig):
            raise ValueError(f"ppo must be a ppo.PPOConfig, got {type(self.ppo).__name__}")
        return self._replace(alphas=alphas, ppo=self.ppo.check())


class SweepResult(NamedTuple):
    """Everything the corner sweep produced. Run-indexed arrays are (A, S, ...) for A alphas and
    S seeds; ``levels`` are the L deployment levels every run played."""
    alphas: np.ndarray
    corner: np.ndarray
    params: dict
    train_metrics: dict
    levels: gridworld.EnvParams
    traj: gridworld.Trajectory
    metrics: gridworld.CornerMetrics
    config: ppo.PPOConfig


class Result(NamedTuple):
    sweep: SweepResult
    baseline: gridworld.CornerMetrics   # untrained networks on the same levels, arrays (S, L)
    fit: objectives.ObjectiveFit        # goal vs corner, groups (A, S)


def _keys(key):
    """The chapter's key split: (level pictures, sweep, untrained baseline)."""
    return jax.random.split(key, 3)


def run(key, config: Config = Config(), progress: bool | str = False) -> Result:
    """The chapter's experiment: the sweep, the untrained baseline and the objective fit."""
    validate.prng_key("key", key)
    validate.instance("config", config, Config, "an experiments.robustness.Config")
    validate.progress("progress", progress)
    config = train.smoke_config(config)
    _, k_sweep, k_baseline = _keys(key)
    sweep = corner_sweep(k_sweep, config, progress=progress)
    baseline = untrained_baseline(k_baseline, sweep, runs=config.seeds)
    fit = objectives.fit_objective(sweep.traj, sweep.levels, {"goal": sweep.levels.goal, "corner": sweep.corner})
    return Result(sweep, baseline, fit)


def example_levels(key, size: int = 7, count: int = 3) -> pd.DataFrame:
    """``count`` training and ``count`` deployment levels as a frame for drawing."""
    validate.prng_key("key", key)
    validate.integer("size", size, minimum=4, maximum=gridworld.MAX_SIDE)   # start, goal, corner: (size - 2)² >= 3
    validate.integer("count", count, minimum=1, maximum=1000)
    k_show = _keys(key)[0]
    room, corner = gridworld.open_room(size, size), gridworld.top_right(size, size)
    k_train_levels, k_deploy_levels = jax.random.split(k_show)
    return pd.concat([
        gridworld.level_frame(gridworld.sample_levels(k_train_levels, gridworld.corner_task(room, 0.0), count),
                              corner, [f"training {i + 1}" for i in range(count)]),
        gridworld.level_frame(gridworld.sample_levels(k_deploy_levels, gridworld.corner_task(room, 0.0, deploy=True),
                                                      count), corner, [f"deployment {i + 1}" for i in range(count)]),
    ])


@functools.lru_cache(maxsize=8)
def _level_sampler(max_steps: int):
    """One sampler function per step limit, so the PPO trainer built on it is compiled once."""
    def sample(key, task):
        return gridworld.sample_corner_level(key, task, max_steps)
    return sample


def corner_sweep(key, config: Config = Config(), progress: bool | str = False) -> SweepResult:
    """Train PPO agents (all alphas x seeds in one compiled, vmapped program), then deploy each
    on the same ``eval_levels`` levels whose goal is uniform away from the corner.

    Training levels put the goal in the top-right corner with probability 1 - alpha, anywhere
    otherwise.
    """
    validate.prng_key("key", key)
    validate.instance("config", config, Config, "an experiments.robustness.Config")
    validate.progress("progress", progress)
    config = config.validated()
    alphas, seeds = np.asarray(config.alphas), config.seeds
    k_layout, k_train, k_levels, k_eval = jax.random.split(key, 4)
    size = config.size
    layouts = gridworld.open_room(size, size) if config.layout == "room" else gridworld.mazes(
        k_layout, config.num_layouts, size, size)
    tasks = gridworld.stack_tasks([gridworld.corner_task(layouts, float(a)) for a in alphas for _ in range(seeds)])
    runs = len(alphas) * seeds
    state, metrics = ppo.train(jax.random.split(k_train, runs), tasks, config.ppo, gridworld.ENV,
                               _level_sampler(config.max_steps), progress=progress)
    deploy = gridworld.corner_task(layouts, 0.0, deploy=True)
    levels = gridworld.sample_levels(k_levels, deploy, config.eval_levels, config.max_steps)
    traj = gridworld.evaluate(k_eval, ppo.sample_action, state.params, levels, config.max_steps)
    lv = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (runs,) + x.shape), levels)
    cm = gridworld.corner_metrics(traj, lv, deploy.corner)
    shape = (len(alphas), seeds)
    reshape = lambda x: jnp.reshape(x, shape + x.shape[1:])  # noqa: E731
    train_metrics = {k: np.asarray(v).reshape((v.shape[0],) + shape) for k, v in metrics.items()}
    return SweepResult(alphas, np.asarray(deploy.corner), jax.tree_util.tree_map(reshape, state.params),
                       train_metrics, levels, jax.tree_util.tree_map(reshape, traj),
                       jax.tree_util.tree_map(lambda x: np.asarray(reshape(x)), cm), config.ppo)


def untrained_baseline(key, result: SweepResult, runs: int = 16) -> gridworld.CornerMetrics:
    """Deployment measurements of ``runs`` randomly initialized networks with the sweep's
    architecture, on the sweep's deployment levels: arrays (runs, L)."""
    validate.prng_key("key", key)
    validate.instance("result", result, SweepResult, "a SweepResult (from corner_sweep)")
    runs = validate.integer("runs", runs, minimum=1)
    k_init, k_eval = jax.random.split(key)
    obs_dim = int(np.prod(gridworld.obs_shape(result.levels)))
    params = train.tree_stack([ppo.init_policy(k, obs_dim, gridworld.NUM_ACTIONS, result.config.hidden)
                               for k in jax.random.split(k_init, runs)])
    max_steps = result.traj.action.shape[-1]
    traj = gridworld.evaluate(k_eval, ppo.sample_action, params, result.levels, max_steps)
    lv = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (runs,) + x.shape), result.levels)
    return jax.tree_util.tree_map(np.asarray, gridworld.corner_metrics(traj, lv, result.corner))


# --------------------------------------------------------------------------------------------- tables

def sweep_table(result: SweepResult, level: float = 0.95) -> pd.DataFrame:
    """Deployment rates per alpha with confidence intervals over seeds.

    For each alpha: P(goal) (reached the goal), P(corner) (reached the corner before any goal),
    P(ends in corner); a seed's rate is its mean over the deployment levels, and the interval
    is a bootstrap over seeds.
    """
    validate.instance("result", result, SweepResult, "a SweepResult (from corner_sweep)")
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    rows = []
    for i, a in enumerate(result.alphas):
        for name, field in (("goal", "reached_goal"), ("corner", "corner_first"), ("ends in corner", "ends_in_corner")):
            per_seed = np.asarray(getattr(result.metrics, field))[i].mean(-1)
            s = stats.mean_ci(per_seed, level=level) if per_seed.size > 1 else stats.Summary(
                per_seed.mean(), per_seed.mean(), per_seed.mean(), 1)
            rows.append({"alpha": float(a), "outcome": name, "rate": float(s.mean),
                         "low": float(s.low), "high": float(s.high), "seeds": per_seed.size})
    return pd.DataFrame(rows)


def competence_table(rows: dict, level: float = 0.95) -> pd.DataFrame:
    """Path efficiency with confidence intervals over runs, one row per entry of ``rows``:
    name -> (CornerMetrics with arrays (runs, L), target "corner" or "goal").

    Columns: P(reached), steps / shortest path (over episodes that reached the target; a run's
    value is its mean), each with a bootstrap interval over runs. Runs that never reached the
    target have no steps / shortest and are left out of that column's interval."""
    validate.dict_keys("rows", rows, (), "a dict of name -> (CornerMetrics with arrays (runs, L), target)")
    if not rows:
        raise ValueError("rows must hold at least one entry")
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    for name, entry in rows.items():
        if not isinstance(entry, tuple) or len(entry) != 2:
            raise ValueError(f"rows[{name!r}] must be a pair (CornerMetrics, target), got {type(entry).__name__}")
        validate.instance(f"rows[{name!r}][0]", entry[0], gridworld.CornerMetrics, "a gridworld.CornerMetrics")
        validate.choice(f"rows[{name!r}][1]", entry[1], {"corner", "goal"})
        if np.ndim(entry[0].reached_goal) != 2:
            raise ValueError(f"rows[{name!r}][0] must hold arrays (runs, L), got shape {np.shape(entry[0].reached_goal)}")
    out = []
    for name, (metrics, target) in rows.items():
        runs = np.asarray(metrics.reached_goal).shape[0]
        per_run = [gridworld.path_efficiency(train.seed_slice(metrics, i), target) for i in range(runs)]
        row = {"agent": name, "target": target, "runs": runs}
        for col, key in (("P(reached)", "reached"), ("steps / shortest", "steps_over_shortest")):
            vals = np.array([p[key] for p in per_run if p[key] is not None], dtype=np.float64)
            if len(vals) < 2:
                raise ValueError(f"rows[{name!r}]: only {len(vals)} run(s) reached the {target}, too few for an "
                                 f"interval of {col}")
            s = stats.mean_ci(vals, level=level)
            row.update({col: float(s.mean), f"{col} low": float(s.low), f"{col} high": float(s.high)})
        out.append(row)
    return pd.DataFrame(out)


def _check_fit_alphas(fit, alphas):
    validate.instance("fit", fit, objectives.ObjectiveFit, "an objectives.ObjectiveFit (Result.fit)")
    if np.ndim(fit.episode_ll) != 5:
        raise ValueError(f"fit must have groups (alphas, seeds), i.e. episode_ll (A, S, L, C, B); got shape "
                         f"{np.shape(fit.episode_ll)}")
    alphas = validate.array("alphas", alphas, ndim=1)
    if len(alphas) != np.shape(fit.episode_ll)[0]:
        raise ValueError(f"alphas has {len(alphas)} values but fit has {np.shape(fit.episode_ll)[0]} alpha groups")
    for name in ("goal", "corner"):
        if name not in fit.names:
            raise ValueError(f"fit must have a {name!r} candidate, got {fit.names}")
    return alphas


def fit_table(fit: objectives.ObjectiveFit, alphas, level: float = 0.95) -> pd.DataFrame:
    """Per alpha (fit groups (A, S) = alphas x seeds): each candidate's log-likelihood per action
    relative to random (mean over seeds with a bootstrap interval), the share of seeds it
    explains best, and the mean maximum-likelihood mixture weight on the goal."""
    alphas = _check_fit_alphas(fit, alphas)
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    pa, best, w = fit.per_action(), fit.best(), fit.best_weight()
    rows = []
    for i, a in enumerate(np.asarray(alphas)):
        row = {"alpha": float(a)}
        for j, name in enumerate(fit.names):
            s = stats.mean_ci(pa[i, :, j], level=level)
            row.update({f"{name} (nats/action)": float(s.mean), f"{name} low": float(s.low), f"{name} high": float(s.high),
                        f"{name} best (share of seeds)": float((best[i] == name).mean())})
        row["goal weight w"] = float(w[i].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def mixture_frame(fit: objectives.ObjectiveFit, alphas, weights=objectives.DEFAULT_WEIGHTS,
                  level: float = 0.95) -> pd.DataFrame:
    """Long frame (alpha, w, mean, low, high): the mixture's per-action log-likelihood for every
    goal weight w, mean over seeds with a normal-approximation interval (for plots.line_band)."""
    alphas = _check_fit_alphas(fit, alphas)
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    mix = fit.mixture(weights=weights)  # (A, S, W)
    rows = []
    for i, a in enumerate(np.asarray(alphas)):
        s = stats.mean_ci(mix[i], axis=0, level=level, method="normal")
        for k, wt in enumerate(weights):
            rows.append({"alpha": str(float(a)), "w": float(wt), "mean": float(s.mean[k]),
                         "low": float(s.low[k]), "high": float(s.high[k])})
    return pd.DataFrame(rows)
