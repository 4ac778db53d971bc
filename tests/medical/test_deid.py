"""Tests for qkeras.medical.deid (PS3.15 Annex E Basic Profile) on real pydicom files.

References: the per-attribute actions of Table E.1-1 as dicom-anonymizer publishes them
(read here through its own API, not through qkeras), the attribute types of PS3.3 for
the combinations, RFC 9562 / ITU-T X.667 for the ``2.25`` UIDs, CID 7050 for the codes.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import logging
import os
import pkgutil
import random
import shutil
import string
import uuid
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import UID

from qkeras.errors import ConfigurationError, DeidentificationError, DicomError
from qkeras.medical.deid import Deidentifier, deidentify_tree, read_key

KEY = b"qkeras-test-key-0123456789abcdef"
FILES = (
    "CT_small.dcm",                       # CT, GE private blocks
    "MR_small.dcm",                       # MR
    "rtplan.dcm",                         # RT Plan: nested sequences
    "test-SR.dcm",                        # Comprehensive SR: Content Sequence (D)
    "MR-SIEMENS-DICOM-WithOverlays.dcm",  # MR, Siemens private, overlays, X/Z/U*
    "JPGLosslessP14SV1_1s_1f_8b.dcm",     # US: Request Attributes, Referenced Study Seq.
    "JPEG2000.dcm",                       # NM/SC, encapsulated pixel data
    "waveform_ecg.dcm",                   # 12-lead ECG, private, Acquisition Context
    "eCT_Supplemental.dcm",               # Enhanced CT: type 1 Content Date, Device S/N
    "liver.dcm",                          # Segmentation: clinical-trial attributes
)
COMBINATIONS = {"Z/D": {"Z", "D"}, "X/Z": {"X", "Z"}, "X/D": {"X", "D"},
                "X/Z/D": {"X", "Z", "D"}, "X/Z/U*": {"X", "Z", "U*"}}


def sample(name: str) -> str | None:
    return get_testdata_file(name, download=False)


def need(name: str) -> str:
    path = sample(name)
    if path is None:
        pytest.skip(f"{name} needs the pydicom-data package (pip install pydicom-data)")
    return path


def reference_table() -> dict[int, str]:
    """Table E.1-1, Basic Profile column, through dicom-anonymizer's public selector."""
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

    package = importlib.import_module("dicomanonymizer.dicom_anonymization_databases")
    newest = sorted(m.name for m in pkgutil.iter_modules(package.__path__)
                    if m.name.startswith("dicomfields_"))[-1]
    names = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
             "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D",
             "X_Z_U_STAR_TAGS": "X/Z/U*"}
    table = {}
    for category, tags in dicom_anonymization_database_selector(newest).items():
        for tag in tags:
            if category in names and len(tag) == 2:
                table[(tag[0] << 16) | tag[1]] = names[category]
    return table


TABLE = reference_table()


def rule_of(tag: int) -> str | None:
    if tag in TABLE:
        return TABLE[tag]
    if tag >> 24 == 0x60 and tag & 0xFFFF in (0x3000, 0x4000):  # overlay data/comments
        return "X"
    return None


def tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def occurrences(ds: Dataset, path=()):
    """(path, tag, rule) for every profile attribute, at any depth under kept sequences."""
    for element in ds:
        tag = int(element.tag)
        if element.tag.is_private or element.tag.element == 0:
            continue
        rule = rule_of(tag)
        if rule is not None:
            yield path, tag, rule
        elif element.VR == "SQ":
            for index, item in enumerate(element.value):
                yield from occurrences(item, (*path, (tag, index)))


def collect():
    cases = []
    for name in FILES:
        path = sample(name)
        if path is None:
            cases.append(pytest.param(name, (), 0, "", marks=pytest.mark.skip(
                reason=f"{name} needs pydicom-data"), id=f"{name}-missing"))
            continue
        ds = pydicom.dcmread(path, defer_size="4 KB")  # big values are not loaded
        for where, tag, rule in occurrences(ds):
            label = "".join(f"{tag_text(t)}[{i}]." for t, i in where) + tag_text(tag)
            cases.append(pytest.param(name, where, tag, rule, id=f"{name}:{label}:{rule}"))
    return cases


