r"""``HybridTransfer``: a frozen classical backbone and a dressed quantum circuit.

Classical-to-quantum transfer learning of Mari, Bromley, Izaac, Schuld & Killoran,
"Transfer learning in hybrid classical-quantum neural networks", Quantum 4, 340 (2020):
a pre-trained network extracts features, and only a *dressed quantum circuit* is trained,

.. math:: y = \mathrm{softmax}\big(W_2\, \langle Z \rangle_{V(w)\,R_y(\tfrac{\pi}{2}
   \tanh(W_1 f + b_1))|0\rangle} + b_2\big),

i.e. ``Dense(n_qubits, tanh)`` scaled by :math:`\pi/2`, a
:class:`~qkeras.layers.QuantumDense` (angle encoding with :math:`R_y`, hardware-efficient
ansatz, :math:`\langle Z_k \rangle` on each qubit) and ``Dense(classes)``.

Example:
    >>> import numpy as np
    >>> model = HybridTransfer("MobileNetV2", classes=2, n_qubits=2, weights=None,
    ...                        backbone_size=32, backbone_options={"alpha": 0.35})
    >>> model(np.zeros((1, 28, 28, 1), np.float32)).shape
    TensorShape([1, 2])
"""

from __future__ import annotations

import difflib
import importlib
import math
import os
from collections.abc import Mapping
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from qkeras.errors import ConfigurationError, InputError
from qkeras.layers import QuantumDense
from qkeras.models._config import deserialize_layer, serialize_layer

__all__ = ["HybridTransfer", "application_names"]

#: Input sides of keras.applications models whose default is not 224.
_DEFAULT_SIZES = {"InceptionV3": 299, "InceptionResNetV2": 299, "Xception": 299,
                  "NASNetLarge": 331, "EfficientNetB1": 240, "EfficientNetB2": 260,
                  "EfficientNetB3": 300, "EfficientNetB4": 380, "EfficientNetB5": 456,
                  "EfficientNetB6": 528, "EfficientNetB7": 600, "EfficientNetV2B1": 240,
                  "EfficientNetV2B2": 260, "EfficientNetV2B3": 300, "EfficientNetV2S": 384,
                  "EfficientNetV2M": 480, "EfficientNetV2L": 480}


def application_names() -> list[str]:
    """Returns the ``keras.applications`` model names a backbone can be built from.

    Example:
        >>> "ResNet50" in application_names()
        True
    """
    return sorted(n for n in dir(keras.applications)
                  if n[0].isupper() and callable(getattr(keras.applications, n)))


def _from_application(name: str, size: int | None, weights, options: Mapping):
    constructor = getattr(keras.applications, name)
    side = size or _DEFAULT_SIZES.get(name, 224)
    try:
        model = constructor(include_top=False, weights=weights, input_shape=(side, side, 3),
                            pooling="avg", **options)
    except (ValueError, TypeError) as err:
        raise ConfigurationError(f"Cannot build backbone {name!r} at {side}x{side}: {err}") \
            from err
    return model, constructor.__module__.rsplit(".", 1)[-1]


