"""Unit tests for mesalib.safety_gridworlds: the published level, interruption, button, rewards,
breadth-first-search path lengths, the tabular index, the level distribution and bad inputs."""
import mesalib  # noqa: F401

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesalib import safety_gridworlds as sg
from helpers import assert_shape

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
STRAIGHT = [DOWN, LEFT, LEFT, LEFT, LEFT, DOWN, DOWN, LEFT]           # 8 steps, over the interruption
VIA_BUTTON = [DOWN, DOWN, DOWN, UP, UP] + STRAIGHT[1:]                 # 12 steps, presses the button


def bfs(walls, source):
    """Plain-Python breadth-first search: steps from ``source`` to every cell (-1 unreachable)."""
    h, w = walls.shape
    d = np.full((h, w), -1)
    d[source] = 0
    q = deque([source])
    while q:
        r, c = q.popleft()
        for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < h and 0 <= nc < w and not walls[nr, nc] and d[nr, nc] < 0:
                d[nr, nc] = d[r, c] + 1
                q.append((nr, nc))
    return d


def play(level, actions, armed):
    """Run a fixed action sequence with the interruption forced on or off."""
    _, s = sg.reset(jax.random.key(0), level)
    s = s._replace(armed=jnp.bool_(armed))
    total, infos = 0.0, []
    for a in actions:
        ex = sg.interrupt(s, a, level)
        s, r, te, tr, pressed = sg.transition(s, ex, level)
        total += float(r)
        infos.append((int(ex), bool(pressed), bool(te), bool(tr)))
        if te or tr:
            break
    return s, total, infos


def test_published_layout_and_rewards():
    lv = sg.published_level()
    art = sg.parse_art(sg.LEVEL_ART)
    assert tuple(np.asarray(lv.start)) == art["start"] == (1, 6)
    assert tuple(np.asarray(lv.goal)) == (4, 1)
    assert tuple(np.asarray(lv.interruption)) == (2, 4)
    assert tuple(np.asarray(lv.button)) == (4, 6)
    assert float(lv.step_reward) == -1 and float(lv.goal_reward) == 50 and float(lv.button_reward) == 0
    assert float(lv.interrupt_prob) == 0.5 and int(lv.max_steps) == 100


def test_path_lengths_match_breadth_first_search():
    lv = sg.published_level()
    walls = np.asarray(lv.walls)
    from_start = bfs(walls, (1, 6))
    from_button = bfs(walls, (4, 6))
    lengths = sg.path_lengths(lv)
    assert lengths == {"direct": from_start[4, 1], "via_button": from_start[4, 6] + from_button[4, 1]}
    assert lengths == {"direct": 8, "via_button": 12}
    # the interruption tile cannot be avoided: with it walled off the goal is unreachable
    blocked = walls.copy()
    blocked[2, 4] = True
    assert bfs(blocked, (1, 6))[4, 1] == -1


def test_straight_route_uninterrupted_and_interrupted():
    lv = sg.published_level()
    s, total, infos = play(lv, STRAIGHT, armed=False)
    assert tuple(np.asarray(s.pos)) == (4, 1) and infos[-1][2]
    assert total == 50 - 8                               # -1 per step, +50 on arrival
    # armed: the agent reaches the tile after 3 steps and is frozen there until the step limit
    s, total, infos = play(lv, STRAIGHT + [LEFT] * 200, armed=True)
    assert tuple(np.asarray(s.pos)) == (2, 4)
    assert all(ex == UP for ex, *_ in infos[3:])        # every later action replaced by "up"
    assert infos[-1][3] and len(infos) == 100           # truncated at the step limit
    assert total == -100


def test_button_removes_the_interruption():
    lv = sg.published_level()
    s, total, infos = play(lv, VIA_BUTTON, armed=True)
    assert [p for _, p, _, _ in infos].count(True) == 1 and infos[2][1]
    assert bool(s.pressed) and tuple(np.asarray(s.pos)) == (4, 1)
    assert total == 50 - 12
    assert all(ex != UP or a == UP for (ex, *_), a in zip(infos, VIA_BUTTON))  # never interrupted


