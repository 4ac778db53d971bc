"""Image classification uploads (PNG, JPEG, DICOM) and zoo models served by name.

References: the Keras model's own prediction on the same preprocessed image; pydicom's
test files (CT_small.dcm carries a patient name, which must appear nowhere); a Python
audit hook that sees every file opened for writing.
"""

import hashlib
import io
import logging
import os
import sys

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from qkeras import zoo
from qkeras.serve import ModelRepository, ServeOptions, create_app, write_card
from qkeras.serve.classify import preprocess, probabilities
from qkeras.zoo import InputSpec, ZooEntry

from .conftest import DIGIT_CLASSES, png_bytes

_WRITES: list | None = None


def _audit(event, args):
    if _WRITES is not None and event == "open" and args[0] is not None:
        mode, flags = args[1] or "", args[2] or 0
        if any(c in str(mode) for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR):
            _WRITES.append(str(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed; it records only when armed


@pytest.fixture(scope="module")
def client(model_base):
    repo = ModelRepository(model_base, poll_seconds=0)
    repo.scan()
    with TestClient(create_app(repo, ServeOptions(ui=True))) as test_client:
        yield test_client


def _dicom_bytes(name: str) -> bytes:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} needs the pydicom-data package (pip install pydicom-data)")
    with open(path, "rb") as handle:
        return handle.read()


def test_png_upload_matches_the_model_on_the_preprocessed_image(client, digit_model):
    model, x, y = digit_model
    upscaled = png_bytes(x[0], scale=4)  # 32x32: the server must shrink it to 8x8
    reply = client.post("/v1/models/digits:classify",
                        files={"file": ("digit.png", upscaled, "image/png")})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    image = np.asarray(Image.open(io.BytesIO(upscaled)), np.float32) / 255.0
    want = model.predict(preprocess(image, InputSpec((8, 8, 1), "float32", (0, 1), "")),
                         verbose=0)[0]
    np.testing.assert_allclose(body["probabilities"], want, atol=1e-4)
    assert body["prediction"] == DIGIT_CLASSES[int(np.argmax(want))]
    assert body["classes"] == DIGIT_CLASSES and body["input"]["shape"] == [32, 32]
    assert body["image"].startswith("data:image/png;base64,") and "grad_cam" not in body


def test_the_model_classifies_most_held_out_digits_through_the_upload_path(client,
                                                                         digit_model):
    _, x, y = digit_model
    hits = 0
    for image, label in zip(x[:40], y[:40]):
        reply = client.post("/v1/models/digits:classify", content=png_bytes(image),
                            headers={"content-type": "image/png"})
        hits += reply.json()["prediction"] == str(label)
    assert hits >= 24, f"{hits}/40 held-out digits right"  # chance is 4/40


def test_jpeg_upload_with_grad_cam(client, digit_model):
    buffer = io.BytesIO()
    Image.fromarray((digit_model[1][1, ..., 0] * 255).astype(np.uint8)).convert("RGB").save(
        buffer, format="JPEG", quality=95)
    reply = client.post("/v1/models/digits:classify",
                        files={"file": ("d.jpg", buffer.getvalue(), "image/jpeg")},
                        data={"explain": "grad_cam"})
    assert reply.status_code == 200, reply.text
    overlay = reply.json()["grad_cam"]
    import base64

    picture = Image.open(io.BytesIO(base64.b64decode(overlay.split(",", 1)[1])))
    assert picture.size == (8, 8) and picture.mode == "RGB"


def test_dicom_is_deidentified_in_memory_nothing_written_nothing_logged(client, caplog):
    global _WRITES
    data = _dicom_bytes("CT_small.dcm")
    assert b"CompressedSamples^CT1" in data  # the patient name the file carries
    caplog.set_level(logging.DEBUG)
    _WRITES = []
    try:
        reply = client.post("/v1/models/digits:classify?explain=grad_cam",
                            files={"file": ("scan.dcm", data, "application/dicom")})
    finally:
        writes, _WRITES = _WRITES, None
    assert reply.status_code == 200, reply.text
    facts = reply.json()["input"]
    assert facts["kind"] == "dicom" and facts["deidentified"] is True
    assert facts["modality"] == "CT" and facts["shape"] == [128, 128]
    assert writes == [], f"files opened for writing during the request: {writes}"
    assert "CompressedSamples" not in reply.text
    assert not [r for r in caplog.records if "CompressedSamples" in r.getMessage()]


@pytest.mark.parametrize("content, content_type, message", [
    (b"", "image/png", "The upload is empty"),
    (b"GIF89a....", "image/gif", "not a PNG, JPEG or DICOM"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image/png", "cannot be decoded"),
    (b"\x00" * 128 + b"DICM" + b"\x02\x00" * 10, "application/dicom", "as an image"),
    (b'{"examples": []}', "application/json", "not tf.Example JSON"),
    (b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n",
     "multipart/form-data; boundary=b", "no 'file' field"),
    (b"--b--", "multipart/form-data", "needs a boundary"),
])
def test_bad_uploads_are_400(client, content, content_type, message, caplog):
    caplog.set_level(logging.DEBUG)
    reply = client.post("/v1/models/digits:classify", content=content,
                        headers={"content-type": content_type})
    assert reply.status_code == 400, reply.text
    assert message in reply.json()["error"]
    assert not [r for r in caplog.records if r.name.startswith("pydicom")]


def test_dicom_without_pixels_and_bad_explain_are_400(client):
    reply = client.post("/v1/models/digits:classify", content=_dicom_bytes("rtplan.dcm"),
                        headers={"content-type": "application/dicom"})
    assert reply.status_code == 400 and "no Pixel Data" in reply.json()["error"]
    png = png_bytes(np.zeros((8, 8)))
    wrong = client.post("/v1/models/digits:classify?explain=lime", content=png,
                        headers={"content-type": "image/png"})
    assert wrong.status_code == 400 and "explain must be 'grad_cam'" in wrong.json()["error"]


def test_a_model_without_card_cannot_classify(tmp_path, model_base):
    import shutil

    shutil.copytree(model_base, tmp_path / "m")
    (tmp_path / "m" / "digits" / "1" / "qkeras.json").unlink()
    repo = ModelRepository(tmp_path / "m", poll_seconds=0)
    repo.scan()
    with TestClient(create_app(repo)) as bare:
        reply = bare.post("/v1/models/digits:classify", content=png_bytes(np.zeros((8, 8))),
                          headers={"content-type": "image/png"})
    assert reply.status_code == 400 and "no serving card" in reply.json()["error"]


def test_probabilities_of_one_sigmoid_unit_and_logits():
    np.testing.assert_allclose(probabilities(np.array([0.9]), 2), [0.1, 0.9])
    np.testing.assert_allclose(probabilities(np.array([0.0, 0.0]), 2), [0.5, 0.5])
    with pytest.raises(Exception, match="gives 3 outputs but its card names 2"):
        probabilities(np.zeros(3), 2)


def test_write_card_checks_its_arguments(tmp_path):
    from qkeras.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="at least two class names"):
        write_card(tmp_path, classes=["one"], inputs=InputSpec((8, 8, 1), "float32",
                                                               (0, 1), ""))
    (tmp_path / "qkeras.json").write_text("{}")
    from qkeras.serve import read_card

    with pytest.raises(ConfigurationError, match="not a valid serving card"):
        read_card(tmp_path)


def test_a_zoo_model_is_served_by_name_with_its_entry_as_card(digit_model, tmp_path,
                                                             monkeypatch):
    from qkeras.serve import build_repository

    monkeypatch.setenv("QKERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QKERAS_ZOO_URL", raising=False)
    model, x, _ = digit_model
    path = tmp_path / "digits.keras"
    model.save(path)
    data = path.read_bytes()
    entry = ZooEntry(
        name="test-digits-hybrid", version="1.0.0", task="multiclass-classification",
        classes=tuple(DIGIT_CLASSES), inputs=InputSpec((8, 8, 1), "float32", (0.0, 1.0),
                                                       "handwritten digit"),
        data="scikit-learn digits, first 1,500 (test fixture)", split="none", metrics={},
        licence="BSD-3-Clause", attribution="qkeras tests", file="digits.keras",
        sha256=hashlib.sha256(data).hexdigest(), size=len(data), url=path.as_uri(),
        recipe="tests/serve/conftest.py", intended_use="Tests only.",
        changelog={"1.0.0": "test fixture"}, threshold=None)
    zoo.register(entry)
    try:
        repo = build_repository(zoo=["test-digits-hybrid"], poll_seconds=0)
    finally:
        zoo.unregister(entry.name, entry.version)
    with TestClient(create_app(repo)) as client:
        reply = client.post("/v1/models/test-digits-hybrid:classify",
                            content=png_bytes(x[0]), headers={"content-type": "image/png"})
        predict = client.post("/v1/models/test-digits-hybrid:predict",
                              json={"instances": x[:1].tolist()})
    assert reply.status_code == 200 and reply.json()["classes"] == DIGIT_CLASSES
    np.testing.assert_allclose(predict.json()["predictions"], model.predict(x[:1], verbose=0),
                               atol=1e-5)


def test_the_released_chest_xray_model_classifies_real_bundled_xrays(tmp_path, monkeypatch):
    """``qkeras serve --zoo hybrid-cnn-pneumoniamnist``: real PneumoniaMNIST test images
    uploaded as PNG get the model's own probabilities (reference: ``model.predict`` on the
    same images) and, at the release's threshold, the card's kind of accuracy."""
    from qkeras.data import pneumonia_sample
    from qkeras.serve import build_repository

    monkeypatch.setenv("QKERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QKERAS_ZOO_URL", raising=False)
    name = "hybrid-cnn-pneumoniamnist"
    entry = zoo.info(name)
    images, labels = pneumonia_sample()
    want = zoo.load(name).predict(images, verbose=0)[:, 0]
    repo = build_repository(zoo=[name], poll_seconds=0)
    got = []
    with TestClient(create_app(repo)) as client:
        for image in images:
            reply = client.post(f"/v1/models/{name}:classify", content=png_bytes(image),
                                headers={"content-type": "image/png"})
            assert reply.status_code == 200, reply.text
            body = reply.json()
            assert body["classes"] == ["normal", "pneumonia"]
            got.append(body["probabilities"][1])
    np.testing.assert_allclose(got, want, atol=1e-4)  # PNG of uint8 pixels is lossless
    correct = np.mean((np.array(got) >= entry.threshold) == (labels == 1))
    assert correct >= 0.75, f"{correct:.3f} of 48 bundled test X-rays"
