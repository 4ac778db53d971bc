"""``QuantumCircuit``: a quantum layer around a user's own Cirq circuit."""

from __future__ import annotations

from collections.abc import Sequence

import cirq
import tf_keras as keras

from qkeras.circuits.spec import CircuitSpec, circuit_to_config
from qkeras.layers._base import QuantumLayer


@keras.utils.register_keras_serializable(package="qkeras")
class QuantumCircuit(QuantumLayer):
    """A quantum layer that executes a user's parameterised circuit.

    Every data symbol takes one input feature, in the order of ``data_symbols``; the
    weight symbols become the layer's trainable weights, in the order of
    ``weight_symbols``. The circuit's symbols must be exactly these two lists.

    Input shape: ``(batch, len(data_symbols))``. Output shape: ``(batch, len(observables))``.

    Args:
        circuit: A parameterised ``cirq.Circuit`` (gate exponents ``coefficient * symbol``
            for the TFQ backend).
        data_symbols: Symbols or names fed from the input.
        weight_symbols: Symbols or names that are trained.
        observables: ``None`` (Z on each qubit), ``"X"``/``"Y"``/``"Z"``, or a list of
            ``cirq.PauliString``/``cirq.PauliSum``.
        **kwargs: As :class:`~qkeras.layers.QuantumDense`: ``differentiator``, ``backend``,
            ``repetitions``, ``noise``, ``initializer`` and Keras layer arguments.

    Raises:
        ConfigurationError: If the symbols do not match the circuit.

    Example:
        >>> import cirq, sympy, numpy as np
        >>> q = cirq.LineQubit(0)
        >>> x, w = sympy.symbols("x w")
        >>> layer = QuantumCircuit(cirq.Circuit(cirq.rx(x)(q), cirq.ry(w)(q)), [x], [w],
        ...                        initializer="zeros")
        >>> np.round(layer(np.array([[np.pi]], np.float32)).numpy(), 4).tolist()
        [[-1.0]]
    """

    def __init__(self, circuit: cirq.Circuit, data_symbols: Sequence,
                 weight_symbols: Sequence, observables=None, **kwargs):
        spec = CircuitSpec.from_circuit(circuit, data_symbols, weight_symbols, observables)
        super().__init__(spec, **kwargs)
        self._set_constructor_args({
            "circuit": circuit_to_config(circuit),
            "data_symbols": [str(s) for s in spec.data_symbols],
            "weight_symbols": [str(s) for s in spec.weight_symbols],
            "observables": self._observables_config(spec, observables),
        })

    def get_config(self) -> dict:
        return {**super().get_config(), **self._args}
