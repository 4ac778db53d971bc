r"""Quantum convolutional neural network blocks (Cong, Choi & Lukin, Nat. Phys. 15, 1273 (2019)).

The blocks follow the parameterisation of TensorFlow Quantum's QCNN tutorial: a
convolution applies one shared two-qubit unitary (15 weights) to neighbouring pairs, a
pooling step (6 weights) measures out, coherently, half of the qubits into the other half.
Pure functions of the qubits that return a ``cirq.Circuit`` and its ordered weight
symbols ``w0, w1, ...``. Every gate is ``X**s``, ``Y**s``, ``Z**s``, ``XX**s``, ``YY**s``,
``ZZ**s`` or ``CNOT``, so both the ``"tfq"`` and ``"statevector"`` backends run them.

Example:
    >>> import cirq
    >>> circuit, symbols, readout = qcnn(cirq.LineQubit.range(8))
    >>> len(symbols), readout
    (63, cirq.LineQubit(7))
"""

from __future__ import annotations

from collections.abc import Sequence

import cirq
import sympy

from qkeras.errors import ConfigurationError

__all__ = ["cluster_state", "one_qubit_unitary", "two_qubit_unitary", "two_qubit_pool",
           "convolution", "pooling", "qcnn", "qcnn_weight_count",
           "CONVOLUTION_WEIGHTS", "POOLING_WEIGHTS"]

#: Weights of one convolution block (shared by all of its pairs).
CONVOLUTION_WEIGHTS = 15
#: Weights of one pooling block (shared by all of its pairs).
POOLING_WEIGHTS = 6


def _check(symbols: Sequence, count: int, what: str) -> None:
    if len(symbols) != count:
        raise ConfigurationError(f"{what} needs exactly {count} symbols; got {len(symbols)}.")


def cluster_state(qubits: Sequence[cirq.Qid]) -> cirq.Circuit:
    r"""Prepares the 1-D cluster state :math:`\prod_i CZ_{i,i+1} H^{\otimes n}|0\rangle`.

    The ring closes with :math:`CZ_{n-1,0}` (as in TFQ's QCNN tutorial) for more than two
    qubits.

    Args:
        qubits: At least two qubits.

    Returns:
        The preparation circuit.

    Raises:
        ConfigurationError: For fewer than two qubits.

    Example:
        >>> len(list(cluster_state(cirq.LineQubit.range(4)).all_operations()))
        8
    """
    qubits = list(qubits)
    if len(qubits) < 2:
        raise ConfigurationError(f"cluster_state needs at least 2 qubits; got {len(qubits)}.")
    circuit = cirq.Circuit(cirq.H.on_each(*qubits))
    ring = qubits[1:] + [qubits[0]] if len(qubits) > 2 else qubits[1:]
    for this, nxt in zip(qubits, ring):
        circuit.append(cirq.CZ(this, nxt))
    return circuit


def one_qubit_unitary(qubit: cirq.Qid, symbols: Sequence[sympy.Symbol]) -> cirq.Circuit:
    r"""A general single-qubit rotation :math:`Z^{s_2} Y^{s_1} X^{s_0}` (3 symbols).

    Example:
        >>> s = sympy.symbols("a b c")
        >>> print(one_qubit_unitary(cirq.LineQubit(0), s))
        0: ───X^a───Y^b───Z^c───
    """
    _check(symbols, 3, "one_qubit_unitary")
    return cirq.Circuit(cirq.X(qubit) ** symbols[0], cirq.Y(qubit) ** symbols[1],
                        cirq.Z(qubit) ** symbols[2])


def two_qubit_unitary(first: cirq.Qid, second: cirq.Qid,
                      symbols: Sequence[sympy.Symbol]) -> cirq.Circuit:
    r"""A two-qubit unitary with 15 symbols, the QCNN convolution kernel.

    :math:`(u_{s_{9..11}} \otimes u_{s_{12..14}})\,XX^{s_8}\,YY^{s_7}\,ZZ^{s_6}\,
    (u_{s_{0..2}} \otimes u_{s_{3..5}})`, with :math:`u` from :func:`one_qubit_unitary`:
    single-qubit rotations around the three two-body Pauli interactions, which span the
    two-qubit unitaries up to the reach of one layer.

    Example:
        >>> symbols = sympy.symbols("s0:15")
        >>> circuit = two_qubit_unitary(*cirq.LineQubit.range(2), symbols)
        >>> len(list(circuit.all_operations()))
        15
    """
    _check(symbols, CONVOLUTION_WEIGHTS, "two_qubit_unitary")
    circuit = one_qubit_unitary(first, symbols[0:3]) + one_qubit_unitary(second, symbols[3:6])
    circuit.append([cirq.ZZ(first, second) ** symbols[6], cirq.YY(first, second) ** symbols[7],
                    cirq.XX(first, second) ** symbols[8]])
    circuit += one_qubit_unitary(first, symbols[9:12]) + one_qubit_unitary(second,
                                                                             symbols[12:])
    return circuit


