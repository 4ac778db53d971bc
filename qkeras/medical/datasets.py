"""Medical image data sets as ``tf.data`` pipelines ready for ``model.fit``.

Every data set yields ``(image, label)`` batches: grey float32 images ``(H, W, 1)`` in
[0, 1], integer labels. Pipelines are cached and prefetched; only the training split is
shuffled (seeded, reshuffled every epoch).

* :func:`medmnist` reads a MedMNIST ``.npz`` file, from a local path or downloaded (md5
  checked, atomic) into ``qkeras.config.home() / "datasets"``, and says which file it got.
* :func:`image_folder` reads class-per-folder PNG/JPEG/DICOM trees (Kermany's
  ``chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}``, ``Training``/``Testing`` MRI sets),
  finds duplicate images and removes those that would leak from training into evaluation.
* :func:`patient_split` splits items so that no patient lands in two splits.

Environment: ``QKERAS_MEDMNIST_URL`` is a mirror of the MedMNIST files (``file://`` or
``http(s)://``), used when no ``mirror=`` is given.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import tensorflow as tf

from qkeras.errors import ChecksumError, ConfigurationError, DataError
from qkeras.medical import _medmnist_info as info
from qkeras.medical._dedup import DuplicateReport, FileRecord, find_duplicates, split_rank
from qkeras.medical._download import Digests, file_digests
from qkeras.medical._folder import discover, key_function, patient_overlap
from qkeras.medical._medmnist import MIRROR_ENV, SPLITS, check_flag_size, fetch, load_npz
from qkeras.medical._pipeline import from_arrays, from_files, thumbnail

__all__ = ["MedMNISTData", "ImageFolderData", "DuplicateReport", "medmnist", "image_folder",
           "patient_split", "KERMANY_PATIENT_PATTERN", "MIRROR_ENV"]

log = logging.getLogger(__name__)

#: Patient id in Kermany chest X-ray file names: ``person<N>_...`` (pneumonia) and
#: ``[NORMAL2-]IM-<NNNN>-<image>`` (normal).
KERMANY_PATIENT_PATTERN = r"^(person\d+|(?:NORMAL2-)?IM-\d+)"


class _Splits:
    datasets: dict[str, tf.data.Dataset]

    @property
    def train(self) -> tf.data.Dataset | None:
        """The training pipeline (shuffled), or ``None``."""
        return self.datasets.get("train")

    @property
    def val(self) -> tf.data.Dataset | None:
        """The validation pipeline, or ``None``."""
        return self.datasets.get("val")

    @property
    def test(self) -> tf.data.Dataset | None:
        """The test pipeline, or ``None``."""
        return self.datasets.get("test")


@dataclass
class MedMNISTData(_Splits):
    """A MedMNIST file as pipelines and arrays.

    Attributes:
        path: The ``.npz`` file read.
        provenance: ``"official"`` (md5 in the official MedMNIST table), ``"rebuilt"``
            (sha256 of a known rebuilt copy), ``"md5"`` (matched the caller's ``md5=``) or
            ``"unverified"`` (a local file matching none of those).
        flag: The MedMNIST flag, when known (``"pneumoniamnist"``).
        size: Image side in pixels.
        md5, sha256: Digests of the file.
        class_names: Names in label order.
        images: Per split, float32 ``(N, H, W, 1)`` in [0, 1].
        labels: Per split, int64 ``(N,)`` (``(N, L)`` for multi-label sets).
        counts: Per split, images per class (positives per label for multi-label sets).
        datasets: Per split, the ``tf.data`` pipeline.

    Example:
        >>> MedMNISTData.__dataclass_fields__["provenance"].type
        'str'
    """

    path: Path
    provenance: str
    flag: str | None
    size: int
    md5: str
    sha256: str
    class_names: tuple[str, ...]
    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    counts: dict[str, dict[str, int]]
    datasets: dict[str, tf.data.Dataset] = field(repr=False)


@dataclass
class ImageFolderData(_Splits):
    """A class-per-folder image tree as pipelines, after duplicate removal.

    Attributes:
        root: The tree's root folder.
        class_names: Class folder names, sorted; labels index them.
        files: Per split, the image files kept.
        labels: Per split, int64 labels of ``files``.
        counts: Per split, images per class (after removal).
        duplicates: What the duplicate search found and removed.
        patients_in_several_splits: With a ``patient_key``, how many patients have images in
            more than one split (0 after ``split_fractions``); else ``None``.
        datasets: Per split, the ``tf.data`` pipeline.

    Example:
        >>> ImageFolderData.__dataclass_fields__["duplicates"].type
        'DuplicateReport'
    """

    root: Path
    class_names: tuple[str, ...]
    files: dict[str, tuple[Path, ...]]
    labels: dict[str, np.ndarray]
    counts: dict[str, dict[str, int]]
    duplicates: DuplicateReport
    patients_in_several_splits: int | None
    datasets: dict[str, tf.data.Dataset] = field(repr=False)


def patient_split(keys: Sequence[Hashable], fractions: Mapping[str, float], *,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """Splits items so that all items of one patient land in the same split.

    Patients are visited in a seeded random order; each goes whole to the split furthest
    below its target size (``fraction * len(keys)`` items). Every split ends within
    ``(len(fractions) - 1) * largest_patient`` items of its target.

    Args:
        keys: The patient of each item (any hashable; compared by value).
        fractions: Split name to fraction of items; non-negative, summing to 1.
        seed: Seed of the patient order.

    Returns:
        Split name to the sorted indices of its items.

    Raises:
        ConfigurationError: If ``fractions`` is empty, has a negative value or does not
            sum to 1.

    Example:
        >>> parts = patient_split(["a", "a", "b", "c", "c", "d"], {"train": 0.5, "test": 0.5})
        >>> sorted(len(v) for v in parts.values())
        [3, 3]
    """
    names = list(fractions)
    values = np.array([float(fractions[n]) for n in names], np.float64)
    if not names or not np.all(np.isfinite(values)) or np.any(values < 0) or \
            abs(values.sum() - 1.0) > 1e-6:
        raise ConfigurationError(
            f"fractions must be non-negative and sum to 1; got {dict(fractions)!r}. "
            "Example: {'train': 0.8, 'val': 0.1, 'test': 0.1}."
        )
    patients: dict[Hashable, list[int]] = {}
    for index, key in enumerate(keys):
        patients.setdefault(key, []).append(index)
    ordered = sorted(patients, key=lambda k: (type(k).__name__, str(k)))
    order = np.random.default_rng(seed).permutation(len(ordered))
    targets, filled = values * len(keys), np.zeros(len(names))
    members: list[list[int]] = [[] for _ in names]
    for position in order:
        items = patients[ordered[position]]
        choice = int(np.argmax(targets - filled))
        members[choice].extend(items)
        filled[choice] += len(items)
    return {name: np.array(sorted(m), np.int64) for name, m in zip(names, members, strict=True)}


def medmnist(path_or_flag: str | os.PathLike, size: int | None = None, *,
             batch_size: int = 32, shuffle: bool = True, seed: int = 0,
             mirror: str | None = None, cache_dir: str | os.PathLike | None = None,
             md5: str | None = None, download: bool = True,
             timeout: float = 60.0) -> MedMNISTData:
    """Loads a MedMNIST data set (official train/val/test split) as ``tf.data`` pipelines.

    Given a flag (``"pneumoniamnist"``), the official file for ``size`` (28 by default;
    64, 128, 224) is taken from the cache, else downloaded from ``mirror``, else
    ``$QKERAS_MEDMNIST_URL``, else Zenodo record 10519652, into
    ``qkeras.config.home() / "datasets"``. A download is kept only if its md5 is the
    official one (or the sha256 of a known rebuilt copy); a corrupt or truncated one raises
    :class:`ChecksumError` and leaves nothing in the cache. Given a path, the local file is
    read offline; its digests are still compared, and ``provenance`` (also logged) says
    whether it is an official file, a known rebuilt copy or unverified.

    Args:
        path_or_flag: A MedMNIST flag, or the path of an ``.npz`` file.
        size: Image side. For a flag, picks the file; for a path, images of another size
            are resized (bilinear, antialiased). ``None``: 28 for a flag, the file's own.
        batch_size: Batch size of the pipelines.
        shuffle: Shuffle the training split (seeded by ``seed``, every epoch anew).
        seed: Shuffle seed.
        mirror: Base URL holding the files under their official names.
        cache_dir: Cache folder instead of ``qkeras.config.home() / "datasets"``.
        md5: Expected md5 instead of the official table's (for a mirror serving another
            build of the file).
        download: Download a flag's file that is not cached.
        timeout: Download socket timeout in seconds.

    Returns:
        A :class:`MedMNISTData`.

    Raises:
        ConfigurationError: Unknown flag or size, or ``batch_size < 1``.
        ChecksumError: A downloaded file does not match its checksum, or a local one
            does not match ``md5``.
        DataError: No network, missing file, or not a MedMNIST ``.npz`` file.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "tiny.npz"
        >>> rng = np.random.default_rng(0)
        >>> np.savez(path, **{f"{s}_{k}": rng.integers(0, 2, (4, 28, 28) if k == "images"
        ...          else (4, 1), dtype=np.uint8) for s in ("train", "val", "test")
        ...          for k in ("images", "labels")})
        >>> data = medmnist(path, batch_size=2)
        >>> data.provenance, data.images["train"].shape
        ('unverified', (4, 28, 28, 1))
        >>> [tuple(t.shape) for t in next(iter(data.test))]
        [(2, 28, 28, 1), (2,)]
    """
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be >= 1; got {batch_size}.")
    source = os.fspath(path_or_flag)
    if source.endswith(".npz") or os.sep in source or "/" in source or Path(source).is_file():
        path = Path(source).expanduser()
        if not path.is_file():
            raise DataError(f"No MedMNIST file at {path}. Pass an existing .npz path or a "
                            f"flag such as 'pneumoniamnist'.")
        digests = file_digests(path)
        if md5 is not None and digests.md5 != md5.lower():
            raise ChecksumError(f"{path} has md5 {digests.md5}; expected {md5.lower()}. "
                                "The file is corrupt or another build; fetch it again.")
        hit = info.identify(digests.md5, digests.sha256)
        provenance = "md5" if md5 is not None else (hit[0] if hit else "unverified")
        stem = path.stem.rsplit("_", 1)[0] if path.stem.rsplit("_", 1)[-1].isdigit() \
            else path.stem
        flag = hit[1] if hit else (stem.lower() if stem.lower() in info.OFFICIAL else None)
    else:
        flag, size = source.lower(), 28 if size is None else size
        check_flag_size(flag, size)
        path, provenance = fetch(flag, size, mirror=mirror, cache_dir=cache_dir, md5=md5,
                                  download_missing=download, timeout=timeout)
        digests = file_digests(path)
    images, labels = load_npz(path, size)
    return _medmnist_result(path, provenance, flag, digests, images, labels,
                            batch_size=batch_size, shuffle=shuffle, seed=seed)


def _medmnist_result(path: Path, provenance: str, flag: str | None, digests: Digests,
                     images: dict[str, np.ndarray], labels: dict[str, np.ndarray], *,
                     batch_size: int, shuffle: bool, seed: int) -> MedMNISTData:
    multi_label = labels["train"].ndim == 2
    official = info.OFFICIAL[flag][0] if flag else ()
    if multi_label:
        width = labels["train"].shape[1]
        names = official if len(official) == width else tuple(map(str, range(width)))
    else:
        top = int(max(int(y.max(initial=0)) for y in labels.values())) + 1
        names = official if 0 < top <= len(official) else tuple(map(str, range(top)))
    n_classes = len(names)
    counts = {s: dict(zip(names, (y.sum(axis=0) if multi_label else
                                  np.bincount(y, minlength=n_classes)).tolist(), strict=True))
              for s, y in labels.items()}
    datasets = {s: from_arrays(images[s], labels[s], batch_size=batch_size,
                               shuffle=shuffle and s == "train", seed=seed) for s in SPLITS}
    level = logging.WARNING if provenance == "unverified" else logging.INFO
    log.log(level, "MedMNIST %s (%s file: md5 %s, sha256 %s): counts %s", flag or path.name,
            provenance, digests.md5, digests.sha256, counts)
    return MedMNISTData(path=path, provenance=provenance, flag=flag,
                        size=int(images["train"].shape[1]), md5=digests.md5,
                        sha256=digests.sha256, class_names=names, images=images, labels=labels,
                        counts=counts, datasets=datasets)


def _resplit(records: list[FileRecord], fractions: Mapping[str, float], seed: int,
             key: Callable[[Path], str] | None) -> list[FileRecord]:
    if key is None:
        log.warning("split_fractions without patient_key splits by image: images of one "
                    "patient may land in different splits")
    keys = [key(r.path) if key else r.relative for r in records]
    parts = patient_split(keys, fractions, seed=seed)
    split_of = {i: split for split, indices in parts.items() for i in indices.tolist()}
    return [replace(r, split=split_of[i]) for i, r in enumerate(records)]


def image_folder(root: str | os.PathLike, *, image_size: Sequence[int] = (128, 128),
                 batch_size: int = 32, shuffle: bool = True, seed: int = 0,
                 remove_cross_split_duplicates: bool = True,
                 drop_within_split_duplicates: bool = False, near_duplicates: bool = False,
                 near_threshold: float = 0.005, thumbnail_size: int = 16,
                 patient_key: str | Callable[[Path], str] | None = None,
                 split_fractions: Mapping[str, float] | None = None,
                 cache: bool | str = True) -> ImageFolderData:
    """Loads a class-per-folder image tree, free of cross-split duplicates, as pipelines.

    Layouts: ``root/<split>/<class>/**/<image>`` with split folders named train/training,
    val/valid/validation, test/testing (any case), or ``root/<class>/**/<image>`` (one split,
    ``"all"``; use ``split_fractions`` to split it). Images are PNG, JPEG, BMP, GIF or
    DICOM (``.dcm``/``.dicom`` or no suffix; read with :func:`qkeras.medical.dicom.read`,
    display window mapped to [0, 1]); hidden files and folders (``.ipynb_checkpoints``) are skipped.

    Duplicates: files with the same sha256 form a group. A group whose copies lie in several
    splits keeps the copies of its earliest split (train, then val, then test) and loses the
    others, so no evaluation image was seen in training (``remove_cross_split_duplicates``).
    With ``near_duplicates``, images whose grey ``thumbnail_size``² thumbnails (box filter,
    [0, 1]) differ by at most ``near_threshold`` root-mean-square join the groups too
    (re-encoded or resized copies); on the MRI set this finds about twice as many leaked
    Testing images as the byte-identical search. Copies inside one split
    are reported and, with ``drop_within_split_duplicates``, reduced to the first.
    Counts are on ``result.duplicates`` and in the log (no file names are logged).

    Args:
        root: The tree's root folder.
        image_size: ``(height, width)`` of the output images.
        batch_size: Batch size of the pipelines.
        shuffle: Shuffle the training split (seeded; reshuffled every epoch).
        seed: Seed of shuffling and of ``split_fractions``.
        remove_cross_split_duplicates: Drop cross-split copies as described above.
        drop_within_split_duplicates: Keep one copy of an image per split.
        near_duplicates: Also group near-identical images (decodes every file once more).
        near_threshold: Largest RMS thumbnail difference of near-identical images; 0.005
            is about 1.3 grey levels of 255.
        thumbnail_size: Side of the comparison thumbnails.
        patient_key: A regex searched in file names (group 1 if it has groups; e.g.
            :data:`KERMANY_PATIENT_PATTERN`) or a function of the path, giving the patient.
            Without ``split_fractions`` it is used to count patients found in two splits.
        split_fractions: Re-split all images into these splits (e.g. ``{"train": 0.8,
            "val": 0.1, "test": 0.1}``) with :func:`patient_split`, by patient when
            ``patient_key`` is given, else by image.
        cache: ``True`` caches decoded images in memory, a string caches to that file,
            ``False`` decodes every epoch.

    Returns:
        An :class:`ImageFolderData`.

    Raises:
        DataError: No image found, a file that is not the format its suffix names, or a
            patient key that does not match.
        ConfigurationError: Bad ``image_size``, ``batch_size`` or ``split_fractions``.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for split, name, shade in [("train", "a", 0), ("train", "b", 80), ("test", "a", 0),
        ...                            ("test", "b", 160)]:
        ...     (root / split / name).mkdir(parents=True, exist_ok=True)
        ...     Image.new("L", (8, 8), shade).save(root / split / name / "x.png")
        >>> data = image_folder(root, image_size=(4, 4))
        >>> data.duplicates.cross_split_groups, data.counts["test"]
        (1, {'a': 0, 'b': 1})
    """
    size = tuple(int(s) for s in image_size)
    if len(size) != 2 or min(size) < 1 or batch_size < 1:
        raise ConfigurationError(
            f"image_size must be (height, width) >= 1 and batch_size >= 1; got {image_size!r} "
            f"and {batch_size!r}."
        )
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"Data root {root} is not a folder.")
    records, class_names = discover(root)
    key = key_function(patient_key) if patient_key is not None else None
    if split_fractions is not None:
        records = _resplit(records, split_fractions, seed, key)
    overlap = patient_overlap(records, key) if key else None
    report, drop = find_duplicates(
        records, remove_cross_split=remove_cross_split_duplicates,
        drop_within_split=drop_within_split_duplicates,
        thumbnail=(lambda r: thumbnail(r.path, thumbnail_size) / 255.0)
        if near_duplicates else None, threshold=near_threshold)
    kept = [r for i, r in enumerate(records) if i not in drop]
    splits = sorted({r.split for r in records}, key=split_rank)
    files, labels, counts, datasets = {}, {}, {}, {}
    for split in splits:
        mine = [r for r in kept if r.split == split]
        files[split] = tuple(r.path for r in mine)
        labels[split] = np.array([r.label for r in mine], np.int64)
        per_class = Counter(r.class_name for r in mine)
        counts[split] = {name: per_class.get(name, 0) for name in class_names}
        datasets[split] = from_files(
            files[split], labels[split], image_size=size, batch_size=batch_size,
            shuffle=shuffle and split in ("train", "all"), seed=seed,
            cache=cache if isinstance(cache, bool) else f"{cache}.{split}")
    log.info("image folder: %d classes, images per split after duplicate removal %s",
             len(class_names), {s: sum(c.values()) for s, c in counts.items()})
    return ImageFolderData(root=root, class_names=class_names, files=files, labels=labels,
                           counts=counts, duplicates=report, patients_in_several_splits=overlap,
                           datasets=datasets)
