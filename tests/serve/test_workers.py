"""``qkeras serve --workers N``: worker processes on one port, metrics summed over them.

The server runs as a subprocess, as a user starts it; its workers are spawned processes
that each load the models and listen with ``SO_REUSEPORT``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from qkeras.errors import ConfigurationError
from qkeras.serve import run_workers

from .test_live import _free_port, _get, _post, _wait


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` and that run a spawned worker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def _serving(log: Path) -> int:
    """Workers that have finished their startup, from the server's log."""
    return log.read_text(errors="replace").count("qkeras.serve.app: serving ")


def _serve(args: list[str], tmp_path: Path, **env) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "stderr.log"
    environ = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    with open(log, "wb") as handle:
        process = subprocess.Popen([sys.executable, "-m", "qkeras.cli", "serve", *args],
                                   stdout=handle, stderr=handle, env=environ)
    return process, log


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_share_the_port_the_load_and_the_metrics(model_base, digit_model, tmp_path):
    from prometheus_client.multiprocess import MultiProcessCollector
    from prometheus_client.parser import text_string_to_metric_families

    model, x, _ = digit_model
    port, metrics_dir = _free_port(), tmp_path / "metrics"
    metrics_dir.mkdir()
    process, log = _serve([str(model_base), "--port", str(port), "--workers", "2",
                           "--poll-seconds", "0", "--no-access-log"], tmp_path,
                          PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _get(f"{url}/v2/health/ready")[0] == 200, "a worker ready", 240, process)
        workers = _wait(lambda: len(_children(process.pid)) == 2 and _children(process.pid),
                        "two workers", 60, process)
        # Both workers serve (their startup done, so SIGTERM stops them gracefully).
        _wait(lambda: _serving(log) == 2, "both workers serving", 240, process)
        rows = [x[i % len(x)][None].tolist() for i in range(64)]
        with ThreadPoolExecutor(16) as pool:  # a new connection per request
            replies = list(pool.map(lambda r: _post(f"{url}/v1/models/digits:predict",
                                                    {"instances": r}), rows))
        for (status, body), row in zip(replies, rows):
            assert status == 200, body
            np.testing.assert_allclose(body["predictions"],
                                       model.predict(np.asarray(row), verbose=0), atol=1e-5)
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        answered = sum(s.value for f in text_string_to_metric_families(text)
                       for s in f.samples if s.name == "qkeras_serve_requests_total"
                       and s.labels["endpoint"] == "predict" and s.labels["status"] == "200")
        assert answered == 64  # the sum over both workers, whichever one answered /metrics
        per_worker = {}
        for path in metrics_dir.glob("counter_*.db"):
            per_worker[int(path.stem.split("_")[1])] = sum(
                s.value for f in MultiProcessCollector.merge([str(path)], accumulate=False)
                for s in f.samples if s.name == "qkeras_serve_requests_total"
                and s.labels["endpoint"] == "predict")
        assert set(per_worker) == set(workers) and sum(per_worker.values()) == 64
        assert min(per_worker.values()) > 0, per_worker  # SO_REUSEPORT spreads connections
        os.kill(workers[0], signal.SIGKILL)  # a worker that dies is replaced
        workers = _wait(lambda: (len(found := _children(process.pid)) == 2
                                 and workers[0] not in found and found), "a new worker",
                        240, process)
        _wait(lambda: _serving(log) == 3, "the new worker serving", 240, process)
        for row in rows[:8]:
            assert _post(f"{url}/v1/models/digits:predict", {"instances": row})[0] == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(90) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)  # joined, gone
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        for pid in _children(process.pid):  # only after a failure above
            os.kill(pid, signal.SIGKILL)
    text = log.read_text()
    assert text.count("shutdown complete") == 2, text[-2000:]
    assert "exited with status -9; starting another" in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG, /proc")
def test_workers_stop_when_their_supervisor_is_killed(model_base, tmp_path):
    port = _free_port()
    process, _ = _serve([str(model_base), "--port", str(port), "--workers", "2",
                         "--poll-seconds", "0"], tmp_path)
    try:
        workers = _wait(lambda: len(_children(process.pid)) == 2 and _children(process.pid),
                        "two workers", 120, process)
        process.kill()  # SIGKILL: no chance to stop them itself
        process.wait(30)
        _wait(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers),
              "the workers gone", 60)
    finally:
        if process.poll() is None:
            process.kill()


def test_a_worker_that_cannot_start_stops_the_server(capfd, caplog):
    # The supervisor runs here (pytest's main thread); its two workers are spawned
    # processes whose application factory does not exist.
    with caplog.at_level("ERROR", "qkeras.serve.server"):
        assert run_workers("json:no_such_factory", 2, port=0) == 3
    err = capfd.readouterr().err
    assert "module 'json' has no attribute 'no_such_factory'" in err, err[-2000:]
    assert "could not start its application" in caplog.text
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # its temporary one is removed


def test_workers_refuse_a_port_in_use_before_starting():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"Cannot listen on 127.0.0.1:{port}"):
            run_workers("qkeras.cli:serve_worker_app", 2, port=port)
    with pytest.raises(ConfigurationError, match="2 or more workers"):
        run_workers("qkeras.cli:serve_worker_app", 1)


def test_serve_takes_workers_from_the_command_line(model_base, capsys):
    from qkeras.cli import build_parser, main

    assert build_parser().parse_args(["serve", "models"]).workers == 1
    assert main(["serve", str(model_base), "--workers", "0"]) == 2
    assert "--workers must be 1 or more; got 0" in capsys.readouterr().err
