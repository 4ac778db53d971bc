"""The ASGI middleware in front of every route: token check, body-size limit, metrics and
structured access logs.

One JSON line per request goes to the ``qkeras.serve.access`` logger: time, method, path
(no query string), status, duration, model, version, endpoint, body size and client
address. Request and response bodies are never logged.

Example:
    >>> gate = Gate(app=None, metrics=None, max_body_bytes=1024)
    >>> gate.max_body_bytes
    1024
"""

from __future__ import annotations

import json
import logging
import time

import orjson

from qkeras.errors import ServingError
from qkeras.serve.auth import TokenCheck

__all__ = ["Gate", "PayloadTooLarge", "LABELS_KEY"]

access_log = logging.getLogger("qkeras.serve.access")

LABELS_KEY = "qkeras.labels"  # handlers put (model, version, endpoint) into the ASGI scope


class PayloadTooLarge(ServingError):
    """The request body is over the server's limit (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than this server's limit of {limit} "
                         "bytes; send a smaller request or raise --max-body-bytes.",
                         "RESOURCE_EXHAUSTED")


class Gate:
    """Pure ASGI middleware (cheaper per request than Starlette's ``BaseHTTPMiddleware``).

    Args:
        app: The wrapped ASGI application.
        metrics: A :class:`~qkeras.serve.metrics.ServeMetrics`, or ``None``.
        max_body_bytes: Largest request body accepted.
        tokens: A :class:`~qkeras.serve.auth.TokenCheck`, or ``None`` for no check.
        counter: A one-element list that holds the number of requests in flight.
    """

    def __init__(self, app, *, metrics, max_body_bytes: int,
                 tokens: TokenCheck | None = None, counter: list | None = None) -> None:
        self.app, self.metrics, self.max_body_bytes = app, metrics, max_body_bytes
        self.tokens = tokens
        self.counter = counter if counter is not None else [0]

    @staticmethod
    async def _reply(send, status: int, message: str, extra=()) -> None:
        body = orjson.dumps({"error": message})
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def refusal(self, scope) -> tuple[int, str, list] | None:
        """``(status, message, extra headers)`` if the request must be refused from its
        headers alone (a missing or wrong token: 401; a declared body over the limit: 413),
        else ``None``.

        Example:
            >>> gate = Gate(app=None, metrics=None, max_body_bytes=10)
            >>> gate.refusal({"path": "/v1/models/m:predict",
            ...               "headers": [(b"content-length", b"11")]})[0]
            413
        """
        path = scope.get("path", "")
        if self.tokens is not None and not TokenCheck.exempt(path) \
                and not self.tokens.allows(_headers(scope)):
            return (401, "Missing or invalid API token: send 'Authorization: Bearer <token>' "
                    "or 'X-API-Key: <token>'.", [(b"www-authenticate", b"Bearer")])
        if _content_length(scope) > self.max_body_bytes:
            return 413, PayloadTooLarge(self.max_body_bytes).args[0], []
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = {"status": 500, "bytes": 0}
        self.counter[0] += 1

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            await send(message)

        async def receive_limited():
            message = await receive()
            if message["type"] == "http.request":
                state["bytes"] += len(message.get("body", b""))
                if state["bytes"] > self.max_body_bytes:
                    raise PayloadTooLarge(self.max_body_bytes)
            return message

        try:
            refused = self.refusal(scope)
            if refused is not None:
                state["status"] = refused[0]
                await self._reply(send, *refused)
            else:
                await self.app(scope, receive_limited, send_wrapper)
        finally:
            self.counter[0] -= 1
            self.record(scope, state["status"], state["bytes"], time.perf_counter() - start)

    def track(self, scope, bytes_in: int, respond):
        """Counts a request in flight and returns ``done(status, body)``, which records it
        and passes the answer on to ``respond``: the bookkeeping of :meth:`__call__` for
        an answer written without ASGI (the protocol's fast lane,
        :meth:`qkeras.serve.app.ServeApp.fast_lane`). Call ``done`` exactly once.

        Example:
            >>> gate = Gate(app=None, metrics=None, max_body_bytes=10)
            >>> done = gate.track({"path": "/v1/models/m:predict"}, 2, print)
            >>> gate.counter
            [1]
            >>> done(200, b"{}")
            200 b'{}'
            >>> gate.counter
            [0]
        """
        start = time.perf_counter()
        self.counter[0] += 1

        def done(status: int, body: bytes) -> None:
            self.counter[0] -= 1
            self.record(scope, status, bytes_in, time.perf_counter() - start)
            respond(status, body)

        return done

    def record(self, scope, status: int, bytes_in: int, seconds: float) -> None:
        """Counts an answered request in the metrics and writes its access-log line."""
        path = scope.get("path", "")
        model, version, endpoint = scope.get(LABELS_KEY) or ("", "", _endpoint(path))
        if self.metrics is not None:
            self.metrics.observe_request(model, version, endpoint, status, seconds)
        if access_log.isEnabledFor(logging.INFO):
            client = scope.get("client") or ("", 0)
            access_log.info(json.dumps({
                "ts": round(time.time(), 3), "method": scope.get("method"), "path": path,
                "status": status, "ms": round(seconds * 1e3, 3), "model": model,
                "version": version, "endpoint": endpoint, "bytes_in": bytes_in,
                "client": client[0]}))


def _headers(scope) -> dict[str, str]:
    """The request's headers by lower-case name."""
    return {k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in scope.get("headers", ())}


def _content_length(scope) -> int:
    """The declared body size (0 when absent; ASGI servers send lower-case names)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else 0  # receive() counts the bytes anyway
    return 0


def _endpoint(path: str) -> str:
    if path.startswith("/v2/health"):
        return "health"
    if path == "/metrics":
        return "metrics"
    if path == "/" or path.startswith("/ui"):
        return "ui"
    return "other"
