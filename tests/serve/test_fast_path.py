"""The protocol's fast path for JSON inference, over real sockets to a real uvicorn server.

The server runs in a thread of the test process (``qkeras.serve.server.make_server``, the
one ``qkeras serve`` runs), so the tests can count which path answered. Reference answers
come from the ASGI path (FastAPI's TestClient), which the fast path must match byte for
byte in status and body.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qkeras.serve import ModelRepository, ServeOptions, create_app
from qkeras.serve import protocol as protocol_module
from qkeras.serve.server import make_server

from .test_lean_path import _requests


@pytest.fixture
def fast_calls(monkeypatch):
    """Counts the requests answered by the fast path."""
    calls = []
    original = protocol_module.HttpProtocol._answer_fast

    def counted(self, cycle):
        calls.append(cycle.path.decode())
        original(self, cycle)

    monkeypatch.setattr(protocol_module.HttpProtocol, "_answer_fast", counted)
    return calls


@contextlib.contextmanager
def _serving(model_base, keep_alive: float | None = None, servers: list | None = None,
             send_buffer: int | None = None, **options):
    """A running server on a free port: yields ``(port, app)`` (and appends the uvicorn
    server to ``servers``). ``send_buffer``: the ``SO_SNDBUF`` of its connections."""
    repo = ModelRepository(model_base, poll_seconds=0)
    repo.scan()
    app = create_app(repo, ServeOptions(**options))
    server = make_server(app, port=0, graceful_seconds=10)
    if keep_alive is not None:
        server.config.timeout_keep_alive = keep_alive
    if servers is not None:
        servers.append(server)
    sock = socket.socket()
    if send_buffer is not None:  # accepted connections inherit it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield sock.getsockname()[1], app
    finally:
        server.should_exit = True
        thread.join(30)
        assert not thread.is_alive()


def _request(method: str, path: str, body: bytes = b"", headers: dict | None = None,
             version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "host: test"]
    headers = {"content-type": "application/json", "content-length": str(len(body)),
               **(headers or {})}
    lines += [f"{k}: {v}" for k, v in headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Reader:
    """Reads HTTP/1.1 responses with a Content-Length off a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def response(self) -> tuple[int, dict, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), "connection closed before a response"
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines)
        headers = {k.lower(): v for k, v in headers.items()}
        length = int(headers.get("content-length", 0))
        while len(self.buffer) < length:
            assert self._fill(), "connection closed inside a body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body

    def closed(self) -> bool:
        self.sock.settimeout(5)
        return not self.buffer and not self._fill()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _encode(kwargs: dict) -> bytes:
    return kwargs["content"] if "content" in kwargs else json.dumps(kwargs["json"]).encode()


def test_fast_path_answers_every_inference_request_as_the_asgi_path(model_base, digit_model,
                                                                    fast_calls):
    requests = _requests(digit_model[1])
    repo = ModelRepository(model_base, poll_seconds=0)
    repo.scan()
    with TestClient(create_app(repo)) as client:
        want = [client.post(path, **kwargs) for path, kwargs in requests]
    with _serving(model_base) as (port, _), _connect(port) as sock:
        reader = _Reader(sock)
        for (path, kwargs), expected in zip(requests, want):
            sock.sendall(_request("POST", path, _encode(kwargs)))
            status, headers, body = reader.response()
            assert (status, body) == (expected.status_code, expected.content), path
            assert headers["content-type"] == "application/json"
            assert "date" in headers and "server" not in headers
    # All but the version "x", which only FastAPI's route can reject (422), took the fast path.
    assert fast_calls == [path for path, _ in requests if "/versions/x/" not in path]


