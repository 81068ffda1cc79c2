"""Unit tests for mesalib.optpower: Yudkowsky's bits, Flint's criteria on closed-form systems, bad inputs."""
import mesalib  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import assert_close, assert_shape
from mesalib import optpower as op

# ----------------------------------------------------------------------------- optimization power


def test_eight_equally_likely_outcomes():
    """The worked example: outcomes ranked 0..7; the best is 3 bits, the second best 2, the fourth best 1."""
    scores = np.arange(8)
    assert_close(op.power_bits(7, scores), 3.0, atol=0, rtol=0)
    assert_close(op.power_bits(6, scores), 2.0, atol=0, rtol=0)
    assert_close(op.power_bits(4, scores), 1.0, atol=0, rtol=0)
    assert_close(op.power_bits(0, scores), 0.0, atol=0, rtol=0)      # the worst outcome: no selection
    assert_close(op.power_bits([7, 6, 4], scores), [3.0, 2.0, 1.0], atol=0, rtol=0)


def test_bits_match_a_float64_reference_with_ties_and_weights():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 20, size=300).astype(float)            # many ties
    probs = rng.uniform(size=300)
    achieved = np.array([-1.0, 0.0, 3.0, 7.5, 12.0, 19.0])
    want = np.array([-np.log2(probs[scores >= a].sum() / probs.sum()) for a in achieved])
    assert_close(op.power_bits(achieved, scores, probs), want, atol=1e-5, rtol=1e-5)
    assert_shape(op.power_bits(achieved, scores, probs), achieved.shape)


def test_bits_are_monotone_and_bounded():
    scores = np.random.default_rng(1).normal(size=1000)
    grid = np.sort(scores)
    b = np.asarray(op.power_bits(grid, scores))
    assert np.all(np.diff(b) >= 0)                       # a better outcome never scores fewer bits
    assert b[0] == 0 and abs(b[-1] - np.log2(1000)) < 1e-4  # from 0 to log2(number of outcomes)


def test_continuous_reference_closed_form():
    """Uniform outcomes on [0, 1] (a fine grid): achieving a is worth -log2(1 - a) bits."""
    scores = (np.arange(100000) + 0.5) / 100000
    a = np.array([0.0, 0.5, 0.75, 0.875, 0.99])
    assert_close(op.power_bits(a, scores), -np.log2(1 - a), atol=1e-3, rtol=0)


def test_sampled_estimate_is_conservative_and_consistent():
    samples = np.random.default_rng(2).uniform(size=20000)
    est = np.asarray(op.power_bits_sampled([0.5, 0.9, 2.0], samples))
    assert abs(est[0] - 1.0) < 0.03 and abs(est[1] - np.log2(10)) < 0.05
    assert_close(est[2], np.log2(20001), atol=1e-4)     # beyond every sample: capped at log2(n + 1)
    exact = np.asarray(op.power_bits(np.arange(8), np.arange(8)))
    assert np.all(np.asarray(op.power_bits_sampled(np.arange(8), np.arange(8))) <= exact)


