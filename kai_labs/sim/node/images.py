"""Container emulator: what the embedded cluster's kubelet runs for a Pod's container.

Each supported image is emulated by a small asyncio program bound on 127.0.0.1
(one real server per port the app listens on); clients reach it through the
virtual network (``PodNet.connect``). Texts and behaviours follow the images'
sources:

* agnhost: kubernetes/kubernetes ``test/images/agnhost/netexec/netexec.go``
  (flags ``--http-port`` 8080, ``--udp-port`` 8081, ``--sctp-port`` -1; routes
  ``/``, ``/clientip``, ``/dial``, ``/echo``, ``/exit``, ``/healthz``,
  ``/hostname``, ``/hostName``, ``/redirect``, ``/shell``, ``/shutdown``,
  ``/upload``; Go ``log.Printf`` lines), ``serve-hostname/serve_hostname.go``
  (``--port`` 9376, ``--http`` true, ``--tcp``, ``--close``) and
  ``pause/pause.go`` (prints ``Paused``; SIGTERM exits 2).
* hashicorp/http-echo ``main.go``/``handlers.go`` (``-listen`` ``:5678``,
  ``-text`` or ``$ECHO_TEXT``, ``/health`` -> ``{"status":"ok"}``, the
  ``X-App-Name``/``X-App-Version`` headers and its access-log format).
* nginx's official image (docker-entrypoint.sh notices, default welcome page,
  ``log_format main`` access lines, built-in 404 page).
* Go ``net/http`` response framing (handler headers sorted, then ``Date``,
  ``Content-Length``, ``Content-Type``).

Container runtime semantics: ``command`` replaces the image ENTRYPOINT and
``args`` replace its CMD; ``$(VAR)`` in command/args expands from the
container's env as the kubelet does. ``/shell`` and ``/upload`` of netexec are
refused: the embedded cluster never runs a real shell or writes real files.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import html
import os
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from ...k8s.qos import oom_score_adj
from ...k8s.quantity import QuantityError, as_text, parse_quantity, quantity_milli_value, quantity_value
from ..network import http1
from . import tools, ttyshell
from .tools import AGNHOST, E2E_BUSYBOX, E2E_NGINX, go_json, repository, status_text

NGINX_VERSION = "1.27.3"
E2E_NGINX_VERSION = "1.14.2"  # registry.k8s.io/e2e-test-images/nginx:1.14-x is nginx:1.14-alpine
HTTP_ECHO_VERSION = "1.0.0"

SUPPORTED_IMAGES: list[str] = [
    "registry.k8s.io/e2e-test-images/agnhost (netexec, serve-hostname, porter, pause, dns-suffix, "
    "dns-server-list, etc-hosts)",
    "registry.k8s.io/e2e-test-images/nginx",
    "registry.k8s.io/e2e-test-images/busybox",
    "nginx",
    "hashicorp/http-echo",
    "curlimages/curl",
    "busybox",
    "registry.k8s.io/pause",
]


class DnsAnswerLike(Protocol):
    rcode: str
    answers: list[Any]
    fqdn: str
    tried: list[str]


class PodNet(tools.PodNetLike, Protocol):
    """The network as one Pod sees it: the tools' view (namespace, DNS, connect), ``listen`` (a server in
    the Pod's sandbox: returns the server and its socket's path) and ``peer``, the virtual client ip:port
    of the connection being served."""

    def peer(self, real_peer: tuple[str, int]) -> tuple[str, int]: ...

    async def listen(self, port: int, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                                        Awaitable[None]], host: str = ""
                     ) -> tuple[asyncio.AbstractServer, str]: ...

    async def listen_udp(self, port: int, handler: Callable[[bytes, tuple[str, int]], bytes | None],
                         host: str = "") -> asyncio.BaseTransport: ...


@dataclass(frozen=True)
class ImageSpec:
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]


IMAGES: dict[str, ImageSpec] = {
    # agnhost's Dockerfile: ENTRYPOINT ["/agnhost"], CMD ["pause"] (test/images/agnhost/Dockerfile)
    AGNHOST: ImageSpec(("/agnhost",), ("pause",)),
    E2E_NGINX: ImageSpec((), ("nginx", "-g", "daemon off;")),  # nginx:1.14-alpine: no entrypoint script
    E2E_BUSYBOX: ImageSpec((), ("sh",)),
    "nginx": ImageSpec(("/docker-entrypoint.sh",), ("nginx", "-g", "daemon off;")),
    "hashicorp/http-echo": ImageSpec(("/http-echo",), ()),
    "curlimages/curl": ImageSpec(("/entrypoint.sh",), ("curl",)),
    "busybox": ImageSpec((), ("sh",)),
    "registry.k8s.io/pause": ImageSpec(("/pause",), ()),
}
_ALIASES = {"gcr.io/kubernetes-e2e-test-images/agnhost": AGNHOST}


def image_repo(image: str) -> str | None:
    """The emulated image's repository, or None when it is not emulated."""
    repo = repository(image)
    repo = _ALIASES.get(repo, repo)
    return repo if repo in IMAGES else None


def _full_reference(image: str) -> str:
    ref = image.strip()
    name = ref.split("@", 1)[0]
    if ":" not in name.rsplit("/", 1)[-1] and "@" not in ref:
        ref += ":latest"
    first = ref.split("/", 1)[0]
    if "/" not in ref or not ("." in first or ":" in first or first == "localhost"):
        ref = "docker.io/" + (ref if "/" in ref else "library/" + ref)
    return ref


def image_error(image: str) -> str | None:
    """None when the image is emulated, else the kubelet's ErrImagePull event message."""
    if image_repo(image):
        return None
    ref = _full_reference(image)
    return (f'Failed to pull image "{image}": failed to pull and unpack image "{ref}": failed to resolve '
            f'reference "{ref}": {ref}: not found; kai-labs\' embedded cluster can run only: '
            + ", ".join(SUPPORTED_IMAGES))


def container_argv(image: str, command: list[str] | None, args: list[str] | None) -> list[str]:
    """The process argv a container runtime starts: command replaces ENTRYPOINT, args replace CMD."""
    spec = IMAGES.get(image_repo(image) or "", ImageSpec((), ()))
    if command:
        return list(command) + list(args or [])
    return list(spec.entrypoint) + (list(args) if args else list(spec.cmd))


