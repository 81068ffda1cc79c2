"""Chapter 6's exercise solutions pass their checkers; wrong or missing answers fail without raising."""
import mesalib  # noqa: F401

from types import SimpleNamespace

import numpy as np

from mesalib import offswitch
from mesalib import safety_gridworlds as sg
from mesalib.exercises import corrigibility as ex


def test_route_returns(capsys):
    want = ex.route_returns()
    lengths = sg.path_lengths(sg.published_level())
    # independent arithmetic: half the episodes reach the goal, half freeze on the tile until step 100
    assert want["straight"] == 0.5 * (50 - lengths["direct"]) + 0.5 * -100
    assert want["button"] == 50 - lengths["via_button"]
    assert ex.check_route_returns(want["straight"], want["button"])
    assert not ex.check_route_returns(42, want["button"])           # forgot the interruptions
    assert not ex.check_route_returns(want["straight"], 42)
    assert not ex.check_route_returns(None, 38)
    assert not ex.check_route_returns("a lot", 38)
    assert "button" in capsys.readouterr().out


def test_deference_threshold(capsys):
    want = offswitch.deference_threshold(0.5, 1.0)
    assert abs(want - np.sqrt(2 * 0.5 * 1.0)) < 1e-3                 # the closed form derived in the solution
    assert ex.check_deference_threshold(want)
    assert ex.check_deference_threshold(1.0)
    assert not ex.check_deference_threshold(0.5)
    assert not ex.check_deference_threshold(2.0)
    assert not ex.check_deference_threshold(-1.0)
    assert not ex.check_deference_threshold(None)
    assert ex.check_deference_threshold(offswitch.deference_threshold(1.0, 0.5), mu=1.0, beta=0.5)
    assert "sigma" in capsys.readouterr().out


def fake_inherit_result():
    rng = np.random.default_rng(0)
    on_path = np.arange(10) < 4
    pressed = np.zeros((1, 3, 10), bool)
    pressed[0][:, on_path] = rng.random((3, 4)) < 0.6
    pressed[0][:, ~on_path] = rng.random((3, 6)) < 0.1
    return SimpleNamespace(deploy_pressed=pressed, on_path_deploy=on_path)


def test_off_path_press_rate(capsys):
    r = fake_inherit_result()
    want = r.deploy_pressed[0][:, 4:].mean()
    assert abs(ex.off_path_press_rate(r) - want) < 1e-12
    assert ex.check_off_path_press_rate(want, r)
    assert not ex.check_off_path_press_rate(r.deploy_pressed[0].mean() + 0.05, r)
    assert not ex.check_off_path_press_rate(r.deploy_pressed[0][:, :4].mean(), r)   # the on-path rate
    assert not ex.check_off_path_press_rate(1.5, r)
    assert not ex.check_off_path_press_rate(None, r)
    assert "shortest" in capsys.readouterr().out