@pytest.mark.parametrize("call, match", [
    (lambda: op.power_bits(8, np.arange(8)), "achieved"),
    (lambda: op.power_bits(7, np.arange(8), probs=np.r_[np.ones(7), 0]), "achieved"),
    (lambda: op.power_bits(1, []), "scores"),
    (lambda: op.power_bits(1, np.ones((2, 2))), "scores"),
    (lambda: op.power_bits(1, [0, np.nan]), "scores"),
    (lambda: op.power_bits(np.nan, np.arange(8)), "achieved"),
    (lambda: op.power_bits(np.ones((2, 2)), np.arange(8)), "achieved"),
    (lambda: op.power_bits(1, np.arange(8), probs=np.ones(7)), "probs"),
    (lambda: op.power_bits(1, np.arange(8), probs=-np.ones(8)), "probs"),
    (lambda: op.power_bits(1, np.arange(8), probs=np.zeros(8)), "probs"),
    (lambda: op.power_bits_sampled(1, []), "samples"),
])
def test_bad_inputs_for_bits(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- Flint's criteria

EIG = (1.0, 10.0)           # L = 10: gradient descent converges for step sizes below 2 / L = 0.2
TOL = 0.1


def closed_form_descent(x0, step_size, steps):
    x = x0 * (1.0 - step_size * np.asarray(EIG)) ** steps       # float64, exact for a diagonal quadratic
    return np.sum(x * x, axis=-1) <= TOL ** 2


def starts(key, samples):
    keys = jax.random.split(key, samples)
    k_start = jax.vmap(lambda k: jax.random.split(k, 5)[0])(keys)
    return np.asarray(jax.vmap(lambda k: jax.random.uniform(k, (2,), minval=-1.0, maxval=1.0))(k_start), np.float64)


def not_on_boundary(x0, step_size, steps, margin=1e-3):
    x = x0 * (1.0 - step_size * np.asarray(EIG)) ** steps
    return np.abs(np.sqrt(np.sum(x * x, -1)) - TOL) > margin


@pytest.mark.parametrize("step_size", [0.05, 0.15, 0.199])
def test_descent_below_two_over_l_has_the_whole_space_as_basin(step_size):
    rate = op.descent_rate(EIG, step_size)
    assert rate < 1
    steps = op.steps_to_reach(np.sqrt(2), TOL, rate)
    system = op.quadratic_descent(EIG, step_size, radius=1.0, tolerance=TOL)
    m = op.measure(jax.random.key(0), system, steps, samples=2000, perturb=op.push_uniform(1.0), perturb_at=3,
                   steps_after=steps)
    r = op.rates(m)
    assert r["basin"].rate == 1.0 and r["recovery"].rate == 1.0 and r["retention"].rate == 1.0
    assert bool(np.asarray(m.path)[:, -1].all()) and bool(np.asarray(m.recovery_path)[:, -1].all())
    x0 = starts(jax.random.key(0), 2000)
    ok = not_on_boundary(x0, step_size, steps - 1)
    # one step fewer than the guarantee: exactly the starts the float64 closed form says
    m_short = op.measure(jax.random.key(0), system, steps - 1, samples=2000)
    np.testing.assert_array_equal(np.asarray(m_short.end)[ok], closed_form_descent(x0, step_size, steps - 1)[ok])


def test_descent_above_two_over_l_diverges_except_on_a_sliver():
    step_size, steps = 0.21, 40
    assert op.descent_rate(EIG, step_size) > 1
    system = op.quadratic_descent(EIG, step_size, radius=1.0, tolerance=TOL)
    m = op.measure(jax.random.key(1), system, steps, samples=4000)
    x0 = starts(jax.random.key(1), 4000)
    want = closed_form_descent(x0, step_size, steps)
    ok = not_on_boundary(x0, step_size, steps)
    np.testing.assert_array_equal(np.asarray(m.end)[ok], want[ok])
    assert np.asarray(m.end).mean() < 0.01


def test_target_size_matches_the_volume_formula():
    system = op.quadratic_descent(EIG, 0.15, radius=1.0, tolerance=0.3)
    m = op.measure(jax.random.key(2), system, 1, samples=20000)
    want = op.box_ball_fraction(2, 1.0, 0.3)
    assert_close(want, np.pi * 0.09 / 4, rtol=1e-12)
    r = op.rates(m)["target"]
    assert r.low <= want <= r.high
    assert abs(op.bits(want) - np.log2(4 / (np.pi * 0.09))) < 1e-12
    assert_close(op.box_ball_fraction(3, 2.0, 1.0), (4 / 3 * np.pi) / 64, rtol=1e-12)


def rotation(angle=0.7, tol=TOL):
    """Not an optimizer: rotating a point keeps its distance to the target centre forever."""
    c, s = np.cos(angle), np.sin(angle)
    rot = jnp.asarray([[c, -s], [s, c]], jnp.float32)
    return op.System(lambda key, x: rot @ x, lambda key: jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0),
                     lambda x: jnp.sum(x * x) <= tol ** 2)


