"""Optimizers that build optimizers: unrolled meta-optimization, learned schedules and a learned optimizer.

A *service tree* in the sense of Comprehensive AI Services has three layers here:

* a **top service** (the developer) that trains an intermediary by gradient descent through
  unrolled training (:func:`make_schedule_train`, :func:`make_optimizer_train`, both
  :class:`mesalib.train.Trainer`\\ s);
* an **intermediary service**, an optimizer: a learning-rate schedule (:func:`schedule_sgd`) or a
  small learned per-parameter optimizer (:func:`learned_optimizer`), both ``optax``
  gradient transformations;
* **final services**, models trained by the intermediary on tasks from a :class:`TaskFamily`
  (:func:`train_final`).

:func:`develop` composes the three. The noisy quadratic model (NQM) of Wu, Ren, Liao & Grosse
(2018) is here with its closed-form dynamics (:func:`nqm_step`), the greedy schedule of their
analysis (:func:`greedy_schedule`), the one-dimensional optimum in closed form
(:func:`optimal_schedule_1d`) and a float64 reference for the full-horizon optimum
(:func:`optimal_schedule`).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.optimize

from mesalib import nn, train, validate

# ============================================================================ the noisy quadratic model


class NQMConfig(NamedTuple):
    """A noisy quadratic model: curvatures ``h_i = i**-exponent`` (i = 1..dim), gradient-noise
    variance ``noise`` per coordinate, initial second moment ``init`` per coordinate.

    The stochastic loss at a step is ``0.5 * sum_i h_i (theta_i - c_i)**2`` with a fresh
    ``c_i ~ N(0, noise)``; its expectation is minimized at ``theta = 0``.
    """
    dim: int = 1000
    noise: float = 1.0
    init: float = 1.0
    exponent: float = 1.0


class NQM(NamedTuple):
    """The model's arrays, all ``(dim,)``: curvature ``h``, noise variance ``noise``, initial
    second moment ``s0 = E[theta_0**2]``."""
    h: jax.Array
    noise: jax.Array
    s0: jax.Array


def nqm(config: NQMConfig = NQMConfig(), dtype=jnp.float32) -> NQM:
    """The arrays of the model described by ``config``."""
    dim = validate.integer("dim", config.dim, minimum=1)
    fp = np.dtype(dtype) if np.issubdtype(np.dtype(dtype), np.floating) else None
    noise = validate.real("noise", config.noise, low=0.0, dtype=fp)
    init = validate.real("init", config.init, low=0.0, low_open=True, dtype=fp)
    exponent = validate.real("exponent", config.exponent, low=0.0)
    if fp is not None and dim > 1 and exponent * np.log(dim) > -np.log(float(np.finfo(fp).tiny)):
        raise ValueError(f"exponent = {exponent:g} makes the smallest curvature dim**-exponent = {dim}**-{exponent:g} "
                         f"underflow {fp.name} (smallest normal {np.finfo(fp).tiny:.3g})")
    h = np.arange(1, dim + 1, dtype=np.float64) ** -exponent
    return NQM(jnp.asarray(h, dtype), jnp.full((dim,), noise, dtype), jnp.full((dim,), init, dtype))


def nqm_loss(model: NQM, s) -> jax.Array:
    """Expected loss above its floor, ``0.5 * sum_i h_i s_i``, for second moments ``s: (..., dim)``.

    (The floor ``0.5 * sum_i h_i noise_i`` is what even ``theta = 0`` pays on a fresh draw.)
    """
    if validate.concrete(s):
        arr = validate.array("s", s, min_ndim=1, low=0.0)
        if arr.shape[-1] != np.shape(model.h)[0]:
            raise ValueError(f"s must have shape (..., {np.shape(model.h)[0]}) (one second moment per coordinate), "
                             f"got {arr.shape}")
    return 0.5 * jnp.sum(model.h * s, axis=-1)


def nqm_step(model: NQM, s, lr) -> jax.Array:
    """One SGD step on the NQM in closed form: ``s' = (1 - lr h)**2 s + lr**2 h**2 noise``.

    With ``g_i = h_i (theta_i - c_i)`` the update ``theta - lr g`` multiplies the mean by
    ``1 - lr h_i`` and adds ``lr**2 h_i**2 noise_i`` to the variance (Wu et al. 2018, SGD case);
    only the second moment ``s = mean**2 + variance`` enters the expected loss.
    """
    return (1.0 - lr * model.h) ** 2 * s + lr ** 2 * model.h ** 2 * model.noise


def nqm_unroll(model: NQM, lrs) -> jax.Array:
    """Expected loss after each of the steps of schedule ``lrs: (T,)``; returns ``(T,)``."""
    if validate.concrete(lrs):
        validate.array("lrs", lrs, ndim=1, low=0.0, dtype=np.float32)
    def step(s, lr):
        s = nqm_step(model, s, lr)
        return s, nqm_loss(model, s)
    return jax.lax.scan(step, model.s0, jnp.asarray(lrs, model.h.dtype))[1]


def greedy_lr(model: NQM, s) -> jax.Array:
    """The step size that minimizes the expected loss one step ahead from second moments ``s``:
    ``sum h**2 s / sum h**3 (s + noise)`` (set the derivative of ``nqm_loss(nqm_step(s, lr))`` to 0)."""
    return jnp.sum(model.h ** 2 * s) / jnp.sum(model.h ** 3 * (s + model.noise))


def greedy_schedule(model: NQM, num_steps: int):
    """The greedy (one-step-optimal) schedule in closed form; returns ``(lrs, losses)``, each ``(T,)``."""
    num_steps = validate.integer("num_steps", num_steps, minimum=1)
    return _greedy(model, num_steps)


@functools.partial(jax.jit, static_argnums=1)
def _greedy(model, num_steps):
    def step(s, _):
        lr = greedy_lr(model, s)
        s = nqm_step(model, s, lr)
        return s, (lr, nqm_loss(model, s))
    return jax.lax.scan(step, model.s0, None, length=num_steps)[1]


def optimal_schedule_1d(h: float, noise: float, s0: float, num_steps: int) -> np.ndarray:
    """The optimal schedule of a one-dimensional NQM, in closed form (float64, ``(T,)``).

    In one dimension the best next second moment ``s noise / (s + noise)`` increases with ``s``,
    so dynamic programming makes the greedy choice optimal at every horizon; then
    ``1/s_t = 1/s0 + t/noise`` and ``lr_t = 1 / (h (1 + t + noise/s0))``, a 1/t decay.
    """
    h = validate.real("h", h, low=0.0, low_open=True)
    noise = validate.real("noise", noise, low=0.0)
    s0 = validate.real("s0", s0, low=0.0, low_open=True)
    num_steps = validate.integer("num_steps", num_steps, minimum=1)
    return 1.0 / (h * (1.0 + np.arange(num_steps) + noise / s0))


def optimal_schedule(model: NQM, num_steps: int, max_lr: float | None = None, iters: int = 1000) -> np.ndarray:
    """The full-horizon optimum: the schedule ``(T,)`` (float64) that minimizes the expected loss
    after all ``num_steps`` steps, each step size in ``(0, max_lr]``.

    No closed form exists beyond one dimension (:func:`optimal_schedule_1d`), so this is a
    numerical reference: ``scipy.optimize.minimize`` (L-BFGS-B, at most ``iters`` iterations) on
    the closed-form dynamics in float64, with exact gradients from JAX. It searches over
    ``log lr_t <= log max_lr``, because the optimum spans orders of magnitude (the largest stable
    step for most of training, then a decay), and starts from the constant schedule ``max_lr / 2``
    (starting from the greedy schedule, L-BFGS crawls along a plateau for thousands of
    iterations). ``max_lr`` defaults to ``2 / max h``, the stability limit.
    """
    if not isinstance(model, NQM):
        raise ValueError(f"model must be a metaopt.NQM (see metaopt.nqm), got {type(model).__name__}")
    num_steps = validate.integer("num_steps", num_steps, minimum=1)
    iters = validate.integer("iters", iters, minimum=1)
    h = np.asarray(model.h, np.float64)
    max_lr = 2.0 / h.max() if max_lr is None else validate.real("max_lr", max_lr, low=0.0, low_open=True)
    start = np.full(num_steps, np.log(max_lr / 2.0))
    with jax.enable_x64(True):
        model64 = NQM(*(jnp.asarray(np.asarray(a), jnp.float64) for a in model))
        value_and_grad = _optimal_objective(model64)
        scale = 1.0 / max(float(value_and_grad(jnp.asarray(start))[0]), 1e-300)

        def fun(z):
            v, g = value_and_grad(jnp.asarray(z))
            return float(v) * scale, np.asarray(g, np.float64) * scale

        res = scipy.optimize.minimize(fun, start, jac=True, method="L-BFGS-B", bounds=[(None, np.log(max_lr))] * num_steps,
                                      options={"maxiter": iters, "ftol": 1e-15, "gtol": 1e-12})
    return np.exp(res.x)


def _optimal_objective(model64: NQM):
    """Value and gradient of the final expected loss in log step sizes (float64, compiled per call)."""
    return jax.jit(jax.value_and_grad(lambda z: nqm_unroll(model64, jnp.exp(z))[-1]))


def horizon_objective(model: NQM, lrs, horizon) -> jax.Array:
    """The meta-objective of a top service that unrolls ``horizon`` steps at a time.

    Training is cut into windows of ``horizon`` steps; each window's step sizes are judged by the
    expected loss at the window's end, starting from where the schedule so far left the model
    (``stop_gradient``: a window cannot buy a better start). ``horizon = T`` is the true
    objective (loss after all ``T`` steps); ``horizon = 1`` is the greedy objective. ``horizon`` may
    be a traced integer, so horizons are a ``vmap`` axis.
    """
    if validate.concrete(lrs, horizon):
        validate.array("lrs", lrs, ndim=1, low=0.0, dtype=np.float32)
        validate.integer("horizon", horizon, minimum=1, maximum=np.shape(lrs)[0])
    lrs = jnp.asarray(lrs)
    t = jnp.arange(lrs.shape[0])
    start = t % horizon == 0
    end = ((t + 1) % horizon == 0) | (t == lrs.shape[0] - 1)

    def step(s, x):
        lr, st, en = x
        s = jnp.where(st, jax.lax.stop_gradient(s), s)
        s = nqm_step(model, s, lr)
        return s, jnp.where(en, nqm_loss(model, s), 0.0)

    return jax.lax.scan(step, model.s0, (lrs, start, end))[1].sum()


# ============================================================================ a learned schedule (intermediary)


class ScheduleConfig(NamedTuple):
    """A learning-rate schedule with one free step size per step, ``lr_t = max_lr * sigmoid(u_t)``,
    trained by Adam (``meta_lr``) on :func:`horizon_objective` for ``num_updates`` updates.

    ``max_lr``: None means ``2 / max h`` (no schedule can then diverge); ``init_lr`` is every
    step's size before training.
    """
    nqm: NQMConfig = NQMConfig()
    num_steps: int = 1000
    num_updates: int = 1000
    meta_lr: float = 0.05
    init_lr: float = 0.5
    max_lr: float | None = None


class ScheduleState(NamedTuple):
    u: jax.Array           # (T,) free parameters of the schedule
    opt_state: Any
    horizon: jax.Array     # () int32: the top service's unroll length


def _max_lr(config: ScheduleConfig, model: NQM) -> float:
    return float(2.0 / np.max(np.asarray(model.h))) if config.max_lr is None else float(config.max_lr)


def schedule_lrs(u, max_lr: float) -> jax.Array:
    """Step sizes ``max_lr * sigmoid(u)`` of schedule parameters ``u: (T,)``."""
    if validate.concrete(max_lr):
        validate.real("max_lr", max_lr, low=0.0, low_open=True, dtype=np.float32)
    return max_lr * jax.nn.sigmoid(u)


def _check_schedule_config(config: ScheduleConfig):
    if not isinstance(config, ScheduleConfig):
        raise ValueError(f"config must be a metaopt.ScheduleConfig, got {type(config).__name__}")
    validate.integer("num_steps", config.num_steps, minimum=1)
    validate.integer("num_updates", config.num_updates, minimum=1)
    validate.real("meta_lr", config.meta_lr, low=0.0, low_open=True)
    if config.max_lr is not None:
        validate.real("max_lr", config.max_lr, low=0.0, low_open=True)
    nqm(config.nqm)  # validates the model's fields


def make_schedule_train(config: ScheduleConfig = ScheduleConfig()) -> train.Trainer:
    """The top service for a schedule: ``init(key, horizon)``, ``update`` = one Adam step on the
    exact gradient of :func:`horizon_objective`. Metrics: ``objective`` (the horizon objective)
    and ``final_loss`` (expected loss after all ``num_steps``, the true objective)."""
    _check_schedule_config(config)
    return _make_schedule_train(config)


@functools.lru_cache(maxsize=16)
def _make_schedule_train(config: ScheduleConfig) -> train.Trainer:
    model = nqm(config.nqm)
    max_lr = _max_lr(config, model)
    opt = optax.adam(config.meta_lr)
    u0 = float(np.log(config.init_lr / (max_lr - config.init_lr)))

    def init(key, horizon):
        del key  # the closed-form objective is deterministic
        u = jnp.full((config.num_steps,), u0, jnp.float32)
        return ScheduleState(u, opt.init(u), jnp.asarray(horizon, jnp.int32))

    def objective(u, horizon):
        return horizon_objective(model, schedule_lrs(u, max_lr), horizon)

    def update(state):
        value, grad = jax.value_and_grad(objective)(state.u, state.horizon)
        updates, opt_state = opt.update(grad, state.opt_state)
        u = optax.apply_updates(state.u, updates)
        final = nqm_unroll(model, schedule_lrs(u, max_lr))[-1]
        return ScheduleState(u, opt_state, state.horizon), {"objective": value, "final_loss": final}

    return train.Trainer(init, update, config.num_updates)


def schedule_sgd(lrs) -> optax.GradientTransformation:
    """Plain SGD that follows the schedule ``lrs: (T,)`` (the last step size after ``T`` steps)."""
    lrs = jnp.asarray(lrs)
    if lrs.ndim != 1 or lrs.shape[0] == 0:
        raise ValueError(f"lrs must be a non-empty 1-D array of step sizes, got shape {lrs.shape}")
    return optax.sgd(lambda count: lrs[jnp.minimum(count, lrs.shape[0] - 1)])


# ============================================================================ task families (final services)


class TaskFamily(NamedTuple):
    """A distribution over training tasks for final services, as four pure functions.

    ``sample(key, n) -> tasks`` (a pytree with leading axis n); ``init(key, task) -> params``;
    ``loss(params, task, key) -> scalar`` (the stochastic training loss, what the optimizer sees);
    ``evaluate(params, task) -> scalar`` (the true loss a final service is judged by).
    """
    sample: Callable
    init: Callable
    loss: Callable
    evaluate: Callable


def nqm_family(config: NQMConfig = NQMConfig()) -> TaskFamily:
    """The NQM as a task family: one task, ``theta_0 ~ N(0, init)``, fresh noise at every step;
    ``evaluate`` is the loss above the floor, ``0.5 sum h theta**2``."""
    return _nqm_family(config)


@functools.lru_cache(maxsize=16)
def _nqm_family(config: NQMConfig) -> TaskFamily:
    model = nqm(config)

    def sample(key, n):
        return jnp.zeros((n,))

    def init(key, task):
        return jnp.sqrt(model.s0) * jax.random.normal(key, model.h.shape)

    def loss(theta, task, key):
        c = jnp.sqrt(model.noise) * jax.random.normal(key, model.h.shape)
        return 0.5 * jnp.sum(model.h * (theta - c) ** 2)

    def evaluate(theta, task):
        return 0.5 * jnp.sum(model.h * theta ** 2)

    return TaskFamily(sample, init, loss, evaluate)


class RegressionConfig(NamedTuple):
    """Least squares on ``points`` examples: ``x ~ N(0, input_scale**2 I_dim)``, ``w* ~ N(0, I)``,
    ``y = x w* + noise * N(0, 1)``; full-batch loss ``0.5 mean (x w - y)**2`` from ``w = 0``.
    The Hessian is ``x^T x / points``, so ``input_scale`` sets the curvature (its square)."""
    dim: int = 10
    points: int = 32
    input_scale: float = 1.0
    noise: float = 0.1


def regression_family(config: RegressionConfig = RegressionConfig()) -> TaskFamily:
    """A family of random least-squares tasks (see :class:`RegressionConfig`)."""
    validate.integer("dim", config.dim, minimum=1)
    validate.integer("points", config.points, minimum=1)
    validate.real("input_scale", config.input_scale, low=0.0, low_open=True)
    validate.real("noise", config.noise, low=0.0)
    return _regression_family(config)


def rescale_inputs(tasks, scale: float):
    """Regression tasks ``(x, y)`` with the inputs multiplied by ``scale`` and the targets kept:
    the same data in other units. The Hessian scales by ``scale**2``, the solution by ``1/scale``."""
    scale = validate.real("scale", scale, low=0.0, low_open=True, dtype=np.float32)
    x, y = tasks
    return x * scale, y


def _regression_init(key, task):
    return jnp.zeros(task[0].shape[-1:], task[0].dtype)


def _regression_evaluate(w, task):
    x, y = task
    return 0.5 * jnp.mean((x @ w - y) ** 2)


def _regression_loss(w, task, key):
    return _regression_evaluate(w, task)


@functools.lru_cache(maxsize=32)
def _regression_family(config: RegressionConfig) -> TaskFamily:
    # init, loss and evaluate do not depend on the config, so every regression family shares one
    # compiled deployment (train_final passes the family without its sampler to jit)
    def sample(key, n):
        kx, kw, ke = jax.random.split(key, 3)
        x = config.input_scale * jax.random.normal(kx, (n, config.points, config.dim))
        w = jax.random.normal(kw, (n, config.dim))
        y = jnp.einsum("npd,nd->np", x, w) + config.noise * jax.random.normal(ke, (n, config.points))
        return x, y

    return TaskFamily(sample, _regression_init, _regression_loss, _regression_evaluate)


def _check_family(family):
    if not isinstance(family, TaskFamily):
        raise ValueError(f"family must be a metaopt.TaskFamily, got {type(family).__name__}")


def _inner(opt, family, task, key, num_steps):
    """Train one final service for ``num_steps``: returns the true loss before and after each step ``(T + 1,)``."""
    k_init, k_steps = jax.random.split(key)
    params = family.init(k_init, task)
    loss0 = family.evaluate(params, task)

    def step(carry, k):
        params, opt_state = carry
        grads = jax.grad(family.loss)(params, task, k)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), family.evaluate(params, task)

    _, losses = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(k_steps, num_steps))
    return jnp.concatenate([loss0[None], losses])


def unrolled_losses(key, opt: optax.GradientTransformation, family: TaskFamily, tasks, num_steps: int):
    """Train one final service per task with ``opt`` for ``num_steps`` steps, differentiably.

    ``tasks``: a pytree with a leading task axis (from ``family.sample``). Returns the true losses
    ``(tasks, num_steps + 1)`` (column 0 before training). Gradients flow through every step, so a
    top service can differentiate a meta-objective built from these losses with respect to
    whatever parameters ``opt`` closes over (the *unrolled meta-gradient*).
    """
    n = jax.tree_util.tree_leaves(tasks)[0].shape[0]
    return jax.vmap(lambda t, k: _inner(opt, family, t, k, num_steps))(tasks, jax.random.split(key, n))


def train_final(key, make_opt: Callable[[Any], optax.GradientTransformation], meta_params,
                family: TaskFamily, num_tasks: int, num_steps: int):
    """Deploy an intermediary: sample ``num_tasks`` tasks from ``family`` and train one final
    service on each for ``num_steps`` steps with the optimizer ``make_opt(meta_params)``.

    ``make_opt`` is a fixed function (e.g. :func:`adam`, :func:`schedule_sgd`, or
    :func:`learned_optimizer_factory`'s result) and ``meta_params`` its traced argument (a step
    size, a schedule, a network); the tasks are traced too, so new intermediaries and families
    that share their loss functions reuse one compiled program.
    Returns losses ``(num_tasks, num_steps + 1)``.
    """
    validate.prng_key("key", key)
    _check_deploy(make_opt, family)
    num_tasks = validate.integer("num_tasks", num_tasks, minimum=1)
    num_steps = validate.integer("num_steps", num_steps, minimum=1)
    k_tasks, k_train = jax.random.split(key)
    return _deploy(k_train, make_opt, meta_params, family._replace(sample=None),
                   _sample(k_tasks, family.sample, num_tasks), num_steps)


def _check_deploy(make_opt, family):
    if not callable(make_opt):
        raise ValueError(f"make_opt must be a function meta_params -> optax.GradientTransformation, got {make_opt!r}")
    _check_family(family)


@functools.partial(jax.jit, static_argnums=(1, 3, 5))
def _deploy(key, make_opt, meta_params, family, tasks, num_steps):
    return unrolled_losses(key, make_opt(meta_params), family, tasks, num_steps)


def sample_seeds(keys, family: TaskFamily, num_tasks: int):
    """``num_tasks`` tasks of ``family`` per key: a pytree with leading axes ``(seeds, num_tasks)``."""
    keys = validate.key_batch("keys", keys)
    _check_family(family)
    num_tasks = validate.integer("num_tasks", num_tasks, minimum=1)
    return _sample_seeds(keys, family.sample, num_tasks)


def deploy_seeds(keys, make_opt: Callable[[Any], optax.GradientTransformation], meta_params,
                 family: TaskFamily, tasks, num_steps: int):
    """Train final services on given ``tasks`` (leading axes ``(seeds, tasks)``) with intermediary
    ``make_opt(meta_params[i])`` for seed ``i``, all in one compiled program (per ``make_opt``,
    loss functions, shapes and ``num_steps``). Returns losses ``(seeds, tasks, num_steps + 1)``."""
    keys = validate.key_batch("keys", keys)
    _check_deploy(make_opt, family)
    for name, tree in (("meta_params", meta_params), ("tasks", tasks)):
        for i, leaf in enumerate(jax.tree_util.tree_leaves(tree)):
            if np.ndim(leaf) == 0 or np.shape(leaf)[0] != keys.shape[0]:
                raise ValueError(f"every leaf of {name} needs a leading axis of length {keys.shape[0]} (one per key); "
                                 f"leaf {i} has shape {np.shape(leaf)}")
    num_steps = validate.integer("num_steps", num_steps, minimum=1)
    return _deploy_seeds(keys, make_opt, meta_params, family._replace(sample=None), tasks, num_steps)


def train_final_seeds(keys, make_opt: Callable[[Any], optax.GradientTransformation], meta_params,
                      family: TaskFamily, num_tasks: int, num_steps: int):
    """:func:`train_final` for many intermediaries at once: ``keys: (seeds,)`` and ``meta_params``
    with a leading seed axis; fresh tasks per seed. Returns ``(seeds, num_tasks, num_steps + 1)``."""
    keys = validate.key_batch("keys", keys)
    split = jax.vmap(jax.random.split)(keys)
    tasks = sample_seeds(split[:, 0], family, num_tasks)
    return deploy_seeds(split[:, 1], make_opt, meta_params, family, tasks, num_steps)


@functools.partial(jax.jit, static_argnums=(1, 3, 5))
def _deploy_seeds(keys, make_opt, meta_params, family, tasks, num_steps):
    return jax.vmap(lambda k, m, t: unrolled_losses(k, make_opt(m), family, t, num_steps))(keys, meta_params, tasks)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _sample_seeds(keys, sample, num_tasks):
    return jax.vmap(lambda k: sample(k, num_tasks))(keys)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _sample(key, sample, num_tasks):
    return sample(key, num_tasks)


@functools.partial(jax.jit, static_argnums=(1, 3, 5))
def _deploy_seeds(keys, make_opt, meta_params, family, tasks, num_steps):
    return jax.vmap(lambda k, m, t: unrolled_losses(k, make_opt(m), family, t, num_steps))(keys, meta_params, tasks)


def sgd(lr) -> optax.GradientTransformation:
    """Plain SGD with step size ``lr`` (may be traced)."""
    if validate.concrete(lr):
        validate.real("lr", lr, low=0.0, low_open=True, dtype=np.float32)
    return optax.sgd(lr)


def adam(lr) -> optax.GradientTransformation:
    """Adam (Kingma & Ba 2015) with step size ``lr`` (may be traced) and optax's other defaults."""
    if validate.concrete(lr):
        validate.real("lr", lr, low=0.0, low_open=True, dtype=np.float32)
    return optax.adam(lr)


