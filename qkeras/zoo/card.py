"""Model cards: ``card.md`` filled from a recipe and the ``metrics.json`` it produced.

Every number on a card comes from ``metrics.json``; the prose comes from the recipe's
``card`` section. Mitchell et al., "Model cards for model reporting", FAT* 2019.

Example:
    >>> print(metric_rows({"auroc": {"value": 0.9, "low": 0.8, "high": 0.95}},
    ...                   {"auroc": {"value": 0.85, "low": 0.75, "high": 0.9}}))
    | AUROC | 0.900 (0.800-0.950) | 0.850 (0.750-0.900) |
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["render_card", "metric_rows", "comparison", "TEMPLATE"]

_LABELS = {"accuracy": "Accuracy", "auroc": "AUROC", "auprc": "AUPRC",
           "sensitivity": "Sensitivity", "specificity": "Specificity", "ppv": "PPV",
           "npv": "NPV", "f1": "F1", "brier": "Brier score", "ece": "ECE"}

TEMPLATE = """\
# {name} {version}

{summary}

> {intended_use}

## Model

- Kind: `{model_kind}` ({model_params} parameters); recipe `{recipe_path}`
  (sha256 `{recipe_sha256}`), seed {seed}.
- Training: up to {epochs} epochs (run: {model_epochs}), batch {batch_size}, Adam
  learning rate {learning_rate}, early stopping on validation loss (patience {patience}),
  class weights: {class_weight}.{overrides_note}
- Input: images {input_shape}, float32 in [0, 1]; classes {classes}.
- Weights: `{weights_file}` (sha256 `{weights_sha256}`, {weights_size} bytes).

## Data

- {data_file} ({data_provenance} file, sha256 `{data_sha256}`).
- Images used: train {n_train}, validation {n_val}, test {n_test}{subset_note}.
- Test class counts: {test_counts}.{data_notes}

## Test-split metrics ({confidence} CIs, percentile bootstrap, {n_resamples} resamples)

Operating threshold: {threshold} ({threshold_rule}). Baseline: `{baseline_kind}`
({baseline_params} parameters), trained by the same recipe.

| Metric | {name} | Baseline |
| --- | --- | --- |
{metric_rows}
{comparison}
{references}## Limitations

{limitations}

## Licence and attribution

{licence}

{attribution}

## Reproduce

```
python scripts/zoo/train.py {recipe_path} --data PATH
qkeras zoo evaluate {name} --data PATH     # recomputes the test metrics above
```

