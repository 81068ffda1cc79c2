"""Chapter 2's headline claims, on the chapter's own experiments (mesalib.experiments.robustness)
with the chapter's key, at the test sizes ``Config().test()`` (alpha 0, 0.05 and 0.2, 8 seeds each)
and ``BudgetConfig().test()`` (alpha 0 and 0.05 at 20 and 160 PPO iterations, 6 seeds each).

Trained with the goal always in the corner (alpha = 0), PPO agents deployed on levels whose goal
is elsewhere mostly walk to the corner, on shortest paths; trained with the goal moved in 20% of
episodes, they mostly reach the goal. The Boltzmann-rational fit (over the optimal Q of each
candidate) names the corner as the behavioural objective for alpha = 0 and the goal for
alpha = 0.2. Greedy play shortens the alpha = 0.2 agents' paths; in unseen mazes the corner-seekers'
competence drops; more PPO iterations move alpha = 0.05 agents to the goal but not alpha = 0 ones;
inverse RL puts the largest reward on the corner for alpha = 0 and on the goal for alpha = 0.2.
"""
import mesalib  # noqa: F401

import jax
import numpy as np
import pytest

from mesalib import gridworld as g
from mesalib import stats, train
from mesalib.experiments import robustness

CONFIG = robustness.Config().test()
BUDGET = robustness.BudgetConfig().test()
CHAPTER = 2
T_INTERVAL = f"95% t over {CONFIG.seeds} training seeds"


@pytest.fixture(scope="module")
def result():
    return robustness.run(jax.random.key(0), CONFIG)


@pytest.fixture(scope="module")
def budget():
    return robustness.run_budget(jax.random.key(0), BUDGET)


def t_claim(claim, text, per_seed, tolerance, unit="share", seeds=CONFIG.seeds):
    s = stats.mean_ci(np.asarray(per_seed, np.float64), method="t")
    claim(chapter=CHAPTER, claim=text, value=float(s.mean), low=float(s.low), high=float(s.high), unit=unit,
          interval=f"95% t over {seeds} training seeds", seeds=seeds, tolerance=tolerance)
    return s


def per_seed_efficiency(metrics, target):
    runs = np.shape(metrics.reached_goal)[0]
    return np.array([g.path_efficiency(train.seed_slice(metrics, i), target)["steps_over_shortest"]
                     for i in range(runs)], dtype=np.float64)


def of_alpha(metrics, i):
    return jax.tree_util.tree_map(lambda x: x[i], metrics)


@pytest.mark.timeout(900)
def test_alpha_zero_misgeneralizes_and_alpha_large_does_not(result, claim):
    m = result.sweep.metrics
    goal = m.reached_goal.mean(-1)            # (alpha, seed)
    ends_corner = m.ends_in_corner.mean(-1)
    for i, alpha in enumerate(CONFIG.alphas):
        if alpha not in (0.0, 0.2):
            continue
        for name, rate in (("reach the goal", goal[i]), ("end in the corner", ends_corner[i])):
            t_claim(claim, f"alpha = {alpha}: share of deployment episodes in which agents {name}", rate, 0.02)
    # the means with margins, and every seed with a looser bound (seeds spread by ~0.03-0.05)
    assert ends_corner[0].mean() >= 0.8 and np.all(ends_corner[0] >= 0.7), ends_corner[0]
    assert goal[0].mean() <= 0.2 and np.all(goal[0] <= 0.3), goal[0]
    assert goal[-1].mean() >= 0.85 and np.all(goal[-1] >= 0.7), goal[-1]
    assert np.all(ends_corner[-1] <= 0.1), ends_corner[-1]
    # both kinds of agent were competent at training time
    final_return = result.sweep.train_metrics["return"][-5:].mean(0)
    assert np.all(final_return >= 0.9), final_return


def test_alpha_zero_agent_is_competent_not_random(result):
    trained = g.path_efficiency(of_alpha(result.sweep.metrics, 0))
    assert trained["reached"] >= 0.7
    assert trained["steps_over_shortest"] <= 1.1
    base = g.path_efficiency(result.baseline)
    assert base["reached"] <= trained["reached"] - 0.3
    assert base["steps_over_shortest"] >= 1.5


def test_every_alpha_005_agent_mixes_both_behaviours(result, claim):
    """Per seed: at alpha = 0.05 no agent is a pure goal-seeker or a pure corner-seeker."""
    i = CONFIG.alphas.index(0.05)
    goal = result.sweep.metrics.reached_goal[i].mean(-1)
    t_claim(claim, "alpha = 0.05: share of deployment episodes in which agents reach the goal", goal, 0.03)
    assert np.all((goal >= 0.15) & (goal <= 0.85)), goal
    corner = result.sweep.metrics.corner_first[i].mean(-1)
    assert np.all(corner <= 0.8), corner


