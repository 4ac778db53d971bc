"""Recipe data: MedMNIST files and image trees read the same way for training and evaluation.

References: an image tree written here with known copies across and within splits (the
removal counts follow from how it was built), and the split sizes of the shared
PneumoniaMNIST file (4708/524/624, in its README).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from qkeras.errors import DataError
from qkeras.zoo.data import folder_digest, load_splits


def tree(root, per_class=20):
    """Training/ and Testing/ with two classes; test image 0 of class a copies train 0."""
    rng = np.random.default_rng(0)
    for split, n in (("Training", per_class), ("Testing", 5)):
        for name in ("a", "b"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for k in range(n):
                shade = 40 if name == "a" else 200
                pixels = rng.integers(0, 40, (16, 16)) + shade
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{k}.png")
    (root / "Testing" / "a" / "0.png").write_bytes((root / "Training" / "a" / "0.png")
                                                   .read_bytes())
    (root / "Training" / "b" / "dup.png").write_bytes((root / "Training" / "b" / "1.png")
                                                      .read_bytes())
    return root


def test_image_tree_removes_leaks_and_holds_out_validation(tmp_path):
    root = tree(tmp_path / "mri")
    spec = {"folder": "mri", "image_size": 8, "val_fraction": 0.25}
    data = load_splits(spec, tmp_path, seed=0)
    assert data.class_names == ("a", "b")
    assert data.images["test"].shape == (9, 8, 8, 1)  # 10 test images, 1 leaked copy
    assert data.counts["test"] == {"a": 4, "b": 5}
    # 41 training files, one repeated copy dropped -> 40; 25% held out per class.
    assert data.counts["val"] == {"a": 5, "b": 5}
    assert data.counts["train"] == {"a": 15, "b": 15}
    assert "1 test images removed" in data.notes[0] and "1 repeated" in data.notes[0]
    # The same call (the one evaluation makes) gives the same test split and digest.
    again = load_splits(spec, root, seed=0)
    np.testing.assert_array_equal(again.images["test"], data.images["test"])
    assert again.sha256 == data.sha256
    # The class of a pixel mean: a is dark, b is bright.
    dark = data.images["train"].mean(axis=(1, 2, 3)) < 0.5
    np.testing.assert_array_equal(dark, data.labels["train"] == 0)


def test_folder_digest_changes_with_content(tmp_path):
    root = tree(tmp_path / "t", per_class=2)
    files = sorted(root.rglob("*.png"))
    before = folder_digest(files)
    files[0].write_bytes(files[0].read_bytes() + b"\0")
    assert folder_digest(files) != before


def test_errors(tmp_path):
    with pytest.raises(DataError, match="not downloadable"):
        load_splits({"folder": "brain-tumor-mri"})
    with pytest.raises(DataError, match="No data at"):
        load_splits({"file": "x.npz"}, tmp_path / "missing")
    (tmp_path / "only" / "a").mkdir(parents=True)
    Image.new("L", (4, 4)).save(tmp_path / "only" / "a" / "x.png")
    with pytest.raises(DataError, match="must hold Training/ and Testing/"):
        load_splits({"folder": "only"}, tmp_path)


def test_medmnist_splits(shared_data):
    data = load_splits({"dataset": "pneumoniamnist", "file": "pneumoniamnist.npz"},
                       shared_data)
    assert {k: len(v) for k, v in data.labels.items()} == {"train": 4708, "val": 524,
                                                           "test": 624}
    assert data.provenance == "rebuilt" and data.labels["test"].ndim == 1
