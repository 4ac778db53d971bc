"""Qubit placement: a layer's line or grid qubits on a device's connectivity and gates.

Each vendor places a circuit its own way (Cirq's ``RouteCQC`` and
``optimize_for_target_gateset`` for Google, Qiskit's preset pass manager for IBM, Cirq's
router and quilc-compatible native gates for Rigetti); :func:`place` returns the result
in one form, with the routed depth and the number of two-qubit gates.

Example:
    >>> import cirq
    >>> from qkeras import hardware
    >>> q = cirq.LineQubit.range(3)
    >>> circuit = cirq.Circuit(cirq.CNOT(q[0], q[2]), cirq.CNOT(q[0], q[1]))
    >>> placed = place(circuit, hardware.sampler("ibm:fake_manila", seed=1))
    >>> placed.respects(placed.coupling)
    True
"""

from __future__ import annotations

import dataclasses

import cirq

__all__ = ["Placement", "place", "summarise"]


@dataclasses.dataclass(frozen=True)
class Placement:
    """A circuit as a device runs it.

    Attributes:
        device: ``"vendor:device"``.
        circuit: The routed circuit in the device's native gates, on ``cirq.LineQubit``
            (IBM, Rigetti: the physical index) or ``cirq.GridQubit`` (Google) qubits.
        layout: Logical qubit -> physical qubit at the start of the circuit.
        depth: Moments of the routed circuit, measurements excluded.
        two_qubit_gates: Two-qubit gates of the routed circuit (SWAPs included, as the
            native gates they decompose into).
        coupling: The device's connected physical pairs (both orders).
        native: The vendor's own form of the circuit (a Qiskit ISA circuit, a pyquil
            ``Program``), or ``None``.
    """

    device: str
    circuit: cirq.Circuit
    layout: dict
    depth: int
    two_qubit_gates: int
    coupling: frozenset
    native: object = None

    def respects(self, coupling) -> bool:
        """Whether every two-qubit gate acts on a pair in ``coupling``."""
        pairs = {tuple(p) for p in coupling}
        return all(tuple(op.qubits) in pairs or tuple(op.qubits)[::-1] in pairs
                   for op in self.circuit.all_operations()
                   if len(op.qubits) == 2 and not cirq.is_measurement(op))


def summarise(device: str, circuit: cirq.Circuit, layout: dict, coupling, native=None
              ) -> Placement:
    """Builds a :class:`Placement`, counting depth and two-qubit gates of ``circuit``.

    Example:
        >>> q = cirq.LineQubit.range(2)
        >>> p = summarise("test:line", cirq.Circuit(cirq.CZ(*q), cirq.measure(*q)), {}, [q])
        >>> p.depth, p.two_qubit_gates
        (1, 1)
    """
    body = cirq.Circuit(op for op in circuit.all_operations() if not cirq.is_measurement(op))
    gates = sum(1 for op in body.all_operations() if len(op.qubits) == 2)
    pairs = frozenset(tuple(p) for p in coupling) | frozenset(tuple(p)[::-1] for p in coupling)
    return Placement(device, circuit, dict(layout), len(body), gates, pairs, native)


def place(circuit: cirq.AbstractCircuit, sampler) -> Placement:
    """Places ``circuit`` on the device of ``sampler``.

    Args:
        circuit: A layer's circuit (symbols allowed).
        sampler: A qkeras hardware sampler, or a ``"vendor:device"`` string.

    Returns:
        The :class:`Placement`.

    Example:
        >>> q = cirq.LineQubit.range(2)
        >>> place(cirq.Circuit(cirq.CNOT(*q)), "rigetti:9q-square-pyqvm").two_qubit_gates
        1
    """
    if isinstance(sampler, str):
        from qkeras.hardware import sampler as make_sampler

        sampler = make_sampler(sampler)
    return sampler.place(circuit)
