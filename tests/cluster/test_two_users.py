"""Another Unix user's reach into your cluster: none (issue 13, "Measure").

On a shared JupyterHub host every learner is a Unix user. With a cluster started by one user (root here, as CI
runs), a second, throwaway user made with ``useradd`` tries what an attacker would, and the test reports each
reach it finds:

* read the token, kubeconfig, server.json and every other file in the cluster's home, and list the home;
* connect to every Unix socket under the home, and to any listening Unix socket of the cluster's processes
  outside it (an abstract socket has no permissions at all);
* signal the cluster process;
* call the API without a token, and with a wrong one (must be 401/403);
* connect to the cluster's TCP listeners other than the API port (found in /proc/net/tcp by the socket inodes
  of the cluster's process tree): Pods, node processes, anything else.

Skipped unless this runs as root on Linux with ``useradd`` (CI does).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.manifests import documents, service, web_deployment

pytestmark = pytest.mark.cluster

KAI = [sys.executable, "-m", "kai_labs.cli"]
NAME = "reach"

# The other user's side: stdlib only, run with `python -I` as that user; reads a JSON plan on stdin and prints
# what it reached (an empty list is the goal).
ATTACKER = r'''
import json, os, socket, ssl, sys, urllib.error, urllib.request
plan = json.load(sys.stdin)
reached = []

def note(what):
    reached.append(what)

for path in plan["files"]:
    try:
        with open(path, "rb") as f:
            data = f.read(64)
        note(f"read {path} ({len(data)} bytes)")
    except OSError:
        pass
for path in plan["dirs"]:
    try:
        note(f"listed {path}: {sorted(os.listdir(path))[:8]}")
    except OSError:
        pass
for path in plan["unix"]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path if not path.startswith("@") else "\0" + path[1:])
        note(f"connected to the Unix socket {path}")
    except OSError:
        pass
    finally:
        s.close()
for pid in plan["pids"]:
    try:
        os.kill(pid, 0)
        note(f"may signal the cluster process {pid}")
    except PermissionError:
        pass
    except ProcessLookupError:
        pass
ctx = ssl._create_unverified_context()
for method, path in plan["api"]:
    for token in (None, "not-the-token"):
        req = urllib.request.Request(plan["server"] + path, method=method,
                                     data=b"{}" if method == "POST" else None,
                                     headers={"Content-Type": "application/json"})
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
                note(f"{method} {path} with {'a wrong' if token else 'no'} token answered {r.status}")
        except urllib.error.HTTPError as e:
            if e.code not in (401, 403):
                note(f"{method} {path} with {'a wrong' if token else 'no'} token answered {e.code}")
        except OSError as e:
            note(f"{method} {path}: the API did not answer ({e})")
tcp = []
for host, port in plan["tcp"]:
    try:
        with socket.create_connection((host, port), timeout=2):
            tcp.append(f"connected to {host}:{port}")
    except OSError:
        pass
print(json.dumps({"reached": reached, "tcp": tcp}))
'''

API_CALLS = [("GET", "/api/v1/namespaces/default/pods"), ("GET", "/api/v1/namespaces/kube-system/secrets"),
             ("GET", "/apis"), ("POST", "/api/v1/namespaces/default/configmaps"),
             ("POST", "/kai-labs/v1/net/curl"), ("GET", "/api/v1/namespaces/demo/pods/x/log")]


@pytest.fixture
def other_user() -> Iterator[tuple[int, int]]:
    """A throwaway Unix user (and its group), removed afterwards."""
    if sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root on Linux with useradd to make a second Unix user (CI runs as root)")
    import pwd

    name = f"kaiu{uuid.uuid4().hex[:8]}"
    r = subprocess.run(["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"useradd failed here: {r.stderr.strip()}")
    try:
        pw = pwd.getpwnam(name)
        yield pw.pw_uid, pw.pw_gid
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=30)
        subprocess.run(["groupdel", name], capture_output=True, timeout=30)  # when userdel kept it


def kai(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KAI_LABS_HOME=str(home))
    env.pop("KUBECONFIG", None)
    r = subprocess.run([*KAI, *args], capture_output=True, text=True, env=env, timeout=120)
    assert not check or r.returncode == 0, r.stdout + r.stderr
    return r


def kubectl(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "kubectl")
    env = dict(os.environ, KUBECONFIG=str(home / NAME / "kubeconfig"))
    return subprocess.run([exe, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


# ------------------------------------------------------------------- the cluster's processes and sockets (root)


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, pgrp) of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def process_tree(pid: int) -> set[int]:
    """``pid``, its descendants and the members of its process group."""
    procs = {int(e): s for e in os.listdir("/proc") if e.isdigit() and (s := _stat(int(e))) is not None}
    tree, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p not in tree:
            tree.add(p)
            todo.extend(c for c, (ppid, _) in procs.items() if ppid == p)
    return tree | {p for p, (_, pgrp) in procs.items() if pgrp == pid}


def socket_inodes(pids: set[int]) -> dict[int, int]:
    """socket inode -> pid holding it."""
    out: dict[int, int] = {}
    for p in pids:
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{p}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                out[int(link[8:-1])] = p
    return out


def _hex_addr(text: str) -> tuple[str, int]:
    addr, port = text.split(":")
    if len(addr) == 8:
        host = ".".join(str(b) for b in reversed(bytes.fromhex(addr)))
    else:  # IPv6: four little-endian 32-bit words
        words = [bytes.fromhex(addr[i:i + 8])[::-1] for i in range(0, 32, 8)]
        raw = b"".join(words)
        host = ":".join(raw[i:i + 2].hex() for i in range(0, 16, 2))
    return host, int(port, 16)


def inet_listeners(inodes: dict[int, int]) -> list[tuple[str, str, int, int]]:
    """(protocol, host, port, pid) of every listening TCP socket and bound UDP socket the tree holds."""
    found = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            state, inode = f[3], int(f[9])
            if inode in inodes and (state == "0A" if proto.startswith("tcp") else state == "07"):
                host, port = _hex_addr(f[1])
                found.append((proto, host, port, inodes[inode]))
    return found


def unix_listeners(inodes: dict[int, int]) -> list[str]:
    """Paths ("@name" for abstract) of the listening Unix sockets the tree holds."""
    found = []
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        f = line.split()
        if len(f) >= 8 and int(f[6]) in inodes and int(f[3], 16) & 0x10000:  # __SO_ACCEPTCON: listening
            found.append(f[7])
    return found


def _runs(python: str, as_them: dict[str, object]) -> bool:
    try:
        r = subprocess.run([python, "-I", "-c", "pass"], capture_output=True, timeout=60,
                           **as_them)  # type: ignore[call-overload]
    except OSError:
        return False
    return bool(r.returncode == 0)


# --------------------------------------------------------------------------------------------------- the test


def test_another_unix_user_cannot_reach_the_cluster(other_user: tuple[int, int]) -> None:
    uid, gid = other_user
    # under /tmp, which every user may traverse: the home's own 0700 is what must stop them
    base = Path(tempfile.mkdtemp(prefix="kai-two-users-", dir="/tmp"))
    try:
        kai("cluster", "up", "--name", NAME, home=base)
        home = base / NAME
        pid = int(json.loads((home / "server.json").read_text())["pid"])
        port = int(json.loads((home / "server.json").read_text())["port"])
        # Pods with servers, so that their sockets exist to be tried
        assert kubectl(base, "create", "namespace", "demo").returncode == 0
        app = documents(web_deployment(2, namespace="demo"), service(namespace="demo"))
        r = kubectl(base, "apply", "-f", "-", stdin=app)
        assert r.returncode == 0, r.stderr
        r = kubectl(base, "-n", "demo", "rollout", "status", "deployment/web", "--timeout=60s")
        assert r.returncode == 0, r.stdout + r.stderr

        files: list[str] = []
        sockets: list[str] = []
        dirs = [str(base), str(home)]
        for root, ds, fs in os.walk(base):
            dirs += [os.path.join(root, d) for d in ds]
            for f in fs:
                path = os.path.join(root, f)
                mode = os.lstat(path).st_mode
                (sockets if stat.S_ISSOCK(mode) else files).append(path)
        assert any(f.endswith("/token") for f in files) and any(f.endswith("/kubeconfig") for f in files)
        tree = process_tree(pid)
        inodes = socket_inodes(tree)
        outside = [s for s in unix_listeners(inodes) if not s.startswith(str(base) + "/")]
        inet = inet_listeners(inodes)
        others = [(proto, host, p, owner) for proto, host, p, owner in inet if p != port or not proto.startswith("tcp")]
        plan = {"files": files, "dirs": dirs, "unix": sockets + outside, "pids": sorted(tree),
                "server": f"https://127.0.0.1:{port}", "api": API_CALLS,
                "tcp": [(host if ":" not in host else "::1" if host.endswith("0001") else host, p)
                        for proto, host, p, _ in others if proto.startswith("tcp")]}

        # the other user, without root's supplementary groups, from a directory they may read
        as_them = {"user": uid, "group": gid, "extra_groups": [], "cwd": "/", "env": {"PATH": "/usr/bin:/bin"}}
        py = next((p for p in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3") if _runs(p, as_them)),
                  None)
        if py is None:
            pytest.skip("no Python the other user may run (the venv's lives under a private directory)")
        att = subprocess.run([py, "-I", "-c", ATTACKER], input=json.dumps(plan), capture_output=True, text=True,
                             timeout=300, **as_them)  # type: ignore[call-overload]
        assert att.returncode == 0, att.stderr
        got = json.loads(att.stdout)
        assert got["reached"] == [], ("another Unix user reached the cluster:\n  " + "\n  ".join(got["reached"]))
        assert outside == [], f"the cluster listens on Unix sockets outside its 0700 home: {outside}"
        assert len(files) > 3 and sockets is not None  # the plan was not empty: the checks above had targets

        # last, on its own: TCP/UDP listeners other than the API port (the Pods' move to Unix sockets inside the
        # home is the lead's change in progress for issue 13, item 3)
        if others:
            names = {o: Path(f"/proc/{o}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
                     for *_, o in others}
            listing = "\n  ".join(f"{proto} {host}:{p} (pid {o}: {names[o]})" for proto, host, p, o in others)
            reach = "\n  ".join(got["tcp"]) or "none connectable"
            pytest.xfail(f"the cluster's processes listen on {len(others)} TCP/UDP socket(s) besides the API port "
                         f"{port}, which any Unix user can reach; pending: issue 13 item 3, the lead's move of Pod "
                         f"servers to Unix sockets inside the 0700 home.\n  {listing}\nthe other user: {reach}")
        assert got["tcp"] == []
    finally:
        kai("cluster", "down", "--name", NAME, "--grace", "5", home=base, check=False)
        shutil.rmtree(base, ignore_errors=True)
