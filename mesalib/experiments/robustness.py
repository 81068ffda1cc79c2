"""Chapter 2 (robustness to distributional shift): PPO agents trained with the goal (almost)
always in the top-right corner, deployed where it is elsewhere.

``run(key, Config())`` trains every (alpha, seed) pair in one compiled, vmapped program, deploys
each agent on the same levels (sampling, and greedily), deploys it again in mazes it never saw,
measures an untrained baseline and fits the Boltzmann-rational model of
:mod:`mesalib.objectives`. ``run_budget(key, BudgetConfig())`` retrains at other training
budgets. The notebook and ``tests/test_claims_ch02.py`` call them with the same key split; the
tests use ``Config().test()`` and ``BudgetConfig().test()``.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from mesalib import gridworld, irl, mdp, objectives, ppo, stats, train, validate


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
        """The claim tests' size: the two ends of the sweep and alpha = 0.05, 8 seeds, 64 deployment levels."""
        return self._replace(alphas=(0.0, 0.05, 0.2), seeds=8, eval_levels=64)

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
    greedy: gridworld.CornerMetrics     # the same agents on the same levels, argmax actions: (A, S, L)
    maze: gridworld.CornerMetrics       # the same agents on deployment levels in unseen mazes: (A, S, L)
    maze_baseline: gridworld.CornerMetrics   # untrained networks on those maze levels: (S, L)
    maze_levels: gridworld.EnvParams    # those L maze levels


def _keys(key):
    """The chapter's key split: (level pictures, sweep, untrained baseline); the later additions
    (greedy evaluation, mazes, budgets) fold further numbers into the key so these stay put."""
    return jax.random.split(key, 3)


def _extra_key(key, name: str):
    return jax.random.fold_in(key, {"greedy": 3, "maze": 4, "budget": 5}[name])


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
    greedy = deploy(_extra_key(key, "greedy"), sweep, sweep.levels, greedy=True)
    k_maze_levels, k_maze_eval, k_maze_base = jax.random.split(_extra_key(key, "maze"), 3)
    levels = maze_levels(k_maze_levels, sweep, config.eval_levels)
    maze = deploy(k_maze_eval, sweep, levels)
    maze_base = untrained_baseline(k_maze_base, sweep._replace(levels=levels), runs=config.seeds)
    return Result(sweep, baseline, fit, greedy, maze, maze_base, levels)


def maze_levels(key, sweep: SweepResult, count: int) -> gridworld.EnvParams:
    """``count`` deployment levels (goal uniform away from the corner) in ``count`` fresh random
    mazes of the sweep's size: a shift of the layout as well as of the goal."""
    validate.prng_key("key", key)
    validate.instance("sweep", sweep, SweepResult, "a SweepResult (from corner_sweep)")
    count = validate.integer("count", count, minimum=1, maximum=1_000_000)
    h, w = np.shape(sweep.levels.walls)[1:]
    if h % 2 == 0 or w % 2 == 0 or h < 5 or w < 5:
        raise ValueError(f"mazes need odd sides >= 5; the sweep's levels are {h}x{w}")
    k_layout, k_levels = jax.random.split(key)
    task = gridworld.corner_task(gridworld.mazes(k_layout, count, h, w), 0.0, deploy=True)
    return gridworld.sample_levels(k_levels, task, count, int(np.asarray(sweep.levels.max_steps)[0]))


def deploy(key, sweep: SweepResult, levels: gridworld.EnvParams, greedy: bool = False) -> gridworld.CornerMetrics:
    """Every trained agent of the sweep plays each of ``levels`` once (sampling its actions, or
    taking the most likely one with ``greedy``): CornerMetrics with arrays (A, S, L)."""
    validate.prng_key("key", key)
    validate.instance("sweep", sweep, SweepResult, "a SweepResult (from corner_sweep)")
    gridworld.check_levels(levels, "levels")
    greedy = validate.boolean("greedy", greedy)
    shape = np.shape(sweep.metrics.reached_goal)[:2]
    params = jax.tree_util.tree_map(lambda x: jnp.reshape(x, (-1,) + x.shape[2:]), sweep.params)
    max_steps = int(np.asarray(levels.max_steps)[0])
    traj = gridworld.evaluate(key, ppo.sample_action, params, levels, max_steps, greedy=greedy)
    runs = shape[0] * shape[1]
    lv = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (runs,) + x.shape), levels)
    cm = gridworld.corner_metrics(traj, lv, sweep.corner)
    return jax.tree_util.tree_map(lambda x: np.asarray(x).reshape(shape + x.shape[1:]), cm)


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