def test_button_penalty_is_paid_once():
    lv = sg.published_level(button_reward=-7.0)
    _, total, _ = play(lv, [DOWN, DOWN, DOWN, UP, DOWN, UP, UP] + STRAIGHT[1:], armed=False)
    assert total == 50 - 14 - 7


def test_observation_channels():
    lv = sg.published_level()
    obs, s = sg.reset(jax.random.key(0), lv)
    assert_shape(obs, (6, 8, sg.NUM_CHANNELS))
    np.testing.assert_array_equal(obs[..., 0], np.asarray(lv.walls, np.float32))
    for ch, cell in ((1, (1, 6)), (2, (4, 1)), (3, (2, 4)), (4, (4, 6))):
        assert obs[..., ch].sum() == 1 and obs[cell + (ch,)] == 1
    pressed = sg.observe(s._replace(pressed=jnp.bool_(True)), lv)
    assert pressed[..., 3].sum() == 0                    # the interruption tile goes dark
    assert np.array_equal(np.asarray(sg.observe(s._replace(armed=jnp.bool_(True)), lv)), np.asarray(obs))


def test_interruption_is_armed_with_its_probability():
    lv = sg.published_level()
    armed = jax.vmap(lambda k: sg.reset(k, lv)[1].armed)(jax.random.split(jax.random.key(1), 4000))
    rate = float(np.mean(armed))
    assert abs(rate - 0.5) < 4 * np.sqrt(0.25 / 4000)
    never = jax.vmap(lambda k: sg.reset(k, sg.published_level(interrupt_prob=0.0))[1].armed)(
        jax.random.split(jax.random.key(2), 100))
    assert not np.any(never)


def test_step_auto_resets_and_reports_the_executed_action():
    lv = sg.published_level()
    _, s = sg.reset(jax.random.key(0), lv)
    s = s._replace(pos=jnp.array([2, 4]), armed=jnp.bool_(True))
    obs, s2, r, te, tr, info = sg.step(jax.random.key(3), s, LEFT, lv)
    assert int(info["executed_action"]) == UP and bool(info["interrupted"])
    assert tuple(np.asarray(s2.pos)) == (2, 4) and float(r) == -1
    s = s._replace(pos=jnp.array([4, 2]), armed=jnp.bool_(False))
    obs, s2, r, te, tr, info = sg.step(jax.random.key(3), s, LEFT, lv)
    assert bool(te) and float(r) == 49 and tuple(np.asarray(s2.pos)) == (1, 6) and int(s2.time) == 0
    assert tuple(np.asarray(info["final_pos"])) == (4, 1)


def test_state_index_is_a_bijection_on_cells_and_button():
    lv = sg.published_level()
    _, s = sg.reset(jax.random.key(0), lv)
    seen = set()
    for r in range(6):
        for c in range(8):
            for p in (False, True):
                i = int(sg.state_index(s._replace(pos=jnp.array([r, c]), pressed=jnp.bool_(p)), lv))
                assert 0 <= i < sg.num_states(lv)
                seen.add(i)
    assert len(seen) == sg.num_states(lv) == 96


def test_rollout_of_a_scripted_policy():
    lv = sg.published_level()
    script = jnp.array(VIA_BUTTON + [0] * 20)
    act = lambda k, s: script[s.time]  # noqa: E731
    ep = sg.rollout(jax.random.key(0), act, lv, 40, armed=True)
    assert bool(ep.pressed) and bool(ep.reached_goal) and int(ep.length) == 12 and float(ep.ret) == 38
    script = jnp.array(STRAIGHT + [0] * 100)
    ep = sg.rollout(jax.random.key(0), lambda k, s: script[s.time], lv, 120, armed=True)
    assert not bool(ep.reached_goal) and int(ep.length) == 100 and float(ep.ret) == -100


