"""The demo job: a hybrid quantum-classical classifier on real clinical data.

Trains ``Dense -> QuantumDense -> Dense`` on the Breast Cancer Wisconsin (Diagnostic)
data set (569 fine-needle-aspirate samples, 30 features; Street, Wolberg & Mangasarian
1993, shipped inside scikit-learn) with a stratified train/validation/test split,
TensorBoard logs, and early stopping on the validation loss; measures held-out test
accuracy and AUROC; trains a classical model of the same size by the same recipe for
comparison; saves, reloads and checks the reloaded model predicts the same.

Run it with ``make demo`` or ``qkeras demo``.

Example:
    >>> result = run(epochs=1, output_dir=tempfile.mkdtemp(), verbose=0)  # doctest: +SKIP
    >>> 0.0 <= result.test_accuracy <= 1.0  # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile  # noqa: F401  (used by the doctest)
import time
from pathlib import Path

import numpy as np
import tf_keras as keras
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from qkeras.callbacks import QuantumTensorBoard
from qkeras.layers import QuantumDense

log = logging.getLogger(__name__)

__all__ = ["DemoResult", "ZooDemoResult", "DEMO_ZOO_MODEL", "load_data", "build_model", "run",
           "classify_sample"]


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """What the demo measured. Accuracy is at the 0.5 threshold; positive = malignant."""

    test_accuracy: float
    test_auroc: float
    classical_accuracy: float
    classical_auroc: float
    quantum_params: int
    classical_params: int
    split_sizes: tuple[int, int, int]
    epochs_run: int
    reload_max_abs_diff: float
    model_path: str
    log_dir: str
    seconds: float


def load_data(seed: int = 0):
    """Loads the data set and splits it 60/20/20, stratified, standardised on train only.

    Args:
        seed: Seed of the split.

    Returns:
        ``((x_train, y_train), (x_val, y_val), (x_test, y_test))``, float32, label 1 =
        malignant.

    Example:
        >>> (x, y), _, (x_test, _) = load_data()
        >>> x.shape, x_test.shape, round(float(y.mean()), 2)
        ((341, 30), (114, 30), 0.37)
    """
    data = load_breast_cancer()
    x, y = data.data, 1 - data.target  # sklearn labels benign as 1
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, stratify=y, random_state=seed)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed)
    scaler = StandardScaler().fit(x_train)
    return tuple((scaler.transform(a).astype(np.float32), b.astype(np.float32))
                 for a, b in ((x_train, y_train), (x_val, y_val), (x_test, y_test)))


def build_model(n_features: int, *, qubits: int = 4, layers: int = 2,
                quantum: bool = True, seed: int = 0) -> keras.Model:
    """Builds the hybrid model, or its classical twin (a Dense(qubits, tanh) in place).

    Example:
        >>> build_model(30, qubits=4, layers=2).layers[1].__class__.__name__
        'QuantumDense'
    """
    keras.utils.set_random_seed(seed)
    middle = (QuantumDense(qubits, "angle", "hardware_efficient", layers, name="quantum")
              if quantum else keras.layers.Dense(qubits, activation="tanh", name="classical"))
    model = keras.Sequential([
        keras.Input((n_features,)),
        keras.layers.Dense(qubits, name="encoder"),
        middle,
        keras.layers.Dense(1, activation="sigmoid", name="head"),
    ], name="hybrid" if quantum else "classical")
    model.compile(keras.optimizers.Adam(0.02), "binary_crossentropy",
                  metrics=["accuracy", keras.metrics.AUC(name="auc")])
    return model


def _fit(model, train, val, epochs, callbacks, verbose):
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=8,
                                         restore_best_weights=True)
    history = model.fit(*train, validation_data=val, epochs=epochs, batch_size=32,
                        callbacks=[stop, *callbacks], verbose=verbose)
    return len(history.history["loss"])


def _scores(model, x, y):
    p = model.predict(x, verbose=0)[:, 0]
    return float(np.mean((p >= 0.5) == y)), float(roc_auc_score(y, p))


def run(*, epochs: int = 60, qubits: int = 4, layers: int = 2, seed: int = 0,
        output_dir: str | Path = "demo_output", verbose: int = 1) -> DemoResult:
    """Runs the demo end to end and returns what it measured.

    Args:
        epochs: Maximum epochs (early stopping on validation loss, patience 8).
        qubits: Qubits of the quantum layer.
        layers: Ansatz layers.
        seed: Seed of the split and the initial weights.
        output_dir: Where the model and the TensorBoard logs go.
        verbose: Keras verbosity (1: progress bar).

    Returns:
        A :class:`DemoResult`.

    Example:
        >>> result = run(epochs=1, output_dir=tempfile.mkdtemp(), verbose=0)  # doctest: +SKIP
    """
    start = time.perf_counter()
    output_dir = Path(output_dir)
    train, val, test = load_data(seed)
    model = build_model(train[0].shape[1], qubits=qubits, layers=layers, seed=seed)
    board = QuantumTensorBoard(str(output_dir / "logs"), gradient_data=train,
                               gradient_samples=64)
    epochs_run = _fit(model, train, val, epochs, [board], verbose)
    accuracy, auroc = _scores(model, *test)

    classical = build_model(train[0].shape[1], qubits=qubits, quantum=False, seed=seed)
    _fit(classical, train, val, epochs, [], 0)
    classical_accuracy, classical_auroc = _scores(classical, *test)

    model_path = output_dir / "model.keras"
    model.save(model_path)
    reloaded = keras.models.load_model(model_path)
    diff = float(np.max(np.abs(reloaded.predict(test[0], verbose=0)
                               - model.predict(test[0], verbose=0))))
    return DemoResult(
        test_accuracy=accuracy, test_auroc=auroc, classical_accuracy=classical_accuracy,
        classical_auroc=classical_auroc,
        quantum_params=int(model.count_params()), classical_params=int(
            classical.count_params()),
        split_sizes=(len(train[1]), len(val[1]), len(test[1])), epochs_run=epochs_run,
        reload_max_abs_diff=diff, model_path=str(model_path),
        log_dir=str(output_dir / "logs"), seconds=time.perf_counter() - start)


#: The zoo model ``make demo`` classifies the bundled chest X-rays with.
DEMO_ZOO_MODEL = "hybrid-cnn-pneumoniamnist"


@dataclasses.dataclass(frozen=True)
class ZooDemoResult:
    """The zoo part of the demo: a released model on the bundled real chest X-rays.

    Attributes:
        name, version: The zoo model.
        source: Where its weights came from (cache or this repository's ``zoo/``).
        threshold: The release's operating threshold (chosen on validation data).
        report: A :class:`qkeras.medical.metrics.ClinicalReport` on the sample.
        predictions: Per image ``(true label, score, predicted label)``.
        attribution: Whom the images are credited to.
    """

    name: str
    version: str
    source: str
    threshold: float
    report: object
    predictions: tuple
    attribution: str


def classify_sample(name: str = DEMO_ZOO_MODEL, *, n_resamples: int = 1000,
                    seed: int = 0) -> ZooDemoResult:
    """Classifies the 48 bundled PneumoniaMNIST test images with a released zoo model.

    The model is loaded offline (cache, else this repository's ``zoo/`` folder) and
    sha256-verified; the images come from the official test split, which the model never
    trained on (:func:`qkeras.data.pneumonia_sample`).

    Args:
        name: A binary chest X-ray zoo model taking ``(28, 28, 1)`` images.
        n_resamples: Bootstrap resamples of the confidence intervals.
        seed: Bootstrap seed.

    Returns:
        A :class:`ZooDemoResult`.

    Raises:
        ZooError: If the model is not released or cannot be loaded.

    Example:
        >>> result = classify_sample(n_resamples=100)
        >>> result.report.n_samples, result.name
        (48, 'hybrid-cnn-pneumoniamnist')
    """
    from qkeras import zoo
    from qkeras.data import ATTRIBUTION, pneumonia_sample
    from qkeras.medical import metrics

    entry = zoo.info(name)
    images, labels = pneumonia_sample()
    source = zoo.download(name)
    model = zoo.load(name)
    scores = zoo.client.scores(model, images)
    threshold = 0.5 if entry.threshold is None else float(entry.threshold)
    report = metrics.evaluate(labels, scores, threshold=threshold, class_names=entry.classes,
                              n_resamples=n_resamples, seed=seed,
                              notes=[f"{entry.name} {entry.version} on the 48 bundled "
                                     "PneumoniaMNIST test images"])
    predictions = tuple((int(y), float(s), int(s >= threshold))
                        for y, s in zip(labels, scores))
    return ZooDemoResult(name=entry.name, version=entry.version, source=str(source),
                         threshold=threshold, report=report, predictions=predictions,
                         attribution=ATTRIBUTION)
