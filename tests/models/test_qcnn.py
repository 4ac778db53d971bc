"""QCNN blocks and layer against closed forms and cirq.Simulator; TFQ's cluster-state task.

References: XPowGate-style matrices from their spectral projectors (``P+ + e^{iπt} P-``),
the cluster-state stabilisers ``Z_{i-1} X_i Z_{i+1} = +1``, ``cirq.Simulator`` on the
resolved circuits, and the accuracy TFQ's QCNN tutorial reaches (~0.9 and above).
"""

from __future__ import annotations

import cirq
import numpy as np
import pytest
import sympy
import tensorflow as tf
import tensorflow_quantum as tfq

from qkeras import keras
from qkeras.circuits import qcnn as blocks
from qkeras.errors import ConfigurationError, InputError
from qkeras.models import QCNN, cluster_excitations
from tests.contracts import assert_layer_contract, assert_saved_model_round_trip, cirq_expectations

PAULI = {"X": np.array([[0, 1], [1, 0]], complex), "Y": np.array([[0, -1j], [1j, 0]]),
         "Z": np.diag([1.0, -1.0]).astype(complex)}
I2 = np.eye(2)


def power(pauli: np.ndarray, t: float) -> np.ndarray:
    """``P**t`` of a Pauli (product) matrix: +1 eigenspace kept, -1 eigenspace gets e^{iπt}."""
    eye = np.eye(len(pauli))
    return (eye + pauli) / 2 + np.exp(1j * np.pi * t) * (eye - pauli) / 2


def one_qubit(a, b, c):
    return power(PAULI["Z"], c) @ power(PAULI["Y"], b) @ power(PAULI["X"], a)


def test_two_qubit_unitary_matches_the_closed_form():
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, 15)
    symbols = sympy.symbols("s0:15")
    q = cirq.LineQubit.range(2)
    circuit = blocks.two_qubit_unitary(q[0], q[1], symbols)
    got = cirq.unitary(cirq.resolve_parameters(circuit, dict(zip(symbols, s))))
    pair = lambda p: np.kron(PAULI[p], PAULI[p])  # noqa: E731
    want = (np.kron(one_qubit(*s[9:12]), one_qubit(*s[12:15])) @ power(pair("X"), s[8])
            @ power(pair("Y"), s[7]) @ power(pair("Z"), s[6])
            @ np.kron(one_qubit(*s[0:3]), one_qubit(*s[3:6])))
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_pool_matches_the_closed_form():
    s = np.random.default_rng(1).uniform(-1, 1, 6)
    symbols = sympy.symbols("p0:6")
    source, sink = cirq.LineQubit.range(2)
    circuit = blocks.two_qubit_pool(source, sink, symbols)
    got = cirq.unitary(cirq.resolve_parameters(circuit, dict(zip(symbols, s))))
    cnot = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
    sink_u = one_qubit(*s[0:3])
    want = (np.kron(I2, sink_u.conj().T) @ cnot @ np.kron(one_qubit(*s[3:6]), sink_u))
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_cluster_state_is_stabilised():
    qubits = cirq.LineQubit.range(6)
    state = cirq.final_state_vector(blocks.cluster_state(qubits), dtype=np.complex128)
    index = {q: i for i, q in enumerate(qubits)}
    for i in range(6):
        stabiliser = (cirq.Z(qubits[i - 1]) * cirq.X(qubits[i])
                      * cirq.Z(qubits[(i + 1) % 6]))
        assert stabiliser.expectation_from_state_vector(state, index).real == \
            pytest.approx(1.0, abs=1e-9)


def test_qcnn_is_the_tutorial_model_on_8_qubits():
    qubits = cirq.GridQubit.rect(1, 8)
    circuit, symbols, readout = blocks.qcnn(qubits)
    assert len(symbols) == 63 == blocks.qcnn_weight_count(8)
    assert readout == qubits[-1]
    assert [str(s) for s in symbols[:3]] == ["w0", "w1", "w2"]
    # Tutorial: conv(8) has 8 pair unitaries, pool 4 pools, conv(4) 4, pool 2, conv(2) 2, pool 1
    n_ops = len(list(circuit.all_operations()))
    assert n_ops == (8 + 4 + 2) * 15 + (4 + 2 + 1) * 10


def test_block_errors():
    q = cirq.LineQubit.range(3)
    with pytest.raises(ConfigurationError, match="at least 2 qubits"):
        blocks.qcnn(q[:1])
    with pytest.raises(ConfigurationError, match="exactly 15 symbols"):
        blocks.two_qubit_unitary(q[0], q[1], sympy.symbols("a b"))
    with pytest.raises(ConfigurationError, match="as many sinks"):
        blocks.pooling(q[:2], q[2:], sympy.symbols("p0:6"))
    with pytest.raises(ConfigurationError, match="at least 2 qubits"):
        blocks.cluster_state(q[:1])


@pytest.mark.parametrize("encoding,n_features", [("angle", 4), ("amplitude", 16)])
def test_features_mode_matches_cirq(encoding, n_features):
    layer = QCNN(4, encoding=encoding)
    x = np.random.default_rng(2).uniform(0.1, 1.0, (3, n_features)).astype(np.float32)
    got = layer(x).numpy()
    want = cirq_expectations(layer.spec, x, layer.kernel.numpy())
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_features_mode_contract(tmp_path):
    x = np.random.default_rng(3).uniform(-1, 1, (3, 4)).astype(np.float32)
    assert_layer_contract(QCNN, {"qubits": 4, "encoding_options": {"rotation": "y"}}, x,
                          (3, 1), tmp_path)