def seed_table(result: Result) -> pd.DataFrame:
    """One row per trained agent: alpha, seed, its deployment rates (goal, ends in corner) when
    sampling and when greedy, and the maximum-likelihood goal weight of the mixture fit."""
    validate.instance("result", result, Result, "the chapter's Result (from run)")
    m, g = result.sweep.metrics, result.greedy
    w = result.fit.best_weight()
    rows = []
    for i, a in enumerate(result.sweep.alphas):
        for s in range(np.shape(m.reached_goal)[1]):
            rows.append({"alpha": float(a), "seed": s,
                         "goal": float(np.mean(m.reached_goal[i, s])),
                         "ends in corner": float(np.mean(m.ends_in_corner[i, s])),
                         "goal (greedy)": float(np.mean(g.reached_goal[i, s])),
                         "ends in corner (greedy)": float(np.mean(g.ends_in_corner[i, s])),
                         "goal weight w": float(w[i, s])})
    return pd.DataFrame(rows)


def fitted_betas(fit: objectives.ObjectiveFit, alphas) -> pd.DataFrame:
    """Per alpha and candidate: the median over seeds (the lower one, a grid value) of the
    maximum-likelihood inverse temperature beta, and the share of seeds whose best beta is 0 (the
    candidate explains their actions no better than uniformly random choice)."""
    alphas = _check_fit_alphas(fit, alphas)
    b = fit.best_beta()   # (A, S, C)
    rows = []
    for i, a in enumerate(np.asarray(alphas)):
        for j, name in enumerate(fit.names):
            rows.append({"alpha": float(a), "candidate": name, "beta (median over seeds)": float(np.percentile(b[i, :, j], 50, method="lower")),
                         "share of seeds with beta = 0": float(np.mean(b[i, :, j] == 0))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------- training budget

class BudgetConfig(NamedTuple):
    """Stronger and weaker base optimization: the same PPO runs with fewer or more iterations (the
    step-size and entropy schedules stretch with the budget), at two values of alpha."""
    alphas: tuple = (0.0, 0.05)
    budgets: tuple = (20, 160)     # PPO iterations per run (the main sweep uses 80)
    seeds: int = 8
    eval_levels: int = 128

    def test(self) -> "BudgetConfig":
        """The claim tests' size: the same alphas and budgets, 6 seeds, 64 deployment levels."""
        return self._replace(seeds=6, eval_levels=64)

    def smoke(self) -> "BudgetConfig":
        """Seconds: the same code path with a tiny budget (MESALIB_SMOKE=1)."""
        return self._replace(budgets=(2, 3), seeds=2, eval_levels=8)

    def validated(self) -> "BudgetConfig":
        budgets = validate.array("budgets", self.budgets, ndim=1)
        if budgets.size == 0:
            raise ValueError("budgets must hold at least one number of PPO iterations")
        for i, b in enumerate(budgets):
            validate.integer(f"budgets[{i}]", b if not isinstance(b, np.generic) else b.item(), minimum=1,
                             maximum=100_000)
        base = Config(alphas=self.alphas, seeds=self.seeds, eval_levels=self.eval_levels).validated()
        return self._replace(alphas=base.alphas, budgets=tuple(int(b) for b in budgets))


class BudgetResult(NamedTuple):
    """Per budget B, alpha A, seed S and level L: deployment metrics (B, A, S, L), final training
    return (B, A, S), the budgets and alphas."""
    budgets: np.ndarray
    alphas: np.ndarray
    metrics: gridworld.CornerMetrics
    train_return: np.ndarray


def run_budget(key, config: BudgetConfig = BudgetConfig(), progress: bool | str = False) -> BudgetResult:
    """Train the corner sweep at each budget (one compiled program per budget) and deploy every
    agent on the same levels as the chapter's main sweep would (the same level key)."""
    validate.prng_key("key", key)
    validate.instance("config", config, BudgetConfig, "an experiments.robustness.BudgetConfig")
    validate.progress("progress", progress)
    config = train.smoke_config(config).validated()
    k_budget = _extra_key(key, "budget")
    out, returns = [], []
    for b in config.budgets:
        sweep_config = Config(alphas=config.alphas, seeds=config.seeds, eval_levels=config.eval_levels,
                              ppo=ppo.PPOConfig(num_updates=b))
        label = f"PPO, {b} iterations" if progress is True else (f"{progress}, {b} iterations" if progress else False)
        r = corner_sweep(jax.random.fold_in(k_budget, b), sweep_config, progress=label)
        out.append(r.metrics)
        returns.append(np.nanmean(r.train_metrics["return"][-5:], axis=0))
    metrics = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *out)
    return BudgetResult(np.asarray(config.budgets), np.asarray(config.alphas), metrics, np.stack(returns))


def budget_table(result: BudgetResult, level: float = 0.95) -> pd.DataFrame:
    """Per budget and alpha: training return, P(goal), P(ends in corner) and steps / shortest to
    the corner (over the seeds that reached it at least once; at least two must), each the mean
    over seeds with a Student's t interval over seeds."""
    validate.instance("result", result, BudgetResult, "a BudgetResult (from run_budget)")
    level = validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    m = result.metrics
    rows = []
    for b_i, b in enumerate(result.budgets):
        for a_i, a in enumerate(result.alphas):
            row = {"iterations": int(b), "alpha": float(a), "seeds": int(np.shape(m.reached_goal)[2])}
            one = train.seed_slice(jax.tree_util.tree_map(lambda x: x[b_i], m), a_i)
            eff = [gridworld.path_efficiency(train.seed_slice(one, s), "corner")["steps_over_shortest"]
                   for s in range(row["seeds"])]
            for col, per_seed in (("training return", result.train_return[b_i, a_i]),
                                  ("goal", one.reached_goal.mean(-1)),
                                  ("ends in corner", one.ends_in_corner.mean(-1)),
                                  ("steps / shortest to corner", np.array([e for e in eff if e is not None]))):
                if len(per_seed) < 2:
                    raise ValueError(f"result: at {int(b)} iterations and alpha = {float(a)} only {len(per_seed)} "
                                     f"seed(s) reached the corner, too few for an interval of {col}")
                ci = stats.mean_ci(per_seed, level=level, method="t")
                row.update({col: float(ci.mean), f"{col} low": float(ci.low), f"{col} high": float(ci.high)})
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------- inverse RL

@jax.jit
def _greedy_grid_policy(params, walls, goal):
    """Each free cell's greedy action of one network with the agent placed there: (H*W,) ints."""
    h, w = walls.shape
    cells = jnp.stack(jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij"), -1).reshape(-1, 2)
    level = gridworld.EnvParams(walls=walls, goal=goal, start=goal, max_steps=jnp.int32(1))

    def act(pos):
        obs = gridworld.observe(gridworld.EnvState(pos=pos, time=jnp.int32(0)), level)
        return jnp.argmax(ppo.logits_fn(params, obs))
    return jax.vmap(act)(cells)


def irl_rewards(sweep: SweepResult, alpha_index: int, goal=(5, 1), l1: float = 0.1) -> pd.DataFrame:
    """A reward per cell reconstructed by inverse RL from the greedy behaviour of every seed
    trained at ``sweep.alphas[alpha_index]``, on one deployment level whose goal is ``goal``.

    For each seed: its greedy action in every free cell, then Ng & Russell's max-margin linear
    program (:func:`mesalib.irl.max_margin_reward`, state rewards in [-1, 1] with an L1 penalty)
    on the room's known dynamics, in which entering the goal ends the episode (as in deployment;
    what the agent would do on the goal cell is never observed). Each seed's reward is scaled to
    a largest magnitude of 1. Returns a frame (row, col, reward) of the mean over seeds."""
    validate.instance("sweep", sweep, SweepResult, "a SweepResult (from corner_sweep)")
    n_alpha = len(sweep.alphas)
    alpha_index = validate.integer("alpha_index", alpha_index, minimum=-n_alpha, maximum=n_alpha - 1)
    walls = np.asarray(sweep.levels.walls[0])
    if walls[1:-1, 1:-1].any():
        raise ValueError("irl_rewards reads an open room; the sweep's levels have inner walls")
    goal = tuple(int(x) for x in gridworld.check_position("goal", goal, walls))
    l1 = validate.real("l1", l1, low=0.0)
    h, w = walls.shape
    wall_cells = [tuple(c) for c in np.argwhere(walls)]
    grid = mdp.gridworld(h, w, walls=wall_cells, terminals=[goal])
    seeds = np.shape(sweep.metrics.reached_goal)[1]
    rewards = []
    for s in range(seeds):
        params = jax.tree_util.tree_map(lambda x: x[alpha_index, s], sweep.params)
        acts = np.array(_greedy_grid_policy(params, jnp.asarray(walls), jnp.asarray(goal, jnp.int32))).reshape(h, w)
        pi = np.zeros(grid.transitions.shape[0], np.int64)   # the goal's exit states: any action
        pi[list(grid.cells.values())] = [acts[rc] for rc in grid.cells]
        theta = irl.max_margin_reward(grid.transitions, pi, float(sweep.config.gamma), "state", l1=l1)
        rewards.append(theta / max(np.abs(theta).max(), 1e-12))
    mean = np.mean(rewards, 0)
    return pd.DataFrame([{"row": r, "col": c, "reward": float(mean[i])} for (r, c), i in grid.cells.items()])
