"""The zoo's user-facing functions: list, inspect, download, load and evaluate models.

Example:
    >>> from qkeras import zoo
    >>> all(e.name in zoo.registry.names() for e in list_models())
    True
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import tf_keras as keras

from qkeras.errors import InputError, ZooError
from qkeras.zoo import cache, registry
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

    See :mod:`qkeras.zoo.cache` for the sources, the checks and the offline fallbacks.

    Raises:
        ZooError: Unknown model, or no source reachable and no local copy.
        ChecksumError: The file does not match the released sha256.

    Example:
        >>> download("no-such-model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Unknown zoo model 'no-such-model'...
    """
    return cache.fetch(registry.get(name, version), force=force, timeout=timeout)


def load(name: str, version: str | None = None) -> keras.Model:
    """Returns a released model, ready for ``predict`` (downloaded and verified first).

    Raises:
        ZooError: Unknown model, unreachable sources, or a file Keras cannot load.
        ChecksumError: The file does not match the released sha256.

    Example:
        >>> load("no-such-model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Unknown zoo model 'no-such-model'...
    """
    import qkeras.layers  # noqa: F401  (register the layers and models with Keras)
    import qkeras.models  # noqa: F401

    entry = registry.get(name, version)
    path = cache.fetch(entry)
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


def evaluate(name: str, data, *, version: str | None = None, n_resamples: int = 1000,
             seed: int = 0, batch_size: int = 256):
    """Recomputes a released model's metrics from its weights and the given data.

    Args:
        name: The zoo name.
        data: A MedMNIST ``.npz`` path or flag (its test split is used), or a tuple
            ``(images, labels)`` shaped as ``info(name).inputs``.
        version: The version (default the newest).
        n_resamples: Bootstrap resamples of the confidence intervals.
        seed: Bootstrap seed.
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
    images, labels, note = _test_split(entry, data)
    if tuple(images.shape[1:]) != tuple(entry.inputs.shape):
        raise InputError(f"{entry.name} expects images of shape {tuple(entry.inputs.shape)} "
                         f"({entry.inputs.preprocessing or 'see info()'}); got "
                         f"{tuple(images.shape[1:])}.")
    model = load(name, entry.version)
    report = metrics.evaluate(labels, scores(model, images, batch_size=batch_size),
                              threshold=entry.threshold, class_names=entry.classes,
                              n_resamples=n_resamples, seed=seed,
                              notes=[f"{entry.name} {entry.version} on {note}"])
    log.info("evaluated %s %s on %d images", entry.name, entry.version, len(labels))
    return report
