"""Chapter 5's exercise checkers: right answers, computed here from the library independently of
the checkers' own code, pass; wrong and blank answers fail without raising."""
import mesalib  # noqa: F401
import jax
import numpy as np

from mesalib import probes
import pytest

from mesalib import datasets, nn, train
from mesalib import verify as V
from mesalib.exercises import verification as exercises


def test_hand_bounds(capsys):
    # the answer from the library's bounds and a dense grid of the box (the true maximum)
    ibp = float(V.interval_bounds(exercises.HAND_NET, exercises.HAND_BOX)[-1][1][0])
    crown = float(V.crown_bounds(exercises.HAND_NET, exercises.HAND_BOX)[-1][1][0])
    g = np.linspace(-1, 1, 401)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    true = float(V.forward(V.check_params(exercises.HAND_NET), grid).max())
    assert exercises.check_hand_bounds((ibp, crown, true))
    assert not exercises.check_hand_bounds((ibp, ibp, true))
    assert not exercises.check_hand_bounds((ibp, crown, crown))
    assert not exercises.check_hand_bounds(None)
    assert not exercises.check_hand_bounds("abc")
    assert "CROWN" in capsys.readouterr().out


def test_toward_goal_property():
    down, left = datasets.ACTIONS.index("down"), datasets.ACTIONS.index("left")
    assert exercises.check_toward_goal_property(V.argmax_in([down, left], 4))
    others = [a for a in range(4) if a not in (down, left)]
    assert not exercises.check_toward_goal_property(V.argmax_in(others, 4))
    assert not exercises.check_toward_goal_property(V.argmax_in([down], 4))
    assert not exercises.check_toward_goal_property(V.argmax_in([down, others[0]], 4))
    assert not exercises.check_toward_goal_property(V.argmax_not(down, 4))
    assert not exercises.check_toward_goal_property(V.argmax_in([0, 1], 3))
    assert not exercises.check_toward_goal_property(None)


@pytest.fixture(scope="module")
def small_net():
    x, y = datasets.two_moons(jax.random.key(0), 200, 0.1)
    params, _ = train.fit_mlp(jax.random.key(1), x, y, train.FitConfig().smoke())
    point = np.asarray(x[0], np.float64)
    return params, point, int(train.predict(params, point[None])[0])


def _grid_radius(params, point, label, half_width=1.0, n=801):
    """The L-infinity distance from ``point`` to the nearest input of another class, on a dense grid
    (accurate to the grid spacing, 2 * half_width / (n - 1))."""
    g = np.linspace(-half_width, half_width, n)
    offsets = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    other = train.predict(params, point + offsets) != label
    return float(np.abs(offsets[other]).max(1).min())


def test_radius(small_net):
    params, point, label = small_net
    radius = _grid_radius(params, point, label)
    prop = V.argmax_is(label, 2)
    # the grid's answer sits at the exact method's boundary: verified just inside, falsified just outside
    assert V.verify(params, V.linf_ball(point, radius - 0.004), prop, "milp").status == "verified"
    assert V.verify(params, V.linf_ball(point, radius + 0.004), prop, "milp").status == "falsified"
    assert exercises.check_radius(radius, params, point, label)
    assert not exercises.check_radius(radius + 0.05, params, point, label)
    assert not exercises.check_radius(radius - 0.05, params, point, label)
    assert not exercises.check_radius("big", params, point, label)
    assert not exercises.check_radius(None, params, point, label)
    # CROWN's certified radius is never larger than the exact one
    crown = max(e for e in np.linspace(0, 1, 201) if V.verify(params, V.linf_ball(point, e), prop, "crown").status == "verified")
    assert crown <= radius + 0.003


# Exercise 4, answered from what the library can state. The first three candidates are written
# below as a box and a property and decided on a network; the last two name no input set or
# linear condition (search inside a computation; other environments), so there is nothing to write.
STATEABLE = ["never steps into the hazard",
             "same action wherever the hazard is, when it is behind the agent",
             "a given linear probe of layer 2 reads the goal's x-offset within 0.5"]
NOT_STATEABLE = ["the network internally searches over plans",
                 "pursues the goal it was trained on, in every environment there could be"]
# Stateable by unrolling the policy in closed loop: a finite list of grids and starts is a finite
# conjunction of (reach, avoid) facts about the policy's outputs along each unrolled trajectory.
CLOSED_LOOP = "reaches the goal without entering the hazard, from every start in a finite list of grids"


def test_the_stateable_candidates_are_decided_by_the_verifier():
    from mesalib.experiments import verification as chapter

    policy = nn.mlp_init(jax.random.key(0), (4, 16, 16, 4))
    obs, _ = datasets.hazard_world(2)
    right = datasets.ACTIONS.index("right")
    near = obs[np.all(obs[:, :2] == datasets.MOVES[right], axis=1)]
    statements = {
        STATEABLE[0]: (policy, V.linf_ball(near[0], 0.1), V.argmax_not(right, 4)),
        STATEABLE[1]: (policy, V.Box(np.array([-3.0, -3.0, 2.0, 1.0]), np.array([-1.0, 3.0, 2.0, 1.0])),
                       V.argmax_is(int(train.predict(policy, np.array([[-2.0, 0.0, 2.0, 1.0]]))[0]), 4)),
    }
    probe, _ = probes.layer_probe(policy, 2, obs, obs[:, 2])
    g = float(near[0, 2])
    statements[STATEABLE[2]] = (probe, V.linf_ball(near[0], 0.1), V.Property(np.array([[1.0], [-1.0]]),
                                                                              np.array([0.5 - g, g + 0.5]), (0, 1)))
    for name, (net, box, prop) in statements.items():
        assert V.verify(net, box, prop, "milp").status in ("verified", "falsified"), name
    assert set(statements) | set(NOT_STATEABLE) | {CLOSED_LOOP} == set(exercises.EXPRESSIBLE)


def test_expressible():
    right = {**{k: True for k in STATEABLE + [CLOSED_LOOP]}, **{k: False for k in NOT_STATEABLE}}
    assert exercises.check_expressible(right)
    for k in right:   # every single wrong entry fails
        assert not exercises.check_expressible({**right, k: not right[k]}), k
    assert not exercises.check_expressible({k: None for k in right})
    assert not exercises.check_expressible({**right, STATEABLE[0]: None})   # a blank is not "False"
    assert not exercises.check_expressible({"x": True})
    assert not exercises.check_expressible(None)


def test_tight_bounds():
    w = exercises.HAND_NET[0]["w"]
    corners = np.array([[a, b] for a in (-1, 1) for b in (-1, 1)])
    z = corners @ w                                     # the pre-activations' true range is at the corners
    sound = [(z.min(0), z.max(0))]
    assert V.milp_with_bounds(exercises.HAND_NET, exercises.HAND_BOX, exercises.FALSE_PROPERTY, sound).status == "falsified"
    assert not exercises.check_tight_bounds(sound)
    assert exercises.check_tight_bounds([(z.min(0), z.max(0) / 4)])     # upper bounds of 0.5 drop every z > 0.5
    assert not exercises.check_tight_bounds(None)
    assert not exercises.check_tight_bounds([(np.zeros(3), np.ones(3))])
    assert not exercises.check_tight_bounds("abc")