CASES = collect()


def expected_uid(original: str, key: bytes = KEY) -> str:
    """RFC 9562 version-8 UUID from HMAC-SHA256, under the ITU-T X.667 ``2.25`` root."""
    digest = hmac.new(key, original.encode(), hashlib.sha256).digest()[:16]
    value = uuid.UUID(bytes=digest).int
    value = (value & ~(0xF << 76)) | (0x8 << 76)        # version 8
    value = (value & ~(0x3 << 62)) | (0x2 << 62)        # variant 10
    assert uuid.UUID(int=value).version == 8
    return f"2.25.{value}"


def is_new_uid(value: str) -> bool:
    return (value.startswith("2.25.") and len(value) <= 64 and UID(value).is_valid
            and set(value) <= set("0123456789."))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """De-identifies every test file once: name -> (input, output, audit records)."""
    made = {}

    def get(name):
        if name not in made:
            folder = tmp_path_factory.mktemp("deid")
            (folder / "in").mkdir()
            shutil.copy(need(name), folder / "in" / name)
            report = deidentify_tree(folder / "in", folder / "out", KEY)
            assert report.written == (name,), report.failed
            audit = [json.loads(line) for line in report.audit.read_text().splitlines()]
            made[name] = (pydicom.dcmread(folder / "in" / name),
                          pydicom.dcmread(folder / "out" / name), audit)
        return made[name]

    return get


def locate(ds: Dataset, where, tag):
    for seq_tag, index in where:
        if seq_tag not in ds or len(ds[seq_tag].value) <= index:
            return None
        ds = ds[seq_tag].value[index]
    return ds[tag] if tag in ds else None


def leaves(element) -> list[tuple[int, object]]:
    return [(int(e.tag), e.value) for item in element.value for e in item.iterall()
            if e.VR != "SQ"]


def outcome(before, after) -> str:
    """What happened to one attribute: X, Z, D, U, K or U* (kept, only UIDs replaced)."""
    if after is None:
        return "X"
    if after.is_empty:
        return "Z"
    if after.VR == "SQ":
        old, new = leaves(before), leaves(after)
        changed = [(o, n) for o, n in zip(old, new, strict=False) if o != n]
        if len(old) == len(new) and changed and all(
                o[0] == n[0] and str(n[1]) == expected_uid(str(o[1])) for o, n in changed):
            return "U*"
        return "D" if changed or len(old) != len(new) else "K"
    if after.value == before.value:
        return "K"
    if after.VR == "UI":
        olds = list(before.value) if before.VM > 1 else [before.value]
        news = list(after.value) if after.VM > 1 else [after.value]
        if news == [expected_uid(v) for v in olds] and all(is_new_uid(v) for v in news):
            return "U"
    return "D"


@pytest.mark.parametrize("name, where, tag, rule", CASES)
def test_every_profile_attribute_obeys_its_action(outputs, name, where, tag, rule):
    source, result, audit = outputs(name)
    before, after = locate(source, where, tag), locate(result, where, tag)
    got = outcome(before, after)
    allowed = COMBINATIONS.get(rule, {rule})
    if rule == "D" and before.VR == "UI":
        allowed = {"D", "U"}  # a substitute UID is a keyed new UID
    assert got in allowed, f"{rule} gave {got}"
    label = "".join(f"{tag_text(t)}[{i}]." for t, i in where) + tag_text(tag)
    logged = [r for r in audit if r["tag"] == label]
    assert len(logged) == 1 and logged[0]["rule"] == rule
    assert logged[0]["action"] in allowed


