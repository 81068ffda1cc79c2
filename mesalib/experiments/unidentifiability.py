"""Chapter 3 (unidentifiability): many rewards explain one behaviour; which observations pin it down?

Each section of the chapter is one function ``run_<section>(key, config)`` of the chapter's key
(``SEED = 0``), split once by :func:`keys` into (independent environments, similar environments,
environment selection, the dimension table, the misspecified planners). Demonstration 1 and the
corner tests draw nothing; they take the key too, so that every section is called the same way.
Demonstration 3 compares designed environments (:func:`mesalib.irl.design_environments`, a
binary-search construction in the spirit of Amin & Singh 2016), our query-by-committee choice
from a menu, and random choice. The notebook and
``tests/test_claims_ch03.py`` call the same functions, the tests with ``Config().test()``;
with ``MESALIB_SMOKE=1`` every section runs ``Config().smoke()``.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import numpy as np
import pandas as pd

from mesalib import irl, mdp, stats, train, validate


# --------------------------------------------------------------------------------------------- configs

class IdentificationConfig(NamedTuple):
    """Demonstration 2: soft-optimal demonstrations in 1..max_envs environments; the reward is
    recovered from them and judged in ``held_out`` fresh environments of the same family."""
    num_mdps: int = 32
    max_envs: int = 5
    num_states: int = 10
    num_actions: int = 3
    branching: int = 2             # next states each action can lead to
    gamma: float = 0.9
    temperature: float = 1.0
    changed_states: int | None = None  # None: independent environments; m: vary m states of a base
    held_out: int = 16
    parameterization: str = "state_action"

    def smoke(self) -> "IdentificationConfig":
        return self._replace(num_mdps=4, max_envs=3, held_out=4)

    def validated(self) -> "IdentificationConfig":
        validate.integer("num_mdps", self.num_mdps, minimum=2)
        validate.integer("max_envs", self.max_envs, minimum=1)
        s = validate.integer("num_states", self.num_states, minimum=2)
        validate.integer("num_actions", self.num_actions, minimum=2)
        validate.integer("branching", self.branching, minimum=1, maximum=s)
        validate.integer("held_out", self.held_out, minimum=1)
        mdp.check_gamma(self.gamma)
        validate.real("temperature", self.temperature, low=0.0, low_open=True)
        if self.changed_states is not None:
            validate.integer("changed_states", self.changed_states, minimum=1, maximum=s)
        validate.choice("parameterization", self.parameterization, {"state", "state_action"})
        return self


class SelectionConfig(NamedTuple):
    """Demonstration 3: optimal demonstrations; after a first environment the learner observes
    ``steps`` more, and the feasible set of state rewards is measured, in ``num_trials`` random
    problems. Three strategies, on the same problems: "random" and "committee" pick from a menu of
    ``menu_size`` random candidates; "designed" builds its own environments
    (:func:`mesalib.irl.design_environments`). Each result is also judged in ``held_out`` random
    environments of the menu's kind, by the regret of the feasible set's Chebyshev centre.

    ``committee_mix``: our query-by-committee rule's committee is the 2S LP vertices of the
    current feasible set (the rewards attaining each coordinate's minimum and maximum: the same
    LP solutions that give the set's size), each pulled this share of the way toward their mean. A
    vertex lies on the boundary of the set, where constraints are tight, i.e. some action ties
    with the demonstrated one; the pulled points stay inside the (convex) set and have fewer ties,
    so their votes are less arbitrary. 0.2 is the book's setting (0 would vote with the vertices
    themselves).
    """
    num_trials: int = 20
    num_states: int = 6
    num_actions: int = 3
    menu_size: int = 24
    steps: int = 8
    gamma: float = 0.9
    branching: int = 2
    committee_mix: float = 0.2
    held_out: int = 16

    def smoke(self) -> "SelectionConfig":
        return self._replace(num_trials=3, steps=4, menu_size=8, held_out=4)

    def validated(self) -> "SelectionConfig":
        validate.integer("num_trials", self.num_trials, minimum=2)
        s = validate.integer("num_states", self.num_states, minimum=2)
        validate.integer("num_actions", self.num_actions, minimum=2)
        menu = validate.integer("menu_size", self.menu_size, minimum=1)
        validate.integer("steps", self.steps, minimum=0, maximum=menu)
        mdp.check_gamma(self.gamma)
        validate.integer("branching", self.branching, minimum=1, maximum=s)
        validate.real("committee_mix", self.committee_mix, low=0.0, high=1.0)
        validate.integer("held_out", self.held_out, minimum=1)
        return self


class PlannerConfig(NamedTuple):
    """The misspecified planners: agents that are *not* Boltzmann-rational at ``gamma`` act in
    ``envs`` random environments; their reward is recovered with the Boltzmann model of
    Demonstration 2 (discount ``gamma``, ``temperature``) from the first 2 and from all ``envs``
    environments, and judged in ``held_out`` fresh ones, over ``num_mdps`` random problems."""
    num_mdps: int = 16
    num_states: int = 10
    num_actions: int = 3
    branching: int = 2
    gamma: float = 0.9
    temperature: float = 1.0
    envs: int = 5
    held_out: int = 16
    epsilon: float = 0.1          # the ε-greedy agent's share of uniformly random actions

    def smoke(self) -> "PlannerConfig":
        return self._replace(num_mdps=3, envs=3, held_out=4)

    def validated(self) -> "PlannerConfig":
        validate.integer("num_mdps", self.num_mdps, minimum=2)
        s = validate.integer("num_states", self.num_states, minimum=2)
        validate.integer("num_actions", self.num_actions, minimum=2)
        validate.integer("branching", self.branching, minimum=1, maximum=s)
        mdp.check_gamma(self.gamma)
        validate.real("temperature", self.temperature, low=0.0, low_open=True)
        validate.integer("envs", self.envs, minimum=2)
        validate.integer("held_out", self.held_out, minimum=1)
        validate.real("epsilon", self.epsilon, low=0.0, high=1.0, low_open=True)
        return self


def _sub(name: str, config):
    """A nested config validated, its field named with the parent's prefix (``selection.gamma``)."""
    try:
        return config.validated()
    except ValueError as e:
        raise ValueError(f"{name}.{e}") from None


