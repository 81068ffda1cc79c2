"""Chapter 3's headline claims, checked on the chapter's own experiment (mesalib.experiments.
unidentifiability) with the chapter's key, at the test size ``Config().test()``."""
import mesalib  # noqa: F401  (configures XLA before the first JAX computation)

import jax
import numpy as np
import pytest

from mesalib import irl, mdp, stats
from mesalib.experiments import unidentifiability as U

KEY = jax.random.key(0)          # the chapter's SEED
CONFIG = U.Config().test()
CHAPTER = 3


def test_many_rewards_explain_one_policy_and_disagree_elsewhere():
    """Demonstration 1: five very different rewards explain the training behaviour; in a level with
    the goal moved they prescribe different behaviour."""
    res = U.run_rewards(KEY, CONFIG)
    assert list(res.explains) == ["goal", "corner", "zero", "shaped goal", "LP"]
    assert all(res.explains.values()), res.explains
    table = res.behaviour.set_index("reward")
    assert table.loc["goal", "reaches goal"] == 1.0
    for name in ("corner", "shaped goal"):
        assert table.loc[name, "reaches goal"] == 0.0
        assert table.loc[name, "visits corner"] == 1.0
    assert table.loc["goal", "visits corner"] == 0.0
    assert table.loc["LP", "reaches goal"] < 0.5 and table.loc["LP", "visits corner"] > 0.5
    assert table.loc["zero", "all actions optimal"] == 1.0
    assert table.loc["goal", "all actions optimal"] < 0.05


def test_parameterization_sets_the_dimension(claim):
    """The dimension table: S free directions for state-action rewards in one environment, a constant
    in two; state rewards a constant; transition rewards S·A·S − S·A + S in one environment, falling
    with more environments but levelling off at S (potential shaping) however many are added."""
    dims = U.run_dimensions(KEY, CONFIG)
    s, a = CONFIG.dimension_states, CONFIG.dimension_actions
    counts = CONFIG.dimension_counts
    assert dims.iloc[0].tolist() == [1] * len(counts)
    assert dims.iloc[1].tolist() == [s] + [1] * (len(counts) - 1)
    transition = dims.iloc[2].to_numpy()
    assert transition[0] == s * a * s - s * a + s
    assert np.all(np.diff(transition) <= 0)
    assert transition[-1] == transition[-2] == s, transition     # the floor: shaping, in every environment
    claim(chapter=CHAPTER, claim=f"transition rewards in one environment ({s} states, {a} actions): "
          "dimensions of the set of rewards that explain the behaviour", value=float(dims.iloc[2].iloc[0]),
          unit="dimensions", interval="exact (a rank)", tolerance=0)
    claim(chapter=CHAPTER, claim=f"transition rewards after {counts[-1]} random environments: dimensions left "
          f"(= S, the potential-shaping directions)", value=float(transition[-1]), unit="dimensions",
          interval="exact (a rank)", tolerance=0)


@pytest.fixture(scope="module")
def identification():
    return U.run_identification(KEY, CONFIG)


@pytest.mark.timeout(120)
def test_one_environment_leaves_shaping_two_identify_the_reward(identification, claim):
    """Demonstration 2: |S| free dimensions with one environment, 1 (a constant) with two or more;
    the reward recovered from one environment has positive regret in held-out environments, the
    one recovered from two has none."""
    res = identification.results["independent"]
    assert (res.dimension[:, 0] == CONFIG.identification.num_states).all()
    assert (res.dimension[:, 1:] == 1).all()
    one = stats.mean_ci(res.regret[:, 0])
    assert one.low > 0.03, stats.format_ci(one, 3)
    assert np.abs(res.regret[:, 1:]).max() < 1e-3
    trials = res.regret.shape[0]
    claim(chapter=CHAPTER, claim="state-action rewards: free dimensions left by one environment "
          f"({CONFIG.identification.num_states} states)", value=float(res.dimension[:, 0].mean()),
          unit="dimensions", interval=f"the same in all {trials} problems", tolerance=0)
    claim(chapter=CHAPTER, claim="regret in held-out environments of the reward recovered from one environment",
          value=float(one.mean), low=float(one.low), high=float(one.high), unit="regret",
          interval=f"95% bootstrap over {trials} random problems", tolerance=1e-3)
    claim(chapter=CHAPTER, claim="largest held-out regret of the reward recovered from two or more environments",
          value=float(np.abs(res.regret[:, 1:]).max()), unit="regret", interval=f"max over {trials} problems",
          tolerance=1e-3)


