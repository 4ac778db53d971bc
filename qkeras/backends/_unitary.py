r"""Gate matrices as affine functions of per-sample complex *features*.

Every supported gate has a matrix whose entries are affine in a few per-sample complex
numbers, the features: for an eigen gate at exponent :math:`t` they are the phases
:math:`e^{i\pi t(\lambda_k + s)}` of its moving eigenspaces, and for a symbolic global
phase the coefficient itself. A :class:`GateMatrix` stores a constant matrix and ``T``
weight matrices, one per feature it depends on; a :class:`FeatureTable` collects the
features of a whole circuit, and ``_assemble`` evaluates them all together.

Example:
    >>> import numpy as np, sympy
    >>> a = sympy.Symbol("a")
    >>> table = FeatureTable([a])
    >>> rz = eigen([(-0.5, np.diag([1, 0])), (0.5, np.diag([0, 1]))], 0.0,
    ...            lambda angle: table.phase(a, angle))            # Z**a, shift -1/2
    >>> rz.free.tolist(), len(table)
    ([[True, False], [False, True]], 2)
    >>> controlled(rz, 1, [(1,)]).const.real.diagonal().tolist()
    [1.0, 1.0, 0.0, 0.0]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import sympy

from qkeras.backends._symbolic import translate

__all__ = ["GateMatrix", "FeatureTable", "constant", "eigen", "embed", "controlled",
           "structure_product", "TOLERANCE"]

#: Entries smaller than this are structural zeros.
TOLERANCE = 1e-12


@dataclasses.dataclass(frozen=True, eq=False)
class GateMatrix:
    """A ``d x d`` matrix: ``const + sum_t weights[:, :, t] * feature[features[t]]``.

    Attributes:
        const: ``(d, d)`` complex128.
        features: ``(T,)`` feature indices (into a :class:`FeatureTable`).
        weights: ``(d, d, T)`` complex128.
    """

    const: np.ndarray
    features: np.ndarray
    weights: np.ndarray

    @property
    def dim(self) -> int:
        return self.const.shape[0]

    @property
    def free(self) -> np.ndarray:
        """Mask of the entries that depend on the symbol values."""
        return (np.abs(self.weights) > TOLERANCE).any(axis=-1)


def _clean(matrix: np.ndarray) -> np.ndarray:
    matrix = np.array(matrix, dtype=np.complex128)
    matrix.real[np.abs(matrix.real) < TOLERANCE] = 0
    matrix.imag[np.abs(matrix.imag) < TOLERANCE] = 0
    return matrix


def constant(matrix: np.ndarray) -> GateMatrix:
    """A matrix with no free entries."""
    matrix = _clean(matrix)
    d = matrix.shape[0]
    return GateMatrix(matrix, np.zeros(0, int), np.zeros((d, d, 0), complex))


def eigen(components: Sequence[tuple[float, np.ndarray]], shift: float,
          feature: Callable[[float], int]) -> GateMatrix:
    r"""The matrix :math:`\sum_k e^{i\pi t(\lambda_k + s)} P_k` of an eigen gate.

    Args:
        components: Pairs :math:`(\lambda_k, P_k)` as ``cirq.EigenGate._eigen_components()``
            gives them.
        shift: The global shift :math:`s`.
        feature: Returns the feature index of :math:`e^{i\,\mathrm{angle}\,t}`.
    """
    d = components[0][1].shape[0]
    const, features, weights = np.zeros((d, d), complex), [], []
    for lam, projector in components:
        half_turns = float(lam) + shift
        if abs(half_turns) < TOLERANCE:
            const = const + projector
        else:
            features.append(feature(np.pi * half_turns))
            weights.append(_clean(projector))
    weights = np.stack(weights, axis=-1) if weights else np.zeros((d, d, 0), complex)
    return GateMatrix(_clean(const), np.array(features, int), weights)


def _derive(g: GateMatrix, source: np.ndarray, default: np.ndarray) -> GateMatrix:
    """Entry ``[I, J]`` is ``g``'s flat entry ``source[I, J]``, or ``default`` where < 0."""
    taken = source >= 0
    safe = np.where(taken, source, 0)
    weights = g.weights.reshape(g.dim**2, -1)[safe]
    weights = np.where(taken[..., None], weights, 0)
    return GateMatrix(np.where(taken, g.const.ravel()[safe], default), g.features, weights)


