"""Target distributions and distances against SciPy and explicit sums.

References: ``scipy.stats.lognorm``/``norm`` CDFs, ``scipy.stats.entropy``,
``scipy.spatial.distance.pdist`` and a double loop over the Gaussian kernel.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats

from qkeras.errors import ConfigurationError, InputError
from qkeras.models import bimodal, lognormal, median_bandwidth, mmd, relative_entropy


def binned(cdf, values):
    edges = np.concatenate([[values[0]], (values[1:] + values[:-1]) / 2, [values[-1]]])
    mass = np.diff(cdf(edges))
    return mass / mass.sum()


def test_lognormal_matches_scipy():
    values, p = lognormal(3, mu=1.0, sigma=1.0, low=0.0, high=7.0)
    np.testing.assert_array_equal(values, np.arange(8.0))
    want = binned(scipy.stats.lognorm(s=1.0, scale=math.e).cdf, values)
    np.testing.assert_allclose(p, want, atol=1e-12)


def test_bimodal_matches_scipy():
    values, p = bimodal(4, means=(0.5, 3.5), stds=(1.0, 0.5), low=0, high=7)
    mix = lambda x: 0.5 * scipy.stats.norm(0.5, 1).cdf(x) + 0.5 * scipy.stats.norm(  # noqa
        3.5, 0.5).cdf(x)
    np.testing.assert_allclose(p, binned(mix, values), atol=1e-12)
    assert len(p) == 16


def test_relative_entropy_matches_scipy():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(8)), rng.dirichlet(np.ones(8))
    assert relative_entropy(p, q) == pytest.approx(scipy.stats.entropy(p, q), rel=1e-12)
    assert relative_entropy(p, p) == pytest.approx(0.0, abs=1e-12)
    assert relative_entropy([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert relative_entropy([0.0, 1.0], [0.5, 0.5]) == pytest.approx(math.log(2))


def test_mmd_matches_the_double_sum():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 2, 2)), rng.normal(0.5, 1, size=(7, 2, 2))
    h = 1.3
    k = lambda a, b: math.exp(-np.sum((a - b) ** 2) / (2 * h * h))  # noqa: E731
    xx = np.mean([k(a, b) for a in x for b in x])
    yy = np.mean([k(a, b) for a in y for b in y])
    xy = np.mean([k(a, b) for a in x for b in y])
    assert mmd(x, y, bandwidth=h) == pytest.approx(math.sqrt(xx + yy - 2 * xy), rel=1e-9)
    assert mmd(y, y) == pytest.approx(0.0, abs=1e-6)


def test_median_bandwidth_matches_pdist():
    y = np.random.default_rng(2).normal(size=(9, 3))
    assert median_bandwidth(y) == pytest.approx(np.median(scipy.spatial.distance.pdist(y)))
    assert mmd(np.zeros((3, 3)), y) == pytest.approx(
        mmd(np.zeros((3, 3)), y, bandwidth=median_bandwidth(y)))


def test_errors():
    with pytest.raises(InputError, match="one length"):
        relative_entropy([1.0], [0.5, 0.5])
    with pytest.raises(InputError, match="at least 2 samples in x"):
        mmd(np.zeros((1, 2)), np.zeros((3, 2)))
    with pytest.raises(InputError, match="samples of one size"):
        mmd(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(InputError, match="bandwidth must be positive"):
        mmd(np.zeros((2, 2)), np.zeros((3, 2)))
    with pytest.raises(ConfigurationError, match="high > low"):
        lognormal(3, low=1, high=1)
    with pytest.raises(ConfigurationError, match="sigma must be positive"):
        lognormal(3, sigma=0)
    with pytest.raises(ConfigurationError, match="one entry per mode"):
        bimodal(3, means=(1,), stds=(1, 2))
    with pytest.raises(ConfigurationError, match="no mass"):
        lognormal(3, low=-9, high=-1)
