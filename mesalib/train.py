"""The book's one trainer shape, and the routine that trains many seeds of any learner.

Every learner in the book (RL², PPO, tabular Q-learning and SARSA, the meta-optimizers) is a
:class:`Trainer`: a pair of pure functions in the optax/PureJaxRL spirit,

* ``init(key, *data) -> state`` builds one seed's training state (``data`` is per-run input such
  as a level distribution; it may be absent), and
* ``update(state) -> (state, metrics)`` does one training update (metrics: a dict of scalars),

built by a module's ``make_train(config, ...)``. :func:`train_seeds` trains one run per key as a
``vmap`` axis: it compiles ``lax.scan`` over a chunk of updates once, reports progress between
chunks with ``tqdm.auto``, and shards the seed axis over all local devices (padding the batch
when the seed count does not divide the device count). Metrics leave ``jit`` as scan outputs.
"""
from __future__ import annotations

import functools
import io
import os
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mesalib import nn, validate

SMOKE_STEPS = 4  # with MESALIB_SMOKE=1, every training loop stops after this many updates


class Trainer(NamedTuple):
    """A learner as two pure functions over one seed's state (see the module docstring)."""
    init: Callable[..., Any]
    update: Callable[[Any], tuple]
    num_updates: int


class Trained(NamedTuple):
    """What :func:`train_seeds` returns: final states (leading seed axis) and metrics (updates, seeds)."""
    state: Any
    metrics: dict
    seconds: float


# --------------------------------------------------------------------------------------------- devices

def pad_to_devices(n: int, devices=None) -> int:
    """The smallest multiple of the local device count that holds ``n`` seeds."""
    n = validate.integer("n", n, minimum=0)
    count = len(jax.local_devices() if devices is None else list(devices))
    return -(-n // count) * count


def shard_seeds(tree, devices=None):
    """Place a pytree whose leaves share a leading seed axis across the local devices.

    The seed count must be a multiple of the device count (:func:`train_seeds` pads to one);
    anything else raises instead of silently running on one device.
    """
    devices = jax.local_devices() if devices is None else list(devices)
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves or len(devices) < 2:
        return tree
    n = leaves[0].shape[0] if np.ndim(leaves[0]) else 0
    if n == 0 or n % len(devices):
        raise ValueError(f"the seed axis ({n}) must be a multiple of the number of devices ({len(devices)}); "
                         "pad it with train.pad_to_devices")
    mesh = Mesh(np.array(devices), ("seed",))

    def put(x):
        return jax.device_put(x, NamedSharding(mesh, PartitionSpec("seed", *([None] * (np.ndim(x) - 1)))))

    return jax.tree_util.tree_map(put, tree)


# --------------------------------------------------------------------------------------------- loops

def _chunk_size(num_steps: int, num_chunks: int) -> int:
    """Largest chunk length that divides num_steps into at most num_chunks equal parts."""
    for chunks in range(min(num_chunks, num_steps), 0, -1):
        if num_steps % chunks == 0:
            return num_steps // chunks
    return num_steps


@functools.partial(jax.jit, static_argnums=(0, 2))
def _scan_chunk(step, carry, length):
    # Module level with the step as a static argument: one compilation per (step, length, shapes),
    # however often a chapter calls a loop with the same learner.
    return jax.lax.scan(lambda c, _: step(c), carry, None, length=length)


@functools.lru_cache(maxsize=64)
def _vmapped(fn):
    """``jax.vmap(fn)``, the same object for the same ``fn`` (so compiled programs are reused)."""
    return jax.vmap(fn)


def smoke_steps(num_steps: int) -> int:
    """``num_steps``, or :data:`SMOKE_STEPS` when ``MESALIB_SMOKE=1`` (same code path, seconds)."""
    num_steps = validate.integer("num_steps", num_steps, minimum=1)
    return min(num_steps, SMOKE_STEPS) if smoke_mode() else num_steps


def smoke_mode() -> bool:
    """Whether ``MESALIB_SMOKE=1``: every experiment then runs its ``smoke()`` size."""
    return os.environ.get("MESALIB_SMOKE") == "1"


def smoke_config(config):
    """``config.smoke()`` in smoke mode, else ``config`` (an experiment calls this on entry)."""
    if not callable(getattr(config, "smoke", None)):
        raise ValueError(f"config must be a config with a smoke() method (e.g. an experiment's Config), "
                         f"got {type(config).__name__}")
    return config.smoke() if smoke_mode() else config


def run(step: Callable, carry, num_steps: int, num_chunks: int = 10, progress: bool | str = True,
        summary: Callable | None = None):
    """Run ``num_steps`` of ``step(carry) -> (carry, metrics)`` as compiled scans.

    Returns (final carry, metrics stacked over steps). ``progress``: False for silence, True or a
    description for a ``tqdm`` bar; ``summary(metrics_of_chunk) -> str`` adds a short readout.
    ``step`` should be a function defined once (not a fresh lambda per call) so that repeated
    runs reuse the compiled chunk.
    """
    num_steps = validate.integer("num_steps", num_steps, minimum=1)
    num_chunks = validate.integer("num_chunks", num_chunks, minimum=1)
    if not callable(step):
        raise ValueError(f"step must be a function carry -> (carry, metrics), got {type(step).__name__}")
    validate.progress("progress", progress)
    if summary is not None:
        validate.function("summary", summary, "metrics_of_a_chunk -> str")
    num_steps = smoke_steps(num_steps)
    chunk = _chunk_size(num_steps, num_chunks)
    bar = _bar(num_steps, progress)
    outputs = []
    for _ in range(num_steps // chunk):
        carry, metrics = _scan_chunk(step, carry, chunk)
        metrics = jax.device_get(metrics)  # also waits for the chunk to finish
        outputs.append(metrics)
        if bar is not None:
            bar.update(chunk)
            if summary is not None:
                bar.set_postfix_str(summary(metrics), refresh=False)
    if bar is not None:
        bar.close()
    stacked = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=0), *outputs)
    return carry, stacked


