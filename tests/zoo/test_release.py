"""Releasing: a registry record built only from what training wrote, and every refusal.

References: the tiny run's own metrics.json (the record must carry its figures unchanged)
and ``hashlib.sha256`` of the weights file.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from qkeras import zoo
from qkeras.errors import ChecksumError, ZooError
from qkeras.zoo.release import add_release, entry_from_folder, entry_from_record, read_released


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A recipe folder trained on a tiny npz shaped (and named) as PneumoniaMNIST (2 epochs)."""
    folder = tmp_path_factory.mktemp("zoo") / "tiny-model"
    folder.mkdir()
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 40), ("val", 20), ("test", 20)):
        labels = np.arange(n) % 2
        images = (rng.integers(0, 60, (n, 28, 28)) + 150 * labels[:, None, None])
        arrays[f"{split}_images"] = images.astype(np.uint8)
        arrays[f"{split}_labels"] = labels[:, None].astype(np.uint8)
    np.savez(folder / "pneumoniamnist.npz", **arrays)
    (folder / "recipe.yaml").write_text(
        "name: tiny-model\nversion: 1.2.3\ntask: binary-classification\n"
        "data: {file: pneumoniamnist.npz}\nmodel: {kind: classical, image_size: 4}\n"
        "baseline: {kind: classical, image_size: 4}\n"
        "training: {epochs: 2, learning_rate: 0.05}\nevaluation: {n_resamples: 20}\n"
        "card: {modality: test, licence: Apache-2.0, attribution: qkeras tests}\n")
    zoo.train(zoo.load_recipe(folder / "recipe.yaml"), folder, data=folder)
    return folder


def test_entry_carries_the_recorded_figures(trained, tmp_path):
    summary = json.loads((trained / "metrics.json").read_text())
    entry = entry_from_folder(trained)
    weights = trained / summary["weights"]["file"]
    assert entry.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert entry.size == weights.stat().st_size and entry.file == weights.name
    report = summary["model"]["report"]
    assert entry.metrics["auroc"].value == report["metrics"]["auroc"]["value"]
    assert entry.threshold == report["threshold"]
    assert entry.classes == tuple(report["class_names"]) == ("normal", "pneumonia")
    assert entry.loader["file"] == "pneumoniamnist.npz" and entry.changelog == {"1.2.3":
                                                                      "First release."}
    target = tmp_path / "released.json"
    add_release(entry, target)
    assert read_released(target) == [entry]
    assert entry_from_record(json.loads(target.read_text())[0]) == entry
    with pytest.raises(ZooError, match="released already"):
        add_release(entry, target)
    assert [p.name for p in tmp_path.iterdir()] == ["released.json"]  # no temp file left


def test_refusals(trained, tmp_path):
    copy = tmp_path / "tiny-model"
    shutil.copytree(trained, copy)
    summary = json.loads((copy / "metrics.json").read_text())
    weights = copy / summary["weights"]["file"]
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(ChecksumError, match="does not match the sha256"):
        entry_from_folder(copy)
    weights.unlink()
    with pytest.raises(ZooError, match="is missing"):
        entry_from_folder(copy)
    summary["recipe"]["overrides"] = {"training": {"epochs": 1}}
    (copy / "metrics.json").write_text(json.dumps(summary))
    with pytest.raises(ZooError, match="overrode the recipe"):
        entry_from_folder(copy)
    (copy / "recipe.yaml").write_text((copy / "recipe.yaml").read_text() + "seed: 1\n")
    with pytest.raises(ZooError, match="another version of recipe.yaml"):
        entry_from_folder(copy)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ZooError, match="Cannot read the zoo registry"):
        read_released(tmp_path / "bad.json")
