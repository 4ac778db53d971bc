"""The demo's training function on a reduced budget, and the qkeras CLI around it."""

import numpy as np
import pytest

from qkeras import cli, demo


def test_split_is_stratified_and_disjoint():
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = demo.load_data(seed=0)
    assert (len(y_train), len(y_val), len(y_test)) == (341, 114, 114)
    # 212 of 569 are malignant: each split keeps that ratio to within one sample.
    for y in (y_train, y_val, y_test):
        assert abs(y.mean() - 212 / 569) < 1.5 / len(y)
    rows = {tuple(r) for r in np.round(x_train, 5)}
    assert not rows & {tuple(r) for r in np.round(x_test, 5)}
    np.testing.assert_allclose(x_train.mean(0), 0, atol=1e-5)


def test_run_reduced_budget_learns_and_reloads(tmp_path):
    result = demo.run(epochs=6, qubits=2, layers=1, output_dir=tmp_path, verbose=0)
    assert result.test_auroc > 0.9  # chance is 0.5; 6 epochs already separate the classes
    assert result.reload_max_abs_diff == 0.0
    assert (tmp_path / "model.keras").is_file()
    assert any((tmp_path / "logs" / "train").iterdir())
    assert abs(result.quantum_params - result.classical_params) <= 8


def test_cli_demo_prints_the_figures(tmp_path, capsys):
    code = cli.main(["demo", "--epochs", "2", "--qubits", "2", "--layers", "1",
                     "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "test accuracy" in out and "reloaded predictions: OK, identical" in out
    assert "zoo model hybrid-cnn-pneumoniamnist" in out and "48 bundled real chest" in out
    assert "Kermany" in out and "sensitivity" in out


def test_zoo_demo_classifies_the_bundled_images(monkeypatch, tmp_path):
    """The bundled images are test-split images: the report matches sklearn on them."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    from qkeras.data import pneumonia_sample

    monkeypatch.setenv("QKERAS_HOME", str(tmp_path))
    monkeypatch.delenv("QKERAS_ZOO_URL", raising=False)
    result = demo.classify_sample(n_resamples=50)
    _, labels = pneumonia_sample()
    truth = np.array([p[0] for p in result.predictions])
    scores = np.array([p[1] for p in result.predictions])
    np.testing.assert_array_equal(truth, labels)
    assert result.report.metrics["auroc"].value == pytest.approx(roc_auc_score(labels, scores))
    assert result.report.metrics["accuracy"].value == pytest.approx(
        accuracy_score(labels, scores >= result.threshold))
    assert result.report.metrics["auroc"].value > 0.8  # chance is 0.5


def test_bundled_sample_is_part_of_the_official_test_split(shared_data):
    from qkeras.data import PNEUMONIA_SAMPLE

    with np.load(PNEUMONIA_SAMPLE[0]) as sample, np.load(shared_data /
                                                         "pneumoniamnist.npz") as full:
        index = sample["test_index"]
        np.testing.assert_array_equal(sample["images"], full["test_images"][index])
        np.testing.assert_array_equal(sample["labels"], full["test_labels"][index, 0])
        train = {image.tobytes() for image in full["train_images"]}
        assert not any(image.tobytes() in train for image in sample["images"])


def test_cli_usage_version_and_errors(capsys):
    assert cli.main([]) == 2
    assert "usage: qkeras" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert "qkeras 0.1.0" in capsys.readouterr().out
    with pytest.raises(ValueError, match="registered twice"):
        cli.command("demo", lambda p: None)(lambda a: 0)


def test_cli_turns_qkeras_errors_into_exit_2(capsys, tmp_path):
    assert cli.main(["demo", "--epochs", "1", "--qubits", "0", "--output", str(tmp_path)]) == 2
    assert "qkeras demo: qubits must be a positive integer" in capsys.readouterr().err
