"""Certified training with interval bound propagation (IBP training; Gowal et al. 2018).

Gowal et al.'s contribution was not the bound (interval arithmetic is old) but training with it: the
loss mixes the ordinary cross-entropy with the cross-entropy of the *worst-case logits* that IBP
certifies over the eps-ball around each training point,

    loss = kappa * CE(f(x), y) + (1 - kappa) * CE(z_worst(x, eps), y),

where z_worst gives the true class 0 and every other class j the IBP upper bound of f_j - f_y over
the ball. eps ramps up from 0 to its final value and kappa down from 1 to its final value over the
first part of training, as in their schedule. The result is a network whose IBP bounds are tight
enough to certify: selection pressure toward verifiability.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mesalib import nn, train, validate
from mesalib.verify.bounds import ibp
from mesalib.verify.spec import fold


class IBPFitConfig(NamedTuple):
    """Full-batch AdamW with the IBP loss; eps and kappa ramp linearly over ``ramp`` of the steps."""
    hidden: tuple = (16, 16)
    steps: int = 3000
    learning_rate: float = 1e-2
    weight_decay: float = 1e-4
    eps: float = 0.3          # final training radius (L-infinity)
    kappa: float = 0.5        # final weight of the clean loss
    ramp: float = 0.5         # share of the steps over which eps and kappa ramp

    def validated(self) -> "IBPFitConfig":
        # the fields it shares with ordinary fitting are checked by train.FitConfig
        fit = train.FitConfig(self.hidden, self.steps, self.learning_rate, self.weight_decay).validated()
        validate.real("config.eps", self.eps, low=0.0)
        validate.real("config.kappa", self.kappa, low=0.0, high=1.0)
        validate.real("config.ramp", self.ramp, low=0.0, high=1.0, low_open=True)
        return self._replace(hidden=fit.hidden)


def worst_case_logits(params, x, y, eps, num_classes: int):
    """IBP's worst-case logits over the eps-ball around x (d,) for label y: (k,), 0 at y and, at j,
    an upper bound of f_j - f_y over the ball."""
    c = jnp.eye(num_classes)[y][None, :] - jnp.eye(num_classes)      # rows e_y - e_j: (k, k)
    lo, _ = ibp(fold(params, c, jnp.zeros(num_classes)), x - eps, x + eps)[-1]
    return -lo                                                        # row y is identically 0


@functools.lru_cache(maxsize=8)
def _ibp_step(config: IBPFitConfig, num_classes: int):
    opt = optax.adamw(config.learning_rate, weight_decay=config.weight_decay)
    ramp_steps = max(1.0, config.ramp * config.steps)

    def loss_fn(params, x, y, frac):
        eps, kappa = frac * config.eps, 1.0 - frac * (1.0 - config.kappa)
        onehot = jax.nn.one_hot(y, num_classes)
        clean = optax.softmax_cross_entropy(jax.vmap(lambda xi: nn.mlp_apply(params, xi))(x), onehot).mean()
        worst = jax.vmap(lambda xi, yi: worst_case_logits(params, xi, yi, eps, num_classes))(x, y)
        robust = optax.softmax_cross_entropy(worst, onehot).mean()
        return kappa * clean + (1.0 - kappa) * robust

    def step(carry):
        params, state, x, y, t = carry
        frac = jnp.minimum(t / ramp_steps, 1.0)
        loss, g = jax.value_and_grad(loss_fn)(params, x, y, frac)
        updates, state = opt.update(g, state, params)
        return (optax.apply_updates(params, updates), state, x, y, t + 1.0), loss

    return opt, step


def fit_ibp(key, x, labels, config: IBPFitConfig = IBPFitConfig(), progress: bool | str = False):
    """Train an MLP classifier with the IBP loss: x: (n, d), labels: (n,) ints.

    Returns (params, losses: (steps,)). The same initialisation as ``train.fit_mlp`` for the same key.
    """
    validate.prng_key("key", key)
    if not isinstance(config, IBPFitConfig):
        raise ValueError(f"config must be a verify.IBPFitConfig, got {type(config).__name__}")
    config = config.validated()
    x = jnp.asarray(validate.array("x", x, ndim=2, dtype=np.float32), jnp.float32)
    labels = validate.array("labels", labels, ndim=1, integer=True)
    if labels.shape[0] != x.shape[0] or labels.min() < 0:
        raise ValueError(f"labels must be (n,) non-negative class labels with n = {x.shape[0]}, got {labels.shape}")
    k = max(int(labels.max()) + 1, 2)
    params = nn.mlp_init(key, (x.shape[1], *config.hidden, k))
    opt, step = _ibp_step(config, k)
    carry = (params, opt.init(params), x, jnp.asarray(labels, jnp.int32), jnp.float32(0.0))
    (params, *_), losses = train.run(step, carry, config.steps, num_chunks=5, progress=progress)
    return params, losses