# PS3.3 types decide combinations: X for type 3, Z for type 2, D for type 1.
@pytest.mark.parametrize("name, keyword, action", [
    ("CT_small.dcm", "AcquisitionDate", "X"),        # General Acquisition, type 3
    ("CT_small.dcm", "PatientID", "Z"),              # Patient, type 2
    ("CT_small.dcm", "ContentDate", "Z"),            # General Image, type 2C
    ("CT_small.dcm", "InstitutionName", "X"),        # General Equipment, type 3
    ("eCT_Supplemental.dcm", "ContentDate", "D"),    # MF Functional Groups, type 1
    ("eCT_Supplemental.dcm", "DeviceSerialNumber", "D"),  # Enhanced General Equip., 1
    ("eCT_Supplemental.dcm", "AcquisitionContextSequence", "Z"),  # Acq. Context, 2
    ("test-SR.dcm", "ContentDate", "D"),             # SR Document General, type 1
    ("test-SR.dcm", "ReferencedPerformedProcedureStepSequence", "Z"),  # SR Series, 2
    ("waveform_ecg.dcm", "AcquisitionDateTime", "D"),  # Waveform Identification, 1
    ("MR-SIEMENS-DICOM-WithOverlays.dcm", "ReferencedImageSequence", "X"),  # type 3
])
def test_combinations_take_the_strictest_action_the_iod_allows(outputs, name, keyword,
                                                                action):
    source, result, audit = outputs(name)
    assert outcome(source[keyword], result[keyword] if keyword in result else None) == action
    assert [r["action"] for r in audit if r["keyword"] == keyword] == [action]


def test_unknown_sop_class_takes_the_alternative_valid_for_any_type():
    ds = pydicom.dcmread(need("JPEG2000.dcm"))
    del ds.SOPClassUID  # no IOD to look types up in: assume type 1 (or 2 for X/Z)
    new, audit = Deidentifier(KEY).dataset(ds)
    actions = {r.keyword: r.action for r in audit if "." not in r.keyword}
    assert actions["SourceImageSequence"] == "U*"
    assert outcome(ds["SourceImageSequence"], new["SourceImageSequence"]) == "U*"
    assert (actions["AcquisitionDate"], actions["ProtocolName"]) == ("Z", "D")
    assert (actions["InstitutionName"], actions["ContentDate"]) == ("D", "D")


def test_de_identification_attributes_are_set(outputs):
    _, result, audit = outputs("CT_small.dcm")
    assert result.PatientIdentityRemoved == "YES"
    assert result.LongitudinalTemporalInformationModified == "REMOVED"
    codes = [(i.CodeValue, i.CodingSchemeDesignator)
             for i in result.DeidentificationMethodCodeSequence]
    assert codes == [("113100", "DCM")]
    assert "Basic Application Confidentiality Profile" in result.DeidentificationMethod
    assert {r["action"] for r in audit} >= {"X", "Z", "U", "set"}
    assert all(set(r) == {"file", "tag", "keyword", "action", "rule"} for r in audit)


@pytest.mark.parametrize("name", [f for f in FILES if f not in ("rtplan.dcm", "test-SR.dcm")])
def test_pixel_data_is_byte_identical(outputs, name):
    source, result, _ = outputs(name)
    keyword = next(k for k in ("PixelData", "WaveformSequence") if k in source)
    if keyword == "PixelData":
        assert result.PixelData == source.PixelData
    else:
        assert [i.WaveformData for i in result.WaveformSequence] == \
               [i.WaveformData for i in source.WaveformSequence]
    assert result.file_meta.TransferSyntaxUID == source.file_meta.TransferSyntaxUID


@pytest.mark.parametrize("name", FILES)
def test_no_private_element_survives_and_meta_uid_follows(outputs, name):
    source, result, _ = outputs(name)
    assert not [e.tag for e in result.iterall() if e.tag.is_private]
    assert result.file_meta.MediaStorageSOPInstanceUID == result.SOPInstanceUID \
        == expected_uid(source.SOPInstanceUID)


def test_overlay_plane_goes_with_its_data(outputs):
    source, result, _ = outputs("MR-SIEMENS-DICOM-WithOverlays.dcm")
    assert any(e.tag.group == 0x6000 for e in source)
    assert not any(e.tag.group == 0x6000 for e in result)


# Planted values: none may reach the output bytes, the audit log or the logs.

