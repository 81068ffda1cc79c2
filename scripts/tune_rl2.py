"""Choose RL² settings for 100-pull bandits, then train the stored networks with the best one.

Run on an accelerator (each update is a 100-step recurrent rollout plus its backward pass):
    python scripts/tune_rl2.py OUT_DIR [sweep_updates] [final_updates]
Prints one line per candidate (mean successes of the trained network on 2000 held-out tasks) and
writes the networks as OUT_DIR/NAME.npz in the format of mesalib.pretrained.
"""
import pathlib
import sys
import time

import jax
import numpy as np

import mesalib  # noqa: F401
from mesalib import bandits, pretrained, rl2

out = pathlib.Path(sys.argv[1])
sweep_updates = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
final_updates = int(sys.argv[3]) if len(sys.argv) > 3 else 6000
deadline = time.perf_counter() + float(sys.argv[4]) if len(sys.argv) > 4 else float("inf")
out.mkdir(parents=True, exist_ok=True)
print("device", jax.devices()[0].device_kind, "jax", jax.__version__, flush=True)

base = rl2.Config(num_arms=5, num_pulls=100, num_updates=sweep_updates)
candidates = {
    "norm, ent .01": dict(normalize_advantages=True, entropy_start=0.01),
    "norm, ent .03": dict(normalize_advantages=True, entropy_start=0.03),
    "norm, ent .1": dict(normalize_advantages=True, entropy_start=0.1),
    "raw, ent .01": dict(normalize_advantages=False, entropy_start=0.01),
    "norm, ent .01, lam .8": dict(normalize_advantages=True, entropy_start=0.01, gae_lambda=0.8),
    "norm, ent .01, gamma .99": dict(normalize_advantages=True, entropy_start=0.01, gamma=0.99),
    "norm, ent .01, batch 1024": dict(normalize_advantages=True, entropy_start=0.01, batch_size=1024),
}
probs = bandits.sample_tasks(jax.random.key(123), 2000, 5)
scores, per_update = {}, []
for name, kw in candidates.items():
    cfg = base._replace(**kw)
    t0 = time.perf_counter()
    res = rl2.train_seeds(jax.random.split(jax.random.key(0), 1), cfg, progress=False)
    t1 = time.perf_counter()
    per_update.append((t1 - t0) / cfg.num_updates / (cfg.batch_size / 256))
    score = float(rl2.evaluate(rl2.seed_slice(res.params, 0), jax.random.key(7), probs, 100).rewards.sum(1).mean())
    scores[name] = score
    curve = res.returns[:, 0].reshape(10, -1).mean(1).round(1)
    print(f"{name:28s} eval {score:6.2f}  {t1 - t0:6.1f}s  curve {curve}", flush=True)

best = max(scores, key=scores.get)
cost = float(np.median(per_update))  # seconds per update at batch 256, compile included
left = deadline - time.perf_counter()
if np.isfinite(left):  # fit the three final runs (k=5, k=10 and the shorter dependent one) in the time left
    final_updates = int(min(final_updates, 0.8 * left / cost / 2.4 / (1 if "1024" not in best else 4)))
print(f"best: {best}; {1000 * cost:.1f} ms per update; final runs {final_updates} updates", flush=True)
for net in ["rl2_n100_k5", "rl2_n100_k10", "rl2_dependent_n100"]:
    cfg = pretrained.CONFIGS[net]._replace(**candidates[best])
    cfg = cfg._replace(num_updates=final_updates if "dependent" not in net else final_updates // 3)
    t0 = time.perf_counter()
    path = pretrained.build(net, progress=False, path=out / f"{net}.npz", config=cfg)
    params, _, returns, meta = pretrained.load_file(path)
    k = cfg.num_arms
    test = bandits.sample_tasks(jax.random.key(5), 2000, k, prior=cfg.prior)
    score = float(rl2.evaluate(params, jax.random.key(8), test, 100).rewards.sum(1).mean())
    print(f"{net}: {cfg} eval {score:.2f} in {time.perf_counter() - t0:.0f}s; curve "
          f"{np.asarray(returns).reshape(10, -1).mean(1).round(1)}", flush=True)
