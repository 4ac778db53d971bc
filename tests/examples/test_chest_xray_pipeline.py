"""examples/chest_xray_pipeline.py end to end on the real chest X-ray data, tiny budget."""

import importlib.util
import json

import numpy as np
import pytest

from tests.conftest import REPO


def _example():
    spec = importlib.util.spec_from_file_location(
        "chest_xray_pipeline", REPO / "examples" / "chest_xray_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_npz_to_report_and_overlays(shared_data, tmp_path):
    md = _example().main(["--data", str(shared_data / "pneumoniamnist.npz"), "--epochs", "1",
                          "--limit", "300", "--resamples", "50", "--out", str(tmp_path)])
    report = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert 0.0 <= report["metrics"]["auroc"]["value"] <= 1.0
    assert md.is_file() and "95%" in md.read_text()
    assert len(list((tmp_path / "gradcam").glob("*.png"))) == 8


def test_dicom_tree_is_deidentified_before_training(shared_data, tmp_path):
    """Real PneumoniaMNIST pixels wrapped in DICOM with planted names: none may survive."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    data = np.load(shared_data / "pneumoniamnist.npz")
    planted = []
    for split in ("train", "val", "test"):
        images, labels = data[f"{split}_images"], data[f"{split}_labels"][:, 0]
        for label, name in ((0, "NORMAL"), (1, "PNEUMONIA")):
            folder = tmp_path / "in" / split / name
            folder.mkdir(parents=True)
            for i in np.flatnonzero(labels == label)[:12]:
                meta = FileMetaDataset()
                meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
                meta.MediaStorageSOPInstanceUID = generate_uid()
                meta.TransferSyntaxUID = ExplicitVRLittleEndian
                ds = FileDataset(str(folder / f"{i}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
                secret = f"Planted^Patient{split}{i}"
                planted.append(secret)
                ds.PatientName, ds.PatientID = secret, f"ID{split}{i}X"
                ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, \
                    meta.MediaStorageSOPInstanceUID
                ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
                ds.Modality, ds.PhotometricInterpretation = "OT", "MONOCHROME2"
                ds.Rows, ds.Columns = images[i].shape
                ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 8, 8, 7
                ds.PixelRepresentation = 0
                ds.PixelData = images[i].tobytes()
                ds.save_as(folder / f"{i}.dcm", enforce_file_format=True)
    assert pydicom.dcmread(folder / f"{i}.dcm").PatientName == secret
    _example().main(["--data", str(tmp_path / "in"), "--epochs", "1", "--image-size", "28",
                     "--resamples", "20", "--out", str(tmp_path / "out")])
    outputs = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert any(p.suffix == ".dcm" for p in outputs), "the DICOM files were de-identified"
    blob = b"".join(p.read_bytes() for p in outputs)
    assert not [s for s in planted if s.encode() in blob]
