"""The EndpointSlice controller (pkg/controller/endpointslice): the slices of a Service's ready,
serving and terminating Pods; the rules themselves are pure, in :mod:`kai_labs.k8s.endpointslices`
(R18-R28)."""

from __future__ import annotations

from ...k8s import endpointslices as eps
from ..apimachinery import errors
from ..clientset import Client, Lister
from ..storage.store import Obj, clone


class EndpointSliceController:
    def __init__(self, lister: Lister, client: Client) -> None:
        self.lister = lister
        self.client = client
        self.max_per_slice = 100  # --max-endpoints-per-slice

    def slices_of(self, ns: str, name: str) -> list[Obj]:
        """The slices this controller manages for Service ns/name (cached, read-only)."""
        return [s for s in self.lister.iter("discovery.k8s.io/endpointslices", ns)
                if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name
                and (s["metadata"].get("labels") or {}).get("endpointslice.kubernetes.io/managed-by")
                == eps.MANAGED_BY]

    def sync(self, svc: Obj, slices: list[Obj], pods: list[Obj], nodes: dict[str, Obj], now: str) -> None:
        ns = svc["metadata"]["namespace"]
        changes = eps.reconcile_slices(svc, pods, nodes, [clone(s) for s in slices], now, self.max_per_slice)
        for obj in changes.create:
            self.client.create("EndpointSlice", ns, obj)
        for obj in changes.update:
            self.client.update("EndpointSlice", ns, obj["metadata"]["name"], obj)
        for sname in changes.delete:
            try:
                self.client.delete("EndpointSlice", ns, sname)
            except errors.ApiError as e:
                if e.code != 404:
                    raise
