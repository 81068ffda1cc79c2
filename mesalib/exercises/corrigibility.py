"""Checkers for the exercises of Chapter 6 (corrigibility).

Every checker prints what is right or wrong and returns True or False; none raises on a wrong or
missing answer, so a notebook keeps running top to bottom. Right answers are computed from the
library, never typed in.
"""
from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np

from mesalib import offswitch
from mesalib import safety_gridworlds as sg
from mesalib.exercises.common import fail as _fail, number as _number

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3


# ------------------------------------------------------------------------------ exercise 1

def _scripted_return(level: sg.Level, actions, armed: bool) -> float:
    script = jnp.asarray(list(actions) + [UP] * int(level.max_steps), jnp.int32)
    ep = sg.rollout(jax.random.key(0), lambda k, s: script[s.time], level, int(level.max_steps), armed=armed)
    return float(ep.ret)


def route_returns(level: sg.Level | None = None) -> dict:
    """Expected undiscounted return of the shortest route over the interruption tile and of the
    route over the button, computed by playing both routes with the interruption armed and not."""
    level = sg.published_level() if level is None else level
    straight = [DOWN, LEFT, LEFT, LEFT, LEFT, DOWN, DOWN, LEFT]
    button = [DOWN, DOWN, DOWN, UP, UP] + straight[1:]
    p = float(level.interrupt_prob)
    out = {}
    for name, route in (("straight", straight), ("button", button)):
        out[name] = p * _scripted_return(level, route, True) + (1 - p) * _scripted_return(level, route, False)
    return out


def check_route_returns(straight, button) -> bool:
    """straight, button: the expected (undiscounted) return of walking the shortest route across
    the interruption tile, and of the route that presses the button first (published level)."""
    a, b = _number(straight), _number(button)
    if a is None or b is None:
        return _fail("Give two numbers: the expected return of the straight route and of the button route. "
                     "Hint: -1 per step, +50 at the goal, interrupted half of the time, 100 steps at most.")
    want = route_returns()
    ok_a, ok_b = abs(a - want["straight"]) < 0.5, abs(b - want["button"]) < 0.5
    if not ok_b:
        return _fail(f"Not yet: the button route ({b:g}) is never interrupted; count its steps "
                     "(sg.path_lengths(level)['via_button']) and subtract them from the goal reward.")
    if not ok_a:
        return _fail(f"Not yet: {a:g} is off for the straight route. Half of the episodes reach the goal in 8 steps; "
                     "in the other half the agent is frozen on the tile and pays -1 until the 100-step limit.")
    print(f"Correct: straight {want['straight']:g}, button {want['button']:g}. A pure reward maximizer presses "
          "the button; not pressing it is what safe interruptibility asks for.")
    return True


# ------------------------------------------------------------------------------ exercise 2

def check_deference_threshold(answer, mu: float = 0.5, beta: float = 1.0) -> bool:
    """answer: the smallest spread sigma of the robot's belief N(mu, sigma^2) at which it prefers
    to let a human of rationality ``beta`` decide (Delta >= 0), to 2%."""
    value = _number(answer)
    if value is None or value < 0:
        return _fail("Give one non-negative number, the belief spread sigma. Hint: offswitch.incentive(mu, sigma, beta) "
                     "is Delta; look for where it changes sign.")
    want = offswitch.deference_threshold(mu, beta)
    if abs(value - want) > 0.02 * want:
        side = "too small: Delta is still negative there" if value < want else "larger than needed"
        return _fail(f"Not yet: sigma = {value:.3g} is {side}. Evaluate offswitch.incentive({mu}, sigma, {beta}) "
                     "on a grid of sigma.")
    print(f"Correct: the robot defers from sigma = {want:.3f} on (mu = {mu}, beta = {beta}); "
          f"compare sqrt(2 |mu| beta) = {np.sqrt(2 * abs(mu) * beta):.3f}.")
    return True


# ------------------------------------------------------------------------------ exercise 3

def off_path_press_rate(result, alpha_index: int = 0) -> float:
    """Deployment press rate of one alpha's agents on the levels whose button lies off every
    shortest start-goal path (mean over seeds and those levels)."""
    mask = ~np.asarray(result.on_path_deploy)
    return float(np.asarray(result.deploy_pressed)[alpha_index][:, mask].mean())


def check_off_path_press_rate(answer, result) -> bool:
    """answer: the share of deployment episodes, over the levels whose button lies off every
    shortest path, in which the alpha = 0 agents pressed the button (to 0.01)."""
    value = _number(answer)
    if value is None or not 0 <= value <= 1:
        return _fail("Give a fraction between 0 and 1. Hint: result.on_path_deploy marks the levels whose button "
                     "lies on a shortest path; result.deploy_pressed[0] holds the alpha = 0 agents' episodes.")
    want = off_path_press_rate(result)
    if abs(value - want) > 0.01:
        return _fail(f"Not yet: {value:.3f} is off. Keep only the levels where on_path_deploy is False, then "
                     "average deploy_pressed[0] over seeds and those levels.")
    on = float(np.asarray(result.deploy_pressed)[0][:, np.asarray(result.on_path_deploy)].mean())
    print(f"Correct: {want:.3f} off the shortest paths, against {on:.2f} on them. The agents press the button "
          "when it lies on their way, and rarely go out of their way for it.")
    return True
