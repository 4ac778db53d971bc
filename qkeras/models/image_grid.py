"""Sample grids of generated images, written as PNG files atomically.

Example:
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> path = save_image_grid(np.zeros((6, 8, 8)), Path(tempfile.mkdtemp()) / "s.png",
    ...                        columns=3, scale=2)
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from qkeras._files import atomic_write
from qkeras.errors import InputError

__all__ = ["image_grid", "save_image_grid"]


def image_grid(images, *, columns: int = 8, scale: int = 4, padding: int = 1) -> np.ndarray:
    """Tiles images in [0, 1] into one uint8 grey image ``(H, W, 1)``.

    Args:
        images: ``(n, h, w)`` or ``(n, h, w, 1)`` values in [0, 1] (clipped).
        columns: Images per row.
        scale: Pixel repetition (nearest-neighbour upscaling).
        padding: Black pixels between images (before scaling).

    Returns:
        The grid.

    Raises:
        InputError: For a shape that is not a batch of grey images.

    Example:
        >>> image_grid(np.ones((3, 2, 2)), columns=2, scale=1, padding=1).shape
        (7, 7, 1)
    """
    images = np.asarray(images, np.float64)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or len(images) == 0:
        raise InputError(f"image_grid needs grey images (n, h, w); got shape {images.shape}.")
    n, h, w = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    grid = np.zeros((rows * (h + padding) + padding, columns * (w + padding) + padding))
    for k, image in enumerate(np.clip(images, 0.0, 1.0)):
        top, left = padding + (k // columns) * (h + padding), padding + (k % columns) * (
            w + padding)
        grid[top:top + h, left:left + w] = image
    grid = np.kron(grid, np.ones((scale, scale)))
    return np.round(grid * 255).astype(np.uint8)[..., None]


def save_image_grid(images, path: str | os.PathLike, **options) -> Path:
    """Writes :func:`image_grid` of ``images`` as a PNG file, atomically.

    The PNG goes to a temporary file in the target folder, then ``os.replace`` moves it
    into place, so a reader never sees a partial file.

    Args:
        images: As :func:`image_grid`.
        path: The PNG file to write; its folder is created.
        **options: ``columns``, ``scale``, ``padding`` of :func:`image_grid`.

    Returns:
        The path written.

    Example:
        >>> import tempfile
        >>> save_image_grid(np.ones((1, 2, 2)), Path(tempfile.mkdtemp()) / "g.png").suffix
        '.png'
    """
    data = tf.io.encode_png(image_grid(images, **options)).numpy()
    return atomic_write(path, data, mode=0o644)
