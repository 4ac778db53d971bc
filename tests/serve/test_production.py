"""Production behaviour: size and row limits, tokens, CORS, access logs, metrics, KServe v2.

References: the KServe v2 REST protocol (health, metadata, infer tensors flattened in
row-major order) and Prometheus' text exposition format, parsed back with
prometheus_client's own parser.
"""

import json
import logging

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qkeras.errors import ConfigurationError
from qkeras.serve import ModelRepository, ServeOptions, create_app
from qkeras.serve.auth import TokenCheck, read_tokens

TOKEN = "test-token-0123456789"


def _client(model_base, **options):
    repo = ModelRepository(model_base, poll_seconds=0)
    repo.scan()
    return TestClient(create_app(repo, ServeOptions(**options)))


def test_body_over_the_limit_is_413_and_rows_over_the_limit_400(model_base, digit_model):
    x = digit_model[1]
    with _client(model_base, max_body_bytes=4096, max_rows=2) as client:
        big = client.post("/v1/models/digits:predict", json={"instances": x[:20].tolist()})
        assert big.status_code == 413 and "larger than this server's limit" in big.json()["error"]

        def chunks():  # no Content-Length: the limit is enforced while reading
            for _ in range(10):
                yield b" " * 1000

        streamed = client.post("/v1/models/digits:predict", content=chunks(),
                               headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        rows = client.post("/v1/models/digits:predict", json={"instances": x[:3].tolist()})
        assert rows.status_code == 400 and "at most 2" in rows.json()["error"]


def test_tokens_guard_the_api_but_not_probes_or_metrics(model_base, digit_model):
    x = digit_model[1][:1].tolist()
    with _client(model_base, tokens=(TOKEN,), ui=True) as client:
        denied = client.post("/v1/models/digits:predict", json={"instances": x})
        assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
        wrong = client.get("/v1/models/digits", headers={"authorization": "Bearer nope-nope"})
        assert wrong.status_code == 401
        bearer = client.post("/v1/models/digits:predict", json={"instances": x},
                             headers={"authorization": f"Bearer {TOKEN}"})
        key = client.get("/v1/models/digits", headers={"x-api-key": TOKEN})
        assert bearer.status_code == key.status_code == 200
        for path in ("/v2/health/live", "/v2/health/ready", "/metrics", "/ui/"):
            assert client.get(path).status_code == 200, path
    assert TOKEN not in repr(TokenCheck([TOKEN]))
    with pytest.raises(ConfigurationError, match="at least 8"):
        TokenCheck(["short"])


def test_read_tokens_from_env_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVE_TOKENS", "aaaaaaaa, bbbbbbbb")
    (tmp_path / "t").write_text("cccccccc\n\n")
    assert read_tokens(env="SERVE_TOKENS", file=tmp_path / "t") == [
        "aaaaaaaa", "bbbbbbbb", "cccccccc"]
    monkeypatch.delenv("SERVE_TOKENS")
    with pytest.raises(ConfigurationError, match="SERVE_TOKENS is not set"):
        read_tokens(env="SERVE_TOKENS")
    with pytest.raises(ConfigurationError, match="Cannot read the token file"):
        read_tokens(file=tmp_path / "absent")


def test_cors_is_off_by_default_and_on_for_named_origins(model_base):
    origin = {"origin": "https://viewer.example", "access-control-request-method": "POST"}
    with _client(model_base) as client:
        reply = client.options("/v1/models/digits:predict", headers=origin)
        assert "access-control-allow-origin" not in reply.headers
    with _client(model_base, cors_origins=("https://viewer.example",)) as client:
        reply = client.options("/v1/models/digits:predict", headers=origin)
        assert reply.headers["access-control-allow-origin"] == "https://viewer.example"


def test_access_log_is_one_json_object_without_body(model_base, digit_model, caplog):
    x = digit_model[1]
    caplog.set_level(logging.INFO, logger="qkeras.serve.access")
    marker = 0.123456789
    body = {"instances": [np.full((8, 8, 1), marker).tolist()]}
    with _client(model_base) as client:
        assert client.post("/v1/models/digits:predict?secret=1", json=body).status_code == 200
        client.post("/v1/models/digits:predict", json={"instances": x[:1, :4].tolist()})
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "qkeras.serve.access"]
    assert [(r["status"], r["endpoint"], r["model"]) for r in lines] == [
        (200, "predict", "digits"), (400, "predict", "digits")]
    assert lines[0]["path"] == "/v1/models/digits:predict" and lines[0]["bytes_in"] > 0
    assert not [r for r in caplog.records if "0.12345" in r.getMessage()]