def _circuit_reference(layer, prepend, circuits):
    weights = dict(zip(layer.weight_symbols, layer.kernel.numpy()))
    index = {q: i for i, q in enumerate(layer.qubits)}
    out = []
    for c in circuits:
        full = cirq.resolve_parameters(prepend + c + layer.spec.circuit, weights)
        state = cirq.final_state_vector(full, qubit_order=layer.qubits, dtype=np.complex128)
        out.append([layer.observables[0].expectation_from_state_vector(state, index).real])
    return np.array(out)


def test_circuits_mode_matches_cirq_and_round_trips(tmp_path):
    qubits = cirq.GridQubit.rect(1, 4)
    prepend = blocks.cluster_state(qubits)
    circuits, _ = cluster_excitations(qubits, 1, seed=4)
    layer = QCNN(qubits, input_mode="circuits", prepend=prepend)
    got = layer(tfq.convert_to_tensor(circuits)).numpy()
    np.testing.assert_allclose(got, _circuit_reference(layer, prepend, circuits), atol=1e-5)
    assert layer(circuits).shape == (4, 1)  # a list of circuits is accepted too
    model = keras.Sequential([keras.Input((), dtype=tf.string), layer])
    assert_saved_model_round_trip(model, tfq.convert_to_tensor(circuits), tmp_path,
                                  formats=("keras",))


def test_circuits_mode_sampled_is_close_to_exact():
    qubits = cirq.LineQubit.range(2)
    circuits, _ = cluster_excitations(qubits, 2, seed=5)
    exact = QCNN(qubits, input_mode="circuits", initializer="zeros")
    sampled = QCNN(qubits, input_mode="circuits", initializer="zeros", repetitions=4000)
    x = tfq.convert_to_tensor(circuits)
    np.testing.assert_allclose(sampled(x).numpy(), exact(x).numpy(), atol=0.1)


def test_errors():
    with pytest.raises(ConfigurationError, match="Unknown input_mode 'circuit'"):
        QCNN(4, input_mode="circuit")
    with pytest.raises(ConfigurationError, match="prepend applies"):
        QCNN(4, prepend=cirq.Circuit())
    with pytest.raises(ConfigurationError, match="use backend='tfq'"):
        QCNN(4, input_mode="circuits", backend="statevector")
    with pytest.raises(ConfigurationError, match="qubits >= 2"):
        QCNN(1)
    with pytest.raises(ConfigurationError, match="Unknown encoding"):
        QCNN(4, encoding="angel")
    with pytest.raises(InputError, match="expects tf.string circuits"):
        QCNN(2, input_mode="circuits")(np.zeros((2, 1), np.float32))
    with pytest.raises(InputError, match=r"expects input \(batch, 4\)"):
        QCNN(4)(np.zeros((2, 3), np.float32))
    with pytest.raises(ConfigurationError, match="prepend must be a cirq.Circuit"):
        QCNN(2, input_mode="circuits", prepend="H")
    with pytest.raises(ConfigurationError, match="list of >= 2 cirq qubits"):
        QCNN(["q0", "q1"])
    with pytest.raises(ConfigurationError, match="Bad option for encoding 'angle'"):
        QCNN(2, encoding_options={"rotations": "y"})
    strings = tfq.convert_to_tensor([cirq.Circuit()] * 4)
    with pytest.raises(InputError, match=r"\(batch,\) or \(batch, 1\); got \(2, 2\)"):
        QCNN(2, input_mode="circuits")(tf.reshape(strings, (2, 2)))
    column = QCNN(2, input_mode="circuits", initializer="zeros")(tf.reshape(strings, (4, 1)))
    np.testing.assert_allclose(column.numpy(), np.ones((4, 1)), atol=1e-6)  # |0..0>: <Z>=1


def hinge_accuracy(y_true, y_pred):
    return tf.reduce_mean(tf.cast(tf.equal(y_true > 0, y_pred > 0), tf.float32))


def test_cluster_state_excitation_task(record_property):
    """TFQ QCNN tutorial: 8 qubits, cluster state, ±1 labels; held-out accuracy >= 0.85.

    Budget: 112 training circuits, 8 epochs (the tutorial: 25); held out: 160 freshly
    generated circuits (another seed).
    """
    qubits = cirq.GridQubit.rect(1, 8)
    train, y_train = cluster_excitations(qubits, 14, seed=1)
    test, y_test = cluster_excitations(qubits, 20, seed=2)
    model = keras.Sequential([
        keras.Input((), dtype=tf.string),
        QCNN(qubits, input_mode="circuits", prepend=blocks.cluster_state(qubits),
             initializer=keras.initializers.RandomUniform(0, 2 * np.pi, seed=0))])
    model.compile(keras.optimizers.Adam(0.02), "mse", metrics=[hinge_accuracy])
    model.fit(tfq.convert_to_tensor(train), y_train, batch_size=16, epochs=8, verbose=0)
    accuracy = model.evaluate(tfq.convert_to_tensor(test), y_test, verbose=0)[1]
    record_property("cluster_state_heldout_accuracy", accuracy)
    assert accuracy >= 0.85, f"held-out accuracy {accuracy:.3f}"
    chance = max(np.mean(y_test > 0), np.mean(y_test < 0))
    assert accuracy > chance + 0.2


def test_statevector_backend_agrees_with_tfq():
    """The QCNN's XX/YY/ZZ powers run on the pure-TF simulator too (reference: TFQ)."""
    x = np.random.default_rng(6).uniform(-1, 1, (2, 2)).astype(np.float32)
    reference, layer = QCNN(2), QCNN(2, backend="statevector", jit_compile=False)
    reference.build((None, 2))
    layer.build((None, 2))
    layer.kernel.assign(reference.kernel)
    np.testing.assert_allclose(layer(x).numpy(), reference(x).numpy(), atol=1e-5)
