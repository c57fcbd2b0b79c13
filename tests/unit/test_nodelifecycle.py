"""The node lifecycle and taint-eviction controllers on a FakeClock (R55-R59): a Node whose kubelet stops
renewing its Lease goes NotReady (Unknown conditions), is tainted, its Pods go not ready and their
endpoints with them, they are evicted after their tolerationSeconds and replaced on a Ready Node; when
the kubelet posts again the taints go. Everything runs through the real registry, store and the whole
controller manager (ReplicaSet, scheduler, EndpointSlice controllers); only the kubelets are this test,
writing what a kubelet writes."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kai_labs.sim.clock import FakeClock
from kai_labs.sim.controllers.manager import Controllers
from kai_labs.sim.controllers.nodelifecycle import NodeLifecycleSettings, TokenBucket
from kai_labs.sim.events import Recorder
from kai_labs.sim.registry.allocators import Ids
from kai_labs.sim.registry.generic import Api, rt_of
from kai_labs.sim.storage.store import Store

NS = "shop"
GRACE = 50.0  # upstream --node-monitor-grace-period


class World:
    """A control plane on a FakeClock and two (or more) Nodes whose "kubelets" are this test."""

    def __init__(self, tmp: Path, settings: NodeLifecycleSettings | None = None, zones: bool = True) -> None:
        self.clock = FakeClock()
        self.store = Store(tmp / "state.db")
        self.api = Api(self.store, Ids(self.store, 1), self.clock.now)
        self.ctl = Controllers(self.api, Recorder(self.api), set, settings=settings or NodeLifecycleSettings.course(),
                               clock=self.clock)
        self.store.subscribe(self.ctl.observe)
        for ns in ("default", "kube-node-lease", NS):
            self.api.create(rt_of("Namespace"), "", {"metadata": {"name": ns}})
        self.zones = zones

    # -- what a kubelet writes ----------------------------------------------------------------------
    def micro(self) -> str:
        return dt.datetime.fromtimestamp(self.clock.now(), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def add_node(self, name: str, zone: str = "") -> None:
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
        if self.zones:
            labels["topology.kubernetes.io/zone"] = zone or f"zone-{name}"
        self.api.create(rt_of("Node"), "", {"metadata": {"name": name, "labels": labels}})
        self.post_status(name)
        self.renew(name)

    def post_status(self, name: str, ready: str = "True") -> None:
        node = self.api.get(rt_of("Node"), "", name)
        now = self.api.now()
        old = {c["type"]: c for c in node.get("status", {}).get("conditions") or []}
        conds = []
        for ctype, status, reason in (("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                                      ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                                      ("PIDPressure", "False", "KubeletHasSufficientPID"),
                                      ("Ready", ready, "KubeletReady")):
            prev = old.get(ctype, {})
            conds.append({"type": ctype, "status": status, "reason": reason, "message": "kubelet says so",
                          "lastHeartbeatTime": now,
                          "lastTransitionTime": prev.get("lastTransitionTime", now)
                          if prev.get("status") == status else now})
        node["status"] = {**node.get("status", {}), "conditions": conds}
        self.api.put_status("Node", node)

    def renew(self, name: str) -> None:
        lease = self.api.try_get("Lease", "kube-node-lease", name)
        if lease is None:
            self.api.create(rt_of("Lease"), "kube-node-lease", {
                "metadata": {"name": name}, "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                                                     "renewTime": self.micro()}})
        else:
            lease["spec"]["renewTime"] = self.micro()
            self.api.update(rt_of("Lease"), "kube-node-lease", name, lease)

    def run_pods(self) -> None:
        """Every bound Pod that has not run yet: Running and Ready with an IP (the kubelet's status)."""
        for i, pod in enumerate(list(self.store.iter("/pods", NS))):
            if not pod["spec"].get("nodeName") or pod["status"].get("phase") == "Running" or \
                    pod["metadata"].get("deletionTimestamp"):
                continue
            pod = self.api.get(rt_of("Pod"), NS, pod["metadata"]["name"])
            now = self.api.now()
            pod["status"].update(phase="Running", podIP=f"10.244.0.{i + 10}", podIPs=[{"ip": f"10.244.0.{i + 10}"}],
                                 conditions=[*pod["status"].get("conditions", []),
                                             {"type": "Ready", "status": "True", "lastProbeTime": None,
                                              "lastTransitionTime": now},
                                             {"type": "ContainersReady", "status": "True", "lastProbeTime": None,
                                              "lastTransitionTime": now}])
            self.api.put_status("Pod", pod)
        self.ctl.drain()

    # -- time ---------------------------------------------------------------------------------------
    def advance(self, seconds: float, alive: tuple[str, ...] = (), step: float = 1.0) -> None:
        """Let ``seconds`` pass in steps, the kubelets in ``alive`` renewing every 10 s, the controllers
        ticking at every step."""
        end = self.clock.monotonic() + seconds
        while self.clock.monotonic() < end - 1e-9:
            self.clock.advance(min(step, end - self.clock.monotonic()))
            if int(self.clock.monotonic()) % 10 == 0:
                for n in alive:
                    self.renew(n)
            self.ctl.tick()

    # -- reading ------------------------------------------------------------------------------------
    def node(self, name: str) -> dict[str, Any]:
        return self.api.get(rt_of("Node"), "", name)

    def cond(self, node: str, ctype: str) -> dict[str, Any]:
        return next(c for c in self.node(node)["status"]["conditions"] if c["type"] == ctype)

    def taints(self, node: str) -> list[tuple[str, str]]:
        return [(t["key"], t["effect"]) for t in self.node(node).get("spec", {}).get("taints") or []]

    def pods(self) -> list[dict[str, Any]]:
        return list(self.store.iter("/pods", NS))

    def ready(self, pod: dict[str, Any]) -> str:
        return next((c["status"] for c in pod["status"].get("conditions") or [] if c["type"] == "Ready"), "")

    def events(self, ns: str, reason: str) -> list[str]:
        return [e["message"] for e in self.store.iter("/events", ns) if e["reason"] == reason]

    def slice_ready(self) -> dict[str, bool]:
        out = {}
        for s in self.store.iter("discovery.k8s.io/endpointslices", NS):
            for ep in s.get("endpoints") or []:
                out[ep["targetRef"]["name"]] = ep["conditions"]["ready"]
        return out


def _web(w: World, replicas: int = 2, tolerations: list[dict[str, Any]] | None = None) -> None:
    spec: dict[str, Any] = {"containers": [{"name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    w.api.create(rt_of("ReplicaSet"), NS, {
        "metadata": {"name": "web"}, "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                                              "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec}}})
    w.api.create(rt_of("Service"), NS, {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    w.ctl.drain()
    w.run_pods()


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    w.add_node("a")
    w.add_node("b")
    w.ctl.tick()
    return w


def test_R56_R57_R58_a_silent_node_goes_not_ready_tainted_and_its_pods_move(world: World) -> None:
    w = world
    _web(w)
    on_b = [p["metadata"]["name"] for p in w.pods() if p["spec"]["nodeName"] == "b"]
    assert len(on_b) == 1 and all(w.slice_ready().values()) and len(w.slice_ready()) == 2
    assert w.events("default", "RegisteredNode") == ["Node a event: Registered Node a in Controller",
                                                     "Node b event: Registered Node b in Controller"]

    # b's kubelet stops; a's goes on. Within the grace period nothing happens.
    w.advance(GRACE - 1, alive=("a",))
    assert w.cond("b", "Ready")["status"] == "True" and w.taints("b") == []

    # past node-monitor-grace-period (checked every 5 s): Unknown, upstream's reason and message
    w.advance(6, alive=("a",))
    for ctype in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
        c = w.cond("b", ctype)
        assert (c["status"], c["reason"], c["message"]) == ("Unknown", "NodeStatusUnknown",
                                                            "Kubelet stopped posting node status."), c
    assert w.cond("a", "Ready")["status"] == "True"
    assert w.events("default", "NodeNotReady") == ["Node b status is now: NodeNotReady"]
    # the Pod there is marked not ready (MarkPodsNotReady) and its endpoint with it
    pod_b = w.store.peek("/pods", NS, on_b[0])
    assert pod_b is not None and w.ready(pod_b) == "False"
    assert w.events(NS, "NodeNotReady") == ["Node is not ready"]
    assert w.slice_ready()[on_b[0]] is False and list(w.slice_ready().values()).count(True) == 1
    # NoSchedule at once, NoExecute from the next pass on (rate limited, zone by zone)
    w.advance(6, alive=("a",))
    assert w.taints("b") == [("node.kubernetes.io/unreachable", "NoSchedule"),
                             ("node.kubernetes.io/unreachable", "NoExecute")]
    assert all(t.get("timeAdded") for t in w.node("b")["spec"]["taints"])

    # the Pod tolerates unreachable:NoExecute for the course's 30 s (DefaultTolerationSeconds), then goes
    w.advance(25, alive=("a",))
    pod_b = w.store.peek("/pods", NS, on_b[0])
    assert pod_b is not None and not pod_b["metadata"].get("deletionTimestamp")
    w.advance(6, alive=("a",))
    pod_b = w.store.peek("/pods", NS, on_b[0])
    assert pod_b is not None and pod_b["metadata"].get("deletionTimestamp"), "stays Terminating: b cannot confirm"
    disruption = next(c for c in pod_b["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (disruption["reason"], disruption["message"]) == ("DeletionByTaintManager",
                                                            "Taint manager: deleting due to NoExecute taint")
    assert w.events(NS, "TaintManagerEviction") == [f"Marking for deletion Pod {NS}/{on_b[0]}"]
    # the ReplicaSet replaces it, and the scheduler puts the replacement on the Ready Node
    live = [p for p in w.pods() if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 2 and {p["spec"]["nodeName"] for p in live} == {"a"}
    assert w.slice_ready()[on_b[0]] is False

    # b's kubelet comes back: its conditions are the kubelet's again, the taints go
    w.post_status("b")
    w.renew("b")
    w.ctl.drain()
    assert w.cond("b", "Ready")["status"] == "True"
    assert ("node.kubernetes.io/unreachable", "NoSchedule") not in w.taints("b")
    w.advance(6, alive=("a", "b"))
    assert w.taints("b") == []


def test_R58_tainted_nodes_are_rate_limited_per_zone(tmp_path: Path) -> None:
    """Two Nodes of one zone go silent together: the second NoExecute taint comes 1/node_eviction_rate
    (10 s) after the first; a third Node elsewhere keeps the cluster out of full disruption."""
    w = World(tmp_path)
    for name, zone in (("a", "z1"), ("b", "z2"), ("c", "z2"), ("d", "z2"), ("e", "z2")):
        w.add_node(name, zone)
    w.ctl.tick()
    w.advance(GRACE + 11, alive=("a", "b", "c"))  # d and e silent: zone z2 has 2 of 4 not ready (Normal)
    tainted = [n for n in "de" if ("node.kubernetes.io/unreachable", "NoExecute") in w.taints(n)]
    assert len(tainted) == 1
    w.advance(10, alive=("a", "b", "c"))
    assert all(("node.kubernetes.io/unreachable", "NoExecute") in w.taints(n) for n in "de")


def test_R59_every_node_silent_is_master_disruption_no_eviction(world: World) -> None:
    """All Nodes unreachable at once: the controller blames itself, no NoExecute taint, no eviction
    (handleDisruption); the Pods are still marked not ready."""
    w = world
    _web(w)
    w.advance(GRACE + 60)
    assert w.cond("a", "Ready")["status"] == w.cond("b", "Ready")["status"] == "Unknown"
    for n in "ab":
        assert ("node.kubernetes.io/unreachable", "NoExecute") not in w.taints(n)
        assert ("node.kubernetes.io/unreachable", "NoSchedule") in w.taints(n)
    assert all(not p["metadata"].get("deletionTimestamp") for p in w.pods())
    assert all(w.ready(p) == "False" for p in w.pods())
    # one Node back: out of disruption mode; the other one gets its NoExecute taint once its zone's limiter,
    # swapped in drained (SwapLimiter), has a token again: 1/node_eviction_rate = 10 s
    w.post_status("a")
    w.renew("a")
    w.advance(6, alive=("a",))
    assert ("node.kubernetes.io/unreachable", "NoExecute") not in w.taints("b")
    w.advance(15, alive=("a",))
    assert ("node.kubernetes.io/unreachable", "NoExecute") in w.taints("b")


def test_R56_a_node_that_never_posted_status_gets_the_startup_grace_period(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.add_node("a")
    w.api.create(rt_of("Node"), "", {"metadata": {"name": "quiet"}})
    w.ctl.tick()
    w.advance(55, alive=("a",))
    assert "conditions" not in w.node("quiet").get("status", {})  # 60 s node-startup-grace-period
    w.advance(11, alive=("a",))  # the next pass after 60 s (every 5 s)
    c = w.cond("quiet", "Ready")
    assert (c["status"], c["reason"], c["message"]) == ("Unknown", "NodeStatusNeverUpdated",
                                                        "Kubelet never posted node status.")
    assert [c["type"] for c in w.node("quiet")["status"]["conditions"]] == [
        "Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]


def test_R56_status_heartbeats_alone_keep_a_node_alive(world: World) -> None:
    """No Lease renewal, but the kubelet posts status (the Ready condition's lastHeartbeatTime moves)."""
    w = world
    for _ in range(8):
        w.advance(10, alive=("a",))
        w.post_status("b")
    assert w.cond("b", "Ready")["status"] == "True"


def test_R56_a_lease_renewed_into_the_past_is_not_a_heartbeat(world: World) -> None:
    w = world
    w.advance(20, alive=("a", "b"))
    lease = w.api.get(rt_of("Lease"), "kube-node-lease", "b")
    for _ in range(5):
        w.advance(10, alive=("a",))
        lease = w.api.get(rt_of("Lease"), "kube-node-lease", "b")
        lease["spec"]["renewTime"] = "2020-01-01T00:00:00.000000Z"
        w.api.update(rt_of("Lease"), "kube-node-lease", "b", lease)
    w.advance(10, alive=("a",))
    assert w.cond("b", "Ready")["status"] == "Unknown"


def test_R57_a_pod_is_marked_not_ready_when_bound_never_for_the_kubelets_status(world: World) -> None:
    """podUpdated passes a Pod on only when it is bound. A Pod bound to a Node that came back but that
    the controller still saw NotReady (its next pass is up to 5 s away) is marked not ready once; the
    kubelet's Ready that follows stands. (Were every status write passed on, the two would overwrite each
    other until the next pass: a lesson's rollout after `kai-labs node start` saw one Pod stay
    unavailable for a minute.)"""
    w = world
    w.advance(GRACE + 6, alive=("a",))
    assert w.cond("b", "Ready")["status"] == "Unknown" and "b" in w.ctl.nodelifecycle.not_ready
    w.post_status("b")  # b's kubelet is back; the controller's next pass has not come yet
    w.renew("b")
    w.api.create(rt_of("Pod"), NS, {"metadata": {"name": "late"}, "spec": {
        "nodeName": "b", "containers": [{"name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53"}]}})
    w.ctl.drain()
    w.run_pods()  # the kubelet: Running and Ready
    pod = w.store.peek("/pods", NS, "late")
    assert pod is not None and w.ready(pod) == "True"
    writes = int(pod["metadata"]["resourceVersion"])
    w.ctl.drain()
    pod = w.store.peek("/pods", NS, "late")
    assert pod is not None and w.ready(pod) == "True" and int(pod["metadata"]["resourceVersion"]) == writes
    assert w.events(NS, "NodeNotReady") == []


def test_R54_untolerated_noexecute_taint_evicts_at_once_tolerated_forever_never(world: World) -> None:
    w = world
    for name, tol in (("plain", None), ("stays", [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}]),
                      ("brief", [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoExecute",
                                  "tolerationSeconds": 20}])):
        spec: dict[str, Any] = {"nodeName": "a", "containers": [{"name": "c", "image": "busybox"}]}
        if tol:
            spec["tolerations"] = tol
        w.api.create(rt_of("Pod"), NS, {"metadata": {"name": name}, "spec": spec})
    w.ctl.drain()
    node = w.node("a")
    node.setdefault("spec", {})["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]
    w.api.update(rt_of("Node"), "", "a", node)  # kubectl taint nodes a dedicated=gpu:NoExecute
    w.ctl.drain()

    def terminating(name: str) -> bool:
        pod = w.store.peek("/pods", NS, name)
        return pod is not None and bool(pod["metadata"].get("deletionTimestamp"))

    w.ctl.tick()
    assert terminating("plain") and not terminating("stays") and not terminating("brief")
    w.advance(19, alive=("a", "b"))
    assert not terminating("brief")
    w.advance(2, alive=("a", "b"))
    assert terminating("brief") and not terminating("stays")
    w.advance(600, alive=("a", "b"), step=5)
    assert not terminating("stays")
    assert sorted(w.events(NS, "TaintManagerEviction")) == [f"Marking for deletion Pod {NS}/brief",
                                                            f"Marking for deletion Pod {NS}/plain"]


def test_R54_taint_removed_in_time_cancels_the_eviction(world: World) -> None:
    w = world
    w.api.create(rt_of("Pod"), NS, {"metadata": {"name": "p"}, "spec": {
        "nodeName": "a", "containers": [{"name": "c", "image": "busybox"}],
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]}})
    node = w.node("a")
    node.setdefault("spec", {})["taints"] = [{"key": "k", "effect": "NoExecute"}]
    w.api.update(rt_of("Node"), "", "a", node)
    w.ctl.drain()
    w.advance(10, alive=("a", "b"))
    node = w.node("a")
    node["spec"].pop("taints")
    w.api.update(rt_of("Node"), "", "a", node)
    w.ctl.drain()
    w.advance(60, alive=("a", "b"))
    pod = w.store.peek("/pods", NS, "p")
    assert pod is not None and not pod["metadata"].get("deletionTimestamp")
    assert w.events(NS, "TaintManagerEviction") == [f"Cancelling deletion of Pod {NS}/p"]


def test_R58_conditions_map_to_noschedule_taints_and_cordon_to_unschedulable(world: World) -> None:
    w = world
    w.post_status("a", ready="False")
    w.ctl.drain()
    assert w.taints("a") == [("node.kubernetes.io/not-ready", "NoSchedule")]
    node = w.node("a")
    node.setdefault("spec", {})["unschedulable"] = True
    w.api.update(rt_of("Node"), "", "a", node)  # kubectl cordon a
    w.ctl.drain()
    assert w.taints("a") == [("node.kubernetes.io/not-ready", "NoSchedule"),
                             ("node.kubernetes.io/unschedulable", "NoSchedule")]
    w.advance(6, alive=("a", "b"))  # Ready False from the kubelet: the not-ready NoExecute taint
    assert ("node.kubernetes.io/not-ready", "NoExecute") in w.taints("a")
    w.post_status("a")
    node = w.node("a")
    node["spec"]["unschedulable"] = False
    w.api.update(rt_of("Node"), "", "a", node)
    w.ctl.drain()
    w.advance(6, alive=("a", "b"))
    assert w.taints("a") == []


def test_R55_default_toleration_seconds_are_the_clusters_setting(tmp_path: Path) -> None:
    """DefaultTolerationSeconds adds the two NoExecute tolerations with the API server's configured
    seconds: the course's 30 once the controller manager applied the cluster's settings, upstream's 300
    on an API server left alone; a Pod's own toleration of a key (or of every key) is kept."""
    w = World(tmp_path)
    pod = w.api.create(rt_of("Pod"), NS, {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "busybox"}]}})
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]
    own = w.api.create(rt_of("Pod"), NS, {"metadata": {"name": "q"}, "spec": {
        "containers": [{"name": "c", "image": "busybox"}],
        "tolerations": [{"operator": "Exists", "effect": "NoExecute"}]}})
    assert own["spec"]["tolerations"] == [{"operator": "Exists", "effect": "NoExecute"}]
    plain = Api(w.store, w.api.ids, w.clock.now)
    other = plain.create(rt_of("Pod"), NS, {"metadata": {"name": "r"}, "spec": {
        "containers": [{"name": "c", "image": "busybox"}]}})
    assert {t["tolerationSeconds"] for t in other["spec"]["tolerations"]} == {300}


