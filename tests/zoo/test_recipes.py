"""Recipes: validation, model builders, and one real end-to-end run on PneumoniaMNIST.

The end-to-end run goes through ``scripts/zoo/train.py`` with a tiny budget (1 epoch,
500 training images) and is checked against independent references: sklearn's
``roc_auc_score`` on the saved weights' own predictions, ``hashlib.sha256`` of the
weights file, and the split sizes of the npz file. Then the outputs are registered as a
test-only entry and ``zoo.evaluate`` must reproduce the recorded AUROC.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from qkeras import keras, zoo
from qkeras.errors import ConfigurationError
from qkeras.zoo.entry import repository_zoo
from tests.conftest import REPO

RECIPE = REPO / "zoo" / "qcnn-pneumoniamnist" / "recipe.yaml"


def minimal(**changes):
    raw = {"name": "demo-model", "version": "0.1.0", "task": "binary-classification",
           "data": {"dataset": "pneumoniamnist"}, "model": {"kind": "classical"}}
    raw.update(changes)
    return raw


def test_shipped_qcnn_recipe_is_valid_and_its_baseline_has_the_same_size():
    recipe = zoo.load_recipe(RECIPE)
    assert recipe.name == RECIPE.parent.name and recipe.sha256 == hashlib.sha256(
        RECIPE.read_bytes()).hexdigest()
    assert recipe.model["kind"] == "qcnn" and recipe.baseline["kind"] == "classical"
    assert repository_zoo() == REPO / "zoo"
    # The baseline is "of the same size": equal parameter counts.
    sizes = [zoo.build_model(spec, (28, 28, 1), 2).count_params()
             for spec in (recipe.model, recipe.baseline)]
    assert sizes == [65, 65]


@pytest.mark.parametrize("raw,message", [
    (minimal(epochs=3), r"Unknown recipe keys \['epochs'\]"),
    (minimal(training={"epoch": 3}), r"Unknown recipe keys \['epoch'\] in recipe.training"),
    ({"name": "x", "version": "0.1.0"}, r"lacks \['task', 'data', 'model'\]"),
    (minimal(model={"kind": "transformer"}), "Unknown model kind 'transformer'"),
    (minimal(data={"subset": {}}),
     "needs a MedMNIST 'dataset' flag, a 'file' or an image 'folder'"),
    (minimal(model="qcnn"), "must be mappings with a 'kind'"),
    ([1, 2], "must be a YAML mapping"),
])
def test_recipe_validation(raw, message):
    with pytest.raises(ConfigurationError, match=message):
        zoo.Recipe.from_dict(raw)


def test_load_recipe_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="Cannot read recipe"):
        zoo.load_recipe(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed")
    with pytest.raises(ConfigurationError, match="Cannot read recipe"):
        zoo.load_recipe(tmp_path / "bad.yaml")


def test_replace_records_overrides():
    recipe = zoo.Recipe.from_dict(minimal()).replace(training={"epochs": 1},
                                                     data={"subset": {"train": 10}})
    assert recipe.training["epochs"] == 1 and recipe.training["batch_size"] == 32
    assert recipe.data["subset"] == {"train": 10, "val": None, "test": None}
    assert recipe.overrides == {"training": {"epochs": 1}, "data": {"subset": {"train": 10}}}


def test_builders(tmp_path):
    qcnn = zoo.build_model({"kind": "qcnn", "image_size": 4, "qubits": 4,
                            "encoding": "amplitude"}, (28, 28, 1), 3)
    assert qcnn.output_shape == (None, 3) and qcnn.count_params() == 42 + 2 * 3
    mlp = zoo.build_model({"kind": "classical", "image_size": 4, "hidden": [3]},
                          (28, 28, 1), 2)
    assert mlp.count_params() == 16 * 3 + 3 + 3 + 1
    inputs = keras.Input((12, 12, 3))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    keras.Model(inputs, features).save(tmp_path / "b.keras")
    hybrid = zoo.build_model({"kind": "hybrid_transfer", "backbone": str(tmp_path / "b.keras"),
                              "n_qubits": 2}, (28, 28, 1), 2)
    assert hybrid.output_shape == (None, 2)
    with pytest.raises(ConfigurationError, match="Bad option for model kind 'classical'"):
        zoo.build_model({"kind": "classical", "qubits": 3}, (28, 28, 1), 2)
    with pytest.raises(ConfigurationError, match="Unknown model kind"):
        zoo.build_model({"kind": "svm"}, (28, 28, 1), 2)


def run_script(argv):
    spec = importlib.util.spec_from_file_location("zoo_train", REPO / "scripts" / "zoo" /
                                                  "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def test_recipe_end_to_end_on_real_data(shared_data, tmp_path, home, capsys):
    out = tmp_path / "zoo" / "test-qcnn-pneumoniamnist"  # a name no release will take
    npz = shared_data / "pneumoniamnist.npz"
    status = run_script([str(RECIPE), "--data", str(npz), "--out", str(out), "--epochs", "1",
                         "--train-subset", "500", "--val-subset", "200", "--resamples", "100"])
    assert status == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "metrics.json").read_text())
    weights = out / summary["weights"]["file"]
    assert json.loads(printed.splitlines()[-1])["weights"] == str(weights)
    # Independent checks: the file's own hash, the npz's split sizes, sklearn's AUROC.
    assert summary["weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert weights.name.endswith(f"-{summary['weights']['sha256'][:8]}.keras")
    assert summary["data"]["sizes"] == {"train": 500, "val": 200, "test": 624}
    assert summary["recipe"]["overrides"]["training"] == {"epochs": 1}
    with np.load(npz) as data:
        x_test = data["test_images"][..., None].astype(np.float32) / 255.0
        y_test = data["test_labels"][:, 0]
    model = keras.models.load_model(weights, compile=False)
    auroc = roc_auc_score(y_test, model.predict(x_test, verbose=0)[:, 0])
    recorded = summary["model"]["report"]["metrics"]["auroc"]
    assert recorded["value"] == pytest.approx(auroc, abs=1e-6)
    assert recorded["low"] <= auroc <= recorded["high"]
    assert summary["model"]["num_params"] == summary["baseline"]["num_params"] == 65
    card = (out / "card.md").read_text()
    assert f"{recorded['value']:.3f} ({recorded['low']:.3f}-{recorded['high']:.3f})" in card
    assert "This run overrode the recipe file" in card and summary["weights"]["sha256"] in card
    # Register the outputs (test-only) and recompute the metrics through the zoo client.
    from tests.zoo.conftest import make_entry

    entry = make_entry(weights, url=weights.as_uri(), name=out.name,
                       metrics=zoo.measured(out.name, root=out.parent),
                       threshold=zoo.measured_threshold(out.name, root=out.parent))
    zoo.register(entry)
    try:
        report = zoo.evaluate(entry.name, data=str(npz), n_resamples=100)
    finally:
        zoo.unregister(entry.name, entry.version)
    assert report.metrics["auroc"].value == pytest.approx(entry.metrics["auroc"].value)
    assert report.metrics["accuracy"].value == pytest.approx(
        entry.metrics["accuracy"].value)
