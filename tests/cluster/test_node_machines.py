"""Nodes apart, on a real embedded cluster: each Node is a process of its own (kai_labs/sim/machines.py).

A node that is stopped, stuck or killed takes only its own Pods with it: the API keeps answering, the
node lifecycle controller sees its Lease stop, its Pods move; a killed node process comes back by
itself; `kai-labs node start` brings a stopped one back and it finishes the Pods it was told to stop.
The cluster runs with short node-lifecycle settings (grace 25 s, checked every second, tolerations 3 s).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kai_labs.clusters import embedded
from kai_labs.clusters.base import Cluster
from tests.helpers import eventually, start_with_env
from tests.manifests import web_deployment

pytestmark = pytest.mark.cluster

NAME = "machines"
SETTINGS = {"KAI_LABS_NODE_MONITOR_GRACE_PERIOD": "25", "KAI_LABS_NODE_MONITOR_PERIOD": "1",
            "KAI_LABS_DEFAULT_TOLERATION_SECONDS": "3"}
WORKER = f"{NAME}-worker"


@pytest.fixture(scope="module")
def mc(kai_home: Path) -> Iterator[Cluster]:
    c = start_with_env(NAME, 11, SETTINGS)
    yield c
    embedded.down(NAME)


def node_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kai_labs.cli", "node", *args, "--name", NAME],
                          capture_output=True, text=True, timeout=60)


def machine_pid(node: str) -> int:
    pid = find_machine(node)
    assert pid is not None, f"no process serves {node}'s kubelet socket"
    return pid


def find_machine(node: str) -> int | None:
    """The node's process: the one whose command line names the cluster's home and which holds the node's
    kubelet socket open (found through /proc, as a user would with ps)."""
    home = embedded.home_for(NAME)
    sock = home / "kubelet" / node
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
            if b"kai_labs.sim.node" not in cmd or str(home).encode() not in cmd:
                continue
            inodes = {os.readlink(f"/proc/{d}/fd/{fd}") for fd in os.listdir(f"/proc/{d}/fd")}
        except OSError:
            continue
        unix = Path("/proc/net/unix").read_text().splitlines()
        mine = {ln.split()[6] for ln in unix[1:] if ln.split()[-1] == str(sock) and len(ln.split()) >= 8}
        if any(f"socket:[{i}]" in inodes for i in mine):
            return int(d)
    return None


def pods(c: Cluster, ns: str) -> list[dict[str, Any]]:
    return list(json.loads(c.kubectl("get", "pods", "-n", ns, "-o", "json", check=True).stdout)["items"])


def running_on(c: Cluster, ns: str, node: str) -> dict[str, str]:
    return {p["metadata"]["name"]: p["status"].get("podIP", "") for p in pods(c, ns)
            if p["spec"].get("nodeName") == node and p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")}


def deploy(c: Cluster, ns: str, replicas: int = 4) -> None:
    c.kubectl("create", "namespace", ns, check=True)
    c.kubectl("apply", "-n", ns, "-f", "-", input=web_deployment(replicas), check=True)
    c.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=60s", check=True, timeout=70)


def test_a_stuck_node_does_not_stall_the_api(mc: Cluster) -> None:
    deploy(mc, "stuck")
    pid = machine_pid(WORKER)
    os.kill(pid, signal.SIGSTOP)
    try:
        worst = 0.0
        for _ in range(10):
            t = time.monotonic()
            mc.kubectl("get", "pods", "-n", "stuck", check=True, timeout=10)
            worst = max(worst, time.monotonic() - t)
        assert worst < 3.0, f"kubectl took {worst:.1f}s while a node was stopped"
        # its Pods' servers do not answer: the client waits for its timeout, as with a frozen machine
        ip = next(iter(eventually(lambda: running_on(mc, "stuck", WORKER)).values()))
        r = mc.net.curl(f"http://{ip}:8080/hostname", "stuck", timeout=1)
        assert r.error == "timeout", r
    finally:
        os.kill(pid, signal.SIGCONT)
    ip_after = eventually(lambda: running_on(mc, "stuck", WORKER))
    r = mc.net.curl(f"http://{next(iter(ip_after.values()))}:8080/hostname", "stuck", timeout=5)
    assert r.ok, r


def test_a_killed_node_process_comes_back_with_its_pods(mc: Cluster) -> None:
    deploy(mc, "killed")
    before = eventually(lambda: running_on(mc, "killed", WORKER))
    pid = machine_pid(WORKER)
    os.kill(pid, signal.SIGKILL)
    new = eventually(lambda: (p := find_machine(WORKER)) != pid and p, timeout=30)
    assert new != pid
    # the kubelet starts its Pods again: same Pods, same IPs (the node's IPAM keeps them)
    after = eventually(lambda: (r := running_on(mc, "killed", WORKER)) == before and r, timeout=30)
    for ip in after.values():
        r = mc.net.curl(f"http://{ip}:8080/hostname", "killed", timeout=5)
        assert r.ok, r


def test_a_stopped_node_goes_not_ready_its_pods_move_and_it_comes_back(mc: Cluster) -> None:
    deploy(mc, "moving")
    lost = eventually(lambda: running_on(mc, "moving", WORKER))
    r = node_cli("stop", WORKER)
    assert r.returncode == 0, r.stderr
    assert [ln.split() for ln in node_cli("list").stdout.splitlines() if ln.startswith(WORKER + " ")] == [
        [WORKER, "Stopped"]]
    # the API proxies to a kubelet that is gone: the answer kube-apiserver gives for an unreachable node
    logs = mc.kubectl("logs", "-n", "moving", next(iter(lost)), timeout=30)
    assert logs.returncode != 0 and ":10250: connect: no route to host" in logs.stderr, logs.stderr

    def ready(node: str) -> str:
        n = json.loads(mc.kubectl("get", "node", node, "-o", "json", check=True).stdout)
        return next(c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready")

    eventually(lambda: ready(WORKER) == "Unknown", timeout=60)
    # replaced on the other worker; the lost ones stay Terminating (their node cannot confirm)
    def moved() -> bool:
        now = pods(mc, "moving")
        terminating = {p["metadata"]["name"] for p in now if p["metadata"].get("deletionTimestamp")}
        running = [p for p in now if not p["metadata"].get("deletionTimestamp")
                   and p["status"].get("phase") == "Running" and p["spec"].get("nodeName") != WORKER]
        return terminating == set(lost) and len(running) == 4

    eventually(moved, timeout=60)

    r = node_cli("start", WORKER)
    assert r.returncode == 0, r.stderr
    eventually(lambda: ready(WORKER) == "True", timeout=30)
    # back, the kubelet confirms the stop of the Pods deleted while it was away (it does not start them)
    eventually(lambda: not {p["metadata"]["name"] for p in pods(mc, "moving")} & set(lost), timeout=30)

    def node_taints() -> list[str]:
        n = json.loads(mc.kubectl("get", "node", WORKER, "-o", "json", check=True).stdout)
        return [t["key"] for t in n["spec"].get("taints") or [] if t["key"].startswith("node.kubernetes.io/")]

    eventually(lambda: not node_taints(), timeout=30)
