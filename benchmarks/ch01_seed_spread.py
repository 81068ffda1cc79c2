"""How typical is Chapter 1's live (n=10, k=5) result? Train the chapter's network from other seeds.

    python benchmarks/ch01_seed_spread.py [--seeds N]

The chapter trains three networks (its key, ``meta_learning.Config()``) and scores their average
on 2000 fresh tasks. Here ``--seeds`` more networks with the same settings are trained from keys
the chapter never uses (``fold_in(key, 1000)``), in one compiled run, and each is scored alone on
the chapter's own headline tasks for (10, 5). The table gives each network's mean successes, its
ratio to Duan et al.'s 6.7, and the mean over networks with a Student-t interval over training
seeds; a single network's spread is what a reader retraining the chapter from another seed would see.
"""
import argparse
import time

import mesalib  # noqa: F401  (configures XLA first)

import jax
import numpy as np

from mesalib import bandits, rl2, stats, train
from mesalib.experiments import meta_learning as M


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=12)
    args = parser.parse_args()
    config = M.Config()
    key = jax.random.key(0)                                   # the chapter's SEED
    k = M.keys(key)
    # the chapter's headline tasks for (10, 5): the same derivation as run_headline
    kp, _, kr = jax.random.split(jax.random.fold_in(k.rl2, 10 * 100 + 5), 3)
    probs = bandits.sample_tasks(kp, config.eval_tasks, 5)
    start = time.perf_counter()
    trained = rl2.train_seeds(jax.random.split(jax.random.fold_in(key, 1000), args.seeds), config.rl2,
                              progress=False)
    seconds = time.perf_counter() - start
    duan = M.DUAN_2016[(10, 5)]["RL²"]
    means = []
    print(f"{args.seeds} networks, settings of meta_learning.Config().rl2 "
          f"({config.rl2.num_updates} updates of {config.rl2.batch_size} tasks), trained in {seconds:.0f} s; "
          f"each scored on the chapter's {config.eval_tasks} headline tasks for (10, 5)\n")
    print("| seed | mean successes | 95% interval over tasks | / Duan et al. 6.7 |")
    print("|---|---|---|---|")
    for i in range(args.seeds):
        out = rl2.evaluate(train.seed_slice(trained.params, i), jax.random.fold_in(kr, i), probs, 10)
        s = stats.mean_ci(np.asarray(out.rewards.sum(1)), method="normal")
        means.append(float(s.mean))
        print(f"| {i} | {s.mean:.3f} | [{s.low:.3f}, {s.high:.3f}] | {s.mean / duan:.3f} |")
    t = stats.mean_ci(np.asarray(means), method="t")
    print(f"\nOver the {args.seeds} training seeds: mean {t.mean:.3f} (95% t-interval [{t.low:.3f}, {t.high:.3f}]), "
          f"range {min(means):.3f} to {max(means):.3f}; as a share of Duan et al.'s {duan}: "
          f"{t.mean / duan:.3f} [{t.low / duan:.3f}, {t.high / duan:.3f}].")
    print(f"Duan et al.'s value lies {'inside' if t.low <= duan <= t.high else 'outside'} the interval over seeds.")


if __name__ == "__main__":
    main()
