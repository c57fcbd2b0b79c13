"""The cluster process and its store on a real disk: full, then freed; damaged files at start.

Real processes throughout: `kai-labs cluster up` (the learner's path) starts `python -m kai_labs.sim`,
kubectl talks to it. The full disk is a small tmpfs (root only, as CI runs; skipped elsewhere) filled to
the last byte; the damaged files are the cluster's own, left by a process killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import eventually, fill, tmpfs

pytestmark = pytest.mark.cluster

KAI = [sys.executable, "-m", "kai_labs.cli"]
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"


def kai(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KAI_LABS_HOME=str(root))
    return subprocess.run([*KAI, *args], capture_output=True, text=True, env=env, timeout=90)


def kubectl(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KUBECONFIG=str(home / "kubeconfig"))
    return subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=60)


def kill_cluster(home: Path) -> None:
    """SIGKILL the cluster and everything it started (its own session): it leaves its files as they are."""
    pid = int(json.loads((home / "server.json").read_text())["pid"])
    os.killpg(pid, signal.SIGKILL)

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        status = Path(f"/proc/{pid}/status")
        return status.exists() and "\nState:\tZ" in status.read_text()

    eventually(gone, timeout=10)


def one_sentence(r: subprocess.CompletedProcess[str]) -> str:
    """The failure `cluster up` printed: one line, no traceback."""
    out = (r.stdout + r.stderr).strip()
    assert r.returncode != 0, out
    assert "Traceback" not in out, out
    assert len(out.splitlines()) == 1, out
    return out


# -- damaged files at start -----------------------------------------------------------------------------
def test_a_damaged_database_is_one_sentence_naming_reset(tmp_path: Path) -> None:
    assert kai("cluster", "up", "--name", "lc", root=tmp_path).returncode == 0
    home = tmp_path / "lc"
    assert kubectl(home, "create", "configmap", "kept", "--from-literal=a=b").returncode == 0
    assert kai("cluster", "down", "--name", "lc", root=tmp_path).returncode == 0
    with open(home / "state.db", "r+b") as f:
        f.seek(0)
        f.write(b"not a database, whatever it was" * 4)
    out = one_sentence(kai("cluster", "up", "--name", "lc", root=tmp_path))
    assert f"the cluster's store {home / 'state.db'} is damaged" in out
    assert "`kai-labs cluster reset --name lc` starts the cluster afresh" in out
    assert kai("cluster", "reset", "--name", "lc", root=tmp_path).returncode == 0
    assert kai("cluster", "up", "--name", "lc", root=tmp_path).returncode == 0  # the way out works
    kai("cluster", "down", "--name", "lc", root=tmp_path)


@pytest.mark.parametrize("harm", ["deleted", "cut short"])
def test_a_write_ahead_log_that_lost_writes_is_reported_with_their_number(tmp_path: Path, harm: str) -> None:
    """SQLite itself says nothing when the WAL is gone or ends early: it opens the older state. The
    store's note of the last committed resourceVersion tells, and the process refuses to go on quietly."""
    assert kai("cluster", "up", "--name", "lc", root=tmp_path).returncode == 0
    home = tmp_path / "lc"
    for i in range(20):
        assert kubectl(home, "create", "configmap", f"c{i}", f"--from-literal=k={'v' * 2000}").returncode == 0
    kill_cluster(home)
    wal = home / "state.db-wal"
    assert wal.stat().st_size > 0
    if harm == "deleted":
        wal.unlink()
    else:
        with open(wal, "r+b") as f:
            f.truncate(wal.stat().st_size // 2)
    out = one_sentence(kai("cluster", "up", "--name", "lc", root=tmp_path))
    assert f"the cluster's store {home / 'state.db'} lost its last" in out
    assert f"its write-ahead log {home / 'state.db-wal'} is missing or damaged" in out
    assert "`kai-labs cluster reset --name lc`" in out


def test_a_killed_cluster_restarts_with_every_acknowledged_write(tmp_path: Path) -> None:
    assert kai("cluster", "up", "--name", "lc", root=tmp_path).returncode == 0
    home = tmp_path / "lc"
    for i in range(10):
        assert kubectl(home, "create", "configmap", f"c{i}", "--from-literal=a=b").returncode == 0
    kill_cluster(home)
    assert kai("cluster", "up", "--name", "lc", root=tmp_path).returncode == 0
    names = kubectl(home, "get", "configmaps", "-o", "name").stdout.split()
    assert {f"configmap/c{i}" for i in range(10)} <= set(names)
    kai("cluster", "down", "--name", "lc", root=tmp_path)


# -- a real full disk ------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MB tmpfs to hold the cluster's home; the clusters on it are stopped before it goes."""
    with tmpfs(tmp_path / "disk", 48) as d:
        try:
            yield d
        finally:
            for h in d.iterdir():
                if (h / "server.json").exists():
                    kai("cluster", "down", "--name", h.name, root=d)


class Api:
    """Plain HTTPS to the cluster (token, its CA): what the test checks byte for byte."""

    def __init__(self, home: Path) -> None:
        self.base = f"https://127.0.0.1:{json.loads((home / 'server.json').read_text())['port']}"
        self.token = (home / "token").read_text().strip()
        self.ctx = ssl.create_default_context(cafile=str(home / "ca.crt"))

    def get(self, path: str, auth: bool = False, timeout: float = 10) -> tuple[int, str]:
        req = urllib.request.Request(self.base + path)
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def watch(self, path: str, into: list[str]) -> threading.Thread:
        def run() -> None:
            req = urllib.request.Request(self.base + path, headers={"Authorization": f"Bearer {self.token}"})
            try:
                with urllib.request.urlopen(req, context=self.ctx, timeout=120) as r:
                    for line in r:
                        into.append(json.loads(line)["object"]["metadata"]["name"])
            except (OSError, ValueError):
                pass

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t


def test_a_full_disk_answers_a_clear_status_and_writes_work_again_once_freed(small_disk: Path) -> None:
    r = kai("cluster", "up", "--name", "lc", root=small_disk)
    assert r.returncode == 0, r.stdout + r.stderr
    home = small_disk / "lc"
    api = Api(home)
    watched: list[str] = []
    api.watch("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=110", watched)
    for i in range(3):
        assert kubectl(home, "create", "configmap", f"before-{i}", "--from-literal=a=b").returncode == 0
    big = small_disk.parent / "big.txt"  # off the small disk
    big.write_text("v" * 200_000)
    filler = fill(small_disk)
    refused: list[str] = []
    acked = [f"before-{i}" for i in range(3)]
    for i in range(300):
        r = kubectl(home, "create", "configmap", f"during-{i}", f"--from-file=k={big}")
        if r.returncode == 0:
            acked.append(f"during-{i}")
            continue
        refused.append(f"during-{i}")
        # kubectl create wraps the Status's message ("Error from server: <message>" elsewhere, as for any
        # Status without a reason)
        assert r.stderr == f"error: failed to create configmap: the cluster's disk is full: free space in {home}\n"
        if len(refused) == 3:
            break
    assert refused, "300 writes of 200 kB went through a full 48 MB disk"
    code, body = api.get("/healthz")
    assert (code, body) == (500, "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\nhealthz check failed\n")
    listed = set(kubectl(home, "get", "configmaps", "-o", "name").stdout.split())
    assert not {f"configmap/{n}" for n in refused} & listed
    assert {f"configmap/{n}" for n in acked} <= listed

    filler.unlink()
    t0 = time.monotonic()
    eventually(lambda: kubectl(home, "create", "configmap", "after", "--from-literal=a=b").returncode == 0,
               timeout=20, interval=0.2)
    assert time.monotonic() - t0 < 20
    acked.append("after")
    eventually(lambda: api.get("/healthz") == (200, "ok"), timeout=10)
    eventually(lambda: "after" in watched, timeout=10)
    assert not set(refused) & set(watched)
    assert set(acked) <= set(watched)

    assert kai("cluster", "down", "--name", "lc", root=small_disk).returncode == 0
    assert kai("cluster", "up", "--name", "lc", root=small_disk).returncode == 0
    listed = set(kubectl(home, "get", "configmaps", "-o", "name").stdout.split())
    assert not {f"configmap/{n}" for n in refused} & listed
    assert {f"configmap/{n}" for n in acked} <= listed
