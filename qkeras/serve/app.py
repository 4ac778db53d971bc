"""The FastAPI application of ``qkeras serve``: TF Serving's REST API, KServe v2, image
classification, ``/metrics`` and the demo page.

Every failure a client can cause answers with a 4xx status and ``{"error": "..."}``; a 5xx
status means a fault of the server or the model, and is logged with its traceback (never
with the request body).

Example:
    >>> from fastapi.testclient import TestClient
    >>> from qkeras import keras
    >>> from qkeras.serve import ModelRepository, Servable
    >>> repo = ModelRepository()
    >>> model = keras.Sequential([keras.Input((2,), name="x"), keras.layers.Dense(1, name="y")])
    >>> repo.add(Servable.from_keras(model, "demo"))
    >>> client = TestClient(create_app(repo))
    >>> client.get("/v1/models/demo").json()["model_version_status"][0]["state"]
    'AVAILABLE'
    >>> client.post("/v1/models/demo:predict", json={"instances": [[0, 0]]}).json()
    {'predictions': [[0.0]]}
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from qkeras.errors import QKerasError, ServingError
from qkeras.serve import classify, kserve, tfserving
from qkeras.serve.auth import TokenCheck
from qkeras.serve.batching import MicroBatcher, default_batch_sizes, pad_rows
from qkeras.serve.gate import LABELS_KEY, Gate, PayloadTooLarge
from qkeras.serve.metrics import CONTENT_TYPE, ServeMetrics
from qkeras.serve.repository import ModelRepository
from qkeras.serve.servable import Servable, Signature
from qkeras.serve.uploads import read_upload

__all__ = ["ServeOptions", "ServeApp", "create_app"]

log = logging.getLogger(__name__)

UI_DIR = Path(__file__).parent / "ui"


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    """How the server behaves.

    Attributes:
        batching: Merge concurrent requests into one model call.
        batch_window_ms: How long a batch waits for more requests after the first.
        max_batch: Most rows in one model call.
        max_body_bytes: Largest request body (larger ones get 413).
        max_rows: Most rows (instances) in one request (more get 400).
        tokens: API tokens; empty for no check.
        cors_origins: Origins allowed by CORS; empty (the default) for no CORS headers.
        ui: Serve the demo page at ``/ui/``.
        model_threads: Threads that run model calls without batching (and batches,
            with ``handoff`` off).
        warm_up: Run an XLA-compiled model once at each allowed batch size before it
            serves (at start and on hot reload), so that no request waits for XLA (with
            or without batching: a request is then padded to the allowed sizes too).
        fast_path: Let the HTTP protocol answer JSON inference itself, without ASGI (see
            :meth:`ServeApp.fast_lane`); off, it goes through ASGI like every request.
        handoff: Give each batcher a model thread of its own and have the event loop
            wait until that thread has taken each batch, so that the model starts at once
            instead of when the thread next gets the GIL (see
            :mod:`qkeras.serve.batching`); off, batches run on the ``model_threads``.
        jit: XLA-compile each model's signatures whole when it loads (see
            :meth:`Servable.jit_compile`), for exports made without ``xla=True``.
        batch_sizes: Allowed rows per batched call (a batch is padded up to the next one);
            ``"auto"``: ``default_batch_sizes(max_batch)`` for a model with XLA-compiled
            code, which compiles once per shape, and no padding for others; ``None``: no
            padding. Without batching, the requests to an XLA-compiled model are padded to
            the same sizes (other models run each request as it is).
    """

    batching: bool = True
    batch_window_ms: float = 2.0
    max_batch: int = 64
    max_body_bytes: int = 16 * 2**20
    max_rows: int = 1024
    tokens: tuple = ()
    cors_origins: tuple = ()
    ui: bool = False
    model_threads: int = 2
    batch_sizes: tuple | str | None = "auto"
    warm_up: bool = True
    fast_path: bool = True
    handoff: bool = True
    jit: bool = False


def _dumps(obj) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def _json(obj, status: int = 200) -> Response:
    return Response(_dumps(obj), status, media_type="application/json")


class _Server:
    """The state behind the routes: repository, metrics, executor and batchers."""

    def __init__(self, repository: ModelRepository, options: ServeOptions,
                 metrics: ServeMetrics) -> None:
        self.repository, self.options, self.metrics = repository, options, metrics
        self.executor = ThreadPoolExecutor(options.model_threads, "qkeras-model")
        self.batchers: dict[tuple[int, str], MicroBatcher] = {}
        self.in_flight = [0]  # requests being handled, counted by the Gate
        self.connections: Collection = ()  # the HTTP server's open connections

    def batcher(self, servable: Servable, sig: Signature) -> MicroBatcher:
        key = (id(servable), sig.name)
        batcher = self.batchers.get(key)
        if batcher is None or batcher.servable is not servable:
            labels = (servable.name, str(servable.version))
            observe = functools.partial(self.metrics.observe_batch, *labels)
            batcher = MicroBatcher(functools.partial(servable.predict, signature=sig.name),
                                   window_ms=self.options.batch_window_ms,
                                   max_batch=self.options.max_batch, executor=self.executor,
                                   on_batch=observe, in_flight=lambda: self.in_flight[0],
                                   batch_sizes=self.batch_sizes(servable),
                                   handoff=self.options.handoff,
                                   on_start=self.metrics.start_delay_observer(*labels),
                                   connections=lambda: len(self.connections))
            batcher.servable = servable
            self._drop_unloaded()
            self.batchers[key] = batcher
        return batcher

    def batch_sizes(self, servable: Servable) -> tuple[int, ...] | None:
        """The allowed batch sizes of ``servable``'s batches (``None``: no padding)."""
        sizes = self.options.batch_sizes
        if sizes == "auto":
            return default_batch_sizes(self.options.max_batch) if servable.xla_compiled else None
        return sizes

    def warm_up(self, servable: Servable) -> None:
        """Before a model serves: compiles it with XLA (``jit``), then runs an XLA-compiled
        model once at each allowed batch size."""
        if self.options.jit and not servable.jit_tried:
            servable.jit_compile()
        sizes = self.batch_sizes(servable)
        if (self.options.warm_up and sizes and servable.xla_compiled
                and servable.warmed_up != tuple(sizes)):
            servable.warm_up(sizes)

    def _drop_unloaded(self) -> None:
        """Closes the batchers of versions the repository no longer serves (hot reload)."""
        live = {id(v) for n in self.repository.names()
                for v in self.repository.versions(n).values()}
        for key, batcher in list(self.batchers.items()):
            if key[0] not in live:
                del self.batchers[key]
                asyncio.get_running_loop().create_task(batcher.close())

    def submit(self, servable: Servable, sig: Signature, inputs: dict) -> asyncio.Future:
        """Starts one request's model call: queued for a batch, or run on the model
        threads. Returns a future of its outputs, for a caller that awaits it or adds a
        callback (the HTTP protocol's fast path)."""
        if self.options.batching:
            return self.batcher(servable, sig).enqueue(inputs)
        return asyncio.get_running_loop().run_in_executor(
            self.executor, functools.partial(self._predict_alone, servable, sig, inputs))

    def _predict_alone(self, servable: Servable, sig: Signature, inputs: dict) -> dict:
        """One request's model call without batching (on a model thread)."""
        # An XLA-compiled model compiles once per row count: a request runs padded to the
        # allowed sizes, as a batch would, so that it never waits for a compile.
        rows = len(next(iter(inputs.values())))
        sizes = self.batch_sizes(servable) if servable.xla_compiled else None
        padded = pad_rows(inputs, rows, sizes) if sizes else inputs
        out = servable.predict(padded, sig.name)
        self.metrics.observe_batch(servable.name, str(servable.version), rows)
        return out if padded is inputs else {k: v[:rows] for k, v in out.items()}

    async def predict(self, servable: Servable, sig: Signature, inputs: dict) -> dict:
        return await self.submit(servable, sig, inputs)

    async def close(self) -> None:
        await asyncio.gather(*(b.close() for b in self.batchers.values()))
        self.executor.shutdown(wait=True)


