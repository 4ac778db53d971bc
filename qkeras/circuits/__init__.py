"""Circuits: pure Cirq encodings, ansatze, noise and the :class:`CircuitSpec` of a layer.

Nothing here imports TensorFlow.

Example:
    >>> import cirq
    >>> from qkeras import circuits
    >>> circuit, symbols = circuits.strongly_entangling(cirq.LineQubit.range(2), layers=1)
    >>> len(symbols)
    6
"""

from qkeras.circuits import noise, qcnn
from qkeras.circuits.ansatze import (
    ANSATZE,
    entangling_pairs,
    hardware_efficient,
    hardware_efficient_weight_count,
    strongly_entangling,
    strongly_entangling_weight_count,
    weight_count,
)
from qkeras.circuits.encodings import (
    ENCODINGS,
    amplitude,
    amplitude_angles,
    angle,
    basis,
    dense_angle,
    feature_count,
    feature_values,
    iqp,
    iqp_pairs,
)
from qkeras.circuits.qcnn import (
    CONVOLUTION_WEIGHTS,
    POOLING_WEIGHTS,
    cluster_state,
    convolution,
    one_qubit_unitary,
    pooling,
    qcnn_weight_count,
    two_qubit_pool,
    two_qubit_unitary,
)
from qkeras.circuits.spec import CircuitSpec, default_observables

__all__ = [
    "ANSATZE", "ENCODINGS", "CircuitSpec", "amplitude", "amplitude_angles", "angle", "basis",
    "default_observables", "dense_angle", "entangling_pairs", "feature_count",
    "feature_values", "hardware_efficient", "hardware_efficient_weight_count", "iqp",
    "iqp_pairs", "noise", "strongly_entangling", "strongly_entangling_weight_count",
    "weight_count", "qcnn", "CONVOLUTION_WEIGHTS", "POOLING_WEIGHTS", "cluster_state",
    "convolution",
    "one_qubit_unitary", "pooling", "qcnn_weight_count", "two_qubit_pool",
    "two_qubit_unitary",
]
