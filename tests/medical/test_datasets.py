"""Tests of qkeras.medical.datasets.

References: the shared data README's counts and digests, hashlib and PIL run by the test
itself, closed forms, and a real HTTP server on 127.0.0.1 for downloads.
"""

from __future__ import annotations

import hashlib
import http.server
import logging
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import tf_keras as keras
from PIL import Image

from qkeras.errors import ChecksumError, ConfigurationError, DataError
from qkeras.medical import _medmnist_info, datasets

REBUILT_SHA256 = "d0bfa3330f26554c4117328b1117f52bfb3746404b0594c58f37a09b4314d396"


# --------------------------------------------------------------------------- MedMNIST


def _write_npz(path: Path, n=6, size=28, channels=None, multi_label=False, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n, size, size) if channels is None else (n, size, size, channels)
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 2, (n, 3 if multi_label else 1),
                                                 dtype=np.uint8)
    np.savez(path, **arrays)
    return arrays


class _Server:
    """A real HTTP server on 127.0.0.1 serving a dict of name -> (bytes, mode)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.truncated: set[str] = set()
        self.chunked: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                name = self.path.lstrip("/").split("?")[0]
                server.requests.append(name)
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if name in server.chunked:  # one chunk announced whole, cut short
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(f"{len(body):x}\r\n".encode() + body[: len(body) // 2])
                else:
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    # Truncated: announce the whole file, send half, hang up.
                    self.wfile.write(body[: len(body) // 2] if name in server.truncated else body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = _Server()
    yield srv
    srv.close()


def test_shared_pneumoniamnist_is_the_known_rebuilt_copy(shared_data, caplog):
    path = shared_data / "pneumoniamnist.npz"
    with caplog.at_level(logging.INFO, logger="qkeras.medical.datasets"):
        data = datasets.medmnist(path, batch_size=64)
    assert data.provenance == "rebuilt" and data.flag == "pneumoniamnist"
    assert data.sha256 == REBUILT_SHA256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "rebuilt" in caplog.text
    # Counts from the data README.
    assert data.counts == {"train": {"normal": 1214, "pneumonia": 3494},
                           "val": {"normal": 135, "pneumonia": 389},
                           "test": {"normal": 234, "pneumonia": 390}}
    raw = np.load(path)
    np.testing.assert_allclose(data.images["test"][..., 0], raw["test_images"] / 255.0,
                               atol=1e-7)
    np.testing.assert_array_equal(data.labels["val"], raw["val_labels"].ravel())
    images, labels = next(iter(data.train))
    assert images.shape == (64, 28, 28, 1) and images.dtype.name == "float32"
    assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0
    assert labels.shape == (64,)
    assert sum(int(y.shape[0]) for _, y in data.test) == 624


def test_local_file_provenance(tmp_path, caplog, monkeypatch):
    path = tmp_path / "mine.npz"
    _write_npz(path)
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    with caplog.at_level(logging.WARNING, logger="qkeras.medical.datasets"):
        data = datasets.medmnist(path)
    assert data.provenance == "unverified" and data.flag is None
    assert data.class_names == ("0", "1") and "unverified" in caplog.text
    assert datasets.medmnist(path, md5=digest.upper()).provenance == "md5"
    with pytest.raises(ChecksumError, match=f"has md5 {digest}"):
        datasets.medmnist(path, md5="0" * 32)
    with pytest.raises(ConfigurationError, match="batch_size"):
        datasets.medmnist(path, batch_size=0)
    labels, md5s = _medmnist_info.OFFICIAL["breastmnist"]
    monkeypatch.setitem(_medmnist_info.OFFICIAL, "breastmnist", (labels, (digest, *md5s[1:])))
    official = datasets.medmnist(path)
    assert (official.provenance, official.flag) == ("official", "breastmnist")
    assert official.class_names == ("malignant", "normal, benign")


def test_grey_conversion_resize_and_multilabel(tmp_path):
    path = tmp_path / "bloodmnist_64.npz"
    raw = _write_npz(path, size=8, channels=3, multi_label=True)
    data = datasets.medmnist(path)
    want = (raw["train_images"] @ np.array([0.299, 0.587, 0.114])) / 255.0
    np.testing.assert_allclose(data.images["train"][..., 0], want, atol=1e-5)
    assert data.flag == "bloodmnist" and data.class_names == ("0", "1", "2")  # 3 != 8 labels
    assert data.counts["val"] == dict(zip("012", raw["val_labels"].sum(axis=0).tolist()))
    assert datasets.medmnist(path, size=4).images["test"].shape == (6, 4, 4, 1)


def test_download_from_http_mirror_verifies_and_caches(shared_data, server, tmp_path):
    server.files["pneumoniamnist.npz"] = (shared_data / "pneumoniamnist.npz").read_bytes()
    cache = tmp_path / "cache"
    data = datasets.medmnist("pneumoniamnist", mirror=server.url, cache_dir=cache)
    assert data.provenance == "rebuilt" and data.path == cache / "pneumoniamnist.npz"
    assert hashlib.sha256(data.path.read_bytes()).hexdigest() == REBUILT_SHA256
    assert server.requests == ["pneumoniamnist.npz"]
    again = datasets.medmnist("PneumoniaMNIST", mirror=server.url, cache_dir=cache)
    assert again.provenance == "rebuilt" and server.requests == ["pneumoniamnist.npz"]


def test_download_with_md5_from_env_mirror_into_qkeras_home(server, tmp_path, monkeypatch):
    _write_npz(tmp_path / "src.npz")
    body = (tmp_path / "src.npz").read_bytes()
    server.files["octmnist_64.npz"] = body
    monkeypatch.setenv("QKERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(datasets.MIRROR_ENV, server.url + "/")
    data = datasets.medmnist("octmnist", 64, md5=hashlib.md5(body).hexdigest())
    assert data.provenance == "md5"
    assert data.path == tmp_path / "home" / "datasets" / "octmnist_64.npz"
    assert data.class_names[0] == "choroidal neovascularization"


def test_file_mirror_works_offline(tmp_path):
    (tmp_path / "mirror").mkdir()
    _write_npz(tmp_path / "mirror" / "pneumoniamnist_128.npz")
    md5 = hashlib.md5((tmp_path / "mirror" / "pneumoniamnist_128.npz").read_bytes()).hexdigest()
    data = datasets.medmnist("pneumoniamnist", 128, mirror=(tmp_path / "mirror").as_uri(),
                             cache_dir=tmp_path / "cache", md5=md5)
    assert data.path.parent == tmp_path / "cache" and data.provenance == "md5"


@pytest.mark.parametrize("fault", ["corrupt", "truncated", "chunked", "wrong-file"])
def test_bad_downloads_raise_checksum_error_and_leave_no_file(fault, server, tmp_path):
    _write_npz(tmp_path / "src.npz")
    body = (tmp_path / "src.npz").read_bytes()
    md5 = hashlib.md5(body).hexdigest()
    if fault == "corrupt":
        body = body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
    elif fault in ("truncated", "chunked"):
        getattr(server, fault).add("pneumoniamnist.npz")
    server.files["pneumoniamnist.npz"] = body
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="md5" if fault in ("corrupt", "wrong-file")
                       else "truncated"):
        datasets.medmnist("pneumoniamnist", mirror=server.url, cache_dir=cache,
                          md5=None if fault == "wrong-file" else md5)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_corrupt_cache_is_downloaded_again(server, tmp_path, caplog):
    _write_npz(tmp_path / "src.npz")
    body = (tmp_path / "src.npz").read_bytes()
    server.files["pneumoniamnist.npz"] = body
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "pneumoniamnist.npz").write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING):
        data = datasets.medmnist("pneumoniamnist", mirror=server.url, cache_dir=cache,
                                 md5=hashlib.md5(body).hexdigest())
    assert "downloading it again" in caplog.text
    assert data.path.read_bytes() == body and server.requests == ["pneumoniamnist.npz"]


def test_medmnist_errors(server, tmp_path):
    with pytest.raises(DataError, match="HTTP 404"):
        datasets.medmnist("dermamnist", mirror=server.url, cache_dir=tmp_path)
    with pytest.raises(DataError, match="Could not download"):
        datasets.medmnist("dermamnist", mirror="http://127.0.0.1:9", cache_dir=tmp_path,
                          timeout=5)
    with pytest.raises(DataError, match="not in the cache"):
        datasets.medmnist("dermamnist", cache_dir=tmp_path, download=False)
    with pytest.raises(ConfigurationError, match="Did you mean 'pneumoniamnist'"):
        datasets.medmnist("pneumoniamnst")
    with pytest.raises(ConfigurationError, match="size must be one of"):
        datasets.medmnist("pneumoniamnist", 32)
    with pytest.raises(DataError, match="No MedMNIST file"):
        datasets.medmnist(tmp_path / "absent.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable"):
        datasets.medmnist(tmp_path / "bad.npz")
    arrays = {f"{s}_{k}": np.zeros((2, 4, 4) if k == "images" else (3, 1), np.uint8)
              for s in ("train", "val", "test") for k in ("images", "labels")}
    np.savez(tmp_path / "count.npz", **arrays)
    with pytest.raises(DataError, match="2 images but 3 labels"):
        datasets.medmnist(tmp_path / "count.npz")
    np.savez(tmp_path / "keys.npz", train_images=np.zeros((1, 2, 2)))
    with pytest.raises(DataError, match="lacks the MedMNIST keys"):
        datasets.medmnist(tmp_path / "keys.npz")
    arrays = {f"{s}_{k}": np.zeros((2, 4, 4, 4, 4) if k == "images" else (2, 1), np.uint8)
              for s in ("train", "val", "test") for k in ("images", "labels")}
    np.savez(tmp_path / "volumes.npz", **arrays)
    with pytest.raises(DataError, match="3-D MedMNIST volumes"):
        datasets.medmnist(tmp_path / "volumes.npz")


# --------------------------------------------------------------------------- image folders


def test_brain_mri_duplicates_match_the_readme(shared_data):
    root = shared_data / "brain-tumor-mri"
    data = datasets.image_folder(root, image_size=(64, 64), batch_size=16)
    report = data.duplicates
    # The README: 300 byte-identical groups, 189 spanning Training and Testing, 216 of the
    # 1311 Testing images with a byte-identical copy in Training.
    assert (report.exact_groups, report.cross_split_groups) == (300, 189)
    assert report.leaked == {"test": 216}
    assert sum(report.removed["test"].values()) == 216 and "train" not in report.removed
    assert report.label_conflicts == 0
    # Independent check with hashlib: every kept Testing image is absent from Training.
    visible = lambda p: p.is_file() and not any(  # noqa: E731
        part.startswith(".") for part in p.relative_to(root).parts)
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    train = {digest(p) for p in (root / "Training").rglob("*") if visible(p)}
    testing = [p for p in (root / "Testing").rglob("*") if visible(p)]
    assert len(testing) == 1311 and report.n_files == 7019  # .ipynb_checkpoints skipped
    assert sum(digest(p) in train for p in testing) == 216
    assert not any(digest(p) in train for p in data.files["test"])
    assert sum(data.counts["test"].values()) == 1311 - 216
    assert data.counts["train"] == {"glioma": 1321, "meningioma": 1339, "notumor": 1591,
                                    "pituitary": 1457}
    images, labels = next(iter(data.test))
    assert images.shape == (16, 64, 64, 1) and images.dtype.name == "float32"
    assert 0.0 <= float(images.numpy().min()) <= float(images.numpy().max()) <= 1.0


def _at(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _png(path: Path, value: int) -> Path:
    Image.fromarray(np.full((10, 12), value, np.uint8)).save(_at(path))
    return path


def _pattern(seed, size=32):
    return np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)


def _blobs(seed, size=64):
    """A smooth grey image: a few Gaussian blobs, like anatomy at low resolution."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    image = 30 + sum(rng.uniform(50, 150) * np.exp(
        -((yy - rng.uniform(0, size)) ** 2 + (xx - rng.uniform(0, size)) ** 2)
        / (2 * rng.uniform(4, 12) ** 2)) for _ in range(6))
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def test_kermany_layout_split_rule_and_decoding(tmp_path):
    root = tmp_path / "chest_xray"
    rgb = np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(_at(root / "train/NORMAL/IM-0001-0001.png"))
    Image.fromarray(_pattern(1)).save(_at(root / "train/PNEUMONIA/person1_virus_1.jpeg"))
    shutil.copy(root / "train/PNEUMONIA/person1_virus_1.jpeg",
                _at(root / "val/PNEUMONIA/person1_virus_1.jpeg"))      # train -> val leak
    _png(root / "val/NORMAL/IM-0002-0001.png", 50)
    shutil.copy(root / "val/NORMAL/IM-0002-0001.png",
                _at(root / "test/NORMAL/IM-0002-0001.png"))            # val -> test leak
    shutil.copy(root / "train/PNEUMONIA/person1_virus_1.jpeg",
                _at(root / "test/PNEUMONIA/person1_virus_2.jpeg"))     # train -> test leak
    _png(root / "test/PNEUMONIA/person2_bacteria_1.png", 200)
    _png(root / "test/PNEUMONIA/.ipynb_checkpoints/x.png", 10)
    (root / "test/PNEUMONIA/notes.txt").write_text("not an image")

    data = datasets.image_folder(root, image_size=(10, 12), batch_size=4, shuffle=False,
                                 patient_key=datasets.KERMANY_PATIENT_PATTERN)
    assert data.class_names == ("NORMAL", "PNEUMONIA")
    report = data.duplicates
    assert (report.exact_groups, report.cross_split_groups) == (2, 2)
    assert report.leaked == {"val": 1, "test": 2}
    assert report.removed == {"val": {"PNEUMONIA": 1}, "test": {"NORMAL": 1, "PNEUMONIA": 1}}
    assert [p.name for p in data.files["test"]] == ["person2_bacteria_1.png"]
    assert data.patients_in_several_splits == 2  # person1 and IM-0002, before removal
    # Grey conversion and scaling against PIL's own BT.601 conversion (no resize here).
    images, labels = next(iter(data.train))
    want = np.asarray(Image.fromarray(rgb).convert("L"), np.float32) / 255.0
    np.testing.assert_allclose(images[0, ..., 0].numpy(), want, atol=1 / 255 + 1e-6)
    assert labels.numpy().tolist() == [0, 1]
    model = keras.Sequential([keras.Input((10, 12, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    assert np.isfinite(model.fit(data.train, epochs=1, verbose=0).history["loss"][0])


def test_uint16_png_and_dicom_are_scaled_to_unit_range(tmp_path):
    pydicom_data = pytest.importorskip("pydicom.data")
    dicom = pytest.importorskip("qkeras.medical.dicom")
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    Image.fromarray(np.full((6, 6), 32768, np.uint16)).save(root / "a" / "half.png")
    source = pydicom_data.get_testdata_file("MR_small.dcm")
    shutil.copy(source, root / "a" / "scan.dcm")
    shutil.copy(source, root / "a" / "IMG0001")  # DICOM files often have no suffix
    data = datasets.image_folder(root, image_size=(64, 64), shuffle=False)
    assert list(data.datasets) == ["all"]
    images = np.concatenate([x.numpy() for x, _ in data.datasets["all"]])
    want, _ = dicom.read(source, normalize=True)
    names = [p.name for p in data.files["all"]]
    assert sorted(names) == ["IMG0001", "half.png", "scan.dcm"]
    for name in ("IMG0001", "scan.dcm"):
        np.testing.assert_allclose(images[names.index(name), ..., 0], want, atol=1e-5)
    assert images[names.index("half.png")].mean() == pytest.approx(32768 / 65535, abs=1e-4)
    assert data.duplicates.within_split_groups == 1 and data.duplicates.total_removed == 0
    assert data.val is None and data.test is None and data.train is None
    near = datasets.image_folder(root, image_size=(8, 8), near_duplicates=True)
    assert near.duplicates.near_groups == 1  # the two DICOM copies (thumbnails via dicom.read)


def test_dicom_colour_multiframe_and_missing_reader(tmp_path, monkeypatch):
    pydicom_data = pytest.importorskip("pydicom.data")
    dicom = pytest.importorskip("qkeras.medical.dicom")
    from qkeras.medical import _pipeline

    rgb, _ = dicom.read(pydicom_data.get_testdata_file("SC_rgb.dcm"), normalize=True)
    grey = _pipeline.read_dicom(pydicom_data.get_testdata_file("SC_rgb.dcm"))
    np.testing.assert_allclose(grey, rgb @ np.array([0.299, 0.587, 0.114]), atol=1e-6)
    with pytest.raises(DataError, match="single-frame"):
        _pipeline.read_dicom(pydicom_data.get_testdata_file("emri_small.dcm"))
    monkeypatch.setitem(__import__("sys").modules, "qkeras.medical.dicom", None)
    with pytest.raises(ConfigurationError, match="needs qkeras.medical.dicom"):
        _pipeline.read_dicom(pydicom_data.get_testdata_file("MR_small.dcm"))


def test_within_split_duplicates_and_label_conflicts(tmp_path):
    root = tmp_path / "tree"
    Image.fromarray(_pattern(3)).save(_at(root / "Training/x/a.png"))
    shutil.copy(root / "Training/x/a.png", root / "Training/x/b.png")
    shutil.copy(root / "Training/x/a.png", _at(root / "Training/y/c.png"))
    _png(root / "Testing/x/d.png", 9)
    kept = datasets.image_folder(root, image_size=(8, 8))
    assert kept.duplicates.within_split_groups == 1 and kept.duplicates.label_conflicts == 1
    assert kept.duplicates.total_removed == 0 and sum(kept.counts["train"].values()) == 3
    dropped = datasets.image_folder(root, image_size=(8, 8), drop_within_split_duplicates=True)
    assert dropped.duplicates.removed == {"train": {"x": 1, "y": 1}}
    assert [p.name for p in dropped.files["train"]] == ["a.png"]


def test_near_duplicates_find_reencoded_copies(tmp_path):
    root = tmp_path / "tree"
    base = _blobs(4)
    base.save(_at(root / "train/c/orig.png"))
    base.save(root / "train/c/orig_copy_q95.jpg", quality=95)   # within-split near copy
    base.resize((48, 48)).save(_at(root / "test/c/resized.png"))
    base.save(root / "test/c/reencoded.jpg", quality=90)
    _blobs(5).save(root / "test/c/other.png")
    exact = datasets.image_folder(root, image_size=(8, 8))
    assert exact.duplicates.near_groups is None and exact.duplicates.total_removed == 0
    near = datasets.image_folder(root, image_size=(8, 8), near_duplicates=True)
    assert (near.duplicates.near_groups, near.duplicates.near_cross_split_groups) == (1, 1)
    assert [p.name for p in near.files["test"]] == ["other.png"]
    assert near.duplicates.removed == {"test": {"c": 2}}


def test_near_duplicates_on_the_mri_set_exceed_exact_ones(shared_data):
    data = datasets.image_folder(shared_data / "brain-tumor-mri", image_size=(32, 32),
                                 near_duplicates=True)
    report = data.duplicates
    assert report.near_cross_split_groups >= report.cross_split_groups == 189
    # Re-encoded copies roughly double the leak found by bytes alone (measured: 453).
    assert 400 <= sum(report.removed["test"].values()) <= 500


def test_patient_resplit_keeps_patients_together(tmp_path):
    root = tmp_path / "flat"
    for patient in range(12):
        for image in range(1 + patient % 3):
            Image.fromarray(_pattern(100 * patient + image, 8)).save(
                _at(root / ("sick" if patient % 2 else "well") / f"p{patient}_{image}.png"))
    data = datasets.image_folder(root, image_size=(8, 8), patient_key=r"^(p\d+)_",
                                 split_fractions={"train": 0.5, "val": 0.25, "test": 0.25})
    owners = {s: {p.name.split("_")[0] for p in files} for s, files in data.files.items()}
    assert set(owners) == {"train", "val", "test"}
    assert not (owners["train"] & owners["val"] or owners["train"] & owners["test"]
                or owners["val"] & owners["test"])
    assert data.patients_in_several_splits == 0
    assert sum(len(f) for f in data.files.values()) == sum(1 + p % 3 for p in range(12))
    by_function = datasets.image_folder(root, image_size=(8, 8),
                                        patient_key=lambda path: path.name.split("_")[0])
    assert by_function.patients_in_several_splits == 0 and list(by_function.files) == ["all"]
    by_image = datasets.image_folder(root, image_size=(8, 8), split_fractions={"a": 1.0})
    assert list(by_image.files) == ["a"]


@pytest.mark.parametrize("seed", range(60))
def test_patient_split_properties(seed):
    rng = np.random.default_rng(seed)
    n_patients = int(rng.integers(1, 40))
    sizes = rng.integers(1, 6, n_patients)
    keys = [f"patient{p}" for p in rng.permutation(np.repeat(np.arange(n_patients), sizes))]
    raw = rng.random(int(rng.integers(1, 5)))
    fractions = {f"s{i}": float(v) for i, v in enumerate(raw / raw.sum())}
    parts = datasets.patient_split(keys, fractions, seed=seed)
    every = np.concatenate(list(parts.values()))
    assert sorted(every.tolist()) == list(range(len(keys)))           # each item once
    owner = {}
    for split, indices in parts.items():
        for i in indices:
            assert owner.setdefault(keys[i], split) == split            # one split a patient
    slack = (len(fractions) - 1) * sizes.max()
    for split, indices in parts.items():
        assert abs(len(indices) - fractions[split] * len(keys)) <= slack + 1e-9
    again = datasets.patient_split(keys, fractions, seed=seed)
    assert all(np.array_equal(parts[s], again[s]) for s in parts)     # deterministic


def test_patient_split_rejects_bad_fractions():
    for bad in ({}, {"a": 0.5}, {"a": 1.5, "b": -0.5}, {"a": float("nan")}):
        with pytest.raises(ConfigurationError, match="sum to 1"):
            datasets.patient_split(["x"], bad)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="is not a folder"):
        datasets.image_folder(tmp_path / "absent")
    (tmp_path / "empty" / "train" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="No PNG, JPEG or DICOM"):
        datasets.image_folder(tmp_path / "empty")
    bad = tmp_path / "bad" / "a" / "x.png"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"<html>404</html>")
    with pytest.raises(DataError, match="not the image format"):
        datasets.image_folder(tmp_path / "bad")
    for name in ("train", "Training"):
        _png(tmp_path / "twice" / name / "a" / "x.png", 0)
    with pytest.raises(DataError, match="both name the 'train' split"):
        datasets.image_folder(tmp_path / "twice")
    with pytest.raises(DataError, match="does not match"):
        datasets.image_folder(tmp_path / "twice" / "train", patient_key=r"^person\d+")
    with pytest.raises(ConfigurationError, match="image_size"):
        datasets.image_folder(tmp_path / "twice", image_size=(0, 8))


def test_training_order_is_seeded(tmp_path):
    root = tmp_path / "tree"
    for i in range(20):
        _png(root / "train" / ("a" if i % 2 else "b") / f"{i}.png", 10 * i)
    first = lambda seed: [  # noqa: E731
        float(x.numpy().mean()) for x, _ in datasets.image_folder(
            root, image_size=(4, 4), batch_size=1, seed=seed, cache=False).train]
    assert first(1) == first(1) and first(1) != first(2)
    assert sorted(first(1)) == sorted(first(2))


def test_disk_cache(tmp_path):
    root = tmp_path / "tree"
    _png(root / "train" / "a" / "x.png", 0)
    data = datasets.image_folder(root, image_size=(4, 4), cache=str(tmp_path / "cache"))
    assert sum(int(y.shape[0]) for _, y in data.train) == 1
    assert any(p.name.startswith("cache.train") for p in tmp_path.iterdir())

