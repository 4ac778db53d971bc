"""Applies the Annex E actions to a pydicom data set, recursing into sequences.

Example:
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.PatientName, ds.Rows = "Doe^Jane", 2
    >>> walker = Walker(key=b"0123456789abcdef", options=Options())
    >>> [(c.keyword, c.action) for c in walker.run(ds)], ds.PatientName, ds.Rows
    ([('PatientName', 'Z')], '', 2)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.tag import BaseTag, Tag

from qkeras.medical import _deid_table as table
from qkeras.medical._deid_values import empty, remap_uids, substitute

# File meta elements outside Table E.1-1 that name sending stations or carry private
# data: (0002,0016-0018) Source/Sending/Receiving AE Title, (0002,0100) Private
# Information Creator UID, (0002,0102) Private Information.
_META_REMOVED = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)
# Modalities whose pixel data often carries burned-in text (US, angiography, endoscopy,
# photographs, screen captures, documents).
_BURN_PRONE = frozenset({"US", "IVUS", "XA", "RF", "ES", "XC", "GM", "SM", "OT", "DOC",
                         "OP", "SC"})
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


@dataclass(frozen=True)
class Options:
    """The Annex E options in force and the private safe-list.

    Attributes:
        retain_dates: Retain Longitudinal Temporal Information with Full Dates.
        retain_patient_characteristics: Retain Patient Characteristics.
        retain_uids: Retain UIDs.
        keep_private: ``(private creator, group, element offset)`` triples to keep.
    """

    retain_dates: bool = False
    retain_patient_characteristics: bool = False
    retain_uids: bool = False
    keep_private: frozenset[tuple[str, int, int]] = field(default_factory=frozenset)

    def codes(self) -> list:
        """The CID 7050 codes of the profile and the options in force.

        Example:
            >>> [c.value for c in Options(retain_uids=True).codes()]
            ['113100', '113110']
        """
        cid = codes.cid7050
        chosen = [cid.BasicApplicationConfidentialityProfile]
        for on, code in ((self.retain_dates,
                          cid.RetainLongitudinalTemporalInformationFullDatesOption),
                         (self.retain_patient_characteristics,
                          cid.RetainPatientCharacteristicsOption),
                         (self.retain_uids, cid.RetainUidsOption),
                         (bool(self.keep_private), cid.RetainSafePrivateOption)):
            if on:
                chosen.append(code)
        return chosen


@dataclass(frozen=True)
class Change:
    """One action taken: where (tag path, keyword path), what, and the table's rule."""

    tag: str
    keyword: str
    action: str
    rule: str


def _tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


