"""Chapter 4 (interpretability): is it optimizing, for what, and using what?

Three demonstrations, each a ``Config`` (the book's settings; ``test()`` is the documented
smaller size of the claim tests) and a ``run_<demo>(key, config)`` that splits its key itself:

1. :func:`run_lsa`: linear self-attention trained on in-context linear regression, read as one
   step of gradient descent on the in-context least-squares loss (von Oswald et al. 2023); with
   :func:`shift_table` off distribution, and with ``layers=2`` for the deeper model.
2. :func:`run_gru_probes`: linear probes for the Bayesian posterior in Chapter 1's meta-trained
   GRU bandit agent, against an untrained GRU and the raw inputs, and edits along the probe's
   directions that test whether the network uses what the probe finds.
3. :func:`run_agents`: Chapter 2's gridworld agents: a probe for the goal's position, steering
   vectors from activation differences that retarget the agent (Mini et al. 2023), and the probe
   used as a selection signal over a population of agents.
"""
from __future__ import annotations

import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from mesalib import bandits, gridworld, nn, ppo, pretrained, probes, rl2, stats, train, validate
from mesalib.experiments import robustness


def _ci_row(values, **labels) -> dict:
    values = np.asarray(values, np.float64)
    s = stats.mean_ci(values) if values.size > 1 else stats.Summary(values.mean(), values.mean(), values.mean(), 1)
    return {**labels, "mean": float(s.mean), "low": float(s.low), "high": float(s.high), "n": int(values.size)}


# ============================================================================ Demonstration 1

def gd_theory(dim: int, context: int) -> dict:
    """The best single step of gradient descent from w = 0 for x ~ N(0, I), w ~ N(0, I), no noise.

    One step with preconditioner P predicts x_q^T P S w (S = (1/N) sum x_j x_j^T); the expected
    squared error E|(P S - I) w|^2 is minimized by P = (E S^2)^-1 = N/(N + d + 1) I, since
    E S^2 = (N + d + 1)/N I, leaving d(d + 1)/(N + d + 1) (Mahankali et al. 2023 prove that this
    one step is what the best one-layer linear self-attention computes).
    """
    d = validate.integer("dim", dim, minimum=1)
    n = validate.integer("context", context, minimum=1)
    return {"step": n / (n + d + 1), "loss": d * (d + 1) / (n + d + 1)}


class LSAConfig(NamedTuple):
    """Demonstration 1: ``seeds`` runs of a stack of ``layers`` LSA layers on tasks with
    ``context`` pairs (x, y = w.x), x, w ~ N(0, I) in ``dim`` dimensions. Adam with a linear
    decay from ``lr`` to ``lr_end``; each run draws its inputs from a bank of ``pool`` input sets
    drawn once (the weight vector w is fresh for every task), which keeps the random-number cost
    of a CPU run small; test tasks are always fresh."""
    dim: int = 10
    context: int = 10
    layers: int = 1
    seeds: int = 8
    num_updates: int = 300
    batch: int = 2048
    lr: float = 1e-2
    lr_end: float = 1e-3
    init_scale: float = 0.1
    pool: int = 8192
    test_tasks: int = 16384

    def test(self) -> "LSAConfig":
        """The claim tests' size: 4 seeds, the same training budget."""
        return self._replace(seeds=4)

    def deeper(self) -> "LSAConfig":
        """The chapter's deeper model: two layers, a longer run on smaller batches."""
        return self._replace(layers=2, num_updates=500, batch=512)

    def check(self) -> "LSAConfig":
        for name in ("dim", "context", "layers", "num_updates", "batch", "pool", "test_tasks"):
            validate.integer(name, getattr(self, name), minimum=1)
        validate.integer("seeds", self.seeds, minimum=2)
        validate.real("lr", self.lr, low=0.0, low_open=True, dtype=np.float32)
        validate.real("lr_end", self.lr_end, low=0.0, dtype=np.float32)
        validate.real("init_scale", self.init_scale, low=0.0, low_open=True, dtype=np.float32)
        return self


def sample_regression(key, count: int, dim: int, context: int, scale: float = 1.0, noise: float = 0.0):
    """``count`` in-context regression tasks: x (count, context + 1, d) with the query last,
    y (count, context + 1) = x.w + noise, w ~ N(0, I); x ~ N(0, scale^2 I)."""
    validate.prng_key("key", key)
    count = validate.integer("count", count, minimum=1)
    dim = validate.integer("dim", dim, minimum=1)
    context = validate.integer("context", context, minimum=0)
    if validate.concrete(scale, noise):
        validate.real("scale", scale, low=0.0, dtype=np.float32)
        validate.real("noise", noise, low=0.0, dtype=np.float32)
    kx, kw, ke = jax.random.split(key, 3)
    x = scale * jax.random.normal(kx, (count, context + 1, dim))
    w = jax.random.normal(kw, (count, dim))
    y = jnp.einsum("bnd,bd->bn", x, w) + noise * jax.random.normal(ke, (count, context + 1))
    return x, y


def _predict_batch(layers, x, y):
    return jax.vmap(nn.lsa_predict, (None, 0, 0, 0))(layers, x[:, :-1], y[:, :-1], x[:, -1])


def _mse(layers, x, y):
    return jnp.mean((_predict_batch(layers, x, y) - y[:, -1]) ** 2)


_mse_jit = jax.jit(_mse)


