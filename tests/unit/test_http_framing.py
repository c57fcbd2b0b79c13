"""HTTP/1.1 framing (kai_labs.sim.network.http1, from h11) in the Pods' servers, the shell's curl and
cluster.net's curl: chunked request bodies, oversized heads, and clients bounded by their timeout."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from kai_labs.sim.network import http1, nethttp
from tests.unit.fakenet import World
from tests.unit.test_images import AGNHOST, curl, go, start


async def _raw(port: int, data: bytes, until_close: bool = True) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(data)
    await w.drain()
    out = b""
    try:
        while chunk := await asyncio.wait_for(r.read(65536), 5):
            out += chunk
            if not until_close and out.count(b"HTTP/1.1 ") >= 2 and out.endswith(b"netexec-0"):
                break
    finally:
        w.close()
    return out


def test_chunked_post_to_netexec_echo_then_keep_alive():
    # before h11 the chunk-size line "5" was read as the next request line and the connection dropped
    async def main() -> None:
        world = World()
        ne = await start(world, "netexec-0", "10.244.1.11", {"image": AGNHOST, "args": ["netexec"]})
        port = ne.c.bound[8080]
        req = (b"POST /echo?msg=chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
               b"GET /hostname HTTP/1.1\r\nHost: x\r\n\r\n")
        out = await _raw(port, req, until_close=False)
        first, _, second = out.partition(b"chunked")
        assert first.startswith(b"HTTP/1.1 200 OK\r\n"), out
        assert second.lstrip().startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"netexec-0"), out
        await ne.c.stop()
    go(main)


def test_oversized_header_gets_431_and_the_server_stays_up():
    # before: a header line over 64 KiB raised an uncaught ValueError in the server
    async def main() -> None:
        world = World()
        ne = await start(world, "netexec-0", "10.244.1.11", {"image": AGNHOST, "args": ["netexec"]})
        port = ne.c.bound[8080]
        big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (http1.MAX_HEADER_BYTES + 100_000) + b"\r\n\r\n"
        out = await _raw(port, big)
        assert out == (b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
                       b"Connection: close\r\n\r\n431 Request Header Fields Too Large")
        # a 100 KiB header is fine for Go (its limit is 1 MiB), and the server still answers
        ok = await _raw(port, b"GET /hostname HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000
                        + b"\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 OK\r\n") and ok.endswith(b"netexec-0"), ok[:200]
        await ne.c.stop()
    go(main)


async def _trickler() -> tuple[asyncio.Server, int]:
    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(65536)
        try:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                w.write(b"x")
                await w.drain()
                await asyncio.sleep(0.05)
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()
    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


def test_shell_curl_max_time_bounds_a_trickling_server():
    async def main() -> None:
        srv, port = await _trickler()
        world = World()
        world.endpoints[("10.244.1.20", 80)] = port
        t = time.monotonic()
        code, _, err = await curl(world, "-sS", "--max-time", "0.5", "http://10.244.1.20/")
        assert code == 28 and "Operation timed out after" in err
        assert time.monotonic() - t < 1.5
        srv.close()
    go(main)


@dataclass
class _Route:
    endpoint: tuple[str, int] | None


@dataclass
class _Net:
    port: int
    forgotten: list[Any] = field(default_factory=list)

    async def connect(self, ip: str, port: int, timeout: float, **_: Any) -> Any:
        r, w = await asyncio.open_connection("127.0.0.1", self.port)
        return r, w, _Route((ip, port))

    def forget(self, writer: Any) -> None:
        self.forgotten.append(writer)


def test_cluster_net_curl_timeout_bounds_a_trickling_server():
    # before: every read got the whole remaining time again, so a trickle never timed out
    async def main() -> None:
        srv, port = await _trickler()
        net = _Net(port)
        t = time.monotonic()
        out = await nethttp.curl(net, {"url": "http://10.244.1.20/", "timeout": 0.5}, "kai-worker")  # type: ignore[arg-type]
        assert out["error"] == "timeout" and out["backend"] == "10.244.1.20"
        assert time.monotonic() - t < 1.5
        srv.close()
    go(main)


def test_cluster_net_curl_reads_chunked_and_length_bodies():
    async def main() -> None:
        async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await r.read(65536)
            w.write(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            await w.drain()
            w.close()
        srv = await asyncio.start_server(serve, "127.0.0.1", 0)
        out = await nethttp.curl(_Net(srv.sockets[0].getsockname()[1]),  # type: ignore[arg-type]
                                 {"url": "http://10.244.1.20:8080/x", "timeout": 2}, "kai-worker")
        assert out == {"ok": True, "status": 201, "body": "abcde", "error": None, "backend": "10.244.1.20",
                       "detail": ""}
        srv.close()
    go(main)


def test_nginx_answers_an_oversized_head_with_its_own_400_page():
    async def main() -> None:
        world = World()
        web = await start(world, "web-0", "10.244.1.12", {"image": "nginx:1.27"})
        port = web.c.bound[80]
        big = b"GET / HTTP/1.1\r\nHost: x\r\nCookie: " + b"a" * (http1.MAX_HEADER_BYTES + 100_000) + b"\r\n\r\n"
        out = await _raw(port, big)
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 Bad Request\r\nServer: nginx/") and b"Connection: close" in head
        assert b"<title>400 Request Header Or Cookie Too Large</title>" in body
        bad = await _raw(port, b"NOT HTTP\r\n\r\n")
        assert bad.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"<center><h1>400 Bad Request</h1></center>" in bad
        ok = await _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 OK\r\nServer: nginx/")
        await web.c.stop()
    go(main)
