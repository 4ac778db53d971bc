"""Zoo fixtures: an isolated cache, a local HTTP server, and a test-only released entry.

The entry is real: a small QCNN classifier built here, saved to tmp_path, with the file's
true sha256 and size. It is registered for one test and removed afterwards; the shipped
registry (qkeras/zoo/presets.py) is never changed.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from qkeras import zoo
from qkeras.zoo import InputSpec, ZooEntry

NAME, VERSION = "test-qcnn-tiny", "1.0.0"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def http_root(tmp_path):
    """Serves tmp_path/www on 127.0.0.1; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def closed_port_url():
    """An http URL on 127.0.0.1 where nothing listens (the network is 'down')."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing.keras"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """QKERAS_HOME in tmp_path, no mirror, and an empty stand-in for the repo's zoo/."""
    monkeypatch.setenv("QKERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QKERAS_ZOO_URL", raising=False)
    repo = tmp_path / "repo-zoo"
    repo.mkdir()
    monkeypatch.setattr("qkeras.zoo.cache.repository_zoo", lambda: repo)
    return tmp_path / "home"


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory):
    """A saved QCNN classifier (4 qubits, amplitude-encoded 4x4 images) and its bytes."""
    from qkeras import keras

    keras.utils.set_random_seed(0)
    model = zoo.build_model({"kind": "qcnn", "image_size": 4, "qubits": 4,
                             "encoding": "amplitude"}, (28, 28, 1), 2)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


def make_entry(path: Path, url: str = "", version: str = VERSION, **changes) -> ZooEntry:
    data = path.read_bytes()
    fields = dict(
        name=NAME, version=version, task="binary-classification",
        classes=("normal", "pneumonia"),
        inputs=InputSpec(shape=(28, 28, 1), dtype="float32", value_range=(0.0, 1.0),
                         modality="chest X-ray", preprocessing="grey, scaled to [0, 1]"),
        data="test fixture (untrained weights)", split="none", metrics={},
        licence="Apache-2.0", attribution="qkeras tests",
        file=f"{NAME}-{version}-{hashlib.sha256(data).hexdigest()[:8]}.keras",
        sha256=hashlib.sha256(data).hexdigest(), size=len(data), url=url,
        recipe="tests/zoo/conftest.py", intended_use="Tests only.",
        changelog={version: "test fixture"}, num_params=0)
    fields.update(changes)
    return ZooEntry(**fields)


@pytest.fixture
def released(home, tiny_model_file, http_root):
    """Registers the tiny model as served by the local HTTP server; yields (entry, root)."""
    root, base = http_root
    entry = make_entry(tiny_model_file)
    entry = make_entry(tiny_model_file, url=f"{base}/{entry.file}")
    (root / entry.file).write_bytes(tiny_model_file.read_bytes())
    zoo.register(entry)
    yield entry, root
    zoo.unregister(entry.name, entry.version)


def predictions(path, x):
    from qkeras import keras

    return keras.models.load_model(path, compile=False).predict(x, verbose=0)


@pytest.fixture(scope="session")
def images():
    return np.random.default_rng(0).uniform(0, 1, (5, 28, 28, 1)).astype(np.float32)
