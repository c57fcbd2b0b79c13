"""Emulated command-line tools for the embedded cluster's containers.

Nothing here ever hands learner text to a real shell or subprocess: ``sh`` is a
small POSIX-sh subset interpreter written in Python, and ``curl``, ``wget`` and
``nslookup`` speak real HTTP/1.1 over the virtual network (``PodNet.connect``)
after a virtual DNS lookup (``PodNet.resolve``).

Output texts follow the real tools, from their sources and documented output:

* curl 8.x: ``lib/strerror.c`` (``Could not resolve host``, ``Could not connect
  to server``, ``Timeout was reached``), ``lib/multi.c`` (``Connection timed out
  after N milliseconds`` / ``Operation timed out after N milliseconds with N
  bytes received``), ``lib/connect.c`` (``Failed to connect to H port P after N
  ms: ...``) and the 8.10-style verbose lines (``* Host web:80 was resolved.``,
  ``* IPv4: ...``, ``*   Trying ...``, ``* Connected to ...``).
* busybox 1.36 ``networking/nslookup.c`` (the "big" nslookup: A then AAAA
  queries, one per search domain for a dot-less name and none otherwise,
  ``** server can't find NAME: NXDOMAIN`` setting exit code 1, ``*** Can't find
  NAME: No answer`` for an empty NOERROR reply, a blank line after each reply,
  ``Non-authoritative answer:`` for replies without the AA bit).
* busybox 1.36 ``networking/wget.c`` (``Connecting to H (IP:PORT)``, ``wget:
  bad address 'H'``, ``wget: can't connect to remote host (IP): Connection
  refused``, ``wget: download timed out``, ``wget: server returned error: ...``).
* busybox ash for ``sh: foo: not found`` (exit 127).

Deliberate differences (kai-labs): connect/read waits without an explicit
timeout are capped at ``DEFAULT_WAIT_CAP`` (10 s; real curl waits up to 300 s
for a connect and busybox wget 900 s); https is refused after the TCP connect
with curl's TLS error (the emulated servers speak no TLS); files written by
commands live in a per-container in-memory dict.

Budgets (a container's cgroup, :class:`Cgroup`). Every emulated process runs on the node's event loop,
so what a real container's cgroup and the kernel's scheduler give for free is done here:

* memory: what a program holds (shell variables, the words of a command, the text a pipeline or a
  ``$( )`` captured, the files it wrote) is charged to its container's memory limit
  (``resources.limits.memory``; :data:`DEFAULT_MEMORY_LIMIT` where none is set, a kai-labs choice).
  Anything that would grow a value (``x=$x$x``, ``printf '%1500000000s'``, a capture) is checked
  *before* it is built. Going over the limit is the cgroup OOM killer's SIGKILL: the process ends with
  137 and, as the kubelet asks for ``memory.oom.group=1`` on cgroup v2
  (pkg/kubelet/kuberuntime/kuberuntime_container_linux.go, calculateLinuxResources), every process of
  the container with it, so ``kubectl exec`` in a container shares its limit and takes it down too.
  A character counts as a byte; every string also costs :data:`STRING_COST` (what the emulator
  spends on it), so a million tiny words cannot hide behind their length.
* CPU: every command, loop iteration and long builtin calls :meth:`Cgroup.pace`, which gives the
  event loop back after :data:`TIME_SLICE` of work, so a ``while true; do :; done`` burns its share of
  time slices and never starves the API or other Pods; ``resources.limits.cpu`` is a CFS quota per
  100 ms period (milliCPUToQuota, 1 ms minimum) after which the container waits for the next period.
* output: a long write goes out in :data:`OUTPUT_CHUNK` pieces (a pipe's size), pacing between them:
  ``seq 300000000`` streams, it never builds its whole output.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import random
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, NoReturn, Protocol
from urllib.parse import urljoin, urlsplit

from ..network import http1
from ..network.http1 import EmptyReply, HttpResponse

Out = Callable[[str], None]

CURL_VERSION = "8.11.1"
BUSYBOX_VERSION = "1.36.1"
DEFAULT_WAIT_CAP = 10.0
DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024  # a container without resources.limits.memory (kai-labs' choice)
STRING_COST = 64  # what one string costs beyond its characters (a CPython str header and a reference)
TIME_SLICE = 0.002  # seconds an emulated program runs before it lets the event loop serve others
CFS_PERIOD = 0.1  # cpu.cfs_period_us: 100 ms (pkg/kubelet/cm quotaPeriod)
CFS_MIN_QUOTA = 0.001  # milliCPUToQuota's minQuotaPeriod: 1 ms
OUTPUT_CHUNK = 64 * 1024  # the most one write hands on at once (a Linux pipe buffer)
MAX_NESTING = 40  # scripts inside scripts ($( ), sh -c, sh FILE) before the emulated sh refuses
PARSE_IN_THREAD = 16 * 1024  # scripts longer than this are parsed off the event loop
PARSE_COST = 48  # memory a parsed script holds per character of its text (its tokens and tree)


class PodNetLike(Protocol):  # the part of images.PodNet the tools use
    namespace: str
    pod_name: str
    pod_ip: str
    node_name: str
    dns_ip: str

    def resolve(self, name: str, qtype: str = "A") -> Any: ...

    def resolv_conf(self) -> str: ...

    async def connect(self, ip: str, port: int,
                      timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...

    def udp(self, ip: str, port: int) -> Any:
        """A connected UDP socket (fabric.UdpFlow): send(bytes), await recv(timeout), close(), local."""
        ...


# --------------------------------------------------------------------------- images and their tools

_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


def repository(image: str) -> str:
    """``docker.io/library/nginx:1.27`` -> ``nginx``; ``k8s.gcr.io/pause:3.9`` -> ``registry.k8s.io/pause``."""
    ref = image.strip().split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        ref = ref[:colon]
    parts = ref.split("/")
    if len(parts) > 1 and parts[0] in _DOCKER_HUB:
        parts = parts[1:]
    if len(parts) == 2 and parts[0] == "library":
        parts = parts[1:]
    if parts and parts[0] == "k8s.gcr.io":
        parts[0] = "registry.k8s.io"
    return "/".join(parts).lower()


AGNHOST = "registry.k8s.io/e2e-test-images/agnhost"
# the e2e suite's own images (kubernetes test/images): nginx is nginx:1.14-alpine mirrored (nginx/BASEIMAGE),
# busybox is busybox with its applets
E2E_NGINX = "registry.k8s.io/e2e-test-images/nginx"
E2E_BUSYBOX = "registry.k8s.io/e2e-test-images/busybox"
_BUSYBOX_TOOLS = frozenset([
    "sh", "ash", "wget", "nslookup", "sleep", "echo", "cat", "env", "hostname", "true", "false", "printf", "test",
    "[", "grep", "head", "tail", "wc", "date", "seq", "export", "unset", "cd", ":", "exit", "nc",
])
_DEBIAN_TOOLS = frozenset([
    "sh", "bash", "dash", "curl", "sleep", "echo", "cat", "env", "hostname", "true", "false", "printf", "test",
    "[", "grep", "head", "tail", "wc", "date", "seq", "export", "unset", "cd", ":", "exit",
])
IMAGE_TOOLS: dict[str, frozenset[str]] = {
    "curlimages/curl": _BUSYBOX_TOOLS | {"curl"},
    "busybox": _BUSYBOX_TOOLS,
    # agnhost is alpine + bind-tools, curl, bash; its nslookup is bind's (emulated with busybox's format)
    AGNHOST: _BUSYBOX_TOOLS | {"curl", "bash", "agnhost"},
    E2E_BUSYBOX: _BUSYBOX_TOOLS,
    E2E_NGINX: _BUSYBOX_TOOLS,  # alpine: busybox's applets
    "nginx": _DEBIAN_TOOLS,  # debian: dash as sh, curl present, no wget/nslookup
    "hashicorp/http-echo": frozenset(),  # scratch image: no shell at all
    "registry.k8s.io/pause": frozenset(),
}


def image_tools(image: str) -> frozenset[str]:
    return IMAGE_TOOLS.get(repository(image), _BUSYBOX_TOOLS | {"curl"})


def tool_available(image: str, argv0: str) -> bool:
    return argv0.rsplit("/", 1)[-1] in image_tools(image)


# --------------------------------------------------------------------------- budgets

class OutOfMemory(BaseException):
    """The cgroup's OOM killer ended the process: SIGKILL, which nothing in a program can catch (hence a
    BaseException: no ``except Exception`` in a tool swallows it)."""


class Cgroup:
    """One container's memory and CPU budget, shared by its main process and every ``kubectl exec``.

    ``usage`` is what the container's programs hold now (see the module docstring for what counts);
    ``charge`` and ``need`` raise :class:`OutOfMemory` once that would pass ``limit``, after marking the
    cgroup ``oom_killed`` and telling the container (``on_oom``), which ends with 137 / OOMKilled.

    A container's cgroup sits under its node's (``parent``: the kubepods cgroup, :data:`NODE`), whose
    limit is what all the node's containers may hold together. Passing that one is an OOM in the parent:
    the kernel kills the container with the highest badness (its usage plus ``oom_score_adj`` thousandths
    of the node's memory: mm/oom_kill.c oom_badness), which may be another container than the one asking,
    and the allocation goes on."""

    def __init__(self, memory_limit: int = DEFAULT_MEMORY_LIMIT, cpu_quota: float | None = None,
                 clock: Callable[[], float] = time.monotonic, parent: Cgroup | None = None,
                 oom_score_adj: int = 0):
        self.limit = memory_limit
        self.usage = 0
        self.peak = 0
        self.oom_killed = False
        self.parent = parent
        self.oom_score_adj = oom_score_adj
        self.children: weakref.WeakSet[Cgroup] = weakref.WeakSet()
        if parent is not None:
            parent.children.add(self)
        self.cpu_quota = cpu_quota  # seconds of CPU per CFS_PERIOD; None: unlimited
        self.cpu_seconds = 0.0
        self.throttled = 0  # periods in which the quota ran out (cpu.stat nr_throttled)
        self.on_oom: list[Callable[[], None]] = []
        self._clock = clock
        self._mark = clock()
        self._slice = 0.0
        self._period_end = 0.0
        self._period_used = 0.0

    # memory ---------------------------------------------------------------------------------------
    def need(self, n: int) -> None:
        """About to build ``n`` more bytes (not kept yet): kill now rather than after allocating them."""
        if self.oom_killed or self.usage + n > self.limit:
            self.oom()
        self._parent_room(n)

    def charge(self, n: int) -> None:
        if n > 0:
            if self.oom_killed or self.usage + n > self.limit:
                self.oom()
            self._parent_room(n)
        self.usage += n
        if self.usage > self.peak:
            self.peak = self.usage

    def _parent_room(self, n: int) -> None:
        """The node's share: its containers' usage summed (a small charge of a small container skips it)."""
        parent = self.parent
        if parent is None or (n < 1024 and self.usage < 1024 * 1024):
            return
        children = list(parent.children)
        if sum(c.usage for c in children) + n <= parent.limit:
            return
        if any(c.oom_killed for c in children):
            return  # a victim is still exiting: the kernel waits for its memory rather than kill another
        victim = max(children, key=lambda c: c.badness(parent.limit), default=self)
        if victim is self:
            self.oom()
        victim.kill()  # its processes die and give their memory back; this allocation goes on

    def badness(self, total: int) -> int:
        return self.usage + self.oom_score_adj * total // 1000

    def kill(self) -> None:
        """The OOM killer's SIGKILL to every process of the cgroup (memory.oom.group)."""
        if not self.oom_killed:
            self.oom_killed = True
            for callback in list(self.on_oom):
                callback()

    def oom(self) -> NoReturn:
        self.kill()
        raise OutOfMemory()

    def detach(self) -> None:
        """The container is gone: what it still held no longer counts against its node."""
        if self.parent is not None:
            self.parent.children.discard(self)
            self.parent = None


    # CPU ------------------------------------------------------------------------------------------
    def idle(self) -> None:
        """The program waited (sleep, network, input): that time was not CPU."""
        self._mark = self._clock()

    async def pace(self) -> None:
        """Called between steps of work: after TIME_SLICE of CPU, give the event loop back (and, over a CPU
        limit, wait out the rest of the CFS period, as a throttled container does)."""
        now = self._clock()
        ran = now - self._mark
        self._mark = now
        self._slice += ran
        if self._slice < TIME_SLICE:
            return
        used, self._slice = self._slice, 0.0
        self.cpu_seconds += used
        if self.cpu_quota is not None:
            if now >= self._period_end:
                self._period_end, self._period_used = now + CFS_PERIOD, 0.0
            self._period_used += used
            if self._period_used >= self.cpu_quota:
                self.throttled += 1
                await asyncio.sleep(max(self._period_end - now, 0.0))
                self._period_end, self._period_used = self._clock() + CFS_PERIOD, 0.0
                self._mark = self._clock()
                return
        await asyncio.sleep(0)
        self._mark = self._clock()


NODE_MEMORY_FOR_PODS = 1024 * 1024 * 1024
NODE = Cgroup(NODE_MEMORY_FOR_PODS)  # the node's kubepods cgroup: one per node process (kai-labs' choice: half
# of the 2 GiB a node process may address, leaving the rest to the kubelet and the copies a step makes)


class ContainerFiles(dict[str, str]):
    """The files a container's programs wrote (its writable layer), kept in memory and charged to the
    container's memory cgroup as tmpfs pages are. It carries the cgroup, so every process started with
    these files (the main one, ``kubectl exec``, an interactive shell) shares the container's budget."""

    def __init__(self, cgroup: Cgroup):
        super().__init__()
        self.cgroup = cgroup


def cgroup_of(fs: dict[str, str] | None) -> Cgroup:
    """The cgroup a process started with these files runs in (a fresh default one for loose dicts)."""
    return fs.cgroup if isinstance(fs, ContainerFiles) else Cgroup()


def cost(*texts: str) -> int:
    """What holding these strings charges: their characters and STRING_COST each."""
    return sum(len(t) for t in texts) + STRING_COST * len(texts)


class Proc:
    """One emulated process's holdings (variables, words, captures), charged to its container's cgroup and
    given back when the process ends. Files are the cgroup's own: they outlive the process."""

    def __init__(self, cgroup: Cgroup):
        self.cgroup = cgroup
        self.held = 0

    def charge(self, n: int) -> None:
        self.cgroup.charge(n)
        self.held += n

    def release(self) -> None:
        self.cgroup.charge(-self.held)
        self.held = 0


class Capture:
    """Output a command substitution or a pipeline stage keeps in memory (a pipe nobody drains until the
    command ends): every write is charged to the process, so a capture cannot outgrow the limit."""

    def __init__(self, proc: Proc):
        self.proc = proc
        self.parts: list[str] = []
        self.size = 0
        self.charged = 0

    def write(self, text: str) -> None:
        if not text:
            return
        n = cost(text)
        self.proc.charge(n)
        self.charged += n
        self.parts.append(text)
        self.size += len(text)

    def text(self, rstrip_newlines: bool = False) -> str:
        """The whole captured text (checked before it is joined), with its trailing newlines dropped first
        for a ``$( )``; it stays charged until release()."""
        if rstrip_newlines:
            while self.parts and self.parts[-1].endswith("\n"):
                last = self.parts.pop()
                kept = last.rstrip("\n")
                self.size -= len(last) - len(kept)
                if kept:
                    self.parts.append(kept)
                    break
        if len(self.parts) <= 1:
            return self.parts[0] if self.parts else ""
        self.proc.cgroup.need(self.size)
        joined = "".join(self.parts)
        self.parts = [joined]
        n = cost(joined)
        self.proc.charge(n - self.charged)
        self.charged = n
        return joined

    def release(self) -> None:
        self.parts = []
        self.proc.charge(-self.charged)
        self.charged = self.size = 0


# --------------------------------------------------------------------------- context

class ShellExit(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class TooDeep(Exception):
    """Scripts nested past MAX_NESTING, or a parse deeper than Python's stack allows."""


@dataclass
class Ctx:
    net: Any
    out: Out
    err: Out
    image: str
    env: dict[str, str]
    tty: bool = False
    stdin: str | None = None
    fs: dict[str, str] = field(default_factory=dict)
    last: int = 0
    positional: list[str] = field(default_factory=list)
    proc: Proc = field(default_factory=lambda: Proc(Cgroup()))
    depth: int = 0  # scripts this one runs inside
    shell: str = ""  # the shell that runs the command ("sh"), or "" when exec'd directly (kubectl exec)
    drain: Callable[[], Awaitable[None]] | None = None  # waits while the reader is behind (a full pipe)

    def child(self, **kw: Any) -> Ctx:
        c = Ctx(self.net, self.out, self.err, self.image, self.env, self.tty, self.stdin, self.fs,
                self.last, self.positional, self.proc, self.depth, self.shell, self.drain)
        for k, v in kw.items():
            setattr(c, k, v)
        return c

    @property
    def cg(self) -> Cgroup:
        return self.proc.cgroup

    @property
    def dash(self) -> bool:
        return repository(self.image) == "nginx"

    def applet(self, name: str) -> str:
        """The name a builtin's errors start with: ash's builtins report as the shell (``sh: x: bad
        number``), an applet exec'd directly as itself (``test: x: bad number``)."""
        return self.shell or name


def default_files(net: Any) -> dict[str, str]:
    """The files kubelet and the image put in every container that the tools can read."""
    hosts = (
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
        f"{net.pod_ip}\t{net.pod_name}\n"
    )
    return {
        "/etc/resolv.conf": net.resolv_conf(),
        "/etc/hostname": net.pod_name + "\n",
        "/etc/hosts": hosts,
        "/var/run/secrets/kubernetes.io/serviceaccount/namespace": net.namespace,
    }


def base_env(net: Any, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOSTNAME": net.pod_name, "HOME": "/root"}
    env.update(extra or {})
    return env


def _read_file(ctx: Ctx, path: str) -> str | None:
    if path in ctx.fs:
        return ctx.fs[path]
    return default_files(ctx.net).get(path)


async def _write_file(ctx: Ctx, path: str, text: str, append: bool = False) -> None:
    if path in ("/dev/null",):
        return
    if path in ("/dev/stdout", "/proc/self/fd/1"):
        await write_out(ctx, text)
        return
    if path in ("/dev/stderr", "/proc/self/fd/2"):
        await write_out(ctx, text, err=True)
        return
    _store_file(ctx, path, text, append)


def _store_file(ctx: Ctx, path: str, text: str, append: bool) -> None:
    """A write to the in-memory file: the grown file is charged (and checked) before it is built."""
    old = ctx.fs.get(path)
    before = cost(path, old) if old is not None else 0
    new_len = (len(old) if append and old is not None else 0) + len(text)
    ctx.cg.charge(len(path) + new_len + 2 * STRING_COST - before)
    ctx.fs[path] = (old + text) if append and old else text


async def write_out(ctx: Ctx, text: str, err: bool = False) -> None:
    """Hand ``text`` to stdout (or stderr) as a program's write(2) calls would: at most OUTPUT_CHUNK at a
    time, pacing between them."""
    sink = ctx.err if err else ctx.out
    if len(text) <= OUTPUT_CHUNK:
        if text:
            sink(text)
        await _paced(ctx)
        return
    for i in range(0, len(text), OUTPUT_CHUNK):
        sink(text[i:i + OUTPUT_CHUNK])
        await _paced(ctx)


async def write_fill(ctx: Ctx, char: str, count: int) -> None:
    """``count`` copies of ``char`` (a printf field's padding), streamed: never built whole."""
    while count > 0:
        n = min(count, OUTPUT_CHUNK)
        ctx.out(char * n)
        count -= n
        await _paced(ctx)


async def _paced(ctx: Ctx) -> None:
    """After a write: the reader's back-pressure (``drain``, when the caller gave one), then the CPU's."""
    if ctx.drain is not None:
        await ctx.drain()
        ctx.cg.idle()
    await ctx.cg.pace()


def _setvar(ctx: Ctx, name: str, value: str | None) -> None:
    """Set (or with None, unset) a shell variable, charging the difference to the process first."""
    old = ctx.env.get(name)
    delta = (cost(name, value) if value is not None else 0) - (cost(name, old) if old is not None else 0)
    ctx.proc.charge(delta)
    if value is None:
        ctx.env.pop(name, None)
    else:
        ctx.env[name] = value


# --------------------------------------------------------------------------- public entry points

async def run(argv: list[str], net: Any, out: Out, err: Out, *, image: str = "curlimages/curl",
              env: dict[str, str] | None = None, tty: bool = False, stdin: str | None = None,
              fs: dict[str, str] | None = None, cgroup: Cgroup | None = None,
              drain: Callable[[], Awaitable[None]] | None = None) -> int:
    """Run one process, ``argv`` as the container runtime starts it. Returns its exit code (137 when its
    container's memory cgroup killed it). It runs in ``cgroup``, else in the cgroup ``fs`` carries.
    ``drain``, when given, is awaited after every write of a long output: the reader's back-pressure (a
    ``kubectl exec`` stream that returns only once its client has caught up)."""
    files = fs if fs is not None else {}
    ctx = Ctx(net, out, err, image, base_env(net, env), tty, stdin, files, proc=Proc(cgroup or cgroup_of(files)),
              drain=drain)
    return await _process(ctx, lambda: _dispatch(argv, ctx))


async def run_script(script: str, net: Any, out: Out, err: Out, *, image: str = "curlimages/curl",
                     env: dict[str, str] | None = None, tty: bool = False, stdin: str | None = None,
                     fs: dict[str, str] | None = None, positional: list[str] | None = None,
                     cgroup: Cgroup | None = None) -> int:
    """Run a ``sh -c`` script with the tiny POSIX-sh subset. Returns the exit status."""
    files = fs if fs is not None else {}
    ctx = Ctx(net, out, err, image, base_env(net, env), tty, stdin, files, positional=positional or ["sh"],
              proc=Proc(cgroup or cgroup_of(files)), shell="sh")
    return await _process(ctx, lambda: _script(script, ctx))


async def _process(ctx: Ctx, body: Callable[[], Awaitable[int]]) -> int:
    """One emulated process from start to exit: its environment charged, its holdings given back at the
    end, and no Python error reaching the learner (an OOM kill is exit code 137, as SIGKILL's 128+9)."""
    ctx.cg.idle()
    try:
        ctx.proc.charge(sum(cost(k, v) for k, v in ctx.env.items()))
        return await body()
    except ShellExit as e:
        return e.code
    except OutOfMemory:
        return 137
    except (TooDeep, RecursionError):
        ctx.err(_too_deep_message(ctx))
        return 2
    except ShSyntaxError as e:
        ctx.err(_sh_syntax_message(ctx, str(e)))
        return 2
    finally:
        ctx.proc.release()


def _too_deep_message(ctx: Ctx) -> str:
    return (f"sh: {'1: ' if ctx.dash else ''}kai-labs: commands nested too deeply (the emulated sh runs "
            f"scripts, $( ) and sh -c at most {MAX_NESTING} levels inside each other)\n")


async def _script(script: str, ctx: Ctx) -> int:
    if ctx.depth >= MAX_NESTING:
        raise TooDeep()
    charge = len(script) * PARSE_COST  # its tokens and tree, held while it runs
    ctx.proc.charge(charge)
    try:
        try:
            tree = await _parse(script)
        except ShSyntaxError as e:
            ctx.err(_sh_syntax_message(ctx, str(e)))
            return 2
        ctx.depth += 1
        try:
            return await _exec(tree, ctx)
        except ShellExit as e:
            return e.code
        except ShSyntaxError as e:  # found while expanding a word (a `...` or $( ) that does not close)
            ctx.err(_sh_syntax_message(ctx, str(e)))
            return 2
        finally:
            ctx.depth -= 1
    finally:
        ctx.proc.charge(-charge)


async def _parse(script: str) -> Seq:
    """The script's tree. A long script is parsed in a worker thread, so the event loop keeps serving
    (the GIL hands it back every few milliseconds); a parse deeper than Python's stack is TooDeep."""
    try:
        if len(script) > PARSE_IN_THREAD:
            return await asyncio.to_thread(lambda: Parser(script).parse())
        return Parser(script).parse()
    except RecursionError:
        raise TooDeep() from None


def shell_context(net: Any, out: Out, err: Out, *, image: str, env: dict[str, str] | None = None,
                  tty: bool = False, fs: dict[str, str] | None = None, cgroup: Cgroup | None = None) -> Ctx:
    """The state of one interactive shell (variables, ``$?``, files) kept across the lines it reads; it
    runs in ``cgroup`` (else the one ``fs`` carries). ``end_shell`` gives its memory back."""
    files = fs if fs is not None else {}
    ctx = Ctx(net, out, err, image, base_env(net, env), tty, None, files, positional=["sh"],
              proc=Proc(cgroup or cgroup_of(files)), shell="sh")
    with contextlib.suppress(OutOfMemory):  # the container is being killed: the first line ends with 137
        ctx.proc.charge(sum(cost(k, v) for k, v in ctx.env.items()))
    return ctx


def end_shell(ctx: Ctx) -> None:
    ctx.proc.release()


async def shell_line(line: str, ctx: Ctx) -> int:
    """Run one line read by an interactive shell; ``exit`` raises ShellExit (the shell ends), and so does
    the OOM killer (ShellExit(137))."""
    ctx.cg.idle()
    try:
        if ctx.cg.oom_killed:
            raise OutOfMemory()
        try:
            tree = await _parse(line)
        except ShSyntaxError as e:
            ctx.err(_sh_syntax_message(ctx, str(e)))
            ctx.last = 2
            return 2
        code = await _exec(tree, ctx)
    except OutOfMemory:
        raise ShellExit(137) from None
    except (TooDeep, RecursionError):
        ctx.err(_too_deep_message(ctx))
        code = 2
    except ShSyntaxError as e:
        ctx.err(_sh_syntax_message(ctx, str(e)))
        code = 2
    ctx.last = code
    return code


def _sh_syntax_message(ctx: Ctx, msg: str) -> str:
    return f"sh: {'1: ' if ctx.dash else ''}syntax error: {msg}\n"


# --------------------------------------------------------------------------- sh: lexer

class ShSyntaxError(Exception):
    pass


Seg = tuple[str, str]  # (kind, text): kind "lit" (unquoted), "sq" (single-quoted/escaped), "dq"


@dataclass
class Word:
    segs: list[Seg]

    def plain(self) -> str | None:
        """The literal text when the word is a bare unquoted literal (for reserved words)."""
        if len(self.segs) == 1 and self.segs[0][0] == "lit":
            return self.segs[0][1]
        return None


_OPS = ("&&", "||", ">>", ">&", ";", "|", "&", "(", ")", "<", ">", "\n")


def _read_paren(s: str, i: int) -> int:
    """Index just past the ``)`` closing a ``$(`` that starts its body at i."""
    depth, q = 1, ""
    while i < len(s):
        c = s[i]
        if q:
            if c == q:
                q = ""
            elif c == "\\" and q == '"':
                i += 1
        elif c in "'\"":
            q = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ShSyntaxError("unterminated $(")


_PLAIN = re.compile(r"[^ \t\n\\'\"`$;&|()<>]+")  # a run of characters with no meaning to the lexer
_DQ_PLAIN = re.compile(r"[^\"\\$`]+")


def _lex(s: str) -> list[Any]:
    toks: list[Any] = []
    segs: list[Seg] = []
    buf: list[str] = []  # the unquoted literal text of the word being read
    i, n = 0, len(s)

    def flush_lit() -> None:
        if buf:
            segs.append(("lit", "".join(buf)))
            buf.clear()

    def end_word() -> None:
        flush_lit()
        if segs:
            toks.append(Word(list(segs)))
            segs.clear()

    while i < n:
        c = s[i]
        if c in " \t":
            end_word()
            i += 1
        elif c == "#" and not buf and not segs:
            while i < n and s[i] != "\n":
                i += 1
        elif c == "\\":
            if i + 1 < n and s[i + 1] == "\n":
                i += 2
                continue
            flush_lit()
            segs.append(("sq", s[i + 1:i + 2]))
            i += 2
        elif c == "'":
            j = s.find("'", i + 1)
            if j < 0:
                raise ShSyntaxError("unterminated quoted string")
            flush_lit()
            segs.append(("sq", s[i + 1:j]))
            i = j + 1
        elif c == '"':
            i = _lex_dq(s, i + 1, flush_lit, segs)
        elif s.startswith("$(", i):
            k = _read_paren(s, i + 2)
            buf.append(s[i:k])
            i = k
        elif c == "`":
            k = s.find("`", i + 1)
            if k < 0:
                raise ShSyntaxError("unterminated `")
            buf.append("$(" + s[i + 1:k] + ")")
            i = k + 1
        elif s.startswith("${", i):
            k = s.find("}", i)
            if k < 0:
                raise ShSyntaxError("bad substitution")
            buf.append(s[i:k + 1])
            i = k + 1
        else:
            m = _PLAIN.match(s, i)
            if m:
                buf.append(m.group())
                i = m.end()
                continue
            op = next((o for o in _OPS if s.startswith(o, i)), None)
            if op is None:
                buf.append(c)
                i += 1
                continue
            fd = None
            word = "".join(buf)
            if op in (">", ">>", "<", ">&") and word.isdigit() and len(word) <= 4 and not segs:
                fd = int(word)
                buf.clear()
            end_word()
            toks.append(("op", op, fd))
            i += len(op)
    end_word()
    return toks


def _lex_dq(s: str, j: int, flush_lit: Callable[[], None], segs: list[Seg]) -> int:
    """A double-quoted string starting at ``j`` (after its quote): appends its segment, returns the index
    after the closing quote."""
    parts: list[str] = []
    n = len(s)
    while True:
        if j >= n:
            raise ShSyntaxError("unterminated quoted string")
        c = s[j]
        if c == '"':
            break
        if c == "\\" and j + 1 < n and s[j + 1] in '$`"\\\n':
            nxt = s[j + 1]
            parts.append(("\\" + nxt) if nxt in "$`" else ("" if nxt == "\n" else nxt))
            j += 2
        elif s.startswith("$(", j):
            k = _read_paren(s, j + 2)
            parts.append(s[j:k])
            j = k
        elif c == "`":
            k = s.find("`", j + 1)
            if k < 0:
                raise ShSyntaxError("unterminated `")
            parts.append("$(" + s[j + 1:k] + ")")
            j = k + 1
        else:
            m = _DQ_PLAIN.match(s, j)
            if m:
                parts.append(m.group())
                j = m.end()
            else:
                parts.append(c)
                j += 1
    flush_lit()
    segs.append(("dq", "".join(parts)))
    return j + 1


# --------------------------------------------------------------------------- sh: parser

@dataclass
class Redir:
    op: str
    fd: int
    target: Word


@dataclass
class Simple:
    assigns: list[tuple[str, Word]]
    words: list[Word]
    redirs: list[Redir]


@dataclass
class Pipeline:
    neg: bool
    cmds: list[Any]


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]]


@dataclass
class Seq:
    items: list[AndOr]


@dataclass
class For:
    var: str
    words: list[Word] | None
    body: Seq


@dataclass
class Loop:
    until: bool
    cond: Seq
    body: Seq


@dataclass
class If:
    branches: list[tuple[Seq, Seq]]
    orelse: Seq | None


@dataclass
class Group:
    body: Seq
    redirs: list[Redir]


_RESERVED_END = {"then", "else", "elif", "fi", "do", "done", "}", ")"}
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


class Parser:
    def __init__(self, text: str):
        self.toks = _lex(text)
        self.i = 0

    def parse(self) -> Seq:
        seq = self.seq()
        if self.i < len(self.toks):
            raise ShSyntaxError(f'unexpected "{self._tok_text(self.toks[self.i])}"')
        return seq

    # helpers
    def _tok_text(self, t: Any) -> str:
        return t[1] if isinstance(t, tuple) else (t.plain() or "word")

    def peek(self) -> Any:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def peek_word(self) -> str | None:
        t = self.peek()
        return t.plain() if isinstance(t, Word) else None

    def is_op(self, *ops: str) -> bool:
        t = self.peek()
        return isinstance(t, tuple) and t[1] in ops

    def skip_newlines(self) -> None:
        while self.is_op("\n"):
            self.i += 1

    def expect_word(self, w: str) -> None:
        self.skip_newlines()
        if self.peek_word() != w:
            t = self.peek()
            raise ShSyntaxError(f'unexpected {"end of file" if t is None else repr(self._tok_text(t))} '
                                f'(expecting "{w}")')
        self.i += 1

    # grammar
    def seq(self) -> Seq:
        items: list[AndOr] = []
        while True:
            self.skip_newlines()
            t = self.peek()
            if t is None or (isinstance(t, Word) and t.plain() in _RESERVED_END) or self.is_op(")"):
                break
            if self.is_op(";"):
                raise ShSyntaxError('unexpected ";"')
            items.append(self.and_or())
            if self.is_op(";", "&", "\n"):
                self.i += 1
            else:
                break
        return Seq(items)

    def and_or(self) -> AndOr:
        first = self.pipeline()
        rest: list[tuple[str, Pipeline]] = []
        while self.is_op("&&", "||"):
            op = self.peek()[1]
            self.i += 1
            self.skip_newlines()
            rest.append((op, self.pipeline()))
        return AndOr(first, rest)

    def pipeline(self) -> Pipeline:
        neg = False
        if self.peek_word() == "!":
            neg = True
            self.i += 1
        cmds = [self.command()]
        while self.is_op("|"):
            self.i += 1
            self.skip_newlines()
            cmds.append(self.command())
        return Pipeline(neg, cmds)

    def command(self) -> Any:
        w = self.peek_word()
        if w == "for":
            return self.for_()
        if w in ("while", "until"):
            self.i += 1
            cond = self.seq()
            self.expect_word("do")
            body = self.seq()
            self.expect_word("done")
            return Loop(w == "until", cond, body)
        if w == "if":
            return self.if_()
        if w == "{":
            self.i += 1
            body = self.seq()
            self.expect_word("}")
            return Group(body, self.redirs())
        if self.is_op("("):
            self.i += 1
            body = self.seq()
            if not self.is_op(")"):
                raise ShSyntaxError('unexpected end of file (expecting ")")')
            self.i += 1
            return Group(body, self.redirs())
        return self.simple()

    def for_(self) -> For:
        self.i += 1
        var = self.peek_word()
        if not var:
            raise ShSyntaxError("bad for loop variable")
        self.i += 1
        words: list[Word] | None = None
        self.skip_newlines()
        if self.peek_word() == "in":
            self.i += 1
            words = []
            while isinstance(self.peek(), Word):
                words.append(self.peek())
                self.i += 1
        if self.is_op(";", "\n"):
            self.i += 1
        self.expect_word("do")
        body = self.seq()
        self.expect_word("done")
        return For(var, words, body)

    def if_(self) -> If:
        self.i += 1
        branches: list[tuple[Seq, Seq]] = []
        cond = self.seq()
        self.expect_word("then")
        branches.append((cond, self.seq()))
        orelse = None
        while True:
            w = self.peek_word()
            if w == "elif":
                self.i += 1
                c = self.seq()
                self.expect_word("then")
                branches.append((c, self.seq()))
            elif w == "else":
                self.i += 1
                orelse = self.seq()
            else:
                break
        self.expect_word("fi")
        return If(branches, orelse)

    def redirs(self) -> list[Redir]:
        out: list[Redir] = []
        while self.is_op(">", ">>", "<", ">&"):
            out.append(self.redir())
        return out

    def redir(self) -> Redir:
        _, op, fd = self.peek()
        self.i += 1
        t = self.peek()
        if not isinstance(t, Word):
            raise ShSyntaxError("unexpected redirection")
        self.i += 1
        return Redir(op, fd if fd is not None else (0 if op == "<" else 1), t)

    def simple(self) -> Simple:
        assigns: list[tuple[str, Word]] = []
        words: list[Word] = []
        redirs: list[Redir] = []
        while True:
            t = self.peek()
            if isinstance(t, Word):
                first = t.segs[0]
                if not words and first[0] == "lit" and _ASSIGN.match(first[1]):
                    name, _, rest = first[1].partition("=")
                    assigns.append((name, Word(([("lit", rest)] if rest else []) + t.segs[1:])))
                else:
                    words.append(t)
                self.i += 1
            elif self.is_op(">", ">>", "<", ">&"):
                redirs.append(self.redir())
            else:
                break
        if not words and not assigns and not redirs:
            t = self.peek()
            raise ShSyntaxError(f'unexpected {"end of file" if t is None else repr(self._tok_text(t))}')
        return Simple(assigns, words, redirs)


# --------------------------------------------------------------------------- sh: expansion

_VAR = re.compile(r"\$(?:\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*)|([0-9?#$@*]))")


def _var(ctx: Ctx, name: str) -> str:
    if name == "?":
        return str(ctx.last)
    if name == "$":
        return "1"
    if name == "#":
        return str(max(0, len(ctx.positional) - 1))
    if name in ("@", "*"):
        return " ".join(ctx.positional[1:])
    if name.isdigit():
        idx = int(name)
        return ctx.positional[idx] if idx < len(ctx.positional) else ""
    if ":-" in name:
        n, _, default = name.partition(":-")
        return ctx.env.get(n) or default
    if "-" in name and not name.startswith("-"):
        n, _, default = name.partition("-")
        return ctx.env.get(n, default)
    return ctx.env.get(name, "")


async def _expand_text(text: str, ctx: Ctx) -> str:
    """Expand ``$VAR``, ``${VAR}``, ``$(cmd)`` inside one segment (no splitting). The text being built
    is checked against the memory limit before each piece is added (``x=$x$x`` stops before it doubles)."""
    if "$" not in text and "\\" not in text:
        return text
    parts: list[str] = []
    size, i, n = 0, 0, len(text)

    def add(piece: str) -> None:
        nonlocal size
        if len(piece) > 256:
            ctx.cg.need(size + len(piece) + STRING_COST)
        parts.append(piece)
        size += len(piece)

    while i < n:
        if text.startswith("\\$", i) or text.startswith("\\`", i):
            add(text[i + 1])
            i += 2
        elif text.startswith("$(", i):
            k = _read_paren(text, i + 2)
            add(await _substitute(text[i + 2:k - 1], ctx))
            i = k
        elif text[i] == "$":
            m = _VAR.match(text, i)
            if m:
                add(_var(ctx, m.group(1) or m.group(2) or m.group(3)))
                i = m.end()
            else:
                add("$")
                i += 1
        else:
            j = text.find("$", i + 1)
            k = text.find("\\", i + 1)
            end = min(x for x in (j, k, n) if x >= 0)
            add(text[i:end])
            i = end
    return "".join(parts)


async def _substitute(script: str, ctx: Ctx) -> str:
    capture = Capture(ctx.proc)
    try:
        code = await _script(script, ctx.child(out=capture.write))
        ctx.last = code
        return capture.text(rstrip_newlines=True)
    finally:
        capture.release()


_BLANKS = re.compile(r"[ \t\n]+")


def _split_fields(val: str, ctx: Ctx) -> list[str]:
    """Field splitting, checked first: the list of words costs STRING_COST each besides their text."""
    if len(val) > 4096:
        seps = val.count(" ") + val.count("\t") + val.count("\n")
        ctx.cg.need(len(val) + (seps + 1) * STRING_COST)
    return _BLANKS.split(val)


async def _expand_word(w: Word, ctx: Ctx, split: bool = True) -> list[str]:
    """Fields of a word: unquoted expansions are split on blanks, quoted text never is."""
    fields: list[str] = []
    cur, have = "", False
    for kind, text in w.segs:
        if kind == "sq":
            cur, have = _join(ctx, cur, text), True
        elif kind == "dq":
            cur, have = _join(ctx, cur, await _expand_text(text, ctx)), True
        else:
            literal_only = "$" not in text
            val = await _expand_text(text, ctx)
            if literal_only or not split:
                cur, have = _join(ctx, cur, val), have or bool(val) or literal_only
                continue
            parts = _split_fields(val, ctx)
            if len(parts) == 1:
                cur, have = _join(ctx, cur, parts[0]), have or bool(parts[0])
                continue
            if parts[0] or have:
                fields.append(_join(ctx, cur, parts[0]))
            for p in parts[1:-1]:
                fields.append(p)
            cur, have = parts[-1], bool(parts[-1])
    if have or cur:
        fields.append(cur)
    return fields


def _join(ctx: Ctx, a: str, b: str) -> str:
    if not a:
        return b
    if len(a) + len(b) > 256:
        ctx.cg.need(len(a) + len(b) + STRING_COST)
    return a + b


async def _expand_words(words: list[Word], ctx: Ctx) -> list[str]:
    out: list[str] = []
    for w in words:
        out.extend(await _expand_word(w, ctx))
    return out


# --------------------------------------------------------------------------- sh: execution

async def _exec(node: Any, ctx: Ctx) -> int:
    if isinstance(node, Seq):
        code = 0
        for item in node.items:
            code = await _exec(item, ctx)
            ctx.last = code
        return code
    if isinstance(node, AndOr):
        code = await _exec(node.first, ctx)
        for op, pipe in node.rest:
            ctx.last = code
            if (op == "&&") == (code == 0):
                code = await _exec(pipe, ctx)
        return code
    if isinstance(node, Pipeline):
        return await _exec_pipeline(node, ctx)
    if isinstance(node, Simple):
        return await _exec_simple(node, ctx)
    if isinstance(node, For):
        return await _exec_for(node, ctx)
    if isinstance(node, Loop):
        return await _exec_loop(node, ctx)
    if isinstance(node, If):
        for cond, body in node.branches:
            if await _exec(cond, ctx) == 0:
                return await _exec(body, ctx)
        return await _exec(node.orelse, ctx) if node.orelse else 0
    if isinstance(node, Group):
        sub = await _redirected(ctx, node.redirs)
        if isinstance(sub, int):
            return sub
        return await _exec(node.body, sub)
    raise TypeError(node)


async def _exec_pipeline(p: Pipeline, ctx: Ctx) -> int:
    """Stages run one after another; what a stage wrote is held (and charged) until the next one read it."""
    stdin = ctx.stdin
    code = 0
    held: Capture | None = None
    try:
        for n, cmd in enumerate(p.cmds):
            last = n == len(p.cmds) - 1
            capture = None if last else Capture(ctx.proc)
            sub = ctx.child(stdin=stdin, out=ctx.out if capture is None else capture.write)
            try:
                code = await _exec(cmd, sub)
            finally:
                if held is not None:
                    held.release()
                held = capture
            ctx.last = sub.last
            stdin = capture.text() if capture is not None else None
    finally:
        if held is not None:
            held.release()
    if p.neg:
        code = 0 if code else 1
    return code


async def _exec_for(node: For, ctx: Ctx) -> int:
    items = await _expand_words(node.words, ctx) if node.words is not None else ctx.positional[1:]
    held = cost(*items) if node.words is not None else 0
    ctx.proc.charge(held)
    try:
        code = 0
        for item in items:
            _setvar(ctx, node.var, item)
            code = await _exec(node.body, ctx)
            await ctx.cg.pace()
        return code
    finally:
        ctx.proc.charge(-held)


async def _exec_loop(node: Loop, ctx: Ctx) -> int:
    """A loop runs until its condition says stop, for ever if need be, as a real shell's does (a liveness
    probe, ``kubectl delete`` or the OOM killer ends it); it paces every iteration, so it only burns its
    own time slices."""
    code = 0
    while True:
        c = await _exec(node.cond, ctx)
        if (c == 0) == node.until:
            return code
        code = await _exec(node.body, ctx)
        await ctx.cg.pace()


async def _redirected(ctx: Ctx, redirs: list[Redir]) -> Ctx | int:
    if not redirs:
        return ctx
    sub = ctx.child()
    for r in redirs:
        target = " ".join(await _expand_word(r.target, ctx, split=False))
        if r.op == ">&":
            if target not in ("1", "2"):
                ctx.err(f"sh: {target}: bad file descriptor\n")
                return 1
            stream = sub.out if target == "1" else sub.err
            if r.fd == 2:
                sub.err = stream
            else:
                sub.out = stream
        elif r.op == "<":
            text = _read_file(ctx, target)
            if text is None:
                ctx.err(f"sh: can't open {target}: no such file\n")
                return 1
            sub.stdin = text
        else:
            sink = _sink(ctx, target, r.op == ">>")
            if r.fd == 2:
                sub.err = sink
            else:
                sub.out = sink
    return sub


def _sink(ctx: Ctx, path: str, append: bool) -> Out:
    if path == "/dev/null":
        return lambda text: None
    if path in ("/dev/stdout", "/proc/self/fd/1"):
        return ctx.out
    if path in ("/dev/stderr", "/proc/self/fd/2"):
        return ctx.err
    if not append:
        _store_file(ctx, path, "", False)

    def write(text: str) -> None:
        _store_file(ctx, path, text, True)
    return write


async def _exec_simple(node: Simple, ctx: Ctx) -> int:
    argv = await _expand_words(node.words, ctx)
    values = [(name, "".join(await _expand_word(w, ctx, split=False))) for name, w in node.assigns]
    if not argv:
        for name, val in values:
            _setvar(ctx, name, val)
        sub = await _redirected(ctx, node.redirs)
        return sub if isinstance(sub, int) else ctx.last
    held = cost(*argv) + sum(cost(name, val) for name, val in values)  # the command's words, while it runs
    ctx.proc.charge(held)
    try:
        sub = await _redirected(ctx, node.redirs)
        if isinstance(sub, int):
            return sub
        if values:
            sub.env = dict(ctx.env, **dict(values))
        return await _dispatch(argv, sub)
    finally:
        ctx.proc.charge(-held)


# --------------------------------------------------------------------------- dispatch

_BLOCKING = frozenset({"sleep", "curl", "wget", "nslookup", "nc"})  # commands that mostly wait, not compute


async def _dispatch(argv: list[str], ctx: Ctx) -> int:
    name = argv[0].rsplit("/", 1)[-1]
    fn = COMMANDS.get(name)
    if fn is None or not tool_available(ctx.image, name):
        return _not_found(argv[0], ctx)
    await ctx.cg.pace()
    try:
        return await fn(argv, ctx)
    finally:
        if name in _BLOCKING:
            ctx.cg.idle()


def _not_found(cmd: str, ctx: Ctx) -> int:
    ctx.err(f"sh: {'1: ' if ctx.dash else ''}{cmd}: not found\n")
    avail = sorted(t for t in image_tools(ctx.image) if t in COMMANDS and t not in ("[", ":"))
    ctx.err(f"kai-labs: '{cmd}' is not available in this emulated image ({repository(ctx.image)}); "
            f"emulated commands: {', '.join(avail)}\n")
    return 127


async def cmd_sh(argv: list[str], ctx: Ctx) -> int:
    args = argv[1:]
    while args and args[0] in ("-e", "-x", "-eu", "-ex", "-u", "-l", "-i"):
        args = args[1:]
    if args and args[0] == "-c":
        if len(args) < 2:
            ctx.err("sh: -c requires an argument\n")
            return 2
        sub = ctx.child(positional=args[2:] or [argv[0]], shell=_shell_name(argv[0]))
        return await _script(args[1], sub)
    if args and args[0].startswith("-") and args[0] != "-":
        ctx.err(f"sh: {'1: ' if ctx.dash else ''}Illegal option {args[0]}\n")
        return 2
    if args:
        text = _read_file(ctx, args[0])
        if text is None:
            ctx.err(f"sh: can't open '{args[0]}': No such file or directory\n" if not ctx.dash
                    else f"sh: 0: cannot open {args[0]}: No such file\n")
            return 2
        return await _script(text, ctx.child(positional=args, shell=_shell_name(argv[0])))
    return await _script(ctx.stdin or "", ctx.child(shell=_shell_name(argv[0])))


def _shell_name(argv0: str) -> str:
    """What ash's own messages start with: the name it was started as (busybox's applet_name)."""
    return argv0.rsplit("/", 1)[-1] or "sh"


# --------------------------------------------------------------------------- small builtins

def _bb_usage(ctx: Ctx, name: str, usage: str) -> int:
    ctx.err(f"BusyBox v{BUSYBOX_VERSION} (2024-09-26 21:31:42 UTC) multi-call binary.\n\nUsage: {name} {usage}\n")
    return 1


def _duration(text: str) -> float | None:
    m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)", text)
    if not m:
        return None
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


