"""pods/exec, pods/attach and pods/portforward: the streaming subresources, as kubectl 1.30+ speaks them.

What kubectl sends (client-go and kubectl sources, kubernetes/kubernetes):

* exec and attach: ``staging/src/k8s.io/client-go/tools/remotecommand/websocket.go``
  and ``fallback.go``: a WebSocket upgrade (``GET``) with the subprotocol
  ``v5.channel.k8s.io`` first, falling back to SPDY (``POST``) only when the
  upgrade itself fails. Every binary message starts with a channel byte
  (``apimachinery/pkg/util/remotecommand/constants.go``): 0 stdin, 1 stdout,
  2 stderr, 3 error, 4 resize; v5 adds 255 = CLOSE ``[255, channel]`` (the
  client half-closes stdin with it). The error channel carries one
  ``metav1.Status``: ``Success``, or ``Failure`` with reason ``NonZeroExitCode``
  and a cause ``{"reason": "ExitCode", "message": "N"}`` that kubectl turns into
  ``command terminated with exit code N`` (``tools/remotecommand/v4.go``).
  kubectl waits for stdout/stderr to end, which a normal WebSocket close gives.
  The server side is ``apimachinery/pkg/util/httpstream/wsstream/conn.go``.
* port-forward: ``staging/src/k8s.io/kubectl/pkg/cmd/portforward/portforward.go``
  uses ``tools/portforward/tunneling_dialer.go``: a WebSocket upgrade whose
  subprotocol is ``SPDY/3.1+portforward.k8s.io``, after which the WebSocket's
  binary messages are a byte stream carrying SPDY/3.1 frames
  (``tunneling_connection.go``); SPDY without WebSocket is only the fallback.
  Per local connection the client opens two SPDY streams with headers
  ``streamType`` (``error`` then ``data``), ``port`` and ``requestID``
  (``tools/portforward/portforward.go`` handleConnection), waits for each
  SYN_REPLY, and ends when the data stream and the error stream are closed;
  anything written on the error stream is printed as ``an error occurred
  forwarding L -> R: ...``. Frame layouts and the header-compression
  dictionary are the SPDY/3 draft's (moby/spdystream ``spdy/types.go``,
  ``read.go``, ``write.go``).

The embedded cluster answers SPDY-only clients (``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false``)
with 400 "Upgrade request required"-style Status explaining why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from ..apimachinery import errors
from ..network.fabric import Network
from . import images, tools, ttyshell
from .kubelet import Kubelet


class Runtime(Protocol):
    """What the streams need from the node process (``node/server.py``): the kubelet's workers, logs and
    informer cache, and the network's Pod sockets."""

    @property
    def kubelet(self) -> Kubelet: ...

    @property
    def net(self) -> Network: ...

log = logging.getLogger("kai_labs.streams")

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
BACKLOG_MAX = 1 << 20  # bytes of exec/attach output queued for one client before the command waits
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PORTFORWARD_PROTOCOLS = ("SPDY/3.1+portforward.k8s.io",)
_NO_WS = ("Upgrade request required: kai-labs' embedded cluster serves {sub} over WebSocket only, as kubectl "
          "1.30+ uses by default; unset {var}=false")


# --------------------------------------------------------------------------- entry point

async def handle(rt: Runtime, request: web.Request, sub: str, ns: str, name: str) -> web.StreamResponse:
    pod = rt.kubelet.lister.get("/pods", ns, name)
    if pod is None:
        raise errors.not_found("pods", name)
    if sub == "portforward":
        return await _portforward(rt, request, pod)
    return await _exec_or_attach(rt, request, sub, pod)


def _is_websocket(request: web.Request) -> bool:
    return (request.headers.get("Upgrade", "").lower() == "websocket"
            and "upgrade" in request.headers.get("Connection", "").lower())


