"""Chapter 4's headline claims, run with the chapter's own code and key split at the test size.

1. One trained linear self-attention layer reaches the best single GD step's loss d(d+1)/(N+d+1)
   = 5.238, takes a step of N/(N+d+1) = 0.476 read off its weights, responds to the query as the GD
   construction does, and tracks one GD step off distribution; two layers do better than one.
2. Linear probes decode the posterior means from Chapter 1's trained GRU better than from untrained
   GRUs or the raw input, and editing along the probe's direction moves the choice the predicted way.
3. Steering Chapter 2's goal-seeking agents (alpha = 0.2) retargets them; the corner-seekers
   (alpha = 0) do not respond, and steerability on training levels separates the two.
"""
import mesalib  # noqa: F401

import jax
import numpy as np
import pytest
import scipy.stats

from mesalib import stats
from mesalib.experiments import interpretability as ex

SEED = 0
CHAPTER = 4


@pytest.fixture(scope="module")
def keys():
    k_lsa, k_shift, k_deep, k_gru, k_agents = jax.random.split(jax.random.key(SEED), 5)  # as in the chapter
    return {"lsa": k_lsa, "shift": k_shift, "deep": k_deep, "gru": k_gru, "agents": k_agents}


def t_interval(x, level=0.99):
    x = np.asarray(x, np.float64)
    half = scipy.stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return x.mean() - half, x.mean() + half


@pytest.fixture(scope="module")
def lsa(keys):
    return ex.run_lsa(keys["lsa"], ex.LSAConfig().test())


@pytest.mark.timeout(600)
def test_one_layer_reaches_the_one_step_gd_optimum_and_reads_as_gd(lsa, claim):
    theory = ex.gd_theory(10, 10)
    seeds = len(lsa.step)
    for what, values, published, tol in (("test loss", lsa.test_loss, theory["loss"], 0.05),
                                         ("step size read off the weights", lsa.step, theory["step"], 0.005)):
        ci = stats.mean_ci(values, method="t")
        claim(chapter=CHAPTER, claim=f"one linear self-attention layer (d = 10, N = 10): {what}",
              value=float(ci.mean), low=float(ci.low), high=float(ci.high), unit="",
              interval=f"95% t over {seeds} training seeds", seeds=seeds, published=float(published),
              source="the best single gradient-descent step, in closed form (von Oswald et al. 2023; "
                     "Ahn et al. 2023)", tolerance=tol)
    assert abs(theory["loss"] - 5.238) < 1e-3 and abs(theory["step"] - 0.476) < 1e-3
    assert np.all(np.abs(lsa.test_loss / theory["loss"] - 1) < 0.03), lsa.test_loss
    assert abs(lsa.gd_loss / theory["loss"] - 1) < 0.03     # the test set itself is typical
    low, high = t_interval(lsa.step)
    assert low < theory["step"] + 0.01 and high > theory["step"] - 0.01, (low, high)
    assert np.all(np.abs(lsa.step - theory["step"]) < 0.02), lsa.step
    assert np.all(lsa.grad_cosine > 0.99), lsa.grad_cosine
    assert np.all(lsa.off_kq < 0.02) and np.all(lsa.off_value < 0.02), (lsa.off_kq, lsa.off_value)


@pytest.mark.timeout(600)
def test_off_distribution_it_behaves_as_one_gd_step(keys, lsa):
    table = ex.shift_table(keys["shift"], lsa, tasks=2048)
    wide = table.pivot(index="condition", columns="model", values="mean")
    ratio = wide["trained LSA"] / wide["one GD step (size read off)"]
    assert np.all(np.abs(ratio - 1) < 0.05), ratio
    # where one GD step is worse than least squares, so is the layer (noise-free, N > d) ...
    assert wide.loc["N = 40 pairs", "trained LSA"] > 10 * max(wide.loc["N = 40 pairs", "least squares"], 1e-3)
    # ... and where least squares interpolates noise (N = d), the layer is far better
    assert wide.loc["noise sd 1", "trained LSA"] < 0.1 * wide.loc["noise sd 1", "least squares"]


@pytest.mark.timeout(900)
def test_two_layers_beat_the_best_single_step(keys):
    deep = ex.run_lsa(keys["deep"], ex.LSAConfig().deeper().test())
    # seeds differ a lot (some stall near 4.7), but every one beats the best single step
    assert np.all(deep.test_loss < 0.95 * ex.gd_theory(10, 10)["loss"]), deep.test_loss


@pytest.fixture(scope="module")
def gru(keys):
    return ex.run_gru_probes(keys["gru"], ex.ProbeConfig().test())


