"""Resource bounds of the cluster process: objects, watch streams, Pod servers, shutdown.

Used by test_resources.py and benchmarks/bench_reliability.py."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from kai_labs.clusters import embedded as cl

from .rawapi import Raw, descendants, established_on, fd_count, listeners, listeners_of


def machines_up(home: Any, timeout: float = 30) -> None:
    """Wait for the cluster's node processes to be connected: 'cluster up' returns once the API answers,
    and the nodes join in the background (their watches are connections the API holds)."""
    def all_in() -> bool:
        up = [ln for ln in (home / "nodes").glob("*.log") if ln.name != "zygote.log"
              and " ready" in ln.read_text(errors="replace")]
        return len(up) >= 3

    assert settle(all_in, timeout), f"the node processes of {home} did not all start"


def settle(pred: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())


@dataclass
class ResFigures:
    objects: int = 0
    create_s: float = 0.0
    list_ms: float = 0.0
    fds: dict[str, int] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    watches: int = 0
    watch_rounds: int = 0
    pods: int = 0


def create_objects(c: cl.Cluster, ns: str, n: int, threads: int = 4) -> float:
    from kubernetes import client, config

    def work(k: int) -> None:
        core = client.CoreV1Api(config.new_client_from_config(config_file=str(c.kubeconfig), context=c.context))
        for i in range(k, n, threads):
            core.create_namespaced_config_map(
                ns,
                {
                    "metadata": {"name": f"cm-{i:05d}", "labels": {"bulk": "yes"}},
                    "data": {"i": str(i), "pad": "x" * 200},
                },
            )

    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(work, range(threads)))
    return time.monotonic() - t0


def watch_round(raw: Raw, ns: str, n: int, rv: str) -> tuple[int, int]:
    """Open n watch streams at once (each its own connection), then close them all. Returns
    (fds while open, the API's established TCP connections while open)."""
    sessions = [requests.Session() for _ in range(n)]
    resps = []
    for s in sessions:
        r = s.get(
            f"{raw.base}/api/v1/namespaces/{ns}/configmaps",
            params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "300"},
            headers={"Authorization": f"Bearer {raw.token}"},
            verify=raw.ca,
            stream=True,
            timeout=10,
        )
        assert r.status_code == 200, r.text[:200]
        resps.append(r)
    # one write every watch must see, so all of them are really attached
    name = f"ping-{time.monotonic_ns()}"
    raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": name}})
    # keep the line iterators alive: a dropped iterator makes urllib3 close its connection
    its = [r.iter_lines() for r in resps]
    for it in its:
        assert any(name.encode() in ln for ln in it), "a watch ended before it saw the new object"
    during = fd_count(raw.pid)
    conns = established_on(raw.pid, raw.port)
    del its
    for r, s in zip(resps, sessions, strict=True):
        r.close()
        s.close()
    raw.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/{name}")
    return during, conns


def fds_settle(pid: int, limit: int, timeout: float = 10) -> int:
    settle(lambda: fd_count(pid) <= limit, timeout)
    return fd_count(pid)


def down_leaves_nothing(name: str) -> list[str]:
    """Stop the cluster; returns what it left behind (processes, listening sockets)."""
    st = cl.status(name)
    assert st.pid
    pid = st.pid
    ports = {s.port for s in listeners_of(pid)}
    kids_before = descendants(pid)
    cl.down(name)
    left = []
    if os.path.exists(f"/proc/{pid}") and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        left.append(f"the cluster process {pid} is still alive")
    left += [f"process {k} (child of the cluster) still alive" for k in descendants(pid)]
    left += [f"process {k} still alive" for k in kids_before if os.path.exists(f"/proc/{k}")]
    still = [s for s in listeners() if s.port in ports]
    left += [f"port {s.port} still listening on {s.address}" for s in still]
    return left
