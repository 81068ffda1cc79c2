"""Chapter 7's headline claims, run with the chapter's own code, key split and the test sizes.

1. A top service with a one-step unroll learns the greedy schedule: step sizes far below the
   full-horizon optimum and a final loss many times larger (short-horizon bias).
2. A learned optimizer meta-trained on one task family beats Adam there and diverges on a shifted
   family where Adam does not (intervals over meta-training seeds).
3. Chapter 1's RL² agent beats Thompson sampling within its training horizon and falls behind it
   beyond (intervals over tasks).
4. Held-out evaluation at the true horizon catches the drifted schedules; a cheap short run does not.
   Chapter 4's probe of the RL² agent's hidden state, read within its training horizon, flags the
   shifted prior that the 100-pull regret check misses.
"""
import mesalib  # noqa: F401

import jax
import numpy as np
import pytest

from mesalib import metaopt as mo
from mesalib.experiments import cais

SEED = 0
CHAPTER = 7


def keys():
    # the chapter's split: k_horizons, k_optimizer, k_learner, k_checks
    return jax.random.split(jax.random.key(SEED), 4)


@pytest.fixture(scope="module")
def horizons():
    return cais.run_horizons(keys()[0], cais.HorizonConfig().test())


@pytest.fixture(scope="module")
def optimizer():
    return cais.run_optimizer(keys()[1], cais.OptimizerConfig().test())


@pytest.fixture(scope="module")
def learner():
    return cais.run_learner(keys()[2], cais.LearnerConfig().test())


@pytest.fixture(scope="module")
def probe(learner):
    return cais.run_probe(keys()[3], learner, cais.ProbeCheckConfig().test())