def _label(request, servable: Servable | None, endpoint: str, name: str = "") -> None:
    """Names the model, version and endpoint of a request (a Request or an ASGI scope) for
    the metrics and the access log."""
    scope = request if isinstance(request, dict) else request.scope
    scope[LABELS_KEY] = ((servable.name, str(servable.version), endpoint)
                         if servable else (name, "", endpoint))


def _parse_json(raw: bytes) -> object:
    if not raw:
        raise ServingError("JSON Parse error: The document is empty")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ServingError(f"JSON Parse error: {err}") from err


def _start_predict_v1(server: _Server, scope: dict, rest: str, raw: bytes):
    """``POST /v1/models/{rest}`` with a ``:predict`` verb, up to the model call:
    ``(future of the outputs, reply(outputs) -> reply object)``.

    Raises:
        QKerasError: The request's fault (unknown model, bad JSON or tensors).
    """
    repo = server.repository
    path = tfserving.parse_path(rest, "POST")
    scope[LABELS_KEY] = ("", "", "predict")  # until the model is known
    servable = repo.get(path.name, path.version, path.label)
    _label(scope, servable, "predict")
    kind, sig, inputs = tfserving.parse_predict(_parse_json(raw), servable,
                                                max_rows=server.options.max_rows)
    return server.submit(servable, sig, inputs), functools.partial(tfserving.format_predict,
                                                                   kind)