def planted_file(folder: Path) -> tuple[Path, dict[str, str]]:
    rng = random.Random(7050)
    tokens: dict[str, str] = {}

    def token(label: str, size: int = 16) -> str:
        tokens[label] = "QK" + "".join(rng.choices(string.ascii_uppercase, k=size - 2))
        return tokens[label]

    ds = pydicom.dcmread(need("CT_small.dcm"))
    warnings.filterwarnings("ignore", "Invalid value for VR DA")  # the planted date
    for keyword in ("PatientName", "OtherPatientNames", "PatientAddress", "InstitutionName",
                    "InstitutionAddress", "StudyDescription", "SeriesDescription",
                    "ReferringPhysicianName", "OperatorsName", "PerformingPhysicianName",
                    "DeviceSerialNumber", "ProtocolName", "ImageComments", "PatientComments",
                    "AdditionalPatientHistory", "MedicalRecordLocator", "AccessionNumber",
                    "StationName", "PatientID", "StudyID", "RequestingPhysician"):
        setattr(ds, keyword, token(keyword))
    ds.PatientBirthDate = token("PatientBirthDate", 8)
    value = token("InstanceNumber", 12).encode()  # invalid IS: pydicom warns with it
    ds[0x00200013] = RawDataElement(Tag(0x00200013), "IS", len(value), value, 0, False, True)
    inner = Dataset()                                    # two levels down, kept sequences
    inner.PatientName = token("inner.PatientName")
    inner.InstitutionName = token("inner.InstitutionName")
    inner.ReferencedSOPInstanceUID = tokens.setdefault("inner.uid", "1.2.826.0.1.3680043.10.777.1")
    inner.private_block(0x0041, "QKERAS PLANTED", create=True).add_new(
        0x01, "LO", token("inner.private"))
    outer = Dataset()
    outer.CodeValue, outer.CodingSchemeDesignator = "T-D4000", "SRT"
    outer.AnatomicRegionModifierSequence = Sequence([inner])
    ds.AnatomicRegionSequence = Sequence([outer])
    protocol = Dataset()
    protocol.CodeMeaning = token("request.protocol")
    request = Dataset()
    request.RequestedProcedureID = token("request.id")
    request.ScheduledProtocolCodeSequence = Sequence([protocol])
    ds.RequestAttributesSequence = Sequence([request])
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study.ReferencedSOPInstanceUID = tokens.setdefault("study.uid", "1.2.826.0.1.3680043.10.777.2")
    ds.ReferencedStudySequence = Sequence([study])
    ds.private_block(0x0033, "QKERAS PLANTED", create=True).add_new(0x10, "LO", token("private"))
    ds[0x00091002].value = token("gems.private")  # an existing GE private element
    path = folder / "planted.dcm"
    mode = pydicom.config.settings.writing_validation_mode
    pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
    try:
        ds.save_as(path, enforce_file_format=True)
    finally:
        pydicom.config.settings.writing_validation_mode = mode
    return path, tokens


def test_planted_values_never_reach_outputs_audit_or_logs(tmp_path, caplog):
    (tmp_path / "in").mkdir()
    path, tokens = planted_file(tmp_path / "in")
    raw = path.read_bytes()
    assert all(value.encode() in raw for value in tokens.values())  # the test can fail
    caplog.set_level(logging.DEBUG)
    caplog.clear()  # making the file logged pydicom's own complaints about it
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        report = deidentify_tree(tmp_path / "in", tmp_path / "out", KEY)
    assert report.written == ("planted.dcm",)
    output = (tmp_path / "out" / "planted.dcm").read_bytes()
    audit = report.audit.read_text()
    for label, value in tokens.items():
        if label != "InstanceNumber":  # not in Table E.1-1: kept, but never echoed
            assert value.encode() not in output, label
        assert value not in audit, label
        assert value not in caplog.text, label
        assert not any(value in str(w.message) for w in seen), label
    result = pydicom.dcmread(tmp_path / "out" / "planted.dcm")
    inner = result.AnatomicRegionSequence[0].AnatomicRegionModifierSequence[0]
    assert inner.PatientName == "" and "InstitutionName" not in inner
    assert inner.ReferencedSOPInstanceUID == expected_uid(tokens["inner.uid"])
    assert result.AnatomicRegionSequence[0].CodeValue == "T-D4000"  # not PHI: kept


