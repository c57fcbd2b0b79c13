"""kube-controller-manager in miniature: work queues filled from store events, drained in bounded
time slices.

Each controller (one module each: deployment, replicaset, endpointslice, endpoints, service,
garbagecollector, namespace) is ``sync(key)`` over current state; it reads through a
:class:`~kai_labs.sim.clientset.Lister` and writes through a :class:`~kai_labs.sim.clientset.Client`
(the registry). The scheduler (:mod:`kai_labs.sim.scheduler`) is driven from the same loop, as its
own component. A test can call ``Controllers.drain()`` and step everything to quiescence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ...k8s import endpointslices as eps
from ..apimachinery import errors
from ..clientset import Client, Lister
from ..events import Recorder
from ..registry.generic import Api
from ..scheduler import Scheduler
from ..storage.store import Event, Obj
from .deployment import DeploymentController
from .endpoints import EndpointsController
from .endpointslice import EndpointSliceController
from .garbagecollector import GarbageCollector
from .namespace import NamespaceController
from .replicaset import ReplicaSetController
from .service import LB_POOL, ServiceController
from .util import controller_uid, selector_matches

log = logging.getLogger("kai_labs.controllers")


class Controllers:
    def __init__(self, api: Api, recorder: Recorder, kubelet_nodes: Callable[[], set[str]]) -> None:
        self.lister = Lister(api.store)
        self.client = Client(api)
        self.rec = recorder
        self.kubelet_nodes = kubelet_nodes
        self.queue: dict[str, set[tuple[str, str]]] = {
            "deployment": set(), "replicaset": set(), "service": set(), "namespace": set(),
            "schedule": set(), "gc": set(),
        }
        self.deployments = DeploymentController(self.lister, self.client, recorder)
        self.replicasets = ReplicaSetController(self.lister, self.client, recorder)
        self.scheduler = Scheduler(self.lister, self.client, recorder)
        self.services = ServiceController(self.lister, self.client, recorder)
        self.endpointslices = EndpointSliceController(self.lister, self.client)
        self.endpoints = EndpointsController(self.lister, self.client)
        self.gc = GarbageCollector(self.lister, self.client)
        self.namespaces = NamespaceController(self.lister, self.client)
        self._order: list[tuple[str, Callable[[str, str], None]]] = [
            ("gc", self.gc.sync), ("namespace", self.namespaces.sync), ("deployment", self.deployments.sync),
            ("replicaset", self.replicasets.sync), ("schedule", self.scheduler.schedule),
            ("service", self.sync_service)]
        self.on_work: Callable[[], None] = lambda: None
        self._svc_last: dict[tuple[str, str], float] = {}  # when each Service's slices were last synced
        self._deferred: set[tuple[str, str]] = set()
        self.on_later: Callable[[float], None] = lambda _delay: None

    @property
    def max_per_slice(self) -> int:
        return self.endpointslices.max_per_slice

    @max_per_slice.setter
    def max_per_slice(self, n: int) -> None:
        self.endpointslices.max_per_slice = n

    def bind(self, pod: Obj, node: str) -> Obj:
        """pods/binding (the API server delegates it here): the scheduler's bind."""
        return self.scheduler.bind(pod, node)

    def sync_service(self, ns: str, name: str) -> None:
        """One Service's turn: load-balancer status, then its EndpointSlices, then its Endpoints."""
        svc = self.lister.get("/services", ns, name)
        slices = self.endpointslices.slices_of(ns, name)
        if svc is None or svc["metadata"].get("deletionTimestamp"):
            return  # garbage collection removes owned slices and endpoints
        self.services.sync(svc)
        pods = list(self.lister.iter("/pods", ns))
        nodes = {n["metadata"]["name"]: n for n in self.lister.iter("/nodes")}
        now = self.client.now()
        self.endpointslices.sync(svc, slices, pods, nodes, now)
        self.endpoints.sync(svc, pods, nodes, now)

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
                for rs in self.lister.scan("apps/replicasets", ns):
                    if selector_matches(rs["spec"].get("selector"), md.get("labels")):
                        q["replicaset"].add((ns, rs["metadata"]["name"]))
            for svc in self.lister.scan("/services", ns):
                q["service"].add((ns, svc["metadata"]["name"]))
            if ev.type != "DELETED" and not ev.obj.get("spec", {}).get("nodeName"):
                q["schedule"].add((ns, name))
            elif ev.type == "DELETED" and self.scheduler.unschedulable:
                q["schedule"].update(self.scheduler.unschedulable)
        elif ev.key == "/services":
            q["service"].add((ns, name))
        elif ev.key == "discovery.k8s.io/endpointslices":
            svc_name = (md.get("labels") or {}).get("kubernetes.io/service-name")
            if svc_name and (md.get("labels") or {}).get("endpointslice.kubernetes.io/managed-by") == eps.MANAGED_BY:
                q["service"].add((ns, str(svc_name)))
        elif ev.key == "/configmaps" and ns == "kube-system" and name == LB_POOL:
            for svc in self.lister.scan("/services"):
                if svc.get("spec", {}).get("type") == "LoadBalancer":
                    q["service"].add((svc["metadata"]["namespace"], svc["metadata"]["name"]))
        elif ev.key == "/nodes":
            q["schedule"].update(self.scheduler.unschedulable)
            for svc in self.lister.iter("/services"):
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
        start = time.monotonic()
        for _ in range(max_rounds):
            if not self.pending():
                return
            if budget is not None and time.monotonic() - start > budget:
                return
            for name, sync in self._order:
                items = sorted(self.queue[name])
                self.queue[name].clear()
                if name == "schedule":
                    self.scheduler.new_pass()
                for item in items:
                    if name == "service" and self._too_soon(item):
                        continue
                    try:
                        sync(*item)
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
        n = self.lister.count("/pods", item[0])
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
