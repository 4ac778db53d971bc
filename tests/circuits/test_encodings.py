"""Encodings against closed-form states built with NumPy (independent of our circuits)."""

import functools

import cirq
import numpy as np
import pytest
import sympy

from qkeras import circuits
from qkeras.errors import ConfigurationError, InputError

RNG = np.random.default_rng(7)


def _state(circuit, symbols, values, qubits):
    return cirq.final_state_vector(circuit, param_resolver=dict(zip(symbols, values)),
                                   qubit_order=qubits, dtype=np.complex128)


def _kron(vectors):
    return functools.reduce(np.kron, vectors)


@pytest.mark.parametrize("rotation", ["x", "y", "z"])
def test_angle_prepares_product_state(rotation):
    qubits = cirq.LineQubit.range(3)
    circuit, symbols = circuits.angle(qubits, rotation=rotation)
    x = np.array([0.1, -0.7, 2.0])
    gate = {"x": cirq.rx, "y": cirq.ry, "z": cirq.rz}[rotation]
    start = np.array([1, 1]) / np.sqrt(2) if rotation == "z" else np.array([1, 0])
    want = _kron([cirq.unitary(gate(a)) @ start for a in x])
    got = _state(circuit, symbols, x, qubits)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_dense_angle_bloch_points():
    """Reference: qubit i is cos(a/2)|0> + e^{i b} sin(a/2)|1>, up to phase."""
    qubits = cirq.LineQubit.range(2)
    circuit, symbols = circuits.dense_angle(qubits)
    x = np.array([0.4, 1.1, 2.5, -0.3])
    want = _kron([np.array([np.cos(a / 2), np.exp(1j * b) * np.sin(a / 2)])
                  for a, b in x.reshape(2, 2)])
    cirq.testing.assert_allclose_up_to_global_phase(
        _state(circuit, symbols, x, qubits), want, atol=1e-6)


@pytest.mark.parametrize("entanglement", ["full", "linear"])
def test_iqp_matches_zz_feature_map_formula(entanglement):
    """Reference: (diag(exp(i Σ φ_S Z_S)) H^n)^reps |0>, with Qiskit's φ (Havlíček 2019)."""
    n, reps = 3, 2
    qubits = cirq.LineQubit.range(n)
    circuit, symbols = circuits.iqp(qubits, reps=reps, entanglement=entanglement)
    x = RNG.uniform(-1, 2, n)
    z = np.array([[1 - 2 * ((k >> (n - 1 - i)) & 1) for i in range(n)] for k in range(2**n)])
    phase = (z == -1) @ (2 * x)  # P(2φ) on |1>
    for i, j in circuits.iqp_pairs(n, entanglement):
        phase = phase + 2 * (np.pi - x[i]) * (np.pi - x[j]) * (z[:, i] != z[:, j])
    hadamards = functools.reduce(np.kron, [np.array([[1, 1], [1, -1]]) / np.sqrt(2)] * n)
    state = np.zeros(2**n, complex)
    state[0] = 1
    for _ in range(reps):
        state = np.exp(1j * phase) * (hadamards @ state)
    values = circuits.feature_values("iqp", x, entanglement=entanglement)
    cirq.testing.assert_allclose_up_to_global_phase(
        _state(circuit, symbols, values, qubits), state, atol=1e-6)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_amplitude_prepares_the_normalised_vector(n):
    qubits = cirq.LineQubit.range(n)
    circuit, symbols = circuits.amplitude(qubits)
    for _ in range(3):
        a = RNG.normal(size=2**n)
        got = _state(circuit, symbols, circuits.amplitude_angles(a), qubits)
        np.testing.assert_allclose(got, a / np.linalg.norm(a), atol=1e-6)


def test_amplitude_angles_rejects_bad_vectors():
    with pytest.raises(InputError, match="2\\*\\*n features; got 3"):
        circuits.amplitude_angles(np.ones(3))
    with pytest.raises(InputError, match="all-zero"):
        circuits.amplitude_angles(np.zeros(4))


def test_basis_prepares_the_bit_string():
    qubits = cirq.LineQubit.range(4)
    circuit, symbols = circuits.basis(qubits)
    bits = [1, 0, 1, 1]
    state = _state(circuit, symbols, bits, qubits)
    assert abs(state[0b1011]) == pytest.approx(1.0)


def test_feature_counts_and_values():
    assert [circuits.feature_count(e, 3) for e in ("angle", "dense_angle", "iqp",
                                                  "amplitude", "basis")] == [3, 6, 3, 8, 3]
    x = np.array([0.3, 0.2])
    np.testing.assert_array_equal(circuits.feature_values("angle", x), x)


def test_unknown_names_suggest_close_matches():
    with pytest.raises(ConfigurationError, match="Did you mean 'angle'"):
        circuits.feature_count("angel", 2)
    with pytest.raises(ConfigurationError, match="Unknown rotation 'w'"):
        circuits.angle(cirq.LineQubit.range(1), rotation="w")
    with pytest.raises(ConfigurationError, match="IQP entanglement"):
        circuits.iqp_pairs(3, "ring")
    with pytest.raises(ConfigurationError, match="reps must be >= 1"):
        circuits.iqp(cirq.LineQubit.range(2), reps=0)


def test_every_exponent_is_tfq_serialisable():
    """TFQ accepts only coefficient * symbol exponents; every encoding must comply."""
    import tensorflow_quantum as tfq

    qubits = cirq.LineQubit.range(3)
    for name, (build, _) in circuits.ENCODINGS.items():
        circuit, symbols = build(qubits)
        assert cirq.parameter_symbols(circuit) == set(symbols), name
        tfq.convert_to_tensor([circuit])
    assert all(isinstance(s, sympy.Symbol) for s in symbols)