def test_settings_from_env_are_bounded() -> None:
    s = NodeLifecycleSettings.from_env({"KAI_LABS_NODE_MONITOR_GRACE_PERIOD": "8s",
                                        "KAI_LABS_DEFAULT_TOLERATION_SECONDS": "5",
                                        "KAI_LABS_NODE_MONITOR_PERIOD": "nan"})
    assert (s.node_monitor_grace_period, s.default_not_ready_toleration_seconds,
            s.default_unreachable_toleration_seconds, s.node_monitor_period) == (8.0, 5, 5, 5.0)
    assert NodeLifecycleSettings.from_env({}) == NodeLifecycleSettings.course()
    assert NodeLifecycleSettings.from_env({"KAI_LABS_NODE_MONITOR_GRACE_PERIOD": "-1"}).node_monitor_grace_period \
        == 50.0
    up = NodeLifecycleSettings()
    assert (up.node_monitor_grace_period, up.node_monitor_period, up.node_startup_grace_period,
            up.default_unreachable_toleration_seconds) == (50.0, 5.0, 60.0, 300)


def test_token_bucket_burst_one() -> None:
    b = TokenBucket(0.1, 1, 0.0)
    assert b.try_accept(0.0) and not b.try_accept(5.0)
    assert b.next_token(5.0) == pytest.approx(10.0)
    assert b.try_accept(10.0)
    assert not TokenBucket(0.0, 1, 0.0).try_accept(100.0)


def test_one_loop_timer_for_the_earliest_deadline(tmp_path: Path) -> None:
    """After a drain in a running loop the manager holds one timer for the timed controllers' earliest
    deadline (the next monitor pass here); when it fires their ticks are queued and on_work is called."""

    async def scenario() -> tuple[float | None, int, bool]:
        w = World(tmp_path)
        woken: list[int] = []
        w.ctl.on_work = lambda: woken.append(1)
        w.add_node("a")
        w.ctl.drain()
        timer = w.ctl._timer  # noqa: SLF001 (the manager's own timer)
        first = timer is not None
        w.ctl.drain()  # a second drain keeps that timer
        same = w.ctl._timer is timer  # noqa: SLF001
        woken.clear()
        await asyncio.sleep(0.05)  # the first monitor pass is due now: the timer fires at once
        queued = w.ctl.queue["nodelifecycle"] == {("tick", "")}
        return w.ctl.next_deadline(), len(woken), first and same and queued

    due, woken, ok = asyncio.run(scenario())
    assert ok and woken == 1 and due == 0.0
