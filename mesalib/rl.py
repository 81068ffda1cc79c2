"""Shared pieces of policy-gradient methods: advantage estimation and the actor-critic loss terms."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import validate


def gae(rewards, values, last_value, dones, gamma: float, lam: float):
    """Generalized advantage estimation (Schulman et al. 2016, eq. 16) over a time-major rollout.

    rewards, values, dones: (T, ...); last_value: (...) bootstraps the step after the rollout.
    ``dones[t]`` marks that the episode ended at step t (no bootstrap through it).
    Returns (advantages, returns) with returns = advantages + values.
    """
    shape = np.shape(rewards)
    if len(shape) < 1 or shape[0] == 0:
        raise ValueError(f"rewards must be time-major (T, ...) with T >= 1, got shape {shape}")
    for name, v in (("values", values), ("dones", dones)):
        if np.shape(v) != shape:
            raise ValueError(f"{name} must have the shape of rewards {shape}, got {np.shape(v)}")
    if np.shape(last_value) != shape[1:]:
        raise ValueError(f"last_value must have shape {shape[1:]} (rewards without the time axis), got "
                         f"{np.shape(last_value)}")
    if validate.concrete(gamma):
        validate.real("gamma", gamma, low=0.0, high=1.0)
    if validate.concrete(lam):
        validate.real("lam", lam, low=0.0, high=1.0)
    if validate.concrete(rewards, values, last_value):
        for name, v in (("rewards", rewards), ("values", values), ("last_value", last_value)):
            validate.array(name, v, allow_empty=True)

    def step(carry, inp):
        next_adv, next_value = carry
        r, v, d = inp
        not_done = 1.0 - d.astype(values.dtype)
        delta = r + gamma * next_value * not_done - v
        adv = delta + gamma * lam * not_done * next_adv
        return (adv, v), adv

    init = (jnp.zeros_like(last_value), last_value)
    _, adv = jax.lax.scan(step, init, (rewards, values, dones), reverse=True)
    return adv, adv + values


def normalize(x, eps: float = 1e-8):
    """Zero-mean, unit-variance over all entries (a common variance reducer for advantages)."""
    if validate.concrete(eps):
        validate.real("eps", eps, low=0.0, low_open=True, dtype=np.float32)
    if np.size(x) == 0:
        raise ValueError("x must not be empty")
    return (x - x.mean()) / (x.std() + eps)


def categorical_entropy(logits):
    """Entropy of a softmax distribution, logits: (..., n) -> (...).

    Logits must be finite: a masked action (-inf) would give 0 · (-inf) = NaN here, so outside
    jit it is rejected (mask with a large negative number such as -1e9 instead).
    """
    if np.ndim(logits) < 1 or np.shape(logits)[-1] == 0:
        raise ValueError(f"logits must have a last axis of at least one action, got shape {np.shape(logits)}")
    if validate.concrete(logits):
        validate.array("logits", logits)
    logp = jax.nn.log_softmax(logits)
    return -(jnp.exp(logp) * logp).sum(-1)
