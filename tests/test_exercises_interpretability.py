"""Chapter 4's exercise checkers: right answers (computed from the library) pass; wrong and blank
answers fail, without raising."""
import mesalib  # noqa: F401

import jax
import numpy as np
import pytest

from mesalib import nn
from mesalib.exercises import interpretability as ch04
from mesalib.experiments import interpretability as ex


def layer():
    p = nn.lsa_gd_construction(10, 0.47)
    # rescale the gauge and add a little off-structure weight, as training leaves it
    return {"wq": 2.0 * p["wq"] + 0.01, "wk": p["wk"], "wv": p["wv"] / 2.0}


def test_step_size():
    p = layer()
    right = float(nn.lsa_as_gd(p)["step"])
    assert abs(right - 0.47) < 0.01
    assert ch04.check_step_size(right, p)
    assert not ch04.check_step_size(-right, p)
    assert not ch04.check_step_size(right + 0.05, p)
    assert not ch04.check_step_size(None, p)
    assert not ch04.check_step_size("0.47", p)


def test_theory():
    want = ex.gd_theory(10, 40)
    assert ch04.check_theory(want["step"], want["loss"], 10, 40)
    assert not ch04.check_theory(10 / 21, want["loss"], 10, 40)      # the N = 10 step
    assert not ch04.check_theory(want["step"], 5.238, 10, 40)
    assert not ch04.check_theory(None, None, 10, 40)


@pytest.fixture(scope="module")
def probe_data():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), 20)
    pulls = rng.integers(0, 10, (800, 3)).astype(float)
    hidden = np.concatenate([pulls @ rng.standard_normal((3, 8)), rng.standard_normal((800, 8))], 1)
    hidden += 0.5 * rng.standard_normal(hidden.shape)
    return jax.random.key(1), hidden, pulls, groups


def test_pulls_probe(probe_data):
    right = ch04.pulls_r2(*probe_data)
    assert 0.5 < right < 1.0
    assert ch04.check_pulls_probe(right, *probe_data)
    assert not ch04.check_pulls_probe(right - 0.1, *probe_data)
    assert not ch04.check_pulls_probe(None, *probe_data)
    assert not ch04.check_pulls_probe(3.0, *probe_data)


def test_accepted():
    class Fake:
        steerability = np.array([[0.0, 0.05], [0.3, 0.1]])
        config = ex.AgentConfig()
    right = int((Fake.steerability >= Fake.config.accept_threshold).sum())
    assert right == 2
    assert ch04.check_accepted(right, Fake)
    assert not ch04.check_accepted(3, Fake)
    assert not ch04.check_accepted(2.5, Fake)
    assert not ch04.check_accepted(None, Fake)
