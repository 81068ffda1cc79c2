import numpy as np
import pytest

from mesalib import stats


def test_normal_interval_matches_closed_form():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(400, 3))
    s = stats.mean_ci(x, axis=0, method="normal")
    se = x.std(axis=0, ddof=1) / np.sqrt(400)
    np.testing.assert_allclose(s.high - s.mean, 1.959964 * se, rtol=1e-5)
    assert s.n == 400


def test_bootstrap_interval_brackets_mean_and_is_close_to_normal():
    x = np.random.default_rng(1).exponential(size=1000)
    b = stats.mean_ci(x)
    n = stats.mean_ci(x, method="normal")
    assert b.low < b.mean < b.high
    assert abs(b.low - n.low) < 0.02 and abs(b.high - n.high) < 0.02


def test_bootstrap_covers_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(2)
    covered = 0
    for i in range(100):
        s = stats.mean_ci(rng.uniform(size=60), n_resamples=500, seed=i)
        covered += s.low <= 0.5 <= s.high
    assert 85 <= covered <= 100


def test_constant_sample_has_zero_width():
    s = stats.mean_ci(np.ones(10))
    assert s.low == s.high == 1.0


@pytest.mark.parametrize("kw, match", [
    (dict(samples=[1.0]), "at least 2"),
    (dict(samples=[1.0, 2.0], level=1.5), "level"),
    (dict(samples=[1.0, 2.0], method="z"), "method"),
    (dict(samples=3.0), "dimension"),
])
def test_bad_inputs(kw, match):
    with pytest.raises(ValueError, match=match):
        stats.mean_ci(**kw)


def test_format():
    assert stats.format_ci(stats.Summary(np.float64(6.6412), 6.6, 6.7, 10)) == "6.64 [6.60, 6.70]"


def test_window_means():
    x = np.arange(100.0).reshape(50, 2)
    m, w = stats.window_means(x, 10)
    assert w == 5 and m.shape == (10, 2)
    np.testing.assert_allclose(m[0], x[:5].mean(0))
    m, w = stats.window_means(np.ones(4), 30)
    assert w == 1 and m.shape == (4,)
    with pytest.raises(ValueError, match="num_windows"):
        stats.window_means(x, 0)