# ============================================================================ a learned optimizer (intermediary)


class LearnedOptimizerConfig(NamedTuple):
    """Architecture of the learned optimizer: each coordinate's update is
    ``-step_scale * MLP(g, m_b1, m_b2, ...)`` with momenta ``m_b`` at decays ``betas`` and
    ``hidden`` ReLU units in each of two hidden layers (one small network shared by all coordinates)."""
    hidden: int = 16
    betas: tuple = (0.5, 0.9, 0.99)
    step_scale: float = 0.1


class LearnedOptimizerState(NamedTuple):
    momenta: Any        # like params, each leaf with a trailing axis of len(betas)
    count: jax.Array    # () int32 steps taken


def _check_lo_config(config: LearnedOptimizerConfig):
    if not isinstance(config, LearnedOptimizerConfig):
        raise ValueError(f"config must be a metaopt.LearnedOptimizerConfig, got {type(config).__name__}")
    validate.integer("hidden", config.hidden, minimum=1)
    if not isinstance(config.betas, tuple) or not config.betas:
        raise ValueError(f"betas must be a non-empty tuple of decays in [0, 1), got {config.betas!r}")
    for i, b in enumerate(config.betas):
        validate.real(f"betas[{i}]", b, low=0.0, high=1.0, high_open=True)
    validate.real("step_scale", config.step_scale, low=0.0, low_open=True)


