"""Clinical classification metrics with percentile bootstrap confidence intervals.

Inputs: ``y_true``, integer labels ``(n,)``; ``y_score``, either ``(n,)`` scores of the
positive class (binary; a Keras ``(n, 1)`` sigmoid output is accepted) or ``(n, k)`` class
probabilities (multi-class, ``k >= 2``). Thresholded metrics call a case positive when its
score is ``>= threshold`` (binary) or take the highest-scoring class (multi-class). With
``k`` classes every metric is one-vs-rest per class, then macro-averaged
(``average="macro"``) or returned per class (``average=None``).

Undefined values: sensitivity without positive cases, specificity without negative cases,
and AUROC/AUPRC with one class only raise :class:`~qkeras.errors.InputError`; PPV, NPV and
F1 with an empty denominator (no predicted positive, say) are NaN.

Confidence intervals (:func:`bootstrap`, :func:`evaluate`) are percentile bootstrap
intervals: ``n_resamples`` resamples of the cases with replacement, drawn with
``numpy.random.default_rng(seed)``; unstratified, resample ``r`` is
``rng.integers(0, n, size=(n_resamples, n))[r]``; stratified (the default), each class in
ascending label order draws ``rng.integers(0, n_c, size=(n_resamples, n_c))`` among its own
cases and the draws are concatenated, so every resample keeps the class counts (and AUROC
stays defined). Resamples on which a metric is undefined are left out and counted.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from qkeras.errors import ConfigurationError, InputError
from qkeras.medical import _metric_core as core
from qkeras.medical._report import ClinicalReport, Estimate

__all__ = ["Estimate", "ClinicalReport", "sensitivity", "specificity", "ppv", "npv", "f1",
           "accuracy", "auroc", "auprc", "brier_score", "expected_calibration_error",
           "confusion_matrix", "youden_threshold", "threshold_at_sensitivity", "bootstrap",
           "evaluate"]

log = logging.getLogger(__name__)

Metric = Callable[[np.ndarray, np.ndarray], "float | np.ndarray"]


def sensitivity(y_true: Sequence, y_score: Sequence, *, threshold: float = 0.5,
                average: str | None = "macro") -> float | np.ndarray:
    """Sensitivity (recall, true positive rate): TP / (TP + FN).

    Example:
        >>> sensitivity([0, 1, 1, 1], [0.2, 0.9, 0.6, 0.3])
        0.6666666666666666
    """
    return core.one_vs_rest(y_true, y_score, average, core.sensitivity_, threshold)


def specificity(y_true: Sequence, y_score: Sequence, *, threshold: float = 0.5,
                average: str | None = "macro") -> float | np.ndarray:
    """Specificity (true negative rate): TN / (TN + FP).

    Example:
        >>> specificity([0, 0, 1, 1], [0.2, 0.7, 0.6, 0.3])
        0.5
    """
    return core.one_vs_rest(y_true, y_score, average, core.specificity_, threshold)


def ppv(y_true: Sequence, y_score: Sequence, *, threshold: float = 0.5,
        average: str | None = "macro") -> float | np.ndarray:
    """Positive predictive value (precision): TP / (TP + FP); NaN without predicted positives.

    Example:
        >>> ppv([0, 0, 1, 1], [0.2, 0.7, 0.6, 0.3])
        0.5
    """
    return core.one_vs_rest(y_true, y_score, average, core.ppv_, threshold)


def npv(y_true: Sequence, y_score: Sequence, *, threshold: float = 0.5,
        average: str | None = "macro") -> float | np.ndarray:
    """Negative predictive value: TN / (TN + FN); NaN without predicted negatives.

    Example:
        >>> npv([0, 0, 1, 1], [0.2, 0.1, 0.6, 0.3])
        0.6666666666666666
    """
    return core.one_vs_rest(y_true, y_score, average, core.npv_, threshold)


def f1(y_true: Sequence, y_score: Sequence, *, threshold: float = 0.5,
       average: str | None = "macro") -> float | np.ndarray:
    """F1 score: 2 TP / (2 TP + FP + FN), the harmonic mean of PPV and sensitivity.

    Example:
        >>> f1([0, 0, 1, 1], [0.2, 0.7, 0.6, 0.3])
        0.5
    """
    return core.one_vs_rest(y_true, y_score, average, core.f1_, threshold)


def accuracy(y_true: Sequence, y_score: Sequence, *, threshold: float = 0.5) -> float:
    """Fraction of cases whose predicted class is the true class.

    Example:
        >>> accuracy([0, 1, 2], [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.5, 0.2, 0.3]])
        0.6666666666666666
    """
    y, s = core.inputs(y_true, y_score)
    return float(np.mean(core.predict(s, threshold) == y))


def auroc(y_true: Sequence, y_score: Sequence, *,
          average: str | None = "macro") -> float | np.ndarray:
    """Area under the ROC curve, as the Mann-Whitney statistic (ties count one half).

    Raises:
        InputError: If ``y_true`` holds one class only (per class, for multi-class).

    Example:
        >>> auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    return core.one_vs_rest(y_true, y_score, average, core.auroc_)


