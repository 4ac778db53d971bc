"""StatevectorSimulator against cirq.Simulator on random circuits from every supported gate.

The reference is ``cirq.final_state_vector`` in complex128 (global phase included, since
cirq's unitaries carry it and controlled gates expose it) and
``PauliSum.expectation_from_state_vector``. Seeds are fixed.
"""

import cirq
import numpy as np
import pytest
import sympy
import tensorflow as tf

from qkeras.backends.statevector import StatevectorSimulator
from qkeras.errors import ConfigurationError, InputError, UnsupportedGateError

SYMBOLS = sympy.symbols("a b c d")


def _angle(rng, symbolic):
    if symbolic:
        scale, shift = float(rng.uniform(0.2, 1.5)), float(rng.uniform(-1, 1))
        return scale * SYMBOLS[rng.integers(4)] + shift
    return float(rng.uniform(-2, 2))


def _unitary(rng, dim):
    return cirq.testing.random_unitary(dim, random_state=int(rng.integers(10**6)))


def _one_qubit(rng, q):
    s = rng.random() < 0.6
    choices = [
        lambda: cirq.X(q), lambda: cirq.Y(q), lambda: cirq.Z(q), lambda: cirq.H(q),
        lambda: cirq.S(q), lambda: cirq.T(q), lambda: cirq.rx(_angle(rng, s))(q),
        lambda: cirq.ry(_angle(rng, s))(q), lambda: cirq.rz(_angle(rng, s))(q),
        lambda: (cirq.X ** _angle(rng, s))(q), lambda: (cirq.Y ** _angle(rng, s))(q),
        lambda: (cirq.Z ** _angle(rng, s))(q), lambda: (cirq.H ** _angle(rng, s))(q),
        lambda: cirq.PhasedXPowGate(phase_exponent=_angle(rng, s),
                                    exponent=_angle(rng, s))(q),
        lambda: cirq.PhasedXZGate(x_exponent=_angle(rng, False), z_exponent=_angle(rng, False),
                                  axis_phase_exponent=_angle(rng, False))(q),
        lambda: cirq.MatrixGate(_unitary(rng, 2))(q),
    ]
    return choices[rng.integers(len(choices))]()


def _two_qubit(rng, a, b):
    s = rng.random() < 0.6
    choices = [
        lambda: cirq.CNOT(a, b), lambda: cirq.CZ(a, b), lambda: cirq.SWAP(a, b),
        lambda: cirq.ISWAP(a, b), lambda: (cirq.CZ ** _angle(rng, s))(a, b),
        lambda: (cirq.CNOT ** _angle(rng, s))(a, b),
        lambda: (cirq.ISWAP ** _angle(rng, s))(a, b),
        lambda: (cirq.SWAP ** _angle(rng, s))(a, b), lambda: (cirq.ZZ ** _angle(rng, s))(a, b),
        lambda: cirq.FSimGate(theta=_angle(rng, False), phi=_angle(rng, False))(a, b),
        lambda: cirq.MatrixGate(_unitary(rng, 4))(a, b),
    ]
    return choices[rng.integers(len(choices))]()


def _random_circuit(n, depth, seed):
    rng = np.random.default_rng(seed)
    qubits = cirq.LineQubit.range(n)
    ops = []
    for _ in range(depth):
        kind = rng.integers(4) if n > 1 else 0
        picks = rng.choice(n, size=min(n, 3), replace=False)
        q = [qubits[i] for i in picks]
        if kind == 0 or n == 1:
            ops.append(_one_qubit(rng, q[0]))
        elif kind == 1:
            ops.append(_two_qubit(rng, q[0], q[1]))
        elif kind == 2:  # controlled version of a one-qubit gate, 1 or 2 controls
            controls = q[1:1 + int(rng.integers(1, min(n, 3)))]
            ops.append(_one_qubit(rng, q[0]).controlled_by(*controls))
        else:
            ops.append(cirq.GlobalPhaseGate(np.exp(1j * rng.uniform(0, 6)))())
    return cirq.Circuit(ops), qubits


