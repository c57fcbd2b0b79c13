"""The embedded cluster as a provider: start, find and stop its process, and ``cluster.net`` for it.

The handle itself (:class:`~kai_labs.clusters.base.Cluster`) and the result types live in
:mod:`kai_labs.clusters.base`; they are re-exported here.

Everything above this module talks to a cluster only through the Kubernetes API
(the official client, the kubectl binary) and ``Cluster.net``; nothing reaches
into the embedded cluster's process.

The lifecycle has one source of truth: a cluster runs while its process holds
the flock on ``<home>/lock`` (its pid written in the file). :func:`status` reads
that, then server.json and /readyz, for every command (up, down, status, env,
reset, attach), so no two commands can disagree, and nothing deletes a live
cluster's files. The home and the secrets in it must be the user's own and
private (0700 / 0600, no symbolic links); anything else is refused in one sentence.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shlex
import shutil
import signal
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Cluster, ClusterError, DnsAnswer, DnsRecord, HttpResult, Route, path_with_tools, tools_dir
from .netrules import RulesMixin

__all__ = ["Cluster", "ClusterError", "DnsAnswer", "DnsRecord", "EmbeddedNet", "HttpResult", "Route", "Status",
           "attach", "check_kubeconfig", "claim_home", "down", "home_for", "path_with_tools", "reset", "start",
           "status", "stop", "tools_dir", "up"]


_HOME_HINT = ('set KAI_LABS_HOME to a directory of your own, e.g. export KAI_LABS_HOME="/tmp/kai-labs-$(id -un)"')

# The cluster process's exit codes that `up` acts on (kai_labs/sim/__main__.py): another process already holds the
# home's lock (a concurrent `up` won the race), and a home or token that is not private.
RC_ALREADY_RUNNING = 2
RC_NOT_PRIVATE = 4

_PROBE_S = 1.0  # how long `status` waits for /readyz before calling a live cluster "not answering"
_MAX_STATE_FILE = 1 << 20  # token, kubeconfig, server.json and lock are a few KB: never read a planted giant


def home_for(name: str) -> Path:
    base = os.environ.get("KAI_LABS_HOME")
    if base:
        return Path(base) / name
    try:
        return Path.home() / ".kai-labs" / name
    except RuntimeError as e:  # no HOME and no passwd entry
        raise ClusterError(f"there is no home directory to keep the cluster in: {_HOME_HINT}") from e


def _owner(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def _check_private_dir(d: Path) -> bool:
    """Raise ClusterError unless ``d`` is a directory of ours that no other user can enter; False if it is missing.

    Owner first: a directory another user owns is theirs to read and to plant files in, whatever its mode."""
    try:
        st = d.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as e:
        raise ClusterError(f"cannot read {d} ({e.strerror}): {_HOME_HINT}") from e
    if st.st_uid != os.geteuid():
        raise ClusterError(f"{d} belongs to another user ({_owner(st.st_uid)}), and a cluster home holds the "
                           f"cluster's token and keys: {_HOME_HINT}")
    if not stat.S_ISDIR(st.st_mode):
        raise ClusterError(f"{d} is not a directory: {_HOME_HINT}")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise ClusterError(f"{d} is open to other users (mode {mode:04o}) and holds the cluster's token and keys: "
                           f"make it private with `chmod 700 {shlex.quote(str(d))}`")
    return True


def _mkdir_private(d: Path) -> None:
    """Create ``d`` and any missing directory above it with mode 0700 (``mkdir(parents=True)`` would make the
    parents 0755, and KAI_LABS_HOME is one of them)."""
    missing: list[Path] = []
    p = d
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for m in reversed(missing):
        with contextlib.suppress(FileExistsError):
            m.mkdir(mode=0o700)


def claim_home(home: Path) -> Path:
    """Make sure ``home`` and the KAI_LABS_HOME above it are the caller's own with mode 0700, creating them so.

    A cluster home holds the API token, the CA key and the kubeconfig: one that belongs to another user is refused
    (they could read the token, or have planted one), as is one that others may enter (chmod 700 fixes it) or that
    cannot be written."""
    for d in (home.parent, home):
        _check_private_dir(d)
    try:
        _mkdir_private(home)
    except OSError as e:
        raise ClusterError(f"cannot create the cluster's home {home} ({e.strerror or e}): {_HOME_HINT}") from e
    for d in (home.parent, home):
        _check_private_dir(d)
    if not os.access(home, os.W_OK | os.X_OK):
        raise ClusterError(f"cannot write to the cluster's home {home}: {_HOME_HINT}")
    return home


def _read_private(path: Path, fix: str, *, secret: bool = True) -> bytes | None:
    """The bytes of a state file only the caller can read and write (None when it does not exist).

    Never follows a symbolic link (O_NOFOLLOW), and refuses a file another user owns or one that others may
    read or write (its mode masked with 077): a token planted in, or read from, a shared directory must not be
    used. ``fix`` ends the sentence: what the learner does about it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ClusterError(f"{path} is a symbolic link, which kai-labs never follows for the cluster's "
                               f"secrets: {fix}") from None
        raise ClusterError(f"cannot read {path} ({e.strerror}): {fix}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        mode = stat.S_IMODE(st.st_mode)
        if not stat.S_ISREG(st.st_mode):
            raise ClusterError(f"{path} is not a regular file: {fix}")
        if st.st_uid != os.geteuid():
            raise ClusterError(f"{path} belongs to another user ({_owner(st.st_uid)}), so it may have been "
                               f"planted: {fix}")
        if mode & 0o077:
            exposed = "the token in it may be known to them" if secret else "it may not be the cluster's own"
            raise ClusterError(f"{path} is open to other users (mode {mode:04o}), so {exposed}: {fix}")
        return f.read(_MAX_STATE_FILE)


def _fix(name: str, what: str) -> str:
    return {"token": f"delete it and `kai-labs cluster up --name {name}` makes a new one (after "
                     f"`kai-labs cluster down --name {name}` if it runs)",
            "kubeconfig": f"delete it and restart the cluster (`kai-labs cluster down --name {name}`, then `up`), "
                          f"which writes a new one",
            }.get(what, f"delete it and restart the cluster (`kai-labs cluster down --name {name}`, then `up`)")


def _read_info(home: Path, name: str) -> dict[str, Any] | None:
    raw = _read_private(home / "server.json", _fix(name, "server.json"), secret=False)
    if raw is None:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None  # half-written by a process that died: the lock says whether anything runs
    return info if isinstance(info, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child counts as dead
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _ssl(home: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(home / "ca.crt"))
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default, so every Python checks what 3.13 checks
    return ctx


def _get(url: str, token: str | None, ctx: ssl.SSLContext, timeout: float = 1.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:  # noqa: S310 (loopback only)
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# --------------------------------------------------------------------------------- the home's lock
#
# The cluster process takes an exclusive flock on <home>/lock for its whole life and writes its pid into that
# file (kai_labs/sim/__main__.py). "Running" means exactly that: some process holds the lock. It cannot be
# contradicted by load (a slow answer), by a stale or missing server.json, or by a reused pid, and the kernel
# releases it when the process dies, however it dies. server.json adds the port once the API answers.


@contextlib.contextmanager
def _unless_running(home: Path) -> Iterator[bool | None]:
    """Yield True while holding a shared lock on the home's lock file (so no cluster process runs, and none can
    start until we let go: stale files may be removed meanwhile), False when a cluster process holds it, None
    when there is no lock file (no cluster process ever ran here: nothing to clean either).

    The cluster process retries its own lock for a moment, so this brief probe never makes a start fail."""
    try:
        fd = os.open(home / "lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        yield None
        return
    except OSError as e:
        raise ClusterError(f"cannot open {home / 'lock'} ({e.strerror}): {_fix(home.name, 'lock')}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock if we took it


def _lock_pid(home: Path) -> int | None:
    """The pid the lock holder wrote into the lock file (None: not yet written, or a cluster of an older version)."""
    try:
        fd = os.open(home / "lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise ClusterError(f"{home / 'lock'} belongs to another user or others may write it: "
                               f"{_fix(home.name, 'lock')}")
        text = f.read(64).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


@dataclass
class Status:
    """What a cluster home holds right now, read by one function (:func:`status`) for every command.

    ``state``: "stopped" (nothing holds the home's lock), "starting" (the lock is held, the API is not serving
    yet), "running" (the API answered /readyz; or, when not probed, server.json names the lock holder), or
    "not answering" (the lock holder serves but did not answer /readyz within the probe: loaded or hung)."""

    name: str
    home: Path
    state: str
    pid: int | None = None
    port: int | None = None
    seed: int | None = None
    why: str = ""  # for "not answering" / "starting": what the probe saw

    @property
    def running(self) -> bool:
        """A cluster process is alive on this home (starting, answering or not)."""
        return self.state != "stopped"

    @property
    def answering(self) -> bool:
        return self.state == "running"

    @property
    def kubeconfig(self) -> Path:
        return self.home / "kubeconfig"


def _inspect(name: str, home: Path, probe: float | None) -> Status:
    if not home.parent.exists() or not os.path.lexists(home):
        return Status(name, home, "stopped")
    _check_private_dir(home.parent)
    _check_private_dir(home)
    with _unless_running(home) as free:
        if free:  # a server.json now was left by a process that is gone (it holds the lock while it lives)
            (home / "server.json").unlink(missing_ok=True)
        if free is not False:
            return Status(name, home, "stopped")
    info = _read_info(home, name)
    seed = info.get("seed") if info else None
    pid = _lock_pid(home)
    info_pid = int(info.get("pid", 0) or 0) if info else 0
    if pid is None:
        pid = info_pid or None  # a cluster of an older version leaves the lock file empty
    if pid is None:
        return Status(name, home, "starting", seed=seed, why="its process has not written its pid yet")
    if not _alive(pid):
        return Status(name, home, "not answering", pid, None, seed,
                      why=f"its process {pid} is gone but processes it started still hold the home")
    if not info or info_pid != pid:
        return Status(name, home, "starting", pid, seed=seed, why="its API is not serving yet")
    port = int(info.get("port", 0) or 0)
    if probe is None:
        return Status(name, home, "running", pid, port, seed)
    try:
        code, _ = _get(f"https://127.0.0.1:{port}/readyz", None, _ssl(home), probe)
    except (OSError, ssl.SSLError) as e:
        reason = "timed out" if isinstance(e, TimeoutError) or "timed out" in str(e) else str(e)
        return Status(name, home, "not answering", pid, port, seed,
                      why=f"https://127.0.0.1:{port}/readyz did not answer within {probe:g}s ({reason})")
    if code == 500:  # it answers, and says a check fails (kube-apiserver's [-]etcd: here a full disk)
        return Status(name, home, "running", pid, port, seed,
                      why=f"running, but its storage refuses writes: free space in {home}")
    if code != 200:
        return Status(name, home, "not answering", pid, port, seed,
                      why=f"https://127.0.0.1:{port}/readyz answered {code}")
    return Status(name, home, "running", pid, port, seed)


def status(name: str = "kai-labs", *, probe: float | None = _PROBE_S) -> Status:
    """The cluster's state as every command reads it (up, down, status, env, reset, attach).

    ``probe``: seconds to wait for /readyz, or None to trust the lock and server.json without asking the API
    (attach and env: a loaded API answers their real requests later)."""
    return _inspect(name, home_for(name), probe)


def up(name: str = "kai-labs", seed: int | None = None, port: int | None = None, timeout: float = 60.0) -> Status:
    """Start the cluster in the background (or reuse a running one) and wait until it answers.

    A live cluster (one whose process holds the home's lock) is never replaced nor its files removed: if it is
    slow to answer, `up` waits for it, and if it never does, says so and leaves it to `cluster down`. A process
    `up` started itself that does not become ready in time is stopped (SIGTERM, then SIGKILL) before the error,
    which quotes the end of its log."""
    home = claim_home(home_for(name))
    with contextlib.suppress(OSError):  # so that the first look may clear a stale server.json under the lock
        os.close(os.open(home / "lock", os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         0o600))
    deadline = time.monotonic() + timeout
    proc: subprocess.Popen[bytes] | None = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            st = _inspect(name, home, max(0.05, min(_PROBE_S, remaining)))
            if st.state == "running" and (proc is None or st.pid == proc.pid):
                return st
            if proc is not None and (rc := proc.poll()) is not None:
                proc = None
                if rc != RC_ALREADY_RUNNING:  # not a concurrent `up` that won the lock: a real failure
                    raise ClusterError(_start_failure(home, rc))
            elif proc is None and not st.running:
                _read_private(home / "token", _fix(name, "token"))  # a planted token: one sentence, no process
                proc = _spawn(home, name, seed, port)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.02)
    except BaseException:
        if proc is not None:  # interrupted (^C) or failed: never leave our own child behind
            _stop_tree(proc.pid, grace=2.0)
            _reap(proc)
        raise
    if proc is not None:
        _stop_tree(proc.pid, grace=2.0)
        _reap(proc)
        raise ClusterError(f"cluster {name} did not answer within {timeout:g}s, so its process (pid {proc.pid}) was "
                           f"stopped; {_log_tail(home)}")
    raise ClusterError(f"cluster {name} is running (pid {st.pid}) but {st.why or 'does not answer'}, for "
                       f"{timeout:g}s now; if it stays so, `kai-labs cluster down --name {name}` stops it (its state "
                       f"is kept)")


def _spawn(home: Path, name: str, seed: int | None, port: int | None) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "kai_labs.sim", "--home", str(home), "--name", name]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    if port is not None:
        cmd += ["--port", str(port)]
    log_fd = os.open(home / "cluster.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    with contextlib.suppress(OSError):
        os.fchmod(log_fd, 0o600)  # a log made by an older version was 0644
    try:
        # its own session and process group: `down` signals the group, so the node processes and Pods it starts
        # go with it
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, start_new_session=True,
                                env=env, close_fds=True)
    finally:
        os.close(log_fd)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
        proc.wait(5)


def _log_lines(home: Path) -> list[str]:
    try:
        with open(home / "cluster.log", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            return f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return []


def _log_tail(home: Path, n: int = 5) -> str:
    tail = "\n".join(_log_lines(home)[-n:])
    return f"the end of {home / 'cluster.log'}:\n{tail}" if tail else f"{home / 'cluster.log'} is empty"


def _start_failure(home: Path, rc: int) -> str:
    mine = [ln for ln in _log_lines(home) if ln.startswith("kai-labs:")]
    if mine:
        return mine[-1].removeprefix("kai-labs: ")
    return f"the cluster process exited with code {rc}; {_log_tail(home)}"


# --------------------------------------------------------------------------- stopping a process tree


def _proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgrp, start time) of a live process from /proc (Linux), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[1]), int(fields[2]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _tree(pid: int, group: bool) -> dict[int, int]:
    """The cluster's processes: ``pid``, its descendants and (``group``) every member of its process group, each
    with its start time, so that a pid reused meanwhile is never signalled. Empty without /proc (macOS)."""
    if not os.path.isdir("/proc/self"):
        return {}
    procs: dict[int, tuple[str, int, int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (s := _proc_stat(int(entry))) is not None:
            procs[int(entry)] = s
    children: dict[int, list[int]] = {}
    for p, (_, ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(p)
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        if p in procs and p not in found:
            found.add(p)
            todo.extend(children.get(p, ()))
    if group:
        found |= {p for p, s in procs.items() if s[2] == pid}
    found.discard(os.getpid())
    return {p: procs[p][3] for p in found if procs[p][0] != "Z"}


def _signal_all(pids: dict[int, int], sig: signal.Signals) -> None:
    for p, started in pids.items():
        s = _proc_stat(p)
        if s is not None and s[3] == started and s[0] != "Z":
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, sig)


def _own_group(pid: int) -> bool:
    """True when ``pid`` leads its own process group (as `up` starts it): signalling the group is then safe."""
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def _any_alive(pids: dict[int, int]) -> bool:
    return any((s := _proc_stat(p)) is not None and s[3] == started and s[0] != "Z" for p, started in pids.items())


def _stop_tree(pid: int, grace: float, *, note: Callable[[], None] | None = None) -> bool:
    """SIGTERM to the cluster process; SIGKILL to it and to everything it started if it is still alive after
    ``grace`` seconds. Whatever it started that outlives it is killed too (the node processes and Pods a
    graceful stop should already have ended). Returns True when the cluster process itself needed SIGKILL.

    The group is the one `up` made (start_new_session): signalled only when ``pid`` leads it, or when ``pid`` is
    gone and members remain (a process group's id is not reused while it has members)."""
    group = _own_group(pid) or not _alive(pid)
    before = _tree(pid, group)
    if note is not None:
        note()
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # our own child (`up` in this process) would stay a zombie otherwise
        time.sleep(0.02)
    killed = _alive(pid)
    leftovers = {**before, **_tree(pid, group)}
    if group and (killed or leftovers or not os.path.isdir("/proc/self")):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # the whole group at once, members /proc cannot show (macOS) included
    _signal_all(leftovers, signal.SIGKILL)  # and any that left the group (setsid)
    end = time.monotonic() + 5
    while _any_alive(leftovers) and time.monotonic() < end:
        time.sleep(0.02)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return killed


def stop(name: str = "kai-labs", grace: float = 10.0) -> str:
    """Stop the cluster: "not running", "stopped" (it exited on SIGTERM) or "killed" (it did not within
    ``grace`` seconds, so it and every process it started got SIGKILL). Its state (objects, token) is kept."""
    home = home_for(name)
    st = _inspect(name, home, None)
    if not st.running:
        return "not running"
    if st.pid is None:
        raise ClusterError(f"cluster {name} is starting and has not written its pid yet; try again in a moment")
    if st.pid == os.getpid():
        raise ClusterError(f"cluster {name} runs in this very process; stop it from another one")

    def note() -> None:  # lets the process log who stopped it (see sim/__main__.py)
        with contextlib.suppress(OSError):
            (home / "stop-request").write_text(json.dumps({"pid": os.getpid()}) + "\n")

    try:
        killed = _stop_tree(st.pid, grace, note=note)
    except PermissionError:
        raise ClusterError(f"cluster {name}'s process {st.pid} belongs to another user, so it cannot be stopped "
                           f"from here") from None
    deadline = time.monotonic() + 5
    while True:
        with _unless_running(home) as free:
            if free is not False:  # nothing holds the home any more: its files are stale
                (home / "server.json").unlink(missing_ok=True)
                (home / "stop-request").unlink(missing_ok=True)
                return "killed" if killed else "stopped"
        if time.monotonic() > deadline:
            raise ClusterError(f"cluster {name}'s process {st.pid} was stopped but another process still holds "
                               f"{home / 'lock'}; `fuser -v {home / 'lock'}` shows which")
        time.sleep(0.05)


def down(name: str = "kai-labs", timeout: float = 10.0) -> bool:
    """Stop the cluster (SIGTERM, SIGKILL after ``timeout`` seconds); returns False when nothing was running."""
    return stop(name, timeout) != "not running"


def reset(name: str = "kai-labs") -> None:
    """Stop the cluster and wipe its state (objects, token, kubeconfig)."""
    down(name)
    home = home_for(name)
    if home.exists():
        shutil.rmtree(home)


class EmbeddedNet(RulesMixin):
    """``cluster.net`` for the embedded cluster: its own DNS and service proxy, over HTTP; ``rules`` (the
    rules kube-proxy would program) from the API objects, as on any cluster."""

    def __init__(self, server: str, token: str, ctx: ssl.SSLContext) -> None:
        self.server = server
        self.token = token
        self.ctx = ctx

    def _post(self, op: str, body: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        return self.call("POST", f"/kai-labs/v1/net/{op}", body, timeout)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             timeout: float = 10.0) -> dict[str, Any]:
        """One request to the cluster's kai-labs endpoints (``/kai-labs/v1/...``); its Status message as a
        ClusterError when it refuses."""
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(f"{self.server}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ctx) as r:  # noqa: S310
                out: dict[str, Any] = json.loads(r.read())
                return out
        except urllib.error.HTTPError as e:
            try:
                msg = json.loads(e.read()).get("message", str(e))
            except ValueError:
                msg = str(e)
            raise ClusterError(msg) from None
        except OSError as e:
            raise ClusterError(f"the cluster at {self.server} does not answer ({e}); start it with "
                               f"`kai-labs cluster up`") from None

    def resolve(self, name: str, namespace: str = "default", type: str = "A") -> DnsAnswer:  # noqa: A002
        d = self._post("resolve", {"name": name, "namespace": namespace, "type": type})
        return DnsAnswer(d["rcode"], [DnsRecord(**r) for r in d["answers"]], d["fqdn"], d.get("tried", []))

    def route(self, dest: str, namespace: str = "default", source_node: str | None = None,
              source_ip: str | None = None) -> Route:
        d = self._post("route", {"dest": dest, "namespace": namespace, "source_node": source_node,
                                 "source_ip": source_ip})
        ep = tuple(d["endpoint"]) if d.get("endpoint") else None
        return Route(d["action"], ep, d["reason"], d.get("service"), d.get("error"))

    def curl(self, url: str, namespace: str = "default", timeout: float = 2.0) -> HttpResult:
        d = self._post("curl", {"url": url, "namespace": namespace, "timeout": timeout}, timeout + 10)
        return HttpResult(d["ok"], d.get("status"), d.get("body", ""), d.get("error"), d.get("backend"),
                          d.get("detail", ""))



def start(name: str = "kai-labs", seed: int | None = None, *, set_env: bool = True) -> Cluster:
    """Start (or reuse) the embedded cluster and return a handle; sets KUBECONFIG for `!kubectl` cells.

    This is the embedded cluster only; ``kai_labs.start()`` (:func:`kai_labs.clusters.real.start`) also honours
    ``KAI_LABS_CLUSTER``. Without a seed, ``KAI_LABS_SEED`` from the environment is used (CI sets it so
    notebook outputs are reproducible)."""
    if seed is None and os.environ.get("KAI_LABS_SEED", "").strip().isdigit():
        seed = int(os.environ["KAI_LABS_SEED"])
    st = up(name, seed)
    return attach(name, set_env=set_env, status_=st)


def attach(name: str = "kai-labs", *, set_env: bool = True, status_: Status | None = None) -> Cluster:
    """A handle on the running cluster ``name``, from its home's files (not probed: a loaded API answers the
    handle's real requests later, and a hung one says so then)."""
    st = status_ or status(name, probe=None)
    if not st.running:
        raise ClusterError(f"no cluster named {name} is running; start it with `kai-labs cluster up --name {name}` "
                           f"or kai_labs.start()")
    if st.port is None:
        raise ClusterError(f"cluster {name} is running (pid {st.pid}) but {st.why}; wait a moment, or see "
                           f"`kai-labs cluster status --name {name}`")
    server = f"https://127.0.0.1:{st.port}"
    check_kubeconfig(st)
    token = (_read_private(st.home / "token", _fix(name, "token")) or b"").decode(errors="replace").strip()
    if not token:
        raise ClusterError(f"cluster {name} has no token in {st.home / 'token'}; "
                           f"{_fix(name, 'token')}")
    if set_env:
        os.environ["KUBECONFIG"] = str(st.kubeconfig)
        # `!kubectl` in a notebook must find the kubectl installed with this package, before any other
        os.environ["PATH"] = path_with_tools()
    net = EmbeddedNet(server, token, _ssl(st.home))
    net.cluster = c = Cluster(name, st.kubeconfig, name, net, True)
    return c


def check_kubeconfig(st: Status) -> None:
    """Refuse a kubeconfig that is not the user's own and private (it carries the cluster's token)."""
    if _read_private(st.kubeconfig, _fix(st.name, "kubeconfig")) is None:
        raise ClusterError(f"cluster {st.name} has no kubeconfig at {st.kubeconfig}; "
                           f"{_fix(st.name, 'kubeconfig')}")
