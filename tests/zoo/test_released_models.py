"""The released zoo models: each card's test figures are recomputed from weights and data.

``qkeras zoo evaluate`` must reproduce every metric of every released model to the
printed precision (the card prints 3 decimals with 95% CIs; relative entropies 4 decimals)
from the weights in this repository and the real data in ../shared/data. Independent
checks: scikit-learn's accuracy and AUROC on the loaded model's own predictions.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from qkeras import zoo
from qkeras.cli import main
from qkeras.zoo import presets

CLASSIFIERS = [e.name for e in presets.RELEASED if e.task != "generation"]
GENERATORS = [e.name for e in presets.RELEASED if e.task == "generation"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """No mirror, an empty cache: weights come from this repository's zoo/ folder."""
    monkeypatch.delenv("QKERAS_ZOO_URL", raising=False)
    monkeypatch.setenv("QKERAS_HOME", str(tmp_path / "home"))


def _data(entry, shared_data):
    return shared_data / (entry.loader.get("folder") or entry.loader.get("file"))


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_evaluate_reproduces_the_card(name, shared_data):
    entry = zoo.info(name)
    report = zoo.evaluate(name, _data(entry, shared_data))
    assert set(entry.metrics) <= set(report.metrics)
    for metric, released in entry.metrics.items():
        assert str(report.metrics[metric]) == str(released), (name, metric)
    size = int(entry.split.split(",")[1].split()[0])  # "test split, 624 images; ..."
    assert report.n_samples == size


def test_hybrid_cnn_against_sklearn(shared_data):
    entry = zoo.info("hybrid-cnn-pneumoniamnist")
    with np.load(shared_data / "pneumoniamnist.npz") as data:
        images = data["test_images"][..., None].astype(np.float32) / 255.0
        labels = data["test_labels"][:, 0]
    scores = zoo.load(entry.name).predict(images, verbose=0)[:, 0]
    assert entry.metrics["auroc"].value == pytest.approx(roc_auc_score(labels, scores),
                                                         abs=5e-4)
    assert entry.metrics["accuracy"].value == pytest.approx(
        accuracy_score(labels, scores >= entry.threshold), abs=5e-4)
    # The goal for the best chest X-ray model, on the official 624-image split.
    assert entry.metrics["accuracy"].value >= 0.88 and entry.metrics["auroc"].value >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("name", GENERATORS)
def test_generators_reproduce_the_card(name, shared_data):
    entry = zoo.info(name)
    data = None if entry.loader.get("dataset") in ("digits", "lognormal") else \
        _data(entry, shared_data)
    result = zoo.evaluate(name, data)
    for metric, released in entry.metrics.items():
        assert str(zoo.Metric(**result[metric])) == str(released), (name, metric)


def test_cli_list_and_evaluate(shared_data, capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in CLASSIFIERS + GENERATORS)
    assert main(["zoo", "evaluate", "qgan-lognormal-3q"]) == 0
    out = capsys.readouterr().out
    assert "relative_entropy" in out and "NO" not in out.split() and "yes" in out.split()
    assert main(["zoo", "evaluate", "hybrid-cnn-pneumoniamnist"]) == 2
    assert "pass --data PATH" in capsys.readouterr().err
