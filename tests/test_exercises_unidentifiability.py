"""Chapter 3's exercise solutions pass their checkers; wrong answers fail without raising."""
import mesalib  # noqa: F401

import numpy as np

from mesalib import irl
from mesalib.exercises import unidentifiability as exercises


def test_dimensions(capsys):
    assert exercises.check_dimensions((1, 5 * 3 * 5 - 5 * 3 + 5))
    assert not exercises.check_dimensions((5, 65))
    assert not exercises.check_dimensions((1, 75))
    assert not exercises.check_dimensions(None)
    assert not exercises.check_dimensions("ab")
    assert "R(s" in capsys.readouterr().out


def test_goal_free_reward(capsys):
    room = irl.corner_room(5)
    _, corner = irl.goal_and_corner_rewards(room)
    assert exercises.check_goal_free_reward(corner)                      # the solution's answer
    step_cost = np.where(room.coords[:, 0] >= 0, -1.0, 0.0)         # another valid answer
    assert exercises.check_goal_free_reward(step_cost)
    goal, _ = irl.goal_and_corner_rewards(room)
    assert not exercises.check_goal_free_reward(goal)                    # pays for the goal
    assert not exercises.check_goal_free_reward(np.zeros(27))            # R = 0 explains nothing
    assert not exercises.check_goal_free_reward(-corner)                 # avoids the corner
    assert not exercises.check_goal_free_reward(np.zeros(5))
    assert not exercises.check_goal_free_reward("abc")
    assert not exercises.check_goal_free_reward(None)
    assert "explain" in capsys.readouterr().out


def test_tests_needed():
    p, _ = irl.informativeness_by_goal(irl.corner_test_informativeness(7))
    want = int(np.ceil(np.log(0.01) / np.log(1 - p)))
    assert want == 3
    assert exercises.check_tests_needed(want)
    assert not exercises.check_tests_needed(want - 1)
    assert not exercises.check_tests_needed(want + 1)
    assert not exercises.check_tests_needed(2.5)
    assert not exercises.check_tests_needed(None)
