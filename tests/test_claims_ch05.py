"""Chapter 5's headline claims, checked on the chapter's own sections (mesalib.experiments.
verification) with the chapter's key, at the test size ``Config().test()`` (the ladder at its two
largest radii, 0.2 and 0.3; everything else as in the book)."""
import mesalib  # noqa: F401
import re

import jax
import numpy as np
import pytest

from mesalib import datasets, train
from mesalib.experiments import verification as chapter

KEY = jax.random.key(0)          # the chapter's SEED
CONFIG = chapter.Config().test()
CHAPTER = 5


# --------------------------------------------------------------------------------------------- Demonstration 1

@pytest.fixture(scope="module")
def network():
    return chapter.run_network(KEY, CONFIG)


@pytest.fixture(scope="module")
def ladder(network):
    return chapter.run_ladder(KEY, network, CONFIG)


def test_the_network_fits_two_moons(network, claim):
    accuracy = (network.predicted == network.y_test).mean()
    assert accuracy >= 0.95
    claim(chapter=CHAPTER, claim="test accuracy of the two-moons network", value=float(accuracy), unit="share",
          interval=f"{len(network.y_test)} test points, one network", seeds=1, tolerance=0.01)


def test_one_point_asked_four_ways_only_the_exact_method_decides(network):
    four = chapter.run_four_ways(KEY, network, CONFIG).set_index("method")
    assert list(four["status"]) == ["unknown", "unknown", "unknown", "verified"]
    assert four.loc["ibp", "margin"] < four.loc["crown", "margin"] < 0 < four.loc["milp", "margin"]


@pytest.mark.timeout(600)
def test_the_ladder_order_holds_point_by_point(ladder):
    checks = chapter.ladder_checks(ladder.points)
    assert checks["certified by a bound method but not by the exact method"] == 0   # soundness of the bounds
    assert checks["certified exactly but falsified by PGD"] == 0                     # PGD's counterexamples are real
    assert checks["points the MILP left undecided"] == 0


def test_crown_certifies_far_more_than_ibp_and_the_exact_method_more_than_crown(ladder, claim):
    s = ladder.summary.set_index(["eps", "method"])
    for eps in CONFIG.ladder.eps_grid:
        for method in ("IBP", "CROWN", "CROWN ∩ IBP", "exact (MILP)"):
            row = s.loc[(eps, method)]
            claim(chapter=CHAPTER, claim=f"eps = {eps}: share of test points certified by {method}",
                  value=float(row["fraction"]), low=float(row["low"]), high=float(row["high"]), unit="share",
                  interval=f"95% Wilson over {int(row['n'])} test points, one network", seeds=1, tolerance=0.01)
        # measured, not a theorem: the Wilson intervals over the test points do not overlap
        assert s.loc[(eps, "CROWN"), "low"] > s.loc[(eps, "IBP"), "high"], eps
    points = ladder.points
    exact = points["exact"] == "verified"
    assert (exact & ~points["crown"]).sum() >= 3   # points only the exact method certifies


@pytest.mark.timeout(600)
def test_over_five_more_networks_the_order_holds_and_ibp_moves_most(network, claim):
    seeds = chapter.run_seed_ladder(KEY, network, CONFIG)
    per, s = seeds.per_network, seeds.summary.set_index(["eps", "method"])
    assert (per["order violations"] == 0).all() and len(per) == 2 * CONFIG.ladder.seed_networks
    for (eps, method), row in s.iterrows():
        claim(chapter=CHAPTER, claim=f"five networks, eps = {eps}: mean share certified by {method}",
              value=row["mean"], low=row["low"], high=row["high"], unit="share",
              interval=f"95% t over {int(row['networks'])} networks (min {row['min']:.2f}, max {row['max']:.2f})",
              seeds=int(row["networks"]), tolerance=0.01)
    at3 = per[per["eps"] == 0.3]
    claim(chapter=CHAPTER, claim="five networks, eps = 0.3: networks where PGD missed a real counterexample",
          value=float((at3["PGD missed"] > 0).sum()), unit="networks", interval="count of 5", seeds=5, tolerance=0)
    spread = lambda m: s.loc[(0.3, m), "max"] - s.loc[(0.3, m), "min"]  # noqa: E731
    assert s.loc[(0.3, "IBP"), "max"] < 0.21 and spread("IBP") > 0.1     # the chapter's network is lucky for IBP
    assert (at3["CROWN"] > at3["IBP"] + 0.4).all()                        # but the gap is typical


def test_pure_crown_is_usually_but_not_always_tighter_than_ibp(ladder, claim):
    table = chapter.crown_vs_ibp(ladder.points).set_index("eps")
    for eps, row in table.iterrows():
        for col in ("CROWN's bound tighter", "IBP's bound tighter", "IBP certifies, CROWN not"):
            claim(chapter=CHAPTER, claim=f"eps = {eps}: points where {col}", value=float(row[col]), unit="points",
                  interval=f"count of {int(row['points'])} test points, one network", seeds=1, tolerance=0)
        assert row["CROWN's bound tighter"] >= 0.95 * row["points"]
    assert table["IBP's bound tighter"].sum() >= 1       # not a theorem: IBP wins somewhere
    points = ladder.points
    assert (points["crown_ibp"] >= points["ibp"]).all()   # CROWN ∩ IBP never loses a point IBP certifies


