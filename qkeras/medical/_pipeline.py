"""Image files and arrays into ``tf.data`` pipelines: decode, grey, resize, [0, 1], cache."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from qkeras.errors import ConfigurationError, DataError

RASTER_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif"})
DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"BM", "bmp"),
          (b"GIF8", "gif"))
_SHUFFLE_BUFFER = 2048
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights; they sum to 1


def is_dicom_path(path: str | os.PathLike) -> bool:
    """Whether a listed image file is DICOM: a DICOM suffix, or none (listing admits a
    suffix-less file only when its bytes are DICOM).

    Example:
        >>> is_dicom_path("a/IMG0001"), is_dicom_path("a/x.DCM"), is_dicom_path("a/x.png")
        (True, True, False)
    """
    suffix = Path(path).suffix.lower()
    return suffix in DICOM_SUFFIXES or suffix == ""


def sniff(path: str | os.PathLike) -> str | None:
    """Returns the image format a file's first bytes announce, or ``None``.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "x.png"
        >>> _ = path.write_bytes(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8))
        >>> sniff(path)
        'png'
    """
    with open(path, "rb") as handle:
        head = handle.read(132)
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return "dicom" if head[128:132] == b"DICM" else None


def read_dicom(path: str | os.PathLike) -> np.ndarray:
    """Reads one DICOM image with :func:`qkeras.medical.dicom.read` as grey [0, 1].

    ``dicom.read(path, normalize=True)`` applies the modality LUT, the file's VOI window and
    MONOCHROME1 inversion and maps the display range onto [0, 1]; colour images are then
    converted with BT.601 luma weights.

    Raises:
        ConfigurationError: If :mod:`qkeras.medical.dicom` is not available.
        DataError: If the file holds more than one frame.
    """
    try:
        dicom = importlib.import_module("qkeras.medical.dicom")
    except ImportError as err:
        raise ConfigurationError(
            "Reading DICOM files needs qkeras.medical.dicom and pydicom. Install "
            "qkeras-quantum[medical], or convert the files to PNG."
        ) from err
    pixels = np.asarray(dicom.read(path, normalize=True)[0], np.float32)
    if pixels.ndim == 3 and pixels.shape[-1] == 3:
        pixels = pixels @ np.array(_LUMA, np.float32)
    if pixels.ndim != 2:
        raise DataError(
            f"A DICOM file under the data root has pixel shape {pixels.shape}; image_folder "
            "takes single-frame images. Split multi-frame series into frames first."
        )
    return np.clip(pixels, 0.0, 1.0)


def _decode_dicom(path: bytes) -> np.ndarray:
    return read_dicom(path.decode()).astype(np.float32)


def decode(path: tf.Tensor, is_dicom: tf.Tensor, image_size: Sequence[int]) -> tf.Tensor:
    """Decodes one file into a grey float32 ``(H, W, 1)`` image in [0, 1], resized.

    PNG/JPEG/BMP/GIF are decoded in-graph (``uint8`` or ``uint16`` scaled by their maximum,
    colour converted with ITU-R BT.601 luma weights); DICOM goes through :func:`read_dicom`.
    Resizing is bilinear with antialiasing.

    Example:
        >>> import tempfile
        >>> path = str(Path(tempfile.mkdtemp()) / "x.png")
        >>> tf.io.write_file(path, tf.io.encode_png(tf.fill([4, 6, 3], tf.constant(255, tf.uint8))))
        >>> image = decode(tf.constant(path), tf.constant(False), (2, 3))
        >>> image.numpy().squeeze().round(4).tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    def raster() -> tf.Tensor:
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, dtype=tf.float32,
                                   expand_animations=False)
        return tf.tensordot(image, tf.constant(_LUMA), axes=1)[..., None]

    def dicom() -> tf.Tensor:
        image = tf.numpy_function(_decode_dicom, [path], tf.float32, stateful=False)
        return tf.ensure_shape(image, (None, None))[..., None]

    image = tf.ensure_shape(tf.cond(is_dicom, dicom, raster), (None, None, 1))
    image = tf.image.resize(image, image_size, antialias=True)
    return tf.ensure_shape(tf.clip_by_value(image, 0.0, 1.0), (*image_size, 1))


def _finish(dataset: tf.data.Dataset, n: int, *, batch_size: int, shuffle: bool, seed: int,
            cache: bool | str) -> tf.data.Dataset:
    if cache:
        dataset = dataset.cache("" if cache is True else str(cache))
    if shuffle:
        dataset = dataset.shuffle(min(max(n, 1), _SHUFFLE_BUFFER), seed=seed,
                                  reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def from_files(paths: Sequence[Path], labels: np.ndarray, *, image_size: Sequence[int],
               batch_size: int, shuffle: bool, seed: int, cache: bool | str,
               ) -> tf.data.Dataset:
    """Builds ``(image, label)`` batches from image files.

    When ``shuffle``, the file order is first permuted with ``seed`` (so the cached order
    mixes classes), then shuffled again every epoch.

    Example:
        >>> ds = from_files([], np.zeros(0, np.int64), image_size=(8, 8), batch_size=2,
        ...                 shuffle=False, seed=0, cache=True)
        >>> ds.element_spec[0].shape.as_list()
        [None, 8, 8, 1]
    """
    order = np.random.default_rng(seed).permutation(len(paths)) if shuffle \
        else np.arange(len(paths))
    names = np.array([str(paths[i]) for i in order], dtype=object).astype(str)
    is_dicom = np.array([is_dicom_path(paths[i]) for i in order], bool)
    size = tuple(int(s) for s in image_size)
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.constant(names, tf.string, shape=(len(names),)), is_dicom,
         np.asarray(labels)[order]))
    dataset = dataset.map(lambda p, d, y: (decode(p, d, size), y),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return _finish(dataset, len(paths), batch_size=batch_size, shuffle=shuffle, seed=seed,
                   cache=cache)


def from_arrays(images: np.ndarray, labels: np.ndarray, *, batch_size: int, shuffle: bool,
                seed: int, cache: bool | str = True) -> tf.data.Dataset:
    """Builds ``(image, label)`` batches from in-memory arrays.

    Example:
        >>> ds = from_arrays(np.zeros((5, 4, 4, 1), np.float32), np.arange(5), batch_size=2,
        ...                  shuffle=False, seed=0)
        >>> [int(y.shape[0]) for _, y in ds]
        [2, 2, 1]
    """
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    return _finish(dataset, len(images), batch_size=batch_size, shuffle=shuffle, seed=seed,
                   cache=cache)


def thumbnail(path: str | os.PathLike, size: int) -> np.ndarray:
    """A grey ``(size, size)`` float thumbnail of an image file (box filter), for comparing.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> path = Path(tempfile.mkdtemp()) / "x.png"
        >>> Image.new("L", (32, 32), 200).save(path)
        >>> thumbnail(path, 4).tolist()[0]
        [200.0, 200.0, 200.0, 200.0]
    """
    from PIL import Image

    if is_dicom_path(path):
        image = Image.fromarray(read_dicom(path) * 255.0, mode="F")
    else:
        image = Image.open(path)
        image.draft("L", (size * 4, size * 4))
        image = image.convert("L")
    with image:
        return np.asarray(image.resize((size, size), Image.Resampling.BOX), np.float32)