def _container(rt: Runtime, request: web.Request, pod: dict[str, Any],
               running: bool = True) -> tuple[str, images.Container]:
    name = pod["metadata"]["name"]
    ns = pod["metadata"]["namespace"]
    names = [c["name"] for c in pod["spec"].get("containers", [])]
    container = request.query.get("container") or ""
    if not container:
        if len(names) != 1:
            raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                     f"[{' '.join(names)}]")
        container = names[0]
    if container not in names:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    if not pod["spec"].get("nodeName"):
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    worker = rt.kubelet.workers.get((ns, name))
    run = worker.containers.get(container) if worker else None
    app = run.app if run else None
    if app is None or (running and "running" not in (run.state if run else {})):
        raise errors.bad_request(f'container not found ("{container}")')
    return container, app


def _flag(request: web.Request, key: str) -> bool:
    return request.query.get(key, "").lower() in ("1", "true", "t", "yes")


# --------------------------------------------------------------------------- channel.k8s.io sessions

class ChannelSession:
    """The server end of a v4/v5.channel.k8s.io WebSocket: ordered output, demultiplexed input."""

    def __init__(self, ws: web.WebSocketResponse, protocol: str) -> None:
        self.ws = ws
        self.v5 = protocol.startswith("v5.")
        self._q: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._backlog = 0  # bytes queued and not yet handed to the WebSocket
        self._room = asyncio.Event()
        self._room.set()
        self._pump = asyncio.ensure_future(self._send_loop())
        self.on_stdin: Callable[[bytes], None] = lambda data: None
        self.on_stdin_close: Callable[[], None] = lambda: None
        self.on_resize: Callable[[dict[str, Any]], None] = lambda size: None
        self.closed = False

    async def _send_loop(self) -> None:
        while True:
            item = await self._q.get()
            if item is None:
                return
            try:
                await self.ws.send_bytes(item)
            except (ConnectionError, RuntimeError):
                self.closed = True
            self._backlog -= len(item)
            if self._backlog <= BACKLOG_MAX or self.closed:
                self._room.set()

    def send(self, channel: int, data: str | bytes) -> None:
        if isinstance(data, str):
            data = data.encode()
        if data and not self.closed:
            self._q.put_nowait(bytes([channel]) + data)
            self._backlog += len(data) + 1
            if self._backlog > BACKLOG_MAX:
                self._room.clear()

    async def drain(self) -> None:
        """Wait while more than BACKLOG_MAX bytes wait for the client: a command writing faster than kubectl
        reads is held back, as a process writing to a full pipe is, instead of queueing without bound."""
        while not self._room.is_set() and not self.closed:
            await self._room.wait()

    def writer(self, channel: int) -> Callable[[str], None]:
        return lambda text: self.send(channel, text)

    async def read_loop(self) -> None:
        """Until the client hangs up: stdin, CLOSE and resize messages."""
        stdin_open = True
        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.BINARY or not msg.data:
                    continue
                ch, data = msg.data[0], msg.data[1:]
                if ch == STDIN and stdin_open:
                    self.on_stdin(data)
                elif ch == CLOSE and self.v5 and data[:1] == bytes([STDIN]) and stdin_open:
                    stdin_open = False
                    self.on_stdin_close()
                elif ch == RESIZE:
                    with contextlib.suppress(ValueError):
                        self.on_resize(json.loads(data))
        finally:
            self.closed = True
            if stdin_open:
                self.on_stdin_close()

    async def finish(self, status: dict[str, Any] | None) -> None:
        if status is not None and not self.closed:
            self.send(ERROR, json.dumps(status, separators=(",", ":")))
        self._q.put_nowait(None)
        with contextlib.suppress(Exception):
            await self._pump
        with contextlib.suppress(Exception):
            await self.ws.close()


def success() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, argv: list[str]) -> dict[str, Any]:
    """The Status the kubelet writes for a non-zero exit (remotecommand/httpstream.go, v4 protocol)."""
    if code == 0:
        return success()
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(argv)}], exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def exec_failed(argv: list[str]) -> dict[str, Any]:
    exe = argv[0] if argv else ""
    return {"metadata": {}, "status": "Failure", "code": 500, "reason": "InternalError",
            "message": "Internal error occurred: error executing command in container: failed to exec in "
                       "container: failed to start exec: " + images.exec_error_message(exe)}


_STDIN_READERS = {"cat", "grep", "wc", "head", "tail", "sh", "ash", "bash", "dash"}


