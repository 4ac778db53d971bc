"""Binary and one-vs-rest metric kernels behind :mod:`qkeras.medical.metrics`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from qkeras.errors import ConfigurationError, InputError


def inputs(y_true: Sequence, y_score: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Validates and promotes labels and scores: int64 ``(n,)`` and float64 ``(n[, k])``."""
    y, s = np.asarray(y_true), np.asarray(y_score, dtype=np.float64)
    y = y.astype(np.int64) if y.dtype == bool else y
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    s = s.reshape(-1) if s.ndim == 2 and s.shape[1] == 1 else s
    if y.ndim != 1 or s.ndim not in (1, 2) or len(y) != len(s) or len(y) == 0:
        raise InputError(
            f"y_true must be (n,) labels and y_score (n,) or (n, classes) scores with the same "
            f"n >= 1; got shapes {np.shape(y_true)} and {np.shape(y_score)}."
        )
    if not np.all(np.isfinite(s)):
        raise InputError(f"y_score has {int(np.sum(~np.isfinite(s)))} NaN or infinite values; "
                         "check the model's outputs before computing metrics.")
    n_classes = 2 if s.ndim == 1 else s.shape[1]
    if not (np.issubdtype(y.dtype, np.number) and np.all(np.isin(y, np.arange(n_classes)))):
        raise InputError(
            f"y_true must hold integer labels 0..{n_classes - 1} for "
            f"{'binary scores' if s.ndim == 1 else f'{n_classes} score columns'}; got values "
            f"{np.unique(y)[:10].tolist()}."
        )
    return y.astype(np.int64), s


def predict(s: np.ndarray, threshold: float) -> np.ndarray:
    return (s >= threshold).astype(np.int64) if s.ndim == 1 else np.argmax(s, axis=1)


def one_vs_rest(y_true: Sequence, y_score: Sequence, average: str | None,
                 binary: Callable[[np.ndarray, np.ndarray, np.ndarray], float],
                 threshold: float = 0.5) -> float | np.ndarray:
    y, s = inputs(y_true, y_score)
    pred = predict(s, threshold)
    if s.ndim == 1:
        return binary(y, pred, s)
    values = np.array([binary((y == c).astype(np.int64), (pred == c).astype(np.int64), s[:, c])
                       for c in range(s.shape[1])])
    if average is None:
        return values
    if average != "macro":
        raise ConfigurationError(f"average must be 'macro' or None; got {average!r}.")
    return float(np.mean(values))


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def _need(y: np.ndarray, label: int, metric: str) -> None:
    if not np.any(y == label):
        kind = "positive" if label else "negative"
        raise InputError(f"{metric} is undefined without {kind} cases in y_true (class "
                         "one-vs-rest for multi-class); evaluate on a sample that has some.")


def sensitivity_(y, p, s):
    _need(y, 1, "sensitivity")
    return float(np.mean(p[y == 1]))


def specificity_(y, p, s):
    _need(y, 0, "specificity")
    return float(np.mean(p[y == 0] == 0))


def ppv_(y, p, s):
    return _ratio(int(np.sum((p == 1) & (y == 1))), int(np.sum(p == 1)))


def npv_(y, p, s):
    return _ratio(int(np.sum((p == 0) & (y == 0))), int(np.sum(p == 0)))


def f1_(y, p, s):
    tp = int(np.sum((p == 1) & (y == 1)))
    errors = int(np.sum(p != y))
    return _ratio(2 * tp, 2 * tp + errors)


def check_both(y: np.ndarray, metric: str) -> tuple[int, int]:
    n_pos = int(y.sum())
    if n_pos in (0, len(y)):
        raise InputError(f"{metric} needs both classes in y_true; got only class "
                         f"{int(y[0])} ({len(y)} cases, one-vs-rest for multi-class).")
    return n_pos, len(y) - n_pos


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def auroc_(y, p, s):
    n_pos, n_neg = check_both(y, "AUROC")
    ranks = _average_ranks(s)  # ties get their average rank: a tie counts one half
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_points(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct thresholds (descending) with the true and false positives at each."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s) - 1]
    tps = np.cumsum(y_sorted)[last]
    return s_sorted[last], tps, last + 1 - tps


def auprc_(y, p, s):
    n_pos, _ = check_both(y, "AUPRC")
    _, tps, fps = roc_points(y, s)
    recall = np.r_[0.0, tps / n_pos]
    return float(np.sum(np.diff(recall) * tps / (tps + fps)))


def _probabilities(s: np.ndarray, metric: str) -> None:
    if np.any((s < 0) | (s > 1)):
        raise InputError(f"{metric} needs probabilities in [0, 1]; y_score ranges over "
                         f"[{s.min():.3g}, {s.max():.3g}]. Apply a sigmoid or softmax first.")


def brier_(y, p, s):
    _probabilities(s, "The Brier score")
    return float(np.mean((s - y) ** 2))


def ece_(y, p, s, n_bins):
    _probabilities(s, "Expected calibration error")
    bins = np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1)[1:-1], s, side="right")
    total = 0.0
    for b in np.unique(bins):
        inside = bins == b
        total += inside.sum() * abs(y[inside].mean() - s[inside].mean())
    return float(total / len(y))


def binary_only(y_true: Sequence, y_score: Sequence, what: str) -> tuple[np.ndarray, ...]:
    y, s = inputs(y_true, y_score)
    if s.ndim != 1:
        raise InputError(f"{what} needs binary scores (n,); got {s.shape}. Pass one column "
                         "(one class against the rest).")
    n_pos, n_neg = check_both(y, what)
    thresholds, tps, fps = roc_points(y, s)
    return thresholds, tps / n_pos, fps / n_neg


def resamples(y: np.ndarray, n_resamples: int, seed: int, stratified: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if not stratified:
        return rng.integers(0, len(y), size=(n_resamples, len(y)))
    parts = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        parts.append(members[rng.integers(0, len(members), size=(n_resamples, len(members)))])
    return np.concatenate(parts, axis=1)