def two_qubit_pool(source: cirq.Qid, sink: cirq.Qid,
                   symbols: Sequence[sympy.Symbol]) -> cirq.Circuit:
    r"""Pools ``source`` into ``sink`` (6 symbols): a coherent stand-in for measure-and-correct.

    :math:`u_{s_{0..2}}(\mathrm{sink})^\dagger\,\mathrm{CNOT}_{\mathrm{source}\to\mathrm{sink}}
    \,(u_{s_{3..5}}(\mathrm{source}) \otimes u_{s_{0..2}}(\mathrm{sink}))`: both qubits are
    rotated into a learnt basis, the source controls a flip of the sink, and the sink's
    rotation is undone. Afterwards only ``sink`` is used.

    Example:
        >>> circuit = two_qubit_pool(*cirq.LineQubit.range(2), sympy.symbols("p0:6"))
        >>> len(list(circuit.all_operations()))
        10
    """
    _check(symbols, POOLING_WEIGHTS, "two_qubit_pool")
    sink_basis = one_qubit_unitary(sink, symbols[0:3])
    source_basis = one_qubit_unitary(source, symbols[3:6])
    circuit = sink_basis + source_basis
    circuit.append(cirq.CNOT(source, sink))
    return circuit + cirq.inverse(sink_basis)


def convolution(qubits: Sequence[cirq.Qid], symbols: Sequence[sympy.Symbol]) -> cirq.Circuit:
    """A convolution block: :func:`two_qubit_unitary` (shared symbols) on neighbouring pairs.

    First on pairs (0, 1), (2, 3), ..., then on (1, 2), (3, 4), ..., (n-1, 0), as in TFQ's
    tutorial, so every qubit meets both neighbours on the ring.

    Example:
        >>> circuit = convolution(cirq.LineQubit.range(4), sympy.symbols("s0:15"))
        >>> len(list(circuit.all_operations())) // 15
        4
    """
    qubits = list(qubits)
    circuit = cirq.Circuit()
    for first, second in zip(qubits[0::2], qubits[1::2]):
        circuit += two_qubit_unitary(first, second, symbols)
    for first, second in zip(qubits[1::2], qubits[2::2] + [qubits[0]]):
        circuit += two_qubit_unitary(first, second, symbols)
    return circuit


def pooling(sources: Sequence[cirq.Qid], sinks: Sequence[cirq.Qid],
            symbols: Sequence[sympy.Symbol]) -> cirq.Circuit:
    """A pooling block: :func:`two_qubit_pool` (shared symbols) from each source to its sink.

    Example:
        >>> q = cirq.LineQubit.range(4)
        >>> len(list(pooling(q[:2], q[2:], sympy.symbols("p0:6")).all_operations()))
        20
    """
    if len(sources) > len(sinks):
        raise ConfigurationError(f"pooling needs at least as many sinks as sources; got "
                                 f"{len(sources)} sources and {len(sinks)} sinks.")
    circuit = cirq.Circuit()
    for source, sink in zip(sources, sinks):
        circuit += two_qubit_pool(source, sink, symbols)
    return circuit


def qcnn_weight_count(n_qubits: int) -> int:
    """Returns the weights of :func:`qcnn` on ``n_qubits``: 21 per halving level.

    Example:
        >>> qcnn_weight_count(8), qcnn_weight_count(5)
        (63, 63)
    """
    levels, active = 0, n_qubits
    while active > 1:
        levels, active = levels + 1, active - active // 2
    return levels * (CONVOLUTION_WEIGHTS + POOLING_WEIGHTS)


def qcnn(qubits: Sequence[cirq.Qid], *, prefix: str = "w",
         ) -> tuple[cirq.Circuit, list[sympy.Symbol], cirq.Qid]:
    r"""The QCNN of Cong, Choi & Lukin: convolve and pool until one qubit is left.

    With :math:`m` active qubits a level applies :func:`convolution` to them, then
    :func:`pooling` from the first :math:`\lfloor m/2 \rfloor` into the last
    :math:`\lceil m/2 \rceil`, which stay active. For 8 qubits this is TFQ's tutorial model
    (levels on 8, 4, 2 qubits; 63 symbols). Read out the returned qubit, e.g. with
    :math:`Z`. Symbols are ordered level by level, convolution before pooling.

    Args:
        qubits: At least two qubits.
        prefix: Name prefix of the weight symbols.

    Returns:
        The circuit, its weight symbols and the readout qubit.

    Raises:
        ConfigurationError: For fewer than two qubits.

    Example:
        >>> circuit, symbols, readout = qcnn(cirq.LineQubit.range(4))
        >>> [str(s) for s in symbols[:2]], len(symbols), readout
        (['w0', 'w1'], 42, cirq.LineQubit(3))
    """
    active = list(qubits)
    if len(active) < 2:
        raise ConfigurationError(f"qcnn needs at least 2 qubits; got {len(active)}.")
    symbols = [sympy.Symbol(f"{prefix}{i}") for i in range(qcnn_weight_count(len(active)))]
    circuit, start = cirq.Circuit(), 0
    while len(active) > 1:
        conv = symbols[start:start + CONVOLUTION_WEIGHTS]
        pool = symbols[start + CONVOLUTION_WEIGHTS:start + CONVOLUTION_WEIGHTS +
                       POOLING_WEIGHTS]
        half = len(active) // 2
        circuit += convolution(active, conv)
        circuit += pooling(active[:half], active[half:], pool)
        active, start = active[half:], start + CONVOLUTION_WEIGHTS + POOLING_WEIGHTS
    return circuit, symbols, active[0]
