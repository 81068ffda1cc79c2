"""Try one RL² setting on two dependent arms (p2 = 1 - p1, 100 pulls) and report its regret.

    python scripts/tune_rl2_dependent.py NAME '{"gamma": 0.8, "num_updates": 5000}' [OUT_DIR]
    python scripts/tune_rl2_dependent.py NAME '{"prior": "uniform", ...}' [OUT_DIR]   # a control

The JSON changes ``pretrained.CONFIGS["rl2_dependent_n100"]``; training uses seed 0 like
``mesalib.pretrained`` and the network is written to OUT_DIR/NAME.npz (default /tmp). Prints one
line: expected regret after 100 pulls on 4000 held-out dependent tasks (mean and standard error),
sampling from the policy and taking its argmax, the training seconds, the mean successes over ten
stretches of training, and how often the network picks the arm the pooled evidence favours where
each arm's own record says otherwise (states from Thompson-sampling histories). The lines
collected in benchmarks/cpu_rl2_dependent_tuning.log came from this script's predecessor.
"""
import json
import pathlib
import sys
import time

import jax
import numpy as np

from mesalib import bandits, pretrained, rl2


def regret(params, probs, greedy):
    out = rl2.evaluate(params, jax.random.key(8), probs, 100, greedy=greedy)
    reg = np.asarray(bandits.regret(out, probs)[:, -1])
    return round(float(reg.mean()), 3), round(float(reg.std() / np.sqrt(reg.size)), 3)


def follows_pooled(params, probs):
    history = bandits.run(jax.random.key(11), "Thompson", probs, 100)
    c = bandits.evidence_conflicts(history)
    p = np.asarray(rl2.action_probs(params, history))[c.task, c.pull]
    return round(float(p[np.arange(len(c.task)), c.pooled_arm].mean()), 3)


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    name, changes = argv[0], json.loads(argv[1])
    out = pathlib.Path(argv[2] if len(argv) == 3 else "/tmp")
    config = pretrained.CONFIGS["rl2_dependent_n100"]._replace(**changes)
    start = time.perf_counter()
    path = pretrained.build("rl2_dependent_n100", progress=False, path=out / f"{name}.npz", config=config)
    seconds = time.perf_counter() - start
    params, _, returns, _ = pretrained.load_file(path)
    probs = bandits.sample_tasks(jax.random.key(5), 4000, 2, prior="dependent")
    curve = np.round([part.mean() for part in np.array_split(np.asarray(returns), 10) if part.size], 1)
    print(name, changes, {"sampled": regret(params, probs, False), "argmax": regret(params, probs, True)},
          f"{seconds:.0f}s", curve, "follows pooled", follows_pooled(params, probs[:2000]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