def test_pipelined_requests_are_answered_in_order_across_both_paths(model_base, digit_model,
                                                                    fast_calls):
    row = json.dumps({"instances": digit_model[1][:1].tolist()}).encode()
    with _serving(model_base) as (port, _), _connect(port) as sock:
        sock.sendall(_request("POST", "/v1/models/digits:predict", row)
                     + _request("GET", "/v1/models/digits", headers={"content-length": None})
                     + _request("POST", "/v1/models/digits/versions/1:predict", row,
                                {"connection": "close"}))
        reader = _Reader(sock)
        first, second, third = (reader.response() for _ in range(3))
        assert reader.closed()
    assert first[0] == third[0] == 200 and first[2] == third[2]
    assert "predictions" in json.loads(first[2])
    assert json.loads(second[2])["model_version_status"][0]["state"] == "AVAILABLE"
    assert third[1]["connection"] == "close"
    assert fast_calls == ["/v1/models/digits:predict", "/v1/models/digits/versions/1:predict"]


def test_http_1_0_closes_after_the_answer(model_base, digit_model, fast_calls):
    row = json.dumps({"instances": digit_model[1][:1].tolist()}).encode()
    with _serving(model_base) as (port, _), _connect(port) as sock:
        sock.sendall(_request("POST", "/v1/models/digits:predict", row, version="1.0"))
        reader = _Reader(sock)
        status, headers, _ = reader.response()
        assert status == 200 and headers["connection"] == "close" and reader.closed()
    assert len(fast_calls) == 1


def test_expect_100_continue_gets_its_interim_response(model_base, digit_model, fast_calls):
    row = json.dumps({"instances": digit_model[1][:1].tolist()}).encode()
    with _serving(model_base) as (port, _), _connect(port) as sock:
        sock.sendall(_request("POST", "/v1/models/digits:predict", headers={
            "content-length": str(len(row)), "expect": "100-continue"}))
        reader = _Reader(sock)
        while b"\r\n\r\n" not in reader.buffer:
            assert reader._fill()
        assert reader.buffer.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        reader.buffer = reader.buffer[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        sock.sendall(row)
        assert reader.response()[0] == 200
    assert len(fast_calls) == 1


def test_requests_the_fast_path_declines_take_the_asgi_path(model_base, digit_model,
                                                            fast_calls):
    row = json.dumps({"instances": digit_model[1][:1].tolist()}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(row), row)
    with _serving(model_base, tokens=("s3cret-t0ken",), max_body_bytes=4096) as (port, _), \
            _connect(port) as sock:
        reader = _Reader(sock)
        sock.sendall(_request("POST", "/v1/models/digits:predict", row))
        status, headers, body = reader.response()
        assert status == 401 and headers["www-authenticate"] == "Bearer"
        auth = {"authorization": "Bearer s3cret-t0ken"}
        sock.sendall(_request("POST", "/v1/models/digits:predict", b"x" * 5000, auth))
        assert reader.response()[0] == 413
        sock.sendall(_request("POST", "/v1/models/digits:predict", chunked,
                              {**auth, "content-length": None, "transfer-encoding": "chunked"}))
        assert reader.response()[0] == 200
        sock.sendall(_request("POST", "/v1/models/digits:predict", row,
                              {**auth, "x-forwarded-for": "10.0.0.7"}))
        assert reader.response()[0] == 200
        sock.sendall(_request("POST", "/v1/models/digits:predict?trace=1", row, auth))
        assert reader.response()[0] == 200
        assert fast_calls == []
        sock.sendall(_request("POST", "/v1/models/digits:predict", row, auth))
        assert reader.response()[0] == 200
    assert fast_calls == ["/v1/models/digits:predict"]


def test_fast_answers_are_counted_logged_and_leave_no_request_in_flight(
        model_base, digit_model, fast_calls, caplog):
    caplog.set_level(logging.INFO, logger="qkeras.serve.access")
    rows = digit_model[1][:3]
    with _serving(model_base) as (port, app), _connect(port) as sock:
        reader = _Reader(sock)
        for body in (json.dumps({"instances": rows.tolist()}).encode(), b"{not json"):
            sock.sendall(_request("POST", "/v1/models/digits:predict", body))
            reader.response()
        sock.sendall(_request("GET", "/metrics", headers={"content-length": None}))
        _, _, exposition = reader.response()
        assert app.state.server.in_flight == [0]
    families = {f.name: f for f in text_string_to_metric_families(exposition.decode())}
    counts = {(s.labels["endpoint"], s.labels["status"]): s.value
              for s in families["qkeras_serve_requests"].samples
              if s.name == "qkeras_serve_requests_total" and s.labels["model"] == "digits"}
    assert counts == {("predict", "200"): 1.0, ("predict", "400"): 1.0}
    batches = [s for s in families["qkeras_serve_batch_size"].samples
               if s.name == "qkeras_serve_batch_size_sum"]
    assert batches[0].value == 3.0
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "qkeras.serve.access"]
    assert [(r["status"], r["endpoint"], r["bytes_in"] > 0) for r in lines[:2]] == [
        (200, "predict", True), (400, "predict", True)]
    assert len(fast_calls) == 2


