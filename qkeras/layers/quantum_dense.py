"""``QuantumDense``: a quantum layer built from a named encoding and ansatz."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cirq
import tf_keras as keras

from qkeras.circuits.spec import CircuitSpec
from qkeras.layers._base import QuantumLayer


@keras.utils.register_keras_serializable(package="qkeras")
class QuantumDense(QuantumLayer):
    r"""A dense-like quantum layer: encode features, apply a trainable ansatz, measure.

    Computes :math:`y_k = \langle 0 | U(x)^\dagger V(w)^\dagger O_k V(w) U(x) | 0\rangle`
    where :math:`U(x)` is the encoding of the input features, :math:`V(w)` the ansatz with
    the layer's weights and :math:`O_k` the observables (default: Z on each qubit).

    Input shape: ``(batch, n_features)``, where ``n_features`` is fixed by the encoding
    (``qubits`` for angle/iqp/basis, ``2 * qubits`` for dense_angle, ``2 ** qubits`` for
    amplitude). Output shape: ``(batch, len(observables))``, values in ``[-1, 1]`` for
    Pauli observables.

    Args:
        qubits: Number of qubits, or a list of ``cirq`` qubits.
        encoding: ``"angle"``, ``"dense_angle"``, ``"iqp"``, ``"amplitude"`` or ``"basis"``.
        ansatz: ``"hardware_efficient"`` or ``"strongly_entangling"``.
        layers: Number of ansatz layers.
        observables: ``None`` (Z on each qubit), ``"X"``/``"Y"``/``"Z"``, or a list of
            ``cirq.PauliString``/``cirq.PauliSum``.
        differentiator: ``None`` (adjoint for exact expectations, parameter shift when
            sampled or noisy), ``"adjoint"``, ``"parameter_shift"``,
            ``"finite_difference"``, ``"central_difference"``, or a
            ``tfq.differentiators.Differentiator``.
        backend: ``"auto"`` (exact expectations on the faster simulator for the circuit's
            size, see :func:`qkeras.backends.resolve_backend`; sampled and noisy on TFQ),
            ``"tfq"`` (TensorFlow Quantum's qsim: exact, sampled or noisy) or
            ``"statevector"`` (pure TensorFlow: exact only, exportable without TFQ ops,
            runs on GPUs); or quantum hardware: a ``"vendor:device"`` string such as
            ``"ibm:fake_manila"`` or a ``cirq.Sampler`` (see :mod:`qkeras.hardware`;
            needs ``repetitions``; trains with parameter shift).
        repetitions: Shots per expectation (sampled execution) or, with ``noise``,
            trajectories. ``None`` means exact expectations.
        noise: ``None``, ``"depolarizing:0.01"``-style strings or a ``cirq.NoiseModel``.
        reupload: Re-upload the data before every ansatz layer.
        encoding_options: Options of the encoding (``rotation``, ``reps``, ``entanglement``).
        ansatz_options: Options of the ansatz (``rotations``, ``entangler``, ``pattern``).
        initializer: Keras initializer of the weights (default uniform in ``[0, 2π)``).
        jit_compile: XLA-compile the simulation (statevector backend).
        mitigate_readout: On a hardware backend, calibrate and invert each qubit's readout
            confusion matrix (:mod:`qkeras.hardware.mitigation`).
        **kwargs: Keras layer arguments (``name``, ``dtype`` ...).

    Raises:
        ConfigurationError: For unknown names or bad options.
        ResourceError: For more qubits than this machine's memory can simulate.

    Example:
        >>> import numpy as np
        >>> layer = QuantumDense(qubits=3, layers=2)
        >>> layer(np.zeros((4, 3), np.float32)).shape
        TensorShape([4, 3])
        >>> [str(s) for s in layer.data_symbols]
        ['x0', 'x1', 'x2']
    """

    def __init__(self, qubits: int | Sequence[cirq.Qid], encoding: str = "angle",
                 ansatz: str = "hardware_efficient", layers: int = 1, *, observables=None,
                 differentiator=None, backend: str = "auto", repetitions: int | None = None,
                 noise=None, reupload: bool = False, encoding_options: Mapping | None = None,
                 ansatz_options: Mapping | None = None, initializer=None, **kwargs):
        spec = CircuitSpec.build(qubits, encoding, ansatz, layers, observables,
                                 reupload=reupload, encoding_options=encoding_options,
                                 ansatz_options=ansatz_options)
        super().__init__(spec, backend=backend, differentiator=differentiator,
                         repetitions=repetitions, noise=noise, initializer=initializer,
                         **kwargs)
        self._set_constructor_args({
            "qubits": qubits if isinstance(qubits, int)
            else {"cirq_json": cirq.to_json(list(qubits))},
            "encoding": encoding, "ansatz": ansatz, "layers": layers,
            "observables": self._observables_config(spec, observables),
            "reupload": reupload, "encoding_options": dict(encoding_options or {}),
            "ansatz_options": dict(ansatz_options or {}),
        })

    def get_config(self) -> dict:
        return {**super().get_config(), **self._args}
