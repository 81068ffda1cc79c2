"""Shared pieces of policy-gradient methods: advantage estimation and the actor-critic loss terms."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(rewards, values, last_value, dones, gamma: float, lam: float):
    """Generalized advantage estimation (Schulman et al. 2016, eq. 16) over a time-major rollout.

    rewards, values, dones: (T, ...); last_value: (...) bootstraps the step after the rollout.
    ``dones[t]`` marks that the episode ended at step t (no bootstrap through it).
    Returns (advantages, returns) with returns = advantages + values.
    """
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
    return (x - x.mean()) / (x.std() + eps)


def categorical_entropy(logits):
    """Entropy of a softmax distribution, logits: (..., n) -> (...)."""
    logp = jax.nn.log_softmax(logits)
    return -(jnp.exp(logp) * logp).sum(-1)
