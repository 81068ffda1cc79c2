"""Chapter 1's headline claims, checked on the chapter's own experiment (mesalib.experiments.
meta_learning) with the chapter's key, at the test size ``Config().test()``."""
import jax
import numpy as np
import pytest

from mesalib import bandits, pretrained, rl2, stats
from mesalib.experiments import meta_learning as ml

KEY = jax.random.key(0)          # the chapter's SEED
CONFIG = ml.Config().test()
CHAPTER = 1


def paired_diff(a, b):
    return stats.mean_ci(np.asarray(a, np.float64) - np.asarray(b, np.float64), method="normal")


@pytest.fixture(scope="module")
def trained():
    return ml.run_training(KEY, CONFIG)


@pytest.fixture(scope="module")
def headline(trained):
    return ml.run_headline(KEY, trained, CONFIG)


def row(table, n, k, algorithm):
    r = table[(table.n == n) & (table.k == k) & (table.algorithm == algorithm)]
    assert len(r) == 1
    return r.iloc[0]


@pytest.mark.timeout(900)
def test_meta_trained_gru_beats_thompson_on_10_pulls_5_arms(headline, claim):
    probs, rollout = headline.rollouts[(10, 5)]
    gru = np.asarray(rollout.rewards.sum(1))
    ts = bandits.run(jax.random.key(14), "Thompson", probs, 10).rewards.sum(1)
    d = paired_diff(gru, ts)
    assert d.low > 0.4, f"GRU - Thompson = {stats.format_ci(d)}"
    ours = row(headline.table, 10, 5, "RL²")
    assert ours["mean"] > 0.97 * 6.7 and ours["high"] > 0.98 * 6.7, ours   # near Duan et al.'s 6.7
    claim(chapter=CHAPTER, claim="RL² GRU trained live, 10 pulls of 5 arms: successes per task (test size: one network)",
          value=ours["mean"], low=ours["low"], high=ours["high"], unit="successes",
          interval=f"95% normal over {CONFIG.eval_tasks} tasks", seeds=CONFIG.train_seeds, published=6.7,
          source="Duan et al. (2016), Table 1", tolerance=0.05)


@pytest.mark.parametrize("setting", [(100, 5), (100, 10)])
def test_stored_networks_are_within_2_percent_of_duan_et_al_but_below_it(headline, setting, claim):
    n, k = setting
    ours = row(headline.table, n, k, "RL²")
    published = ml.DUAN_2016[setting]["RL²"]
    assert ours["mean"] >= 0.975 * published and ours["high"] < published, ours   # measurably below
    claim(chapter=CHAPTER, claim=f"stored RL² network, {n} pulls of {k} arms: successes per task",
          value=ours["mean"], low=ours["low"], high=ours["high"], unit="successes",
          interval=f"95% normal over {CONFIG.eval_tasks} tasks", seeds=1, published=published,
          source="Duan et al. (2016), Table 1", tolerance=0.05)
    ts = row(headline.table, n, k, "Thompson")
    assert ours["low"] > ts["high"], (ours, ts)


def test_frozen_network_learns_within_an_episode(headline):
    probs, rollout = headline.rollouts[(100, 5)]
    reg = np.asarray(bandits.regret(rollout, probs)).mean(0)
    early, late = reg[9] / 10, (reg[-1] - reg[89]) / 10
    assert late < 0.25 * early, (early, late)


def test_falls_behind_thompson_beyond_its_training_horizon():
    shift = ml.run_shift(KEY, CONFIG)
    assert shift.difference[(ml.SCALED, 100)].high < 0                   # ahead inside the training horizon
    assert shift.difference[(ml.SCALED, CONFIG.long_pulls)].low > 5.0    # well behind ten times beyond it


def test_falls_behind_thompson_when_every_arm_is_good():
    # Exercise 3's answer: tasks where every arm is good (the chapter leaves the run to the reader).
    net = pretrained.load("rl2_n100_k5")[0]
    probs = 0.9 + 0.1 * bandits.sample_tasks(jax.random.key(50), 4000, 5)
    gru = bandits.regret(rl2.evaluate(net, jax.random.key(51), probs, 100), probs)[:, -1]
    ts = bandits.regret(bandits.run(jax.random.key(52), "Thompson", probs, 100), probs)[:, -1]
    assert paired_diff(gru, ts).low > 0


