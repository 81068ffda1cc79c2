"""Does JAX's CPU backend hang on concurrent batched LAPACK calls, and does mesalib's GRU
initialisation avoid it?

    python benchmarks/hang_check.py [trials] [seconds]

On jax/jaxlib 0.10's CPU backend a batched LAPACK call (here a QR factorization under ``vmap``)
splits its batch over XLA's intra-op thread pool and blocks until the pieces are done. When as
many such calls run side by side as the pool has threads, every pool thread blocks and the
program never finishes (0% CPU). A GRU's three orthogonal recurrent blocks are three independent
QRs, so a vmapped ``jax.nn.initializers.orthogonal`` GRU initialisation is exactly this pattern;
``mesalib.nn.orthogonal`` computes the same numbers with the QR on the host.

Each trial is a fresh process that calls one compiled, vmapped (16 seeds) GRU-style
initialisation over and over for ``seconds`` seconds, under a timeout of twice that. Trials
alternate between the two arms. Prints completed/hung counts and the calls made.
"""
import os
import subprocess
import sys
import time

TRIAL = """
import sys, time
import mesalib, jax, jax.numpy as jnp
from mesalib import nn
def lapack(k, h=64):
    return jnp.concatenate([jax.nn.initializers.orthogonal()(kk, (h, h)) for kk in jax.random.split(k, 3)], 1)
def host(k, h=64):
    return jnp.concatenate([nn.orthogonal(kk, h) for kk in jax.random.split(k, 3)], 1)
f = jax.jit(jax.vmap(lapack if sys.argv[1] == "lapack" else host))
t0, n = time.time(), 0
while time.time() - t0 < float(sys.argv[2]):
    f(jax.random.split(jax.random.key(n), 16)).block_until_ready()
    n += 1
print("calls", n)
"""


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    arms = {"jnp.linalg.qr (jax.nn.initializers.orthogonal)": "lapack", "nn.orthogonal (QR on the host)": "host"}
    results = {name: {"ok": 0, "hung": 0, "calls": []} for name in arms}
    for i in range(trials):
        for name, arm in arms.items():
            t0 = time.perf_counter()
            try:
                out = subprocess.run([sys.executable, "-c", TRIAL, arm, str(seconds)], env=dict(os.environ),
                                     capture_output=True, text=True, timeout=2 * seconds + 30)
                ok = out.returncode == 0 and "calls" in out.stdout
            except subprocess.TimeoutExpired:
                ok = False
            dt = time.perf_counter() - t0
            results[name]["ok" if ok else "hung"] += 1
            if ok:
                results[name]["calls"].append(int(out.stdout.split()[-1]))
            print(f"trial {i + 1} {name:48s} {'completed' if ok else 'HUNG (killed)'} {dt:6.1f}s", flush=True)
    print("\n| arm | completed | hung | calls per completed trial |\n|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['ok']} | {r['hung']} | {r['calls'] or '-'} |")


if __name__ == "__main__":
    main()
