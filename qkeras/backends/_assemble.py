r"""Per-sample matrices of all parameterised blocks, assembled in a few TensorFlow ops.

Blocks are grouped by matrix size and (rounded up to a power of two) number of gates.
Every gate of a group has ``T`` feature *slots*. The phase angles of all slots come from
one matrix product of the symbol values with a constant matrix (affine parameters such
as ``x/pi`` or ``2*w - 0.5``; other expressions are evaluated once each and mapped in by
a second product), then every gate matrix of every block is
``const + sum_t phase_t * weights_t``, ``(batch, blocks, gates, d, d)``, padded with
identities, and a binary tree of batched matrix products multiplies each block's gates
in time order. There are no gathers (whose gradients are slow scatters on CPU), and the
graph size does not grow with the number of gates, which keeps tracing and XLA
compilation fast.

Example:
    >>> import cirq, sympy, tensorflow as tf
    >>> from qkeras.backends._fusion import fuse
    >>> from qkeras.backends._gates import parse
    >>> from qkeras.backends._unitary import FeatureTable
    >>> a = sympy.Symbol("a")
    >>> q = cirq.LineQubit.range(2)
    >>> table = FeatureTable([a])
    >>> blocks = fuse(parse(cirq.Circuit(cirq.rx(a)(q[0]), cirq.CZ(*q)), q, table))
    >>> assembly = MatrixAssembly(blocks, table)
    >>> [m.shape.as_list() for m in assembly(tf.zeros([5, 1]))]
    [[5, 1, 4, 4]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from qkeras.backends._fusion import Block
from qkeras.backends._symbolic import linear_form, translate
from qkeras.backends._unitary import FeatureTable

__all__ = ["MatrixAssembly"]


def _padded_length(count: int) -> int:
    return 1 << max(0, (count - 1).bit_length())


def _small_matmul(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """``a @ b`` for many tiny ``(d, d)`` matrices, as one fusible multiply-and-sum.

    (XLA's CPU dot runs one library call per matrix, far slower at this size.)
    """
    return tf.reduce_sum(a[:, :, :, None] * b[:, None, :, :], axis=2)


class _Slots:
    """Maps feature slots to the symbol values: angles by products, values by lookup."""

    def __init__(self, table: FeatureTable, slot_features: np.ndarray):
        symbols, features = table.symbols, table.features
        forms = [linear_form(p, symbols) for p in table.params]
        nonlinear = sorted({f[1] for f in features if f[0] == "phase" and forms[f[1]] is None})
        values = sorted({i for i, f in enumerate(features) if f[0] == "value"})
        count = len(slot_features)
        self.linear = np.zeros((len(symbols), count), np.float32)
        self.bias = np.zeros(count, np.float32)
        self.nonlinear = np.zeros((len(nonlinear), count), np.float32)
        self.values = np.zeros((len(values), count), np.complex64)
        self.is_phase = np.zeros(count, np.float32)
        for slot, index in enumerate(slot_features):
            if index < 0:
                continue
            kind, *spec = features[index]
            if kind == "value":
                self.values[values.index(index), slot] = 1
                continue
            param, angle = spec
            self.is_phase[slot] = 1
            if forms[param] is None:
                self.nonlinear[nonlinear.index(param), slot] = angle
            else:
                self.linear[:, slot] = np.array(forms[param][0]) * angle
                self.bias[slot] = forms[param][1] * angle
        self._nonlinear = [translate(table.params[p], symbols) for p in nonlinear]
        self._values = [translate(features[i][1], symbols) for i in values]

    def __call__(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """``(batch, slots)`` complex64: each slot's phase (or value)."""
        theta = tf.matmul(symbol_values, self.linear) + self.bias
        if self._nonlinear:
            params = tf.stack([tf.math.real(tf.cast(f(symbol_values), tf.complex64))
                               for f in self._nonlinear], axis=1)
            theta += tf.matmul(params, self.nonlinear)
        out = tf.complex(tf.cos(theta) * self.is_phase, tf.sin(theta) * self.is_phase)
        if self._values:
            values = tf.stack([tf.cast(f(symbol_values), tf.complex64) for f in self._values], 1)
            out += tf.matmul(values, self.values)
        return out


class MatrixAssembly:
    """Computes the matrices of the parameterised ``blocks`` from the symbol values.

    Args:
        blocks: The fused circuit.
        table: The features the blocks' gates depend on.

    Attributes:
        slots: Per block, ``(group, index)`` of its matrix, or ``None`` if it is constant.
    """

    def __init__(self, blocks: Sequence[Block], table: FeatureTable):
        keys: dict[tuple[int, int], list[int]] = {}
        for i, block in enumerate(blocks):
            if block.parameterized:
                keys.setdefault((block.dim, _padded_length(len(block.gates))), []).append(i)
        self.slots: list[tuple[int, int] | None] = [None] * len(blocks)
        self._groups = []
        for g, ((d, length), members) in enumerate(sorted(keys.items())):
            terms = max(1, max(len(m.features) for i in members for m in blocks[i].gates))
            features = np.full((len(members), length, terms), -1)
            weights = np.zeros((len(members), length, terms, d, d), np.complex64)
            const = np.broadcast_to(np.eye(d, dtype=np.complex64),
                                    (len(members), length, d, d)).copy()
            for slot, i in enumerate(members):
                self.slots[i] = (g, slot)
                for t, m in enumerate(blocks[i].gates):
                    features[slot, t, :len(m.features)] = m.features
                    weights[slot, t, :len(m.features)] = np.moveaxis(m.weights, -1, 0)
                    const[slot, t] = m.const
            self._groups.append((_Slots(table, features.ravel()), weights, const))

    def __call__(self, symbol_values: tf.Tensor) -> list[tf.Tensor]:
        """Returns per group ``(batch, blocks, d, d)`` complex64 matrices."""
        out = []
        for slots, weights, const in self._groups:
            size, length, terms, d, _ = weights.shape
            phases = tf.reshape(slots(symbol_values), [-1, size * length, terms])
            flat = weights.reshape(size * length, terms, d * d)
            entries = const.reshape(size * length, d * d)
            for t in range(terms):
                entries = entries + phases[:, :, t, None] * flat[:, t]
            matrices = tf.reshape(entries, [-1, size, length, d, d])
            while length > 1:
                length //= 2
                pairs = tf.reshape(matrices, [-1, 2, d, d])
                matrices = _small_matmul(pairs[:, 1], pairs[:, 0])
            out.append(tf.reshape(matrices, [-1, size, d, d]))
        return out