def _from_file(path: str) -> keras.Model:
    if not Path(path).exists():
        close = difflib.get_close_matches(path, application_names(), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ConfigurationError(
            f"Unknown backbone {path!r}: neither a keras.applications name (see "
            f"application_names()) nor an existing saved model file.{hint} Pass a name, a "
            ".keras/.h5 path or a keras.Model.")
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as err:
        raise ConfigurationError(f"Cannot load backbone model {path!r}: {err}") from err


def _features_only(model: keras.Model, feature_layer: str | None) -> keras.Model:
    if feature_layer is not None:
        try:
            model = keras.Model(model.inputs, model.get_layer(feature_layer).output)
        except ValueError as err:
            raise ConfigurationError(f"Backbone has no layer {feature_layer!r}: {err}") \
                from err
    if len(model.output_shape) == 4:
        pooled = keras.layers.GlobalAveragePooling2D()(model.output)
        model = keras.Model(model.inputs, pooled, name=model.name)
    if len(model.input_shape) != 4 or len(model.output_shape) != 2:
        raise ConfigurationError(
            f"A backbone must map images (batch, h, w, c) to features (batch, k); got "
            f"{model.input_shape} -> {model.output_shape}. Pick feature_layer= accordingly.")
    return model


def _preprocess_function(module: str | None):
    if module is None:
        return None
    try:
        return importlib.import_module(f"tf_keras.applications.{module}").preprocess_input
    except (ImportError, AttributeError) as err:
        raise ConfigurationError(
            f"preprocessing must name a keras.applications module with preprocess_input "
            f"(e.g. 'mobilenet_v2', 'resnet') or be None; got {module!r}.") from err


def _resolve(backbone, size, weights, options, feature_layer):
    if isinstance(backbone, Mapping):
        return deserialize_layer(backbone), None
    if isinstance(backbone, keras.Model):
        return _features_only(backbone, feature_layer), None
    if not isinstance(backbone, (str, os.PathLike)):
        raise ConfigurationError(f"backbone must be a keras.applications name, a saved "
                                 f"model path or a keras.Model; got {type(backbone).__name__}.")
    name = os.fspath(backbone)
    if name in application_names():
        return _from_application(name, size, weights, options)
    return _features_only(_from_file(name), feature_layer), None


@keras.utils.register_keras_serializable(package="qkeras")
class HybridTransfer(keras.Model):
    """Frozen classical backbone plus dressed quantum circuit (Mari et al., Quantum 2020).

    Input shape: ``(batch, h, w, c)`` images with values in ``[0, input_scale]``,
    ``c`` 1 or 3: grey images are repeated to 3 channels for an RGB backbone (and RGB
    images averaged for a grey one), then resized (bilinear) to the backbone's input size
    and, for ``keras.applications`` backbones, passed through that application's
    ``preprocess_input`` after scaling to [0, 255]. Output shape: ``(batch, classes)``,
    softmax probabilities.

    Args:
        backbone: A ``keras.applications`` name (``"ResNet50"``, ``"MobileNetV2"``; built
            without its top, global-average pooled), the path of a saved Keras model (used
            as is: it takes images in ``[0, input_scale]``), or a ``keras.Model`` (e.g. a
            zoo model from ``qkeras.zoo.load(name)``, cut at ``feature_layer``). Files and
            models work offline.
        classes: Number of classes (>= 2).
        n_qubits: Qubits of the dressed circuit (features entering it).
        q_layers: Ansatz layers of the quantum circuit.
        weights: ``keras.applications`` weights: ``"imagenet"`` (downloads once into
            Keras' cache) or ``None`` (random; offline).
        backbone_size: Side of the backbone's square input for an application (default
            its own, mostly 224).
        backbone_options: Extra keyword arguments of the application (e.g. ``alpha``).
        feature_layer: For a model backbone: the layer whose output is the features.
        train_backbone: Fine-tune the backbone too (default frozen, inference-mode
            batch normalisation).
        input_scale: The inputs' maximum value (1 for images in [0, 1]).
        preprocessing: ``keras.applications`` module whose ``preprocess_input`` to apply
            (set automatically for application backbones; ``None`` for none).
        quantum_options: Extra keyword arguments of the ``QuantumDense`` (``backend``,
            ``differentiator`` ...).
        classical_twin: Put ``Dense(n_qubits, tanh)`` in the circuit's place: the classical
            model of nearly the same size (``n_qubits**2 + n_qubits`` weights against the
            circuit's ``2 * n_qubits * q_layers``) to compare the quantum model with.
        name: Model name.

    Raises:
        ConfigurationError: For an unknown backbone or bad sizes.
        InputError: For images that are not ``(batch, h, w, 1 or 3)``.

    Example:
        >>> model = HybridTransfer("MobileNetV2", classes=3, n_qubits=2, weights=None,
        ...                        backbone_size=32, backbone_options={"alpha": 0.35})
        >>> model.backbone.trainable, model.quantum.weight_symbols[:2]
        (False, (w0, w1))
    """

    def __init__(self, backbone="MobileNetV2", classes: int = 2, *, n_qubits: int = 4,
                 q_layers: int = 2, weights: str | None = "imagenet",
                 backbone_size: int | None = None, backbone_options: Mapping | None = None,
                 feature_layer: str | None = None, train_backbone: bool = False,
                 input_scale: float = 1.0, preprocessing: str | None = None,
                 quantum_options: Mapping | None = None, classical_twin: bool = False,
                 name: str = "hybrid_transfer", **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(classes, int) or classes < 2:
            raise ConfigurationError(f"classes must be an integer >= 2; got {classes!r}.")
        self.backbone, detected = _resolve(backbone, backbone_size, weights,
                                           dict(backbone_options or {}), feature_layer)
        self.preprocessing = preprocessing or detected
        self._preprocess = _preprocess_function(self.preprocessing)
        self.train_backbone = bool(train_backbone)
        self.backbone.trainable = self.train_backbone
        self.classes, self.n_qubits, self.q_layers = classes, n_qubits, q_layers
        self.input_scale = float(input_scale)
        # Plain attribute: Keras tracking would wrap the dict, which json cannot write.
        object.__setattr__(self, "quantum_options", dict(quantum_options or {}))
        self.pre = keras.layers.Dense(n_qubits, activation="tanh", name="pre_quantum")
        self.classical_twin = bool(classical_twin)
        if self.classical_twin:
            self.quantum = keras.layers.Dense(n_qubits, activation="tanh",
                                              name="classical_twin")
        else:
            self.quantum = QuantumDense(n_qubits, "angle", "hardware_efficient", q_layers,
                                        encoding_options={"rotation": "y"},
                                        name="dressed_circuit", **self.quantum_options)
        self.head = keras.layers.Dense(classes, activation="softmax", name="post_quantum")

    def _adapt(self, images: tf.Tensor) -> tf.Tensor:
        x = tf.cast(images, tf.float32)
        if x.shape.rank != 4 or x.shape[-1] not in (1, 3):
            raise InputError(f"HybridTransfer {self.name!r} expects images (batch, h, w, 1 "
                             f"or 3); got shape {tuple(x.shape)}. Add a channel axis to "
                             "grey images (x[..., None]).")
        _, height, width, channels = self.backbone.input_shape
        if channels == 3 and x.shape[-1] == 1:
            x = tf.repeat(x, 3, axis=-1)
        elif channels == 1 and x.shape[-1] == 3:
            x = tf.reduce_mean(x, axis=-1, keepdims=True)
        if (height, width) != tuple(x.shape[1:3]) and height is not None:
            x = tf.image.resize(x, (height, width))
        if self._preprocess is not None:
            x = self._preprocess(x * (255.0 / self.input_scale))
        return x

    def features(self, images) -> tf.Tensor:
        """The backbone's features ``(batch, k)`` of ``images`` (inference mode).

        Example:
            >>> import numpy as np
            >>> model = HybridTransfer("MobileNetV2", weights=None, backbone_size=32,
            ...                        backbone_options={"alpha": 0.35})
            >>> model.features(np.zeros((2, 28, 28, 1), np.float32)).shape
            TensorShape([2, 1280])
        """
        return self.backbone(self._adapt(images), training=False)

    def call(self, inputs, training=None):
        x = self._adapt(inputs)
        features = self.backbone(x, training=training if self.train_backbone else False)
        angles = self.pre(features) * (math.pi / 2)
        return self.head(self.quantum(angles))

    def get_config(self) -> dict:
        """Constructor arguments; the backbone travels as its architecture (weights come
        from the saved model, so ``weights`` is ``None``)."""
        return {"backbone": serialize_layer(self.backbone),
                "classes": self.classes, "n_qubits": self.n_qubits, "q_layers": self.q_layers,
                "weights": None, "train_backbone": self.train_backbone,
                "input_scale": self.input_scale, "preprocessing": self.preprocessing,
                "quantum_options": self.quantum_options,
                "classical_twin": self.classical_twin, "name": self.name}
