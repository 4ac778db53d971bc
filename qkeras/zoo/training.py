"""Running a recipe: seeded training on real data, test-split metrics, weights and a card.

:func:`train` reads the data set (a MedMNIST ``.npz``), trains the recipe's model and its
classical baseline with the same budget, chooses the operating threshold (a number, or
Youden's J on the *validation* split), evaluates both on the test split with bootstrap
confidence intervals (:func:`qkeras.medical.metrics.evaluate`), and writes into the
output folder, each file atomically:

* ``<name>-<version>-<sha256[:8]>.keras``: the trained model;
* ``metrics.json``: data provenance and sizes, both reports, parameter counts, the weights'
  sha256, the recipe's sha256 and the package versions;
* ``card.md``: the model card (:mod:`qkeras.zoo.card`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import tf_keras as keras

from qkeras._files import atomic_write
from qkeras.zoo.card import render_card
from qkeras.zoo.recipes import Recipe, build_model

__all__ = ["TrainingResult", "train", "refresh_card"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    """What :func:`train` wrote.

    Attributes:
        weights: The model file.
        metrics: ``metrics.json``.
        card: ``card.md``.
        summary: The content of ``metrics.json``.
    """

    weights: Path
    metrics: Path
    card: Path
    summary: dict


def _atomic_write(path: Path, data: bytes) -> Path:
    return atomic_write(path, data, mode=0o644)  # released files are world-readable


def _subset(x, y, n, seed):
    if n is None or n >= len(y):
        return x, y
    keep = np.sort(np.random.default_rng(seed).permutation(len(y))[:n])
    return x[keep], y[keep]


def _load_data(recipe: Recipe, data):
    from qkeras.zoo.data import load_splits

    loaded = load_splits(recipe.data, data, seed=recipe.seed)
    splits = {}
    for k, split in enumerate(("train", "val", "test")):
        n = recipe.data.get("subset", {}).get(split)
        splits[split] = _subset(loaded.images[split], loaded.labels[split], n,
                                recipe.seed + k)
    return loaded, splits


def _fit(recipe: Recipe, spec: dict, splits: dict, n_classes: int, verbose: int):
    keras.utils.set_random_seed(recipe.seed)
    (x, y), (xv, yv) = splits["train"], splits["val"]
    model = build_model(spec, x.shape[1:], n_classes)
    binary = model.output_shape[-1] == 1
    t = recipe.training
    model.compile(keras.optimizers.Adam(t["learning_rate"]),
                  "binary_crossentropy" if binary else "sparse_categorical_crossentropy")
    weights = None
    if t.get("class_weight") == "balanced":
        counts = np.bincount(y, minlength=n_classes)
        weights = {c: len(y) / (n_classes * max(n, 1)) for c, n in enumerate(counts)}
    stop = keras.callbacks.EarlyStopping("val_loss", patience=t["patience"],
                                         restore_best_weights=True)
    callbacks = [stop]
    if t.get("reduce_lr_patience"):
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            "val_loss", factor=0.5, patience=int(t["reduce_lr_patience"])))
    history = model.fit(x, y, validation_data=(xv, yv), epochs=t["epochs"],
                        batch_size=t["batch_size"], class_weight=weights, callbacks=callbacks,
                        shuffle=True, verbose=verbose)
    return model, len(history.history["loss"])


def _evaluate(recipe: Recipe, model, splits, class_names):
    from qkeras.medical import metrics
    from qkeras.zoo.client import scores

    rule = recipe.evaluation["threshold"]
    test_scores = scores(model, splits["test"][0])
    threshold = None
    if test_scores.ndim == 1:
        if rule == "validation_youden":
            threshold = metrics.youden_threshold(splits["val"][1], scores(model,
                                                                          splits["val"][0]))
        else:
            threshold = float(rule)
    report = metrics.evaluate(splits["test"][1], test_scores, threshold=threshold,
                              class_names=class_names,
                              n_resamples=recipe.evaluation["n_resamples"], seed=recipe.seed)
    return report.to_dict()


def _environment() -> dict:
    import cirq
    import tensorflow as tf
    import tensorflow_quantum as tfq

    from qkeras._version import __version__

    return {"qkeras": __version__, "tensorflow": tf.__version__,
            "tensorflow-quantum": tfq.__version__, "cirq": cirq.__version__,
            "python": platform.python_version()}


def train(recipe: Recipe, output_dir: str | os.PathLike, *, data=None,
          verbose: int = 0) -> TrainingResult:
    """Runs a recipe end to end and writes weights, ``metrics.json`` and ``card.md``.

    Args:
        recipe: From :func:`~qkeras.zoo.recipes.load_recipe` (``Recipe.replace`` changes
            the budget, e.g. for a smoke test).
        output_dir: Folder for the outputs (created).
        data: A MedMNIST ``.npz`` file, or a folder holding the recipe's ``data.file``;
            default: the recipe's ``data.dataset`` flag, from the cache or downloaded.
        verbose: Keras ``fit`` verbosity.

    Returns:
        A :class:`TrainingResult`.

    Raises:
        DataError: If the data cannot be found or read.
        ConfigurationError: For a bad recipe.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> rng = np.random.default_rng(0)
        >>> np.savez(folder / "tiny.npz", **{f"{s}_{k}": rng.integers(0, 2, (8, 28, 28) if
        ...          k == "images" else (8, 1), dtype=np.uint8) for s in ("train", "val",
        ...          "test") for k in ("images", "labels")})
        >>> recipe = Recipe.from_dict({"name": "tiny", "version": "0.0.1",
        ...     "task": "binary-classification", "data": {"file": "tiny.npz"},
        ...     "model": {"kind": "classical", "image_size": 2},
        ...     "training": {"epochs": 1}, "evaluation": {"n_resamples": 5}})
        >>> result = train(recipe, folder / "out", data=folder)
        >>> result.summary["model"]["num_params"], result.summary["data"]["sizes"]["test"]
        (5, 8)
        >>> sorted(p.suffix for p in (folder / "out").iterdir())
        ['.json', '.keras', '.md']
    """
    if recipe.task == "generation":
        from qkeras.zoo.generative import train_generative

        return train_generative(recipe, output_dir, data=data, verbose=verbose)
    start = time.perf_counter()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    loaded, splits = _load_data(recipe, data)
    n_classes = len(loaded.class_names)
    results = {}
    for role, spec in (("model", recipe.model), ("baseline", recipe.baseline)):
        if spec is None:
            continue
        log.info("training %s (%s) of %s", role, spec["kind"], recipe.name)
        model, epochs = _fit(recipe, spec, splits, n_classes, verbose)
        results[role] = (model, {"kind": spec["kind"], "spec": spec,
                                 "num_params": int(model.count_params()),
                                 "epochs_run": epochs,
                                 "report": _evaluate(recipe, model, splits,
                                                     loaded.class_names)})
    model = results["model"][0]
    temp = out / f".{recipe.name}.training.keras"
    model.save(temp)
    from qkeras.zoo.cache import sha256_of

    digest = sha256_of(temp)
    weights = out / f"{recipe.name}-{recipe.version}-{digest[:8]}.keras"
    os.replace(temp, weights)
    summary = {
        "name": recipe.name, "version": recipe.version, "task": recipe.task,
        "seed": recipe.seed,
        "recipe": {"path": str(recipe.path) if recipe.path else None,
                   "sha256": recipe.sha256, "overrides": recipe.overrides,
                   "training": recipe.training,
                   "evaluation": recipe.evaluation, "data": recipe.data},
        "data": {"file": loaded.path.name, "sha256": loaded.sha256,
                 "provenance": loaded.provenance, "notes": loaded.notes,
                 "class_names": list(loaded.class_names),
                 "input_shape": list(splits["train"][0].shape[1:]),
                 "sizes": {s: int(len(splits[s][1])) for s in splits},
                 "full_split_counts": loaded.counts},
        "threshold_rule": str(recipe.evaluation["threshold"]),
        "model": results["model"][1],
        "baseline": results["baseline"][1] if "baseline" in results else None,
        "weights": {"file": weights.name, "sha256": digest, "size": weights.stat().st_size},
        "environment": _environment(),
        "seconds": round(time.perf_counter() - start, 1),
    }
    metrics_path = _atomic_write(out / "metrics.json",
                                 (json.dumps(summary, indent=2) + "\n").encode())
    card = _atomic_write(out / "card.md", render_card(recipe, summary).encode())
    log.info("%s %s: wrote %s, %s, %s", recipe.name, recipe.version, weights.name,
             metrics_path.name, card.name)
    return TrainingResult(weights=weights, metrics=metrics_path, card=card, summary=summary)


def refresh_card(folder: str | os.PathLike) -> Path:
    """Renders ``card.md`` again from ``recipe.yaml`` and ``metrics.json`` in ``folder``.

    For a card template that changed after training: nothing is retrained and every number
    still comes from ``metrics.json``. Generative recipes keep the card they were trained
    with (:mod:`qkeras.zoo.generative` renders those).

    Args:
        folder: A trained ``zoo/<name>/`` folder.

    Returns:
        The card's path.

    Raises:
        ZooError: If the folder is not a trained classification recipe.

    Example:
        >>> refresh_card("/no/such/folder")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Cannot render the card of /no/such/folder: ...
    """
    from qkeras.errors import ZooError
    from qkeras.zoo.recipes import load_recipe

    folder = Path(folder)
    try:
        recipe = load_recipe(folder / "recipe.yaml")
        summary = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError) as err:
        raise ZooError(f"Cannot render the card of {folder}: {err}. Train it first with "
                       "scripts/zoo/train.py.") from err
    if recipe.task == "generation" or summary.get("recipe", {}).get("sha256") != recipe.sha256:
        raise ZooError(f"Cannot render the card of {folder}: it is a generative recipe, or "
                       "metrics.json comes from another version of recipe.yaml.")
    return _atomic_write(folder / "card.md", render_card(recipe, summary).encode())