async def cmd_sleep(argv: list[str], ctx: Ctx) -> int:
    if len(argv) < 2:
        return _bb_usage(ctx, "sleep", "[N]...")
    total = 0.0
    for a in argv[1:]:
        if a in ("infinity", "inf"):
            await asyncio.Event().wait()
        d = _duration(a)
        if d is None:
            ctx.err(f"sleep: invalid number '{a}'\n")
            return 1
        total += d
    if not total < 1e9:  # a few decades, or inf: sleeps for ever (and call_later needs a finite delay)
        await asyncio.Event().wait()
    await asyncio.sleep(total)
    return 0


_ECHO_ESC = {"n": "\n", "t": "\t", "\\": "\\", "r": "\r", "a": "\a", "0": "\0", "e": "\x1b"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _unescape(text: str) -> tuple[str, bool]:
    """echo -e's escapes; the bool says ``\\c`` cut the output short (no newline either)."""
    if "\\" not in text:
        return text, False
    out, i = [], 0
    for m in _ESCAPE.finditer(text):
        out.append(text[i:m.start()])
        if m.group(1) == "c":
            return "".join(out), True
        out.append(_ECHO_ESC.get(m.group(1), "\\" + m.group(1)))
        i = m.end()
    out.append(text[i:])
    return "".join(out), False


async def cmd_echo(argv: list[str], ctx: Ctx) -> int:
    args, newline, esc = argv[1:], True, ctx.dash
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        esc = "e" in args[0] or (esc and "E" not in args[0])
        args = args[1:]
    ctx.cg.need(sum(len(a) + 1 for a in args) + STRING_COST)
    text = " ".join(args)
    stop = False
    if esc:
        text, stop = _unescape(text)
    await write_out(ctx, text)
    if newline and not stop:
        ctx.out("\n")
    return 0


# printf: busybox coreutils/printf.c. The format is used again while arguments remain *and* the last pass
# used some (printf_main's loop `while (argv2 > argv && *argv2)`), so `printf hello world` prints "hello"
# once and ignores the rest, as busybox does (coreutils would add a warning). Numbers are strtoll/strtoull
# (base 0: 0x.., 0..) or the character code after a leading quote; a bad one is "invalid number 'X'",
# prints 0 and makes the exit status 1; an unknown conversion is "%...: invalid format" and stops with 1;
# `\c` stops all output. Fields are streamed: `%1500000000s` writes its padding in OUTPUT_CHUNK pieces.

_INT_MAX = 2**31 - 1
_PRINTF_CONV = "diouxXfeEgGcs"
_FLOAT_DIGITS = 1100  # more fractional digits than any double has: beyond them there are only zeros
_STRTOD = re.compile(r"\s*([+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?))",
                     re.IGNORECASE)
_HEXFLOAT = re.compile(r"\s*[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?")
_DIGITS_RUN = re.compile(r"[0-9]*")
_STRTOLL = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def _strtod(text: str) -> tuple[float, int]:
    """C strtod: (value, characters consumed; 0 when there is no number)."""
    m = _HEXFLOAT.match(text)
    if m:
        body = m.group().strip()
        try:
            return float.fromhex(body), m.end()
        except (ValueError, OverflowError):
            return (float("-inf") if body.startswith("-") else float("inf")), m.end()
    m = _STRTOD.match(text)
    if not m:
        return 0.0, 0
    body = m.group(1)
    if body.lower().startswith(("nan", "+nan", "-nan")):
        return float("nan"), m.end()
    return float(body), m.end()


def _strtoll_value(text: str, unsigned: bool = False) -> int | None:
    """busybox bb_strtoll/bb_strtoull with base 0: None when the text is not all one number in range."""
    first = text[1:2] if text[:1] == "-" else text[:1]
    if not first.isascii() or not first.isalnum():
        return None
    m = _STRTOLL.fullmatch(text)
    if m is None or len(m.group(1)) > 70:
        return None
    body = m.group(1)
    value = int(body, 16) if body[:2].lower() == "0x" else (int(body, 8) if body.startswith("0") else int(body))
    if text.startswith("-"):
        value = -value
    if unsigned:
        return value if -(2**63) <= value < 2**64 else None
    return value if -(2**63) <= value < 2**63 else None


class _Printf:
    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self.conv_err = False

    def invalid_number(self, arg: str) -> None:
        self.ctx.err(f"{self.ctx.applet('printf')}: invalid number '{arg}'\n")
        self.conv_err = True

    def integer(self, arg: str, unsigned: bool) -> int:
        """my_xstrtoll / my_xstrtoull: leading blanks skipped, '+' allowed, 'c or "c is c's code."""
        text = arg.lstrip(" \t\n\v\f\r")
        if text[:1] in ("'", '"'):
            return ord(text[1]) if len(text) > 1 else 0
        if text.startswith("+"):
            text = text[1:]
        value = _strtoll_value(text, unsigned)
        if value is None and unsigned:
            value = _strtoll_value(text)  # conv_strtoull falls back to strtoll: '%x' -1 -> ffff...
        if value is None:
            self.invalid_number(text)
            return 0
        return value % 2**64 if unsigned else value

    def floating(self, arg: str) -> float:
        if arg[:1] in ("'", '"'):
            return float(ord(arg[1])) if len(arg) > 1 else 0.0
        value, used = _strtod(arg)
        if used != len(arg) or not arg:
            self.invalid_number(arg)
            return 0.0
        return value

    def width_prec(self, arg: str) -> int:
        """get_width_prec: bb_strtoi, base 10."""
        m = re.fullmatch(r"-?[0-9]{1,12}", arg)
        if m is None or not -(2**31) <= int(arg) <= _INT_MAX:
            self.invalid_number(arg)
            return 0
        return int(arg)


async def _printf_field(p: _Printf, flags: str, width: int | None, prec: int | None, conv: str, arg: str) -> None:
    """One conversion, written as glibc's printf would: sign and prefix, zeros, digits, padding; big
    paddings and precisions are streamed, never built."""
    ctx = p.ctx
    if (width is not None and width > _INT_MAX) or (prec is not None and prec > _INT_MAX):
        return  # printf(3) fails with EOVERFLOW: this field prints nothing
    left = "-" in flags
    if width is not None and width < 0:
        left, width = True, -width
    if prec is not None and prec < 0:
        prec = None
    head, zeros, body, tail_zeros, tail = "", 0, "", 0, ""
    zero_pad_ok = False
    if conv in "diouxX":
        value = p.integer(arg, unsigned=conv not in "di")
        digits = format(abs(value), {"d": "d", "i": "d", "u": "d", "o": "o", "x": "x", "X": "X"}[conv])
        if prec == 0 and value == 0:
            digits = ""
        if value < 0:
            head = "-"
        elif conv in "di" and "+" in flags:
            head = "+"
        elif conv in "di" and " " in flags:
            head = " "
        if "#" in flags and conv in "xX" and value != 0:
            head += "0" + conv
        zeros = max(0, (prec or 0) - len(digits))
        if "#" in flags and conv == "o" and zeros == 0 and not digits.startswith("0"):
            zeros = 1
        body = digits
        zero_pad_ok = prec is None
    elif conv in "feEgG":
        fvalue = p.floating(arg)
        shown = prec if prec is not None else 6
        capped = min(shown, _FLOAT_DIGITS)
        spec = "%" + "".join(f for f in "+ #" if f in flags) + "." + str(capped) + conv
        text = spec % fvalue
        if text[:1] in "+- ":
            head, text = text[0], text[1:]
        body = text
        finite = fvalue == fvalue and abs(fvalue) != float("inf")
        if shown > capped and conv in "feE" and finite:
            if conv == "f":
                tail_zeros = shown - capped
            else:
                mark = body.lower().rfind("e")
                body, tail = body[:mark], body[mark:]
                tail_zeros = shown - capped
        zero_pad_ok = finite
    elif conv == "c":
        body = arg[:1] or "\0"
    else:  # s
        body = arg if prec is None else arg[:prec]
    length = len(head) + zeros + len(body) + tail_zeros + len(tail)
    pad = max(0, (width or 0) - length)
    if pad and not left and not ("0" in flags and zero_pad_ok):
        await write_fill(ctx, " ", pad)
    if head:
        ctx.out(head)
    if pad and not left and "0" in flags and zero_pad_ok:
        await write_fill(ctx, "0", pad)
    await write_fill(ctx, "0", zeros)
    await write_out(ctx, body)
    await write_fill(ctx, "0", tail_zeros)
    if tail:
        ctx.out(tail)
    if pad and left:
        await write_fill(ctx, " ", pad)


def _bb_escape(s: str, i: int) -> tuple[str, int]:
    """bb_process_escape_sequence at ``s[i]`` (just after a backslash): (the character, where to go on).
    An unknown escape is the backslash itself, leaving ``i`` where it was."""
    n, digits, base, j = 0, 0, 8, i
    if j < len(s) and s[j] == "x":
        j, base, digits = j + 1, 16, 1
    while digits < 3 and j < len(s):
        ch = s[j]
        d = int(ch, 16) if ch in "0123456789abcdefABCDEF" else 99
        if d >= base:
            if base == 16:
                digits -= 1
                if digits == 0:
                    return "\\", i
            break
        if n * base + d > 255:
            break
        n, j, digits = n * base + d, j + 1, digits + 1
    if digits == 0:
        one = {"a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
               "\\": "\\"}
        if i < len(s) and s[i] in one:
            return one[s[i]], i + 1
        return "\\", i
    return chr(n), j


def _bb_escape_string(text: str) -> tuple[str, bool]:
    """%b's argument (print_esc_string): escapes, ``\\0NNN`` octal, and ``\\c`` stops everything."""
    out: list[str] = []
    i = 0
    while True:
        k = text.find("\\", i)
        if k < 0:
            out.append(text[i:])
            return "".join(out), False
        out.append(text[i:k])
        i = k + 1
        if text[i:i + 1] == "c":
            return "".join(out), True
        if text[i:i + 1] == "0" and text[i + 1:i + 2] in tuple("01234567"):
            i += 1
        ch, i = _bb_escape(text, i)
        out.append(ch)


_PRINTF_STOP, _PRINTF_ERROR = -1, -2


async def _printf_pass(p: _Printf, fmt: str, args: list[str], ai: int) -> int:
    """print_formatted: one pass over the format from argument ``ai``; the next argument's index, or
    _PRINTF_STOP (``\\c``) or _PRINTF_ERROR (an invalid format, after its message)."""
    ctx = p.ctx
    i, n = 0, len(fmt)
    while i < n:
        k = min((x for x in (fmt.find("%", i), fmt.find("\\", i)) if x >= 0), default=n)
        if k > i:
            await write_out(ctx, fmt[i:k])
            i = k
            continue
        if fmt[i] == "\\":
            if fmt[i + 1:i + 2] == "c":
                return _PRINTF_STOP
            ch, i = _bb_escape(fmt, i + 1)
            ctx.out(ch)
            continue
        start, j = i, i + 1
        if fmt[j:j + 1] == "%":
            ctx.out("%")
            i = j + 1
            continue
        if fmt[j:j + 1] == "b":
            if ai < len(args):
                text, stop = _bb_escape_string(args[ai])
                ai += 1
                await write_out(ctx, text)
                if stop:
                    return _PRINTF_STOP
            i = j + 1
            continue
        flags_end = j
        while flags_end < n and fmt[flags_end] in "-+ #0":
            flags_end += 1
        flags, j = fmt[j:flags_end], flags_end
        width: int | None = None
        prec: int | None = None
        if fmt[j:j + 1] == "*":
            j += 1
            if ai < len(args):
                width, ai = p.width_prec(args[ai]), ai + 1
        else:
            m = _DIGITS_RUN.match(fmt, j)
            assert m is not None
            if m.group():
                width = int(m.group()) if len(m.group()) <= 11 else _INT_MAX + 1
            j = m.end()
        if fmt[j:j + 1] == ".":
            j += 1
            if fmt[j:j + 1] == "*":
                j += 1
                if ai < len(args):
                    prec, ai = p.width_prec(args[ai]), ai + 1
            else:
                m = _DIGITS_RUN.match(fmt, j)
                assert m is not None
                prec = (int(m.group() or "0") if len(m.group()) <= 11 else _INT_MAX + 1)
                j = m.end()
        while fmt[j:j + 1] in ("l", "L", "h", "z") and j < n:
            j += 1
        conv = fmt[j:j + 1]
        if not conv or conv not in _PRINTF_CONV:
            ctx.err(f"{ctx.applet('printf')}: {fmt[start:]}: invalid format\n")
            return _PRINTF_ERROR
        arg = args[ai] if ai < len(args) else ""
        if ai < len(args):
            ai += 1
        await _printf_field(p, flags, width, prec, conv, arg)
        i = j + 1
    return ai


async def cmd_printf(argv: list[str], ctx: Ctx) -> int:
    args = argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        if ctx.shell:
            ctx.err(f"{ctx.shell}: usage: printf FORMAT [ARGUMENT...]\n")
            return 2
        return _bb_usage(ctx, "printf", "FORMAT [ARG]...")
    fmt, rest = args[0], args[1:]
    p = _Printf(ctx)
    ai = 0
    while True:
        nxt = await _printf_pass(p, fmt, rest, ai)
        if nxt == _PRINTF_ERROR:
            return 1
        if nxt == _PRINTF_STOP or nxt <= ai or nxt >= len(rest):
            break
        ai = nxt
        await ctx.cg.pace()
    return 1 if p.conv_err else 0


async def cmd_true(argv: list[str], ctx: Ctx) -> int:
    return 0


async def cmd_false(argv: list[str], ctx: Ctx) -> int:
    return 1


async def cmd_exit(argv: list[str], ctx: Ctx) -> int:
    """ash's exit: the status is a number (bb_strtou: digits, at most UINT_MAX), else "Illegal number"."""
    code = ctx.last
    if len(argv) > 1:
        arg = argv[1]
        if not (re.fullmatch(r"[0-9]{1,10}", arg) and int(arg) <= 2**32 - 1):
            ctx.err(f"sh: {'1: ' if ctx.dash else ''}exit: Illegal number: {arg}\n")
            raise ShellExit(2)
        code = int(arg) & 0xFF
    raise ShellExit(code)


async def cmd_cat(argv: list[str], ctx: Ctx) -> int:
    files = [a for a in argv[1:] if a != "-"] or None
    if not files:
        await write_out(ctx, ctx.stdin or "")
        return 0
    code = 0
    for f in files:
        text = _read_file(ctx, f)
        if text is None:
            ctx.err(f"cat: can't open '{f}': No such file or directory\n" if not ctx.dash
                    else f"cat: {f}: No such file or directory\n")
            code = 1
        else:
            await write_out(ctx, text)
    return code


async def cmd_env(argv: list[str], ctx: Ctx) -> int:
    for k, v in list(ctx.env.items()):
        await write_out(ctx, f"{k}={v}\n")
    return 0


async def cmd_hostname(argv: list[str], ctx: Ctx) -> int:
    ctx.out(ctx.net.pod_name + "\n")
    return 0


async def cmd_export(argv: list[str], ctx: Ctx) -> int:
    for a in argv[1:]:
        if "=" in a:
            k, _, v = a.partition("=")
            _setvar(ctx, k, v)
    return 0


async def cmd_unset(argv: list[str], ctx: Ctx) -> int:
    for a in argv[1:]:
        _setvar(ctx, a, None)
    return 0


async def cmd_date(argv: list[str], ctx: Ctx) -> int:
    ctx.out(_dt.datetime.now(_dt.timezone.utc).strftime("%a %b %e %H:%M:%S UTC %Y") + "\n")
    return 0


# seq: busybox coreutils/seq.c. Numbers are strtod's (a bad one is the usage text); FIRST + n*INC is
# printed with "%0*.*f" (width only with -w, the fraction digits of FIRST/INC) while it has not passed
# LAST; an increment of 0 prints FIRST for ever, as the real one does. The output is streamed in chunks.
_SEQ_USAGE = ("[-w] [-s SEP] [FIRST [INC]] LAST\n\nPrint numbers from FIRST to LAST, in steps of INC.\n"
              "FIRST, INC default to 1.\n\n\t-w\tPad with leading zeros\n\t-s SEP\tString separator")
_SEQ_BATCH = 4096


async def cmd_seq(argv: list[str], ctx: Ctx) -> int:
    args = argv[1:]
    sep, equal_width = "\n", False
    while args and args[0].startswith("-") and len(args[0]) > 1 and not re.match(r"-[.0-9]", args[0]):
        opt = args.pop(0)
        if opt == "--":
            break
        j = 1
        while j < len(opt):
            if opt[j] == "w":
                equal_width = True
            elif opt[j] == "s":
                if opt[j + 1:]:
                    sep = opt[j + 1:]
                elif args:
                    sep = args.pop(0)
                else:
                    return _bb_usage(ctx, "seq", _SEQ_USAGE)
                break
            else:
                return _bb_usage(ctx, "seq", _SEQ_USAGE)
            j += 1
    if not 1 <= len(args) <= 3:
        return _bb_usage(ctx, "seq", _SEQ_USAGE)
    nums = []
    for a in args:
        value, used = _strtod(a)
        if used != len(a) or not a:
            return _bb_usage(ctx, "seq", _SEQ_USAGE)
        nums.append(value)
    first, inc, last = (1.0, 1.0, nums[0]) if len(nums) == 1 else (
        (nums[0], 1.0, nums[1]) if len(nums) == 2 else (nums[0], nums[1], nums[2]))
    width, frac = 0, 0
    for n, a in enumerate(args):
        dot = a.find(".")
        w = dot if dot >= 0 else len(a)
        width = max(width, w)
        if n < len(args) - 1:
            frac = max(frac, len(a) - w)
    if frac:
        frac -= 1
        if frac:
            width += frac + 1
    if not equal_width:
        width = 0
    number = "%0*.*f"
    count, wrote = 0, False
    fast = width == 0 and frac == 0 and sep == "\n" and all(
        v == v and abs(v) < 2**53 and v == int(v) for v in (first, inc, last)) and inc != 0
    if fast:
        begin, step, stop = int(first), int(inc), int(last)
        end = stop + (1 if step > 0 else -1)
        for lo in range(begin, end, step * _SEQ_BATCH):
            hi = lo + step * _SEQ_BATCH
            hi = min(hi, end) if step > 0 else max(hi, end)
            await write_out(ctx, "\n".join(map(str, range(lo, hi, step))) + "\n")
        return 0
    while True:
        batch: list[str] = []
        for _ in range(_SEQ_BATCH):
            v = first + count * inc
            if not (v <= last if inc >= 0 else v >= last):
                break
            batch.append((sep if wrote or batch else "") + number % (width, frac, v))
            count += 1
        if not batch:
            break
        wrote = True
        await write_out(ctx, "".join(batch))
        if len(batch) < _SEQ_BATCH:
            break
    if wrote:
        ctx.out("\n")
    return 0


# test: busybox coreutils/test.c. A number is strtoll's, blanks around it allowed ("bad number" otherwise,
# "out of range" past 64 bits); errors are reported as the shell (`sh: x: bad number`) for the builtin, as
# the applet when exec'd directly, and exit 2. dash (Debian's sh, the nginx image) says
# `sh: 1: test: Illegal number: x`; Debian's /usr/bin/test (coreutils) `test: invalid integer 'x'`.

class _TestError(Exception):
    def __init__(self, operand: str, msg: str):
        super().__init__(operand, msg)
        self.operand, self.msg = operand, msg


def _test_number(s: str) -> int:
    m = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)[ \t\n\v\f\r]*", s)
    if m is None:
        raise _TestError(s, "bad number")
    digits = m.group(2).lstrip("0") or "0"
    value = int(digits) if len(digits) <= 19 else 2**64
    value = -value if m.group(1) == "-" else value
    if not -(2**63) <= value < 2**63:
        raise _TestError(s, "out of range")
    return value


