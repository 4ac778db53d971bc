"""The lean path for ``:predict`` and ``/infer`` answers exactly like the FastAPI routes.

Reference: the same requests sent to a server with CORS on, where every request goes
through FastAPI's routes, and to one with CORS off, where inference skips them
(qkeras.serve.app.ServeApp); status codes and bodies must be identical.
"""

import logging

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qkeras import keras
from qkeras.serve import ModelRepository, Servable, ServeOptions, create_app

CORS = ("https://viewer.example",)


def _client(model_base, **options):
    repo = ModelRepository(model_base, poll_seconds=0)
    repo.scan()
    return TestClient(create_app(repo, ServeOptions(**options)))


def _requests(x):
    row = x[:2].tolist()
    tensor = {"name": "image", "shape": [2, 8, 8, 1], "datatype": "FP32",
              "data": x[:2].ravel().tolist()}
    return [
        ("/v1/models/digits:predict", {"json": {"instances": row}}),
        ("/v1/models/digits/versions/1:predict", {"json": {"inputs": {"image": row}}}),
        ("/v1/models/digits:predict", {"json": {"instances": row, "signature_name": "x"}}),
        ("/v1/models/digits:predict", {"json": {"instances": [[1, 2]]}}),
        ("/v1/models/digits:predict", {"json": {"instances": [[[["nan"]] * 8] * 8]}}),
        ("/v1/models/digits:predict", {"content": b"{not json"}),
        ("/v1/models/digits:predict", {"content": b""}),
        ("/v1/models/nope:predict", {"json": {"instances": row}}),
        ("/v1/models/digits/versions/9:predict", {"json": {"instances": row}}),
        ("/v1/models/digits/labels/nope:predict", {"json": {"instances": row}}),
        ("/v2/models/digits/infer", {"json": {"id": "a", "inputs": [tensor]}}),
        ("/v2/models/digits/versions/1/infer", {"json": {"inputs": [tensor]}}),
        ("/v2/models/digits/infer", {"json": {"inputs": []}}),
        ("/v2/models/nope/infer", {"json": {"inputs": [tensor]}}),
        ("/v2/models/digits/versions/x/infer", {"json": {"inputs": [tensor]}}),
    ]


def test_lean_and_fastapi_paths_answer_alike(model_base, digit_model):
    x = digit_model[1]
    answers = {}
    for name, options in (("lean", {}), ("fastapi", {"cors_origins": CORS})):
        with _client(model_base, **options) as client:
            answers[name] = [client.post(path, **kwargs) for path, kwargs in _requests(x)]
    statuses = [r.status_code for r in answers["lean"]]
    assert statuses == [200, 200, 400, 400, 400, 400, 400, 404, 404, 400, 200, 200, 400,
                        404, 422]
    for (path, _), lean, fastapi in zip(_requests(x), answers["lean"], answers["fastapi"]):
        assert lean.status_code == fastapi.status_code, path
        assert lean.headers["content-type"] == fastapi.headers["content-type"], path
        if lean.status_code == 200:
            key = "outputs" if "/v2/" in path else next(iter(lean.json()))
            np.testing.assert_allclose(np.asarray(lean.json()[key] if "/v2/" not in path
                                                  else lean.json()[key][0]["data"]),
                                       np.asarray(fastapi.json()[key] if "/v2/" not in path
                                                  else fastapi.json()[key][0]["data"]),
                                       atol=1e-6)
        else:
            assert lean.json() == fastapi.json(), path


def test_lean_path_counts_requests_by_endpoint_and_status(model_base, digit_model):
    x = digit_model[1][:1].tolist()
    with _client(model_base) as client:
        client.post("/v1/models/digits:predict", json={"instances": x})
        client.post("/v1/models/digits:predict", json={"instances": [[1]]})
        client.post("/v1/models/nope:predict", json={"instances": x})
        text = client.get("/metrics").text
    assert ('qkeras_serve_requests_total{endpoint="predict",model="digits",status="200",'
            'version="1"} 1.0') in text
    assert ('qkeras_serve_requests_total{endpoint="predict",model="digits",status="400",'
            'version="1"} 1.0') in text
    assert 'endpoint="predict",model="",status="404",version=""} 1.0' in text


def test_a_model_fault_is_a_logged_500_without_the_request(caplog):
    model = keras.Sequential([keras.Input((2,), name="x"), keras.layers.Dense(1, name="y")])
    servable = Servable.from_keras(model, "broken")

    def fault(inputs, signature=None):
        raise RuntimeError("kernel exploded")

    servable.predict = fault
    repo = ModelRepository()
    repo.add(servable)
    with caplog.at_level(logging.ERROR, logger="qkeras.serve.app"), \
            TestClient(create_app(repo)) as client:
        reply = client.post("/v1/models/broken:predict", json={"instances": [[0.25, 0.5]]})
    assert reply.status_code == 500
    assert "server's log" in reply.json()["error"] and "exploded" not in reply.json()["error"]
    assert "kernel exploded" in caplog.text and "0.25" not in caplog.text


@pytest.mark.parametrize("batching", [True, False])
def test_lean_path_serves_both_batching_modes(model_base, digit_model, batching):
    model, x, _ = digit_model
    with _client(model_base, batching=batching) as client:
        reply = client.post("/v1/models/digits:predict", json={"instances": x[:3].tolist()})
    np.testing.assert_allclose(reply.json()["predictions"], model.predict(x[:3], verbose=0),
                               atol=1e-5)
