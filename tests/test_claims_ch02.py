"""Chapter 2's headline claims, on the chapter's own experiment (mesalib.experiments.robustness)
with the chapter's key, at the test size ``Config().test()`` (alpha 0 and 0.2, 8 seeds each).

Trained with the goal always in the corner (alpha = 0), PPO agents deployed on levels whose goal
is elsewhere mostly walk to the corner, on shortest paths; trained with the goal moved in 20% of
episodes, they mostly reach the goal. The Boltzmann-rational fit names the corner as the
behavioural objective for alpha = 0 and the goal for alpha = 0.2.
"""
import mesalib  # noqa: F401

import jax
import numpy as np
import pytest

from mesalib import gridworld as g
from mesalib import stats
from mesalib.experiments import robustness

CONFIG = robustness.Config().test()
CHAPTER = 2


@pytest.fixture(scope="module")
def result():
    return robustness.run(jax.random.key(0), CONFIG)


@pytest.mark.timeout(600)
def test_alpha_zero_misgeneralizes_and_alpha_large_does_not(result, claim):
    m = result.sweep.metrics
    goal = m.reached_goal.mean(-1)            # (alpha, seed)
    ends_corner = m.ends_in_corner.mean(-1)
    for i, alpha in enumerate(CONFIG.alphas):
        for name, rate in (("reach the goal", goal[i]), ("end in the corner", ends_corner[i])):
            s = stats.mean_ci(rate, method="t")
            claim(chapter=CHAPTER, claim=f"alpha = {alpha}: share of deployment episodes in which agents {name}",
                  value=float(s.mean), low=float(s.low), high=float(s.high), unit="share",
                  interval=f"95% t over {CONFIG.seeds} training seeds", seeds=CONFIG.seeds, tolerance=0.02)
    # the means with margins, and every seed with a looser bound (seeds spread by ~0.03-0.05)
    assert ends_corner[0].mean() >= 0.8 and np.all(ends_corner[0] >= 0.7), ends_corner[0]
    assert goal[0].mean() <= 0.2 and np.all(goal[0] <= 0.3), goal[0]
    assert goal[1].mean() >= 0.85 and np.all(goal[1] >= 0.7), goal[1]
    assert np.all(ends_corner[1] <= 0.1), ends_corner[1]
    # both kinds of agent were competent at training time
    final_return = result.sweep.train_metrics["return"][-5:].mean(0)
    assert np.all(final_return >= 0.9), final_return


def test_alpha_zero_agent_is_competent_not_random(result):
    trained = g.path_efficiency(jax.tree_util.tree_map(lambda x: x[0], result.sweep.metrics))
    assert trained["reached"] >= 0.7
    assert trained["steps_over_shortest"] <= 1.1
    base = g.path_efficiency(result.baseline)
    assert base["reached"] <= trained["reached"] - 0.3
    assert base["steps_over_shortest"] >= 1.5


def test_behavioural_objective_is_the_corner_at_alpha_zero_and_the_goal_at_alpha_large(result):
    best = result.fit.best()                  # (alpha, seed)
    assert np.all(best[0] == "corner"), best[0]
    assert np.all(best[1] == "goal"), best[1]
    w = result.fit.best_weight()
    assert np.all(w[0] <= 0.2) and w[1].mean() >= 0.7 and np.all(w[1] >= 0.5), w
