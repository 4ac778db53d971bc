"""QuantumCircuit on a user's circuit, against cirq.Simulator; save/reload in a fresh process."""

import subprocess
import sys
import textwrap

import cirq
import numpy as np
import pytest
import sympy
import tensorflow as tf

from qkeras import keras
from qkeras.errors import ConfigurationError
from qkeras.layers import QuantumCircuit, QuantumDense
from tests.conftest import REPO
from tests.contracts import assert_layer_contract, cirq_expectations


def _user_circuit():
    q = cirq.GridQubit.rect(1, 3)
    x0, x1, a, b, c = sympy.symbols("x0 x1 a b c")
    circuit = cirq.Circuit(
        cirq.rx(x0)(q[0]), cirq.ry(x1)(q[1]), cirq.H(q[2]),
        cirq.CZ(q[0], q[1]), (cirq.X**a)(q[2]), cirq.ISWAP(q[1], q[2]) ** 0.5,
        cirq.rz(b)(q[0]), cirq.FSimGate(theta=0.3, phi=0.2)(q[0], q[2]), cirq.ry(c)(q[1]),
    )
    return circuit, [x0, x1], [a, b, c], [cirq.Z(q[0]) * cirq.Z(q[1]), cirq.X(q[2])]


def test_user_circuit_matches_cirq():
    circuit, data, weights, obs = _user_circuit()
    layer = QuantumCircuit(circuit, data, weights, obs)
    x = np.random.default_rng(1).uniform(-2, 2, (4, 2)).astype(np.float32)
    np.testing.assert_allclose(layer(x).numpy(),
                               cirq_expectations(layer.spec, x, layer.kernel.numpy()),
                               atol=1e-5)
    assert layer.weight_symbols == tuple(weights)
    assert set(layer.symbol_values()) == set(weights)


def test_contract(tmp_path):
    circuit, data, weights, obs = _user_circuit()
    x = np.random.default_rng(2).uniform(-2, 2, (3, 2)).astype(np.float32)
    assert_layer_contract(QuantumCircuit, dict(circuit=circuit, data_symbols=data,
                                               weight_symbols=weights, observables=obs),
                          x, (3, 2), tmp_path)


def test_symbols_must_match_the_circuit():
    circuit, data, weights, _ = _user_circuit()
    with pytest.raises(ConfigurationError, match="undeclared \\['c'\\]"):
        QuantumCircuit(circuit, data, weights[:2])


def test_hybrid_model_reloads_identically_in_a_fresh_process(tmp_path):
    """Train a hybrid model, save it, and predict in a new Python process."""
    model = keras.Sequential([
        keras.Input((5,)), keras.layers.Dense(3, activation="tanh"),
        QuantumDense(3, "iqp", "strongly_entangling", layers=2, reupload=True),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "hybrid.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", model.predict(x, verbose=0))
    script = textwrap.dedent(f"""
        import numpy as np
        import qkeras as qk
        model = qk.keras.models.load_model({str(path)!r})
        got = model.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0)
        np.testing.assert_array_equal(got, np.load({str(tmp_path / 'want.npy')!r}))
        assert type(model.layers[1]).__name__ == "QuantumDense"
        print("identical")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "identical" in result.stdout


def test_layer_inside_tf_function_and_fit_gradients_reach_inputs():
    layer = QuantumDense(2)
    x = tf.Variable(np.full((2, 2), 0.3, np.float32))

    @tf.function
    def grad():
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(layer(x))
        return tape.gradient(y, x)

    assert np.all(np.abs(grad().numpy()) > 0)
