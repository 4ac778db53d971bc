"""Zoo recipes: the YAML file that says how a zoo model is trained, and its model builders.

A recipe (``zoo/<name>/recipe.yaml``) is plain data::

    name: qcnn-pneumoniamnist          # kebab-case zoo name
    version: 0.1.0
    task: binary-classification
    summary: One line for the model card.
    seed: 0                            # seeds Python, NumPy and TensorFlow
    data:
      dataset: pneumoniamnist          # MedMNIST flag (downloaded when no file is given)
      file: pneumoniamnist.npz         # file name looked up in the data folder
      # or, for a class-per-folder image tree (train/test splits, cross-split duplicates
      # removed, validation carved from train by class):
      # folder: brain-tumor-mri, image_size: 64, val_fraction: 0.1, near_duplicates: true
      subset: {train: null, val: null, test: null}   # null: the whole split
    model: {kind: qcnn, image_size: 16, qubits: 8, encoding: amplitude}
    baseline: {kind: classical, image_size: 8, hidden: []}   # classical, similar size
    training: {epochs: 30, batch_size: 32, learning_rate: 0.01, patience: 5,
               class_weight: balanced}
    evaluation: {threshold: validation_youden, n_resamples: 1000}
    card: {intended_use: ..., licence: ..., attribution: ..., limitations: ...}

Model kinds (:data:`MODEL_KINDS`): ``qcnn`` (resize, flatten, :class:`~qkeras.models.QCNN`,
a Dense head), ``classical`` (resize, flatten, Dense layers, a Dense head), ``cnn``
(:func:`cnn`: convolution blocks, then a dressed quantum circuit or its classical twin of
the same size) and ``hybrid_transfer`` (:class:`~qkeras.models.HybridTransfer`;
``backbone: zoo:NAME`` takes a released zoo model, e.g. one trained on another data set,
cut at ``feature_layer``).

Example:
    >>> recipe = Recipe.from_dict({"name": "demo-model", "version": "0.1.0",
    ...     "task": "binary-classification", "data": {"dataset": "pneumoniamnist"},
    ...     "model": {"kind": "classical", "image_size": 4}})
    >>> recipe.training["epochs"], recipe.evaluation["threshold"]
    (30, 0.5)
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import tf_keras as keras

from qkeras.errors import ConfigurationError, EnvironmentSetupError, unknown_name

__all__ = ["Recipe", "load_recipe", "build_model", "MODEL_KINDS"]

MODEL_KINDS = ("qcnn", "classical", "cnn", "hybrid_transfer", "distribution_qgan",
               "patch_qgan")

_DEFAULTS = {
    "summary": "",
    "seed": 0,
    "data": {"dataset": None, "file": None, "folder": None, "image_size": None,
             "val_fraction": 0.1, "near_duplicates": False, "digit": None, "held_out": None,
             "label": None,
             "subset": {"train": None, "val": None, "test": None}},
    "baseline": None,
    "training": {"epochs": 30, "batch_size": 32, "learning_rate": 0.01, "patience": 5,
                 "class_weight": None, "reduce_lr_patience": None, "d_learning_rate": None},
    "evaluation": {"threshold": 0.5, "n_resamples": 1000},
    "card": {"intended_use": "Research and education only; not a medical device and not "
                             "for diagnosis.", "licence": "", "attribution": "",
             "limitations": "", "references": [], "modality": "",
             "preprocessing": ""},
}
_REQUIRED = ("name", "version", "task", "data", "model")


def _merge(defaults: Mapping, given: Mapping, where: str) -> dict:
    unknown = set(given) - set(defaults)
    if unknown:
        raise ConfigurationError(f"Unknown recipe keys {sorted(unknown)} in {where}; "
                                 f"allowed: {sorted(defaults)}.")
    out = copy.deepcopy(dict(defaults))
    for key, value in given.items():
        if isinstance(defaults.get(key), Mapping) and isinstance(value, Mapping):
            out[key] = _merge(defaults[key], value, f"{where}.{key}")
        else:
            out[key] = value
    return out


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A parsed, validated recipe (see the module doc for the format).

    Attributes:
        name, version, task, summary, seed: As in the file.
        data, model, baseline, training, evaluation, card: The sections, defaults filled.
        path: The file it came from (``None`` for a dict).
        sha256: sha256 of the file's bytes (``None`` for a dict).
        overrides: What :meth:`replace` changed since the file (recorded in the outputs).
    """

    name: str
    version: str
    task: str
    summary: str
    seed: int
    data: dict
    model: dict
    baseline: dict | None
    training: dict
    evaluation: dict
    card: dict
    path: Path | None = None
    sha256: str | None = None
    overrides: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping, *, path: Path | None = None,
                  sha256: str | None = None) -> Recipe:
        """Validates a recipe given as a mapping.

        Raises:
            ConfigurationError: For missing or unknown keys, or a bad model kind.

        Example:
            >>> Recipe.from_dict({"name": "m"})  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            qkeras.errors.ConfigurationError: Recipe lacks ['version', 'task', 'data', ...
        """
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"A recipe must be a YAML mapping; got "
                                     f"{type(raw).__name__}.")
        missing = [key for key in _REQUIRED if key not in raw]
        if missing:
            where = f" {path}" if path else ""
            raise ConfigurationError(f"Recipe{where} lacks {missing}; see "
                                     "qkeras.zoo.recipes for the format.")
        rest = _merge({**_DEFAULTS, "name": None, "version": None, "task": None,
                       "model": None}, raw, "recipe")
        model, baseline = rest["model"], rest["baseline"]
        if not isinstance(model, Mapping) or not (baseline is None or isinstance(
                baseline, Mapping)):
            raise ConfigurationError("recipe model and baseline must be mappings with a "
                                     "'kind'.")
        for spec in (model, baseline):
            if spec is not None and spec.get("kind") not in MODEL_KINDS:
                raise unknown_name("model kind", spec.get("kind"), MODEL_KINDS)
        if not (rest["data"].get("dataset") or rest["data"].get("file")
                or rest["data"].get("folder")):
            raise ConfigurationError("recipe data needs a MedMNIST 'dataset' flag, a 'file' "
                                     "or an image 'folder'.")
        return cls(name=str(rest["name"]), version=str(rest["version"]), task=rest["task"],
                   summary=rest["summary"], seed=int(rest["seed"]), data=rest["data"],
                   model=dict(model), baseline=None if baseline is None else dict(baseline),
                   training=rest["training"], evaluation=rest["evaluation"],
                   card=rest["card"], path=path, sha256=sha256)

    def replace(self, **sections: Mapping) -> Recipe:
        """Returns a copy with some sections' keys overridden (e.g. a smaller budget).

        Example:
            >>> r = Recipe.from_dict({"name": "m", "version": "0.1.0", "task": "generation",
            ...     "data": {"file": "x.npz"}, "model": {"kind": "classical"}})
            >>> r.replace(training={"epochs": 1}).training["epochs"]
            1
        """
        changes, overrides = {}, copy.deepcopy(self.overrides)
        for key, values in sections.items():
            current = getattr(self, key)
            if isinstance(current, dict):
                changes[key] = _merge(current, values, key)
                if values:
                    overrides[key] = {**overrides.get(key, {}), **copy.deepcopy(values)}
            else:
                changes[key] = values
                overrides[key] = values
        return dataclasses.replace(self, **changes, overrides=overrides)


