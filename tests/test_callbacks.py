"""QuantumTensorBoard: what it writes, checked by reading the event files back."""

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from qkeras import keras
from qkeras.callbacks import QuantumTensorBoard, quantum_layers
from qkeras.errors import InputError
from qkeras.layers import QuantumDense


def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2),
                              QuantumDense(2, layers=2, name="quantum"),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


def test_writes_circuit_and_gradient_statistics(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=(16, 1))
    model = _model()
    board = QuantumTensorBoard(str(tmp_path), gradient_data=(x, y), gradient_samples=8)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[board])

    events = EventAccumulator(str(tmp_path / "train"),
                              size_guidance={"tensors": 0}).Reload()
    tags = events.Tags()["tensors"]
    assert {"circuits/quantum", "gradients/quantum/mean", "gradients/quantum/variance",
            "gradients/quantum"} <= set(tags)
    text = events.Tensors("circuits/quantum")[0].tensor_proto.string_val[0].decode()
    assert "Ry(w0)" in text and "@" in text
    assert [e.step for e in events.Tensors("gradients/quantum/variance")] == [0, 1]

    # Independent recomputation of the last epoch's statistic on the same 8 samples.
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x[:8]) - y[:8]))
    grad = tape.gradient(loss, model.layers[1].kernel).numpy()
    logged = tf.make_ndarray(events.Tensors("gradients/quantum/variance")[-1].tensor_proto)
    assert float(logged) == pytest.approx(np.var(grad), rel=1e-4)
    assert board.gradient_stats["quantum"][-1]["mean"] == pytest.approx(np.mean(grad),
                                                                       rel=1e-4, abs=1e-7)


def test_without_gradient_data_writes_circuits_and_warns(tmp_path, caplog):
    model = _model()
    x = np.zeros((4, 3), np.float32)
    board = QuantumTensorBoard(str(tmp_path))
    model.fit(x, np.zeros((4, 1)), epochs=1, verbose=0, callbacks=[board])
    assert "no gradient_data" in caplog.text
    assert board.gradient_stats == {}
    assert [layer.name for layer in quantum_layers(model)] == ["quantum"]


def test_bad_gradient_data():
    with pytest.raises(InputError, match="pair \\(x, y\\) of equal length"):
        QuantumTensorBoard("logs", gradient_data=(np.zeros(3), np.zeros(2)))