def learned_optimizer_init(key, config: LearnedOptimizerConfig = LearnedOptimizerConfig()) -> list:
    """Parameters of the learned optimizer's network; the last layer starts near zero (tiny steps)."""
    validate.prng_key("key", key)
    _check_lo_config(config)
    params = nn.mlp_init(key, (1 + len(config.betas), config.hidden, config.hidden, 1))
    params[-1] = {"w": 0.01 * params[-1]["w"], "b": params[-1]["b"]}
    return params


def learned_optimizer(theta, config: LearnedOptimizerConfig = LearnedOptimizerConfig()) -> optax.GradientTransformation:
    """The learned optimizer with network parameters ``theta`` as an ``optax.GradientTransformation``.

    Ours, in the spirit of Andrychowicz et al. (2016): their optimizer is a coordinatewise LSTM fed
    (preprocessed) gradients; ours is a coordinatewise MLP fed the raw gradient and its momenta
    at several decays (features like those of Metz et al. 2019), with no gradient normalization.
    ``init(params)`` and ``update(grads, state, params=None)`` follow optax's contract.
    """
    _check_lo_config(config)
    betas = jnp.asarray(config.betas)

    def init(params):
        momenta = jax.tree_util.tree_map(lambda p: jnp.zeros(p.shape + (len(config.betas),), p.dtype), params)
        return LearnedOptimizerState(momenta, jnp.zeros((), jnp.int32))

    def update(grads, state, params=None):
        del params
        momenta = jax.tree_util.tree_map(lambda m, g: betas.astype(g.dtype) * m + (1 - betas.astype(g.dtype)) * g[..., None],
                                         state.momenta, grads)

        def one(g, m):
            feats = jnp.concatenate([g[..., None], m], axis=-1)
            out = nn.mlp_apply(theta, feats)[..., 0]   # matmuls broadcast over the coordinates
            return (-config.step_scale * out).astype(g.dtype)

        updates = jax.tree_util.tree_map(one, grads, momenta)
        return updates, LearnedOptimizerState(momenta, state.count + 1)

    return optax.GradientTransformation(init, update)