def load_recipe(path: str | os.PathLike) -> Recipe:
    """Reads and validates ``recipe.yaml``.

    Raises:
        ConfigurationError: For a missing, unreadable or invalid file.

    Example:
        >>> from qkeras.zoo.entry import repository_zoo
        >>> recipe = load_recipe(repository_zoo() / "qcnn-pneumoniamnist" / "recipe.yaml")
        >>> recipe.model["kind"], recipe.baseline["kind"], len(recipe.sha256)
        ('qcnn', 'classical', 64)
    """
    try:
        import yaml
    except ImportError as err:
        raise EnvironmentSetupError("Zoo recipes are YAML files: install PyYAML "
                                    "(pip install pyyaml).") from err
    path = Path(path)
    try:
        data = path.read_bytes()
        raw = yaml.safe_load(data)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigurationError(f"Cannot read recipe {path}: {err}") from err
    return Recipe.from_dict(raw, path=path, sha256=hashlib.sha256(data).hexdigest())


def _head(x, n_classes: int):
    if n_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid", name="head")(x)
    return keras.layers.Dense(n_classes, activation="softmax", name="head")(x)


def _resized(inputs, spec: Mapping):
    side = spec.get("image_size")
    x = inputs
    if side is not None and tuple(inputs.shape[1:3]) != (side, side):
        x = keras.layers.Resizing(side, side, interpolation="area", name="resize")(x)
    return keras.layers.Flatten(name="pixels")(x)


_AUGMENT = {"flip": None, "rotation": 0.0, "translation": 0.0, "zoom": 0.0, "contrast": 0.0}


def _augmentation(x, options: Mapping | None):
    options = {**_AUGMENT, **dict(options or {})}
    unknown = set(options) - set(_AUGMENT)
    if unknown:
        raise TypeError(f"unknown augment options {sorted(unknown)}; allowed {sorted(_AUGMENT)}")
    if options["flip"]:
        x = keras.layers.RandomFlip(options["flip"], name="augment_flip")(x)
    if options["rotation"]:
        x = keras.layers.RandomRotation(options["rotation"], fill_mode="constant",
                                        name="augment_rotation")(x)
    if options["translation"]:
        t = options["translation"]
        x = keras.layers.RandomTranslation(t, t, fill_mode="constant",
                                           name="augment_translation")(x)
    if options["zoom"]:
        x = keras.layers.RandomZoom(options["zoom"], fill_mode="constant",
                                    name="augment_zoom")(x)
    if options["contrast"]:
        x = keras.layers.RandomContrast(options["contrast"], name="augment_contrast")(x)
    return x


