"""uvicorn's HTTP/1.1 protocol, with each small response sent in one write and a fast
path for JSON inference.

uvicorn's ``httptools`` protocol writes a response's status line and headers as soon as
the application sends ``http.response.start``, and the body in a second write. Each write
is a ``send`` system call and, on a connection with ``TCP_NODELAY`` (uvicorn sets it), a
packet of its own, which the client then reads separately. :class:`CoalescingTransport`
holds the writes made during one step of the event loop and sends them joined at the end
of that step (``loop.call_soon``), so a JSON answer of a few hundred bytes leaves in one
call. Writes are never reordered or delayed past the current step; large writes
(``JOIN_LIMIT``) are passed on as they are instead of being copied into one buffer.

aiohttp made the same change for its server (aio-libs/aiohttp#10991); uvicorn has no
option for it, so :class:`HttpProtocol` wraps the connection's transport in
``connection_made`` and changes nothing else.

The fast path: for a request the application's ``fast_lane`` accepts (in ``qkeras
serve``, a JSON ``:predict`` or ``/infer`` request, see
:meth:`qkeras.serve.app.ServeApp.fast_lane`), :class:`HttpProtocol` hands the body to the
application as soon as it is read, and writes the answer when the application calls back
with it, instead of running the application through ASGI's scope and message dicts,
``receive`` and ``send``, in a task of its own: the event loop's work per request is
what a micro-batching server spends its time on (the "loop us" column of ``python
scripts/bench/serve.py``). Everything else about the request stays uvicorn's: its parser,
its request-cycle rules (pipelined requests are answered in order, a graceful shutdown
closes the connection after the answer in progress, a client that goes away gets nothing
written), keep-alive, ``Expect: 100-continue``, its default headers and its response
counter. A request the application does not accept takes the ASGI path.

See :class:`CoalescingTransport` and :class:`HttpProtocol` for examples.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

__all__ = ["CoalescingTransport", "HttpProtocol", "JOIN_LIMIT"]

#: Largest total of held writes that is joined into one buffer (bigger ones are not copied).
JOIN_LIMIT = 64 * 1024

log = logging.getLogger(__name__)

_JSON_HEAD = b"content-type: application/json\r\ncontent-length: %d\r\n"
_INTERNAL_ERROR = (STATUS_LINE[500] + b"content-type: text/plain; charset=utf-8\r\n"
                   b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error")


class CoalescingTransport:
    """An ``asyncio.Transport`` proxy that joins the writes of one event-loop step.

    Args:
        transport: The connection's transport.
        loop: The event loop the transport belongs to.

    Every attribute but the write path is the wrapped transport's. ``close`` and
    ``write_eof`` send what is held first; ``abort`` drops it, as an abort drops the
    transport's own buffer.

    Example:
        >>> import asyncio
        >>> class Transport:
        ...     writes = []
        ...     def write(self, data): self.writes.append(data)
        ...     def is_closing(self): return False
        ...     def close(self): self.writes.append("closed")
        >>> async def main():
        ...     wrapped = CoalescingTransport(Transport(), asyncio.get_running_loop())
        ...     wrapped.write(b"a")
        ...     wrapped.write(b"b")
        ...     wrapped.close()
        >>> asyncio.run(main())
        >>> Transport.writes
        [b'ab', 'closed']
    """

    __slots__ = ("_transport", "_loop", "_held", "_size")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Holds ``data`` until the end of the current event-loop step."""
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        # The caller may reuse a mutable buffer once write returns, as with any transport.
        self._held.append(data if isinstance(data, bytes) else bytes(data))
        self._size += len(data)

    def write_now(self, data: bytes) -> None:
        """Sends ``data`` at once if nothing is held (one answer in one write needs no
        joining), else holds it behind what is.

        Example:
            >>> class Transport:
            ...     writes = []
            ...     def write(self, data): self.writes.append(data)
            >>> wrapped = CoalescingTransport(Transport(), loop=None)
            >>> wrapped.write_now(b"answer")
            >>> Transport.writes
            [b'answer']
        """
        if self._held:
            self.write(data)
        elif data:
            self._transport.write(data)

    def writelines(self, list_of_data) -> None:
        """Holds every buffer of ``list_of_data``, in order."""
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Sends what is held now: one write if small, else one write per held buffer."""
        held, size = self._held, self._size
        if not held:
            return
        self._held, self._size = [], 0
        if self._transport.is_closing():
            return
        if len(held) == 1:
            self._transport.write(held[0])
        elif size <= JOIN_LIMIT:
            self._transport.write(b"".join(held))
        else:
            for data in held:
                self._transport.write(data)

    def is_closing(self) -> bool:
        """The transport's own ``is_closing`` (asked twice per answer, so not through
        ``__getattr__``)."""
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        """Bytes held here plus the transport's own buffer."""
        return self._size + self._transport.get_write_buffer_size()

    def close(self) -> None:
        """Sends what is held, then closes the transport."""
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        """Sends what is held, then half-closes the transport."""
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        """Drops what is held and aborts the transport."""
        self._held, self._size = [], 0
        self._transport.abort()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class _FastCycle:
    """The state of one request on the fast lane, in the place of uvicorn's
    ``RequestResponseCycle`` (whose attributes the protocol's pipelining, shutdown and
    disconnect handling read)."""

    __slots__ = ("answer", "body", "keep_alive", "complete", "started", "response_complete",
                 "disconnected", "path", "expect_100_continue")

    class _NoEvent:
        @staticmethod
        def set() -> None:
            """Nothing waits on a fast request's messages."""

    message_event = _NoEvent()

    def __init__(self, answer, keep_alive: bool, path: bytes, expect_100_continue: bool,
                 ) -> None:
        self.answer, self.keep_alive, self.path = answer, keep_alive, path
        self.expect_100_continue = expect_100_continue
        self.body: list[bytes] = []
        self.complete = self.started = self.response_complete = self.disconnected = False


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's ``httptools`` protocol on a :class:`CoalescingTransport`, with a fast lane.

    Pass the class as ``uvicorn.Config(http=HttpProtocol)``; :func:`qkeras.serve.server.run`
    does. If the application (``config.app``) has a ``fast_lane(method, url, headers,
    client)`` method, each request is offered to it once its headers are read. A returned
    ``answer(raw_body, respond)`` is called with the whole body and calls ``respond(status,
    json_body)`` when the answer is ready, which is sent as an ``application/json``
    response (a client that sent ``Expect: 100-continue`` is asked for the body first).
    ``None`` (and any upgrade request) sends the request through ASGI as usual.

    A fast request costs neither an ASGI scope, a request cycle nor a task: the parser's
    callbacks start the answer, the model call's future writes it. uvicorn's
    request-cycle rules hold for both kinds alike: pipelined requests are answered in
    order, a graceful shutdown closes the connection after the answer in progress, a
    client that goes away gets nothing written, and keep-alive, default headers and the
    response counter are uvicorn's.

    Example:
        >>> import uvicorn
        >>> config = uvicorn.Config(lambda scope, receive, send: None, http=HttpProtocol)
        >>> config.http is HttpProtocol
        True
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CoalescingTransport(transport, self.loop)
        self._lane = getattr(self.config.app, "fast_lane", None)
        self._defaults: list | None = None  # the default headers of _default_head
        self._default_head = b""
        self._idle_since: float | None = None  # since when no request is in progress

    def on_message_begin(self) -> None:
        if self._lane is None:
            super().on_message_begin()
            return
        # The scope is built only for a request that takes the ASGI path (_to_asgi).
        self._unset_keepalive_if_required()  # a request follows in the same read
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def on_headers_complete(self) -> None:
        parser = self.parser
        answer = None
        if self._lane is not None and not parser.should_upgrade():
            answer = self._lane(parser.get_method(), self.url, self.headers, self.client)
        if answer is None:
            self._to_asgi()
            return
        keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
        cycle = _FastCycle(answer, keep_alive, self.url, self.expect_100_continue)
        existing, self.cycle = self.cycle, cycle  # type: ignore[assignment]
        if existing is None or existing.response_complete:
            self._start_fast(cycle)
        else:  # pipelined: it starts when the answer before it is sent
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, None))  # type: ignore[arg-type]

    def _to_asgi(self) -> None:
        """Hands the request whose headers were just read to uvicorn's ASGI handling."""
        if self._lane is not None:  # build the scope on_message_begin skipped
            url, headers, expect = self.url, self.headers, self.expect_100_continue
            super().on_message_begin()
            self.url, self.headers, self.expect_100_continue = url, headers, expect
            self.scope["headers"] = headers
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if type(cycle) is _FastCycle:
            cycle.body.append(body)  # the Gate let in its declared length, no more
        else:
            super().on_body(body)

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if type(cycle) is _FastCycle:
            cycle.complete = True
            if cycle.started:
                self._answer_fast(cycle)
        else:
            super().on_message_complete()

    def _start_asgi_task(self, cycle, app) -> None:
        """Starts a request the pipeline held back: a fast one once its body is in."""
        if type(cycle) is _FastCycle:
            self._start_fast(cycle)
            if cycle.complete:
                self._answer_fast(cycle)
            return
        super()._start_asgi_task(cycle, app)

    def _start_fast(self, cycle: _FastCycle) -> None:
        """Lets a fast request be answered once its body is in, asking a client that
        waits for it (``Expect: 100-continue``) for the body."""
        cycle.started = True
        if cycle.expect_100_continue and not cycle.complete:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _answer_fast(self, cycle: _FastCycle) -> None:
        """Starts the application's answer to a fast request; an error of the fast lane
        itself is a 500 and closes the connection, as uvicorn does for the ASGI path."""
        try:
            cycle.answer(b"".join(cycle.body), functools.partial(self._respond, cycle))
        except Exception:
            log.exception("Exception in the fast path of %s", cycle.path.decode("latin-1"))
            cycle.response_complete = True
            if not cycle.disconnected:
                self.transport.write(_INTERNAL_ERROR)
            self.transport.close()

    def _respond(self, cycle: _FastCycle, status: int, body: bytes) -> None:
        """Sends a fast request's answer and ends its cycle, as uvicorn's ``send`` does."""
        if cycle.disconnected or cycle.response_complete or self.transport.is_closing():
            return  # the client left (an answer pipelined behind another one, too)
        defaults = self.server_state.default_headers  # uvicorn renews it every second
        if defaults is not self._defaults:
            self._defaults = defaults
            self._default_head = b"".join(b"%s: %s\r\n" % header for header in defaults)
        self.transport.write_now(b"".join((
            STATUS_LINE[status], self._default_head, _JSON_HEAD % len(body),
            b"\r\n" if cycle.keep_alive else b"connection: close\r\n\r\n", body)))
        cycle.response_complete = True
        if not cycle.keep_alive:
            self.transport.close()
        if self.flow.write_paused:  # the client reads slowly: next request after a drain
            task = self.loop.create_task(self._after_drain())
            task.add_done_callback(self.tasks.discard)  # held, as uvicorn holds its tasks
            self.tasks.add(task)
        else:
            self.on_response_complete()

    # Keep-alive: uvicorn arms a timer after every answer and cancels it at every read,
    # two libuv timer operations per request. Here one timer stays armed while the
    # connection lives and, when it fires, closes the connection only if it has been idle
    # (no request since its last answer) for the whole timeout, else waits out the rest.

    def _unset_keepalive_if_required(self) -> None:
        self._idle_since = None  # a request is coming in: not idle

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:  # start the pipelined request next in line
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                                self._keep_alive_due)

    def _keep_alive_due(self) -> None:
        self.timeout_keep_alive_task = None
        if self._idle_since is None or self.transport.is_closing():
            return  # busy: the answer in progress arms the timer again
        left = self._idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self._keep_alive_due)
        else:
            self.timeout_keep_alive_handler()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    async def _after_drain(self) -> None:
        await self.flow.drain()
        self.on_response_complete()
