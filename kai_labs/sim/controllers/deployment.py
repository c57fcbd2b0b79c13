"""The Deployment controller (pkg/controller/deployment): a ReplicaSet per pod template (named by
its hash), rolling updates within maxSurge/maxUnavailable or Recreate, revisions, rollbacks, status
conditions, revision history cleanup."""

from __future__ import annotations

import json
from typing import Any

from ..apimachinery import errors
from ..clientset import Client, Lister
from ..events import Recorder
from ..storage.store import Obj, clone
from .util import owned, owner_ref

POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
COMPONENT = "deployment-controller"


# k8s.io/apimachinery/pkg/util/rand: the alphabet of random and safe-encoded strings (no vowels, no 0/1/3).
SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes) -> int:
    """FNV-1a, 32 bits (Go's hash/fnv New32a): the hash ComputeHash feeds the template into."""
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """apimachinery/pkg/util/rand SafeEncodeString: each character c becomes alphanums[ord(c) % 27]."""
    return "".join(SAFE_ALPHANUMS[ord(c) % len(SAFE_ALPHANUMS)] for c in s)


def template_hash(template: Obj, collision_count: int | None = None) -> str:
    """The pod-template-hash, shaped as pkg/controller/controller_utils.go ComputeHash makes it: FNV-32a
    over the template, then the collision count (when the Deployment has one) as 8 little-endian bytes,
    and the hash's DECIMAL text safe-encoded, one character per digit. So a hash is 1-10 characters of
    ``4 5 6 7 8 9 b c d f`` (the images of '0'-'9'), almost always 9 or 10 (``web-7c5ddbdf54``).

    Upstream feeds FNV the template as printed by a go-spew deep-hash printer (pkg/util/hash
    DeepHashObject) over Go structs; that text cannot be reproduced byte for byte from JSON, so we hash
    canonical JSON instead: the value differs from a real cluster's for the same template, the shape,
    the alphabet and the stability (same template, same hash) are Kubernetes'."""
    hasher = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        hasher += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4)
    return safe_encode(str(fnv32a(hasher)))


def int_or_percent(v: Any, total: int, round_up: bool) -> int:
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


def _st(rs: Obj, key: str) -> int:
    return int(rs.get("status", {}).get(key, 0))


class DeploymentController:
    def __init__(self, lister: Lister, client: Client, recorder: Recorder) -> None:
        self.lister = lister
        self.client = client
        self.rec = recorder

    def sync(self, ns: str, name: str) -> None:
        d = self.lister.get("apps/deployments", ns, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        spec = d["spec"]
        desired = int(spec.get("replicas", 1))
        template = spec["template"]
        rss = owned(self.lister, "apps/replicasets", ns, d["metadata"]["uid"])
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
                                                 desired + int_or_percent(self._surge(d), desired, True)),
                                             REVISION: str(max_rev + 1)},
                             "ownerReferences": [owner_ref(d, "Deployment", "apps/v1")]},
                "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds", 0),
                         "selector": sel, "template": rs_template},
            }
            try:
                new = self.client.create("ReplicaSet", ns, rs)
            except errors.ApiError as e:
                if e.code != 409:
                    raise
                return
            ann = d["metadata"].setdefault("annotations", {})
            ann[REVISION] = str(max_rev + 1)
            d = self.client.update("Deployment", ns, name, d)
        else:
            rev = (new["metadata"].get("annotations") or {}).get(REVISION, "0")
            if old and int(rev) < max_rev:  # rollback to an older template: it becomes the newest revision
                new["metadata"]["annotations"][REVISION] = str(max_rev + 1)
                new = self.client.update("ReplicaSet", ns, new["metadata"]["name"], new)
            if (d["metadata"].get("annotations") or {}).get(REVISION) != new["metadata"]["annotations"][REVISION]:
                d["metadata"].setdefault("annotations", {})[REVISION] = new["metadata"]["annotations"][REVISION]
                d = self.client.update("Deployment", ns, name, d)
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
        rs = self.lister.get("apps/replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]) or rs
        rs["spec"]["replicas"] = replicas
        ann = rs["metadata"].setdefault("annotations", {})
        desired = int(d["spec"].get("replicas", 1))
        ann["deployment.kubernetes.io/desired-replicas"] = str(desired)
        ann["deployment.kubernetes.io/max-replicas"] = str(desired + int_or_percent(self._surge(d), desired, True))
        rs = self.client.update("ReplicaSet", rs["metadata"]["namespace"], rs["metadata"]["name"], rs)
        verb = "up" if replicas > cur else "down"
        self.rec.event(d, "Normal", "ScalingReplicaSet",
                       f"Scaled {verb} replica set {rs['metadata']['name']} from {cur} to {replicas}",
                       COMPONENT)
        return rs

    @staticmethod
    def _available(rs: Obj) -> int:
        return int(rs.get("status", {}).get("availableReplicas", 0))

    def _recreate(self, d: Obj, new: Obj, old: list[Obj], desired: int) -> None:
        for r in old:
            self._scale_rs(d, r, 0)
        ns = d["metadata"]["namespace"]
        running_old = [p for r in old for p in owned(self.lister, "/pods", ns, r["metadata"]["uid"])]
        if not running_old:
            self._scale_rs(d, new, desired)

    def _rolling(self, d: Obj, new: Obj, old: list[Obj], desired: int) -> None:
        ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        surge = int_or_percent(ru.get("maxSurge", "25%"), desired, True)
        unavail = int_or_percent(ru.get("maxUnavailable", "25%"), desired, False)
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
        d = self.lister.get("apps/deployments", ns, name) or d
        allrs = [r for r in ([new] if new else []) + old]
        allrs = [self.lister.get("apps/replicasets", ns, r["metadata"]["name"]) or r for r in allrs]
        desired = int(d["spec"].get("replicas", 1))
        replicas = sum(_st(r, "replicas") for r in allrs)
        ready = sum(_st(r, "readyReplicas") for r in allrs)
        available = sum(_st(r, "availableReplicas") for r in allrs)
        updated = _st(allrs[0], "replicas") if new else 0
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
        min_avail = desired - int_or_percent(ru.get("maxUnavailable", "25%"), desired, False)
        now = self.client.now()
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
            self.client.update_status("Deployment", d)

    def _cleanup_history(self, d: Obj, old: list[Obj]) -> None:
        limit = int(d["spec"].get("revisionHistoryLimit", 10))
        dead = [r for r in old if int(r["spec"].get("replicas", 0)) == 0 and int(r.get("status", {}).get(
            "replicas", 0)) == 0]
        dead.sort(key=lambda r: int((r["metadata"].get("annotations") or {}).get(REVISION, "0")))
        for r in dead[:max(0, len(dead) - limit)]:
            self.client.delete("ReplicaSet", r["metadata"]["namespace"], r["metadata"]["name"])
