"""Chapter 5's headline claims, run with the chapter's own seeds and settings."""
import mesalib  # noqa: F401
import jax
import numpy as np
import pytest

from mesalib import datasets, optpower
from mesalib import verify as V

SEED = 0
CHAPTER = 5


def _keys():
    # the notebook's split: k_train, k_test, k_fit, k_ladder, k_grid, k_policy, k_safety
    return jax.random.split(jax.random.key(SEED), 7)


@pytest.mark.timeout(120)
def test_ladder_crown_beats_ibp_and_the_ordering_holds(claim):
    k_train, k_test, k_fit, k_ladder = _keys()[:4]
    cfg = V.LadderConfig()
    x, y = datasets.two_moons(k_train, cfg.n_train, cfg.noise)
    xt, _ = datasets.two_moons(k_test, cfg.n_test, cfg.noise)
    params, _ = V.fit_mlp(k_fit, x, y, cfg.fit)
    points, _ = V.ladder(k_ladder, params, xt, V.predict(params, xt), [0.2, 0.3])
    exact = points["exact"] == "verified"
    assert set(points["exact"]) <= {"verified", "falsified"}  # the MILP decided every point
    assert not (points["ibp"] & ~exact).any() and not (points["crown"] & ~exact).any()
    assert not (exact & points["pgd_falsified"]).any()
    frac = points.groupby("eps")[["ibp", "crown"]].mean()
    # measured, not a theorem: CROWN certifies far more than IBP at the larger radii
    assert (frac["crown"] - frac["ibp"]).min() >= 0.25
    # and the exact method still certifies points that CROWN cannot
    assert (exact & ~points["crown"]).sum() >= 3
    for eps in (0.2, 0.3):
        at = points[points["eps"] == eps]
        for method, certified in (("IBP", at["ibp"]), ("CROWN", at["crown"]), ("exact (MILP)", at["exact"] == "verified")):
            r = optpower.binomial_rate(np.asarray(certified, bool))
            claim(chapter=CHAPTER, claim=f"two-moons network, eps = {eps}: share of test points certified by {method}",
                  value=r.rate, low=r.low, high=r.high, unit="share of points",
                  interval=f"95% exact over {r.n} test points", seeds=1, tolerance=0.02)


@pytest.mark.timeout(120)
def test_policy_is_safe_on_real_observations_but_not_on_every_box(claim):
    k_policy, k_safety = _keys()[5:7]
    obs, optimal = datasets.hazard_world(3)
    params, _ = V.fit_mlp(k_policy, obs, (optimal / optimal.sum(1, keepdims=True)).astype(np.float32), V.POLICY_FIT)
    pred = V.predict(params, obs)
    assert optimal[np.arange(len(obs)), pred].mean() >= 0.99
    right = datasets.ACTIONS.index("right")
    hazard_right = np.all(obs[:, :2] == datasets.MOVES[right], axis=1)
    assert not (pred[hazard_right] == right).any()  # every real observation: never into the hazard
    # over the whole box of goal offsets the exact check finds a counterexample, and it is not an
    # observation that can occur (the goal is not on an integer cell other than the agent's and hazard's)
    box = V.Box(np.array([1.0, 0.0, -3.0, -3.0]), np.array([1.0, 0.0, 3.0, 3.0]))
    r = V.verify(params, box, V.argmax_not(right, 4), "milp")
    assert r.status == "falsified"
    goal = r.counterexample[2:]
    on_grid = np.all(np.abs(goal - np.round(goal)) < 0.05)
    assert not on_grid or np.all(np.round(goal) == 0) or np.all(np.round(goal) == [1, 0])
    # small observation noise: mostly verified; larger noise: some real counterexamples
    small = V.verify_many(params, V.linf_ball(obs[hazard_right], 0.1), V.argmax_not(right, 4), key=k_safety)
    large = V.verify_many(params, V.linf_ball(obs[hazard_right], 0.25), V.argmax_not(right, 4), key=k_safety)
    assert (small["status"] == "verified").mean() >= 0.9
    assert (large["status"] == "falsified").sum() >= 5 and (large["status"] == "verified").sum() >= 20
    assert set(large["status"]) <= {"verified", "falsified"}
    for cex in large.loc[large["status"] == "falsified", "counterexample"]:
        assert V.predict(params, cex[None])[0] == right
    for eps, table, status in ((0.1, small, "verified"), (0.25, large, "falsified")):
        r = optpower.binomial_rate(np.asarray(table["status"] == status, bool))
        claim(chapter=CHAPTER, claim=f"policy, noise eps = {eps} around hazard-adjacent observations: share {status}",
              value=r.rate, low=r.low, high=r.high, unit="share of observations",
              interval=f"95% exact over {r.n} observations", seeds=1, tolerance=0.03)
