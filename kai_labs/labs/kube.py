"""Reading the cluster as plain dicts, spelled the way the API spells them.

Every read the course layer makes goes through here: the official client with
``_preload_content=False``, so objects stay JSON dicts with ``targetPort``,
``clusterIP`` and friends, exactly as ``kubectl get -o json`` shows them. This
is the one module that converts between the client and plain values. Nothing
here writes to the cluster.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

CREATED_BY = "app.kubernetes.io/created-by"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _load(resp: Any) -> Any:
    return json.loads(resp.data)


def _not_found(exc: Any) -> bool:
    return getattr(exc, "status", None) == 404


def get_service(cluster: Any, name: str, namespace: str) -> Obj | None:
    from kubernetes.client.exceptions import ApiException

    try:
        out: Obj = _load(cluster.core().read_namespaced_service(name, namespace, _preload_content=False))
        return out
    except ApiException as e:
        if _not_found(e):
            return None
        raise


def get_namespace(cluster: Any, name: str) -> Obj | None:
    from kubernetes.client.exceptions import ApiException

    try:
        out: Obj = _load(cluster.core().read_namespace(name, _preload_content=False))
        return out
    except ApiException as e:
        if _not_found(e):
            return None
        raise


def items(resp: Any) -> list[Obj]:
    data = _load(resp)
    return list(data.get("items") or [])


def labels(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def selects(selector: dict[str, str] | None, lbls: dict[str, str]) -> bool:
    """R1: an equality-based AND over a plain map; an empty/absent selector selects nothing (R2)."""
    if not selector:
        return False
    return all(lbls.get(k) == v for k, v in selector.items())


def pod_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def pod_ip(pod: Obj) -> str | None:
    ip = (pod.get("status") or {}).get("podIP")
    return str(ip) if ip else None


def container_ports(pod: Obj) -> list[Obj]:
    """Every declared container port, in order, with the container's name added as ``container``."""
    out: list[Obj] = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            out.append({"container": c.get("name", ""), "name": p.get("name"), "containerPort": p.get("containerPort"),
                        "protocol": p.get("protocol", "TCP")})
    return out


def resolve_target_port(pod: Obj, svc_port: Obj) -> int | None:
    """R23: the number a Service port's targetPort resolves to for this Pod (None: named port not found)."""
    tp = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(tp, int):
        return tp
    if isinstance(tp, str) and tp.isdigit():
        return int(tp)
    proto = svc_port.get("protocol", "TCP")
    for p in container_ports(pod):
        if p["name"] == tp and p["protocol"] == proto:
            return int(p["containerPort"])
    return None


@dataclass
class Snapshot:
    """What one namespace looks like right now: the objects a Service's path goes through."""

    namespace: str
    exists: bool
    services: list[Obj] = field(default_factory=list)
    pods: list[Obj] = field(default_factory=list)
    slices: list[Obj] = field(default_factory=list)
    deployments: list[Obj] = field(default_factory=list)
    replicasets: list[Obj] = field(default_factory=list)
    taken_at: float = 0.0

    def service(self, svc: str) -> Obj | None:
        return next((s for s in self.services if name(s) == svc), None)

    def deployment(self, dep: str) -> Obj | None:
        return next((d for d in self.deployments if name(d) == dep), None)

    def slices_for(self, svc: str) -> list[Obj]:
        return sorted((s for s in self.slices if labels(s).get(SERVICE_NAME_LABEL) == svc), key=name)

    def live_pods(self) -> list[Obj]:
        """Pods that could be endpoints (R18): not terminal."""
        return [p for p in self.pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]

    def owner_deployment(self, pod: Obj) -> str | None:
        """The Deployment a Pod belongs to, through its ReplicaSet's ownerReferences."""
        for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
            if ref.get("kind") == "ReplicaSet":
                rs = next((r for r in self.replicasets if name(r) == ref.get("name")), None)
                if rs is None:
                    return None
                for rref in (rs.get("metadata") or {}).get("ownerReferences") or []:
                    if rref.get("kind") == "Deployment":
                        return str(rref.get("name"))
        return None

    def pods_of(self, dep: str) -> list[Obj]:
        return [p for p in self.live_pods() if self.owner_deployment(p) == dep]

    def settled(self, now: float | None = None, young: float = 4.0) -> tuple[bool, str]:
        """Has the namespace stopped changing? (rollouts done, no terminating Pods, slices caught up)."""
        for d in self.deployments:
            spec, st = d.get("spec") or {}, d.get("status") or {}
            want = int(spec.get("replicas", 1))
            if int(st.get("observedGeneration", 0)) < int(d["metadata"].get("generation", 0)):
                return False, f"Deployment {name(d)} has not observed its latest change yet"
            if int(st.get("replicas", 0)) != want or int(st.get("updatedReplicas", 0)) != want:
                return False, f"Deployment {name(d)} is rolling out ({st.get('updatedReplicas', 0)}/{want} updated)"
        for p in self.pods:
            if (p.get("metadata") or {}).get("deletionTimestamp"):
                return False, f"Pod {name(p)} is terminating"
        now = time.time() if now is None else now
        for p in self.live_pods():
            if not pod_ready(p):
                if _crash_looping(p) or _unschedulable(p):
                    continue  # a restart back-off or no node to run it: decided states, not a Pod still starting
                started = _started(p)
                if started is None or now - started < _decision_time(p, young):
                    return False, f"Pod {name(p)} is starting"
        for s in self.services:
            sel = (s.get("spec") or {}).get("selector")
            if not sel:
                continue
            # The controller publishes readiness too (ready = Pod Ready or publishNotReadyAddresses), and it
            # may lag the Pod's status: compare names *and* ready, or a grade can read a stale ready=false.
            publish = bool((s.get("spec") or {}).get("publishNotReadyAddresses"))
            want_refs = {(name(p), publish or pod_ready(p)) for p in self.live_pods()
                         if selects(sel, labels(p)) and pod_ip(p)}
            have = {((e.get("targetRef") or {}).get("name"), bool((e.get("conditions") or {}).get("ready", True)))
                    for sl in self.slices_for(name(s)) for e in sl.get("endpoints") or []}
            if want_refs != have:
                return False, f"EndpointSlices of Service {name(s)} are catching up"
        return True, "settled"


