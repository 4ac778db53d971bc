"""QuantumDense against cirq.Simulator, finite differences, and its contract."""

import itertools

import cirq
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_quantum as tfq

from qkeras.circuits import ANSATZE, ENCODINGS
from qkeras.errors import ConfigurationError, InputError, ResourceError, UnsupportedGateError
from qkeras.layers import QuantumDense
from tests.contracts import assert_layer_contract, cirq_expectations

RNG = np.random.default_rng(11)


def _features(layer, batch=3):
    x = RNG.uniform(-1.5, 1.5, (batch, layer.spec.n_features))
    if layer.spec.encoding == "basis":
        x = RNG.integers(0, 2, x.shape).astype(float)
    return x.astype(np.float32)


@pytest.mark.parametrize("encoding,ansatz", itertools.product(ENCODINGS, ANSATZE))
def test_every_encoding_and_ansatz_matches_cirq(encoding, ansatz):
    layer = QuantumDense(3, encoding, ansatz, layers=2)
    x = _features(layer)
    got = layer(x).numpy()
    want = cirq_expectations(layer.spec, x, layer.kernel.numpy())
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_reupload_and_custom_observables_match_cirq():
    q = cirq.LineQubit.range(2)
    observables = [cirq.X(q[0]) * cirq.Z(q[1]), 0.5 * cirq.Y(q[1]) + cirq.Z(q[0])]
    layer = QuantumDense(2, "dense_angle", layers=2, reupload=True, observables=observables,
                         ansatz_options={"rotations": ("x", "y"), "entangler": "cz"})
    x = _features(layer, 4)
    np.testing.assert_allclose(layer(x).numpy(),
                               cirq_expectations(layer.spec, x, layer.kernel.numpy()),
                               atol=1e-5)
    assert layer.compute_output_shape((None, 4)).as_list() == [None, 2]


def _finite_difference(f, v, eps=1e-3):
    grad = np.zeros_like(v)
    for i in range(v.size):
        step = np.zeros_like(v)
        step.flat[i] = eps
        grad.flat[i] = (f(v + step) - f(v - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize("encoding", ["angle", "iqp", "amplitude"])
def test_gradients_match_finite_differences_of_cirq(encoding):
    """Gradients w.r.t. weights and inputs, against central differences of cirq (float64)."""
    layer = QuantumDense(2, encoding, "strongly_entangling", layers=1)
    x = _features(layer, 2)
    x_var = tf.Variable(x)
    with tf.GradientTape(persistent=True) as tape:
        loss = tf.reduce_sum(layer(x_var) * [[1.0, -0.5]])
    weights = layer.kernel.numpy().astype(np.float64)

    def loss_of(xs, ws):
        return float(np.sum(cirq_expectations(layer.spec, xs, ws) * [1.0, -0.5]))

    np.testing.assert_allclose(tape.gradient(loss, layer.kernel).numpy(),
                               _finite_difference(lambda w: loss_of(x, w), weights),
                               atol=1e-4)
    np.testing.assert_allclose(tape.gradient(loss, x_var).numpy(),
                               _finite_difference(lambda v: loss_of(v, weights),
                                                  x.astype(np.float64)),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("differentiator", ["parameter_shift", "central_difference",
                                            "finite_difference",
                                            {"name": "central_difference",
                                             "grid_spacing": 0.01}])
def test_differentiators_agree_with_adjoint(differentiator):
    reference = QuantumDense(3, layers=2, name="adjoint")
    other = QuantumDense(3, layers=2, differentiator=differentiator)
    x = _features(reference, 4)
    reference.build(x.shape)
    other.build(x.shape)
    other.kernel.assign(reference.kernel)
    grads = []
    for layer in (reference, other):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x)))
        grads.append(tape.gradient(loss, layer.kernel).numpy())
    atol = 2e-2 if differentiator == "finite_difference" else 2e-3
    np.testing.assert_allclose(grads[1], grads[0], atol=atol)


def test_differentiator_instance_is_copied_per_layer():
    shared = tfq.differentiators.ParameterShift()
    first, second = QuantumDense(1, differentiator=shared), QuantumDense(1, differentiator=shared)
    assert first.differentiator is not second.differentiator
    assert first.get_config()["differentiator"] == "parameter_shift"


def test_sampled_expectations_are_within_shot_noise():
    layer = QuantumDense(2, repetitions=4000)
    x = _features(layer, 2)
    got = layer(x).numpy()
    want = cirq_expectations(layer.spec, x, layer.kernel.numpy())
    std = np.sqrt((1 - want**2) / 4000)
    assert np.all(np.abs(got - want) <= 5 * std + 1e-6)
    assert np.any(got != np.round(want, 6))  # really sampled
    assert layer.differentiator.__class__.__name__ == "ParameterShift"


