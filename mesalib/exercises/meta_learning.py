"""Checkers for the exercises of Chapter 1 (meta-learning).

Each checker prints what is right or what to try next and returns True or False; none raises on
a wrong or missing answer, so the notebook still runs top to bottom.
"""
from __future__ import annotations

import functools
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from mesalib import bandits, pretrained, rl2, stats
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


ETC_M = (1, 2, 3, 4, 6, 8)       # the exploration lengths the explore-then-commit checker tries
_ETC_SCORES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _weakrefable(obj) -> bool:
    try:
        weakref.ref(obj)
    except TypeError:
        return False
    return True


def _etc_tasks(num_arms: int):
    return bandits.sample_tasks(jax.random.key(2024), 2000, num_arms), jax.random.key(1)


@functools.lru_cache(maxsize=4)
def _etc_baselines(num_pulls: int, num_arms: int) -> dict:
    """Greedy, Thompson sampling and the stored RL² network on the checker's tasks and key."""
    probs, key = _etc_tasks(num_arms)
    out = {name: np.asarray(bandits.run(key, name, probs, num_pulls).rewards.sum(1), np.float64)
           for name in ("Greedy", "Thompson")}
    network = pretrained.load(f"rl2_n{num_pulls}_k{num_arms}")[0]
    out["RL² (stored network)"] = np.asarray(rl2.evaluate(network, key, probs, num_pulls).rewards.sum(1), np.float64)
    return out


def _explore_then_commit_errors(actions, rewards, num_arms: int, m: int) -> str | None:
    """Why a rollout (tasks, pulls) is not explore-then-commit with ``m`` (None if it is): the first
    ``m * num_arms`` pulls must pull every arm exactly ``m`` times, and every later pull an arm
    whose posterior mean (s + 1) / (s + f + 2) is the highest at that moment."""
    actions, rewards = np.asarray(actions), np.asarray(rewards)
    explore = m * num_arms
    counts = np.stack([(actions[:, :explore] == a).sum(1) for a in range(num_arms)], 1)
    if not np.all(counts == m):
        bad = int(np.flatnonzero(np.any(counts != m, axis=1))[0])
        return (f"with m={m}, the first {explore} pulls must pull each of the {num_arms} arms exactly {m} times; "
                f"in task {bad} the arms were pulled {counts[bad].tolist()} times")
    onehot = actions[..., None] == np.arange(num_arms)                  # (tasks, pulls, k)
    s = np.cumsum(onehot * rewards[..., None], axis=1) - onehot * rewards[..., None]   # before each pull
    n = np.cumsum(onehot, axis=1) - onehot
    post = (s + 1.0) / (n + 2.0)
    chosen = np.take_along_axis(post, actions[..., None], axis=2)[..., 0]
    ok = chosen >= post.max(2) - 1e-9
    if not np.all(ok[:, explore:]):
        task, pull = (int(v[0]) for v in np.nonzero(~ok[:, explore:]))
        return (f"with m={m}, after exploring it must pull an arm with the highest posterior mean; in task {task}, "
                f"pull {explore + pull + 1} took arm {int(actions[task, explore + pull])} although another arm's "
                "posterior mean was higher")
    return None


def check_explore_then_commit(make_rule, best_m=None, num_pulls: int = 100, num_arms: int = 5) -> bool:
    """make_rule(m) -> rule(key, s, f, t): explore-then-commit with exploration length m; best_m: the
    m that earns most. Plays the rule for every m in ``ETC_M`` on 2000 (100, 5) tasks, checks each
    rollout against the definition, prints the scores beside Greedy, Thompson sampling and the
    stored RL² network, and accepts best_m when its score is not measurably below the best m's."""
    if make_rule is None:
        return _fail("Not answered yet: define explore_then_commit(m), returning a rule(key, s, f, t), and pass it "
                     "to the checker.")
    if not callable(make_rule):
        return _fail(f"Pass the function explore_then_commit itself (m -> rule), not {type(make_rule).__name__}.")
    probs, key = _etc_tasks(num_arms)
    scores = _ETC_SCORES.get(make_rule, {}) if _weakrefable(make_rule) else {}
    for m in ETC_M if not scores else ():
        try:
            rule = make_rule(m)
        except Exception as e:  # noqa: BLE001 - report any failure of the reader's function
            return _fail(f"explore_then_commit({m}) raised {type(e).__name__}: {str(e)[:200]}")
        if not callable(rule):
            return _fail(f"explore_then_commit({m}) must return a rule(key, s, f, t), got {type(rule).__name__}.")
        try:
            out = bandits.run(key, rule, probs, num_pulls)
        except ValueError as e:
            return _fail(f"The rule for m={m} failed: {str(e)[:200]}")
        except Exception as e:  # noqa: BLE001
            return _fail(f"The rule for m={m} failed inside JAX ({type(e).__name__}): use jnp operations and "
                         f"jnp.where, not Python if-statements on array values. Details: {str(e)[:200]}")
        why = _explore_then_commit_errors(out.actions, out.rewards, num_arms, m)
        if why is not None:
            return _fail(f"It runs, but it is not explore-then-commit yet: {why}.")
        scores[f"explore-then-commit, m={m}"] = np.asarray(out.rewards.sum(1), np.float64)
    if _weakrefable(make_rule):
        _ETC_SCORES[make_rule] = scores        # a second call with the same rule (to answer best_m) is instant
    scores = {**scores, **_etc_baselines(num_pulls, num_arms)}
    print(f"Mean successes on 2000 ({num_pulls}, {num_arms}) tasks, 95% intervals over tasks:")
    for name, x in scores.items():
        print(f"  {name:<28} {stats.format_ci(stats.mean_ci(x, method='normal'), 1)}")
    etc = {m: scores[f"explore-then-commit, m={m}"] for m in ETC_M}
    top = max(etc, key=lambda m: etc[m].mean())
    if best_m is None:
        return _fail(f"Your rule is explore-then-commit for every m. Now read the table and set best_m to the m "
                     f"that earns most (one of {ETC_M}).")
    if isinstance(best_m, bool) or not isinstance(best_m, (int, np.integer)) or int(best_m) not in ETC_M:
        return _fail(f"best_m must be one of the m the checker tried, {ETC_M}; got {best_m!r}.")
    gap = stats.mean_ci(etc[top] - etc[int(best_m)], method="normal")   # paired: the same tasks and draws
    if gap.low > 0:
        return _fail(f"m={int(best_m)} earns measurably less than m={top} (difference "
                     f"{stats.format_ci(gap, 2)}, paired over the same tasks). Look at the table again.")
    best_score = etc[top].mean()
    verdict = {True: "above", False: "below"}
    print(f"Correct: m={int(best_m)} is as good as any m tried. The best explore-then-commit "
          f"({best_score:.1f}) is {verdict[best_score > scores['Greedy'].mean()]} plain Greedy "
          f"({scores['Greedy'].mean():.1f}) and {verdict[best_score > scores['RL² (stored network)'].mean()]} the "
          f"RL² network ({scores['RL² (stored network)'].mean():.1f}). Every extra round of exploration spends "
          "five pulls, most of them on arms already seen to be poor, while greedy play after one round keeps "
          "re-testing only the arms that still look good.")
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
