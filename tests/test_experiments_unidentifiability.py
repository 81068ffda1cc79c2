"""Unit tests for mesalib.experiments.unidentifiability: the rooms, the corner tests against a
plain loop, the configs, keys and smoke sizes (the chapter's claims are in test_claims_ch03)."""
import mesalib  # noqa: F401  (configures XLA before the first JAX computation)

import jax
import numpy as np
import pytest

from mesalib import irl, mdp
from mesalib.experiments import unidentifiability as U


def loop_informativeness(size, gamma=0.95, horizon=30):
    """Reference: every level and start cell one at a time, with dense policy iteration and rollouts."""
    out = np.full((size, size, size, size), np.nan)   # NaN: undefined (compared with the mask below)
    corner = (0, size - 1)
    train = U.corner_room(size)
    walker = mdp.policy_iteration64(train.transitions, U.goal_and_corner_rewards(train)[0], gamma).policy
    for g in [(r, c) for r in range(size) for c in range(size) if (r, c) != corner]:
        level = U.corner_room(size, g)
        q = mdp.policy_iteration64(level.transitions, U.goal_and_corner_rewards(level)[0], gamma).q
        ok = q >= q.max(1, keepdims=True) - 1e-9
        pi = np.zeros(level.transitions.shape[0], int)
        for rc, i in level.cells.items():
            pi[i] = walker[train.cells[rc]]
        for (r0, c0), s0 in level.cells.items():
            if (r0, c0) == g:
                continue
            path = mdp.rollout_states(level.transitions, pi, s0, horizon)
            before_goal = [s for s in path[:-1] if level.coords[s, 0] >= 0 and s != level.cells[g]]
            out[g + (r0, c0)] = float(any(not ok[s, pi[s]] for s in before_goal))
    return out


@pytest.mark.parametrize("size, horizon", [(2, 30), (3, 30), (4, 3), (5, 30), (6, 7)])
def test_corner_tests_match_the_plain_loop(size, horizon):
    got, want = U.corner_test_informativeness(size, 0.95, horizon), loop_informativeness(size, 0.95, horizon)
    assert isinstance(got, np.ma.MaskedArray) and got.dtype == bool
    np.testing.assert_array_equal(np.ma.getmaskarray(got), np.isnan(want))
    np.testing.assert_array_equal(got.filled(False), np.nan_to_num(want) == 1)


def test_corner_tests_small_room_and_limits():
    inf = U.corner_test_informativeness(3)
    p, per_goal = U.informativeness_by_goal(inf)
    assert np.ma.is_masked(per_goal[0, 2]) and np.ma.getmaskarray(inf[0, 2]).all()
    assert np.ma.is_masked(inf[1, 1, 1, 1])
    assert np.ma.count_masked(per_goal) == 1 and np.all(np.isfinite(per_goal.compressed()))
    assert 0.5 < p < 1.0
    with pytest.raises(ValueError, match="informative"):
        U.informativeness_by_goal(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=f"size must be <= {U.MAX_CORNER_SIZE}.*about an hour"):
        U.corner_test_informativeness(U.MAX_CORNER_SIZE + 1)
    with pytest.raises(ValueError, match="size"):
        U.corner_test_informativeness(1)
    with pytest.raises(ValueError, match="horizon"):
        U.corner_test_informativeness(3, horizon=0)


def test_tests_needed_is_the_smallest_sufficient_count():
    for p in (0.1, 0.5, 0.868, 0.99):
        for confidence in (0.5, 0.95, 0.99):
            k = U.tests_needed(p, confidence)
            assert 1 - (1 - p) ** k >= confidence > 1 - (1 - p) ** (k - 1)
    with pytest.raises(ValueError, match="confidence"):
        U.tests_needed(0.5, 1.0)


def test_corner_room_rewards_and_behaviour():
    room = U.corner_room(4)
    goal_r, corner_r = U.goal_and_corner_rewards(room)
    assert goal_r[room.success] == 1 and corner_r[room.cells[(0, 3)]] == 1 and goal_r.sum() == corner_r.sum() == 1
    pi = mdp.policy_iteration64(room.transitions, goal_r, 0.9).policy
    assert irl.is_optimal(room.transitions, corner_r, 0.9, pi)  # the two objectives agree in training
    table = U.behaviour_table(room, {"goal": goal_r}, 0.9)
    assert table.loc[0, "reaches goal"] == 1.0
    maps = U.reward_maps(room, {"goal": goal_r}, pi)
    assert len(maps) == 4 * 4 + 1 and maps["value"].sum() == 1.0
    with pytest.raises(ValueError, match="policy"):
        U.reward_maps(room, {"goal": goal_r}, pi.astype(float))
    with pytest.raises(ValueError, match="corner"):
        U.goal_and_corner_rewards(room, corner=(9, 9))