def test_stored_networks_match_their_recorded_configs():
    for name, config in pretrained.CONFIGS.items():
        params, stored, returns, meta = pretrained.load(name)
        seeds = pretrained.NUM_SEEDS[name]
        assert stored == config and meta.get("num_seeds", 1) == seeds, name
        lead = () if seeds == 1 else (seeds,)       # several training runs: a leading seed axis
        assert returns.shape == (config.num_updates,) + lead
        assert params["pi"]["w"].shape == lead + (config.hidden, config.num_arms)


@pytest.mark.timeout(900)
def test_a_skewed_task_distribution_yields_a_habit_not_a_learner(trained, claim):
    # Same settings, trained where arm 0 is always the best: the networks pull arm 0 whatever
    # happens, which is optimal on their tasks and no better than random on uniform ones.
    skewed = ml.run_skewed(KEY, trained, CONFIG)
    table = skewed.table.set_index(["network", "tasks"])
    per_seed = skewed.per_seed.set_index(["network", "tasks"])
    home = table.loc[(ml.SKEWED_NET, ml.SKEWED_TASKS)]
    away = table.loc[(ml.SKEWED_NET, ml.UNIFORM_TASKS)]
    learner = table.loc[(ml.UNIFORM_NET, ml.UNIFORM_TASKS)]
    assert home["low"] > 7.3 and home["seeds"] == 3, home                 # 10 · E[p0] = 7.5 is the optimum
    stuck = per_seed.loc[(ml.SKEWED_NET, ml.UNIFORM_TASKS), "arm-0 share, pulls 6-10, arm 0 not best"]
    assert (stuck.to_numpy(np.float64) > 0.95).all(), stuck               # no within-episode learning
    assert away["high"] < 5.3, away                                       # random play earns 5.0
    assert learner["successes"] > away["high"] + 1.0, (learner, away)
    assert learner["arm-0 share, pulls 6-10, arm 0 not best"] < 0.4, learner
    claim(chapter=CHAPTER, claim="RL² trained on skewed tasks (arm 0 always best), played on uniform tasks: "
          "successes per task of 10 pulls", value=away["successes"], low=away["low"], high=away["high"],
          unit="successes", interval="95% t over 3 training seeds", seeds=3, published=None, tolerance=0.05)
    claim(chapter=CHAPTER, claim="RL² trained on skewed tasks, on uniform tasks where arm 0 is not the best: "
          "share of pulls 6-10 still on arm 0", value=away["arm-0 share, pulls 6-10, arm 0 not best"],
          unit="share", interval="mean over 3 training seeds", seeds=3, tolerance=0.01)


@pytest.fixture(scope="module")
def dependent():
    return ml.run_dependent(KEY, CONFIG)


def test_dependent_arm_network_beats_independent_arm_algorithms_but_not_the_bayes_optimal_rule(dependent, claim):
    mean = dependent.regret.set_index("algorithm")["mean"]
    r = dependent.regret.set_index("algorithm").loc[ml.DEP_NET]
    claim(chapter=CHAPTER, claim="dependent arms: regret of the dependent-trained network after 100 pulls",
          value=r["mean"], low=r["low"], high=r["high"], unit="regret",
          interval=f"95% normal over {CONFIG.dependent_tasks} tasks", seeds=1, tolerance=0.05)
    g = dependent.differences["Gittins"]
    claim(chapter=CHAPTER, claim="dependent arms: dependent-trained network minus the Gittins index (regret)",
          value=g.mean, low=g.low, high=g.high, unit="regret (paired)",
          interval=f"95% normal over {CONFIG.dependent_tasks} tasks", seeds=1, tolerance=0.05)
    assert mean[ml.DEP_NET] < 0.6 * mean["Thompson"]                 # "about half of Thompson's"
    for other in ["Gittins", ml.IND_NET, "Thompson"]:
        d = dependent.differences[other]
        assert d.high < 0, f"dependent-trained - {other} = {stats.format_ci(d)}"
    d = dependent.differences[ml.POOLED]
    assert d.low > 0 and d.mean < 0.4, f"'a little above the Bayes-optimal rule': {stats.format_ci(d)}"
    final = {name: np.asarray(bandits.regret(out, dependent.probs)[:, -1]) for name, out in dependent.rollouts.items()}
    d = paired_diff(final[ml.IND_NET], final["Thompson"])
    assert d.high > 0, f"the control should do no better than Thompson: {stats.format_ci(d)}"