def test_plain_pydicom_would_have_echoed_a_planted_value(tmp_path):
    """Reference for the test above: reading the planted file makes pydicom warn with it."""
    path, tokens = planted_file(tmp_path)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        pydicom.dcmread(path).InstanceNumber  # noqa: B018
    assert any(tokens["InstanceNumber"] in str(w.message) for w in seen)


# UIDs

def test_files_of_one_study_share_new_study_and_series_uids(tmp_path):
    names = ("examples_overlay.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm")
    (tmp_path / "in").mkdir()
    originals = []
    for name in names:
        shutil.copy(need(name), tmp_path / "in" / name)
        originals.append(pydicom.dcmread(tmp_path / "in" / name))
    assert originals[0].StudyInstanceUID == originals[1].StudyInstanceUID
    assert originals[0].SOPInstanceUID != originals[1].SOPInstanceUID
    deidentify_tree(tmp_path / "in", tmp_path / "out", KEY)
    new = [pydicom.dcmread(tmp_path / "out" / name) for name in names]
    assert new[0].StudyInstanceUID == new[1].StudyInstanceUID
    assert new[0].SeriesInstanceUID == new[1].SeriesInstanceUID
    assert new[0].SOPInstanceUID != new[1].SOPInstanceUID
    for ds in new:
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                        "FrameOfReferenceUID"):
            assert is_new_uid(ds[keyword].value)
    other = Deidentifier(b"another-key-0123456789").dataset(originals[0])[0]
    assert other.StudyInstanceUID != new[0].StudyInstanceUID
    assert is_new_uid(other.StudyInstanceUID)
    again = Deidentifier(KEY).dataset(originals[0])[0]
    assert again.StudyInstanceUID == new[0].StudyInstanceUID


# Options

def test_retain_dates_keeps_dates_but_not_birth_date():
    ds = pydicom.dcmread(need("CT_small.dcm"))
    new, audit = Deidentifier(KEY, retain_dates=True).dataset(ds)
    for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "StudyTime",
                    "SeriesTime", "AcquisitionTime", "ContentTime", "InstanceCreationDate",
                    "TimezoneOffsetFromUTC"):
        assert new[keyword].value == ds[keyword].value, keyword
    ecg = pydicom.dcmread(need("waveform_ecg.dcm"))  # the option keeps no birth date
    assert ecg.PatientBirthDate == "19710123"
    assert Deidentifier(KEY, retain_dates=True).dataset(ecg)[0].PatientBirthDate == ""
    assert new.LongitudinalTemporalInformationModified == "UNMODIFIED"
    assert "113106" in [i.CodeValue for i in new.DeidentificationMethodCodeSequence]
    assert {r.action for r in audit if r.keyword == "StudyDate"} == {"K"}
    plain = Deidentifier(KEY).dataset(ds)[0]
    assert plain.StudyDate == "" and "SeriesDate" not in plain


def test_retain_patient_characteristics_keeps_age_sex_size_weight():
    for name, keywords in (("eCT_Supplemental.dcm", ("PatientAge", "PatientSex", "PatientSize",
                                                     "PatientWeight")),
                           ("JPGLosslessP14SV1_1s_1f_8b.dcm", ("PregnancyStatus",))):
        ds = pydicom.dcmread(need(name))
        new = Deidentifier(KEY, retain_patient_characteristics=True).dataset(ds)[0]
        plain = Deidentifier(KEY).dataset(ds)[0]
        for keyword in keywords:
            assert new[keyword].value == ds[keyword].value and not ds[keyword].is_empty
            assert keyword not in plain or plain[keyword].is_empty
        assert new.PatientName == "" and new.PatientBirthDate == ""
        assert "113108" in [i.CodeValue for i in new.DeidentificationMethodCodeSequence]


