"""HybridTransfer (Mari et al., Quantum 2020) against a NumPy + cirq.Simulator reference.

The reference recomputes the dressed circuit outside the model: backbone features from the
saved backbone itself on ``tf.image.resize``d, channel-repeated images, then
``tanh(W1 f + b1) * pi/2`` in NumPy, the circuit's expectations with ``cirq.Simulator``
and ``softmax(W2 q + b2)`` in NumPy. No downloads: applications use ``weights=None``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from qkeras import keras
from qkeras.errors import ConfigurationError, InputError
from qkeras.models import HybridTransfer, application_names
from tests.contracts import cirq_expectations


def tiny_backbone(path, channels=3):
    inputs = keras.Input((12, 12, channels))
    x = keras.layers.Conv2D(4, 3, activation="relu",
                            kernel_initializer=keras.initializers.GlorotUniform(0))(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="features",
                            kernel_initializer=keras.initializers.GlorotUniform(1))(x)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs, name="tiny")
    model.save(path)
    return model


def images(n, side=28, channels=1, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, side, side, channels)).astype(
        np.float32)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_file_backbone_matches_the_reference(tmp_path):
    original = tiny_backbone(tmp_path / "tiny.keras")
    model = HybridTransfer(str(tmp_path / "tiny.keras"), classes=3, n_qubits=3, q_layers=2,
                           feature_layer="features")
    x = images(4)
    got = model(x).numpy()
    resized = tf.image.resize(np.repeat(x, 3, axis=-1), (12, 12)).numpy()
    conv = keras.Model(original.inputs, original.get_layer("features").output)
    features = conv.predict(resized, verbose=0).mean(axis=(1, 2))
    w1, b1 = model.pre.get_weights()
    angles = np.tanh(features @ w1 + b1) * np.pi / 2
    expectations = cirq_expectations(model.quantum.spec, angles, model.quantum.kernel.numpy())
    w2, b2 = model.head.get_weights()
    np.testing.assert_allclose(got, softmax(expectations @ w2 + b2), atol=1e-5)
    assert features.std(axis=0).max() > 0  # the backbone really sees the images


def test_only_the_dressed_circuit_trains_and_the_model_round_trips(tmp_path):
    tiny_backbone(tmp_path / "tiny.keras")
    model = HybridTransfer(str(tmp_path / "tiny.keras"), classes=2, n_qubits=2,
                           feature_layer="features")
    x, y = images(8, side=12, channels=3), np.array([0, 1] * 4)
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    model(x[:1])
    frozen = [w.copy() for w in model.backbone.get_weights()]
    dressed = model.pre.get_weights()[0].copy()
    model.fit(x, y, epochs=2, verbose=0)
    for before, after in zip(frozen, model.backbone.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(dressed, model.pre.get_weights()[0])
    config = json.loads(json.dumps(model.get_config()))
    assert HybridTransfer.from_config(config).get_config() == model.get_config()
    model.save(tmp_path / "hybrid.keras")
    (tmp_path / "tiny.keras").unlink()  # the saved model carries its backbone
    loaded = keras.models.load_model(tmp_path / "hybrid.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_application_backbone_grey_images_and_save(tmp_path):
    model = HybridTransfer("MobileNetV2", classes=2, n_qubits=2, weights=None,
                           backbone_size=32, backbone_options={"alpha": 0.35})
    assert model.preprocessing == "mobilenet_v2" and not model.backbone.trainable
    grey = images(2)
    adapted = model._adapt(grey).numpy()
    assert adapted.shape == (2, 32, 32, 3)
    # MobileNetV2's preprocess_input maps [0, 255] to [-1, 1]; channels are repeated.
    want = tf.image.resize(grey, (32, 32)).numpy() * 2.0 - 1.0
    np.testing.assert_allclose(adapted, np.repeat(want, 3, axis=-1), atol=1e-5)
    rgb = np.repeat(grey, 3, axis=-1)
    np.testing.assert_allclose(model(rgb).numpy(), model(grey).numpy(), atol=1e-6)
    sequential = keras.Sequential([keras.Input((28, 28, 1)), model])
    sequential.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(grey, verbose=0),
                                  sequential.predict(grey, verbose=0))


def test_grey_backbone_gets_averaged_rgb(tmp_path):
    tiny_backbone(tmp_path / "grey.keras", channels=1)
    model = HybridTransfer(str(tmp_path / "grey.keras"), feature_layer="features",
                           n_qubits=2)
    rgb = images(2, side=12, channels=3)
    np.testing.assert_allclose(model._adapt(rgb).numpy(), rgb.mean(-1, keepdims=True),
                               atol=1e-6)


def test_errors(tmp_path):
    assert "ResNet50" in application_names()
    with pytest.raises(ConfigurationError, match="keras.applications name.*'ResNet50'"):
        HybridTransfer("ResNet5O", weights=None)
    with pytest.raises(ConfigurationError, match="classes must be an integer >= 2"):
        HybridTransfer("MobileNetV2", classes=1, weights=None)
    with pytest.raises(ConfigurationError, match="must be a keras.applications name"):
        HybridTransfer(42)
    with pytest.raises(ConfigurationError, match="Cannot build backbone 'MobileNetV2'"):
        HybridTransfer("MobileNetV2", weights=None, backbone_size=8)
    tiny_backbone(tmp_path / "tiny.keras")
    with pytest.raises(ConfigurationError, match="no layer 'nope'"):
        HybridTransfer(str(tmp_path / "tiny.keras"), feature_layer="nope")
    with pytest.raises(ConfigurationError, match="preprocessing must name"):
        HybridTransfer(str(tmp_path / "tiny.keras"), preprocessing="nope")
    model = HybridTransfer(str(tmp_path / "tiny.keras"), n_qubits=2)
    with pytest.raises(InputError, match=r"expects images \(batch, h, w, 1 or 3\)"):
        model(np.zeros((2, 12, 12), np.float32))
