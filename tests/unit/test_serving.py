"""How the API is served (kai_labs/sim/apiserver/serving.py), on real sockets with a real TLS stack:
connections that never finish a TLS handshake are closed within the timeout and cost no handshake
slot until their ClientHello is complete; a real client is served meanwhile; malformed HTTP is a Status."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from kai_labs.sim.apiserver import serving, tls

# a TLS handshake record of 512 bytes of which only 6 arrive
PARTIAL_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03])


def client_hello() -> bytes:
    """A complete, real ClientHello (Python's TLS client's first flight)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out := ssl.MemoryBIO(), server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


def run_gate(tmp_path: Path, scenario: Callable[[serving.TLSGate, int, ssl.SSLContext], Awaitable[None]],
             **limits: float) -> None:
    server_ctx = tls.server_context(tmp_path)
    client_ctx = tls.client_context(tmp_path)

    async def main() -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        gate = serving.TLSGate(sock, Echo, server_ctx, **limits)  # type: ignore[arg-type]
        try:
            await asyncio.wait_for(scenario(gate, sock.getsockname()[1], client_ctx), 30)
        finally:
            gate.close()

    asyncio.run(main())


async def open_raw(port: int, n: int, first: bytes = b"") -> list[socket.socket]:
    loop = asyncio.get_running_loop()
    out = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        await loop.sock_connect(s, ("127.0.0.1", port))
        if first:
            await loop.sock_sendall(s, first)
        out.append(s)
    return out


def closed_by_peer(s: socket.socket) -> bool:
    try:
        while True:
            if s.recv(65536) == b"":
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


async def echo_roundtrip(port: int, ctx: ssl.SSLContext) -> float:
    loop = asyncio.get_running_loop()
    t = loop.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1")
    writer.write(b"ping")
    assert await reader.readexactly(4) == b"ping"
    writer.close()
    return loop.time() - t


def test_silent_and_half_hello_connections_are_closed_and_a_client_is_served(tmp_path: Path) -> None:
    async def scenario(gate: serving.TLSGate, port: int, ctx: ssl.SSLContext) -> None:
        silent = await open_raw(port, 200)
        partial = await open_raw(port, 100, PARTIAL_HELLO)
        await asyncio.sleep(0.2)
        assert gate.stats.accepted == 300
        assert len(gate._handshaking) == 0  # noqa: SLF001 - none of them holds a handshake (or its buffers)
        assert await echo_roundtrip(port, ctx) < 0.5  # a real client meanwhile
        await asyncio.sleep(1.2)  # past the handshake timeout
        assert all(closed_by_peer(s) for s in silent + partial)
        assert gate.stats.expired == 300
        for s in silent + partial:
            s.close()

    run_gate(tmp_path, scenario, handshake_timeout=1.0)


def test_the_oldest_silent_connection_gives_way_when_too_many_wait(tmp_path: Path) -> None:
    async def scenario(gate: serving.TLSGate, port: int, ctx: ssl.SSLContext) -> None:
        silent = await open_raw(port, 50)
        await asyncio.sleep(0.2)
        assert len(gate._waiting) == 10  # noqa: SLF001
        assert gate.stats.dropped_waiting == 40
        assert all(closed_by_peer(s) for s in silent[:40]) and not any(closed_by_peer(s) for s in silent[40:])
        assert await echo_roundtrip(port, ctx) < 0.5
        for s in silent:
            s.close()

    run_gate(tmp_path, scenario, max_waiting=10)


def test_stalled_handshakes_give_their_slots_to_a_new_client(tmp_path: Path) -> None:
    """Clients that send a whole ClientHello and then stall hold every slot; after PREEMPT_AFTER the oldest
    gives way, so a real client waits about a second, not the whole timeout."""
    async def scenario(gate: serving.TLSGate, port: int, ctx: ssl.SSLContext) -> None:
        stalled = await open_raw(port, 20, client_hello())
        await asyncio.sleep(0.3)
        assert len(gate._handshaking) == 4  # noqa: SLF001 - the slots, no more
        took = await echo_roundtrip(port, ctx)
        assert took < serving.PREEMPT_AFTER + 1.0
        assert gate.stats.preempted >= 1 and gate.stats.served == 1
        for s in stalled:
            s.close()

    run_gate(tmp_path, scenario, handshake_timeout=5.0, max_handshakes=4)


# -- HTTP through the site ---------------------------------------------------------------------------
def run_site(tmp_path: Path, scenario: Callable[[int, ssl.SSLContext], Awaitable[None]]) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", hello)
        runner = serving.make_runner(app)
        await runner.setup()
        site = serving.TLSSite(runner, "127.0.0.1", 0, tls.server_context(tmp_path))
        await site.start()
        try:
            await asyncio.wait_for(scenario(site.port, tls.client_context(tmp_path)), 30)
        finally:
            await runner.cleanup()

    asyncio.run(main())


async def raw_request(port: int, ctx: ssl.SSLContext, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1")
    writer.write(request)
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_overlong_request_lines_and_headers_are_431_statuses(tmp_path: Path) -> None:
    """net/http answers a request line plus headers over MaxHeaderBytes with 431 (never 414)."""
    async def scenario(port: int, ctx: ssl.SSLContext) -> None:
        status, _ = await raw_request(port, ctx, b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 200
        for req in (b"GET /?q=" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
                    b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n"):
            status, body = await raw_request(port, ctx, req)
            assert status == 431
            st = json.loads(body)
            assert st["kind"] == "Status" and st["code"] == 431
            assert st["message"] == "431 Request Header Fields Too Large"

    run_site(tmp_path, scenario)


def test_a_malformed_request_line_is_a_400_status(tmp_path: Path) -> None:
    async def scenario(port: int, ctx: ssl.SSLContext) -> None:
        status, body = await raw_request(port, ctx, b"GET /a?l=a in () HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 400
        st = json.loads(body)
        assert st["kind"] == "Status" and st["reason"] == "BadRequest" and st["message"].startswith("400 Bad Request")

    run_site(tmp_path, scenario)
