"""The conclusion's "what counts as an optimizer?" claims, run with the chapter's key split at the
test size (Config().test(): fewer sampled starts; the same systems, seeds and step counts)."""
import mesalib  # noqa: F401

import jax
import numpy as np
import pytest

from mesalib import optpower
from mesalib.experiments import optimizers as ex

SEED = 0
CHAPTER = 8


def keys():
    return jax.random.split(jax.random.key(SEED), 3)             # the notebook's k_measure, k_lookup, k_exercise


@pytest.fixture(scope="module")
def result():
    return ex.run(keys()[0], ex.Config().test())


def rate(result, system, measure):
    return optpower.rates(result.measures[system])[measure]


@pytest.mark.timeout(600)
def test_gradient_descent_is_an_optimizing_system_only_below_two_over_l(result, claim):
    small, large = "gradient descent, step < 2/L", "gradient descent, step > 2/L"
    m = result.measures[small]
    assert np.asarray(m.end).all() and np.asarray(m.recovered).all()        # every start, every push
    target = rate(result, small, "target")
    assert target.high < 0.02                                               # a small target ...
    assert optpower.concentration_bits(m) > 5                               # ... reached from everywhere
    basin = rate(result, large, "basin")
    assert basin.high < 0.03
    claim(chapter=CHAPTER, claim="gradient descent on a quadratic, step < 2/L: share of starts that reach the target",
          value=rate(result, small, "basin").rate, low=rate(result, small, "basin").low,
          high=rate(result, small, "basin").high, unit="share of starts", interval="95% exact over sampled starts",
          source="theory: 1 for any step below 2/L", published=1.0, tolerance=0.0)
    claim(chapter=CHAPTER, claim="gradient descent on a quadratic, step > 2/L: share of starts that reach the target",
          value=basin.rate, low=basin.low, high=basin.high, unit="share of starts",
          interval="95% exact over sampled starts", source="theory: only a sliver along the top eigenvector",
          tolerance=0.01)


@pytest.mark.timeout(600)
def test_bottle_cap_keeps_its_outcome_but_is_no_optimizer(result, claim):
    m = result.measures["bottle cap"]
    np.testing.assert_array_equal(np.asarray(m.end), np.asarray(m.start))   # basin is exactly the target
    r = optpower.rates(m)
    assert r["retention"].rate == 1.0 and r["recovery"].rate == 0.0 and r["recovery"].n > 100
    assert optpower.concentration_bits(m) == 0.0
    claim(chapter=CHAPTER, claim="bottle cap: share of spilled bottles that refill",
          value=r["recovery"].rate, low=r["recovery"].low, high=r["recovery"].high, unit="share of perturbed runs",
          interval="95% exact over perturbed runs", source="Filan (2018): a bottle cap is not an optimiser",
          published=0.0, tolerance=0.0)


@pytest.mark.timeout(600)
def test_bandit_agent_returns_to_the_best_arm_after_misleading_pulls(result, claim):
    name = "bandit agent (RL², best arm)"
    target, basin, rec = (rate(result, name, k) for k in ("target", "basin", "recovery"))
    assert rate(result, name, "displaced").rate > 0.7          # the fake pulls do mislead it
    assert rec.low > target.high                               # it comes back far more often than chance ...
    assert rec.high < basin.low                                # ... but not as often as undisturbed runs end there
    assert basin.low > 0.6
    claim(chapter=CHAPTER, claim="meta-trained bandit agent: share back on the best arm after 10 misleading pulls",
          value=rec.rate, low=rec.low, high=rec.high, unit="share of perturbed episodes",
          interval="95% exact over tasks (one trained network)", seeds=1, tolerance=0.08)