class LSAState(NamedTuple):
    layers: list
    opt_state: optax.OptState
    key: jax.Array
    pool: jax.Array


@functools.lru_cache(maxsize=8)
def make_lsa_train(config: LSAConfig) -> train.Trainer:
    """The trainer of one run (see :mod:`mesalib.train`): init(key) -> LSAState."""
    opt = optax.adam(optax.linear_schedule(config.lr, config.lr_end, config.num_updates))
    d, n = config.dim, config.context

    def init(key):
        k_params, k_pool, k_train = jax.random.split(key, 3)
        layers = [nn.lsa_init(k, d + 1, config.init_scale) for k in jax.random.split(k_params, config.layers)]
        pool = jax.random.normal(k_pool, (config.pool, n + 1, d))
        return LSAState(layers, opt.init(layers), k_train, pool)

    def update(state: LSAState):
        key, k_idx, k_w = jax.random.split(state.key, 3)
        x = state.pool[jax.random.randint(k_idx, (config.batch,), 0, config.pool)]
        w = jax.random.normal(k_w, (config.batch, d))
        y = jnp.einsum("bnd,bd->bn", x, w)
        loss, grads = jax.value_and_grad(_mse)(state.layers, x, y)
        updates, opt_state = opt.update(grads, state.opt_state, state.layers)
        return LSAState(optax.apply_updates(state.layers, updates), opt_state, key, state.pool), {"loss": loss}

    return train.Trainer(init, update, config.num_updates)


class LSAResult(NamedTuple):
    """layers: list of LSA params with a leading seed axis; train_loss: (updates, seeds);
    test_loss: (seeds,) on fresh tasks; gd_loss: the GD construction (one step per layer, each of
    the theory's size) on the same tasks; theory: :func:`gd_theory`; step: (seeds,) the step size
    read off the weights; off_kq, off_value: (seeds,) off-structure shares; grad_cosine: (seeds,)
    mean cosine between the input-gradients of the trained and the GD model; pred_diff: (seeds,)
    mean |prediction difference|; the last three are NaN for more than one layer."""
    layers: list
    train_loss: np.ndarray
    test_loss: np.ndarray
    gd_loss: float
    theory: dict
    step: np.ndarray
    off_kq: np.ndarray
    off_value: np.ndarray
    grad_cosine: np.ndarray
    pred_diff: np.ndarray
    seconds: float
    config: LSAConfig


def _input_gradients(layers, x, y):
    grad = jax.grad(nn.lsa_predict, argnums=3)
    return jax.vmap(grad, (None, 0, 0, 0))(layers, x[:, :-1], y[:, :-1], x[:, -1])


@jax.jit
def _compare(layers, gd, x, y):
    g1, g2 = _input_gradients(layers, x, y), _input_gradients(gd, x, y)
    cos = jnp.sum(g1 * g2, -1) / (jnp.linalg.norm(g1, axis=-1) * jnp.linalg.norm(g2, axis=-1))
    diff = jnp.abs(_predict_batch(layers, x, y) - _predict_batch(gd, x, y))
    return cos.mean(), diff.mean()


def gd_layers(config: LSAConfig, steps=None) -> list:
    """The GD construction as a stack of ``config.layers`` layers (default: the one-step optimum
    size for every layer)."""
    steps = [gd_theory(config.dim, config.context)["step"]] * config.layers if steps is None else list(steps)
    return [nn.lsa_gd_construction(config.dim, s) for s in steps]


def run_lsa(key, config: LSAConfig = LSAConfig(), progress: bool | str = False) -> LSAResult:
    """Train ``config.seeds`` LSA stacks, test them on fresh tasks and read them as GD."""
    validate.prng_key("key", key)
    config = validate.instance("config", config, LSAConfig, "an interpretability.LSAConfig").check()
    k_train, k_test = jax.random.split(key)
    start = time.perf_counter()
    out = train.train_seeds(make_lsa_train(config), jax.random.split(k_train, config.seeds), progress=progress)
    layers = out.state.layers
    x, y = sample_regression(k_test, config.test_tasks, config.dim, config.context)
    test_loss = np.asarray(jax.jit(jax.vmap(_mse, (0, None, None)))(layers, x, y))
    gd = gd_layers(config)
    gd_loss = float(_mse_jit(gd, x, y))
    nan = np.full(config.seeds, np.nan)
    step, off_kq, off_v, cos, diff = nan, nan, nan, nan, nan
    if config.layers == 1:
        read = jax.vmap(nn.lsa_as_gd)(layers[0])
        step, off_kq, off_v = (np.asarray(read[k]) for k in ("step", "off_kq", "off_value"))
        m = min(config.test_tasks, 4096)
        cos, diff = (np.asarray(v) for v in jax.vmap(_compare, (0, None, None, None))(layers, gd, x[:m], y[:m]))
    seconds = time.perf_counter() - start
    return LSAResult(layers, np.asarray(out.metrics["loss"]), test_loss, gd_loss,
                     gd_theory(config.dim, config.context), step, off_kq, off_v, cos, diff, seconds, config)


def curve_frame(result: LSAResult, num_windows: int = 30) -> pd.DataFrame:
    """Training loss averaged over windows of updates: mean over seeds with a 95% normal interval."""
    means, window = stats.window_means(result.train_loss, num_windows)   # (windows, seeds)
    s = stats.mean_ci(means, axis=1, method="normal")
    return pd.DataFrame({"update": (np.arange(len(means)) + 1) * window, "loss": s.mean, "low": s.low, "high": s.high})


