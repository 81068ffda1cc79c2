"""Unit tests for mesalib.offswitch: the closed form against float64 references, Monte Carlo
against the closed form, the sign of the incentive, the deference threshold and bad inputs."""
import mesalib  # noqa: F401

import jax
import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from mesalib import offswitch as osw


def reference_wait_value(mu, sigma, beta):
    """float64 numerical integral of E[pi_H(U) U], U ~ N(mu, sigma^2)."""
    def f(u):
        p = (u >= 0) * 1.0 if beta == 0 else 1 / (1 + np.exp(-u / beta))
        return p * u * scipy.stats.norm.pdf(u, mu, sigma)
    return scipy.integrate.quad(f, mu - 12 * sigma, mu + 12 * sigma, points=[0.0], limit=200)[0]


@pytest.mark.parametrize("mu,sigma", [(0.0, 1.0), (1.0, 0.5), (-1.0, 2.0), (0.3, 0.01), (-2.0, 0.7)])
def test_rational_closed_form_matches_integral(mu, sigma):
    want = reference_wait_value(mu, sigma, 0.0) - max(mu, 0.0)
    assert abs(float(osw.rational_incentive(mu, sigma)) - want) < 1e-5 * max(1.0, sigma)
    assert abs(float(osw.incentive(mu, sigma, 0.0)) - want) < 1e-5 * max(1.0, sigma)


@pytest.mark.parametrize("mu,sigma,beta", [(0.0, 1.0, 0.5), (1.0, 0.5, 1.0), (-1.0, 2.0, 0.3), (0.5, 3.0, 2.0)])
def test_noisy_human_quadrature_matches_integral(mu, sigma, beta):
    want = reference_wait_value(mu, sigma, beta) - max(mu, 0.0)
    assert abs(float(osw.incentive(mu, sigma, beta)) - want) < 1e-4 * max(1.0, sigma)


def test_rational_incentive_is_nonnegative_and_zero_without_uncertainty():
    mu, sigma = np.meshgrid(np.linspace(-3, 3, 41), np.linspace(0, 3, 31))
    d = np.asarray(osw.incentive(mu, sigma, 0.0))
    assert d.min() >= -1e-6
    assert np.allclose(d[0], 0.0, atol=1e-7)            # sigma = 0: nothing to learn from H
    assert float(osw.incentive(0.0, 1.0)) == pytest.approx(1 / np.sqrt(2 * np.pi), rel=1e-5)


@pytest.mark.parametrize("mu,sigma,beta", [(0.5, 1.0, 0.0), (-0.5, 2.0, 0.0), (0.5, 1.0, 1.0), (1.0, 0.2, 0.5)])
def test_monte_carlo_matches_exact(mu, sigma, beta):
    est = osw.incentive_mc(jax.random.key(0), mu, sigma, beta, samples=200_000)
    exact = float(osw.incentive(mu, sigma, beta))
    assert abs(float(est.mean) - exact) <= 4.5 * float(est.se) + 1e-6


def test_irrational_human_makes_the_incentive_negative_for_a_confident_robot():
    # a confident robot (small sigma) facing a noisy human loses by deferring ...
    assert float(osw.incentive(1.0, 0.1, 1.0)) < 0
    assert float(osw.incentive(-1.0, 0.1, 1.0)) < 0
    # ... while enough uncertainty restores deference
    assert float(osw.incentive(1.0, 5.0, 1.0)) > 0
    # limit sigma -> 0: Delta -> sigmoid(mu / beta) mu - max(mu, 0)
    mu, beta = 0.8, 0.5
    assert float(osw.incentive(mu, 1e-4, beta)) == pytest.approx(mu / (1 + np.exp(-mu / beta)) - mu, abs=1e-4)


def test_deference_threshold():
    mu, beta = 1.0, 1.0
    t = osw.deference_threshold(mu, beta)
    assert 0 < t < 100
    assert float(osw.incentive(mu, t * 1.01, beta)) >= 0 > float(osw.incentive(mu, t * 0.99, beta))
    assert osw.deference_threshold(mu, 0.0) == 0.0           # a rational human: any sigma
    assert osw.deference_threshold(mu, 2.0) > t               # a noisier human needs more uncertainty
    assert osw.deference_threshold(mu, 1.0, sigma_max=0.1) is None   # no sigma in the range searched


def test_best_action():
    names = np.array(osw.ACTIONS)
    assert names[int(osw.best_action(1.0, 0.0, 0.0))] == "wait"      # indifferent: defers
    assert names[int(osw.best_action(1.0, 0.1, 1.0))] == "act"
    assert names[int(osw.best_action(-1.0, 0.1, 1.0))] == "off"
    assert names[int(osw.best_action(0.0, 1.0, 0.0))] == "wait"


def test_human_policy():
    assert float(osw.human_policy(0.5, 0.0)) == 1.0 and float(osw.human_policy(-0.5, 0.0)) == 0.0
    assert float(osw.human_policy(0.0, 1.0)) == pytest.approx(0.5)
    assert float(osw.human_policy(2.0, 1.0)) == pytest.approx(1 / (1 + np.exp(-2.0)), rel=1e-6)


def test_bad_inputs():
    with pytest.raises(ValueError, match="sigma"):
        osw.incentive(0.0, -1.0)
    with pytest.raises(ValueError, match="beta"):
        osw.incentive(0.0, 1.0, -0.1)
    with pytest.raises(ValueError, match="mu"):
        osw.rational_incentive(float("nan"), 1.0)
    with pytest.raises(ValueError, match="key"):
        osw.incentive_mc(0, 0.0, 1.0)
    with pytest.raises(ValueError, match="samples"):
        osw.incentive_mc(jax.random.key(0), 0.0, 1.0, samples=1)
    with pytest.raises(ValueError, match="beta"):
        osw.deference_threshold(1.0, -1.0)
