"""Zoo downloads for real: a local http.server on 127.0.0.1, file:// mirrors, offline use.

References: ``hashlib.sha256`` of the bytes served; the original saved model's own
predictions; the cache folder's listing (nothing left behind after a failure).
"""

from __future__ import annotations

import hashlib
import http.server
import threading

import numpy as np
import pytest

from qkeras import zoo
from qkeras.errors import ChecksumError, ZooError
from qkeras.zoo import cache
from tests.zoo.conftest import make_entry, predictions


def cache_files(home):
    return sorted(p.name for p in (home / "zoo").rglob("*") if p.is_file()) \
        if (home / "zoo").exists() else []


def test_http_download_verifies_and_caches(released, home, tiny_model_file, images):
    entry, root = released
    path = zoo.download(entry.name)
    assert path == home / "zoo" / entry.name / entry.version / entry.file
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
    model = zoo.load(entry.name)
    np.testing.assert_array_equal(model.predict(images, verbose=0),
                                  predictions(tiny_model_file, images))
    (root / entry.file).unlink()  # the server no longer has it: the cache answers
    assert zoo.download(entry.name) == path
    assert cache_files(home) == [entry.file]


def test_corrupt_http_download_raises_and_caches_nothing(released, home):
    entry, root = released
    data = bytearray((root / entry.file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / entry.file).write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="sha256 .* expected .*tampered"):
        zoo.download(entry.name)
    assert cache_files(home) == []


def test_short_file_raises_and_caches_nothing(released, home):
    entry, root = released
    (root / entry.file).write_bytes((root / entry.file).read_bytes()[:-100])
    with pytest.raises(ChecksumError, match="truncated or wrong file"):
        zoo.download(entry.name)
    assert cache_files(home) == []


class _TruncatingHandler(http.server.BaseHTTPRequestHandler):
    """Announces more bytes than it sends, then closes: an interrupted transfer."""

    body = b""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body[: len(self.body) // 2])
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_interrupted_http_transfer_raises_and_caches_nothing(home, tiny_model_file):
    _TruncatingHandler.body = tiny_model_file.read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TruncatingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        entry = make_entry(tiny_model_file,
                           url=f"http://127.0.0.1:{server.server_address[1]}/m.keras")
        with pytest.raises(ChecksumError, match="was truncated .* bytes received"):
            cache.fetch(entry)
    finally:
        server.shutdown()
        server.server_close()
    assert cache_files(home) == []


def test_mirror_env_var_file_and_http(home, tiny_model_file, http_root, monkeypatch,
                                      closed_port_url):
    entry = make_entry(tiny_model_file, url=closed_port_url)
    mirror = home.parent / "mirror"
    (mirror / entry.name).mkdir(parents=True)
    (mirror / entry.name / entry.file).write_bytes(tiny_model_file.read_bytes())
    monkeypatch.setenv("QKERAS_ZOO_URL", mirror.as_uri())
    assert cache.sources(entry)[0] == f"{mirror.as_uri()}/{entry.name}/{entry.file}"
    assert cache.fetch(entry).read_bytes() == tiny_model_file.read_bytes()
    root, base = http_root
    (root / entry.name).mkdir()
    (root / entry.name / entry.file).write_bytes(tiny_model_file.read_bytes())
    monkeypatch.setenv("QKERAS_ZOO_URL", base + "/")
    assert cache.fetch(entry, force=True).read_bytes() == tiny_model_file.read_bytes()


def test_offline_uses_the_repository_copy(home, tiny_model_file, closed_port_url, images):
    entry = make_entry(tiny_model_file, url=closed_port_url)
    zoo.register(entry)
    try:
        with pytest.raises(ZooError, match="sources unreachable .*QKERAS_ZOO_URL"):
            zoo.download(entry.name)
        repo = cache.repository_zoo()
        (repo / entry.name).mkdir()
        (repo / entry.name / entry.file).write_bytes(tiny_model_file.read_bytes())
        assert zoo.download(entry.name) == repo / entry.name / entry.file
        np.testing.assert_array_equal(zoo.load(entry.name).predict(images, verbose=0),
                                      predictions(tiny_model_file, images))
        (repo / entry.name / entry.file).write_bytes(b"not the model")
        with pytest.raises(ChecksumError, match="restore it from version control"):
            zoo.download(entry.name)
    finally:
        zoo.unregister(entry.name, entry.version)
    assert cache_files(home) == []


def test_corrupt_cache_is_replaced(released, home):
    entry, _ = released
    path = zoo.download(entry.name)
    path.write_bytes(b"corrupted on disk")
    assert zoo.download(entry.name).read_bytes() != b"corrupted on disk"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256


def test_no_url_at_all(home, tiny_model_file):
    with pytest.raises(ZooError, match="no URL \\(set QKERAS_ZOO_URL\\)"):
        cache.fetch(make_entry(tiny_model_file))


def test_default_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv("QKERAS_HOME", raising=False)
    assert cache.cache_dir().parts[-3:] == (".keras", "qkeras", "zoo")
    monkeypatch.setenv("QKERAS_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "zoo"
