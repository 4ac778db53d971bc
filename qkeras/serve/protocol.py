"""uvicorn's HTTP/1.1 protocol with each small response sent in one write.

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

See :class:`CoalescingTransport` for an example.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["CoalescingTransport", "HttpProtocol", "JOIN_LIMIT"]

#: Largest total of held writes that is joined into one buffer (bigger ones are not copied).
JOIN_LIMIT = 64 * 1024


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
    """uvicorn's ``httptools`` protocol on a :class:`CoalescingTransport`.

    Pass the class as ``uvicorn.Config(http=HttpProtocol)``; :func:`qkeras.serve.server.run`
    does.

    Example:
        >>> import uvicorn
        >>> config = uvicorn.Config(lambda scope, receive, send: None, http=HttpProtocol)
        >>> config.http is HttpProtocol
        True
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CoalescingTransport(transport, self.loop)