def _reads_stdin(argv: list[str]) -> bool:
    exe = argv[0].rsplit("/", 1)[-1]
    if exe not in _STDIN_READERS:
        return False
    files = [a for a in argv[1:] if not a.startswith("-")]
    if exe == "grep":
        return len(files) <= 1
    return not files or files == ["-"]


async def _exec_or_attach(rt: Runtime, request: web.Request, sub: str, pod: dict[str, Any]) -> web.StreamResponse:
    q = request.query
    argv = q.getall("command", [])
    if sub == "exec" and not argv:
        raise errors.bad_request("you must specify at least 1 command")
    want_in, want_out, want_err, tty = (_flag(request, "stdin"), _flag(request, "stdout"),
                                        _flag(request, "stderr"), _flag(request, "tty"))
    if not (want_in or want_out or want_err):
        raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    # attach also reaches a one-shot command that already ended (it answers at once with its end): kubectl
    # printed its output from pods/log already, and need not fall back to logs with a warning
    container, app = _container(rt, request, pod, running=sub == "exec")
    if not _is_websocket(request):
        raise errors.bad_request(_NO_WS.format(sub=sub, var="KUBECTL_REMOTE_COMMAND_WEBSOCKETS"))
    ws = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS, autoping=True, max_msg_size=0)
    ready = ws.can_prepare(request)
    if not ready.ok or not ready.protocol:
        raise errors.bad_request(f"requested protocol(s) are not supported: "
                                 f"[{request.headers.get('Sec-WebSocket-Protocol', '')}]; supports "
                                 f"{list(CHANNEL_PROTOCOLS)}")
    await ws.prepare(request)
    session = ChannelSession(ws, ready.protocol)
    out = session.writer(STDOUT) if want_out else (lambda text: None)
    err = session.writer(STDOUT if tty else STDERR) if (want_err or tty) else (lambda text: None)
    reader = asyncio.ensure_future(session.read_loop())
    try:
        if sub == "attach":
            status = await _attach(rt, pod, container, app, session, out, err, want_in, tty, reader)
        else:
            status = await _exec(app, argv, session, out, err, want_in, tty, reader)
        await session.finish(status)
    finally:
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
    return ws


async def _race(main: asyncio.Future[Any], *others: asyncio.Future[Any]) -> None:
    await asyncio.wait([main, *others], return_when=asyncio.FIRST_COMPLETED)


async def _exec(app: images.Container, argv: list[str], session: ChannelSession, out: Callable[[str], None],
                err: Callable[[str], None], want_in: bool, tty: bool,
                reader: asyncio.Future[None]) -> dict[str, Any] | None:
    if not tools.tool_available(app.image, argv[0]):
        return exec_failed(argv)
    container_done = asyncio.ensure_future(app.wait())
    try:
        if ttyshell.is_interactive_shell(argv, app.image):
            shell = ttyshell.Shell(app.net, app.image, app.env, app.fs, tty=tty, out=out, err=err)
            session.on_stdin = shell.feed
            session.on_stdin_close = shell.close_stdin
            if not want_in:
                shell.close_stdin()
            task: asyncio.Future[int] = asyncio.ensure_future(shell.run())
        else:
            stdin: str | None = None
            if want_in and not tty and _reads_stdin(argv):
                chunks: list[bytes] = []
                eof = asyncio.get_running_loop().create_future()
                session.on_stdin = chunks.append
                def stdin_closed() -> None:
                    if not eof.done():
                        eof.set_result(None)
                session.on_stdin_close = stdin_closed
                await _race(eof, reader, container_done)
                stdin = b"".join(chunks).decode("utf-8", "replace")
            def fix(t: str) -> str:
                return t.replace("\r\n", "\n").replace("\n", "\r\n") if tty else t
            task = asyncio.ensure_future(tools.run(argv, app.net, lambda t: out(fix(t)), lambda t: err(fix(t)),
                                                   image=app.image, env=app.env, tty=tty, stdin=stdin,
                                                   fs=app.fs, drain=session.drain))
            if tty:
                def keys(data: bytes) -> None:
                    if b"\x03" in data:
                        out("^C\r\n")
                        task.cancel()
                session.on_stdin = keys
        await _race(task, reader, container_done)
        if not task.done():  # the client hung up or the container stopped: the process is killed
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            return exit_status(137, argv) if container_done.done() else None
        try:
            code = task.result()
        except asyncio.CancelledError:
            code = 130
        return exit_status(code, argv)
    finally:
        container_done.cancel()


