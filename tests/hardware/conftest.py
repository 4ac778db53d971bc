"""Shared pieces of the hardware tests: routes, a trained layer, references."""

from __future__ import annotations

import cirq
import numpy as np
import pytest
import tensorflow as tf

from qkeras.circuits import feature_values

#: The offline route of each vendor, and whether it is noisy.
ROUTES = {"ibm:fake_manila": True, "google:virtual_rainbow": False,
          "rigetti:4q-pyqvm": False}
SHOTS = 4000


@pytest.fixture(scope="session")
def trained_weights():
    """Weights of a 2-qubit QuantumDense trained on the exact simulator (a fixed problem)."""
    from qkeras.layers import QuantumDense

    tf.random.set_seed(3)
    layer = QuantumDense(2, layers=2, backend="tfq", initializer="zeros")
    x = np.array([[0.2, -0.4], [1.0, 0.5], [-0.8, 1.3]], np.float32)
    y = np.array([[0.5, -0.5], [-0.2, 0.3], [0.1, 0.8]], np.float32)
    layer.build(x.shape)
    layer.kernel.assign(np.linspace(0.3, 2.1, layer.kernel.shape[0]))
    opt = tf.keras.optimizers.SGD(0.3)
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((layer(x) - y) ** 2)
        opt.apply_gradients([(tape.gradient(loss, layer.kernel), layer.kernel)])
    return layer.kernel.numpy()


def resolvers(spec, x, weights):
    data = feature_values(spec.encoding, x)
    return [dict(zip(map(str, spec.data_symbols), row)) | dict(zip(map(str, spec.weight_symbols),
                                                                    weights)) for row in data]


def z_expectations(circuit: cirq.Circuit, key: str, resolver: dict) -> np.ndarray:
    """<Z> of each qubit measured under ``key``, by density-matrix simulation (float64)."""
    measured = next(op for op in circuit.all_operations()
                    if cirq.is_measurement(op) and cirq.measurement_key_name(op) == key).qubits
    body = cirq.drop_terminal_measurements(cirq.resolve_parameters(circuit, resolver))
    qubits = sorted(circuit.all_qubits())
    rho = cirq.DensityMatrixSimulator(dtype=np.complex128).simulate(
        body, qubit_order=qubits).final_density_matrix
    index = {q: i for i, q in enumerate(qubits)}
    return np.array([cirq.Z(q).expectation_from_density_matrix(rho, index).real
                     for q in measured])


def within_standard_errors(got, want, shots, k=4.0):
    """Largest |got - want| in units of the shot noise sqrt((1 - want^2) / shots)."""
    se = np.sqrt(np.clip(1 - np.asarray(want) ** 2, 1e-4, None) / shots)
    return float(np.max(np.abs(np.asarray(got) - np.asarray(want)) / se))