def _test(args: list[str]) -> bool:
    if not args:
        return False
    if args[0] == "!":
        return not _test(args[1:])
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, a = args
        return {"-z": a == "", "-n": a != ""}.get(op, False)
    a, op, b = args[0], args[1], args[2]
    if op in ("=", "=="):
        return a == b
    if op == "!=":
        return a != b
    nums = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-le": int.__le__,
            "-gt": int.__gt__, "-ge": int.__ge__}
    if op in nums:
        return bool(nums[op](_test_number(a), _test_number(b)))
    if op in ("-a", "-o"):
        left, right = _test([a]), _test(args[2:])
        return (left and right) if op == "-a" else (left or right)
    return False


async def cmd_test(argv: list[str], ctx: Ctx) -> int:
    args = argv[1:]
    name = argv[0].rsplit("/", 1)[-1]
    if name == "[":
        if not args or args[-1] != "]":
            ctx.err(f"{ctx.applet('[')}: missing ]\n")
            return 2
        args = args[:-1]
    try:
        return 0 if _test(args) else 1
    except _TestError as e:
        if ctx.dash:
            ctx.err(f"sh: 1: {name}: Illegal number: {e.operand}\n" if ctx.shell
                    else f"{name}: invalid integer '{e.operand}'\n")
        else:
            ctx.err(f"{ctx.applet(name)}: {e.operand}: {e.msg}\n" if e.operand
                    else f"{ctx.applet(name)}: {e.msg}\n")
        return 2
    except RecursionError:
        raise TooDeep() from None


