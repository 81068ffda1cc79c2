"""The conclusion chapter's exercise solutions pass their checkers; wrong or missing answers fail without raising."""
import mesalib  # noqa: F401

import numpy as np

from mesalib import optpower
from mesalib.exercises import optimizers as ex


def test_bits(capsys):
    want = float(-np.log2(3 / 16))
    assert abs(ex.rank_bits(3, 16) - want) < 1e-6
    assert ex.check_bits(want)
    assert ex.check_bits(2.415)
    assert not ex.check_bits(3.0)                 # forgot to count the achieved outcome
    assert not ex.check_bits(4.0)                 # the best outcome's bits
    assert not ex.check_bits(None)
    assert not ex.check_bits("two")
    assert ex.check_bits(-np.log2(1 / 8), rank=1, outcomes=8)
    assert "bits" in capsys.readouterr().out


def test_guaranteed_steps(capsys):
    rate = optpower.descent_rate((1.0, 10.0), 0.15)
    want = int(np.ceil(np.log(0.1 / np.sqrt(2)) / np.log(rate)))
    assert ex.guaranteed_steps() == want
    assert ex.check_guaranteed_steps(want)
    assert not ex.check_guaranteed_steps(want - 1)
    assert not ex.check_guaranteed_steps(want + 5)
    assert not ex.check_guaranteed_steps(16.5)
    assert not ex.check_guaranteed_steps(None)
    assert ex.check_guaranteed_steps(ex.guaranteed_steps(step_size=0.05), step_size=0.05)
    assert "steps" in capsys.readouterr().out


def test_refilling_bottle(capsys):
    def tap(key, water):                           # the solution: a float valve lets a tap refill the bottle
        return water + 0.2 * (1.0 - water)

    def capped(key, water):                        # the bottle cap itself
        return water

    def overflowing(key, water):
        return water + 0.5

    def broken(key, water):
        raise RuntimeError("no")

    assert ex.check_refilling_bottle(tap)
    assert not ex.check_refilling_bottle(capped)
    assert not ex.check_refilling_bottle(overflowing)
    assert not ex.check_refilling_bottle(broken)
    assert not ex.check_refilling_bottle(None)
    assert not ex.check_refilling_bottle(lambda key, water: water[None].repeat(2))
    out = capsys.readouterr().out
    assert "optimizing system" in out and "failed" in out
