"""The data a zoo recipe trains and is evaluated on, read the same way by both.

A recipe's ``data`` section names either a MedMNIST file (``dataset``/``file``: its
official train/val/test split) or a class-per-folder image tree (``folder``: its own
train/test split, cross-split duplicates removed by
:func:`qkeras.medical.datasets.image_folder`, and a validation split carved from the
training images, stratified by class and seeded). :func:`load_splits` returns arrays;
:func:`qkeras.zoo.client.evaluate` calls it with a released model's recorded data section,
so a card's test figures are recomputed on exactly the images they were measured on.

Example:
    >>> sorted(LoadedData.__dataclass_fields__)[:3]
    ['class_names', 'counts', 'images']
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from qkeras.errors import DataError

__all__ = ["LoadedData", "load_splits", "folder_digest"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class LoadedData:
    """Arrays of a recipe's splits.

    Attributes:
        path: The file or folder read.
        sha256: sha256 of the file, or of the folder's manifest (:func:`folder_digest`).
        provenance: How the source was verified (MedMNIST) or ``"image folder"``.
        class_names: Names in label order.
        images: Per split, float32 ``(N, H, W, 1)`` in [0, 1].
        labels: Per split, int64 ``(N,)``.
        counts: Per split, images per class.
        notes: What was removed or carved out, in words (for cards and reports).
    """

    path: Path
    sha256: str
    provenance: str
    class_names: tuple[str, ...]
    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    counts: dict[str, dict[str, int]]
    notes: list[str] = dataclasses.field(default_factory=list)


def folder_digest(files) -> str:
    """sha256 over the sorted ``(relative path, file sha256)`` lines of an image tree.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = (root / "a.png").write_bytes(b"x")
        >>> folder_digest([root / "a.png"]) == folder_digest([root / "a.png"])
        True
    """
    paths = sorted(Path(f) for f in files)
    common = Path(os.path.commonpath(paths)) if paths else Path(".")
    outer = hashlib.sha256()
    for path in paths:
        inner = hashlib.sha256(path.read_bytes()).hexdigest()
        outer.update(f"{path.relative_to(common).as_posix()}\t{inner}\n".encode())
    return outer.hexdigest()


def _stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held.extend(members[:int(round(fraction * len(members)))])
    mask = np.zeros(len(labels), bool)
    mask[np.asarray(held, int)] = True
    return mask


def _arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for x, y in dataset:
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images).astype(np.float32), np.concatenate(labels).astype(np.int64)


def _image_folder(spec: Mapping, root: Path, seed: int) -> LoadedData:
    from qkeras.medical.datasets import image_folder

    side = int(spec.get("image_size") or 64)
    data = image_folder(root, image_size=(side, side), shuffle=False, batch_size=256,
                        drop_within_split_duplicates=True,
                        near_duplicates=bool(spec.get("near_duplicates")), cache=False)
    if set(data.datasets) != {"train", "test"}:
        raise DataError(f"{root} must hold Training/ and Testing/ (or train/ and test/) "
                        f"class folders; found splits {sorted(data.datasets)}.")
    x, y = _arrays(data.datasets["train"])
    held = _stratified_holdout(y, float(spec.get("val_fraction", 0.1)), seed)
    xt, yt = _arrays(data.datasets["test"])
    images = {"train": x[~held], "val": x[held], "test": xt}
    labels = {"train": y[~held], "val": y[held], "test": yt}
    removed = {split: sum(per_class.values())
               for split, per_class in data.duplicates.removed.items()}
    kind = "byte- or near-identical" if spec.get("near_duplicates") else "byte-identical"
    notes = [f"{removed.get('test', 0)} test images removed as {kind} copies of training "
             f"images; {removed.get('train', 0)} repeated training copies dropped",
             f"validation: {int(held.sum())} training images held out, stratified by class "
             f"(seed {seed})"]
    digest = folder_digest(p for split in data.files.values() for p in split)
    counts = {s: {name: int((labels[s] == k).sum()) for k, name in enumerate(
        data.class_names)} for s in images}
    return LoadedData(path=root, sha256=digest, provenance="image folder",
                      class_names=tuple(data.class_names), images=images, labels=labels,
                      counts=counts, notes=notes)


def load_splits(spec: Mapping, data=None, *, seed: int = 0) -> LoadedData:
    """Reads a recipe's data section into train/val/test arrays.

    Args:
        spec: The recipe's ``data`` section (``dataset``, ``file``, ``folder``,
            ``image_size``, ``val_fraction``, ``near_duplicates``).
        data: A MedMNIST ``.npz`` file, an image tree, or a folder holding the recipe's
            ``file``/``folder``; default: the MedMNIST ``dataset`` flag (cache/download).
        seed: Seed of the validation hold-out of an image tree.

    Returns:
        A :class:`LoadedData`.

    Raises:
        DataError: If the data cannot be found or read.

    Example:
        >>> load_splits({"folder": "brain-tumor-mri"}, "/no/such/place")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.DataError: No data at /no/such/place...
    """
    from qkeras.medical.datasets import medmnist

    folder, file, flag = spec.get("folder"), spec.get("file"), spec.get("dataset")
    if data is None:
        if folder or not flag:
            raise DataError(f"The recipe's data ({folder or file}) is not downloadable: pass "
                            "data=PATH (the file, the image tree or the folder holding it).")
        source = flag
    else:
        source = Path(data).expanduser()
        if not source.exists():
            raise DataError(f"No data at {source}: pass the MedMNIST .npz file, the image "
                            "tree, or the folder that holds them.")
        if folder and source.is_dir() and (source / folder).is_dir():
            source = source / folder
        elif not folder and source.is_dir():
            source = source / (file or f"{flag}.npz")
    if folder:
        return _image_folder(spec, Path(source), seed)
    loaded = medmnist(source, size=spec.get("image_size"))
    return LoadedData(path=loaded.path, sha256=loaded.sha256, provenance=loaded.provenance,
                      class_names=tuple(loaded.class_names), images=dict(loaded.images),
                      labels={k: np.asarray(v).reshape(-1) for k, v in loaded.labels.items()},
                      counts=loaded.counts, notes=[])
