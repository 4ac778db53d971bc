r"""Lowers a Cirq circuit to a small, vendor-neutral instruction list.

The IBM and Rigetti adapters translate from this list rather than from Cirq's many gate
types. Every instruction is ``(name, qubits, angle)`` with ``name`` one of

``rx ry rz h cz cx cphase rxx ryy rzz swap measure``

and ``angle`` in radians, a float or a sympy expression linear in the circuit's symbols.
Global phases are dropped (a sampler cannot see them): ``cirq.X**t`` becomes
``rx(pi * t)``, ``cirq.Z**t`` becomes ``rz(pi * t)``, ``cirq.CZ**t`` becomes
``cphase(pi * t)`` and ``PhasedXPowGate(p, t)`` becomes ``rz(-pi p) rx(pi t) rz(pi p)``.

Example:
    >>> import cirq, sympy
    >>> q = cirq.LineQubit.range(2)
    >>> circuit = cirq.Circuit(cirq.rx(sympy.Symbol("a"))(q[0]), cirq.CNOT(*q))
    >>> [(i.name, i.angle) for i in lower(circuit)]
    [('rx', a), ('cx', None)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import cirq
import numpy as np
import sympy

from qkeras.errors import UnsupportedGateError

__all__ = ["Instruction", "lower", "linear_terms", "NAMES"]

NAMES = ("rx", "ry", "rz", "h", "cz", "cx", "cphase", "rxx", "ryy", "rzz", "swap", "measure")

_ROTATIONS = {cirq.XPowGate: "rx", cirq.YPowGate: "ry", cirq.ZPowGate: "rz",
              cirq.XXPowGate: "rxx", cirq.YYPowGate: "ryy", cirq.ZZPowGate: "rzz",
              cirq.CZPowGate: "cphase"}
_FIXED = {cirq.HPowGate: "h", cirq.CXPowGate: "cx", cirq.SwapPowGate: "swap"}


@dataclasses.dataclass(frozen=True)
class Instruction:
    """One lowered operation: ``name`` on ``qubits`` with ``angle`` (radians) or a ``key``."""

    name: str
    qubits: tuple
    angle: float | sympy.Expr | None = None
    key: str | None = None


def _angle(exponent) -> float | sympy.Expr:
    if isinstance(exponent, sympy.Basic):
        return sympy.expand(sympy.pi * exponent).evalf()
    return float(np.pi * exponent)


def _is_one(exponent) -> bool:
    return not isinstance(exponent, sympy.Basic) and abs(float(exponent) - 1.0) < 1e-12


def _from_matrix(op: cirq.Operation) -> Iterator[Instruction]:
    if len(op.qubits) == 1:
        gate = cirq.PhasedXZGate.from_matrix(cirq.unitary(op))
        yield from _lower_op(gate.on(*op.qubits))
    elif len(op.qubits) == 2:
        for sub in cirq.two_qubit_matrix_to_cz_operations(*op.qubits, cirq.unitary(op),
                                                          allow_partial_czs=False):
            yield from _lower_op(sub)
    else:
        raise UnsupportedGateError(
            f"Cannot send {op} to a quantum processor: it acts on {len(op.qubits)} qubits and "
            "has no decomposition into one- and two-qubit gates. Decompose it with "
            "cirq.decompose before building the layer.")


def _lower_op(op: cirq.Operation) -> Iterator[Instruction]:
    gate, qubits = op.gate, tuple(op.qubits)
    if isinstance(gate, (cirq.IdentityGate, cirq.GlobalPhaseGate)):
        return
    if isinstance(gate, cirq.MeasurementGate):
        if any(gate.full_invert_mask()):
            raise UnsupportedGateError(f"Measurements with an invert mask are not supported: "
                                       f"{op}. Apply X gates before the measurement instead.")
        yield Instruction("measure", qubits, key=gate.key)
        return
    kind = next((k for k in (*_ROTATIONS, *_FIXED) if isinstance(gate, k)), None)
    if kind in _ROTATIONS:
        name = _ROTATIONS[kind]
        if name == "cphase" and _is_one(gate.exponent):
            yield Instruction("cz", qubits)
        else:
            yield Instruction(name, qubits, _angle(gate.exponent))
        return
    if kind in _FIXED and _is_one(gate.exponent):
        yield Instruction(_FIXED[kind], qubits)
        return
    if isinstance(gate, cirq.PhasedXPowGate):
        phase = _angle(gate.phase_exponent)
        yield Instruction("rz", qubits, -phase)
        yield Instruction("rx", qubits, _angle(gate.exponent))
        yield Instruction("rz", qubits, phase)
        return
    if isinstance(gate, cirq.PhasedXZGate):
        axis = _angle(gate.axis_phase_exponent)
        yield Instruction("rz", qubits, -axis)
        yield Instruction("rx", qubits, _angle(gate.x_exponent))
        yield Instruction("rz", qubits, axis + _angle(gate.z_exponent))
        return
    parts = cirq.decompose_once(op, default=None)
    if parts is not None:
        for sub in parts:
            yield from _lower_op(sub)
        return
    if cirq.is_parameterized(op) or not cirq.has_unitary(op):
        raise UnsupportedGateError(
            f"Cannot send {op} to a quantum processor: no rule lowers {type(gate).__name__} "
            "and it has no decomposition. Use rotations (rx, ry, rz, X**t ...), CZ, CNOT, "
            "SWAP or XX/YY/ZZ**t gates.")
    yield from _from_matrix(op)


def lower(circuit: cirq.AbstractCircuit) -> list[Instruction]:
    """Returns the instructions of ``circuit``, moment by moment.

    Args:
        circuit: A possibly parameterised circuit; exponents must be numbers or linear in
            the symbols.

    Returns:
        The instructions, in an order that respects the circuit's moments.

    Raises:
        UnsupportedGateError: For a gate with no lowering rule and no decomposition.

    Example:
        >>> q = cirq.LineQubit(0)
        >>> [i.name for i in lower(cirq.Circuit(cirq.H(q), cirq.measure(q, key="m")))]
        ['h', 'measure']
    """
    return [inst for op in circuit.all_operations() for inst in _lower_op(op)]


def linear_terms(angle: float | sympy.Expr) -> tuple[float, dict[str, float]]:
    """Splits an angle into ``(constant, {symbol name: coefficient})``.

    Args:
        angle: A number or a sympy expression linear in its symbols.

    Returns:
        The constant and the coefficient of each symbol.

    Raises:
        UnsupportedGateError: If ``angle`` is not linear in its symbols.

    Example:
        >>> a, b = sympy.symbols("a b")
        >>> linear_terms(2 * a - b + 0.5)
        (0.5, {'a': 2.0, 'b': -1.0})
    """
    if not isinstance(angle, sympy.Basic):
        return float(angle), {}
    symbols = sorted(angle.free_symbols, key=lambda s: s.name)
    try:
        poly = sympy.Poly(angle, *symbols) if symbols else None
    except sympy.PolynomialError:
        poly = None
    if poly is None and symbols:
        raise UnsupportedGateError(
            f"Gate angle {angle} is not linear in its symbols; a quantum processor takes "
            "angles of the form a * symbol + b. Rewrite the circuit's exponents.")
    if poly is None:
        return float(angle), {}
    if poly.total_degree() > 1:
        raise UnsupportedGateError(
            f"Gate angle {angle} is not linear in its symbols; a quantum processor takes "
            "angles of the form a * symbol + b. Rewrite the circuit's exponents.")
    coefficients = {s.name: float(poly.coeff_monomial(s)) for s in symbols}
    return float(poly.coeff_monomial(1)), coefficients


def _h(q) -> list[cirq.Operation]:
    return [cirq.rz(np.pi / 2)(q), cirq.rx(np.pi / 2)(q), cirq.rz(np.pi / 2)(q)]


def _cx(control, target) -> list[cirq.Operation]:
    return [*_h(target), cirq.CZ(control, target), *_h(target)]


def _rzz(angle, a, b) -> list[cirq.Operation]:
    return [*_cx(a, b), cirq.rz(angle)(b), *_cx(a, b)]


def _cz_ops(inst: Instruction) -> list[cirq.Operation]:
    q, angle = inst.qubits, inst.angle
    rules = {
        "rx": lambda: [cirq.rx(angle)(*q)],
        "ry": lambda: [cirq.rz(-np.pi / 2)(*q), cirq.rx(angle)(*q), cirq.rz(np.pi / 2)(*q)],
        "rz": lambda: [cirq.rz(angle)(*q)],
        "h": lambda: _h(*q),
        "cz": lambda: [cirq.CZ(*q)],
        "cx": lambda: _cx(*q),
        "cphase": lambda: [cirq.rz(angle / 2)(q[0]), cirq.rz(angle / 2)(q[1]),
                           *_rzz(-angle / 2, *q)],
        "rzz": lambda: _rzz(angle, *q),
        "rxx": lambda: [*_h(q[0]), *_h(q[1]), *_rzz(angle, *q), *_h(q[0]), *_h(q[1])],
        "ryy": lambda: [cirq.rx(np.pi / 2)(q[0]), cirq.rx(np.pi / 2)(q[1]), *_rzz(angle, *q),
                        cirq.rx(-np.pi / 2)(q[0]), cirq.rx(-np.pi / 2)(q[1])],
        "swap": lambda: [*_cx(*q), *_cx(q[1], q[0]), *_cx(*q)],
        "measure": lambda: [cirq.measure(*q, key=inst.key)],
    }
    return rules[inst.name]()


def to_cz(circuit: cirq.AbstractCircuit) -> cirq.Circuit:
    r"""Rewrites ``circuit`` with only ``rx``, ``rz``, ``CZ`` and measurements.

    The identities used (up to global phase): :math:`R_y(\theta) = R_z(\pi/2) R_x(\theta)
    R_z(-\pi/2)`, :math:`H = R_z(\pi/2) R_x(\pi/2) R_z(\pi/2)`, CNOT = :math:`(I\otimes H)
    CZ (I\otimes H)`, :math:`R_{zz}(\theta)` = CNOT :math:`(I\otimes R_z(\theta))` CNOT,
    :math:`R_{xx}`, :math:`R_{yy}` by a change of basis, CPHASE(φ) =
    :math:`R_{zz}(-\varphi/2) (R_z(\varphi/2)\otimes R_z(\varphi/2))`, SWAP = three CNOTs.

    Example:
        >>> q = cirq.LineQubit.range(2)
        >>> ops = to_cz(cirq.Circuit(cirq.CNOT(*q))).all_operations()
        >>> sorted({type(op.gate).__name__ for op in ops})
        ['CZPowGate', 'Rx', 'Rz']
    """
    return cirq.Circuit(op for inst in lower(circuit) for op in _cz_ops(inst))
