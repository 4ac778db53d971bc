"""backend="statevector" against backend="tfq": values and gradients on every encoding x ansatz.

Values agree to 1e-5. Gradients are held to a float64 reference (central differences
of cirq.Simulator): the statevector backend to 1e-5. TFQ's own float32 adjoint gradients
are off that reference by 2.6e-5 to 7.8e-5 on these circuits (measured), so the two
backends' gradients can only agree to 1e-4.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from qkeras.circuits import ANSATZE, ENCODINGS
from qkeras.errors import ConfigurationError
from qkeras.layers import QuantumDense
from tests.contracts import cirq_expectations

RNG = np.random.default_rng(5)


def _values_and_gradients(layer, x):
    x = tf.Variable(x)
    with tf.GradientTape(persistent=True) as tape:
        out = layer(x)
        loss = tf.reduce_sum(out * np.linspace(-1, 1, out.shape[1]))
    return out.numpy(), tape.gradient(loss, layer.kernel).numpy(), tape.gradient(loss, x).numpy()


def _reference_gradients(layer, x, eps=1e-4):
    """Central differences of cirq.Simulator in float64, w.r.t. weights and inputs."""
    mix = np.linspace(-1, 1, len(layer.observables))
    w, x = layer.kernel.numpy().astype(np.float64), x.astype(np.float64)

    def loss(xs, ws):
        return float(np.sum(cirq_expectations(layer.spec, xs, ws) * mix))

    dw = np.array([(loss(x, w + d) - loss(x, w - d)) / (2 * eps) for d in np.eye(w.size) * eps])
    dx = np.array([(loss(x + d, w) - loss(x - d, w)) / (2 * eps)
                   for d in np.eye(x.size).reshape(-1, *x.shape) * eps]).reshape(x.shape)
    return dw, dx


@pytest.mark.parametrize("encoding,ansatz,reupload",
                         [(e, a, False) for e, a in itertools.product(ENCODINGS, ANSATZE)]
                         + [("dense_angle", "hardware_efficient", True)])
def test_statevector_agrees_with_tfq(encoding, ansatz, reupload):
    kwargs = dict(qubits=3, encoding=encoding, ansatz=ansatz, layers=2, reupload=reupload)
    tfq_layer = QuantumDense(**kwargs)
    # XLA compilation is exercised in tests/backends; here it would only add minutes.
    sv_layer = QuantumDense(**kwargs, backend="statevector", jit_compile=False)
    x = RNG.uniform(-1.5, 1.5, (2, tfq_layer.spec.n_features)).astype(np.float32)
    if encoding == "basis":
        x = np.round(np.abs(x) / 1.5).astype(np.float32)
    tfq_layer.build(x.shape)
    sv_layer.build(x.shape)
    sv_layer.kernel.assign(tfq_layer.kernel)
    sv_value, sv_dw, sv_dx = _values_and_gradients(sv_layer, x)
    tfq_value, tfq_dw, tfq_dx = _values_and_gradients(tfq_layer, x)
    np.testing.assert_allclose(sv_value, tfq_value, atol=1e-5)
    ref_dw, ref_dx = _reference_gradients(tfq_layer, x)
    np.testing.assert_allclose(sv_dw, ref_dw, atol=1e-5)
    np.testing.assert_allclose(tfq_dw, sv_dw, atol=1e-4)
    if encoding != "basis":  # X**x on |0>: d/dx defined, but tiny steps on bits are moot
        np.testing.assert_allclose(sv_dx, ref_dx, atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(tfq_dx, sv_dx, atol=1e-4, rtol=1e-4)


def test_statevector_options():
    layer = QuantumDense(2, backend="statevector", jit_compile=False)
    assert layer.differentiator is None and layer.get_config()["jit_compile"] is False
    with pytest.raises(ConfigurationError, match="applies to backend='tfq' only"):
        QuantumDense(2, backend="statevector", differentiator="parameter_shift")
    with pytest.raises(ConfigurationError, match="use backend='tfq'"):
        QuantumDense(2, backend="statevector", repetitions=100)


def test_statevector_trains_inside_fit():
    from qkeras import keras

    model = keras.Sequential([keras.Input((2,)), QuantumDense(2, backend="statevector"),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.1), "mse")
    x = RNG.uniform(-1, 1, (32, 2)).astype(np.float32)
    y = np.cos(x[:, :1])
    losses = model.fit(x, y, epochs=15, verbose=0).history["loss"]
    assert losses[-1] < 0.5 * losses[0]