_ENV_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_env_refs(text: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion in command/args (``$$`` escapes, unknown refs stay)."""
    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return _ENV_REF.sub(repl, text)


# --------------------------------------------------------------------------- logging helpers

MAX_LOG_LINE = 16 * 1024  # containerd's max_container_log_line_size: a longer line is cut into pieces


class LineLog:
    """Turns text chunks into whole log lines (what ``kubectl logs`` shows, one call per line). As
    containerd's CRI log writer does, a line longer than MAX_LOG_LINE is handed on in pieces of that size,
    so a program that never writes a newline cannot grow the buffer (internal/cri/io/logger.go;
    the CRI plugin's max_container_log_line_size defaults to 16 KiB)."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.buf = ""

    def write(self, text: str) -> None:
        if "\n" not in text and len(self.buf) + len(text) < MAX_LOG_LINE:
            self.buf += text
            return
        lines = (self.buf + text).split("\n")
        self.buf = lines.pop()
        for line in lines:
            self._emit(line)
        while len(self.buf) >= MAX_LOG_LINE:
            self.log(self.buf[:MAX_LOG_LINE])
            self.buf = self.buf[MAX_LOG_LINE:]

    def _emit(self, line: str) -> None:
        for i in range(0, max(len(line), 1), MAX_LOG_LINE):
            self.log(line[i:i + MAX_LOG_LINE])

    def flush(self) -> None:
        if self.buf:
            self.log(self.buf)
            self.buf = ""


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def go_log_time() -> str:
    return _now().strftime("%Y/%m/%d %H:%M:%S")


def go_time_now() -> str:
    """Go's ``time.Now()`` printed with ``%v`` (monotonic suffix included)."""
    n = _now()
    return n.strftime("%Y-%m-%d %H:%M:%S.") + f"{n.microsecond * 1000:09d} +0000 UTC m=+{time.monotonic():.9f}"


def http_date() -> str:
    return _now().strftime("%a, %d %b %Y %H:%M:%S GMT")


# --------------------------------------------------------------------------- tiny HTTP/1.1 server

@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    client: tuple[str, int]

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def arg(self, name: str) -> str:
        return (self.query.get(name) or [""])[0]

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    @property
    def client_str(self) -> str:
        return f"{self.client[0]}:{self.client[1]}"


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    abort: bool = False  # close the connection without answering (process exit mid-request)
    after: Callable[[], Awaitable[None]] | None = None


Handler = Callable[[Request], Awaitable[Response]]


def go_response(status: int, body: str | bytes = b"", headers: list[tuple[str, str]] | None = None,
                content_type: str | None = None) -> Response:
    """A Go net/http response: handler headers (sorted), then Date, Content-Length, Content-Type."""
    data = body.encode() if isinstance(body, str) else body
    hdrs = sorted(headers or [])
    extra = [("Date", http_date()), ("Content-Length", str(len(data)))]
    if not any(k == "Content-Type" for k, _ in hdrs):
        ctype = content_type or ("text/plain; charset=utf-8" if data else None)
        if data.lstrip().lower().startswith((b"<!doctype html", b"<html")) and content_type is None:
            ctype = "text/html; charset=utf-8"
        if ctype:
            extra.append(("Content-Type", ctype))
    return Response(status, hdrs + extra, data)


async def _read_request(requests: http1.RequestReader,
                        client: Callable[[], tuple[str, int]]) -> Request | None:
    r = await requests.next()
    if r is None:
        return None
    return Request(r.method, r.target, r.version, r.headers, r.body, client())


def _encode_response(resp: Response, version: str, head: bool) -> bytes:
    reason = status_text(resp.status)
    status_line = (f"{version} {resp.status} {reason}" if reason
                   else f"{version} {resp.status} status code {resp.status}")
    head_text = status_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in resp.headers) + "\r\n"
    return head_text.encode("latin-1") + (b"" if head else resp.body)


class HttpApp:
    """Serves one listening port: parses requests, calls the handler, keeps connections alive."""

    def __init__(self, handler: Handler, net: PodNet,
                 error: Callable[[int], bytes] = http1.error_response):
        self.handler = handler
        self.net = net
        self.error = error  # the bytes answering a request that cannot be read (400, 431)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        real = writer.get_extra_info("peername") or ("127.0.0.1", 0)

        def client() -> tuple[str, int]:
            # asked once a request has arrived: by then the client's connect() has returned and the
            # virtual network knows which virtual address this real loopback peer stands for
            return self.net.peer((real[0], real[1]))
        requests = http1.RequestReader(reader)
        try:
            while True:
                try:
                    req = await _read_request(requests, client)
                except http1.BadRequest as e:
                    writer.write(self.error(e.status))
                    await writer.drain()
                    break
                if req is None:
                    break
                resp = await self.handler(req)
                if resp.abort:
                    break
                writer.write(_encode_response(resp, "HTTP/1.1", req.method == "HEAD"))
                await writer.drain()
                if resp.after:
                    asyncio.get_running_loop().create_task(_run(resp.after))
                if req.header("Connection").lower() == "close" or req.version == "HTTP/1.0":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            await tools._close(writer)


async def _run(after: Callable[[], Awaitable[None]]) -> None:
    await after()


# --------------------------------------------------------------------------- programs

class Program:
    """One emulated process. Servers list their ports; commands implement ``main``."""

    ports: list[int] = []
    # the host part of the listen address ("" = every address): 127.0.0.1 is reached only from inside the
    # Pod, the Pod IP only through it (R100)
    listen_host: str = ""
    udp_ports: list[int] = []  # UDP servers (R101): udp_handler_for answers each datagram
    udp_hosts: list[str] = []  # the UDP sockets' addresses when they differ from listen_host (R100)

    def __init__(self, c: Container):
        self.c = c

    def udp_handler_for(self, port: int) -> Callable[[bytes, tuple[str, int]], bytes | None]:
        raise NotImplementedError

    def handler_for(self, port: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        raise NotImplementedError

    def on_start(self) -> None:
        pass

    def bind_failed(self, err: OSError) -> None:
        """The listen address is none of the Pod's (EADDRNOTAVAIL): a Go server's log.Fatal, exit 1."""
        self.c.golog(str(err.strerror))
        self.c.exit_soon(1)

    async def main(self) -> int | None:
        """Command programs return an exit code; servers return None (run until stopped)."""
        return None

    term_code = 143  # exit code when stopped (SIGTERM not handled -> 128+15)


class NetExec(Program):
    def __init__(self, c: Container, flags: dict[str, str]):
        super().__init__(c)
        self.http_port = int(flags.get("http-port", "8080"))
        self.udp_port = int(flags.get("udp-port", "8081"))
        self.sctp_port = int(flags.get("sctp-port", "-1"))
        self.ports = [self.http_port]
        self.udp_ports = [self.udp_port] if self.udp_port != -1 else []
        # --udp-listen-addresses: one UDP server per address (netexec.go parseAddresses), "" = any
        self.udp_hosts = sorted({a.strip() for a in flags.get("udp-listen-addresses", "").split(",") if a.strip()})

    def on_start(self) -> None:
        self.c.golog(f"Started HTTP server on port {self.http_port}")
        if self.udp_port != -1:
            for host in self.udp_hosts or [""]:
                self.c.golog(f"Started UDP server on port {host} {self.udp_port}")

    def handler_for(self, port: int) -> Any:
        return HttpApp(self.route, self.c.net).serve

    def udp_handler_for(self, port: int) -> Callable[[bytes, tuple[str, int]], bytes | None]:
        """netexec's startUDPServer: hostname, ``echo <text>`` and clientip, on the lower-cased, trimmed
        datagram (test/images/agnhost/netexec/netexec.go)."""
        def answer(data: bytes, client: tuple[str, int]) -> bytes | None:
            text = data.decode("utf-8", "replace").strip().lower()
            who = f"{client[0]}:{client[1]}"
            if text == "hostname":
                self.c.golog("Sending udp hostName response")
                return self.c.net.pod_name.encode()
            if text.startswith("echo "):
                resp = text.split(" ", 1)[1]
                self.c.golog(f"Echoing {resp} to UDP client {who}")
                return resp.encode()
            if text == "clientip":
                self.c.golog(f"Sending clientip back to UDP client {who}")
                return who.encode()
            if text:
                self.c.golog(f"Unknown UDP command received from {who}: {text}")
            return None
        return answer

    async def route(self, req: Request) -> Response:
        routes: dict[str, Callable[[Request], Awaitable[Response]]] = {
            "/clientip": self.clientip, "/dial": self.dial, "/echo": self.echo, "/exit": self.exit,
            "/healthz": self.healthz, "/hostname": self.hostname, "/hostName": self.hostname,
            "/redirect": self.redirect, "/shell": self.shell, "/upload": self.upload, "/shutdown": self.shutdown,
        }
        return await routes.get(req.path, self.root)(req)

    async def root(self, req: Request) -> Response:
        self.c.golog("GET /")
        return go_response(200, f"NOW: {go_time_now()}")

    async def clientip(self, req: Request) -> Response:
        self.c.golog("GET /clientip")
        return go_response(200, req.client_str)

    async def hostname(self, req: Request) -> Response:
        self.c.golog(f"GET {req.path}")
        return go_response(200, self.c.net.pod_name)

    async def echo(self, req: Request) -> Response:
        msg, code = req.arg("msg"), req.arg("code")
        self.c.golog(f"GET /echo?msg={msg}&code={code}")
        status = 200
        if code:
            if not re.fullmatch(r"[+-]?\d+", code):
                return go_response(200, f"argument 'code' must be an integer or empty, got {_go_quote(code)}\n")
            status = int(code)
        return go_response(status, msg)

    async def healthz(self, req: Request) -> Response:
        self.c.golog("GET /healthz")
        ready = self.udp_port != -1 or self.sctp_port != -1
        return go_response(200 if ready else 412)

    async def redirect(self, req: Request) -> Response:
        location, code = req.arg("location"), req.arg("code")
        self.c.golog(f"{req.method} /redirect?msg={location}&code={code}")
        status = 302
        if code:
            if not re.fullmatch(r"[+-]?\d+", code):
                return go_response(200, f"argument 'code' must be an integer or empty, got {_go_quote(code)}\n")
            status = int(code)
        body = (f'<a href="{html.escape(location)}">{status_text(status)}</a>.\n\n' if req.method in ("GET", "HEAD")
                else "")
        hdrs = [("Location", location)] + ([("Content-Type", "text/html; charset=utf-8")] if body else [])
        return go_response(status, body, hdrs)

    async def exit(self, req: Request) -> Response:
        wait_s, timeout_s, code_s = req.arg("wait"), req.arg("timeout"), req.arg("code")
        self.c.golog(f"GET /exit?code={code_s}&timeout={timeout_s}&wait={wait_s}")
        timeout, wait = _go_duration(timeout_s), _go_duration(wait_s)
        if timeout is None and timeout_s:
            return go_response(200, "argument 'timeout' must be a valid golang duration or empty, "
                                    f"got {_go_quote(timeout_s)}\n")
        if wait is None and wait_s:
            return go_response(200, "argument 'wait' must be a valid golang duration or empty, "
                                    f"got {_go_quote(wait_s)}\n")
        if code_s and not re.fullmatch(r"[+-]?\d+", code_s):
            return go_response(200, f"argument 'code' must be an integer [0-127] or empty, got {_go_quote(code_s)}\n")
        code = int(code_s or 0)
        self.c.golog(f"Will begin shutdown in {_go_dur_str(wait or 0)}, allowing {_go_dur_str(timeout or 0)} "
                     f"for connections to close, then will exit with {code}")
        await asyncio.sleep(wait or 0)
        if not timeout:
            self.c.exit_soon(code)
            return Response(0, [], abort=True)

        async def later() -> None:
            self.c.golog("Graceful shutdown completed with: <nil>")
            await self.c.exit(code)
        return Response(200, [("Date", http_date()), ("Content-Length", "0")], after=later)

    async def shutdown(self, req: Request) -> Response:
        self.c.golog("GET /shutdown")
        self.c.exit_soon(0)
        return Response(0, [], abort=True)

    async def shell(self, req: Request) -> Response:
        cmd = req.arg("shellCommand") or req.arg("cmd")
        self.c.golog(f"GET /shell?cmd={cmd}")
        out = {"error": "kai-labs: netexec /shell is not emulated: the embedded cluster never runs shell "
                        "commands; use kubectl exec"}
        self.c.golog(f"Output: map[error:{out['error']}]")
        return go_response(200, go_json(out))

    async def upload(self, req: Request) -> Response:
        self.c.golog("GET /upload")
        self.c.golog("Unable to upload file: kai-labs does not store uploads")
        return go_response(200, go_json({"error": "Unable to upload file."}))

    async def dial(self, req: Request) -> Response:
        q = req.query
        host, port, request = (q.get("host") or [""])[0], (q.get("port") or [""])[0], (q.get("request") or [""])[0]
        protocol, tries_s = (q.get("protocol") or [""])[0], (q.get("tries") or [""])[0]
        self.c.golog(f"GET /dial?host={host}&protocol={protocol}&port={port}&request={request}&tries={tries_s}")
        tries = 1
        if tries_s:
            if not re.fullmatch(r"[+-]?\d+", tries_s):
                return _go_error(400, "tries parameter is invalid. "
                                      f"strconv.Atoi: parsing {_go_quote(tries_s)}: invalid syntax")
            tries = int(tries_s)
        if not request:
            return _go_error(400, "request parameter not specified. <nil>")
        if protocol.lower() not in ("", "http", "udp", "sctp"):
            return _go_error(400, f"unsupported protocol. {protocol}")
        addr = self._resolve_addr(host, port)
        if isinstance(addr, str):
            return _go_error(400, f"host and/or port param are invalid. {addr}")
        errors: list[str] = []
        responses: list[str] = []
        response = ""
        for _ in range(tries):
            response, err = await self._dial_once(protocol.lower() or "http", request, addr)
            (errors.append(err) if err else responses.append(response))
        output: dict[str, list[str]] = {}
        if response:
            output["responses"] = responses
        if errors:
            output["errors"] = errors
        return go_response(200, go_json(output))

    async def _dial_udp(self, request: str, ip: str, port: int) -> tuple[str, str]:
        return await _udp_exchange(self.c.net, ip, port, request)

    def _resolve_addr(self, host: str, port: str) -> tuple[str, int] | str:
        if not port.isdigit():
            return f"address {host}:{port}: " + ("missing port in address" if not port else "invalid port")
        ips = tools.resolve_ipv4(self.c.net, host) if host else ["0.0.0.0"]
        if not ips:
            return f"lookup {host} on {self.c.net.dns_ip}:53: no such host"
        return ips[0], int(port)

    async def _dial_once(self, protocol: str, request: str, addr: tuple[str, int]) -> tuple[str, str]:
        ip, port = addr
        if protocol == "udp":
            return await self._dial_udp(request, ip, port)
        if protocol != "http":
            return "", (f"{protocol} dial failed. err:kai-labs emulates TCP and UDP only ({protocol.upper()} "
                        "is not carried by the embedded cluster's virtual network)")
        url = f"http://{ip}:{port}/{request}"
        start = time.monotonic()
        try:
            reader, writer = await self.c.net.connect(ip, port, 5.0)
        except (asyncio.TimeoutError, TimeoutError):
            return "", (f'Get "{url}": dial tcp {ip}:{port}: i/o timeout '
                        '(Client.Timeout exceeded while awaiting headers)')
        except (ConnectionRefusedError, OSError):
            return "", f'Get "{url}": dial tcp {ip}:{port}: connect: connection refused'
        req = (f"GET /{request} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: Go-http-client/1.1\r\n"
               "Accept-Encoding: gzip\r\n\r\n").encode()
        try:
            left = max(5.0 - (time.monotonic() - start), 0.0)
            resp = await asyncio.wait_for(tools.http_exchange(reader, writer, req), left)
            return resp.body.decode("utf-8", "replace"), ""
        except (asyncio.TimeoutError, TimeoutError):
            return "", f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        except (http1.EmptyReply, ConnectionError, asyncio.IncompleteReadError, OSError):
            return "", f'Get "{url}": EOF'
        finally:
            await tools._close(writer)


async def _udp_exchange(net: PodNet, ip: str, port: int, request: str) -> tuple[str, str]:
    """netexec's dialUDP: one datagram, one reply read with a 5 s deadline; errors in its words."""
    flow = net.udp(ip, port)
    try:
        flow.send(request.encode())
        try:
            data = await flow.recv(5.0)
        except ConnectionRefusedError:
            return "", f"reading from udp connection failed. err:'read udp {flow.local}->{ip}:{port}: " \
                       "read: connection refused'"
        except TimeoutError:
            return "", f"reading from udp connection failed. err:'read udp {flow.local}->{ip}:{port}: " \
                       "i/o timeout'"
        if not data:
            return "", "reading from udp connection failed. err:'<nil>'"
        return data.decode("utf-8", "replace"), ""
    finally:
        flow.close()


def _go_error(status: int, msg: str) -> Response:
    """Go ``http.Error``: text/plain, nosniff, message plus newline."""
    return go_response(status, msg + "\n", [("Content-Type", "text/plain; charset=utf-8"),
                                             ("X-Content-Type-Options", "nosniff")])


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _go_duration(text: str) -> float | None:
    if not text:
        return None
    if text == "0":
        return 0.0
    parts = re.findall(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    return sum(float(a) * _GO_UNITS[b] for a, b in parts)


def _go_dur_str(secs: float) -> str:
    if secs == 0:
        return "0s"
    if secs < 1:
        return f"{secs * 1000:g}ms"
    m, s = divmod(secs, 60)
    h, m = divmod(int(m), 60)
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s:g}s"


class ServeHostname(Program):
    def __init__(self, c: Container, flags: dict[str, str]):
        super().__init__(c)
        self.port = int(flags.get("port", "9376"))
        self.http = flags.get("http", "true") != "false"
        self.tcp = flags.get("tcp", "false") != "false"
        self.close = flags.get("close", "false") != "false"
        self.udp = flags.get("udp", "false") != "false"
        self.ports = [self.port] if (self.http or self.tcp) else []
        self.udp_ports = [self.port] if self.udp else []

    def udp_handler_for(self, port: int) -> Callable[[bytes, tuple[str, int]], bytes | None]:
        """serve_hostname.go --udp: every datagram is answered with the hostname."""
        def answer(data: bytes, client: tuple[str, int]) -> bytes | None:
            self.c.golog(f"UDP request from {client[0]}:{client[1]}")
            return self.c.net.pod_name.encode()
        return answer

    def on_start(self) -> None:
        self.c.golog(f"Serving on port {self.port}.")

    def handler_for(self, port: int) -> Any:
        if self.tcp:
            return self.raw
        return HttpApp(self.answer, self.c.net).serve

    async def answer(self, req: Request) -> Response:
        self.c.golog(f"HTTP request from {req.client_str}")
        return go_response(200, self.c.net.pod_name, [("Connection", "close")] if self.close else None)

    async def raw(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        real = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        for _ in range(3):  # let the dialing side's connect() return and register the virtual peer
            await asyncio.sleep(0)
        ip, port = self.c.net.peer((real[0], real[1]))
        self.c.golog(f"TCP request from {ip}:{port}")
        writer.write(self.c.net.pod_name.encode())
        await tools._close(writer)


class Porter(Program):
    """agnhost porter (test/images/agnhost/porter/porter.go): for every env var SERVE_PORT_<n> or
    SERVE_TCP_PORT_<n> an HTTP server on 0.0.0.0:<n> answering every request with the var's value
    (``--json-response``: {"Method":..,"Body":..}); SERVE_UDP_PORT_<n> answers each datagram with it."""

    def __init__(self, c: Container, json_response: bool):
        super().__init__(c)
        self.json_response = json_response
        self.values: dict[int, str] = {}
        self.udp_values: dict[int, str] = {}
        for key, value in c.env.items():
            for prefix, table in (("SERVE_PORT_", self.values), ("SERVE_TCP_PORT_", self.values),
                                  ("SERVE_UDP_PORT_", self.udp_values)):
                if key.startswith(prefix) and key[len(prefix):].isdigit() and 0 < int(key[len(prefix):]) < 65536:
                    table[int(key[len(prefix):])] = value
        self.ports = sorted(self.values)
        self.udp_ports = sorted(self.udp_values)

    def on_start(self) -> None:
        for port in self.udp_ports:
            self.c.golog(f"Started UDP server on port {port}")

    def handler_for(self, port: int) -> Any:
        value = self.values[port]

        async def answer(req: Request) -> Response:
            if self.json_response:
                return go_response(200, go_json({"Body": value, "Method": req.method}),
                                   [("Content-Type", "application/json")])
            return go_response(200, value)
        return HttpApp(answer, self.c.net).serve

    def udp_handler_for(self, port: int) -> Callable[[bytes, tuple[str, int]], bytes | None]:
        value = self.udp_values[port].encode()
        return lambda data, client: value


class Pause(Program):
    def __init__(self, c: Container, agnhost: bool):
        super().__init__(c)
        self.agnhost = agnhost
        self.term_code = 2 if agnhost else 0

    def on_start(self) -> None:
        if self.agnhost:
            self.c.out("Paused\n")


class HttpEcho(Program):
    term_code = 143

    def __init__(self, c: Container, listen: str, text: str):
        super().__init__(c)
        self.listen, self.text = listen, text
        host, _, port = listen.rpartition(":")
        self.listen_host = host
        self.ports = [int(port)] if port.isdigit() else []

    def on_start(self) -> None:
        self.c.golog(f"[INFO] server is listening on {self.listen}")

    def handler_for(self, port: int) -> Any:
        return HttpApp(self.route, self.c.net).serve

    def bind_failed(self, err: OSError) -> None:
        """http-echo logs where it listens, then ListenAndServe's error ends it through log.Fatalf (exit 1)
        (hashicorp/http-echo main.go)."""
        self.on_start()
        self.c.golog(f"[ERR] server exited with: {err.strerror}")
        self.c.exit_soon(1)

    async def route(self, req: Request) -> Response:
        app = [("X-App-Name", "http-echo"), ("X-App-Version", HTTP_ECHO_VERSION)]
        if req.path == "/health":
            return go_response(200, '{"status":"ok"}\n', app)
        start = time.monotonic()
        resp = go_response(200, self.text + "\n", app)
        dur = (time.monotonic() - start) * 1e6 + random.uniform(20, 60)
        path = urlsplit(req.target).path
        self.c.out(f'{go_log_time()} {req.header("Host")} {req.client_str} "{req.method} {path} {req.version}" '
                   f'200 {len(resp.body)} "{req.header("User-Agent")}" {dur:.3f}µs\n')
        return resp


NGINX_WELCOME = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""
NGINX_MTIME = _dt.datetime(2024, 11, 26, 15, 55, 0, tzinfo=_dt.timezone.utc)

NGINX_ENTRYPOINT_NOTICES = [
    "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
    "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
    "10-listen-on-ipv6-by-default.sh: info: Getting the checksum of /etc/nginx/conf.d/default.conf",
    "10-listen-on-ipv6-by-default.sh: info: Enabled listen on IPv6 in /etc/nginx/conf.d/default.conf",
    "/docker-entrypoint.sh: Sourcing /docker-entrypoint.d/15-local-resolvers.envsh",
    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/20-envsubst-on-templates.sh",
    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/30-tune-worker-processes.sh",
    "/docker-entrypoint.sh: Configuration complete; ready for start up",
]


def nginx_error_page(status: int, version: str = NGINX_VERSION) -> bytes:
    title = f"{status} {status_text(status) if status != 405 else 'Not Allowed'}"
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            f"<hr><center>nginx/{version}</center>\r\n</body>\r\n</html>\r\n").encode()


class Nginx(Program):
    ports = [80]
    term_code = 0

    def __init__(self, c: Container, notices: bool, version: str = NGINX_VERSION):
        super().__init__(c)
        self.notices = notices
        self.version = version
        # nginx:1.14-alpine (the e2e image) is built on Alpine and its welcome page predates color-scheme
        self.alpine = version != NGINX_VERSION
        self.welcome = (NGINX_WELCOME.replace("html { color-scheme: light dark; }\n", "") if self.alpine
                        else NGINX_WELCOME).encode()
        self.requests = 0

    def on_start(self) -> None:
        if self.notices:
            for line in NGINX_ENTRYPOINT_NOTICES:
                self.c.out(line + "\n")
        t = go_log_time()
        built = "built by gcc 6.4.0 (Alpine 6.4.0) " if self.alpine else "built by gcc 12.2.0 (Debian 12.2.0-14) "
        for line in ('using the "epoll" event method', f"nginx/{self.version}", built, "OS: Linux 6.8.0-kai-labs",
                     "getrlimit(RLIMIT_NOFILE): 1048576:1048576", "start worker processes",
                     "start worker process 29"):
            self.c.out(f"{t} [notice] 1#1: {line}\n")

    def handler_for(self, port: int) -> Any:
        return HttpApp(self.route, self.c.net, self._bad_request).serve

    def _bad_request(self, status: int) -> bytes:
        """nginx's answer to a request it cannot read: 400, with its own page for an oversized head
        (ngx_http_special_response.c, ngx_http_error_494_page)."""
        if status == 431:
            body = ("<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n<body>\r\n"
                    "<center><h1>400 Bad Request</h1></center>\r\n<center>Request Header Or Cookie Too Large"
                    f"</center>\r\n<hr><center>nginx/{self.version}</center>\r\n</body>\r\n</html>\r\n").encode()
        else:
            body = nginx_error_page(400, self.version)
        hdrs = self._headers("text/html", len(body)) + [("Connection", "close")]
        return _encode_response(Response(400, hdrs, body), "HTTP/1.1", False)

    def _headers(self, ctype: str, length: int) -> list[tuple[str, str]]:
        return [("Server", f"nginx/{self.version}"), ("Date", http_date()), ("Content-Type", ctype),
                ("Content-Length", str(length))]

    async def route(self, req: Request) -> Response:
        self.requests += 1
        path = req.path
        if path in ("/", "/index.html") and req.method in ("GET", "HEAD"):
            body = self.welcome
            mtime = int(NGINX_MTIME.timestamp())
            hdrs = self._headers("text/html", len(body)) + [
                ("Last-Modified", NGINX_MTIME.strftime("%a, %d %b %Y %H:%M:%S GMT")), ("Connection", "keep-alive"),
                ("ETag", f'"{mtime:x}-{len(body):x}"'), ("Accept-Ranges", "bytes")]
            resp = Response(200, hdrs, body)
        else:
            status = 405 if path in ("/", "/index.html") else 404
            body = nginx_error_page(status, self.version)
            resp = Response(status, self._headers("text/html", len(body)) + [("Connection", "keep-alive")], body)
            if status == 404:
                self.c.err(f'{go_log_time()} [error] 29#29: *{self.requests} open() "/usr/share/nginx/html{path}" '
                           f'failed (2: No such file or directory), client: {req.client[0]}, server: localhost, '
                           f'request: "{req.method} {req.target} {req.version}", host: "{req.header("Host")}"\n')
        sent = 0 if req.method == "HEAD" else len(resp.body)
        stamp = _now().strftime("%d/%b/%Y:%H:%M:%S +0000")
        self.c.out(f'{req.client[0]} - - [{stamp}] "{req.method} {req.target} {req.version}" {resp.status} {sent} '
                   f'"{req.header("Referer") or "-"}" "{req.header("User-Agent") or "-"}" '
                   f'"{req.header("X-Forwarded-For") or "-"}"\n')
        return resp


class Command(Program):
    """A client process (curl, sh -c ..., sleep ...): runs once through the tools emulator."""

    term_code = 137  # PID 1 shells ignore SIGTERM: the kubelet ends them with SIGKILL

    # With ``stdin: true`` (``kubectl run -i ... -- curl ...``) kubectl attaches once the Pod runs; a real
    # container is still starting its process then, an emulated one would already be done and its output
    # lost to the attach. So it waits for the first attach (for at most this long) before running.
    ATTACH_GRACE = 2.0

    def __init__(self, c: Container, argv: list[str]):
        super().__init__(c)
        self.argv = argv
        self.ports = []
        self.attached = asyncio.Event()

    async def main(self) -> int | None:
        if self.c.spec.get("stdin"):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.attached.wait(), self.ATTACH_GRACE)
        return await tools.run(self.argv, self.c.net, self.c.out, self.c.err, image=self.c.image,
                               env=self.c.env, fs=self.c.fs)


class AttachedShell(Program):
    """``sh`` as the container's process with ``stdin: true`` (``kubectl run -it ... -- sh``): it waits at
    its prompt for what ``kubectl attach`` sends; with ``stdinOnce`` the end of the first attach session
    closes its stdin and the shell exits, as ash does at end of input."""

    term_code = 137  # PID 1 shells ignore SIGTERM: the kubelet ends them with SIGKILL

    def __init__(self, c: Container, argv: list[str]):
        super().__init__(c)
        self.argv = argv
        self.ports = []
        self.tty = bool(c.spec.get("tty"))
        self.stdin_once = bool(c.spec.get("stdinOnce"))
        self.sessions: list[tuple[Callable[[str], None], Callable[[str], None]]] = []
        self.attaches = 0
        self.shell = ttyshell.Shell(c.net, c.image, c.env, c.fs, tty=self.tty, out=self._out, err=self._err)

    def _out(self, text: str) -> None:
        self.c.out(text)
        for out, _ in list(self.sessions):
            out(text)

    def _err(self, text: str) -> None:
        self.c.err(text)
        for _, err in list(self.sessions):
            err(text)

    def attach(self, out: Callable[[str], None], err: Callable[[str], None]) -> Callable[[], None]:
        """Connect an attach session's stdout/stderr; returns the detach function."""
        pair = (out, err)
        self.sessions.append(pair)
        self.attaches += 1

        def detach() -> None:
            if pair in self.sessions:
                self.sessions.remove(pair)
                if self.stdin_once:
                    self.shell.close_stdin()

        return detach

    async def main(self) -> int | None:
        try:
            return await self.shell.run()
        finally:
            await self.shell.stop()


class Exited(Program):
    """A process that printed something and ended (usage errors, unknown subcommands)."""

    def __init__(self, c: Container, code: int, text: str = ""):
        super().__init__(c)
        self.code, self.text = code, text
        self.ports = []

    async def main(self) -> int | None:
        if self.text:
            self.c.err(self.text)
        return self.code


# --------------------------------------------------------------------------- argv -> program

def parse_long_flags(args: list[str], bools: set[str]) -> tuple[dict[str, str], list[str], str | None]:
    """pflag/Go-flag style parsing: ``--k=v``, ``--k v``, ``-k=v``; bool flags need no value."""
    flags: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if not a.startswith("-") or a in ("-", "--"):
            rest.append(a)
            continue
        name, eq, val = a.lstrip("-").partition("=")
        if not eq:
            if name in bools:
                val = "true"
            elif i < len(args):
                val, i = args[i], i + 1
            else:
                return flags, rest, f"flag needs an argument: {a}"
        flags[name] = val
    return flags, rest, None


_NETEXEC_FLAGS = {"http-port", "udp-port", "sctp-port", "tls-cert-file", "tls-private-key-file", "http-override",
                  "udp-listen-addresses", "delay-shutdown"}
_SERVE_HOSTNAME_FLAGS = {"port", "http", "tcp", "udp", "close"}


def _agnhost(c: Container, args: list[str]) -> Program:
    if not args:
        return Exited(c, 0, "")
    sub, rest = args[0], args[1:]
    if sub == "netexec":
        flags, _, err = parse_long_flags(rest, set())
        bad = next((f for f in flags if f not in _NETEXEC_FLAGS), None)
        if err or bad:
            return Exited(c, 1, f"Error: {err or 'unknown flag: --' + str(bad)}\n")
        return NetExec(c, flags)
    if sub == "serve-hostname":
        flags, _, err = parse_long_flags(rest, {"http", "tcp", "udp", "close"})
        bad = next((f for f in flags if f not in _SERVE_HOSTNAME_FLAGS), None)
        if err or bad:
            return Exited(c, 1, f"Error: {err or 'unknown flag: --' + str(bad)}\n")
        return ServeHostname(c, flags)
    if sub == "pause":
        return Pause(c, agnhost=True)
    if sub == "porter":
        flags, rest, err = parse_long_flags(rest, {"json-response"})
        bad = next((f for f in flags if f != "json-response"), None)
        if err or bad:
            return Exited(c, 1, f"Error: {err or 'unknown flag: --' + str(bad)}\n")
        if rest:  # cobra.MaximumNArgs(0)
            return Exited(c, 1, f'Error: accepts at most 0 arg(s), received {len(rest)}\n')
        return Porter(c, flags.get("json-response", "false") != "false")
    if sub in tools.AGNHOST_COMMANDS:
        return Command(c, ["/agnhost", *args])
    return Exited(c, 1, f'Error: unknown command "{sub}" for "agnhost"\nRun \'agnhost --help\' for usage.\n'
                        "kai-labs emulates the agnhost subcommands netexec, serve-hostname, porter, pause, "
                        f"{', '.join(tools.AGNHOST_COMMANDS)}.\n")


def _http_echo(c: Container, args: list[str]) -> Program:
    flags, rest, err = parse_long_flags(args, {"version"})
    if err:
        return Exited(c, 2, err + "\n")
    bad = next((f for f in flags if f not in ("listen", "text", "version")), None)
    if bad:
        return Exited(c, 2, f"flag provided but not defined: -{bad}\nUsage of /http-echo:\n")
    if "version" in flags:
        return Exited(c, 0, f"http-echo v{HTTP_ECHO_VERSION}\n")
    text = flags.get("text") or c.env.get("ECHO_TEXT", "")
    if not text:
        return Exited(c, 127, "Missing -text option OR ENV var TEXT is empty!\n")
    if rest:
        return Exited(c, 127, "Too many arguments!\n")
    return HttpEcho(c, flags.get("listen", ":5678"), text)


def make_program(c: Container, argv: list[str]) -> Program:
    if not argv:
        return Exited(c, 128, "")
    exe = argv[0].rsplit("/", 1)[-1]
    repo = c.repo
    if repo == AGNHOST and exe == "agnhost":
        return _agnhost(c, argv[1:])
    if repo == "nginx" and exe == "docker-entrypoint.sh":
        if len(argv) > 1 and argv[1] in ("nginx", "nginx-debug"):
            return Nginx(c, notices=True)
        return make_program(c, argv[1:])
    if repo == "nginx" and exe in ("nginx", "nginx-debug"):
        return Nginx(c, notices=False)
    if repo == E2E_NGINX and exe == "nginx":
        return Nginx(c, notices=False, version=E2E_NGINX_VERSION)
    if repo == "hashicorp/http-echo" and exe == "http-echo":
        return _http_echo(c, argv[1:])
    if repo == "curlimages/curl" and exe == "entrypoint.sh":
        rest = argv[1:]
        if not rest or rest[0].startswith("-") or not tools.tool_available(c.image, rest[0]):
            rest = ["curl"] + rest
        return make_program(c, rest)
    if repo == "registry.k8s.io/pause" and exe == "pause":
        return Pause(c, agnhost=False)
    if c.spec.get("stdin") and ttyshell_is_interactive(argv, c.image):
        return AttachedShell(c, argv)
    if tools.tool_available(c.image, argv[0]):
        return Command(c, argv)
    c.start_error = start_error_message(argv[0])
    return Exited(c, 128, "")


def ttyshell_is_interactive(argv: list[str], image: str) -> bool:
    return ttyshell.is_interactive_shell(argv, image)


def start_error_message(exe: str) -> str:
    """The StartError message containerd/runc report for a missing executable."""
    return ("failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create "
            f'failed: unable to start container process: exec: "{exe}": executable file not found in $PATH: unknown')


def exec_error_message(exe: str) -> str:
    return (f'OCI runtime exec failed: exec failed: unable to start container process: exec: "{exe}": '
            "executable file not found in $PATH: unknown")


# --------------------------------------------------------------------------- the container

class Container:
    """One running container of a Pod, emulating the image it names."""

    def __init__(self, pod: dict[str, Any], container: dict[str, Any], net: PodNet, log: Callable[[str], None],
                 env: dict[str, str] | None = None):
        self.pod, self.spec, self.net = pod, container, net
        self.name: str = container.get("name", "")
        self.image: str = container.get("image", "")
        self.repo = image_repo(self.image) or ""
        self.env: dict[str, str] = {e["name"]: str(e.get("value", "")) for e in container.get("env") or []
                                    if "name" in e and "valueFrom" not in e}
        self.env.update(env or {})
        self.cgroup = container_cgroup(container, pod)
        self.cgroup.on_oom.append(self._oom_kill)
        self.fs = tools.ContainerFiles(self.cgroup)
        self.start_error: str | None = None
        self._log = LineLog(log)
        command = [expand_env_refs(a, self.env) for a in container.get("command") or []]
        args = [expand_env_refs(a, self.env) for a in container.get("args") or []]
        self.argv = container_argv(self.image, command or None, args or None)
        self.program = make_program(self, self.argv)
        self.listen_ports: list[int] = list(self.program.ports)
        self.bound: dict[int, str] = {}  # app port -> its socket in the Pod's sandbox
        self._servers: list[asyncio.AbstractServer] = []
        self._udp: list[asyncio.BaseTransport] = []
        self._task: asyncio.Task[None] | None = None
        self._done: asyncio.Future[int] | None = None
        self._started = False

    # output ------------------------------------------------------------------
    def out(self, text: str) -> None:
        self._log.write(text)

    def err(self, text: str) -> None:
        self._log.write(text)

    def golog(self, msg: str) -> None:
        self.out(f"{go_log_time()} {msg}\n")

    # lifecycle ---------------------------------------------------------------
    def _future(self) -> asyncio.Future[int]:
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
        return self._done

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        done = self._future()
        for port in self.listen_ports:
            try:
                server, path = await self.net.listen(port, self.program.handler_for(port),
                                                     self.program.listen_host)
            except OSError as e:
                self.program.bind_failed(e)
                return
            self._servers.append(server)
            self.bound[port] = path
        for port in self.program.udp_ports:
            for host in self.program.udp_hosts or [self.program.listen_host]:
                try:
                    self._udp.append(await self.net.listen_udp(port, self.program.udp_handler_for(port), host))
                except OSError as e:
                    self.program.bind_failed(e)
                    return
        self.program.on_start()
        if not (self.listen_ports or self.program.udp_ports) and not isinstance(self.program, Pause) \
                and not done.done():
            self._task = asyncio.get_running_loop().create_task(self._main())

    async def _main(self) -> None:
        try:
            code = await self.program.main()
        except asyncio.CancelledError:
            return
        except tools.OutOfMemory:
            code = 137
        except Exception as e:  # a fault of the emulator, never of the learner: one sentence, exit 1
            self.err(f"kai-labs: the emulated program stopped on an internal error ({type(e).__name__}: {e})\n")
            code = 1
        if code is not None:
            await self.exit(code)

    def _oom_kill(self) -> None:
        """The cgroup's OOM killer fired: with ``memory.oom.group`` every process of the container dies."""
        done = self._future()
        if not done.done():
            self.exit_soon(137)

    def termination_reason(self, code: int) -> str:
        """The reason the runtime reports for the container's end: containerd's CRI marks a container
        whose cgroup had an OOM kill ``OOMKilled`` (its TaskOOM event sets the status reason,
        internal/cri/server/events.go), else ``Completed`` for exit code 0 and ``Error``."""
        if self.cgroup.oom_killed:
            return "OOMKilled"
        return "Completed" if code == 0 else "Error"

    async def exit(self, code: int) -> None:
        """The emulated process ends with ``code``: servers close, wait() resolves, the node no longer
        counts the container's memory."""
        self._log.flush()
        self.cgroup.detach()
        done = self._future()
        first = not done.done()
        # the process's sockets go with it; the Pod's sandbox stays (its other containers, its IP), so the
        # kernel answers the port with a TCP reset / ICMP port unreachable from now on: the socket files go
        # too, else a connection would find a file nobody accepts on, which the fabric takes for a node that
        # is gone (R109). Only the first exit unlinks: a later stop must not remove a restart's sockets.
        paths = [p for p in self.bound.values() if isinstance(p, str)]
        paths += [n for t in self._udp if isinstance(n := t.get_extra_info("sockname"), str) and n]
        for s in self._servers:
            s.close()
        self._servers = []
        for t in self._udp:
            t.close()
        self._udp = []
        if first:
            for path in paths:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            done.set_result(code & 0xFF)

    def exit_soon(self, code: int) -> None:
        asyncio.get_running_loop().create_task(self.exit(code))

    async def wait(self) -> int:
        return await asyncio.shield(self._future())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.exit(self.program.term_code)

    # kubectl exec ------------------------------------------------------------
    async def exec(self, argv: list[str], stdin: str | None = None) -> tuple[int, str, str]:
        """A process run in the container with its output collected (an exec probe): returns (exit code,
        stdout, stderr), each cut at EXEC_OUTPUT_LIMIT as the kubelet's exec prober reads no more."""
        if not argv:
            return 126, "", exec_error_message("")
        if not tools.tool_available(self.image, argv[0]):
            return 126, "", exec_error_message(argv[0])
        out, err = _Bounded(EXEC_OUTPUT_LIMIT), _Bounded(EXEC_OUTPUT_LIMIT)
        code = await tools.run(argv, self.net, out.write, err.write, image=self.image, env=self.env,
                               stdin=stdin, fs=self.fs)
        return code, out.text(), err.text()


EXEC_OUTPUT_LIMIT = 10 * 1024  # pkg/probe/exec/exec.go maxReadLength


class _Bounded:
    """Keeps the first ``limit`` characters written to it, drops the rest."""

    def __init__(self, limit: int):
        self.limit, self.size = limit, 0
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        if self.size < self.limit:
            piece = text[:self.limit - self.size]
            self.parts.append(piece)
            self.size += len(piece)

    def text(self) -> str:
        return "".join(self.parts)


def container_cgroup(container: dict[str, Any], pod: dict[str, Any] | None = None) -> tools.Cgroup:
    """The budget the kubelet would ask the runtime for: ``resources.limits.memory`` as
    ``Quantity.Value()`` bytes and ``resources.limits.cpu`` as a CFS quota of MilliValue()/1000 of each
    100 ms period (at least 1 ms: milliCPUToQuota). Where no memory limit is set (or 0, which the kubelet
    leaves unlimited) the container gets tools.DEFAULT_MEMORY_LIMIT: a kai-labs choice, since every
    emulated program shares the node's one process. pkg/kubelet/kuberuntime/kuberuntime_container_linux.go
    (calculateLinuxResources). It sits under the node's cgroup (tools.NODE) with the OOM score adjustment
    of its Pod's QoS class (pkg/kubelet/qos/policy.go), which decides who goes first when the node's
    containers together hold too much."""
    limits = (container.get("resources") or {}).get("limits") or {}
    memory = _quantity(limits.get("memory"))
    cpu = _quantity(limits.get("cpu"))
    limit = quantity_value(memory) if memory is not None and memory > 0 else tools.DEFAULT_MEMORY_LIMIT
    quota = None
    if cpu is not None and cpu > 0:
        quota = max(quantity_milli_value(cpu) / 1000 * tools.CFS_PERIOD, tools.CFS_MIN_QUOTA)
    adj = oom_score_adj(pod or {"spec": {"containers": [container]}}, container, tools.NODE_MEMORY_FOR_PODS)
    return tools.Cgroup(limit, quota, parent=tools.NODE, oom_score_adj=adj)


def _quantity(value: Any) -> Fraction | None:
    text = as_text(value)
    if text is None:
        return None
    try:
        return parse_quantity(text.strip())
    except QuantityError:
        return None  # the API should have refused it; the container runs with the defaults
