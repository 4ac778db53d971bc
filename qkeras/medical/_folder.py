"""Discovering class-per-folder image trees, with or without split folders."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from qkeras.errors import DataError
from qkeras.medical._dedup import FileRecord, split_rank
from qkeras.medical._pipeline import DICOM_SUFFIXES, RASTER_SUFFIXES, sniff

log = logging.getLogger(__name__)

#: Folder names (case-insensitive) taken as splits.
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}
#: The split name of a tree without split folders.
ALL = "all"
_EXPECTED_FORMAT = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".bmp": "bmp",
                    ".gif": "gif", ".dcm": "dicom", ".dicom": "dicom", "": "dicom"}


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _image_files(folder: Path) -> tuple[list[Path], int]:
    """Image files under ``folder`` (recursive), skipping hidden files and folders."""
    found, skipped = [], 0
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in parts) or not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix in RASTER_SUFFIXES or suffix in DICOM_SUFFIXES or (
                suffix == "" and sniff(path) == "dicom"):
            found.append(path)
        else:
            skipped += 1
    return found, skipped


def split_folders(root: Path) -> dict[str, Path]:
    """Maps split names to their folders, or ``{"all": root}`` for a tree without splits.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> for name in ("Training", "Testing", "notes"):
        ...     (root / name).mkdir()
        >>> sorted(split_folders(root))
        ['test', 'train']
    """
    splits: dict[str, Path] = {}
    for folder in _visible_dirs(root):
        split = SPLIT_ALIASES.get(folder.name.lower())
        if split is None:
            continue
        if split in splits:
            raise DataError(
                f"Folders {splits[split].name!r} and {folder.name!r} under the data root both "
                f"name the {split!r} split. Keep one of them."
            )
        splits[split] = folder
    if not splits:
        return {ALL: root}
    ignored = [f for f in _visible_dirs(root) if f.name.lower() not in SPLIT_ALIASES]
    if ignored:
        log.info("ignoring %d folder(s) beside the split folders", len(ignored))
    return dict(sorted(splits.items(), key=lambda kv: split_rank(kv[0])))


def discover(root: Path) -> tuple[list[FileRecord], tuple[str, ...]]:
    """Lists every image of a class-per-folder tree as :class:`FileRecord` objects.

    Hidden files and folders (names starting with ``.``, e.g. ``.ipynb_checkpoints``) are
    skipped; so are files with other suffixes. DICOM files may have no suffix.

    Returns:
        The records (labels index the sorted class names) and the class names.

    Raises:
        DataError: If the tree holds no image, or a file's bytes do not match its suffix.
    """
    entries: list[tuple[Path, str, str]] = []
    skipped = 0
    for split, folder in split_folders(root).items():
        for class_dir in _visible_dirs(folder):
            files, n_skipped = _image_files(class_dir)
            skipped += n_skipped
            entries.extend((path, split, class_dir.name) for path in files)
    if not entries:
        raise DataError(
            f"No PNG, JPEG or DICOM image found under {root}. Expected <root>/<class>/<image> "
            "or <root>/<split>/<class>/<image> with splits named train/val/test "
            "(or Training/Testing)."
        )
    if skipped:
        log.info("skipped %d file(s) that are not PNG/JPEG/BMP/GIF/DICOM images", skipped)
    bad = [(s, c) for path, s, c in entries
           if sniff(path) != _EXPECTED_FORMAT.get(path.suffix.lower())]
    if bad:
        where = sorted({f"{s}/{c}" for s, c in bad})
        raise DataError(
            f"{len(bad)} file(s) under {', '.join(where)} are not the image format their "
            "suffix names (empty, truncated or mislabelled). Remove or re-export them."
        )
    class_names = tuple(sorted({c for _, _, c in entries}))
    records = [
        FileRecord(path=path, relative=path.relative_to(root).as_posix(), split=split,
                   class_name=name, label=class_names.index(name))
        for path, split, name in entries
    ]
    return records, class_names


def key_function(patient_key: str | Callable[[Path], str]) -> Callable[[Path], str]:
    """Turns a regex (searched in the file name; group 1 if it has one) into a key function.

    Example:
        >>> key = key_function(r"^(person\\d+)_")
        >>> key(Path("PNEUMONIA/person12_virus_3.jpeg"))
        'person12'
    """
    if callable(patient_key):
        return patient_key
    pattern = re.compile(patient_key)

    def key(path: Path) -> str:
        match = pattern.search(path.name)
        if match is None:
            raise DataError(
                f"patient_key pattern {pattern.pattern!r} does not match a file name under "
                "the data root. Give a pattern that matches every file, or a function."
            )
        return match.group(1) if pattern.groups else match.group(0)

    return key


def patient_overlap(records: Sequence[FileRecord], key: Callable[[Path], str]) -> int:
    """Counts patients with images in more than one split (and warns if any)."""
    splits_of: dict[str, set[str]] = {}
    for record in records:
        splits_of.setdefault(key(record.path), set()).add(record.split)
    overlap = sum(len(s) > 1 for s in splits_of.values())
    if overlap:
        log.warning("%d of %d patients have images in more than one split; pass "
                    "split_fractions to re-split by patient", overlap, len(splits_of))
    return overlap