def _iter_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their newlines, one at a time (a list of them all could cost more
    memory than the text itself)."""
    i, n = 0, len(text)
    while i < n:
        j = text.find("\n", i)
        if j < 0:
            yield text[i:]
            return
        yield text[i:j + 1]
        i = j + 1


def _nested_quantifier(pattern: str) -> bool:
    """Whether a group that repeats holds a repetition itself (``(a*)*``, ``(a+)+``): Python's backtracking
    engine takes exponential time on those, where grep's automaton does not, so they are refused."""
    stack: list[bool] = []
    quantified_inside = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = pattern.find("]", i + 2)
            i = j + 1 if j > 0 else len(pattern)
            continue
        if c == "(":
            stack.append(quantified_inside)
            quantified_inside = False
        elif c == ")" and stack:
            inner = quantified_inside
            quantified_inside = stack.pop() or inner
            if inner and pattern[i + 1:i + 2] in ("*", "+", "?", "{"):
                return True
        elif c in "*+?{":
            quantified_inside = True
        i += 1
    return False


async def cmd_grep(argv: list[str], ctx: Ctx) -> int:
    flags: set[str] = set()
    rest: list[str] = []
    for a in argv[1:]:
        if a.startswith("-") and len(a) > 1 and not rest:
            flags.update(a[1:])
        else:
            rest.append(a)
    if not rest:
        return _bb_usage(ctx, "grep", "[-HhnlLoqvsrRiwFE] [-m N] [-A|B|C N] { PATTERN | -e PATTERN... } [FILE]...")
    pattern, files = rest[0], rest[1:]
    text = ctx.stdin or "" if not files else "".join(_read_file(ctx, f) or "" for f in files)
    if "F" not in flags and _nested_quantifier(pattern):
        ctx.err(f"grep: kai-labs: the pattern '{pattern}' repeats a group that repeats inside; the emulated "
                "grep refuses it (its regex engine would take exponential time)\n")
        return 2
    try:
        rx = re.compile(re.escape(pattern) if "F" in flags else pattern, re.I if "i" in flags else 0)
    except (re.error, OverflowError, RecursionError):
        rx = re.compile(re.escape(pattern), re.I if "i" in flags else 0)
    invert, count_only, quiet = "v" in flags, "c" in flags, "q" in flags
    hits, out, size = 0, [], 0
    for n, line in enumerate(_iter_lines(text)):
        if bool(rx.search(line)) != invert:
            hits += 1
            if quiet:
                return 0
            if not count_only:
                out.append(line if line.endswith("\n") else line + "\n")
                size += len(line)
        if size >= OUTPUT_CHUNK or n % 1024 == 1023:
            await write_out(ctx, "".join(out))
            out, size = [], 0
    if count_only:
        ctx.out(f"{hits}\n")
    elif out:
        await write_out(ctx, "".join(out))
    return 0 if hits else 1


