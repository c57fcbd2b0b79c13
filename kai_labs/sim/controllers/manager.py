"""kube-controller-manager in miniature: work queues filled from store events, drained in bounded
time slices.

Each controller (one module each: deployment, replicaset, endpointslice, endpoints, service,
garbagecollector, namespace, nodelifecycle, tainteviction) is ``sync(key)`` over current state; it reads through a
:class:`~kai_labs.sim.clientset.Lister` and writes through a :class:`~kai_labs.sim.clientset.Client`
(the registry). The scheduler (:mod:`kai_labs.sim.scheduler`) is driven from the same loop, as its
own component. A test can call ``Controllers.drain()`` and step everything to quiescence.

The node lifecycle and taint-eviction controllers also act on time (a Node's grace period, a Pod's
tolerationSeconds): after each drain one timer on the running event loop is set for the earliest of
their deadlines; when it fires their ``tick`` is queued and ``on_work`` called. Their clock is the
injected one (:mod:`kai_labs.sim.clock`), so a test with ``FakeClock`` advances it and calls
:meth:`Controllers.tick` (no loop timer is set without a running loop).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ...k8s import endpointslices as eps
from ..apimachinery import errors
from ..clientset import Client, Lister
from ..clock import Clock, RealClock
from ..events import Recorder
from ..registry.generic import Api
from ..scheduler import Scheduler
from ..storage.store import Event, Obj
from .deployment import DeploymentController
from .endpoints import EndpointsController
from .endpointslice import EndpointSliceController
from .endpointslicemirroring import LABEL_MANAGED_BY as _MIRROR_LABEL
from .endpointslicemirroring import MANAGED_BY as MIRROR_MANAGED_BY
from .endpointslicemirroring import EndpointSliceMirroringController
from .garbagecollector import GarbageCollector
from .namespace import NamespaceController
from .nodelifecycle import NodeLifecycleController, NodeLifecycleSettings
from .replicaset import ReplicaSetController
from .replication import ReplicationManager
from .service import LB_POOL, ServiceController
from .serviceaccounts import DEFAULT_SERVICE_ACCOUNT, ROOT_CA_CONFIGMAP, RootCACertPublisher, ServiceAccountsController
from .tainteviction import TaintEvictionController
from .util import controller_uid, selector_matches

log = logging.getLogger("kai_labs.controllers")


# the queues whose syncs are batched for big namespaces (Controllers._too_soon)
_BATCHED = frozenset({"service", "replicaset", "replicationcontroller"})


class Controllers:
    def __init__(self, api: Api, recorder: Recorder, kubelet_nodes: Callable[[], set[str]],
                 settings: NodeLifecycleSettings | None = None, clock: Clock | None = None,
                 ca_bundle: Callable[[], str | None] = lambda: None) -> None:
        """``settings``: the cluster's node-lifecycle settings (the course's when None); their API-server
        part (DefaultTolerationSeconds) is applied to ``api``. ``clock``: what the node lifecycle and
        taint-eviction controllers time grace periods and tolerations with."""
        self.settings = settings if settings is not None else NodeLifecycleSettings.course()
        self.clock: Clock = clock if clock is not None else RealClock()
        api.admission = self.settings.admission()
        self.lister = Lister(api.store)
        self.client = Client(api)
        self.rec = recorder
        self.kubelet_nodes = kubelet_nodes
        self.queue: dict[str, set[tuple[str, str]]] = {
            "deployment": set(), "replicaset": set(), "service": set(), "namespace": set(),
            "schedule": set(), "gc": set(), "nodelifecycle": set(), "tainteviction": set(),
            "serviceaccount": set(), "replicationcontroller": set(), "mirroring": set(),
        }
        self.deployments = DeploymentController(self.lister, self.client, recorder)
        self.replicasets = ReplicaSetController(self.lister, self.client, recorder)
        self.replication = ReplicationManager(self.lister, self.client, recorder)
        self.scheduler = Scheduler(self.lister, self.client, recorder)
        self.services = ServiceController(self.lister, self.client, recorder)
        self.endpointslices = EndpointSliceController(self.lister, self.client)
        self.endpoints = EndpointsController(self.lister, self.client)
        self.mirroring = EndpointSliceMirroringController(self.lister, self.client)
        self.gc = GarbageCollector(self.lister, self.client)
        self.namespaces = NamespaceController(self.lister, self.client)
        self.serviceaccounts = ServiceAccountsController(self.lister, self.client)
        self.root_ca = RootCACertPublisher(self.lister, self.client, ca_bundle)
        self.nodelifecycle = NodeLifecycleController(self.lister, self.client, recorder, self.clock, self.settings)
        self.tainteviction = TaintEvictionController(self.lister, self.client, recorder, self.clock)
        # a namespace's ServiceAccount and CA first: Pods created in the same round need them
        self._order: list[tuple[str, Callable[[str, str], None]]] = [
            ("serviceaccount", self.sync_namespace_defaults), ("gc", self.gc.sync), ("namespace", self.namespaces.sync),
            ("nodelifecycle", self.nodelifecycle.sync), ("tainteviction", self.tainteviction.sync),
            ("deployment", self.deployments.sync),
            ("replicaset", self.replicasets.sync), ("replicationcontroller", self.replication.sync),
            ("schedule", self.scheduler.schedule),
            ("service", self.sync_service), ("mirroring", self.mirroring.sync)]
        self.on_work: Callable[[], None] = lambda: None
        # when each Service's slices / ReplicaSet's status were last synced; the syncs put off meanwhile
        self._last_sync: dict[tuple[str, tuple[str, str]], float] = {}
        self._deferred: set[tuple[str, tuple[str, str]]] = set()
        self._failures: dict[tuple[str, tuple[str, str]], int] = {}  # (controller, item) -> failures in a row
        self._retry_at: dict[tuple[str, tuple[str, str]], float] = {}  # when it comes back (clock.monotonic)
        self.on_later: Callable[[float], None] = lambda _delay: None
        self._timer: asyncio.TimerHandle | None = None  # the loop timer for the timed controllers
        self._timer_at: float | None = None  # its deadline (on self.clock.monotonic())

    @property
    def max_per_slice(self) -> int:
        return self.endpointslices.max_per_slice

    @max_per_slice.setter
    def max_per_slice(self, n: int) -> None:
        self.endpointslices.max_per_slice = n

    def bind(self, pod: Obj, node: str) -> Obj:
        """pods/binding (the API server delegates it here): the scheduler's bind."""
        return self.scheduler.bind(pod, node)

    def sync_namespace_defaults(self, _: str, ns: str) -> None:
        """What a namespace is given: ServiceAccount ``default`` and ConfigMap ``kube-root-ca.crt``."""
        self.serviceaccounts.sync("", ns)
        self.root_ca.sync("", ns)

    def sync_service(self, ns: str, name: str) -> None:
        """One Service's turn: load-balancer status, then its EndpointSlices, then its Endpoints."""
        svc = self.lister.get("/services", ns, name)
        slices = self.endpointslices.slices_of(ns, name)
        if svc is None:
            self.endpoints.service_gone(ns, name)  # slices are owned: garbage collection removes them
            return
        if svc["metadata"].get("deletionTimestamp"):
            return
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
        elif ev.key == "/replicationcontrollers":
            q["replicationcontroller"].add((ns, name))
        elif ev.key == "/pods":
            for ref in md.get("ownerReferences") or []:
                if ref.get("kind") == "ReplicaSet":
                    q["replicaset"].add((ns, ref["name"]))
                elif ref.get("kind") == "ReplicationController":
                    q["replicationcontroller"].add((ns, ref["name"]))
            if ev.type != "DELETED" and controller_uid(ev.obj) is None and md.get("labels"):
                # an orphan (a released Pod, a bare Pod): any ReplicaSet whose selector matches may adopt it
                for rs in self.lister.scan("apps/replicasets", ns):
                    if selector_matches(rs["spec"].get("selector"), md.get("labels")):
                        q["replicaset"].add((ns, rs["metadata"]["name"]))
                for rc in self.lister.scan("/replicationcontrollers", ns):
                    if self.replication.selector(rc).matches(md.get("labels") or {}):
                        q["replicationcontroller"].add((ns, rc["metadata"]["name"]))
            for svc in self.lister.scan("/services", ns):
                q["service"].add((ns, svc["metadata"]["name"]))
            if self.nodelifecycle.watches_pod(ev.type, ev.obj):
                q["nodelifecycle"].add(("pod", f"{ns}/{name}"))
            if self.tainteviction.watches_pod(ev.obj):
                q["tainteviction"].add(("pod", f"{ns}/{name}"))
            if ev.type != "DELETED" and not ev.obj.get("spec", {}).get("nodeName"):
                q["schedule"].add((ns, name))
            elif ev.type == "DELETED" and self.scheduler.unschedulable:
                q["schedule"].update(self.scheduler.unschedulable)
        elif ev.key == "/services":
            q["service"].add((ns, name))
            q["mirroring"].add((ns, name))
        elif ev.key == "/endpoints":
            q["mirroring"].add((ns, name))
        elif ev.key == "discovery.k8s.io/endpointslices":
            svc_name = (md.get("labels") or {}).get("kubernetes.io/service-name")
            if svc_name and (md.get("labels") or {}).get("endpointslice.kubernetes.io/managed-by") == eps.MANAGED_BY:
                q["service"].add((ns, str(svc_name)))
            elif svc_name and (md.get("labels") or {}).get(_MIRROR_LABEL) == MIRROR_MANAGED_BY:
                q["mirroring"].add((ns, str(svc_name)))
        elif ev.key == "/configmaps" and ns == "kube-system" and name == LB_POOL:
            for svc in self.lister.scan("/services"):
                if svc.get("spec", {}).get("type") == "LoadBalancer":
                    q["service"].add((svc["metadata"]["namespace"], svc["metadata"]["name"]))
        elif ev.key == "/nodes":
            q["nodelifecycle"].add(("node", name))
            q["tainteviction"].add(("node", name))
            q["schedule"].update(self.scheduler.unschedulable)
            for svc in self.lister.iter("/services"):
                q["service"].add((svc["metadata"]["namespace"], svc["metadata"]["name"]))
        elif ev.key == "/namespaces" and md.get("deletionTimestamp"):
            q["namespace"].add(("", name))
        elif ev.key == "/namespaces" and ev.type != "DELETED":
            q["serviceaccount"].add(("", name))
        elif (ev.key == "/serviceaccounts" and name == DEFAULT_SERVICE_ACCOUNT) or (
                ev.key == "/configmaps" and name == ROOT_CA_CONFIGMAP):
            q["serviceaccount"].add(("", ns))
        if ev.type == "DELETED" or md.get("deletionTimestamp"):
            q["gc"].add((ev.key, md.get("uid", "")))
            if ns:
                q["namespace"].add(("", ns))
        self.on_work()

    def pending(self) -> bool:
        return any(self.queue.values())

    def drain(self, max_rounds: int = 200, budget: float | None = None) -> None:
        """Run queued reconciles until nothing is left, a round limit, or a time budget (seconds); then
        ask to be woken for the timed controllers' next deadline."""
        try:
            self._drain(max_rounds, budget)
        finally:
            self._arm_timer()

    def _drain(self, max_rounds: int, budget: float | None) -> None:
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
                    if name in _BATCHED and self._too_soon(name, item):
                        continue
                    try:
                        sync(*item)
                    except errors.ApiError as e:
                        if e.code == 409:  # stale read: try again next round
                            self.queue[name].add(item)
                        elif e.code >= 500 or e.code == 429:  # not now (a full disk, throttled): later
                            self._retry_later(name, item, e)
                        elif e.code not in (404,):
                            log.warning("%s %s: %s", name, item, e)
                    except Exception:
                        log.exception("controller %s failed on %s", name, item)
                    else:
                        if self._failures:
                            self._failures.pop((name, item), None)

    def _too_soon(self, name: str, item: tuple[str, str]) -> bool:
        """Batch the syncs whose work grows with the Pods of a namespace: EndpointSlices of big Services
        (the role of kube-controller-manager's --endpointslice-updates-batch-period) and ReplicaSets
        (each sync counts its Pods; every Pod status write queues one). One with n Pods in its namespace
        is synced at most every n/4000 s (250 ms at 1,000 Pods; at once for the handful of Pods a lesson
        has). A deferred sync runs later with everything that changed meanwhile."""
        n = self.lister.count("/pods", item[0])
        interval = min(0.25, n / 4000)
        if interval < 0.01:
            return False
        now = time.monotonic()
        last = self._last_sync.get((name, item), 0.0)
        if now - last >= interval:
            self._last_sync[(name, item)] = now
            return False
        self._deferred.add((name, item))
        self.on_later(interval - (now - last))
        return True

    def _retry_later(self, name: str, item: tuple[str, str], e: errors.ApiError) -> None:
        """client-go's AddRateLimited: the item comes back after 5 ms doubling per failure, capped at
        1000 s (workqueue.DefaultControllerRateLimiter's per-item exponential back-off)."""
        n = self._failures.get((name, item), 0) + 1
        self._failures[(name, item)] = n
        delay = min(0.005 * 2 ** (n - 1), 1000.0)
        if n == 1 or n % 10 == 0:
            log.warning("%s %s: %s (retrying in %.3gs)", name, item, e, delay)
        self._retry_at[(name, item)] = self.clock.monotonic() + delay
        self._arm_timer()

    def release_deferred(self) -> None:
        """Called when a deferred batch is due: queue those syncs again."""
        for name, item in self._deferred:
            self.queue[name].add(item)
        self._deferred.clear()

    def tick(self) -> None:
        """Queue the timed controllers' ticks (each does only what is due by its clock), then drain."""
        self.queue["nodelifecycle"].add(("tick", ""))
        self.queue["tainteviction"].add(("tick", ""))
        self.drain()

    def next_deadline(self) -> float | None:
        """The earliest moment (on ``self.clock.monotonic()``) a timed controller has work."""
        due = [d for d in (self.nodelifecycle.next_deadline(), self.tainteviction.next_deadline(),
                           *self._retry_at.values()) if d is not None]
        return min(due) if due else None

    def _arm_timer(self) -> None:
        """One loop timer for the earliest deadline (moved earlier when a sooner one appears)."""
        due = self.next_deadline()
        if due is None or (self._timer is not None and self._timer_at is not None and self._timer_at <= due):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (bootstrap, a synchronous test): the next drain in a loop arms it
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = loop.call_later(max(0.0, due - self.clock.monotonic()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self.clock.monotonic()
        for (name, item), at in list(self._retry_at.items()):
            if at <= now:
                del self._retry_at[(name, item)]
                self.queue[name].add(item)
        self.queue["nodelifecycle"].add(("tick", ""))
        self.queue["tainteviction"].add(("tick", ""))
        self.on_work()
