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
    in two; state rewards a constant; transition rewards S·A·S − S·A + S in one environment."""
    dims = U.run_dimensions(KEY, CONFIG)
    s, a = CONFIG.dimension_states, CONFIG.dimension_actions
    assert dims.iloc[0].tolist() == [1, 1, 1]
    assert dims.iloc[1].tolist() == [s, 1, 1]
    assert dims.iloc[2].iloc[0] == s * a * s - s * a + s
    assert np.all(np.diff(dims.iloc[2].to_numpy()) < 0)
    claim(chapter=CHAPTER, claim=f"transition rewards in one environment ({s} states, {a} actions): "
          "dimensions of the set of rewards that explain the behaviour", value=float(dims.iloc[2].iloc[0]),
          unit="dimensions", interval="exact (a rank)", tolerance=0)


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


@pytest.mark.timeout(300)
def test_greedy_environment_choice_beats_random(claim):
    """Demonstration 3: choosing where the committee of feasible rewards disagrees shrinks the
    feasible set faster than choosing at random (paired over the 20 problems)."""
    sizes = U.run_selection(KEY, CONFIG).sizes
    final = stats.mean_ci(sizes["greedy"][:, -1] - sizes["random"][:, -1])
    assert final.high < 0, stats.format_ci(final)
    claim(chapter=CHAPTER, claim="committee choice minus random choice: size of the feasible reward set after the "
          "last environment", value=float(final.mean), low=float(final.low), high=float(final.high),
          unit="size (sum of coordinate widths)", interval=f"95% bootstrap over {sizes['greedy'].shape[0]} "
          "paired problems", tolerance=1e-3)
    assert sizes["greedy"][:, -1].mean() < 0.75 * sizes["random"][:, -1].mean()
    assert stats.mean_ci(sizes["greedy"][:, 1:].mean(1) - sizes["random"][:, 1:].mean(1)).high < 0


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
    assert np.nanmin(tests.per_goal) < 0.3 and np.nanmax(tests.per_goal) == 1.0
