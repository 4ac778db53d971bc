"""StatevectorSimulator against independent references.

References: ``cirq.final_state_vector`` in complex128 and ``PauliSum.
expectation_from_state_vector`` (states, expectations), float64 central finite
differences of those (gradients), TensorFlow Quantum's ``tfq.layers.Expectation`` with its
default adjoint differentiator (values and gradients), and the ops TensorFlow records in
a saved ``saved_model.pb`` (portability).
"""

from __future__ import annotations

import cirq
import numpy as np
import pytest
import sympy
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from qkeras.backends import _kernel, statevector
from qkeras.backends._symbolic import linear_form, translate
from qkeras.backends.statevector import StatevectorSimulator
from qkeras.errors import ConfigurationError, InputError, ResourceError, UnsupportedGateError

SYMBOLS = sympy.symbols("s0:4")


def _parameter(rng: np.random.Generator):
    """A constant, a symbol, or an affine or non-linear expression of the symbols."""
    s = SYMBOLS[rng.integers(len(SYMBOLS))]
    return [float(rng.normal()), s, 2 * s - 0.5, s / sympy.pi,
            (sympy.pi - SYMBOLS[0]) * (sympy.pi - s) / 4][rng.integers(5)]


def _one_qubit_gate(rng):
    p = lambda: _parameter(rng)  # noqa: E731
    gates = [cirq.X, cirq.Y, cirq.Z, cirq.H, cirq.S, cirq.T, cirq.I,
             cirq.XPowGate(exponent=p(), global_shift=float(rng.normal())),
             cirq.YPowGate(exponent=p()), cirq.ZPowGate(exponent=p(), global_shift=0.3),
             cirq.HPowGate(exponent=p()), cirq.rx(p()), cirq.ry(p()), cirq.rz(p()),
             cirq.PhasedXPowGate(phase_exponent=p(), exponent=p(), global_shift=0.2),
             cirq.PhasedXZGate(x_exponent=p(), z_exponent=p(), axis_phase_exponent=p()),
             cirq.MatrixGate(cirq.testing.random_unitary(2, random_state=int(rng.integers(99))))]
    return gates[rng.integers(len(gates))]


def _two_qubit_gate(rng):
    p = lambda: _parameter(rng)  # noqa: E731
    gates = [cirq.CNOT, cirq.CX, cirq.CZ, cirq.SWAP, cirq.ISWAP, cirq.CXPowGate(exponent=p()),
             cirq.CZPowGate(exponent=p(), global_shift=0.1), cirq.SwapPowGate(exponent=p()),
             cirq.ISwapPowGate(exponent=p()), cirq.FSimGate(p(), p()),
             cirq.MatrixGate(cirq.testing.random_unitary(4, random_state=int(rng.integers(99))))]
    return gates[rng.integers(len(gates))]


def random_circuit(n_qubits: int, n_gates: int, seed: int) -> cirq.Circuit:
    """Gates drawn from every supported kind, some controlled by 1-2 qubits."""
    rng = np.random.default_rng(seed)
    qubits = cirq.LineQubit.range(n_qubits)
    ops = []
    for _ in range(n_gates):
        if n_qubits == 1 or rng.random() < 0.5:
            gate = _one_qubit_gate(rng)
        else:
            gate = _two_qubit_gate(rng)
        controls = int(rng.integers(0, min(2, n_qubits - gate.num_qubits()) + 1))
        if controls and rng.random() < 0.4:
            gate = gate.controlled(controls, control_values=[int(v) for v in
                                                             rng.integers(0, 2, controls)])
        where = rng.choice(n_qubits, gate.num_qubits(), replace=False)
        ops.append(gate.on(*[qubits[i] for i in where]))
    if rng.random() < 0.5:
        ops.append(cirq.global_phase_operation(np.exp(1j * rng.normal())))
    return cirq.Circuit(ops)


