"""Small real data sets shipped with qkeras (attribution in ``qkeras/data/README.md``).

Example:
    >>> images, labels = pneumonia_sample()
    >>> images.shape, int(labels.sum())
    ((48, 28, 28, 1), 24)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from qkeras.errors import ChecksumError

__all__ = ["pneumonia_sample", "PNEUMONIA_SAMPLE", "ATTRIBUTION"]

#: 48 PneumoniaMNIST test images (24 normal, 24 pneumonia) and their sha256.
PNEUMONIA_SAMPLE = (Path(__file__).with_name("pneumoniamnist_test_sample.npz"),
                    "2452ae7eeeebf287f356ba8a399b1c0f1bcaed7a7f43485dbc38b707e64156cd")

#: Whom the sample's licence (CC BY 4.0) asks us to credit.
ATTRIBUTION = ("PneumoniaMNIST test images (CC BY 4.0): Kermany et al., Cell 172, 1122 "
               "(2018); Yang et al., MedMNIST v2, Scientific Data 10, 41 (2023).")


def pneumonia_sample() -> tuple[np.ndarray, np.ndarray]:
    """The bundled chest X-ray sample: float32 images ``(48, 28, 28, 1)`` in [0, 1], labels.

    Raises:
        ChecksumError: If the bundled file was altered.

    Example:
        >>> images, labels = pneumonia_sample()
        >>> float(images.min()) >= 0.0 and float(images.max()) <= 1.0, labels[:3].tolist()
        (True, [1, 0, 0])
    """
    path, expected = PNEUMONIA_SAMPLE
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        raise ChecksumError(f"{path} does not match its sha256; reinstall qkeras.")
    with np.load(path) as arrays:
        images = arrays["images"].astype(np.float32)[..., None] / 255.0
        return images, arrays["labels"]
