"""The ReplicaSet controller (pkg/controller/replicaset): keeps ``replicas`` active Pods, claims
them by selector (releases relabelled ones, adopts matching orphans) and writes status."""

from __future__ import annotations

from typing import Any

from ...k8s import labels
from ..apimachinery import errors
from ..clientset import Client, Lister
from ..events import Recorder
from ..storage.store import Obj, clone
from .util import controller_uid, owned, owner_ref, pod_active, pod_ready

COMPONENT = "replicaset-controller"


class ReplicaSetController:
    # what it keeps; the ReplicationController manager is this controller over another kind (as upstream's
    # pkg/controller/replication wraps the ReplicaSet controller: controllers/replication.py)
    KEY = "apps/replicasets"
    KIND = "ReplicaSet"
    API_VERSION = "apps/v1"
    COMPONENT = COMPONENT
    STATUS_TERMINATING = True  # status.terminatingReplicas (a ReplicaSet field; not a ReplicationController's)

    def selector(self, obj: Obj) -> labels.Selector:
        """The object's Pod selector (a LabelSelector here)."""
        return labels.from_label_selector(obj["spec"].get("selector"))

    def __init__(self, lister: Lister, client: Client, recorder: Recorder) -> None:
        self.lister = lister
        self.client = client
        self.rec = recorder

    def sync(self, ns: str, name: str) -> None:
        rs = self.lister.get(self.KEY, ns, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        uid = rs["metadata"]["uid"]
        self._claim_pods(rs)
        pods = owned(self.lister, "/pods", ns, uid)
        active = [p for p in pods if pod_active(p)]
        want = int(rs["spec"].get("replicas", 1))
        diff = want - len(active)
        failed: errors.ApiError | None = None
        if diff > 0:
            for _ in range(min(diff, 500)):
                tmpl = clone(rs["spec"]["template"])
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {**tmpl.get("metadata", {}), "generateName": f"{name}-", "namespace": ns,
                                    "ownerReferences": [owner_ref(rs, self.KIND, self.API_VERSION)]},
                       "spec": tmpl.get("spec", {})}
                pod["metadata"].pop("name", None)
                try:
                    created = self.client.create("Pod", ns, pod)
                except errors.ApiError as e:
                    self.rec.event(rs, "Warning", "FailedCreate", f"Error creating: {e.message}",
                                   self.COMPONENT)
                    failed = e  # syncReplicaSet returns it after the status update: the key is retried
                    break
                self.rec.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}",
                               self.COMPONENT)
        elif diff < 0:
            for p in sorted(active, key=deletion_rank)[: -diff]:
                try:
                    self.client.delete("Pod", ns, p["metadata"]["name"])
                except errors.ApiError as e:
                    if e.code != 404:
                        raise
                    continue
                self.rec.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {p['metadata']['name']}",
                               self.COMPONENT)
        if diff:
            pods = owned(self.lister, "/pods", ns, uid)
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
        if terminating and self.STATUS_TERMINATING:
            status["terminatingReplicas"] = len(terminating)
        if rs.get("status") != status:
            rs = self.lister.get(self.KEY, ns, name) or rs
            rs["status"] = status
            self.client.update_status(self.KIND, rs)
        if failed is not None:
            raise failed

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
        sel = self.selector(rs)  # parsed once, not per Pod
        # only our Pods and the orphans can change hands (getRSPods reads the controller-UID and orphan
        # indexes, not every Pod of the namespace); another controller's Pod is never ours to claim. Of ours,
        # only one whose labels changed can have left the selector: the selector is immutable and the Pods
        # we create carry the template's labels, which validation makes match it.
        relabelled = self.lister.relabelled("/pods", ns, uid)
        retry: set[str] = set()  # a conflict: looked at again at the next sync
        for p in relabelled + self.lister.controlled_by("/pods", ns, ""):
            if not pod_active(p):
                continue
            pmd = p["metadata"]
            owner = controller_uid(p)
            if owner is not None and owner != uid:
                continue
            matches = sel.matches(pmd.get("labels") or {})
            refs = list(pmd.get("ownerReferences") or [])
            if owner == uid and not matches:
                refs = [r for r in refs if r.get("uid") != uid]
            elif owner is None and matches:
                refs.append(owner_ref(rs, self.KIND, self.API_VERSION))
            else:
                continue
            try:
                self.client.patch("Pod", ns, pmd["name"], "application/merge-patch+json",
                                  {"metadata": {"ownerReferences": refs or None}})
            except errors.ApiError as e:
                if e.code not in (404, 409):
                    raise  # nothing marked seen: the retried sync looks at every relabelled Pod again
                retry.add(pmd["name"])
        self.lister.relabelled_seen("/pods", ns, uid, (p["metadata"]["name"] for p in relabelled
                                                       if p["metadata"]["name"] not in retry))


def deletion_rank(p: Obj) -> tuple[int, int, int, str]:
    """pkg/controller/controller_utils.go ActivePods ordering: delete the least useful first."""
    assigned = 1 if p.get("spec", {}).get("nodeName") else 0
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(p.get("status", {}).get("phase", ""), 0)
    ready = 1 if pod_ready(p) else 0
    # newer pods first: invert the creation timestamp ordering by using a negative key below
    return (assigned, phase_rank, ready, "".join(chr(255 - ord(c)) for c in
                                                 p["metadata"].get("creationTimestamp", "")))
