r"""Cirq operations to :class:`~qkeras.backends._unitary.GateMatrix` sequences.

One general rule covers most gates: a constant gate is ``cirq.unitary(gate)``, and a
``cirq.EigenGate`` at a symbolic exponent :math:`t` is
:math:`\sum_k e^{i\pi t(\lambda_k + s)} P_k` from ``gate._eigen_components()`` and its
global shift :math:`s`, which is exact including the global phase (that matters once the
gate is controlled). Gates that are not eigen gates are products of eigen gates, emitted
one after another on the same qubits (fusion multiplies them again):
``PhasedXPowGate`` is :math:`Z^p X^t Z^{-p}`, ``PhasedXZGate`` is
:math:`Z^{z+a} X^x Z^{-a}` and ``FSimGate(θ, φ)`` is
:math:`\mathrm{ISWAP}^{-2\theta/\pi}\,\mathrm{CZ}^{-\phi/\pi}`.
``cirq.ControlledGate`` adds controls to each factor.

Example:
    >>> import cirq, sympy
    >>> from qkeras.backends._unitary import FeatureTable
    >>> a = sympy.Symbol("a")
    >>> [m.dim for m in gate_matrices(cirq.PhasedXPowGate(phase_exponent=a), FeatureTable([a]))]
    [2, 2, 2]
"""

from __future__ import annotations

from collections.abc import Sequence

import cirq
import numpy as np
import sympy

from qkeras.backends import _unitary
from qkeras.backends._unitary import FeatureTable, GateMatrix
from qkeras.errors import UnsupportedGateError

__all__ = ["SUPPORTED_GATES", "gate_matrices", "parse"]

SUPPORTED_GATES = (
    "any constant gate with a unitary (X, Y, Z, H, S, T, CNOT, CZ, SWAP, ISWAP, CCX, "
    "MatrixGate, ...); with symbolic parameters: XPowGate, YPowGate, ZPowGate, HPowGate, "
    "rx/ry/rz, CXPowGate, CZPowGate, SwapPowGate, ISwapPowGate, CCXPowGate, CCZPowGate and "
    "other cirq.EigenGates, FSimGate, PhasedXPowGate, PhasedXZGate, GlobalPhaseGate, and "
    "cirq.ControlledGate of any of these; IdentityGate; terminal measurements are ignored"
)


def _unsupported(what: object, reason: str) -> UnsupportedGateError:
    return UnsupportedGateError(
        f"The statevector backend cannot simulate {what!r}: {reason}. Supported: "
        f"{SUPPORTED_GATES}. Decompose other gates first (e.g. "
        "cirq.Circuit(cirq.decompose(circuit))), or use the 'tfq' backend."
    )


def _chain(gates: Sequence[cirq.Gate], table: FeatureTable) -> list[GateMatrix]:
    return [m for gate in gates for m in gate_matrices(gate, table)]


def _eigen(gate: cirq.EigenGate, table: FeatureTable) -> GateMatrix:
    try:
        components = [(float(lam), np.asarray(p, np.complex128))
                      for lam, p in gate._eigen_components()]
        shift = float(gate.global_shift)
    except (TypeError, ValueError) as err:
        raise _unsupported(gate, "only its exponent may be symbolic") from err
    return _unitary.eigen(components, shift, lambda angle: table.phase(gate.exponent, angle))


def gate_matrices(gate: cirq.Gate, table: FeatureTable) -> list[GateMatrix]:
    """Returns the matrices whose product (first acts first) is ``gate``'s unitary.

    Args:
        gate: A Cirq gate on qubits.
        table: Collects the per-sample features the matrices depend on.

    Returns:
        Matrices on the gate's qubits, first qubit most significant (Cirq's convention).

    Raises:
        UnsupportedGateError: If the gate is not supported.

    Example:
        >>> import cirq
        >>> gate_matrices(cirq.CZ, FeatureTable([]))[0].const.real.diagonal().tolist()
        [1.0, 1.0, 1.0, -1.0]
    """
    if not cirq.is_parameterized(gate):
        if cirq.has_unitary(gate):
            return [_unitary.constant(cirq.unitary(gate))]
        raise _unsupported(gate, "it has no unitary (a noise channel or a measurement?)")
    if isinstance(gate, cirq.ControlledGate):  # qudit controls are refused by ``parse``
        active = list(gate.control_values.expand())
        return [_unitary.controlled(m, gate.num_controls(), active)
                for m in gate_matrices(gate.sub_gate, table)]
    if isinstance(gate, cirq.PhasedXPowGate):
        p = gate.phase_exponent
        x = cirq.XPowGate(exponent=gate.exponent, global_shift=gate.global_shift)
        return _chain([cirq.ZPowGate(exponent=-p), x, cirq.ZPowGate(exponent=p)], table)
    if isinstance(gate, cirq.PhasedXZGate):
        a, x, z = gate.axis_phase_exponent, gate.x_exponent, gate.z_exponent
        return _chain([cirq.ZPowGate(exponent=-a), cirq.XPowGate(exponent=x),
                       cirq.ZPowGate(exponent=z + a)], table)
    if isinstance(gate, cirq.FSimGate):
        return _chain([cirq.ISwapPowGate(exponent=-2 * gate.theta / sympy.pi),
                       cirq.CZPowGate(exponent=-gate.phi / sympy.pi)], table)
    if isinstance(gate, cirq.GlobalPhaseGate):
        feature = table.value(gate.coefficient)
        return [GateMatrix(np.zeros((1, 1), complex), np.array([feature]),
                           np.ones((1, 1, 1), complex))]
    if isinstance(gate, cirq.EigenGate):
        return [_eigen(gate, table)]
    raise _unsupported(gate, "its parameters are symbolic and it is not an eigen gate")


def parse(circuit: cirq.AbstractCircuit, qubits: Sequence[cirq.Qid],
          table: FeatureTable) -> list[tuple[tuple[int, ...], GateMatrix]]:
    """Turns ``circuit`` into matrices on qubit indices, in the order they act.

    Subcircuits are unrolled, identities dropped and terminal measurements ignored.

    Args:
        circuit: The circuit.
        qubits: The register; a qubit's index is its place here (0 most significant).
        table: Collects the per-sample features of the circuit.

    Returns:
        ``(qubit indices, matrix)`` pairs, in time order.

    Raises:
        UnsupportedGateError: For unsupported gates, qudits and mid-circuit measurements.

    Example:
        >>> import cirq
        >>> q = cirq.LineQubit.range(2)
        >>> from qkeras.backends._unitary import FeatureTable
        >>> [i for i, _ in parse(cirq.Circuit(cirq.H(q[1]), cirq.CZ(*q)), q, FeatureTable([]))]
        [(1,), (0, 1)]
    """
    index = {q: i for i, q in enumerate(qubits)}
    circuit = cirq.unroll_circuit_op(circuit, deep=True, tags_to_check=None)
    measured: set[cirq.Qid] = set()
    out = []
    for op in circuit.all_operations():
        if cirq.is_measurement(op):
            measured.update(op.qubits)
            continue
        if measured.intersection(op.qubits):
            raise _unsupported(op, "it acts on a measured qubit (only terminal measurements "
                                   "are allowed, and they are ignored)")
        gate = op.untagged.gate
        if gate is None:
            raise _unsupported(op, "it is not a gate operation")
        if any(q.dimension != 2 for q in op.qubits):
            raise _unsupported(op, "it acts on qudits; only qubits are supported")
        if isinstance(gate, cirq.IdentityGate):
            continue
        where = tuple(index[q] for q in op.qubits)
        out += [(where, m) for m in gate_matrices(gate, table)]
    return out
