"""De-identifies DICOM files with the PS3.15 Annex E Basic Application Level
Confidentiality Profile.

Per attribute, the action of Table E.1-1 (Basic Profile column; see
:mod:`qkeras.medical._deid_table` for the source and the option columns):

* ``X`` removed, ``Z`` made zero-length, ``D`` replaced by a substitute value of its VR, ``U`` UID
  replaced by a keyed new UID, ``K`` kept (only through an option);
* combinations (``Z/D``, ``X/Z``, ``X/D``, ``X/Z/D``, ``X/Z/U*``) take the strictest
  alternative the attribute's type in the file's IOD allows: X if type 3, Z if type 2,
  D (or the sequence kept with its UIDs replaced, for ``U*``) if type 1;
* private elements are removed, except the ``(private creator, tag)`` pairs of
  ``keep_private``; sequences are walked recursively; pixel data is never touched.

Supported options: Retain Longitudinal Temporal Information with Full Dates
(``retain_dates``), Retain Patient Characteristics, Retain UIDs. The output carries
Patient Identity Removed = YES, De-identification Method and its Code Sequence (CID
7050). UIDs map through HMAC-SHA256 with a key only the user holds, so a study split
over many files or runs stays consistent, and the key is never written anywhere.

The Basic Profile does not look at pixels: a file whose Burned In Annotation is YES, or
absent for a modality prone to it, is flagged (audit action ``flag``), not called clean.

Example:
    >>> from pydicom.data import get_testdata_file
    >>> import pydicom
    >>> ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    >>> clean, audit = Deidentifier(b"0123456789abcdef").dataset(ds)
    >>> clean.PatientName, clean.PatientIdentityRemoved, "PatientAge" in clean
    ('', 'YES', False)
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from pydicom.dataset import Dataset

from qkeras._version import __version__
from qkeras.errors import ConfigurationError, DeidentificationError, DicomError
from qkeras.medical._deid_records import (
    AuditRecord,
    Failure,
    Report,
    atomic,
    check_complete,
    check_folders,
    inputs,
    reason,
)
from qkeras.medical._deid_walk import Options, Walker, burned_in_risk, mark
from qkeras.medical.dicom import _dcmread, _quiet_pydicom

__all__ = ["AuditRecord", "Deidentifier", "Failure", "Report", "deidentify_tree",
           "read_key"]

log = logging.getLogger(__name__)

MIN_KEY_BYTES = 16
_KEY_FIX = "Make one with e.g. `openssl rand -out deid.key 32` and keep it secret."


def _safe_list(keep_private: Iterable[tuple[str, int]]) -> frozenset[tuple[str, int, int]]:
    pairs = set()
    for entry in keep_private:
        try:
            creator, tag = entry
            group, element = int(tag) >> 16, int(tag) & 0xFFFF
        except (TypeError, ValueError) as err:
            raise ConfigurationError(
                f"keep_private entries must be (private creator, tag) pairs such as "
                f"('SIEMENS CSA HEADER', 0x00291010); got {entry!r}.") from err
        if not (isinstance(creator, str) and creator.strip()) or group % 2 == 0 \
                or element < 0x1000:
            raise ConfigurationError(
                f"keep_private entry {entry!r} is not a private data element: the "
                "creator must be a non-empty string and the tag an odd group's "
                "(gggg,xxee) element with xx >= 10, e.g. ('GEMS_PARM_01', 0x00431028).")
        pairs.add((creator.strip(), group, element & 0xFF))
    return frozenset(pairs)


class Deidentifier:
    """Applies the Annex E Basic Profile (and chosen options) to data sets and files.

    Args:
        key: Secret key of at least 16 bytes for the UID map (see :func:`read_key`).
        retain_dates: Retain Longitudinal Temporal Information with Full Dates Option.
        retain_patient_characteristics: Retain Patient Characteristics Option.
        retain_uids: Retain UIDs Option.
        keep_private: ``(private creator, tag)`` pairs to keep, e.g.
            ``[("GEMS_PARM_01", 0x00431028)]`` (the block byte of the tag is ignored).

    Raises:
        ConfigurationError: The key is not bytes or shorter than 16 bytes, or a
            ``keep_private`` entry is malformed.

    Example:
        >>> Deidentifier(b"0123456789abcdef", retain_uids=True).options.retain_uids
        True
    """

    def __init__(self, key: bytes, *, retain_dates: bool = False,
                 retain_patient_characteristics: bool = False, retain_uids: bool = False,
                 keep_private: Iterable[tuple[str, int]] = ()) -> None:
        if not isinstance(key, (bytes, bytearray)) or len(key) < MIN_KEY_BYTES:
            size = len(key) if isinstance(key, (bytes, bytearray)) else type(key).__name__
            raise ConfigurationError(
                f"The de-identification key must be at least {MIN_KEY_BYTES} bytes; got "
                f"{size}. {_KEY_FIX}")
        self._key = bytes(key)
        self.options = Options(retain_dates, retain_patient_characteristics, retain_uids,
                               _safe_list(keep_private))

    def __repr__(self) -> str:  # never shows the key
        return f"Deidentifier(options={self.options!r})"

    def _apply(self, ds: Dataset, file: str | None) -> list[AuditRecord]:
        walker = Walker(key=self._key, options=self.options)
        risky = burned_in_risk(ds)
        with _quiet_pydicom():
            changes = walker.run(ds)
            changes += mark(ds, self.options,
                            f"qkeras {__version__}; Annex E {walker.edition}")
        records = [AuditRecord(file, c.tag, c.keyword, c.action, c.rule) for c in changes]
        if risky:
            records.append(AuditRecord(file, "(0028,0301)", "BurnedInAnnotation", "flag",
                                       "pixel data not cleaned"))
        return records

    def dataset(self, ds: Dataset) -> tuple[Dataset, list[AuditRecord]]:
        """De-identifies a copy of a data set.

        Args:
            ds: The data set; it is not modified.

        Returns:
            ``(new_ds, audit_records)``.

        Example:
            >>> ds = Dataset()
            >>> ds.PatientName, ds.StudyInstanceUID = "Doe^Jane", "1.2.3"
            >>> new, audit = Deidentifier(b"0123456789abcdef").dataset(ds)
            >>> new.StudyInstanceUID.startswith("2.25."), ds.PatientName
            (True, 'Doe^Jane')
        """
        new = copy.deepcopy(ds)
        return new, self._apply(new, None)

    def file(self, in_path: str | os.PathLike[str], out_path: str | os.PathLike[str], *,
             name: str | None = None) -> list[AuditRecord]:
        """De-identifies one DICOM file into ``out_path``, atomically.

        The output is written to a temporary file beside ``out_path`` and renamed over
        it, so a failure leaves no partial output.

        Args:
            in_path: The input DICOM Part 10 file.
            out_path: Where to write; must not be the input file.
            name: How the audit records name the file (default: ``in_path``).

        Returns:
            The audit records.

        Raises:
            DicomError: The input cannot be read as DICOM.
            DeidentificationError: ``out_path`` is the input file.

        Example:
            >>> import tempfile
            >>> from pydicom.data import get_testdata_file
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     audit = Deidentifier(b"0123456789abcdef").file(
            ...         get_testdata_file("MR_small.dcm"), Path(tmp) / "out.dcm")
            >>> sorted({r.action for r in audit})
            ['U', 'X', 'Z', 'set']
        """
        source, target = Path(in_path), Path(out_path)
        if target.exists() and source.exists() and source.samefile(target):
            raise DeidentificationError(
                f"Refusing to overwrite the input '{source}' with its de-identified copy; "
                "choose another output path.")
        ds = _dcmread(source, what="de-identify")
        broken = (AttributeError, KeyError, TypeError, ValueError, EOFError, OverflowError)
        try:  # pydicom parses values lazily: a malformed element fails here
            check_complete(ds, source)
            records = self._apply(ds, name if name is not None else str(source))
        except DicomError:
            raise
        except broken as err:
            raise DicomError(
                f"Cannot de-identify '{source}': an element cannot be parsed "
                f"({type(err).__name__}); the file is malformed. Re-export it.") from err
        try:
            with atomic(target) as handle, _quiet_pydicom():
                ds.save_as(handle, enforce_file_format=True)
                os.chmod(handle.name, source.stat().st_mode & 0o777)  # not the temp's 0600
        except broken as err:
            raise DicomError(
                f"Cannot write the de-identified copy of '{source}' ({type(err).__name__}): "
                "the data set cannot be encoded as a DICOM file, e.g. its file meta "
                "information is incomplete. Re-export it from its source.") from err
        return records


def read_key(path: str | os.PathLike[str]) -> bytes:
    """Reads a de-identification key file (its raw bytes, at least 16).

    Args:
        path: The key file.

    Returns:
        The key.

    Raises:
        ConfigurationError: The file is missing, unreadable, empty or too short.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "k").write_bytes(b"0123456789abcdef")
        ...     len(read_key(Path(tmp) / "k"))
        16
    """
    path = Path(path)
    try:
        key = path.read_bytes()
    except FileNotFoundError as err:
        raise ConfigurationError(f"Key file '{path}' does not exist. {_KEY_FIX}") from err
    except OSError as err:
        raise ConfigurationError(
            f"Key file '{path}' cannot be read ({type(err).__name__}). Check its "
            "permissions.") from err
    if len(key) < MIN_KEY_BYTES:
        state = "is empty" if not key else f"holds {len(key)} bytes"
        raise ConfigurationError(
            f"Key file '{path}' {state}; a key needs at least {MIN_KEY_BYTES}. {_KEY_FIX}")
    return key


def deidentify_tree(in_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                    key: bytes, *, retain_dates: bool = False,
                    retain_patient_characteristics: bool = False, retain_uids: bool = False,
                    keep_private: Iterable[tuple[str, int]] = (),
                    audit: str | os.PathLike[str] | None = None) -> Report:
    """De-identifies every file under a folder into a mirror folder.

    Each file is written atomically to the same relative path under ``out_dir``. A file
    that fails (not DICOM, truncated, a symbolic link...) is reported and skipped; the
    others go on. Nothing is ever written inside ``in_dir``. UIDs map the same way in
    every file, so studies and series stay linked. Note that folder and file names are
    copied as they are: rename them first if they hold patient names.

    Args:
        in_dir: The folder of original files (read only).
        out_dir: Where the de-identified copies go; must not overlap ``in_dir``.
        key: The UID key (see :class:`Deidentifier`).
        retain_dates: Retain Longitudinal Temporal Information with Full Dates Option.
        retain_patient_characteristics: Retain Patient Characteristics Option.
        retain_uids: Retain UIDs Option.
        keep_private: ``(private creator, tag)`` pairs to keep.
        audit: The JSON-lines audit log; ``out_dir/deid-audit.jsonl`` by default.

    Returns:
        A :class:`Report`.

    Raises:
        DeidentificationError: ``in_dir`` is missing, or the folders overlap, or the
            audit log would go inside ``in_dir``.
        ConfigurationError: Bad key or ``keep_private``.

    Example:
        >>> import shutil, tempfile
        >>> from pydicom.data import get_testdata_file
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = Path(tmp, "in").mkdir()
        ...     _ = shutil.copy(get_testdata_file("CT_small.dcm"), Path(tmp, "in"))
        ...     report = deidentify_tree(Path(tmp, "in"), Path(tmp, "out"), b"k" * 16)
        >>> report.written, report.failed
        (('CT_small.dcm',), ())
    """
    deidentifier = Deidentifier(key, retain_dates=retain_dates,
                                retain_patient_characteristics=retain_patient_characteristics,
                                retain_uids=retain_uids, keep_private=keep_private)
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    audit_path = Path(audit) if audit is not None else out_dir / "deid-audit.jsonl"
    check_folders(in_dir, out_dir, audit_path)
    written: list[str] = []
    failed: list[Failure] = []
    flagged: list[str] = []
    with atomic(audit_path) as log_file:
        for source in inputs(in_dir):
            relative = source.relative_to(in_dir).as_posix()
            try:
                if source.is_symlink():
                    raise DeidentificationError(
                        "is a symbolic link; links are not followed. Copy the file in.")
                records = deidentifier.file(source, out_dir / relative, name=relative)
            except (DicomError, DeidentificationError, OSError) as err:
                failed.append(Failure(relative, reason(err)))
                continue
            except Exception as err:  # reported below, not hidden: one bad file must
                # not stop a batch, and its message may quote a value, so only the type
                failed.append(Failure(relative, f"unexpected {type(err).__name__}; no "
                                                "output written"))
                continue
            written.append(relative)
            if any(r.action == "flag" for r in records):
                flagged.append(relative)
            log_file.writelines((r.to_json() + "\n").encode("utf-8") for r in records)
    log.info("de-identified %d file(s), %d failed, %d flagged for burned-in annotation",
             len(written), len(failed), len(flagged))
    return Report(tuple(written), tuple(failed), tuple(flagged), audit_path)
