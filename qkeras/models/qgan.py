r"""Quantum generative adversarial networks: quantum generators, classical discriminators.

* :class:`DistributionQGAN`: loads a discretised distribution into an :math:`n`-qubit
  register (Zoufal, Lucchi & Woerner, npj Quantum Inf. 5, 103 (2019)). The generator is
  a :class:`~qkeras.models.QuantumGenerator`; the discriminator scores bin values. Both
  losses take the expectation over the generator's exact Born distribution
  :math:`p_\theta` (the limit of infinitely many measurement shots):

  .. math:: L_D = -\tfrac1B \sum_b \ln D(x_b) - \sum_j p_\theta(j) \ln(1 - D(x_j)),
     \qquad L_G = -\sum_j p_\theta(j) \ln D(x_j).

* :class:`QuantumGAN`: a sample GAN whose generator maps latent noise
  :math:`z \sim U(a, b)^d` to samples, e.g. the
  :class:`~qkeras.models.PatchQuantumGenerator` of Huang et al., Phys. Rev. Applied 16,
  024051 (2021); binary cross-entropy with the non-saturating generator loss
  (Goodfellow et al., NeurIPS 2014).

Both are Keras models: ``compile(d_optimizer=..., g_optimizer=...)`` then ``fit`` on
real samples; ``get_config``/``from_config`` and ``model.save`` round-trip them.

Example:
    >>> from qkeras.models import QuantumGenerator
    >>> gan = DistributionQGAN(QuantumGenerator(2, initializer="zeros"))
    >>> [round(float(v), 2) for v in gan.probabilities()]
    [0.25, 0.25, 0.25, 0.25]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from qkeras.errors import ConfigurationError, InputError
from qkeras.models._config import deserialize_layer, serialize_layer
from qkeras.models.distributions import relative_entropy
from qkeras.models.generators import QuantumGenerator

__all__ = ["DistributionQGAN", "QuantumGAN", "distribution_discriminator",
           "image_discriminator"]

_EPS = 1e-7


def distribution_discriminator(bin_values: Sequence[float], *, seed: int = 0) -> keras.Model:
    """Zoufal et al.'s discriminator: 50 and 20 leaky-ReLU units, then a sigmoid.

    Inputs are rescaled from the range of ``bin_values`` to [0, 1].

    Example:
        >>> distribution_discriminator([0, 1, 2, 3]).output_shape
        (None, 1)
    """
    low, high = float(np.min(bin_values)), float(np.max(bin_values))
    init = keras.initializers.GlorotUniform
    return keras.Sequential([
        keras.Input((1,)),
        keras.layers.Rescaling(1.0 / max(high - low, 1e-12), offset=-low / max(high - low,
                                                                              1e-12)),
        keras.layers.Dense(50, activation="leaky_relu", kernel_initializer=init(seed)),
        keras.layers.Dense(20, activation="leaky_relu", kernel_initializer=init(seed + 1)),
        keras.layers.Dense(1, activation="sigmoid", kernel_initializer=init(seed + 2)),
    ], name="discriminator")


def image_discriminator(image_shape: Sequence[int], *, seed: int = 0) -> keras.Model:
    """The patch-GAN discriminator of PennyLane's quantum GAN demo: 64 and 16 ReLU units.

    Example:
        >>> image_discriminator((8, 8)).output_shape
        (None, 1)
    """
    init = keras.initializers.GlorotUniform
    return keras.Sequential([
        keras.Input(tuple(image_shape)), keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu", kernel_initializer=init(seed)),
        keras.layers.Dense(16, activation="relu", kernel_initializer=init(seed + 1)),
        keras.layers.Dense(1, activation="sigmoid", kernel_initializer=init(seed + 2)),
    ], name="discriminator")


def _layer(value, what: str):
    if isinstance(value, dict):
        value = deserialize_layer(value)
    if not isinstance(value, keras.layers.Layer):
        raise ConfigurationError(f"{what} must be a Keras layer or model; got "
                                 f"{type(value).__name__}.")
    return value


class _GAN(keras.Model):
    """Two optimizers and the shared save/config logic."""

    def compile(self, d_optimizer="adam", g_optimizer="adam", **kwargs):
        """Sets the discriminator's and the generator's optimizers (names or instances)."""
        super().compile(**kwargs)
        self.d_optimizer = keras.optimizers.get(d_optimizer)
        self.g_optimizer = keras.optimizers.get(g_optimizer)

    def _step(self, tape, loss, variables, optimizer):
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    def get_config(self) -> dict:
        return {"name": self.name,
                "generator": serialize_layer(self.generator),
                "discriminator": serialize_layer(self.discriminator)}


@keras.utils.register_keras_serializable(package="qkeras")
class DistributionQGAN(_GAN):
    """qGAN that learns and loads a discretised distribution (Zoufal et al., 2019).

    ``fit(x)`` takes real samples ``x`` (values from ``bin_values``, shape ``(N,)`` or
    ``(N, 1)``). Calling the model on values ``(batch, 1)`` gives the discriminator's
    probability that they are real; :meth:`probabilities` gives the generator's
    distribution. The history holds ``d_loss``, ``g_loss`` and, with a ``target``,
    ``relative_entropy`` :math:`D(p_\\theta \\| p_{target})`.

    Args:
        generator: A :class:`QuantumGenerator` without latent input.
        discriminator: A Keras model from values ``(batch, 1)`` to probabilities; default
            :func:`distribution_discriminator`.
        bin_values: The value of each of the ``2**n`` bins; default ``0 .. 2**n - 1``.
        target: Target probabilities, for the ``relative_entropy`` metric.
        name: Model name.

    Raises:
        ConfigurationError: For a generator with latent input or mismatched sizes.

    Example:
        >>> import numpy as np
        >>> from qkeras.models import QuantumGenerator, lognormal
        >>> values, target = lognormal(3)
        >>> gan = DistributionQGAN(QuantumGenerator(3), bin_values=values, target=target)
        >>> gan.compile(keras.optimizers.Adam(0.01), keras.optimizers.Adam(0.05))
        >>> x = np.random.default_rng(0).choice(values, size=64, p=target)
        >>> sorted(gan.fit(x, batch_size=32, epochs=1, verbose=0).history)
        ['d_loss', 'g_loss', 'relative_entropy']
    """

    def __init__(self, generator, discriminator=None, *, bin_values=None, target=None,
                 name: str = "distribution_qgan", **kwargs):
        super().__init__(name=name, **kwargs)
        self.generator = _layer(generator, "generator")
        if not isinstance(self.generator, QuantumGenerator) or self.generator.spec.n_features:
            raise ConfigurationError("DistributionQGAN needs a QuantumGenerator with "
                                     "latent=False.")
        size = 2 ** len(self.generator.qubits)
        values = np.arange(size, dtype=np.float64) if bin_values is None else np.asarray(
            bin_values, np.float64)
        if values.shape != (size,) or (target is not None and np.size(target) != size):
            raise ConfigurationError(f"bin_values and target need {size} entries (one per "
                                     f"basis state); got {values.size} and "
                                     f"{None if target is None else np.size(target)}.")
        # Plain attributes: Keras tracking would wrap the lists.
        object.__setattr__(self, "bin_values", values.tolist())
        object.__setattr__(self, "target", None if target is None
                           else np.asarray(target, np.float64).tolist())
        self.discriminator = _layer(distribution_discriminator(values) if discriminator
                                    is None else discriminator, "discriminator")
        self._bins = tf.constant(values[:, None], tf.float32)
        self._no_latent = tf.zeros((1, 0))
        self.build()

    def build(self, input_shape=(None, 1)):
        if not self.generator.built:
            self.generator.build((None, 0))
        if not self.discriminator.built:
            self.discriminator.build(input_shape)
        self.built = True

    def call(self, inputs):
        return self.discriminator(tf.reshape(tf.cast(inputs, tf.float32), (-1, 1)))

    def probabilities(self) -> tf.Tensor:
        """Returns the generator's distribution over the bins, ``(2**n,)``."""
        return self.generator(self._no_latent)[0]

    def relative_entropy(self, target=None) -> float:
        """Returns :math:`D(p_\\theta \\| target)` (default: the model's ``target``)."""
        target = self.target if target is None else target
        if target is None:
            raise ConfigurationError("No target: pass target= here or to the constructor.")
        return relative_entropy(self.probabilities().numpy(), target)

    def train_step(self, data):
        real = tf.reshape(tf.cast(data[0] if isinstance(data, tuple) else data, tf.float32),
                          (-1, 1))
        with tf.GradientTape() as tape:
            p = tf.stop_gradient(self.probabilities())
            d_real = self.discriminator(real, training=True)[:, 0]
            d_fake = self.discriminator(self._bins, training=True)[:, 0]
            d_loss = (-tf.reduce_mean(tf.math.log(d_real + _EPS))
                      - tf.reduce_sum(p * tf.math.log(1.0 - d_fake + _EPS)))
        self._step(tape, d_loss, self.discriminator.trainable_variables, self.d_optimizer)
        with tf.GradientTape() as tape:
            p = self.probabilities()
            d_fake = self.discriminator(self._bins, training=False)[:, 0]
            g_loss = -tf.reduce_sum(p * tf.math.log(d_fake + _EPS))
        self._step(tape, g_loss, self.generator.trainable_variables, self.g_optimizer)
        logs = {"d_loss": d_loss, "g_loss": g_loss}
        if self.target is not None:
            q = tf.constant(self.target, tf.float32)
            logs["relative_entropy"] = tf.reduce_sum(
                tf.math.multiply_no_nan(tf.math.log(p / q), p))
        return logs

    def get_config(self) -> dict:
        return {**super().get_config(), "bin_values": self.bin_values, "target": self.target}