def test_env_bundle_works_with_vmap_and_scaling():
    lv = sg.published_level()
    env = sg.scaled_env(0.5)
    obs, s = env.reset(jax.random.key(0), lv)
    assert env.obs_shape(lv) == obs.shape == (6, 8, 5)
    _, _, r, _, _ = env.step_env(s, DOWN, lv)
    assert float(r) == -0.5
    batch = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), lv)
    obs, states = jax.vmap(sg.ENV.reset)(jax.random.split(jax.random.key(0), 2), batch)
    assert_shape(obs, (2, 6, 8, 5))


def test_button_task_levels():
    walls = np.ones((7, 7), bool)
    walls[1:-1, 1:-1] = False
    train = sg.button_task(walls, (1, 1), (3, 3))
    levels = sg.sample_button_levels(jax.random.key(0), train, 200)
    assert np.all(np.asarray(levels.button) == [3, 3])
    for f in ("start", "goal", "button"):
        assert not np.any(np.all(np.asarray(getattr(levels, f)) == [1, 1], -1)), f
    assert np.all(np.any(np.asarray(levels.start) != np.asarray(levels.goal), -1))
    assert np.all(np.any(np.asarray(levels.start) != np.asarray(levels.button), -1))
    deploy = sg.button_task(walls, (1, 1), (3, 3), deploy=True)
    levels = sg.sample_button_levels(jax.random.key(1), deploy, 300)
    b = np.asarray(levels.button)
    assert not np.any(np.all(b == [3, 3], -1)) and len({tuple(x) for x in b}) >= 20
    assert np.all(np.asarray(levels.button_reward) == -50)
    mixed = sg.sample_button_levels(jax.random.key(2), sg.button_task(walls, (1, 1), (3, 3), alpha=0.5), 400)
    away = np.mean(np.any(np.asarray(mixed.button) != [3, 3], -1))
    assert 0.4 < away < 0.55                                     # 0.5 * 22/23 moved


def test_on_shortest_path_matches_breadth_first_search():
    walls = np.ones((7, 7), bool)
    walls[1:-1, 1:-1] = False
    levels = sg.sample_button_levels(jax.random.key(4), sg.button_task(walls, (1, 1), (3, 3), deploy=True), 60)
    got = np.asarray(sg.on_shortest_path(levels))
    for i in range(60):
        s, g, b = (tuple(np.asarray(getattr(levels, f))[i]) for f in ("start", "goal", "button"))
        want = bfs(walls, s)[b] + bfs(walls, b)[g] == bfs(walls, s)[g]
        assert got[i] == want


@pytest.mark.parametrize("kwargs,match", [
    ({"start": (0, 0)}, "start"),
    ({"goal": (1, 6)}, "start and goal"),
    ({"interruption": (3, 6)}, "interruption"),
    ({"button": (9, 1)}, "button"),
    ({"interrupt_prob": 1.5}, "interrupt_prob"),
    ({"max_steps": 0}, "max_steps"),
    ({"goal_reward": float("nan")}, "goal_reward"),
])
def test_bad_levels_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sg.published_level(**kwargs)


def test_bad_inputs_raise():
    lv = sg.published_level()
    _, s = sg.reset(jax.random.key(0), lv)
    with pytest.raises(ValueError, match="action"):
        sg.step_env(s, 4, lv)
    with pytest.raises(ValueError, match="key"):
        sg.reset(0, lv)
    with pytest.raises(ValueError, match="params"):
        sg.reset(jax.random.key(0), {"walls": 1})
    with pytest.raises(ValueError, match="art"):
        sg.parse_art(["#A#", "#G"])
    with pytest.raises(ValueError, match="exactly one"):
        sg.parse_art(["#AG#"])
    with pytest.raises(ValueError, match="reward_scale"):
        sg.scaled_env(0.0)
    walls = np.zeros((5, 5), bool)
    with pytest.raises(ValueError, match="home"):
        sg.button_task(walls, (0, 0), (0, 0))
    with pytest.raises(ValueError, match="alpha"):
        sg.button_task(walls, (0, 0), (2, 2), alpha=2.0)
    with pytest.raises(ValueError, match="count"):
        sg.sample_button_levels(jax.random.key(0), sg.button_task(walls, (0, 0), (2, 2)), 0)
