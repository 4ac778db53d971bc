r"""Target distributions and distances for quantum generative models.

Discretised distributions over :math:`2^n` bins (what an :math:`n`-qubit generator loads,
Zoufal, Lucchi & Woerner, npj Quantum Inf. 5, 103 (2019)), the relative entropy between
two of them, and the maximum mean discrepancy between two sets of samples (Gretton et al.,
"A kernel two-sample test", JMLR 13, 723 (2012)).

Example:
    >>> values, p = lognormal(3)
    >>> values.tolist(), round(float(p.sum()), 6)
    ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from qkeras.errors import ConfigurationError, InputError

__all__ = ["lognormal", "bimodal", "discretize", "relative_entropy", "mmd",
           "median_bandwidth"]


def _grid(n_qubits: int, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(n_qubits, int) or n_qubits < 1 or not high > low:
        raise ConfigurationError(f"Need n_qubits >= 1 and high > low; got n_qubits="
                                 f"{n_qubits}, low={low}, high={high}.")
    values = np.linspace(low, high, 2**n_qubits)
    mids = (values[1:] + values[:-1]) / 2
    return values, np.concatenate([[low], mids, [high]])


def discretize(cdf, n_qubits: int, low: float, high: float,
               ) -> tuple[np.ndarray, np.ndarray]:
    r"""Discretises a distribution on :math:`[low, high]` into :math:`2^n` equal-width bins.

    Grid point :math:`x_j = low + j (high - low) / (2^n - 1)` takes the mass of the
    distribution between the midpoints to its neighbours (the ends at ``low`` and
    ``high``), renormalised over :math:`[low, high]` (the distribution is truncated).

    Args:
        cdf: The cumulative distribution function, vectorised over NumPy arrays.
        n_qubits: Bits of the grid (:math:`2^n` points).
        low: Smallest grid value.
        high: Largest grid value.

    Returns:
        The grid values and their probabilities (float64, summing to 1).

    Raises:
        ConfigurationError: For bad sizes or no mass inside the interval.

    Example:
        >>> values, p = discretize(lambda x: np.clip(x, 0, 1), 1, 0.0, 1.0)
        >>> p.tolist()
        [0.5, 0.5]
    """
    values, edges = _grid(n_qubits, low, high)
    mass = np.diff(np.asarray(cdf(edges), np.float64))
    if not np.all(mass >= 0) or mass.sum() <= 0:
        raise ConfigurationError(f"The distribution has no mass on [{low}, {high}].")
    return values, mass / mass.sum()


def _normal_cdf(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * (1.0 + erf((np.asarray(x, np.float64) - mean) / (std * math.sqrt(2.0))))


def lognormal(n_qubits: int = 3, *, mu: float = 1.0, sigma: float = 1.0, low: float = 0.0,
              high: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    r"""The log-normal target of Zoufal et al.: :math:`\ln X \sim N(\mu, \sigma^2)`, on
    :math:`[0, 7]` with 3 qubits by default, discretised by :func:`discretize`.

    Example:
        >>> values, p = lognormal(3)
        >>> int(np.argmax(p))
        1
    """
    if sigma <= 0:
        raise ConfigurationError(f"sigma must be positive; got {sigma}.")

    def cdf(x):
        x = np.asarray(x, np.float64)
        safe = np.log(np.where(x > 0, x, 1.0))
        return np.where(x > 0, _normal_cdf(safe, mu, sigma), 0.0)

    return discretize(cdf, n_qubits, low, high)


def bimodal(n_qubits: int = 3, *, means: Sequence[float] = (0.5, 3.5),
            stds: Sequence[float] = (1.0, 0.5), weights: Sequence[float] = (0.5, 0.5),
            low: float = 0.0, high: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    r"""A mixture of normal distributions (Zoufal et al.'s bimodal target by default:
    :math:`\tfrac12 N(0.5, 1) + \tfrac12 N(3.5, 0.5^2)` on :math:`[0, 7]`).

    Example:
        >>> values, p = bimodal(3)
        >>> np.round(p, 3).tolist()
        [0.113, 0.202, 0.094, 0.295, 0.283, 0.013, 0.0, 0.0]
    """
    if not len(means) == len(stds) == len(weights) or min(stds) <= 0 or min(weights) < 0:
        raise ConfigurationError("means, stds and weights must have one entry per mode, "
                                 "with stds > 0 and weights >= 0.")
    total = float(sum(weights))

    def cdf(x):
        return sum(w / total * _normal_cdf(x, m, s) for m, s, w in zip(means, stds, weights))

    return discretize(cdf, n_qubits, low, high)


def relative_entropy(p: Sequence[float], q: Sequence[float]) -> float:
    r"""Relative entropy (Kullback-Leibler divergence) :math:`D(p\|q) = \sum_j p_j
    \ln(p_j / q_j)` in nats.

    Terms with :math:`p_j = 0` are 0; :math:`q_j = 0 < p_j` gives ``inf``. Zoufal et al.
    report :math:`D(p_{generated} \| p_{target})`.

    Args:
        p: Probabilities (normalised here).
        q: Probabilities of the same length (normalised here).

    Returns:
        The divergence, ``>= 0``.

    Raises:
        InputError: For different lengths, negative or all-zero entries.

    Example:
        >>> round(relative_entropy([0.5, 0.5], [0.9, 0.1]), 4)
        0.5108
    """
    p, q = np.asarray(p, np.float64).ravel(), np.asarray(q, np.float64).ravel()
    if p.shape != q.shape or np.any(p < 0) or np.any(q < 0) or p.sum() <= 0 or q.sum() <= 0:
        raise InputError(f"relative_entropy needs two non-negative, non-zero probability "
                         f"vectors of one length; got lengths {p.size} and {q.size}.")
    p, q = p / p.sum(), q / q.sum()
    support = p > 0
    if np.any(q[support] == 0):
        return math.inf
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


def _flat(x, name: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim < 1 or len(x) < 2:
        raise InputError(f"mmd needs at least 2 samples in {name}; got shape {x.shape}.")
    return x.reshape(len(x), -1)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def median_bandwidth(y) -> float:
    """The median heuristic: the median distance between distinct samples of ``y``.

    Example:
        >>> median_bandwidth([[0.0], [1.0], [3.0]])
        2.0
    """
    y = _flat(y, "y")
    d = np.sqrt(_squared_distances(y, y)[np.triu_indices(len(y), 1)])
    return float(np.median(d))


def mmd(x, y, *, bandwidth: float | None = None) -> float:
    r"""Maximum mean discrepancy with a Gaussian kernel (biased V-statistic), a sample-quality
    measure for generated images.

    :math:`\mathrm{MMD}^2 = \overline{k(x, x')} + \overline{k(y, y')} - 2\,\overline{k(x, y)}`
    over all pairs (including :math:`x = x'`), :math:`k(a, b) = \exp(-\|a-b\|^2 /
    (2 h^2))`. Returns :math:`\mathrm{MMD} \ge 0`; 0 iff the two empirical distributions
    coincide.

    Args:
        x: Samples ``(n, ...)``, flattened per sample (e.g. generated images).
        y: Reference samples ``(m, ...)`` (e.g. held-out real images).
        bandwidth: Kernel width :math:`h`; default :func:`median_bandwidth` of ``y``, so
            several ``x`` compared with one ``y`` share the kernel.

    Returns:
        The MMD.

    Raises:
        InputError: For fewer than 2 samples or mismatched sample shapes.

    Example:
        >>> round(mmd([[0.0], [0.0]], [[1.0], [1.0]], bandwidth=1.0), 4)
        0.8871
    """
    x, y = _flat(x, "x"), _flat(y, "y")
    if x.shape[1] != y.shape[1]:
        raise InputError(f"mmd needs samples of one size; got {x.shape[1]} and {y.shape[1]} "
                         "values per sample.")
    h = median_bandwidth(y) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise InputError(f"mmd bandwidth must be positive; got {h}.")
    kernel = lambda a, b: np.exp(-_squared_distances(a, b) / (2.0 * h * h))  # noqa: E731
    value = kernel(x, x).mean() + kernel(y, y).mean() - 2.0 * kernel(x, y).mean()
    return float(math.sqrt(max(value, 0.0)))
