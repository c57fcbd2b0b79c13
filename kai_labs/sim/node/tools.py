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
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

from ..network import http1
from ..network.http1 import EmptyReply, HttpResponse

Out = Callable[[str], None]

CURL_VERSION = "8.11.1"
BUSYBOX_VERSION = "1.36.1"
DEFAULT_WAIT_CAP = 10.0
LOOP_LIMIT = 10000  # iterations of a loop that never sleeps before the shell gives up


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
_BUSYBOX_TOOLS = frozenset([
    "sh", "ash", "wget", "nslookup", "sleep", "echo", "cat", "env", "hostname", "true", "false", "printf", "test",
    "[", "grep", "head", "tail", "wc", "date", "seq", "export", "unset", "cd", ":", "exit",
])
_DEBIAN_TOOLS = frozenset([
    "sh", "bash", "dash", "curl", "sleep", "echo", "cat", "env", "hostname", "true", "false", "printf", "test",
    "[", "grep", "head", "tail", "wc", "date", "seq", "export", "unset", "cd", ":", "exit",
])
IMAGE_TOOLS: dict[str, frozenset[str]] = {
    "curlimages/curl": _BUSYBOX_TOOLS | {"curl"},
    "busybox": _BUSYBOX_TOOLS,
    # agnhost is alpine + bind-tools, curl, bash; its nslookup is bind's (emulated with busybox's format)
    AGNHOST: _BUSYBOX_TOOLS | {"curl", "bash"},
    "nginx": _DEBIAN_TOOLS,  # debian: dash as sh, curl present, no wget/nslookup
    "hashicorp/http-echo": frozenset(),  # scratch image: no shell at all
    "registry.k8s.io/pause": frozenset(),
}


def image_tools(image: str) -> frozenset[str]:
    return IMAGE_TOOLS.get(repository(image), _BUSYBOX_TOOLS | {"curl"})


def tool_available(image: str, argv0: str) -> bool:
    return argv0.rsplit("/", 1)[-1] in image_tools(image)


# --------------------------------------------------------------------------- context