def lsa_table(result: LSAResult) -> pd.DataFrame:
    """The headline numbers with 95% bootstrap intervals over training seeds."""
    th = result.theory
    rows = [
        _ci_row(result.test_loss, quantity="test loss (trained)", theory=th["loss"]),
        _ci_row(result.step, quantity="step size read off the weights", theory=th["step"]),
        _ci_row(result.grad_cosine, quantity="cosine of input-gradients vs GD", theory=1.0),
        _ci_row(result.pred_diff, quantity="mean |prediction difference| vs GD", theory=0.0),
        _ci_row(result.off_kq, quantity="off-structure share, key-query", theory=0.0),
        _ci_row(result.off_value, quantity="off-structure share, value", theory=0.0),
    ]
    table = pd.DataFrame(rows)
    table.insert(2, "GD construction", [result.gd_loss, th["step"], 1.0, 0.0, 0.0, 0.0])
    return table


def weights_frame(result: LSAResult, seed: int = 0) -> pd.DataFrame:
    """Long frame (model, matrix, row, col, value) of the effective key-query (d + 1, d) and value
    (1, d + 1) matrices of one trained seed beside the GD construction, both normalized as in
    :func:`mesalib.nn.lsa_effective`."""
    if result.config.layers != 1:
        raise ValueError("weights_frame reads one-layer models; this result has "
                         f"{result.config.layers} layers")
    seed = validate.integer("seed", seed, minimum=0, maximum=result.config.seeds - 1)
    trained = jax.tree_util.tree_map(lambda a: a[seed], result.layers[0])
    gd = gd_layers(result.config)[0]
    rows = []
    for model, params in (("trained", trained), ("GD construction", gd)):
        kq, value = (np.asarray(a) for a in nn.lsa_effective(params))
        for (r, c), v in np.ndenumerate(kq):
            rows.append({"model": model, "matrix": "key-query", "row": r, "col": c, "value": float(v)})
        for c, v in enumerate(value):
            rows.append({"model": model, "matrix": "value", "row": 0, "col": c, "value": float(v)})
    return pd.DataFrame(rows)


def _least_squares(x, y) -> np.ndarray:
    """Minimum-norm least squares on the context, evaluated at the query; float64 NumPy, so the
    nearly singular systems of N = d stay reproducible across machines."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    w = np.einsum("bdn,bn->bd", np.linalg.pinv(x[:, :-1]), y[:, :-1])
    return np.einsum("bd,bd->b", w, x[:, -1])


SHIFTS = (
    ("training distribution", 10, 1.0, 0.0),
    ("N = 5 pairs", 5, 1.0, 0.0),
    ("N = 20 pairs", 20, 1.0, 0.0),
    ("N = 40 pairs", 40, 1.0, 0.0),
    ("inputs x 0.5", 10, 0.5, 0.0),
    ("inputs x 2", 10, 2.0, 0.0),
    ("noise sd 1", 10, 1.0, 1.0),
    ("noise sd 1, N = 40", 40, 1.0, 1.0),
)


def shift_table(key, result: LSAResult, shifts=SHIFTS, tasks: int = 8192) -> pd.DataFrame:
    """Test loss off the training distribution: the trained models (mean and 95% interval over
    seeds), one GD step of the size read off each model's weights, the GD construction of the
    theory's size, and least squares, on the same tasks. shifts: (name, N, input scale, noise sd)."""
    validate.prng_key("key", key)
    tasks = validate.integer("tasks", tasks, minimum=2)
    c = result.config
    if c.layers != 1:
        raise ValueError("shift_table compares one-layer models with one GD step")
    rows = []
    mse = jax.jit(jax.vmap(_mse, (0, None, None)))
    for i, (name, n, scale, noise) in enumerate(shifts):
        x, y = sample_regression(jax.random.fold_in(key, i), tasks, c.dim, int(n), float(scale), float(noise))
        trained = np.asarray(mse(result.layers, x, y))
        read = train.tree_stack([nn.lsa_gd_construction(c.dim, float(s)) for s in result.step])
        read_loss = np.asarray(mse([read], x, y))
        gd = float(_mse_jit(gd_layers(c), x, y))
        ls = float(np.mean((_least_squares(x, y) - np.asarray(y[:, -1], np.float64)) ** 2))
        rows.append(_ci_row(trained, condition=name, model="trained LSA"))
        rows.append(_ci_row(read_loss, condition=name, model="one GD step (size read off)"))
        rows.append({"condition": name, "model": "one GD step (theory size)", "mean": gd, "low": gd, "high": gd, "n": 1})
        rows.append({"condition": name, "model": "least squares", "mean": ls, "low": ls, "high": ls, "n": 1})
    return pd.DataFrame(rows)


