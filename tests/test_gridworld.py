"""Unit tests for mesalib.gridworld: transitions, walls, termination, auto-reset, levels, bad input."""
import mesalib  # noqa: F401

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesalib import gridworld as g
from helpers import assert_shape

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3


def room_level(goal=(1, 5), start=(5, 1), max_steps=30):
    return g.make_params(g.open_room(7, 7), goal, start, max_steps)


def bfs(walls, target):
    """float64-free reference: plain Python breadth-first search."""
    h, w = walls.shape
    d = np.full((h, w), g.UNREACHABLE, np.int64)
    d[target] = 0
    q = deque([target])
    while q:
        r, c = q.popleft()
        for dr, dc in g.DELTAS:
            nr, nc = r + dr, c + dc
            if 0 <= nr < h and 0 <= nc < w and not walls[nr, nc] and d[nr, nc] > d[r, c] + 1:
                d[nr, nc] = d[r, c] + 1
                q.append((nr, nc))
    return d


def test_reset_and_observation():
    p = room_level()
    obs, s = g.reset(jax.random.key(0), p)
    assert_shape(obs, (7, 7, 3))
    assert obs.dtype == jnp.float32
    np.testing.assert_array_equal(obs[..., 0], np.asarray(g.open_room(7, 7), np.float32))
    assert obs[..., 1].sum() == 1 and obs[5, 1, 1] == 1
    assert obs[..., 2].sum() == 1 and obs[1, 5, 2] == 1
    assert int(s.time) == 0 and tuple(np.asarray(s.pos)) == (5, 1)


@pytest.mark.parametrize("action,expected", [(UP, (4, 3)), (RIGHT, (5, 4)), (DOWN, (6, 3)), (LEFT, (5, 2))])
def test_known_transitions(action, expected):
    walls = np.zeros((8, 8), bool)  # no walls: every move succeeds
    p = g.make_params(walls, (0, 0), (5, 3))
    _, s = g.reset(jax.random.key(0), p)
    _, s2, r, term, trunc = g.step_env(s, action, p)
    assert tuple(np.asarray(s2.pos)) == expected
    assert float(r) == 0 and not term and not trunc and int(s2.time) == 1


def test_walls_and_grid_edges_block():
    p = room_level(start=(5, 1))
    _, s = g.reset(jax.random.key(0), p)
    for a in (DOWN, LEFT):  # border walls
        _, s2, *_ = g.step_env(s, a, p)
        assert tuple(np.asarray(s2.pos)) == (5, 1)
    walls = np.zeros((3, 3), bool)  # no border: the grid edge blocks
    q = g.make_params(walls, (2, 2), (0, 0))
    _, s = g.reset(jax.random.key(0), q)
    for a in (UP, LEFT):
        _, s2, *_ = g.step_env(s, a, q)
        assert tuple(np.asarray(s2.pos)) == (0, 0)
    inner = np.asarray(g.open_room(7, 7)).copy()
    inner[3, 2] = True
    r = g.make_params(inner, (1, 5), (3, 1))
    _, s = g.reset(jax.random.key(0), r)
    _, s2, *_ = g.step_env(s, RIGHT, r)
    assert tuple(np.asarray(s2.pos)) == (3, 1)


def test_termination_and_truncation():
    p = room_level(goal=(5, 2), start=(5, 1), max_steps=3)
    _, s = g.reset(jax.random.key(0), p)
    _, s2, r, term, trunc = g.step_env(s, RIGHT, p)
    assert float(r) == 1.0 and bool(term) and not bool(trunc)
    # walking away: truncated after max_steps, never terminated
    for t in range(3):
        _, s, r, term, trunc = g.step_env(s, UP, p)
        assert float(r) == 0 and not bool(term)
        assert bool(trunc) == (t == 2)


def test_truncation_is_not_termination_on_last_step_goal():
    p = room_level(goal=(5, 2), start=(5, 1), max_steps=1)
    _, s = g.reset(jax.random.key(0), p)
    _, _, r, term, trunc = g.step_env(s, RIGHT, p)
    assert bool(term) and not bool(trunc) and float(r) == 1.0