async def _attach(rt: Runtime, pod: dict[str, Any], container: str, app: images.Container,
                  session: ChannelSession, out: Callable[[str], None], err: Callable[[str], None],
                  want_in: bool, tty: bool, reader: asyncio.Future[None]) -> dict[str, Any] | None:
    container_done = asyncio.ensure_future(app.wait())
    prog = app.program
    try:
        if isinstance(prog, images.AttachedShell):
            detach = prog.attach(out, err)
            if want_in:
                session.on_stdin = prog.shell.feed
            shell_prog = prog

            def stdin_closed() -> None:
                # the client's end of input (kubectl half-closes stdin once a pipe is read out) closes the
                # container's stdin with stdinOnce; the session still receives what the shell prints for
                # the lines already read, until the process ends or the client hangs up (R108)
                if shell_prog.stdin_once:
                    shell_prog.shell.close_stdin()

            session.on_stdin_close = stdin_closed
            if tty:
                prog.shell.redraw()
            await _race(container_done, reader)
            detach()
            return success() if container_done.done() else None
        # any other process: its output from now on, until it exits (kubectl attach itself prints what
        # the container logged before: it reads pods/log first)
        buf = rt.kubelet.logs(pod["metadata"]["namespace"], pod["metadata"]["name"], container)
        idx = len(buf.lines) if buf is not None else 0
        if isinstance(prog, images.Command):
            prog.attached.set()  # a `run -i` one-shot command starts now that someone listens
        while True:
            lines = list(buf.lines) if buf is not None else []
            for _, line in lines[idx:]:
                out(line + ("\r\n" if tty else "\n"))
            idx = len(lines)
            if container_done.done() or reader.done():
                break
            wake = asyncio.Event()
            if buf is not None:
                buf.waiters.append(wake)
            try:
                waiter: asyncio.Future[Any] = asyncio.ensure_future(wake.wait())
                await asyncio.wait([waiter, container_done, reader], timeout=1.0,
                                   return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
            finally:
                if buf is not None and wake in buf.waiters:
                    buf.waiters.remove(wake)
        return success() if container_done.done() else None
    finally:
        container_done.cancel()


# --------------------------------------------------------------------------- SPDY/3.1 for port-forward

def _spdy_dictionary() -> bytes:
    """The SPDY/3 header-compression dictionary (draft 3, section 2.6.10.1): 1423 bytes."""
    words = ("options head post put delete trace accept accept-charset accept-encoding accept-language "
             "accept-ranges age allow authorization cache-control connection content-base content-encoding "
             "content-language content-length content-location content-md5 content-range content-type date etag "
             "expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since "
             "last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer "
             "retry-after server te trailer transfer-encoding upgrade user-agent vary via warning "
             "www-authenticate method get status 200_OK version HTTP/1.1 url public set-cookie keep-alive origin")
    out = b"".join(struct.pack(">I", len(w)) + w.replace("_", " ").encode() for w in words.split(" "))
    out += (b"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
            b"203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
            b"403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
            b"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
            b"chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
            b"text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
            )
    return out


SPDY_DICT = _spdy_dictionary()
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01


class SpdyStream:
    def __init__(self, sid: int, headers: dict[str, str]) -> None:
        self.id = sid
        self.headers = headers
        self.data: asyncio.Queue[bytes | None] = asyncio.Queue()  # None: the client half-closed it
        self.reset = False
        self.closed = False  # we sent FIN


class SpdyServer:
    """SPDY/3.1 framing (server side) over a byte stream carried by a WebSocket's binary messages."""

    def __init__(self, ws: web.WebSocketResponse, on_stream: Callable[[SpdyStream], None]) -> None:
        self.ws = ws
        self.on_stream = on_stream
        self.streams: dict[int, SpdyStream] = {}
        self._buf = bytearray()
        self._inflate = zlib.decompressobj(zdict=SPDY_DICT)
        self._deflate = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                         SPDY_DICT)
        self._out: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._pump = asyncio.ensure_future(self._send_loop())

    async def _send_loop(self) -> None:
        while True:
            frame = await self._out.get()
            if frame is None:
                return
            try:
                await self.ws.send_bytes(frame)
            except (ConnectionError, RuntimeError):
                return

    # -- writing ---------------------------------------------------------------
    def _control(self, ftype: int, flags: int, payload: bytes) -> None:
        self._out.put_nowait(struct.pack(">HHI", 0x8000 | 3, ftype, (flags << 24) | len(payload)) + payload)

    def _header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            raw += struct.pack(">I", len(k)) + k.lower().encode() + struct.pack(">I", len(v)) + v.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def reply(self, stream: SpdyStream) -> None:
        self._control(SYN_REPLY, 0, struct.pack(">I", stream.id) + self._header_block({}))

    def data(self, stream: SpdyStream, data: bytes, fin: bool = False) -> None:
        if stream.closed or stream.reset:
            return
        for i in range(0, len(data), 0xFFFF):
            chunk = data[i:i + 0xFFFF]
            self._out.put_nowait(struct.pack(">II", stream.id & 0x7FFFFFFF, len(chunk)) + chunk)
        if fin:
            stream.closed = True
            self._out.put_nowait(struct.pack(">II", stream.id & 0x7FFFFFFF, FLAG_FIN << 24))

    def close(self, stream: SpdyStream) -> None:
        self.data(stream, b"", fin=True)

    # -- reading ---------------------------------------------------------------
    def _headers(self, block: bytes) -> dict[str, str]:
        raw = self._inflate.decompress(block)
        (n,), pos = struct.unpack_from(">I", raw, 0), 4
        headers: dict[str, str] = {}
        for _ in range(n):
            (ln,) = struct.unpack_from(">I", raw, pos)
            key = raw[pos + 4:pos + 4 + ln].decode().lower()
            pos += 4 + ln
            (lv,) = struct.unpack_from(">I", raw, pos)
            headers[key] = raw[pos + 4:pos + 4 + lv].decode().split("\x00")[0]
            pos += 4 + lv
        return headers

    def feed(self, chunk: bytes) -> bool:
        """Consume bytes; False when the client said GOAWAY."""
        self._buf += chunk
        while len(self._buf) >= 8:
            w1, w2 = struct.unpack_from(">II", self._buf, 0)
            length = w2 & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            flags = w2 >> 24
            del self._buf[:8 + length]
            if w1 & 0x80000000:
                if not self._control_frame((w1 >> 16) & 0x7FFF, w1 & 0xFFFF, flags, payload):
                    return False
            else:
                s = self.streams.get(w1 & 0x7FFFFFFF)
                if s is not None:
                    if payload:
                        s.data.put_nowait(payload)
                    if flags & FLAG_FIN:
                        s.data.put_nowait(None)
        return True

    def _control_frame(self, version: int, ftype: int, flags: int, payload: bytes) -> bool:
        if ftype == SYN_STREAM:
            (sid,) = struct.unpack_from(">I", payload, 0)
            sid &= 0x7FFFFFFF
            stream = SpdyStream(sid, self._headers(payload[10:]))
            self.streams[sid] = stream
            self.reply(stream)
            if flags & FLAG_FIN:
                stream.data.put_nowait(None)
            self.on_stream(stream)
        elif ftype == RST_STREAM:
            (sid,) = struct.unpack_from(">I", payload, 0)
            s = self.streams.get(sid & 0x7FFFFFFF)
            if s is not None:
                s.reset = True
                s.data.put_nowait(None)
        elif ftype == PING:
            self._control(PING, 0, payload[:4])
        elif ftype == GOAWAY:
            return False
        elif ftype == HEADERS:
            self._headers(payload[4:])  # keep the shared decompressor in step
        return True  # SETTINGS, WINDOW_UPDATE: nothing to do for a forwarder

    async def shutdown(self) -> None:
        for s in self.streams.values():
            s.reset = True
            s.data.put_nowait(None)
        self._out.put_nowait(None)
        with contextlib.suppress(Exception):
            await self._pump