def _count_arg(args: list[str], default: int = 10) -> int | str:
    """head/tail's line count, or the text that is not one (for the error message)."""
    for i, a in enumerate(args):
        value = args[i + 1] if a == "-n" and i + 1 < len(args) else (
            a[2:] if a.startswith("-n") and len(a) > 2 else (a[1:] if re.fullmatch(r"-[0-9]+", a) else None))
        if value is None:
            continue
        digits = value.lstrip("+")
        if not re.fullmatch(r"[0-9]{1,18}", digits):
            return value
        return int(digits)
    return default


async def cmd_head(argv: list[str], ctx: Ctx) -> int:
    n = _count_arg(argv[1:])
    if isinstance(n, str):
        ctx.err(f"head: invalid number '{n}'\n")
        return 1
    text, pos = ctx.stdin or "", 0
    for k in range(n):
        j = text.find("\n", pos)
        if j < 0:
            pos = len(text)
            break
        pos = j + 1
        if k % 4096 == 4095:
            await ctx.cg.pace()
    await write_out(ctx, text[:pos])
    return 0


async def cmd_tail(argv: list[str], ctx: Ctx) -> int:
    n = _count_arg(argv[1:])
    if isinstance(n, str):
        ctx.err(f"tail: invalid number '{n}'\n")
        return 1
    text = ctx.stdin or ""
    if not n:
        return 0
    start, pos = 0, len(text) - 1 if text.endswith("\n") else len(text)
    for k in range(n):
        j = text.rfind("\n", 0, pos)
        if j < 0:
            start = 0
            break
        start, pos = j + 1, j
        if k % 4096 == 4095:
            await ctx.cg.pace()
    await write_out(ctx, text[start:])
    return 0