class Config(NamedTuple):
    """The chapter's settings."""
    gamma: float = 0.9               # Demonstration 1 and the dimension table
    room_size: int = 5               # Demonstration 1: the training room, goal in the top-right corner ...
    moved_goal: tuple = (4, 0)       # ... and the level where the explaining rewards are compared
    shaping_scale: float = 0.5       # "shaped goal": potential −scale × (steps to the corner)
    lp_l1: float = 0.05              # "LP": L1 penalty of the max-margin reward
    horizon: int = 30                # steps an agent is followed from each start cell
    dimension_states: int = 8        # the dimension table: random MDPs of this size, 1..dimension_envs of them
    dimension_actions: int = 3
    dimension_counts: tuple = (1, 2, 3, 5, 10, 20, 40)   # ... observed in this many environments
    dimension_branching: int = 2
    identification: IdentificationConfig = IdentificationConfig()
    similar_changed_states: int = 1  # the second family of Demonstration 2: one state's transitions changed
    selection: SelectionConfig = SelectionConfig()
    planners: PlannerConfig = PlannerConfig()
    corner_size: int = 5             # the corner tests: Chapter 2's room interior
    corner_gamma: float = 0.95
    confidence: float = 0.95         # tests needed to expose the proxy with this probability
    tests_shown: int = 5             # rows of the "still hidden after k tests" table

    def test(self) -> "Config":
        """Claim tests: 20 random MDPs per family in Demonstration 2 instead of 32."""
        return self._replace(identification=self.identification._replace(num_mdps=20))

    def smoke(self) -> "Config":
        """Seconds (MESALIB_SMOKE=1): few MDPs, trials and environments; same code path."""
        return self._replace(identification=self.identification.smoke(), selection=self.selection.smoke(),
                             planners=self.planners.smoke(), dimension_counts=(1, 2, 3))

    def validated(self) -> "Config":
        mdp.check_gamma(self.gamma)
        size = validate.integer("room_size", self.room_size, minimum=2)
        goal = tuple(self.moved_goal)
        if len(goal) != 2 or not all(isinstance(x, (int, np.integer)) and 0 <= x < size for x in goal):
            raise ValueError(f"moved_goal must be a cell (row, col) of the {size}x{size} room, got {self.moved_goal!r}")
        if goal == (0, size - 1):
            raise ValueError("moved_goal must differ from the training goal, the top-right corner")
        validate.real("shaping_scale", self.shaping_scale)
        validate.real("lp_l1", self.lp_l1, low=0.0)
        validate.integer("horizon", self.horizon, minimum=1)
        validate.integer("dimension_states", self.dimension_states, minimum=2)
        validate.integer("dimension_actions", self.dimension_actions, minimum=1)
        counts = tuple(self.dimension_counts)
        if not counts or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in counts) or \
                list(counts) != sorted(set(counts)):
            raise ValueError(f"dimension_counts must be increasing positive integers, got {self.dimension_counts!r}")
        validate.integer("dimension_branching", self.dimension_branching, minimum=1, maximum=self.dimension_states)
        for name, sub, kind in (("identification", self.identification, IdentificationConfig),
                                ("selection", self.selection, SelectionConfig),
                                ("planners", self.planners, PlannerConfig)):
            if not isinstance(sub, kind):
                raise ValueError(f"{name} must be a {kind.__name__}, got {type(sub).__name__}")
        validate.integer("similar_changed_states", self.similar_changed_states, minimum=1,
                         maximum=self.identification.num_states)
        check_corner_size(self.corner_size)
        mdp.check_gamma(self.corner_gamma, "corner_gamma")
        validate.real("confidence", self.confidence, low=0.0, high=1.0, low_open=True, high_open=True)
        validate.integer("tests_shown", self.tests_shown, minimum=1)
        return self._replace(moved_goal=goal, dimension_counts=tuple(int(n) for n in counts),
                             identification=_sub("identification", self.identification),
                             selection=_sub("selection", self.selection), planners=_sub("planners", self.planners))