def auprc(y_true: Sequence, y_score: Sequence, *,
          average: str | None = "macro") -> float | np.ndarray:
    """Area under the precision-recall curve, as average precision.

    ``AP = sum_i (R_i - R_{i-1}) P_i`` over the distinct score thresholds in descending
    order (step-wise, no interpolation; scikit-learn's ``average_precision_score``).

    Example:
        >>> round(auprc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
        0.8333
    """
    return core.one_vs_rest(y_true, y_score, average, core.auprc_)


def brier_score(y_true: Sequence, y_score: Sequence, *,
                average: str | None = "macro") -> float | np.ndarray:
    """Brier score: mean squared difference of probability and outcome (lower is better).

    Multi-class: one-vs-rest per class and macro-averaged, i.e. the multi-class Brier score
    of Brier (1950) divided by the number of classes.

    Example:
        >>> round(brier_score([0, 1], [0.1, 0.6]), 6)
        0.085
    """
    return core.one_vs_rest(y_true, y_score, average, core.brier_)


def expected_calibration_error(y_true: Sequence, y_score: Sequence, *, n_bins: int = 10,
                               average: str | None = "macro") -> float | np.ndarray:
    """Expected calibration error: ``sum_b (n_b / n) |mean(y in b) - mean(score in b)|``.

    Bins are ``n_bins`` equal-width intervals ``[i/n_bins, (i+1)/n_bins)`` (the last one
    closed) of the positive-class probability. Multi-class: one-vs-rest per class, macro
    averaged (the classwise ECE of Kull et al., 2019).

    Example:
        >>> round(expected_calibration_error([0, 1, 1, 1], [0.2, 0.8, 0.8, 0.8], n_bins=5), 6)
        0.2
    """
    if n_bins < 1:
        raise ConfigurationError(f"n_bins must be >= 1; got {n_bins}.")
    return core.one_vs_rest(y_true, y_score, average, partial(core.ece_, n_bins=n_bins))


def confusion_matrix(y_true: Sequence, y_score: Sequence, *,
                     threshold: float = 0.5) -> np.ndarray:
    """Counts of (true class, predicted class): rows true, columns predicted.

    Example:
        >>> confusion_matrix([0, 0, 1, 1], [0.2, 0.7, 0.6, 0.3]).tolist()
        [[1, 1], [1, 1]]
    """
    y, s = core.inputs(y_true, y_score)
    k = 2 if s.ndim == 1 else s.shape[1]
    return np.bincount(k * y + core.predict(s, threshold), minlength=k * k).reshape(k, k)


def youden_threshold(y_true: Sequence, y_score: Sequence) -> float:
    """The threshold that maximises Youden's J = sensitivity + specificity - 1.

    Ties go to the highest threshold. Choose it on validation data, not on the test set.

    Example:
        >>> youden_threshold([0, 0, 1, 1, 0], [0.1, 0.4, 0.35, 0.8, 0.2])
        0.35
    """
    thresholds, tpr, fpr = core.binary_only(y_true, y_score, "youden_threshold")
    return float(thresholds[int(np.argmax(tpr - fpr))])


