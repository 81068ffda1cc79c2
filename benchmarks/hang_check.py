"""Does JAX's CPU backend stall on this stack, and does mesalib's XLA flag prevent it?

    python benchmarks/hang_check.py [trials] [timeout_seconds]

Each trial is a fresh process that meta-trains 32 RL² seeds vmapped in one compiled program and
then calls that program a second time (the pattern under which stalls were seen), under a
timeout. Trials alternate between XLA_FLAGS=--xla_cpu_multi_thread_eigen=false (what importing
mesalib sets) and the flag explicitly turned off (MESALIB_KEEP_XLA_FLAGS=1 with XLA_FLAGS empty).
Prints completed/stalled counts and the median wall time of each arm.
"""
import os
import statistics
import subprocess
import sys
import time

TRIAL = """
import mesalib, jax
from mesalib import rl2, train
cfg = rl2.Config(num_updates=60, batch_size=64, hidden=32)
keys = jax.random.split(jax.random.key(0), 32)
for _ in range(2):
    res = rl2.train_seeds(keys, cfg, progress=False, num_chunks=3)
    jax.block_until_ready(res.params)
print("done")
"""


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    limit = float(sys.argv[2]) if len(sys.argv) > 2 else 180
    arms = {"flag on (mesalib default)": {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"},
            "flag off": {"XLA_FLAGS": "", "MESALIB_KEEP_XLA_FLAGS": "1"}}
    results = {name: {"ok": 0, "stalled": 0, "times": []} for name in arms}
    for i in range(trials):
        for name, extra in arms.items():
            env = dict(os.environ, **extra)
            t0 = time.perf_counter()
            try:
                out = subprocess.run([sys.executable, "-c", TRIAL], env=env, capture_output=True, text=True, timeout=limit)
                ok = out.returncode == 0 and "done" in out.stdout
            except subprocess.TimeoutExpired:
                ok = False
            dt = time.perf_counter() - t0
            results[name]["ok" if ok else "stalled"] += 1
            if ok:
                results[name]["times"].append(dt)
            print(f"trial {i + 1:2d} {name:26s} {'ok' if ok else 'STALLED/FAILED'} {dt:6.1f}s", flush=True)
    print("\n| arm | completed | stalled or failed | median s |\n|---|---|---|---|")
    for name, r in results.items():
        med = statistics.median(r["times"]) if r["times"] else float("nan")
        print(f"| {name} | {r['ok']} | {r['stalled']} | {med:.1f} |")


if __name__ == "__main__":
    main()
