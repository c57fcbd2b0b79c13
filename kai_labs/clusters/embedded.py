"""The embedded cluster as a provider: start, find and stop its process, and ``cluster.net`` for it.

The handle itself (:class:`~kai_labs.clusters.base.Cluster`) and the result types live in
:mod:`kai_labs.clusters.base`; they are re-exported here.

Everything above this module talks to a cluster only through the Kubernetes API
(the official client, the kubectl binary) and ``Cluster.net``; nothing reaches
into the embedded cluster's process.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Cluster, ClusterError, DnsAnswer, DnsRecord, HttpResult, Route, path_with_tools, tools_dir

__all__ = ["Cluster", "ClusterError", "DnsAnswer", "DnsRecord", "EmbeddedNet", "HttpResult", "Route", "Status",
           "attach", "claim_home", "down", "home_for", "path_with_tools", "reset", "start", "status", "tools_dir",
           "up"]


_HOME_HINT = ('set KAI_LABS_HOME to a directory of your own, e.g. export KAI_LABS_HOME="/tmp/kai-labs-$(id -un)"')


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


def claim_home(home: Path) -> Path:
    """Make sure ``home`` (and the KAI_LABS_HOME above it) is the caller's own, creating it 0700.

    A cluster home holds the API token, the CA key and the kubeconfig: one that belongs to another
    user is refused (they could read the token, or have planted one), as is one that cannot be written."""
    for d in (home.parent, home):
        try:
            st = d.stat()
        except (FileNotFoundError, NotADirectoryError):  # mkdir below says why it cannot be made
            continue
        except OSError as e:
            raise ClusterError(f"cannot read {d} ({e.strerror}): {_HOME_HINT}") from e
        if st.st_uid != os.geteuid():
            raise ClusterError(f"{d} belongs to another user ({_owner(st.st_uid)}), and a cluster home holds the "
                               f"cluster's token and keys: {_HOME_HINT}")
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise ClusterError(f"cannot create the cluster's home {home} ({e.strerror or e}): {_HOME_HINT}") from e
    if not os.access(home, os.W_OK | os.X_OK):
        raise ClusterError(f"cannot write to the cluster's home {home}: {_HOME_HINT}")
    return home


def _read_info(home: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((home / "server.json").read_text())
    except (OSError, ValueError):
        return None
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
            return f.read().split(") ", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _token(home: Path) -> str:
    return (home / "token").read_text().strip()


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


@dataclass
class Status:
    name: str
    home: Path
    running: bool
    pid: int | None = None
    port: int | None = None
    seed: int | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.home / "kubeconfig"


def status(name: str = "kai-labs") -> Status:
    home = home_for(name)
    info = _read_info(home)
    if not info:
        return Status(name, home, False)
    pid, port = int(info.get("pid", 0)), int(info.get("port", 0))
    if not pid or not _alive(pid):
        return Status(name, home, False, seed=info.get("seed"))
    try:
        code, _ = _get(f"https://127.0.0.1:{port}/readyz", None, _ssl(home), 0.5)
    except (OSError, ssl.SSLError):
        code = 0
    return Status(name, home, code == 200, pid, port, info.get("seed"))


def up(name: str = "kai-labs", seed: int | None = None, port: int | None = None, timeout: float = 20.0) -> Status:
    """Start the cluster in the background (or reuse a running one) and wait until it answers."""
    st = status(name)
    if st.running:
        return st
    home = claim_home(st.home)
    stale = home / "server.json"
    if stale.exists():
        stale.unlink()
    cmd = [sys.executable, "-m", "kai_labs.sim", "--home", str(home), "--name", name]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    if port is not None:
        cmd += ["--port", str(port)]
    log = open(home / "cluster.log", "ab")  # noqa: SIM115 (handed to the child)
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                            env=env, close_fds=True)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rc = proc.poll()
        if rc is not None:
            raise ClusterError(_start_failure(home, rc))
        info = _read_info(home)
        if info and info.get("pid") == proc.pid:
            st = status(name)
            if st.running:
                return st
        time.sleep(0.01)
    proc.terminate()
    raise ClusterError(f"cluster {name} did not answer within {timeout:.0f}s; see {home / 'cluster.log'}")


def _start_failure(home: Path, rc: int) -> str:
    try:
        lines = (home / "cluster.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    mine = [ln for ln in lines if ln.startswith("kai-labs:")]
    if mine:
        return mine[-1].removeprefix("kai-labs: ")
    tail = "\n".join(lines[-5:])
    return f"the cluster process exited with code {rc}; the end of {home / 'cluster.log'}:\n{tail}"


def down(name: str = "kai-labs", timeout: float = 10.0) -> bool:
    """Stop the cluster; returns False when nothing was running."""
    st = status(name)
    if st.home.exists():
        claim_home(st.home)  # never signal a process that another user's home names
    info = _read_info(st.home)
    pid = st.pid or (int(info["pid"]) if info and info.get("pid") else None)
    if not pid or not _alive(pid):
        if info:
            (st.home / "server.json").unlink(missing_ok=True)
        return False
    with contextlib.suppress(OSError):  # lets the process log who stopped it (see sim/__main__.py)
        (st.home / "stop-request").write_text(json.dumps({"pid": os.getpid()}) + "\n")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.02)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    (st.home / "server.json").unlink(missing_ok=True)
    return True


def reset(name: str = "kai-labs") -> None:
    """Stop the cluster and wipe its state (objects, token, kubeconfig)."""
    down(name)
    home = home_for(name)
    if home.exists():
        shutil.rmtree(home)


class EmbeddedNet:
    """``cluster.net`` for the embedded cluster: its own DNS and service proxy, over HTTP."""

    def __init__(self, server: str, token: str, ctx: ssl.SSLContext) -> None:
        self.server = server
        self.token = token
        self.ctx = ctx

    def _post(self, op: str, body: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        req = urllib.request.Request(f"{self.server}/kai-labs/v1/net/{op}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
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
    st = status_ or status(name)
    if not st.running:
        raise ClusterError(f"no cluster named {name} is running; start it with `kai-labs cluster up --name {name}` "
                           f"or kai_labs.start()")
    server = f"https://127.0.0.1:{st.port}"
    if set_env:
        os.environ["KUBECONFIG"] = str(st.kubeconfig)
        # `!kubectl` in a notebook must find the kubectl installed with this package, before any other
        os.environ["PATH"] = path_with_tools()
    return Cluster(name, st.kubeconfig, name, EmbeddedNet(server, _token(st.home), _ssl(st.home)), True)
