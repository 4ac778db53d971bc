"""Model repository: TF Serving's layout, version policy, hot reload without dropped requests.

Reference: TF Serving's file-system source (versions are integer directories holding a
``saved_model.pb``; policy "latest" serves the highest); answers are compared with the
Keras model of the version that should be serving.
"""

import shutil
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qkeras.errors import ConfigurationError, ServingError
from qkeras.export import for_serving
from qkeras.serve import ModelRepository, ServeOptions, create_app

from .conftest import build_digit_model


@pytest.fixture
def base(model_base, tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(model_base, copy)
    return copy


def test_new_version_is_picked_up_while_requests_keep_succeeding(base, digit_model):
    model, x, _ = digit_model
    newer = build_digit_model(seed=1)  # other weights, so the answers tell versions apart
    repo = ModelRepository(base, poll_seconds=0.1)
    repo.scan()
    statuses, stop = [], threading.Event()
    with TestClient(create_app(repo, ServeOptions(batch_window_ms=1))) as client:
        def hammer():
            while not stop.is_set():
                reply = client.post("/v1/models/digits:predict",
                                    json={"instances": x[:2].tolist()})
                statuses.append(reply.status_code)

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            for_serving(newer, base, "digits")  # version 2, renamed into place
            repo.wait_for("digits", 2, timeout=60)
            after = len(statuses)
            while len(statuses) < after + 10 and all(t.is_alive() for t in threads):
                stop.wait(0.01)
        finally:
            stop.set()
            for t in threads:
                t.join()
        status = client.get("/v1/models/digits").json()["model_version_status"]
        reply = client.post("/v1/models/digits:predict", json={"instances": x[:2].tolist()})
    assert statuses and set(statuses) == {200}, f"{len(statuses)} requests: {set(statuses)}"
    assert [s["version"] for s in status] == ["2"]  # policy "latest": version 1 unloaded
    np.testing.assert_allclose(reply.json()["predictions"], newer.predict(x[:2], verbose=0),
                               atol=1e-5)


def test_policy_all_serves_every_version_and_a_broken_one_shows_its_error(base, digit_model):
    model, x, _ = digit_model
    broken = base / "digits" / "3"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a graph")
    shutil.copytree(base / "digits" / "1", base / "digits" / "2")
    repo = ModelRepository(base, version_policy="all", poll_seconds=0)
    assert sorted(repo.scan()) == [("digits", 1), ("digits", 2)]
    rows = {r["version"]: r for r in repo.status("digits")}
    assert rows["1"]["state"] == rows["2"]["state"] == "AVAILABLE"
    assert rows["3"]["state"] == "END" and rows["3"]["status"]["error_code"] == "UNKNOWN"
    assert repo.scan() == []  # the broken version is not retried until it changes
    assert repo.get("digits").version == 2 and repo.get("digits", 1).version == 1


def test_a_single_model_directory_and_name_filter(base):
    repo = ModelRepository(base / "digits", model_names=["mnist"], poll_seconds=0)
    assert repo.scan() == [("mnist", 1)]
    filtered = ModelRepository(base, model_names=["other"], poll_seconds=0)
    assert filtered.scan() == [] and not filtered.ready


def test_removed_versions_are_unloaded(base):
    repo = ModelRepository(base, poll_seconds=0)
    repo.scan()
    shutil.rmtree(base / "digits" / "1")
    repo.scan()
    with pytest.raises(ServingError, match=r"Latest\(digits\)"):
        repo.get("digits")
    with pytest.raises(ServingError, match="Could not find any versions of model digits"):
        repo.status("digits")


def test_repository_arguments_are_checked(tmp_path):
    with pytest.raises(ConfigurationError, match="version_policy must be one of"):
        ModelRepository(tmp_path, version_policy="newest")
    with pytest.raises(ConfigurationError, match="does not exist"):
        ModelRepository(tmp_path / "absent")
    with pytest.raises(ConfigurationError, match="poll_seconds must be >= 0"):
        ModelRepository(tmp_path, poll_seconds=-1)
    with pytest.raises(ServingError, match="did not load within"):
        ModelRepository(tmp_path).wait_for("m", 1, timeout=0.05)
