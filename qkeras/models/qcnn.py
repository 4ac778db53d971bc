r"""``QCNN``: a quantum convolutional neural network as a Keras layer.

Cong, Choi & Lukin, "Quantum convolutional neural networks", Nat. Phys. 15, 1273 (2019),
in the parameterisation of TensorFlow Quantum's QCNN tutorial
(:func:`qkeras.circuits.qcnn.qcnn`). Two kinds of input:

* ``input_mode="features"``: a float tensor ``(batch, n_features)`` is encoded with a
  named encoding (angle, dense angle, amplitude ...), then the QCNN runs; gradients flow to
  the inputs, so Dense or convolutional layers may come before it.
* ``input_mode="circuits"``: quantum data. The input is a ``tf.string`` tensor of circuits
  (``tfq.convert_to_tensor``); each is appended after the optional ``prepend`` circuit and
  before the QCNN (``tfq.append_circuit``), as in the tutorial's cluster-state task.

Example:
    >>> import numpy as np
    >>> layer = QCNN(4, initializer="zeros")
    >>> layer(np.zeros((2, 4), np.float32)).shape
    TensorShape([2, 1])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import cirq
import numpy as np
import tensorflow as tf
import tensorflow_quantum as tfq
import tf_keras as keras

from qkeras.circuits import encodings
from qkeras.circuits import qcnn as qcnn_circuits
from qkeras.circuits.spec import CircuitSpec, circuit_from_config, circuit_to_config
from qkeras.errors import ConfigurationError, InputError, unknown_name
from qkeras.layers import QuantumLayer

__all__ = ["QCNN", "cluster_excitations", "INPUT_MODES"]

INPUT_MODES = ("features", "circuits")


def _qubit_list(qubits) -> list[cirq.Qid]:
    if isinstance(qubits, Mapping):
        qubits = cirq.read_json(json_text=qubits["cirq_json"])
    if isinstance(qubits, int):
        if qubits < 2:
            raise ConfigurationError(f"QCNN needs qubits >= 2; got {qubits}.")
        return cirq.LineQubit.range(qubits)
    qubits = list(qubits)
    if len(qubits) < 2 or not all(isinstance(q, cirq.Qid) for q in qubits):
        raise ConfigurationError("qubits must be an integer >= 2 or a list of >= 2 cirq "
                                 "qubits.")
    return qubits


def _spec(qubits: list, input_mode: str, encoding: str, options: dict) -> CircuitSpec:
    model, weights, readout = qcnn_circuits.qcnn(qubits)
    observables = (cirq.PauliSum.from_pauli_strings(cirq.Z(readout)),)
    if input_mode == "circuits":
        return CircuitSpec(circuit=model, qubits=tuple(qubits), data_symbols=(),
                           weight_symbols=tuple(weights), observables=observables,
                           n_features=0)
    if encoding not in encodings.ENCODINGS:
        raise unknown_name("encoding", encoding, encodings.ENCODINGS)
    try:
        encoder, data = encodings.ENCODINGS[encoding][0](qubits, **options)
    except TypeError as err:
        raise ConfigurationError(f"Bad option for encoding {encoding!r}: {err}") from err
    return CircuitSpec(circuit=encoder + model, qubits=tuple(qubits), data_symbols=tuple(data),
                       weight_symbols=tuple(weights), observables=observables,
                       n_features=encodings.feature_count(encoding, len(qubits)),
                       encoding=encoding, entanglement=options.get("entanglement", "full"))


@keras.utils.register_keras_serializable(package="qkeras")
class QCNN(QuantumLayer):
    r"""Quantum convolutional neural network (Cong, Choi & Lukin, Nat. Phys. 2019).

    Convolution (15 shared weights) and pooling (6 shared weights) blocks halve the active
    qubits until one is left; the output is :math:`\langle Z \rangle` on it, in
    :math:`[-1, 1]`. 8 qubits: 63 weights, TFQ's tutorial model.

    Input shape: ``(batch, n_features)`` floats (``input_mode="features"``; ``n_features``
    is fixed by the encoding: ``qubits`` for angle, ``2 ** qubits`` for amplitude), or
    ``(batch,)`` / ``(batch, 1)`` ``tf.string`` circuits (``input_mode="circuits"``).
    Output shape: ``(batch, 1)``.

    Args:
        qubits: Number of qubits (``cirq.LineQubit.range``) or the qubits themselves;
            quantum-data inputs must act on these qubits.
        input_mode: ``"features"`` or ``"circuits"``.
        encoding: Features mode: a name from :data:`qkeras.circuits.ENCODINGS`.
        encoding_options: Features mode: keyword options of the encoding.
        prepend: Circuits mode: a fixed ``cirq.Circuit`` run before each input circuit
            (e.g. :func:`qkeras.circuits.qcnn.cluster_state`).
        **kwargs: As :class:`~qkeras.layers.QuantumDense`: ``differentiator``, ``backend``
            (circuits mode: ``"tfq"`` only), ``repetitions``, ``noise`` (features mode
            only), ``initializer``, and Keras layer arguments.

    Raises:
        ConfigurationError: For a bad option or combination.
        InputError: For inputs of the wrong kind or shape.

    Example:
        >>> import numpy as np
        >>> layer = QCNN(8, encoding="angle", initializer="zeros")
        >>> len(layer.weight_symbols), layer(np.zeros((3, 8), np.float32)).numpy().ravel()
        (63, array([1., 1., 1.], dtype=float32))
    """

    def __init__(self, qubits: int | Sequence[cirq.Qid] = 8, *, input_mode: str = "features",
                 encoding: str = "angle", encoding_options: Mapping | None = None,
                 prepend: cirq.Circuit | Mapping | None = None, **kwargs):
        if input_mode not in INPUT_MODES:
            raise unknown_name("input_mode", input_mode, INPUT_MODES)
        qubit_list = _qubit_list(qubits)
        if isinstance(prepend, Mapping):
            prepend = circuit_from_config(prepend)
        if prepend is not None and input_mode != "circuits":
            raise ConfigurationError("prepend applies to input_mode='circuits'; in features "
                                     "mode put the preparation into the encoding instead.")
        if prepend is not None and not isinstance(prepend, cirq.Circuit):
            raise ConfigurationError(f"prepend must be a cirq.Circuit; got "
                                     f"{type(prepend).__name__}.")
        if input_mode == "circuits":
            if kwargs.get("backend", "auto") not in ("auto", "tfq") or kwargs.get("noise"):
                raise ConfigurationError("input_mode='circuits' runs circuit tensors on "
                                         "TensorFlow Quantum: use backend='tfq' (or 'auto') "
                                         "without noise.")
            kwargs["backend"] = "tfq"
        options = dict(encoding_options or {})
        spec = _spec(qubit_list, input_mode, encoding, options)
        super().__init__(spec, **kwargs)
        self.input_mode, self.prepend = input_mode, prepend
        self._set_constructor_args({
            "qubits": qubits if isinstance(qubits, int)
            else {"cirq_json": cirq.to_json(qubit_list)},
            "input_mode": input_mode, "encoding": encoding, "encoding_options": options,
            "prepend": None if prepend is None else circuit_to_config(prepend)})
        if input_mode == "circuits":
            self._setup_circuit_input(kwargs.get("differentiator"), kwargs.get("repetitions"))

    def _setup_circuit_input(self, differentiator, repetitions) -> None:
        from qkeras.backends.tfq import make_differentiator

        exact = repetitions is None
        diff = make_differentiator(differentiator, exact=exact)
        self._circuit_op = (diff.generate_differentiable_op(
            analytic_op=tfq.get_expectation_op()) if exact else
            diff.generate_differentiable_op(sampled_op=tfq.get_sampled_expectation_op()))
        self._model_program = tfq.convert_to_tensor([self.spec.circuit])
        self._prepend_program = (None if self.prepend is None
                                 else tfq.convert_to_tensor([self.prepend]))
        self._readout = tfq.convert_to_tensor([list(self.spec.observables)])
        self._names = tf.constant([str(s) for s in self.weight_symbols])

    def build(self, input_shape):
        if self.input_mode == "features":
            return super().build(input_shape)
        self.kernel = self.add_weight(name="kernel", shape=(len(self.weight_symbols),),
                                      initializer=self.initializer, dtype=tf.float32,
                                      trainable=True)
        self.built = True

    def _programs(self, inputs) -> tf.Tensor:
        if not isinstance(inputs, tf.Tensor) and not isinstance(inputs, np.ndarray):
            inputs = tfq.convert_to_tensor(list(inputs))
        inputs = tf.convert_to_tensor(inputs)
        if inputs.dtype != tf.string:
            raise InputError(
                f"QCNN {self.name!r} with input_mode='circuits' expects tf.string circuits "
                f"(tfq.convert_to_tensor); got dtype {inputs.dtype.name}. For float "
                "features use input_mode='features'.")
        if inputs.shape.rank == 2 and inputs.shape[-1] == 1:
            inputs = tf.squeeze(inputs, axis=1)
        if inputs.shape.rank != 1:
            raise InputError(f"QCNN {self.name!r} expects circuits of shape (batch,) or "
                             f"(batch, 1); got {tuple(inputs.shape)}.")
        return inputs

    def call(self, inputs):
        if self.input_mode == "features":
            return super().call(inputs)
        programs = self._programs(inputs)
        batch = tf.shape(programs)[0]
        if self._prepend_program is not None:
            programs = tfq.append_circuit(tf.tile(self._prepend_program, [batch]), programs)
        programs = tfq.append_circuit(programs, tf.tile(self._model_program, [batch]))
        values = tf.tile(self.kernel[None, :], [batch, 1])
        operators = tf.tile(self._readout, [batch, 1])
        if self.repetitions is None:
            return self._circuit_op(programs, self._names, values, operators)
        samples = tf.fill([batch, 1], self.repetitions)
        return self._circuit_op(programs, self._names, values, operators, samples)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._args}


def cluster_excitations(qubits: Sequence[cirq.Qid], n_rounds: int = 20, *, seed: int = 0,
                        ) -> tuple[list[cirq.Circuit], np.ndarray]:
    r"""Quantum data of TFQ's QCNN tutorial: excitations of a cluster state, labelled ±1.

    Each round draws, for every qubit, :math:`\theta \sim U(-\pi, \pi)` and the circuit
    :math:`R_x(\theta)` on that qubit; the label is :math:`+1` if
    :math:`|\theta| \le \pi/2` (a small excitation), else :math:`-1`. Prepend
    :func:`qkeras.circuits.qcnn.cluster_state` to get the excited cluster states.

    Args:
        qubits: The qubits.
        n_rounds: Rounds; there are ``n_rounds * len(qubits)`` examples.
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        The circuits and the labels (float32 ``±1``).

    Example:
        >>> circuits, labels = cluster_excitations(cirq.LineQubit.range(2), 2, seed=0)
        >>> len(circuits), labels.tolist()
        (4, [1.0, 1.0, -1.0, -1.0])
    """
    rng = np.random.default_rng(seed)
    circuits, labels = [], []
    for _ in range(n_rounds):
        for qubit in qubits:
            theta = rng.uniform(-math.pi, math.pi)
            circuits.append(cirq.Circuit(cirq.rx(theta)(qubit)))
            labels.append(1.0 if -math.pi / 2 <= theta <= math.pi / 2 else -1.0)
    return circuits, np.array(labels, np.float32)