class Keys(NamedTuple):
    independent: jax.Array   # Demonstration 2, independent environments
    similar: jax.Array       # Demonstration 2, environments with one state changed
    selection: jax.Array     # Demonstration 3
    dimensions: jax.Array    # the dimension table
    planners: jax.Array      # the misspecified planners


def keys(key) -> Keys:
    """The chapter's one split of its key."""
    validate.prng_key("key", key)
    return Keys(*jax.random.split(key, 5))


def _prepare(config: Config) -> Config:
    if not isinstance(config, Config):
        raise ValueError(f"config must be an unidentifiability.Config, got {type(config).__name__}")
    return train.smoke_config(config).validated()


# --------------------------------------------------------------------------------------------- sections

class Rewards(NamedTuple):
    """Demonstration 1: five rewards that explain one behaviour."""
    train: mdp.Grid            # the training room, goal in the top-right corner
    rewards: dict              # name -> (S, A) reward
    demo: np.ndarray           # (S,) the demonstrated policy: optimal for "goal"
    explains: dict             # name -> whether the demonstration is optimal for the reward
    maps: pd.DataFrame         # reward_maps(train, rewards, demo), for the chart
    new_level: mdp.Grid        # the room with the goal moved to ``moved_goal``
    behaviour: pd.DataFrame    # behaviour_table(new_level, rewards)


def run_rewards(key, config: Config = Config()) -> Rewards:
    """Five very different rewards that all explain the goal-seeking demonstration in the training
    room, and what each one's optimal agent does once the goal moves."""
    config = _prepare(config)
    keys(key)   # nothing is drawn: the key is checked so that every section is called alike
    room = corner_room(config.room_size)
    rewards = explaining_rewards(room, config.gamma, config.shaping_scale, config.lp_l1)
    demo = mdp.policy_iteration64(room.transitions, rewards["goal"], config.gamma).policy
    explains = {name: irl.is_optimal(room.transitions, r, config.gamma, demo) for name, r in rewards.items()}
    new_level = corner_room(config.room_size, config.moved_goal)
    return Rewards(room, rewards, demo, explains, reward_maps(room, rewards, demo), new_level,
                   behaviour_table(new_level, rewards, config.gamma, config.horizon))


def run_dimensions(key, config: Config = Config()) -> pd.DataFrame:
    """Dimension of the rewards consistent with soft-optimal behaviour, per parameterization (rows)
    and number of random environments observed (columns: ``dimension_counts``; the environments
    of a column include those of the columns before it)."""
    config = _prepare(config)
    s, a = config.dimension_states, config.dimension_actions
    counts = config.dimension_counts
    envs = dimension_environments(key, config)
    return pd.DataFrame(
        {f"{n} environment{'s' if n > 1 else ''}": [irl.consistent_dimension(envs[:n], config.gamma, p)
                                                    for p in irl.PARAMETERIZATIONS]
         for n in counts},
        index=[f"{p} ({irl.num_parameters(s, a, p)} parameters)" for p in irl.PARAMETERIZATIONS])


def dimension_environments(key, config: Config = Config()) -> np.ndarray:
    """The random environments (dimension_counts[-1], S, A, S) of the dimension table."""
    config, k = _prepare(config), keys(key)
    return np.asarray(mdp.random_mdp(k.dimensions, config.dimension_states, config.dimension_actions,
                                     branching=config.dimension_branching, batch=(config.dimension_counts[-1],)))


class Identification(NamedTuple):
    results: dict          # family -> IdentificationResult
    table: pd.DataFrame    # summarize_identification(results)


def run_identification(key, config: Config = Config()) -> Identification:
    """Demonstration 2 for two families: independent environments, and environments that differ
    from the first in ``similar_changed_states`` states."""
    config, k = _prepare(config), keys(key)
    ident = config.identification
    results = {
        "independent": identification_experiment(k.independent, ident._replace(changed_states=None)),
        "one state changed": identification_experiment(
            k.similar, ident._replace(changed_states=config.similar_changed_states)),
    }
    return Identification(results, summarize_identification(results))


class SelectionResult(NamedTuple):
    sizes: dict            # strategy -> (num_trials, steps + 1) feasible-set sizes relative to the first
    regret: dict           # strategy -> (num_trials, steps + 1) held-out regret of the set's Chebyshev centre
    table: pd.DataFrame    # summarize_selection(sizes)
    regret_table: pd.DataFrame   # summarize_selection(regret, "regret")


def run_selection(key, config: Config = Config()) -> SelectionResult:
    """Demonstration 3: designed environments (binary search), our query by committee, and random
    choice of environments, on the same problems."""
    config, k = _prepare(config), keys(key)
    trials = selection_experiment(k.selection, config.selection)
    return SelectionResult(trials.sizes, trials.regret, summarize_selection(trials.sizes),
                           summarize_selection(trials.regret, "regret"))


class Planners(NamedTuple):
    """residual, regret: planner -> (num_mdps, 2), for the reward recovered from the first 2 and
    from all ``envs`` environments; table: summarize_planners."""
    residual: dict
    regret: dict
    table: pd.DataFrame


PLANNERS = ("Boltzmann, γ = 0.9 (the model)", "myopic Boltzmann, γ = 0", "ε-greedy, ε = 0.1")


