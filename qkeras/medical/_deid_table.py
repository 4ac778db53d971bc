"""The PS3.15 Annex E action table, its option columns, and IOD attribute types.

Sources (both maintained, machine-readable, installed from PyPI with the ``medical``
extra):

* **Basic Profile column**: ``dicom-anonymizer`` (KitwareMedical) ships Table E.1-1 of
  each DICOM edition as Python lists, one per action (D, Z, X, U, Z/D, X/Z, X/D, X/Z/D,
  X/Z/U*), scraped from the standard; the newest edition installed is used. Its applying
  code is not used (it writes substitute dates for X, and fixed choices for combinations).
* **Attribute types per IOD**: ``highdicom`` ships the IOD/module/attribute tables of
  PS3.3 as JSON (read directly; highdicom is not imported). They decide combinations.

The option columns are not in either package, so they are derived here from the
standard's rules for each column (checked against Table E.1-1):

* Retain Longitudinal Temporal Information with Full Dates: ``K`` for every attribute of
  the table whose VR is DA, DT or TM, and Timezone Offset From UTC and Frame Origin
  Timestamp; except Patient's Birth Date and Time, which that column leaves alone.
* Retain Patient Characteristics: ``K`` for the attributes that column marks ``K``
  (its ``C`` attributes, e.g. Allergies, need cleaning and keep the Basic action).
* Retain UIDs: ``K`` for every ``U`` attribute except Digital Signature UID and UID
  (0040,A124), and for the sequences of UID references marked ``K`` (X/Z/U* sequences,
  Referenced Study and Referenced Performed Procedure Step Sequences).

Combinations resolve to the strictest action that keeps the object valid for its IOD
(``resolve``): the attribute's type in the IOD of the file's SOP Class decides, taking
the strictest type any module of that IOD gives it at that sequence path (a conditional
type counts as required, since the attribute is present). An attribute the IOD does not
define is type 3. A SOP Class the tables do not know resolves to the last alternative,
which is valid for every type. Whichever alternative is taken, the original value is
gone.

Example:
    >>> table = action_table()
    >>> table.action(0x00100010), table.action(0x00081140), table.action(0x60023000)
    ('Z', 'X/Z/U*', 'X')
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from pydicom.datadict import dictionary_has_tag, dictionary_VR, keyword_for_tag

from qkeras.errors import EnvironmentSetupError

_INSTALL = "Install the medical extra: pip install 'qkeras-quantum[medical]'."
_DATABASES = "dicomanonymizer.dicom_anonymization_databases"
_CATEGORIES = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U",
               "Z_D_TAGS": "Z/D", "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D",
               "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*"}
COMBINATIONS = ("Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*")

_DATE_VRS = ("DA", "DT", "TM")
_DATES_EXTRA = (0x00080201, 0x00340007)  # Timezone Offset From UTC, Frame Origin Timestamp
_DATES_NEVER = (0x00100030, 0x00100032)  # Patient's Birth Date, Patient's Birth Time
_PATIENT_CHARACTERISTICS = (
    0x00101010,  # Patient's Age
    0x00100040,  # Patient's Sex
    0x00102203,  # Patient's Sex Neutered
    0x00101020,  # Patient's Size
    0x00101030,  # Patient's Weight
    0x00102160,  # Ethnic Group
    0x00102161,  # Ethnic Group Code Sequence
    0x00102162,  # Ethnic Groups
    0x001021C0,  # Pregnancy Status
    0x001021A0,  # Smoking Status
)
_UIDS_NOT_RETAINED = (0x04000100, 0x0040A124)  # Digital Signature UID, UID
_UID_SEQUENCES = (0x00081110, 0x00081111)  # Referenced Study / Performed Procedure Step


@dataclass(frozen=True)
class ActionTable:
    """Table E.1-1's Basic Profile column: exact tags plus repeating-group masks.

    Attributes:
        edition: The dicom-anonymizer database the table came from.
        exact: Tag (as an int) to action.
        masked: ``(value, mask, action)``: a tag matches when ``tag & mask == value``.
    """

    edition: str
    exact: dict[int, str]
    masked: tuple[tuple[int, int, str], ...]

    def action(self, tag: int) -> str | None:
        """The Basic Profile action of a public tag, or ``None`` if it is not listed.

        Example:
            >>> action_table().action(0x00280010) is None  # Rows
            True
        """
        found = self.exact.get(tag)
        if found is None:
            for value, mask, action in self.masked:
                if tag & mask == value:
                    return action
        return found


def _newest_edition() -> str:
    try:
        package = importlib.import_module(_DATABASES)
    except ImportError as err:
        raise EnvironmentSetupError(
            f"De-identification needs the Annex E table of dicom-anonymizer. {_INSTALL}"
        ) from err
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__)
                   if m.name.startswith("dicomfields_"))
    if not names:
        raise EnvironmentSetupError(f"dicom-anonymizer ships no Annex E table. {_INSTALL}")
    return names[-1]


@functools.lru_cache(maxsize=4)
def action_table(edition: str | None = None) -> ActionTable:
    """Loads Table E.1-1 (Basic Profile column) from dicom-anonymizer.

    Args:
        edition: A database module name such as ``"dicomfields_2026c"``; the newest
            installed one by default.

    Returns:
        The :class:`ActionTable`.

    Raises:
        EnvironmentSetupError: dicom-anonymizer, or that edition, is not installed.

    Example:
        >>> action_table().edition >= "dicomfields_2024b"
        True
    """
    edition = edition or _newest_edition()
    try:
        module = importlib.import_module(f"{_DATABASES}.{edition}")
    except ImportError as err:
        raise EnvironmentSetupError(
            f"dicom-anonymizer has no Annex E table {edition!r}. {_INSTALL}") from err
    exact: dict[int, str] = {}
    masked: list[tuple[int, int, str]] = []
    for category, action in _CATEGORIES.items():
        for entry in getattr(module, category):
            if len(entry) == 2:
                exact[(entry[0] << 16) | entry[1]] = action
            else:  # (group, element, group mask, element mask)
                group, element, group_mask, element_mask = entry
                masked.append(((group << 16) | element, (group_mask << 16) | element_mask,
                               action))
    return ActionTable(edition, exact, tuple(masked))


def option_action(tag: int, basic: str, *, retain_dates: bool,
                  retain_patient_characteristics: bool, retain_uids: bool) -> str:
    """The action after the selected option columns: ``"K"`` or ``basic`` unchanged.

    Example:
        >>> option_action(0x00080020, "Z", retain_dates=True,
        ...               retain_patient_characteristics=False, retain_uids=False)
        'K'
    """
    if retain_dates and tag not in _DATES_NEVER and (
            tag in _DATES_EXTRA
            or (dictionary_has_tag(tag) and dictionary_VR(tag) in _DATE_VRS)):
        return "K"
    if retain_patient_characteristics and tag in _PATIENT_CHARACTERISTICS:
        return "K"
    if retain_uids and tag not in _UIDS_NOT_RETAINED and (
            basic in ("U", "X/Z/U*") or tag in _UID_SEQUENCES):
        return "K"
    return basic


def keyword(tag: int) -> str:
    """The DICOM keyword of a tag, or ``""`` for tags pydicom's dictionary lacks.

    Example:
        >>> keyword(0x00100010)
        'PatientName'
    """
    return keyword_for_tag(tag) if dictionary_has_tag(tag) else ""


def _standard_dir() -> Path:
    spec = importlib.util.find_spec("highdicom")
    locations = spec.submodule_search_locations if spec else None
    folder = Path(locations[0]) / "_standard" if locations else None
    if folder is None or not (folder / "module_attribute_map.json").is_file():
        raise EnvironmentSetupError(
            "De-identification needs the PS3.3 IOD tables that highdicom ships "
            f"(highdicom/_standard/*.json). {_INSTALL}")
    return folder


@functools.lru_cache(maxsize=1)
def _standard() -> tuple[dict, dict, dict]:
    folder = _standard_dir()
    return tuple(json.loads((folder / f"{name}.json").read_text("utf-8")) for name in
                 ("sop_class_iod_map", "iod_module_map", "module_attribute_map"))


_RANK = {"1": 1, "1C": 1, "2": 2, "2C": 2}


@functools.lru_cache(maxsize=64)
def _iod_types(sop_class_uid: str) -> dict[tuple[tuple[str, ...], str], int] | None:
    sops, iods, modules = _standard()
    iod = sops.get(sop_class_uid)
    if iod is None:
        return None
    types: dict[tuple[tuple[str, ...], str], int] = {}
    for module in iods[iod]:
        for entry in modules.get(module["key"], ()):
            key = (tuple(entry["path"]), entry["keyword"])
            types[key] = min(types.get(key, 3), _RANK.get(entry["type"], 3))
    return types


def has_pixels(sop_class_uid: str) -> bool:
    """Whether the IOD of a SOP Class has a mandatory image pixel module.

    Example:
        >>> has_pixels("1.2.840.10008.5.1.4.1.1.2"), has_pixels("1.2.840.10008.5.1.4.1.1.88.33")
        (True, False)
    """
    sops, iods, _ = _standard()
    modules = iods.get(sops.get(sop_class_uid, ""), ())
    return any(m["key"].endswith("image-pixel") and m["usage"] == "M" for m in modules)


def requirement(sop_class_uid: str | None, path: tuple[str, ...], keyword: str) -> int:
    """How an IOD requires an attribute: 1 (non-empty), 2 (present) or 3 (optional).

    Args:
        sop_class_uid: The file's SOP Class UID.
        path: Keywords of the sequences that contain the attribute, outermost first.
        keyword: The attribute's keyword.

    Returns:
        1, 2 or 3; 1 when the SOP Class is unknown (so that nothing breaks validity).

    Example:
        >>> ct = "1.2.840.10008.5.1.4.1.1.2"
        >>> requirement(ct, (), "PatientID"), requirement(ct, (), "AcquisitionDate")
        (2, 3)
    """
    types = _iod_types(str(sop_class_uid)) if sop_class_uid else None
    if types is None:
        return 1
    return types.get((path, keyword), 3)


def resolve(action: str, required: int) -> str:
    """Picks the alternative of a combination action for an attribute's type.

    X where the IOD lets the attribute go (type 3), Z where it must be present (type 2),
    D (or, for X/Z/U*, keeping the sequence with its UIDs replaced: ``"U*"``) where it
    must have a value (type 1). Z/D is Z unless type 1; X/Z is never D.

    Example:
        >>> [resolve("X/Z/D", required) for required in (3, 2, 1)]
        ['X', 'Z', 'D']
    """
    if action == "Z/D":
        return "D" if required == 1 else "Z"
    if action == "X/Z":
        return "X" if required == 3 else "Z"
    if action == "X/D":
        return "X" if required == 3 else "D"
    last = "U*" if action == "X/Z/U*" else "D"
    return {3: "X", 2: "Z"}.get(required, last)