def _bits(index: np.ndarray, width: int) -> np.ndarray:
    return (index[..., None] >> np.arange(width - 1, -1, -1)) & 1


def _number(bits: np.ndarray) -> np.ndarray:
    return (bits << np.arange(bits.shape[-1] - 1, -1, -1)).sum(axis=-1)


def embed(g: GateMatrix, qubits: Sequence[int], target: Sequence[int]) -> GateMatrix:
    """Embeds ``g`` (on ``qubits``, first most significant) into the register ``target``."""
    qubits, target = tuple(qubits), tuple(target)
    if qubits == target:
        return g
    k, m = len(qubits), len(target)
    where = [target.index(q) for q in qubits]
    rest = [i for i in range(m) if i not in where]
    bits = _bits(np.arange(2**m), m)
    row, col = bits[:, None, :], bits[None, :, :]
    same_rest = np.all(row[..., rest] == col[..., rest], axis=-1)
    sub = _number(row[..., where]) * 2**k + _number(col[..., where])
    return _derive(g, np.where(same_rest, sub, -1), np.zeros((2**m, 2**m)))


def controlled(g: GateMatrix, n_controls: int, active: Sequence[Sequence[int]]) -> GateMatrix:
    """Adds ``n_controls`` control qubits (first, most significant) to ``g``.

    ``active`` lists the control values (tuples of 0/1) under which ``g`` acts.
    """
    d, size = g.dim, 2**n_controls * g.dim
    control, sub = np.arange(size) // d, np.arange(size) % d
    is_active = np.isin(control, [_number(np.array(a)) for a in active])
    block = (control[:, None] == control[None, :]) & is_active[:, None]
    return _derive(g, np.where(block, sub[:, None] * d + sub[None, :], -1), np.eye(size))


def structure_product(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray],
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Free mask and constant part of ``A @ B`` from ``(free, const)`` of each factor."""
    (a_free, a_const), (b_free, b_const) = a, b
    a_nonzero = a_free | (np.abs(a_const) > TOLERANCE)
    b_nonzero = b_free | (np.abs(b_const) > TOLERANCE)
    free = (a_free.astype(int) @ b_nonzero + a_nonzero.astype(int) @ b_free) > 0
    return free, _clean(np.where(free, 0, np.where(a_free, 0, a_const) @ np.where(
        b_free, 0, b_const)))


class FeatureTable:
    """The per-sample complex features of a circuit (phases of expressions, or values).

    Args:
        symbols: The symbols, in the column order of the values tensor.
    """

    def __init__(self, symbols: Sequence[sympy.Symbol]):
        self.symbols = list(symbols)
        self._params: list[sympy.Expr] = []
        self._features: list[tuple] = []
        self._index: dict[tuple, int] = {}

    def __len__(self) -> int:
        return len(self._features)

    def _param(self, expr: sympy.Expr) -> int:
        expr = sympy.sympify(expr)
        if expr not in self._params:
            translate(expr, self.symbols)  # checks symbols and functions now
            self._params.append(expr)
        return self._params.index(expr)

    def _add(self, key: tuple) -> int:
        if key not in self._index:
            self._index[key] = len(self._features)
            self._features.append(key)
        return self._index[key]

    def phase(self, exponent: sympy.Expr, angle: float) -> int:
        """Index of the feature ``exp(i * angle * exponent)`` (``exponent`` real)."""
        return self._add(("phase", self._param(exponent), round(float(angle), 15)))

    def value(self, expr: sympy.Expr) -> int:
        """Index of the feature ``expr`` itself (may be complex)."""
        translate(expr, self.symbols)
        return self._add(("value", sympy.sympify(expr)))

    @property
    def params(self) -> list[sympy.Expr]:
        """The distinct real expressions phases are taken of."""
        return list(self._params)

    @property
    def features(self) -> list[tuple]:
        """``("phase", param index, angle)`` or ``("value", expr)`` per feature."""
        return list(self._features)
