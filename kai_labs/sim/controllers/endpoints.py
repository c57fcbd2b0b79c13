"""The Endpoints controller (pkg/controller/endpoint): the legacy v1 Endpoints of a Service, from
the same Pods as its slices (rules in :mod:`kai_labs.k8s.endpointslices`)."""

from __future__ import annotations

from ...k8s import endpointslices as eps
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
