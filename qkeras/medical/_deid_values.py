"""Replacement values for de-identification: keyed UIDs, dummies (D), empties (Z).

Example:
    >>> new_uid(b"0123456789abcdef", "1.2.3")[:5]
    '2.25.'
"""

from __future__ import annotations

import hashlib
import hmac

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

_TEXT = "ANONYMIZED"
_STRING_VRS = frozenset(("AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH",
                         "ST", "TM", "UC", "UI", "UR", "UT"))
_DUMMIES: dict[str, object] = {
    **{vr: _TEXT for vr in ("AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT")},
    "AS": "000Y", "DA": "19000101", "DT": "19000101000000", "TM": "000000",
    "DS": "0", "IS": "0", "UR": "http://anonymized.invalid",
    **{vr: 0 for vr in ("FL", "FD", "SL", "SS", "UL", "US", "SV", "UV", "AT")},
    **{vr: b"\x00\x00" for vr in ("OB", "OW", "UN")},
    "OF": b"\x00" * 4, "OL": b"\x00" * 4, "OD": b"\x00" * 8, "OV": b"\x00" * 8,
}


def new_uid(key: bytes, uid: str) -> str:
    """Maps a UID to a new one under the ``2.25.`` (UUID) root with HMAC-SHA256.

    The first 128 bits of ``HMAC-SHA256(key, uid)`` become a version-8 (custom) UUID
    per RFC 9562, written as the decimal integer ITU-T X.667 puts under ``2.25``: at
    most 44 characters, digits and dots only. The same key maps a UID to the same new
    UID in every file and every run; without the key the map cannot be inverted.

    Args:
        key: The secret key.
        uid: The original UID; an empty one stays empty.

    Returns:
        The new UID.

    Example:
        >>> a = new_uid(b"0123456789abcdef", "1.2.840.113619.2.1")
        >>> a == new_uid(b"0123456789abcdef", "1.2.840.113619.2.1"), len(a) <= 64
        (True, True)
    """
    uid = uid.strip("\x00 ")
    if not uid:
        return uid
    digest = bytearray(hmac.new(key, uid.encode("ascii", "replace"), hashlib.sha256)
                       .digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80  # version 8
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122/9562 variant
    return f"2.25.{int.from_bytes(digest, 'big')}"


def _as_text(value: object) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def remap_uids(element: DataElement, key: bytes) -> None:
    """Replaces every value of a UID element with :func:`new_uid` (action U).

    Example:
        >>> from pydicom.dataset import Dataset
        >>> ds = Dataset()
        >>> ds.StudyInstanceUID = "1.2.3"
        >>> remap_uids(ds["StudyInstanceUID"], b"0123456789abcdef")
        >>> ds.StudyInstanceUID.startswith("2.25."), ds.StudyInstanceUID != "1.2.3"
        (True, True)
    """
    value = element.value
    if value is None or value == "":
        return
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        element.value = [new_uid(key, _as_text(v)) for v in value]
    else:
        element.value = new_uid(key, _as_text(value))


def _known_uid(value: object) -> bool:
    """A UID of the standard (SOP Class, Transfer Syntax, coding scheme...)."""
    text = _as_text(value).strip("\x00 ")
    return UID(text).name != text


def empty(element: DataElement) -> None:
    """Makes an element zero-length (action Z); a sequence keeps no item.

    Example:
        >>> from pydicom.dataset import Dataset
        >>> ds = Dataset()
        >>> ds.PatientName = "Doe^Jane"
        >>> empty(ds["PatientName"])
        >>> ds["PatientName"].is_empty
        True
    """
    if element.VR == "SQ":
        element.value = Sequence()
    else:
        element.value = "" if element.VR in _STRING_VRS else None


def substitute(element: DataElement, key: bytes) -> None:
    """Replaces an element's value with a substitute value valid for its VR (action D).

    Text becomes ``ANONYMIZED``, dates 1900-01-01, numbers 0, binary values zero
    bytes, and a UID a keyed new UID (so references stay consistent). A sequence keeps
    its items, but every element in them, recursively, is replaced the same way, except
    UIDs of the standard itself (SOP Classes, coding schemes); private elements inside
    are removed.

    Example:
        >>> from pydicom.dataset import Dataset
        >>> ds = Dataset()
        >>> ds.StudyDate = "20240131"
        >>> substitute(ds["StudyDate"], b"0123456789abcdef")
        >>> ds.StudyDate
        '19000101'
    """
    if element.VR == "SQ":
        for item in element.value:
            _substitute_item(item, key)
    elif element.VR == "UI":
        remap_uids(element, key)
    else:
        element.value = _DUMMIES.get(element.VR, b"\x00\x00")


def _substitute_item(item: Dataset, key: bytes) -> None:
    for tag in list(item.keys()):
        element = item[tag]
        if tag.is_private:
            del item[tag]
        elif element.VR == "UI" and element.value and all(
                _known_uid(v) for v in (element.value if element.VM > 1
                                        else [element.value])):
            continue
        else:
            substitute(element, key)
