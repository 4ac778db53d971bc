"""Ansatze against unitaries assembled from NumPy matrices following their docstrings."""

import functools

import cirq
import numpy as np
import pytest

from qkeras import circuits
from qkeras.errors import ConfigurationError

RNG = np.random.default_rng(3)
I2 = np.eye(2)


def _rot(axis, angle):
    pauli = {"x": np.array([[0, 1], [1, 0]]), "y": np.array([[0, -1j], [1j, 0]]),
             "z": np.diag([1, -1])}[axis]
    return np.cos(angle / 2) * I2 - 1j * np.sin(angle / 2) * pauli


def _on(n, index, matrix):
    return functools.reduce(np.kron, [matrix if i == index else I2 for i in range(n)])


def _two(n, control, target, kind="cnot"):
    dim = 2**n
    out = np.zeros((dim, dim), complex)
    for k in range(dim):
        bits = [(k >> (n - 1 - i)) & 1 for i in range(n)]
        if kind == "cz":
            out[k, k] = -1 if bits[control] and bits[target] else 1
        else:
            if bits[control]:
                bits[target] ^= 1
            out[int("".join(map(str, bits)), 2), k] = 1
    return out


@pytest.mark.parametrize("pattern,entangler", [("chain", "cnot"), ("ring", "cz"),
                                               ("all", "cnot")])
def test_hardware_efficient_matches_numpy(pattern, entangler):
    n, layers, rotations = 3, 2, ("x", "y", "z")
    qubits = cirq.LineQubit.range(n)
    circuit, symbols = circuits.hardware_efficient(qubits, layers, rotations=rotations,
                                                   entangler=entangler, pattern=pattern)
    assert len(symbols) == circuits.hardware_efficient_weight_count(n, layers,
                                                                    rotations=rotations)
    w = RNG.uniform(0, 2 * np.pi, len(symbols))
    want, k = np.eye(2**n), 0
    for _ in range(layers):
        for q in range(n):
            for axis in rotations:
                want = _on(n, q, _rot(axis, w[k])) @ want
                k += 1
        for c, t in circuits.entangling_pairs(n, pattern):
            want = _two(n, c, t, entangler) @ want
    got = cirq.unitary(cirq.resolve_parameters(circuit, dict(zip(symbols, w))))
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("n,layers", [(1, 2), (2, 1), (4, 3)])
def test_strongly_entangling_matches_numpy(n, layers):
    qubits = cirq.LineQubit.range(n)
    circuit, symbols = circuits.strongly_entangling(qubits, layers)
    w = RNG.uniform(0, 2 * np.pi, (layers, n, 3))
    want = np.eye(2**n)
    for layer in range(layers):
        for q in range(n):
            phi, theta, omega = w[layer, q]
            want = _on(n, q, _rot("z", omega) @ _rot("y", theta) @ _rot("z", phi)) @ want
        if n > 1:
            r = layer % (n - 1) + 1
            for q in range(n):
                want = _two(n, q, (q + r) % n) @ want
    got = cirq.unitary(cirq.resolve_parameters(circuit, dict(zip(symbols, w.ravel()))))
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert len(symbols) == circuits.weight_count("strongly_entangling", n, layers)


def test_symbols_are_ordered_numerically():
    _, symbols = circuits.hardware_efficient(cirq.LineQubit.range(6), 1)
    assert [str(s) for s in symbols][9:12] == ["w9", "w10", "w11"]


def test_ansatz_errors():
    qubits = cirq.LineQubit.range(3)
    with pytest.raises(ConfigurationError, match="layers must be a positive integer"):
        circuits.hardware_efficient(qubits, 0)
    with pytest.raises(ConfigurationError, match="Unknown entangler 'cx'"):
        circuits.hardware_efficient(qubits, 1, entangler="cx")
    with pytest.raises(ConfigurationError, match="Unknown rotation"):
        circuits.hardware_efficient(qubits, 1, rotations=("q",))
    with pytest.raises(ConfigurationError, match="at least one rotation"):
        circuits.hardware_efficient(qubits, 1, rotations=())
    with pytest.raises(ConfigurationError, match="entangling pattern"):
        circuits.entangling_pairs(3, "star")
    with pytest.raises(ConfigurationError, match="ranges must hold 2 values"):
        circuits.strongly_entangling(qubits, 2, ranges=[1])
    with pytest.raises(ConfigurationError, match="Unknown ansatz"):
        circuits.weight_count("qaoa", 2, 1)
