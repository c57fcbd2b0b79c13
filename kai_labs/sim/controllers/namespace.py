"""The namespace controller (pkg/controller/namespace): empties a terminating namespace, then
finalizes it (the registry removes it and forgets its name counters)."""

from __future__ import annotations

from ..apimachinery import errors
from ..clientset import Client, Lister


class NamespaceController:
    def __init__(self, lister: Lister, client: Client) -> None:
        self.lister = lister
        self.client = client

    def sync(self, _: str, name: str) -> None:
        nso = self.lister.get("/namespaces", "", name)
        if nso is None or not nso["metadata"].get("deletionTimestamp"):
            return
        left = 0
        for key, kind in (("apps/deployments", "Deployment"), ("apps/replicasets", "ReplicaSet"),
                          ("/replicationcontrollers", "ReplicationController"),
                          ("/services", "Service"), ("/pods", "Pod"), ("/configmaps", "ConfigMap"),
                          ("discovery.k8s.io/endpointslices", "EndpointSlice"), ("/endpoints", "Endpoints"),
                          ("/serviceaccounts", "ServiceAccount"), ("/events", "Event"),
                          ("coordination.k8s.io/leases", "Lease"),
                          ("networking.k8s.io/networkpolicies", "NetworkPolicy"),
                          ("networking.k8s.io/ingresses", "Ingress")):
            for o in list(self.lister.iter(key, name)):
                left += 1
                if o["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.client.delete(kind, name, o["metadata"]["name"])
                except errors.ApiError as e:
                    if e.code != 404:
                        raise
        if left == 0:
            self.client.finalize_namespace(name)
