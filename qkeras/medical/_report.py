"""Result types of :mod:`qkeras.medical.metrics`: estimates with CIs, the clinical report."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qkeras._files import atomic_write

_LABELS = {"sensitivity": "Sensitivity (recall)", "specificity": "Specificity",
           "ppv": "PPV (precision)", "npv": "NPV", "f1": "F1", "accuracy": "Accuracy",
           "auroc": "AUROC", "auprc": "AUPRC (average precision)", "brier": "Brier score",
           "ece": "Expected calibration error"}


def _plain(value: object) -> object:
    """NumPy values to JSON-ready Python ones; NaN (an undefined metric) to ``None``."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Estimate:
    """A metric on the whole sample with its percentile bootstrap confidence interval.

    Attributes:
        value: The metric on the whole sample (a float, or an array for per-class metrics).
        low: Lower CI bound (the ``(1 - confidence) / 2`` percentile of the resamples).
        high: Upper CI bound (the ``(1 + confidence) / 2`` percentile).
        confidence: Two-sided confidence level, e.g. 0.95.
        n_resamples: Bootstrap resamples drawn.
        n_failed: Resamples on which the metric was undefined (e.g. no positive case);
            left out of the percentiles.

    Example:
        >>> str(Estimate(0.9, 0.85, 0.95, 0.95, 1000, 0))
        '0.900 (95% CI 0.850-0.950)'
    """

    value: float | np.ndarray
    low: float | np.ndarray
    high: float | np.ndarray
    confidence: float
    n_resamples: int
    n_failed: int = 0

    def __str__(self) -> str:
        if np.ndim(self.value):
            return f"{np.round(self.value, 3).tolist()}"
        return (f"{self.value:.3f} ({self.confidence:.0%} CI {self.low:.3f}-{self.high:.3f})")

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready values.

        Example:
            >>> Estimate(0.5, 0.4, 0.6, 0.95, 10).to_dict()["low"]
            0.4
            >>> Estimate(float("nan"), np.nan, np.nan, 0.95, 10, 10).to_dict()["value"] is None
            True
        """
        return {key: _plain(getattr(self, key)) for key in
                ("value", "low", "high", "confidence", "n_resamples", "n_failed")}


@dataclass(frozen=True)
class ClinicalReport:
    """Diagnostic performance of a classifier on one test set, with confidence intervals.

    Attributes:
        task: ``"binary"`` or ``"multiclass"``.
        class_names: Class names in label order.
        n_samples: Cases evaluated.
        class_counts: Cases per true class.
        threshold: Operating threshold on the positive-class score (binary), else ``None``.
        threshold_rule: How the threshold was chosen (``"fixed"``, ``"youden"``,
            ``"sensitivity>=0.9"``) or ``"argmax"`` (multi-class).
        metrics: Name to :class:`Estimate`; one-vs-rest macro averages when multi-class.
        per_class: Multi-class only: class name to metric name to :class:`Estimate`.
        confusion_matrix: Counts, rows true class, columns predicted class.
        confidence, n_resamples, seed, stratified: The bootstrap's settings.
        notes: Free text carried into both outputs (data provenance, duplicates removed).

    Example:
        >>> report = ClinicalReport("binary", ("normal", "pneumonia"), 4, {"normal": 2,
        ...     "pneumonia": 2}, 0.5, "fixed", {"auroc": Estimate(1.0, 1.0, 1.0, 0.95, 10)},
        ...     {}, [[2, 0], [0, 2]], 0.95, 10, 0, True)
        >>> "| AUROC | 1.000 | 1.000-1.000 |" in report.to_markdown()
        True
    """

    task: str
    class_names: tuple[str, ...]
    n_samples: int
    class_counts: dict[str, int]
    threshold: float | None
    threshold_rule: str
    metrics: dict[str, Estimate]
    per_class: dict[str, dict[str, Estimate]]
    confusion_matrix: list[list[int]]
    confidence: float
    n_resamples: int
    seed: int
    stratified: bool
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        """Everything as plain JSON-ready values."""
        return {
            "task": self.task, "class_names": list(self.class_names),
            "n_samples": self.n_samples, "class_counts": dict(self.class_counts),
            "threshold": _plain(self.threshold), "threshold_rule": self.threshold_rule,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "per_class": {c: {k: v.to_dict() for k, v in m.items()}
                          for c, m in self.per_class.items()},
            "confusion_matrix": [[int(v) for v in row] for row in self.confusion_matrix],
            "bootstrap": {"method": "percentile", "confidence": self.confidence,
                          "n_resamples": self.n_resamples, "seed": self.seed,
                          "stratified": self.stratified},
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def to_markdown(self) -> str:
        """The report as a Markdown document (tables of metrics and confusion matrix)."""
        level = f"{self.confidence:.0%} CI"
        counts = ", ".join(f"{n} {c}" for c, n in self.class_counts.items())
        operating = (f"threshold {self.threshold:.4g} ({self.threshold_rule})"
                     if self.threshold is not None else "predicted class = highest score")
        lines = ["# Clinical performance report", "",
                 f"- Cases: {self.n_samples} ({counts})", f"- Operating point: {operating}",
                 f"- Intervals: percentile bootstrap, {self.n_resamples} resamples, "
                 f"{'stratified by class' if self.stratified else 'unstratified'}, "
                 f"seed {self.seed}"]
        lines += [f"- {note}" for note in self.notes]
        average = " (one-vs-rest macro average)" if self.task == "multiclass" else ""
        lines += ["", f"## Metrics{average}", "", f"| Metric | Value | {level} |",
                  "| --- | --- | --- |"]
        lines += [f"| {_LABELS.get(k, k)} | {e.value:.3f} | {e.low:.3f}-{e.high:.3f} |"
                  for k, e in self.metrics.items()]
        if self.per_class:
            names = list(next(iter(self.per_class.values())))
            lines += ["", "## Per class (one vs rest)", "",
                      "| Class | " + " | ".join(_LABELS.get(n, n) for n in names) + " |",
                      "| --- " * (len(names) + 1) + "|"]
            for cls, estimates in self.per_class.items():
                cells = [f"{e.value:.3f} ({e.low:.3f}-{e.high:.3f})" for e in estimates.values()]
                lines.append(f"| {cls} | " + " | ".join(cells) + " |")
        lines += ["", "## Confusion matrix (rows: true, columns: predicted)", "",
                  "| | " + " | ".join(self.class_names) + " |",
                  "| --- " * (len(self.class_names) + 1) + "|"]
        lines += [f"| {name} | " + " | ".join(str(int(v)) for v in row) + " |"
                  for name, row in zip(self.class_names, self.confusion_matrix, strict=True)]
        return "\n".join(lines) + "\n"

    def write_json(self, path: str | os.PathLike) -> Path:
        """Writes :meth:`to_json` to ``path`` atomically; returns the path."""
        return atomic_write(path, self.to_json())

    def write_markdown(self, path: str | os.PathLike) -> Path:
        """Writes :meth:`to_markdown` to ``path`` atomically; returns the path."""
        return atomic_write(path, self.to_markdown())

    def write(self, directory: str | os.PathLike, name: str = "report") -> tuple[Path, Path]:
        """Writes ``<name>.json`` and ``<name>.md`` into ``directory``; returns both paths."""
        directory = Path(directory)
        return (self.write_json(directory / f"{name}.json"),
                self.write_markdown(directory / f"{name}.md"))