def test_similar_environments_identify_gradually(identification):
    """Environments that differ from the first in only one state remove fewer dimensions each."""
    res = identification.results["one state changed"]
    mean_dim = res.dimension.mean(0)
    assert mean_dim[0] == CONFIG.identification.num_states and mean_dim[1] > 3 and mean_dim[-1] < 2
    assert np.all(np.diff(mean_dim) <= 0)


@pytest.fixture(scope="module")
def selection():
    return U.run_selection(KEY, CONFIG)


@pytest.mark.timeout(300)
def test_committee_choice_beats_random(selection, claim):
    """Demonstration 3: choosing where our committee of feasible rewards disagrees shrinks the
    feasible set faster than choosing at random (paired over the 20 problems)."""
    sizes = selection.sizes
    final = stats.mean_ci(sizes["committee"][:, -1] - sizes["random"][:, -1])
    assert final.high < 0, stats.format_ci(final)
    claim(chapter=CHAPTER, claim="committee choice minus random choice: size of the feasible reward set after the "
          "last environment", value=float(final.mean), low=float(final.low), high=float(final.high),
          unit="relative mean coordinate width", interval=f"95% bootstrap over {sizes['committee'].shape[0]} "
          "paired problems", tolerance=1e-3)
    assert sizes["committee"][:, -1].mean() < 0.75 * sizes["random"][:, -1].mean()
    assert stats.mean_ci(sizes["committee"][:, 1:].mean(1) - sizes["random"][:, 1:].mean(1)).high < 0


@pytest.mark.timeout(300)
def test_designed_experiments_halve_the_set_and_end_smallest(selection, claim):
    """Demonstration 3: after the tournament (3 environments for 6 states) each designed lottery
    environment halves the feasible set; after the last one it is smaller than the committee's."""
    sizes = selection.sizes
    ratio = sizes["designed"][:, -1] / sizes["designed"][:, -2]
    r = stats.mean_ci(ratio)
    assert 0.4 < r.low and r.high < 0.6, stats.format_ci(r, 3)
    diff = stats.mean_ci(sizes["designed"][:, -1] - sizes["committee"][:, -1])
    assert diff.high < 0, stats.format_ci(diff, 3)
    early = stats.mean_ci(sizes["designed"][:, 3] - sizes["committee"][:, 3])
    assert early.low > 0, stats.format_ci(early, 3)      # the tournament is slower than the committee
    n = sizes["designed"].shape[0]
    claim(chapter=CHAPTER, claim="designed experiments: feasible-set size after the last lottery environment "
          "over the size before it", value=float(r.mean), low=float(r.low), high=float(r.high), unit="ratio",
          interval=f"95% bootstrap over {n} problems", tolerance=1e-3)
    claim(chapter=CHAPTER, claim="designed minus committee choice: size of the feasible reward set after the last "
          "environment", value=float(diff.mean), low=float(diff.low), high=float(diff.high),
          unit="relative mean coordinate width", interval=f"95% bootstrap over {n} paired problems", tolerance=1e-3)