def random_observables(qubits, seed: int, count: int = 3) -> list[cirq.PauliSum]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        total = cirq.PauliSum.from_pauli_strings([float(rng.normal()) * cirq.PauliString()])
        for _ in range(3):
            paulis = {q: [cirq.X, cirq.Y, cirq.Z][rng.integers(3)] for q in qubits
                      if rng.random() < 0.5}
            total += float(rng.normal()) * cirq.PauliString(paulis)
        out.append(total)
    return out


def cirq_state(circuit, qubits, symbols, values) -> np.ndarray:
    resolver = dict(zip(symbols, np.asarray(values, float)))
    return cirq.final_state_vector(circuit, param_resolver=resolver, qubit_order=qubits,
                                   ignore_terminal_measurements=True, dtype=np.complex128)


def cirq_expectations(circuit, qubits, symbols, observables, values) -> np.ndarray:
    index = {q: i for i, q in enumerate(qubits)}
    psi = cirq_state(circuit, qubits, symbols, values)
    return np.array([o.expectation_from_state_vector(psi, index).real for o in observables])


def cirq_gradient(circuit, qubits, symbols, observables, values, weights, h=1e-5):
    """d(sum_k weights_k <O_k>)/d(values) by float64 central differences."""
    grad = np.zeros(len(symbols))
    for i in range(len(symbols)):
        step = np.eye(len(symbols))[i] * h
        up = cirq_expectations(circuit, qubits, symbols, observables, values + step)
        down = cirq_expectations(circuit, qubits, symbols, observables, values - step)
        grad[i] = weights @ (up - down) / (2 * h)
    return grad


@pytest.mark.parametrize("n_qubits", range(1, 11))
def test_states_and_expectations_match_cirq_on_random_circuits(n_qubits):
    """Reference: cirq.final_state_vector and expectation_from_state_vector (complex128)."""
    circuit = random_circuit(n_qubits, 14 + 2 * n_qubits, seed=n_qubits)
    qubits = cirq.LineQubit.range(n_qubits)
    observables = random_observables(qubits, seed=n_qubits)
    values = np.random.default_rng(n_qubits).normal(size=(2, len(SYMBOLS)))
    sim = StatevectorSimulator(circuit, SYMBOLS, observables, qubits=qubits,
                               jit_compile=n_qubits in (3, 10))
    states = sim.state(values).numpy()
    expectations = sim.expectation(values).numpy()
    for row, v in enumerate(values):
        np.testing.assert_allclose(states[row], cirq_state(circuit, qubits, SYMBOLS, v),
                                   atol=1e-5)
        want = cirq_expectations(circuit, qubits, SYMBOLS, observables, v)
        np.testing.assert_allclose(expectations[row], want, atol=1e-5)


def test_large_and_multi_controlled_gates_match_cirq():
    """Blocks on more than 3 qubits (split in stages). Reference: cirq.final_state_vector."""
    q = cirq.LineQubit.range(7)
    a, b = SYMBOLS[:2]
    unitary = cirq.testing.random_unitary(16, random_state=3)
    circuit = cirq.Circuit(
        cirq.H.on_each(*q), cirq.MatrixGate(unitary).on(q[5], q[1], q[3], q[6]),
        cirq.rx(a).on(q[2]).controlled_by(q[0], q[4], q[6], control_values=[1, 0, 1]),
        cirq.CCZ(q[6], q[0], q[3]), cirq.CCX(q[1], q[2], q[5]),
        cirq.FSimGate(a, b).on(q[4], q[0]).controlled_by(q[3], q[5]),
        cirq.measure(*q, key="m"))
    observables = random_observables(q, seed=7)
    sim = StatevectorSimulator(circuit, [a, b], observables, jit_compile=False)
    values = np.array([[0.3, -1.2], [2.0, 0.7]])
    for row, v in enumerate(values):
        np.testing.assert_allclose(sim.state(values).numpy()[row],
                                   cirq_state(circuit, q, [a, b], v), atol=1e-5)
    weights = np.array([0.5, -1.0, 2.0])
    with tf.GradientTape() as tape:
        x = tf.constant(values, tf.float32)
        tape.watch(x)
        loss = tf.reduce_sum(sim.expectation(x) * weights)
    got = tape.gradient(loss, x).numpy()
    for row, v in enumerate(values):
        want = cirq_gradient(circuit, q, [a, b], observables, v, weights)
        np.testing.assert_allclose(got[row], want, atol=1e-4)


