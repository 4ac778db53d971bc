"""Image uploads to class probabilities: PNG, JPEG or DICOM, in memory only.

:func:`decode` turns the bytes of an upload into a float image in [0, 1]:

* PNG and JPEG with Pillow;
* DICOM with pydicom from a ``BytesIO``: the data set is de-identified first
  (:class:`qkeras.medical.deid.Deidentifier`, PS3.15 Annex E Basic Profile, a key that
  lives only in this process), then its pixels go through the display pipeline of
  :mod:`qkeras.medical.dicom` (Modality LUT, the file's VOI window, MONOCHROME1
  inversion), scaled to [0, 1]; a multi-frame image gives its first frame.

Nothing is written to disk and no pixel value or DICOM element reaches a log or an error
message. :func:`preprocess` applies a serving card's input spec (channels, size by area
interpolation, value range), and :func:`probabilities` reads the model output as class
probabilities (a one-unit output is the positive class of two).

Example:
    >>> import io, numpy as np
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.fromarray(np.full((4, 6), 255, np.uint8)).save(buffer, format="PNG")
    >>> image, kind, _ = decode(buffer.getvalue())
    >>> kind, image.shape, float(image.max())
    ('png', (4, 6), 1.0)
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import secrets
import threading
from pathlib import Path

import numpy as np

from qkeras.errors import DicomError, ServingError
from qkeras.zoo.entry import InputSpec

__all__ = ["decode", "preprocess", "probabilities", "png_data_url", "grad_cam_overlay"]

log = logging.getLogger(__name__)

_KEY = secrets.token_bytes(32)  # de-identification key of this process, never stored
_UPLOAD = Path("upload.dcm")  # the name DICOM errors mention instead of a file
_MUTED = threading.local()


class _MuteThisThread(logging.Filter):
    """Drops pydicom's log records (which may quote element values) in a muted thread."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_MUTED, "on", False)


logging.getLogger("pydicom").addFilter(_MuteThisThread())


@contextlib.contextmanager
def _muted():
    from qkeras.medical import dicom

    _MUTED.on = True
    try:
        with dicom._quiet_pydicom():
            yield
    finally:
        _MUTED.on = False


def _sniff(data: bytes, content_type: str) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[128:132] == b"DICM" or "dicom" in content_type:
        return "dicom"
    raise ServingError("The upload is not a PNG, JPEG or DICOM Part 10 file (checked by its "
                       "first bytes); send one of those.")


