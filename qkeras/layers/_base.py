"""The shared machinery of qkeras quantum layers."""

from __future__ import annotations

import math

import cirq
import numpy as np
import tensorflow as tf
import tf_keras as keras

from qkeras import backends
from qkeras.circuits import noise as noise_lib
from qkeras.circuits.spec import CircuitSpec, observables_from_config, observables_to_config
from qkeras.errors import ConfigurationError, InputError
from qkeras.layers import _features


def _initializer(value):
    if value is None:
        return keras.initializers.RandomUniform(0.0, 2 * math.pi)
    try:
        return keras.initializers.get(value)
    except ValueError as err:
        raise ConfigurationError(f"Unknown weight initializer {value!r}: {err}") from err


class QuantumLayer(keras.layers.Layer):
    """Base class: a float tensor ``(batch, features)`` in, expectations out.

    The input features are mapped in-graph to the values of the data symbols, concatenated
    with the trainable weights (ordered as ``weight_symbols``) and executed on the
    backend, so gradients flow to both inputs and weights.
    """

    def __init__(self, spec: CircuitSpec, *, backend: str = "auto", differentiator=None,
                 repetitions: int | None = None, noise=None, initializer=None,
                 jit_compile: bool = True, mitigate_readout: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.backend = backend
        self.repetitions = repetitions
        self.noise = noise
        self.initializer = _initializer(initializer)
        self.jit_compile = bool(jit_compile)
        self._differentiator_arg = differentiator
        self.mitigate_readout = bool(mitigate_readout)
        self._executor = backends.make_executor(
            backend, spec, differentiator=differentiator, repetitions=repetitions,
            noise=noise, jit_compile=self.jit_compile, mitigate_readout=self.mitigate_readout)

    # What is executed -------------------------------------------------------------------
    @property
    def circuit(self):
        """The ``cirq.Circuit`` this layer executes (before noise is inserted)."""
        return self.spec.circuit

    @property
    def qubits(self) -> tuple:
        """The circuit's qubits, in state-vector order."""
        return self.spec.qubits

    @property
    def data_symbols(self) -> tuple:
        """Symbols whose values come from the input, in order."""
        return self.spec.data_symbols

    @property
    def weight_symbols(self) -> tuple:
        """Symbols whose values are this layer's weights, in the order of ``kernel``."""
        return self.spec.weight_symbols

    @property
    def observables(self) -> tuple:
        """One ``cirq.PauliSum`` per output column."""
        return self.spec.observables

    @property
    def executed_on(self) -> str:
        """The backend this layer runs on (what ``backend="auto"`` resolved to)."""
        return self._executor.name

    @property
    def differentiator(self):
        """The ``tfq.differentiators.Differentiator`` in use (``None`` off the TFQ backend)."""
        return getattr(self._executor, "differentiator", None)

    def symbol_values(self) -> dict:
        """Returns ``{weight symbol: current value}``.

        Example:
            >>> from qkeras.layers import QuantumDense
            >>> layer = QuantumDense(1, initializer="zeros")
            >>> layer.build((None, 1))
            >>> layer.symbol_values()
            {w0: 0.0, w1: 0.0}
        """
        return {s: float(v) for s, v in zip(self.weight_symbols, self.kernel.numpy())}

    # Keras ------------------------------------------------------------------------------
    def _shape_error(self, shape) -> InputError:
        n = self.spec.n_features
        return InputError(
            f"{type(self).__name__} {self.name!r} expects input (batch, {n}) (one feature "
            f"per data input); got shape {tuple(shape)}. Add a Dense({n}) layer before it, "
            "or change the layer's size to match the data.")

    def build(self, input_shape):
        shape = tf.TensorShape(input_shape)
        if shape.rank != 2 or shape[-1] != self.spec.n_features:
            raise self._shape_error(shape)
        self.kernel = self.add_weight(name="kernel", shape=(len(self.weight_symbols),),
                                      initializer=self.initializer, dtype=tf.float32,
                                      trainable=True)
        super().build(input_shape)

    def _check_finite(self, x: tf.Tensor) -> tf.Tensor:
        message = (f"{type(self).__name__} {self.name!r} got NaN or inf in its input. "
                   "Check the data and its preprocessing (e.g. a division by zero).")
        if tf.executing_eagerly():
            if not np.all(np.isfinite(x.numpy())):
                raise InputError(message)
            return x
        return tf.debugging.assert_all_finite(x, message)

    def call(self, inputs):
        x = tf.cast(inputs, tf.float32)
        if x.shape.rank != 2 or x.shape[-1] != self.spec.n_features:
            raise self._shape_error(x.shape)
        x = self._check_finite(x)
        batch = tf.shape(x)[0]
        values = tf.concat([_features.data_values(x, self.spec),
                            tf.tile(self.kernel[None, :], [batch, 1])], axis=1)
        return self._executor(values)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], len(self.observables)])

    def get_config(self) -> dict:
        from tensorflow_quantum.python.differentiators.differentiator import Differentiator

        from qkeras.backends.tfq import differentiator_config

        diff = self._differentiator_arg
        if isinstance(diff, Differentiator):
            diff = differentiator_config(diff)
        extra = {"mitigate_readout": True} if self.mitigate_readout else {}
        return {**super().get_config(), "backend": self._backend_config(), **extra,
                "differentiator": diff,
                "repetitions": self.repetitions, "noise": noise_lib.to_config(self.noise),
                "jit_compile": self.jit_compile,
                "initializer": keras.initializers.serialize(self.initializer)}

    def _backend_config(self) -> str:
        if isinstance(self.backend, str):
            return self.backend
        spec = getattr(self.backend, "spec", None)
        if isinstance(spec, str):  # a qkeras hardware sampler: saved by name, rebuilt on load
            return spec
        raise ConfigurationError(
            f"{type(self).__name__} {self.name!r} runs on a {type(self.backend).__name__}, "
            "which cannot be saved in a config. Pass backend='vendor:device' (see "
            "qkeras.hardware.sampler) to save the layer.")

    def _set_constructor_args(self, args: dict) -> None:
        # Plain attribute, not Keras-tracked: tracking would wrap the dicts in
        # trackable wrappers that json cannot serialise.
        object.__setattr__(self, "_args", args)

    @staticmethod
    def _observables_config(spec: CircuitSpec, given) -> list | str | None:
        if given is None or isinstance(given, str):
            return given
        return observables_to_config(spec.observables)

    @classmethod
    def from_config(cls, config: dict):
        """Rebuilds a layer from :meth:`get_config`: cirq objects travel as ``cirq.to_json``."""
        config = dict(config)
        config["noise"] = noise_lib.from_config(config.get("noise"))
        observables = config.get("observables")
        if isinstance(observables, list):
            config["observables"] = observables_from_config(observables)
        for key in ("qubits", "circuit"):
            if isinstance(config.get(key), dict):
                config[key] = cirq.read_json(json_text=config[key]["cirq_json"])
        return cls(**config)
