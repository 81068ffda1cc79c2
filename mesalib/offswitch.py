"""The off-switch game (Hadfield-Menell, Dragan, Abbeel & Russell 2017).

A robot R is about to take an action ``a`` whose utility to the human H is ``U`` (R does not know
``U``; its belief is a distribution, here Gaussian ``N(mu, sigma^2)``). R can

* act now (``a``): expected utility ``E[U]``;
* switch itself off (``s``): utility 0;
* wait (``w(a)``): propose ``a`` and let H decide, H either lets ``a`` happen (utility ``U``) or
  presses the off switch (utility 0).

If H lets ``a`` happen with probability ``pi_H(U)``, waiting is worth ``E[pi_H(U) U]`` and R's
incentive to defer to H is

    Delta = E[pi_H(U) U] - max(E[U], 0).

A rational H lets ``a`` happen exactly when ``U >= 0``, so ``Delta = E[max(U, 0)] - max(E[U], 0)
>= 0`` (Jensen's inequality): R never loses by leaving the switch in H's hands, and gains strictly
when it is uncertain about the sign of ``U``. For the Gaussian belief,
``E[max(U, 0)] = mu Phi(mu / sigma) + sigma phi(mu / sigma)``. The paper also models a *noisily
rational* H, ``pi_H(U) = sigmoid(U / beta)`` (``beta`` = 0 is rational); then ``Delta`` can be
negative, and R prefers to act or switch itself off instead of deferring, unless its uncertainty
``sigma`` is large compared with ``beta``.

:func:`incentive` evaluates ``Delta`` exactly (closed form for a rational H, Gauss-Hermite
quadrature otherwise); :func:`incentive_mc` estimates it from samples of R's belief.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import stats as jstats

from mesalib import validate

ACTIONS = ("act", "wait", "off")
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(96)  # probabilists' Hermite: weight exp(-x^2/2)
_GH_WEIGHTS = _GH_WEIGHTS / np.sqrt(2 * np.pi)


def _check(mu, sigma, beta, names=("mu", "sigma", "beta")):
    """Host checks (skipped for tracers): finite numbers that fit float32, sigma and beta >= 0."""
    for name, v, low in zip(names, (mu, sigma, beta), (None, 0.0, 0.0)):
        if not validate.concrete(v):
            continue
        arr = validate.array(name, v, allow_empty=True, dtype=np.float32)
        if low is not None and arr.size and np.any(arr < low):
            raise ValueError(f"{name} must be >= {low}, got {v!r}"[:200])


def human_policy(u, beta=0.0):
    """Probability that H lets the action happen (does not press the switch), given its utility
    ``u``: ``sigmoid(u / beta)``; ``beta = 0`` is the rational H (1 if u >= 0 else 0)."""
    _check(u, 0.0, beta, names=("u", "sigma", "beta"))
    u = jnp.asarray(u, jnp.float32)
    beta = jnp.asarray(beta, jnp.float32)
    safe = jnp.where(beta > 0, beta, 1.0)
    return jnp.where(beta > 0, jax.nn.sigmoid(u / safe), (u >= 0).astype(jnp.float32))


def rational_incentive(mu, sigma):
    """Closed form of Delta for a rational H and belief N(mu, sigma^2):
    ``mu Phi(mu/sigma) + sigma phi(mu/sigma) - max(mu, 0)`` (0 when sigma = 0). Broadcasts."""
    _check(mu, sigma, 0.0)
    return _rational(*jnp.broadcast_arrays(jnp.asarray(mu, jnp.float32), jnp.asarray(sigma, jnp.float32)))


@jax.jit
def _rational(mu, sigma):
    safe = jnp.where(sigma > 0, sigma, 1.0)
    z = mu / safe
    e_pos = mu * jstats.norm.cdf(z) + safe * jstats.norm.pdf(z)
    return jnp.where(sigma > 0, e_pos, jnp.maximum(mu, 0.0)) - jnp.maximum(mu, 0.0)


@jax.jit
def _wait(mu, sigma, beta):
    rational = _rational(mu, sigma) + jnp.maximum(mu, 0.0)
    u = mu[..., None] + sigma[..., None] * jnp.asarray(_GH_NODES, jnp.float32)
    noisy = (jnp.asarray(_GH_WEIGHTS, jnp.float32) * human_policy(u, beta[..., None]) * u).sum(-1)
    return jnp.where(beta > 0, noisy, rational)


def _args(mu, sigma, beta):
    _check(mu, sigma, beta)
    return jnp.broadcast_arrays(*(jnp.asarray(x, jnp.float32) for x in (mu, sigma, beta)))


def wait_value(mu, sigma, beta=0.0):
    """E[pi_H(U) U] for U ~ N(mu, sigma^2): the value to R of deferring to H. Broadcasts."""
    return _wait(*_args(mu, sigma, beta))


def incentive(mu, sigma, beta=0.0):
    """Delta = E[pi_H(U) U] - max(E[U], 0): positive means R prefers to let H decide. Broadcasts
    over mu, sigma, beta (closed form for beta = 0, 96-node Gauss-Hermite quadrature otherwise)."""
    mu, sigma, beta = _args(mu, sigma, beta)
    return _wait(mu, sigma, beta) - jnp.maximum(mu, 0.0)


class Estimate(NamedTuple):
    """A Monte-Carlo estimate: mean and its standard error."""
    mean: jax.Array
    se: jax.Array


def incentive_mc(key, mu: float, sigma: float, beta: float = 0.0, samples: int = 100_000) -> Estimate:
    """Monte-Carlo Delta: draw U from R's belief and H's decision from pi_H, average the utility
    of what happens (U if H lets the action happen, 0 if H presses the switch), and subtract
    max(mu, 0). Only the wait value is sampled, so the standard error is that of its mean."""
    validate.prng_key("key", key)
    validate.real("mu", mu, dtype=np.float32)
    validate.real("sigma", sigma, low=0.0, dtype=np.float32)
    validate.real("beta", beta, low=0.0, dtype=np.float32)
    samples = validate.integer("samples", samples, minimum=2)
    mean, se = _mc(key, jnp.float32(mu), jnp.float32(sigma), jnp.float32(beta), samples)
    return Estimate(mean, se)


@functools.partial(jax.jit, static_argnums=(4,))
def _mc(key, mu, sigma, beta, samples):
    k_u, k_h = jax.random.split(key)
    u = mu + sigma * jax.random.normal(k_u, (samples,))
    allowed = jax.random.uniform(k_h, (samples,)) < human_policy(u, beta)
    outcome = jnp.where(allowed, u, 0.0)
    return outcome.mean() - jnp.maximum(mu, 0.0), outcome.std(ddof=1) / jnp.sqrt(samples)


def best_action(mu, sigma, beta=0.0):
    """R's best choice as an index into :data:`ACTIONS` ("act", "wait", "off"). Broadcasts.
    Ties go to waiting (the paper's robot defers when it is indifferent)."""
    mu, sigma, beta = _args(mu, sigma, beta)
    values = jnp.stack([mu, _wait(mu, sigma, beta), jnp.zeros_like(mu)], -1)
    best = jnp.argmax(values, axis=-1)
    return jnp.where(values[..., 1] >= values.max(-1) - 1e-6, 1, best)


def deference_threshold(mu: float, beta: float, sigma_max: float = 100.0) -> float | None:
    """The smallest belief spread sigma at which R (weakly) prefers to wait for an H of
    rationality ``beta``: Delta(mu, sigma, beta) >= 0 from there on. Returns 0 if any sigma
    does, and None if no sigma up to ``sigma_max`` does (R never defers in the range searched)."""
    validate.real("mu", mu)
    validate.real("beta", beta, low=0.0)
    validate.real("sigma_max", sigma_max, low=0.0, low_open=True)
    # Two vectorized passes: a log-spaced grid brackets the crossing, a fine grid inside the
    # bracket locates it (relative precision ~1e-6; Delta is assumed to cross zero once).
    grid = np.geomspace(1e-6, sigma_max, 4001)
    d = np.asarray(incentive(mu, grid, beta))
    if d[0] >= 0:
        return 0.0
    if d[-1] < 0:
        return None
    i = int(np.argmax(d >= 0))
    fine = np.linspace(grid[i - 1], grid[i], 4001)
    return float(fine[int(np.argmax(np.asarray(incentive(mu, fine, beta)) >= 0))])
