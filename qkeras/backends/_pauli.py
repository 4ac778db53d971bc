r"""Expectations of Pauli sums on a batch of state vectors, in core TensorFlow ops.

A Pauli string is :math:`P = i^{n_Y} X^{x} Z^{z}` for bit masks :math:`x, z` over the
register (a ``Y`` sets both bits), so

.. math::
    \langle\psi|P|\psi\rangle = i^{n_Y} \sum_k \psi^*_{k \oplus x}\,\psi_k\,(-1)^{|k\,\&\,z|}.

Strings are grouped by their ``x`` mask: each group needs one bit-flipped copy of the
state (none for Z-only strings, which reduce to probabilities) and one matrix product
with the ``±1`` sign columns of its ``z`` masks, computed in the graph from bit
arithmetic rather than stored as constants.

Example:
    >>> import cirq, tensorflow as tf
    >>> q = cirq.LineQubit.range(2)
    >>> measure = PauliMeasurement([cirq.Z(q[0]) + 0.5 * cirq.X(q[1])], q)
    >>> psi = tf.constant([[0.5, 0.5, 0.5, 0.5]], tf.complex64)     # |++>
    >>> measure(psi).numpy()
    array([[0.5]], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Sequence

import cirq
import numpy as np
import tensorflow as tf

from qkeras.errors import ConfigurationError, InputError

__all__ = ["PauliMeasurement", "as_pauli_sum"]

_BITS = {cirq.X: (1, 0), cirq.Y: (1, 1), cirq.Z: (0, 1)}


def as_pauli_sum(observable: object, position: int) -> cirq.PauliSum:
    """Checks one observable and wraps it as a ``cirq.PauliSum``.

    Raises:
        InputError: If it is not a Pauli string/sum or has non-real coefficients.
    """
    if not isinstance(observable, cirq.PauliSum | cirq.PauliString):
        raise InputError(f"Observable {position} must be a cirq.PauliSum or cirq.PauliString; "
                         f"got {type(observable).__name__}: {observable!r}.")
    observable = cirq.PauliSum.wrap(observable)
    for term in observable:
        if cirq.is_parameterized(term.coefficient):
            raise InputError(f"Observable {position} ({observable}) has a symbolic "
                             "coefficient; resolve it with cirq.resolve_parameters first.")
        coefficient = complex(term.coefficient)
        if abs(coefficient.imag) > 1e-12 * max(1.0, abs(coefficient)):
            raise InputError(f"Observable {position} ({observable}) has the complex coefficient "
                             f"{coefficient}; only Hermitian observables (real coefficients) "
                             "have real expectations.")
    return observable


def _parity_signs(n: int, z_masks: Sequence[int]) -> tf.Tensor:
    """``(2**n, len(z_masks))`` float32 of ``(-1)**popcount(k & z)``."""
    dtype = tf.int32 if n < 31 else tf.int64
    k = tf.range(2**n, dtype=dtype)[:, None] & tf.constant([list(z_masks)], dtype)
    for shift in (32, 16, 8, 4, 2, 1):
        if shift < n:
            k = tf.bitwise.bitwise_xor(k, tf.bitwise.right_shift(k, tf.constant(shift, dtype)))
    return tf.cast(1 - 2 * tf.bitwise.bitwise_and(k, tf.constant(1, dtype)), tf.float32)


def _flip(psi: tf.Tensor, n: int, x_mask: int) -> tf.Tensor:
    """``psi[k ^ x_mask]`` for every ``k``."""
    for q in range(n):
        if x_mask >> (n - 1 - q) & 1:
            shape = [-1, 2**q, 2, 2 ** (n - q - 1)]
            psi = tf.reshape(tf.reverse(tf.reshape(psi, shape), axis=[2]), [-1, 2**n])
    return psi


class PauliMeasurement:
    """Expectations of real-weighted Pauli sums, as a TF function of the states.

    Args:
        observables: The observables (checked with :func:`as_pauli_sum`).
        qubits: The register; qubit 0 is the most significant bit.

    Raises:
        InputError: For an observable that is not a real-weighted Pauli sum.
        ConfigurationError: For an observable on a qubit outside ``qubits``.

    Example:
        >>> import cirq, tensorflow as tf
        >>> q = cirq.LineQubit.range(1)
        >>> psi = tf.constant([[1 + 0j, 1j]], tf.complex64) / 2**0.5       # Y = +1 state
        >>> PauliMeasurement([cirq.Y(q[0])], q)(psi).numpy().round(6)
        array([[1.]], dtype=float32)
    """

    def __init__(self, observables: Sequence[cirq.PauliSum | cirq.PauliString],
                 qubits: Sequence[cirq.Qid]):
        self.n = n = len(qubits)
        index = {q: i for i, q in enumerate(qubits)}
        strings: dict[tuple[int, int], int] = {}
        weights: list[list[float]] = []  # per string: its real/imaginary weight per observable
        self._phase: list[int] = []
        for position, observable in enumerate(observables):
            for term in as_pauli_sum(observable, position):
                x = z = 0
                for qubit, pauli in term.items():
                    if qubit not in index:
                        raise ConfigurationError(
                            f"Observable {position} acts on {qubit!r}, which is not among the "
                            f"simulator's qubits {list(qubits)}; add it to `qubits`.")
                    bit = 1 << (n - 1 - index[qubit])
                    x |= bit * _BITS[pauli][0]
                    z |= bit * _BITS[pauli][1]
                key = (x, z)
                if key not in strings:
                    strings[key] = len(weights)
                    weights.append([0.0] * len(observables))
                    self._phase.append(bin(x & z).count("1") % 4)
                weights[strings[key]][position] += complex(term.coefficient).real
        self._groups: dict[int, list[tuple[int, int]]] = {}
        for (x, z), row in strings.items():
            self._groups.setdefault(x, []).append((z, row))
        self._weights = np.array(weights, np.float32).reshape(len(weights), len(observables))
        self.n_observables = len(observables)

    def __call__(self, psi: tf.Tensor) -> tf.Tensor:
        """``(batch, 2**n)`` complex64 states to ``(batch, n_observables)`` float32."""
        total = tf.zeros(tf.stack([tf.shape(psi)[0], self.n_observables]), tf.float32)
        for x, members in self._groups.items():
            z_masks, rows = zip(*members)
            signs = _parity_signs(self.n, z_masks)
            overlap = tf.math.conj(_flip(psi, self.n, x)) * psi
            real = tf.matmul(tf.math.real(overlap), signs)
            # Re(i^p w) is Re w, -Im w, -Re w, Im w for p = 0..3.
            factor = np.array([[1, 0], [0, -1], [-1, 0], [0, 1]], np.float32)
            coefficients = np.array([factor[self._phase[r]] for r in rows])
            weights = self._weights[list(rows)]
            total += tf.matmul(real, coefficients[:, :1] * weights)
            if x:
                imag = tf.matmul(tf.math.imag(overlap), signs)
                total += tf.matmul(imag, coefficients[:, 1:] * weights)
        return total
