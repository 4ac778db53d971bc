"""Tests for ``qkeras deid`` (the command line around qkeras.medical.deid).

Reference: the planted-value method of tests/medical/test_deid.py: unique strings
written into a real file must appear in none of the outputs, the audit log, stdout or
stderr.
"""

from __future__ import annotations

import json
import random
import shutil
import string
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from qkeras.cli import main


def need(name: str) -> str:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} needs the pydicom-data package (pip install pydicom-data)")
    return path


@pytest.fixture
def tree(tmp_path):
    """IN_DIR with a planted CT, a plain MR and a key file; returns (tmp, tokens)."""
    rng = random.Random(113100)
    tokens = ["QK" + "".join(rng.choices(string.ascii_uppercase, k=14)) for _ in range(5)]
    (tmp_path / "in" / "study").mkdir(parents=True)
    ds = pydicom.dcmread(need("CT_small.dcm"))
    ds.PatientName, ds.PatientID, ds.InstitutionName = tokens[:3]
    inner = Dataset()
    inner.PatientName = tokens[3]
    ds.RequestAttributesSequence = Sequence([inner])
    ds.private_block(0x0033, "QKERAS PLANTED", create=True).add_new(0x10, "LO", tokens[4])
    ds.save_as(tmp_path / "in" / "study" / "ct.dcm", enforce_file_format=True)
    shutil.copy(need("MR_small.dcm"), tmp_path / "in" / "study" / "mr.dcm")
    (tmp_path / "deid.key").write_bytes(b"cli-test-key-0123456789abcdef")
    raw = (tmp_path / "in" / "study" / "ct.dcm").read_bytes()
    assert all(token.encode() in raw for token in tokens)
    return tmp_path, tokens


def run(capsys, *argv) -> tuple[int, str, str]:
    status = main(["deid", *map(str, argv)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_deid_writes_copies_and_prints_a_summary_without_phi(tree, capsys):
    tmp, tokens = tree
    status, out, err = run(capsys, tmp / "in", tmp / "out", "--key-file", tmp / "deid.key",
                           "--audit", tmp / "audit.jsonl")
    assert status == 0, err
    assert "2 file(s) de-identified, 0 failed" in out
    assert f"audit log: {tmp / 'audit.jsonl'}" in out
    written = sorted(p.relative_to(tmp / "out").as_posix()
                     for p in (tmp / "out").rglob("*") if p.is_file())
    assert written == ["study/ct.dcm", "study/mr.dcm"]
    audit = (tmp / "audit.jsonl").read_text()
    assert {json.loads(line)["file"] for line in audit.splitlines()} == \
        {"study/ct.dcm", "study/mr.dcm"}
    output = (tmp / "out" / "study" / "ct.dcm").read_bytes()
    key = (tmp / "deid.key").read_bytes()
    for token in tokens:
        assert token not in out and token not in err and token not in audit
        assert token.encode() not in output
    assert key not in output and key.decode() not in audit + out + err


def test_a_failed_file_makes_the_exit_status_non_zero(tree, capsys):
    tmp, tokens = tree
    (tmp / "in" / "study" / "notes.txt").write_text("not DICOM")
    status, out, err = run(capsys, tmp / "in", tmp / "out", "--key-file", tmp / "deid.key")
    assert status == 1
    assert "2 file(s) de-identified, 1 failed" in out
    assert "failed: study/notes.txt" in err and "not a DICOM Part 10 file" in err
    assert not any(token in out + err for token in tokens)


@pytest.mark.parametrize("flag, keyword", [("--retain-dates", "StudyDate"),
                                           ("--retain-patient-characteristics", "PatientAge"),
                                           ("--retain-uids", "StudyInstanceUID")])
def test_options_reach_the_profile(tree, capsys, flag, keyword):
    tmp, _ = tree
    status, _, err = run(capsys, tmp / "in", tmp / "out", "--key-file", tmp / "deid.key", flag)
    assert status == 0, err
    before = pydicom.dcmread(tmp / "in" / "study" / "ct.dcm")
    after = pydicom.dcmread(tmp / "out" / "study" / "ct.dcm")
    assert after[keyword].value == before[keyword].value and not before[keyword].is_empty
    plain_status, _, _ = run(capsys, tmp / "in", tmp / "plain", "--key-file", tmp / "deid.key")
    plain = pydicom.dcmread(tmp / "plain" / "study" / "ct.dcm")
    assert plain_status == 0
    assert keyword not in plain or plain[keyword].value != before[keyword].value


def test_missing_key_file_is_a_clear_error(tree, capsys):
    tmp, _ = tree
    status, out, err = run(capsys, tmp / "in", tmp / "out", "--key-file", tmp / "absent.key")
    assert status == 2
    assert "qkeras deid: Key file" in err and "does not exist" in err and "openssl" in err
    assert not (tmp / "out").exists()


def test_empty_key_file_is_a_clear_error(tree, capsys):
    tmp, _ = tree
    (tmp / "empty.key").write_bytes(b"")
    status, _, err = run(capsys, tmp / "in", tmp / "out", "--key-file", tmp / "empty.key")
    assert status == 2 and "is empty" in err


def test_output_inside_input_is_refused(tree, capsys):
    tmp, _ = tree
    status, _, err = run(capsys, tmp / "in", tmp / "in" / "out", "--key-file",
                         tmp / "deid.key")
    assert status == 2 and "overlap" in err
    assert not (tmp / "in" / "out").exists()


def test_key_file_is_required(capsys):
    with pytest.raises(SystemExit) as info:
        main(["deid", "in", "out"])
    assert info.value.code == 2
    assert "--key-file" in capsys.readouterr().err


def test_help_lists_deid(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "deid" in capsys.readouterr().out


def test_key_text_never_printed(tree, capsys):
    tmp, _ = tree
    status, out, err = run(capsys, tmp / "in", tmp / "out", "--key-file", tmp / "deid.key")
    assert status == 0
    assert "cli-test-key" not in out + err
    assert Path(tmp / "deid.key").read_bytes() not in (tmp / "out" / "deid-audit.jsonl"
                                                       ).read_bytes()


def test_files_at_risk_of_burned_in_text_are_listed(tree, capsys):
    tmp, _ = tree
    shutil.copy(need("JPEG2000.dcm"), tmp / "in" / "sc.dcm")  # Secondary Capture
    status, out, _ = run(capsys, tmp / "in", tmp / "out", "--key-file", tmp / "deid.key")
    assert status == 0
    assert "3 file(s) de-identified, 0 failed, 1 flagged" in out
    assert "check pixel data for burned-in text: sc.dcm" in out