def threshold_at_sensitivity(y_true: Sequence, y_score: Sequence, sensitivity: float,
                             ) -> float:
    """The highest threshold whose sensitivity is at least ``sensitivity``.

    Example:
        >>> threshold_at_sensitivity([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.9)
        0.35
    """
    if not 0.0 < sensitivity <= 1.0:
        raise ConfigurationError(f"sensitivity must be in (0, 1]; got {sensitivity}.")
    thresholds, tpr, _ = core.binary_only(y_true, y_score, "threshold_at_sensitivity")
    return float(thresholds[int(np.argmax(tpr >= sensitivity - 1e-12))])


def bootstrap(metric: Metric, y_true: Sequence, y_score: Sequence, *, n_resamples: int = 1000,
              confidence: float = 0.95, seed: int = 0, stratified: bool = True) -> Estimate:
    """A metric with its percentile bootstrap confidence interval (scheme: module doc).

    Args:
        metric: Called as ``metric(y_true, y_score)``; use :func:`functools.partial` for
            options (``partial(sensitivity, threshold=0.3)``). May return an array.
        y_true: Integer labels ``(n,)``.
        y_score: Scores ``(n,)`` or ``(n, k)``.
        n_resamples: Bootstrap resamples (>= 1).
        confidence: Two-sided level in (0, 1).
        seed: Seed of :func:`numpy.random.default_rng`.
        stratified: Resample within each true class (keeps class counts).

    Returns:
        An :class:`Estimate` whose bounds are the ``100 (1 -+ confidence) / 2`` percentiles
        (``numpy.percentile``, linear interpolation) of the metric over the resamples where
        it is defined (per element for arrays; NaN where it never is, e.g. the PPV of a
        class that is never predicted).

    Raises:
        InputError: Bad inputs, or the metric raised :class:`InputError` on every resample.
        ConfigurationError: ``n_resamples < 1`` or ``confidence`` outside (0, 1).

    Example:
        >>> est = bootstrap(auroc, [0, 0, 0, 1, 1, 1], [.1, .3, .6, .4, .8, .9], n_resamples=200)
        >>> round(est.value, 3), est.low <= est.value <= est.high
        (0.889, True)
    """
    if n_resamples < 1 or not 0.0 < confidence < 1.0:
        raise ConfigurationError(f"n_resamples must be >= 1 and confidence in (0, 1); got "
                                 f"{n_resamples} and {confidence}.")
    y, s = core.inputs(y_true, y_score)
    value = metric(y, s)
    stats = []
    for index in core.resamples(y, n_resamples, seed, stratified):
        try:
            stats.append(np.asarray(metric(y[index], s[index]), np.float64))
        except InputError:
            continue
    if not stats:
        raise InputError(f"The metric is undefined on all {n_resamples} bootstrap resamples; "
                         "use stratified=True or a larger sample.")
    stacked = np.stack(stats)
    defined = np.isfinite(stacked).reshape(len(stacked), -1).all(axis=1)
    n_failed = n_resamples - int(defined.sum())
    if n_failed:
        log.info("bootstrap: metric undefined on %d of %d resamples (left out)", n_failed,
                 n_resamples)
    tail = 100.0 * (1.0 - confidence) / 2.0
    with warnings.catch_warnings():  # an element undefined on every resample: NaN bounds
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(stacked, [tail, 100.0 - tail], axis=0)
    as_out = float if np.ndim(value) == 0 else np.asarray
    return Estimate(as_out(value), as_out(low), as_out(high), confidence, n_resamples, n_failed)


def _operating_point(y: np.ndarray, s: np.ndarray, threshold: float | str | None,
                     target_sensitivity: float | None) -> tuple[float | None, str]:
    if s.ndim == 2:
        if threshold is not None or target_sensitivity is not None:
            raise ConfigurationError("threshold and target_sensitivity apply to binary scores; "
                                     "multi-class predictions take the highest score.")
        return None, "argmax"
    if threshold is not None and target_sensitivity is not None:
        raise ConfigurationError("Pass threshold or target_sensitivity, not both.")
    if target_sensitivity is not None:
        return (threshold_at_sensitivity(y, s, target_sensitivity),
                f"sensitivity>={target_sensitivity:g}")
    if threshold == "youden":
        return youden_threshold(y, s), "youden"
    if isinstance(threshold, str):
        raise ConfigurationError(f"threshold must be a number or 'youden'; got {threshold!r}.")
    return (0.5 if threshold is None else float(threshold)), "fixed"


