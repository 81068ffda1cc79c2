"""Chapter 3's exercise checkers: the right answers, computed from the library, pass; wrong or
blank answers fail without raising."""
import mesalib  # noqa: F401

import numpy as np

from mesalib import irl
from mesalib.exercises import unidentifiability as exercises
from mesalib.experiments import unidentifiability as experiment


def test_dimensions(capsys):
    p = exercises.exercise1_environment()
    state = irl.consistent_dimension(p, exercises.GAMMA, "state")
    transition = irl.consistent_dimension(p, exercises.GAMMA, "transition")
    assert exercises.check_dimensions((state, transition))
    assert exercises.check_dimensions([np.int64(state), float(transition)])      # any integer-valued pair
    assert not exercises.check_dimensions((exercises.EX1_STATES, transition))    # shaping's S for R(s)
    assert not exercises.check_dimensions((state, transition + exercises.EX1_STATES))
    assert not exercises.check_dimensions((state, transition - 1))
    assert not exercises.check_dimensions(None)
    assert not exercises.check_dimensions("ab")
    assert "R(s" in capsys.readouterr().out


def test_goal_free_reward(capsys):
    room = experiment.corner_room(5)
    goal, corner = experiment.goal_and_corner_rewards(room)
    assert exercises.check_goal_free_reward(corner)                      # the solution's answer
    step_cost = np.where(room.coords[:, 0] >= 0, -1.0, 0.0)              # another valid answer
    assert exercises.check_goal_free_reward(step_cost)
    assert not exercises.check_goal_free_reward(goal)                    # pays for the goal
    assert not exercises.check_goal_free_reward(np.zeros(room.transitions.shape[0]))   # R = 0 explains nothing
    assert not exercises.check_goal_free_reward(-corner)                 # avoids the corner
    assert not exercises.check_goal_free_reward(np.zeros(5))
    assert not exercises.check_goal_free_reward("abc")
    assert not exercises.check_goal_free_reward(None)
    out = capsys.readouterr().out
    assert "explain" in out and out.count("goal in disguise") == 1      # said of the step cost only


def test_tests_needed(capsys):
    inf = experiment.corner_test_informativeness(exercises.EX3_SIZE)
    p, _ = experiment.informativeness_by_goal(inf)
    p_col = float(inf[:, exercises.EX3_SIZE - 1].mean())        # a masked mean: undefined tests skipped
    smallest = [next(k for k in range(1, 100) if (1 - q) ** k <= 1 - exercises.EX3_CONFIDENCE) for q in (p, p_col)]
    assert smallest[1] > smallest[0]                        # the biased suite needs more tests
    assert exercises.check_tests_needed(tuple(smallest))
    assert exercises.check_tests_needed([float(smallest[0]), np.int64(smallest[1])])
    assert not exercises.check_tests_needed((smallest[0] - 1, smallest[1]))
    assert not exercises.check_tests_needed((smallest[0], smallest[1] + 1))
    assert not exercises.check_tests_needed((smallest[0], smallest[0]))     # the column is not random levels
    assert not exercises.check_tests_needed((smallest[0] + 0.5, smallest[1]))
    assert not exercises.check_tests_needed(smallest[0])                    # one number is not the answer
    assert not exercises.check_tests_needed(None)
    assert not exercises.check_tests_needed(("a", "b"))
    assert "right-hand" in capsys.readouterr().out