def planner_policies(transitions, reward, config: PlannerConfig) -> dict:
    """The behaviour (…, S, A) of the three planners of ``PLANNERS`` for ``reward`` (…, S, A):
    Boltzmann-rational at the model's discount, Boltzmann-rational but myopic (discount 0: it acts
    on the immediate reward only), and ε-greedy (the optimal action, except a uniformly random one
    with probability ε)."""
    c = config
    _, _, boltzmann = mdp.soft_value_iteration(transitions, reward, c.gamma, c.temperature)
    _, _, myopic = mdp.soft_value_iteration(transitions, reward, 0.0, c.temperature)
    _, q = mdp.value_iteration(transitions, reward, c.gamma)
    a = np.shape(q)[-1]
    greedy = np.asarray(jax.nn.one_hot(mdp.greedy_policy(q), a), np.float64)
    eps_greedy = (1 - c.epsilon) * greedy + c.epsilon / a
    return dict(zip(PLANNERS, (np.asarray(boltzmann, np.float64), np.asarray(myopic, np.float64), eps_greedy)))


@mdp.single_blas_thread
def run_planners(key, config: Config = Config()) -> Planners:
    """Agents with a planner other than the assumed one, fitted by the Boltzmann model: how well the
    model fits them (the residual of the identification system) and what the recovered reward is
    worth in new environments (normalized regret, judged with the true reward at the model's
    discount)."""
    config, k = _prepare(config), keys(key)
    c = config.planners
    n, s, a = c.num_mdps, c.num_states, c.num_actions
    k_env, k_held, k_reward = jax.random.split(k.planners, 3)
    envs = np.asarray(mdp.random_mdp(k_env, s, a, branching=c.branching, batch=(n, c.envs)))
    held = np.asarray(mdp.random_mdp(k_held, s, a, branching=c.branching, batch=(n, c.held_out)))
    true_r = mdp.host_rng(k_reward).normal(size=(n, s, a))
    policies = planner_policies(envs, true_r[:, None], c)
    counts = (2, c.envs)
    residual = {name: np.zeros((n, 2)) for name in PLANNERS}
    regret = {name: np.zeros((n, 2)) for name in PLANNERS}
    for name, pi in policies.items():
        recovered = np.zeros((2, n, s, a))
        for i in range(n):
            for j, kk in enumerate(counts):
                rec = irl.recover_reward(envs[i, :kk], pi[i, :kk], c.gamma, c.temperature, "state_action")
                residual[name][i, j] = rec.residual
                recovered[j, i] = rec.theta.reshape(s, a)
        for j in range(2):
            per_env = np.asarray(irl.normalized_regret(held, true_r[:, None], recovered[j][:, None], c.gamma))
            regret[name][:, j] = np.where(per_env < REGRET_FLOOR, 0.0, per_env).mean(-1)
    rows = []
    for name in PLANNERS:
        for j, kk in enumerate(counts):
            ci = stats.mean_ci(regret[name][:, j])
            rows.append({"planner": name, "environments": kk, "largest residual": float(residual[name][:, j].max()),
                         "regret": float(ci.mean), "low": float(ci.low), "high": float(ci.high), "MDPs": n})
    return Planners(residual, regret, pd.DataFrame(rows))


class CornerTests(NamedTuple):
    """Back to Chapter 2: which deployment tests expose the corner-walker?"""
    informative: np.ma.MaskedArray  # (size, size, size, size) from corner_test_informativeness
    p: float                        # share of informative (level, start) tests
    per_goal: np.ma.MaskedArray     # (size, size) share per goal cell (masked at the corner)
    tests_needed: int          # random tests needed to expose the walker with probability ``confidence``
    hidden: pd.DataFrame       # (tests, P(proxy still hidden)) for 0..tests_shown − 1 tests
    goal_map: pd.DataFrame     # (row, col, informative) per goal cell, for the heat map


def run_corner_tests(key, config: Config = Config()) -> CornerTests:
    """The share of informative deployment tests in Chapter 2's room, per goal cell, and how many
    random tests expose the goal-blind walker with probability ``confidence``."""
    config = _prepare(config)
    keys(key)   # nothing is drawn (see run_rewards)
    informative = corner_test_informativeness(config.corner_size, config.corner_gamma, config.horizon)
    p, per_goal = informativeness_by_goal(informative)
    hidden = pd.DataFrame({"tests": range(config.tests_shown),
                           "P(proxy still hidden)": (1 - p) ** np.arange(config.tests_shown)})
    size = config.corner_size
    goal_map = pd.DataFrame([{"row": r, "col": c, "informative": per_goal[r, c]}
                             for r in range(size) for c in range(size) if not np.ma.is_masked(per_goal[r, c])])
    return CornerTests(informative, p, per_goal, tests_needed(p, config.confidence), hidden, goal_map)


