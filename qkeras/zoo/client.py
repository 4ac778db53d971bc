"""The zoo's user-facing functions: list, inspect, download, load and evaluate models.

A released file is a ``.keras`` model or an archive (``.tar``, ``.tar.gz``/``.tgz``,
``.zip``). An archive is sha256-verified like any file, then extracted by
:func:`qkeras.zoo.archive.extract` (which refuses members that escape the folder) into
``<cache>/<name>/<version>/<stem>/``; :func:`load` loads its one ``.keras`` file or its
SavedModel (``saved_model.pb``).

Example:
    >>> from qkeras import zoo
    >>> all(e.name in zoo.registry.names() for e in list_models())
    True
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import tf_keras as keras

from qkeras.errors import InputError, ZooError
from qkeras.zoo import archive, cache, registry
from qkeras.zoo.entry import ZooEntry

__all__ = ["list_models", "info", "download", "load", "evaluate", "scores"]

log = logging.getLogger(__name__)


def list_models() -> list[ZooEntry]:
    """Returns the newest version of every released model (empty until one is released).

    Example:
        >>> isinstance(list_models(), list)
        True
    """
    return registry.entries()


def info(name: str, version: str | None = None) -> ZooEntry:
    """Returns a model's entry: data, split, metrics with CIs, licence, sha256, changelog.

    Raises:
        ZooError: For an unknown name (with close matches) or version.

    Example:
        >>> info("no-such-model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Unknown zoo model 'no-such-model'...
    """
    return registry.get(name, version)


def download(name: str, version: str | None = None, *, force: bool = False,
             timeout: float = 60.0) -> Path:
    """Fetches a model's weights into the cache and returns the verified file.

    See :mod:`qkeras.zoo.cache` for the sources, the checks and the offline fallbacks. A
    released archive is verified, then extracted (``force`` extracts it again) and its
    folder ``<cache>/<name>/<version>/<stem>/`` is returned.

    Raises:
        ZooError: Unknown model, or no source reachable and no local copy.
        ChecksumError: The file does not match the released sha256.
        ArchiveError: The archive is unsafe (a member escapes its folder) or corrupt.

    Example:
        >>> download("no-such-model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Unknown zoo model 'no-such-model'...
    """
    return _fetched(registry.get(name, version), force=force, timeout=timeout)


def _fetched(entry: ZooEntry, *, force: bool = False, timeout: float = 60.0) -> Path:
    path = cache.fetch(entry, force=force, timeout=timeout)
    if not archive.is_archive(entry.file):
        return path
    folder = cache.cached_path(entry).parent / archive.stem(entry.file)
    if force and folder.is_dir():
        shutil.rmtree(folder)
    return archive.extract(path, folder)


def _model_in(folder: Path, entry: ZooEntry) -> Path:
    """The ``.keras`` file or SavedModel folder of an extracted archive."""
    keras_files = sorted(folder.glob("*.keras"))
    if len(keras_files) == 1:
        return keras_files[0]
    if (folder / "saved_model.pb").is_file():
        return folder
    children = list(folder.iterdir())
    if len(children) == 1 and children[0].is_dir():  # packed as one top-level folder
        return _model_in(children[0], entry)
    raise ZooError(f"{entry.file} ({entry.name} {entry.version}) holds {len(keras_files)} "
                   f".keras files and no saved_model.pb in {folder}; a released archive "
                   "must hold exactly one .keras file or a SavedModel. Report it to the "
                   "model's publisher.")


def load(name: str, version: str | None = None) -> keras.Model:
    """Returns a released model, ready for ``predict`` (downloaded and verified first).

    Raises:
        ZooError: Unknown model, unreachable sources, or a file Keras cannot load.
        ChecksumError: The file does not match the released sha256.
        ArchiveError: A released archive is unsafe or corrupt.

    Example:
        >>> load("no-such-model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Unknown zoo model 'no-such-model'...
    """
    import qkeras.layers  # noqa: F401  (register the layers and models with Keras)
    import qkeras.models  # noqa: F401

    entry = registry.get(name, version)
    path = _fetched(entry)
    if path.is_dir():
        path = _model_in(path, entry)
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as err:
        raise ZooError(f"Keras cannot load {path} ({entry.name} {entry.version}): {err}") \
            from err


def scores(model: keras.Model, images: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Positive-class scores ``(n,)`` (one sigmoid or two softmax outputs) or class
    probabilities ``(n, k)``.

    Example:
        >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, "sigmoid")])
        >>> scores(m, np.zeros((3, 2))).shape
        (3,)
    """
    out = np.asarray(model.predict(images, batch_size=batch_size, verbose=0), np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        return out[:, 0]
    if out.ndim == 2 and out.shape[1] == 2:
        return out[:, 1]
    return out


def _test_split(entry: ZooEntry, data) -> tuple[np.ndarray, np.ndarray, str]:
    if isinstance(data, (str, os.PathLike)) and entry.loader.get("folder"):
        from qkeras.zoo.data import load_splits

        loaded = load_splits(entry.loader, data, seed=entry.seed)
        note = (f"{loaded.path.name} test split (image folder, manifest sha256 "
                f"{loaded.sha256[:12]}; " + "; ".join(loaded.notes) + ")")
        return loaded.images["test"], loaded.labels["test"], note
    if isinstance(data, (str, os.PathLike)):
        from qkeras.medical.datasets import medmnist

        loaded = medmnist(data, size=entry.inputs.shape[0])
        note = (f"{loaded.path.name} test split ({loaded.provenance} file, sha256 "
                f"{loaded.sha256[:12]})")
        return loaded.images["test"], loaded.labels["test"], note
    if isinstance(data, tuple) and len(data) == 2:
        return np.asarray(data[0], np.float32), np.asarray(data[1]), "caller's arrays"
    raise InputError("data must be a MedMNIST .npz path or flag, or a tuple (images, "
                     f"labels); got {type(data).__name__}.")


def evaluate(name: str, data=None, *, version: str | None = None, n_resamples: int = 1000,
             seed: int | None = None, batch_size: int = 256):
    """Recomputes a released model's metrics from its weights and the given data.

    Args:
        name: The zoo name.
        data: A MedMNIST ``.npz`` path or flag (its test split is used), the image tree
            of a model trained on one (read as its recipe did: same duplicate removal), or
            a tuple ``(images, labels)`` shaped as ``info(name).inputs``. Generators: the
            held-out images' source (``None`` for built-in data or a distribution).
        version: The version (default the newest).
        n_resamples: Bootstrap resamples of the confidence intervals.
        seed: Bootstrap seed (default: the release's, which reproduces its card).
        batch_size: Prediction batch size.

    Returns:
        A :class:`qkeras.medical.metrics.ClinicalReport` at the release's threshold
        (compare it with ``info(name).metrics``).

    Raises:
        InputError: For data of the wrong shape.
        ZooError, ChecksumError: As :func:`load`.

    Example:
        >>> evaluate("no-such-model", data=None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Unknown zoo model 'no-such-model'...
    """
    from qkeras.medical import metrics

    entry = registry.get(name, version)
    if entry.task == "generation":
        from qkeras.zoo.generative import evaluate_generative

        return evaluate_generative(entry, load(name, entry.version), data,
                                   n_resamples=n_resamples)
    images, labels, note = _test_split(entry, data)
    if tuple(images.shape[1:]) != tuple(entry.inputs.shape):
        raise InputError(f"{entry.name} expects images of shape {tuple(entry.inputs.shape)} "
                         f"({entry.inputs.preprocessing or 'see info()'}); got "
                         f"{tuple(images.shape[1:])}.")
    model = load(name, entry.version)
    report = metrics.evaluate(labels, scores(model, images, batch_size=batch_size),
                              threshold=entry.threshold, class_names=entry.classes,
                              n_resamples=n_resamples,
                              seed=entry.seed if seed is None else seed,
                              notes=[f"{entry.name} {entry.version} on {note}"])
    log.info("evaluated %s %s on %d images", entry.name, entry.version, len(labels))
    return report
