"""The Endpoints controller (pkg/controller/endpoint): the legacy v1 Endpoints of a Service, from
the same Pods as its slices (rules in :mod:`kai_labs.k8s.endpointslices`).

Endpoints carry no ownerReference, so garbage collection never removes them: the controller deletes
the Endpoints of a Service that is gone (endpoints_controller.go syncService: the Service is not
found, so its Endpoints are deleted, whoever wrote them)."""

from __future__ import annotations

from ...k8s import endpointslices as eps
from ..apimachinery import errors
from ..clientset import Client, Lister
from ..storage.store import Obj


class EndpointsController:
    def __init__(self, lister: Lister, client: Client) -> None:
        self.lister = lister
        self.client = client

    def sync(self, svc: Obj, pods: list[Obj], nodes: dict[str, Obj], now: str) -> None:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        want = eps.desired_endpoints(svc, pods, nodes, now)
        cur = self.lister.get("/endpoints", ns, name)
        if want is None:
            return
        if cur is None:
            self.client.create("Endpoints", ns, want)
            return
        if not eps.endpoints_need_write(cur, want):
            return
        want["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        self.client.update("Endpoints", ns, name, want)

    def service_gone(self, ns: str, name: str) -> None:
        """The Service ``ns/name`` no longer exists: its Endpoints go too."""
        if self.lister.peek("/endpoints", ns, name) is None:
            return
        try:
            self.client.delete("Endpoints", ns, name)
        except errors.ApiError as e:
            if e.code != 404:
                raise