def test_retain_uids_keeps_uids():
    ds = pydicom.dcmread(need("JPEG2000.dcm"))
    new = Deidentifier(KEY, retain_uids=True).dataset(ds)[0]
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                    "FrameOfReferenceUID"):
        assert new[keyword].value == ds[keyword].value
    assert new.file_meta.MediaStorageSOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
    assert new.SourceImageSequence[0].ReferencedSOPInstanceUID == \
        ds.SourceImageSequence[0].ReferencedSOPInstanceUID
    assert new.PatientName == ""
    assert "113110" in [i.CodeValue for i in new.DeidentificationMethodCodeSequence]


def test_keep_private_safe_list_keeps_only_those_elements():
    ds = pydicom.dcmread(need("CT_small.dcm"))
    new, audit = Deidentifier(KEY, keep_private=[("GEMS_ACQU_01", 0x00191002)]).dataset(ds)
    private = {e.tag: e.value for e in new if e.tag.is_private}
    assert private == {0x00190010: "GEMS_ACQU_01", 0x00191002: ds[0x00191002].value}
    assert "113111" in [i.CodeValue for i in new.DeidentificationMethodCodeSequence]
    assert [r.action for r in audit if r.tag == "(0019,1002)"] == ["K"]


@pytest.mark.parametrize("entry", [("", 0x00191002), ("GEMS", 0x00101010), ("GEMS", 0x00190010),
                                   ("GEMS",), "GEMS"])
def test_bad_keep_private_entry_is_refused(entry):
    with pytest.raises(ConfigurationError, match="keep_private"):
        Deidentifier(KEY, keep_private=[entry])


# Burned-in annotation

@pytest.mark.parametrize("name, flagged", [("JPEG2000.dcm", True),      # secondary capture
                                           ("JPGLosslessP14SV1_1s_1f_8b.dcm", False),  # NO
                                           ("CT_small.dcm", False), ("rtplan.dcm", False)])
def test_burned_in_annotation_risk_is_flagged(outputs, name, flagged):
    _, _, audit = outputs(name)
    assert any(r["action"] == "flag" for r in audit) is flagged


def test_burned_in_annotation_yes_is_flagged():
    ds = pydicom.dcmread(need("CT_small.dcm"))
    ds.BurnedInAnnotation = "YES"
    _, audit = Deidentifier(KEY).dataset(ds)
    assert [r.keyword for r in audit if r.action == "flag"] == ["BurnedInAnnotation"]


# Files and folders

def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_tree_mirrors_folders_reports_bad_files_and_never_writes_into_input(tmp_path):
    source = tmp_path / "in"
    (source / "a" / "b").mkdir(parents=True)
    shutil.copy(need("CT_small.dcm"), source / "a" / "ct.dcm")
    shutil.copy(need("MR_small.dcm"), source / "a" / "b" / "mr.dcm")
    (source / "a" / "b" / "mr.dcm").chmod(0o640)
    (source / "notes.txt").write_text("hello")
    (source / "cut.dcm").write_bytes(Path(need("CT_small.dcm")).read_bytes()[:1000])
    (source / "link.dcm").symlink_to(source / "a" / "ct.dcm")
    before = snapshot(source)
    report = deidentify_tree(source, tmp_path / "out", KEY, audit=tmp_path / "audit.jsonl")
    assert snapshot(source) == before
    assert report.written == ("a/ct.dcm", "a/b/mr.dcm")
    assert {f.path for f in report.failed} == {"notes.txt", "cut.dcm", "link.dcm"}
    assert not report.ok
    reasons = {f.path: f.reason for f in report.failed}
    assert "not a DICOM Part 10 file" in reasons["notes.txt"]
    assert "symbolic link" in reasons["link.dcm"]
    assert "CompressedSamples" not in " ".join(reasons.values())
    assert sorted(snapshot(tmp_path / "out")) == ["a/b/mr.dcm", "a/ct.dcm"]
    assert (tmp_path / "out" / "a" / "b" / "mr.dcm").stat().st_mode & 0o777 == 0o640
    files = {json.loads(line)["file"] for line in report.audit.read_text().splitlines()}
    assert files == {"a/ct.dcm", "a/b/mr.dcm"}


