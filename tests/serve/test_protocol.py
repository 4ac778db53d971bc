"""The HTTP protocol that sends each small response in one write, through uvicorn's parser."""

from __future__ import annotations

import asyncio

import pytest
import uvicorn
from uvicorn.server import ServerState

from qkeras.serve.protocol import JOIN_LIMIT, CoalescingTransport, HttpProtocol


class Transport(asyncio.Transport):
    """Records what reaches the socket."""

    def __init__(self):
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data):
        assert not self.closed, "write after close"
        self.writes.append(bytes(data))

    def is_closing(self):
        return self.closed

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = self.closed = True

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, name, default=None):
        return {"sockname": ("127.0.0.1", 8501), "peername": ("127.0.0.1", 40000)}.get(
            name, default)

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


async def _app(scope, receive, send):
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    reply = b'{"echo": %d}' % len(body)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(reply)).encode())]})
    await send({"type": "http.response.body", "body": reply})


def _request(body: bytes, close: bool = False) -> bytes:
    connection = b"connection: close\r\n" if close else b""
    return (b"POST /v1/models/m:predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json"
            b"\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), connection, body))


async def _serve(requests: list[bytes]) -> Transport:
    config = uvicorn.Config(_app, http=HttpProtocol, lifespan="off", log_level="warning")
    config.load()
    protocol = HttpProtocol(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    protocol.connection_made(transport)
    for request in requests:
        protocol.data_received(request)
        for _ in range(20):  # let the request task run and the held writes go out
            await asyncio.sleep(0)
    return transport


def test_uvicorn_sends_head_and_body_of_each_response_in_one_write():
    transport = asyncio.run(_serve([_request(b'{"instances": [[1.0]]}'),
                                    _request(b"{}")]))
    assert len(transport.writes) == 2, transport.writes  # one per response, not two
    for write, length in zip(transport.writes, (22, 2)):
        head, _, body = write.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert body == b'{"echo": %d}' % length
    assert not transport.closed


def test_a_closing_response_is_sent_before_the_connection_closes():
    transport = asyncio.run(_serve([_request(b"{}", close=True)]))
    assert transport.closed
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b'{"echo": 2}')


def test_writes_keep_their_order_and_large_ones_are_not_copied():
    async def main():
        raw = Transport()
        wrapped = CoalescingTransport(raw, asyncio.get_running_loop())
        buffer = bytearray(b"head")
        wrapped.write(buffer)
        buffer[:] = b"XXXX"  # reusing the buffer after write must not change what is sent
        wrapped.write(b"")
        wrapped.writelines([b"-1", b"-2"])
        assert raw.writes == [] and wrapped.get_write_buffer_size() == 8
        await asyncio.sleep(0)
        assert raw.writes == [b"head-1-2"]
        big = b"x" * JOIN_LIMIT
        wrapped.write(b"head")
        wrapped.write(big)
        await asyncio.sleep(0)
        assert raw.writes[1:] == [b"head", big]
        assert raw.writes[2] is big
        return raw

    asyncio.run(main())


@pytest.mark.parametrize("ending", ["abort", "closed underneath"])
def test_held_writes_are_dropped_on_abort_or_a_closed_transport(ending):
    async def main():
        raw = Transport()
        wrapped = CoalescingTransport(raw, asyncio.get_running_loop())
        wrapped.write(b"lost")
        if ending == "abort":
            wrapped.abort()
            assert raw.aborted
        else:
            raw.closed = True
        await asyncio.sleep(0)
        return raw

    raw = asyncio.run(main())
    assert raw.writes == []


def test_write_eof_sends_what_is_held_first():
    events = []

    class Half(Transport):
        def write_eof(self):
            events.append("eof")

        def write(self, data):
            events.append(bytes(data))

    async def main():
        wrapped = CoalescingTransport(Half(), asyncio.get_running_loop())
        wrapped.write(b"last")
        wrapped.write_eof()

    asyncio.run(main())
    assert events == [b"last", "eof"]