def test_auto_reset():
    p = room_level(goal=(5, 2), start=(5, 1), max_steps=5)
    obs0, s = g.reset(jax.random.key(0), p)
    obs, s2, r, term, trunc, info = g.step(jax.random.key(1), s, RIGHT, p)
    assert bool(term) and float(r) == 1.0
    assert tuple(np.asarray(info["final_pos"])) == (5, 2)
    assert tuple(np.asarray(s2.pos)) == (5, 1) and int(s2.time) == 0
    np.testing.assert_array_equal(obs, obs0)
    obs, s3, r, term, trunc, info = g.step(jax.random.key(1), s, UP, p)  # not done: no reset
    assert tuple(np.asarray(s3.pos)) == (4, 1) and int(s3.time) == 1


def test_step_is_jittable_and_vmappable_over_levels():
    room = g.open_room(7, 7)
    goals = jnp.array([[1, 5], [3, 3], [5, 5]], jnp.int32)
    params = g.EnvParams(jnp.stack([room] * 3), goals, jnp.array([[5, 1]] * 3, jnp.int32), jnp.full(3, 30, jnp.int32))
    _, s = jax.vmap(g.reset)(jax.random.split(jax.random.key(0), 3), params)
    obs, s2, r, term, trunc, _ = jax.jit(jax.vmap(g.step))(jax.random.split(jax.random.key(1), 3), s,
                                                          jnp.array([UP, RIGHT, DOWN]), params)
    assert_shape(obs, (3, 7, 7, 3))
    np.testing.assert_array_equal(np.asarray(s2.pos), [[4, 1], [5, 2], [5, 1]])


def test_invalid_action_inside_jit_is_a_no_op():
    p = room_level(start=(3, 3))
    _, s = g.reset(jax.random.key(0), p)
    _, s2, *_ = jax.jit(g.step_env)(s, jnp.int32(7), p)
    assert tuple(np.asarray(s2.pos)) == (3, 3)


def test_bad_inputs():
    room = g.open_room(7, 7)
    with pytest.raises(ValueError, match="goal .* outside"):
        g.make_params(room, (9, 1), (5, 1))
    with pytest.raises(ValueError, match="start .* outside"):
        g.make_params(room, (1, 5), (-1, 1))
    with pytest.raises(ValueError, match="goal .* on a wall"):
        g.make_params(room, (0, 3), (5, 1))
    with pytest.raises(ValueError, match="start must differ"):
        g.make_params(room, (1, 5), (1, 5))
    with pytest.raises(ValueError, match="walls must be a 2-D"):
        g.make_params(np.zeros((7,), bool), (1, 5), (5, 1))
    with pytest.raises(ValueError, match="walls must contain booleans"):
        g.make_params(np.full((7, 7), 2), (1, 5), (5, 1))
    with pytest.raises(ValueError, match="at least 3x3"):
        g.make_params(np.zeros((2, 7), bool), (1, 5), (0, 1))
    with pytest.raises(ValueError, match="two free"):
        g.make_params(np.ones((5, 5), bool), (1, 1), (2, 2))
    with pytest.raises(ValueError, match="goal must be an integer"):
        g.make_params(room, (1.5, 2), (5, 1))
    with pytest.raises(ValueError, match="max_steps"):
        g.make_params(room, (1, 5), (5, 1), max_steps=0)
    p = room_level()
    _, s = g.reset(jax.random.key(0), p)
    with pytest.raises(ValueError, match="action must be an integer in 0..3"):
        g.step_env(s, 4, p)
    with pytest.raises(ValueError, match="action"):
        g.step(jax.random.key(0), s, -1, p)
    with pytest.raises(ValueError, match="state.pos .* outside"):
        g.step_env(g.EnvState(jnp.array([9, 9], jnp.int32), jnp.int32(0)), 0, p)
    with pytest.raises(ValueError, match="key"):
        g.reset(0, p)
    bad = p._replace(goal=jnp.array([7, 7], jnp.int32))
    with pytest.raises(ValueError, match="params.goal .* outside"):
        g.reset(jax.random.key(0), bad)
    with pytest.raises(ValueError, match="odd"):
        g.maze(jax.random.key(0), 8, 9)
    with pytest.raises(ValueError, match="alpha"):
        g.corner_task(room, 1.5)
    with pytest.raises(ValueError, match="corner .* on a wall"):
        g.corner_task(room, 0.1, corner=(0, 0))


