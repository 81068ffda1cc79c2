"""Compiled training loops run in chunks, so a notebook can show progress between them.

A training step is a pure function ``step(carry) -> (carry, metrics)``. ``run`` compiles
``lax.scan`` over ``chunk`` steps once and calls it ``num_steps / chunk`` times; metrics leave
``jit`` as scan outputs and are concatenated on the host. Seeds are a leading batch axis of the
carry (the step is ``vmap``-ed by the caller); ``shard_seeds`` spreads that axis over all local
devices so the same code uses every GPU or TPU core of a multi-device runtime.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mesalib import validate

SMOKE_STEPS = 4  # with MESALIB_SMOKE=1, every training loop stops after this many steps


def shard_seeds(tree, devices=None):
    """Place a pytree whose leaves share a leading seed axis across local devices.

    With one device (or a seed count not divisible by the device count) it is returned unchanged
    except for being committed to the default device.
    """
    devices = jax.local_devices() if devices is None else list(devices)
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        return tree
    n = leaves[0].shape[0] if leaves[0].ndim else 0
    if len(devices) < 2 or n == 0 or n % len(devices):
        return tree
    mesh = Mesh(np.array(devices), ("seed",))

    def put(x):
        spec = PartitionSpec("seed", *([None] * (x.ndim - 1)))
        return jax.device_put(x, NamedSharding(mesh, spec))

    return jax.tree_util.tree_map(put, tree)


class Progress:
    """A one-line progress report: updates in place in Jupyter, on stderr in a terminal."""

    def __init__(self, total: int, desc: str = "", enabled: bool = True):
        self.total, self.desc, self.enabled = total, desc, enabled
        self.start = time.perf_counter()
        self.handle = None
        self.in_notebook = _in_notebook()

    def _line(self, done: int, extra: str) -> str:
        elapsed = time.perf_counter() - self.start
        return f"{self.desc} {done}/{self.total} steps, {elapsed:.1f} s{extra}".strip()

    def update(self, done: int, extra: str = ""):
        if not self.enabled:
            return
        line = self._line(done, extra)
        if self.in_notebook:
            from IPython.display import display

            if self.handle is None:
                self.handle = display({"text/plain": line}, raw=True, display_id=True)
            else:
                self.handle.update({"text/plain": line}, raw=True)
        else:
            end = "\n" if done >= self.total else ""
            print("\r" + line, end=end, file=sys.stderr, flush=True)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def _chunk_size(num_steps: int, num_chunks: int) -> int:
    """Largest chunk length that divides num_steps into at most num_chunks equal parts."""
    for chunks in range(min(num_chunks, num_steps), 0, -1):
        if num_steps % chunks == 0:
            return num_steps // chunks
    return num_steps


def run(step: Callable, carry, num_steps: int, num_chunks: int = 10, progress: bool | str = True,
        summary: Callable | None = None):
    """Run ``num_steps`` of ``step`` as compiled scans; return (final carry, stacked metrics).

    ``progress``: False for silence, True or a description string for a progress line.
    ``summary(metrics_of_chunk) -> str`` adds a short readout (e.g. the latest mean return).
    With the environment variable ``MESALIB_SMOKE=1`` only ``SMOKE_STEPS`` steps run: the same
    code path in seconds, for checking that a notebook executes end to end.
    """
    num_steps = validate.integer("num_steps", num_steps, minimum=1)
    num_chunks = validate.integer("num_chunks", num_chunks, minimum=1)
    if os.environ.get("MESALIB_SMOKE") == "1":
        num_steps = min(num_steps, SMOKE_STEPS)
    chunk = _chunk_size(num_steps, num_chunks)

    @jax.jit
    def run_chunk(c):
        return jax.lax.scan(lambda c, _: step(c), c, None, length=chunk)

    desc = progress if isinstance(progress, str) else ""
    bar = Progress(num_steps, desc, enabled=bool(progress))
    outputs = []
    for i in range(num_steps // chunk):
        carry, metrics = run_chunk(carry)
        metrics = jax.device_get(metrics)  # also waits for the chunk to finish
        outputs.append(metrics)
        bar.update((i + 1) * chunk, "" if summary is None else ", " + summary(metrics))
    stacked = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=0), *outputs)
    return carry, stacked


def timed(fn: Callable, *args):
    """Call ``fn(*args)`` twice: return (result, compile-and-run seconds, run-only seconds)."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    t1 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    t2 = time.perf_counter()
    return out, t1 - t0, t2 - t1


def tree_stack(trees):
    """Stack a list of identical pytrees along a new leading axis."""
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *trees)