@pytest.mark.timeout(300)
def test_short_horizon_learned_rates_far_below_the_full_horizon_optimum(horizons):
    T = horizons.lrs.shape[1]
    greedy = list(horizons.horizons).index(1)
    opt, k1 = horizons.optimal_lrs, horizons.lrs[greedy]
    assert opt[T // 10 - 1] > 5 * k1[T // 10 - 1] and opt[T // 2 - 1] > 10 * k1[T // 2 - 1]
    # on geometric average over each of the first three spans (0-10%, 10-50%, 50-90% of training)
    ratios = cais.lr_ratio_table(horizons)
    assert np.all(ratios.iloc[greedy, 1:3].to_numpy(float) > 5) and ratios.iloc[greedy, 3] > 2, ratios
    assert np.all(np.abs(np.log(ratios.iloc[-1, 1:3].to_numpy(float))) < np.log(1.1)), ratios   # full ≈ optimum
    # the optimum is a float64 reference no learned schedule beats (up to float32 rounding)
    assert np.all(horizons.losses[:, -1] >= horizons.optimal_losses[-1] * (1 - 1e-3))
    assert horizons.losses[greedy, -1] > 5 * horizons.optimal_losses[-1]
    # the full-horizon top service gets within 5% of the optimum
    assert horizons.losses[-1, -1] < 1.05 * horizons.optimal_losses[-1]
    # sampled final services under the reference schedules agree with their closed forms
    closed = [horizons.greedy_losses[-1], horizons.optimal_losses[-1], horizons.constant_losses[-1]]
    se = horizons.reference_final.std(1, ddof=1) / np.sqrt(horizons.reference_final.shape[1])
    assert np.all(np.abs(horizons.reference_final.mean(1) - closed) < 4.5 * se + 1e-3 * np.asarray(closed))


@pytest.mark.timeout(300)
def test_short_horizon_bias(horizons, claim):
    h = list(horizons.horizons)
    greedy, full = h.index(1), len(h) - 1
    T = horizons.lrs.shape[1]
    final = horizons.losses[:, -1]
    assert final[greedy] > 5 * final[full], final                      # many times the full-horizon loss
    claim(chapter=CHAPTER, claim="noisy quadratic model: final loss of the K = 1 schedule over the full-horizon "
          "optimum's", value=float(final[greedy] / horizons.optimal_losses[-1]), unit="ratio",
          interval="exact (expected loss in closed form)", source="Wu et al. (2018): short-horizon bias",
          tolerance=0.05)
    assert horizons.lrs[greedy, T // 10 - 1] < horizons.lrs[full, T // 10 - 1] / 5    # step sizes far too small
    assert horizons.lrs[greedy, T // 2 - 1] < horizons.lrs[full, T // 2 - 1] / 10
    assert np.all(np.diff(final) < 0), final                           # longer horizons, lower final loss
    # the K = 1 top service found the closed-form greedy schedule over the first half of training
    np.testing.assert_allclose(horizons.lrs[greedy, : T // 2], horizons.greedy_lrs[: T // 2], rtol=0.05)
    # sampled final services agree with the closed form (4.5 standard errors)
    se = horizons.sampled_final.std(1, ddof=1) / np.sqrt(horizons.sampled_final.shape[1])
    assert np.all(np.abs(horizons.sampled_final.mean(1) - final) < 4.5 * se + 1e-3 * final)
    assert horizons.lrs[greedy].max() < horizons.greedy_lrs.max() * 1.05


@pytest.mark.timeout(300)
def test_learned_optimizer_beats_adam_in_family_and_diverges_off_it(optimizer, claim):
    t = cais.optimizer_table(optimizer).set_index("input scale")
    seeds = int(optimizer.learned.shape[0])
    for scale in (1.0, 3.0):
        claim(chapter=CHAPTER, claim=f"learned optimizer minus Adam, log10 of final over initial loss, input scale {scale:g}",
              value=float(t.loc[scale, "learned − Adam"]), low=float(t.loc[scale, "diff low"]),
              high=float(t.loc[scale, "diff high"]), unit="log10 loss ratio",
              interval=f"95% t over {seeds} meta-training seeds", seeds=seeds, tolerance=0.05)
    assert t.loc[1.0, "diff high"] < 0, t                              # better than tuned Adam where trained
    assert t.loc[3.0, "diff low"] > 1.0, t                             # far worse on the shifted family
    assert t.loc[3.0, "learned diverged"] >= 0.9 and t.loc[3.0, "Adam diverged"] == 0
    assert np.all(optimizer.adam < 0)                                  # Adam improves every task at every scale
    assert np.all(np.isfinite(optimizer.metrics["objective"]))


@pytest.mark.timeout(300)
def test_rl2_agent_beats_thompson_in_its_horizon_and_falls_behind_beyond(learner):
    t = cais.learner_table(learner)
    uniform = t[t["prior"] == "uniform (training)"]
    early, late = uniform.iloc[0], uniform.iloc[1]
    assert early["RL² − Thompson high"] < 0, early
    assert late["RL² − Thompson low"] > 0, late


@pytest.mark.timeout(300)
def test_checks_at_each_layer(horizons, optimizer, learner, probe):
    checks = cais.run_checks(horizons, optimizer, learner, probe).set_index("check")
    held_out = checks.filter(like="true horizon", axis=0).iloc[0]
    assert held_out["caught"].startswith(held_out["caught"].split(" of ")[1]) and held_out["false alarms"] == 0
    assert held_out["real failures"] != "none"
    in_horizon = checks.filter(like=f"{learner.train_pulls} pulls", axis=0).iloc[0]
    assert in_horizon["caught"].startswith("0 of")                     # the cheap check misses the drift
    # Chapter 4's probe: it reads the posterior well on held-out training episodes (as in Chapter 4),
    # and within the training horizon already flags the shifted prior, which the regret check misses
    r2 = probe.r2.set_index(["prior", "span"])["r2"]
    assert probe.fit_r2.mean() > 0.8 and r2.iloc[0] > 0.8
    short = checks.filter(like=f"probe (Chapter 4) of the hidden state for the posterior, {learner.train_pulls} pulls",
                          axis=0).iloc[0]
    shifted = [p for p in learner.probs if p != "uniform (training)"]
    assert short["flags"] == ", ".join(shifted) and short["false alarms"] == 0
    assert not shifted[0] in in_horizon["flags"]
