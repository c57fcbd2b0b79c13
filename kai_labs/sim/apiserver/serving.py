"""How the API is served on its socket: TLS connections admitted in bounded numbers and time, and
malformed HTTP answered with a Status.

kube-apiserver serves through Go's net/http (staging/src/k8s.io/apiserver/pkg/server/secure_serving.go:
``MaxHeaderBytes: 1 << 20``, ``ReadHeaderTimeout: 32s``, which is also its TLS handshake deadline,
``IdleTimeout: 90s``). A Go connection costs a few KB; one of Python's (asyncio's TLS protocol
allocates a 256 KiB read buffer up front) cost ~300 KB, and asyncio keeps a connection that never
finishes its handshake for 60 s, so 6,000 half-open connections used to hold 2 GB. Here:

- A connection is accepted into a waiting list and costs only its socket until its client has sent
  a complete first TLS record (the ClientHello). The list holds at most ``MAX_WAITING``; past that
  the connection that has waited longest is dropped, so a flood of silent sockets cannot keep a
  real client (kubectl sends its ClientHello at once) from being admitted.
- At most ``MAX_HANDSHAKES`` handshakes run at once; a connection that has not finished its
  handshake ``HANDSHAKE_TIMEOUT`` seconds after it was accepted is closed (Go's deadline is 32 s;
  a few seconds are plenty on loopback). When every slot is taken, the handshake that has run
  longest (past a second) gives way to a waiting one.
- TLS reads use a 16 KiB buffer (a TLS record is at most 16 KiB) instead of asyncio's 256 KiB.
- An idle connection is closed after ``IDLE_TIMEOUT`` (Go's IdleTimeout).
- Once connections stop closing for a second, the memory they freed is given back to the system
  (glibc's ``malloc_trim``; Go's runtime does this by itself), so RSS falls back after a burst of
  watchers or a flood instead of staying at its peak.
- A request line or header longer than aiohttp's limit (8190 bytes per line, 128 lines: about Go's
  1 MiB ``MaxHeaderBytes`` in all) is answered 431 as Go answers it ("431 Request Header Fields Too
  Large"), and any other malformed request 400, both as a ``Status`` like every error of this API.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import errno
import logging
import socket
import ssl
from asyncio import sslproto
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler

from ..apimachinery import errors
from .negotiation import status_response

log = logging.getLogger("kai_labs.apiserver")

HANDSHAKE_TIMEOUT = 5.0  # seconds from accept to a finished TLS handshake
MAX_HANDSHAKES = 32  # TLS handshakes in progress at once
MAX_WAITING = 1024  # accepted connections that have not yet sent a complete ClientHello
PREEMPT_AFTER = 1.0  # a handshake running this long gives its slot to a waiting connection
IDLE_TIMEOUT = 90.0  # secure_serving.go IdleTimeout
TLS_READ_BUFFER = 16 * 1024
_RECORD_HEADER = 5  # a TLS record: type (1), version (2), length (2)
_MAX_RECORD = 16 * 1024 + 2048  # the largest TLS record (with its expansion)
_PEEK_DELAYS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)  # re-checking a connection whose ClientHello is partial


TRIM_AFTER = 1.0  # seconds without a connection closing before freed memory is given back
TRIM_AT_MOST = 10.0  # ... but no later than this after the first close


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        fn: Callable[[int], int] = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None
    return fn


class _Trimmer:
    """Gives freed heap memory back to the system once connections have stopped closing.

    glibc keeps what a burst of connections freed (TLS buffers, frames) in its heap, so the process's RSS
    stays at its peak; ``malloc_trim(0)`` returns the free pages."""

    def __init__(self) -> None:
        self._fn = _malloc_trim()
        self._timer: asyncio.TimerHandle | None = None
        self._first = 0.0

    def soon(self) -> None:
        if self._fn is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._timer is None:
            self._first = now
        else:
            self._timer.cancel()
        self._timer = loop.call_at(min(now + TRIM_AFTER, self._first + TRIM_AT_MOST), self._run)

    def _run(self) -> None:
        self._timer = None
        if self._fn is not None:
            self._fn(0)


TRIMMER = _Trimmer()


class _SSLProtocol(sslproto.SSLProtocol):
    """asyncio's TLS protocol with a TLS record's worth of read buffer instead of 256 KiB per connection."""

    max_size = TLS_READ_BUFFER


# -- malformed requests as a Status --------------------------------------------------------------
class StatusRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering requests its parser refuses with a Status."""

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if not isinstance(exc, BadHttpMessage):
            return super().handle_error(request, status, exc, message)
        if request.writer.output_size > 0:  # as aiohttp: a response is already on its way
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        if isinstance(exc, LineTooLong) or "Too many headers" in str(exc):
            # net/http: a request line plus headers over MaxHeaderBytes is "431 Request Header Fields Too
            # Large" (server.go, errTooLarge); Go never answers 414. StatusReason has no 431 reason.
            err = errors.ApiError(431, "", "431 Request Header Fields Too Large")
        else:
            detail = (exc.message if isinstance(exc.message, str) else "").strip().splitlines()
            err = errors.bad_request("400 Bad Request" + (f": {detail[0].rstrip(':')}" if detail else ""))
        log.debug("refused a malformed request: %s", exc)
        resp = status_response(err)
        resp.force_close()
        return resp

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        TRIMMER.soon()


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner for ``app`` with the connection limits above."""
    return web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0,
                         keepalive_timeout=IDLE_TIMEOUT)


# -- admitting TLS connections --------------------------------------------------------------------
@dataclass
class GateStats:
    accepted: int = 0
    dropped_waiting: int = 0  # silent or partial past MAX_WAITING: the oldest was dropped
    expired: int = 0  # no complete ClientHello or no finished handshake within the timeout
    preempted: int = 0
    failed: int = 0  # the handshake failed (not TLS, bad certificate, client went away)
    served: int = 0  # handshakes finished


@dataclass
class _Slot:
    """A handshake in progress."""

    started: float
    transport: asyncio.Transport | None = None
    preempted: bool = False


class _Waiter:
    """An accepted connection waiting for its complete ClientHello (only its socket is held)."""

    __slots__ = ("conn", "deadline", "peeks", "timer")

    def __init__(self, conn: socket.socket, deadline: float) -> None:
        self.conn = conn
        self.deadline = deadline
        self.peeks = 0
        self.timer: asyncio.TimerHandle | None = None


class TLSGate(asyncio.AbstractServer):
    """Accepts on ``sock`` and hands each connection, TLS established, to ``factory``'s protocol."""

    def __init__(self, sock: socket.socket, factory: Callable[[], asyncio.Protocol], ctx: ssl.SSLContext, *,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT, max_handshakes: int = MAX_HANDSHAKES,
                 max_waiting: int = MAX_WAITING) -> None:
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        self._factory = factory
        self._ctx = ctx
        self.handshake_timeout = handshake_timeout
        self.max_handshakes = max_handshakes
        self.max_waiting = max_waiting
        self.stats = GateStats()
        self._waiting: OrderedDict[int, _Waiter] = OrderedDict()  # fd -> waiter, oldest first
        self._ready: OrderedDict[int, _Waiter] = OrderedDict()  # complete ClientHello, waiting for a slot
        self._handshaking: OrderedDict[int, _Slot] = OrderedDict()  # fd -> slot, oldest first
        self._preempt_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._serving = True
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._accept)

    # -- asyncio.AbstractServer ----------------------------------------------------------------
    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return (self._sock,) if self._serving else ()

    def close(self) -> None:
        if not self._serving:
            return
        self._serving = False
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        for w in [*self._waiting.values(), *self._ready.values()]:
            self._drop(w)
        for t in self._tasks:
            t.cancel()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        return None

    async def serve_forever(self) -> None:
        while self._serving:
            await asyncio.sleep(3600)

    async def wait_closed(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- accepting ------------------------------------------------------------------------------
    def _accept(self) -> None:
        for _ in range(128):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # out of descriptors: free the oldest waiting one and stop accepting for a moment
                    log.warning("cannot accept more connections (%s): pausing for 100 ms", e.strerror)
                    if self._waiting:
                        self._drop(self._waiting.popitem(last=False)[1])
                        self.stats.dropped_waiting += 1
                    self._loop.remove_reader(self._sock.fileno())
                    self._loop.call_later(0.1, self._resume_accepting)
                return
            self.stats.accepted += 1
            conn.setblocking(False)
            if len(self._waiting) >= self.max_waiting:
                self._drop(self._waiting.popitem(last=False)[1])
                self.stats.dropped_waiting += 1
            w = _Waiter(conn, self._loop.time() + self.handshake_timeout)
            self._waiting[conn.fileno()] = w
            w.timer = self._loop.call_at(w.deadline, self._expire, w)
            self._loop.add_reader(conn.fileno(), self._readable, w)

    def _resume_accepting(self) -> None:
        if self._serving:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    def _drop(self, w: _Waiter) -> None:
        if w.timer is not None:
            w.timer.cancel()
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(w.conn.fileno())
        w.conn.close()

    def _expire(self, w: _Waiter) -> None:
        fd = w.conn.fileno()
        if self._waiting.pop(fd, None) is w or self._ready.pop(fd, None) is w:
            self.stats.expired += 1
            self._drop(w)

    def _readable(self, w: _Waiter) -> None:
        """Data arrived: admit the connection once its first TLS record is complete."""
        fd = w.conn.fileno()
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(fd)
        try:
            head = w.conn.recv(_RECORD_HEADER, socket.MSG_PEEK)
            need = _RECORD_HEADER
            if len(head) == _RECORD_HEADER and head[0] == 0x16:  # a handshake record: wait for all of it
                need += min(int.from_bytes(head[3:5], "big"), _MAX_RECORD)
                head = w.conn.recv(need, socket.MSG_PEEK)
        except BlockingIOError:
            self._loop.add_reader(fd, self._readable, w)
            return
        except OSError:
            head = b""
        if not head:  # the client closed, or the connection broke
            self._waiting.pop(fd, None)
            self._drop(w)
            return
        if len(head) < need and head[:1] == b"\x16":  # a partial ClientHello: look again later
            delay = _PEEK_DELAYS[min(w.peeks, len(_PEEK_DELAYS) - 1)]
            w.peeks += 1
            self._loop.call_later(delay, self._recheck, w)
            return
        # complete (or not TLS at all, which the handshake refuses at once)
        self._waiting.pop(fd, None)
        self._ready[fd] = w
        self._schedule()

    def _recheck(self, w: _Waiter) -> None:
        if self._waiting.get(w.conn.fileno()) is w:
            self._readable(w)

    def _schedule(self) -> None:
        """Start the handshakes of ready connections while slots last: the connection that became ready
        last goes first (older ones are nearer their deadline, and a flood queues before a real client);
        when every slot is taken, the handshake that has run longest gives way if it has run a second."""
        now = self._loop.time()
        while self._ready:
            if len(self._handshaking) >= self.max_handshakes:
                fd, slot = next(iter(self._handshaking.items()))
                if now - slot.started < PREEMPT_AFTER or slot.transport is None:
                    if self._preempt_timer is None:
                        self._preempt_timer = self._loop.call_at(slot.started + PREEMPT_AFTER, self._preempt_due)
                    return
                del self._handshaking[fd]
                self.stats.preempted += 1
                slot.preempted = True
                slot.transport.abort()
            fd, w = self._ready.popitem(last=True)
            if w.timer is not None:
                w.timer.cancel()
            slot = _Slot(now)
            self._handshaking[fd] = slot  # taken now, before the handshake's first await
            task = self._loop.create_task(self._handshake(w, slot))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _preempt_due(self) -> None:
        self._preempt_timer = None
        self._schedule()

    async def _handshake(self, w: _Waiter, slot: _Slot) -> None:
        conn, fd = w.conn, w.conn.fileno()
        remaining = max(0.1, w.deadline - self._loop.time())
        done: asyncio.Future[None] = self._loop.create_future()
        timeout: dict[str, Any] = {"ssl_handshake_timeout": remaining}  # seconds (a float; typeshed says int)
        proto = _SSLProtocol(self._loop, self._factory(), self._ctx, done, server_side=True, **timeout)
        try:
            transport, _ = await self._loop.connect_accepted_socket(lambda: proto, conn)
            slot.transport = transport
            await done
            if slot.preempted or transport.is_closing():
                raise ConnectionAbortedError("preempted")
            self.stats.served += 1
        except asyncio.CancelledError:
            conn.close()
            raise
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
            if slot.preempted:
                pass
            elif isinstance(e, (asyncio.TimeoutError, ConnectionAbortedError)):
                self.stats.expired += 1
            else:
                self.stats.failed += 1
            log.debug("TLS handshake not completed: %s", e)
            conn.close()
        finally:
            if self._handshaking.get(fd) is slot:
                del self._handshaking[fd]
            TRIMMER.soon()
            self._schedule()


class TLSSite(web.BaseSite):
    """An aiohttp site serving HTTPS through a ``TLSGate`` (TCPSite has no handshake bounds)."""

    __slots__ = ("_host", "_port", "_bound_port", "gate")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, ssl_context: ssl.SSLContext, *,
                 backlog: int = 1024) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host = host
        self._port = port
        self._bound_port: int | None = None
        self.gate: TLSGate | None = None

    @property
    def port(self) -> int:
        return self._bound_port if self._bound_port is not None else self._port

    @property
    def name(self) -> str:
        return f"https://{self._host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None and self._ssl_context is not None
        sock = socket.create_server((self._host, self._port), backlog=self._backlog)
        self._bound_port = sock.getsockname()[1]
        kwargs: dict[str, Any] = getattr(server, "_kwargs", {})
        loop = asyncio.get_running_loop()

        def factory() -> asyncio.Protocol:
            return StatusRequestHandler(server, loop=loop, **kwargs)

        self.gate = TLSGate(sock, factory, self._ssl_context)
        self._server = self.gate
