"""Chapter 1's headline claims, checked by running the real code at sizes that still show them."""
import jax
import numpy as np
import pytest

from mesalib import bandits, pretrained, rl2, stats

DUAN_RL2 = {(100, 5): 78.7, (100, 10): 83.5}   # Duan et al. (2016), Table 1
CHAPTER = 1


def paired_diff(a, b):
    return stats.mean_ci(np.asarray(a, np.float64) - np.asarray(b, np.float64), method="normal")


@pytest.fixture(scope="module")
def net_100_5():
    return pretrained.load("rl2_n100_k5")[0]


@pytest.mark.timeout(600)
def test_meta_trained_gru_beats_thompson_on_10_pulls_5_arms(claim):
    # The chapter's own networks: three seeds from the chapter's key (SEED = 0, fourth split).
    k_train = jax.random.split(jax.random.key(0), 6)[2]
    result = rl2.train_seeds(jax.random.split(k_train, 3), rl2.Config(), progress=False)
    probs = bandits.sample_tasks(jax.random.key(12), 10000, 5)
    gru = np.mean([np.asarray(rl2.evaluate(rl2.seed_slice(result.params, i), jax.random.key(13 + i), probs, 10)
                              .rewards.sum(1)) for i in range(3)], axis=0)
    ts = bandits.run(jax.random.key(14), "Thompson", probs, 10).rewards.sum(1)
    d = paired_diff(gru, ts)
    assert d.low > 0.4, f"GRU - Thompson = {stats.format_ci(d)}"
    ours = stats.mean_ci(gru, method="normal")   # consistent with "within 2% of Duan et al.'s 6.7"
    assert float(ours.mean) > 0.97 * 6.7 and float(ours.high) > 0.98 * 6.7, stats.format_ci(ours)
    claim(chapter=CHAPTER, claim="RL² GRU, 10 pulls of 5 arms: successes per episode (averaged over 3 training seeds)",
          value=ours.mean, low=ours.low, high=ours.high, unit="successes", interval="95% normal over 10000 tasks",
          seeds=3, published=6.7, source="Duan et al. (2016), Table 1", tolerance=0.1)
    claim(chapter=CHAPTER, claim="RL² GRU minus Thompson sampling, 10 pulls of 5 arms (paired)",
          value=d.mean, low=d.low, high=d.high, unit="successes", interval="95% normal over 10000 tasks",
          seeds=3, tolerance=0.1)


@pytest.mark.parametrize("setting", [(100, 5), (100, 10)])
def test_stored_networks_are_within_2_percent_of_duan_et_al(setting, claim):
    n, k = setting
    params, config, _, _ = pretrained.load(f"rl2_n100_k{k}")
    probs = bandits.sample_tasks(jax.random.key(20 + k), 4000, k)
    gru = rl2.evaluate(params, jax.random.key(21), probs, n).rewards.sum(1)
    ours = stats.mean_ci(np.asarray(gru), method="normal")
    assert float(ours.mean) >= 0.975 * DUAN_RL2[setting] and float(ours.high) >= 0.98 * DUAN_RL2[setting], ours
    ts = bandits.run(jax.random.key(22), "Thompson", probs, n).rewards.sum(1)
    assert paired_diff(gru, ts).low > 1.0
    claim(chapter=CHAPTER, claim=f"stored RL² network, {n} pulls of {k} arms: successes per episode",
          value=ours.mean, low=ours.low, high=ours.high, unit="successes", interval="95% normal over 4000 tasks",
          seeds=1, published=DUAN_RL2[setting], source="Duan et al. (2016), Table 1", tolerance=0.3)


def test_frozen_network_learns_within_an_episode(net_100_5, claim):
    probs = bandits.sample_tasks(jax.random.key(30), 2000, 5)
    reg = np.asarray(bandits.regret(rl2.evaluate(net_100_5, jax.random.key(31), probs, 100), probs)).mean(0)
    early, late = reg[9] / 10, (reg[-1] - reg[89]) / 10
    assert late < 0.25 * early, (early, late)
    claim(chapter=CHAPTER, claim="frozen network, 100 pulls of 5 arms: regret per pull in pulls 91-100 over pulls 1-10",
          value=late / early, unit="ratio", interval="mean over 2000 tasks", seeds=1, tolerance=0.02)


def test_falls_behind_thompson_beyond_its_training_horizon(net_100_5, claim):
    probs = bandits.sample_tasks(jax.random.key(40), 2000, 5)
    gru = bandits.regret(rl2.evaluate(net_100_5, jax.random.key(41), probs, 1000, horizon=100), probs)
    ts = bandits.regret(bandits.run(jax.random.key(42), "Thompson", probs, 1000), probs)
    assert paired_diff(gru[:, 99], ts[:, 99]).high < 0         # ahead inside the training horizon
    assert paired_diff(gru[:, -1], ts[:, -1]).low > 5.0        # well behind ten times beyond it
    for pull, d in ((100, paired_diff(gru[:, 99], ts[:, 99])), (1000, paired_diff(gru[:, -1], ts[:, -1]))):
        claim(chapter=CHAPTER, claim=f"network trained for 100 pulls minus Thompson sampling: regret after {pull} pulls",
              value=d.mean, low=d.low, high=d.high, unit="regret (paired)", interval="95% normal over 2000 tasks",
              seeds=1, tolerance=0.5)


