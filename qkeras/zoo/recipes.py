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
      subset: {train: null, val: null, test: null}   # null: the whole split
    model: {kind: qcnn, image_size: 16, qubits: 8, encoding: amplitude}
    baseline: {kind: classical, image_size: 8, hidden: []}   # classical, similar size
    training: {epochs: 30, batch_size: 32, learning_rate: 0.01, patience: 5,
               class_weight: balanced}
    evaluation: {threshold: validation_youden, n_resamples: 1000}
    card: {intended_use: ..., licence: ..., attribution: ..., limitations: ...}

Model kinds (:data:`MODEL_KINDS`): ``qcnn`` (resize, flatten, :class:`~qkeras.models.QCNN`,
a Dense head), ``classical`` (resize, flatten, Dense layers, a Dense head) and
``hybrid_transfer`` (:class:`~qkeras.models.HybridTransfer`).

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

import tf_keras as keras

from qkeras.errors import ConfigurationError, EnvironmentSetupError, unknown_name

__all__ = ["Recipe", "load_recipe", "build_model", "MODEL_KINDS"]

MODEL_KINDS = ("qcnn", "classical", "hybrid_transfer")

_DEFAULTS = {
    "summary": "",
    "seed": 0,
    "data": {"dataset": None, "file": None, "subset": {"train": None, "val": None,
                                                       "test": None}},
    "baseline": None,
    "training": {"epochs": 30, "batch_size": 32, "learning_rate": 0.01, "patience": 5,
                 "class_weight": None},
    "evaluation": {"threshold": 0.5, "n_resamples": 1000},
    "card": {"intended_use": "Research and education only; not a medical device and not "
                             "for diagnosis.", "licence": "", "attribution": "",
             "limitations": ""},
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
        if not (rest["data"].get("dataset") or rest["data"].get("file")):
            raise ConfigurationError("recipe data needs a MedMNIST 'dataset' flag or a 'file'.")
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
        elif kind == "hybrid_transfer":
            outputs = HybridTransfer(classes=max(n_classes, 2), **options)(inputs)
        else:
            raise unknown_name("model kind", kind, MODEL_KINDS)
    except TypeError as err:
        raise ConfigurationError(f"Bad option for model kind {kind!r}: {err}") from err
    return keras.Model(inputs, outputs, name=kind)