def evaluate(y_true: Sequence, y_score: Sequence, *, threshold: float | str | None = None,
             target_sensitivity: float | None = None,
             class_names: Sequence[str] | None = None, n_resamples: int = 1000,
             confidence: float = 0.95, seed: int = 0, stratified: bool = True,
             n_bins: int = 10, notes: Sequence[str] = ()) -> ClinicalReport:
    """Every metric of this module with bootstrap CIs, as a :class:`ClinicalReport`.

    Binary scores are thresholded at ``threshold`` (0.5 by default; ``"youden"`` picks
    Youden's J on these data) or at the highest threshold reaching ``target_sensitivity``.
    Data-driven thresholds chosen on the test set flatter it: prefer choosing them on
    validation data with :func:`youden_threshold` / :func:`threshold_at_sensitivity` and
    passing the number. Multi-class scores predict the highest-scoring class and report
    macro averages plus per-class (one-vs-rest) estimates. All intervals share one set of
    resamples (same ``seed``).

    Args:
        y_true: Integer labels ``(n,)``.
        y_score: Positive-class probabilities ``(n,)`` or class probabilities ``(n, k)``.
        threshold: A number, ``"youden"`` or ``None`` (0.5); binary only.
        target_sensitivity: Choose the threshold reaching this sensitivity; binary only.
        class_names: Names in label order (default ``"0"``, ``"1"``, ...).
        n_resamples, confidence, seed, stratified: Bootstrap settings (:func:`bootstrap`).
        n_bins: Bins of the expected calibration error.
        notes: Lines carried into the report (data provenance, duplicates removed...).

    Returns:
        A :class:`ClinicalReport`.

    Example:
        >>> report = evaluate([0, 0, 0, 1, 1, 1], [.1, .3, .6, .4, .8, .9], n_resamples=50,
        ...                   class_names=["normal", "pneumonia"])
        >>> report.confusion_matrix, round(report.metrics["sensitivity"].value, 3)
        ([[2, 1], [1, 2]], 0.667)
    """
    y, s = core.inputs(y_true, y_score)
    k = 2 if s.ndim == 1 else s.shape[1]
    names = tuple(class_names) if class_names is not None else tuple(map(str, range(k)))
    if len(names) != k:
        raise ConfigurationError(f"class_names has {len(names)} names for {k} classes.")
    cut, rule = _operating_point(y, s, threshold, target_sensitivity)
    at = 0.5 if cut is None else cut
    per_class_metrics: dict[str, Callable] = {
        "sensitivity": partial(sensitivity, threshold=at),
        "specificity": partial(specificity, threshold=at), "ppv": partial(ppv, threshold=at),
        "npv": partial(npv, threshold=at), "f1": partial(f1, threshold=at),
        "auroc": auroc, "auprc": auprc, "brier": brier_score,
        "ece": partial(expected_calibration_error, n_bins=n_bins)}
    boot = partial(bootstrap, y_true=y, y_score=s, n_resamples=n_resamples,
                   confidence=confidence, seed=seed, stratified=stratified)
    metrics = {name: boot(fn) for name, fn in per_class_metrics.items()}
    metrics["accuracy"] = boot(partial(accuracy, threshold=at))
    per_class: dict[str, dict[str, Estimate]] = {}
    if s.ndim == 2:
        per_class = {name: {} for name in names}
        for metric_name, fn in per_class_metrics.items():
            est = boot(partial(fn, average=None))
            for c, name in enumerate(names):
                per_class[name][metric_name] = Estimate(
                    float(est.value[c]), float(est.low[c]), float(est.high[c]),
                    confidence, n_resamples, est.n_failed)
    counts = np.bincount(y, minlength=k)
    report = ClinicalReport(
        task="binary" if s.ndim == 1 else "multiclass", class_names=names, n_samples=len(y),
        class_counts={n: int(c) for n, c in zip(names, counts, strict=True)}, threshold=cut,
        threshold_rule=rule, metrics=metrics, per_class=per_class,
        confusion_matrix=confusion_matrix(y, s, threshold=at).tolist(),
        confidence=confidence, n_resamples=n_resamples, seed=seed, stratified=stratified,
        notes=tuple(notes))
    log.info("evaluated %d cases: %s", len(y),
             ", ".join(f"{k} {v.value:.3f}" for k, v in metrics.items()))
    return report