def _picture(data: bytes) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            mode = "RGB" if image.mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr") else "L"
            if image.mode in ("I;16", "I;16B", "I", "F"):
                array = np.asarray(image, np.float32)
                low, high = float(array.min()), float(array.max())
                return (array - low) / ((high - low) or 1.0)
            array = np.asarray(image.convert(mode), np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise ServingError(f"The image cannot be decoded ({type(err).__name__}); it is "
                           "truncated or corrupt. Re-export it.") from err
    return array


def _dicom(data: bytes) -> tuple[np.ndarray, dict]:
    with _muted():
        return _dicom_image(data)


def _dicom_image(data: bytes) -> tuple[np.ndarray, dict]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    from qkeras.medical import dicom
    from qkeras.medical.deid import Deidentifier

    try:
        original = pydicom.dcmread(io.BytesIO(data))
    except InvalidDicomError as err:
        raise ServingError("The upload is not a DICOM Part 10 file (no 'DICM' prefix after "
                           "the 128-byte preamble).") from err
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ServingError(f"The DICOM upload is malformed or truncated "
                           f"({type(err).__name__} while parsing).") from err
    clean, audit = Deidentifier(_KEY).dataset(original)
    del original
    try:
        pixels = dicom._pixels(clean, _UPLOAD)
        image, meta = dicom._display(clean, pixels, "auto", True)
    except DicomError as err:
        raise ServingError(str(err)) from err
    if meta.frames > 1:
        image = image[0]
    flagged = any(r.action == "flag" for r in audit)
    return image, {"modality": meta.modality, "deidentified": True,
                   "burned_in_annotation_risk": flagged,
                   "frames": meta.frames, "voi": meta.voi}


def decode(data: bytes, content_type: str = "") -> tuple[np.ndarray, str, dict]:
    """Decodes an upload to ``(image in [0, 1], kind, facts)``.

    ``image`` is ``(H, W)`` or ``(H, W, 3)`` float32; ``kind`` is ``"png"``, ``"jpeg"``
    or ``"dicom"``; ``facts`` are PHI-free notes (for DICOM: modality, that it was
    de-identified, whether burned-in text is possible).

    Raises:
        ServingError: Not an image, or a corrupt one (``INVALID_ARGUMENT``).
    """
    if not data:
        raise ServingError("The upload is empty; send the image file's bytes.")
    kind = _sniff(data, content_type)
    if kind == "dicom":
        image, facts = _dicom(data)
    else:
        image, facts = _picture(data), {}
    if not np.all(np.isfinite(image)):
        raise ServingError("The image has NaN or infinite pixel values.")
    return image.astype(np.float32), kind, facts


def preprocess(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Resizes and rescales a [0, 1] image to what the model takes: ``(1, H, W, C)``.

    Example:
        >>> spec = InputSpec((8, 8, 1), "float32", (0.0, 255.0), "test")
        >>> x = preprocess(np.ones((32, 16), np.float32), spec)
        >>> x.shape, float(x.max())
        ((1, 8, 8, 1), 255.0)
    """
    import cv2

    height, width, channels = (int(n) for n in spec.shape)
    if image.ndim == 3 and channels == 1:
        image = image @ np.array([0.299, 0.587, 0.114], np.float32)
    elif image.ndim == 2 and channels == 3:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.shape[:2] != (height, width):
        shrink = image.shape[0] > height or image.shape[1] > width
        image = cv2.resize(image, (width, height),
                           interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    image = np.clip(image, 0.0, 1.0).reshape(height, width, channels)
    low, high = (float(v) for v in spec.value_range)
    return (low + image * (high - low))[None].astype(spec.dtype or "float32")


def probabilities(output: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities from one row of model output.

    A one-unit output is read as the probability of the second class (sigmoid); a row of
    ``n_classes`` values that already sums to one is kept, anything else is softmaxed.

    Raises:
        ServingError: The output size fits neither reading (``FAILED_PRECONDITION``).

    Example:
        >>> probabilities(np.array([0.25]), 2).tolist()
        [0.75, 0.25]
    """
    row = np.asarray(output, np.float64).reshape(-1)
    if row.size == 1 and n_classes == 2:
        p = float(np.clip(row[0], 0.0, 1.0))
        return np.array([1.0 - p, p])
    if row.size != n_classes:
        raise ServingError(f"The model gives {row.size} outputs but its card names "
                           f"{n_classes} classes; fix the card's classes.",
                           "FAILED_PRECONDITION")
    if np.all(row >= 0) and abs(row.sum() - 1.0) < 1e-3:
        return row / row.sum()
    shifted = np.exp(row - row.max())
    return shifted / shifted.sum()


def png_data_url(image: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URL of an image in [0, 1] (or 8-bit BGR from OpenCV).

    Example:
        >>> png_data_url(np.zeros((2, 2), np.float32))[:22]
        'data:image/png;base64,'
    """
    import cv2

    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = (np.clip(np.squeeze(array), 0.0, 1.0) * 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".png", array)
    if not ok:  # pragma: no cover  (OpenCV encodes any 8-bit image)
        raise ServingError("Cannot encode the image as PNG.", "INTERNAL")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode()


def grad_cam_overlay(model, x: np.ndarray, class_index: int) -> str:
    """Grad-CAM of ``model`` for one preprocessed image ``x`` (1, H, W, C), as a PNG
    data URL of the heat map blended over the image (:mod:`qkeras.medical.explain`).

    For a one-unit (sigmoid) output the map explains that unit, the second class's score.
    """
    import cv2

    from qkeras.medical import explain

    column = 0 if model.output_shape[-1] == 1 else class_index
    cams = explain.grad_cam(model, x, class_index=column)
    image = x[0]
    low, high = float(image.min()), float(image.max())
    scaled = (image - low) / ((high - low) or 1.0)
    blended = explain._overlay(scaled, cams[0], 0.45, cv2.COLORMAP_JET)
    return png_data_url(blended)