@pytest.mark.timeout(600)
def test_gridworld_agent_is_an_optimizing_system_for_the_corner_not_the_goal(result, claim):
    corner, goal = ex.GRID_NAMES["corner"], ex.GRID_NAMES["goal"]
    c_basin, c_rec = rate(result, corner, "basin"), rate(result, corner, "recovery")
    g_basin, g_rec = rate(result, goal, "basin"), rate(result, goal, "recovery")
    assert c_basin.n == ex.Config().grid_seeds                 # intervals over training seeds
    assert c_basin.low > 0.7 and c_rec.low > 0.5
    assert g_basin.high < 0.3 and g_rec.high < 0.3
    assert optpower.concentration_bits(result.measures[corner]) > optpower.concentration_bits(result.measures[goal]) + 1
    claim(chapter=CHAPTER, claim="gridworld agent (goal always in the corner in training): share back in the corner "
                                 "after being moved", value=c_rec.rate, low=c_rec.low, high=c_rec.high,
          unit="share of perturbed episodes", interval="95% t over training seeds", seeds=c_rec.n, tolerance=0.08)
    claim(chapter=CHAPTER, claim="the same agents: share back at the goal after being moved",
          value=g_rec.rate, low=g_rec.low, high=g_rec.high, unit="share of perturbed episodes",
          interval="95% t over training seeds", seeds=g_rec.n, tolerance=0.08)


@pytest.mark.timeout(300)
def test_a_lookup_table_passes_the_same_measures(result, claim):
    """What the measures miss: a table of actions, looked up by cell, scores like the trained agents."""
    table = ex.run_lookup(keys()[1], ex.Config().test())
    t_basin = optpower.rates(table.measures[ex.LOOKUP_NAMES[False]])["basin"]
    t_rec = optpower.rates(table.measures[ex.LOOKUP_NAMES[False]])["recovery"]
    agent_basin = rate(result, ex.GRID_NAMES["corner"], "basin")
    assert t_basin.low > 0.7 and t_rec.low > 0.5
    assert t_basin.low > agent_basin.low - 0.1                 # no worse than the trained agents
    claim(chapter=CHAPTER, claim="lookup table (action per cell, no search): share back in the corner after being moved",
          value=t_rec.rate, low=t_rec.low, high=t_rec.high, unit="share of perturbed episodes",
          interval="95% exact over perturbed episodes", tolerance=0.0)


@pytest.mark.parametrize("change, match", [
    (dict(gd_step_size=0.25), "gd_step_size"),
    (dict(gd_large_step_size=0.1), "gd_large_step_size"),
    (dict(bandit_network="rl2_dependent_n100"), "bandit_network"),
    (dict(bandit_perturb_at=95), "bandit_perturb_at"),
    (dict(grid_seeds=1), "grid_seeds"),
    (dict(samples=1), "samples"),
    (dict(bottle_full=0.0), "bottle_full"),
])
def test_bad_settings_are_refused_before_any_work(change, match):
    with pytest.raises(ValueError, match=match):
        ex.run(jax.random.key(0), ex.Config()._replace(**change))


@pytest.mark.timeout(600)
def test_the_lsa_update_iterated_optimizes_but_the_layer_reapplied_does_not(result, claim):
    """The update read off Chapter 4's trained layers, iterated, reaches a small target from most
    starts and recovers after a push; the layer itself, applied again to its own output, is one step
    of gradient descent and not a loop: its second application undoes the first's progress and the
    third makes the error explode."""
    name = ex.LSA_NAME
    r = optpower.rates(result.measures[name])
    seeds = ex.Config().lsa_seeds
    assert r["target"].rate < 0.02 and r["basin"].low > 0.85 and r["recovery"].low > 0.85, r
    assert optpower.concentration_bits(result.measures[name]) > 5
    for measure in ("basin", "recovery"):
        claim(chapter=CHAPTER, claim=f"the update read off a trained LSA layer, iterated: {measure}",
              value=r[measure].rate, low=r[measure].low, high=r[measure].high, unit="share",
              interval=f"95% t over {seeds} training seeds", seeds=seeds, tolerance=0.02)
    err = result.reapplied.pivot(index="seed", columns="applications", values="error")
    assert err.shape == (seeds, ex.Config().lsa_applications + 1)
    assert np.all(err[1] < 0.5 * err[0])          # one application: one GD step's worth of progress
    assert np.all(err[2] > err[1])                # a second application makes the error worse ...
    assert np.all(err[3] > 10 * err[0])           # ... and a third far worse than the start