def learned_optimizer_factory(config: LearnedOptimizerConfig = LearnedOptimizerConfig()) -> Callable:
    """``theta -> learned_optimizer(theta, config)``, the same function object for the same config
    (so :func:`train_final` compiles once per architecture, not once per trained network)."""
    _check_lo_config(config)
    return _factory(config)


@functools.lru_cache(maxsize=16)
def _factory(config):
    return lambda theta: learned_optimizer(theta, config)


def effective_lr(theta, config: LearnedOptimizerConfig = LearnedOptimizerConfig(), grad_range: float = 0.1,
                 points: int = 41) -> float:
    """A linear probe of the learned rule: the least-squares slope of ``-update`` against ``g``
    when the gradient has been constant (every momentum equals ``g``), for ``|g| <= grad_range``.

    Plain gradient descent with step ``a`` has slope ``a``; on a quadratic whose largest
    curvature is ``L`` it diverges once ``a L > 2``.
    """
    _check_lo_config(config)
    grad_range = validate.real("grad_range", grad_range, low=0.0, low_open=True)
    points = validate.integer("points", points, minimum=3)
    g = np.linspace(-grad_range, grad_range, points)
    feats = jnp.asarray(np.repeat(g[:, None], 1 + len(config.betas), axis=1), jnp.float32)
    step = -config.step_scale * np.asarray(jax.vmap(lambda f: nn.mlp_apply(theta, f)[0])(feats), np.float64)
    return float(-np.polyfit(g, step, 1)[0])