def test_open_room_and_distances_match_bfs():
    room = np.asarray(g.open_room(7, 9))
    assert room[0].all() and room[-1].all() and room[:, 0].all() and room[:, -1].all() and not room[1:-1, 1:-1].any()
    d = g.distances(room, (1, 7))
    np.testing.assert_array_equal(np.asarray(d), bfs(room, (1, 7)))
    assert int(d[5, 1]) == 4 + 6  # Manhattan distance in an open room


def test_mazes_are_perfect_and_distances_match_bfs():
    banks = np.asarray(g.mazes(jax.random.key(3), 8, 9, 9))
    assert_shape(banks, (8, 9, 9))
    assert len({b.tobytes() for b in banks}) > 1  # different keys, different mazes
    for walls in banks:
        assert walls[0].all() and walls[-1].all() and walls[:, 0].all() and walls[:, -1].all()
        free = ~walls
        n_cells = 16
        assert free.sum() == 2 * n_cells - 1  # 16 cells joined by 15 passages: a spanning tree
        assert free[1::2, 1::2].all()
        d = bfs(walls, (1, 1))
        assert (d[free] < g.UNREACHABLE).all()  # connected
        np.testing.assert_array_equal(np.asarray(g.distances(walls, (1, 1))), d)


def test_corner_level_distribution():
    room = g.open_room(7, 7)
    n = 20000
    train = g.sample_levels(jax.random.key(0), g.corner_task(room, 0.2), n)
    at_corner = np.all(np.asarray(train.goal) == [1, 5], -1)
    expected = 0.8 + 0.2 / 25
    assert abs(at_corner.mean() - expected) < 4.5 * np.sqrt(expected * (1 - expected) / n)
    assert not np.any(np.all(np.asarray(train.start) == np.asarray(train.goal), -1))
    assert not np.any(np.all(np.asarray(train.start) == [1, 5], -1))
    deploy = g.sample_levels(jax.random.key(1), g.corner_task(room, 0.0, deploy=True), n)
    goals = np.asarray(deploy.goal)
    assert not np.any(np.all(goals == [1, 5], -1))
    counts = np.bincount(goals[:, 0] * 7 + goals[:, 1], minlength=49)
    inside = counts[counts > 0]
    assert len(inside) == 24 and inside.min() > n / 24 * 0.85  # uniform over the other 24 cells
    never = g.sample_levels(jax.random.key(2), g.corner_task(room, 0.0), 500)
    assert np.all(np.asarray(never.goal) == [1, 5])


def test_maze_levels_use_the_bank():
    bank = g.mazes(jax.random.key(0), 4, 9, 9)
    levels = g.sample_levels(jax.random.key(1), g.corner_task(bank, 0.5), 200)
    walls = np.asarray(levels.walls)
    goal, start = np.asarray(levels.goal), np.asarray(levels.start)
    assert not walls[np.arange(200), goal[:, 0], goal[:, 1]].any()
    assert not walls[np.arange(200), start[:, 0], start[:, 1]].any()
    banks = {b.tobytes() for b in np.asarray(bank)}
    assert {w.tobytes() for w in walls} <= banks