def test_metrics_exposition_parses_and_counts_by_model_endpoint_status(model_base,
                                                                       digit_model):
    x = digit_model[1][:2].tolist()
    with _client(model_base) as client:
        client.post("/v1/models/digits:predict", json={"instances": x})
        client.post("/v1/models/digits:predict", json={"instances": [[1]]})
        reply = client.get("/metrics")
    assert reply.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(reply.text)}
    counts = {(s.labels["endpoint"], s.labels["status"]): s.value
              for s in families["qkeras_serve_requests"].samples
              if s.name == "qkeras_serve_requests_total" and s.labels["model"] == "digits"}
    assert counts == {("predict", "200"): 1.0, ("predict", "400"): 1.0}
    buckets = [s for s in families["qkeras_serve_request_duration_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["status"] == "200"]
    assert buckets and buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 1.0
    load = [s for s in families["qkeras_serve_model_load_seconds"].samples]
    assert load[0].labels == {"model": "digits", "version": "1"} and load[0].value > 0
    assert families["qkeras_serve_models_loaded"].samples[0].value == 1.0


def test_kserve_v2_health_metadata_and_infer(model_base, digit_model):
    model, x, _ = digit_model
    with _client(model_base) as client:
        assert client.get("/v2/health/live").json() == {"live": True}
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.get("/v2").json()["name"] == "qkeras"
        meta = client.get("/v2/models/digits/versions/1").json()
        assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 8, 8, 1]}]
        assert client.get("/v2/models/digits/ready").json() == {"name": "digits",
                                                                "ready": True}
        assert client.get("/v2/models/nope/ready").status_code == 400
        assert client.post("/v2/repository/index").json() == [
            {"name": "digits", "version": "1", "state": "READY"}]
        reply = client.post("/v2/models/digits/infer", json={
            "id": "req-7", "inputs": [{"name": "image", "shape": [2, 8, 8, 1],
                                       "datatype": "FP32", "data": x[:2].ravel().tolist()}],
            "outputs": [{"name": "probs"}]})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["id"] == "req-7" and body["model_version"] == "1"
        (out,) = body["outputs"]
        assert out["shape"] == [2, 10] and out["datatype"] == "FP32"
        np.testing.assert_allclose(np.reshape(out["data"], (2, 10)),
                                   model.predict(x[:2], verbose=0), atol=1e-5)
        for bad, message in [
            ({}, "non-empty 'inputs'"),
            ({"inputs": [{"name": "image"}]}, "needs 'name', 'shape'"),
            ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]},
             "Unexpected input 'x'"),
            ({"inputs": [{"name": "image", "shape": [1], "datatype": "STR", "data": [1]}]},
             "not supported"),
            ({"inputs": [{"name": "image", "shape": [2, 64], "datatype": "FP32",
                          "data": [0.0] * 64}]}, "does not fill shape"),
            ({"inputs": [{"name": "image", "shape": [1, 64], "datatype": "FP32",
                          "data": [0.0] * 64}]}, "expects shape [-1, 8, 8, 1]"),
            ({"inputs": [{"name": "image", "shape": [1, 8, 8, 1], "datatype": "FP32",
                          "data": [0.0] * 64}], "outputs": [{"name": "logits"}]},
             "Unknown outputs"),
        ]:
            reply = client.post("/v2/models/digits/infer", json=bad)
            assert reply.status_code == 400 and message in reply.json()["error"], bad
        assert client.post("/v2/models/nope/infer", json={}).status_code == 404
