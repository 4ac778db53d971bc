"""Tests of qkeras.medical.metrics.

References: scikit-learn's metrics on the same inputs, closed forms, and hand-computed
percentiles of bootstrap distributions known exactly.
"""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.preprocessing import label_binarize

from qkeras._files import atomic_open
from qkeras.errors import ConfigurationError, InputError
from qkeras.medical import metrics as mm


def _binary(n=300, ties=False, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.35 * y + rng.normal(0.35, 0.2, n), 0, 1)
    return y, (np.round(score, 1) if ties else score)


def _multiclass(n=400, k=4, seed=2):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k)) + 1.5 * np.eye(k)[y]
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, prob


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_binary_metrics_match_sklearn(ties, threshold):
    y, s = _binary(ties=ties)
    pred = (s >= threshold).astype(int)
    at = {"threshold": threshold}
    assert mm.sensitivity(y, s, **at) == pytest.approx(skm.recall_score(y, pred))
    assert mm.specificity(y, s, **at) == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert mm.ppv(y, s, **at) == pytest.approx(skm.precision_score(y, pred))
    assert mm.npv(y, s, **at) == pytest.approx(skm.precision_score(y, pred, pos_label=0))
    assert mm.f1(y, s, **at) == pytest.approx(skm.f1_score(y, pred))
    assert mm.accuracy(y, s, **at) == pytest.approx(skm.accuracy_score(y, pred))
    np.testing.assert_array_equal(mm.confusion_matrix(y, s, **at), skm.confusion_matrix(y, pred))
    assert mm.auroc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert mm.auprc(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert mm.brier_score(y, s) == pytest.approx(skm.brier_score_loss(y, s))


def test_keras_shaped_inputs_are_accepted():
    y, s = _binary()
    assert mm.auroc(y[:, None], s[:, None]) == pytest.approx(skm.roc_auc_score(y, s))
    assert mm.sensitivity(y.astype(bool), s) == pytest.approx(skm.recall_score(y, s >= 0.5))


def test_multiclass_one_vs_rest_matches_sklearn():
    y, s = _multiclass()
    pred, onehot = s.argmax(axis=1), label_binarize(y, classes=range(4))
    mcm = skm.multilabel_confusion_matrix(y, pred, labels=range(4))  # [[tn, fp], [fn, tp]]
    tn, fp, fn = mcm[:, 0, 0], mcm[:, 0, 1], mcm[:, 1, 0]
    np.testing.assert_allclose(mm.sensitivity(y, s, average=None),
                               skm.recall_score(y, pred, average=None))
    assert mm.sensitivity(y, s) == pytest.approx(skm.recall_score(y, pred, average="macro"))
    np.testing.assert_allclose(mm.specificity(y, s, average=None), tn / (tn + fp))
    np.testing.assert_allclose(mm.ppv(y, s, average=None),
                               skm.precision_score(y, pred, average=None))
    np.testing.assert_allclose(mm.npv(y, s, average=None), tn / (tn + fn))
    assert mm.f1(y, s) == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert mm.accuracy(y, s) == pytest.approx(skm.accuracy_score(y, pred))
    assert mm.auroc(y, s) == pytest.approx(skm.roc_auc_score(y, s, multi_class="ovr"))
    np.testing.assert_allclose(mm.auroc(y, s, average=None),
                               skm.roc_auc_score(onehot, s, average=None))
    assert mm.auprc(y, s) == pytest.approx(skm.average_precision_score(onehot, s))
    np.testing.assert_allclose(mm.brier_score(y, s, average=None),
                               [skm.brier_score_loss(onehot[:, c], s[:, c]) for c in range(4)])
    np.testing.assert_array_equal(mm.confusion_matrix(y, s), skm.confusion_matrix(y, pred))


def _ece_reference(y, p, n_bins):
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    counts, _ = np.histogram(p, bins=np.linspace(0, 1, n_bins + 1))
    counts = counts[counts > 0]
    return float(np.sum(counts / len(p) * np.abs(prob_true - prob_pred)))


@pytest.mark.parametrize("n_bins", [5, 10, 15])
def test_ece_matches_sklearn_calibration_curve(n_bins):
    y, s = _binary(n=500)
    assert mm.expected_calibration_error(y, s, n_bins=n_bins) == pytest.approx(
        _ece_reference(y, s, n_bins))
    y3, p3 = _multiclass()
    want = np.mean([_ece_reference((y3 == c).astype(int), p3[:, c], n_bins) for c in range(4)])
    assert mm.expected_calibration_error(y3, p3, n_bins=n_bins) == pytest.approx(want)


def test_ece_closed_form():
    # bins of width 0.5: [0, .5) holds 0.1 and 0.3 (outcomes 0, 1), [.5, 1] holds 0.9 (1).
    want = (2 / 3) * abs(0.5 - 0.2) + (1 / 3) * abs(1 - 0.9)
    assert mm.expected_calibration_error([0, 1, 1], [0.1, 0.3, 0.9], n_bins=2) == \
        pytest.approx(want)
    # A score on an edge goes to the upper bin: [0, .5) holds 0.2, [.5, 1] holds 0.5, 0.9.
    want = (1 / 3) * 0.2 + (2 / 3) * abs(1 - 0.7)
    assert mm.expected_calibration_error([0, 1, 1], [0.2, 0.5, 0.9], n_bins=2) == \
        pytest.approx(want)


def test_ppv_npv_f1_are_nan_without_predictions():
    y, s = np.array([0, 1, 1]), np.array([0.1, 0.2, 0.3])
    assert np.isnan(mm.ppv(y, s))
    assert np.isnan(skm.precision_score(y, s >= 0.5, zero_division=np.nan))
    assert np.isnan(mm.npv([0, 1], [0.9, 0.9]))
    assert np.isnan(mm.f1([0, 0], [0.1, 0.2]))


def test_thresholds_match_sklearn_roc_curve():
    y, s = _binary(n=400)
    fpr, tpr, thresholds = skm.roc_curve(y, s, drop_intermediate=False)
    assert mm.youden_threshold(y, s) == pytest.approx(thresholds[np.argmax(tpr - fpr)])
    for target in (0.5, 0.8, 0.9, 0.95, 1.0):
        cut = mm.threshold_at_sensitivity(y, s, target)
        assert cut == pytest.approx(thresholds[np.argmax(tpr >= target)])
        assert skm.recall_score(y, s >= cut) >= target
        higher = s[s > cut].min(initial=np.inf)
        assert higher == np.inf or skm.recall_score(y, s >= higher) < target


def _linear_percentile(values, q):
    """Hand-written percentile, linear between order statistics (numpy's default)."""
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(np.floor(rank))
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


@pytest.mark.parametrize("stratified", [True, False])
def test_bootstrap_ci_is_the_percentile_of_the_documented_resamples(stratified):
    y, s = _binary(n=40, seed=5)
    est = mm.bootstrap(mm.auroc, y, s, n_resamples=300, confidence=0.9, seed=11,
                       stratified=stratified)
    rng = np.random.default_rng(11)
    if stratified:
        parts = []
        for label in (0, 1):
            members = np.flatnonzero(y == label)
            parts.append(members[rng.integers(0, len(members), (300, len(members)))])
        indices = np.concatenate(parts, axis=1)
    else:
        indices = rng.integers(0, len(y), (300, len(y)))
    values = [skm.roc_auc_score(y[i], s[i]) for i in indices if 0 < y[i].sum() < len(i)]
    assert est.value == pytest.approx(skm.roc_auc_score(y, s))
    assert est.n_failed == 300 - len(values)
    assert est.low == pytest.approx(_linear_percentile(values, 5.0))
    assert est.high == pytest.approx(_linear_percentile(values, 95.0))


@pytest.mark.parametrize(("confidence", "want"), [(0.8, (0.2, 0.6)), (0.95, (0.0, 0.8))])
def test_bootstrap_matches_exact_binomial_percentiles(confidence, want):
    # Accuracy of 5 cases with 2 right: a resample's number right is Binomial(5, 0.4), with
    # CDF 0.078, 0.337, 0.683, 0.913, 0.990, 1. Its 10th/90th percentiles are 1 and 3 right
    # (0.2, 0.6), its 2.5th/97.5th 0 and 4 right (0.0, 0.8); 20000 resamples sit far from
    # the CDF steps, so the bootstrap must find these exactly.
    y, s = np.ones(5, int), np.array([0.9, 0.8, 0.1, 0.2, 0.3])
    est = mm.bootstrap(mm.accuracy, y, s, n_resamples=20000, confidence=confidence, seed=3)
    assert est.value == pytest.approx(0.4)
    assert (est.low, est.high) == pytest.approx(want)


def test_stratified_resamples_keep_class_counts():
    y, s = _binary(n=60)
    prevalence = lambda yt, ys: float(np.mean(yt))  # noqa: E731
    strat = mm.bootstrap(prevalence, y, s, n_resamples=200, stratified=True)
    assert strat.low == strat.high == pytest.approx(y.mean())
    loose = mm.bootstrap(prevalence, y, s, n_resamples=200, stratified=False)
    assert loose.low < y.mean() < loose.high


def test_bootstrap_of_per_class_arrays_and_failures():
    y, s = _multiclass(n=120)
    est = mm.bootstrap(partial(mm.sensitivity, average=None), y, s, n_resamples=100)
    assert est.value.shape == est.low.shape == (4,)
    assert str(est) == str(np.round(est.value, 3).tolist())
    assert est.to_dict()["high"] == pytest.approx(est.high.tolist())
    assert isinstance(est.to_dict()["n_failed"], int)
    assert np.all(est.low <= est.value) and np.all(est.value <= est.high)
    never_predicted = np.eye(4)[np.zeros(len(y), int)] * 0.9 + 0.025  # always class 0
    ppv = mm.bootstrap(partial(mm.ppv, average=None), y, never_predicted, n_resamples=50)
    assert np.isfinite(ppv.value[0]) and np.all(np.isnan(ppv.value[1:]))
    assert np.isfinite(ppv.low[0]) and np.all(np.isnan(ppv.high[1:])) and ppv.n_failed == 50
    assert np.isnan(mm.bootstrap(mm.ppv, y % 2, np.zeros(len(y)), n_resamples=5).high)

    def defined_on_the_full_sample_only(yt, ys):
        if not np.array_equal(ys, s):
            raise InputError("undefined")
        return 1.0

    with pytest.raises(InputError, match="undefined on all 20"):
        mm.bootstrap(defined_on_the_full_sample_only, y, s, n_resamples=20)


def test_evaluate_binary_report_round_trips_and_matches_sklearn(tmp_path):
    y, s = _binary(n=200)
    report = mm.evaluate(y, s, threshold="youden", n_resamples=200,
                         class_names=["normal", "pneumonia"], notes=["synthetic data"])
    cut = report.threshold
    assert report.threshold_rule == "youden" and cut == mm.youden_threshold(y, s)
    assert report.metrics["sensitivity"].value == pytest.approx(skm.recall_score(y, s >= cut))
    assert report.metrics["auroc"].value == pytest.approx(skm.roc_auc_score(y, s))
    assert report.confusion_matrix == skm.confusion_matrix(y, s >= cut).tolist()
    for est in report.metrics.values():
        assert est.low <= est.value <= est.high
    json_path, md_path = report.write(tmp_path / "out")
    loaded = json.loads(json_path.read_text())
    assert loaded["metrics"]["auroc"]["value"] == pytest.approx(report.metrics["auroc"].value)
    assert loaded["class_counts"] == {"normal": int((y == 0).sum()), "pneumonia": int(y.sum())}
    text = md_path.read_text()
    assert "| AUROC |" in text and "synthetic data" in text and "youden" in text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.json", "report.md"]


def test_evaluate_operating_points():
    y, s = _binary(n=200)
    report = mm.evaluate(y, s, target_sensitivity=0.9, n_resamples=20)
    assert report.threshold_rule == "sensitivity>=0.9"
    assert report.metrics["sensitivity"].value >= 0.9
    assert mm.evaluate(y, s, threshold=0.7, n_resamples=20).threshold == 0.7


def test_evaluate_multiclass_has_macro_and_per_class():
    y, s = _multiclass(n=200)
    report = mm.evaluate(y, s, class_names="abcd", n_resamples=50, stratified=False)
    assert report.task == "multiclass" and report.threshold is None
    want = skm.roc_auc_score(y, s, multi_class="ovr")
    assert report.metrics["auroc"].value == pytest.approx(want)
    per_class_auc = skm.roc_auc_score(label_binarize(y, classes=range(4)), s, average=None)
    for c, name in enumerate("abcd"):
        assert report.per_class[name]["auroc"].value == pytest.approx(per_class_auc[c])
    assert "## Per class" in report.to_markdown()
    assert json.loads(report.to_json())["per_class"]["a"]["f1"]["n_resamples"] == 50
    # A class never predicted has no PPV: null in JSON (strict JSON has no NaN).
    always_a = np.tile([0.7, 0.1, 0.1, 0.1], (len(y), 1))
    strict = json.loads(mm.evaluate(y, always_a, n_resamples=10).to_json(),
                        parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert strict["per_class"]["1"]["ppv"]["value"] is None
    assert strict["metrics"]["ppv"]["low"] is None


@pytest.mark.parametrize(("call", "match"), [
    (lambda: mm.auroc([0, 1, 1], [0.1, np.nan, 0.2]), "NaN"),
    (lambda: mm.auroc([0, 1, 1], [0.1, 0.2]), "same n"),
    (lambda: mm.auroc([1, 1, 1], [0.1, 0.5, 0.2]), "both classes"),
    (lambda: mm.auprc([0, 0], [0.1, 0.5]), "both classes"),
    (lambda: mm.auroc([0, 1, 2], [0.1, 0.5, 0.2]), "integer labels 0..1"),
    (lambda: mm.sensitivity([0, 0], [0.1, 0.5]), "without positive"),
    (lambda: mm.specificity([1, 1], [0.1, 0.5]), "without negative"),
    (lambda: mm.brier_score([0, 1], [0.1, 1.5]), r"probabilities in \[0, 1\]"),
    (lambda: mm.youden_threshold([0, 1], [[0.1, 0.9], [0.2, 0.8]]), "binary scores"),
])
def test_bad_inputs_raise_input_error(call, match):
    with pytest.raises(InputError, match=match):
        call()


@pytest.mark.parametrize(("call", "match"), [
    (lambda: mm.sensitivity([0, 1], [[0.1, 0.9], [0.2, 0.8]], average="micro"), "average"),
    (lambda: mm.expected_calibration_error([0, 1], [0.1, 0.2], n_bins=0), "n_bins"),
    (lambda: mm.bootstrap(mm.auroc, [0, 1], [0.1, 0.2], n_resamples=0), "n_resamples"),
    (lambda: mm.threshold_at_sensitivity([0, 1], [0.1, 0.2], 1.5), "sensitivity"),
    (lambda: mm.evaluate([0, 1], [0.1, 0.2], threshold=0.5, target_sensitivity=0.9), "not both"),
    (lambda: mm.evaluate([0, 1], [0.1, 0.2], threshold="best"), "youden"),
    (lambda: mm.evaluate([0, 1], [[0.9, 0.1], [0.2, 0.8]], threshold=0.5), "multi-class"),
    (lambda: mm.evaluate([0, 1], [0.1, 0.2], class_names=["a"]), "class_names"),
])
def test_bad_options_raise_configuration_error(call, match):
    with pytest.raises(ConfigurationError, match=match):
        call()


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write(b"partial")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
