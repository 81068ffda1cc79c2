"""Argument checks for public functions: fail early with a ValueError that names the parameter.

They run in Python before tracing, so a bad value never reaches XLA (which would silently
clamp an out-of-range index or return NaN).
"""
from __future__ import annotations

import numbers

import jax
import numpy as np


def integer(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as int if it is an integer in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def real(name: str, value, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as float if it is a finite real number in the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def choice(name: str, value, allowed) -> str:
    """Return ``value`` if it is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


def prng_key(name: str, value):
    """Accept a typed key (``jax.random.key``) or a raw ``uint32[2]`` key; reject ints and others.

    Passing a plain integer seed where a key is expected is the commonest mistake, so the
    message says how to make a key.
    """
    if isinstance(value, jax.Array) and jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
        return value
    if isinstance(value, (jax.Array, np.ndarray)) and value.dtype == np.uint32 and value.shape[-1:] == (2,):
        return value
    raise ValueError(
        f"{name} must be a JAX PRNG key such as jax.random.key(0), got {type(value).__name__} {value!r}"[:200]
    )


def key_batch(name: str, value):
    """A batch of typed keys with shape (seeds,), e.g. ``jax.random.split(key, 8)``."""
    value = prng_key(name, value)
    if not jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key) or value.ndim != 1:
        raise ValueError(f"{name} must be a 1-D batch of typed keys, e.g. jax.random.split(jax.random.key(0), 8); "
                         f"got shape {value.shape}")
    return value


def probabilities(name: str, value, ndim: int | None = None):
    """An array of probabilities in [0, 1] (checked on the host, never inside jit)."""
    arr = np.asarray(value)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must contain probabilities in [0, 1]")
    return value