def _bar(total: int, progress: bool | str):
    """A tqdm bar: in a terminal tqdm's own; in a notebook tqdm's text drawn into one output line
    that is updated in place (a widget would store its state in the notebook and render only
    with the widget manager's JavaScript, which the offline book does not load)."""
    if not progress:
        return None
    desc = progress if isinstance(progress, str) else None
    if _in_notebook():
        from tqdm.std import tqdm

        return tqdm(total=total, desc=desc, unit="update", file=_DisplayLine(), mininterval=0.5, ncols=90)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="update", mininterval=0.5)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


class _DisplayLine(io.TextIOBase):
    """A file-like target for tqdm that keeps one notebook output line, updated in place."""

    def __init__(self):
        self.handle = None

    def write(self, text: str) -> int:
        line = text.strip("\r\n")
        if line:
            from IPython.display import display

            if self.handle is None:
                self.handle = display({"text/plain": line}, raw=True, display_id=True)
            else:
                self.handle.update({"text/plain": line}, raw=True)
        return len(text)

    def flush(self):
        pass


def train_seeds(trainer: Trainer, keys, *data, progress: bool | str = False, num_chunks: int = 10,
                summary: Callable | None = None, init_state=None) -> Trained:
    """Train one run of ``trainer`` per key (``keys: (seeds,)``), all seeds in one compiled program.

    ``data``: per-run inputs to ``trainer.init``, pytrees whose leaves have a leading axis of
    length ``seeds``. ``init_state`` replaces the fresh states (e.g. to continue training). The
    seed axis is padded to a multiple of the device count and sharded; padding is dropped from
    the result. Returns :class:`Trained` (state with a leading seed axis, metrics (updates, seeds)).
    """
    if not isinstance(trainer, Trainer):
        raise ValueError(f"trainer must be a train.Trainer (from a make_train function), got {type(trainer).__name__}")
    keys = validate.key_batch("keys", keys)
    seeds = keys.shape[0]
    validate.function("trainer.init", trainer.init, "(key, *data) -> state")
    validate.function("trainer.update", trainer.update, "state -> (state, metrics)")
    validate.integer("trainer.num_updates", trainer.num_updates, minimum=1)
    for i, leaf in enumerate(jax.tree_util.tree_leaves(data)):
        if np.ndim(leaf) == 0 or np.shape(leaf)[0] != seeds:
            raise ValueError(f"every leaf of data needs a leading axis of length {seeds} (one per key); "
                             f"leaf {i} has shape {np.shape(leaf)}")
    if init_state is not None:
        for i, leaf in enumerate(jax.tree_util.tree_leaves(init_state)):
            if np.ndim(leaf) == 0 or np.shape(leaf)[0] != seeds:
                raise ValueError(f"every leaf of init_state needs a leading axis of length {seeds} (one per key); "
                                 f"leaf {i} has shape {np.shape(leaf)}")
    padded = pad_to_devices(seeds)
    pad = lambda x: jnp.concatenate([x, jnp.repeat(x[:1], padded - seeds, 0)]) if padded > seeds else x  # noqa: E731
    start = time.perf_counter()
    if init_state is None:
        state = _init_batch(trainer.init, pad(keys), *jax.tree_util.tree_map(pad, data))
    else:
        state = jax.tree_util.tree_map(pad, init_state)
    state = shard_seeds(state)
    state, metrics = run(_vmapped(trainer.update), state, trainer.num_updates, num_chunks=num_chunks,
                         progress=progress, summary=summary)
    if padded > seeds:
        state = jax.tree_util.tree_map(lambda x: x[:seeds], state)
        metrics = jax.tree_util.tree_map(lambda x: x[:, :seeds], metrics)
    return Trained(state, metrics, time.perf_counter() - start)


