"""Keras layers that execute parameterised quantum circuits.

Example:
    >>> from qkeras import layers
    >>> layers.QuantumDense(qubits=2).name.startswith("quantum_dense")
    True
"""

from qkeras.layers._base import QuantumLayer
from qkeras.layers.quantum_circuit import QuantumCircuit
from qkeras.layers.quantum_dense import QuantumDense

__all__ = ["QuantumCircuit", "QuantumDense", "QuantumLayer"]