@pytest.mark.timeout(300)
def test_regret_of_the_centre_falls_for_every_strategy(selection, claim):
    """Demonstration 3's neutral measure: the held-out regret of the feasible set's Chebyshev centre
    falls from the first environment to the last, for every strategy."""
    for name in U.STRATEGIES:
        reg = selection.regret[name]
        drop = stats.mean_ci(reg[:, 0] - reg[:, -1])
        assert drop.low > 0, (name, stats.format_ci(drop, 3))
        end = stats.mean_ci(reg[:, -1])
        assert end.high < 0.05, (name, stats.format_ci(end, 3))
        claim(chapter=CHAPTER, claim=f"held-out regret of the feasible set's centre after the last environment "
              f"({name})", value=float(end.mean), low=float(end.low), high=float(end.high), unit="regret",
              interval=f"95% bootstrap over {reg.shape[0]} problems", tolerance=1e-3)
    first = stats.mean_ci(selection.regret["random"][:, 0])
    claim(chapter=CHAPTER, claim="held-out regret of the feasible set's centre after the first environment",
          value=float(first.mean), low=float(first.low), high=float(first.high), unit="regret",
          interval=f"95% bootstrap over {selection.regret['random'].shape[0]} problems", tolerance=1e-3)


@pytest.mark.timeout(120)
def test_a_misspecified_planner_fits_exactly_and_misleads(claim):
    """The planner and the reward: a myopic Boltzmann agent is fitted exactly (zero residual) by the
    far-sighted Boltzmann model, with two environments or five, yet the recovered reward has regret;
    an ε-greedy agent leaves a residual (the misfit is visible) and regret too."""
    res = U.run_planners(KEY, CONFIG)
    model, myopic, eps = U.PLANNERS
    assert res.residual[model].max() < 1e-4 and res.regret[model].max() < 1e-3
    assert res.residual[myopic].max() < 1e-4
    reg = stats.mean_ci(res.regret[myopic][:, -1])
    assert reg.low > 0.02, stats.format_ci(reg, 3)
    np.testing.assert_allclose(res.regret[myopic][:, 0], res.regret[myopic][:, -1], atol=1e-6)   # variety does not help
    assert res.residual[eps][:, -1].min() > 0.1      # with five environments the misfit always shows
    eps_reg = stats.mean_ci(res.regret[eps][:, -1])
    assert eps_reg.low > 0, stats.format_ci(eps_reg, 3)
    n = res.regret[myopic].shape[0]
    claim(chapter=CHAPTER, claim="myopic Boltzmann agent fitted by the far-sighted Boltzmann model: held-out "
          "regret of the recovered reward (5 environments, zero residual)", value=float(reg.mean),
          low=float(reg.low), high=float(reg.high), unit="regret", interval=f"95% bootstrap over {n} problems",
          tolerance=1e-3)
    claim(chapter=CHAPTER, claim="ε-greedy agent (ε = 0.1) fitted by the Boltzmann model: held-out regret of the "
          "recovered reward (5 environments)", value=float(eps_reg.mean), low=float(eps_reg.low),
          high=float(eps_reg.high), unit="regret", interval=f"95% bootstrap over {n} problems", tolerance=1e-3)


def test_chapter2_proxy_is_told_apart_by_a_few_deployment_levels(claim):
    """Tie-back: no training level at α = 0 separates the objectives; a random deployment test does
    with probability p ≈ 0.87, so two tests suffice for 95% confidence in the 5x5 room."""
    room = U.corner_room(CONFIG.corner_size)
    goal_r, corner_r = U.goal_and_corner_rewards(room)
    walker = mdp.policy_iteration64(room.transitions, goal_r, CONFIG.corner_gamma).policy
    assert irl.is_optimal(room.transitions, corner_r, CONFIG.corner_gamma, walker)
    tests = U.run_corner_tests(KEY, CONFIG)
    assert 0.8 < tests.p < 0.95
    assert tests.tests_needed == 2
    claim(chapter=CHAPTER, claim=f"{CONFIG.corner_size}x{CONFIG.corner_size} room: chance that one random "
          "deployment level tells the goal from the corner", value=float(tests.p), unit="probability",
          interval="exact (all goal positions)", tolerance=1e-4)
    claim(chapter=CHAPTER, claim="random deployment tests needed for 95% confidence of telling them apart",
          value=float(tests.tests_needed), unit="tests", interval="exact", tolerance=0)
    assert tests.per_goal.min() < 0.3 and tests.per_goal.max() == 1.0