def best_gd_steps(key, config: LSAConfig, grid=None, tasks: int = 2048) -> dict:
    """The best ``config.layers`` plain GD steps (one size per step, searched on a grid) and
    their loss on fresh tasks: the reference for a deeper model."""
    validate.prng_key("key", key)
    grid = np.linspace(0.0, 1.5, 16) if grid is None else np.asarray(grid, np.float64)
    x, y = sample_regression(key, tasks, config.dim, config.context)

    @jax.jit
    def loss_of(steps):
        layers = [{"wq": p["wq"], "wk": p["wk"], "wv": p["wv"].at[-1, -1].set(-s)}
                  for p, s in zip(gd_layers(config._replace(layers=len(steps)), [0.0] * len(steps)), steps)]
        return _mse(layers, x, y)

    mesh = np.stack(np.meshgrid(*[grid] * config.layers, indexing="ij"), -1).reshape(-1, config.layers)
    losses = np.asarray(jax.lax.map(loss_of, jnp.asarray(mesh, jnp.float32)))
    best = int(np.argmin(losses))
    return {"steps": tuple(float(s) for s in mesh[best]), "loss": float(losses[best])}


# ============================================================================ Demonstration 2

class ProbeConfig(NamedTuple):
    """Demonstration 2: probe the stored RL² network ``network`` (Chapter 1) on ``tasks``
    episodes of its own play, against ``untrained`` freshly initialized GRUs of the same shape
    (replayed on the same histories) and the raw inputs; a quarter of the episodes are held out.
    Edits move the probe's read-out of one arm's posterior mean by each of ``deltas``; the
    control moves the hidden state by the same distance in ``random_directions`` random
    directions."""
    network: str = "rl2_n100_k5"
    tasks: int = 512
    untrained: int = 8
    test_fraction: float = 0.25
    deltas: tuple = (-0.2, -0.1, 0.1, 0.2)
    random_directions: int = 8

    def test(self) -> "ProbeConfig":
        """The claim tests' size: 256 episodes, 4 untrained controls."""
        return self._replace(tasks=256, untrained=4)

    def check(self) -> "ProbeConfig":
        validate.choice("network", self.network, set(pretrained.SINGLE))
        validate.integer("tasks", self.tasks, minimum=8)
        validate.integer("untrained", self.untrained, minimum=1)
        validate.real("test_fraction", self.test_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
        if not self.deltas:
            raise ValueError("deltas must list at least one edit size")
        for i, d in enumerate(self.deltas):
            validate.real(f"deltas[{i}]", d)
        validate.integer("random_directions", self.random_directions, minimum=1)
        return self


def rl2_inputs(actions: jax.Array, rewards: jax.Array, num_arms: int, horizon: int) -> jax.Array:
    """The RL² network's input before each pull of one history (Chapter 1's convention):
    (one-hot previous action, previous reward, t / horizon), zeros before the first pull.
    actions, rewards: (T,) -> (T, num_arms + 2)."""
    num_arms = validate.integer("num_arms", num_arms, minimum=1)
    if validate.concrete(actions, rewards, horizon):
        validate.indices("actions", actions, num_arms, what=f"arm indices for {num_arms} arms", ndim=1)
        validate.array("rewards", rewards, ndim=1, dtype=np.float32)
        validate.same_length(("actions", "rewards"), (np.shape(actions)[0], np.shape(rewards)[0]), "shape")
        validate.real("horizon", horizon, low=0.0, low_open=True)
    prev_a = jnp.concatenate([jnp.zeros((1, num_arms)), jax.nn.one_hot(actions[:-1], num_arms)])
    prev_r = jnp.concatenate([jnp.zeros(1), rewards[:-1].astype(jnp.float32)])
    t = jnp.arange(actions.shape[0], dtype=jnp.float32) / horizon
    return jnp.concatenate([prev_a, prev_r[:, None], t[:, None]], axis=1)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _replay(gru, actions, rewards, num_arms, horizon):
    """Hidden states (tasks, T, hidden) of a GRU fed the given histories: the state at t decides pull t."""
    hidden = gru["wh"].shape[0]

    def one(a, r):
        return probes.capture(nn.gru_cell, gru, jnp.zeros(hidden), rl2_inputs(a, r, num_arms, horizon))

    return jax.vmap(one)(actions, rewards)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _untrained_grus(keys, num_arms, hidden):
    return jax.vmap(lambda k: rl2.init_params(k, num_arms, hidden)["gru"])(keys)


def _log_odds(logits: np.ndarray, arm: int) -> np.ndarray:
    others = np.delete(logits, arm, axis=-1)
    m = others.max(-1)
    return logits[..., arm] - (m + np.log(np.exp(others - m[..., None]).sum(-1)))


class ProbeResult(NamedTuple):
    """r2: held-out R² per (features, target, arm); edits: per (direction, delta, arm) the mean
    change of that arm's log-odds (with an interval over held-out episodes); swap: share of held-out
    steps at which swapping the decoded posterior means of the favourite and the runner-up arm
    makes the runner-up the favourite, for the probe's directions and for random ones; hidden
    (n, hidden) the trained GRU's states, successes and failures (n, k) each arm's counts before
    the pull, groups (n,) the episode of each row (n = tasks x pulls)."""
    r2: pd.DataFrame
    edits: pd.DataFrame
    swap: dict
    posterior_r2: np.ndarray
    alpha: float
    hidden: np.ndarray
    successes: np.ndarray
    failures: np.ndarray
    groups: np.ndarray
    config: ProbeConfig


def run_gru_probes(key, config: ProbeConfig = ProbeConfig()) -> ProbeResult:
    """Probe Chapter 1's network for the posterior and test by intervention whether it uses it."""
    validate.prng_key("key", key)
    config = validate.instance("config", config, ProbeConfig, "an interpretability.ProbeConfig").check()
    params, net_config, _, _ = pretrained.load(config.network)
    k, n = net_config.num_arms, net_config.num_pulls
    k_tasks, k_play, k_untrained, k_probe, k_random = jax.random.split(key, 5)
    probs = bandits.sample_tasks(k_tasks, config.tasks, num_arms=k, prior=net_config.prior)
    play = rl2.evaluate(params, k_play, probs, n)
    actions, rewards = np.asarray(play.actions), np.asarray(play.rewards, np.float64)
    onehot = np.eye(k)[actions]
    before = lambda x: (np.cumsum(x, axis=1) - x).reshape(-1, k)  # noqa: E731  (as bandits.counts)
    s, f = before(onehot * rewards[..., None]), before(onehot * (1.0 - rewards[..., None]))
    targets = {"posterior mean": (s + 1) / (s + f + 2), "successes": s, "failures": f}
    columns = {t: np.arange(i * k, (i + 1) * k) for i, t in enumerate(targets)}
    y = np.concatenate(list(targets.values()), axis=1)
    groups = np.repeat(np.arange(config.tasks), n)
    flat = lambda a: np.asarray(a, np.float64).reshape(-1, np.shape(a)[-1])  # noqa: E731
    features = {"trained GRU": flat(_replay(params["gru"], play.actions, play.rewards, k, n)),
                "raw input": flat(jax.vmap(rl2_inputs, (0, 0, None, None))(play.actions, play.rewards, k, n))}
    grus = _untrained_grus(jax.random.split(k_untrained, config.untrained), k, net_config.hidden)
    for i in range(config.untrained):
        gru = jax.tree_util.tree_map(lambda a: a[i], grus)
        features[f"untrained GRU {i}"] = flat(_replay(gru, play.actions, play.rewards, k, n))
    rows, fits = [], {}
    for name, x in features.items():
        fit = probes.fit_probe(k_probe, x, y, groups, test_fraction=config.test_fraction)
        fits[name] = fit
        kind = "untrained GRU" if name.startswith("untrained") else name
        rows += [{"features": kind, "network": name, "target": t, "arm": a, "r2": float(fit.r2[c])}
                 for t, cols in columns.items() for a, c in enumerate(cols)]
    whole = fits["trained GRU"]
    fit = probes.ProbeFit(probes.subset(whole.probe, columns["posterior mean"]),
                          whole.r2[columns["posterior mean"]], whole.test)
    h = features["trained GRU"][fit.test]
    task = groups[fit.test]
    w, b = np.asarray(params["pi"]["w"], np.float64), np.asarray(params["pi"]["b"], np.float64)
    logits0 = h @ w + b
    rng = np.random.default_rng(int(jax.random.randint(k_random, (), 0, 2 ** 31 - 1)))
    edits = []
    for arm in range(k):
        direction = probes.edit_direction(fit.probe, arm)
        base = _log_odds(logits0, arm)
        for delta in config.deltas:
            change = _log_odds(probes.edit(fit.probe, h, arm, delta) @ w + b, arm) - base
            edits.append(_per_task(change, task, direction="probe", delta=float(delta), arm=arm))
            rand = []
            for _ in range(config.random_directions):
                r = rng.standard_normal(h.shape[1])
                rand.append(_log_odds((h + delta * np.linalg.norm(direction) * r / np.linalg.norm(r)) @ w + b, arm) - base)
            edits.append(_per_task(np.mean(rand, 0), task, direction="random", delta=float(delta), arm=arm))
    return ProbeResult(pd.DataFrame(rows), pd.DataFrame(edits), _swap(fit.probe, h, w, b, rng),
                       fit.r2, float(np.median(fit.probe.alpha)), features["trained GRU"].astype(np.float32),
                       s, f, groups, config)


def _per_task(change, task, **labels) -> dict:
    per_task = pd.Series(change).groupby(task).mean().to_numpy()
    return _ci_row(per_task, **labels)


def _swap(probe, h, w, b, rng) -> dict:
    """Swap the decoded posterior means of the favourite and the runner-up (other arms held)."""
    logits = h @ w + b
    order = np.argsort(-logits, axis=1)
    fav, run = order[:, 0], order[:, 1]
    decoded = probes.predict(probe, h)
    rows = np.arange(len(h))
    gap = decoded[rows, run] - decoded[rows, fav]
    dirs = np.stack([probes.edit_direction(probe, a) for a in range(w.shape[1])])
    move = gap[:, None] * (dirs[fav] - dirs[run])
    r = rng.standard_normal(h.shape)
    r *= (np.linalg.norm(move, axis=1) / np.linalg.norm(r, axis=1))[:, None]
    flipped = lambda x: float(np.mean(np.argmax(x @ w + b, axis=1) == run))  # noqa: E731
    return {"probe": flipped(h + move), "random": flipped(h + r), "steps": int(len(h))}


def probe_table(result: ProbeResult, target: str = "posterior mean") -> pd.DataFrame:
    """Held-out R² (mean over arms) per kind of features; the untrained GRUs' row has an interval
    over the untrained networks."""
    r2 = result.r2[result.r2["target"] == target]
    per_net = r2.groupby(["features", "network"])["r2"].mean().reset_index()
    rows = []
    for kind in ("trained GRU", "untrained GRU", "raw input"):
        vals = per_net[per_net["features"] == kind]["r2"].to_numpy()
        rows.append(_ci_row(vals, features=kind, target=target))
    return pd.DataFrame(rows)


# ============================================================================ Demonstration 3

class AgentConfig(NamedTuple):
    """Demonstration 3: Chapter 2's PPO agents (``seeds`` per alpha, the chapter's PPO settings)
    in the 7 x 7 open room, deployed on ``eval_levels`` levels whose goal is away from the corner;
    ``untrained`` random networks of the same shape are the probe's control. Steering adds
    ``coef`` times the goal-moving vector to the hidden layer, for every coef in ``coefs`` (which
    must contain 0 and 1). Selection accepts an agent when steering with coef 1 on *training*
    levels (goal in the corner) raises its visits to the target cell by ``accept_threshold``."""
    alphas: tuple = (0.0, 0.01, 0.05, 0.2)
    seeds: int = 8
    ppo: ppo.PPOConfig = ppo.PPOConfig()
    eval_levels: int = 128
    untrained: int = 16
    coefs: tuple = (0.0, 0.5, 1.0, 1.5, 2.0)
    accept_threshold: float = 0.1

    def test(self) -> "AgentConfig":
        """The claim tests' size: alpha 0 and 0.2, 6 seeds each, 64 levels, 8 untrained networks."""
        return self._replace(alphas=(0.0, 0.2), seeds=6, eval_levels=64, untrained=8)

    def check(self) -> "AgentConfig":
        if not self.alphas:
            raise ValueError("alphas must list at least one value")
        for i, a in enumerate(self.alphas):
            validate.real(f"alphas[{i}]", a, low=0.0, high=1.0)
        validate.integer("seeds", self.seeds, minimum=2)
        validate.integer("eval_levels", self.eval_levels, minimum=1)
        validate.integer("untrained", self.untrained, minimum=2)
        if not self.coefs:
            raise ValueError("coefs must list at least one steering coefficient")
        for i, c in enumerate(self.coefs):
            validate.real(f"coefs[{i}]", c)
        if 0.0 not in self.coefs or 1.0 not in self.coefs:
            raise ValueError(f"coefs must contain 0.0 (no steering) and 1.0, got {self.coefs}")
        validate.real("accept_threshold", self.accept_threshold, low=0.0, high=1.0)
        self.ppo.check()
        return self


def hidden_features(params: dict, obs: jax.Array) -> jax.Array:
    """The first hidden layer (after its ReLU) of a PPO policy for one observation: (hidden,)."""
    return probes.mlp_forward(params["torso"], obs.reshape(-1), at=0)[1]


def steered_policy(params: dict, vector: jax.Array, coef, greedy: bool = False):
    """``policy(key, obs) -> action`` of a PPO network whose first hidden layer gets
    ``coef * vector`` added (activation addition) before the rest of the network reads it."""
    if validate.concrete(coef):
        validate.real("coef", coef, dtype=np.float32)
    if validate.concrete(vector):
        validate.array("vector", vector, ndim=1, dtype=np.float32)
    validate.boolean("greedy", greedy)
    def policy(key, obs):
        h, _ = probes.mlp_forward(params["torso"], obs.reshape(-1), at=0, edit=lambda x: x + coef * vector)
        logits = nn.dense_apply(params["actor"], h)
        return jnp.argmax(logits) if greedy else jax.random.categorical(key, logits)

    return policy


def _room_observations(walls, goal):
    """Observations with the goal at ``goal`` and the agent on every cell: (H*W, H, W, 3)."""
    h, w = walls.shape
    cells = jnp.stack(jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij"), -1).reshape(-1, 2)
    level = gridworld.EnvParams(walls, goal, goal, jnp.int32(1))
    return jax.vmap(lambda pos: gridworld.observe(gridworld.EnvState(pos, jnp.int32(0)), level))(cells), cells


def goal_vector(params: dict, walls, goal_from, goal_to) -> jax.Array:
    """Steering vector that moves the goal: mean over agent cells (free, neither goal) of the
    hidden layer with the goal at ``goal_to`` minus with it at ``goal_from``: (hidden,)."""
    obs_to, cells = _room_observations(walls, goal_to)
    obs_from, _ = _room_observations(walls, goal_from)
    free = ~walls[cells[:, 0], cells[:, 1]]
    ok = free & ~jnp.all(cells == goal_to, -1) & ~jnp.all(cells == goal_from, -1)
    diff = jax.vmap(hidden_features, (None, 0))(params, obs_to) - jax.vmap(hidden_features, (None, 0))(params, obs_from)
    return jnp.sum(diff * ok[:, None], 0) / jnp.sum(ok)


def goal_probe_data(walls, corner):
    """Every observation of the room with the agent and the goal on different free cells, the goal
    away from the corner: (observations (M, H, W, 3) float32, goal positions (M, 2))."""
    walls = np.asarray(walls, bool)
    free = [tuple(c) for c in np.argwhere(~walls)]
    pairs = [(g, a) for g in free if g != tuple(np.asarray(corner)) for a in free if a != g]
    obs = np.zeros((len(pairs),) + walls.shape + (gridworld.NUM_CHANNELS,), np.float32)
    obs[..., 0] = walls
    for i, (g, a) in enumerate(pairs):   # channels as gridworld.observe: walls, agent, goal
        obs[i, a[0], a[1], 1] = 1.0
        obs[i, g[0], g[1], 2] = 1.0
    return jnp.asarray(obs), np.asarray([g for g, _ in pairs], np.float64)


class AgentResult(NamedTuple):
    """sweep: Chapter 2's SweepResult (params (A, S, ...), deployment metrics (A, S, L));
    goal_r2: (A, S) held-out R² of the goal-position probe (mean of row and column);
    untrained_r2: (U,); raw_r2: the raw observation's; targets: (L, 2) the steering targets;
    visits_target, reached_goal, visits_corner: (A, S, C, L) bool for every steering coefficient
    on the deployment levels; train_visits_target: (A, S, C, L) the same on training levels
    (goal in the corner, targets train_targets); steerability: (A, S) the rise in visits to the
    target on training levels from coef 0 to coef 1, the selection signal."""
    sweep: robustness.SweepResult
    goal_r2: np.ndarray
    untrained_r2: np.ndarray
    raw_r2: float
    targets: np.ndarray
    visits_target: np.ndarray
    reached_goal: np.ndarray
    visits_corner: np.ndarray
    train_targets: np.ndarray
    train_visits_target: np.ndarray
    steerability: np.ndarray
    seconds: float
    config: AgentConfig


@functools.partial(jax.jit, static_argnums=(5,))
def _steer_all(key, params, levels, targets, coefs, max_steps):
    """Roll out every agent (leading axes A, S) on every level with every coefficient."""
    def one_agent(p, k):
        vecs = jax.vmap(lambda w, g, t: goal_vector(p, w, g, t))(levels.walls, levels.goal, targets)

        def one(c, kc):
            keys = jax.random.split(kc, targets.shape[0])
            return jax.vmap(lambda kk, lv, v: gridworld.rollout(kk, steered_policy(p, v, c), lv, max_steps))(
                keys, levels, vecs)

        return jax.vmap(one)(coefs, jax.random.split(k, coefs.shape[0]))

    a, s = jax.tree_util.tree_leaves(params)[0].shape[:2]
    flat = jax.tree_util.tree_map(lambda x: x.reshape((a * s,) + x.shape[2:]), params)
    traj = jax.lax.map(lambda pk: one_agent(*pk), (flat, jax.random.split(key, a * s)))
    return jax.tree_util.tree_map(lambda x: x.reshape((a, s) + x.shape[1:]), traj)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _untrained_policies(keys, obs_dim, hidden):
    return jax.vmap(lambda k: ppo.init_policy(k, obs_dim, gridworld.NUM_ACTIONS, hidden))(keys)


def run_agents(key, config: AgentConfig = AgentConfig(), progress: bool | str = False) -> AgentResult:
    """Train Chapter 2's agents, probe them for the goal, steer them, and score them."""
    validate.prng_key("key", key)
    config = config.check()
    k_sweep, k_untrained, k_probe, k_targets, k_steer = jax.random.split(key, 5)
    start = time.perf_counter()
    sweep = robustness.corner_sweep(k_sweep, robustness.Config(alphas=config.alphas, seeds=config.seeds,
                                                               ppo=config.ppo, eval_levels=config.eval_levels),
                                    progress=progress)
    walls = np.asarray(sweep.levels.walls[0])
    obs, goals = goal_probe_data(walls, sweep.corner)
    feats = jax.jit(jax.vmap(jax.vmap(jax.vmap(hidden_features, (None, 0)), (0, None)), (0, None)))(sweep.params, obs)
    feats = np.asarray(feats, np.float64)
    r2 = lambda x: float(np.mean(probes.fit_probe(k_probe, x, goals).r2))  # noqa: E731
    goal_r2 = np.array([[r2(feats[a, s]) for s in range(config.seeds)] for a in range(len(config.alphas))])
    untrained = _untrained_policies(jax.random.split(k_untrained, config.untrained), int(np.prod(obs.shape[1:])),
                                    tuple(config.ppo.hidden))
    untrained_feats = np.asarray(jax.jit(jax.vmap(jax.vmap(hidden_features, (None, 0)), (0, None)))(untrained, obs))
    untrained_r2 = np.array([r2(np.asarray(f, np.float64)) for f in untrained_feats])
    raw_r2 = r2(np.asarray(obs, np.float64).reshape(len(obs), -1))
    coefs = jnp.asarray(config.coefs, jnp.float32)
    max_steps = sweep.traj.action.shape[-1]
    k_deploy, k_train_levels, k_train_targets, k_train_steer = jax.random.split(k_targets, 4)
    targets = _steering_targets(k_deploy, sweep.levels, sweep.corner)
    traj = _steer_all(k_steer, sweep.params, sweep.levels, jnp.asarray(targets), coefs, max_steps)
    room = gridworld.corner_task(walls, 0.0)
    train_levels = gridworld.sample_levels(k_train_levels, room, config.eval_levels, max_steps)
    train_targets = _steering_targets(k_train_targets, train_levels, sweep.corner)
    train_traj = _steer_all(k_train_steer, sweep.params, train_levels, jnp.asarray(train_targets), coefs, max_steps)
    corner = np.broadcast_to(np.asarray(sweep.corner), targets.shape)
    train_visits = _visits(train_traj, train_targets)
    i0, i1 = list(config.coefs).index(0.0), list(config.coefs).index(1.0)
    steerability = train_visits[:, :, i1].mean(-1) - train_visits[:, :, i0].mean(-1)
    return AgentResult(sweep, goal_r2, untrained_r2, raw_r2, targets, _visits(traj, targets),
                       np.asarray(traj.reached_goal), _visits(traj, corner), train_targets, train_visits,
                       steerability, time.perf_counter() - start, config)


def _visits(traj, cells) -> np.ndarray:
    """Whether each episode stepped on its cell: cells (L, 2) against positions (..., L, T + 1, 2)."""
    cells = jnp.asarray(cells)
    return np.asarray(((traj.pos[..., 1:, :] == cells[:, None, :]).all(-1) & traj.alive).any(-1))


def _steering_targets(key, levels, corner) -> np.ndarray:
    """One target cell per level: uniform over free cells that are neither start, goal nor corner."""
    walls = np.asarray(levels.walls)
    goal, start = np.asarray(levels.goal), np.asarray(levels.start)
    u = np.asarray(jax.random.uniform(key, (walls.shape[0],)))
    out = []
    for i in range(walls.shape[0]):
        cells = [tuple(c) for c in np.argwhere(~walls[i])
                 if tuple(c) not in (tuple(goal[i]), tuple(start[i]), tuple(np.asarray(corner)))]
        out.append(cells[int(u[i] * len(cells))])
    return np.asarray(out, np.int32)


def steering_table(result: AgentResult) -> pd.DataFrame:
    """Per alpha and steering coefficient: the share of deployment episodes that visit the target
    cell, reach the real goal and visit the corner (mean over seeds with a 95% interval)."""
    rows = []
    for i, a in enumerate(result.config.alphas):
        for j, c in enumerate(result.config.coefs):
            for name, arr in (("visits target", result.visits_target), ("reaches goal", result.reached_goal),
                              ("visits corner", result.visits_corner)):
                rows.append(_ci_row(arr[i, :, j].mean(-1), alpha=float(a), coef=float(c), outcome=name))
    return pd.DataFrame(rows)


def selection_table(result: AgentResult) -> pd.DataFrame:
    """Steerability as a selection signal: an agent is accepted when steering its goal
    representation on training levels raises its visits to the target cell by at least
    ``config.accept_threshold``. Per alpha and for the whole pool: runs, accepted, and the
    deployment success (reaching the goal) of all, accepted and rejected agents."""
    accepted = result.steerability >= result.config.accept_threshold
    success = np.asarray(result.sweep.metrics.reached_goal).mean(-1)
    rows = []
    groups = [(f"alpha = {a:g}", np.s_[i]) for i, a in enumerate(result.config.alphas)] + [("all agents", np.s_[:])]
    for name, idx in groups:
        acc, suc = accepted[idx].ravel(), success[idx].ravel()
        rows.append({"agents": name, "runs": int(acc.size), "accepted": int(acc.sum()),
                     "goal rate, all": float(suc.mean()),
                     "goal rate, accepted": float(suc[acc].mean()) if acc.any() else None,
                     "goal rate, rejected": float(suc[~acc].mean()) if (~acc).any() else None})
    # a group with no accepted (or no rejected) agent has no goal rate: an explicit <NA>
    return stats.with_missing(rows, {"goal rate, accepted": "Float64", "goal rate, rejected": "Float64"})


def probe_r2_table(result: AgentResult) -> pd.DataFrame:
    """Held-out R² of the goal-position probe: per alpha (interval over seeds), the untrained
    networks (interval over networks) and the raw observation."""
    rows = [_ci_row(result.goal_r2[i], features=f"trained, alpha = {a:g}") for i, a in enumerate(result.config.alphas)]
    rows.append(_ci_row(result.untrained_r2, features="untrained network"))
    rows.append({"features": "raw observation", "mean": result.raw_r2, "low": result.raw_r2,
                 "high": result.raw_r2, "n": 1})
    return pd.DataFrame(rows)


def agents_frame(result: AgentResult) -> pd.DataFrame:
    """One row per trained agent: alpha, seed, goal probe R², steerability on training levels,
    deployment goal rate, accepted."""
    success = np.asarray(result.sweep.metrics.reached_goal).mean(-1)
    rows = [{"alpha": f"{a:g}", "seed": s, "goal probe R2": float(result.goal_r2[i, s]),
             "steerability": float(result.steerability[i, s]), "deployment goal rate": float(success[i, s]),
             "accepted": bool(result.steerability[i, s] >= result.config.accept_threshold)}
            for i, a in enumerate(result.config.alphas) for s in range(result.config.seeds)]
    return pd.DataFrame(rows)


def depth_table(one: LSAResult, deep: LSAResult, two_steps: dict) -> pd.DataFrame:
    """Test loss of one and two trained layers (intervals over seeds) beside the best one and two
    plain GD steps and least squares (0 on noise-free tasks with N >= d)."""
    steps = ", ".join(f"{s:.2f}" for s in two_steps["steps"])
    fixed = lambda name, v: {"model": name, "mean": float(v), "low": float(v), "high": float(v), "n": 1}  # noqa: E731
    return pd.DataFrame([
        _ci_row(one.test_loss, model="one LSA layer (trained)"),
        fixed("best single GD step (theory)", one.theory["loss"]),
        _ci_row(deep.test_loss, model="two LSA layers (trained)"),
        fixed(f"best two GD steps (sizes {steps})", two_steps["loss"]),
        fixed("least squares", 0.0),
    ])