@pytest.mark.parametrize("seed,n_qubits,jit", [(1, 3, False), (2, 5, True), (3, 10, False)])
def test_gradients_match_cirq_finite_differences(seed, n_qubits, jit):
    """Every gate kind and expression form. Reference: float64 central differences of cirq."""
    circuit = random_circuit(n_qubits, 16, seed=100 + seed)
    qubits = cirq.LineQubit.range(n_qubits)
    observables = random_observables(qubits, seed=seed)
    values = np.random.default_rng(seed).normal(size=(2, len(SYMBOLS)))
    weights = np.array([1.0, -0.5, 2.0])
    sim = StatevectorSimulator(circuit, SYMBOLS, observables, qubits=qubits, jit_compile=jit)
    x = tf.constant(values, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(sim.expectation(x) * weights)
    got = tape.gradient(loss, x).numpy()
    for row, v in enumerate(values):
        want = cirq_gradient(circuit, qubits, SYMBOLS, observables, v, weights)
        np.testing.assert_allclose(got[row], want, atol=1e-4)


def _tfq_expectation_and_gradient(circuit, names, observables, values):
    import tensorflow_quantum as tfq

    x = tf.constant(values, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tfq.layers.Expectation()(circuit, symbol_names=names, symbol_values=x,
                                       operators=observables)
    return out.numpy(), tape.gradient(out, x).numpy()


def _ours(circuit, symbols, observables, values, qubits):
    sim = StatevectorSimulator(circuit, symbols, observables, qubits=qubits)
    x = tf.constant(values, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = sim.expectation(x)
    return out.numpy(), tape.gradient(out, x).numpy()


def _tfq_circuit(n_qubits, seed, parameterised):
    rng = np.random.default_rng(seed)
    q = cirq.LineQubit.range(n_qubits)
    ops = []
    for _ in range(24):
        a, b = (q[i] for i in rng.choice(n_qubits, 2, replace=False))
        s = SYMBOLS[rng.integers(len(SYMBOLS))]
        c = float(rng.uniform(0.5, 1.5))
        ops.append([cirq.CNOT(a, b), cirq.CZ(a, b), cirq.H(a), cirq.SWAP(a, b), cirq.X(b),
                    cirq.ISWAP(a, b), *parameterised(a, b, s, c)][rng.integers(6, 6 + 3)])
    return cirq.Circuit(ops), q


def _check_against_tfq(circuit, q, seed, gradient_atol):
    observables = random_observables(q, seed=seed)
    values = np.random.default_rng(seed).normal(size=(3, len(SYMBOLS)))
    names = [s.name for s in SYMBOLS]
    want_values, want_grad = _tfq_expectation_and_gradient(circuit, names, observables, values)
    got_values, got_grad = _ours(circuit, SYMBOLS, observables, values, q)
    np.testing.assert_allclose(got_values, want_values, atol=1e-5)
    np.testing.assert_allclose(got_grad, want_grad, atol=gradient_atol)
    exact = [cirq_gradient(circuit, q, SYMBOLS, observables, v, np.ones(3)) for v in values]
    np.testing.assert_allclose(got_grad, exact, atol=1e-5)


def test_values_and_rotation_gradients_match_tfq():
    """rx/ry/rz among constant gates. References: tfq.layers.Expectation (adjoint), and
    float64 finite differences of cirq.

    Values agree to 1e-5. TFQ's adjoint differentiator takes each gate's derivative as a
    central difference of the gate matrix with step 5e-3 (``_GRAD_EPS`` in
    ``tensorflow_quantum/core/src/adj_util.cc``), which puts its gradients ~6e-5 off the
    exact ones here; ours agree with the exact ones to 1e-5 and with TFQ's to 2e-4.
    """
    rotations = lambda a, b, s, c: [cirq.rx(s)(a), cirq.ry(s)(b), cirq.rz(s)(a)]  # noqa: E731
    circuit, q = _tfq_circuit(5, seed=11, parameterised=rotations)
    _check_against_tfq(circuit, q, seed=11, gradient_atol=2e-4)


def test_eigen_gate_gradients_match_tfq_within_its_difference_step():
    """XPow/CZPow/CXPow/ISwapPow/SwapPow/FSim/PhasedX. References: tfq.layers.Expectation
    (adjoint), and float64 finite differences of cirq.

    With exponents in half turns TFQ's 5e-3 difference step is a larger angle, an error
    of order ``(pi * 5e-3)**2 / 6 ~ 4e-5`` relative per gate: gradients agree to 2e-3.
    """
    def eigen(a, b, s, c):
        return [cirq.XPowGate(exponent=c * s)(a), cirq.CZPowGate(exponent=s)(a, b),
                cirq.CXPowGate(exponent=s)(a, b), cirq.ISwapPowGate(exponent=c * s)(a, b),
                cirq.SwapPowGate(exponent=s)(a, b), cirq.FSimGate(s, c * s)(a, b),
                cirq.PhasedXPowGate(phase_exponent=s, exponent=0.5)(b)][
            int(abs(c * 1e4)) % 7:][:1] * 3
    circuit, q = _tfq_circuit(4, seed=12, parameterised=eigen)
    _check_against_tfq(circuit, q, seed=12, gradient_atol=2e-3)


def test_chunks_and_lanes_give_the_same_states_and_gradients(monkeypatch):
    """Batch split into lanes and cache-sized chunks (padded). Reference: cirq."""
    monkeypatch.setattr(_kernel, "CHUNK_MIN_QUBITS", 2)
    monkeypatch.setattr(_kernel, "CHUNK_AMPLITUDES", 16)  # 2 samples of 3 qubits per chunk
    monkeypatch.setattr(_kernel, "LANES", 2)
    circuit = random_circuit(3, 12, seed=5)
    q = cirq.LineQubit.range(3)
    observables = random_observables(q, seed=5)
    values = np.random.default_rng(5).normal(size=(5, len(SYMBOLS)))
    sim = StatevectorSimulator(circuit, SYMBOLS, observables, qubits=q, jit_compile=False)
    x = tf.constant(values, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(sim.expectation(x) * [1.0, 2.0, -1.0])
    got = tape.gradient(loss, x).numpy()
    states = sim.state(x).numpy()
    for row, v in enumerate(values):
        np.testing.assert_allclose(states[row], cirq_state(circuit, q, SYMBOLS, v), atol=1e-5)
        want = cirq_gradient(circuit, q, SYMBOLS, observables, v, np.array([1.0, 2.0, -1.0]))
        np.testing.assert_allclose(got[row], want, atol=1e-4)


@pytest.mark.parametrize("fused", [1, 2, 3])
def test_every_fusion_size_matches_cirq(monkeypatch, fused):
    """Blocks of up to 1, 2 or 3 qubits. Reference: cirq.final_state_vector."""
    monkeypatch.setattr(statevector, "FUSED_QUBITS", fused)
    circuit = random_circuit(5, 24, seed=40 + fused)
    q = cirq.LineQubit.range(5)
    values = np.random.default_rng(fused).normal(size=(2, len(SYMBOLS)))
    sim = StatevectorSimulator(circuit, SYMBOLS, [], qubits=q, jit_compile=False)
    states = sim.state(values).numpy()
    for row, v in enumerate(values):
        np.testing.assert_allclose(states[row], cirq_state(circuit, q, SYMBOLS, v), atol=1e-5)


def test_size_dependent_choices():
    """Fusion size and lane count follow the register size (scripts/bench/backends.py)."""
    assert (statevector.fused_qubits(9), statevector.fused_qubits(10)) == (1, 2)
    assert _kernel.lanes(4) == 1
    assert _kernel.lanes(20) >= 1
    assert _kernel.chunk_size(4) is None
    gpu = bool(tf.config.list_logical_devices("GPU"))
    assert _kernel.chunk_size(20) == (None if gpu else 1)


def test_parameter_translation():
    """Reference: sympy's own evaluation of the expressions."""
    x, y = sympy.symbols("x y")
    values = tf.constant([[0.3, -1.2]])
    for expr in [sympy.atan(x) * sympy.tanh(y), abs(y) ** 1.5 - sympy.sign(x),
                 sympy.re(x + sympy.I * y) + sympy.im(sympy.conjugate(x + sympy.I * y))]:
        want = complex(expr.subs({x: 0.3, y: -1.2}).evalf())
        np.testing.assert_allclose(translate(expr, [x, y])(values).numpy(), [want], rtol=1e-6)
    assert linear_form(sympy.I * x, [x]) is None
    assert linear_form(3 * x - y / 2 + 1, [x, y]) == ([3.0, -0.5], 1.0)
    with pytest.raises(ConfigurationError, match=r"\['y'\] that are not among"):
        translate(x + y, [x])


def test_symbolic_global_phase_and_symbol_order():
    """Columns follow `symbols` as given (w10 before w2). Reference: cirq.final_state_vector."""
    w10, w2 = sympy.symbols("w10 w2")
    q = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.H(q[0]), cirq.rz(w2)(q[0]), cirq.CNOT(*q),
                           cirq.GlobalPhaseGate(sympy.exp(sympy.I * w10)).on(),
                           cirq.GlobalPhaseGate(sympy.exp(sympy.I * w10)).on().controlled_by(q[1]))
    sim = StatevectorSimulator(circuit, [w10, w2], [cirq.X(q[0])], jit_compile=False)
    values = np.array([[0.4, -1.1]])
    np.testing.assert_allclose(sim.state(values).numpy()[0],
                               cirq_state(circuit, q, [w10, w2], values[0]), atol=1e-6)


def test_constant_circuit_without_symbols():
    """No symbols: the batch size comes from a (batch, 0) tensor. Reference: cirq."""
    q = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(cirq.H(q[0]), cirq.CNOT(q[0], q[2]), cirq.T(q[2]))
    sim = StatevectorSimulator(circuit, [], [cirq.Z(q[2]), cirq.X(q[1])], qubits=q)
    np.testing.assert_allclose(sim.state(tf.zeros([2, 0])).numpy(),
                               np.tile(cirq_state(circuit, q, [], []), (2, 1)), atol=1e-6)
    np.testing.assert_allclose(sim.expectation(np.zeros((1, 0))).numpy(), [[0.0, 0.0]],
                               atol=1e-6)
    empty = StatevectorSimulator(cirq.Circuit(), [], [], qubits=q[:2], jit_compile=False)
    np.testing.assert_allclose(empty.state(tf.zeros([1, 0])).numpy(), [[1, 0, 0, 0]])
    phase = StatevectorSimulator(cirq.Circuit(cirq.global_phase_operation(1j)), [], [],
                                 qubits=q[:1], jit_compile=False)
    np.testing.assert_allclose(phase.state(tf.zeros([1, 0])).numpy(), [[1j, 0]])


def test_dynamic_batch_inside_a_graph():
    """The functions trace with an unknown batch size (as in a Keras layer's call)."""
    q = cirq.LineQubit.range(2)
    a = SYMBOLS[0]
    sim = StatevectorSimulator(cirq.Circuit(cirq.ry(a)(q[0]), cirq.CNOT(*q)), [a],
                               [cirq.Z(q[1])])
    run = tf.function(sim.expectation,
                      input_signature=[tf.TensorSpec([None, None], tf.float64)])
    concrete = run.get_concrete_function()
    assert concrete.structured_outputs.shape.as_list() == [None, 1]
    np.testing.assert_allclose(run(np.array([[0.0], [np.pi]])).numpy(), [[1.0], [-1.0]],
                               atol=1e-6)


@pytest.mark.parametrize("jit", [True, False])
def test_saved_model_has_no_tfq_ops_and_reloads(tmp_path, jit):
    """Reference: the op names in saved_model.pb, and the pre-save outputs."""
    q = cirq.LineQubit.range(3)
    circuit = random_circuit(3, 10, seed=21)
    sim = StatevectorSimulator(circuit, SYMBOLS, random_observables(q, seed=21), qubits=q,
                               jit_compile=jit)

    class Exported(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, len(SYMBOLS)], tf.float32)])
        def __call__(self, values):
            return sim.expectation(values)

    values = tf.constant(np.random.default_rng(2).normal(size=(4, len(SYMBOLS))), tf.float32)
    module = Exported()
    want = module(values).numpy()
    tf.saved_model.save(module, str(tmp_path))
    np.testing.assert_allclose(tf.saved_model.load(str(tmp_path))(values).numpy(), want,
                               atol=1e-6)
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((tmp_path / "saved_model.pb").read_bytes())
    ops = set()
    for graph in proto.meta_graphs:
        ops |= {node.op for node in graph.graph_def.node}
        ops |= {node.op for f in graph.graph_def.library.function for node in f.node_def}
    assert "Unpack" in ops
    assert not [op for op in ops if op.startswith("Tfq")]


