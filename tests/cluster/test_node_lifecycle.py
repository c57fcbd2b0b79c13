"""A Node that stops answering, end to end on a real embedded cluster (R55-R59).

The cluster runs with short settings from its environment (grace 25 s, checked every second, Pods
tolerating an unreachable Node for 3 s). An extra Node without the ``kai-labs.dev/kubelet: embedded``
annotation is this test's: it registers it, posts its status, renews its Lease in ``kube-node-lease``
and writes its Pods' status with the official client, as a kubelet would. Then it stops: kubectl shows
the Node NotReady with Unknown conditions and the unreachable taints, its endpoints go not ready, its
Pods are evicted (Terminating: nobody on the Node confirms) and replaced on the embedded workers; when
it posts again the taints go.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kai_labs.clusters import embedded
from kai_labs.clusters.base import Cluster
from tests.helpers import eventually, start_with_env

pytestmark = pytest.mark.cluster

NAME = "nodelc"
EDGE = "edge-1"
NS = "moving"
SETTINGS = {"KAI_LABS_NODE_MONITOR_GRACE_PERIOD": "25", "KAI_LABS_NODE_MONITOR_PERIOD": "1",
            "KAI_LABS_DEFAULT_TOLERATION_SECONDS": "3"}


@pytest.fixture(scope="module")
def short(kai_home: Path) -> Iterator[Cluster]:
    """A cluster of its own, started with the short node-lifecycle settings in its environment."""
    c = start_with_env(NAME, 5, SETTINGS)
    yield c
    embedded.down(NAME)


def micro_now() -> str:
    """A metav1.MicroTime (six fractional digits, as client-go writes it)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Kubelet:
    """What a kubelet writes about its Node, through the official client: the Node, its status (the four
    conditions, heartbeat now), its Lease renewed every 2 s on a thread, and its Pods' status."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        from kubernetes import client

        self.core = cluster.core()
        self.coord = client.CoordinationV1Api(cluster.api_client())
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self) -> None:
        node = self.core.create_node({"metadata": {"name": self.name, "labels": {
            "kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}}})
        self.post_status()
        lease = {"metadata": {"name": self.name, "ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": node.metadata.uid}]},
            "spec": {"holderIdentity": self.name, "leaseDurationSeconds": 40, "renewTime": micro_now()}}
        self.coord.create_namespaced_lease("kube-node-lease", lease)

    def post_status(self) -> None:
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        conds = [{"type": t, "status": s, "reason": r, "message": m, "lastHeartbeatTime": now,
                  "lastTransitionTime": now} for t, s, r, m in (
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status"))]
        self.core.patch_node_status(self.name, {"status": {"conditions": conds, "addresses": [
            {"type": "InternalIP", "address": "172.18.0.9"}, {"type": "Hostname", "address": self.name}]}})

    def renew(self) -> None:
        lease = self.coord.read_namespaced_lease(self.name, "kube-node-lease")
        body = self.coord.api_client.sanitize_for_serialization(lease)
        body["spec"]["renewTime"] = micro_now()
        self.coord.replace_namespaced_lease(self.name, "kube-node-lease", body)

    def start(self) -> None:
        self._stop.clear()

        def beat() -> None:
            while not self._stop.wait(2.0):
                self.renew()

        self._thread = threading.Thread(target=beat, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def run_pods(self, ns: str) -> list[str]:
        """Start every Pod bound here: Running, Ready, an IP from the Node's Pod range."""
        cidr = self.core.read_node(self.name).spec.pod_cidr
        base = cidr.rsplit(".", 1)[0]
        names = []
        for i, pod in enumerate(self.core.list_namespaced_pod(ns, field_selector=f"spec.nodeName={self.name}").items):
            now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            ip = f"{base}.{i + 10}"
            self.core.patch_namespaced_pod_status(pod.metadata.name, ns, {"status": {
                "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "172.18.0.9",
                "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                               for t in ("Initialized", "Ready", "ContainersReady")]}})
            names.append(pod.metadata.name)
        return names


def kubectl(c: Cluster, *args: str) -> str:
    r = c.kubectl(*args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def slice_ready(c: Cluster) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for s in json.loads(kubectl(c, "-n", NS, "get", "endpointslices", "-o", "json"))["items"]:
        for ep in s.get("endpoints") or []:
            out[ep["targetRef"]["name"]] = ep["conditions"]["ready"]
    return out


def pods(c: Cluster) -> list[dict[str, Any]]:
    return list(json.loads(kubectl(c, "-n", NS, "get", "pods", "-o", "json"))["items"])


def test_a_node_that_stops_renewing_goes_not_ready_and_its_pods_move(short: Cluster) -> None:
    c = short
    workers = [f"{NAME}-worker", f"{NAME}-worker2"]
    kubelet = Kubelet(c, EDGE)
    kubelet.register()
    kubelet.start()
    try:
        eventually(lambda: "Ready" in kubectl(c, "get", "node", EDGE, "--no-headers").split(), timeout=10)
        leases = kubectl(c, "get", "leases", "-n", "kube-node-lease")
        assert leases.splitlines()[0].split() == ["NAME", "HOLDER", "AGE"]
        assert re.search(rf"^{EDGE}\s+{EDGE}\s+\d+s$", leases, re.M), leases

        # the Pods land on the edge Node: the embedded workers are cordoned meanwhile
        kubectl(c, "create", "namespace", NS)
        kubectl(c, "cordon", *workers)
        kubectl(c, "-n", NS, "create", "deployment", "web", "--replicas=2",
                "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--", "/agnhost", "netexec",
                "--http-port=8080")
        kubectl(c, "-n", NS, "expose", "deployment", "web", "--port=80", "--target-port=8080")
        eventually(lambda: [p for p in pods(c) if p["spec"].get("nodeName") == EDGE][1:], timeout=15)
        kubectl(c, "uncordon", *workers)
        on_edge = kubelet.run_pods(NS)
        assert len(on_edge) == 2
        eventually(lambda: slice_ready(c) == {n: True for n in on_edge}, timeout=15)
        tolerations = json.loads(kubectl(c, "-n", NS, "get", "pod", on_edge[0], "-o", "json"))["spec"]["tolerations"]
        assert tolerations == [  # DefaultTolerationSeconds with the cluster's setting
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 3},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 3}]

        # the kubelet stops
        kubelet.stop()
        t0 = time.monotonic()
        eventually(lambda: "NotReady" in kubectl(c, "get", "node", EDGE, "--no-headers").split(), timeout=45)
        t_not_ready = time.monotonic() - t0
        assert t_not_ready >= 20, f"NotReady after {t_not_ready:.1f}s: the grace period is 25 s"
        eventually(lambda: set(slice_ready(c).items()) >= {(n, False) for n in on_edge}, timeout=10)
        t_endpoints = time.monotonic() - t0
        try:
            describe = eventually(lambda: (lambda d: d if "unreachable:NoExecute" in d else "")(
                kubectl(c, "describe", "node", EDGE)), timeout=40)  # 40: a loaded machine can delay
        except AssertionError:
            print(kubectl(c, "describe", "node", EDGE), kubectl(c, "get", "nodes"))
            print((embedded.home_for(NAME) / "cluster.log").read_text()[-3000:])
            raise
        assert re.search(r"^Taints:\s+node\.kubernetes\.io/unreachable:NoExecute\n\s+"
                         r"node\.kubernetes\.io/unreachable:NoSchedule$", describe, re.M), describe
        for ctype in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready"):
            assert re.search(rf"^\s+{ctype}\s+Unknown\s.*\sNodeStatusUnknown\s+Kubelet stopped posting node status\.$",
                             describe, re.M), describe
        assert re.search(rf"NodeNotReady\s+.*Node {EDGE} status is now: NodeNotReady", kubectl(
            c, "get", "events", "--field-selector", f"involvedObject.name={EDGE}")), "no NodeNotReady event"

        # after the 3 s toleration: evicted (Terminating, as nobody on the Node confirms) and replaced
        def moved() -> bool:
            ps = pods(c)
            gone = all(p["metadata"].get("deletionTimestamp") for p in ps if p["metadata"]["name"] in on_edge)
            live = [p for p in ps if not p["metadata"].get("deletionTimestamp")]
            return gone and len(live) == 2 and all(p["spec"].get("nodeName") in workers for p in live)

        eventually(moved, timeout=40)
        t_evicted = time.monotonic() - t0
        listing = kubectl(c, "-n", NS, "get", "pods")
        for n in on_edge:
            assert re.search(rf"^{n}\s+\S+\s+Terminating\s", listing, re.M), listing
        events = kubectl(c, "-n", NS, "get", "events", "--field-selector", "reason=TaintManagerEviction")
        for n in on_edge:
            assert f"Marking for deletion Pod {NS}/{n}" in events, events
        # the replacements run on the workers (their embedded kubelets) and serve
        eventually(lambda: sum(slice_ready(c).values()) == 2, timeout=30)
        t_served = time.monotonic() - t0
        print(f"\nnode stop -> NotReady {t_not_ready:.1f}s, endpoints not ready {t_endpoints:.1f}s, "
              f"Pods evicted and replaced {t_evicted:.1f}s, replacements serving {t_served:.1f}s "
              f"(grace 25 s, tolerationSeconds 3)")

        # the kubelet comes back: its conditions are its own again and the taints go
        kubelet.post_status()
        kubelet.renew()
        kubelet.start()
        eventually(lambda: "Ready" in kubectl(c, "get", "node", EDGE, "--no-headers").split(), timeout=10)
        eventually(lambda: not json.loads(kubectl(c, "get", "node", EDGE, "-o", "json"))["spec"].get("taints"),
                   timeout=10)
    finally:
        kubelet.stop()