class ShellExit(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


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
    spin: list[int] = field(default_factory=lambda: [0])  # loop iterations since the last sleep

    def child(self, **kw: Any) -> Ctx:
        c = Ctx(self.net, self.out, self.err, self.image, self.env, self.tty, self.stdin, self.fs,
                self.last, self.positional, self.spin)
        for k, v in kw.items():
            setattr(c, k, v)
        return c

    @property
    def dash(self) -> bool:
        return repository(self.image) == "nginx"


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


def _write_file(ctx: Ctx, path: str, text: str, append: bool = False) -> None:
    if path in ("/dev/null",):
        return
    if path in ("/dev/stdout", "/proc/self/fd/1"):
        ctx.out(text)
        return
    if path in ("/dev/stderr", "/proc/self/fd/2"):
        ctx.err(text)
        return
    ctx.fs[path] = (ctx.fs.get(path, "") if append else "") + text


# --------------------------------------------------------------------------- public entry points

async def run(argv: list[str], net: Any, out: Out, err: Out, *, image: str = "curlimages/curl",
              env: dict[str, str] | None = None, tty: bool = False, stdin: str | None = None,
              fs: dict[str, str] | None = None) -> int:
    """Run one command (as the shell would after parsing). Returns its exit code."""
    ctx = Ctx(net, out, err, image, base_env(net, env), tty, stdin, fs if fs is not None else {})
    try:
        return await _dispatch(argv, ctx)
    except ShellExit as e:
        return e.code


async def run_script(script: str, net: Any, out: Out, err: Out, *, image: str = "curlimages/curl",
                     env: dict[str, str] | None = None, tty: bool = False, stdin: str | None = None,
                     fs: dict[str, str] | None = None, positional: list[str] | None = None) -> int:
    """Run a ``sh -c`` script with the tiny POSIX-sh subset. Returns the exit status."""
    ctx = Ctx(net, out, err, image, base_env(net, env), tty, stdin, fs if fs is not None else {},
              positional=positional or ["sh"])
    return await _script(script, ctx)


async def _script(script: str, ctx: Ctx) -> int:
    try:
        tree = Parser(script).parse()
    except ShSyntaxError as e:
        ctx.err(_sh_syntax_message(ctx, str(e)))
        return 2
    try:
        return await _exec(tree, ctx)
    except ShellExit as e:
        return e.code


def shell_context(net: Any, out: Out, err: Out, *, image: str, env: dict[str, str] | None = None,
                  tty: bool = False, fs: dict[str, str] | None = None) -> Ctx:
    """The state of one interactive shell (variables, ``$?``, files) kept across the lines it reads."""
    return Ctx(net, out, err, image, base_env(net, env), tty, None, fs if fs is not None else {},
               positional=["sh"])


async def shell_line(line: str, ctx: Ctx) -> int:
    """Run one line read by an interactive shell; ``exit`` raises ShellExit (the shell ends)."""
    try:
        tree = Parser(line).parse()
    except ShSyntaxError as e:
        ctx.err(_sh_syntax_message(ctx, str(e)))
        ctx.last = 2
        return 2
    code = await _exec(tree, ctx)
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


def _lex(s: str) -> list[Any]:
    toks: list[Any] = []
    segs: list[Seg] = []
    buf = ""
    i = 0

    def flush_lit() -> None:
        nonlocal buf
        if buf:
            segs.append(("lit", buf))
            buf = ""

    def end_word() -> None:
        flush_lit()
        if segs:
            toks.append(Word(list(segs)))
            segs.clear()

    while i < len(s):
        c = s[i]
        if c in " \t":
            end_word()
            i += 1
        elif c == "#" and not buf and not segs:
            while i < len(s) and s[i] != "\n":
                i += 1
        elif c == "\\":
            if i + 1 < len(s) and s[i + 1] == "\n":
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
            j, text = i + 1, ""
            while True:
                if j >= len(s):
                    raise ShSyntaxError("unterminated quoted string")
                if s[j] == '"':
                    break
                if s[j] == "\\" and j + 1 < len(s) and s[j + 1] in '$`"\\\n':
                    text += ("\\" + s[j + 1]) if s[j + 1] in "$`" else ("" if s[j + 1] == "\n" else s[j + 1])
                    j += 2
                elif s[j:j + 2] == "$(":
                    k = _read_paren(s, j + 2)
                    text += s[j:k]
                    j = k
                elif s[j] == "`":
                    k = s.find("`", j + 1)
                    if k < 0:
                        raise ShSyntaxError("unterminated `")
                    text += "$(" + s[j + 1:k] + ")"
                    j = k + 1
                else:
                    text += s[j]
                    j += 1
            flush_lit()
            segs.append(("dq", text))
            i = j + 1
        elif s.startswith("$(", i):
            k = _read_paren(s, i + 2)
            buf += s[i:k]
            i = k
        elif c == "`":
            k = s.find("`", i + 1)
            if k < 0:
                raise ShSyntaxError("unterminated `")
            buf += "$(" + s[i + 1:k] + ")"
            i = k + 1
        elif s.startswith("${", i):
            k = s.find("}", i)
            if k < 0:
                raise ShSyntaxError("bad substitution")
            buf += s[i:k + 1]
            i = k + 1
        else:
            op = next((o for o in _OPS if s.startswith(o, i)), None)
            if op is None:
                buf += c
                i += 1
                continue
            fd = None
            if op in (">", ">>", "<", ">&") and buf.isdigit() and not segs:
                fd, buf = int(buf), ""
            end_word()
            toks.append(("op", op, fd))
            i += len(op)
    end_word()
    return toks


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
    """Expand ``$VAR``, ``${VAR}``, ``$(cmd)`` inside one segment (no splitting)."""
    out, i = "", 0
    while i < len(text):
        if text.startswith("\\$", i) or text.startswith("\\`", i):
            out += text[i + 1]
            i += 2
        elif text.startswith("$(", i):
            k = _read_paren(text, i + 2)
            out += await _substitute(text[i + 2:k - 1], ctx)
            i = k
        elif text[i] == "$":
            m = _VAR.match(text, i)
            if m:
                out += _var(ctx, m.group(1) or m.group(2) or m.group(3))
                i = m.end()
            else:
                out += "$"
                i += 1
        else:
            out += text[i]
            i += 1
    return out


async def _substitute(script: str, ctx: Ctx) -> str:
    buf: list[str] = []
    code = await _script(script, ctx.child(out=buf.append))
    ctx.last = code
    return "".join(buf).rstrip("\n")


async def _expand_word(w: Word, ctx: Ctx, split: bool = True) -> list[str]:
    """Fields of a word: unquoted expansions are split on blanks, quoted text never is."""
    fields: list[str] = []
    cur, have = "", False
    for kind, text in w.segs:
        if kind == "sq":
            cur, have = cur + text, True
        elif kind == "dq":
            cur, have = cur + await _expand_text(text, ctx), True
        else:
            literal_only = "$" not in text
            val = await _expand_text(text, ctx)
            if literal_only or not split:
                cur, have = cur + val, have or bool(val) or literal_only
                continue
            parts = re.split(r"[ \t\n]+", val)
            if len(parts) == 1:
                cur, have = cur + parts[0], have or bool(parts[0])
                continue
            if parts[0] or have:
                fields.append(cur + parts[0])
            for p in parts[1:-1]:
                fields.append(p)
            cur, have = parts[-1], bool(parts[-1])
    if have or cur:
        fields.append(cur)
    return fields


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
    stdin = ctx.stdin
    code = 0
    for n, cmd in enumerate(p.cmds):
        last = n == len(p.cmds) - 1
        buf: list[str] = []
        sub = ctx.child(stdin=stdin, out=ctx.out if last else buf.append)
        code = await _exec(cmd, sub)
        ctx.last = sub.last
        stdin = "".join(buf)
    if p.neg:
        code = 0 if code else 1
    return code


async def _tick(ctx: Ctx) -> None:
    ctx.spin[0] += 1
    if ctx.spin[0] > LOOP_LIMIT:
        ctx.err(f"kai-labs: loop stopped after {LOOP_LIMIT} iterations without a sleep\n")
        raise ShellExit(1)
    await asyncio.sleep(0)


async def _exec_for(node: For, ctx: Ctx) -> int:
    items = await _expand_words(node.words, ctx) if node.words is not None else ctx.positional[1:]
    code = 0
    for item in items:
        ctx.env[node.var] = item
        code = await _exec(node.body, ctx)
        await _tick(ctx)
    return code


async def _exec_loop(node: Loop, ctx: Ctx) -> int:
    code = 0
    while True:
        c = await _exec(node.cond, ctx)
        if (c == 0) == node.until:
            return code
        code = await _exec(node.body, ctx)
        await _tick(ctx)


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
    if not append:
        _write_file(ctx, path, "")

    def write(text: str) -> None:
        _write_file(ctx, path, text, append=True)
    return write


async def _exec_simple(node: Simple, ctx: Ctx) -> int:
    argv = await _expand_words(node.words, ctx)
    values = [(name, "".join(await _expand_word(w, ctx, split=False))) for name, w in node.assigns]
    if not argv:
        for name, val in values:
            ctx.env[name] = val
        sub = await _redirected(ctx, node.redirs)
        return sub if isinstance(sub, int) else ctx.last
    sub = await _redirected(ctx, node.redirs)
    if isinstance(sub, int):
        return sub
    if values:
        sub.env = dict(ctx.env, **dict(values))
    return await _dispatch(argv, sub)


# --------------------------------------------------------------------------- dispatch

async def _dispatch(argv: list[str], ctx: Ctx) -> int:
    name = argv[0].rsplit("/", 1)[-1]
    fn = COMMANDS.get(name)
    if fn is None or not tool_available(ctx.image, name):
        return _not_found(argv[0], ctx)
    if name == "sleep":
        ctx.spin[0] = 0
    return await fn(argv, ctx)


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
        sub = ctx.child(positional=args[2:] or [argv[0]])
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
        return await _script(text, ctx.child(positional=args))
    return await _script(ctx.stdin or "", ctx)


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
    await asyncio.sleep(total)
    return 0


_ECHO_ESC = {"n": "\n", "t": "\t", "\\": "\\", "r": "\r", "a": "\a", "0": "\0", "e": "\x1b"}


def _unescape(text: str) -> tuple[str, bool]:
    out, i = "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            c = text[i + 1]
            if c == "c":
                return out, True
            out += _ECHO_ESC.get(c, "\\" + c)
            i += 2
        else:
            out += text[i]
            i += 1
    return out, False


async def cmd_echo(argv: list[str], ctx: Ctx) -> int:
    args, newline, esc = argv[1:], True, ctx.dash
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        esc = "e" in args[0] or (esc and "E" not in args[0])
        args = args[1:]
    text = " ".join(args)
    stop = False
    if esc:
        text, stop = _unescape(text)
    ctx.out(text + ("\n" if newline and not stop else ""))
    return 0


async def cmd_printf(argv: list[str], ctx: Ctx) -> int:
    if len(argv) < 2:
        return _bb_usage(ctx, "printf", "FORMAT [ARG]...")
    fmt, args = argv[1], list(argv[2:])
    out = ""
    while True:
        def repl(m: re.Match[str]) -> str:
            spec = m.group(0)
            if spec == "%%":
                return "%"
            arg = args.pop(0) if args else ""
            if spec[-1] in "di":
                try:
                    return (spec[:-1] + "d") % int(arg or 0)
                except ValueError:
                    return "0"
            return (spec[:-1] + "s") % arg
        out += _unescape(re.sub(r"%%|%-?\d*[sdi]", repl, fmt))[0]
        if not args:
            break
    ctx.out(out)
    return 0


async def cmd_true(argv: list[str], ctx: Ctx) -> int:
    return 0


async def cmd_false(argv: list[str], ctx: Ctx) -> int:
    return 1


async def cmd_exit(argv: list[str], ctx: Ctx) -> int:
    code = ctx.last
    if len(argv) > 1:
        if not argv[1].lstrip("-").isdigit():
            ctx.err(f"sh: {'1: ' if ctx.dash else ''}exit: Illegal number: {argv[1]}\n")
            raise ShellExit(2)
        code = int(argv[1]) & 0xFF
    raise ShellExit(code)


async def cmd_cat(argv: list[str], ctx: Ctx) -> int:
    files = [a for a in argv[1:] if a != "-"] or None
    if not files:
        ctx.out(ctx.stdin or "")
        return 0
    code = 0
    for f in files:
        text = _read_file(ctx, f)
        if text is None:
            ctx.err(f"cat: can't open '{f}': No such file or directory\n" if not ctx.dash
                    else f"cat: {f}: No such file or directory\n")
            code = 1
        else:
            ctx.out(text)
    return code


async def cmd_env(argv: list[str], ctx: Ctx) -> int:
    ctx.out("".join(f"{k}={v}\n" for k, v in ctx.env.items()))
    return 0


async def cmd_hostname(argv: list[str], ctx: Ctx) -> int:
    ctx.out(ctx.net.pod_name + "\n")
    return 0


async def cmd_export(argv: list[str], ctx: Ctx) -> int:
    for a in argv[1:]:
        if "=" in a:
            k, _, v = a.partition("=")
            ctx.env[k] = v
    return 0


async def cmd_unset(argv: list[str], ctx: Ctx) -> int:
    for a in argv[1:]:
        ctx.env.pop(a, None)
    return 0


async def cmd_date(argv: list[str], ctx: Ctx) -> int:
    ctx.out(_dt.datetime.now(_dt.timezone.utc).strftime("%a %b %e %H:%M:%S UTC %Y") + "\n")
    return 0


async def cmd_seq(argv: list[str], ctx: Ctx) -> int:
    try:
        nums = [int(a) for a in argv[1:]]
    except ValueError:
        ctx.err(f"seq: invalid number '{argv[-1]}'\n")
        return 1
    if not nums or len(nums) > 3:
        return _bb_usage(ctx, "seq", "[-w] [-s SEP] [FIRST [INC]] LAST")
    first, inc, last = (1, 1, nums[0]) if len(nums) == 1 else (
        (nums[0], 1, nums[1]) if len(nums) == 2 else (nums[0], nums[1], nums[2]))
    ctx.out("".join(f"{i}\n" for i in range(first, last + (1 if inc > 0 else -1), inc or 1)))
    return 0


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
        return bool(nums[op](int(a), int(b)))
    if op in ("-a", "-o"):
        left, right = _test([a]), _test(args[2:])
        return (left and right) if op == "-a" else (left or right)
    return False


async def cmd_test(argv: list[str], ctx: Ctx) -> int:
    args = argv[1:]
    if argv[0] == "[":
        if not args or args[-1] != "]":
            ctx.err("sh: [: missing ]\n")
            return 2
        args = args[:-1]
    try:
        return 0 if _test(args) else 1
    except ValueError as e:
        ctx.err(f"sh: {e}\n")
        return 2


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


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
    try:
        rx = re.compile(re.escape(pattern) if "F" in flags else pattern, re.I if "i" in flags else 0)
    except re.error:
        rx = re.compile(re.escape(pattern), re.I if "i" in flags else 0)
    hits = [ln for ln in _lines(text) if bool(rx.search(ln)) != ("v" in flags)]
    if "c" in flags:
        ctx.out(f"{len(hits)}\n")
    elif "q" not in flags:
        ctx.out("".join(h if h.endswith("\n") else h + "\n" for h in hits))
    return 0 if hits else 1


def _count_arg(args: list[str], default: int = 10) -> int:
    for i, a in enumerate(args):
        if a == "-n" and i + 1 < len(args):
            return int(args[i + 1])
        if re.fullmatch(r"-n?\d+", a):
            return int(a.lstrip("-n"))
    return default


async def cmd_head(argv: list[str], ctx: Ctx) -> int:
    ctx.out("".join(_lines(ctx.stdin or "")[:_count_arg(argv[1:])]))
    return 0


async def cmd_tail(argv: list[str], ctx: Ctx) -> int:
    n = _count_arg(argv[1:])
    ctx.out("".join(_lines(ctx.stdin or "")[-n:] if n else []))
    return 0


async def cmd_wc(argv: list[str], ctx: Ctx) -> int:
    text = ctx.stdin or ""
    counts = {"l": text.count("\n"), "w": len(text.split()), "c": len(text.encode())}
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-")) or "lwc"
    ctx.out(" ".join(f"{counts[f]:>7}" if len(flags) > 1 else str(counts[f]) for f in "lwc" if f in flags) + "\n")
    return 0


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
        try:
            value = float(value)
        except ValueError:
            raise CurlUsage(f"option --{attr.replace('_', '-')}: expected a proper numerical parameter") from None
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


def _curl_url(raw: str) -> tuple[str, str, int, str]:
    url = raw if "://" in raw else "http://" + raw
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
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
        return _curl_deliver(st, resp)


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
    scheme, host, port, path = _curl_url(url)
    st.url = f"{scheme}://{host}{'' if port == (443 if scheme == 'https' else 80) else f':{port}'}{path}"
    if scheme not in ("http", "https"):
        return st.fail(1, f'Protocol "{scheme}" not supported'), None
    if not host:
        return st.fail(3, "URL rejected: No host part in the URL"), None
    ips = resolve_ipv4(ctx.net, host)
    if ips is None:
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


def _curl_deliver(st: CurlState, resp: HttpResponse) -> int:
    ctx, o = st.ctx, st.o
    if o.fail and resp.status >= 400:
        return st.fail(22, f"The requested URL returned error: {resp.status}")
    head_text = ""
    if o.include or o.head:
        head_text = resp.status_line() + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in resp.headers) + "\r\n"
    body = resp.body.decode("utf-8", "replace")
    if o.output and o.output != "-":
        _write_file(ctx, o.output, head_text + body)
    else:
        ctx.out(head_text + body)
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
    scheme, host, port, path = _curl_url(raw)
    if scheme not in ("http", "https"):
        ctx.err(f"wget: not an http or ftp url: {raw}\n")
        return 1
    ips = resolve_ipv4(ctx.net, host)
    if ips is None:
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
    return _wget_save(o, path, resp, ctx)