def _start_infer_v2(server: _Server, scope: dict, name: str, version: int | None, raw: bytes):
    """``POST /v2/models/{name}[/versions/{version}]/infer`` up to the model call:
    ``(future of the outputs, reply(outputs) -> reply object)``.

    Raises:
        QKerasError: The request's fault.
    """
    scope[LABELS_KEY] = ("", "", "infer")  # until the model is known
    servable = server.repository.get(name, version)
    _label(scope, servable, "infer")
    body = _parse_json(raw)
    sig, inputs, wanted = kserve.parse_infer(body, servable, max_rows=server.options.max_rows)
    request_id = body["id"] if isinstance(body, dict) and "id" in body else None

    def reply(outputs: dict) -> dict:
        out = {"model_name": servable.name, "model_version": str(servable.version),
               "outputs": [kserve.output_tensor(n, outputs[n]) for n in wanted or outputs]}
        if request_id is not None:
            out["id"] = request_id
        return out

    return server.submit(servable, sig, inputs), reply


async def _answered(start, *args) -> dict:
    """The reply object of a request started by ``start(*args)`` (one of the
    ``_start_*`` functions), awaited: the ASGI routes' form."""
    future, reply = start(*args)
    return reply(await future)


def _error_reply(err: QKerasError, method: str, path: str) -> tuple[int, bytes]:
    """Status and TF Serving error JSON for an error a request ran into (a 5xx is logged,
    never the body)."""
    if isinstance(err, PayloadTooLarge):
        status = 413
    else:
        status = tfserving.http_status(err.code) if isinstance(err, ServingError) else 400
    if status >= 500:
        log.error("%s %s failed: %s", method, path, err)
    return status, _dumps(tfserving.error_body(str(err)))


def _errors(app: FastAPI) -> None:
    @app.exception_handler(QKerasError)
    async def qkeras_error(request: Request, err: QKerasError):
        status, body = _error_reply(err, request.method, request.url.path)
        return Response(body, status, media_type="application/json")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException):
        message = (f"Malformed request: {request.method} {request.url.path}"
                   if err.status_code in (404, 405) else str(err.detail))
        return _json(tfserving.error_body(message), err.status_code)