@functools.partial(jax.jit, static_argnums=(0,))
def _init_batch(init, keys, *data):
    return jax.vmap(init)(keys, *data)


# --------------------------------------------------------------------------------------------- helpers

def timed(fn: Callable, *args):
    """Call ``fn(*args)`` twice: return (result, compile-and-run seconds, run-only seconds)."""
    validate.function("fn", fn, "(*args) -> result")
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    t1 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    t2 = time.perf_counter()
    return out, t1 - t0, t2 - t1


def tree_stack(trees):
    """Stack a list of identical pytrees along a new leading axis."""
    if isinstance(trees, (str, bytes, dict)) or not hasattr(trees, "__iter__"):
        raise ValueError(f"trees must be a list of pytrees, got {type(trees).__name__}")
    trees = list(trees)
    if not trees:
        raise ValueError("trees must hold at least one pytree")
    first = jax.tree_util.tree_structure(trees[0])
    shapes = [np.shape(x) for x in jax.tree_util.tree_leaves(trees[0])]
    for i, t in enumerate(trees[1:], 1):
        if jax.tree_util.tree_structure(t) != first or [np.shape(x) for x in jax.tree_util.tree_leaves(t)] != shapes:
            raise ValueError(f"trees[{i}] differs in structure or shapes from trees[0]; only identical pytrees stack")
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *trees)


def seed_slice(tree, i: int):
    """Seed ``i`` of a seed-batched pytree (negative ``i`` counts from the end)."""
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves or any(np.ndim(x) == 0 for x in leaves):
        raise ValueError("tree must be a pytree of arrays with a leading seed axis")
    seeds = np.shape(leaves[0])[0]
    if any(np.shape(x)[0] != seeds for x in leaves):
        raise ValueError("every leaf of tree must have the same leading (seed) axis length")
    i = validate.integer("i", i, minimum=-seeds, maximum=seeds - 1)   # JAX would clamp an index out of range
    return jax.tree_util.tree_map(lambda x: x[i], tree)


# --------------------------------------------------------------------------------------------- small classifiers
# Full-batch fitting of a small ReLU MLP by cross-entropy (Chapter 5 trains its networks this way).