async def cmd_wc(argv: list[str], ctx: Ctx) -> int:
    text = ctx.stdin or ""
    ctx.cg.need(len(text) + STRING_COST)  # counting words builds the blanks between them, never a list
    counts = {"l": text.count("\n"), "w": _WORD.subn("", text)[1], "c": _utf8_len(text)}
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-")) or "lwc"
    ctx.out(" ".join(f"{counts[f]:>7}" if len(flags) > 1 else str(counts[f]) for f in "lwc" if f in flags) + "\n")
    return 0


_WORD = re.compile(r"\S+")


def _utf8_len(text: str) -> int:
    """Bytes of ``text`` in UTF-8, without encoding it whole."""
    if text.isascii():
        return len(text)
    return sum(len(text[i:i + OUTPUT_CHUNK].encode("utf-8", "surrogatepass"))
               for i in range(0, len(text), OUTPUT_CHUNK))


async def cmd_cd(argv: list[str], ctx: Ctx) -> int:
    return 0


# --------------------------------------------------------------------------- DNS helpers

def _strip_dot(name: str) -> str:
    return name[:-1] if name.endswith(".") and len(name) > 1 else name


def _rtype(rec: Any) -> str:
    return str(getattr(rec, "type", "")).upper()


def resolve_ipv4(net: Any, host: str) -> list[str] | None:
    """A-record addresses for a hostname (search list applied by the resolver); None when it fails."""
    if _is_ipv4(host):
        return [host]
    if host == "localhost":
        return ["127.0.0.1"]
    ans = net.resolve(host, "A")
    if getattr(ans, "rcode", "NXDOMAIN") != "NOERROR":
        return None
    ips = [str(r.data) for r in ans.answers if _rtype(r) == "A"]
    return ips or None


async def dns_wait(net: Any) -> None:
    """A lookup whose queries a NetworkPolicy drops fails only after the resolver's timeout (R115)."""
    wait = getattr(net, "dns_timeout", None)
    secs = wait() if callable(wait) else 0.0
    if secs > 0:
        await asyncio.sleep(secs)


def _is_ipv4(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


# --------------------------------------------------------------------------- HTTP client

async def http_exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes,
                        head: bool = False, deadline: float | None = None) -> HttpResponse:
    """Send one request and read one HTTP/1.x response (Content-Length, chunked or until close)."""
    writer.write(request)
    await writer.drain()
    return await http1.read_response(reader, "HEAD" if head else "GET", deadline)


async def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is None:
        return
    try:
        writer.close()
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


# --------------------------------------------------------------------------- curl

class CurlUsage(Exception):
    pass


@dataclass
class CurlOpts:
    urls: list[str] = field(default_factory=list)
    silent: bool = False
    show_error: bool = False
    verbose: bool = False
    include: bool = False
    head: bool = False
    output: str | None = None
    write_out: str | None = None
    max_time: float | None = None
    connect_timeout: float | None = None
    headers: list[str] = field(default_factory=list)
    method: str | None = None
    data: str | None = None
    fail: bool = False
    location: bool = False
    user_agent: str | None = None


_CURL_ARG = {
    "-o": "output", "--output": "output", "-w": "write_out", "--write-out": "write_out",
    "-m": "max_time", "--max-time": "max_time", "--connect-timeout": "connect_timeout",
    "-H": "headers", "--header": "headers", "-X": "method", "--request": "method",
    "-d": "data", "--data": "data", "--data-raw": "data", "--data-binary": "data",
    "--data-ascii": "data", "-A": "user_agent", "--user-agent": "user_agent",
    "--retry": None, "--retry-delay": None, "--retry-max-time": None, "--resolve": None,
    "-u": None, "--user": None, "-e": None, "--referer": None, "-b": None, "--cookie": None,
}
_CURL_FLAG = {
    "-s": "silent", "--silent": "silent", "-S": "show_error", "--show-error": "show_error",
    "-v": "verbose", "--verbose": "verbose", "-i": "include", "--include": "include",
    "-I": "head", "--head": "head", "-f": "fail", "--fail": "fail", "-L": "location",
    "--location": "location", "-k": None, "--insecure": None, "-4": None, "--ipv4": None,
    "--http1.1": None, "--compressed": None, "-N": None, "--no-buffer": None, "-#": None,
    "--progress-bar": None, "--fail-with-body": "fail", "-q": None, "--no-progress-meter": "silent",
}


def _curl_set(o: CurlOpts, attr: str | None, value: Any) -> None:
    if attr is None:
        return
    if attr in ("max_time", "connect_timeout"):
        opt = f"option --{attr.replace('_', '-')}"
        try:
            value = float(value)
        except ValueError:
            raise CurlUsage(f"{opt}: expected a proper numerical parameter") from None
        if value != value or value < 0:  # nan, or negative
            raise CurlUsage(f"{opt}: expected a proper numerical parameter")
        if value > 9.2e15:  # more milliseconds than a long holds (tool_paramhlp.c secs2ms)
            raise CurlUsage(f"{opt}: too large number")
    if attr == "headers":
        o.headers.append(value)
    else:
        setattr(o, attr, value)


def parse_curl(args: list[str]) -> CurlOpts:
    o = CurlOpts()
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a.startswith("--") and len(a) > 2:
            name, eq, val = a.partition("=")
            if name in _CURL_FLAG:
                _curl_set(o, _CURL_FLAG[name], True)
            elif name in _CURL_ARG:
                if not eq:
                    if i >= len(args):
                        raise CurlUsage(f"option {name}: requires parameter")
                    val = args[i]
                    i += 1
                _curl_set(o, _CURL_ARG[name], val)
            else:
                raise CurlUsage(f"option {name}: is unknown")
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                flag = "-" + a[j]
                if flag in _CURL_FLAG:
                    _curl_set(o, _CURL_FLAG[flag], True)
                    j += 1
                elif flag in _CURL_ARG:
                    val = a[j + 1:]
                    if not val:
                        if i >= len(args):
                            raise CurlUsage(f"option {flag}: requires parameter")
                        val = args[i]
                        i += 1
                    _curl_set(o, _CURL_ARG[flag], val)
                    break
                else:
                    raise CurlUsage(f"option {flag}: is unknown")
        else:
            o.urls.append(a)
    return o


@dataclass
class CurlState:
    ctx: Ctx
    o: CurlOpts
    start: float
    url: str = ""
    http_code: int = 0
    remote_ip: str = ""
    remote_port: int = 0
    local_port: int = 0
    size: int = 0
    redirects: int = 0
    content_type: str = ""
    errormsg: str = ""
    exitcode: int = 0
    conn_no: int = 0

    def ms(self) -> int:
        return int((time.monotonic() - self.start) * 1000)

    def info(self, text: str) -> None:
        if self.o.verbose:
            self.ctx.err(text + "\n")

    def fail(self, code: int, msg: str) -> int:
        self.exitcode, self.errormsg = code, msg
        self.info(f"* closing connection #{self.conn_no}")
        if not self.o.silent or self.o.show_error:
            self.ctx.err(f"curl: ({code}) {msg}\n")
        return code


class BadUrl(Exception):
    """A URL curl's parser refuses (its CURLUE text: lib/urlapi.c, curl_url_strerror) or whose port busybox
    wget's str2sockaddr refuses (``bad port spec``)."""

    def __init__(self, curl_text: str, host: str):
        super().__init__(curl_text)
        self.curl_text, self.host = curl_text, host


def _curl_url(raw: str) -> tuple[str, str, int, str]:
    url = raw if "://" in raw else "http://" + raw
    try:
        parts = urlsplit(url)
    except ValueError:
        raise BadUrl("Bad IPv6 address", url.split("://", 1)[-1].split("/", 1)[0]) from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise BadUrl("Port number was not a decimal number between 0 and 65535", parts.netloc) from None
    path = (parts.path or "/") + (("?" + parts.query) if parts.query else "")
    return scheme, host, port, path


async def cmd_curl(argv: list[str], ctx: Ctx) -> int:
    try:
        o = parse_curl(argv[1:])
    except CurlUsage as e:
        ctx.err(f"curl: {e}\ncurl: try 'curl --help' or 'curl --manual' for more information\n")
        return 2
    if not o.urls:
        ctx.err("curl: no URL specified\ncurl: try 'curl --help' or 'curl --manual' for more information\n")
        return 2
    code = 0
    for n, url in enumerate(o.urls):
        st = CurlState(ctx, o, time.monotonic(), url=url, conn_no=n)
        code = await _curl_one(st)
        if o.write_out is not None:
            ctx.out(_write_out(o.write_out, st, ctx))
    return code


async def _curl_one(st: CurlState) -> int:
    url, hops = st.url, 0
    while True:
        code, resp = await _curl_request(st, url)
        if code or resp is None:
            return code
        loc = resp.header("Location")
        if st.o.location and 300 <= resp.status < 400 and loc:
            if hops >= 50:
                return st.fail(47, "Maximum (50) redirects followed")
            url = urljoin(url if "://" in url else "http://" + url, loc)
            st.info(f"* Issue another request to this URL: '{url}'")
            hops += 1
            st.redirects = hops
            if resp.status in (301, 302, 303) and st.o.data is not None:
                st.o = CurlOpts(**{**st.o.__dict__, "data": None, "method": None})
            continue
        return await _curl_deliver(st, resp)


def _curl_deadline(st: CurlState) -> tuple[float, bool]:
    """Seconds left for connecting, and whether --max-time (not --connect-timeout) is the limit."""
    o = st.o
    left_total = o.max_time - (time.monotonic() - st.start) if o.max_time is not None else None
    conn = o.connect_timeout if o.connect_timeout is not None else (
        None if left_total is not None else DEFAULT_WAIT_CAP)
    if left_total is not None and (conn is None or left_total <= conn):
        return max(left_total, 0.0), True
    return conn or DEFAULT_WAIT_CAP, False


async def _curl_request(st: CurlState, url: str) -> tuple[int, HttpResponse | None]:
    ctx = st.ctx
    try:
        scheme, host, port, path = _curl_url(url)
    except BadUrl as e:
        return st.fail(3, f"URL rejected: {e.curl_text}"), None
    st.url = f"{scheme}://{host}{'' if port == (443 if scheme == 'https' else 80) else f':{port}'}{path}"
    if scheme not in ("http", "https"):
        return st.fail(1, f'Protocol "{scheme}" not supported'), None
    if not host:
        return st.fail(3, "URL rejected: No host part in the URL"), None
    ips = resolve_ipv4(ctx.net, host)
    if ips is None:
        await dns_wait(ctx.net)
        st.info(f"* Could not resolve host: {host}")
        return st.fail(6, f"Could not resolve host: {host}"), None
    if not _is_ipv4(host):
        st.info(f"* Host {host}:{port} was resolved.\n* IPv6: (none)\n* IPv4: {', '.join(ips)}")
    reader = writer = None
    for ip in ips:
        st.info(f"*   Trying {ip}:{port}...")
        left, by_max = _curl_deadline(st)
        try:
            reader, writer = await asyncio.wait_for(ctx.net.connect(ip, port, left), timeout=left + 0.5)
            st.remote_ip, st.remote_port = ip, port
            break
        except (asyncio.TimeoutError, TimeoutError):
            if by_max:
                st.info(f"* Connection timed out after {st.ms()} milliseconds")
                return st.fail(28, f"Connection timed out after {st.ms()} milliseconds"), None
            msg = f"Failed to connect to {host} port {port} after {st.ms()} ms: Timeout was reached"
            st.info("* " + msg)
            return st.fail(28, msg), None
        except (ConnectionRefusedError, OSError):
            st.info(f"* connect to {ip} port {port} from {ctx.net.pod_ip} port "
                    f"{random.randint(32768, 60999)} failed: Connection refused")
    if writer is None or reader is None:
        msg = f"Failed to connect to {host} port {port} after {st.ms()} ms: Could not connect to server"
        st.info("* " + msg)
        return st.fail(7, msg), None
    try:
        return await _curl_exchange(st, reader, writer, scheme, host, port, path)
    finally:
        await _close(writer)