class OptimizerTrainConfig(NamedTuple):
    """The top service for the learned optimizer: ``num_updates`` Adam steps (``meta_lr``,
    gradients clipped to norm ``clip``) on the mean log loss ratio over an ``unroll``-step
    training run of ``tasks_per_update`` fresh tasks from ``family``."""
    family: RegressionConfig = RegressionConfig()
    optimizer: LearnedOptimizerConfig = LearnedOptimizerConfig()
    num_updates: int = 200
    tasks_per_update: int = 8
    unroll: int = 30
    meta_lr: float = 3e-3
    clip: float = 1.0


class OptimizerTrainState(NamedTuple):
    theta: Any
    opt_state: Any
    key: jax.Array


LOSS_CAP = 1e3  # a loss ratio above this counts as diverged; the meta-objective clips there


def meta_objective(losses) -> jax.Array:
    """Mean over tasks and steps of ``log(loss_t / loss_0)``, with ratios capped at :data:`LOSS_CAP`."""
    ratio = losses[:, 1:] / losses[:, :1]
    return jnp.mean(jnp.log(jnp.minimum(ratio, LOSS_CAP) + 1e-12))


def make_optimizer_train(config: OptimizerTrainConfig = OptimizerTrainConfig()) -> train.Trainer:
    """The top service that meta-trains :func:`learned_optimizer` by unrolled meta-gradients.
    ``init(key)``; metrics: ``objective`` (the meta-objective on that update's tasks)."""
    if not isinstance(config, OptimizerTrainConfig):
        raise ValueError(f"config must be a metaopt.OptimizerTrainConfig, got {type(config).__name__}")
    _check_lo_config(config.optimizer)
    regression_family(config.family)
    for name in ("num_updates", "tasks_per_update", "unroll"):
        validate.integer(name, getattr(config, name), minimum=1)
    validate.real("meta_lr", config.meta_lr, low=0.0, low_open=True)
    validate.real("clip", config.clip, low=0.0, low_open=True)
    return _make_optimizer_train(config)