class FitConfig(NamedTuple):
    """Full-batch AdamW training of a small ReLU MLP by cross-entropy."""
    hidden: tuple = (16, 16)
    steps: int = 3000
    learning_rate: float = 1e-2
    weight_decay: float = 1e-4

    def smoke(self) -> "FitConfig":
        return self._replace(steps=300)

    def validated(self) -> "FitConfig":
        hidden = tuple(self.hidden)
        for i, h in enumerate(hidden):
            validate.integer(f"config.hidden[{i}]", h, minimum=1)
        validate.integer("config.steps", self.steps, minimum=1)
        validate.real("config.learning_rate", self.learning_rate, low=0.0, low_open=True)
        validate.real("config.weight_decay", self.weight_decay, low=0.0)
        return self._replace(hidden=hidden)


# The hazard-task policy of Chapter 5: 4 observations -> 16 -> 16 -> 4 actions, trained on every observation.
POLICY_FIT = FitConfig(hidden=(16, 16), steps=6000)


@functools.lru_cache(maxsize=16)
def _fit_step(learning_rate: float, weight_decay: float):
    """One AdamW step on carry (params, optimizer state, x, targets); the same function object for
    the same settings, so :func:`run` compiles it once per shape."""
    opt = optax.adamw(learning_rate, weight_decay=weight_decay)

    def loss_fn(params, x, t):
        logits = jax.vmap(lambda xi: nn.mlp_apply(params, xi))(x)
        return optax.softmax_cross_entropy(logits, t).mean()

    def step(carry):
        params, state, x, t = carry
        loss, g = jax.value_and_grad(loss_fn)(params, x, t)
        updates, state = opt.update(g, state, params)
        return (optax.apply_updates(params, updates), state, x, t), loss

    return opt, step


def fit_mlp(key, x, targets, config: FitConfig = FitConfig(), progress: bool | str = False):
    """Train an MLP classifier: x: (n, d); targets: (n,) int labels or (n, k) probabilities.

    Returns (params, losses: (steps,)). The whole loop is compiled scans (see :func:`run`).
    """
    validate.prng_key("key", key)
    if not isinstance(config, FitConfig):
        raise ValueError(f"config must be a train.FitConfig, got {type(config).__name__}")
    config = config.validated()
    x = jnp.asarray(x, jnp.float32)
    t = np.asarray(targets)
    if x.ndim != 2 or t.shape[:1] != x.shape[:1]:
        raise ValueError(f"x must be (n, d) and targets (n,) or (n, k) with the same n, got {x.shape} and {t.shape}")
    if t.ndim == 1:
        if not np.issubdtype(t.dtype, np.integer) or t.min() < 0:
            raise ValueError("integer targets must be non-negative class labels")
        t = np.eye(int(t.max()) + 1, dtype=np.float32)[t]
    t = jnp.asarray(t, jnp.float32)
    params = nn.mlp_init(key, (x.shape[1], *config.hidden, t.shape[1]))
    opt, step = _fit_step(float(config.learning_rate), float(config.weight_decay))
    (params, _, _, _), losses = run(step, (params, opt.init(params), x, t), config.steps, num_chunks=5,
                                    progress=progress)
    return params, losses


def predict(params, x) -> np.ndarray:
    """Argmax outputs of an MLP (``nn.mlp_init`` params) for x: (n, d) -> (n,) int, in float64."""
    if not isinstance(params, (list, tuple)) or not params or not all(
            isinstance(layer, dict) and {"w", "b"} <= set(layer) for layer in params):
        raise ValueError("params must be a non-empty list of {'w': (in, out), 'b': (out,)} dicts (mesalib.nn.mlp_init)")
    h = np.asarray(x, np.float64)
    if h.ndim != 2 or h.shape[1] != np.shape(params[0]["w"])[0]:
        raise ValueError(f"x must have shape (n, {np.shape(params[0]['w'])[0]}), got {h.shape}")
    for i, layer in enumerate(params):
        h = h @ np.asarray(layer["w"], np.float64) + np.asarray(layer["b"], np.float64)
        if i < len(params) - 1:
            h = np.maximum(h, 0.0)
    return h.argmax(-1)