def test_behavioural_objective_is_the_corner_at_alpha_zero_and_the_goal_at_alpha_large(result, claim):
    fit = result.fit
    best = fit.best()                         # (alpha, seed)
    assert np.all(best[0] == "corner"), best[0]
    assert np.all(best[-1] == "goal"), best[-1]
    w = fit.best_weight()
    assert np.all(w[0] <= 0.2) and w[-1].mean() >= 0.7 and np.all(w[-1] >= 0.5), w
    # beta = 0 (random) is a candidate, so no candidate is ever worse than chance
    assert np.all(fit.per_action() >= -1e-6)
    beta = fit.best_beta()                    # (alpha, seed, candidate)
    goal, corner = fit.names.index("goal"), fit.names.index("corner")
    assert np.all(beta[0, :, goal] == 0), beta[0, :, goal]         # the goal explains corner-seeking no better than chance
    assert np.all(beta[0, :, corner] >= 64), beta[0, :, corner]    # the corner explains it as a near-optimal walker
    assert np.all(beta[-1, :, goal] > 0), beta[-1, :, goal]
    pa = fit.per_action()
    t_claim(claim, "alpha = 0: corner candidate, log-likelihood per action above random", pa[0, :, corner], 0.03,
            unit="nats")
    t_claim(claim, "alpha = 0.2: goal candidate, log-likelihood per action above random", pa[-1, :, goal], 0.02,
            unit="nats")
    t_claim(claim, "alpha = 0.05: maximum-likelihood mixture weight on the goal", w[CONFIG.alphas.index(0.05)], 0.1,
            unit="weight")


def test_greedy_play_shortens_the_alpha_large_agents_paths(result, claim):
    sampled, greedy = of_alpha(result.sweep.metrics, -1), of_alpha(result.greedy, -1)
    eff_s, eff_g = per_seed_efficiency(sampled, "goal"), per_seed_efficiency(greedy, "goal")
    s = t_claim(claim, "alpha = 0.2, greedy actions: steps / shortest path to the goal", eff_g, 0.05, unit="ratio")
    t_claim(claim, "alpha = 0.2, sampled actions: steps / shortest path to the goal", eff_s, 0.1, unit="ratio")
    assert s.high <= 1.3 and np.all(eff_g < eff_s), (eff_g, eff_s)
    # the price: without sampling's noise some greedy agents loop and never arrive
    reach_g = greedy.reached_goal.mean(-1)
    t_claim(claim, "alpha = 0.2, greedy actions: share of deployment episodes that reach the goal", reach_g, 0.03)
    assert reach_g.mean() <= sampled.reached_goal.mean() - 0.1


def test_capability_generalizes_only_partly_to_mazes(result, claim):
    room, maze = of_alpha(result.sweep.metrics, 0), of_alpha(result.maze, 0)
    reach_room, reach_maze = room.reached_corner.mean(-1), maze.reached_corner.mean(-1)
    eff_room, eff_maze = per_seed_efficiency(room, "corner"), per_seed_efficiency(maze, "corner")
    t_claim(claim, "alpha = 0, unseen mazes: share of deployment episodes that reach the corner", reach_maze, 0.03)
    t_claim(claim, "alpha = 0, unseen mazes: steps / shortest path to the corner", eff_maze, 0.05, unit="ratio")
    assert reach_maze.mean() <= reach_room.mean() - 0.15 and eff_maze.mean() >= eff_room.mean() + 0.1
    base = g.path_efficiency(result.maze_baseline)
    assert reach_maze.mean() >= base["reached"] + 0.1 and eff_maze.mean() <= base["steps_over_shortest"] - 1


@pytest.mark.timeout(900)
def test_more_base_optimization_moves_the_flip_only_when_training_distinguishes(budget, claim):
    m = budget.metrics                         # (budget, alpha, seed, level)
    b_lo, b_hi = list(budget.budgets).index(20), list(budget.budgets).index(160)
    a0, a5 = list(budget.alphas).index(0.0), list(budget.alphas).index(0.05)
    goal, ends = m.reached_goal.mean(-1), m.ends_in_corner.mean(-1)
    for b in (b_lo, b_hi):
        for a in (a0, a5):
            t_claim(claim, f"{budget.budgets[b]} PPO iterations, alpha = {budget.alphas[a]}: share of deployment "
                           "episodes that reach the goal", goal[b, a], 0.04, seeds=BUDGET.seeds)
    assert goal[b_hi, a5].mean() >= goal[b_lo, a5].mean() + 0.3
    assert np.all(ends[:, a0] >= 0.7) and np.all(goal[:, a0] <= 0.25), (ends[:, a0], goal[:, a0])
    # both budgets already master the training levels
    assert np.all(budget.train_return >= 0.9), budget.train_return


def test_inverse_rl_puts_the_largest_reward_on_the_behavioural_target(result):
    corner = tuple(int(x) for x in result.sweep.corner)
    for i, want in ((0, corner), (-1, (5, 1))):
        frame = robustness.irl_rewards(result.sweep, i, goal=(5, 1))
        top = frame.loc[frame["reward"].idxmax()]
        assert (int(top["row"]), int(top["col"])) == want, frame