@functools.lru_cache(maxsize=16)
def _make_optimizer_train(config: OptimizerTrainConfig) -> train.Trainer:
    family = regression_family(config.family)
    meta_opt = optax.chain(optax.clip_by_global_norm(config.clip), optax.adam(config.meta_lr))

    def objective(theta, key):
        k_tasks, k_train = jax.random.split(key)
        tasks = family.sample(k_tasks, config.tasks_per_update)
        losses = unrolled_losses(k_train, learned_optimizer(theta, config.optimizer), family, tasks, config.unroll)
        return meta_objective(losses)

    def init(key):
        k_theta, k_run = jax.random.split(key)
        theta = learned_optimizer_init(k_theta, config.optimizer)
        return OptimizerTrainState(theta, meta_opt.init(theta), k_run)

    def update(state):
        key, k = jax.random.split(state.key)
        value, grad = jax.value_and_grad(objective)(state.theta, k)
        updates, opt_state = meta_opt.update(grad, state.opt_state, state.theta)
        return OptimizerTrainState(optax.apply_updates(state.theta, updates), opt_state, key), {"objective": value}

    return train.Trainer(init, update, config.num_updates)


def best_learning_rate(key, make_opt: Callable[[Any], optax.GradientTransformation], family: TaskFamily,
                       lrs, num_tasks: int, num_steps: int) -> float:
    """The step size in ``lrs`` whose optimizer ``make_opt(lr)`` reaches the lowest mean log final
    loss ratio on the same ``num_tasks`` tasks of ``family`` (how a developer tunes a
    hand-designed optimizer). All step sizes run in one compiled program."""
    validate.prng_key("key", key)
    lrs = [validate.real(f"lrs[{i}]", lr, low=0.0, low_open=True) for i, lr in enumerate(lrs)]
    if not lrs:
        raise ValueError("lrs must list at least one step size")
    keys = jax.random.split(key, 1)[jnp.zeros(len(lrs), jnp.int32)]   # the same tasks for every step size
    losses = train_final_seeds(keys, make_opt, jnp.asarray(lrs, jnp.float32), family, num_tasks, num_steps)
    return lrs[int(np.argmin(log_ratio(losses).mean(-1)))]


