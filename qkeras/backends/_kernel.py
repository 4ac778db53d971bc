r"""State evolution in core TensorFlow ops, with an adjoint-method gradient.

The state is a ``(batch, 2**n)`` complex64 tensor, qubit 0 the most significant bit. A
block on sorted qubits :math:`p_1 < \dots < p_k` (:math:`k \le 3`) reshapes the state to
``(batch, A_0, 2, A_1, ..., 2, A_k)`` (at most 8 dimensions), unstacks its :math:`2^k`
slices :math:`\phi_j`, forms :math:`\phi'_i = \sum_j U_{ij}\,\phi_j` with structural zeros
skipped, constants folded in and identity rows left alone, and stacks the slices back.
Larger blocks split along three qubits at a time.

The gradient is the adjoint method: from the final state :math:`\psi` and the incoming
gradient :math:`g = \partial L/\partial\psi^*`, each block is undone backwards,
:math:`\phi = U^\dagger\psi`, :math:`g \leftarrow U^\dagger g` (two independent chains,
which XLA runs on two cores), and the gradient of its matrix is
:math:`\sum g\,\phi^\dagger`, one einsum. Memory stays at a few states however deep the
circuit.

On a CPU, from ``LANE_MIN_QUBITS`` the batch is split into independent lanes (one per
core, as XLA's CPU runtime runs each op on one thread but independent ops concurrently),
and from ``CHUNK_MIN_QUBITS`` each lane is evolved in chunks of samples whose states fit
in cache (a ``tf.map_fn``). Both thresholds come from ``scripts/bench/backends.py``.

Example:
    >>> import cirq, tensorflow as tf
    >>> from qkeras.backends._fusion import fuse
    >>> from qkeras.backends._gates import parse
    >>> from qkeras.backends._unitary import FeatureTable
    >>> q = cirq.LineQubit.range(2)
    >>> blocks = fuse(parse(cirq.Circuit(cirq.H(q[0]), cirq.CNOT(*q)), q, FeatureTable([])))
    >>> psi = evolve(blocks, 2, [], [None], tf.constant(1))
    >>> (abs(psi.numpy()) ** 2).round(3)
    array([[0.5, 0. , 0. , 0.5]], dtype=float32)
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from qkeras.backends._fusion import Block
from qkeras.backends._unitary import TOLERANCE

__all__ = ["evolve", "apply", "chunk_size", "lanes"]

#: Amplitudes evolved together (a cache-sized working set) for large registers.
CHUNK_AMPLITUDES: int | None = 2**17
#: Smallest register evolved in chunks of samples.
CHUNK_MIN_QUBITS = 14
#: Independent chains the batch is split into (``None``: see :func:`lanes`).
LANES: int | None = None
#: Smallest register split into lanes.
LANE_MIN_QUBITS = 12
#: Most qubits split off with one reshape (1 + 2k + 1 <= 8 dimensions).
_SPLIT_QUBITS = 3


def _shape(n: int, qubits: Sequence[int]) -> list[int]:
    shape, prev = [-1], 0
    for p in qubits:
        shape += [2 ** (p - prev), 2]
        prev = p + 1
    return shape + [2 ** (n - prev)]


def _split(psi: tf.Tensor, n: int, qubits: Sequence[int]) -> list[tf.Tensor]:
    """The ``2**k`` slices of ``psi`` along ``qubits``, in matrix-index order."""
    head, tail = qubits[:_SPLIT_QUBITS], qubits[_SPLIT_QUBITS:]
    parts = [tf.reshape(psi, _shape(n, head))]
    for j in range(len(head)):
        parts = [half for part in parts for half in tf.unstack(part, axis=2 + j)]
    if not tail:
        return parts
    m = n - len(head)
    tail = [p - len(head) for p in tail]
    return [s for part in parts for s in _split(tf.reshape(part, [-1, 2**m]), m, tail)]


def _merge(rows: list[tf.Tensor], n: int, qubits: Sequence[int]) -> tf.Tensor:
    """Inverse of :func:`_split`."""
    head, tail = qubits[:_SPLIT_QUBITS], qubits[_SPLIT_QUBITS:]
    if tail:
        m, size = n - len(head), 2 ** len(tail)
        inner = [p - len(head) for p in tail]
        parts_shape = [-1] + _shape(n, head)[1::2]
        rows = [tf.reshape(_merge(rows[i:i + size], m, inner), parts_shape)
                for i in range(0, len(rows), size)]
    for j in reversed(range(len(head))):
        rows = [tf.stack(rows[i:i + 2], axis=2 + j) for i in range(0, len(rows), 2)]
    return tf.reshape(rows[0], [-1, 2**n])


def _scale(c: complex, part: tf.Tensor) -> tf.Tensor:
    if abs(c - 1) < TOLERANCE:
        return part
    if abs(c + 1) < TOLERANCE:
        return -part
    return tf.constant(c, tf.complex64) * part


def apply(psi: tf.Tensor, n: int, block: Block, matrix: tf.Tensor | None, *,
          adjoint: bool = False) -> tf.Tensor:
    """Applies ``block`` (or its adjoint) to ``psi``.

    Args:
        psi: ``(batch, 2**n)`` states.
        n: Number of qubits.
        block: The block; its structure says which entries are zero, one or free.
        matrix: ``(batch, d, d)`` matrix of a parameterised block, else ``None``.
        adjoint: Apply the conjugate transpose.
    """
    free, const = block.free, block.const
    if adjoint:
        free, const = free.T, const.conj().T
    parts = _split(psi, n, block.qubits)
    d = block.dim
    if matrix is not None:
        # The adjoint reads entry (j, i), conjugated: no transpose op in the graph.
        matrix = tf.math.conj(matrix) if adjoint else matrix
        rank = parts[0].shape.rank
        coefficients = tf.unstack(tf.reshape(matrix, [-1, d * d] + [1] * (rank - 1)), axis=1)
    rows = []
    for i in range(d):
        terms = []
        for j in range(d):
            if free[i, j]:
                terms.append(coefficients[j * d + i if adjoint else i * d + j] * parts[j])
            elif abs(const[i, j]) > TOLERANCE:
                terms.append(_scale(const[i, j], parts[j]))
        rows.append(tf.add_n(terms) if terms else tf.zeros_like(parts[0]))
    return _merge(rows, n, block.qubits)


def _matrix_gradient(block: Block, g: tf.Tensor, phi: tf.Tensor, n: int) -> tf.Tensor:
    r"""``dL/dU^* = sum_rest g phi^dagger`` on the free entries, ``(batch, d, d)``.

    One einsum on the reshaped states (XLA picks the layouts of the contraction); blocks
    on more than 3 qubits stack their slices instead.
    """
    k, d = len(block.qubits), block.dim
    if k <= _SPLIT_QUBITS:
        rest, left, right = "ACEG", "ikm", "jln"
        lhs = "z" + "".join(rest[j] + left[j] for j in range(k)) + rest[k]
        rhs = "z" + "".join(rest[j] + right[j] for j in range(k)) + rest[k]
        shape = _shape(n, block.qubits)
        outer = tf.einsum(f"{lhs},{rhs}->z{left[:k]}{right[:k]}", tf.reshape(g, shape),
                          tf.math.conj(tf.reshape(phi, shape)))
    else:
        front_g = tf.reshape(tf.stack(_split(g, n, block.qubits), axis=1), [-1, d, 2 ** (n - k)])
        front_phi = tf.stack(_split(phi, n, block.qubits), axis=1)
        outer = tf.matmul(front_g, tf.reshape(front_phi, [-1, d, 2 ** (n - k)]), adjoint_b=True)
    return tf.reshape(outer, [-1, d, d]) * block.free.astype(np.complex64)


def _initial_state(n: int, batch_size: tf.Tensor) -> tf.Tensor:
    ones = tf.ones(tf.stack([batch_size, 1]), tf.complex64)
    return tf.pad(ones, [[0, 0], [0, 2**n - 1]])


def _on_gpu() -> bool:
    return bool(tf.config.list_logical_devices("GPU"))


def chunk_size(n: int) -> int | None:
    """Samples evolved together so that their states fit in a CPU cache.

    Returns:
        The chunk size, or ``None`` (the whole batch at once) for registers under
        ``CHUNK_MIN_QUBITS`` and on a GPU, which wants all the parallel work it can get.
    """
    if CHUNK_AMPLITUDES is None or n < CHUNK_MIN_QUBITS or _on_gpu():
        return None
    return max(1, CHUNK_AMPLITUDES // 2**n)


def _chunks(t: tf.Tensor, count: tf.Tensor, chunk: int) -> tf.Tensor:
    """``t`` zero-padded along axis 0 to ``count * chunk`` rows, as ``(count, chunk, ...)``."""
    t = tf.pad(t, [[0, count * chunk - tf.shape(t)[0]]] + [[0, 0]] * (t.shape.rank - 1))
    return tf.reshape(t, tf.concat([[count, chunk], tf.shape(t)[1:]], 0))


def _matrices(group_values: Sequence[tf.Tensor], slots) -> list[tf.Tensor | None]:
    per_group = [tf.unstack(g, axis=1) for g in group_values]
    return [None if s is None else per_group[s[0]][s[1]] for s in slots]


def _forward(blocks, n, slots, group_values, size):
    psi = _initial_state(n, size)
    for block, matrix in zip(blocks, _matrices(group_values, slots)):
        psi = apply(psi, n, block, matrix)
    return psi


def _backward(blocks, n, slots, group_values, psi, g):
    """Gradients of the group matrices; ``psi`` and ``g`` are undone as separate chains."""
    grads, matrices = {}, _matrices(group_values, slots)
    for i in reversed(range(len(blocks))):
        phi = apply(psi, n, blocks[i], matrices[i], adjoint=True)
        if matrices[i] is not None:
            grads[slots[i]] = _matrix_gradient(blocks[i], g, phi, n)
            g = apply(g, n, blocks[i], matrices[i], adjoint=True)
        else:
            g = apply(g, n, blocks[i], None, adjoint=True)
        psi = phi
    return [tf.stack([grads[(k, j)] for j in range(v.shape[1])], axis=1)
            for k, v in enumerate(group_values)]


def _lane_forward(blocks, n, slots, group_values, size):
    """States of one lane, evolved in chunks of samples when the register is large."""
    chunk = chunk_size(n)
    if chunk is None:
        return _forward(blocks, n, slots, group_values, size)
    count = (size + chunk - 1) // chunk
    states = tf.map_fn(lambda vs: _forward(blocks, n, slots, vs, chunk),
                       [_chunks(v, count, chunk) for v in group_values],
                       fn_output_signature=tf.TensorSpec([chunk, 2**n], tf.complex64))
    return tf.reshape(states, [-1, 2**n])[:size]


def _lane_backward(blocks, n, slots, group_values, psi, g, size):
    chunk = chunk_size(n)
    if chunk is None:
        return _backward(blocks, n, slots, group_values, psi, g)
    count = (size + chunk - 1) // chunk
    specs = [tf.TensorSpec([chunk, *v.shape[1:]], tf.complex64) for v in group_values]
    out = tf.map_fn(lambda a: _backward(blocks, n, slots, a[0], a[1], a[2]),
                    ([_chunks(v, count, chunk) for v in group_values],
                     _chunks(psi, count, chunk), _chunks(g, count, chunk)),
                    fn_output_signature=specs)
    return [tf.reshape(o, tf.concat([[-1], tf.shape(v)[1:]], 0))[:size]
            for o, v in zip(out, group_values)]


def lanes(n: int) -> int:
    """Independent chains the batch is split into: XLA runs them on different CPU cores.

    Small registers (under ``LANE_MIN_QUBITS``) and GPUs use one chain.
    """
    if LANES is not None:
        return LANES
    if n < LANE_MIN_QUBITS or _on_gpu():
        return 1
    return min(4, os.cpu_count() or 1)


def evolve(blocks: Sequence[Block], n: int, groups: Sequence[tf.Tensor],
           slots: Sequence[tuple[int, int] | None], batch_size: tf.Tensor) -> tf.Tensor:
    """Applies ``blocks`` to ``|0...0>``, differentiably (adjoint method).

    Args:
        blocks: The fused circuit.
        n: Number of qubits.
        groups: Matrices of the parameterised blocks, per group ``(batch, m, d, d)``.
        slots: Per block, ``(group, index)`` of its matrix, or ``None`` if constant.
        batch_size: Scalar int32 batch size.

    Returns:
        The final states ``(batch, 2**n)`` complex64.
    """
    if not groups:
        return _lane_forward(blocks, n, slots, [], batch_size)
    count = lanes(n)
    bounds = [(batch_size * i) // count for i in range(count + 1)]
    split = lambda t: [t[bounds[i]:bounds[i + 1]] for i in range(count)]
    sizes = [bounds[i + 1] - bounds[i] for i in range(count)]

    @tf.custom_gradient
    def run(*group_values):
        lane_values = list(zip(*[split(v) for v in group_values]))
        states = [_lane_forward(blocks, n, slots, vs, size)
                  for vs, size in zip(lane_values, sizes)]

        def grad(g):
            per_lane = [_lane_backward(blocks, n, slots, vs, psi, g_lane, size)
                        for vs, psi, g_lane, size in zip(lane_values, states, split(g), sizes)]
            return [tf.concat(parts, 0) for parts in zip(*per_lane)]

        return tf.concat(states, 0) if count > 1 else states[0], grad

    return run(*groups)