def test_a_file_failing_mid_write_leaves_no_partial_output(tmp_path, monkeypatch):
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(need("CT_small.dcm"), source / "ct.dcm")
    shutil.copy(need("MR_small.dcm"), source / "mr.dcm")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mr.dcm").write_bytes(b"previous run")
    save = pydicom.Dataset.save_as

    def disk_full_for_mr(self, target, *args, **kwargs):
        if self.Modality == "MR":
            target.write(b"DICM partial")
            raise OSError(28, "No space left on device")
        return save(self, target, *args, **kwargs)

    monkeypatch.setattr(pydicom.Dataset, "save_as", disk_full_for_mr)
    report = deidentify_tree(source, tmp_path / "out", KEY)
    assert report.written == ("ct.dcm",)
    assert [f.path for f in report.failed] == ["mr.dcm"]
    assert "OSError" in report.failed[0].reason
    assert (tmp_path / "out" / "mr.dcm").read_bytes() == b"previous run"
    leftovers = [p.name for p in (tmp_path / "out").iterdir()]
    assert sorted(leftovers) == ["ct.dcm", "deid-audit.jsonl", "mr.dcm"]


def test_unexpected_errors_are_reported_by_type_only(tmp_path, monkeypatch):
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(need("CT_small.dcm"), source / "ct.dcm")
    monkeypatch.setattr(pydicom.Dataset, "save_as", lambda *a, **k: 1 / 0)
    report = deidentify_tree(source, tmp_path / "out", KEY)
    assert report.failed[0].reason == "unexpected ZeroDivisionError; no output written"
    assert not (tmp_path / "out" / "ct.dcm").exists()


@pytest.mark.parametrize("out", ["in", "in/out", "."])
def test_overlapping_folders_are_refused(tmp_path, out):
    (tmp_path / "in").mkdir()
    with pytest.raises(DeidentificationError, match="overlap"):
        deidentify_tree(tmp_path / "in", tmp_path / out, KEY)
    assert not (tmp_path / "in" / "out").exists()


def test_audit_inside_input_and_missing_input_are_refused(tmp_path):
    (tmp_path / "in").mkdir()
    with pytest.raises(DeidentificationError, match="inside the input"):
        deidentify_tree(tmp_path / "in", tmp_path / "out", KEY, audit=tmp_path / "in" / "a")
    with pytest.raises(DeidentificationError, match="does not exist"):
        deidentify_tree(tmp_path / "nowhere", tmp_path / "out", KEY)


def test_file_refuses_to_overwrite_its_input(tmp_path):
    path = tmp_path / "ct.dcm"
    shutil.copy(need("CT_small.dcm"), path)
    with pytest.raises(DeidentificationError, match="Refusing to overwrite"):
        Deidentifier(KEY).file(path, tmp_path / "." / "ct.dcm")


def test_file_raises_dicom_error_for_non_dicom(tmp_path):
    (tmp_path / "x.dcm").write_text("text")
    with pytest.raises(DicomError, match="not a DICOM Part 10 file"):
        Deidentifier(KEY).file(tmp_path / "x.dcm", tmp_path / "y.dcm")
    assert not (tmp_path / "y.dcm").exists()


def test_dataset_leaves_its_input_unchanged():
    ds = pydicom.dcmread(need("CT_small.dcm"))
    name = str(ds.PatientName)
    new, _ = Deidentifier(KEY).dataset(ds)
    assert str(ds.PatientName) == name and new.PatientName == ""


# Keys

@pytest.mark.parametrize("key", [b"", b"short", "a-text-key-0123456789", None])
def test_short_or_non_bytes_key_is_refused(key):
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        Deidentifier(key)


def test_key_is_never_shown():
    assert "0123456789abcdef" not in repr(Deidentifier(b"0123456789abcdef"))


def test_read_key_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        read_key(tmp_path / "absent.key")
    (tmp_path / "empty.key").write_bytes(b"")
    with pytest.raises(ConfigurationError, match="is empty"):
        read_key(tmp_path / "empty.key")
    (tmp_path / "short.key").write_bytes(b"abc\n")
    with pytest.raises(ConfigurationError, match="holds 4 bytes"):
        read_key(tmp_path / "short.key")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        read_key(tmp_path)
    if os.name == "posix":
        (tmp_path / "good.key").write_bytes(os.urandom(32))
        assert len(read_key(tmp_path / "good.key")) == 32


