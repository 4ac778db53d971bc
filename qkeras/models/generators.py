r"""Quantum generators: Born-rule distributions of parameterised circuits, and image patches.

A :class:`QuantumGenerator` outputs the probabilities :math:`p_\theta(j) =
|\langle j|U(z, \theta)|0\rangle|^2` of all :math:`2^n` basis states (the Born rule:
measuring the register draws bin :math:`j` with probability :math:`p_\theta(j)`). They are
computed exactly and differentiably from the :math:`2^n - 1` expectations
:math:`\langle Z_S \rangle = \langle \prod_{k \in S} Z_k \rangle` by the Walsh-Hadamard
transform

.. math:: p(j) = 2^{-n} \sum_{S} (-1)^{|j \wedge S|} \langle Z_S \rangle,
   \qquad \langle Z_\emptyset \rangle = 1,

so any backend that returns Pauli expectations (TFQ with the adjoint differentiator, the
statevector simulator) trains them. Bit :math:`k` of :math:`j` (most significant first)
is qubit :math:`k`, Cirq's order.

Example:
    >>> import numpy as np
    >>> gen = QuantumGenerator(2, initializer="zeros")
    >>> np.round(gen.probabilities().numpy(), 3).tolist()
    [0.25, 0.25, 0.25, 0.25]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cirq
import numpy as np
import sympy
import tensorflow as tf
import tf_keras as keras

from qkeras.circuits.spec import CircuitSpec
from qkeras.errors import ConfigurationError, unknown_name
from qkeras.layers import QuantumLayer

__all__ = ["QuantumGenerator", "PatchQuantumGenerator", "parity_observables",
           "walsh_hadamard_matrix", "INITIAL_STATES"]

INITIAL_STATES = ("hadamard", "zero")


def parity_observables(qubits: Sequence[cirq.Qid]) -> list[cirq.PauliSum]:
    """Returns :math:`Z_S` for every non-empty subset ``S`` of ``qubits``, ``S = 1 .. 2^n-1``.

    Subset ``S`` holds qubit ``k`` when bit ``n-1-k`` of ``S`` is set.

    Example:
        >>> [str(o) for o in parity_observables(cirq.LineQubit.range(2))]
        ['1.000*Z(q(1))', '1.000*Z(q(0))', '1.000*Z(q(0))*Z(q(1))']
    """
    n = len(qubits)
    out = []
    for subset in range(1, 2**n):
        string = cirq.PauliString({qubits[k]: cirq.Z for k in range(n)
                                   if subset >> (n - 1 - k) & 1})
        out.append(cirq.PauliSum.from_pauli_strings(string))
    return out


def walsh_hadamard_matrix(n_qubits: int) -> np.ndarray:
    r"""Returns ``M`` with ``M[j, S-1] = (-1)^{popcount(j & S)} / 2^n`` for ``S >= 1``.

    Then ``p = 2^-n + <Z_S> @ M.T`` maps parity expectations to probabilities.

    Example:
        >>> (walsh_hadamard_matrix(1) * 2).tolist()
        [[1.0], [-1.0]]
    """
    j = np.arange(2**n_qubits)[:, None]
    s = np.arange(1, 2**n_qubits)[None, :]
    parity = np.vectorize(lambda v: bin(v).count("1") % 2)(j & s)
    return (1.0 - 2.0 * parity) / 2**n_qubits


def _generator_circuit(qubits: list, layers: int, initial: str, latent: bool):
    """Latent R_y(z) or H, then R_y(w) on each qubit, then ``layers`` x (CZ chain, R_y(w))."""
    n = len(qubits)
    data = [sympy.Symbol(f"z{i}") for i in range(n)] if latent else []
    weights = [sympy.Symbol(f"w{i}") for i in range(n * (layers + 1))]
    circuit = cirq.Circuit()
    if initial == "hadamard":
        circuit.append(cirq.H.on_each(*qubits))
    circuit.append(cirq.ry(z)(q) for q, z in zip(qubits, data))
    it = iter(weights)
    circuit.append(cirq.ry(next(it))(q) for q in qubits)
    for _ in range(layers):
        circuit.append(cirq.CZ(a, b) for a, b in zip(qubits, qubits[1:]))
        circuit.append(cirq.ry(next(it))(q) for q in qubits)
    return circuit, data, weights


@keras.utils.register_keras_serializable(package="qkeras")
class QuantumGenerator(QuantumLayer):
    r"""A quantum generator: Born-rule probabilities of a parameterised circuit.

    The circuit of Zoufal, Lucchi & Woerner, "Quantum generative adversarial networks for
    learning and loading random distributions", npj Quantum Inf. 5, 103 (2019): an initial
    layer (``H`` on each qubit for ``initial="hadamard"``, the uniform distribution), then
    :math:`R_y(w)` on each qubit and ``layers`` repetitions of a CZ chain followed by
    :math:`R_y(w)` on each qubit; ``n * (layers + 1)`` weights. With ``latent=True`` the
    input features :math:`z` enter as :math:`R_y(z_k)` on each qubit first (the
    sub-generators of Huang et al., Phys. Rev. Applied 16, 024051 (2021)).

    Input shape: ``(batch, n)`` with ``latent=True``, else ``(batch, 0)`` (only the batch
    size is used). Output shape: ``(batch, 2**n)``, probabilities that sum to 1.

    Args:
        qubits: Number of qubits (``cirq.LineQubit.range``).
        layers: Entangling repetitions.
        initial: ``"hadamard"`` or ``"zero"``.
        latent: Take a latent vector as input.
        **kwargs: As :class:`~qkeras.layers.QuantumDense`: ``backend``,
            ``differentiator``, ``initializer`` and Keras layer arguments.

    Raises:
        ConfigurationError: For bad sizes or an unknown initial state.

    Example:
        >>> import numpy as np
        >>> gen = QuantumGenerator(3, layers=1, initializer="zeros")
        >>> gen(np.zeros((2, 0), np.float32)).shape
        TensorShape([2, 8])
    """

    def __init__(self, qubits: int = 3, layers: int = 1, *, initial: str = "hadamard",
                 latent: bool = False, **kwargs):
        if not isinstance(qubits, int) or qubits < 1:
            raise ConfigurationError(f"qubits must be a positive integer; got {qubits!r}.")
        if not isinstance(layers, int) or layers < 0:
            raise ConfigurationError(f"layers must be an integer >= 0; got {layers!r}.")
        if initial not in INITIAL_STATES:
            raise unknown_name("initial state", initial, INITIAL_STATES)
        qubit_list = cirq.LineQubit.range(qubits)
        circuit, data, weights = _generator_circuit(qubit_list, layers, initial, latent)
        spec = CircuitSpec(circuit=circuit, qubits=tuple(qubit_list), data_symbols=tuple(data),
                           weight_symbols=tuple(weights),
                           observables=tuple(parity_observables(qubit_list)),
                           n_features=len(data))
        kwargs.setdefault("initializer", keras.initializers.RandomUniform(-0.1, 0.1))
        super().__init__(spec, **kwargs)
        self._set_constructor_args({"qubits": qubits, "layers": layers, "initial": initial,
                                    "latent": bool(latent)})
        self._transform = tf.constant(walsh_hadamard_matrix(qubits).T, tf.float32)

    def call(self, inputs):
        parities = super().call(inputs)
        probabilities = tf.nn.relu(2.0 ** -len(self.qubits) + parities @ self._transform)
        return probabilities / tf.reduce_sum(probabilities, axis=1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], 2 ** len(self.qubits)])

    def probabilities(self, latent=None) -> tf.Tensor:
        """Returns the distribution ``(2**n,)`` (for ``latent``, one vector ``(n,)``).

        Example:
            >>> gen = QuantumGenerator(1, layers=0, initial="zero", initializer="zeros")
            >>> gen.probabilities().numpy().tolist()
            [1.0, 0.0]
        """
        x = (tf.zeros((1, 0)) if latent is None
             else tf.reshape(tf.cast(latent, tf.float32), (1, -1)))
        return self(x)[0]

    def sample(self, n: int, *, seed: int = 0, latent=None) -> np.ndarray:
        """Draws ``n`` bin indices from :meth:`probabilities` (what a measurement returns).

        Example:
            >>> gen = QuantumGenerator(1, layers=0, initial="zero", initializer="zeros")
            >>> gen.sample(3).tolist()
            [0, 0, 0]
        """
        p = self.probabilities(latent).numpy().astype(np.float64)
        return np.random.default_rng(seed).choice(len(p), size=n, p=p / p.sum())

    def get_config(self) -> dict:
        return {**super().get_config(), **self._args}


@keras.utils.register_keras_serializable(package="qkeras")
class PatchQuantumGenerator(keras.layers.Layer):
    r"""The patch quantum generator of Huang et al., Phys. Rev. Applied 16, 024051 (2021).

    ``patches`` sub-generators (:class:`QuantumGenerator` with ``latent=True``, no
    Hadamards) share the latent vector :math:`z`. Sub-generator :math:`k` measures
    ``qubits`` qubits, of which the last ``ancillas`` are post-selected in :math:`|0\rangle`
    (a non-linearity); its :math:`2^{qubits - ancillas}` conditional probabilities,
    divided by their maximum, are the pixels of patch :math:`k` in :math:`[0, 1]`. Patches
    fill the image in row-major order (for 8x8 images and 16-pixel patches: two rows each).

    Input shape: ``(batch, qubits)``, latent angles (e.g. uniform in :math:`[0, \pi/2)`).
    Output shape: ``(batch, *image_shape)``.

    Args:
        image_shape: Output image shape, e.g. ``(8, 8)``.
        patches: Number of sub-generators.
        qubits: Qubits per sub-generator.
        ancillas: Post-selected qubits per sub-generator.
        layers: Entangling repetitions per sub-generator.
        **kwargs: ``backend``, ``differentiator``, ``initializer`` (default uniform in
            [0, 1) as in PennyLane's demo; a seeded one is re-seeded ``seed + k`` for patch
            ``k``) and Keras layer arguments.

    Raises:
        ConfigurationError: If ``patches * 2**(qubits - ancillas)`` is not the pixel count.

    Example:
        >>> import numpy as np
        >>> gen = PatchQuantumGenerator((8, 8), patches=4, qubits=5, ancillas=1, layers=1)
        >>> gen(np.zeros((2, 5), np.float32)).shape
        TensorShape([2, 8, 8])
    """

    _QUANTUM_KEYS = ("backend", "differentiator", "initializer", "jit_compile")

    def __init__(self, image_shape: Sequence[int] = (8, 8), patches: int = 4, qubits: int = 5,
                 ancillas: int = 1, layers: int = 6, **kwargs):
        quantum = {k: kwargs.pop(k) for k in self._QUANTUM_KEYS if k in kwargs}
        super().__init__(**kwargs)
        image_shape = tuple(int(v) for v in image_shape)
        if not 0 <= ancillas < qubits or patches < 1:
            raise ConfigurationError(f"Need patches >= 1 and 0 <= ancillas < qubits; got "
                                     f"patches={patches}, qubits={qubits}, ancillas={ancillas}.")
        pixels = patches * 2 ** (qubits - ancillas)
        if pixels != math.prod(image_shape):
            raise ConfigurationError(
                f"{patches} patches of 2**({qubits}-{ancillas}) pixels make {pixels} pixels; "
                f"image_shape {image_shape} has {math.prod(image_shape)}. Change patches, "
                "qubits or ancillas.")
        self.image_shape, self.patches, self.n_qubits = image_shape, patches, qubits
        self.ancillas, self.layers = ancillas, layers
        self._quantum = quantum
        self.generators = [QuantumGenerator(qubits, layers, initial="zero", latent=True,
                                            name=f"patch_{k}",
                                            **{**quantum, "initializer": self._init(k)})
                           for k in range(patches)]

    def _init(self, k: int) -> keras.initializers.Initializer:
        """A fresh initializer per patch; a seeded one gets seed + k, so patches differ."""
        given = self._quantum.get("initializer", keras.initializers.RandomUniform(0.0, 1.0))
        init = keras.initializers.get(given)
        config = init.get_config()
        if config.get("seed") is not None:
            config["seed"] += k
        return type(init).from_config(config)

    def build(self, input_shape):
        for generator in self.generators:
            if not generator.built:
                with tf.name_scope(generator.name):  # distinct weight names (HDF5 format)
                    generator.build(input_shape)
        super().build(input_shape)

    def call(self, inputs):
        keep = 2 ** (self.n_qubits - self.ancillas)
        patches = []
        for generator in self.generators:
            # Ancillas are the last qubits, the least significant bits: |j, 0...0>.
            p = generator(inputs)[:, :: 2**self.ancillas][:, :keep]
            patches.append(p / (tf.reduce_max(p, axis=1, keepdims=True) + 1e-12))
        return tf.reshape(tf.concat(patches, axis=1), (-1, *self.image_shape))

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], *self.image_shape])

    def get_config(self) -> dict:
        quantum = dict(self._quantum)
        if "initializer" in quantum:
            quantum["initializer"] = keras.initializers.serialize(
                keras.initializers.get(quantum["initializer"]))
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "patches": self.patches, "qubits": self.n_qubits, "ancillas": self.ancillas,
                "layers": self.layers, **quantum}