def _random_observables(qubits, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(3):
        terms = []
        for _ in range(2):
            paulis = {q: [cirq.X, cirq.Y, cirq.Z][rng.integers(3)]
                      for q in rng.choice(qubits, size=min(len(qubits), 2), replace=False)}
            terms.append(float(rng.uniform(-1, 1)) * cirq.PauliString(paulis))
        out.append(sum(terms[1:], terms[0]))
    return out


@pytest.mark.parametrize("seed", range(14))
def test_random_circuits_match_cirq(seed):
    n = 1 + seed % 10  # 1..10 qubits: beyond 7 a (batch, 2, ..., 2) state would break
    circuit, qubits = _random_circuit(n, depth=18, seed=seed)
    observables = _random_observables(qubits, seed)
    sim = StatevectorSimulator(circuit, SYMBOLS, observables, qubits=qubits, jit_compile=False)
    values = np.random.default_rng(100 + seed).uniform(-2, 2, (3, 4))
    states = sim.state(tf.constant(values, tf.float32)).numpy()
    expectations = sim.expectation(tf.constant(values, tf.float32)).numpy()
    qubit_map = {q: i for i, q in enumerate(qubits)}
    for row, state, got in zip(values, states, expectations):
        want = cirq.final_state_vector(circuit, param_resolver=dict(zip(SYMBOLS, row)),
                                       qubit_order=qubits, dtype=np.complex128)
        np.testing.assert_allclose(state, want, atol=1e-5)
        np.testing.assert_allclose(
            got, [o.expectation_from_state_vector(want, qubit_map).real for o in observables],
            atol=1e-5)


def test_xla_matches_eager_and_gradient_matches_finite_differences():
    circuit, qubits = _random_circuit(4, depth=20, seed=3)
    observables = _random_observables(qubits, 3)
    fast = StatevectorSimulator(circuit, SYMBOLS, observables, qubits=qubits)
    plain = StatevectorSimulator(circuit, SYMBOLS, observables, qubits=qubits,
                                 jit_compile=False)
    values = tf.Variable(np.random.default_rng(1).uniform(-1, 1, (2, 4)), dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(fast.expectation(values))
    grad = tape.gradient(loss, values).numpy()
    np.testing.assert_allclose(fast.expectation(values), plain.expectation(values), atol=1e-5)
    qubit_map = {q: i for i, q in enumerate(qubits)}

    def f(row):
        state = cirq.final_state_vector(circuit, param_resolver=dict(zip(SYMBOLS, row)),
                                        qubit_order=qubits, dtype=np.complex128)
        return sum(o.expectation_from_state_vector(state, qubit_map).real for o in observables)

    eps, v = 1e-4, values.numpy().astype(np.float64)
    for b in range(2):
        want = [(f(v[b] + d) - f(v[b] - d)) / (2 * eps) for d in np.eye(4) * eps]
        np.testing.assert_allclose(grad[b], want, atol=1e-4)


def test_errors_name_the_problem():
    q = cirq.LineQubit.range(2)
    with pytest.raises(UnsupportedGateError, match="cannot simulate.*depolarize"):
        StatevectorSimulator(cirq.Circuit(cirq.depolarize(0.1)(q[0])), [], [cirq.Z(q[0])])
    with pytest.raises(ConfigurationError, match="not in"):
        StatevectorSimulator(cirq.Circuit(cirq.rx(SYMBOLS[0])(q[0])), [], [cirq.Z(q[0])])
    sim = StatevectorSimulator(cirq.Circuit(cirq.rx(SYMBOLS[0])(q[0])), SYMBOLS[:1],
                               [cirq.Z(q[0])])
    with pytest.raises(InputError, match="shape \\(batch, 1\\)"):
        sim.expectation(tf.zeros((2, 3)))
    with pytest.raises(InputError, match="PauliSum or cirq.PauliString"):
        StatevectorSimulator(cirq.Circuit(cirq.X(q[0])), [], ["Z"])