def test_terminal_measurements_are_ignored_and_inputs_cast():
    """Reference: cirq.final_state_vector(ignore_terminal_measurements=True)."""
    q = cirq.LineQubit.range(2)
    a = SYMBOLS[0]
    circuit = cirq.Circuit(cirq.rx(a)(q[0]), cirq.CZ(*q), cirq.measure(q[0]), cirq.H(q[1]))
    sim = StatevectorSimulator(circuit, [a], [cirq.Z(q[0])], jit_compile=False)
    for values in (np.array([[1]]), tf.constant([[1.0]], tf.float64)):
        np.testing.assert_allclose(sim.state(values).numpy()[0],
                                   cirq_state(circuit, q, [a], [1.0]), atol=1e-6)


class _SymbolicGate(cirq.Gate):
    """A parameterised gate that is not an eigen gate."""

    def __init__(self, angle):
        self.angle = angle

    def _num_qubits_(self):
        return 1

    def _is_parameterized_(self):
        return True


@pytest.mark.parametrize("circuit,match", [
    (cirq.Circuit(cirq.depolarize(0.1).on(cirq.LineQubit(0))), "no unitary"),
    (cirq.Circuit(cirq.PhasedISwapPowGate(phase_exponent=SYMBOLS[0]).on(*cirq.LineQubit.range(2))),
     "only its exponent may be symbolic"),
    (cirq.Circuit(_SymbolicGate(SYMBOLS[0]).on(cirq.LineQubit(0))), "not an eigen gate"),
    (cirq.Circuit(cirq.measure(cirq.LineQubit(0)), cirq.X(cirq.LineQubit(0))), "measured qubit"),
    (cirq.Circuit(cirq.X(cirq.LineQubit(0)).with_classical_controls("m")), "not a gate"),
    (cirq.Circuit(cirq.MatrixGate(np.eye(3), qid_shape=(3,)).on(cirq.LineQid(0, 3))), "qudits"),
    (cirq.Circuit(cirq.ControlledGate(cirq.rx(SYMBOLS[0]), control_qid_shape=(3,)).on(
        cirq.LineQid(1, 3), cirq.LineQubit(0))), "acts on qudits"),
])
def test_unsupported_gates_name_the_gate_and_the_fix(circuit, match):
    with pytest.raises(UnsupportedGateError, match=match) as info:
        StatevectorSimulator(circuit, SYMBOLS, [])
    assert "cirq.decompose" in str(info.value)