def test_a_system_that_does_not_converge_has_basin_equal_to_target():
    m = op.measure(jax.random.key(3), rotation(), 50, samples=4000, perturb=op.push_uniform(1.0), perturb_at=10)
    x0 = starts(jax.random.key(3), 4000)
    norm = np.sqrt((x0 ** 2).sum(1))
    ok = np.abs(norm - TOL) > 1e-4
    np.testing.assert_array_equal(np.asarray(m.end)[ok], (norm <= TOL)[ok])
    np.testing.assert_array_equal(np.asarray(m.end), np.asarray(m.start))
    assert op.rates(m)["retention"].rate == 1.0            # it keeps what starts in the target ...
    assert op.rates(m)["recovery"].rate == 0.0             # ... and brings nothing back
    assert op.concentration_bits(m) == 0.0


def test_bottle_cap_achieves_its_outcome_without_optimizing():
    cap = op.bottle_cap(full=0.9)
    m = op.measure(jax.random.key(4), cap, 30, samples=5000, perturb=op.spill, perturb_at=5)
    r = op.rates(m)
    np.testing.assert_array_equal(np.asarray(m.end), np.asarray(m.start))   # basin == target, sample by sample
    assert r["target"].low <= 0.1 <= r["target"].high
    assert r["retention"].rate == 1.0                      # a full bottle stays full under normal conditions
    assert r["recovery"].rate == 0.0 and r["recovery"].n > 0   # spilled water never comes back
    assert op.concentration_bits(m) == 0.0
    # Judged only by its outcome, a full bottle is a 1-in-10 result: 3.3 bits of "optimization power"
    assert_close(op.power_bits(0.95, (np.arange(10000) + 0.5) / 10000), -np.log2(0.05), atol=1e-3)


def test_rates_over_seeds_use_student_t():
    rng = np.random.default_rng(5)
    end = rng.uniform(size=(6, 200)) < np.linspace(0.5, 0.7, 6)[:, None]
    z = np.zeros_like(end)
    m = op.Measures(z, end, z, z, z[..., None], z[..., None])
    r = op.rates(m)["basin"]
    per = end.mean(1)
    import scipy.stats
    half = scipy.stats.t.ppf(0.975, 5) * per.std(ddof=1) / np.sqrt(6)
    assert_close([r.rate, r.low, r.high], [per.mean(), per.mean() - half, per.mean() + half], atol=1e-12)
    assert r.n == 6
    # nobody displaced, nobody started in the target: recovery and retention are undefined, not zero,
    # and left out; the pooled concentration has no finite value
    assert set(op.rates(m)) == {"target", "basin", "displaced"}
    with pytest.raises(ValueError, match="m.start has no sample in the target"):
        op.concentration_bits(m)


def test_undefined_shares_are_refused_or_left_out():
    with pytest.raises(ValueError, match="successes is empty"):
        op.binomial_rate(np.zeros(0, bool))
    with pytest.raises(ValueError, match="rate must be > 0"):
        op.bits(0.0)
    start = np.array([True, False, False, False])
    m = op.Measures(start, np.zeros(4, bool), np.zeros(4, bool), np.zeros(4, bool), start[:, None], start[:, None])
    assert "recovery" not in op.rates(m) and op.rates(m)["retention"].rate == 0.0
    with pytest.raises(ValueError, match="m.end has no sample in the target"):
        op.concentration_bits(m)
    # with seeds: a share defined on fewer than two seeds is left out
    two = op.Measures(*[np.stack([x, x]) for x in m])
    two = two._replace(displaced=np.array([[True, False, False, False], [False] * 4]))
    assert "recovery" not in op.rates(two) and "displaced" in op.rates(two)


def test_clopper_pearson_closed_form():
    r = op.binomial_rate(np.zeros(10, bool))
    assert r.rate == 0 and r.low == 0 and abs(r.high - (1 - 0.025 ** (1 / 10))) < 1e-9
    r = op.binomial_rate(np.ones(10, bool))
    assert r.high == 1 and abs(r.low - 0.025 ** (1 / 10)) < 1e-9


def test_steps_to_reach_closed_form():
    assert op.steps_to_reach(1.0, 0.1, 0.5) == 4          # 0.5^3 = 0.125 > 0.1 >= 0.5^4
    assert op.steps_to_reach(0.05, 0.1, 0.5) == 0
    assert op.steps_to_reach(1.0, 0.25, 0.5) == 2          # exact powers land on the boundary
    assert op.descent_rate([1.0, 10.0], 0.15) == pytest.approx(0.85)