@pytest.mark.timeout(600)
def test_probe_decodes_the_posterior_better_than_the_controls(gru, claim):
    table = ex.probe_table(gru).set_index("features")
    trained, untrained, raw = (table.loc[k] for k in ("trained GRU", "untrained GRU", "raw input"))
    for name, row in (("trained GRU", trained), ("untrained GRU", untrained), ("raw input", raw)):
        n = int(row["n"])
        claim(chapter=CHAPTER, claim=f"linear probe R² for the posterior means, from the {name}",
              value=float(row["mean"]), low=float(row["low"]) if n > 1 else None,
              high=float(row["high"]) if n > 1 else None, unit="R² (held out, mean over arms)",
              interval=f"95% bootstrap over {n} networks" if n > 1 else "one network, no interval",
              seeds=n, tolerance=0.02)
    assert trained["mean"] > 0.85, trained
    assert trained["mean"] > untrained["high"] + 0.1, (trained, untrained)
    assert trained["mean"] > raw["mean"] + 0.2, (trained, raw)
    per_arm = gru.r2.query("target == 'posterior mean'").pivot_table(index="arm", columns="network", values="r2")
    untrained_best = per_arm.filter(like="untrained").max(axis=1)
    assert np.all(per_arm["trained GRU"] > untrained_best), per_arm


@pytest.mark.timeout(600)
def test_editing_the_decoded_posterior_moves_the_choice_the_predicted_way(gru):
    e = gru.edits
    probe = e[e.direction == "probe"]
    assert np.all(probe[probe.delta > 0]["low"] > 0), probe
    assert np.all(probe[probe.delta < 0]["high"] < 0), probe
    # a random direction of the same length moves the log-odds far less
    for delta in gru.config.deltas:
        p = probe[probe.delta == delta]["mean"].abs().mean()
        r = e[(e.direction == "random") & (e.delta == delta)]["mean"].abs().mean()
        assert p > 5 * r, (delta, p, r)
    assert gru.swap["probe"] > gru.swap["random"] + 0.03, gru.swap


@pytest.fixture(scope="module")
def agents(keys):
    return ex.run_agents(keys["agents"], ex.AgentConfig().test())


@pytest.mark.timeout(900)
def test_steering_retargets_goal_seekers_and_not_corner_seekers(agents, claim):
    c = agents.config
    i0, i1 = c.coefs.index(0.0), c.coefs.index(1.0)
    rise = agents.visits_target[:, :, i1].mean(-1) - agents.visits_target[:, :, i0].mean(-1)   # (alpha, seed)
    zero, large = c.alphas.index(0.0), c.alphas.index(0.2)
    for alpha, i in ((0.0, zero), (0.2, large)):
        ci = stats.mean_ci(rise[i], method="t")
        claim(chapter=CHAPTER, claim=f"alpha = {alpha}: rise in the share of episodes that visit the steered-to "
              "cell when the goal direction is added", value=float(ci.mean), low=float(ci.low), high=float(ci.high),
              unit="share", interval=f"95% t over {rise.shape[1]} training seeds", seeds=int(rise.shape[1]),
              tolerance=0.02)
    low, _ = t_interval(rise[large])
    assert low > 0.3, rise[large]
    assert np.all(np.abs(rise[zero]) < 0.1), rise[zero]
    # steering costs the goal-seekers their real goal
    goal = agents.reached_goal.mean(-1)
    assert np.all(goal[large, :, i1] < goal[large, :, i0] - 0.2), goal[large]


@pytest.mark.timeout(900)
def test_steerability_on_training_levels_selects_the_goal_seekers(agents):
    c = agents.config
    accepted = agents.steerability >= c.accept_threshold
    assert accepted[c.alphas.index(0.2)].all() and not accepted[c.alphas.index(0.0)].any(), agents.steerability
    table = ex.selection_table(agents).set_index("agents")
    assert table.loc["all agents", "goal rate, accepted"] > table.loc["all agents", "goal rate, rejected"] + 0.4


def test_configs_reject_bad_settings_naming_the_parameter():
    with pytest.raises(ValueError, match="seeds"):
        ex.run_lsa(jax.random.key(0), ex.LSAConfig(seeds=1))
    with pytest.raises(ValueError, match="lr"):
        ex.LSAConfig(lr=0.0).check()
    with pytest.raises(ValueError, match="network"):
        ex.ProbeConfig(network="nope").check()
    with pytest.raises(ValueError, match="deltas"):
        ex.ProbeConfig(deltas=(0.1, float("nan"))).check()
    with pytest.raises(ValueError, match="coefs"):
        ex.AgentConfig(coefs=(0.5, 2.0)).check()
    with pytest.raises(ValueError, match="alphas"):
        ex.AgentConfig(alphas=(1.5,)).check()
    with pytest.raises(ValueError, match="key"):
        ex.run_gru_probes(0)
    with pytest.raises(ValueError, match="context"):
        ex.gd_theory(10, 0)


def test_probe_observations_follow_the_gridworld_observation():
    from mesalib import gridworld
    import jax.numpy as jnp
    room = np.asarray(gridworld.open_room(7, 7))
    obs, goals = ex.goal_probe_data(room, gridworld.top_right(7, 7))
    assert obs.shape == (24 * 24, 7, 7, 3)
    for i in (0, 100, 575):
        agent = np.argwhere(np.asarray(obs[i, ..., 1]))[0]
        level = gridworld.make_params(room, goals[i].astype(int), agent)
        want = gridworld.observe(gridworld.EnvState(jnp.asarray(agent, jnp.int32), jnp.int32(0)), level)
        np.testing.assert_array_equal(np.asarray(obs[i]), np.asarray(want))