@keras.utils.register_keras_serializable(package="qkeras")
class QuantumGAN(_GAN):
    """A GAN with a quantum generator from latent noise to samples (e.g. image patches).

    Each step draws :math:`z \\sim U(a, b)^d` (stateless, seeded by ``seed`` and the step),
    updates the discriminator on real (label 1) and generated (label 0) samples with binary
    cross-entropy, then the generator to make the discriminator answer 1. Calling the model
    on latent vectors ``(batch, d)`` generates samples.

    Args:
        generator: Latent ``(batch, latent_dim)`` to samples, e.g.
            :class:`~qkeras.models.PatchQuantumGenerator`.
        discriminator: Samples to probabilities ``(batch, 1)``; default
            :func:`image_discriminator` of the generator's output shape.
        latent_dim: Latent size; default the generator's qubits.
        latent_range: ``(a, b)``; default ``(0, pi/2)`` as in PennyLane's patch GAN demo.
        seed: Seed of the latent draws.
        name: Model name.

    Example:
        >>> from qkeras.models import PatchQuantumGenerator
        >>> gan = QuantumGAN(PatchQuantumGenerator((2, 4), patches=2, qubits=3, ancillas=1,
        ...                                        layers=1))
        >>> gan.generate(3).shape
        (3, 2, 4)
    """

    def __init__(self, generator, discriminator=None, *, latent_dim: int | None = None,
                 latent_range: Sequence[float] = (0.0, math.pi / 2), seed: int = 0,
                 name: str = "quantum_gan", **kwargs):
        super().__init__(name=name, **kwargs)
        self.generator = _layer(generator, "generator")
        self.latent_dim = int(latent_dim if latent_dim is not None
                              else getattr(self.generator, "n_qubits", 0))
        if self.latent_dim < 1:
            raise ConfigurationError("latent_dim must be given (>= 1) for this generator.")
        object.__setattr__(self, "latent_range", tuple(float(v) for v in latent_range))
        self.seed = int(seed)
        shape = self.generator.compute_output_shape((None, self.latent_dim))[1:]
        self.discriminator = _layer(image_discriminator(shape) if discriminator is None
                                    else discriminator, "discriminator")
        self._sample_shape = tuple(shape)
        self.build()

    def build(self, input_shape=None):
        if not self.generator.built:
            self.generator.build((None, self.latent_dim))
        if not self.discriminator.built:
            self.discriminator.build((None, *self._sample_shape))
        self.built = True

    def call(self, inputs):
        return self.generator(inputs)

    def latent(self, n, step=0) -> tf.Tensor:
        """Latent vectors ``(n, latent_dim)`` for draw ``step`` (deterministic)."""
        low, high = self.latent_range
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        return tf.random.stateless_uniform((n, self.latent_dim), seed, low, high)

    def generate(self, n: int, *, step: int = -1) -> np.ndarray:
        """Generates ``n`` samples as a NumPy array (latent draw ``step``)."""
        if n < 1:
            raise InputError(f"generate needs n >= 1; got {n}.")
        return self.generator(self.latent(n, step)).numpy()

    def train_step(self, data):
        real = tf.cast(data[0] if isinstance(data, tuple) else data, tf.float32)
        batch = tf.shape(real)[0]
        z = self.latent(batch, self.g_optimizer.iterations)
        bce = keras.losses.binary_crossentropy
        with tf.GradientTape() as tape:
            fake = tf.stop_gradient(self.generator(z))
            d_real = self.discriminator(real, training=True)
            d_fake = self.discriminator(fake, training=True)
            d_loss = tf.reduce_mean(bce(tf.ones_like(d_real), d_real)
                                    + bce(tf.zeros_like(d_fake), d_fake))
        self._step(tape, d_loss, self.discriminator.trainable_variables, self.d_optimizer)
        with tf.GradientTape() as tape:
            d_fake = self.discriminator(self.generator(z), training=False)
            g_loss = tf.reduce_mean(bce(tf.ones_like(d_fake), d_fake))
        self._step(tape, g_loss, self.generator.trainable_variables, self.g_optimizer)
        return {"d_loss": d_loss, "g_loss": g_loss}

    def get_config(self) -> dict:
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "latent_range": list(self.latent_range), "seed": self.seed}