def test_noisy_layer_matches_density_matrix_simulation():
    """Reference: cirq.DensityMatrixSimulator with the same channels."""
    layer = QuantumDense(2, noise="depolarizing:0.05", repetitions=3000)
    x = _features(layer, 1)
    got = layer(x).numpy()[0]
    resolver = dict(zip(layer.spec.symbols, np.concatenate([x[0], layer.kernel.numpy()])))
    from qkeras.circuits import noise

    rho = cirq.DensityMatrixSimulator().simulate(
        noise.apply(layer.circuit, "depolarizing:0.05"), param_resolver=resolver,
        qubit_order=layer.qubits).final_density_matrix
    want = [o.expectation_from_density_matrix(rho, {q: i for i, q in enumerate(layer.qubits)})
            .real for o in layer.observables]
    np.testing.assert_allclose(got, want, atol=0.06)


def test_layer_contract(tmp_path):
    x = RNG.uniform(-1, 1, (5, 4)).astype(np.float32)
    assert_layer_contract(
        QuantumDense, dict(qubits=2, encoding="dense_angle", ansatz="strongly_entangling",
                           layers=2, observables=[cirq.X(cirq.LineQubit(0))],
                           differentiator=tfq.differentiators.CentralDifference(),
                           noise=None, initializer="glorot_uniform"),
        x, (5, 1), tmp_path)


def test_contract_with_noise_model_and_grid_qubits():
    model = cirq.ConstantQubitNoiseModel(cirq.bit_flip(0.01))
    layer = QuantumDense(cirq.GridQubit.rect(1, 2), noise=model, repetitions=10)
    config = layer.get_config()
    again = QuantumDense.from_config(config)
    assert again.qubits == layer.qubits and again.noise == model


def test_wrong_feature_count_names_the_fix():
    layer = QuantumDense(8, name="qd")
    with pytest.raises(InputError, match="'qd' expects input \\(batch, 8\\).*got shape "
                                         "\\(4, 5\\). Add a Dense\\(8\\)"):
        layer(np.zeros((4, 5), np.float32))
    with pytest.raises(InputError, match="expects input"):
        QuantumDense(2).build((None, 2, 1))


def test_nan_and_inf_inputs_raise_input_error():
    layer = QuantumDense(2)
    with pytest.raises(InputError, match="NaN or inf"):
        layer(np.array([[0.1, np.nan]], np.float32))

    @tf.function
    def graph(x):
        return layer(x)

    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or inf"):
        graph(tf.constant([[np.inf, 0.0]]))


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(encoding="angl"), ConfigurationError, "Did you mean 'angle'"),
    (dict(ansatz="hea"), ConfigurationError, "Unknown ansatz 'hea'"),
    (dict(differentiator="adjont"), ConfigurationError, "Did you mean 'adjoint'"),
    (dict(differentiator={"name": "central_difference", "error_order": 3}),
     ConfigurationError, "Bad options"),
    (dict(differentiator="adjoint", repetitions=10), ConfigurationError,
     "adjoint differentiator needs exact"),
    (dict(noise="depolarise:0.1"), ConfigurationError, "Unknown noise channel"),
    (dict(repetitions=0), ConfigurationError, "repetitions must be a positive"),
    (dict(backend="qsim"), ConfigurationError, "Unknown backend 'qsim'"),
    (dict(initializer="nope"), ConfigurationError, "Unknown weight initializer"),
])
def test_bad_arguments_fail_at_construction(kwargs, error, message):
    with pytest.raises(error, match=message):
        QuantumDense(2, **kwargs)


def test_too_many_qubits(monkeypatch):
    monkeypatch.setenv("QKERAS_MAX_QUBITS", "10")
    with pytest.raises(ResourceError, match="limit 10 qubits"):
        QuantumDense(11)


def test_unsupported_gate_for_tfq():
    from qkeras.layers import QuantumCircuit

    q = cirq.LineQubit(0)
    import sympy

    x = sympy.Symbol("x")
    circuit = cirq.Circuit(cirq.rx(x**2)(q))
    with pytest.raises(UnsupportedGateError, match="coefficient \\* symbol"):
        QuantumCircuit(circuit, [x], [], backend="tfq")
    # backend="auto" runs it on the statevector backend, which takes any expression.
    layer = QuantumCircuit(circuit, [x], [])
    assert layer.executed_on == "statevector"
    np.testing.assert_allclose(layer(np.array([[1.5]], np.float32)).numpy(),
                               [[np.cos(1.5**2)]], atol=1e-6)