async def _curl_exchange(st: CurlState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         scheme: str, host: str, port: int, path: str) -> tuple[int, HttpResponse | None]:
    o = st.o
    st.info(f"* Connected to {host} ({st.remote_ip}) port {port}")
    if scheme == "https":
        st.info("* ALPN: curl offers h2,http/1.1\n* TLSv1.3 (OUT), TLS handshake, Client hello (1):")
        st.ctx.err("kai-labs: the emulated servers speak plain HTTP only (no TLS); use http://\n")
        return st.fail(35, "TLS connect error: error:0A00010B:SSL routines::wrong version number"), None
    req = _curl_request_bytes(o, host, port, path)
    st.info("* using HTTP/1.x")
    for line in req.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n"):
        st.info(f"> {line}")
    st.info("> ")
    if o.data is not None:
        st.info(f"* upload completely sent off: {len(o.data.encode())} bytes")
    else:
        st.info("* Request completely sent off")
    left = (o.max_time - (time.monotonic() - st.start)) if o.max_time is not None else DEFAULT_WAIT_CAP
    try:
        resp = await asyncio.wait_for(http_exchange(reader, writer, req, head=o.head), timeout=max(left, 0.0))
    except (asyncio.TimeoutError, TimeoutError):
        return st.fail(28, f"Operation timed out after {st.ms()} milliseconds with 0 bytes received"), None
    except EmptyReply:
        st.info("* Empty reply from server")
        return st.fail(52, "Empty reply from server"), None
    except (ConnectionResetError, asyncio.IncompleteReadError, OSError):
        return st.fail(56, "Recv failure: Connection reset by peer"), None
    st.http_code, st.size = resp.status, len(resp.body)
    st.content_type = resp.header("Content-Type") or ""
    st.info(f"< {resp.status_line()}")
    for k, v in resp.headers:
        st.info(f"< {k}: {v}")
    st.info("< ")
    return 0, resp


def _curl_request_bytes(o: CurlOpts, host: str, port: int, path: str) -> bytes:
    method = o.method or ("HEAD" if o.head else ("POST" if o.data is not None else "GET"))
    hdrs: list[tuple[str, str]] = [("Host", host if port == 80 else f"{host}:{port}"),
                                   ("User-Agent", o.user_agent or f"curl/{CURL_VERSION}"), ("Accept", "*/*")]
    if o.data is not None:
        hdrs += [("Content-Length", str(len(o.data.encode()))),
                 ("Content-Type", "application/x-www-form-urlencoded")]
    for h in o.headers:
        k, _, v = h.partition(":")
        hdrs = [(hk, hv) for hk, hv in hdrs if hk.lower() != k.strip().lower()]
        if v.strip():
            hdrs.append((k.strip(), v.strip()))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs) + "\r\n"
    return head.encode("latin-1") + (o.data.encode() if o.data is not None else b"")


async def _curl_deliver(st: CurlState, resp: HttpResponse) -> int:
    ctx, o = st.ctx, st.o
    if o.fail and resp.status >= 400:
        return st.fail(22, f"The requested URL returned error: {resp.status}")
    head_text = ""
    if o.include or o.head:
        head_text = resp.status_line() + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in resp.headers) + "\r\n"
    body = resp.body.decode("utf-8", "replace")
    if o.output and o.output != "-":
        await _write_file(ctx, o.output, head_text + body)
    else:
        await write_out(ctx, head_text + body)
    if not o.silent and not o.verbose and not ctx.tty:
        ctx.err(_progress_meter(len(resp.body), time.monotonic() - st.start))
    closing = (resp.header("Connection") or "").lower() == "close"
    st.info(f"* shutting down connection #{st.conn_no}" if closing
            else f"* Connection #{st.conn_no} to host {urlsplit(st.url).hostname} left intact")
    return 0


def _human(n: float) -> str:
    for unit in ("", "k", "M", "G"):
        if n < 100000 or unit == "G":
            return f"{int(n)}{unit}" if unit == "" or n >= 100 else f"{n:.1f}{unit}".replace(".0" + unit, unit)
        n /= 1024
    return str(int(n))


def _progress_meter(size: int, secs: float) -> str:
    """curl's progress meter as it lands in a container log (stdout is not a terminal)."""
    speed = _human(size / max(secs, 0.001))
    dash = "--:--:--"
    return ("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
            "                                 Dload  Upload   Total   Spent    Left  Speed\n"
            f"\r  0     0    0     0    0     0      0      0 {dash} {dash} {dash}     0"
            f"\r100 {_human(size):>5}  100 {_human(size):>5}    0     0 {speed:>6}      0 "
            f"{dash} {dash} {dash} {speed:>5}\n")


_WRITE_OUT = re.compile(r"%\{([a-z_]+)\}|%%|\\[nrt\\]")