class Walker:
    """Applies the profile to one data set in place, recording every change.

    Args:
        key: The UID key.
        options: The :class:`Options`.
    """

    def __init__(self, *, key: bytes, options: Options) -> None:
        self._key, self._options = key, options
        self._table = table.action_table()
        self._sop_class: str | None = None

    @property
    def edition(self) -> str:
        """The Annex E table edition in use."""
        return self._table.edition

    def run(self, ds: Dataset) -> list[Change]:
        """De-identifies ``ds`` (and its file meta) in place; returns the changes."""
        self._sop_class = str(ds.get("SOPClassUID", "")) or None
        changes: list[Change] = []
        self._walk(ds, (), (), (), changes)
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            for tag in _META_REMOVED:
                if tag in meta:
                    del meta[tag]
                    changes.append(Change(_tag_text(tag), table.keyword(tag), "X", "meta"))
            self._walk(meta, (), (), (), changes)
        return changes

    def _walk(self, ds: Dataset, tags: tuple[str, ...], words: tuple[str, ...],
              path: tuple[str, ...], changes: list[Change]) -> None:
        kept_creators: set[BaseTag] = set()
        first = len(changes)
        for tag in list(ds.keys()):
            if tag.is_private:
                if not tag.is_private_creator:
                    self._private(ds, tag, tags, words, path, changes, kept_creators)
                continue
            element = ds[tag]
            name = element.keyword or table.keyword(int(tag))
            where = (*tags, _tag_text(int(tag))), (*words, name or _tag_text(int(tag)))
            if tag.element == 0:  # group length: stale once values change
                del ds[tag]
                changes.append(Change(".".join(where[0]), ".".join(where[1]), "X",
                                      "group length"))
                continue
            rule = self._table.action(int(tag))
            if rule is None:
                if element.VR == "SQ":
                    self._items(element.value, where, (*path, name), changes)
                continue
            action = table.option_action(int(tag), rule, **self._option_flags())
            if action in table.COMBINATIONS:
                action = table.resolve(action, table.requirement(self._sop_class, path, name))
            self._apply(ds, tag, action, where, (*path, name), changes)
            changes.append(Change(".".join(where[0]), ".".join(where[1]), action, rule))
        # An overlay plane without its Overlay Data is invalid: drop the whole group.
        planes = {int(c.tag[-10:-6], 16) for c in changes[first:]
                  if c.action == "X" and c.tag[-10:-8] == "60" and c.tag.endswith(",3000)")}
        for tag in list(ds.keys()):
            if tag.is_private_creator and tag not in kept_creators:
                del ds[tag]
                changes.append(Change(".".join((*tags, _tag_text(int(tag)))),
                                      ".".join((*words, "PrivateCreator")), "X", "X"))
            elif tag.group in planes:
                del ds[tag]
                changes.append(Change(".".join((*tags, _tag_text(int(tag)))),
                                      ".".join((*words, _tag_text(int(tag)))), "X",
                                      "overlay plane"))

    def _option_flags(self) -> dict[str, bool]:
        o = self._options
        return {"retain_dates": o.retain_dates, "retain_uids": o.retain_uids,
                "retain_patient_characteristics": o.retain_patient_characteristics}

    def _apply(self, ds: Dataset, tag: BaseTag, action: str, where: tuple, path: tuple,
               changes: list[Change]) -> None:
        element = ds[tag]
        if action == "X":
            del ds[tag]
        elif action == "Z":
            empty(element)
        elif action == "D":
            substitute(element, self._key)
        elif action == "U":
            remap_uids(element, self._key)
        elif element.VR == "SQ":  # K and U*: keep the items, apply the profile inside
            self._items(element.value, where, path, changes)

    def _items(self, items: Iterable[Dataset], where: tuple, path: tuple[str, ...],
               changes: list[Change]) -> None:
        for index, item in enumerate(items):
            self._walk(item, (*where[0][:-1], f"{where[0][-1]}[{index}]"),
                       (*where[1][:-1], f"{where[1][-1]}[{index}]"), path, changes)

    def _private(self, ds: Dataset, tag: BaseTag, tags: tuple, words: tuple, path: tuple,
                 changes: list[Change], kept_creators: set[BaseTag]) -> None:
        creator_tag = Tag(tag.group, tag.element >> 8)
        creator = ds[creator_tag].value if creator_tag in ds else None
        where = (*tags, _tag_text(int(tag))), (*words, "Private")
        wanted = (str(creator).strip(), tag.group, tag.element & 0xFF)
        if creator is not None and tag.element >= 0x1000 and \
                wanted in self._options.keep_private:
            kept_creators.add(creator_tag)
            element = ds[tag]
            if element.VR == "SQ":
                self._items(element.value, where, (*path, "Private"), changes)
            changes.append(Change(".".join(where[0]), ".".join(where[1]), "K",
                                  "X (safe private)"))
            return
        del ds[tag]
        changes.append(Change(".".join(where[0]), ".".join(where[1]), "X", "X"))


def mark(ds: Dataset, options: Options, method: str) -> list[Change]:
    """Adds the attributes PS3.15 E.1.1 asks of a de-identified object.

    Patient Identity Removed = YES, De-identification Method (free text) and its Code
    Sequence (CID 7050), and Longitudinal Temporal Information Modified.

    Example:
        >>> ds = Dataset()
        >>> _ = mark(ds, Options(), "qkeras")
        >>> ds.PatientIdentityRemoved, ds.LongitudinalTemporalInformationModified
        ('YES', 'REMOVED')
    """
    chosen = options.codes()
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = [c.meaning[:64] for c in chosen] + [method[:64]]
    items = []
    for code in chosen:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator = code.value, code.scheme_designator
        item.CodeMeaning = code.meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    ds.LongitudinalTemporalInformationModified = (
        "UNMODIFIED" if options.retain_dates else "REMOVED")
    return [Change(_tag_text(t), table.keyword(t), "set", "E.1.1")
            for t in (0x00120062, 0x00120063, 0x00120064, 0x00280303)]


def burned_in_risk(ds: Dataset) -> bool:
    """Whether the pixel data may carry burned-in identifying text.

    True when Burned In Annotation (0028,0301) is YES, or when it is absent and the
    object is of a modality prone to it (ultrasound, angiography, screen captures...).
    The Basic Profile does not clean pixel data; such files need a human or the Clean
    Pixel Data Option.

    Example:
        >>> ds = Dataset()
        >>> ds.Modality, ds.PixelData = "US", b"\\x00\\x00"
        >>> burned_in_risk(ds)
        True
    """
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        return False
    flag = str(ds.get("BurnedInAnnotation", "")).strip().upper()
    if flag:
        return flag == "YES"
    return (str(ds.get("Modality", "")).upper() in _BURN_PRONE
            or str(ds.get("SOPClassUID", "")).startswith(_SECONDARY_CAPTURE))
