"""Reads DICOM images into float32 arrays, display-ready.

:func:`read` decodes the pixel data (uncompressed, JPEG baseline/extended/lossless,
JPEG-LS, JPEG 2000 and RLE through pydicom's pylibjpeg plugins) and applies the
grayscale pipeline of PS3.3 C.11 and PS3.4 N.2.1.1 in order:

1. **Modality LUT** (C.11.1): Rescale Slope/Intercept, or a Modality LUT Sequence, so
   CT values are Hounsfield units. Enhanced multi-frame objects take them per frame
   from the Pixel Value Transformation functional group.
2. **VOI LUT** (C.11.2): the file's first window (or VOI LUT Sequence), an explicit
   ``(center, width)``, or none (``window=None`` keeps modality values).
3. **MONOCHROME1 inversion**: the output is reflected within its value range so that a
   higher value is always brighter.

Color images (RGB, YBR converted to RGB, PALETTE COLOR expanded) come back as
``(rows, columns, 3)`` (``(frames, rows, columns, 3)`` when multi-frame); grayscale
ones as ``(rows, columns)`` or ``(frames, rows, columns)``.

Example:
    >>> from pydicom.data import get_testdata_file
    >>> image, meta = read(get_testdata_file("CT_small.dcm"), window=(40, 400))
    >>> image.shape, image.dtype.name, meta.modality, meta.window
    ((128, 128), 'float32', 'CT', (40.0, 400.0))
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pydicom
from pydicom import config as pydicom_config
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

from qkeras.errors import ConfigurationError, DicomError

__all__ = ["DicomMeta", "read"]

log = logging.getLogger(__name__)

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_INSTALL_HINT = "Install the decoders with: pip install 'qkeras-quantum[medical]'."


@dataclass(frozen=True)
class DicomMeta:
    """What :func:`read` found in a file and what it applied.

    Attributes:
        modality: (0008,0060) Modality, e.g. ``"CT"``; ``None`` when absent.
        photometric_interpretation: (0028,0004) as stored in the file (color images
            are returned as RGB whatever it says).
        pixel_spacing: Row and column spacing in mm (Pixel Spacing, Imager Pixel
            Spacing, or the Pixel Measures functional group); ``None`` when absent.
        rows: Number of rows.
        columns: Number of columns.
        frames: Number of frames (1 for a single-frame image).
        voi: ``"window"``, ``"lut"`` (a VOI LUT Sequence) or ``"none"``.
        window: The ``(center, width)`` applied when ``voi == "window"`` (first
            frame's for per-frame windows), else ``None``.

    Example:
        >>> DicomMeta("MR", "MONOCHROME2", (0.5, 0.5), 64, 64, 1, "none", None).frames
        1
    """

    modality: str | None
    photometric_interpretation: str
    pixel_spacing: tuple[float, float] | None
    rows: int
    columns: int
    frames: int
    voi: Literal["window", "lut", "none"]
    window: tuple[float, float] | None


_QUIET_LOCK = threading.Lock()
_quiet_state: dict = {"depth": 0, "saved": None}  # shared by every thread in the process


@contextlib.contextmanager
def _quiet_pydicom() -> Iterator[None]:
    """Stops pydicom from echoing element values in warnings and log records.

    pydicom reports invalid values with the value in the message (e.g. a malformed
    Patient's Birth Date); for patient files that would put PHI into logs. Value
    validation is switched off and warnings are dropped while any thread is inside.
    Both settings are process-global, so the first thread in saves them and the last one
    out restores them (``tf.data`` decodes files in parallel threads).
    """
    settings = pydicom_config.settings
    with _QUIET_LOCK:
        if _quiet_state["depth"] == 0:
            _quiet_state["saved"] = (settings.reading_validation_mode,
                                     settings.writing_validation_mode, warnings.filters[:])
            settings.reading_validation_mode = pydicom_config.IGNORE
            settings.writing_validation_mode = pydicom_config.IGNORE
            warnings.simplefilter("ignore")
        _quiet_state["depth"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet_state["depth"] -= 1
            if _quiet_state["depth"] == 0:
                reading, writing, filters = _quiet_state["saved"]
                settings.reading_validation_mode = reading
                settings.writing_validation_mode = writing
                warnings.filters[:] = filters
                warnings._filters_mutated()


def _dcmread(path: Path, *, what: str = "read") -> Dataset:
    """Reads a DICOM Part 10 file; every failure becomes a PHI-free DicomError."""
    if not path.is_file():
        raise DicomError(f"Cannot {what} DICOM file '{path}': no such file. Check the path.")
    try:
        with _quiet_pydicom():
            return pydicom.dcmread(path)
    except InvalidDicomError as err:
        raise DicomError(
            f"Cannot {what} '{path}': it is not a DICOM Part 10 file (no 'DICM' prefix "
            "after the 128-byte preamble). Pass a DICOM file; a bare data set without "
            "file meta information must first be converted (e.g. dcmconv +F)."
        ) from err
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        # The pydicom message may quote element bytes, so only its type is shown.
        raise DicomError(
            f"Cannot {what} '{path}': the DICOM data set is malformed or truncated "
            f"({type(err).__name__} while parsing). Re-export the file from its source."
        ) from err


def _pixels(ds: Dataset, path: Path) -> np.ndarray:
    """Decodes the pixel data with pydicom (YBR is converted to RGB)."""
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        kind = getattr(ds.get("SOPClassUID"), "name", "unknown SOP class")
        raise DicomError(
            f"Cannot read '{path}' as an image: it has no Pixel Data (7FE0,0010); "
            f"it is a '{kind}' object, or a truncated file. Pass a whole image file."
        )
    syntax = ds.file_meta.get("TransferSyntaxUID")
    try:
        with _quiet_pydicom():
            return ds.pixel_array
    except (NotImplementedError, RuntimeError, ImportError) as err:
        name = getattr(syntax, "name", syntax)
        if "missing" in str(err) or isinstance(err, (NotImplementedError, ImportError)):
            raise DicomError(
                f"Cannot decode the pixel data of '{path}': no decoder for transfer "
                f"syntax '{name}' is installed. {_INSTALL_HINT}"
            ) from err
        raise DicomError(
            f"Cannot decode the pixel data of '{path}': every installed decoder for "
            f"'{name}' rejected the compressed stream (corrupt, or a variant they do "
            "not support). Re-export the file uncompressed from its source."
        ) from err
    except (ValueError, EOFError, KeyError, TypeError, AttributeError, IndexError) as err:
        raise DicomError(
            f"Cannot decode the pixel data of '{path}': it is truncated or corrupt "
            f"({type(err).__name__}). Re-export the file from its source."
        ) from err


def _functional(ds: Dataset, frame: int, macro: str) -> Dataset | None:
    """The item of a functional-group macro for one frame (per-frame beats shared)."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame),
                          ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(groups)
        if items and len(items) > index and items[index].get(macro):
            return items[index][macro][0]
    return None


def _frame_view(ds: Dataset, frame: int) -> Dataset:
    """A shallow copy of ``ds`` carrying the Modality/VOI LUT attributes of one frame."""
    view = copy.copy(ds)
    rescale = _functional(ds, frame, "PixelValueTransformationSequence")
    voi = _functional(ds, frame, "FrameVOILUTSequence")
    for item, keywords in ((rescale, ("RescaleSlope", "RescaleIntercept")),
                           (voi, ("WindowCenter", "WindowWidth", "VOILUTFunction"))):
        for keyword in keywords:
            if item is not None and keyword in item:
                setattr(view, keyword, item[keyword].value)
    return view


def _modality_range(view: Dataset) -> tuple[float, float]:
    """The smallest and largest value the Modality LUT stage can output."""
    bits = int(view.BitsStored)
    low, high = (0, 2**bits - 1) if view.PixelRepresentation == 0 else (
        -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if view.get("ModalityLUTSequence") and high - low <= 2**16:
        probe = np.arange(low, high + 1, dtype=np.int64)
    else:
        probe = np.array([low, high], dtype=np.int64)
    out = apply_modality_lut(probe, view)
    return float(np.min(out)), float(np.max(out))


def _window_value(view: Dataset, keyword: str) -> float:
    value = view[keyword].value
    return float(value[0] if isinstance(value, Sequence) and not isinstance(value, str)
                 else value)


def _grayscale(arr: np.ndarray, view: Dataset, window: object
               ) -> tuple[np.ndarray, tuple[float, float], str, tuple[float, float] | None]:
    """Applies Modality LUT, VOI and MONOCHROME1 inversion to one frame."""
    low, high = _modality_range(view)
    out = apply_modality_lut(arr, view)  # integer for a LUT, float64 for a rescale
    voi, applied = "none", None
    if window is not None:
        if window != "auto":
            center, width = window  # type: ignore[misc]
            view = copy.copy(view)
            view.WindowCenter, view.WindowWidth = float(center), float(width)
            if "VOILUTSequence" in view:
                del view.VOILUTSequence
        has_lut = bool(view.get("VOILUTSequence"))
        has_window = "WindowCenter" in view and "WindowWidth" in view
        if has_lut or has_window:
            probe = np.array([low, high]).astype(out.dtype)
            with np.errstate(over="ignore"):
                ends = apply_voi_lut(probe, view, prefer_lut=True)
            out = apply_voi_lut(out, view, prefer_lut=True)
            low, high = float(np.min(ends)), float(np.max(ends))
            voi = "lut" if has_lut else "window"
            if voi == "window":
                applied = (_window_value(view, "WindowCenter"),
                           _window_value(view, "WindowWidth"))
    out = out.astype(np.float64)
    if view.PhotometricInterpretation == "MONOCHROME1":
        out = low + high - out
    return out, (low, high), voi, applied


def _check_window(window: object) -> None:
    if window is None or window == "auto":
        return
    try:
        center, width = (float(v) for v in window)  # type: ignore[union-attr]
    except (TypeError, ValueError) as err:
        raise ConfigurationError(
            f"window must be 'auto', None or a (center, width) pair; got {window!r}."
        ) from err
    if not width > 0:
        raise ConfigurationError(f"window width must be > 0; got {width!r}.")


def _spacing(ds: Dataset) -> tuple[float, float] | None:
    measures = _functional(ds, 0, "PixelMeasuresSequence")
    for source in (ds, measures):
        for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
            if source is not None and source.get(keyword):
                row, column = (float(v) for v in source[keyword].value[:2])
                return row, column
    return None


def read(path: str | os.PathLike[str], *,
         window: Literal["auto"] | tuple[float, float] | None = "auto",
         normalize: bool = False) -> tuple[np.ndarray, DicomMeta]:
    """Reads a DICOM image as a float32 array with its display transforms applied.

    Args:
        path: A DICOM Part 10 file.
        window: ``"auto"`` applies the file's own VOI (its first window, or its VOI LUT
            Sequence); ``None`` applies none, so the values are modality values (Hounsfield
            units for CT); ``(center, width)`` applies that linear window
            (PS3.3 C.11.2.1.2). Ignored for color images.
        normalize: Scale to [0, 1]: the VOI output range maps onto [0, 1] when a VOI was
            applied; otherwise the image's own minimum and maximum do.

    Returns:
        ``(image, meta)``: the float32 pixel array, shaped ``(rows, columns)``,
        ``(frames, rows, columns)``, ``(rows, columns, 3)`` or
        ``(frames, rows, columns, 3)``, and a :class:`DicomMeta`.

    Raises:
        DicomError: The file is missing, not DICOM, malformed or truncated, has no pixel
            data, or needs a decoder that is not installed. The message names the file
            and never quotes an element value.
        ConfigurationError: ``window`` is not ``"auto"``, ``None`` or a pair with
            width > 0.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> image, meta = read(get_testdata_file("MR_small.dcm"), normalize=True)
        >>> meta.voi, meta.window, float(image.min()) >= 0.0, float(image.max()) <= 1.0
        ('window', (600.0, 1600.0), True, True)
    """
    _check_window(window)
    path = Path(path)
    ds = _dcmread(path)
    arr = _pixels(ds, path)
    with _quiet_pydicom():
        image, meta = _display(ds, arr, window, normalize)
    log.debug("read a %s image of shape %s (voi=%s)", meta.modality, image.shape, meta.voi)
    return image, meta


def _display(ds: Dataset, arr: np.ndarray, window: object, normalize: bool
             ) -> tuple[np.ndarray, DicomMeta]:
    """Turns decoded stored values into the display-ready array of :func:`read`."""
    frames = int(ds.get("NumberOfFrames") or 1)
    interpretation = str(ds.get("PhotometricInterpretation", ""))
    voi, applied = "none", None
    if interpretation == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
    if int(ds.get("SamplesPerPixel") or 1) == 3 or interpretation == "PALETTE COLOR":
        image = arr.astype(np.float32)
        display = None
    else:
        # Frames share one Modality/VOI LUT unless per-frame functional groups differ.
        per_frame = "PerFrameFunctionalGroupsSequence" in ds
        stack = arr.reshape((frames, *arr.shape[-2:])) if per_frame else arr[np.newaxis]
        outputs, ranges = [], []
        for index, frame in enumerate(stack):
            out, frame_range, voi, frame_window = _grayscale(
                frame, _frame_view(ds, index), window)
            applied = applied or frame_window
            outputs.append(out)
            ranges.append(frame_range)
        image = np.stack(outputs).reshape(arr.shape).astype(np.float32)
        display = (min(r[0] for r in ranges), max(r[1] for r in ranges))
    if normalize:
        low, high = display if display and voi != "none" else (
            float(image.min()), float(image.max()))
        scale = (high - low) or 1.0
        image = np.clip((image - low) / scale, 0.0, 1.0).astype(np.float32)
    meta = DicomMeta(
        modality=ds.get("Modality") or None,
        photometric_interpretation=interpretation,
        pixel_spacing=_spacing(ds),
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        frames=frames,
        voi=voi,  # type: ignore[arg-type]
        window=applied,
    )
    return image, meta