def _tfserving_routes(app: FastAPI, server: _Server) -> None:
    repo = server.repository

    @app.get("/v1/models/{rest:path}")
    async def model_get(rest: str, request: Request):
        path = tfserving.parse_path(rest, "GET")
        _label(request, None, {None: "status", "metadata": "metadata"}.get(path.verb, "other"))
        if path.verb not in (None, "metadata"):
            raise ServingError(f"Malformed request: GET /v1/models/{rest}")
        if path.verb == "metadata":
            servable = repo.get(path.name, path.version, path.label)
            _label(request, servable, "metadata")
            return _json(tfserving.metadata_body(servable))
        version = repo.get(path.name, None, path.label).version if path.label else path.version
        if path.name in repo.names():
            _label(request, None, "status", path.name)
        return _json(tfserving.status_body(repo.status(path.name, version)))

    @app.post("/v1/models/{rest:path}")
    async def model_post(rest: str, request: Request):
        path = tfserving.parse_path(rest, "POST")
        _label(request, None, path.verb if path.verb in ("predict", "classify") else "other")
        if path.verb not in ("predict", "classify", "regress"):
            raise ServingError(f"Malformed request: POST /v1/models/{rest}")
        if path.verb == "predict":
            return _json(await _answered(_start_predict_v1, server, request.scope, rest,
                                         await request.body()))
        servable = repo.get(path.name, path.version, path.label)
        _label(request, servable, path.verb)
        if path.verb == "classify":
            return _json(await _classify(request, server, servable))
        raise ServingError("Model has no regression signature (it was exported with "
                           "'serving_default' only); use :predict.", "INVALID_ARGUMENT")


def _kserve_routes(app: FastAPI, server: _Server) -> None:
    repo = server.repository

    @app.get("/v2")
    async def v2_server():
        return _json(kserve.server_metadata())

    @app.get("/v2/health/live")
    async def live():
        return _json({"live": True})

    @app.get("/v2/health/ready")
    async def ready():
        ok = repo.ready
        return _json({"ready": ok}, 200 if ok else 400)

    @app.post("/v2/repository/index")
    async def index():
        return _json([{"name": n, "version": str(v), "state": "READY"}
                      for n in repo.names() for v in sorted(repo.versions(n))])

    async def metadata(request: Request, name: str, version: int | None = None):
        _label(request, None, "metadata")
        servable = repo.get(name, version)
        _label(request, servable, "metadata")
        return _json(kserve.model_metadata(servable, list(repo.versions(name))))

    async def model_ready(request: Request, name: str, version: int | None = None):
        try:
            servable = repo.get(name, version)
        except ServingError:
            return _json({"name": name, "ready": False}, 400)
        _label(request, servable, "ready")
        return _json({"name": name, "ready": True})

    async def infer(request: Request, name: str, version: int | None = None):
        return _json(await _answered(_start_infer_v2, server, request.scope, name, version,
                                     await request.body()))

    for suffix in ("", "/versions/{version}"):
        app.add_api_route(f"/v2/models/{{name}}{suffix}", metadata, methods=["GET"])
        app.add_api_route(f"/v2/models/{{name}}{suffix}/ready", model_ready, methods=["GET"])
        app.add_api_route(f"/v2/models/{{name}}{suffix}/infer", infer, methods=["POST"])


async def _classify(request: Request, server: _Server, servable: Servable) -> dict:
    card = servable.card
    if card is None:
        raise ServingError(f"Model {servable.name} has no serving card, so its classes and "
                           "input are unknown; write one with qkeras.serve.write_card (or "
                           "serve a zoo model).", "FAILED_PRECONDITION")
    sig = servable.signature()
    if len(sig.inputs) != 1:
        raise ServingError("Image classification needs a model with one image input; use "
                           ":predict for multi-input models.", "FAILED_PRECONDITION")
    data, content_type, fields = await read_upload(request)
    loop = asyncio.get_running_loop()
    image, kind, facts = await loop.run_in_executor(server.executor, classify.decode, data,
                                                    content_type)
    x = classify.preprocess(image, card.inputs)
    outputs = await server.predict(servable, sig, {next(iter(sig.inputs)): x})
    probs = classify.probabilities(next(iter(outputs.values()))[0], len(card.classes))
    best = int(probs.argmax())
    reply = {"model_spec": {"name": servable.name, "version": str(servable.version),
                            "signature_name": sig.name},
             "prediction": card.classes[best], "class_index": best,
             "classes": list(card.classes), "probabilities": probs.tolist(),
             "input": {"kind": kind, "shape": list(image.shape), **facts},
             "image": classify.png_data_url(x[0] if x.shape[-1] == 3 else x[0, ..., 0])}
    explain = request.query_params.get("explain") or fields.get("explain")
    if explain:
        if explain != "grad_cam":
            raise ServingError(f"explain must be 'grad_cam'; got {explain!r}.")
        model = await loop.run_in_executor(server.executor, servable.explain_model)
        if model is None:
            raise ServingError(f"Model {servable.name} has no Keras model for Grad-CAM; "
                               "pass model= to write_card, or serve a .keras/zoo model.",
                               "FAILED_PRECONDITION")
        reply["grad_cam"] = await loop.run_in_executor(
            server.executor, classify.grad_cam_overlay, model, x, best)
    return reply


