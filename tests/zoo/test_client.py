"""zoo.evaluate on real PneumoniaMNIST test images, and the ``qkeras zoo`` command.

References: ``sklearn.metrics.roc_auc_score``/``accuracy_score`` on the original saved
model's own predictions (never the zoo's code path).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from qkeras import zoo
from qkeras.cli import main
from qkeras.errors import InputError, ZooError
from tests.zoo.conftest import predictions


@pytest.fixture(scope="module")
def pneumonia_test(request):
    from tests.conftest import shared_data_dir

    path = shared_data_dir() / "pneumoniamnist.npz"
    if not path.is_file():
        pytest.skip(f"{path} is absent (set QKERAS_SHARED_DATA)")
    with np.load(path) as data:
        images = data["test_images"][..., None].astype(np.float32) / 255.0
        labels = data["test_labels"][:, 0]
    return path, images, labels


def test_evaluate_recomputes_metrics_on_real_data(released, tiny_model_file, pneumonia_test):
    entry, _ = released
    path, images, labels = pneumonia_test
    report = zoo.evaluate(entry.name, data=str(path), n_resamples=50)
    score = predictions(tiny_model_file, images)[:, 0]
    assert report.n_samples == 624
    assert report.metrics["auroc"].value == pytest.approx(roc_auc_score(labels, score))
    assert report.metrics["accuracy"].value == pytest.approx(
        accuracy_score(labels, score >= entry.threshold))
    assert report.class_counts == {"normal": 234, "pneumonia": 390}
    arrays = zoo.evaluate(entry.name, data=(images[:40], labels[:40]), n_resamples=20)
    assert arrays.metrics["auroc"].value == pytest.approx(
        roc_auc_score(labels[:40], score[:40]))


def test_evaluate_errors(released):
    entry, _ = released
    with pytest.raises(InputError, match=r"expects images of shape \(28, 28, 1\)"):
        zoo.evaluate(entry.name, data=(np.zeros((4, 28, 28)), np.array([0, 1, 0, 1])))
    with pytest.raises(InputError, match="data must be a MedMNIST .npz path"):
        zoo.evaluate(entry.name, data=[1, 2])


def test_load_rejects_a_file_keras_cannot_read(home, tiny_model_file, http_root):
    from tests.zoo.conftest import make_entry

    root, base = http_root
    bogus = home.parent / "bogus.keras"
    bogus.write_bytes(b"not a zip archive")
    entry = make_entry(bogus)
    entry = make_entry(bogus, url=f"{base}/{entry.file}")
    (root / entry.file).write_bytes(bogus.read_bytes())
    zoo.register(entry)
    try:
        with pytest.raises(ZooError, match="Keras cannot load"):
            zoo.load(entry.name)
    finally:
        zoo.unregister(entry.name, entry.version)


def test_cli_list_info_download_evaluate(released, pneumonia_test, capsys):
    entry, _ = released
    assert main(["zoo", "list"]) == 0
    assert entry.name in capsys.readouterr().out
    assert main(["zoo", "info", entry.name]) == 0
    out = capsys.readouterr().out
    assert entry.sha256 in out and "Tests only." in out
    assert main(["zoo", "info", entry.name, "--json"]) == 0
    assert f'"sha256": "{entry.sha256}"' in capsys.readouterr().out
    assert main(["zoo", "download", entry.name]) == 0
    assert "verified" in capsys.readouterr().out
    path, _, _ = pneumonia_test
    assert main(["zoo", "evaluate", entry.name, "--data", str(path),
                 "--resamples", "20"]) == 0
    out = capsys.readouterr().out
    assert "624 images" in out and "auroc" in out


def test_cli_empty_registry_and_unknown_name(home, capsys, monkeypatch):
    monkeypatch.setattr("qkeras.zoo.registry._ENTRIES", {})
    assert main(["zoo", "list"]) == 0
    assert "no model is released yet" in capsys.readouterr().out
    assert main(["zoo", "info", "qcnn-chest"]) == 2
    assert "Unknown zoo model 'qcnn-chest'" in capsys.readouterr().err
