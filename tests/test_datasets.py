"""Unit tests for mesalib.datasets."""
import mesalib  # noqa: F401
import jax
import numpy as np
import pytest

from mesalib import datasets, gridworld, mdp


def test_two_moons_shapes_balance_and_determinism():
    x, y = datasets.two_moons(jax.random.key(0), 101, 0.1)
    assert x.shape == (101, 2) and x.dtype == np.float32 and y.shape == (101,)
    assert set(np.asarray(y).tolist()) == {0, 1} and int(y.sum()) == 51
    x2, _ = datasets.two_moons(jax.random.key(0), 101, 0.1)
    np.testing.assert_array_equal(x, x2)
    # without noise every point lies on its (rescaled) half circle
    x, y = datasets.two_moons(jax.random.key(1), 50, 0.0)
    raw = np.asarray(x) * [1.0, 0.5] + [0.5, 0.25]
    r = np.where(np.asarray(y) == 0, np.hypot(raw[:, 0], raw[:, 1]), np.hypot(raw[:, 0] - 1, raw[:, 1] - 0.5))
    np.testing.assert_allclose(r, 1.0, atol=1e-5)


def test_two_moons_bad_inputs():
    with pytest.raises(ValueError, match="n"):
        datasets.two_moons(jax.random.key(0), 1)
    with pytest.raises(ValueError, match="noise"):
        datasets.two_moons(jax.random.key(0), 10, -0.1)
    with pytest.raises(ValueError, match="key"):
        datasets.two_moons(0, 10)


def _optimal(obs, optimal, hazard, goal):
    i = np.flatnonzero(np.all(obs == np.array(hazard + goal, np.float32), axis=1))
    assert len(i) == 1
    return {datasets.ACTIONS[a] for a in np.flatnonzero(optimal[i[0]])}


def test_hazard_world_hand_cases():
    obs, optimal = datasets.hazard_world(3)
    assert obs.shape == (48 * 47, 4) and optimal.shape == (48 * 47, 4)
    assert _optimal(obs, optimal, (1, 0), (2, 0)) == {"up", "down"}  # hazard in the way: detour
    assert _optimal(obs, optimal, (1, 0), (1, 1)) == {"up"}
    assert _optimal(obs, optimal, (-1, 0), (3, 0)) == {"right"}
    assert _optimal(obs, optimal, (0, 2), (2, 2)) == {"up", "right"}
    assert _optimal(obs, optimal, (0, 1), (0, 3)) == {"left", "right"}


def test_hazard_world_invariants():
    obs, optimal = datasets.hazard_world(2)
    assert optimal.any(1).all()
    hz, gl = obs[:, :2], obs[:, 2:]
    assert not np.any(np.all(hz == 0, 1) | np.all(gl == 0, 1) | np.all(hz == gl, 1))
    for a, move in enumerate(datasets.MOVES):
        assert not optimal[np.all(hz == move, 1), a].any()  # never step onto the hazard
    # an optimal move never increases the Manhattan distance when no detour is needed
    d0 = np.abs(gl).sum(1)
    for a, move in enumerate(datasets.MOVES):
        d1 = np.abs(gl - move).sum(1)
        assert np.all(d1[optimal[:, a]] <= d0[optimal[:, a]] + 1)
    with pytest.raises(ValueError, match="radius"):
        datasets.hazard_world(0)


def test_actions_follow_the_books_one_convention():
    assert datasets.ACTIONS == gridworld.ACTION_NAMES == mdp.ACTIONS == ("up", "right", "down", "left")
    # (dx, dy) here is (column step, minus row step) in gridworld's (row, col) cells
    np.testing.assert_array_equal(datasets.MOVES, np.stack([gridworld.DELTAS[:, 1], -gridworld.DELTAS[:, 0]], 1))
    obs, optimal = datasets.hazard_world(1)
    # goal straight to the right, hazard above: the only shortest path starts with "right"
    assert _optimal(obs, optimal, (0, 1), (1, 0)) == {"right"}
    assert np.flatnonzero(optimal[np.all(obs == [0, 1, 1, 0], axis=1)][0]).tolist() == [datasets.ACTIONS.index("right")] == [1]