def test_configuration_errors():
    q = cirq.LineQubit.range(2)
    a, b = SYMBOLS[:2]
    circuit = cirq.Circuit(cirq.rx(a)(q[0]), cirq.ry(b)(q[1]))
    with pytest.raises(ConfigurationError, match=r"\['s1'\] that are not in `symbols`"):
        StatevectorSimulator(circuit, [a], [])
    with pytest.raises(ConfigurationError, match="distinct; \\['s0'\\]"):
        StatevectorSimulator(circuit, [a, b, "s0"], [])
    with pytest.raises(ConfigurationError, match="Wrap a single symbol"):
        StatevectorSimulator(circuit, a, [])
    with pytest.raises(ConfigurationError, match="sympy.Symbol or str; got 3"):
        StatevectorSimulator(circuit, [a, 3], [])
    with pytest.raises(ConfigurationError, match="must be a cirq.Circuit; got list"):
        StatevectorSimulator([cirq.X(q[0])], [], [])
    with pytest.raises(ConfigurationError, match="not in `qubits`"):
        StatevectorSimulator(circuit, [a, b], [], qubits=q[:1])
    with pytest.raises(ConfigurationError, match="qubits must be distinct"):
        StatevectorSimulator(circuit, [a, b], [], qubits=[q[0], q[1], q[0]])
    with pytest.raises(ConfigurationError, match="not among the simulator's qubits"):
        StatevectorSimulator(circuit, [a, b], [cirq.Z(cirq.LineQubit(5))], qubits=q)
    floor = cirq.Circuit(cirq.rx(sympy.floor(a))(q[0]))
    with pytest.raises(ConfigurationError, match="floor"):
        StatevectorSimulator(floor, [a], [])


