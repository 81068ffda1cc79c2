"""Chapter 3's headline claims, run with the chapter's own code and settings."""
import mesalib  # noqa: F401  (configures XLA before the first JAX computation)

import jax
import numpy as np
import pytest

from mesalib import irl, stats

GAMMA = 0.9
CHAPTER = 3


def test_many_rewards_explain_one_policy_and_disagree_elsewhere():
    """Demonstration 1: five very different rewards explain the training behaviour; in a level with
    the goal moved they prescribe different behaviour."""
    train, new = irl.corner_room(5), irl.corner_room(5, (4, 0))
    rewards = irl.explaining_rewards(train, GAMMA)
    pi = irl.optimal_policy64(train.transitions, rewards["goal"], GAMMA)
    for name, r in rewards.items():
        assert irl.is_optimal(train.transitions, r, GAMMA, pi), name
    table = irl.behaviour_table(new, rewards, GAMMA).set_index("reward")
    assert table.loc["goal", "reaches goal"] == 1.0
    for name in ("corner", "shaped goal"):
        assert table.loc[name, "reaches goal"] == 0.0
        assert table.loc[name, "visits corner"] == 1.0
    assert table.loc["goal", "visits corner"] == 0.0
    assert table.loc["LP", "reaches goal"] < 0.5 and table.loc["LP", "visits corner"] > 0.5
    assert table.loc["zero", "all actions optimal"] == 1.0
    assert table.loc["goal", "all actions optimal"] < 0.05


@pytest.mark.timeout(60)
def test_one_environment_leaves_shaping_two_identify_the_reward(claim):
    """Demonstration 2: |S| free dimensions with one environment, 1 (a constant) with two or more;
    the reward recovered from one environment has positive regret in held-out environments, the
    one recovered from two has none."""
    cfg = irl.IdentificationConfig(num_mdps=20)
    res = irl.identification_experiment(jax.random.key(0), cfg)
    assert (res.dimension[:, 0] == cfg.num_states).all()
    assert (res.dimension[:, 1:] == 1).all()
    one = stats.mean_ci(res.regret[:, 0])
    assert one.low > 0.03
    assert np.abs(res.regret[:, 1:]).max() < 1e-3
    for envs, col in (("one environment", 0), ("two environments", 1)):
        claim(chapter=CHAPTER, claim=f"soft-optimal behaviour in {envs}: free reward directions left (state-action rewards)",
              value=res.dimension[:, col].mean(), unit="dimensions", interval=f"mean over {cfg.num_mdps} random MDPs",
              published=cfg.num_states if col == 0 else 1,
              source="Cao et al. (2021): potential shaping, |S| directions, then a constant", tolerance=0.0)
    claim(chapter=CHAPTER, claim="reward recovered from one environment: regret in held-out environments",
          value=one.mean, low=one.low, high=one.high, unit="regret", interval=f"95% bootstrap over {cfg.num_mdps} MDPs",
          tolerance=0.01)


@pytest.mark.timeout(60)
def test_similar_environments_identify_gradually():
    """Environments that differ from the first in only one state remove fewer dimensions each."""
    res = irl.identification_experiment(jax.random.key(1), irl.IdentificationConfig(num_mdps=20, changed_states=1))
    mean_dim = res.dimension.mean(0)
    assert mean_dim[0] == 10 and mean_dim[1] > 3 and mean_dim[-1] < 2
    assert np.all(np.diff(mean_dim) <= 0)


@pytest.mark.timeout(90)
def test_greedy_environment_choice_beats_random(claim):
    """Demonstration 3: choosing where the committee of feasible rewards disagrees shrinks the
    feasible set faster than choosing at random (paired over 20 problems)."""
    sizes = irl.selection_experiment(jax.random.key(0), irl.SelectionConfig())
    final = stats.mean_ci(sizes["greedy"][:, -1] - sizes["random"][:, -1])
    assert final.high < 0
    assert sizes["greedy"][:, -1].mean() < 0.75 * sizes["random"][:, -1].mean()
    assert stats.mean_ci(sizes["greedy"][:, 1:].mean(1) - sizes["random"][:, 1:].mean(1)).high < 0
    claim(chapter=CHAPTER, claim="final feasible-set size, greedy minus random choice of environments (paired)",
          value=final.mean, low=final.low, high=final.high, unit="feasible-set size",
          interval="95% bootstrap over 20 problems", tolerance=0.02)
    claim(chapter=CHAPTER, claim="final feasible-set size, greedy over random choice",
          value=sizes["greedy"][:, -1].mean() / sizes["random"][:, -1].mean(), unit="ratio",
          interval="means over 20 problems", tolerance=0.02)


def test_chapter2_proxy_is_told_apart_by_a_few_deployment_levels(claim):
    """Tie-back: no training level at α = 0 separates the objectives; a random deployment test does
    with probability p ≈ 0.87, so two tests suffice for 95% confidence in the 5x5 room."""
    train = irl.corner_room(5)
    goal_r, corner_r = irl.goal_and_corner_rewards(train)
    walker = irl.optimal_policy64(train.transitions, goal_r, 0.95)
    assert irl.is_optimal(train.transitions, corner_r, 0.95, walker)
    p, per_goal = irl.informativeness_by_goal(irl.corner_test_informativeness(5))
    assert 0.8 < p < 0.95
    assert int(np.ceil(np.log(0.05) / np.log(1 - p))) == 2
    assert np.nanmin(per_goal) < 0.3 and np.nanmax(per_goal) == 1.0
    claim(chapter=CHAPTER, claim="5x5 room: probability that a random deployment level separates the corner from the goal",
          value=p, unit="probability", interval="exact (all levels enumerated)", tolerance=1e-6)
    claim(chapter=CHAPTER, claim="deployment tests needed for 95% confidence of separating them",
          value=int(np.ceil(np.log(0.05) / np.log(1 - p))), unit="levels", interval="exact", tolerance=0.0)
