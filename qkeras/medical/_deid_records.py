"""Records, reports, atomic writes and input checks for :mod:`qkeras.medical.deid`.

Example:
    >>> Failure("scan.dcm", "not a DICOM Part 10 file").path
    'scan.dcm'
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from pydicom.dataset import Dataset
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import UID

from qkeras.errors import DeidentificationError, DicomError
from qkeras.medical import _deid_table


@dataclass(frozen=True)
class AuditRecord:
    """One action on one attribute of one file. Never holds an attribute's value.

    Attributes:
        file: The file, relative to the input folder (``None`` for a bare data set).
        tag: Tag path, e.g. ``"(0040,0275)[0].(0010,0010)"``.
        keyword: Keyword path, e.g. ``"RequestAttributesSequence[0].PatientName"``.
        action: ``X``, ``Z``, ``D``, ``U``, ``K`` or ``U*`` (kept, UIDs replaced
            inside), ``set`` (added by the profile) or ``flag`` (check pixel data).
        rule: The table's action for the attribute (e.g. ``X/Z/D``).

    Example:
        >>> record = AuditRecord("a.dcm", "(0010,0010)", "PatientName", "Z", "Z")
        >>> json.loads(record.to_json())["action"]
        'Z'
    """

    file: str | None
    tag: str
    keyword: str
    action: str
    rule: str

    def to_json(self) -> str:
        """The record as one JSON line (no trailing newline)."""
        return json.dumps(asdict(self))


@dataclass(frozen=True)
class Failure:
    """A file :func:`deidentify_tree` could not de-identify, and why (no PHI)."""

    path: str
    reason: str


@dataclass(frozen=True)
class Report:
    """What :func:`deidentify_tree` did.

    Attributes:
        written: Files written, relative to the output folder.
        failed: Files not written, with the reason.
        flagged: Files written whose pixel data may carry burned-in text.
        audit: The audit log (JSON lines).

    Example:
        >>> Report((), (Failure("x.dcm", "not DICOM"),), (), Path("audit.jsonl")).ok
        False
    """

    written: tuple[str, ...]
    failed: tuple[Failure, ...]
    flagged: tuple[str, ...]
    audit: Path

    @property
    def ok(self) -> bool:
        """True when every file was de-identified."""
        return not self.failed


@contextlib.contextmanager
def atomic(target: Path) -> Iterator[IO[bytes]]:
    """Yields a temporary file beside ``target``; renames it over ``target`` on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".qkeras-deid-",
                                         suffix=".tmp", delete=False)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def check_folders(in_dir: Path, out_dir: Path, audit: Path) -> None:
    """Refuses a missing input, overlapping folders, and an audit log inside the input."""
    if not in_dir.is_dir():
        raise DeidentificationError(f"Input folder '{in_dir}' does not exist or is not a "
                                    "folder. Check the path.")
    src, dst = in_dir.resolve(), out_dir.resolve()
    if src == dst or dst.is_relative_to(src) or src.is_relative_to(dst):
        raise DeidentificationError(
            f"Output folder '{out_dir}' and input folder '{in_dir}' overlap; the output "
            "must be outside the input (and not contain it), so that no de-identified "
            "file can overwrite or mix with an original. Choose a separate folder.")
    if audit.resolve().is_relative_to(src):
        raise DeidentificationError(
            f"Audit log '{audit}' is inside the input folder '{in_dir}'; put it elsewhere.")


def inputs(in_dir: Path) -> Iterator[Path]:
    """Every file under ``in_dir``, in a stable (sorted) order."""
    for root, folders, files in os.walk(in_dir):
        folders.sort()
        for name in sorted(files):
            yield Path(root) / name


def reason(err: Exception) -> str:
    """Why a file failed, without quoting anything read from it."""
    if isinstance(err, (DicomError, DeidentificationError)):
        return str(err)
    return f"{type(err).__name__} while reading or writing (errno {getattr(err, 'errno', None)})"


_UNCOMPRESSED = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2")


def check_complete(ds: Dataset, path: Path) -> None:
    """Refuses data sets that are not whole DICOM objects.

    pydicom stops quietly at the end of a truncated file, so truncation shows as an
    object without its SOP Instance UID, an image object without Pixel Data, or
    uncompressed Pixel Data shorter than Rows x Columns x Frames x Samples x Bits.

    Raises:
        DicomError: The object is incomplete (the message names the file, no values).
    """
    fix = "The file is truncated or not a DICOM object; re-export it from its source."
    meta = getattr(ds, "file_meta", Dataset())
    if not (ds.get("SOPInstanceUID") or meta.get("MediaStorageSOPInstanceUID")):
        raise DicomError(f"Cannot de-identify '{path}': it has no SOP Instance UID. {fix}")
    sop_class = str(ds.get("SOPClassUID", ""))
    if _deid_table.has_pixels(sop_class) and not any(
            k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise DicomError(f"Cannot de-identify '{path}': it is a "
                         f"'{UID(sop_class).name}' image without Pixel Data. {fix}")
    if "PixelData" in ds and str(meta.get("TransferSyntaxUID", "")) in _UNCOMPRESSED:
        try:
            expected = get_expected_length(ds, unit="bytes")
        except (AttributeError, KeyError, TypeError, ValueError):
            return  # image attributes missing: nothing to compare against
        if len(ds.PixelData) < expected:
            raise DicomError(f"Cannot de-identify '{path}': its Pixel Data is shorter "
                             f"than Rows x Columns x Frames needs. {fix}")
