import jax
import jax.numpy as jnp

from mesalib.exercises import meta_learning as exercises


def explore_then_commit(key, s, f, t, m=4):
    pulls = s + f
    return jnp.where(pulls.min() < m, jnp.argmin(pulls), jnp.argmax((s + 1) / (pulls + 2)))


def test_oracle_checker(capsys):
    assert exercises.check_oracle_mean(lambda n, k: n * k / (k + 1))
    assert not exercises.check_oracle_mean(lambda n, k: n / 2)
    assert not exercises.check_oracle_mean(None)
    assert not exercises.check_oracle_mean(lambda n, k: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_select_rule_checker():
    assert exercises.check_select_rule(explore_then_commit)
    assert not exercises.check_select_rule(lambda key, s, f, t: jax.random.randint(key, (), 0, 5))   # runs, too weak
    assert not exercises.check_select_rule(lambda key, s, f, t: 0.5)                                   # not an index
    assert not exercises.check_select_rule(lambda key, s, f, t: 0 if s[0] > 0 else 1)                  # Python if on a tracer
    assert not exercises.check_select_rule(None)


def test_shift_checker():
    assert exercises.check_shift_prediction("b") and exercises.check_shift_prediction(" B ")
    assert not exercises.check_shift_prediction("a") and not exercises.check_shift_prediction("z")
    assert not exercises.check_shift_prediction(None)
