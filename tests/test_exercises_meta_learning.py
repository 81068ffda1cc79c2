"""Chapter 1's exercise checkers accept the answers the library computes and reject others."""
import jax
import jax.numpy as jnp
import numpy as np

from mesalib import bandits, pretrained, rl2, stats
from mesalib.exercises import meta_learning as exercises


def explore_then_commit(key, s, f, t, m=4):
    pulls = s + f
    return jnp.where(pulls.min() < m, jnp.argmin(pulls), jnp.argmax((s + 1) / (pulls + 2)))


def make_explore_then_commit(m):
    """The solution of Exercise 2."""
    return lambda key, s, f, t: explore_then_commit(key, s, f, t, m)


def test_oracle_checker_accepts_what_the_library_measures(capsys):
    # The answer is not typed in: a Monte-Carlo estimate of the oracle's mean from the library
    # must agree with the closed form the checker accepts.
    for n, k in [(10, 5), (100, 10)]:
        probs = bandits.sample_tasks(jax.random.key(n + k), 50_000, k)
        mc = stats.mean_ci(np.asarray(bandits.oracle_value(probs, n)), method="normal")
        closed = n * k / (k + 1)
        assert mc.low <= closed <= mc.high
    assert exercises.check_oracle_mean(lambda n, k: n * k / (k + 1))
    assert not exercises.check_oracle_mean(lambda n, k: n / 2)
    assert not exercises.check_oracle_mean(None)
    assert not exercises.check_oracle_mean(lambda n, k: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_select_rule_checker_judges_by_the_rules_measured_score():
    probs = bandits.sample_tasks(jax.random.key(2024), 2000, 5)
    score = float(bandits.run(jax.random.key(1), explore_then_commit, probs, 100).rewards.sum(1).mean())
    assert exercises.check_select_rule(explore_then_commit) == (score >= 70)
    assert not exercises.check_select_rule(lambda key, s, f, t: jax.random.randint(key, (), 0, 5))   # runs, too weak
    assert not exercises.check_select_rule(lambda key, s, f, t: 0.5)                                   # not an index
    assert not exercises.check_select_rule(lambda key, s, f, t: 0 if s[0] > 0 else 1)                  # Python if on a tracer
    assert not exercises.check_select_rule(None)


def test_shift_checker_accepts_the_option_where_the_network_falls_behind():
    # Measure options (a) and (b) with the stored network; (c) keeps (a)'s task distribution.
    params = pretrained.load("rl2_n100_k5")[0]
    options = {"a": bandits.sample_tasks(jax.random.key(5), 3000, 5),
               "b": 0.9 + 0.1 * bandits.sample_tasks(jax.random.key(6), 3000, 5)}
    behind = {}
    for i, (name, probs) in enumerate(options.items()):
        gru = bandits.regret(rl2.evaluate(params, jax.random.key(10 + i), probs, 100), probs)[:, -1]
        ts = bandits.regret(bandits.run(jax.random.key(20 + i), "Thompson", probs, 100), probs)[:, -1]
        behind[name] = stats.mean_ci(np.asarray(gru - ts), method="normal").low > 0
    assert sum(behind.values()) == 1
    answer = next(name for name, worse in behind.items() if worse)
    assert exercises.check_shift_prediction(answer) and exercises.check_shift_prediction(f" {answer.upper()} ")
    for other in {"a", "b", "c"} - {answer}:
        assert not exercises.check_shift_prediction(other)
    assert not exercises.check_shift_prediction("z") and not exercises.check_shift_prediction(None)


def test_explore_then_commit_checker_and_the_solutions_figures(capsys):
    """The solution passes with best_m = 1; a longer exploration is rejected as best; rules that are
    not explore-then-commit are rejected; the figures the solution quotes are what the checker measures."""
    assert exercises.check_explore_then_commit(make_explore_then_commit, 1)
    out = capsys.readouterr().out
    quoted = {"explore-then-commit, m=1": 76.3, "explore-then-commit, m=2": 76.3, "explore-then-commit, m=4": 74.1,
              "explore-then-commit, m=8": 68.5, "Greedy": 75.7, "RL² (stored network)": 77.8}
    for name, value in quoted.items():
        line = next(line for line in out.splitlines() if line.strip().startswith(name))
        assert abs(float(line.split()[-3]) - value) < 0.051, line
    assert exercises.check_explore_then_commit(make_explore_then_commit, 2)          # tied with m = 1
    assert not exercises.check_explore_then_commit(make_explore_then_commit, 4)      # measurably worse
    assert not exercises.check_explore_then_commit(make_explore_then_commit, None)   # not answered yet
    assert not exercises.check_explore_then_commit(make_explore_then_commit, 5)      # not an m it tried
    assert not exercises.check_explore_then_commit(None)
    # Thompson sampling, offered as explore-then-commit, fails the definition check
    assert not exercises.check_explore_then_commit(lambda m: bandits.thompson)
    assert "not explore-then-commit" in capsys.readouterr().out
    # explores, but commits to the worst-looking arm
    assert not exercises.check_explore_then_commit(
        lambda m: lambda key, s, f, t: jnp.where((s + f).min() < m, jnp.argmin(s + f), jnp.argmin(s - f)))
