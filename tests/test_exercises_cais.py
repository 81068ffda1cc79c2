"""Chapter 7's exercise solutions pass their checkers; wrong or missing answers fail without raising."""
import mesalib  # noqa: F401

from types import SimpleNamespace

import numpy as np

from mesalib.exercises import cais as ex


def test_greedy_step(capsys):
    h, noise, s = np.array(ex.GREEDY_H), np.array(ex.GREEDY_NOISE), np.array(ex.GREEDY_S)
    want = np.sum(h ** 2 * s) / np.sum(h ** 3 * (s + noise))          # float64 reference
    assert abs(ex.greedy_step() - want) < 1e-6
    assert ex.check_greedy_step(want)
    assert ex.check_greedy_step(round(want, 3))
    assert not ex.check_greedy_step(1.0)                               # 1/h of the steep coordinate
    assert not ex.check_greedy_step(0.25)
    assert not ex.check_greedy_step(None)
    assert not ex.check_greedy_step("half")
    assert "noise" in capsys.readouterr().out


def fake_horizons(finals, constant):
    T = 10
    losses = np.ones((len(finals), T)) * np.asarray(finals)[:, None]
    return SimpleNamespace(horizons=np.array([1, 10, 100, 1000][: len(finals)]), losses=losses,
                           constant_losses=np.full(T, constant))


def test_first_good_horizon(capsys):
    r = fake_horizons([1.0, 0.8, 0.1, 0.02], 0.35)
    assert ex.first_good_horizon(r) == 100
    assert ex.check_first_good_horizon(100, r)
    assert not ex.check_first_good_horizon(1000, r)
    assert not ex.check_first_good_horizon(10, r)
    assert not ex.check_first_good_horizon(50, r)                      # not a trained horizon
    assert not ex.check_first_good_horizon(None, r)
    assert ex.check_first_good_horizon(10, fake_horizons([1.0, 0.3, 0.1, 0.02], 0.35))
    assert not ex.check_first_good_horizon(1000, fake_horizons([1.0, 0.8, 0.5, 0.4], 0.35))
    assert "constant" in capsys.readouterr().out


def test_divergence_scale(capsys):
    r = SimpleNamespace(scales=np.array([0.5, 1.0, 2.0]), effective_lr=np.array([0.9, 1.0, 1.1]),
                        curvature=np.array([1.0, 4.0, 16.0]))
    want = np.sqrt(2 / (1.0 * 4.0))
    assert abs(ex.divergence_scale(r) - want) < 1e-9
    assert ex.check_divergence_scale(want, r)
    assert ex.check_divergence_scale(want * 1.03, r)
    assert not ex.check_divergence_scale(want * 1.2, r)
    assert not ex.check_divergence_scale(2.0 / 4.0, r)                 # forgot the square
    assert not ex.check_divergence_scale(-1, r)
    assert not ex.check_divergence_scale(None, r)
    assert "scale" in capsys.readouterr().out


def test_places(capsys):
    assert ex.check_places(dict(ex.ROLES))
    wrong = dict(ex.ROLES, **{"SGD following a learned schedule": "intermediary"})
    assert not ex.check_places(wrong)
    assert not ex.check_places({k: None for k in ex.ROLES})
    assert not ex.check_places({k: "final" for k in ex.ROLES})
    assert not ex.check_places({"the RL² agent": "final"})
    assert not ex.check_places(None)
    assert "learned" in capsys.readouterr().out
