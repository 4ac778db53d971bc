r"""Trainable ansatze: parameterised circuits whose symbols are the layer's weights.

Each ansatz is a pure function of the qubits, the number of layers and options that
returns a ``cirq.Circuit`` and its ordered weight symbols ``w0, w1, ...``; the matching
``*_weight_count`` helper sizes the weights without building anything.

Example:
    >>> import cirq
    >>> circuit, symbols = hardware_efficient(cirq.LineQubit.range(3), layers=2)
    >>> len(symbols) == hardware_efficient_weight_count(3, 2)
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cirq
import sympy

from qkeras.errors import ConfigurationError, unknown_name

__all__ = ["hardware_efficient", "hardware_efficient_weight_count", "entangling_pairs",
           "strongly_entangling", "strongly_entangling_weight_count", "ANSATZE",
           "weight_count"]

_ROTATIONS = {"x": cirq.rx, "y": cirq.ry, "z": cirq.rz}
_ENTANGLERS = {"cnot": cirq.CNOT, "cz": cirq.CZ}


def _check_layers(layers: int) -> None:
    if not isinstance(layers, int) or layers < 1:
        raise ConfigurationError(f"layers must be a positive integer; got {layers!r}.")


def entangling_pairs(n_qubits: int, pattern: str = "chain") -> list[tuple[int, int]]:
    """Returns the (control, target) index pairs of an entangling pattern.

    Args:
        n_qubits: Number of qubits.
        pattern: ``"chain"`` (i, i+1), ``"ring"`` (chain plus (n-1, 0) for n > 2) or
            ``"all"`` (every i < j).

    Returns:
        The pairs, in the order the gates are applied.

    Example:
        >>> entangling_pairs(3, "ring")
        [(0, 1), (1, 2), (2, 0)]
    """
    if pattern == "chain":
        return [(i, i + 1) for i in range(n_qubits - 1)]
    if pattern == "ring":
        extra = [(n_qubits - 1, 0)] if n_qubits > 2 else []
        return entangling_pairs(n_qubits, "chain") + extra
    if pattern == "all":
        return list(itertools.combinations(range(n_qubits), 2))
    raise unknown_name("entangling pattern", pattern, ["chain", "ring", "all"])


def hardware_efficient_weight_count(n_qubits: int, layers: int, *,
                                    rotations: Sequence[str] = ("y", "z")) -> int:
    """Returns the number of weights of :func:`hardware_efficient`.

    Example:
        >>> hardware_efficient_weight_count(8, 4)
        64
    """
    return n_qubits * layers * len(rotations)


def hardware_efficient(qubits: Sequence[cirq.Qid], layers: int = 1, *,
                       rotations: Sequence[str] = ("y", "z"), entangler: str = "cnot",
                       pattern: str = "chain", prefix: str = "w",
                       ) -> tuple[cirq.Circuit, list[sympy.Symbol]]:
    r"""Hardware-efficient ansatz (Kandala et al., Nature 549, 242 (2017)).

    Layer :math:`l` applies, on every qubit :math:`i`, the rotations
    :math:`R_{a_k}(w_{l,i,k})` for each axis :math:`a_k` in ``rotations``, then the
    two-qubit ``entangler`` (CNOT or CZ) on every pair of ``pattern``.
    Uses ``n * layers * len(rotations)`` symbols, ordered (layer, qubit, rotation)::

        0: ───Ry(w0)───Rz(w1)───@───────
                                │
        1: ───Ry(w2)───Rz(w3)───X───@───
                                    │
        2: ───Ry(w4)───Rz(w5)───────X───

    Args:
        qubits: The qubits.
        layers: Number of layers.
        rotations: Rotation axes per qubit and layer, from ``"x"``, ``"y"``, ``"z"``.
        entangler: ``"cnot"`` or ``"cz"``.
        pattern: Entangling pattern, see :func:`entangling_pairs`.
        prefix: Name prefix of the weight symbols.

    Returns:
        The circuit and its weight symbols.

    Raises:
        ConfigurationError: For an unknown rotation, entangler or pattern, or
            ``layers < 1``.

    Example:
        >>> circuit, symbols = hardware_efficient(cirq.LineQubit.range(2), layers=1)
        >>> [str(s) for s in symbols]
        ['w0', 'w1', 'w2', 'w3']
    """
    _check_layers(layers)
    gates = []
    for axis in rotations:
        if axis not in _ROTATIONS:
            raise unknown_name("rotation", axis, _ROTATIONS)
        gates.append(_ROTATIONS[axis])
    if entangler not in _ENTANGLERS:
        raise unknown_name("entangler", entangler, _ENTANGLERS)
    if not gates:
        raise ConfigurationError("hardware_efficient needs at least one rotation axis.")
    pairs = entangling_pairs(len(qubits), pattern)
    symbols = [sympy.Symbol(f"{prefix}{i}")
               for i in range(hardware_efficient_weight_count(len(qubits), layers,
                                                              rotations=rotations))]
    circuit, it = cirq.Circuit(), iter(symbols)
    for _ in range(layers):
        circuit.append((gate(next(it)).on(q) for q in qubits for gate in gates),
                       strategy=cirq.InsertStrategy.NEW_THEN_INLINE)
        circuit.append(_ENTANGLERS[entangler](qubits[i], qubits[j]) for i, j in pairs)
    return circuit, symbols


def strongly_entangling_weight_count(n_qubits: int, layers: int) -> int:
    """Returns the number of weights of :func:`strongly_entangling` (``3 * n * layers``).

    Example:
        >>> strongly_entangling_weight_count(4, 2)
        24
    """
    return 3 * n_qubits * layers


def strongly_entangling(qubits: Sequence[cirq.Qid], layers: int = 1, *,
                        ranges: Sequence[int] | None = None, prefix: str = "w",
                        ) -> tuple[cirq.Circuit, list[sympy.Symbol]]:
    r"""Strongly entangling ansatz (Schuld et al., arXiv:1804.00633).

    Layer :math:`l` applies :math:`\mathrm{Rot}(\phi,\theta,\omega) = R_z(\omega) R_y(\theta)
    R_z(\phi)` to each qubit :math:`i`, then :math:`\mathrm{CNOT}(i, (i + r_l) \bmod n)` for
    every :math:`i` (for :math:`n > 1`). The default range is :math:`r_l = (l \bmod (n-1)) + 1`.
    Uses ``3 * n * layers`` symbols (:func:`strongly_entangling_weight_count`), ordered
    (layer, qubit, angle) with angles :math:`(\phi, \theta, \omega)`.

    Args:
        qubits: The qubits.
        layers: Number of layers.
        ranges: One range per layer, each in ``1 .. n-1``.
        prefix: Name prefix of the weight symbols.

    Returns:
        The circuit and its weight symbols.

    Raises:
        ConfigurationError: If ``ranges`` has the wrong length or a range out of bounds.

    Example:
        >>> circuit, symbols = strongly_entangling(cirq.LineQubit.range(2), layers=1)
        >>> [str(s) for s in symbols[:3]]
        ['w0', 'w1', 'w2']
    """
    _check_layers(layers)
    n = len(qubits)
    if ranges is None:
        ranges = [(layer % (n - 1)) + 1 if n > 1 else 0 for layer in range(layers)]
    ranges = list(ranges)
    if len(ranges) != layers or (n > 1 and not all(1 <= r < n for r in ranges)):
        raise ConfigurationError(
            f"ranges must hold {layers} values in 1..{n - 1} (one per layer); got {ranges}.")
    symbols = [sympy.Symbol(f"{prefix}{i}")
               for i in range(strongly_entangling_weight_count(n, layers))]
    circuit, it = cirq.Circuit(), iter(symbols)
    for r in ranges:
        for q in qubits:
            phi, theta, omega = next(it), next(it), next(it)
            circuit.append([cirq.rz(phi).on(q), cirq.ry(theta).on(q), cirq.rz(omega).on(q)])
        if n > 1:
            circuit.append(cirq.CNOT(qubits[i], qubits[(i + r) % n]) for i in range(n))
    return circuit, symbols


#: Ansatz name -> (builder, weight count for (n_qubits, layers)).
ANSATZE = {
    "hardware_efficient": (hardware_efficient, hardware_efficient_weight_count),
    "strongly_entangling": (strongly_entangling, strongly_entangling_weight_count),
}


def weight_count(ansatz: str, n_qubits: int, layers: int) -> int:
    """Returns how many weights a named ansatz has with its default options.

    Example:
        >>> weight_count("strongly_entangling", 2, 3)
        18
    """
    if ansatz not in ANSATZE:
        raise unknown_name("ansatz", ansatz, ANSATZE)
    return ANSATZE[ansatz][1](n_qubits, layers)