# Incomplete or malformed inputs are reported, not half de-identified.

@pytest.mark.parametrize("name, cut, match", [
    ("MR_truncated.dcm", None, "Pixel Data is shorter"),   # real truncated pixel data
    ("CT_small.dcm", 1000, "without Pixel Data"),          # cut inside the header
    ("CT_small.dcm", 140, "no SOP Instance UID"),          # cut inside the file meta
    ("meta_missing_tsyntax.dcm", None, "no SOP Instance UID"),
])
def test_incomplete_files_are_refused(tmp_path, name, cut, match):
    data = Path(need(name)).read_bytes()
    source = tmp_path / "in.dcm"
    source.write_bytes(data if cut is None else data[:cut])
    with pytest.raises(DicomError, match=match) as info:
        Deidentifier(KEY).file(source, tmp_path / "out.dcm")
    assert str(source) in str(info.value) and "CompressedSamples" not in str(info.value)
    assert not (tmp_path / "out.dcm").exists()


def test_unencodable_output_is_a_dicom_error(tmp_path, monkeypatch):
    monkeypatch.setattr(pydicom.Dataset, "save_as",
                        lambda *a, **k: (_ for _ in ()).throw(AttributeError("meta")))
    with pytest.raises(DicomError, match="cannot be encoded"):
        Deidentifier(KEY).file(need("CT_small.dcm"), tmp_path / "out.dcm")
    assert list(tmp_path.iterdir()) == []


def test_unparsable_element_is_a_dicom_error(tmp_path, monkeypatch):
    from qkeras.medical import _deid_walk

    def broken(self, ds):
        raise ValueError("could not convert string to float")

    monkeypatch.setattr(_deid_walk.Walker, "run", broken)
    with pytest.raises(DicomError, match=r"cannot be parsed \(ValueError\)"):
        Deidentifier(KEY).file(need("CT_small.dcm"), tmp_path / "out.dcm")


def test_multi_valued_uids_are_each_remapped():
    ds = pydicom.dcmread(need("CT_small.dcm"))
    uids = ["1.2.826.0.1.3680043.10.5.1", "1.2.826.0.1.3680043.10.5.2"]
    ds.FailedSOPInstanceUIDList = uids  # U in Table E.1-1, VM 1-n
    new, _ = Deidentifier(KEY).dataset(ds)
    assert list(new.FailedSOPInstanceUIDList) == [expected_uid(u) for u in uids]


def test_kept_private_sequence_is_still_walked():
    ds = pydicom.dcmread(need("CT_small.dcm"))
    item = Dataset()
    item.PatientName = "QKNESTEDNAME"
    item.SeriesDescription = "QKNESTEDTEXT"
    ds.private_block(0x0041, "QKERAS KEEP", create=True).add_new(0x01, "SQ", Sequence([item]))
    new, _ = Deidentifier(KEY, keep_private=[("QKERAS KEEP", 0x00411001)]).dataset(ds)
    kept = new[0x00411001].value[0]
    assert kept.PatientName == "" and "SeriesDescription" not in kept
    assert new[0x00410010].value == "QKERAS KEEP"


@pytest.mark.parametrize("sop_class", ["1.2.826.0.1.3680043.10.999", None])
def test_unknown_iod_resolves_to_the_alternative_valid_for_any_type(sop_class):
    from qkeras.medical import _deid_table

    assert _deid_table.requirement(sop_class, (), "ContentDate") == 1
    assert _deid_table.resolve("X/Z", 1) == "Z" and _deid_table.resolve("Z/D", 2) == "Z"


def test_unknown_table_edition_is_an_environment_error():
    from qkeras.errors import EnvironmentSetupError
    from qkeras.medical import _deid_table

    with pytest.raises(EnvironmentSetupError, match="dicomfields_1999"):
        _deid_table.action_table("dicomfields_1999")
