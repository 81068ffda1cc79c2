"""The conclusion's "what counts as an optimizer?", measured on systems the book built.

Flint's criteria (:mod:`mesalib.optpower`) on five systems: gradient descent on a quadratic with a
step size below ``2 / L`` and one above it, the meta-trained bandit agent of the meta-learning
chapter (fed a misleading run of pulls mid-episode), the trained gridworld agents of the
robustness chapter (moved to a random cell mid-episode; judged against the corner they learned
and the goal they were rewarded for), and a capped bottle that achieves an outcome without
optimizing. ``run(key, config)`` measures them all; :func:`rate_table` and :func:`bits_table`
are the chapter's tables.

Every system is measured by one entry of :data:`MEASURERS` (name -> function(key, config) ->
(Measures, unit)); a new system joins the comparison with one line there.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from mesalib import gridworld, nn, optpower, ppo, pretrained, rl2, stats, validate
from mesalib.experiments import interpretability, robustness


class Config(NamedTuple):
    """The chapter's settings; ``test()`` is the documented smaller size of the claim tests."""
    samples: int = 2000                 # sampled starting configurations per system (per seed)
    # gradient descent on f(x) = x^T diag(eigenvalues) x / 2, starts uniform in [-1, 1]^2
    gd_eigenvalues: tuple = (1.0, 10.0)
    gd_step_size: float = 0.15          # below 2 / L = 0.2: converges from everywhere
    gd_large_step_size: float = 0.21    # above 2 / L: diverges along the top eigenvector
    gd_tolerance: float = 0.1           # target: |x| <= tolerance
    gd_steps: int = 40
    gd_perturb_at: int = 10
    # the meta-trained bandit agent (RL², stored network): perturbed by a misleading run of pulls
    bandit_network: str = "rl2_n100_k5"
    bandit_pulls: int = 99              # the state after 99 pulls decides the 100th (its horizon)
    bandit_perturb_at: int = 30
    bandit_misleading: int = 10         # fabricated pulls: the best arm fails, the worst succeeds
    # the gridworld agents of the robustness chapter, trained with the goal always in the corner
    grid_seeds: int = 8
    grid_samples: int = 500             # sampled starts per trained agent
    grid_alpha: float = 0.0
    grid_steps: int = 30
    grid_perturb_at: int = 6
    # the linear self-attention layers of the interpretability chapter (trained here, d = N = 10)
    lsa_seeds: int = 4
    lsa_samples: int = 1000             # sampled regression tasks per trained layer
    lsa_tolerance: float = 2.0          # target: in-context mean squared error <= tolerance (it starts near 20)
    lsa_steps: int = 40
    lsa_perturb_at: int = 10
    lsa_push: float = 1.0               # the push adds N(0, lsa_push^2 I) to the current weight estimate
    lsa_applications: int = 3           # the trained layer applied again to its own output, up to this many times
    # the capped bottle
    bottle_full: float = 0.9
    bottle_steps: int = 30
    bottle_perturb_at: int = 10

    def test(self) -> "Config":
        """The claim tests' size: fewer samples, the same systems, seeds and step counts."""
        return self._replace(samples=500, grid_samples=200, lsa_samples=500)

    def validated(self) -> "Config":
        validate.integer("samples", self.samples, minimum=2)
        validate.array("gd_eigenvalues", self.gd_eigenvalues, ndim=1, low=0.0, dtype=np.float32)
        if np.min(self.gd_eigenvalues) <= 0:
            raise ValueError(f"gd_eigenvalues must be positive, got {self.gd_eigenvalues}")
        validate.real("gd_step_size", self.gd_step_size, low=0.0, low_open=True)
        validate.real("gd_large_step_size", self.gd_large_step_size, low=0.0, low_open=True)
        if optpower.descent_rate(self.gd_eigenvalues, self.gd_step_size) >= 1:
            raise ValueError(f"gd_step_size must be below 2 / max(gd_eigenvalues), got {self.gd_step_size}")
        if optpower.descent_rate(self.gd_eigenvalues, self.gd_large_step_size) <= 1:
            raise ValueError(f"gd_large_step_size must be above 2 / max(gd_eigenvalues), got {self.gd_large_step_size}")
        validate.real("gd_tolerance", self.gd_tolerance, low=0.0, low_open=True)
        validate.integer("gd_steps", self.gd_steps, minimum=1)
        validate.integer("gd_perturb_at", self.gd_perturb_at, minimum=0, maximum=self.gd_steps)
        validate.choice("bandit_network", self.bandit_network,
                        {n for n, c in pretrained.CONFIGS.items() if c.prior == "uniform"})
        validate.integer("bandit_pulls", self.bandit_pulls, minimum=1)
        validate.integer("bandit_misleading", self.bandit_misleading, minimum=1)
        validate.integer("bandit_perturb_at", self.bandit_perturb_at, minimum=0,
                         maximum=self.bandit_pulls - self.bandit_misleading)
        validate.integer("grid_seeds", self.grid_seeds, minimum=2)
        validate.integer("grid_samples", self.grid_samples, minimum=2)
        validate.real("grid_alpha", self.grid_alpha, low=0.0, high=1.0)
        validate.integer("grid_steps", self.grid_steps, minimum=1)
        validate.integer("grid_perturb_at", self.grid_perturb_at, minimum=0, maximum=self.grid_steps)
        validate.integer("lsa_seeds", self.lsa_seeds, minimum=2)
        validate.integer("lsa_samples", self.lsa_samples, minimum=2)
        validate.real("lsa_tolerance", self.lsa_tolerance, low=0.0, low_open=True)
        validate.integer("lsa_steps", self.lsa_steps, minimum=1)
        validate.integer("lsa_perturb_at", self.lsa_perturb_at, minimum=0, maximum=self.lsa_steps)
        validate.real("lsa_push", self.lsa_push, low=0.0)
        validate.integer("lsa_applications", self.lsa_applications, minimum=1, maximum=4)
        validate.real("bottle_full", self.bottle_full, low=0.0, high=1.0, low_open=True)
        validate.integer("bottle_steps", self.bottle_steps, minimum=1)
        validate.integer("bottle_perturb_at", self.bottle_perturb_at, minimum=0, maximum=self.bottle_steps)
        return self