def _crash_looping(pod: Obj) -> bool:
    """A container waits in CrashLoopBackOff (pkg/kubelet/kuberuntime's restart back-off): it will only start
    to exit again, so the Pod is not "starting" for a grade to wait on."""
    return any(((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
               for cs in (pod.get("status") or {}).get("containerStatuses") or [])


def _unschedulable(pod: Obj) -> bool:
    """A Pending Pod the scheduler could not place (PodScheduled=False, reason Unschedulable): it waits for the
    cluster or its spec to change, not for time to pass."""
    return (pod.get("status") or {}).get("phase") == "Pending" and any(
        c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("reason") == "Unschedulable"
        for c in (pod.get("status") or {}).get("conditions") or [])


def _started(pod: Obj) -> float | None:
    """When the Pod's containers started running (else when it was created)."""
    times = [_ts(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
             for cs in (pod.get("status") or {}).get("containerStatuses") or []]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _decision_time(pod: Obj, default: float) -> float:
    """How long after start a not-ready Pod's readiness is decided: the probe's own timing, plus slack."""
    worst = 0.0
    for c in (pod.get("spec") or {}).get("containers") or []:
        pr = c.get("readinessProbe")
        if not pr:
            continue
        t = (float(pr.get("initialDelaySeconds", 0)) + float(pr.get("periodSeconds", 10))
             * float(pr.get("failureThreshold", 3)) + float(pr.get("timeoutSeconds", 1)))
        worst = max(worst, t)
    return (worst + 1.0) if worst else default


def _ts(text: Any) -> float | None:
    if not text:
        return None
    import datetime as dt

    try:
        return dt.datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()
    except ValueError:
        return None


def snapshot(cluster: Any, namespace: str) -> Snapshot:
    """Read the namespace's Services, Pods, EndpointSlices, Deployments and ReplicaSets."""
    if get_namespace(cluster, namespace) is None:
        return Snapshot(namespace, False, taken_at=time.time())
    core, apps, disc = cluster.core(), cluster.apps(), cluster.discovery()
    snap = Snapshot(
        namespace, True,
        services=sorted(items(core.list_namespaced_service(namespace, _preload_content=False)), key=name),
        pods=sorted(items(core.list_namespaced_pod(namespace, _preload_content=False)), key=name),
        slices=sorted(items(disc.list_namespaced_endpoint_slice(namespace, _preload_content=False)), key=name),
        deployments=sorted(items(apps.list_namespaced_deployment(namespace, _preload_content=False)), key=name),
        replicasets=sorted(items(apps.list_namespaced_replica_set(namespace, _preload_content=False)), key=name),
        taken_at=time.time(),
    )
    return snap


def pod_events(cluster: Any, namespace: str, pod: str) -> list[Obj]:
    resp = cluster.core().list_namespaced_event(namespace, field_selector=f"involvedObject.name={pod}",
                                                _preload_content=False)
    return items(resp)


def pod_log_tail(cluster: Any, namespace: str, pod: str, lines: int = 20) -> str:
    from kubernetes.client.exceptions import ApiException

    try:
        resp = cluster.core().read_namespaced_pod_log(pod, namespace, tail_lines=lines, _preload_content=False)
        return str(resp.data.decode(errors="replace"))
    except ApiException:
        return ""