def test_observable_errors():
    q = cirq.LineQubit(0)
    circuit = cirq.Circuit(cirq.H(q))
    with pytest.raises(InputError, match="complex coefficient"):
        StatevectorSimulator(circuit, [], [1j * cirq.Z(q)])
    with pytest.raises(InputError, match="must be a cirq.PauliSum or cirq.PauliString; got str"):
        StatevectorSimulator(circuit, [], ["Z0"])
    with pytest.raises(InputError, match="symbolic coefficient"):
        StatevectorSimulator(circuit, [], [cirq.PauliString({q: cirq.Z}, coefficient=SYMBOLS[0])])


def test_input_errors():
    q = cirq.LineQubit(0)
    sim = StatevectorSimulator(cirq.Circuit(cirq.rx(SYMBOLS[0])(q)), SYMBOLS[:1], [cirq.Z(q)],
                               jit_compile=False)
    with pytest.raises(InputError, match=r"shape \(batch, 1\).*got \(2, 3\)"):
        sim.expectation(np.zeros((2, 3)))
    with pytest.raises(InputError, match=r"shape \(batch, 1\)"):
        sim.state(np.zeros(3))
    with pytest.raises(InputError, match="real numbers; got dtype complex64"):
        sim.state(tf.zeros([2, 1], tf.complex64))
    many = StatevectorSimulator(cirq.Circuit(), sympy.symbols("x0:9"), [], qubits=[q])
    with pytest.raises(InputError, match="x7, \\.\\.\\."):
        many.state(np.zeros((1, 2)))


def test_register_larger_than_the_limit(monkeypatch):
    monkeypatch.setenv("QKERAS_MAX_QUBITS", "3")
    q = cirq.LineQubit.range(4)
    with pytest.raises(ResourceError, match="2\\*\\*4 amplitudes.*QKERAS_MAX_QUBITS"):
        StatevectorSimulator(cirq.Circuit(cirq.H.on_each(*q)), [], [])