def cnn(inputs, n_classes: int, *, image_size: int | None = None,
        filters: Sequence[int] = (16, 32, 64), features: int = 4, quantum: Mapping | None = None,
        dropout: float = 0.0, augment: Mapping | None = None, momentum: float = 0.9,
        batch_norm: bool = True):
    r"""Convolution blocks, then a dressed quantum circuit or its classical twin, then a head.

    Each block is ``Conv2D(f, 3) -> BatchNorm -> ReLU -> MaxPool(2)`` (the last block is
    global-average pooled; batch-norm ``momentum`` 0.9, so the inference statistics follow
    the weights within an epoch of a few hundred steps; ``batch_norm=False`` leaves it out and
    gives the convolutions biases), followed by ``Dropout`` and ``Dense(features, tanh)``. Then:

    * with ``quantum={"qubits": features, "layers": L}``: the features, scaled by
      :math:`\pi/2`, are the :math:`R_y` angles of a :class:`~qkeras.layers.QuantumDense`
      (hardware-efficient ansatz, :math:`\langle Z_k \rangle` read out), as in the dressed
      circuit of Mari et al. (Quantum 2020);
    * with ``quantum=None``: a ``Dense(features, tanh)`` layer in its place, the classical
      twin of nearly the same size (``features**2 + features`` against ``2 * features * L``
      circuit weights).

    Random augmentation layers (``augment``: flip, rotation, translation, zoom, contrast)
    act in training only.

    Example:
        >>> x = keras.Input((28, 28, 1))
        >>> quantum = keras.Model(x, cnn(x, 2, filters=(4,), quantum={"layers": 2}))
        >>> classical = keras.Model(x, cnn(x, 2, filters=(4,)))
        >>> quantum.count_params(), classical.count_params()
        (93, 97)
    """
    x = inputs
    if image_size is not None and tuple(inputs.shape[1:3]) != (image_size, image_size):
        x = keras.layers.Resizing(image_size, image_size, interpolation="area",
                                  name="resize")(x)
    x = _augmentation(x, augment)
    for k, width in enumerate(filters):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=not batch_norm,
                                name=f"conv_{k}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=momentum, name=f"norm_{k}")(x)
        x = keras.layers.Activation("relu", name=f"relu_{k}")(x)
        if k < len(filters) - 1:
            x = keras.layers.MaxPooling2D(2, name=f"pool_{k}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Dense(features, activation="tanh", name="pre_quantum")(x)
    if quantum is not None:
        from qkeras.layers import QuantumDense

        options = dict(quantum)
        qubits = options.pop("qubits", features)
        if qubits != features:
            raise TypeError(f"quantum.qubits ({qubits}) must equal features ({features})")
        layers = options.pop("layers", 2)
        x = keras.layers.Rescaling(np.pi / 2, name="angles")(x)
        x = QuantumDense(qubits, "angle", "hardware_efficient", layers,
                         encoding_options={"rotation": "y"}, name="dressed_circuit",
                         **options)(x)
    else:
        x = keras.layers.Dense(features, activation="tanh", name="classical_twin")(x)
    return _head(x, n_classes)


def build_model(spec: Mapping, input_shape: Sequence[int], n_classes: int) -> keras.Model:
    """Builds an uncompiled model from a recipe's ``model`` or ``baseline`` section.

    Args:
        spec: ``{"kind": ..., **options}``.
        input_shape: One image's shape, e.g. ``(28, 28, 1)``.
        n_classes: Classes (2: one sigmoid output; more: softmax).

    Returns:
        The model, named after its kind.

    Raises:
        ConfigurationError: For an unknown kind or option.

    Example:
        >>> model = build_model({"kind": "classical", "image_size": 8}, (28, 28, 1), 2)
        >>> model.count_params()
        65
    """
    from qkeras.models import QCNN, HybridTransfer

    options = dict(spec)
    kind = options.pop("kind", None)
    inputs = keras.Input(tuple(input_shape), name="image")
    try:
        if kind == "qcnn":
            x = _resized(inputs, {"image_size": options.pop("image_size", None)})
            x = QCNN(options.pop("qubits", 8), **options)(x)
            outputs = _head(x, n_classes)
        elif kind == "classical":
            x = _resized(inputs, {"image_size": options.pop("image_size", None)})
            for k, units in enumerate(options.pop("hidden", [])):
                x = keras.layers.Dense(units, activation="tanh", name=f"hidden_{k}")(x)
            if options:
                raise TypeError(f"unexpected options {sorted(options)}")
            outputs = _head(x, n_classes)
        elif kind == "cnn":
            outputs = cnn(inputs, n_classes, **options)
        elif kind == "hybrid_transfer":
            backbone = options.pop("backbone", "MobileNetV2")
            if isinstance(backbone, str) and backbone.startswith("zoo:"):
                from qkeras.zoo.client import load

                backbone = load(backbone[4:])
            outputs = HybridTransfer(backbone, classes=max(n_classes, 2), **options)(inputs)
        else:
            raise unknown_name("model kind", kind, MODEL_KINDS)
    except TypeError as err:
        raise ConfigurationError(f"Bad option for model kind {kind!r}: {err}") from err
    return keras.Model(inputs, outputs, name=kind)