def _ui_routes(app: FastAPI, server: _Server) -> None:
    @app.get("/", include_in_schema=False)
    async def root():
        return RedirectResponse("/ui/")

    @app.get("/ui/models.json", include_in_schema=False)
    async def models():
        repo = server.repository
        out = []
        for name in repo.names():
            servable = repo.get(name)
            if servable.card is not None:
                out.append({"name": name, "version": str(servable.version),
                            **servable.card.to_dict(),
                            "explain": servable.card.explain_path is not None
                            or servable.explain_model() is not None})
        return _json({"models": out})

    app.mount("/ui", StaticFiles(directory=UI_DIR, html=True), name="ui")


_V2_INFER = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>\d+))?/infer$")
_JSON_HEADERS = [(b"content-type", b"application/json")]
_PROXY_HEADERS = frozenset((b"x-forwarded-for", b"x-forwarded-proto", b"forwarded"))


class ServeApp(FastAPI):
    """The FastAPI application with a lean path for JSON inference.

    ``:predict`` (TF Serving) and ``/infer`` (KServe v2) are the requests a server answers
    by the thousand, so they skip FastAPI's routing, dependency injection and middleware
    chain: :meth:`__call__` answers them straight from the ASGI scope with the same
    functions the FastAPI routes call (:func:`_start_predict_v1`, :func:`_start_infer_v2`),
    and hands every other request to FastAPI. Both kinds pass the
    :class:`~qkeras.serve.gate.Gate` first (token check, body limit, metrics, access log).
    With CORS on, every request takes the FastAPI path, where the CORS middleware is.

    Under :class:`~qkeras.serve.protocol.HttpProtocol`, the HTTP protocol asks
    :meth:`fast_lane` first and answers such a request without ASGI, without a task of
    its own and without awaiting: the model call's future calls back with the answer.
    """

    def _wire(self, server: _Server, gate_options: dict) -> None:
        self.state.server = server
        self._server = server
        self._lean = not server.options.cors_origins
        self._fast_path = self._lean and server.options.fast_path
        self._gate = Gate(self._dispatch, **gate_options)
        self._routes: dict[bytes, tuple] = {}  # request target -> fast-lane route

    async def __call__(self, scope, receive, send) -> None:
        await self._gate(scope, receive, send)

    async def _dispatch(self, scope, receive, send) -> None:
        start = self._lean_handler(scope) if self._lean else None
        if start is None:
            await super().__call__(scope, receive, send)
            return
        status, body = await self._answer(scope, _read_then(start, receive))
        await send({"type": "http.response.start", "status": status,
                    "headers": [*_JSON_HEADERS, (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _answer(scope, reply) -> tuple[int, bytes]:
        """Status and JSON body of a lean request from the awaitable ``reply`` of its
        handler; never raises for a request's fault."""
        try:
            return 200, _dumps(await reply)
        except Exception as err:
            return _fault_reply(err, scope["path"])

    def watch_connections(self, connections: Collection) -> None:
        """Lets the micro-batchers count the server's open client connections, for their
        early start (see :mod:`qkeras.serve.batching`).
        :func:`~qkeras.serve.server.make_server` passes uvicorn's set of them, which
        uvicorn keeps up to date as connections open and close.

        Example:
            >>> from qkeras.serve import ModelRepository
            >>> app = create_app(ModelRepository())
            >>> app.watch_connections({"one", "two"})
            >>> len(app.state.server.connections)
            2
        """
        self._server.connections = connections

    def fast_lane(self, method: bytes, url: bytes, headers: list, client):
        """``answer(raw_body, respond)`` for a request the HTTP protocol may answer
        without ASGI, else ``None`` (then it goes through :meth:`__call__`).

        Only a JSON inference request (see :meth:`_lean_handler`) on a plain path (no
        query string or escapes), with a declared ``Content-Length`` that the
        :class:`~qkeras.serve.gate.Gate` would let in, and no proxy headers (uvicorn's
        proxy middleware rewrites the client address from them), is answered this way.
        ``answer`` parses the body and starts the model call at once; ``respond(status,
        json_body)`` is called exactly once, when the answer is ready (at once for a
        request's fault). The answer passes the same Gate bookkeeping as every request:
        the in-flight count, the metrics and the access log.

        Args:
            method: The request method, as the HTTP parser gives it.
            url: The request target.
            headers: ``(lower-case name, value)`` pairs.
            client: The client's ``(host, port)``, or ``None``.

        Example:
            >>> import asyncio
            >>> from qkeras import keras
            >>> from qkeras.serve import ModelRepository, Servable
            >>> model = keras.Sequential([keras.Input((2,), name="x"),
            ...                           keras.layers.Dense(1, name="y",
            ...                                              kernel_initializer="ones")])
            >>> repo = ModelRepository()
            >>> repo.add(Servable.from_keras(model, "m"))
            >>> app = create_app(repo)
            >>> headers = [(b"content-length", b"24")]
            >>> app.fast_lane(b"GET", b"/v1/models/m", headers, None) is None
            True
            >>> answer = app.fast_lane(b"POST", b"/v1/models/m:predict", headers, None)
            >>> async def main():
            ...     done = asyncio.get_running_loop().create_future()
            ...     answer(b'{"instances": [[1, 2]]}', lambda *reply: done.set_result(reply))
            ...     return await done
            >>> asyncio.run(main())
            (200, b'{"predictions":[[3.0]]}')
        """
        if method != b"POST" or not self._fast_path:
            return None
        route = self._routes.get(url)
        if route is None:
            plain = b"?" not in url and b"%" not in url
            route = self._route(url.decode("latin-1")) if plain else ()
            if len(self._routes) < 1024:  # the paths a server sees are few; junk is not kept
                self._routes[url] = route
        if not route:
            return None
        length = None
        for name, value in headers:
            if name == b"content-length":
                length = value
            elif name in _PROXY_HEADERS:
                return None
        gate = self._gate
        if length is None or not length.isdigit() or int(length) > gate.max_body_bytes:
            return None  # the ASGI path answers it (411 or 413) as it answers all others
        scope = {"type": "http", "method": "POST", "path": route[0], "headers": headers,
                 "client": client}
        if gate.tokens is not None and gate.refusal(scope) is not None:
            return None
        return functools.partial(self._fast, route, scope)

    def _fast(self, route, scope, raw: bytes, respond) -> None:
        """Starts a fast-lane answer; see :meth:`fast_lane`."""
        done = self._gate.track(scope, len(raw), respond)
        try:
            future, reply = route[1](self._server, scope, *route[2:], raw)
        except Exception as err:
            done(*_fault_reply(err, scope["path"]))
            return

        def finish(result: asyncio.Future) -> None:
            try:
                body = _dumps(reply(result.result()))
            except BaseException as err:  # a cancelled call too: the request still answers
                done(*_fault_reply(err, scope["path"]))
            else:
                done(200, body)

        future.add_done_callback(finish)

    @staticmethod
    def _route(path: str) -> tuple:
        """``(path, start, *args)`` of a JSON inference path, where ``start(server, scope,
        *args, raw_body)`` is :func:`_start_predict_v1` or :func:`_start_infer_v2`; ``()``
        for any other path."""
        if path.startswith("/v1/models/") and path.endswith(":predict"):
            return path, _start_predict_v1, path[len("/v1/models/"):]
        match = _V2_INFER.match(path) if path.startswith("/v2/models/") else None
        if match is None:
            return ()
        version = int(match["version"]) if match["version"] else None
        return path, _start_infer_v2, match["name"], version

    def _lean_handler(self, scope):
        """``start(raw_body) -> (future, reply)`` for a JSON inference request, else
        ``None``."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        route = self._route(scope["path"])
        if not route:
            return None
        return functools.partial(route[1], self._server, scope, *route[2:])


def _fault_reply(err: BaseException, path: str) -> tuple[int, bytes]:
    """Status and JSON body for what stopped a lean request: a request's fault (4xx), or
    a fault of the server or the model (500, logged, never with the body)."""
    if isinstance(err, QKerasError):
        return _error_reply(err, "POST", path)
    if not isinstance(err, Exception):  # a cancelled model call: the server is stopping
        err = ServingError("The server is shutting down; retry on another replica.",
                           "UNAVAILABLE")
        return _error_reply(err, "POST", path)
    log.error("POST %s failed", path, exc_info=err)
    return 500, _dumps(tfserving.error_body(
        "Internal error while running the model; see the server's log."))


async def _read_then(start, receive):
    """The reply object of the lean request ``start`` for the body read from
    ``receive``."""
    return await _answered(start, await _read(receive))


async def _read(receive) -> bytes:
    """The whole request body (the Gate's ``receive`` enforces the size limit)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ServingError("The client closed the connection.", "CANCELLED")
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def create_app(repository: ModelRepository, options: ServeOptions | None = None, *,
               metrics: ServeMetrics | None = None) -> FastAPI:
    """Builds the ASGI application for a model repository.

    Starting it (its lifespan) starts the repository's polling thread; stopping it finishes
    the queued requests, stops polling and shuts the model threads down.

    Args:
        repository: The models to serve.
        options: Batching, limits, auth, CORS and UI (default :class:`ServeOptions`).
        metrics: Where to count (default: new :class:`ServeMetrics` in its own registry).

    Returns:
        A :class:`ServeApp` (a FastAPI application; ``app.state.server`` holds the state).
    """
    options = options or ServeOptions()
    metrics = metrics or ServeMetrics()
    server = _Server(repository, options, metrics)
    previous = repository.on_load

    def on_load(servable: Servable) -> None:
        server.warm_up(servable)  # a hot-loaded version is published after this
        metrics.observe_load(servable.name, str(servable.version), servable.load_seconds)
        if previous is not None:
            previous(servable)

    repository.on_load = on_load
    for name in repository.names():
        for version, servable in repository.versions(name).items():
            metrics.observe_load(name, str(version), servable.load_seconds)
    metrics.track_loaded(lambda: sum(len(repository.versions(n)) for n in repository.names()))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        loop = asyncio.get_running_loop()
        for name in repository.names():  # loaded before the app: warm up before serving
            for servable in repository.versions(name).values():
                await loop.run_in_executor(server.executor, server.warm_up, servable)
        repository.start()
        log.info("serving %s", ", ".join(repository.names()) or "no model yet")
        try:
            yield
        finally:
            await server.close()
            repository.stop()
            log.info("shutdown complete")

    app = ServeApp(title="qkeras serve", lifespan=lifespan, docs_url=None, redoc_url=None,
                   openapi_url=None)
    app._wire(server, {"metrics": metrics, "max_body_bytes": options.max_body_bytes,
                       "tokens": TokenCheck(options.tokens) if options.tokens else None,
                       "counter": server.in_flight})
    _errors(app)
    _tfserving_routes(app, server)
    _kserve_routes(app, server)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus():
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    if options.ui:
        _ui_routes(app, server)
    if options.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(options.cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])
    return app