# ---------------------------------------------------------------------------------------------
# The meta-trained bandit agent as a dynamical system
# ---------------------------------------------------------------------------------------------

class BanditState(NamedTuple):
    """One episode of the RL² agent: GRU state h (hidden,), the last pull's one-hot arm (k,) and
    reward (), pulls so far t (), and the task's success probabilities (k,)."""
    h: jax.Array
    prev_a: jax.Array
    prev_r: jax.Array
    t: jax.Array
    probs: jax.Array


def _bandit_logits(params, s: BanditState, horizon: float):
    # the recurrent step of mesalib.rl2 on its input (previous arm, previous reward, t / horizon)
    x = jnp.concatenate([s.prev_a, s.prev_r[None], (s.t / horizon)[None]])
    return rl2.policy_step(params, s.h, x)


def _bandit_pull(params, s: BanditState, arm, reward, horizon: float) -> BanditState:
    h, _ = _bandit_logits(params, s, horizon)
    k = s.prev_a.shape[0]
    return BanditState(h, jax.nn.one_hot(arm, k), reward.astype(jnp.float32), s.t + 1.0, s.probs)


def bandit_system(params, horizon: int = 100) -> optpower.System:
    """The frozen RL² network playing Bernoulli bandits drawn from its training distribution.

    A step is one pull (the network samples an arm, the task pays 0 or 1); a start is a fresh
    task with the network's initial state; the target is "the arm the network would most
    probably pull next is the best arm", a function of its state.
    """
    horizon = float(validate.integer("horizon", horizon, minimum=1))
    validate.dict_keys("params", params, ("gru", "pi"), "the parameters of one RL² network")
    k = params["pi"]["w"].shape[-1]
    hidden = params["gru"]["wh"].shape[0]

    def step(key, s):
        ka, kr = jax.random.split(key)
        _, logits = _bandit_logits(params, s, horizon)
        arm = jax.random.categorical(ka, logits)
        return _bandit_pull(params, s, arm, jax.random.uniform(kr) < s.probs[arm], horizon)

    def sample(key):
        return BanditState(jnp.zeros(hidden), jnp.zeros(k), jnp.zeros(()), jnp.zeros(()),
                           jax.random.uniform(key, (k,)))

    def in_target(s):
        _, logits = _bandit_logits(params, s, horizon)
        return jnp.argmax(logits) == jnp.argmax(s.probs)

    return optpower.System(step, sample, in_target)