def _wget_save(o: WgetOpts, path: str, resp: HttpResponse, ctx: Ctx) -> int:
    text = resp.body.decode("utf-8", "replace")
    target = o.output or (path.split("?")[0].rsplit("/", 1)[-1] or "index.html")
    to_stdout = target == "-"
    if not to_stdout and o.output is None and target in ctx.fs:
        ctx.err(f"wget: can't open '{target}': File exists\n")
        return 1
    if not o.quiet:
        ctx.err("writing to stdout\n" if to_stdout else f"saving to '{target}'\n")
    if to_stdout:
        ctx.out(text)
    else:
        _write_file(ctx, target, text)
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
            timeout = float(val or 5)
        elif key not in ("port", "retry", "debug"):
            return _bb_usage(ctx, "nslookup", "[-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]")
    if not args or len(args) > 2:
        return _bb_usage(ctx, "nslookup", "[-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]")
    name = _strip_dot(args[0])
    server = args[1] if len(args) == 2 else ctx.net.dns_ip
    if server != ctx.net.dns_ip:
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


# --------------------------------------------------------------------------- table

COMMANDS: dict[str, Callable[[list[str], Ctx], Awaitable[int]]] = {
    "sh": cmd_sh, "ash": cmd_sh, "bash": cmd_sh, "dash": cmd_sh,
    "curl": cmd_curl, "wget": cmd_wget, "nslookup": cmd_nslookup,
    "sleep": cmd_sleep, "echo": cmd_echo, "printf": cmd_printf, "cat": cmd_cat, "env": cmd_env,
    "hostname": cmd_hostname, "true": cmd_true, ":": cmd_true, "false": cmd_false, "exit": cmd_exit,
    "test": cmd_test, "[": cmd_test, "grep": cmd_grep, "head": cmd_head, "tail": cmd_tail, "wc": cmd_wc,
    "date": cmd_date, "seq": cmd_seq, "export": cmd_export, "unset": cmd_unset, "cd": cmd_cd,
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
