"""Where Chapter 1's cold run goes: each section's wall time in one fresh process, and how much of
it XLA spent compiling (JAX's compilation log), with the largest programs named.

    python benchmarks/ch01_profile.py

The sections run in the chapter's order with the chapter's settings and key, as the notebook
calls them. Prints a Markdown table.
"""
import collections
import logging
import re
import time

import jax

jax.config.update("jax_log_compiles", True)
COMPILES = []        # (section, program, seconds)
SECTION = ["imports"]


class _CompileLog(logging.Handler):
    def emit(self, record):
        found = re.search(r"Finished XLA compilation of (.*) in ([0-9.e-]+) sec", record.getMessage())
        if found:
            COMPILES.append((SECTION[0], found.group(1), float(found.group(2))))


logging.getLogger("jax").addHandler(_CompileLog())
logging.getLogger("jax").setLevel(logging.WARNING)

t0 = time.perf_counter()
from mesalib.experiments import meta_learning  # noqa: E402 - after the compile log is set up

WALL = {"imports": time.perf_counter() - t0}


def section(name, fn):
    SECTION[0] = name
    start = time.perf_counter()
    out = fn()
    jax.block_until_ready(jax.tree_util.tree_leaves(out))
    WALL[name] = time.perf_counter() - start
    return out


def main():
    key, config = jax.random.key(0), meta_learning.Config()
    section("baselines", lambda: meta_learning.run_baselines(key, config))
    trained = section("training", lambda: meta_learning.run_training(key, config))
    headline = section("headline", lambda: meta_learning.run_headline(key, trained, config))
    section("regret curves", lambda: meta_learning.regret_curves(key, headline, setting=(100, 5)))
    section("dependent arms", lambda: meta_learning.run_dependent(key, config))
    section("1000-pull shift", lambda: meta_learning.run_shift(key, config))
    section("skewed prior", lambda: meta_learning.run_skewed(key, trained, config))
    seconds = collections.defaultdict(float)
    count = collections.Counter()
    biggest = collections.defaultdict(list)
    for name, program, s in COMPILES:
        seconds[name] += s
        count[name] += 1
        biggest[name].append((s, program))
    print("| section | wall, s | compiling, s | programs compiled | largest (s) |\n|---|---|---|---|---|")
    for name, wall in WALL.items():
        top = ", ".join(f"{p.removeprefix('jit(').removesuffix(')')} {s:.1f}"
                        for s, p in sorted(biggest[name], reverse=True)[:3] if s >= 0.5)
        print(f"| {name} | {wall:.1f} | {seconds[name]:.1f} | {count[name]} | {top} |")
    print(f"| total | {sum(WALL.values()):.1f} | {sum(seconds.values()):.1f} | {sum(count.values())} | |")


if __name__ == "__main__":
    main()