def _write_out(fmt: str, st: CurlState, ctx: Ctx) -> str:
    total = time.monotonic() - st.start
    values: dict[str, str] = {
        "http_code": f"{st.http_code:03d}", "response_code": f"{st.http_code:03d}",
        "time_total": f"{total:.6f}", "time_connect": f"{total:.6f}", "time_starttransfer": f"{total:.6f}",
        "time_namelookup": "0.000100", "remote_ip": st.remote_ip, "remote_port": str(st.remote_port or ""),
        "size_download": str(st.size), "url_effective": st.url, "url": st.url, "exitcode": str(st.exitcode),
        "errormsg": st.errormsg, "content_type": st.content_type, "num_redirects": str(st.redirects),
        "local_ip": ctx.net.pod_ip, "scheme": urlsplit(st.url).scheme.upper(),
        "method": st.o.method or ("HEAD" if st.o.head else ("POST" if st.o.data is not None else "GET")),
    }

    def repl(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "%%":
            return "%"
        if tok.startswith("\\"):
            return {"\\n": "\n", "\\r": "\r", "\\t": "\t", "\\\\": "\\"}[tok]
        name = m.group(1)
        if name not in values:
            ctx.err(f"curl: unknown --write-out variable: '{name}'\n")
            return ""
        return values[name]
    return _WRITE_OUT.sub(repl, fmt)


# --------------------------------------------------------------------------- wget (busybox)

_WGET_USAGE = ("[-cqS] [--spider] [-O FILE] [-o LOGFILE] [--header STR]\n\t[--post-data STR | --post-file FILE] "
               "[-Y on/off]\n\t[-P DIR] [-U AGENT] [-T SEC] URL...\n\nRetrieve files via HTTP or FTP\n")


@dataclass
class WgetOpts:
    quiet: bool = False
    output: str | None = None
    timeout: float | None = None
    spider: bool = False
    headers: list[str] = field(default_factory=list)
    agent: str = "Wget"
    post: str | None = None
    server_response: bool = False
    urls: list[str] = field(default_factory=list)


def parse_wget(args: list[str]) -> WgetOpts | None:
    o = WgetOpts()
    i = 0
    takes = {"O": "output", "T": "timeout", "U": "agent", "Y": None, "P": None, "o": None}
    while i < len(args):
        a = args[i]
        i += 1
        if a.startswith("--"):
            name, eq, val = a.partition("=")
            long_arg = {"--output-document": "output", "--timeout": "timeout", "--header": "headers",
                        "--user-agent": "agent", "--post-data": "post"}
            if name in ("--quiet",):
                o.quiet = True
            elif name == "--spider":
                o.spider = True
            elif name == "--server-response":
                o.server_response = True
            elif name in long_arg:
                if not eq:
                    if i >= len(args):
                        return None
                    val, i = args[i], i + 1
                _wget_set(o, long_arg[name], val)
            elif name in ("--no-check-certificate", "--continue", "--no-verbose"):
                pass
            else:
                return None
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                if c in takes:
                    val = a[j + 1:]
                    if not val:
                        if i >= len(args):
                            return None
                        val, i = args[i], i + 1
                    _wget_set(o, takes[c], val)
                    break
                if c == "q":
                    o.quiet = True
                elif c == "S":
                    o.server_response = True
                elif c not in "c":
                    return None
                j += 1
        else:
            o.urls.append(a)
    return o


def _wget_set(o: WgetOpts, attr: str | None, val: str) -> None:
    if attr == "timeout":
        if not re.fullmatch(r"(?:[0-9]{1,9}(?:\.[0-9]{0,6})?|\.[0-9]{1,6})", val):  # a plain duration, no inf/nan
            raise ValueError(val)
        o.timeout = float(val)
    elif attr == "headers":
        o.headers.append(val)
    elif attr:
        setattr(o, attr, val)


async def cmd_wget(argv: list[str], ctx: Ctx) -> int:
    try:
        o = parse_wget(argv[1:])
    except ValueError:
        o = None
    if o is None or not o.urls:
        return _bb_usage(ctx, "wget", _WGET_USAGE)
    code = 0
    for url in o.urls:
        code = await _wget_one(o, url, ctx) or code
    return code


async def _wget_one(o: WgetOpts, raw: str, ctx: Ctx) -> int:
    try:
        scheme, host, port, path = _curl_url(raw)
    except BadUrl as e:
        ctx.err(f"wget: bad port spec '{e.host}'\n")
        return 1
    if scheme not in ("http", "https"):
        ctx.err(f"wget: not an http or ftp url: {raw}\n")
        return 1
    ips = resolve_ipv4(ctx.net, host)
    if ips is None:
        await dns_wait(ctx.net)
        ctx.err(f"wget: bad address '{host}'\n")
        return 1
    ip = ips[0]
    if not o.quiet:
        ctx.err(f"Connecting to {host} ({ip}:{port})\n")
    timeout = o.timeout if o.timeout is not None else DEFAULT_WAIT_CAP
    try:
        reader, writer = await asyncio.wait_for(ctx.net.connect(ip, port, timeout), timeout + 0.5)
    except (asyncio.TimeoutError, TimeoutError):
        ctx.err("wget: download timed out\n")
        return 1
    except (ConnectionRefusedError, OSError):
        ctx.err(f"wget: can't connect to remote host ({ip}): Connection refused\n")
        return 1
    try:
        if scheme == "https":
            ctx.err("wget: error getting response: Connection reset by peer\n"
                    "kai-labs: the emulated servers speak plain HTTP only (no TLS); use http://\n")
            return 1
        method = "HEAD" if o.spider else ("POST" if o.post is not None else "GET")
        hdrs = [f"Host: {host if port == 80 else f'{host}:{port}'}", f"User-Agent: {o.agent}"]
        hdrs += o.headers
        if o.post is not None:
            hdrs += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(o.post.encode())}"]
        req = (f"{method} {path} HTTP/1.1\r\n" + "".join(h + "\r\n" for h in hdrs) + "Connection: close\r\n\r\n")
        body = req.encode("latin-1") + (o.post.encode() if o.post is not None else b"")
        try:
            resp = await asyncio.wait_for(http_exchange(reader, writer, body, head=o.spider), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            ctx.err("wget: download timed out\n")
            return 1
        except (EmptyReply, ConnectionResetError, asyncio.IncompleteReadError, OSError):
            ctx.err("wget: error getting response: Connection reset by peer\n")
            return 1
    finally:
        await _close(writer)
    if o.server_response:
        ctx.err("".join(f"  {ln}\n" for ln in [resp.status_line()] + [f"{k}: {v}" for k, v in resp.headers]))
    if resp.status >= 400 or (300 <= resp.status < 400 and not resp.header("Location")):
        ctx.err(f"wget: server returned error: {resp.status_line()}\n")
        return 1
    if 300 <= resp.status < 400:
        return await _wget_one(o, urljoin(f"http://{host}:{port}{path}", resp.header("Location") or "/"), ctx)
    if o.spider:
        if not o.quiet:
            ctx.err("remote file exists\n")
        return 0
    return await _wget_save(o, path, resp, ctx)


async def _wget_save(o: WgetOpts, path: str, resp: HttpResponse, ctx: Ctx) -> int:
    text = resp.body.decode("utf-8", "replace")
    target = o.output or (path.split("?")[0].rsplit("/", 1)[-1] or "index.html")
    to_stdout = target == "-"
    if not to_stdout and o.output is None and target in ctx.fs:
        ctx.err(f"wget: can't open '{target}': File exists\n")
        return 1
    if not o.quiet:
        ctx.err("writing to stdout\n" if to_stdout else f"saving to '{target}'\n")
    if to_stdout:
        await write_out(ctx, text)
    else:
        await _write_file(ctx, target, text)
    if not o.quiet:
        label = "-" if to_stdout else target
        ctx.err(f"{label[:20]:<20} 100% |{'*' * 32}| {_human(len(resp.body)):>5}  0:00:00 ETA\n")
        ctx.err("written to stdout\n" if to_stdout else f"'{target}' saved\n")
    return 0


# --------------------------------------------------------------------------- nslookup (busybox)

_QTYPES = ("SOA", "NS", "A", "AAAA", "CNAME", "MX", "TXT", "SRV", "PTR", "ANY")


def _search_list(resolv_conf: str) -> list[str]:
    search: list[str] = []
    for line in resolv_conf.splitlines():
        parts = line.split()
        if parts and parts[0] in ("search", "domain") and len(parts) > 1 and (parts[0] == "search" or not search):
            search = parts[1:]
    return [] if search == ["."] else search


def _ptr_name(addr: str) -> str | None:
    if _is_ipv4(addr):
        return ".".join(reversed(addr.split("."))) + ".in-addr.arpa"
    return None


def _nslookup_queries(name: str, types: list[str], search: list[str]) -> list[tuple[str, str]]:
    if not types:
        ptr = _ptr_name(name)
        if ptr:
            return [("PTR", ptr)]
        types = ["A", "AAAA"]
    queries: list[tuple[str, str]] = []
    for t in [q for q in _QTYPES if q in types]:
        if t == "PTR" or not search or "." in name:
            queries.append((t, name))
        else:
            queries.extend((t, f"{name}.{d}") for d in search)
    return queries


def _format_record(rec: Any) -> str:
    name, t, data = _strip_dot(str(rec.name)), _rtype(rec), str(rec.data)
    if t in ("A", "AAAA"):
        return f"Name:\t{name}\nAddress: {data}\n"
    fmt = {"CNAME": "canonical name = {}", "PTR": "name = {}", "NS": "nameserver = {}",
           "SRV": "service = {}", "MX": "mail exchanger = {}", "TXT": 'text = "{}"'}
    d = data if t == "TXT" else " ".join(_strip_dot(p) for p in data.split())
    return f"{name}\t{fmt.get(t, t + ' = {}').format(d)}\n"


def _authoritative(name: str) -> bool:
    n = _strip_dot(name)
    return n.endswith("cluster.local") or n.endswith(".in-addr.arpa")


async def cmd_nslookup(argv: list[str], ctx: Ctx) -> int:
    args, types, timeout = argv[1:], [], 5.0
    while args and args[0].startswith("-"):
        key, _, val = args.pop(0)[1:].partition("=")
        if key in ("type", "querytype", "q"):
            if val.upper() not in _QTYPES:
                ctx.err(f'nslookup: invalid query type "{val}"\n')
                return 1
            types.append(val.upper())
        elif key in ("timeout", "t"):
            if not re.fullmatch(r"[0-9]{1,9}", val or "5"):
                ctx.err(f"nslookup: invalid number '{val}'\n")
                return 1
            timeout = float(val or 5)
        elif key not in ("port", "retry", "debug"):
            return _bb_usage(ctx, "nslookup", "[-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]")
    if not args or len(args) > 2:
        return _bb_usage(ctx, "nslookup", "[-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]")
    name = _strip_dot(args[0])
    server = args[1] if len(args) == 2 else ctx.net.dns_ip
    blocked = getattr(ctx.net, "dns_timeout", None)
    if server != ctx.net.dns_ip or (callable(blocked) and blocked() > 0):  # no server, or policy drops (R115)
        await asyncio.sleep(min(timeout, 5.0))
        ctx.out(";; connection timed out; no servers could be reached\n\n")
        return 1
    search = _search_list(_read_file(ctx, "/etc/resolv.conf") or "")
    ctx.out(f"Server:\t\t{server}\nAddress:\t{server}:53\n\n")
    code = 0
    for qtype, qname in _nslookup_queries(name, types, search):
        code |= _nslookup_answer(ctx, qtype, qname)
    return code


def _nslookup_answer(ctx: Ctx, qtype: str, qname: str) -> int:
    ans = ctx.net.resolve(qname + ".", qtype)
    rcode = getattr(ans, "rcode", "NXDOMAIN")
    fqdn = _strip_dot(str(getattr(ans, "fqdn", qname) or qname))
    if rcode == "NOERROR" and fqdn.lower() != qname.lower():
        rcode = "NXDOMAIN"  # the resolver walked a search list: this exact name does not exist
    if rcode != "NOERROR":
        ctx.out(f"** server can't find {qname}: {rcode}\n\n")
        return 1
    text = "" if _authoritative(qname) else "Non-authoritative answer:\n"
    records = list(getattr(ans, "answers", []))
    text += "".join(_format_record(r) for r in records)
    if not records:
        text += f"*** Can't find {qname}: No answer\n"
    ctx.out(text + "\n")
    return 0


# --------------------------------------------------------------------------- nc

# /etc/services names openbsd nc prints in "[tcp/http]" (Alpine's /etc/services)
_SERVICES = {("tcp", 80): "http", ("tcp", 443): "https", ("tcp", 53): "domain", ("udp", 53): "domain",
             ("tcp", 8080): "http-alt", ("udp", 8080): "http-alt", ("tcp", 22): "ssh", ("tcp", 6443): "sun-sr-https",
             ("tcp", 9376): "*"}
_BB_NC_USAGE = ("[OPTIONS] HOST PORT  - connect\nnc [OPTIONS] -l -p PORT [HOST] [PORT]  - listen\n\n"
                "\t-e PROG\tRun PROG after connect (must be last)\n\t-l\tListen mode, for inbound connects\n"
                "\t-lk\tWith -e, provides persistent server\n\t-p PORT\tLocal port\n\t-s ADDR\tLocal address\n"
                "\t-w SEC\tTimeout for connects and final net reads\n\t-i SEC\tDelay interval for lines sent\n"
                "\t-n\tDon't do DNS resolution\n\t-u\tUDP mode\n\t-v\tVerbose\n\t-o FILE\tHex dump traffic\n"
                "\t-z\tZero-I/O mode (scanning)")
_NC_DATA_MAX = 1 << 20  # bytes of replies an emulated nc prints at most


@dataclass
class _NcOpts:
    udp: bool = False
    zero: bool = False
    verbose: int = 0
    wait: float | None = None
    listen: bool = False
    shutdown: bool = False  # openbsd -N: shut the socket's write side at the end of stdin
    quit_after: float | None = None  # openbsd -q SECS
    args: list[str] = field(default_factory=list)
    sent: int = 0  # bytes written to / read from the net (busybox's -vv summary)
    rcvd: int = 0


def _parse_nc(argv: list[str], openbsd: bool) -> _NcOpts | str:
    """busybox nc_bloaty.c's getopt32 "np:s:uvw:lki:o:z" or openbsd netcat's getopt; the bad option's
    letter on error."""
    o = _NcOpts()
    with_arg = set("I:i:M:m:O:o:P:p:q:s:T:V:W:w:X:x:".replace(":", "")) if openbsd else set("psiwoe")
    plain = set("46CDdFhklNnrStUuvZz") if openbsd else set("nuvlkz")
    i = 1
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            o.args += argv[i:]
            break
        if not a.startswith("-") or a == "-":
            o.args.append(a)
            continue
        j = 1
        while j < len(a):
            ch = a[j]
            j += 1
            if ch in with_arg:
                val = a[j:] if j < len(a) else (argv[i] if i < len(argv) else None)
                if val is None:
                    return ch
                if j >= len(a):
                    i += 1
                j = len(a)
                if ch == "w" or (ch == "q" and openbsd):
                    try:
                        secs = float(val) if openbsd else float(int(val))
                    except ValueError:
                        return f"w:{val}"
                    if ch == "w":
                        o.wait = secs
                    else:
                        o.quit_after = secs
            elif ch in plain:
                o.udp |= ch == "u"
                o.zero |= ch == "z"
                o.listen |= ch == "l"
                o.shutdown |= ch == "N"
                o.verbose += ch == "v"
            else:
                return ch
    return o


async def cmd_nc(argv: list[str], ctx: Ctx) -> int:
    """``nc`` as the images ship it: busybox's nc (nc_bloaty.c, netcat 1.10) in busybox-based images,
    netcat-openbsd in agnhost (its Dockerfile installs it): connect over TCP or UDP (R102), send stdin,
    print what comes back; ``-z`` only checks; ``-w`` bounds the connect and the final wait for replies."""
    openbsd = repository(ctx.image) == AGNHOST
    o = _parse_nc(argv, openbsd)
    if isinstance(o, str):
        if o.startswith("w:"):
            ctx.err(f"nc: invalid number '{o[2:]}'\n" if not openbsd else f"nc: timeout {o[2:]}: invalid\n")
            return 1
        ctx.err(f"nc: invalid option -- '{o}'\n")
        if openbsd:
            ctx.err("usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n"
                    "\t  [-m minttl] [-O length] [-P proxy_username] [-p source_port]\n"
                    "\t  [-q seconds] [-s sourceaddr] [-T keyword] [-V rtable] [-W recvlimit]\n"
                    "\t  [-w timeout] [-X proxy_protocol] [-x proxy_address[:port]]\n"
                    "\t  [destination] [port]\n")
            return 1
        return _bb_usage(ctx, "nc", _BB_NC_USAGE)
    if o.listen:
        ctx.err("kai-labs: nc -l (a listening nc) is not emulated; run a server image (agnhost netexec, "
                "nginx, http-echo) instead\n")
        return 1
    code = await _nc_run(ctx, o, openbsd)
    if not openbsd and o.verbose > 1 and len(o.args) == 2:
        ctx.err(f"sent {o.sent}, rcvd {o.rcvd}\n")
    return code


async def _nc_run(ctx: Ctx, o: _NcOpts, openbsd: bool) -> int:
    if len(o.args) != 2:
        if openbsd:
            ctx.err("nc: missing port number\n" if len(o.args) == 1 else
                    "usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n")
            return 1
        return _bb_usage(ctx, "nc", _BB_NC_USAGE)
    host, port_s = o.args
    proto = "udp" if o.udp else "tcp"
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        ctx.err(f"nc: port number invalid: {port_s}\n" if openbsd else f"nc: bad port '{port_s}'\n")
        return 1
    port = int(port_s)
    ips = resolve_ipv4(ctx.net, host)
    if ips is None:
        await dns_wait(ctx.net)
        ctx.err(f"nc: getaddrinfo for host \"{host}\" port {port}: Name does not resolve\n" if openbsd
                else f"nc: bad address '{host}'\n")
        return 1
    ip = ips[0]
    wait = o.wait if o.wait is not None else DEFAULT_WAIT_CAP

    def failed(why: str) -> int:
        if openbsd:
            if o.verbose:  # Debian's netcat-openbsd (Alpine builds it with its patches): "timed out" on -w
                where = host if host == ip else f"{host} ({ip})"
                verb = "timed out" if why == "Operation in progress" else "failed"
                ctx.err(f"nc: connect to {where} port {port} ({proto}) {verb}: {why}\n")
        elif o.verbose > 1 or (o.verbose and why != "Connection refused"):
            ctx.err(f"nc: {host} ({ip}:{port}): {why}\n")
        return 1

    def opened() -> None:
        if openbsd and (o.verbose or o.zero):
            if o.verbose:
                shown = f" ({ip})" if host != ip else ""  # connection_info(): the address unless -n
                name = _SERVICES.get((proto, port), "*")
                ctx.err(f"Connection to {host}{shown} {port} port [{proto}/{name}] succeeded!\n")
        elif not openbsd and o.verbose:
            ctx.err(f"{host} ({ip}:{port}) open\n")

    if o.udp:
        return await _nc_udp(ctx, o, ip, port, wait, opened, failed, openbsd)
    try:
        reader, writer = await asyncio.wait_for(ctx.net.connect(ip, port, wait), wait + 0.5)
    except (asyncio.TimeoutError, TimeoutError):
        return failed("Operation in progress" if openbsd else "Connection timed out")
    except (ConnectionRefusedError, OSError):
        return failed("Connection refused")
    opened()
    try:
        if o.zero:
            return 0
        data = (ctx.stdin or "").encode()
        if data:
            writer.write(data)
            o.sent += len(data)
        if not openbsd or o.shutdown:  # busybox nc half-closes at the end of stdin (since 1.22)
            with contextlib.suppress(OSError, RuntimeError):
                writer.write_eof()
        idle = o.wait if o.wait is not None else (o.quit_after if o.quit_after is not None else DEFAULT_WAIT_CAP)
        got = 0
        while got < _NC_DATA_MAX:
            try:
                chunk = await asyncio.wait_for(reader.read(8192), idle)
            except (asyncio.TimeoutError, TimeoutError):
                break
            except (ConnectionError, OSError):
                break
            if not chunk:
                break
            got += len(chunk)
            o.rcvd += len(chunk)
            await write_out(ctx, chunk.decode("utf-8", "replace"))
        return 0
    finally:
        await _close(writer)


async def _nc_udp(ctx: Ctx, o: _NcOpts, ip: str, port: int, wait: float,
                  opened: Callable[[], None], failed: Callable[[str], int], openbsd: bool) -> int:
    """UDP: the connect always succeeds (no handshake); a datagram the other side refuses comes back as
    ICMP port unreachable, which the next read reports (R101)."""
    flow = ctx.net.udp(ip, port)
    try:
        if o.zero:  # a probe datagram, and a short wait for an ICMP refusal
            flow.send(b"X")
            try:
                await flow.recv(min(wait, 1.0))
            except ConnectionRefusedError:
                return failed("Connection refused")
            except TimeoutError:
                pass
            opened()
            return 0
        opened()
        text = ctx.stdin or ""
        if text:
            flow.send(text.encode())
            o.sent += len(text.encode())
        got = 0
        while got < _NC_DATA_MAX:
            try:
                data = await flow.recv(wait)
            except ConnectionRefusedError:  # busybox: the net side is closed, not an error; openbsd: exit 1
                if not openbsd and o.verbose > 1:
                    ctx.err("nc: net read: Connection refused\n")
                return 1 if openbsd else 0
            except TimeoutError:
                break
            got += len(data)
            o.rcvd += len(data)
            await write_out(ctx, data.decode("utf-8", "replace"))
        return 0
    finally:
        flow.close()


# --------------------------------------------------------------------------- agnhost's one-shot subcommands

AGNHOST_COMMANDS = ("dns-suffix", "dns-server-list", "etc-hosts")


def _resolv_field(text: str, key: str) -> list[str] | None:
    """The words after the first line starting with ``key`` (test/images/agnhost/dns/dns.go reads
    /etc/resolv.conf this way: a prefix match, the line split on single spaces)."""
    for line in text.split("\n"):
        if line.startswith(key):
            return line.split(" ")[1:]
    return None


async def cmd_agnhost(argv: list[str], ctx: Ctx) -> int:
    """``/agnhost dns-suffix``, ``dns-server-list``, ``etc-hosts`` run in a container or by exec
    (test/images/agnhost/dns/common.go): they print what the kubelet wrote into the Pod's files. A missing
    list is a Go panic (exit 2)."""
    sub = argv[1] if len(argv) > 1 else ""
    if sub not in AGNHOST_COMMANDS:
        ctx.err(f"kai-labs: agnhost {sub or '(no subcommand)'} runs as a container's command, not inside one; "
                f"emulated here: {', '.join(AGNHOST_COMMANDS)}\n")
        return 1
    if sub == "etc-hosts":
        ctx.out((_read_file(ctx, "/etc/hosts") or "") + "\n")
        return 0
    words = _resolv_field(_read_file(ctx, "/etc/resolv.conf") or "", "search" if sub == "dns-suffix"
                          else "nameserver")
    if words is None:
        ctx.err("panic: Could not find DNS search list!\n\ngoroutine 1 [running]:\n")
        return 2
    ctx.out(",".join(words) + "\n")
    return 0


# --------------------------------------------------------------------------- table

COMMANDS: dict[str, Callable[[list[str], Ctx], Awaitable[int]]] = {
    "sh": cmd_sh, "ash": cmd_sh, "bash": cmd_sh, "dash": cmd_sh,
    "curl": cmd_curl, "wget": cmd_wget, "nslookup": cmd_nslookup,
    "sleep": cmd_sleep, "echo": cmd_echo, "printf": cmd_printf, "cat": cmd_cat, "env": cmd_env,
    "hostname": cmd_hostname, "true": cmd_true, ":": cmd_true, "false": cmd_false, "exit": cmd_exit,
    "test": cmd_test, "[": cmd_test, "grep": cmd_grep, "head": cmd_head, "tail": cmd_tail, "wc": cmd_wc,
    "date": cmd_date, "seq": cmd_seq, "export": cmd_export, "unset": cmd_unset, "cd": cmd_cd,
    "agnhost": cmd_agnhost, "nc": cmd_nc,
}


def go_json(value: Any) -> str:
    """``encoding/json.Marshal`` text: sorted keys, no spaces, HTML-safe escapes."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def status_text(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""