def test_dependent_arm_network_follows_pooled_evidence_where_independent_rules_do_not(dependent):
    assert dependent.situations > 1000
    follows = dependent.follows.set_index("algorithm")["follows pooled evidence"]
    assert follows[ml.DEP_NET] > 0.7, follows                      # "about three times in four"
    assert max(follows[ml.IND_NET], follows["Gittins"], follows["Thompson"]) < 0.5, follows   # "well under half"
    assert follows[ml.DEP_NET] - follows[ml.IND_NET] > 0.3, follows


def test_greedy_never_follows_pooled_evidence_in_a_conflict(dependent):
    # By construction: a conflict is where the arms' own records point the other way.
    history = bandits.run(jax.random.key(66), "Thompson", dependent.probs[:500], 100)
    c = bandits.evidence_conflicts(history)
    p = np.asarray(bandits.choice_probs(jax.random.key(67), "Greedy", c.s, c.f, c.pull, samples=20))
    assert len(c.task) > 0 and float(p[np.arange(len(c.task)), c.pooled_arm].max()) == 0.0


def test_most_of_the_gap_to_the_bayes_optimal_rule_is_policy_sampling(dependent):
    sampled = dependent.regret.set_index("algorithm").loc[ml.DEP_NET, "mean"]
    optimum = dependent.regret.set_index("algorithm").loc[ml.POOLED, "mean"]
    greedy = float(dependent.greedy[ml.DEP_NET].mean)
    assert greedy < sampled and (greedy - optimum) < 0.5 * (sampled - optimum), (sampled, greedy, optimum)


def test_pooling_beats_exploration_where_the_pooled_arm_is_the_less_pulled_one(dependent):
    split = dependent.follows_split.set_index(["algorithm", "situations"])["follows pooled evidence"]
    less = "pooled arm pulled less"
    assert split[(ml.DEP_NET, less)] > split[("Gittins", less)] + 0.1, split
    assert split[(ml.DEP_NET, less)] > split[(ml.IND_NET, less)] + 0.3, split


def test_no_visible_cost_of_specializing_on_independent_tasks(dependent):
    cross = dependent.cross.set_index(["network", "tasks"])
    assert cross.loc[(ml.DEP_NET, "independent tasks"), "low"] <= cross.loc[(ml.IND_NET, "independent tasks"), "high"]


def test_holding_the_time_input_narrows_but_does_not_close_the_long_horizon_gap(claim):
    shift = ml.run_shift(KEY, CONFIG)
    n = CONFIG.long_pulls
    scaled, clamped = shift.difference[(ml.SCALED, n)], shift.difference[(ml.CLAMPED, n)]
    for name, d in ((ml.SCALED, scaled), (ml.CLAMPED, clamped)):
        claim(chapter=CHAPTER, claim=f"{name}: minus Thompson sampling, regret after {n} pulls",
              value=d.mean, low=d.low, high=d.high, unit="regret (paired)",
              interval=f"95% normal over {CONFIG.long_tasks} tasks", seeds=1, tolerance=0.2)
    assert clamped.low > 0                         # still behind Thompson at 1000 pulls
    assert clamped.mean < scaled.mean               # but less far behind than with unseen inputs
    share = shift.table.set_index("algorithm")["best-arm share, pulls 101+"]
    assert share[ml.CLAMPED] < share["Thompson"] and share[ml.SCALED] < share["Thompson"]
