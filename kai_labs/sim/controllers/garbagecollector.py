"""The garbage collector (pkg/controller/garbagecollector): deletes dependents whose owners are
gone (background propagation) or deleting in the foreground, then removes the owner's
``foregroundDeletion`` finalizer when no dependent is left."""

from __future__ import annotations

from ..apimachinery import errors
from ..clientset import Client, Lister
from ..storage.store import Obj, clone

_KIND_OF_KEY = {"/pods": "Pod", "apps/replicasets": "ReplicaSet", "discovery.k8s.io/endpointslices": "EndpointSlice",
                "/endpoints": "Endpoints", "/events": "Event", "/configmaps": "ConfigMap",
                "coordination.k8s.io/leases": "Lease"}


class GarbageCollector:
    def __init__(self, lister: Lister, client: Client) -> None:
        self.lister = lister
        self.client = client

    def sync(self, key: str, uid: str) -> None:
        """The dependents of ``uid`` (an object of storage ``key`` deleted or being deleted)."""
        if not uid:
            return
        owner_alive = self._uid_alive(uid)
        for dkey in _KIND_OF_KEY:  # a node's Lease is owned by its Node
            for o in list(self.lister.iter(dkey)):
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
                kind = o.get("kind") or _KIND_OF_KEY[dkey]
                prop = "Foreground" if owner_alive is not None else "Background"
                try:
                    self.client.delete(kind, o["metadata"].get("namespace", ""), o["metadata"]["name"],
                                       propagation=prop, api_version=o.get("apiVersion", ""))
                except errors.ApiError as e:
                    if e.code != 404:
                        raise
        if owner_alive is not None:
            self._finish_foreground(owner_alive)

    def _uid_alive(self, uid: str) -> Obj | None:
        for key in ("apps/deployments", "apps/replicasets", "/replicationcontrollers", "/services", "/pods",
                    "/namespaces", "/nodes"):
            for o in self.lister.iter(key):
                if o["metadata"].get("uid") == uid:
                    return o
        return None

    def _finish_foreground(self, owner: Obj) -> None:
        md = owner["metadata"]
        if "foregroundDeletion" not in (md.get("finalizers") or []):
            return
        uid = md["uid"]
        for dkey in ("/pods", "apps/replicasets", "discovery.k8s.io/endpointslices", "/endpoints"):
            for o in self.lister.iter(dkey, md.get("namespace") or None):
                if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or []):
                    return
        owner = clone(owner)
        owner["metadata"]["finalizers"] = [f for f in md["finalizers"] if f != "foregroundDeletion"]
        self.client.update(owner["kind"], md.get("namespace", ""), md["name"], owner,
                           api_version=owner["apiVersion"])
