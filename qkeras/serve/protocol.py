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

The fast path: for a request the application's ``fast_route(scope)`` accepts (in
``qkeras serve``, a JSON ``:predict`` or ``/infer`` request, see
:meth:`qkeras.serve.app.ServeApp.fast_route`), :class:`HttpProtocol` runs the answer
coroutine itself and writes the response, instead of running the application through
ASGI's message dicts, ``receive`` and ``send``. Everything else about the request stays
uvicorn's: its parser, its request cycle (pipelined requests wait their turn, a graceful
shutdown waits for the task and closes the connection after the answer, a client that
goes away is noticed), keep-alive, ``Expect: 100-continue``, its default headers and the
concurrency limit. A request the application does not accept takes the ASGI path.

See :class:`CoalescingTransport` and :class:`HttpProtocol` for examples.
"""

from __future__ import annotations

import asyncio
import contextvars
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


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's ``httptools`` protocol on a :class:`CoalescingTransport`, with a fast path.

    Pass the class as ``uvicorn.Config(http=HttpProtocol)``; :func:`qkeras.serve.server.run`
    does. If the application (``config.app``) has a ``fast_route(scope)`` method, each
    request is offered to it once its headers are read: a returned coroutine function,
    called with the whole body, gives ``(status, json_body)``, which is sent as an
    ``application/json`` response. ``None`` sends the request through ASGI as usual.

    Example:
        >>> import uvicorn
        >>> config = uvicorn.Config(lambda scope, receive, send: None, http=HttpProtocol)
        >>> config.http is HttpProtocol
        True
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CoalescingTransport(transport, self.loop)
        self._fast_route = getattr(self.config.app, "fast_route", None)

    def _start_asgi_task(self, cycle, app) -> None:
        """Starts the request's task: the fast answer if the application takes the request,
        else uvicorn's ASGI run (also for the 503 of uvicorn's concurrency limit)."""
        answer = (self._fast_route(cycle.scope)
                  if self._fast_route is not None and app is self.app else None)
        if answer is None:
            super()._start_asgi_task(cycle, app)
            return
        coroutine = self._run_fast(cycle, answer)
        if self.config.reset_contextvars:  # as uvicorn does (python/cpython#140947)
            task = self.loop.create_task(coroutine, context=contextvars.Context())
        else:
            task = self.loop.create_task(coroutine)
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def _run_fast(self, cycle, answer) -> None:
        """Reads the whole body as ``receive`` does, answers, and ends the cycle as ``send``
        does; an error of ``answer`` itself is a 500 and closes the connection, as in
        uvicorn's ``run_asgi``."""
        try:
            if cycle.waiting_for_100_continue and not self.transport.is_closing():
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                cycle.waiting_for_100_continue = False
            while cycle.more_body and not cycle.disconnected:
                self.flow.resume_reading()
                await cycle.message_event.wait()
                cycle.message_event.clear()
            if cycle.disconnected:
                return
            status, body = await answer(bytes(cycle.body))
            if self.flow.write_paused and not cycle.disconnected:
                await self.flow.drain()
            if cycle.disconnected:
                return
            cycle.response_started = True
            head = [STATUS_LINE[status]]
            head.extend(b"%s: %s\r\n" % header for header in cycle.default_headers)
            head.append(_JSON_HEAD % len(body))
            if not cycle.keep_alive:
                head.append(b"connection: close\r\n")
            head.append(b"\r\n")
            head.append(body)
            self.transport.write(b"".join(head))
            cycle.response_complete = True
            cycle.message_event.set()
            if not cycle.keep_alive:
                self.transport.close()
            cycle.on_response()
        except asyncio.CancelledError:  # a forced shutdown
            self.transport.close()
            raise
        except Exception:
            log.exception("Exception in the fast path of %s", cycle.scope.get("path"))
            if not cycle.response_started and not cycle.disconnected:
                self.transport.write(_INTERNAL_ERROR)
            self.transport.close()
        finally:
            cycle.on_response = lambda: None