def tests_needed(p: float, confidence: float) -> int:
    """The smallest k with 1 − (1 − p)^k ≥ ``confidence``: random tests, each informative with
    probability p, needed so that at least one exposes the proxy."""
    p = validate.real("p", p, low=0.0, high=1.0, low_open=True, high_open=True)
    confidence = validate.real("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    return int(np.ceil(np.log(1 - confidence) / np.log(1 - p)))


# --------------------------------------------------------------------------------------------- the rooms

def corner_room(size: int = 5, goal=None) -> mdp.Grid:
    """An open ``size`` x ``size`` room whose goal cell is terminal; the goal defaults to the
    top-right corner (0, size − 1), where it sits in every training level of Chapter 2 at α = 0."""
    size = validate.integer("size", size, minimum=2)
    goal = (0, size - 1) if goal is None else tuple(int(x) for x in goal)
    return mdp.gridworld(size, size, terminals=[goal])


def goal_and_corner_rewards(grid: mdp.Grid, corner=None):
    """The two objectives of Chapter 2 as state rewards (S,): "goal" pays 1 for reaching the goal,
    wherever it is (the ``success`` state); "corner" pays 1 per step in the top-right corner cell."""
    corner = (0, grid.width - 1) if corner is None else tuple(corner)
    if corner not in grid.cells:
        raise ValueError(f"corner {corner} is not a free cell of the grid")
    if grid.success < 0:
        raise ValueError("grid must have a terminal goal cell (a success state)")
    s = grid.transitions.shape[0]
    goal_r, corner_r = np.zeros(s), np.zeros(s)
    goal_r[grid.success] = 1.0
    corner_r[grid.cells[corner]] = 1.0
    return goal_r, corner_r


def explaining_rewards(room: mdp.Grid, gamma: float, shaping_scale: float = 0.5, l1: float = 0.05) -> dict:
    """Very different rewards (name -> (S, A)) under which the goal-seeking policy of ``room`` is optimal.

    "goal" (the truth), "corner" (a proxy that coincides with it in training), "zero" (every
    policy is optimal), "shaped goal" (the truth plus potential shaping Φ = −scale·distance to
    the corner, stored as a state-action table for the training dynamics) and "LP" (Ng & Russell's
    max-margin state reward with an L1 penalty).
    """
    gamma = mdp.check_gamma(gamma)
    goal_r, corner_r = goal_and_corner_rewards(room)
    p = room.transitions
    corner = np.array([0, room.width - 1])
    phi = np.where(room.coords[:, 0] >= 0, -shaping_scale * np.abs(room.coords - corner).sum(1), 0.0)
    pi = mdp.policy_iteration64(p, goal_r, gamma).policy
    lp = irl.max_margin_reward(p, pi, gamma, "state", l1=l1)
    s, a = p.shape[:2]

    def rep(r):
        return np.repeat(np.asarray(r, np.float64)[:, None], a, axis=1)

    return {"goal": rep(goal_r), "corner": rep(corner_r), "zero": np.zeros((s, a)),
            "shaped goal": irl.shaped(goal_r, p, phi, gamma), "LP": rep(lp)}


def behaviour_table(grid: mdp.Grid, rewards: dict, gamma: float, horizon: int = 30, corner=None) -> pd.DataFrame:
    """Where each reward's optimal agent goes in ``grid``, over all start cells.

    Columns: reward; reaches goal, visits corner (shares of start cells from which the optimal
    policy of :func:`mesalib.mdp.policy_iteration64` reaches the goal / steps into the top-right
    corner within ``horizon`` steps; among equally good actions that policy keeps the first one
    policy iteration found, see there); all actions optimal (share of cells where the reward
    expresses no preference at all).
    """
    gamma = mdp.check_gamma(gamma)
    horizon = validate.integer("horizon", horizon, minimum=1)
    corner = grid.cells[(0, grid.width - 1) if corner is None else tuple(corner)]
    p = grid.transitions
    starts = [i for (rc, i) in grid.cells.items() if p[i, 0, grid.success] < 1]
    rows = []
    for name, r in rewards.items():
        sol = mdp.policy_iteration64(p, mdp.check_reward(r, p.shape[0], p.shape[1], name), gamma)
        q = sol.q
        ties = np.all(q >= q.max(1, keepdims=True) - 1e-9 * max(1.0, np.abs(q).max()), axis=1)
        reached = visited = 0
        for s0 in starts:
            path = mdp.rollout_states(p, sol.policy, s0, horizon)
            reached += grid.success in path
            visited += corner in path[1:]
        rows.append({"reward": name, "reaches goal": reached / len(starts), "visits corner": visited / len(starts),
                     "all actions optimal": float(ties[list(grid.cells.values())].mean())})
    return pd.DataFrame(rows)


def reward_maps(grid: mdp.Grid, rewards: dict, policy=None) -> pd.DataFrame:
    """Long table (reward, row, column, value) for charting rewards on the grid. value is
    R(s, policy(s)), the reward for the demonstrated action (the mean over actions if ``policy`` is
    None); the column "goal ✓" holds the reward of the ``success`` state, i.e. for reaching the goal."""
    s, a = grid.transitions.shape[:2]
    if policy is not None:
        pi = np.asarray(policy)
        if pi.shape != (s,) or not np.issubdtype(pi.dtype, np.integer):
            raise ValueError(f"policy must be integer actions of shape ({s},), got {pi.shape} {pi.dtype}")
        mdp.check_policy(pi, s, a)
    rows = []
    for name, r in rewards.items():
        r = mdp.check_reward(r, s, a, name)
        value = r.mean(1) if policy is None else r[np.arange(s), pi]
        for (row, col), i in grid.cells.items():
            rows.append({"reward": name, "row": row, "column": str(col), "value": float(value[i])})
        rows.append({"reward": name, "row": 0, "column": "goal ✓", "value": float(value[grid.success])})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- corner tests

#: Largest room for :func:`corner_test_informativeness`: beyond it a call would take more than
#: about an hour on a 2-core CPU (see ``benchmarks/corner_tests.log``).
MAX_CORNER_SIZE = 75


def check_corner_size(size) -> int:
    """``size`` for the corner tests: an integer in [2, MAX_CORNER_SIZE]."""
    size = validate.integer("size", size, minimum=2)
    if size > MAX_CORNER_SIZE:
        raise ValueError(f"size must be <= {MAX_CORNER_SIZE}: the corner tests of a {size}x{size} room would take more "
                         f"than about an hour (the training policy's policy iteration grows as size^7; "
                         f"benchmarks/corner_tests.log has the measured times)")
    return size


def corner_test_informativeness(size: int = 5, gamma: float = 0.95, horizon: int = 30) -> np.ndarray:
    """Chapter 2 in a table: which deployment tests tell the corner-walker from a goal-seeker?

    The α = 0 agent is modelled as goal-blind: in every level it takes the actions that are
    optimal in the training room (goal in the top-right corner; the policy of
    :func:`mesalib.mdp.policy_iteration64`, which among equally good actions keeps the first one
    it found: here it walks right, then up), and its episode ends if it steps on the goal. For every
    level (goal cell ≠ corner) and start cell, the test is informative if some action it takes
    before reaching the goal (within ``horizon`` steps) is not optimal for the "goal" reward of
    that level. Returns a boolean masked array (size, size, size, size) indexed [goal_row,
    goal_col, start_row, start_col], True = informative, masked where the test is undefined (goal =
    start, or goal = corner, where the two objectives coincide); ``.mean()`` and the other
    masked-array reductions skip those cells.

    Cost: the walker's route from each start is followed once in the room without a goal (a level
    only cuts it at its goal), and the goal-optimal actions of all levels come from value
    iteration on successor tables, batched over goals; the time is about linear in
    (goals × starts × horizon) plus one dense policy iteration for the walker.
    """
    size = check_corner_size(size)
    gamma = mdp.check_gamma(gamma)
    horizon = validate.integer("horizon", horizon, minimum=1)
    room = corner_room(size)
    goal_r, _ = goal_and_corner_rewards(room)
    walker = mdp.policy_iteration64(room.transitions, goal_r, gamma).policy
    n = size * size                        # cells, numbered row by row; then success = n, end = n + 1
    corner = room.cells[(0, size - 1)]
    # the room without a goal: the training room's moves, except at the corner, whose moves come
    # from a level with the goal elsewhere
    free = mdp.successors(room.transitions)
    free[corner] = mdp.successors(corner_room(size, (size - 1, 0)).transitions)[corner]
    paths = np.empty((n, horizon + 1), int)   # the walker's route from every start cell
    paths[:, 0] = np.arange(n)
    for t in range(horizon):
        paths[:, t + 1] = free[paths[:, t], walker[paths[:, t]]]
    route = paths[:, :horizon]                # the cells where it acts, (starts, horizon)
    goals = np.array([g for g in range(n) if g != corner])
    out = np.zeros((n, n), bool)              # [goal, start]
    chunk = max(1, int(4e7 // ((n + 2) * (160 + 4 * horizon))))   # goals per batch: bounds the memory (~40 MB)
    for lo in range(0, len(goals), chunk):
        g = goals[lo:lo + chunk]
        tables = np.repeat(free[None], len(g), axis=0)
        tables[np.arange(len(g)), g] = room.success        # in level g, the goal cell is terminal
        _, q = mdp.deterministic_value_iteration64(tables, goal_r, gamma)
        ok = q >= q.max(-1, keepdims=True) - 1e-9                   # (goals, S, A): goal-optimal actions
        good = ok[:, np.arange(n), walker[:n]]                       # (goals, cells): the walker's action is one
        wrong = ~good[:, route]                                      # (goals, starts, horizon)
        reached = np.logical_or.accumulate(route[None] == g[:, None, None], axis=-1)   # at or after the goal
        out[g] = (wrong & ~reached).any(-1)
    undefined = np.zeros((n, n), bool)
    undefined[np.arange(n), np.arange(n)] = True   # start on the goal
    undefined[corner] = True                        # goal in the corner: the objectives coincide
    return np.ma.MaskedArray(out, mask=undefined).reshape(size, size, size, size)


def informativeness_by_goal(informative) -> tuple:
    """From ``corner_test_informativeness`` (a masked array; a plain boolean array counts every
    cell as defined): (p, per_goal) with p the share of informative (level, start) tests and
    per_goal a (size, size) masked array of the share for each goal cell (masked at the corner)."""
    if not isinstance(informative, np.ma.MaskedArray):
        informative = np.ma.MaskedArray(validate.array("informative", informative, allow_empty=False))
    shape = informative.shape
    if len(shape) != 4 or shape[:2] != shape[2:]:
        raise ValueError(f"informative must be (size, size, size, size), got {shape}")
    inf = informative.astype(np.float64)
    if inf.count() == 0:
        raise ValueError("informative has no defined cell")
    return float(inf.mean()), inf.mean(axis=(2, 3))


# --------------------------------------------------------------------------------------------- Demonstration 2

#: Regret is >= 0 exactly; float32 solves leave noise of ~1e-7, which would make printed results
#: machine-dependent, so values below this count as 0.
REGRET_FLOOR = 1e-5


class IdentificationResult(NamedTuple):
    """env_counts: (k,); dimension, regret: (num_mdps, k) for the reward recovered from the first
    K environments; regret is normalized (0 = optimal in held-out environments, 1 = random) and
    averaged over the held-out environments, each counted as 0 below ``REGRET_FLOOR``."""
    env_counts: np.ndarray
    dimension: np.ndarray
    regret: np.ndarray


@mdp.single_blas_thread
def identification_experiment(key, config: IdentificationConfig = IdentificationConfig()) -> IdentificationResult:
    """Recover rewards from soft-optimal behaviour in K = 1..max_envs environments, for many random MDPs."""
    key = validate.prng_key("key", key)
    validate.instance("config", config, IdentificationConfig, "an IdentificationConfig")
    c = config.validated()
    n, kmax, s, a, held = c.num_mdps, c.max_envs, c.num_states, c.num_actions, c.held_out
    k_base, k_obs, k_held, k_reward = jax.random.split(key, 4)
    base = mdp.random_mdp(k_base, s, a, branching=c.branching, batch=(n,))
    obs = np.stack([irl.environment_family(k, b, kmax, c.changed_states, c.branching)
                    for k, b in zip(jax.random.split(k_obs, n), base)])
    obs[:, 0] = base  # the first observed environment is the base itself
    held_envs = np.stack([irl.environment_family(k, b, held, c.changed_states, c.branching)
                          for k, b in zip(jax.random.split(k_held, n), base)])
    d = irl.num_parameters(s, a, c.parameterization)
    theta = mdp.host_rng(k_reward).normal(size=(n, d))
    feats = irl.reward_features(np.asarray(base[0]), c.parameterization).reshape(s * a, d)
    true_r = (np.asarray(theta, np.float64) @ feats.T).reshape(n, s, a)
    _, _, pi = mdp.soft_value_iteration(obs, true_r[:, None], c.gamma, c.temperature)
    obs64, pi64 = np.asarray(obs, np.float64), np.asarray(pi, np.float64)
    dims = np.zeros((n, kmax), int)
    recovered = np.zeros((kmax, n, s, a))
    for i in range(n):
        for k in range(1, kmax + 1):
            rec = irl.recover_reward(obs64[i, :k], pi64[i, :k], c.gamma, c.temperature, c.parameterization)
            dims[i, k - 1] = rec.null_basis.shape[1]
            recovered[k - 1, i] = (feats @ rec.theta).reshape(s, a)
    per_env = np.stack([np.asarray(irl.normalized_regret(held_envs, true_r[:, None], recovered[k][:, None], c.gamma))
                        for k in range(kmax)], axis=1)
    regret = np.where(per_env < REGRET_FLOOR, 0.0, per_env).mean(-1)
    return IdentificationResult(np.arange(1, kmax + 1), dims, regret)


def summarize_identification(results: dict) -> pd.DataFrame:
    """DataFrame (family, environments, dimension, regret, low, high, MDPs) from label ->
    IdentificationResult; regret is the mean over MDPs with a 95% bootstrap interval."""
    rows = []
    for label, res in results.items():
        for j, k in enumerate(res.env_counts):
            ci = stats.mean_ci(res.regret[:, j])
            rows.append({"family": label, "environments": int(k), "dimension": float(res.dimension[:, j].mean()),
                         "regret": float(ci.mean), "low": float(ci.low), "high": float(ci.high),
                         "MDPs": int(res.regret.shape[0])})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- Demonstration 3

STRATEGIES = ("designed", "committee", "random")
MENU_STRATEGIES = ("committee", "random")   # the ones that pick from the menu


def random_choice(key, widths: irl.Widths, menu, gamma: float) -> np.ndarray:
    """The "random" strategy's scores (M,): uniform noise, so the pick is uniform among unused candidates."""
    return mdp.host_rng(key).random(np.shape(menu)[0])


def committee_choice(key, widths: irl.Widths, menu, gamma: float, mix: float = 0.2) -> np.ndarray:
    """Our "committee" strategy's scores (M,): how much a committee of rewards from the current
    feasible set disagrees about what to do in each candidate (query by committee); the committee
    is the LP vertices ``widths.points`` pulled ``mix`` of the way toward their mean (see
    :class:`SelectionConfig`); 1e-3 × uniform noise breaks ties at random."""
    pts = widths.points
    committee = (1 - mix) * pts + mix * pts.mean(0)
    return irl.committee_disagreement(menu, committee, gamma) + 1e-3 * mdp.host_rng(key).random(np.shape(menu)[0])


def strategy(name: str, committee_mix: float = 0.2):
    """The selection criterion (for :func:`mesalib.irl.select_environments`) of a menu strategy's name."""
    validate.choice("strategy", name, set(MENU_STRATEGIES))
    if name == "random":
        return random_choice
    return functools.partial(committee_choice, mix=validate.real("committee_mix", committee_mix, low=0.0, high=1.0))


class SelectionTrials(NamedTuple):
    """sizes, regret: strategy -> (num_trials, steps + 1) arrays (see :func:`selection_experiment`)."""
    sizes: dict
    regret: dict


def _trial(k, c: SelectionConfig):
    """One problem of Demonstration 3: first environment, menu, held-out environments, true state
    reward, and the keys of the two menu strategies."""
    s, a = c.num_states, c.num_actions
    k_env, k_menu, k_r, k_committee, k_random, k_held = jax.random.split(k, 6)
    first = np.asarray(mdp.random_mdp(k_env, s, a, branching=c.branching))
    menu = np.asarray(mdp.random_mdp(k_menu, s, a, branching=c.branching, batch=(c.menu_size,)))
    held = np.asarray(mdp.random_mdp(k_held, s, a, branching=c.branching, batch=(c.held_out,)))
    theta = mdp.host_rng(k_r).normal(size=s)
    return first, menu, held, theta, (k_committee, k_random)


def selection_problem(key, config: Config = Config(), trial: int = 0) -> tuple:
    """(first environment (S, A, S), true state reward (S,)) of one problem of Demonstration 3, as
    :func:`run_selection` draws it from the chapter's key."""
    config, k = _prepare(config), keys(key)
    c = config.selection
    trial = validate.integer("trial", trial, minimum=0, maximum=c.num_trials - 1)
    first, _, _, theta, _ = _trial(jax.random.split(k.selection, c.num_trials)[trial], c)
    return first, theta


def first_separation(table: pd.DataFrame, a: str, b: str) -> int | None:
    """The smallest number of environments chosen from which on the 95% intervals of strategies
    ``a`` and ``b`` in a :func:`summarize_selection` table never overlap again (None if they overlap
    at the end)."""
    ta = table[table["strategy"] == a].set_index("environments chosen")
    tb = table[table["strategy"] == b].set_index("environments chosen")
    apart = (ta["high"] < tb["low"]) | (tb["high"] < ta["low"])
    if not apart.iloc[-1]:
        return None
    j = len(apart) - 1
    while j > 0 and apart.iloc[j - 1]:
        j -= 1
    return int(apart.index[j])


def selection_experiment(key, config: SelectionConfig = SelectionConfig()) -> SelectionTrials:
    """Designed, committee and random choice of environments over ``num_trials`` random problems.

    sizes: each row divided by its size after the first environment (the same for every strategy);
    regret: normalized regret, averaged over ``held_out`` random environments, of the optimal policy
    of the feasible set's Chebyshev centre (each value counted as 0 below ``REGRET_FLOOR``), after
    the first environment and after each further one. All strategies face the same first
    environment, true reward and held-out environments in each trial, the menu strategies the same
    menu; each menu strategy draws its own choices.
    """
    key = validate.prng_key("key", key)
    c = config.validated()
    a = c.num_actions
    sizes = {name: [] for name in STRATEGIES}
    regret = {name: [] for name in STRATEGIES}
    for k in jax.random.split(key, c.num_trials):
        first, menu, held, theta, (k_committee, k_random) = _trial(k, c)
        runs = {"designed": irl.design_environments(theta, first, c.gamma, c.steps)}
        for name, k_sel in zip(MENU_STRATEGIES, (k_committee, k_random)):
            runs[name] = irl.select_environments(k_sel, theta, first, menu, c.gamma, c.steps,
                                                 strategy(name, c.committee_mix))
        true_r = np.repeat(theta[:, None], a, axis=1)
        for name, res in runs.items():
            sizes[name].append(res.sizes / res.sizes[0])
            cand = np.repeat(res.centers[:, None, :, None], a, axis=-1)        # (steps + 1, 1, S, A)
            per_env = np.asarray(irl.normalized_regret(held, true_r, cand, c.gamma))   # (steps + 1, held_out)
            regret[name].append(np.where(per_env < REGRET_FLOOR, 0.0, per_env).mean(-1))
    return SelectionTrials({n: np.array(v) for n, v in sizes.items()}, {n: np.array(v) for n, v in regret.items()})


def summarize_selection(values: dict, measure: str = "size") -> pd.DataFrame:
    """DataFrame (strategy, environments chosen, <measure>, low, high) from strategy -> (trials, steps + 1):
    the mean over trials with a 95% bootstrap interval."""
    rows = []
    for name, arr in values.items():
        for j in range(arr.shape[1]):
            ci = stats.mean_ci(arr[:, j])
            rows.append({"strategy": name, "environments chosen": j, measure: float(ci.mean),
                         "low": float(ci.low), "high": float(ci.high)})
    return pd.DataFrame(rows)
