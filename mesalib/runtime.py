"""Process-level settings that must be in place before JAX creates its CPU backend.

On the jax/jaxlib 0.10 CPU backend, programs that run many ``vmap``-ed seeds can stall with every
XLA thread waiting (0% CPU). Two mechanisms are known:

- Eigen's multi-threaded kernels inside XLA's CPU runtime (reported for FFTs); mesalib turns them
  off with the flag below, at a small speed cost. The flag only affects the CPU backend, so it is
  harmless on GPUs and TPUs.
- Batched LAPACK calls (QR, LU, ...) split their batch over XLA's intra-op thread pool and block
  until the pieces are done; as many such calls side by side as the pool has threads (two on a
  2-core machine) block every thread for good. The flag does not help here. mesalib's compiled
  programs therefore never run two LAPACK calls at once: the GRU's orthogonal initialisation
  factorizes on the host (:func:`mesalib.nn.orthogonal`) and :func:`mesalib.irl.normalized_regret`
  makes one batched solve. ``benchmarks/hang_check.py`` reproduces the hang and shows the fix.
"""
from __future__ import annotations

import os

CPU_SAFE_FLAG = "--xla_cpu_multi_thread_eigen=false"


def configure_cpu_backend(environ: dict | None = None) -> bool:
    """Add the CPU-stability flag to ``XLA_FLAGS`` unless the user opted out.

    Set ``MESALIB_KEEP_XLA_FLAGS=1`` to leave ``XLA_FLAGS`` untouched. Returns True if the
    flag is present afterwards. Must run before the first JAX computation to take effect.
    """
    env = os.environ if environ is None else environ
    if env.get("MESALIB_KEEP_XLA_FLAGS") == "1":
        return CPU_SAFE_FLAG in env.get("XLA_FLAGS", "")
    flags = env.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        env["XLA_FLAGS"] = (flags + " " + CPU_SAFE_FLAG).strip()
    return CPU_SAFE_FLAG in env["XLA_FLAGS"]


def backend_initialized() -> bool:
    """Whether JAX has already created its backends (after which XLA_FLAGS is ignored)."""
    import sys

    xb = sys.modules.get("jax._src.xla_bridge")
    return bool(xb is not None and getattr(xb, "_backends", None))