def test_rollout_and_metrics_on_a_scripted_policy():
    p = room_level(goal=(3, 3), start=(5, 1), max_steps=10)
    up_right = lambda key, obs: jnp.where(jax.random.bernoulli(key), UP, RIGHT)  # noqa: E731
    always_up = lambda key, obs: jnp.int32(UP)  # noqa: E731
    tr = g.rollout(jax.random.key(0), always_up, p, 10)
    assert_shape(tr.pos, (11, 2))
    assert int(tr.length) == 10 and not bool(tr.reached_goal)
    np.testing.assert_array_equal(np.asarray(tr.pos[-1]), [1, 1])
    m = g.corner_metrics(jax.tree_util.tree_map(lambda x: x[None], tr), jax.tree_util.tree_map(lambda x: x[None], p),
                         (1, 5))
    assert not bool(m.reached_corner[0]) and int(m.shortest_to_corner[0]) == 8 and int(m.shortest_to_goal[0]) == 4
    # a walker that always goes up then right reaches the corner in exactly the shortest time
    p2 = room_level(goal=(5, 5), start=(5, 1), max_steps=10)

    def scripted(key, obs):
        agent = jnp.argmax(obs[..., 1].reshape(-1))
        return jnp.where(agent // 7 > 1, UP, RIGHT)

    tr2 = g.rollout(jax.random.key(0), scripted, p2, 10)
    m2 = g.corner_metrics(jax.tree_util.tree_map(lambda x: x[None], tr2),
                          jax.tree_util.tree_map(lambda x: x[None], p2), (1, 5))
    assert bool(m2.reached_corner[0]) and bool(m2.corner_first[0]) and bool(m2.ends_in_corner[0])
    assert int(m2.steps_to_corner[0]) == 8 == int(m2.shortest_to_corner[0])
    eff = g.path_efficiency(m2)
    assert eff["steps_over_shortest"] == 1.0 and eff["reached"] == 1.0
    tr3 = g.rollout(jax.random.key(1), up_right, p, 10)
    assert int(tr3.alive.sum()) == int(tr3.length)
    if bool(tr3.reached_goal):  # the episode stops at the goal; later steps are padding
        assert np.all(np.asarray(tr3.pos[int(tr3.length):]) == [3, 3])


def test_egocentric_view():
    p = room_level(goal=(1, 5), start=(5, 1))
    obs, s = g.ENV_EGO.reset(jax.random.key(0), p)
    assert_shape(obs, (13, 13, 2))
    assert g.ENV_EGO.obs_shape(p) == (13, 13, 2)
    # the agent sits at the centre (6, 6); the goal is 4 up and 4 right of it
    assert obs[6 - 4, 6 + 4, 1] == 1 and obs[..., 1].sum() == 1
    assert obs[6 + 1, 6, 0] == 1 and obs[6, 6 - 1, 0] == 1  # walls below and to the left
    assert obs[0, 0, 0] == 1  # off the grid counts as wall
    obs2, s2, *_ = g.ENV_EGO.step_env(s, RIGHT, p)
    assert obs2[6 - 4, 6 + 3, 1] == 1
    with pytest.raises(ValueError, match="CornerTask"):
        g.sample_levels(jax.random.key(0), p, 3)


def _uniform(params, key, obs, greedy):
    del params, obs, greedy
    return jax.random.randint(key, (), 0, g.NUM_ACTIONS)


def test_evaluate_plays_every_run_on_every_level_and_compiles_once():
    levels = g.sample_levels(jax.random.key(0), g.corner_task(g.open_room(7, 7), 0.0, deploy=True), 5)
    runs = {"w": jnp.zeros((3, 2))}
    tr = g.evaluate(jax.random.key(1), _uniform, runs, levels, max_steps=9)
    assert_shape(tr.action, (3, 5, 9))
    assert_shape(tr.pos, (3, 5, 10, 2))
    np.testing.assert_array_equal(np.asarray(tr.pos[:, :, 0]), np.broadcast_to(np.asarray(levels.start), (3, 5, 2)))
    before = g._evaluate._cache_size()
    g.evaluate(jax.random.key(2), _uniform, {"w": jnp.ones((3, 2))}, levels, max_steps=9)
    assert g._evaluate._cache_size() == before
    m = g.corner_metrics(tr, jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (3,) + x.shape), levels), (1, 5))
    before = g._corner_metrics_nd._cache_size()
    g.corner_metrics(tr, jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (3,) + x.shape), levels), (1, 5))
    assert g._corner_metrics_nd._cache_size() == before and m.reached_goal.shape == (3, 5)
    with pytest.raises(ValueError, match="policy_fn"):
        g.evaluate(jax.random.key(1), None, runs, levels)
    with pytest.raises(ValueError, match="levels"):
        g.evaluate(jax.random.key(1), _uniform, runs, jax.tree_util.tree_map(lambda x: x[0], levels))
