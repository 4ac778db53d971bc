"""Shared fixtures: seeds, the shared data folder, TensorFlow set-up."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The shared real-data folder: $QKERAS_SHARED_DATA, else ../shared/data."""
    return Path(os.environ.get("QKERAS_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real data folder {path} is absent (it ships beside the repo in CI; "
                    "set QKERAS_SHARED_DATA to use another copy)")
    return path


@pytest.fixture(autouse=True)
def _seed():
    import tensorflow as tf

    np.random.seed(0)
    tf.random.set_seed(0)
    yield
