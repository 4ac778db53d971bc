"""Gate fusion: consecutive gates on few qubits become one matrix per sample.

Gates are merged greedily, in time order, into the last block that shares a qubit with
them, as long as the block stays within ``max_qubits`` qubits; a gate only moves earlier
past blocks on other qubits, so the product is unchanged. Single-qubit blocks left over
are then absorbed into the next block on their qubit. Global-phase gates
join the first block. A block keeps its gates (multiplied per sample at run time) and
the structure of their product: which entries depend on the symbol values and the
constant value of the others.

Example:
    >>> import cirq
    >>> from qkeras.backends._gates import parse
    >>> from qkeras.backends._unitary import FeatureTable
    >>> q = cirq.LineQubit.range(3)
    >>> circuit = cirq.Circuit(cirq.H.on_each(*q), cirq.CNOT(q[0], q[1]), cirq.CNOT(q[1], q[2]))
    >>> [b.qubits for b in fuse(parse(circuit, q, FeatureTable([])), max_qubits=2)]
    [(0, 1), (1, 2)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from qkeras.backends import _unitary
from qkeras.backends._unitary import GateMatrix

__all__ = ["Block", "fuse"]

Op = tuple[tuple[int, ...], GateMatrix]


@dataclasses.dataclass(frozen=True, eq=False)
class Block:
    """Gates on sorted qubit indices (0 most significant), applied as one matrix.

    Attributes:
        qubits: The sorted qubit indices.
        gates: The gates embedded in ``qubits``, in time order.
        free: Mask of the product's entries that depend on the symbol values.
        const: The product's other entries (zero where ``free``).
    """

    qubits: tuple[int, ...]
    gates: tuple[GateMatrix, ...]
    free: np.ndarray
    const: np.ndarray

    @property
    def dim(self) -> int:
        return self.const.shape[0]

    @property
    def parameterized(self) -> bool:
        return bool(self.free.any())


def _union(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    return tuple(a) + tuple(q for q in b if q not in a)


def _last_touching(blocks: list, qubits: Sequence[int], stop: int) -> int | None:
    for i in range(stop - 1, -1, -1):
        if set(blocks[i][0]).intersection(qubits):
            return i
    return None


def _absorb_single(blocks: list, max_qubits: int) -> list:
    """Moves each leftover single-qubit block into the next block on its qubit.

    (A single-qubit gate already joined the last earlier block on its qubit whenever that
    block was small enough, so only later blocks are left to try.)
    """
    i = 0
    while i < len(blocks):
        qubits, ops = blocks[i]
        later = [j for j in range(i + 1, len(blocks)) if qubits and qubits[0] in blocks[j][0]]
        if len(qubits) == 1 and later and len(blocks[later[0]][0]) <= max_qubits:
            blocks[later[0]][1][:0] = ops
            del blocks[i]
        else:
            i += 1
    return blocks


def _finish(qubits: Sequence[int], ops: Sequence[Op]) -> Block:
    target = tuple(sorted(qubits))
    gates = tuple(_unitary.embed(m, where, target) for where, m in ops)
    structure = (gates[0].free, np.where(gates[0].free, 0, gates[0].const))
    for g in gates[1:]:
        structure = _unitary.structure_product((g.free, np.where(g.free, 0, g.const)),
                                               structure)
    return Block(target, gates, *structure)


def fuse(ops: Sequence[Op], *, max_qubits: int = 2) -> list[Block]:
    """Fuses gates into blocks of at most ``max_qubits`` qubits (larger gates stay alone).

    Args:
        ops: ``(qubit indices, matrix)`` pairs in time order, as ``_gates.parse`` gives.
        max_qubits: The most qubits a fused block may act on.

    Returns:
        The blocks in time order.
    """
    blocks: list[list] = []
    phases: list[Op] = []
    for qubits, m in ops:
        if not qubits:
            phases.append((qubits, m))
            continue
        last = _last_touching(blocks, qubits, len(blocks))
        if last is not None and len(_union(blocks[last][0], qubits)) <= max_qubits:
            blocks[last][0] = _union(blocks[last][0], qubits)
            blocks[last][1].append((qubits, m))
        else:
            blocks.append([tuple(qubits), [(qubits, m)]])
    if max_qubits > 1:
        blocks = _absorb_single(blocks, max_qubits)
    if phases:
        if not blocks:
            blocks.append([(), []])
        blocks[0][1].extend(phases)
    return [_finish(qubits, ops) for qubits, ops in blocks]
