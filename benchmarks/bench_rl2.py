"""Side-by-side timings of the RL² meta-training loop and of Chapter 1's compute.

    python benchmarks/bench_rl2.py [--quick]

A. The compiled loop (``lax.scan`` over updates inside one ``jit``, as ``mesalib.train.train_seeds`` does)
   against the same update function called from a Python loop, one jitted call per update.
   Both are timed after compilation, in the same process, alternating, so the ratio is fair.
B. The compute of Chapter 1 (train three (10, 5) networks, run the baselines, evaluate the
   stored networks), compile included, as a reader's first run would see it.
Prints a Markdown table; the figures recorded in benchmarks/README.md come from it.
"""
import argparse
import time

import jax

import mesalib  # noqa: F401
from mesalib import bandits, pretrained, rl2
from mesalib.experiments import meta_learning


def loop_vs_scan(config, updates, repeats=3):
    trainer = rl2.make_train(config)
    step, state = trainer.update, trainer.init(jax.random.key(0))
    jit_step = jax.jit(step)
    scan = jax.jit(lambda s: jax.lax.scan(lambda c, _: step(c), s, None, length=updates))
    jax.block_until_ready(jit_step(state))         # compile both first
    jax.block_until_ready(scan(state))
    t_loop, t_scan = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        s = state
        for _ in range(updates):
            s, _ = jit_step(s)
        jax.block_until_ready(s)
        t_loop.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        jax.block_until_ready(scan(state))
        t_scan.append(time.perf_counter() - t0)
    return min(t_loop) / updates, min(t_scan) / updates


def chapter1_compute(quick=False):
    times = {}
    t0 = time.perf_counter()
    cfg = rl2.Config(num_updates=150 if quick else 1500)
    res = rl2.train_seeds(jax.random.split(jax.random.key(0), 3), cfg, progress=False)
    jax.block_until_ready(res.params)
    times["train 3 seeds (10,5), compile included"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for n, k in [(10, 5), (100, 5), (100, 10)]:
        probs = bandits.sample_tasks(jax.random.key(n + k), 2000, k)
        meta_learning.evaluate_baselines(jax.random.key(1), probs, n)
    times["baselines on 3 settings x 2000 tasks"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for name in pretrained.SINGLE:
        params, config, _, _ = pretrained.load(name)
        probs = bandits.sample_tasks(jax.random.key(2), 2000, config.num_arms, prior=config.prior)
        jax.block_until_ready(rl2.evaluate(params, jax.random.key(3), probs, 100).rewards)
    probs = bandits.sample_tasks(jax.random.key(4), 2000, 5)
    params, _, _, _ = pretrained.load("rl2_n100_k5")
    jax.block_until_ready(rl2.evaluate(params, jax.random.key(5), probs, 1000, horizon=100).rewards)
    times["evaluate stored networks (incl. 1000-pull run)"] = time.perf_counter() - t0
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer updates (a smoke run)")
    args = parser.parse_args()
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}\n")
    print("| setting | Python loop, ms/update | compiled scan, ms/update | loop / scan |")
    print("|---|---|---|---|")
    for n, updates in [(10, 100 if args.quick else 300), (100, 20 if args.quick else 100)]:
        loop, scan = loop_vs_scan(rl2.Config(num_pulls=n), updates)
        print(f"| RL² (n={n}, k=5), batch 256 | {1e3 * loop:.2f} | {1e3 * scan:.2f} | {loop / scan:.2f}x |", flush=True)
    print("\n| Chapter 1 compute | seconds |\n|---|---|")
    for name, sec in chapter1_compute(args.quick).items():
        print(f"| {name} | {sec:.1f} |", flush=True)


if __name__ == "__main__":
    main()