Environment: {environment}.
"""


def _cell(estimate: Mapping | None) -> str:
    if not estimate or estimate.get("value") is None:
        return "n/a"
    low, high = estimate.get("low"), estimate.get("high")
    interval = f" ({low:.3f}-{high:.3f})" if low is not None and high is not None else ""
    return f"{estimate['value']:.3f}{interval}"


def metric_rows(model: Mapping, baseline: Mapping | None) -> str:
    """Markdown rows ``| metric | model | baseline |`` from two metric dicts."""
    baseline = baseline or {}
    return "\n".join(f"| {_LABELS.get(k, k)} | {_cell(v)} | {_cell(baseline.get(k))} |"
                     for k, v in model.items())


def comparison(model: Mapping, baseline: Mapping | None,
               keys: tuple[str, ...] = ("accuracy", "auroc")) -> str:
    """One sentence comparing a model with its baseline on ``keys``, by their CIs.

    Descriptive only (whether the two percentile intervals overlap), not a paired test;
    a metric missing on either side is left out.

    Example:
        >>> print(comparison({"accuracy": {"value": 0.9, "low": 0.88, "high": 0.92}},
        ...                  {"accuracy": {"value": 0.95, "low": 0.93, "high": 0.97}}).strip())
        Against the baseline: accuracy 0.900 vs 0.950 (baseline higher, the CIs do not overlap).
    """
    parts = []
    for key in keys:
        a, b = model.get(key), (baseline or {}).get(key)
        if not a or not b or None in (a.get("low"), b.get("low")):
            continue
        if a["low"] > b["high"]:
            verdict = "model higher, the CIs do not overlap"
        elif b["low"] > a["high"]:
            verdict = "baseline higher, the CIs do not overlap"
        else:
            verdict = "level within the CIs"
        parts.append(f"{_LABELS.get(key, key).lower() if key != 'auroc' else 'AUROC'} "
                     f"{a['value']:.3f} vs {b['value']:.3f} ({verdict})")
    return f"\nAgainst the baseline: {'; '.join(parts)}.\n" if parts else ""


def render_card(recipe, metrics: Mapping) -> str:
    """Fills :data:`TEMPLATE` from a :class:`~qkeras.zoo.recipes.Recipe` and its metrics.

    Args:
        recipe: The recipe that was run.
        metrics: The ``metrics.json`` content it wrote.

    Returns:
        The card as Markdown.
    """
    model, baseline = metrics["model"], metrics.get("baseline") or {}
    report = model["report"]
    data = metrics["data"]
    subset = {k: v for k, v in recipe.data.get("subset", {}).items() if v}
    boot = report["bootstrap"]
    return TEMPLATE.format(
        name=recipe.name, version=recipe.version, summary=recipe.summary or "",
        intended_use=recipe.card.get("intended_use", ""), model_kind=model["kind"],
        model_params=model["num_params"], recipe_path=metrics["recipe"]["path"],
        recipe_sha256=metrics["recipe"]["sha256"], seed=recipe.seed,
        model_epochs=model["epochs_run"], input_shape=tuple(data["input_shape"]),
        epochs=recipe.training["epochs"], batch_size=recipe.training["batch_size"],
        learning_rate=recipe.training["learning_rate"], patience=recipe.training["patience"],
        class_weight=recipe.training.get("class_weight") or "none",
        overrides_note=(f"\n- **This run overrode the recipe file: {recipe.overrides}.** A "
                        "release uses the recipe as written." if recipe.overrides else ""),
        classes=", ".join(report["class_names"]),
        weights_file=metrics["weights"]["file"], weights_sha256=metrics["weights"]["sha256"],
        weights_size=metrics["weights"]["size"], data_file=data["file"],
        data_provenance=data["provenance"], data_sha256=data["sha256"],
        n_train=data["sizes"]["train"], n_val=data["sizes"]["val"],
        n_test=data["sizes"]["test"],
        subset_note=(f" (seeded subsets of {subset}; not the full splits)" if subset else ""),
        test_counts=", ".join(f"{k} {v}" for k, v in report["class_counts"].items()),
        data_notes="".join(f"\n- {note}." for note in data.get("notes", [])),
        references=("Published references on this test split (other models, not retrained "
                    "here):\n\n" + "".join(f"- {ref}\n" for ref in
                                            recipe.card["references"]) + "\n"
                    if recipe.card.get("references") else ""),
        confidence=f"{boot['confidence']:.0%}", n_resamples=boot["n_resamples"],
        threshold=("highest score" if report["threshold"] is None
                   else f"{report['threshold']:.4g}"),
        threshold_rule=(metrics["threshold_rule"] if report["threshold"] is not None
                        else "multi-class: the most probable class"),
        baseline_kind=baseline.get("kind", "none"),
        baseline_params=baseline.get("num_params", "n/a"),
        metric_rows=metric_rows(report["metrics"],
                                baseline.get("report", {}).get("metrics")),
        comparison=comparison(report["metrics"], baseline.get("report", {}).get("metrics")),
        limitations=recipe.card.get("limitations") or "Not validated clinically.",
        licence=recipe.card.get("licence", ""), attribution=recipe.card.get("attribution", ""),
        environment=", ".join(f"{k} {v}" for k, v in metrics["environment"].items()))