def test_an_error_of_the_fast_path_itself_is_a_500_and_closes(model_base, digit_model,
                                                              monkeypatch, caplog):
    from qkeras.serve.app import ServeApp

    def broken(self, start, scope, raw, respond):
        raise RuntimeError("boom")

    monkeypatch.setattr(ServeApp, "_fast", broken)
    row = json.dumps({"instances": digit_model[1][:1].tolist()}).encode()
    with _serving(model_base) as (port, _), _connect(port) as sock:
        sock.sendall(_request("POST", "/v1/models/digits:predict", row))
        reader = _Reader(sock)
        status, headers, body = reader.response()
        assert (status, body) == (500, b"Internal Server Error") and reader.closed()
    assert any("fast path" in r.getMessage() for r in caplog.records)


def test_a_client_that_leaves_mid_request_does_not_disturb_the_next(model_base, digit_model,
                                                                    fast_calls):
    row = json.dumps({"instances": digit_model[1][:1].tolist()}).encode()
    with _serving(model_base) as (port, app):
        with _connect(port) as sock:  # headers and half the body, then gone
            sock.sendall(_request("POST", "/v1/models/digits:predict", row)[:-len(row) // 2])
        with _connect(port) as sock:  # a whole request, then gone before the answer
            sock.sendall(_request("POST", "/v1/models/digits:predict", row))
        with _connect(port) as sock:
            sock.sendall(_request("POST", "/v1/models/digits:predict", row))
            status, _, body = _Reader(sock).response()
        assert status == 200
        np.testing.assert_allclose(json.loads(body)["predictions"],
                                   digit_model[0].predict(digit_model[1][:1], verbose=0),
                                   atol=1e-5)
        deadline = time.monotonic() + 10
        while app.state.server.in_flight != [0] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert app.state.server.in_flight == [0]


def test_no_fast_path_sends_inference_through_asgi(model_base, digit_model, fast_calls):
    row = json.dumps({"instances": digit_model[1][:1].tolist()}).encode()
    with _serving(model_base, fast_path=False) as (port, _), _connect(port) as sock:
        sock.sendall(_request("POST", "/v1/models/digits:predict", row))
        status, _, body = _Reader(sock).response()
    assert status == 200 and "predictions" in json.loads(body) and fast_calls == []


@pytest.mark.parametrize("path", ["/v1/models/digits:predict", "/v1/models/digits"])
def test_an_idle_connection_closes_a_keep_alive_timeout_after_its_last_answer(
        model_base, digit_model, path):
    row = json.dumps({"instances": digit_model[1][:1].tolist()}).encode()
    method, body = ("POST", row) if path.endswith(":predict") else ("GET", b"")
    with _serving(model_base, keep_alive=0.6) as (port, _), _connect(port) as sock:
        reader = _Reader(sock)
        for _ in range(3):  # each request comes 0.4 s after the answer before it
            sock.sendall(_request(method, path, body))
            assert reader.response()[0] == 200
            answered = time.monotonic()
            time.sleep(0.4)
        # Still open 1.2 s after the first answer: the timeout counts from the last one.
        sock.sendall(_request(method, path, body))
        assert reader.response()[0] == 200
        answered = time.monotonic()
        assert reader.closed()
        assert 0.5 <= time.monotonic() - answered < 3


def test_a_graceful_shutdown_answers_the_fast_request_in_flight_then_closes(
        model_base, digit_model, monkeypatch, fast_calls):
    from qkeras.serve.servable import Servable

    predict = Servable.predict

    def slow(self, *args, **kwargs):
        time.sleep(0.5)  # still running when the shutdown starts
        return predict(self, *args, **kwargs)

    monkeypatch.setattr(Servable, "predict", slow)
    row = json.dumps({"instances": digit_model[1][:1].tolist()}).encode()
    servers = []
    with _serving(model_base, servers=servers) as (port, _), _connect(port) as sock:
        reader = _Reader(sock)
        sock.sendall(_request("POST", "/v1/models/digits:predict", row))
        time.sleep(0.2)
        servers[0].should_exit = True
        status, headers, body = reader.response()
        assert status == 200 and json.loads(body)["predictions"]
        assert headers["connection"] == "close" and reader.closed()
    assert fast_calls == ["/v1/models/digits:predict"]


def test_a_client_that_reads_slowly_gets_every_pipelined_answer_in_order(
        model_base, digit_model, monkeypatch, fast_calls):
    """The server's writes pause (its send buffer and the transport's fill up) and the
    next pipelined request waits for the drain (``HttpProtocol._after_drain``)."""
    drains = []
    after_drain = protocol_module.HttpProtocol._after_drain

    async def counted(self):
        drains.append(time.monotonic())
        await after_drain(self)

    monkeypatch.setattr(protocol_module.HttpProtocol, "_after_drain", counted)
    rows = [json.dumps({"instances": digit_model[1][i:i + 1].tolist()}).encode()
            for i in range(2)]
    count = 600  # about 200 KB of answers: over the 64 KiB at which the transport pauses
    with _serving(model_base, send_buffer=4096) as (port, _), \
            socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting
        sock.settimeout(60)
        sock.connect(("127.0.0.1", port))
        sender = threading.Thread(target=sock.sendall, args=(b"".join(
            _request("POST", "/v1/models/digits:predict", rows[i % 2])
            for i in range(count)),), daemon=True)
        sender.start()
        deadline = time.monotonic() + 60
        while not drains:  # nothing read yet: the server must stop writing
            assert time.monotonic() < deadline, "the server's writes never paused"
            time.sleep(0.05)
        reader = _Reader(sock)
        answers = [reader.response() for _ in range(count)]
        sender.join(30)
    assert all(status == 200 for status, _, _ in answers)
    first, second = answers[0][2], answers[1][2]
    assert first != second  # two different rows, so the order shows
    assert [body for _, _, body in answers] == [first, second] * (count // 2)
    assert len(fast_calls) == count


def test_the_batchers_count_the_servers_open_connections(model_base, digit_model):
    """The micro-batchers' early start counts the open client connections (see
    :mod:`qkeras.serve.batching`): the running server hands them uvicorn's set."""
    row = json.dumps({"instances": digit_model[1][:1].tolist()}).encode()
    with _serving(model_base) as (port, app):
        server = app.state.server
        sockets = [_connect(port) for _ in range(3)]
        try:
            for sock in sockets:  # one answer on each: every connection has been accepted
                sock.sendall(_request("POST", "/v1/models/digits:predict", row))
                assert _Reader(sock).response()[0] == 200
            batcher = next(iter(server.batchers.values()))
            assert len(server.connections) == batcher.connections() == 3
        finally:
            for sock in sockets:
                sock.close()
        deadline = time.monotonic() + 10
        while len(server.connections) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert batcher.connections() == 0
