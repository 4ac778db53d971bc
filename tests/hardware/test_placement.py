"""Placement respects each device's coupling map and gate set."""

import cirq
import numpy as np
import pytest

from qkeras import hardware
from qkeras.hardware._lower import to_cz
from qkeras.hardware._quil import native

Q = cirq.LineQubit.range(3)
#: CNOTs on every pair of 3 qubits: on a line (Manila) one pair needs a SWAP.
RING = cirq.Circuit(cirq.H(Q[0]), cirq.CNOT(Q[0], Q[1]), cirq.CNOT(Q[1], Q[2]),
                    cirq.CNOT(Q[0], Q[2]), cirq.measure(*Q, key="m"))


@pytest.mark.parametrize("route,coupling", [
    ("ibm:fake_manila", lambda s: s.backend.coupling_map.get_edges()),
    ("google:virtual_rainbow", lambda s: s.device_spec.metadata.nx_graph.edges),
    ("rigetti:9q-square-pyqvm", lambda s: s.qc.quantum_processor.qubit_topology().edges),
])
def test_placement_respects_the_device_coupling_map(route, coupling):
    sampler = hardware.sampler(route)
    placed = hardware.place(RING, sampler)
    pairs = [tuple(cirq.LineQubit(i) if isinstance(i, int) else i for i in p)
             for p in coupling(sampler)]
    assert placed.respects(pairs)
    assert placed.two_qubit_gates >= 3 and placed.depth > 0
    print(f"{route}: routed depth {placed.depth}, {placed.two_qubit_gates} two-qubit gates")
    # respects() can fail: the logical circuit's (0, 2) CNOT is not a coupled pair.
    logical = hardware.placement.summarise("x", RING, {}, [])
    assert not logical.respects([(Q[0], Q[1]), (Q[1], Q[2])])


def test_google_placement_uses_only_the_device_gate_set():
    sampler = hardware.sampler("google:virtual_rainbow")
    placed = sampler.place(RING)
    sampler.device_spec.validate_circuit(placed.circuit)  # raises on a foreign gate


@pytest.mark.parametrize("seed", range(3))
def test_lowering_preserves_the_unitary(seed):
    """Reference: cirq.unitary of the original circuit, with random angles."""
    rng = np.random.default_rng(seed)
    a, b = Q[:2]
    t = rng.uniform(-2, 2, 8)
    circuit = cirq.Circuit(
        cirq.rx(t[0])(a), cirq.ry(t[1])(b), cirq.H(a), cirq.CNOT(a, b), cirq.CZ(b, a) ** t[2],
        cirq.ZZPowGate(exponent=t[3])(a, b), cirq.XXPowGate(exponent=t[4])(a, b),
        cirq.YYPowGate(exponent=t[5])(a, b), cirq.SWAP(a, b),
        cirq.PhasedXPowGate(phase_exponent=t[6], exponent=t[7])(a), cirq.T(b),
        cirq.PhasedXZGate(x_exponent=0.3, z_exponent=t[1], axis_phase_exponent=t[2])(b))
    want = cirq.unitary(circuit)
    for rewritten in (to_cz(circuit), native(circuit)):
        got = cirq.unitary(rewritten, )
        cirq.testing.assert_allclose_up_to_global_phase(got, want, atol=1e-8)
    gates = {type(op.gate) for op in native(circuit).all_operations()}
    assert gates <= {cirq.Rx, cirq.Rz, cirq.CZPowGate}


def test_quil_program_runs_the_same_state_as_cirq():
    """Reference: cirq.final_state_vector; the Quil is run by pyquil's own simulator."""
    from pyquil.simulation.tools import program_unitary

    from qkeras.hardware._quil import to_quil

    a, b = Q[:2]
    circuit = cirq.Circuit(cirq.ry(0.7)(a), cirq.CNOT(a, b), cirq.rx(-1.1)(b), cirq.rz(0.4)(a))
    program, _, _ = to_quil(native(circuit))
    got = program_unitary(program, n_qubits=2)[:, 0]
    want = cirq.final_state_vector(circuit, qubit_order=[b, a])  # pyquil: qubit 0 rightmost
    cirq.testing.assert_allclose_up_to_global_phase(got, want, atol=1e-8)


def test_unsupported_gates_are_refused_with_a_fix():
    import sympy

    from qkeras.errors import UnsupportedGateError
    from qkeras.hardware._lower import linear_terms, lower

    with pytest.raises(UnsupportedGateError, match="not linear"):
        linear_terms(sympy.Symbol("a") ** 2)
    class Opaque(cirq.Gate):  # no unitary, no decomposition
        def _num_qubits_(self):
            return 1

    with pytest.raises(UnsupportedGateError, match="no rule lowers Opaque"):
        lower(cirq.Circuit(Opaque().on(Q[0])))