def test_config_sizes_and_checks():
    c = U.Config()
    assert c.test().identification.num_mdps == 20 and c.test().selection == c.selection
    assert c.selection.committee_mix == 0.2
    assert c.validated() == c
    with pytest.raises(ValueError, match="moved_goal"):
        c._replace(moved_goal=(0, 4)).validated()
    with pytest.raises(ValueError, match="committee_mix"):
        c._replace(selection=c.selection._replace(committee_mix=1.5)).validated()
    with pytest.raises(ValueError, match="num_mdps"):
        c._replace(identification=c.identification._replace(num_mdps=1)).validated()
    with pytest.raises(ValueError, match="size"):
        c._replace(corner_size=U.MAX_CORNER_SIZE + 1).validated()
    with pytest.raises(ValueError, match="config"):
        U.run_rewards(jax.random.key(0), c.selection)
    with pytest.raises(ValueError, match="strategy"):
        U.strategy("best")
    with pytest.raises(ValueError, match="strategy"):
        U.strategy("designed")      # builds its own environments: not a menu criterion
    with pytest.raises(ValueError, match="dimension_counts"):
        c._replace(dimension_counts=(3, 2)).validated()
    with pytest.raises(ValueError, match="planners.epsilon"):
        c._replace(planners=c.planners._replace(epsilon=0.0)).validated()


@pytest.mark.parametrize("run", [U.run_rewards, U.run_dimensions, U.run_identification, U.run_selection,
                                 U.run_planners, U.run_corner_tests])
def test_every_section_checks_its_key(run):
    with pytest.raises(ValueError, match="key"):
        run(0, U.Config())


def test_keys_are_one_split_of_the_chapter_key():
    k = U.keys(jax.random.key(0))
    data = np.asarray(jax.random.key_data(jax.random.split(jax.random.key(0), 5)))
    np.testing.assert_array_equal(np.stack([np.asarray(jax.random.key_data(x)) for x in k]), data)


def test_smoke_mode_runs_the_smoke_sizes(monkeypatch):
    monkeypatch.setenv("MESALIB_SMOKE", "1")
    key = jax.random.key(0)
    ident = U.run_identification(key, U.Config())
    res = ident.results["independent"]
    assert res.dimension.shape == res.regret.shape == (4, 3)
    assert (res.dimension[:, 0] == 10).all() and (res.dimension[:, 1:] == 1).all()
    assert len(ident.table) == 6 and ident.table["dimension"].tolist()[:3] == [10.0, 1.0, 1.0]
    sel = U.run_selection(key, U.Config())
    for name in U.STRATEGIES:
        assert sel.sizes[name].shape == sel.regret[name].shape == (3, 5)
        np.testing.assert_allclose(sel.sizes[name][:, 0], 1.0)
        np.testing.assert_array_equal(sel.regret[name][:, 0], sel.regret["random"][:, 0])   # same first environment
    assert list(sel.table.columns) == ["strategy", "environments chosen", "size", "low", "high"]
    assert list(sel.regret_table.columns) == ["strategy", "environments chosen", "regret", "low", "high"]
    planners = U.run_planners(key, U.Config())
    assert len(planners.table) == 2 * len(U.PLANNERS)
    assert U.run_dimensions(key, U.Config()).shape == (3, 3)


def test_helpers_reproduce_the_sections_draws():
    key, c = jax.random.key(0), U.Config()._replace(selection=U.SelectionConfig(num_trials=2, steps=1, held_out=2))
    first, theta = U.selection_problem(key, c, trial=1)
    k = jax.random.split(U.keys(key).selection, 2)[1]
    f2, _, _, t2, _ = U._trial(k, c.selection)
    np.testing.assert_array_equal(first, f2)
    np.testing.assert_array_equal(theta, t2)
    envs = U.dimension_environments(key, c)
    assert envs.shape == (c.dimension_counts[-1], c.dimension_states, c.dimension_actions, c.dimension_states)
    with pytest.raises(ValueError, match="trial"):
        U.selection_problem(key, c, trial=2)


def test_first_separation():
    import pandas as pd
    rows = [("a", j, lo, hi) for j, (lo, hi) in enumerate([(0, 1), (0, 1), (0, 0.4), (0, 0.3)])]
    rows += [("b", j, lo, hi) for j, (lo, hi) in enumerate([(0.5, 1), (0.9, 1), (0.5, 1), (0.5, 1)])]
    table = pd.DataFrame(rows, columns=["strategy", "environments chosen", "low", "high"])
    assert U.first_separation(table, "a", "b") == 2
    assert U.first_separation(table.assign(high=1.0), "a", "b") is None
