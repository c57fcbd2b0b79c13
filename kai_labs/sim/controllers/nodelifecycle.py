"""The node lifecycle controller (pkg/controller/nodelifecycle/node_lifecycle_controller.go): what the
control plane does when a Node stops answering.

A kubelet proves it is alive two ways: it renews the Lease named after its Node in ``kube-node-lease``
(``spec.renewTime``, every 10 s; pkg/kubelet/nodelease, staging/src/k8s.io/component-helpers/apimachinery/
lease/controller.go) and it posts Node status (the Ready condition's ``lastHeartbeatTime``). This
controller keeps, per Node, the time *it* last saw either change (``probe``, on its own monotonic clock,
so a skewed or suspended wall clock never ages a Node). Every ``node_monitor_period`` (5 s) it looks at
every Node (monitorNodeHealth / tryUpdateNodeHealth):

- a Node silent for longer than ``node_monitor_grace_period`` (50 s since v1.32; 60 s
  ``node_startup_grace_period`` for one that never posted status) gets Ready, MemoryPressure,
  DiskPressure and PIDPressure set to ``Unknown`` with reason ``NodeStatusUnknown`` and message
  ``Kubelet stopped posting node status.`` (``NodeStatusNeverUpdated`` / ``Kubelet never posted node
  status.`` for a condition it never had) (R56);
- on that transition from Ready it records ``NodeNotReady`` on the Node and marks every Pod there not
  ready: the Pod's Ready condition goes ``False`` (MarkPodsNotReady, pkg/controller/util/node/
  controller_utils.go), so the EndpointSlice controller lists those endpoints ``ready: false`` (R57);
- conditions map to NoSchedule taints at once (doNoScheduleTaintingPass, TaintNodesByCondition: Ready
  Unknown -> ``node.kubernetes.io/unreachable``, Ready False -> ``node.kubernetes.io/not-ready``, the
  pressure conditions, ``spec.unschedulable``), and a NotReady/Unknown Node is queued for the matching
  NoExecute taint, added at most ``node_eviction_rate`` Nodes per second per zone
  (doNoExecuteTaintingPass, processTaintBaseEviction) (R58);
- zones: when every Node of every zone is not Ready the controller assumes the problem is its own
  (master disruption mode): it removes the NoExecute taints and stops tainting; a zone with at least
  ``unhealthy_zone_threshold`` of more than two Nodes not Ready slows down (handleDisruption,
  ComputeZoneState) (R59);
- when the kubelet posts again its conditions come back from the kubelet; the NoSchedule taints follow
  the conditions and the next pass removes the NoExecute taints (markNodeAsReachable).

Evicting the Pods is the taint-eviction controller's part (``tainteviction.py``).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from ...k8s import taints as tt
from ..apimachinery import errors
from ..clientset import Client, Lister
from ..clock import Clock
from ..events import Recorder
from ..registry.coordination.lease import renew_time
from ..registry.strategy import AdmissionConfig
from ..registry.table import parse_time
from ..storage.store import Obj

log = logging.getLogger("kai_labs.controllers.nodelifecycle")

COMPONENT = "node-controller"
NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASES = "coordination.k8s.io/leases"

# pkg/controller/nodelifecycle/scheduler: EvictionRateLimiterBurst, NodeHealthUpdateRetry
_EVICTION_BURST = 1
_UPDATE_RETRIES = 5
_RETRY_AFTER = 0.05  # doNoExecuteTaintingPass retries a Node without a Ready condition after 50 ms
_NO_EXECUTE_PASS_PERIOD = 0.1  # scheduler.NodeEvictionPeriod

_EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"

# nodeConditionToTaintKeyStatusMap
_CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": tt.TAINT_NOT_READY, "Unknown": tt.TAINT_UNREACHABLE},
    "MemoryPressure": {"True": tt.TAINT_MEMORY_PRESSURE},
    "DiskPressure": {"True": tt.TAINT_DISK_PRESSURE},
    "NetworkUnavailable": {"True": tt.TAINT_NETWORK_UNAVAILABLE},
    "PIDPressure": {"True": tt.TAINT_PID_PRESSURE},
}
_CONDITION_TAINT_KEYS = {k for m in _CONDITION_TAINTS.values() for k in m.values()}
_UNKNOWN_ON_SILENCE = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")  # not NetworkUnavailable

# labelReconcileInfo: the beta OS/arch labels follow the stable ones
_LABEL_RECONCILE = (("kubernetes.io/os", "beta.kubernetes.io/os"), ("kubernetes.io/arch", "beta.kubernetes.io/arch"))

UNREACHABLE_NO_EXECUTE = {"key": tt.TAINT_UNREACHABLE, "effect": tt.NO_EXECUTE}
NOT_READY_NO_EXECUTE = {"key": tt.TAINT_NOT_READY, "effect": tt.NO_EXECUTE}


@dataclass(frozen=True)
class NodeLifecycleSettings:
    """kube-controller-manager's node lifecycle flags and kube-apiserver's DefaultTolerationSeconds flags,
    with upstream's defaults (pkg/controller/nodelifecycle/config/v1alpha1/defaults.go, raised to 50 s
    by kubernetes#126287; cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go;
    plugin/pkg/admission/defaulttolerationseconds). :meth:`course` is what kai-labs runs."""

    node_monitor_period: float = 5.0           # --node-monitor-period
    node_monitor_grace_period: float = 50.0    # --node-monitor-grace-period
    node_startup_grace_period: float = 60.0    # --node-startup-grace-period
    node_eviction_rate: float = 0.1            # --node-eviction-rate (Nodes tainted per second, per zone)
    secondary_node_eviction_rate: float = 0.01  # --secondary-node-eviction-rate
    large_cluster_size_threshold: int = 50     # --large-cluster-size-threshold
    unhealthy_zone_threshold: float = 0.55     # --unhealthy-zone-threshold
    default_not_ready_toleration_seconds: int = 300    # kube-apiserver --default-not-ready-toleration-seconds
    default_unreachable_toleration_seconds: int = 300  # kube-apiserver --default-unreachable-toleration-seconds

    # kai-labs' deliberate difference: a stopped Node's Pods move after 30 s instead of 5 minutes, so a
    # lesson can watch it happen; everything else is upstream's
    COURSE_TOLERATION_SECONDS: ClassVar[int] = 30

    def admission(self) -> AdmissionConfig:
        """The API server's part: DefaultTolerationSeconds."""
        return AdmissionConfig(self.default_not_ready_toleration_seconds, self.default_unreachable_toleration_seconds)

    @classmethod
    def course(cls) -> NodeLifecycleSettings:
        return cls(default_not_ready_toleration_seconds=cls.COURSE_TOLERATION_SECONDS,
                   default_unreachable_toleration_seconds=cls.COURSE_TOLERATION_SECONDS)

    # environment variable -> (field, lowest, highest)
    ENV: ClassVar[Mapping[str, tuple[str, float, float]]] = {
        "KAI_LABS_NODE_MONITOR_PERIOD": ("node_monitor_period", 0.05, 3600.0),
        "KAI_LABS_NODE_MONITOR_GRACE_PERIOD": ("node_monitor_grace_period", 0.1, 86400.0),
        "KAI_LABS_NODE_STARTUP_GRACE_PERIOD": ("node_startup_grace_period", 0.1, 86400.0),
        "KAI_LABS_DEFAULT_TOLERATION_SECONDS": ("default_toleration_seconds", 0, 86400),
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NodeLifecycleSettings:
        """The course settings, each overridable by an environment variable of the cluster process (in
        seconds; ``KAI_LABS_DEFAULT_TOLERATION_SECONDS`` sets both tolerations). A value that is not a
        number in range is ignored with a warning in the cluster's log."""
        env = os.environ if environ is None else environ
        out = cls.course()
        for var, (name, lo, hi) in cls.ENV.items():
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            try:
                value = float(raw.strip().removesuffix("s"))
            except ValueError:
                value = float("nan")
            if not lo <= value <= hi:  # NaN fails too
                log.warning("ignoring %s=%r: give seconds between %g and %g", var, raw, lo, hi)
                continue
            if name == "default_toleration_seconds":
                out = replace(out, default_not_ready_toleration_seconds=int(value),
                              default_unreachable_toleration_seconds=int(value))
            elif name == "node_monitor_period":
                out = replace(out, node_monitor_period=value)
            elif name == "node_monitor_grace_period":
                out = replace(out, node_monitor_grace_period=value)
            else:
                out = replace(out, node_startup_grace_period=value)
        return out


# ---------------------------------------------------------------------------------------------- helpers

def condition(node: Obj, ctype: str) -> Obj | None:
    """GetNodeCondition."""
    for c in (node.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def zone_key(node: Obj) -> str:
    """k8s.io/component-helpers/node/topology GetZoneKey: region and zone labels (GA, else beta)."""
    labels = node["metadata"].get("labels") or {}
    zone = labels.get("topology.kubernetes.io/zone", labels.get("failure-domain.beta.kubernetes.io/zone", ""))
    region = labels.get("topology.kubernetes.io/region", labels.get("failure-domain.beta.kubernetes.io/region", ""))
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def pods_on_node(lister: Lister, node: str) -> list[Obj]:
    """The Pods bound to ``node`` (the informer's spec.nodeName index), cached, read-only."""
    return [p for p in lister.scan("/pods") if (p.get("spec") or {}).get("nodeName") == node]


def swap_node_taints(lister: Lister, client: Client, name: str, add: list[Obj], remove: list[Obj]) -> bool:
    """SwapNodeControllerTaint: add ``add`` (each stamped ``timeAdded`` now, replacing a taint of the same
    key and effect that differs) and remove ``remove`` (by key and effect), in one write retried on
    conflicts. False when the write failed."""
    for _ in range(_UPDATE_RETRIES):
        node = lister.get("/nodes", "", name)
        if node is None:
            return True
        spec = node.setdefault("spec", {})
        current = [t for t in spec.get("taints") or [] if isinstance(t, dict)]
        new = list(current)
        stamp = client.now()
        for taint in add:
            want = {"key": taint["key"], "effect": taint["effect"], "timeAdded": stamp}
            idx = next((i for i, t in enumerate(new) if tt.taint_matches(t, want)), None)
            if idx is None:
                new.append(want)
            elif new[idx] != want:
                new[idx] = want
        new = [t for t in new if not any(tt.taint_matches(t, r) for r in remove)]
        if new == current:
            return True
        if new:
            spec["taints"] = new
        else:
            spec.pop("taints", None)
        try:
            client.update("Node", "", name, node)
            return True
        except errors.ApiError as e:
            if e.code == 404:
                return True
            if e.code != 409:
                log.warning("cannot change the taints of node %s: %s", name, e)
                return False
    return False


def mark_pods_not_ready(lister: Lister, client: Client, rec: Recorder, pods: list[Obj], node: str) -> bool:
    """MarkPodsNotReady (R57): each Pod's Ready condition to False (reason and message kept, the transition
    time now), then a ``NodeNotReady`` event on the Pod. False when a write failed (retried later)."""
    ok = True
    for cached in pods:
        if (cached.get("spec") or {}).get("nodeName") != node:
            continue
        md = cached["metadata"]
        pod = lister.get("/pods", md["namespace"], md["name"])
        if pod is None:
            continue
        conds = (pod.get("status") or {}).get("conditions") or []
        ready = next((c for c in conds if isinstance(c, dict) and c.get("type") == "Ready"), None)
        if ready is None or ready.get("status") == "False":
            continue  # UpdatePodCondition reports no change: nothing written
        ready["status"] = "False"
        ready["lastTransitionTime"] = client.now()
        try:
            client.update_status("Pod", pod)
        except errors.ApiError as e:
            if e.code != 404:
                log.info("cannot mark pod %s/%s not ready: %s", md["namespace"], md["name"], e)
                ok = False
            continue
        rec.event(pod, "Warning", "NodeNotReady", "Node is not ready", COMPONENT)
    return ok


class TokenBucket:
    """flowcontrol.NewTokenBucketRateLimiter(qps, burst) as the eviction queues use it (TryAccept only);
    qps 0 rejects everything (SwapLimiter(0))."""

    def __init__(self, qps: float, burst: int, now: float) -> None:
        self.qps = qps
        self.burst = burst
        self.tokens = float(burst)
        self.last = now

    def try_accept(self, now: float) -> bool:
        if self.qps <= 0:
            return False
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def next_token(self, now: float) -> float:
        """When the next token is there (inf when the bucket never fills)."""
        if self.qps <= 0:
            return float("inf")
        missing = 1.0 - min(float(self.burst), self.tokens + (now - self.last) * self.qps)
        return now if missing <= 0 else now + missing / self.qps


class ZoneTainter:
    """scheduler.RateLimitedTimedQueue for one zone: Nodes waiting for their NoExecute taint, in order,
    each let through by the zone's rate limiter. A Node stays a member after it was processed (so it is
    not queued twice) until :meth:`remove`."""

    def __init__(self, qps: float, now: float) -> None:
        self.limiter = TokenBucket(qps, _EVICTION_BURST, now)
        self.queue: list[tuple[str, float]] = []  # (node, process at)
        self.members: set[str] = set()

    def add(self, name: str, now: float) -> bool:
        if name in self.members:
            return False
        self.members.add(name)
        self.queue.append((name, now))
        return True

    def remove(self, name: str) -> bool:
        had = name in self.members
        self.members.discard(name)
        self.queue = [(n, t) for n, t in self.queue if n != name]
        return had

    def swap_limiter(self, qps: float, now: float) -> None:
        if self.limiter.qps == qps:
            return
        new = TokenBucket(qps, _EVICTION_BURST, now)
        if not self.limiter.try_accept(now):  # the old one was drained: so is the new one
            new.try_accept(now)
        self.limiter = new

    def try_(self, now: float, fn: Callable[[str], tuple[bool, float]]) -> None:
        while self.queue:
            name, at = self.queue[0]
            if not self.limiter.try_accept(now):
                return
            if now < at:
                return
            done, wait = fn(name)
            if done:
                self.queue.pop(0)
            else:
                self.queue[0] = (name, now + wait)
                return

    def next_deadline(self, now: float) -> float | None:
        if not self.queue:
            return None
        return max(self.queue[0][1], self.limiter.next_token(now))


@dataclass
class _Health:
    """nodeHealthData: when this controller last heard from the Node, and what it last saw."""

    probe: float                      # monotonic
    ready_transition: float           # monotonic
    ready: Obj | None                 # the Ready condition last observed (a copy)
    lease_renew: datetime.datetime | None = None


class NodeLifecycleController:
    def __init__(self, lister: Lister, client: Client, recorder: Recorder, clock: Clock,
                 settings: NodeLifecycleSettings) -> None:
        self.lister = lister
        self.client = client
        self.rec = recorder
        self.clock = clock
        self.settings = settings
        self.health: dict[str, _Health] = {}
        self.known: dict[str, str] = {}  # node -> uid (knownNodeSet)
        self.zone_states: dict[str, str] = {}
        self.tainters: dict[str, ZoneTainter] = {}
        self.nodes_to_retry: set[str] = set()
        self.not_ready: set[str] = set()  # Nodes whose last observed Ready is not True (Pods there are watched)
        self.pod_nodes: dict[tuple[str, str], str] = {}  # each Pod's nodeName as last seen (podUpdated's oldPod)
        self._next_monitor = clock.monotonic()
        self._next_no_execute = clock.monotonic()

    # -- entry points (the manager's work queue) -------------------------------------------------------
    def sync(self, what: str, key: str) -> None:
        if what == "tick":
            self.tick()
        elif what == "node":
            self.sync_node(key)
        elif what == "pod":
            ns, _, name = key.partition("/")
            self.process_pod(ns, name)

    def tick(self) -> None:
        now = self.clock.monotonic()
        if now >= self._next_monitor:
            self._next_monitor = now + self.settings.node_monitor_period
            self.monitor_node_health()
        if now >= self._next_no_execute:
            self._next_no_execute = now + _NO_EXECUTE_PASS_PERIOD
            self.no_execute_tainting_pass()

    def next_deadline(self) -> float:
        """The monotonic time the next :meth:`tick` has something to do."""
        now = self.clock.monotonic()
        due = self._next_monitor
        for q in self.tainters.values():
            d = q.next_deadline(now)
            if d is not None:
                due = min(due, max(d, self._next_no_execute))
        return due

    def watches_pod(self, ev_type: str, pod: Obj) -> bool:
        """Whether a Pod event needs :meth:`process_pod`: podUpdated's filter, which passes a Pod only when
        it is bound (added with a nodeName, or its nodeName changed), never for a status write. Were every
        update of a Pod on a Node not yet seen Ready passed on, the kubelet's Ready and this controller's
        NotReady would answer each other for as long as the Node's health is stale (up to
        ``node_monitor_period``): hundreds of writes a second. Only Pods on Nodes last seen not Ready are
        then queued (process_pod would find nothing to do for the others)."""
        md = pod["metadata"]
        key = (md.get("namespace", ""), md["name"])
        if ev_type == "DELETED":
            self.pod_nodes.pop(key, None)
            return False
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        if not node:
            return False
        before = self.pod_nodes.get(key)
        self.pod_nodes[key] = node
        return node != before and node in self.not_ready

    # -- doNodeProcessingPassWorker ---------------------------------------------------------------------
    def sync_node(self, name: str) -> None:
        """A Node changed: its NoSchedule condition taints (doNoScheduleTaintingPass) and the beta
        labels (reconcileNodeLabels)."""
        node = self.lister.peek("/nodes", "", name)
        if node is None:
            return
        self._no_schedule_tainting_pass(node)
        self._reconcile_labels(name)

    def _no_schedule_tainting_pass(self, node: Obj) -> None:
        want: list[Obj] = []
        for c in (node.get("status") or {}).get("conditions") or []:
            if not isinstance(c, dict):
                continue
            key = _CONDITION_TAINTS.get(str(c.get("type")), {}).get(str(c.get("status")))
            if key:
                want.append({"key": key, "effect": tt.NO_SCHEDULE})
        if (node.get("spec") or {}).get("unschedulable"):
            want.append({"key": tt.TAINT_UNSCHEDULABLE, "effect": tt.NO_SCHEDULE})
        have = [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)
                and t.get("effect") == tt.NO_SCHEDULE
                and (t.get("key") == tt.TAINT_UNSCHEDULABLE or t.get("key") in _CONDITION_TAINT_KEYS)]
        add = [t for t in want if not any(tt.taint_matches(t, h) for h in have)]
        remove = [h for h in have if not any(tt.taint_matches(h, t) for t in want)]
        if add or remove:
            swap_node_taints(self.lister, self.client, node["metadata"]["name"], add, remove)

    def _reconcile_labels(self, name: str) -> None:
        node = self.lister.peek("/nodes", "", name)
        if node is None:
            return
        labels = node["metadata"].get("labels") or {}
        update = {secondary: labels[primary] for primary, secondary in _LABEL_RECONCILE
                  if primary in labels and labels.get(secondary) != labels[primary]}
        if not update:
            return
        with contextlib.suppress(errors.ApiError):  # a conflict: the Node's next event brings it back here
            self.client.patch("Node", "", name, "application/merge-patch+json", {"metadata": {"labels": update}})

    # -- doPodProcessingWorker ----------------------------------------------------------------------------
    def process_pod(self, ns: str, name: str) -> None:
        """A Pod bound to a Node whose last observed Ready is not True is marked not ready (processPod)."""
        pod = self.lister.peek("/pods", ns, name)
        if pod is None:
            return
        node_name = (pod.get("spec") or {}).get("nodeName")
        health = self.health.get(node_name or "")
        if health is None or health.ready is None or self.lister.peek("/nodes", "", node_name or "") is None:
            return
        if health.ready.get("status") != "True":
            mark_pods_not_ready(self.lister, self.client, self.rec, [pod], str(node_name))

    # -- monitorNodeHealth ---------------------------------------------------------------------------------
    def monitor_node_health(self) -> None:
        nodes = list(self.lister.iter("/nodes"))
        names = {n["metadata"]["name"] for n in nodes}
        for node in nodes:
            md = node["metadata"]
            if md["name"] not in self.known:
                self._node_event(node, "RegisteredNode", f"Registered Node {md['name']} in Controller")
                self.known[md["name"]] = md.get("uid", "")
                self._zone_tainter(node)
                self.mark_node_as_reachable(node)
            elif zone_key(node) not in self.zone_states:
                self._zone_tainter(node)
        for name in sorted(set(self.known) - names):
            self._node_event({"metadata": {"name": name, "uid": self.known[name]}}, "RemovingNode",
                             f"Removing Node {name} from Controller")
            del self.known[name]
            self.health.pop(name, None)
            self.not_ready.discard(name)
            self.nodes_to_retry.discard(name)
        zone_conditions: dict[str, list[Obj | None]] = {}
        for node in nodes:
            name = node["metadata"]["name"]
            result = None
            for _ in range(_UPDATE_RETRIES):
                fresh = self.lister.get("/nodes", "", name)
                if fresh is None:
                    break
                try:
                    result = self._try_update_node_health(fresh)
                    break
                except errors.ApiError as e:
                    if e.code != 409:
                        log.warning("cannot update the health of node %s: %s", name, e)
                        break
            if result is None:
                continue  # "Skipping - no pods will be evicted"
            node_now, observed, current = result
            if _EXCLUDE_DISRUPTION not in (node_now["metadata"].get("labels") or {}):
                zone_conditions.setdefault(zone_key(node_now), []).append(current)
            if current is None:
                continue
            self._process_taint_based_eviction(node_now, observed)
            if current.get("status") != "True" and observed.get("status") == "True":
                self._node_event(node_now, "NodeNotReady", f"Node {name} status is now: NodeNotReady",
                                 status_change=True)
                retry = True
            else:
                retry = name in self.nodes_to_retry and observed.get("status") != "True"
            if retry and not mark_pods_not_ready(self.lister, self.client, self.rec,
                                                 pods_on_node(self.lister, name), name):
                self.nodes_to_retry.add(name)
                continue
            self.nodes_to_retry.discard(name)
        self._handle_disruption(zone_conditions, [n for n in self.lister.iter("/nodes")])

    def _mono_of(self, stamp: Any) -> float:
        """A metav1.Time (wall clock) on this controller's monotonic clock."""
        t = parse_time(stamp)
        if t is None:
            return self.clock.monotonic()
        return self.clock.monotonic() - (self.clock.now() - t.timestamp())

    def _try_update_node_health(self, node: Obj) -> tuple[Obj, Obj, Obj | None]:
        """tryUpdateNodeHealth: (the Node as now stored, the Ready condition observed before this pass,
        the Ready condition after it). Raises ApiError on a failed write (a 409 is retried)."""
        name = node["metadata"]["name"]
        now = self.clock.monotonic()
        health = self.health.get(name)
        current = condition(node, "Ready")
        if current is None:
            # never posted: a fake Unknown condition as old as the Node, and the startup grace period
            created = node["metadata"].get("creationTimestamp")
            observed: Obj = {"type": "Ready", "status": "Unknown", "lastHeartbeatTime": created,
                             "lastTransitionTime": created}
            grace = self.settings.node_startup_grace_period
            if health is not None:
                health.ready = None
            else:
                born = self._mono_of(created)
                health = _Health(probe=born, ready_transition=born, ready=None)
                self.health[name] = health
        else:
            observed = dict(current)
            grace = self.settings.node_monitor_grace_period
        saved = health.ready if health is not None else None
        saved_lease = health.lease_renew if health is not None else None
        if health is None or (saved is None and current is not None):  # first seen / first posted
            health = _Health(probe=now, ready_transition=now, ready=_copy(current))
        elif saved is not None and current is None:
            health = _Health(probe=now, ready_transition=now, ready=None)
        elif saved is not None and current is not None and \
                saved.get("lastHeartbeatTime") != current.get("lastHeartbeatTime"):
            transition = now if saved.get("lastTransitionTime") != current.get("lastTransitionTime") \
                else health.ready_transition
            health = _Health(probe=now, ready_transition=transition, ready=_copy(current))
        # a renewed Lease counts as much as a posted status (only a newer renewTime; any Lease seen first)
        lease = self.lister.peek(LEASES, NODE_LEASE_NAMESPACE, name)
        observed_renew = renew_time(lease) if lease is not None else None
        if lease is not None and (saved_lease is None or (
                observed_renew is not None and saved_lease < observed_renew)):
            health.lease_renew = observed_renew or datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
            health.probe = now
        self.health[name] = health
        if now > health.probe + grace:
            stamp = self.client.now()
            conds = node.setdefault("status", {}).setdefault("conditions", [])
            for ctype in _UNKNOWN_ON_SILENCE:
                c = condition(node, ctype)
                if c is None:
                    conds.append({"type": ctype, "status": "Unknown",
                                  "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                                  "lastTransitionTime": stamp, "reason": "NodeStatusNeverUpdated",
                                  "message": "Kubelet never posted node status."})
                elif c.get("status") != "Unknown":
                    c.update(status="Unknown", reason="NodeStatusUnknown",
                             message="Kubelet stopped posting node status.", lastTransitionTime=stamp)
            current = condition(node, "Ready")
            if current != observed:
                node = self.client.update_status("Node", node)
                self.health[name] = _Health(probe=health.probe, ready_transition=now, ready=_copy(current),
                                            lease_renew=health.lease_renew)
        if current is not None and current.get("status") != "True":
            self.not_ready.add(name)
        else:
            self.not_ready.discard(name)
        return node, observed, current

    def _process_taint_based_eviction(self, node: Obj, observed: Obj) -> None:
        name = node["metadata"]["name"]
        node_taints = (node.get("spec") or {}).get("taints")
        status = observed.get("status")
        if status == "False":
            if tt.has_taint(node_taints, tt.TAINT_UNREACHABLE, tt.NO_EXECUTE):
                swap_node_taints(self.lister, self.client, name, [NOT_READY_NO_EXECUTE], [UNREACHABLE_NO_EXECUTE])
            else:
                self._mark_node_for_tainting(node, "False")
        elif status == "Unknown":
            if tt.has_taint(node_taints, tt.TAINT_NOT_READY, tt.NO_EXECUTE):
                swap_node_taints(self.lister, self.client, name, [UNREACHABLE_NO_EXECUTE], [NOT_READY_NO_EXECUTE])
            else:
                self._mark_node_for_tainting(node, "Unknown")
        elif status == "True":
            self.mark_node_as_reachable(node)

    def _zone_tainter(self, node: Obj) -> ZoneTainter:
        """addPodEvictorForNewZone."""
        zone = zone_key(node)
        if zone not in self.zone_states:
            self.zone_states[zone] = "Initial"
            self.tainters[zone] = ZoneTainter(self.settings.node_eviction_rate, self.clock.monotonic())
        return self.tainters[zone]

    def _mark_node_for_tainting(self, node: Obj, status: str) -> bool:
        q = self._zone_tainter(node)
        name = node["metadata"]["name"]
        node_taints = (node.get("spec") or {}).get("taints")
        if status == "False" and not tt.has_taint(node_taints, tt.TAINT_NOT_READY, tt.NO_EXECUTE):
            q.remove(name)
        if status == "Unknown" and not tt.has_taint(node_taints, tt.TAINT_UNREACHABLE, tt.NO_EXECUTE):
            q.remove(name)
        added = q.add(name, self.clock.monotonic())
        if added:
            self._next_no_execute = min(self._next_no_execute, self.clock.monotonic())
        return added

    def mark_node_as_reachable(self, node: Obj) -> bool:
        """markNodeAsReachable: no unreachable / not-ready NoExecute taint, out of the tainting queue."""
        name = node["metadata"]["name"]
        swap_node_taints(self.lister, self.client, name, [], [UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE])
        return self._zone_tainter(node).remove(name)

    # -- doNoExecuteTaintingPass --------------------------------------------------------------------------
    def no_execute_tainting_pass(self) -> None:
        now = self.clock.monotonic()
        for zone in sorted(self.tainters):
            self.tainters[zone].try_(now, self._taint_one)

    def _taint_one(self, name: str) -> tuple[bool, float]:
        node = self.lister.peek("/nodes", "", name)
        if node is None:
            return True, 0.0
        ready = condition(node, "Ready")
        if ready is None:
            return False, _RETRY_AFTER
        # "unreachable" and "not ready" mirror Ready's status, so they exclude each other
        if ready.get("status") == "False":
            add, opposite = NOT_READY_NO_EXECUTE, UNREACHABLE_NO_EXECUTE
        elif ready.get("status") == "Unknown":
            add, opposite = UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE
        else:
            return True, 0.0  # Ready again: nothing to taint
        return swap_node_taints(self.lister, self.client, name, [add], [opposite]), 0.0

    # -- handleDisruption -------------------------------------------------------------------------------
    def compute_zone_state(self, ready_conditions: list[Obj | None]) -> tuple[int, str]:
        """ComputeZoneState: (not Ready Nodes, FullDisruption / PartialDisruption / Normal)."""
        ready = sum(1 for c in ready_conditions if c is not None and c.get("status") == "True")
        not_ready = len(ready_conditions) - ready
        if ready == 0 and not_ready > 0:
            return not_ready, "FullDisruption"
        if not_ready > 2 and not_ready / (not_ready + ready) >= self.settings.unhealthy_zone_threshold:
            return not_ready, "PartialDisruption"
        return not_ready, "Normal"

    def _qps_for(self, state: str, zone_size: int) -> float:
        """setLimiterInZone: HealthyQPSFunc for Normal and FullDisruption, ReducedQPSFunc for Partial."""
        if state == "PartialDisruption":
            return (self.settings.secondary_node_eviction_rate
                    if zone_size > self.settings.large_cluster_size_threshold else 0.0)
        return self.settings.node_eviction_rate

    def _handle_disruption(self, zone_conditions: dict[str, list[Obj | None]], nodes: list[Obj]) -> None:
        now = self.clock.monotonic()
        new_states: dict[str, str] = {}
        all_fully_disrupted = True
        for zone, conds in zone_conditions.items():
            _, state = self.compute_zone_state(conds)
            if state != "FullDisruption":
                all_fully_disrupted = False
            new_states[zone] = state
            self.zone_states.setdefault(zone, "Initial")
        all_were_fully_disrupted = True
        for zone in list(self.zone_states):
            if zone not in zone_conditions:
                del self.zone_states[zone]
                continue
            if self.zone_states[zone] != "FullDisruption":
                all_were_fully_disrupted = False
                break
        if all_fully_disrupted and all_were_fully_disrupted:
            return
        if all_fully_disrupted:
            log.info("every node is not ready: entering master disruption mode (no evictions)")
            for node in nodes:
                self.mark_node_as_reachable(node)
            for zone in self.zone_states:
                self.tainters.setdefault(zone, ZoneTainter(0.0, now)).swap_limiter(0.0, now)
                self.zone_states[zone] = "FullDisruption"
            return
        if all_were_fully_disrupted:
            log.info("some nodes are ready again: leaving master disruption mode")
            for node in nodes:  # every Node gets a fresh grace period
                h = self.health.get(node["metadata"]["name"])
                if h is not None:
                    h.probe = now
                    h.ready_transition = now
            for zone in self.zone_states:
                state = new_states.get(zone, "Normal")
                self.tainters.setdefault(zone, ZoneTainter(0.0, now)).swap_limiter(
                    self._qps_for(state, len(zone_conditions.get(zone, []))), now)
                self.zone_states[zone] = state
            return
        for zone, old in list(self.zone_states.items()):
            state = new_states.get(zone, old)
            if state == old:
                continue
            log.info("zone %r is now %s", zone.replace("\x00", ""), state)
            self.tainters.setdefault(zone, ZoneTainter(0.0, now)).swap_limiter(
                self._qps_for(state, len(zone_conditions.get(zone, []))), now)
            self.zone_states[zone] = state

    # -- events -------------------------------------------------------------------------------------------
    def _node_event(self, node: Obj, reason: str, message: str, status_change: bool = False) -> None:
        """RecordNodeEvent ("Node <name> event: <message>") / RecordNodeStatusChange (the message as given),
        about the Node by name and uid, in the default namespace."""
        md = node["metadata"]
        ref = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": md["name"], "uid": md.get("uid", "")}}
        text = message if status_change else f"Node {md['name']} event: {message}"
        self.rec.event(ref, "Normal", reason, text, COMPONENT)


def _copy(c: Obj | None) -> Obj | None:
    return dict(c) if c is not None else None