async def _portforward(rt: Runtime, request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    if pod.get("status", {}).get("phase") != "Running":
        raise errors.bad_request(f"pod {name} is not running: unable to forward port "
                                 f"(phase {pod.get('status', {}).get('phase', 'Pending')})")
    if not _is_websocket(request):
        raise errors.bad_request(_NO_WS.format(sub="port-forward", var="KUBECTL_PORT_FORWARD_WEBSOCKETS"))
    ws = web.WebSocketResponse(protocols=PORTFORWARD_PROTOCOLS, autoping=True, max_msg_size=0)
    ready = ws.can_prepare(request)
    if not ready.ok or not ready.protocol:
        raise errors.bad_request(f"requested protocol(s) are not supported: "
                                 f"[{request.headers.get('Sec-WebSocket-Protocol', '')}]; supports "
                                 f"{list(PORTFORWARD_PROTOCOLS)}")
    await ws.prepare(request)
    pairs: dict[str, dict[str, SpdyStream]] = {}
    tasks: set[asyncio.Task[None]] = set()

    def on_stream(s: SpdyStream) -> None:
        rid = s.headers.get("requestid", str(s.id))
        pair = pairs.setdefault(rid, {})
        pair[s.headers.get("streamtype", "")] = s
        if "error" in pair and "data" in pair:
            del pairs[rid]
            t = asyncio.ensure_future(_forward(rt, spdy, ns, name, pair["data"], pair["error"]))
            tasks.add(t)
            t.add_done_callback(tasks.discard)

    spdy = SpdyServer(ws, on_stream)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                try:
                    if not spdy.feed(msg.data):
                        break
                except (struct.error, zlib.error, UnicodeDecodeError) as e:
                    log.info("port-forward %s/%s: bad SPDY frame: %s", ns, name, e)
                    break
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
    finally:
        for t in list(tasks):
            t.cancel()
        await spdy.shutdown()
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


async def _forward(rt: Runtime, spdy: SpdyServer, ns: str, name: str, data: SpdyStream, error: SpdyStream) -> None:
    """One forwarded connection: the Pod's own loopback port <-> the data stream (kubelet + containerd)."""
    try:
        port = int(data.headers.get("port", "0"))
    except ValueError:
        port = 0
    worker = rt.kubelet.workers.get((ns, name))
    writer: asyncio.StreamWriter | None = None
    try:
        if worker is None or not worker.ip:
            raise ConnectionRefusedError("connection refused")
        # inside the Pod's network namespace, to its own loopback (as containerd's port-forward)
        reader, writer = await rt.net.open(worker.ip, port, 5.0, source="127.0.0.1", dest=("127.0.0.1", port),
                                           loopback=True)
    except (OSError, asyncio.TimeoutError):
        uid = (rt.kubelet.lister.peek("/pods", ns, name) or {}).get("metadata", {}).get("uid", "")
        spdy.data(error, (f"error forwarding port {port} to pod {name}_{ns}, uid {uid}: failed to connect to "
                          f"localhost:{port} inside namespace of pod {name}: IPv4: dial tcp4 127.0.0.1:{port}: "
                          f"connect: connection refused IPv6 dial tcp6 [::1]:{port}: connect: connection refused"
                          ).encode())
        spdy.close(error)
        spdy.close(data)
        return

    async def upstream() -> None:  # client -> Pod
        assert writer is not None
        while True:
            chunk = await data.data.get()
            if chunk is None:
                break
            writer.write(chunk)
            await writer.drain()
        if data.reset:
            writer.close()
        elif writer.can_write_eof():
            writer.write_eof()

    up = asyncio.ensure_future(upstream())
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            spdy.data(data, chunk)
    except (ConnectionError, OSError):
        pass
    finally:
        up.cancel()
        with contextlib.suppress(BaseException):
            await up
        with contextlib.suppress(Exception):
            writer.close()
        spdy.close(data)
        spdy.close(error)
