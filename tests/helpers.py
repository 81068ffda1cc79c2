"""Small assertion helpers shared by the tests."""
import numpy as np


def assert_shape(x, shape):
    assert tuple(np.shape(x)) == tuple(shape), f"shape {np.shape(x)} != {shape}"


def assert_close(actual, expected, atol=1e-6, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64), atol=atol, rtol=rtol)


def assert_means_agree(a, b, z=4.5):
    """Two samples have means within z standard errors of their difference (a statistical check)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    diff = abs(a.mean() - b.mean())
    assert diff <= z * se, f"means {a.mean():.4f} vs {b.mean():.4f} differ by {diff:.4f} > {z} SE ({se:.4f})"
