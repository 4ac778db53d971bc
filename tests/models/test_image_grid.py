"""PNG sample grids, read back with Pillow (an independent PNG decoder)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from qkeras.errors import InputError
from qkeras.models import image_grid, save_image_grid


def test_grid_layout_and_png(tmp_path):
    images = np.stack([np.full((2, 3), v) for v in (0.0, 0.5, 1.0)])[..., None]
    path = save_image_grid(images, tmp_path / "grid.png", columns=2, scale=2, padding=1)
    with Image.open(path) as png:
        pixels = np.asarray(png)
    assert pixels.shape == ((2 * 3 + 1) * 2, (2 * 4 + 1) * 2)  # 2 rows, 2 columns
    assert pixels[2, 2] == 0 and pixels[2, 10] == 128 and pixels[8, 2] == 255
    assert pixels[0].max() == 0  # padding is black
    np.testing.assert_array_equal(image_grid(images, columns=2, scale=2, padding=1)[..., 0],
                                  pixels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_grid_errors():
    with pytest.raises(InputError, match=r"grey images \(n, h, w\); got shape \(2, 2\)"):
        image_grid(np.zeros((2, 2)))
    with pytest.raises(InputError, match="got shape \\(0, 2, 2\\)"):
        image_grid(np.zeros((0, 2, 2)))
