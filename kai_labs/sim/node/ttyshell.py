"""An interactive emulated ``sh`` behind a terminal or a pipe (``kubectl run -it``, ``kubectl exec -it``).

The commands themselves are tools.py's (curl, wget, nslookup, cat, env, ...);
this module is what sits around them when a person types:

* the prompt the real image prints: busybox ash's default ``PS1='\\w \\$ '``
  (``/ # `` for root in ``/``, ``~ $ `` for curlimages/curl's ``curl_user`` in
  its home), dash's ``# `` on Debian images (nginx);
* with a TTY, what the container's pseudo-terminal and ash's line editing do:
  echo of typed characters, backspace, Ctrl-U, Ctrl-C (``^C``, interrupts a
  running command), Ctrl-D on an empty line (end of input), escape sequences
  (arrow keys) ignored, ``\\n`` written as ``\\r\\n``;
* without a TTY, a non-interactive shell reading commands line by line from
  stdin (no prompt, no echo), exiting at end of input with the last status.

A redraw (prompt and the line typed so far) is what busybox's line editing does
on SIGWINCH, which a fresh ``kubectl attach -t`` causes with its first resize:
that is why the prompt shows right after "If you don't see a command prompt,
try pressing enter."
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Callable

from . import tools

Write = Callable[[str], None]

SHELLS = frozenset({"sh", "ash", "bash", "dash"})


def is_interactive_shell(argv: list[str], image: str) -> bool:
    """``sh`` (or ``sh -i``/``-l``/``-s``) reads its commands from stdin; ``sh -c`` or ``sh FILE`` does not."""
    if not argv or argv[0].rsplit("/", 1)[-1] not in SHELLS or not tools.tool_available(image, argv[0]):
        return False
    return all(a in ("-i", "-l", "-s", "-", "--login") for a in argv[1:])


def image_user(image: str) -> tuple[str, str, str]:
    """(user, HOME, working directory) of the image's default user."""
    repo = tools.repository(image)
    if repo == "curlimages/curl":
        return "curl_user", "/home/curl_user", "/home/curl_user"
    return "root", "/root", "/"


def prompt(image: str, cwd: str, home: str, user: str) -> str:
    if tools.repository(image) == "nginx":  # Debian's sh is dash: PS1 is "# " for root
        return "# " if user == "root" else "$ "
    shown = "~" + cwd[len(home):] if cwd == home or cwd.startswith(home + "/") else cwd
    return f"{shown} {'#' if user == 'root' else '$'} "


class Shell:
    """One shell process: feed() its stdin bytes, run() until ``exit`` or end of input."""

    def __init__(self, net: object, image: str, env: dict[str, str], fs: dict[str, str], *, tty: bool,
                 out: Write, err: Write, argv0: str = "sh") -> None:
        self.tty = tty
        self.image = image
        self._out, self._err = out, err
        self.user, self.home, self.cwd = image_user(image)
        extra = dict(env)
        extra.setdefault("HOME", self.home)
        extra.setdefault("PWD", self.cwd)
        extra.setdefault("SHLVL", "1")
        if tools.repository(image) == "curlimages/curl":
            extra.setdefault("CURL_CA_BUNDLE", "/cacert.pem")
        if tty:
            extra.setdefault("TERM", "xterm")
        self.ctx = tools.shell_context(net, self.write_out, self.write_err, image=image, env=extra, tty=tty, fs=fs)
        self.ctx.env["HOME"] = extra["HOME"]  # base_env's /root is for root images only
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line: list[str] = []  # the line being typed (TTY) or the partial line read (pipe)
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._esc = ""  # an escape sequence being skipped
        self._running: asyncio.Task[int] | None = None
        self._interrupted = False
        self.eof = False

    # -- output ----------------------------------------------------------------
    def _tty_text(self, text: str) -> str:
        return text.replace("\r\n", "\n").replace("\n", "\r\n") if self.tty else text

    def write_out(self, text: str) -> None:
        self._out(self._tty_text(text))

    def write_err(self, text: str) -> None:
        (self._out if self.tty else self._err)(self._tty_text(text))

    def prompt(self) -> str:
        return prompt(self.image, self.ctx.env.get("PWD", self.cwd), self.home, self.user)

    def show_prompt(self) -> None:
        if self.tty:
            self._out(self.prompt())

    def redraw(self) -> None:
        """What ash's line editing does on SIGWINCH: the prompt and the line typed so far, again."""
        if self.tty and self._running is None:
            self._out("\r" + self.prompt() + "".join(self._line))

    # -- input -----------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if not self.tty:
            for ch in text:
                if ch == "\n":
                    self._lines.put_nowait("".join(self._line))
                    self._line = []
                else:
                    self._line.append(ch)
            return
        for ch in text:
            self._key(ch)

    def _key(self, ch: str) -> None:
        if self._esc:
            self._esc += ch
            if (len(self._esc) == 2 and ch not in "[O") or (len(self._esc) > 2 and "@" <= ch <= "~"):
                self._esc = ""
            return
        if ch == "\x1b":
            self._esc = ch
        elif ch in "\r\n":
            self._out("\r\n")
            self._lines.put_nowait("".join(self._line))
            self._line = []
        elif ch in "\x7f\x08":
            if self._line:
                self._line.pop()
                self._out("\b \b")
        elif ch == "\x03":  # Ctrl-C: the terminal echoes ^C, SIGINT ends the foreground command
            self._out("^C\r\n")
            self._line = []
            if self._running is not None:
                self._interrupted = True
                self._running.cancel()
            else:
                self._lines.put_nowait("\x03")
        elif ch == "\x04":  # Ctrl-D: end of input on an empty line
            if not self._line:
                self.close_stdin()
        elif ch == "\x15":  # Ctrl-U: kill the line
            self._out("\b \b" * len(self._line))
            self._line = []
        elif ch < " ":  # Tab (no completion) and other control keys
            return
        else:
            self._line.append(ch)
            self._out(ch)

    def close_stdin(self) -> None:
        if not self.eof:
            self.eof = True
            if not self.tty and self._line:
                self._lines.put_nowait("".join(self._line))
                self._line = []
            self._lines.put_nowait(None)

    # -- the read-eval loop ----------------------------------------------------------
    async def run(self) -> int:
        """Read and run lines until ``exit``, end of input, or the container's OOM killer (137)."""
        try:
            return await self._read_eval()
        finally:
            tools.end_shell(self.ctx)

    async def _read_eval(self) -> int:
        self.show_prompt()
        while True:
            line = await self._lines.get()
            if line is None:
                return self.ctx.last
            if line == "\x03":  # ^C at the prompt: a fresh prompt, $? = 130 as in ash
                self.ctx.last = 130
                self.show_prompt()
                continue
            if line.strip():
                self._interrupted = False
                self._running = asyncio.ensure_future(tools.shell_line(line, self.ctx))
                try:
                    await self._running
                except tools.ShellExit as e:
                    return e.code
                except asyncio.CancelledError:
                    if not self._interrupted:  # the shell itself is being killed
                        raise
                    self.ctx.last = 130
                finally:
                    self._running = None
            self.show_prompt()

    async def stop(self) -> None:
        """The process is killed (the container stops, the exec session hangs up)."""
        if self._running is not None:
            self._running.cancel()
