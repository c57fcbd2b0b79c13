"""HTTP/1.1 framing over the virtual network, from h11 (RFC 9112): one request read by a Pod's server,
one response read by a client (the shell's curl/wget, agnhost's /dial, ``cluster.net``'s curl).

Only the framing comes from h11 (request line, headers, Content-Length, chunked bodies, EOF); what goes
on the wire is still written byte for byte by the emulated programs, so status lines, header order and
casing, and ``curl -v`` output are the images' own.

Bounds: a request or response head may be at most ``MAX_HEADER_BYTES`` (Go's net/http
``DefaultMaxHeaderBytes`` plus the 4096 bytes of slack it allows), past which a server answers 431 as
Go does; every read of a client waits at most until its deadline, so a server that trickles bytes
cannot hold a client past its timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import h11

MAX_HEADER_BYTES = (1 << 20) + 4096
READ_SIZE = 65536


@dataclass
class HttpRequest:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class HttpResponse:
    status: int
    reason: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def status_line(self) -> str:
        return f"{self.version} {self.status}{(' ' + self.reason) if self.reason else ''}"


class EmptyReply(Exception):
    """The server closed the connection (or sent something that is not HTTP) before a status line."""


class BadRequest(Exception):
    """A request a server cannot frame; ``status`` is what Go's net/http answers (400 or 431)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


def _headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]


def _version(v: bytes) -> str:
    return "HTTP/" + v.decode("ascii")


async def _recv(reader: asyncio.StreamReader, deadline: float | None) -> bytes:
    if deadline is None:
        return await reader.read(READ_SIZE)
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return await asyncio.wait_for(reader.read(READ_SIZE), left)


class RequestReader:
    """Reads the requests of one server connection, in order (keep-alive and pipelining)."""

    def __init__(self, reader: asyncio.StreamReader):
        self.reader = reader
        self._pending = b""
        self._closed = False

    async def next(self) -> HttpRequest | None:
        """The next complete request, or None at a clean end of the connection; raises ``BadRequest``."""
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        if self._pending:
            conn.receive_data(self._pending)
        if self._closed:
            conn.receive_data(b"")
        self._pending = b""
        req: HttpRequest | None = None
        body = bytearray()
        while True:
            try:
                ev = conn.next_event()
            except h11.RemoteProtocolError as e:
                raise BadRequest(e.error_status_hint, str(e)) from None
            if ev is h11.NEED_DATA:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    self._closed = True
                conn.receive_data(data)
            elif isinstance(ev, h11.Request):
                req = HttpRequest(ev.method.decode("latin-1"), ev.target.decode("latin-1"),
                                  _version(ev.http_version), _headers(ev.headers.raw_items()), b"")
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage) and req is not None:
                req.body = bytes(body)
                self._pending, self._closed = conn.trailing_data
                return req
            else:  # ConnectionClosed (or PAUSED after a clean close)
                return None


def error_response(status: int) -> bytes:
    """What Go's net/http writes for a request it cannot read, before closing the connection."""
    text = {431: "Request Header Fields Too Large"}.get(status, "Bad Request")
    return (f"HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Connection: close\r\n\r\n{status} {text}").encode()


async def read_response(reader: asyncio.StreamReader, method: str = "GET",
                        deadline: float | None = None) -> HttpResponse:
    """One response to a ``method`` request already sent; each read waits at most until ``deadline``
    (``time.monotonic()``), then ``TimeoutError``. ``EmptyReply`` without a status line,
    ``ConnectionResetError`` when the body breaks off or is malformed."""
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
    # tell h11 which request the response answers (HEAD has no body); the bytes sent were the caller's
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "kai-labs")]))
    conn.send(h11.EndOfMessage())
    resp: HttpResponse | None = None
    body = bytearray()
    while True:
        try:
            ev = conn.next_event()
        except h11.RemoteProtocolError as e:
            if resp is None:
                raise EmptyReply() from None
            raise ConnectionResetError(str(e)) from None
        if ev is h11.NEED_DATA:
            conn.receive_data(await _recv(reader, deadline))
        elif isinstance(ev, h11.InformationalResponse):
            return HttpResponse(ev.status_code, ev.reason.decode("latin-1"), _version(ev.http_version),
                                _headers(ev.headers.raw_items()), b"")
        elif isinstance(ev, h11.Response):
            resp = HttpResponse(ev.status_code, ev.reason.decode("latin-1"), _version(ev.http_version),
                                _headers(ev.headers.raw_items()), b"")
        elif isinstance(ev, h11.Data):
            body += ev.data
        elif isinstance(ev, h11.EndOfMessage) and resp is not None:
            resp.body = bytes(body)
            return resp
        else:
            if resp is None:
                raise EmptyReply()
            raise ConnectionResetError("connection closed before the response ended")
