"""TF Serving's REST API (https://www.tensorflow.org/tfx/serving/api_rest), in process.

References: the request/response shapes and error strings of TF Serving's
``json_tensor.cc`` and ``http_rest_api_handler.cc``; predictions are compared with the
Keras model itself.
"""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qkeras import keras
from qkeras.serve import ModelRepository, Servable, ServeOptions, create_app


@pytest.fixture(scope="module")
def client(model_base):
    repo = ModelRepository(model_base, poll_seconds=0, labels={"digits": {"stable": 1}})
    repo.scan()
    two = keras.Model(*(lambda a, b: ([a, b], keras.layers.Concatenate(name="both")([a, b])))(
        keras.Input((2,), name="a"), keras.Input((1,), name="b")))
    repo.add(Servable.from_keras(two, "two-inputs"))
    with TestClient(create_app(repo, ServeOptions(max_rows=64))) as test_client:
        yield test_client


def test_status_of_model_version_and_label(client):
    want = {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                      "status": {"error_code": "OK", "error_message": ""}}]}
    for path in ("/v1/models/digits", "/v1/models/digits/versions/1",
                 "/v1/models/digits/labels/stable"):
        reply = client.get(path)
        assert reply.status_code == 200 and reply.json() == want, path


def test_metadata_has_tf_serving_signature_def(client):
    body = client.get("/v1/models/digits/metadata").json()
    assert body["model_spec"] == {"name": "digits", "signature_name": "", "version": "1"}
    sig = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    image = sig["inputs"]["image"]
    assert image["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in image["tensor_shape"]["dim"]] == ["-1", "8", "8", "1"]
    assert [d["size"] for d in sig["outputs"]["probs"]["tensor_shape"]["dim"]] == ["-1", "10"]


def test_row_and_columnar_predict_match_the_keras_model(client, digit_model):
    model, x, _ = digit_model
    want = model.predict(x[:3], verbose=0)
    rows = client.post("/v1/models/digits:predict", json={"instances": x[:3].tolist()})
    assert rows.status_code == 200
    np.testing.assert_allclose(rows.json()["predictions"], want, atol=1e-5)
    columns = client.post("/v1/models/digits/versions/1:predict",
                          json={"signature_name": "serving_default",
                                "inputs": {"image": x[:3].tolist()}})
    np.testing.assert_allclose(columns.json()["outputs"], want, atol=1e-5)
    labelled = client.post("/v1/models/digits/labels/stable:predict",
                           json={"instances": [{"image": x[0].tolist()}]})
    np.testing.assert_allclose(labelled.json()["predictions"], want[:1], atol=1e-5)


def test_named_inputs_in_both_formats(client):
    rows = client.post("/v1/models/two-inputs:predict",
                       json={"instances": [{"a": [1, 2], "b": [3]}, {"a": [4, 5], "b": [6]}]})
    assert rows.json() == {"predictions": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}
    columns = client.post("/v1/models/two-inputs:predict",
                          json={"inputs": {"a": [[1, 2]], "b": [[3]]}})
    assert columns.json() == {"outputs": [[1.0, 2.0, 3.0]]}


@pytest.mark.parametrize("path, body, status, message", [
    ("/v1/models/nope:predict", {"instances": [1]}, 404,
     "Servable not found for request: Latest(nope)"),
    ("/v1/models/digits/versions/7:predict", {"instances": [1]}, 404,
     "Servable not found for request: Specific(digits, 7)"),
    ("/v1/models/digits/labels/canary:predict", {"instances": [1]}, 400,
     "Unrecognized servable version label: canary"),
    ("/v1/models/digits:predict", {"signature_name": "nope", "instances": [1]}, 400,
     'Serving signature name: "nope" not found'),
    ("/v1/models/digits:predict", {}, 400, "Missing 'inputs' or 'instances' key"),
    ("/v1/models/digits:predict", {"instances": [], "inputs": []}, 400,
     "expecting only one of 'inputs' or 'instances'"),
    ("/v1/models/digits:predict", {"instances": []}, 400, "No values in 'instances' array"),
    ("/v1/models/digits:predict", {"instances": 3}, 400, "to be an list/array"),
    ("/v1/models/digits:predict", {"instances": [[1, 2]]}, 400, "expects shape [-1, 8, 8, 1]"),
    ("/v1/models/digits:predict", {"instances": [[[1], [2, 3]]]}, 400, "dense float32"),
    ("/v1/models/digits:predict", {"instances": ["a"]}, 400, "dense float32"),
    ("/v1/models/digits:predict", {"inputs": {"x": []}}, 400, "Missing named input: image"),
    ("/v1/models/digits:predict", {"instances": [[0.0] * 64] * 65}, 400, "at most 64"),
    ("/v1/models/digits:predict", [1, 2], 400, "is not an object"),
    ("/v1/models/digits:predict", {"instances": [[[[0.0]] * 8] * 8, {"image": 1}]}, 400,
     "Expecting value/list but got object at item 1"),
    ("/v1/models/digits:predict", {"signature_name": 3, "instances": [1]}, 400,
     "'signature_name' key must be a string"),
    ("/v1/models/two-inputs:predict", {"instances": [[1, 2]]}, 400,
     "instances is a plain list, but expecting list of objects"),
    ("/v1/models/two-inputs:predict", {"instances": [{"a": [1, 2]}]}, 400,
     "must only have keys: a,b"),
    ("/v1/models/two-inputs:predict", {"instances": [{"a": [1, 2], "b": [1]}, [1]]}, 400,
     "Expecting object but got list at item 1"),
    ("/v1/models/two-inputs:predict", {"inputs": [[1, 2]]}, 400,
     "inputs is a plain value/list, but expecting an object"),
    ("/v1/models/two-inputs:predict", {"inputs": {"a": [[1, 2]], "b": [[1], [2]]}}, 400,
     "different batch sizes"),
    ("/v1/models/digits:regress", {"examples": []}, 400, "no regression signature"),
    ("/v1/models/digits:explode", {"instances": [1]}, 400,
     "Malformed request: POST /v1/models/digits:explode"),
    ("/v1/models/digits/versions/x:predict", {"instances": [1]}, 400, "Malformed request"),
])
def test_bad_requests_get_tf_serving_errors_never_500(client, path, body, status, message):
    reply = client.post(path, json=body)
    assert reply.status_code == status, reply.text
    assert set(reply.json()) == {"error"} and message in reply.json()["error"]


def test_unparsable_and_empty_bodies_are_json_parse_errors(client):
    reply = client.post("/v1/models/digits:predict", content=b"{instances:")
    assert reply.status_code == 400 and reply.json()["error"].startswith("JSON Parse error")
    empty = client.post("/v1/models/digits:predict", content=b"")
    assert empty.json() == {"error": "JSON Parse error: The document is empty"}


def test_nan_is_rejected_and_unknown_routes_answer_json(client):
    reply = client.post("/v1/models/digits:predict",
                        content=b'{"instances": [' + b"1e999," * 63 + b"1e999]}")
    assert reply.status_code == 400
    assert client.get("/v1/models/digits/versions/9").status_code == 404
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and "Malformed request" in missing.json()["error"]
    assert client.get("/v1/models/digits:predict").status_code == 400


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("rows", [1, 100])  # small arrays are summed in Python, large ones not
def test_to_array_rejects_every_non_finite_value_and_keeps_large_finite_ones(dtype, rows):
    from qkeras.errors import ServingError
    from qkeras.serve.servable import TensorInfo
    from qkeras.serve.tfserving import to_array

    info = TensorInfo("x", np.dtype(dtype), (None, 3))
    top = float(np.finfo(dtype).max)
    big = [[top, top, -top]] * rows  # finite values whose sum overflows in their dtype
    np.testing.assert_array_equal(to_array(big, info, "x"), np.asarray(big, dtype))
    for bad in (float("nan"), float("inf"), -float("inf"), top * 10):  # the last overflows
        values = [[0.5, 0.5, 0.5]] * rows
        values[-1] = [0.5, bad, 0.5]
        with pytest.raises(ServingError, match="contains NaN or infinite values"):
            to_array(values, info, "x")
    with pytest.raises(ServingError, match=r"expects shape \[-1, 3\]; got \[1, 3, 1\]"):
        to_array([[[1], [2], [3]]], info, "x")
    fixed = TensorInfo("x", np.dtype(dtype), (2, None))
    assert to_array([[1], [2]], fixed, "x").shape == (2, 1)
    with pytest.raises(ServingError, match=r"expects shape \[2, -1\]; got \[1, 1\]"):
        to_array([[1]], fixed, "x")
    scalar = TensorInfo("x", np.dtype(dtype), ())
    assert to_array(2.5, scalar, "x") == 2.5
    with pytest.raises(ServingError, match=r"expects shape \[\]; got \[1\]"):
        to_array([2.5], scalar, "x")
