r"""Data encodings: circuits that load classical features into qubits.

Each encoding is a pure function of the qubits and options that returns a
``cirq.Circuit`` and the ordered list of data symbols it uses. Every gate exponent is
``coefficient * symbol``, the form TensorFlow Quantum can serialise; where an encoding
needs a non-linear function of the features (IQP's products, amplitude encoding's
angles) the symbols stand for those derived values, and :func:`feature_values`
(NumPy) or ``qkeras.layers`` (TensorFlow, in-graph) compute them from the features.

Example:
    >>> import cirq
    >>> circuit, symbols = angle(cirq.LineQubit.range(2), rotation="y")
    >>> [str(s) for s in symbols]
    ['x0', 'x1']
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cirq
import numpy as np
import sympy

from qkeras.errors import ConfigurationError, InputError, unknown_name

__all__ = ["angle", "dense_angle", "iqp", "iqp_pairs", "amplitude", "amplitude_angles",
           "basis", "feature_count", "feature_values", "ENCODINGS"]

_ROTATIONS = {"x": cirq.rx, "y": cirq.ry, "z": cirq.rz}


def _symbols(prefix: str, count: int, start: int = 0) -> list[sympy.Symbol]:
    return [sympy.Symbol(f"{prefix}{i}") for i in range(start, start + count)]


def _rotation(name: str):
    if name not in _ROTATIONS:
        raise unknown_name("rotation", name, _ROTATIONS)
    return _ROTATIONS[name]


def angle(qubits: Sequence[cirq.Qid], *, rotation: str = "x", prefix: str = "x",
          ) -> tuple[cirq.Circuit, list[sympy.Symbol]]:
    r"""Angle encoding: one feature per qubit as a rotation angle.

    Prepares :math:`\bigotimes_i R_a(x_i)\,|0\rangle` with :math:`R_a(\theta) =
    e^{-i\theta\sigma_a/2}`, :math:`a \in \{x, y, z\}`. With ``rotation="z"`` a Hadamard
    comes first (:math:`R_z(x_i) H |0\rangle`), otherwise the data would only change a
    global phase.

    Args:
        qubits: The qubits, one per feature.
        rotation: ``"x"``, ``"y"`` or ``"z"``.
        prefix: Name prefix of the data symbols.

    Returns:
        The circuit and the data symbols ``x0 .. x{n-1}``.

    Example:
        >>> circuit, symbols = angle(cirq.LineQubit.range(3))
        >>> len(symbols), len(circuit)
        (3, 1)
    """
    gate = _rotation(rotation)
    symbols = _symbols(prefix, len(qubits))
    ops = [gate(s).on(q) for q, s in zip(qubits, symbols)]
    if rotation == "z":
        ops = [cirq.H.on_each(*qubits), *ops]
    return cirq.Circuit(ops), symbols


def dense_angle(qubits: Sequence[cirq.Qid], *, prefix: str = "x",
                ) -> tuple[cirq.Circuit, list[sympy.Symbol]]:
    r"""Dense angle encoding: two features per qubit.

    Qubit :math:`i` is prepared in :math:`R_z(x_{2i+1}) R_y(x_{2i}) |0\rangle`, a point on
    the Bloch sphere with polar angle :math:`x_{2i}` and azimuth :math:`x_{2i+1}`
    (LaRose & Coyle, arXiv:2003.01695).

    Args:
        qubits: The qubits; the encoding takes ``2 * len(qubits)`` features.
        prefix: Name prefix of the data symbols.

    Returns:
        The circuit and the data symbols ``x0 .. x{2n-1}``.

    Example:
        >>> circuit, symbols = dense_angle(cirq.LineQubit.range(2))
        >>> [str(s) for s in symbols]
        ['x0', 'x1', 'x2', 'x3']
    """
    symbols = _symbols(prefix, 2 * len(qubits))
    circuit = cirq.Circuit(
        [cirq.ry(symbols[2 * i]).on(q) for i, q in enumerate(qubits)],
        [cirq.rz(symbols[2 * i + 1]).on(q) for i, q in enumerate(qubits)],
    )
    return circuit, symbols


def iqp_pairs(n_qubits: int, entanglement: str = "full") -> list[tuple[int, int]]:
    """Returns the qubit pairs an IQP encoding couples.

    Args:
        n_qubits: Number of qubits.
        entanglement: ``"full"`` (every pair ``i < j``) or ``"linear"`` (``(i, i+1)``).

    Returns:
        The pairs, in the order of their symbols.

    Example:
        >>> iqp_pairs(3), iqp_pairs(3, "linear")
        ([(0, 1), (0, 2), (1, 2)], [(0, 1), (1, 2)])
    """
    if entanglement == "full":
        return list(itertools.combinations(range(n_qubits), 2))
    if entanglement == "linear":
        return [(i, i + 1) for i in range(n_qubits - 1)]
    raise unknown_name("IQP entanglement", entanglement, ["full", "linear"])


def iqp(qubits: Sequence[cirq.Qid], *, reps: int = 2, entanglement: str = "full",
        prefix: str = "x") -> tuple[cirq.Circuit, list[sympy.Symbol]]:
    r"""IQP (ZZ feature map) encoding of Havlíček et al., Nature 567, 209 (2019).

    Applies :math:`(U_\Phi(x) H^{\otimes n})^{r}` with
    :math:`U_\Phi(x) = \exp\big(i\sum_i \phi_i Z_i + i\sum_{(i,j)} \phi_{ij} Z_i Z_j\big)`
    (up to global phase), :math:`\phi_i = x_i` and
    :math:`\phi_{ij} = (\pi - x_i)(\pi - x_j)`, as Qiskit's ``ZZFeatureMap`` does. Single-qubit
    terms are ``ZPowGate(exponent=2φ/π)`` (``diag(1, e^{2iφ})``), pair terms
    ``ZZPowGate(exponent=2φ/π)``.

    The symbols are ``x0 .. x{n-1}`` (the features) followed by one symbol per pair for
    :math:`\phi_{ij}`, which :func:`feature_values` computes from the features.

    Args:
        qubits: The qubits, one per feature.
        reps: Number of repetitions :math:`r \ge 1`.
        entanglement: Which pairs are coupled, see :func:`iqp_pairs`.
        prefix: Name prefix of the data symbols.

    Returns:
        The circuit and its symbols.

    Raises:
        ConfigurationError: If ``reps < 1``.

    Example:
        >>> circuit, symbols = iqp(cirq.LineQubit.range(3), reps=1)
        >>> [str(s) for s in symbols]
        ['x0', 'x1', 'x2', 'x0_1', 'x0_2', 'x1_2']
    """
    if reps < 1:
        raise ConfigurationError(f"iqp reps must be >= 1; got {reps}.")
    n = len(qubits)
    singles = _symbols(prefix, n)
    pairs = iqp_pairs(n, entanglement)
    doubles = [sympy.Symbol(f"{prefix}{i}_{j}") for i, j in pairs]
    circuit = cirq.Circuit()
    for _ in range(reps):
        circuit.append(cirq.H.on_each(*qubits))
        circuit.append(cirq.ZPowGate(exponent=2 / np.pi * s).on(q)
                       for q, s in zip(qubits, singles))
        circuit.append(cirq.ZZPowGate(exponent=2 / np.pi * s).on(qubits[i], qubits[j])
                       for (i, j), s in zip(pairs, doubles))
    return circuit, singles + doubles


def amplitude(qubits: Sequence[cirq.Qid], *, prefix: str = "x",
              ) -> tuple[cirq.Circuit, list[sympy.Symbol]]:
    r"""Amplitude encoding: exact preparation of a real, normalised :math:`2^n` vector.

    Prepares :math:`|\psi\rangle = \sum_k a_k |k\rangle / \lVert a \rVert` with a binary
    tree of uniformly controlled :math:`R_y` rotations (Möttönen et al.,
    quant-ph/0407010): qubit :math:`k` is rotated by :math:`\theta_{k,p}` under every
    pattern :math:`p` of qubits :math:`0..k-1`, where
    :math:`\theta_{k,p} = 2\,\mathrm{atan2}(\lVert a_{p1\cdot}\rVert, \lVert a_{p0\cdot}\rVert)`
    and on the last qubit the signed amplitudes are used, so negative amplitudes are exact.
    Qubit 0 is the most significant bit, as in Cirq.

    The :math:`2^n - 1` symbols stand for the angles, which :func:`amplitude_angles`
    (NumPy) or the layer (TensorFlow) computes from the features.

    Args:
        qubits: The qubits; the encoding takes ``2 ** len(qubits)`` features.
        prefix: Name prefix of the angle symbols.

    Returns:
        The circuit and its ``2**n - 1`` symbols, ordered (qubit, pattern).

    Example:
        >>> qubits = cirq.LineQubit.range(2)
        >>> circuit, symbols = amplitude(qubits)
        >>> a = np.array([0.5, -0.5, 0.5, 0.5])
        >>> state = cirq.final_state_vector(
        ...     circuit, param_resolver=dict(zip(symbols, amplitude_angles(a))))
        >>> np.round(state.real, 6).tolist()
        [0.5, -0.5, 0.5, 0.5]
    """
    symbols = _symbols(prefix, 2 ** len(qubits) - 1)
    circuit, index = cirq.Circuit(), 0
    for k, target in enumerate(qubits):
        for pattern in range(2 ** k):
            gate = cirq.ry(symbols[index]).on(target)
            if k:
                bits = [(pattern >> (k - 1 - b)) & 1 for b in range(k)]
                gate = gate.controlled_by(*qubits[:k], control_values=bits)
            circuit.append(gate)
            index += 1
    return circuit, symbols


def amplitude_angles(features: np.ndarray) -> np.ndarray:
    """Computes the rotation angles :func:`amplitude` needs for real amplitudes.

    Args:
        features: Real array ``(..., 2**n)``; it is normalised here.

    Returns:
        Angles ``(..., 2**n - 1)`` ordered as the symbols of :func:`amplitude`.

    Raises:
        InputError: If the length is not a power of two or a vector is all zeros.

    Example:
        >>> np.round(amplitude_angles(np.array([1.0, 1.0])), 4).tolist()
        [1.5708]
    """
    a = np.asarray(features, dtype=np.float64)
    n = int(np.log2(a.shape[-1])) if a.shape[-1] else -1
    if n < 1 or 2**n != a.shape[-1]:
        raise InputError(f"amplitude encoding needs 2**n features; got {a.shape[-1]}.")
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    if np.any(norm == 0):
        raise InputError("amplitude encoding cannot encode an all-zero feature vector.")
    a = a / norm
    batch, angles = a.shape[:-1], []
    for k in range(n):
        blocks = a.reshape(*batch, 2**k, 2, 2 ** (n - k - 1))
        if k < n - 1:
            left, right = (np.linalg.norm(blocks[..., h, :], axis=-1) for h in (0, 1))
        else:
            left, right = blocks[..., 0, 0], blocks[..., 1, 0]
        angles.append(2 * np.arctan2(right, left))
    return np.concatenate(angles, axis=-1)


def basis(qubits: Sequence[cirq.Qid], *, prefix: str = "x",
          ) -> tuple[cirq.Circuit, list[sympy.Symbol]]:
    r"""Basis encoding: bit :math:`x_i \in \{0, 1\}` prepares :math:`X^{x_i}|0\rangle`.

    Values between 0 and 1 give the partial flip :math:`X^{x_i}` (differentiable).

    Args:
        qubits: The qubits, one per bit.
        prefix: Name prefix of the data symbols.

    Returns:
        The circuit and the data symbols.

    Example:
        >>> circuit, symbols = basis(cirq.LineQubit.range(2))
        >>> state = cirq.final_state_vector(circuit, param_resolver=dict(zip(symbols, [1, 0])))
        >>> int(np.argmax(np.abs(state)))
        2
    """
    symbols = _symbols(prefix, len(qubits))
    return cirq.Circuit((cirq.X**s).on(q) for q, s in zip(qubits, symbols)), symbols


#: Encoding name -> (builder, number of features for n qubits).
ENCODINGS = {
    "angle": (angle, lambda n: n),
    "dense_angle": (dense_angle, lambda n: 2 * n),
    "iqp": (iqp, lambda n: n),
    "amplitude": (amplitude, lambda n: 2**n),
    "basis": (basis, lambda n: n),
}


def feature_count(encoding: str, n_qubits: int) -> int:
    """Returns how many input features an encoding takes on ``n_qubits`` qubits.

    Example:
        >>> feature_count("dense_angle", 4), feature_count("amplitude", 3)
        (8, 8)
    """
    if encoding not in ENCODINGS:
        raise unknown_name("encoding", encoding, ENCODINGS)
    return ENCODINGS[encoding][1](n_qubits)


def feature_values(encoding: str, features: np.ndarray, *, entanglement: str = "full",
                   ) -> np.ndarray:
    """Maps features to the values of an encoding's symbols (NumPy reference).

    Args:
        encoding: An encoding name.
        features: Array ``(..., feature_count)``.
        entanglement: For ``"iqp"``, the pair pattern.

    Returns:
        Array ``(..., len(symbols))`` ordered as the encoding's symbols.

    Example:
        >>> feature_values("iqp", np.array([0.0, np.pi])).round(4).tolist()
        [0.0, 3.1416, 0.0]
    """
    x = np.asarray(features, dtype=np.float64)
    if encoding == "iqp":
        pairs = iqp_pairs(x.shape[-1], entanglement)
        products = [(np.pi - x[..., i]) * (np.pi - x[..., j]) for i, j in pairs]
        return np.concatenate([x, np.stack(products, -1) if products else x[..., :0]], -1)
    if encoding == "amplitude":
        return amplitude_angles(x)
    feature_count(encoding, 1)  # validates the name
    return x
