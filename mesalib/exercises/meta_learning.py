"""Checkers for the exercises of Chapter 1 (meta-learning).

Each checker prints what is right or what to try next and returns True or False; none raises on
a wrong or missing answer, so the notebook still runs top to bottom.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import bandits
from mesalib.exercises.common import fail as _fail


def check_oracle_mean(fn) -> bool:
    """fn(n, k): the expected successes of always pulling the best of k arms with p ~ U[0, 1] for n pulls."""
    if fn is None:
        return _fail("Not answered yet: define oracle_mean(n, k) and pass it to the checker.")
    if not callable(fn):
        return _fail(f"Pass the function itself, oracle_mean, not {type(fn).__name__} {fn!r:.40}.")
    cases = [(10, 5), (100, 5), (100, 10), (1, 1), (7, 3)]
    for n, k in cases:
        try:
            got = float(fn(n, k))
        except Exception as e:  # noqa: BLE001 - report any failure of the reader's function
            return _fail(f"oracle_mean({n}, {k}) raised {type(e).__name__}: {str(e)[:200]}")
        if not np.isfinite(got):
            return _fail(f"oracle_mean({n}, {k}) returned {got}; it must be a finite number of successes.")
        want = n * k / (k + 1)
        if not np.isclose(got, want, rtol=1e-6):
            return _fail(f"Not yet: oracle_mean({n}, {k}) = {got:.4g}. Hint: if U = max of k independent "
                         "uniforms, P(U <= u) = u^k; integrate 1 - u^k over [0, 1].")
    print("Correct: E[max of k uniforms] = k/(k+1), so the oracle expects n·k/(k+1) successes "
          f"(e.g. {100 * 5 / 6:.2f} for n=100, k=5).")
    return True


def check_select_rule(rule, num_pulls: int = 100, num_arms: int = 5, target: float = 70.0) -> bool:
    """rule(key, s, f, t) -> arm: a bandit rule that must earn >= ``target`` successes on (100, 5)."""
    if rule is None:
        return _fail("Not answered yet: write a rule(key, s, f, t) and pass it to the checker.")
    if not callable(rule):
        return _fail(f"Pass your rule itself, a function rule(key, s, f, t) -> arm, not {type(rule).__name__} "
                     f"{rule!r:.40}.")
    try:
        probs = bandits.sample_tasks(jax.random.key(2024), 2000, num_arms)
        bandits.oracle_value(probs, num_pulls)        # checks num_pulls
        target = float(target)
    except Exception as e:  # noqa: BLE001 - the checker's own settings, if the reader changed them
        return _fail(f"The checker's settings are not usable ({type(e).__name__}: {str(e)[:200]}); call it as "
                     "check_select_rule(rule).")
    try:
        arm = rule(jax.random.key(0), jnp.zeros(num_arms), jnp.zeros(num_arms), jnp.float32(0))
    except Exception as e:  # noqa: BLE001
        return _fail(f"Your rule raised {type(e).__name__} before the first pull: {str(e)[:200]}")
    try:
        a = np.asarray(arm)
    except Exception:  # noqa: BLE001
        a = np.asarray(None)
    if a.shape != () or not np.issubdtype(a.dtype, np.integer):
        return _fail(f"The rule must return one integer arm index, got {str(arm)[:80]!s}.")
    if not 0 <= int(a) < num_arms:
        return _fail(f"The rule returned arm {int(a)}; with {num_arms} arms an index must lie in 0..{num_arms - 1}.")
    try:
        out = bandits.run(jax.random.key(1), rule, probs, num_pulls)
    except ValueError as e:
        if "returned arm" in str(e):
            return _fail(f"Your rule picked an arm that does not exist: {e}. Keep every index in 0..{num_arms - 1}.")
        return _fail(f"The rule failed ({type(e).__name__}): {str(e)[:200]}")
    except Exception as e:  # noqa: BLE001
        return _fail(f"The rule failed inside JAX ({type(e).__name__}): use jnp operations and jnp.where, "
                     f"not Python if-statements on array values. Details: {str(e)[:200]}")
    mean = float(out.rewards.sum(1).mean())
    if mean < target:
        return _fail(f"It runs, and earns {mean:.1f} successes on ({num_pulls}, {num_arms}); aim for at least "
                     f"{target:.0f} (Random earns about 50, Thompson sampling about 75).")
    print(f"Correct: your rule earns {mean:.1f} successes on ({num_pulls} pulls, {num_arms} arms).")
    return True


SHIFT_ANSWER = "b"


def check_shift_prediction(choice) -> bool:
    """choice: 'a', 'b' or 'c' — which change most hurts the meta-learned network relative to Thompson sampling."""
    if choice is None:
        return _fail("Not answered yet: set choice to 'a', 'b' or 'c'.")
    if not isinstance(choice, str):
        return _fail(f"Answer with one letter as a string: 'a', 'b' or 'c' (got {type(choice).__name__}).")
    choice = choice.strip().lower()
    if choice not in {"a", "b", "c"}:
        return _fail("Answer with one letter: 'a', 'b' or 'c'.")
    if choice == SHIFT_ANSWER:
        print("Correct: every arm near 1 is a task distribution the network never saw, and its learned "
              "stopping rule for exploration no longer fits; more tasks from the training distribution "
              "(a) or a fresh seed (c) change nothing about what it was tuned for.")
        return True
    return _fail("Not quite: (a) and (c) keep the task distribution the network was trained on. Which option "
                 "changes what the tasks look like?")
