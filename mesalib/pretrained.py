"""Networks the chapters load instead of training on the spot, and the code that trains them.

Meta-training RL² on 100-pull bandits takes many minutes on a CPU, longer than a chapter should
take to run, so those networks are trained once by ``python -m mesalib.pretrained NAME`` (or
``make pretrained``) with the configs below and stored in ``mesalib/weights/NAME.npz`` together
with the config, the training curve and how long training took. A chapter can retrain any of
them by calling :func:`build` itself.
"""
from __future__ import annotations

import json
import pathlib
import sys
import time

import jax
import numpy as np

from mesalib import rl2, validate

WEIGHTS = pathlib.Path(__file__).resolve().parent / "weights"

# Settings chosen by scripts/tune_rl2.py (its output is in benchmarks/gpu_rl2_tuning.log): normalized
# advantages with a small annealed entropy bonus was the only family that escaped the early
# plateau at 100 pulls within 1000 updates.
_N100 = dict(num_pulls=100, normalize_advantages=True, entropy_start=0.03)
_TWO_ARMS = dict(num_arms=2, gamma=0.8, num_updates=5000, learning_rate=1e-3, learning_rate_end=1e-5,
                 entropy_end=0.0, **_N100)
CONFIGS: dict[str, rl2.Config] = {
    "rl2_n100_k5": rl2.Config(num_arms=5, num_updates=10000, **_N100),
    "rl2_n100_k10": rl2.Config(num_arms=10, num_updates=6000, **_N100),
    # Two arms, dependent (p2 = 1 - p1) and a control on independent arms with the same settings.
    # Undiscounted returns left the dependent network at the Gittins index's level; a discount of
    # 0.8 in the actor-critic, with the step size and entropy bonus decaying to (almost) zero,
    # brought it near the Bayes-optimal rule (benchmarks/cpu_rl2_dependent_tuning.log).
    "rl2_dependent_n100": rl2.Config(prior="dependent", **_TWO_ARMS),
    "rl2_n100_k2": rl2.Config(prior="uniform", **_TWO_ARMS),
    # Chapter 1's live (10, 5) settings on the skewed prior (arm 0 always the best), three seeds:
    # what a meta-learner learns when its task distribution never rewards exploring.
    "rl2_skewed_n10_k5": rl2.Config(prior="skewed"),
}
SEEDS = {name: 0 for name in CONFIGS}
#: Training runs stored per network (seeds split from ``SEEDS[name]``); with more than one, the
#: stored parameters and training returns carry a leading seed axis.
NUM_SEEDS = {name: 3 if name == "rl2_skewed_n10_k5" else 1 for name in CONFIGS}
#: The networks stored as one training run (parameters without a seed axis).
SINGLE = tuple(name for name in CONFIGS if NUM_SEEDS[name] == 1)


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}{k}/"))
        return out
    return {prefix[:-1]: np.asarray(tree)}


def _unflatten(flat):
    tree: dict = {}
    for path, value in flat.items():
        node = tree
        *parents, leaf = path.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = jax.numpy.asarray(value)
    return tree


def build(name: str, progress: bool | str = True, path: pathlib.Path | None = None,
          config: rl2.Config | None = None) -> pathlib.Path:
    """Meta-train network ``name`` from its config and seed and save it; returns the file.

    ``config`` overrides the stored config (for exploring settings; the file records it).
    """
    validate.choice("name", name, set(CONFIGS))
    validate.progress("progress", progress)
    if config is not None:
        validate.instance("config", config, rl2.Config, "an rl2.Config (or None for the stored one)")
        config.validated()
    config = CONFIGS[name] if config is None else config
    if path is not None and not isinstance(path, (str, pathlib.Path)):
        raise ValueError(f"path must be a file path (str or pathlib.Path), got {type(path).__name__}")
    key = jax.random.key(SEEDS[name])
    num_seeds = NUM_SEEDS[name]
    start = time.perf_counter()
    result = rl2.train_seeds(jax.random.split(key, num_seeds), config, progress=progress or False, num_chunks=60)
    seconds = time.perf_counter() - start
    params = rl2.seed_slice(result.params, 0) if num_seeds == 1 else result.params
    path = WEIGHTS / f"{name}.npz" if path is None else pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": config._asdict(), "seed": SEEDS[name], "num_seeds": num_seeds,
            "train_seconds": round(seconds, 1), "device": str(jax.devices()[0].device_kind), "jax": jax.__version__}
    returns = result.returns[:, 0] if num_seeds == 1 else result.returns
    np.savez_compressed(path, **{"params/" + k: v for k, v in _flatten(params).items()},
                        returns=np.asarray(returns, np.float32), meta=np.array(json.dumps(meta)))
    return path


def load(name: str):
    """Return (params, config, training returns per update, metadata) of a stored network. A
    network stored with several training runs (``NUM_SEEDS``) has a leading seed axis on its
    parameters and returns (take one run with ``rl2.seed_slice(params, i)``)."""
    validate.choice("name", name, set(CONFIGS))
    path = WEIGHTS / f"{name}.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; create it with `python -m mesalib.pretrained {name}`")
    return load_file(path)


def load_file(path):
    """Like :func:`load`, from any file written by :func:`build`."""
    if not isinstance(path, (str, pathlib.Path)):
        raise ValueError(f"path must be a file path (str or pathlib.Path), got {type(path).__name__}")
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path {path} does not exist (write one with mesalib.pretrained.build)")
    try:
        with np.load(path, allow_pickle=False) as data:
            params = _unflatten({k[len("params/"):]: data[k] for k in data.files if k.startswith("params/")})
            meta = json.loads(str(data["meta"]))
            returns = data["returns"]
        config = rl2.Config(**meta["config"])
    except Exception as e:  # noqa: BLE001 - not an archive, or one that build did not write
        raise ValueError(f"path {path} is not a network file written by mesalib.pretrained.build "
                         f"({type(e).__name__}: {e})"[:300]) from None
    config.validated()
    num_seeds = meta.get("num_seeds", 1)
    if num_seeds == 1:
        rl2.check_params(params, f"the parameters in {path.name}")
    else:
        for i in range(num_seeds):
            rl2.check_params(rl2.seed_slice(params, i), f"the parameters of run {i} in {path.name}")
    return params, config, returns, meta


def main(argv: list[str]) -> int:
    names = list(CONFIGS) if argv == ["all"] else argv
    if not names:
        print(f"usage: python -m mesalib.pretrained all|NAME...   (names: {', '.join(CONFIGS)})")
        return 2
    for name in names:
        path = build(name, progress=name)
        print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