def test_falls_behind_thompson_when_every_arm_is_good(net_100_5, claim):
    probs = 0.9 + 0.1 * bandits.sample_tasks(jax.random.key(50), 4000, 5)
    gru = bandits.regret(rl2.evaluate(net_100_5, jax.random.key(51), probs, 100), probs)[:, -1]
    ts = bandits.regret(bandits.run(jax.random.key(52), "Thompson", probs, 100), probs)[:, -1]
    d = paired_diff(gru, ts)
    assert d.low > 0
    claim(chapter=CHAPTER, claim="every arm good (p in [0.9, 1]): network minus Thompson sampling, regret after 100 pulls",
          value=d.mean, low=d.low, high=d.high, unit="regret (paired)", interval="95% normal over 4000 tasks",
          seeds=1, tolerance=0.3)


def test_stored_networks_match_their_recorded_configs():
    for name, config in pretrained.CONFIGS.items():
        params, stored, returns, meta = pretrained.load(name)
        assert stored == config, name
        assert returns.shape == (config.num_updates,)
        assert params["pi"]["w"].shape == (config.hidden, config.num_arms)


@pytest.fixture(scope="module")
def dependent_tasks():
    return bandits.sample_tasks(jax.random.key(60), 10000, 2, prior="dependent")


@pytest.fixture(scope="module")
def two_arm_nets():
    return pretrained.load("rl2_dependent_n100")[0], pretrained.load("rl2_n100_k2")[0]


def test_dependent_arm_network_beats_independent_arm_algorithms_but_not_the_bayes_optimal_rule(
        dependent_tasks, two_arm_nets, claim):
    probs = dependent_tasks
    dep_net, ind_net = two_arm_nets
    reg = lambda out: np.asarray(bandits.regret(out, probs)[:, -1])  # noqa: E731
    dep = reg(rl2.evaluate(dep_net, jax.random.key(61), probs, 100))
    ind = reg(rl2.evaluate(ind_net, jax.random.key(62), probs, 100))
    ts = reg(bandits.run(jax.random.key(63), "Thompson", probs, 100))
    gittins = reg(bandits.run(jax.random.key(64), "Gittins", probs, 100))
    best = reg(bandits.run(jax.random.key(65), bandits.dependent_greedy, probs, 100))
    assert dep.mean() < 0.6 * ts.mean()                                 # "about half of Thompson's"
    for name, other in [("Gittins", gittins), ("control network", ind)]:
        d = paired_diff(dep, other)
        assert d.high < 0, f"dependent-trained - {name} = {stats.format_ci(d)}"
    d = paired_diff(ind, ts)
    assert d.high > 0, f"the control should do no better than Thompson: {stats.format_ci(d)}"
    d = paired_diff(dep, best)
    assert d.low > 0 and d.mean < 0.4, f"'a little above the Bayes-optimal rule': {stats.format_ci(d)}"
    ours = stats.mean_ci(dep, method="normal")
    claim(chapter=CHAPTER, claim="dependent arms (p2 = 1 - p1): regret of the dependent-trained network after 100 pulls",
          value=ours.mean, low=ours.low, high=ours.high, unit="regret", interval="95% normal over 10000 tasks",
          seeds=1, tolerance=0.1)
    claim(chapter=CHAPTER, claim="dependent arms: its regret relative to Thompson sampling's",
          value=dep.mean() / ts.mean(), unit="ratio", interval="means over 10000 tasks", seeds=1, tolerance=0.05)
    claim(chapter=CHAPTER, claim="dependent arms: dependent-trained network minus the Bayes-optimal pooled rule (regret)",
          value=d.mean, low=d.low, high=d.high, unit="regret (paired)", interval="95% normal over 10000 tasks",
          seeds=1, tolerance=0.1)


def test_dependent_arm_network_follows_pooled_evidence_where_independent_rules_do_not(
        dependent_tasks, two_arm_nets, claim):
    probs = dependent_tasks[:3000]
    history = bandits.run(jax.random.key(66), "Thompson", probs, 100)
    c = bandits.evidence_conflicts(history)
    m = len(c.task)
    assert m > 1000
    follows, per_conflict = {}, {}
    for name, params in zip(["dependent-trained", "control"], two_arm_nets):
        p = np.asarray(rl2.action_probs(params, history))[c.task, c.pull]
        per_conflict[name] = p[np.arange(m), c.pooled_arm]
        follows[name] = float(per_conflict[name].mean())
    for name in ["Gittins", "Thompson", "Greedy"]:
        p = np.asarray(bandits.choice_probs(jax.random.key(67), name, c.s, c.f, c.pull, samples=200))
        follows[name] = float(p[np.arange(m), c.pooled_arm].mean())
    assert follows["Greedy"] == 0.0, follows              # by construction: it follows own records
    assert follows["dependent-trained"] > 0.7, follows    # "about three times in four"
    assert max(follows["control"], follows["Gittins"], follows["Thompson"]) < 0.5, follows  # "well under half"
    assert follows["dependent-trained"] - follows["control"] > 0.3, follows
    for name in ("dependent-trained", "control"):
        s = stats.mean_ci(per_conflict[name], method="normal")
        claim(chapter=CHAPTER, claim=f"evidence conflicts: probability that the {name} network follows the pooled evidence",
              value=s.mean, low=s.low, high=s.high, unit="probability", interval=f"95% normal over {m} conflicts",
              seeds=1, tolerance=0.03)
