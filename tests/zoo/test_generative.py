"""Generative recipes: qGANs trained by recipe, their card, PNGs and reproducible metrics.

References: scipy-free closed forms (the relative entropy of the empirical histogram is
recomputed here with NumPy from the recorded samples), the MMD of the recorded samples
recomputed with :func:`qkeras.models.mmd`, and the released-entry round trip.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from qkeras import zoo
from qkeras.errors import ConfigurationError
from qkeras.models import lognormal
from qkeras.zoo.generative import evaluate_generative, held_out_images, train_generative
from qkeras.zoo.release import add_release, entry_from_folder, read_released


def recipe(**model):
    return zoo.Recipe.from_dict({
        "name": "tiny-qgan", "version": "0.0.1", "task": "generation",
        "data": {"dataset": "lognormal", "subset": {"train": 400}},
        "model": {"kind": "distribution_qgan", "qubits": 2, "layers": 1,
                  "target": {"name": "lognormal", "high": 3.0}, **model},
        "training": {"epochs": 3, "batch_size": 100, "learning_rate": 0.05}})


def test_distribution_recipe_outputs_and_exact_metrics(tmp_path):
    result = train_generative(recipe(), tmp_path)
    summary = json.loads(result.metrics.read_text())
    details = summary["details"]
    values, target = lognormal(2, high=3.0)
    np.testing.assert_allclose(details["target"], target)
    p, h = np.array(details["generated"]), np.array(details["training_histogram"])
    assert p.sum() == pytest.approx(1.0, abs=1e-5) and h.sum() == pytest.approx(1.0)
    metrics = summary["model"]["report"]["metrics"]
    expected = float(np.sum(p[p > 0] * np.log(p[p > 0] / target[p > 0])))
    assert metrics["relative_entropy"]["value"] == pytest.approx(expected, rel=1e-4)
    base = summary["baseline"]["report"]["metrics"]["relative_entropy"]["value"]
    assert base < 0.01  # 400 samples of 4 bins: the histogram is close to the target
    assert summary["baseline"]["num_params"] == 3
    card = result.card.read_text()
    assert "| relative_entropy |" in card and "empirical histogram" in card
    with Image.open(tmp_path / "samples.png") as image:
        pixels = np.asarray(image.convert("L"))
    # 4 bins, each a grey (target) and a black (generated) bar on white.
    assert pixels.shape[1] > 4 * 2 * 5 and pixels.min() == 0 and pixels.max() == 255


def test_patch_recipe_on_digits_and_reproducible_evaluation(tmp_path, monkeypatch):
    raw = {"name": "tiny-patch", "version": "0.0.1", "task": "generation",
           "data": {"dataset": "digits", "digit": 0, "held_out": 58},
           "model": {"kind": "patch_qgan", "patches": 4, "qubits": 5, "ancillas": 1,
                     "layers": 1},
           "baseline": {"kind": "classical", "hidden": [1]},
           "training": {"epochs": 1, "batch_size": 30, "learning_rate": 0.3},
           "evaluation": {"n_resamples": 50}}
    folder = tmp_path / "tiny-patch"
    folder.mkdir()
    import yaml

    (folder / "recipe.yaml").write_text(yaml.safe_dump(raw))
    result = train_generative(zoo.load_recipe(folder / "recipe.yaml"), folder)
    summary = result.summary
    refs = summary["details"]["references"]
    # Real images are far closer to the held-out ones than noise is.
    assert refs["real_training_images"] < 0.5 * refs["uniform_noise"]
    mmd = summary["model"]["report"]["metrics"]["mmd"]
    assert mmd["low"] <= mmd["value"] <= mmd["high"]
    assert summary["baseline"]["num_params"] == 134
    for png in ("samples.png", "held_out.png"):
        with Image.open(folder / png) as image:
            assert image.size == ((8 * 9 + 1) * 4, (4 * 9 + 1) * 4)
    # Release into a temporary registry, reload, and recompute: identical figures.
    entry = entry_from_folder(folder)
    assert entry.task == "generation" and entry.loader["dataset"] == "digits"
    registry = add_release(entry, tmp_path / "released.json")
    assert [e.key for e in read_released(registry)] == [("tiny-patch", "0.0.1")]
    monkeypatch.setattr("qkeras.zoo.cache.repository_zoo", lambda: tmp_path)
    monkeypatch.setenv("QKERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QKERAS_ZOO_URL", raising=False)
    zoo.register(entry)
    try:
        again = zoo.evaluate("tiny-patch", n_resamples=50)
        assert again["mmd"] == pytest.approx(mmd, abs=1e-12)
        model = zoo.load("tiny-patch")
        assert evaluate_generative(entry, model, n_resamples=50)["mmd"]["value"] == \
            pytest.approx(mmd["value"], abs=1e-12)
    finally:
        zoo.unregister("tiny-patch", "0.0.1")


def test_held_out_images_of_a_medmnist_file(shared_data):
    train, held, what = held_out_images({"dataset": "pneumoniamnist", "label": 0,
                                         "subset": {"train": 50}}, shared_data)
    assert train.shape == (50, 8, 8) and held.shape == (234, 8, 8)
    assert 0.0 <= held.min() and held.max() <= 1.0 and "class 0" in what


def test_errors(tmp_path):
    bad = recipe(kind="patch_qgan")
    with pytest.raises(ConfigurationError, match="not generative"):
        train_generative(bad.replace(model={"kind": "classical"}), tmp_path)
    with pytest.raises(ConfigurationError, match="Unknown target 'cauchy'"):
        train_generative(recipe(target={"name": "cauchy"}), tmp_path)