def final_score(losses) -> float:
    """Mean over tasks of ``log10(final loss / initial loss)``, capped at ``log10(LOSS_CAP)``
    (a diverged or non-finite run counts as the cap). ``losses: (..., tasks, steps + 1)``."""
    return float(np.mean(log_ratio(losses)))


def log_ratio(losses) -> np.ndarray:
    """``log10(final / initial loss)`` per task, capped at ``log10(LOSS_CAP)`` (NaN and inf count as the cap)."""
    losses = np.asarray(losses, np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = losses[..., -1] / losses[..., 0]
    ratio = np.where(np.isfinite(ratio), np.minimum(ratio, LOSS_CAP), LOSS_CAP)
    return np.log10(np.maximum(ratio, 1e-30))


# ============================================================================ the service tree


class Developed(NamedTuple):
    """What :func:`develop` returns: the trained intermediaries (leading seed axis), the top
    service's metrics ``(updates, seeds)``, and the final services' losses ``(seeds, tasks, steps + 1)``."""
    intermediary: Any
    metrics: dict
    final_losses: np.ndarray
    seconds: float


def develop(key, top: train.Trainer, seeds: int, make_opt: Callable[[Any], optax.GradientTransformation],
            to_meta_params: Callable[[Any], Any], family: TaskFamily, num_tasks: int, num_steps: int, *data,
            progress: bool | str = False) -> Developed:
    """One pass down a service tree: the top service trains ``seeds`` intermediaries
    (``train.train_seeds``); intermediary ``i`` becomes the optimizer
    ``make_opt(to_meta_params(state_i))``, which trains ``num_tasks`` final services on fresh
    tasks from ``family`` for ``num_steps`` steps each.

    ``data``: per-seed inputs to ``top.init`` (e.g. the unroll horizon of each run).
    """
    validate.prng_key("key", key)
    seeds = validate.integer("seeds", seeds, minimum=1)
    _check_family(family)
    if not (callable(make_opt) and callable(to_meta_params)):
        raise ValueError("make_opt and to_meta_params must be functions")
    k_top, k_final = jax.random.split(key)
    out = train.train_seeds(top, jax.random.split(k_top, seeds), *data, progress=progress)
    meta = jax.vmap(to_meta_params)(out.state)
    finals = train_final_seeds(jax.random.split(k_final, seeds), make_opt, meta, family, num_tasks, num_steps)
    return Developed(out.state, out.metrics, np.asarray(finals), out.seconds)