@pytest.mark.timeout(600)
def test_ibp_training_makes_ibp_certify_and_pure_crown_falls_behind(network, ladder, claim):
    certified = chapter.run_certified(KEY, network, CONFIG)
    assert certified.accuracy >= 0.95
    claim(chapter=CHAPTER, claim="test accuracy of the IBP-trained network", value=certified.accuracy, unit="share",
          interval=f"{len(network.y_test)} test points, one network", seeds=1, tolerance=0.01)
    checks = chapter.ladder_checks(certified.ladder.points)
    assert checks["certified by a bound method but not by the exact method"] == 0
    assert checks["certified exactly but falsified by PGD"] == 0
    s, base = certified.ladder.summary.set_index(["eps", "method"]), ladder.summary.set_index(["eps", "method"])
    for method in ("IBP", "CROWN", "exact (MILP)"):
        row = s.loc[(0.3, method)]
        claim(chapter=CHAPTER, claim=f"IBP-trained, eps = 0.3: share certified by {method}", value=float(row["fraction"]),
              low=float(row["low"]), high=float(row["high"]), unit="share",
              interval=f"95% Wilson over {int(row['n'])} test points, one network", seeds=1, tolerance=0.01)
    assert s.loc[(0.3, "IBP"), "low"] > base.loc[(0.3, "IBP"), "high"]      # IBP training makes IBP certify
    assert s.loc[(0.3, "CROWN"), "high"] < s.loc[(0.3, "IBP"), "low"]       # and pure CROWN is now looser


@pytest.mark.timeout(600)
def test_z3_in_exact_arithmetic_agrees_with_the_milp(network, claim):
    check = chapter.run_z3_crosscheck(KEY, network, CONFIG)
    agree = int((check["milp"] == check["z3"]).sum())
    claim(chapter=CHAPTER, claim="points where the MILP and z3 agree (every 10th test point, eps = 0.3)",
          value=float(agree), unit="points", interval=f"count of {len(check)} points, one network", seeds=1, tolerance=0)
    assert agree == len(check) == 10
    assert set(check["z3"]) == {"verified", "falsified"}


@pytest.mark.timeout(600)
def test_the_status_map_has_a_falsified_band_an_exact_only_rim_and_no_unknown_cell(network):
    counts = chapter.run_grid(KEY, network, CONFIG)["status"].value_counts()
    assert "unknown" not in counts
    assert counts["certified by CROWN"] > counts["falsified by PGD"] > counts["certified by exact only"] > 0


# --------------------------------------------------------------------------------------------- Demonstrations 2 and 3

@pytest.fixture(scope="module")
def policy():
    return chapter.run_policy(KEY, CONFIG)


def test_the_policy_is_optimal_and_never_steps_into_an_adjacent_hazard(policy):
    assert chapter.optimal_fraction(policy) >= 0.99
    table = chapter.hazard_table(policy)
    assert (table["observations"] == 47).all() and (table["steps into it"] == 0).all()


def _possible(goal, hazard) -> bool:
    """Whether a goal offset can occur in an observation: whole numbers, not the agent's or hazard's cell."""
    goal = np.asarray(goal, np.float64)
    return bool(np.all(goal == np.round(goal)) and np.any(goal != 0) and np.any(goal != hazard))


@pytest.mark.timeout(600)
def test_the_whole_box_is_refuted_only_by_inputs_that_cannot_occur(policy):
    table = chapter.whole_box_checks(policy, CONFIG)
    assert set(table["never steps into it"]) == {"verified", "falsified"}
    assert (table["never steps into it"] == "falsified").sum() >= 2
    for hazard, goal in zip(table["hazard"], table["counterexample goal offset"]):
        if goal is not None:
            assert not _possible(goal, datasets.MOVES[datasets.ACTIONS.index(hazard)]), (hazard, goal)


@pytest.mark.timeout(600)
def test_under_observation_noise_the_verifier_decides_every_box(policy, claim):
    noise = chapter.run_noise(KEY, policy, CONFIG)
    t = noise.table
    for delta in (0.1, 0.25):
        for status in ("verified", "falsified"):
            claim(chapter=CHAPTER, claim=f"noise delta = {delta}: boxes {status} (of 188 observation-hazard pairs)",
                  value=float(t[t["δ"] == delta][status].sum()), unit="boxes", interval="count, one policy",
                  seeds=1, tolerance=0)
    assert (t["unknown"] == 0).all()
    small, large = t[t["δ"] == 0.1], t[t["δ"] == 0.25]
    assert small["verified"].sum() >= 0.95 * 188                                      # "185 of the 188"
    assert large["falsified"].sum() >= 20 and large["verified"].sum() >= 0.7 * 188    # "fails around 34"
    for (delta, hazard), res in noise.results.items():
        a = datasets.ACTIONS.index(hazard)
        obs = noise.observations[hazard]
        for i in np.flatnonzero(res["status"] == "falsified"):
            cex = res["counterexample"].iloc[i]
            assert np.all(np.abs(cex - obs[i]) <= delta + 1e-9)
            assert train.predict(policy.params, cex[None])[0] == a   # it really steps into the hazard


