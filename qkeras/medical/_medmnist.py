"""MedMNIST ``.npz`` files: checksummed fetching into the cache, and reading."""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from qkeras.config import home
from qkeras.errors import ChecksumError, ConfigurationError, DataError, unknown_name
from qkeras.medical import _medmnist_info as info
from qkeras.medical._download import Digests, download, file_digests, redact

log = logging.getLogger(__name__)

MIRROR_ENV = "QKERAS_MEDMNIST_URL"
SPLITS = ("train", "val", "test")


def grey01(images: np.ndarray, size: int | None) -> np.ndarray:
    """uint8 ``(N, H, W[, 3])`` to grey float32 ``(N, size, size, 1)`` in [0, 1]."""
    array = np.asarray(images)
    if array.ndim == 4 and array.shape[-1] in (3, 4):
        array = array[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    if array.ndim != 3:
        raise DataError(
            f"MedMNIST images must be (N, H, W) or (N, H, W, 3); got shape {array.shape}. "
            "3-D MedMNIST volumes are not supported by medmnist()."
        )
    scale = 255.0 if array.dtype != np.float32 or array.max(initial=0) > 1.0 else 1.0
    array = (array.astype(np.float32) / scale)[..., None]
    if size is not None and array.shape[1:3] != (size, size):
        array = tf.image.resize(array, (size, size), antialias=True).numpy()
    return np.clip(array, 0.0, 1.0)


def load_npz(path: Path, size: int | None,
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Reads the six MedMNIST arrays (no pickles) as grey images and int64 labels."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"{path} is not a readable .npz file ({err}). Download it again.") \
            from err
    missing = [f"{s}_{kind}" for s in SPLITS for kind in ("images", "labels")
               if f"{s}_{kind}" not in arrays]
    if missing:
        raise DataError(
            f"{path} lacks the MedMNIST keys {missing}; it has {sorted(arrays)}. Expected "
            "train_images, train_labels, val_images, val_labels, test_images, test_labels."
        )
    images = {s: grey01(arrays[f"{s}_images"], size) for s in SPLITS}
    labels = {}
    for s in SPLITS:
        y = np.asarray(arrays[f"{s}_labels"]).astype(np.int64)
        labels[s] = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if len(labels[s]) != len(images[s]):
            raise DataError(f"{path}: {s} has {len(images[s])} images but "
                            f"{len(labels[s])} labels.")
    return images, labels


def check_flag_size(flag: str, size: int) -> None:
    if flag not in info.OFFICIAL:
        raise unknown_name("MedMNIST flag", flag, info.OFFICIAL)
    if size not in info.SIZES:
        raise ConfigurationError(f"MedMNIST size must be one of {info.SIZES}; got {size}.")


def verifier(flag: str, size: int, md5: str | None, shown: str) -> Callable[[Digests], str]:
    """Accepts the official md5 / known rebuilt sha256 of (flag, size), or ``md5``."""
    def verify(digests: Digests) -> str:
        if md5 is not None:
            if digests.md5 == md5.lower():
                return "md5"
            expected = f"the md5 you passed ({md5})"
        else:
            hit = info.identify(digests.md5, digests.sha256)
            if hit is not None and hit[1:] == (flag, size):
                return hit[0]
            expected = f"the official md5 {info.official_md5(flag, size)}"
        raise ChecksumError(
            f"{shown} has md5 {digests.md5} ({digests.size} bytes); expected {expected}. "
            "The file is corrupt or not the one asked for; nothing was kept in the cache."
        )

    return verify


def fetch(flag: str, size: int, *, mirror: str | None, cache_dir: str | os.PathLike | None,
           md5: str | None, download_missing: bool, timeout: float) -> tuple[Path, str]:
    """Returns the verified cached file of (flag, size), downloading it when needed."""
    name = info.file_name(flag, size)
    dest = Path(cache_dir) if cache_dir is not None else home() / "datasets"
    dest = dest.expanduser() / name
    if dest.is_file():
        try:
            return dest, verifier(flag, size, md5, str(dest))(file_digests(dest))
        except ChecksumError:
            log.warning("cached %s does not match its checksum; downloading it again", dest)
            dest.unlink()
    if not download_missing:
        raise DataError(f"{name} is not in the cache {dest.parent}; pass download=True, a "
                        "mirror, or the path of a local copy.")
    base = mirror or os.environ.get(MIRROR_ENV)
    url = f"{base.rstrip('/')}/{name}" if base else f"{info.BASE_URL}/{name}?download=1"
    verify = verifier(flag, size, md5, redact(url))
    return dest, download(url, dest, verify=verify, timeout=timeout)
