"""``qkeras serve`` as a real process: HTTP API, Prometheus scrape, demo page, SIGTERM.

The server runs as a subprocess on a free localhost port, exactly as a user starts it.
References: TF Serving's REST API documentation for the JSON shapes; a real Prometheus
(Debian's ``prometheus``) scraping it and answering PromQL; headless Chromium driving the
demo page with a real digit scan, compared with the JSON API's answer for the same file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from .conftest import png_bytes

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.status, json.loads(reply.read())


def _post(url: str, body, timeout: float = 30.0):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data,
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _wait(check, what: str, timeout: float, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode}")
        try:
            result = check()
        except (OSError, ValueError, KeyError, IndexError):  # not up, or no data yet
            result = None
        if result:
            return result
        time.sleep(0.2)  # polling a process we do not control
    raise AssertionError(f"{what} did not happen within {timeout} s")


@pytest.fixture(scope="module")
def server(model_base, tmp_path_factory):
    """``qkeras serve`` on a copy of the base directory (the hot-reload test adds to it)."""
    port = _free_port()
    folder = tmp_path_factory.mktemp("serve")
    base = folder / "models"
    shutil.copytree(model_base, base)
    log_path = folder / "stderr.log"
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "qkeras.cli", "serve", str(base), "--port", str(port),
             "--ui", "--poll-seconds", "0.5"], stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _get(f"{url}/v2/health/ready")[0] == 200, "server ready", 180, process)
        yield {"url": url, "process": process, "log": log_path, "base": base}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def test_tf_serving_rest_api_over_http(server, digit_model):
    model, x, _ = digit_model
    url = server["url"]
    assert _get(f"{url}/v1/models/digits")[1]["model_version_status"][0]["state"] == \
        "AVAILABLE"
    meta = _get(f"{url}/v1/models/digits/versions/1/metadata")[1]
    assert "serving_default" in meta["metadata"]["signature_def"]["signature_def"]
    status, body = _post(f"{url}/v1/models/digits:predict", {"instances": x[:4].tolist()})
    assert status == 200
    np.testing.assert_allclose(body["predictions"], model.predict(x[:4], verbose=0),
                               atol=1e-5)
    status, body = _post(f"{url}/v1/models/digits:predict", {"inputs": [[1.0]]})
    assert status == 400 and list(body) == ["error"]
    status, body = _post(f"{url}/v2/models/digits/infer", {"inputs": [
        {"name": "image", "shape": [1, 8, 8, 1], "datatype": "FP32",
         "data": x[0].ravel().tolist()}]})
    assert status == 200 and body["outputs"][0]["shape"] == [1, 10]
    access = [json.loads(line) for line in server["log"].read_text().splitlines()
              if line.startswith("{")]
    predicts = [a for a in access if a["endpoint"] == "predict"]
    assert predicts and {"method", "path", "status", "ms", "model"} <= set(predicts[0])
    assert "instances" not in server["log"].read_text()


def test_a_new_version_is_hot_reloaded_by_the_running_server(server, digit_model):
    model_dir = server["base"] / "digits"
    shutil.copytree(model_dir / "1", model_dir / ".2")
    (model_dir / ".2").rename(model_dir / "2")  # the version appears atomically
    url = server["url"]
    versions = _wait(lambda: [s["version"] for s in _get(f"{url}/v1/models/digits")[1]
                              ["model_version_status"]] == ["2"] or None,
                     "version 2 served", 60)
    assert versions
    status, _ = _post(f"{url}/v1/models/digits/versions/2:predict",
                      {"instances": digit_model[1][:1].tolist()})
    assert status == 200


def test_prometheus_scrapes_the_server_and_answers_queries(server, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("the prometheus binary is absent (apt-get install prometheus; .ci/run "
                    "installs it)")
    url = server["url"]
    for _ in range(5):
        _post(f"{url}/v1/models/digits:predict", {"instances": [[[[0.0]] * 8] * 8]})
    port = _free_port()
    rules = REPO / "deploy" / "prometheus" / "alerts.yml"
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{rules}']\n"
        "scrape_configs:\n  - job_name: qkeras-serve\n"
        f"    static_configs: [{{targets: ['{url.split('//')[1]}']}}]\n")
    process = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/api/v1"
    query = urllib.request.quote(
        'sum(qkeras_serve_requests_total{model="digits",endpoint="predict",status="200"})')
    try:
        value = _wait(lambda: float(_get(f"{api}/query?query={query}")[1]["data"]["result"]
                                    [0]["value"][1]) >= 5, "a scraped request count", 90,
                      process)
        assert value
        rules_loaded = _get(f"{api}/rules")[1]["data"]["groups"][0]["rules"]
        assert {r["name"] for r in rules_loaded} >= {"QKerasServeDown",
                                                     "QKerasServeHighErrorRate"}
        dashboard = json.loads((REPO / "deploy" / "grafana" /
                                "qkeras-serve-dashboard.json").read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                expr = target["expr"].replace("$model", ".*")
                status, body = _get(f"{api}/query?query={urllib.request.quote(expr)}")
                assert body["status"] == "success", (panel["title"], body)
    finally:
        process.terminate()
        process.wait(30)


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("chromium and chromium-driver are absent (apt-get install chromium "
                    "chromium-driver; .ci/run installs them)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1000,1100"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_demo_page_classifies_an_uploaded_scan_in_headless_chromium(server, digit_model,
                                                                    tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    _, x, y = digit_model
    index = next(i for i in range(len(x)) if
                 np.argmax(digit_model[0].predict(x[i:i + 1], verbose=0)) == y[i])
    sample = tmp_path / f"digit-{y[index]}.png"
    sample.write_bytes(png_bytes(x[index], scale=16))  # 128x128, as a user would upload
    request = urllib.request.Request(f"{server['url']}/v1/models/digits:classify",
                                     data=sample.read_bytes(),
                                     headers={"content-type": "image/png"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        want = json.loads(reply.read())
    browser = _browser()
    try:
        browser.get(f"{server['url']}/")
        wait = WebDriverWait(browser, 60)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#model option"))
        browser.find_element(By.ID, "file").send_keys(str(sample))
        browser.find_element(By.ID, "submit").click()
        wait.until(ready.visibility_of_element_located((By.ID, "result")))
        wait.until(lambda b: b.execute_script(
            "return document.getElementById('cam-image').naturalWidth") > 0)
        shown = browser.find_element(By.ID, "prediction").text
        rows = [r.text.split() for r in
                browser.find_elements(By.CSS_SELECTOR, "#probabilities tbody tr")]
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "serve-ui.png"
        browser.save_screenshot(str(shot))
        print(f"demo page screenshot: {shot}")
    finally:
        browser.quit()
    assert shown == want["prediction"] == str(y[index])
    assert [r[0] for r in rows] == want["classes"]
    np.testing.assert_allclose([float(r[1]) for r in rows], want["probabilities"], atol=1e-4)
    assert shot.stat().st_size > 10_000


def test_sigterm_drains_and_exits_cleanly(server):
    process = server["process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    assert "shutdown complete" in server["log"].read_text()