def misleading_pulls(params, pulls: int, horizon: int = 100):
    """A perturbation for :func:`bandit_system`: ``pulls`` fabricated pulls enter the network's
    history in place of its own, alternating the best arm failing and the worst arm succeeding."""
    validate.integer("pulls", pulls, minimum=1)
    horizon = float(validate.integer("horizon", horizon, minimum=1))

    def perturb(key, s):
        del key
        best, worst = jnp.argmax(s.probs), jnp.argmin(s.probs)

        def body(state, j):
            fail_best = j % 2 == 0
            return _bandit_pull(params, state, jnp.where(fail_best, best, worst), jnp.where(fail_best, 0.0, 1.0),
                                horizon), None

        return jax.lax.scan(body, s, jnp.arange(pulls))[0]

    return perturb


# ---------------------------------------------------------------------------------------------
# The gridworld agents as a family of dynamical systems
# ---------------------------------------------------------------------------------------------

class GridState(NamedTuple):
    """The agent's cell pos (2,), the level's walls (H, W) and goal (2,); the episode ends at the goal."""
    pos: jax.Array
    walls: jax.Array
    goal: jax.Array


def _random_cell(key, walls):
    """A uniform free cell."""
    w = walls.shape[1]
    i = jax.random.categorical(key, jnp.where(~walls.reshape(-1), 0.0, -jnp.inf))
    return jnp.stack([i // w, i % w]).astype(jnp.int32)


def _grid_system(policy, judge_by_goal, corner, deploy) -> optpower.System:
    """The deployment levels as a System driven by ``policy(key, state) -> action``."""
    def step(key, s):
        pos = gridworld.move(s.walls, s.pos, policy(key, s))
        return s._replace(pos=jnp.where(jnp.all(s.pos == s.goal), s.pos, pos))   # the goal ends the episode

    def sample(key):
        k_level, k_start = jax.random.split(key)
        level = gridworld.sample_corner_level(k_level, deploy)
        return GridState(_random_cell(k_start, level.walls), level.walls, level.goal)

    def in_target(s):
        return jnp.all(s.pos == jnp.where(judge_by_goal, s.goal, corner))

    return optpower.System(step, sample, in_target)


def _room(size: int):
    size = validate.integer("size", size, minimum=3)
    return gridworld.top_right(size, size), gridworld.corner_task(gridworld.open_room(size, size), 0.0, deploy=True)


def grid_family(size: int = 7):
    """``make_system((policy_params, judge_by_goal)) -> System`` on the robustness chapter's
    deployment levels.

    A start is a deployment level (goal uniform away from the corner) with the agent on a uniform
    free cell (the reference draw: anywhere in the room); a step is one sampled action of the
    PPO policy; reaching the goal ends the episode (the agent stays there). The target is the goal
    cell when ``judge_by_goal`` is True, else the top-right corner (the proxy the agents met in
    training). Judging one agent both ways is one compiled program over members.
    """
    corner, deploy = _room(size)

    def make_system(member):
        policy_params, judge_by_goal = member

        def policy(key, s):
            env = gridworld.EnvState(s.pos, jnp.int32(0))
            level = gridworld.EnvParams(s.walls, s.goal, s.pos, jnp.int32(1))
            return jax.random.categorical(key, ppo.logits_fn(policy_params, gridworld.observe(env, level)))

        return _grid_system(policy, judge_by_goal, corner, deploy)

    return make_system


def corner_table(size: int = 7) -> jax.Array:
    """A lookup table: for every cell of the open room, the first action (up, right, down, left)
    that shortens the way to the top-right corner. (size, size) int32; no search when it is used."""
    walls = np.asarray(gridworld.open_room(size, size))
    dist = np.asarray(gridworld.distances(walls, gridworld.top_right(size, size)))
    h, w = walls.shape
    table = np.zeros((h, w), np.int32)
    for r in range(h):
        for c in range(w):
            after = []
            for dr, dc in gridworld.DELTAS:
                nr, nc = r + dr, c + dc
                blocked = not (0 <= nr < h and 0 <= nc < w) or walls[nr, nc]
                after.append(dist[r, c] if blocked else dist[nr, nc])
            table[r, c] = int(np.argmin(after))
    return jnp.asarray(table)


def lookup_system(size: int = 7, judge_by_goal: bool = False) -> optpower.System:
    """The deployment levels of :func:`grid_family` played by :func:`corner_table`: the agent
    looks its action up by its cell alone (it never sees the goal)."""
    corner, deploy = _room(size)
    table = corner_table(size)
    return _grid_system(lambda key, s: table[s.pos[0], s.pos[1]], jnp.bool_(judge_by_goal), corner, deploy)


def teleport(key, s: GridState) -> GridState:
    """A perturbation for :func:`grid_family`: move the agent to a uniform free cell (an agent
    whose episode already ended at the goal stays there)."""
    done = jnp.all(s.pos == s.goal)
    return s._replace(pos=jnp.where(done, s.pos, _random_cell(key, s.walls)))


def train_grid_agents(key, config: Config):
    """The robustness chapter's agents: PPO with the goal in the corner w.p. 1 - grid_alpha.

    Returns the policy parameters with a leading seed axis (grid_seeds, ...).
    """
    sweep = robustness.corner_sweep(key, robustness.Config(alphas=(config.grid_alpha,), seeds=config.grid_seeds,
                                                           eval_levels=8))
    return jax.tree_util.tree_map(lambda x: x[0], sweep.params)


# ---------------------------------------------------------------------------------------------
# The linear self-attention layer as a dynamical system
# ---------------------------------------------------------------------------------------------

class RegressionState(NamedTuple):
    """An in-context regression task and the learner's current answer to it: tokens (N + 1, d + 1),
    the N context tokens (x_j, r_j) holding the *residuals* r_j = y_j - w.x_j of the current weight
    estimate w, then the query (x_q, -w.x_q) (the layout of :func:`mesalib.nn.lsa_regression_tokens`
    after some layers of von Oswald et al.'s gradient-descent construction)."""
    tokens: jax.Array


def _regression_start(key, dim: int, context: int) -> RegressionState:
    """A task (x ~ N(0, I), w* ~ N(0, I), y = x.w*) and a starting estimate w0 ~ N(0, I)."""
    kx, kw, k0 = jax.random.split(key, 3)
    x = jax.random.normal(kx, (context + 1, dim))
    w_true, w0 = jax.random.normal(kw, (dim,)), jax.random.normal(k0, (dim,))
    residuals = x[:context] @ (w_true - w0)
    query = jnp.concatenate([x[-1], -(x[-1] @ w0)[None]])
    return RegressionState(jnp.concatenate([jnp.concatenate([x[:context], residuals[:, None]], 1), query[None]]))


def _in_context_error(s: RegressionState, context: int):
    return jnp.mean(s.tokens[:context, -1] ** 2)


def lsa_family(dim: int = 10, context: int = 10, tolerance: float = 2.0):
    """``make_system(P) -> System``: in-context regression driven by the update a trained LSA layer
    computes, iterated.

    A member is a preconditioner P (d, d) read off a trained layer (:func:`mesalib.nn.lsa_as_gd`);
    a step applies the layer's update to the current residuals, w <- w + P (1/N) sum_j r_j x_j
    (what a stack of copies of von Oswald et al.'s gradient-descent construction computes). A
    start is a fresh task with a random starting estimate; the target is an in-context mean squared
    error of at most ``tolerance``.
    """
    dim = validate.integer("dim", dim, minimum=1)
    context = validate.integer("context", context, minimum=1)
    tolerance = validate.real("tolerance", tolerance, low=0.0, low_open=True)

    def make_system(member):
        def step(key, s):
            x, r = s.tokens[:, :dim], s.tokens[:context, -1]
            delta = member @ (x[:context].T @ r) / context          # the change of the estimate w
            return RegressionState(s.tokens.at[:, -1].add(-x @ delta))

        def in_target(s):
            err = _in_context_error(s, context)
            return jnp.isfinite(err) & (err <= tolerance)

        return optpower.System(step, lambda key: _regression_start(key, dim, context), in_target)

    return make_system


def push_estimate(scale: float):
    """A perturbation for :func:`lsa_family`: add N(0, scale^2 I) to the current weight estimate
    (the residuals and the query's prediction change accordingly; the task stays the same)."""
    scale = validate.real("scale", scale, low=0.0)

    def perturb(key, s: RegressionState):
        x = s.tokens[:, :-1]
        delta = scale * jax.random.normal(key, (x.shape[1],))
        return RegressionState(s.tokens.at[:, -1].add(-x @ delta))

    return perturb


def lsa_reapplied(key, layers, applications: int = 3, tasks: int = 2000, dim: int = 10,
                  context: int = 10) -> pd.DataFrame:
    """Each trained layer (leading seed axis) applied 0..``applications`` times to its own output
    tokens on ``tasks`` fresh tasks (the starts of :func:`lsa_family`): the median in-context mean
    squared error per seed and number of applications (long format: seed, applications, error)."""
    applications = validate.integer("applications", applications, minimum=1, maximum=4)
    tasks = validate.integer("tasks", tasks, minimum=1)
    starts = jax.vmap(lambda k: _regression_start(k, dim, context))(jax.random.split(key, tasks))

    def per_layer(layer):
        def body(tokens, _):
            err = jnp.median(jnp.mean(tokens[:, :context, -1] ** 2, axis=1))
            return jax.vmap(lambda t: nn.lsa_apply(layer, t, context))(tokens), err

        return jax.lax.scan(body, starts.tokens, None, length=applications + 1)[1]

    errors = np.asarray(jax.jit(jax.vmap(per_layer))(layers))       # (seeds, applications + 1)
    seeds = errors.shape[0]
    return pd.DataFrame({"seed": np.repeat(np.arange(seeds), applications + 1),
                         "applications": np.tile(np.arange(applications + 1), seeds),
                         "error": errors.reshape(-1)})


def train_lsa_layers(key, config: Config):
    """The interpretability chapter's one-layer LSA (d = N = 10, its training settings), trained
    from ``lsa_seeds`` seeds: the layer parameters with a leading seed axis."""
    res = interpretability.run_lsa(key, interpretability.LSAConfig(seeds=config.lsa_seeds))
    return res.layers[0]


# ---------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------

def _measure_gd(key, config: Config, step_size: float):
    system = optpower.quadratic_descent(config.gd_eigenvalues, step_size, radius=1.0, tolerance=config.gd_tolerance)
    return optpower.measure(key, system, config.gd_steps, config.samples, _PUSH_BOX, config.gd_perturb_at)


_PUSH_BOX = optpower.push_uniform(1.0)
_BOTTLE_CAPS: dict = {}


def measure_gd(key, config: Config):
    return _measure_gd(key, config, config.gd_step_size), "samples"


def measure_gd_large_step(key, config: Config):
    return _measure_gd(key, config, config.gd_large_step_size), "samples"


_BANDITS: dict = {}


def _bandit(config: Config):
    """The stored network's system and perturbation, built once per setting (compiled once)."""
    name = (config.bandit_network, config.bandit_misleading)
    if name not in _BANDITS:
        params, net_config, _, _ = pretrained.load(config.bandit_network)
        _BANDITS[name] = (bandit_system(params, net_config.num_pulls),
                          misleading_pulls(params, config.bandit_misleading, net_config.num_pulls))
    return _BANDITS[name]


def measure_bandit(key, config: Config):
    system, perturb = _bandit(config)
    m = optpower.measure(key, system, config.bandit_pulls, config.samples, perturb, config.bandit_perturb_at,
                         config.bandit_pulls - config.bandit_perturb_at - config.bandit_misleading)
    return m, "tasks (one trained network)"


def measure_bottle(key, config: Config):
    cap = _BOTTLE_CAPS.setdefault(config.bottle_full, optpower.bottle_cap(config.bottle_full))
    return optpower.measure(key, cap, config.bottle_steps, config.samples, optpower.spill,
                            config.bottle_perturb_at), "samples"


@functools.lru_cache(maxsize=4)
def _grid_family(size: int = 7):
    return grid_family(size)       # built once, so repeated measurements reuse the compiled program


def measure_grid(key, config: Config, params) -> dict:
    """The trained agents (params with a leading seed axis) judged by the corner and by the goal:
    {"corner": Measures, "goal": Measures}, each (seeds, grid_samples)."""
    seeds = jax.tree_util.tree_leaves(params)[0].shape[0]
    both = jax.tree_util.tree_map(lambda x: jnp.concatenate([x, x]), params)
    flags = jnp.repeat(jnp.asarray([False, True]), seeds)
    m = optpower.measure_family(key, _grid_family(7), (both, flags), config.grid_steps, config.grid_samples,
                                teleport, config.grid_perturb_at)
    return {"corner": jax.tree_util.tree_map(lambda x: x[:seeds], m),
            "goal": jax.tree_util.tree_map(lambda x: x[seeds:], m)}


@functools.lru_cache(maxsize=4)
def _lsa_family(tolerance: float):
    return lsa_family(10, 10, tolerance)      # built once, so repeated measurements reuse the compiled program


_PUSHES: dict = {}


def measure_lsa(key, config: Config, layers) -> optpower.Measures:
    """The update read off each trained layer (leading seed axis), iterated: (seeds, lsa_samples)."""
    push = _PUSHES.setdefault(config.lsa_push, push_estimate(config.lsa_push))
    preconditioners = jax.vmap(lambda p: nn.lsa_as_gd(p)["preconditioner"])(layers)
    return optpower.measure_family(key, _lsa_family(config.lsa_tolerance), preconditioners, config.lsa_steps,
                                   config.lsa_samples, push, config.lsa_perturb_at)


#: The systems :func:`run` measures: name -> function(key, config) -> (optpower.Measures, what the
#: interval is over). The gridworld agents need training and are added by :func:`run` itself.
#:
#: :meta hide-value:
MEASURERS = {
    "gradient descent, step < 2/L": measure_gd,
    "gradient descent, step > 2/L": measure_gd_large_step,
    "bandit agent (RL², best arm)": measure_bandit,
    "bottle cap": measure_bottle,
}
GRID_NAMES = {"corner": "gridworld agent (target: corner)", "goal": "gridworld agent (target: goal)"}
LSA_NAME = "LSA layer's update, iterated"


class Result(NamedTuple):
    """measures: name -> optpower.Measures; units: name -> what the interval is over;
    rates: the long table of :func:`rate_table`; reapplied: the trained LSA layers applied again
    to their own output (:func:`lsa_reapplied`; None where no layer was trained)."""
    measures: dict
    units: dict
    rates: pd.DataFrame
    reapplied: pd.DataFrame | None = None


def run(key, config: Config = Config()) -> Result:
    """Measure every system of :data:`MEASURERS`, the gridworld agents and the LSA layers (both
    trained here, ~30 s and ~20 s)."""
    validate.prng_key("key", key)
    config = validate.instance("config", config, Config, "an experiments.optimizers.Config").validated()
    k_systems, k_train, k_grid = jax.random.split(key, 3)
    k_lsa_train, k_lsa = jax.random.split(jax.random.fold_in(key, 1), 2)     # the attention layers' own keys
    measures, units = {}, {}
    for k, (name, fn) in zip(jax.random.split(k_systems, len(MEASURERS)), MEASURERS.items()):
        measures[name], units[name] = fn(k, config)
    params = train_grid_agents(k_train, config)
    for target, m in measure_grid(k_grid, config, params).items():
        measures[GRID_NAMES[target]], units[GRID_NAMES[target]] = m, "training seeds"
    layers = train_lsa_layers(k_lsa_train, config)
    k_lsa, k_reapply = jax.random.split(k_lsa)
    measures[LSA_NAME], units[LSA_NAME] = measure_lsa(k_lsa, config, layers), "training seeds"
    reapplied = lsa_reapplied(k_reapply, layers, config.lsa_applications)
    order = [n for n in MEASURERS if n != "bottle cap"] + [GRID_NAMES["corner"], GRID_NAMES["goal"], LSA_NAME,
                                                           "bottle cap"]
    measures = {n: measures[n] for n in order}
    return Result(measures, {n: units[n] for n in order}, rate_table(measures, units), reapplied)


_LOOKUPS: dict = {}
LOOKUP_NAMES = {False: "lookup table (target: corner)", True: "lookup table (target: goal)"}


def run_lookup(key, config: Config = Config()) -> Result:
    """What the measures miss: :func:`corner_table` played on the gridworld agents' levels and
    perturbations, judged by the corner and by the goal (``config.samples`` starts each)."""
    validate.prng_key("key", key)
    config = validate.instance("config", config, Config, "an experiments.optimizers.Config").validated()
    measures = {}
    for k, by_goal in zip(jax.random.split(key, 2), (False, True)):
        system = _LOOKUPS.setdefault(by_goal, lookup_system(7, by_goal))
        measures[LOOKUP_NAMES[by_goal]] = optpower.measure(k, system, config.grid_steps, config.samples, teleport,
                                                           config.grid_perturb_at)
    units = {name: "samples" for name in measures}
    return Result(measures, units, rate_table(measures, units))


def rate_table(measures: dict, units: dict, level: float = 0.95) -> pd.DataFrame:
    """Long table: one row per (system, measure) with the share, its interval and what it is over."""
    validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    validate.instance("measures", measures, dict, "a dict of name -> optpower.Measures")
    rows = []
    for name, m in measures.items():
        for measure, r in optpower.rates(m, level).items():
            rows.append({"system": name, "measure": measure, "share": r.rate, "low": r.low, "high": r.high,
                         "n": r.n, "interval over": units[name]})
    return pd.DataFrame(rows)


def bits_table(result: Result) -> pd.DataFrame:
    """One row per system: the target's share and size in bits, the basin, the concentration
    (log2 basin / target, bits), the share of runs the push displaced, and recovery."""
    rows = []
    for name, m in result.measures.items():
        r = optpower.rates(m)
        hit, kept = r["target"].rate > 0, r["basin"].rate > 0
        # undefined cells are explicit <NA>: no sample in the target (no finite size), none left
        # in it (no finite concentration), none displaced (no recovery)
        rows.append({"system": name, "target share": r["target"].rate,
                     "target (bits)": optpower.bits(r["target"].rate) if hit else None,
                     "basin": r["basin"].rate,
                     "concentration (bits)": optpower.concentration_bits(m) if hit and kept else None,
                     "displaced": r["displaced"].rate,
                     "recovery": r["recovery"].rate if "recovery" in r else None})
    return stats.with_missing(rows, {"target (bits)": "Float64", "concentration (bits)": "Float64",
                                     "recovery": "Float64"})


def chart_frame(result: Result, measures=("target", "basin", "recovery")) -> pd.DataFrame:
    """The rows of :func:`rate_table` for the comparison chart, rounded for a stable page."""
    df = result.rates[result.rates["measure"].isin(measures)].copy()
    return df.round({"share": 3, "low": 3, "high": 3})