def test_measure_compiles_once_per_system():
    system = op.quadratic_descent(EIG, 0.15)
    op.measure(jax.random.key(0), system, 5, samples=8)
    before = op._measure_fn.cache_info().misses
    op.measure(jax.random.key(1), system, 5, samples=8)
    assert op._measure_fn.cache_info().misses == before


@pytest.mark.parametrize("kwargs, match", [
    (dict(system="gd"), "system"),
    (dict(system=op.System(1, 2, 3)), "system.step"),
    (dict(steps=0), "steps"),
    (dict(samples=1), "samples"),
    (dict(perturb_at=11), "perturb_at"),
    (dict(perturb="push"), "perturb"),
    (dict(steps_after=-1, perturb=op.push_uniform()), "steps_after"),
    (dict(key=0), "key"),
    (dict(system=op.System(lambda k, x: x, lambda k: jnp.zeros(2), lambda x: x)), "in_target"),
    (dict(system=op.System(lambda k, x: x[:1], lambda k: jnp.zeros(2), lambda x: x.sum() > 0)), "system.step"),
    (dict(perturb=lambda k, x: x.astype(jnp.int32)), "perturb"),
])
def test_bad_inputs_for_measure(kwargs, match):
    args = dict(key=jax.random.key(0), system=op.quadratic_descent(EIG, 0.15), steps=10, samples=8)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        op.measure(**args)


@pytest.mark.parametrize("call, match", [
    (lambda: op.quadratic_descent([1.0, -1.0], 0.1), "eigenvalues"),
    (lambda: op.quadratic_descent(EIG, 0.0), "step_size"),
    (lambda: op.quadratic_descent(EIG, 0.1, radius=0), "radius"),
    (lambda: op.quadratic_descent(EIG, 0.1, tolerance=-1), "tolerance"),
    (lambda: op.bottle_cap(full=1.5), "full"),
    (lambda: op.steps_to_reach(1.0, 0.1, 1.0), "rate"),
    (lambda: op.box_ball_fraction(2, 1.0, 2.0), "tolerance"),
    (lambda: op.binomial_rate([0.5]), "successes"),
    (lambda: op.seed_rate([0.5]), "per_seed"),
    (lambda: op.bits(1.5), "rate"),
])
def test_bad_inputs_for_systems_and_summaries(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def scaled_descent(step_size):
    """A family member built from a traced step size (as measure_family requires)."""
    factor = 1.0 - step_size * jnp.asarray(EIG, jnp.float32)
    return op.System(lambda key, x: factor * x, lambda key: jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0),
                     lambda x: jnp.sum(x * x) <= TOL ** 2)


def test_measure_family_runs_members_side_by_side():
    sizes = jnp.asarray([0.05, 0.15, 0.19, 0.21, 0.25], jnp.float32)
    m = op.measure_family(jax.random.key(6), scaled_descent, sizes, 60, samples=500,
                          perturb=op.push_uniform(1.0), perturb_at=10, steps_after=50)
    assert_shape(m.end, (5, 500))
    assert_shape(m.path, (5, 500, 61))
    basin = np.asarray(m.end).mean(1)
    np.testing.assert_array_equal(basin[:3], 1.0)             # below 2 / L: every start converges
    assert basin[3] < 0.02 and basin[4] < 0.02                 # above it: almost none
    r = op.rates(op.Measures(*[x[:3] for x in m]))
    assert r["basin"].n == 3 and r["recovery"].rate == 1.0


def test_measure_family_bad_inputs():
    with pytest.raises(ValueError, match="params"):
        op.measure_family(jax.random.key(0), scaled_descent, {"a": jnp.zeros(3), "b": jnp.zeros(4)}, 5)
    with pytest.raises(ValueError, match="make_system"):
        op.measure_family(jax.random.key(0), "gd", jnp.zeros(3), 5)
    with pytest.raises(ValueError, match="make_system"):
        op.measure_family(jax.random.key(0), lambda p: None, jnp.zeros(3), 5)
