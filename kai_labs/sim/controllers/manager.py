"""Controllers: reconcile steps that read the store and write through the Api.

Each controller is ``reconcile(key)`` over current state, driven by a work queue
that store events fill (as kube-controller-manager's informers and queues do).
A test can call ``Controllers.drain()`` and step everything to quiescence.
Behaviour follows pkg/controller/{deployment,replicaset,endpointslice,endpoint,
garbagecollector,namespace} and the default scheduler's outcome (not its code).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
from collections.abc import Callable
from typing import Any

from ...k8s import endpointslices as eps
from ...k8s import labels
from ..apimachinery import errors
from ..registry.generic import Api, rt_of
from ..storage.store import Event, Obj, clone

log = logging.getLogger("kai_labs.controllers")

POD_TEMPLATE_HASH = "pod-template-hash"
LB_POOL = "kai-labs-lb-pool"
REVISION = "deployment.kubernetes.io/revision"


def _owner_ref(obj: Obj, kind: str, api_version: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def controller_uid(obj: Obj) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def pod_ready(pod: Obj) -> bool:
    for c in pod.get("status", {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def pod_active(pod: Obj) -> bool:
    return (pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
            and not pod["metadata"].get("deletionTimestamp"))


def template_hash(template: Obj, collisions: int = 0) -> str:
    """A stable short hash of a pod template (the role of ComputeHash in
    pkg/controller/controller_utils.go; the value differs from Go's, the use is the same)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")) + str(collisions)
    digest = hashlib.sha256(data.encode()).digest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    n = int.from_bytes(digest[:8], "big")
    out = ""
    for _ in range(10):
        out += alphabet[n % len(alphabet)]
        n //= len(alphabet)
    return out


def _int_or_percent(v: Any, total: int, round_up: bool) -> int:
    if v is None:
        return 0
    if isinstance(v, int):
        return v
    s = str(v)
    if s.endswith("%"):
        pct = int(s[:-1])
        q, r = divmod(pct * total, 100)
        return q + (1 if round_up and r else 0)
    return int(s)


class Recorder:
    """Writes core/v1 Events the way client-go's event recorder does (with counts)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._index: dict[tuple[str, str, str, str, str], str] = {}

    def event(self, obj: Obj, etype: str, reason: str, message: str, component: str,
              host: str = "", field_path: str = "") -> None:
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        now = self.api.now()
        ident = (ns, str(md.get("uid", "")), reason, message, field_path)
        known = self._index.get(ident)
        if known is not None:
            ev = self.api.store.get("/events", ns, known)
            if ev is not None:
                ev["count"] = int(ev.get("count", 1)) + 1
                ev["lastTimestamp"] = now
                self.api.store.put("/events", ev, "MODIFIED")
                return
        rt = rt_of(obj.get("kind", "Pod"), obj.get("apiVersion", ""))
        stamp = format(int(self.api.clock() * 1e9) + self.api.store.rv, "x")
        involved = {"kind": rt.kind, "namespace": md.get("namespace", ""), "name": md["name"],
                    "uid": md.get("uid", ""), "apiVersion": rt.api_version,
                    "resourceVersion": md.get("resourceVersion", "")}
        if not rt.namespaced:
            involved["namespace"] = ""
        if field_path:
            involved["fieldPath"] = field_path
        ev = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{md['name']}.{stamp}", "namespace": ns},
            "involvedObject": involved, "reason": reason, "message": message,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": etype,
            "eventTime": None, "reportingComponent": component, "reportingInstance": host,
        }
        # Events are written directly (trusted, already well-formed): they are the bulk of all writes.
        nso = self.api.store.peek("/namespaces", "", ns)
        if nso is None or nso["metadata"].get("deletionTimestamp"):
            return  # best effort, as client-go's recorder: no events into a namespace that is going away
        md_ev = ev["metadata"]
        md_ev["uid"] = self.api.ids.uid("/events", ns, md_ev["name"])
        md_ev["creationTimestamp"] = now
        self.api.store.put("/events", ev, "ADDED")
        self._index[ident] = md_ev["name"]


class Controllers:
    def __init__(self, api: Api, recorder: Recorder, kubelet_nodes: Callable[[], set[str]]) -> None:
        self.api = api
        self.rec = recorder
        self.kubelet_nodes = kubelet_nodes
        self.queue: dict[str, set[tuple[str, str]]] = {
            "deployment": set(), "replicaset": set(), "service": set(), "namespace": set(),
            "schedule": set(), "gc": set(),
        }
        self.on_work: Callable[[], None] = lambda: None
        self.max_per_slice = 100
        self._load: dict[tuple[str, str], int] | None = None  # scheduler's pods per (node, owner), per pass
        self.unschedulable: set[tuple[str, str]] = set()  # retried when capacity frees up
        self._svc_last: dict[tuple[str, str], float] = {}  # when each Service's slices were last synced
        self._deferred: set[tuple[str, str]] = set()
        self.on_later: Callable[[float], None] = lambda _delay: None

    # -- event fan-out -------------------------------------------------------
    def observe(self, ev: Event) -> None:
        md = ev.obj["metadata"]
        ns, name = md.get("namespace", ""), md["name"]
        q = self.queue
        if ev.key == "apps/deployments":
            q["deployment"].add((ns, name))
        elif ev.key == "apps/replicasets":
            q["replicaset"].add((ns, name))
            for ref in md.get("ownerReferences") or []:
                if ref.get("kind") == "Deployment":
                    q["deployment"].add((ns, ref["name"]))
        elif ev.key == "/pods":
            for ref in md.get("ownerReferences") or []:
                if ref.get("kind") == "ReplicaSet":
                    q["replicaset"].add((ns, ref["name"]))
            if ev.type != "DELETED" and controller_uid(ev.obj) is None and md.get("labels"):
                # an orphan (a released Pod, a bare Pod): any ReplicaSet whose selector matches may adopt it
                for rs in self.api.store.scan("apps/replicasets", ns):
                    if selector_matches(rs["spec"].get("selector"), md.get("labels")):
                        q["replicaset"].add((ns, rs["metadata"]["name"]))
            for svc in self.api.store.scan("/services", ns):
                q["service"].add((ns, svc["metadata"]["name"]))
            if ev.type != "DELETED" and not ev.obj.get("spec", {}).get("nodeName"):
                q["schedule"].add((ns, name))
            elif ev.type == "DELETED" and self.unschedulable:
                q["schedule"].update(self.unschedulable)
        elif ev.key == "/services":
            q["service"].add((ns, name))
        elif ev.key == "discovery.k8s.io/endpointslices":
            svc = (md.get("labels") or {}).get("kubernetes.io/service-name")
            if svc and (md.get("labels") or {}).get("endpointslice.kubernetes.io/managed-by") == eps.MANAGED_BY:
                q["service"].add((ns, svc))
        elif ev.key == "/configmaps" and ns == "kube-system" and name == LB_POOL:
            for svc in self.api.store.scan("/services"):
                if svc.get("spec", {}).get("type") == "LoadBalancer":
                    q["service"].add((svc["metadata"]["namespace"], svc["metadata"]["name"]))
        elif ev.key == "/nodes":
            q["schedule"].update(self.unschedulable)
            for svc in self.api.store.iter("/services"):
                q["service"].add((svc["metadata"]["namespace"], svc["metadata"]["name"]))
        elif ev.key == "/namespaces" and md.get("deletionTimestamp"):
            q["namespace"].add(("", name))
        if ev.type == "DELETED" or md.get("deletionTimestamp"):
            q["gc"].add((ev.key, md.get("uid", "")))
            if ns:
                q["namespace"].add(("", ns))
        self.on_work()

    def pending(self) -> bool:
        return any(self.queue.values())

    def drain(self, max_rounds: int = 200, budget: float | None = None) -> None:
        """Run queued reconciles until nothing is left, a round limit, or a time budget (seconds)."""
        import time

        order = ["gc", "namespace", "deployment", "replicaset", "schedule", "service"]
        start = time.monotonic()
        for _ in range(max_rounds):
            if not self.pending():
                return
            if budget is not None and time.monotonic() - start > budget:
                return
            for name in order:
                items = sorted(self.queue[name])
                self.queue[name].clear()
                if name == "schedule":
                    self._load = None
                for item in items:
                    if name == "service" and self._too_soon(item):
                        continue
                    try:
                        getattr(self, f"reconcile_{name}")(*item)
                    except errors.ApiError as e:
                        if e.code == 409:  # stale read: try again next round
                            self.queue[name].add(item)
                        elif e.code not in (404,):
                            log.warning("%s %s: %s", name, item, e)
                    except Exception:
                        log.exception("controller %s failed on %s", name, item)

    def _too_soon(self, item: tuple[str, str]) -> bool:
        """Batch EndpointSlice syncs of big Services (the role of kube-controller-manager's
        --endpointslice-updates-batch-period): a Service with n Pods is synced at most every n/4000 s
        (250 ms at 1,000 Pods; immediately for the handful of Pods a lesson has). A deferred sync runs
        later with everything that changed meanwhile."""
        import time

        n = self.api.store.count_ns("/pods", item[0])
        interval = min(0.25, n / 4000)
        if interval < 0.01:
            return False
        now = time.monotonic()
        last = self._svc_last.get(item, 0.0)
        if now - last >= interval:
            self._svc_last[item] = now
            return False
        self._deferred.add(item)
        self.on_later(interval - (now - last))
        return True

    def release_deferred(self) -> None:
        """Called when a deferred batch is due: queue those Services again."""
        self.queue["service"].update(self._deferred)
        self._deferred.clear()

    # -- Deployment ------------------------------------------------------------
    def _owned(self, key: str, ns: str, uid: str) -> list[Obj]:
        return sorted((o for o in self.api.store.scan(key, ns) if controller_uid(o) == uid),
                      key=lambda o: o["metadata"]["name"])

    def reconcile_deployment(self, ns: str, name: str) -> None:
        d = self.api.store.get("apps/deployments", ns, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        spec = d["spec"]
        desired = int(spec.get("replicas", 1))
        template = spec["template"]
        rss = self._owned("apps/replicasets", ns, d["metadata"]["uid"])
        h = template_hash(template)
        new = next((r for r in rss if (r["metadata"].get("labels") or {}).get(POD_TEMPLATE_HASH) == h), None)
        old = [r for r in rss if r is not new]
        max_rev = max([int((r["metadata"].get("annotations") or {}).get(REVISION, "0")) for r in rss] + [0])
        if new is None:
            rs_template = clone(template)
            rs_template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = h
            sel = clone(spec["selector"])
            sel.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = h
            rs = {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"{name}-{h}", "namespace": ns,
                             "labels": dict(rs_template["metadata"]["labels"]),
                             "annotations": {"deployment.kubernetes.io/desired-replicas": str(desired),
                                             "deployment.kubernetes.io/max-replicas": str(
                                                 desired + _int_or_percent(self._surge(d), desired, True)),
                                             REVISION: str(max_rev + 1)},
                             "ownerReferences": [_owner_ref(d, "Deployment", "apps/v1")]},
                "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds", 0),
                         "selector": sel, "template": rs_template},
            }
            try:
                new = self.api.create(rt_of("ReplicaSet"), ns, rs)
            except errors.ApiError as e:
                if e.code != 409:
                    raise
                return
            ann = d["metadata"].setdefault("annotations", {})
            ann[REVISION] = str(max_rev + 1)
            d = self.api.update(rt_of("Deployment"), ns, name, d)
        else:
            rev = (new["metadata"].get("annotations") or {}).get(REVISION, "0")
            if old and int(rev) < max_rev:  # rollback to an older template: it becomes the newest revision
                new["metadata"]["annotations"][REVISION] = str(max_rev + 1)
                new = self.api.update(rt_of("ReplicaSet"), ns, new["metadata"]["name"], new)
            if (d["metadata"].get("annotations") or {}).get(REVISION) != new["metadata"]["annotations"][REVISION]:
                d["metadata"].setdefault("annotations", {})[REVISION] = new["metadata"]["annotations"][REVISION]
                d = self.api.update(rt_of("Deployment"), ns, name, d)
        if spec.get("paused"):
            self._deployment_status(d, new, old)
            return
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        if strategy == "Recreate":
            self._recreate(d, new, old, desired)
        else:
            self._rolling(d, new, old, desired)
        self._deployment_status(d, new, old)
        self._cleanup_history(d, old)

    def _surge(self, d: Obj) -> Any:
        return ((d["spec"].get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge", "25%")

    def _scale_rs(self, d: Obj, rs: Obj, replicas: int) -> Obj:
        cur = int(rs["spec"].get("replicas", 0))
        if cur == replicas:
            return rs
        rs = self.api.store.get("apps/replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]) or rs
        rs["spec"]["replicas"] = replicas
        ann = rs["metadata"].setdefault("annotations", {})
        desired = int(d["spec"].get("replicas", 1))
        ann["deployment.kubernetes.io/desired-replicas"] = str(desired)
        ann["deployment.kubernetes.io/max-replicas"] = str(desired + _int_or_percent(self._surge(d), desired, True))
        rs = self.api.update(rt_of("ReplicaSet"), rs["metadata"]["namespace"], rs["metadata"]["name"], rs)
        verb = "up" if replicas > cur else "down"
        self.rec.event(d, "Normal", "ScalingReplicaSet",
                       f"Scaled {verb} replica set {rs['metadata']['name']} from {cur} to {replicas}",
                       "deployment-controller")
        return rs

    @staticmethod
    def _available(rs: Obj) -> int:
        return int(rs.get("status", {}).get("availableReplicas", 0))

    def _recreate(self, d: Obj, new: Obj, old: list[Obj], desired: int) -> None:
        for r in old:
            self._scale_rs(d, r, 0)
        ns = d["metadata"]["namespace"]
        running_old = [p for r in old for p in self._owned("/pods", ns, r["metadata"]["uid"])]
        if not running_old:
            self._scale_rs(d, new, desired)

    def _rolling(self, d: Obj, new: Obj, old: list[Obj], desired: int) -> None:
        ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        surge = _int_or_percent(ru.get("maxSurge", "25%"), desired, True)
        unavail = _int_or_percent(ru.get("maxUnavailable", "25%"), desired, False)
        if surge == 0 and unavail == 0:
            unavail = 1
        active_old = [r for r in old if int(r["spec"].get("replicas", 0)) > 0]
        if not active_old:
            self._scale_rs(d, new, desired)
            return
        # scale up the new ReplicaSet within maxSurge
        total = sum(int(r["spec"].get("replicas", 0)) for r in [new, *old])
        allowed = desired + surge
        new_rep = int(new["spec"].get("replicas", 0))
        if total < allowed and new_rep < desired:
            new = self._scale_rs(d, new, min(desired, new_rep + allowed - total))
        # scale down old ReplicaSets within maxUnavailable
        min_available = desired - unavail
        all_available = sum(self._available(r) for r in [new, *old])
        new_unavailable = int(new["spec"].get("replicas", 0)) - self._available(new)
        budget = all_available - min_available - max(0, new_unavailable - 0)
        budget = max(budget, 0)
        # unhealthy old replicas can always go first
        for r in sorted(old, key=lambda r: r["metadata"]["creationTimestamp"]):
            rep = int(r["spec"].get("replicas", 0))
            if rep == 0:
                continue
            unhealthy = max(0, rep - self._available(r))
            take = min(rep, unhealthy + budget)
            if take <= 0:
                continue
            budget -= max(0, take - unhealthy)
            self._scale_rs(d, r, rep - take)

    def _deployment_status(self, d: Obj, new: Obj | None, old: list[Obj]) -> None:
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        d = self.api.store.get("apps/deployments", ns, name) or d
        allrs = [r for r in ([new] if new else []) + old]
        allrs = [self.api.store.get("apps/replicasets", ns, r["metadata"]["name"]) or r for r in allrs]
        desired = int(d["spec"].get("replicas", 1))
        st = lambda r, k: int(r.get("status", {}).get(k, 0))  # noqa: E731
        replicas = sum(st(r, "replicas") for r in allrs)
        ready = sum(st(r, "readyReplicas") for r in allrs)
        available = sum(st(r, "availableReplicas") for r in allrs)
        updated = st(allrs[0], "replicas") if new else 0
        status: dict[str, Any] = {"observedGeneration": d["metadata"].get("generation", 1)}
        if replicas:
            status["replicas"] = replicas
        if updated:
            status["updatedReplicas"] = updated
        if ready:
            status["readyReplicas"] = ready
        if available:
            status["availableReplicas"] = available
        if desired - available > 0:
            status["unavailableReplicas"] = desired - available
        ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        min_avail = desired - _int_or_percent(ru.get("maxUnavailable", "25%"), desired, False)
        now = self.api.now()
        old_conds = {c["type"]: c for c in d.get("status", {}).get("conditions") or []}

        def cond(ctype: str, status_: str, reason: str, message: str) -> dict[str, Any]:
            prev = old_conds.get(ctype)
            c = {"type": ctype, "status": status_, "lastUpdateTime": now, "lastTransitionTime": now,
                 "reason": reason, "message": message}
            if prev and prev.get("status") == status_:
                c["lastTransitionTime"] = prev.get("lastTransitionTime", now)
                if prev.get("reason") == reason and prev.get("message") == message:
                    c["lastUpdateTime"] = prev.get("lastUpdateTime", now)
            return c

        avail = cond("Available", "True" if available >= min_avail else "False",
                     "MinimumReplicasAvailable" if available >= min_avail else "MinimumReplicasUnavailable",
                     "Deployment has minimum availability." if available >= min_avail
                     else "Deployment does not have minimum availability.")
        rsname = new["metadata"]["name"] if new else ""
        complete = new is not None and updated == desired and replicas == desired and available >= desired
        prog = cond("Progressing", "True", "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                    f'ReplicaSet "{rsname}" has successfully progressed.' if complete
                    else f'ReplicaSet "{rsname}" is progressing.')
        status["conditions"] = [avail, prog]
        if d.get("status") != status:
            # keep timestamps stable when nothing but them would change
            d["status"] = status
            self.api.put_status("Deployment", d)

    def _cleanup_history(self, d: Obj, old: list[Obj]) -> None:
        limit = int(d["spec"].get("revisionHistoryLimit", 10))
        dead = [r for r in old if int(r["spec"].get("replicas", 0)) == 0 and int(r.get("status", {}).get(
            "replicas", 0)) == 0]
        dead.sort(key=lambda r: int((r["metadata"].get("annotations") or {}).get(REVISION, "0")))
        for r in dead[:max(0, len(dead) - limit)]:
            self.api.delete(rt_of("ReplicaSet"), r["metadata"]["namespace"], r["metadata"]["name"])

    # -- ReplicaSet ------------------------------------------------------------
    def reconcile_replicaset(self, ns: str, name: str) -> None:
        rs = self.api.store.get("apps/replicasets", ns, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        uid = rs["metadata"]["uid"]
        self._claim_pods(rs)
        pods = self._owned("/pods", ns, uid)
        active = [p for p in pods if pod_active(p)]
        want = int(rs["spec"].get("replicas", 1))
        diff = want - len(active)
        if diff > 0:
            for _ in range(min(diff, 500)):
                tmpl = clone(rs["spec"]["template"])
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {**tmpl.get("metadata", {}), "generateName": f"{name}-", "namespace": ns,
                                    "ownerReferences": [_owner_ref(rs, "ReplicaSet", "apps/v1")]},
                       "spec": tmpl.get("spec", {})}
                pod["metadata"].pop("name", None)
                try:
                    created = self.api.create(rt_of("Pod"), ns, pod)
                except errors.ApiError as e:
                    self.rec.event(rs, "Warning", "FailedCreate", f"Error creating: {e.message}",
                                   "replicaset-controller")
                    break
                self.rec.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}",
                               "replicaset-controller")
        elif diff < 0:
            for p in sorted(active, key=self._deletion_rank)[: -diff]:
                try:
                    self.api.delete(rt_of("Pod"), ns, p["metadata"]["name"])
                except errors.ApiError as e:
                    if e.code != 404:
                        raise
                    continue
                self.rec.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {p['metadata']['name']}",
                               "replicaset-controller")
        pods = self._owned("/pods", ns, uid)
        active = [p for p in pods if pod_active(p)]
        ready = [p for p in active if pod_ready(p)]
        sel_labels = rs["spec"]["template"].get("metadata", {}).get("labels") or {}
        status: dict[str, Any] = {"replicas": len(active),
                                  "observedGeneration": rs["metadata"].get("generation", 1)}
        full = sum(1 for p in active if all((p["metadata"].get("labels") or {}).get(k) == v
                                             for k, v in sel_labels.items()))
        if full:
            status["fullyLabeledReplicas"] = full
        if ready:
            status["readyReplicas"] = len(ready)
            status["availableReplicas"] = len(ready)
        terminating = [p for p in pods if p["metadata"].get("deletionTimestamp")]
        if terminating:
            status["terminatingReplicas"] = len(terminating)
        if rs.get("status") != status:
            rs = self.api.store.get("apps/replicasets", ns, name) or rs
            rs["status"] = status
            self.api.put_status("ReplicaSet", rs)

    def _claim_pods(self, rs: Obj) -> None:
        """pkg/controller/controller_ref_manager.go ClaimObject, for a ReplicaSet's active Pods.

        An owned Pod whose labels no longer match the selector is released (its controller ownerReference
        removed), so the ReplicaSet replaces it; a matching orphan in the namespace is adopted. Relabelling a
        Pod therefore takes it out of its ReplicaSet, as on a real cluster, instead of keeping it counted.
        """
        md = rs["metadata"]
        if md.get("deletionTimestamp"):
            return
        ns, uid = md["namespace"], md["uid"]
        sel = labels.from_label_selector(rs["spec"].get("selector"))  # parsed once, not per Pod
        for p in list(self.api.store.scan("/pods", ns)):
            if not pod_active(p):
                continue
            pmd = p["metadata"]
            owner = controller_uid(p)
            if owner is not None and owner != uid:
                continue  # another controller's Pod: not ours to claim (and no selector to evaluate)
            matches = sel.matches(pmd.get("labels") or {})
            refs = list(pmd.get("ownerReferences") or [])
            if owner == uid and not matches:
                refs = [r for r in refs if r.get("uid") != uid]
            elif owner is None and matches:
                refs.append(_owner_ref(rs, "ReplicaSet", "apps/v1"))
            else:
                continue
            try:
                self.api.patch(rt_of("Pod"), ns, pmd["name"], "application/merge-patch+json",
                               {"metadata": {"ownerReferences": refs or None}})
            except errors.ApiError as e:
                if e.code not in (404, 409):
                    raise

    @staticmethod
    def _deletion_rank(p: Obj) -> tuple[int, int, int, str]:
        """pkg/controller/controller_utils.go ActivePods ordering: delete the least useful first."""
        assigned = 1 if p.get("spec", {}).get("nodeName") else 0
        phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(p.get("status", {}).get("phase", ""), 0)
        ready = 1 if pod_ready(p) else 0
        # newer pods first: invert the creation timestamp ordering by using a negative key below
        return (assigned, phase_rank, ready, "".join(chr(255 - ord(c)) for c in
                                                     p["metadata"].get("creationTimestamp", "")))

    # -- scheduler ---------------------------------------------------------------
    def reconcile_schedule(self, ns: str, name: str) -> None:
        pod = self.api.store.get("/pods", ns, name)
        if pod is None or pod.get("spec", {}).get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return
        all_nodes = list(self.api.store.iter("/nodes"))
        if self._load is None:
            self._count_load()
        assert self._load is not None
        wanted = pod["spec"].get("nodeSelector") or {}
        reasons: dict[str, int] = {}
        nodes = []
        for n in all_nodes:
            why = self._unfit(n, pod, wanted)
            if why:
                reasons[why] = reasons.get(why, 0) + 1
            else:
                nodes.append(n)
        if not nodes:
            # the scheduler's FitError text (pkg/scheduler/framework/types.go: FitError.Error)
            detail = ", ".join(sorted(f"{c} {r}" for r, c in reasons.items()))
            msg = f"0/{len(all_nodes)} nodes are available: {detail}."
            old = [c for c in pod.get("status", {}).get("conditions") or [] if c.get("type") == "PodScheduled"]
            conds = [c for c in pod.get("status", {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                          "lastTransitionTime": self.api.now(), "reason": "Unschedulable", "message": msg})
            if not old or old[0].get("message") != msg or old[0].get("status") != "False":
                pod.setdefault("status", {})["conditions"] = conds
                self.api.store.put("/pods", pod, "MODIFIED")
                self.rec.event(pod, "Warning", "FailedScheduling", msg, "default-scheduler")
            self.unschedulable.add((ns, name))
            return
        self.unschedulable.discard((ns, name))
        owner = controller_uid(pod) or ""
        load = self._load
        names = [n["metadata"]["name"] for n in nodes]
        best = min(names, key=lambda n: (load.get((n, owner), 0) if owner else 0, load.get((n, "*"), 0), n))
        self.bind(pod, best)
        load[(best, owner)] = load.get((best, owner), 0) + 1
        load[(best, "*")] = load.get((best, "*"), 0) + 1

    def _count_load(self) -> None:
        self._load = {}
        for p in self.api.store.scan("/pods"):
            nn = p.get("spec", {}).get("nodeName")
            if nn and pod_active(p):
                k = (nn, controller_uid(p) or "")
                self._load[k] = self._load.get(k, 0) + 1
                self._load[(nn, "*")] = self._load.get((nn, "*"), 0) + 1

    def _unfit(self, node: Obj, pod: Obj, wanted: dict[str, str]) -> str:
        """Why a node cannot take the pod, in the scheduler plugins' words ("" when it fits)."""
        if node.get("spec", {}).get("unschedulable"):
            return "node(s) were unschedulable"
        if not self._schedulable(node, pod):
            taints = [t for t in node.get("spec", {}).get("taints") or []
                      if t.get("effect") in ("NoSchedule", "NoExecute")]
            t = taints[0] if taints else {}
            return f"node(s) had untolerated taint {{{t.get('key', '')}: {t.get('value', '')}}}"
        labels = node["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in wanted.items()):
            return "node(s) didn't match Pod's node affinity/selector"
        try:
            cap = int(node.get("status", {}).get("allocatable", {}).get("pods", "110"))
        except ValueError:
            cap = 110
        assert self._load is not None
        if self._load.get((node["metadata"]["name"], "*"), 0) >= cap:
            return "Too many pods"
        return ""

    def bind(self, pod: Obj, node: str) -> Obj:
        pod["spec"]["nodeName"] = node
        conds = [c for c in pod.get("status", {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": self.api.now()})
        pod.setdefault("status", {})["conditions"] = conds
        md = pod["metadata"]
        new = self.api.store.put("/pods", pod, "MODIFIED")
        self.rec.event(new, "Normal", "Scheduled", f"Successfully assigned {md['namespace']}/{md['name']} to {node}",
                       "default-scheduler")
        return new

    @staticmethod
    def _schedulable(node: Obj, pod: Obj) -> bool:
        if node.get("spec", {}).get("unschedulable"):
            return False
        tolerations = pod.get("spec", {}).get("tolerations") or []
        for taint in node.get("spec", {}).get("taints") or []:
            if taint.get("effect") not in ("NoSchedule", "NoExecute"):
                continue
            ok = False
            for t in tolerations:
                if (t.get("operator") == "Exists" and not t.get("key")) or (
                        t.get("key") == taint.get("key") and (
                            t.get("operator") == "Exists" or t.get("value", "") == taint.get("value", "")) and (
                            not t.get("effect") or t.get("effect") == taint.get("effect"))):
                    ok = True
            if not ok:
                return False
        return True

    # -- EndpointSlices and Endpoints ----------------------------------------------
    def reconcile_service(self, ns: str, name: str) -> None:
        svc = self.api.store.get("/services", ns, name)
        slices = [s for s in self.api.store.iter("discovery.k8s.io/endpointslices", ns)
                  if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name
                  and (s["metadata"].get("labels") or {}).get("endpointslice.kubernetes.io/managed-by")
                  == eps.MANAGED_BY]
        rt_slice = rt_of("EndpointSlice")
        if svc is None or svc["metadata"].get("deletionTimestamp"):
            return  # garbage collection removes owned slices and endpoints
        self._load_balancer(svc)
        pods = list(self.api.store.iter("/pods", ns))
        nodes = {n["metadata"]["name"]: n for n in self.api.store.iter("/nodes")}
        now = self.api.now()
        changes = eps.reconcile_slices(svc, pods, nodes, [clone(s) for s in slices], now,
                                       self.max_per_slice)
        for obj in changes.create:
            self.api.create(rt_slice, ns, obj)
        for obj in changes.update:
            self.api.update(rt_slice, ns, obj["metadata"]["name"], obj)
        for sname in changes.delete:
            try:
                self.api.delete(rt_slice, ns, sname)
            except errors.ApiError as e:
                if e.code != 404:
                    raise
        self._reconcile_endpoints(svc, pods, nodes, now)

    def _load_balancer(self, svc: Obj) -> None:
        """The service controller's half with a load-balancer provider: without one (kind's default)
        EXTERNAL-IP stays <pending> (R51). A pool in ConfigMap kube-system/kai-labs-lb-pool
        (``addresses: 172.18.255.200-172.18.255.250``) plays cloud-provider-kind / MetalLB."""
        ingress = (svc.get("status", {}).get("loadBalancer") or {}).get("ingress")
        is_lb = svc.get("spec", {}).get("type") == "LoadBalancer"
        if not is_lb:
            if ingress:
                svc["status"] = {"loadBalancer": {}}
                self.api.put_status("Service", svc)
            return
        if ingress:
            return
        pool = self.api.store.peek("/configmaps", "kube-system", LB_POOL)
        rng = ((pool or {}).get("data") or {}).get("addresses", "")
        try:
            lo, _, hi = rng.partition("-")
            first, last = ipaddress.ip_address(lo.strip()), ipaddress.ip_address((hi or lo).strip())
        except ValueError:
            return
        used = {i.get("ip") for s in self.api.store.scan("/services")
                for i in (s.get("status", {}).get("loadBalancer") or {}).get("ingress") or []}
        ip = first
        while ip <= last and str(ip) in used:
            ip += 1
        if ip > last:
            self.rec.event(svc, "Warning", "AllocationFailed", f"no free address left in {rng}",
                           "service-controller")
            return
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": str(ip), "ipMode": "VIP"}]}}
        self.api.put_status("Service", svc)
        self.rec.event(svc, "Normal", "EnsuredLoadBalancer", "Ensured load balancer", "service-controller")

    def _reconcile_endpoints(self, svc: Obj, pods: list[Obj], nodes: dict[str, Obj], now: str) -> None:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        want = eps.desired_endpoints(svc, pods, nodes, now)
        cur = self.api.store.get("/endpoints", ns, name)
        rt_ep = rt_of("Endpoints")
        if want is None:
            return
        if cur is None:
            self.api.create(rt_ep, ns, want)
            return
        if not eps.endpoints_need_write(cur, want):
            return
        want["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        self.api.update(rt_ep, ns, name, want)

    # -- garbage collection --------------------------------------------------------
    def reconcile_gc(self, key: str, uid: str) -> None:
        if not uid:
            return
        store = self.api.store
        owner_alive = self._uid_alive(uid)
        for dkey in ("/pods", "apps/replicasets", "discovery.k8s.io/endpointslices", "/endpoints",
                     "/events", "/configmaps"):
            for o in list(store.iter(dkey)):
                refs = o["metadata"].get("ownerReferences") or []
                if not any(r.get("uid") == uid for r in refs):
                    continue
                if owner_alive is not None and not owner_alive["metadata"].get("deletionTimestamp"):
                    continue
                if owner_alive is not None and "foregroundDeletion" not in (
                        owner_alive["metadata"].get("finalizers") or []):
                    continue  # owner terminating gracefully, not in foreground: wait
                # every owner must be gone (or deleting in foreground) for a dependent to go
                if any(self._uid_alive(r.get("uid", "")) is not None and r.get("uid") != uid for r in refs):
                    continue
                rt = rt_of(o.get("kind") or _kind_for_key(dkey), o.get("apiVersion", ""))
                prop = "Foreground" if owner_alive is not None else "Background"
                try:
                    self.api.delete(rt, o["metadata"].get("namespace", ""), o["metadata"]["name"],
                                    propagation=prop)
                except errors.ApiError as e:
                    if e.code != 404:
                        raise
        if owner_alive is not None:
            self._finish_foreground(owner_alive)

    def _uid_alive(self, uid: str) -> Obj | None:
        for key in ("apps/deployments", "apps/replicasets", "/services", "/pods", "/namespaces", "/nodes"):
            for o in self.api.store.iter(key):
                if o["metadata"].get("uid") == uid:
                    return o
        return None

    def _finish_foreground(self, owner: Obj) -> None:
        md = owner["metadata"]
        if "foregroundDeletion" not in (md.get("finalizers") or []):
            return
        uid = md["uid"]
        for dkey in ("/pods", "apps/replicasets", "discovery.k8s.io/endpointslices", "/endpoints"):
            for o in self.api.store.iter(dkey, md.get("namespace") or None):
                if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or []):
                    return
        owner = clone(owner)
        owner["metadata"]["finalizers"] = [f for f in md["finalizers"] if f != "foregroundDeletion"]
        rt = rt_of(owner["kind"], owner["apiVersion"])
        self.api.update(rt, md.get("namespace", ""), md["name"], owner)

    # -- namespaces ----------------------------------------------------------------
    def reconcile_namespace(self, _: str, name: str) -> None:
        nso = self.api.store.get("/namespaces", "", name)
        if nso is None or not nso["metadata"].get("deletionTimestamp"):
            return
        left = 0
        for key, kind in (("apps/deployments", "Deployment"), ("apps/replicasets", "ReplicaSet"),
                          ("/services", "Service"), ("/pods", "Pod"), ("/configmaps", "ConfigMap"),
                          ("discovery.k8s.io/endpointslices", "EndpointSlice"), ("/endpoints", "Endpoints"),
                          ("/serviceaccounts", "ServiceAccount"), ("/events", "Event")):
            for o in list(self.api.store.iter(key, name)):
                left += 1
                if o["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.api.delete(rt_of(kind), name, o["metadata"]["name"])
                except errors.ApiError as e:
                    if e.code != 404:
                        raise
        if left == 0:
            self.api.store.remove("/namespaces", "", name)
            self.api.ids.drop_namespace(name)


def _kind_for_key(key: str) -> str:
    return {"/pods": "Pod", "apps/replicasets": "ReplicaSet", "discovery.k8s.io/endpointslices": "EndpointSlice",
            "/endpoints": "Endpoints", "/events": "Event", "/configmaps": "ConfigMap"}[key]


def selector_matches(selector: dict[str, Any] | None, lbls: dict[str, str] | None) -> bool:
    return labels.from_label_selector(selector).matches(lbls or {})
