"""Argument checks for public functions: fail early with a ValueError that names the parameter.

They run in Python before tracing, so a bad value never reaches XLA (which would silently
clamp an out-of-range index or return NaN). Every message starts with the parameter's name as
the caller wrote it (wrappers pass their own name down) and says what is allowed.
"""
from __future__ import annotations

import numbers

import jax
import numpy as np

FLOAT32 = np.finfo(np.float32)


def _describe(value) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def concrete(*xs) -> bool:
    """True when no leaf of ``xs`` is a tracer, i.e. values (not only shapes) can be checked."""
    return not any(isinstance(leaf, jax.core.Tracer) for x in xs for leaf in jax.tree_util.tree_leaves(x))


def _scalar(value):
    """A 0-d NumPy or (concrete) JAX array as a NumPy scalar; anything else unchanged."""
    if isinstance(value, (np.ndarray, jax.Array)) and not isinstance(value, jax.core.Tracer) and np.ndim(value) == 0:
        return np.asarray(value)[()]
    return value


def integer(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as int if it is an integer in ``[minimum, maximum]``."""
    value = _scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {_describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def real(name: str, value, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False, dtype=None) -> float:
    """Return ``value`` as float if it is a finite real number in the given interval.

    ``dtype`` (e.g. ``np.float32``): the value must also survive the cast to the dtype the
    computation uses, neither overflowing to infinity nor underflowing to zero or a subnormal.
    """
    value = _scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite real number, got {_describe(value)}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    if dtype is not None:
        info = np.finfo(dtype)
        if abs(value) > float(info.max):
            raise ValueError(f"{name} = {value:g} overflows {np.dtype(dtype).name} (largest {info.max:.3g}), "
                             "the precision the computation runs in")
        if value != 0 and abs(value) < float(info.tiny):
            raise ValueError(f"{name} = {value:g} underflows {np.dtype(dtype).name} (smallest normal "
                             f"{info.tiny:.3g}), the precision the computation runs in")
    return value


def boolean(name: str, value) -> bool:
    """Return ``value`` as bool if it is True or False (a NumPy bool too; not 0/1 or a string)."""
    value = _scalar(value)
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def text(name: str, value, allow_none: bool = False):
    """A string (or None when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string{' or None' if allow_none else ''}, got {_describe(value)}")
    return value


def choice(name: str, value, allowed) -> str:
    """Return ``value`` if it is one of ``allowed``."""
    try:
        ok = value in allowed
    except TypeError:   # unhashable (a list, a dict)
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {_describe(value)}")
    return value


def instance(name: str, value, types, what: str):
    """``value`` if it is an instance of ``types``; otherwise say what was expected (``what``)."""
    if not isinstance(value, types):
        raise ValueError(f"{name} must be {what}, got {type(value).__name__}")
    return value


def function(name: str, value, signature: str):
    """``value`` if it is callable; ``signature`` says how it is called, e.g. ``"(key, obs) -> action"``."""
    if not callable(value):
        raise ValueError(f"{name} must be a function {signature}, got {_describe(value)}")
    return value


def traced_integer(name: str, call, what: str, when: str, hint: str = ""):
    """Trace ``call()`` once, abstractly (``jax.eval_shape``: nothing is compiled or run), and check
    that it returns one integer ``what``: the check of a caller's rule before a compiled loop would
    silently clamp a float or a vector. Any error the rule raises is reported as ``name`` failing
    on ``when``; ``hint`` is added to the message for a wrong result. Values are not checked here
    (no value exists yet): check them on the loop's output."""
    try:
        out = jax.eval_shape(call)
    except Exception as e:  # noqa: BLE001 - report any failure of the caller's rule by name
        raise ValueError(f"{name} failed on {when} ({type(e).__name__}: {e})"[:400]) from e
    shape, dtype = getattr(out, "shape", None), getattr(out, "dtype", None)
    if shape != () or dtype is None or not np.issubdtype(dtype, np.integer):
        raise ValueError(f"{name} must return one integer {what}, got {dtype} of shape {shape}{hint}")


def progress(name: str, value):
    """A progress setting: True/False, or a string that labels the progress bar."""
    if not isinstance(value, (bool, np.bool_, str)):
        raise ValueError(f"{name} must be True, False or a label string, got {_describe(value)}")
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


def _shape_text(ndim, shape) -> str:
    if shape is not None:
        return "shape (" + ", ".join("*" if s is None else str(s) for s in shape) + (",)" if len(shape) == 1 else ")")
    return f"{ndim} dimension(s)"


def array(name: str, value, ndim: int | None = None, shape: tuple | None = None, min_ndim: int | None = None,
          low: float | None = None, high: float | None = None, integer: bool = False, allow_empty: bool = False,
          allow_nan: bool = False, dtype=None) -> np.ndarray:
    """``value`` as a NumPy array of finite real numbers, checked on the host (never inside jit).

    ``shape`` may hold ``None`` for a free axis; ``integer`` requires integer entries (an
    integer dtype, or floats that are whole numbers); ``low``/``high`` bound every entry.
    Strings, objects, NaN and infinities are rejected with a message naming ``name``. ``dtype``
    (e.g. ``np.float32``): every entry must also fit that dtype, the precision the computation runs
    in (a float64 1e39 is finite but overflows float32 to infinity).
    """
    if isinstance(value, jax.core.Tracer):
        raise ValueError(f"{name} must be a concrete array here (this function cannot run inside jit)")
    if isinstance(value, (str, bytes)) or value is None:
        raise ValueError(f"{name} must be an array of numbers, got {_describe(value)}")
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - ragged lists and odd objects
        raise ValueError(f"{name} must be an array of numbers, got {_describe(value)}") from None
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an array of numbers, got {_describe(value)}") from None
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {_shape_text(ndim, shape)}, got shape {arr.shape}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {arr.shape}")
    if shape is not None and (arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape))):
        raise ValueError(f"{name} must have {_shape_text(None, shape)}, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if arr.size and np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) if not allow_nan else np.isinf(arr)
        if bad.any():
            raise ValueError(f"{name} must be finite; it holds {int(np.isnan(arr).sum())} NaN and "
                             f"{int(np.isinf(arr).sum())} infinite value(s)")
    if dtype is not None and arr.size and np.issubdtype(arr.dtype, np.number):
        info = np.finfo(dtype)
        big = np.abs(arr[np.isfinite(arr)]).max(initial=0) if np.issubdtype(arr.dtype, np.floating) else np.abs(arr).max()
        if big > float(info.max):
            raise ValueError(f"{name} holds {float(big):g}, which overflows {np.dtype(dtype).name} (largest "
                             f"{info.max:.3g}), the precision the computation runs in")
    if integer and arr.size:
        if np.issubdtype(arr.dtype, np.floating) and not np.all(arr[np.isfinite(arr)] == np.round(arr[np.isfinite(arr)])):
            raise ValueError(f"{name} must hold integers, got non-integer values")
        if arr.dtype == bool:
            raise ValueError(f"{name} must hold integers, got booleans")
    if arr.size and (low is not None or high is not None):
        finite = arr[np.isfinite(arr)] if np.issubdtype(arr.dtype, np.floating) else arr
        if finite.size and low is not None and finite.min() < low:
            raise ValueError(f"{name} must be >= {low} everywhere, got a minimum of {finite.min()}")
        if finite.size and high is not None and finite.max() > high:
            raise ValueError(f"{name} must be <= {high} everywhere, got a maximum of {finite.max()}")
    return arr


def probabilities(name: str, value, ndim: int | None = None):
    """An array of probabilities in [0, 1] (checked on the host, never inside jit)."""
    arr = array(name, value, ndim=ndim)
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must contain probabilities in [0, 1], got values from {arr.min():g} to {arr.max():g}")
    return value


def indices(name: str, value, upper: int, what: str = "indices", ndim: int | None = None) -> np.ndarray:
    """An integer array whose entries lie in ``[0, upper)`` (JAX would clamp the others silently).

    ``what`` says what the entries are, e.g. ``"arm indices for 3 arms"``.
    """
    arr = array(name, value, ndim=ndim, allow_empty=True)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise ValueError(f"{name} must hold integers in [0, {upper - 1}] ({what}), got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= upper):
        out = (arr < 0) | (arr >= upper)
        where = tuple(int(i) for i in np.argwhere(out)[0])
        raise ValueError(f"{name} must hold values in [0, {upper - 1}] ({what}), got {arr[where]:g}"
                         + (f" at position {where}" if where else ""))
    return arr.astype(np.int64)


def same_length(names: tuple, lengths: tuple, what: str = "length"):
    """Several arguments that must agree on one size (e.g. tasks in a rollout and in probs)."""
    if len(set(lengths)) > 1:
        parts = ", ".join(f"{n} has {v}" for n, v in zip(names, lengths))
        raise ValueError(f"{' and '.join(names)} must have the same {what}; {parts}")


def finite_tree(name: str, tree, what: str = "arrays"):
    """Every leaf of a pytree is a finite real array (e.g. network parameters before training)."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    if not leaves:
        raise ValueError(f"{name} must be a pytree of {what}, got an empty {type(tree).__name__}")
    for path, leaf in leaves:
        array(f"{name}{jax.tree_util.keystr(path)}", leaf, allow_empty=True)
    return tree


def dict_keys(name: str, value, required, what: str = "a dict"):
    """``value`` is a dict holding at least ``required`` keys."""
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be {what}, got {type(value).__name__}")
    missing = [k for k in required if k not in value]
    if missing:
        raise ValueError(f"{name} must be {what} with keys {list(required)}; missing {missing}")
    return value
