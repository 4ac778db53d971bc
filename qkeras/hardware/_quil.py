r"""Cirq -> Quil: circuits in Rigetti's native gates, as pyquil programs.

Rigetti's processors run ``RX(±π/2)``, ``RX(±π)``, ``RZ(θ)`` (a frame change, any angle)
and a two-qubit entangler; quilc accepts ``CZ`` everywhere. A circuit is rewritten in
``rx``/``rz``/``CZ`` (:func:`qkeras.hardware._lower.to_cz`), then each ``rx(θ)`` with
``θ`` not a multiple of π/2 becomes, in time order,

.. math:: R_z(-\pi/2)\, R_x(-\pi/2)\, R_z(\theta)\, R_x(\pi/2)\, R_z(\pi/2) = R_x(\theta).

Symbols become entries of one classical memory region, ``DECLARE theta REAL[n]``, so a
program is compiled once and run with one memory map per parameter set.

Example:
    >>> import cirq, sympy
    >>> q = cirq.LineQubit(0)
    >>> circuit = cirq.Circuit(cirq.rx(sympy.Symbol("a"))(q), cirq.measure(q, key="m"))
    >>> program, regions, names = to_quil(native(circuit))
    >>> print(program.out().splitlines()[2])
    RZ(-1.5707963267948966) 0
    >>> regions, names
    ({'m': 'ro'}, ['a'])
"""

from __future__ import annotations

import math

import cirq
import numpy as np
import sympy

from qkeras.hardware._lower import linear_terms, to_cz

__all__ = ["native", "to_quil", "MEMORY"]

#: Name of the classical memory region that holds the symbols' values.
MEMORY = "theta"

_HALF = np.pi / 2


def _fixed_rx(angle) -> float | None:
    """Returns ``angle`` wrapped to (-π, π] if it is a native RX angle (k·π/2), else None."""
    if isinstance(angle, sympy.Basic):
        return None
    wrapped = math.remainder(float(angle), 2 * np.pi)
    k = round(wrapped / _HALF)
    if abs(wrapped - k * _HALF) < 1e-9:
        return (k * _HALF) if k != -2 else np.pi
    return None


def native(circuit: cirq.AbstractCircuit) -> cirq.Circuit:
    """Rewrites ``circuit`` in Rigetti-native gates: RX(k·π/2), RZ(θ), CZ, measurements.

    Example:
        >>> q = cirq.LineQubit(0)
        >>> ops = native(cirq.Circuit(cirq.rx(0.3)(q))).all_operations()
        >>> [f"{type(op.gate).__name__}({op.gate._rads:.2f})" for op in ops]
        ['Rz(-1.57)', 'Rx(-1.57)', 'Rz(0.30)', 'Rx(1.57)', 'Rz(1.57)']
    """
    ops = []
    for op in to_cz(circuit).all_operations():
        if isinstance(op.gate, cirq.Rx):
            angle = op.gate._rads
            fixed = _fixed_rx(angle)
            if fixed is not None:
                if fixed != 0:
                    ops.append(cirq.rx(fixed)(*op.qubits))
                continue
            q = op.qubits[0]
            ops += [cirq.rz(-_HALF)(q), cirq.rx(-_HALF)(q), cirq.rz(angle)(q), cirq.rx(_HALF)(q),
                    cirq.rz(_HALF)(q)]
        else:
            ops.append(op)
    return cirq.Circuit(ops)


def _quil_angle(angle, names: list[str]):
    from pyquil.quilatom import MemoryReference

    constant, coefficients = linear_terms(angle)
    value = constant
    for name, coefficient in coefficients.items():
        if name not in names:
            names.append(name)
        value = value + coefficient * MemoryReference(MEMORY, names.index(name))
    return value


def to_quil(circuit: cirq.AbstractCircuit, index: dict | None = None):
    """Translates a circuit in native gates (see :func:`native`) to a pyquil ``Program``.

    Args:
        circuit: Native ``rx``/``rz``/``CZ``/measurement circuit, possibly symbolic.
        index: Cirq qubit -> Quil qubit number; default ``LineQubit(i) -> i`` or the
            sorted position.

    Returns:
        ``(program, regions, names)``: the program, the memory region read out for each
        measurement key, and the symbols in the order of ``theta``.

    Example:
        >>> q = cirq.LineQubit.range(2)
        >>> program, _, _ = to_quil(cirq.Circuit(cirq.CZ(*q)))
        >>> print(program.out().strip())
        CZ 0 1
    """
    from pyquil import Program
    from pyquil.gates import CZ, MEASURE, RX, RZ

    if index is None:
        qubits = sorted(circuit.all_qubits())
        lines = all(isinstance(q, cirq.LineQubit) for q in qubits)
        index = {q: (q.x if lines else i) for i, q in enumerate(qubits)}
    body, names, regions, reads = Program(), [], {}, []
    for op in circuit.all_operations():
        wires = [index[q] for q in op.qubits]
        if cirq.is_measurement(op):
            key = cirq.measurement_key_name(op)
            regions.setdefault(key, "ro" if not regions else f"ro{len(regions)}")
            reads.append((regions[key], wires))
        elif isinstance(op.gate, cirq.CZPowGate):
            body += CZ(*wires)
        elif isinstance(op.gate, cirq.Rx):
            body += RX(_quil_angle(op.gate._rads, names), *wires)
        elif isinstance(op.gate, cirq.Rz):
            body += RZ(_quil_angle(op.gate._rads, names), *wires)
        else:
            from qkeras.errors import UnsupportedGateError

            raise UnsupportedGateError(f"{op} is not a native Rigetti gate; pass the circuit "
                                       "through native() first.")
    program = Program()
    if names:
        program.declare(MEMORY, "REAL", len(names))
    sizes: dict[str, int] = {}
    for region, wires in reads:
        sizes[region] = sizes.get(region, 0) + len(wires)
    declared = {region: program.declare(region, "BIT", size) for region, size in sizes.items()}
    program += body
    filled = dict.fromkeys(sizes, 0)
    for region, wires in reads:
        for wire in wires:
            program += MEASURE(wire, declared[region][filled[region]])
            filled[region] += 1
    return program, regions, names
