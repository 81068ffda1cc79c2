# Commands of the last GPU session (dependent-arm variants); the first sessions ran scripts/tune_rl2.py
# and bench_rl2.py there. Outputs are in gpu_rl2_tuning.log and gpu_h100_bench_rl2.md.
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
python3 - <<'PY' 2>&1 | tee $OUT/dependent.log
import time, jax, numpy as np, mesalib, pathlib, os, jax.numpy as jnp
from mesalib import pretrained, rl2, bandits
out = pathlib.Path(os.environ["OUT"])
probs = bandits.sample_tasks(jax.random.key(3), 4000, 2, prior="dependent")
def pooled(key, s, f, t):
    e = (s[0] + f[1]) - (f[0] + s[1])
    return jnp.where(e > 0, 0, jnp.where(e < 0, 1, jax.random.randint(key, (), 0, 2)))
for name, rule in [("pooled (Bayes-optimal)", pooled), ("Gittins", "Gittins"), ("Thompson", "Thompson")]:
    print(name, float(bandits.regret(bandits.run(jax.random.key(5), rule, probs, 100), probs)[:, -1].mean()))
variants = {"v1": dict(learning_rate=3e-3, learning_rate_end=3e-4, entropy_end=0.01, num_updates=3000),
            "v2": dict(learning_rate=1e-3, learning_rate_end=1e-4, entropy_end=0.003, num_updates=4000),
            "v3": dict(learning_rate=3e-3, learning_rate_end=3e-4, entropy_start=0.1, entropy_end=0.01, batch_size=1024, num_updates=3000)}
for tag, kw in variants.items():
    cfg = pretrained.CONFIGS["rl2_dependent_n100"]._replace(**kw)
    t0 = time.perf_counter()
    path = pretrained.build("rl2_dependent_n100", progress=False, path=out / f"dep_{tag}.npz", config=cfg)
    params, _, returns, _ = pretrained.load_file(path)
    reg = float(bandits.regret(rl2.evaluate(params, jax.random.key(4), probs, 100), probs)[:, -1].mean())
    print(tag, kw, f"regret@100 {reg:.3f}", round(time.perf_counter() - t0), "s", np.asarray(returns).reshape(10, -1).mean(1).round(1))
PY