def test_closed_loop_is_safe_on_every_start_but_does_not_always_reach_the_goal(policy, claim):
    loop = chapter.run_closed_loop(policy)
    row = loop.table.iloc[0]
    for col in ("reached", "entered the hazard", "timed out", "reached by a shortest path"):
        claim(chapter=CHAPTER, claim=f"closed loop, 2256 starts: {col}", value=float(row[col]), unit="starts",
              interval="count, every start, one policy", seeds=1, tolerance=0)
    assert row["starts"] == 2256 and row["entered the hazard"] == 0 and row["timed out"] > 0
    stuck = loop.outcome == "timed out"
    assert policy.optimal[stuck, policy.action[stuck]].all()     # every stuck start began optimally


@pytest.mark.timeout(600)
def test_closed_loop_under_noise_can_enter_the_hazard_from_a_few_starts(policy, claim):
    row = chapter.run_closed_loop_noise(KEY, policy, CONFIG, delta=0.1, horizon=12).iloc[0]
    for col in ("can enter the hazard", "goal sure within horizon", "states reached"):
        claim(chapter=CHAPTER, claim=f"closed loop, noise 0.1, 12 steps: {col}", value=float(row[col]), unit="starts"
              if col != "states reached" else "states", interval="count, every start, one policy", seeds=1, tolerance=0)
    reached = (chapter.run_closed_loop(policy).outcome == "reached").sum()
    assert 0 < row["can enter the hazard"] < 0.05 * row["starts"]
    assert row["goal sure within horizon"] <= reached          # noise can only remove guarantees


@pytest.mark.timeout(600)
def test_z3_decides_a_proposition_about_each_hidden_unit(policy, claim):
    units = chapter.run_activations(KEY, policy, CONFIG)
    counts = units["never fires"].value_counts()
    for status in ("verified", "falsified"):
        claim(chapter=CHAPTER, claim=f"layer-2 units whose 'never fires' is {status} (delta = 0.25, hazard right)",
              value=float(counts.get(status, 0)), unit="units", interval="count of 16 units, one policy", seeds=1,
              tolerance=0)
    assert counts.get("unknown", 0) == 0 and counts["verified"] > 0 and counts["falsified"] > 0
    fired = units[units["never fires"] == "falsified"]
    assert (fired["activation at the witness"] > 0).all()     # each witness really makes its unit fire


@pytest.mark.timeout(600)
def test_no_linear_probe_of_layer_2_reads_the_goal_on_every_box(policy, claim):
    synthesis = chapter.run_probe_synthesis(KEY, policy, CONFIG)
    h = synthesis.history
    claim(chapter=CHAPTER, claim="counterexample-guided probe search: rounds to decide", value=float(len(h)),
          unit="rounds", interval="count, one policy", seeds=1, tolerance=0)
    claim(chapter=CHAPTER, claim="counterexample-guided probe search: best probe's worst error on the final set",
          value=float(h["worst error on them"].iloc[-1]), unit="steps", interval="LP optimum, one policy", seeds=1,
          tolerance=0.01)
    assert synthesis.status == "refuted"
    assert h["worst error on them"].iloc[0] < 0.5 < h["worst error on them"].iloc[-1]


@pytest.mark.timeout(600)
def test_the_candidates_are_stated_and_decided(policy):
    table = chapter.run_candidates(KEY, policy, CONFIG)
    invariance, region, probe, baseline = table["result"]
    assert region == "verified"                 # heads up or right for goals up and to the right
    assert invariance == "falsified"            # the hazard behind the agent changes the action ...
    up, right = datasets.ACTIONS.index("up"), datasets.ACTIONS.index("right")
    behind = (policy.obs[:, 0] <= -1) & np.all(policy.obs[:, 2:] == [2, 1], axis=1)
    assert np.all(policy.optimal[behind][:, [up, right]])                 # ... between two optimal actions
    assert set(policy.action[behind]) == {up, right}
    verified, boxes = map(int, re.fullmatch(r"verified in (\d+) of (\d+) boxes", probe).groups())
    assert boxes == 47 and 0 < verified < boxes  # the probe holds around only some observations
    exact, n = map(int, re.fullmatch(r"within 0.5 at (\d+) of (\d+) observations", baseline).groups())
    assert n == 47 and verified <= exact          # noise can only lose boxes the baseline had
