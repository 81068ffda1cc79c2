"""The chapter's exercise solutions pass their checkers; wrong answers fail without raising."""
import mesalib  # noqa: F401
import jax
import numpy as np

from mesalib import datasets
from mesalib import verify as V
from mesalib.exercises import verification as exercises


def test_hand_bounds(capsys):
    assert exercises.check_hand_bounds((4, 3, 2))
    assert not exercises.check_hand_bounds((4, 4, 2))
    assert not exercises.check_hand_bounds(None)
    assert not exercises.check_hand_bounds("abc")
    assert "CROWN" in capsys.readouterr().out


def test_toward_goal_property():
    assert exercises.check_toward_goal_property(V.argmax_in([1, 2], 4))
    assert not exercises.check_toward_goal_property(V.argmax_in([0, 3], 4))
    assert not exercises.check_toward_goal_property(V.argmax_in([1], 4))
    assert not exercises.check_toward_goal_property(V.argmax_not(1, 4))
    assert not exercises.check_toward_goal_property(V.argmax_in([0, 1], 3))
    assert not exercises.check_toward_goal_property(None)


def test_radius():
    x, y = datasets.two_moons(jax.random.key(0), 200, 0.1)
    params, _ = V.fit_mlp(jax.random.key(1), x, y, V.FitConfig().smoke())
    point, label = np.asarray(x[0]), int(V.predict(params, np.asarray(x[:1]))[0])
    # the solution: bisection with the exact check
    lo, hi = 0.0, 1.0
    while hi - lo > 1e-3:
        mid = (lo + hi) / 2
        ok = V.verify(params, V.linf_ball(point, mid), V.argmax_is(label, 2), method="milp").status == "verified"
        lo, hi = (mid, hi) if ok else (lo, mid)
    assert exercises.check_radius(lo, params, point, label)
    assert not exercises.check_radius(lo + 0.05, params, point, label)
    assert not exercises.check_radius("big", params, point, label)
    # CROWN's certified radius is never larger than the exact one
    crown = max([e for e in np.linspace(0, 1, 201) if V.verify(params, V.linf_ball(point, e), V.argmax_is(label, 2), "crown").status == "verified"])
    assert crown <= lo + 1e-3


def test_expressible():
    assert exercises.check_expressible(dict(exercises.EXPRESSIBLE))
    flipped = {k: not v for k, v in exercises.EXPRESSIBLE.items()}
    assert not exercises.check_expressible(flipped)
    assert not exercises.check_expressible({"x": True})
    assert not exercises.check_expressible(None)
