"""How the cluster's own components reach its objects: the shape of client-go for the embedded cluster.

In Kubernetes, controllers and the kubelet never open etcd. They read from an informer's cache through
*listers* (read-only, uncopied: a caller must not mutate what it gets) and they write through the API
server with a *clientset*, so every write goes through the registry: defaults, validation,
resourceVersion, admission, the watch event. Here the same split:

- :class:`Lister` reads the store's in-memory index (the informer cache of this process).
- :class:`Client` writes through :class:`kai_labs.sim.registry.generic.Api` (the registry).

Components get both from the wiring (``sim/runtime.py``); nothing outside ``sim/storage`` and
``sim/registry`` touches ``Store`` directly, except the wiring and the API server's watch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .registry.generic import Api, rt_of
from .storage.store import Event, Obj, Store

# the keys whose objects controllers find by their controller (the informers' controller-UID indexes)
CONTROLLED_KEYS = ("/pods", "apps/replicasets")


class ControllerIndex:
    """Objects by the uid of their controller ownerReference, and the orphans (none) per namespace:
    the pod informer's ``controllerUIDIndex`` and orphan index the ReplicaSet controller reads instead
    of listing every Pod of the namespace (pkg/controller/controller_utils.go AddPodControllerUIDIndexer,
    pkg/controller/replicaset/replica_set.go getRSPods). Kept current from the store's events."""

    def __init__(self, store: Store, keys: tuple[str, ...]) -> None:
        self._store = store
        self._keys = frozenset(keys)
        self._owner: dict[tuple[str, str, str], str] = {}  # (key, ns, name) -> controller uid, "" for none
        self._members: dict[tuple[str, str, str], set[str]] = {}  # (key, ns, uid or "") -> names
        self._labels: dict[tuple[str, str, str], Any] = {}  # (key, ns, name) -> the labels last seen
        # (key, ns, uid) -> names of controlled objects whose labels changed since the controller last
        # asked (relabelled: perhaps to be released); at start every controlled object counts as changed
        self._relabelled: dict[tuple[str, str, str], set[str]] = {}
        for key in keys:
            for obj in store.scan(key):
                self._add(key, obj, relabelled=True)
        store.subscribe(self._observe)

    @staticmethod
    def _controller(obj: Obj) -> str:
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("controller"):
                return str(ref.get("uid"))
        return ""

    def _add(self, key: str, obj: Obj, relabelled: bool = False) -> None:
        md = obj["metadata"]
        ns, name = md.get("namespace", ""), md["name"]
        uid = self._controller(obj)
        lbls = md.get("labels") or {}
        if self._labels.get((key, ns, name)) != lbls:
            self._labels[(key, ns, name)] = dict(lbls)  # a copy: what we compare with stays what we saw
            relabelled = True
        if uid and relabelled:
            self._relabelled.setdefault((key, ns, uid), set()).add(name)
        before = self._owner.get((key, ns, name))
        if before == uid:
            return
        if before is not None:
            self._drop(key, ns, name, before)
        self._owner[(key, ns, name)] = uid
        self._members.setdefault((key, ns, uid), set()).add(name)

    def _drop(self, key: str, ns: str, name: str, uid: str) -> None:
        for index in (self._members, self._relabelled):
            names = index.get((key, ns, uid))
            if names is not None:
                names.discard(name)
                if not names:
                    del index[(key, ns, uid)]

    def _observe(self, ev: Event) -> None:
        if ev.key not in self._keys:
            return
        if ev.type == "DELETED":
            md = ev.obj["metadata"]
            ns, name = md.get("namespace", ""), md["name"]
            uid = self._owner.pop((ev.key, ns, name), None)
            self._labels.pop((ev.key, ns, name), None)
            if uid is not None:
                self._drop(ev.key, ns, name, uid)
        else:
            self._add(ev.key, ev.obj)

    def relabelled(self, key: str, ns: str, uid: str) -> list[Obj]:
        """The cached objects controlled by ``uid`` whose labels changed and were not yet marked seen
        (all of them at first), by name."""
        out = []
        names = self._relabelled.get((key, ns, uid), set())
        for name in sorted(names):
            obj = self._store.peek(key, ns, name)
            if obj is not None and self._owner.get((key, ns, name)) == uid:
                out.append(obj)
            else:
                names.discard(name)  # gone, or no longer controlled by uid
        return out

    def seen(self, key: str, ns: str, uid: str, names: Iterable[str]) -> None:
        """The controller has dealt with these relabelled objects."""
        left = self._relabelled.get((key, ns, uid))
        if left is not None:
            left.difference_update(names)
            if not left:
                del self._relabelled[(key, ns, uid)]

    def members(self, key: str, ns: str, uid: str) -> list[Obj]:
        """The cached objects of ``key`` in ``ns`` controlled by ``uid`` ("" for the orphans), uncopied, by
        name (a set's order would vary with the interpreter's hash seed; a seeded cluster must not)."""
        out = []
        for name in sorted(self._members.get((key, ns, uid), ())):
            obj = self._store.peek(key, ns, name)
            if obj is not None:
                out.append(obj)
        return out


class Lister:
    """Read-only access to the objects of one storage key ("/pods", "/services", ...)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._controlled: ControllerIndex | None = None

    def _index(self, key: str) -> ControllerIndex:
        if key not in CONTROLLED_KEYS:
            raise ValueError(f"no controller index for {key}")
        if self._controlled is None:
            self._controlled = ControllerIndex(self._store, CONTROLLED_KEYS)
        return self._controlled

    def controlled_by(self, key: str, ns: str, uid: str) -> list[Obj]:
        """Cached objects of ``key`` (one of CONTROLLED_KEYS) in ``ns`` whose controller is ``uid``, or
        with ``uid=""`` those with no controller (orphans), uncopied, by name."""
        return self._index(key).members(key, ns, uid)

    def relabelled(self, key: str, ns: str, uid: str) -> list[Obj]:
        """Objects controlled by ``uid`` whose labels changed since :meth:`relabelled_seen` was told
        (every one of them at first): the only ones a controller may have to release. Uncopied."""
        return self._index(key).relabelled(key, ns, uid)

    def relabelled_seen(self, key: str, ns: str, uid: str, names: Iterable[str]) -> None:
        self._index(key).seen(key, ns, uid, names)

    def get(self, key: str, ns: str, name: str) -> Obj | None:
        """A copy the caller may change."""
        return self._store.get(key, ns, name)

    def peek(self, key: str, ns: str, name: str) -> Obj | None:
        """The cached object itself: read it, never mutate it."""
        return self._store.peek(key, ns, name)

    def iter(self, key: str, ns: str | None = None) -> Iterator[Obj]:
        """Cached objects in (namespace, name) order, uncopied."""
        return self._store.iter(key, ns)

    def scan(self, key: str, ns: str | None = None) -> Iterator[Obj]:
        """Cached objects in no particular order (hot paths), uncopied."""
        return self._store.scan(key, ns)

    def count(self, key: str, ns: str | None = None) -> int:
        return self._store.count(key) if ns is None else self._store.count_ns(key, ns)

    def resource_version(self) -> int:
        """The cache's latest resourceVersion."""
        return self._store.rv


class Client:
    """Writes through the registry, as a component's clientset writes through the API server."""

    def __init__(self, api: Api) -> None:
        self._api = api

    def create(self, kind: str, ns: str, obj: Obj) -> Obj:
        return self._api.create_internal(kind, ns, obj)

    def update_status(self, kind: str, obj: Obj) -> Obj:
        """The status subresource: only ``status`` changes (the registry keeps spec and metadata)."""
        return self._api.put_status(kind, obj)

    def update(self, kind: str, ns: str, name: str, obj: Obj, *, api_version: str = "") -> Obj:
        """PUT: defaults, validation, optimistic concurrency on ``metadata.resourceVersion``."""
        return self._api.update(rt_of(kind, api_version), ns, name, obj)

    def patch(self, kind: str, ns: str, name: str, patch_type: str, body: Any) -> Obj:
        return self._api.patch(rt_of(kind), ns, name, patch_type, body)

    def delete(self, kind: str, ns: str, name: str, *, propagation: str | None = None,
               api_version: str = "") -> tuple[Obj, bool]:
        return self._api.delete(rt_of(kind, api_version), ns, name, propagation=propagation)

    def create_trusted(self, kind: str, ns: str, obj: Obj) -> Obj:
        """create without defaulting and validation, for what this cluster's components build
        well-formed (Events); see :meth:`Api.create_trusted`."""
        return self._api.create_trusted(kind, ns, obj)

    def bind(self, pod: Obj, node: str) -> Obj:
        """pods/binding: assign ``pod`` to ``node`` (nodeName and the PodScheduled condition)."""
        return self._api.bind(pod, node)

    def finalize_namespace(self, name: str) -> None:
        """namespaces/finalize with nothing left in it: the registry removes the namespace."""
        self._api.finalize_namespace(name)

    def now(self) -> str:
        """The API server's clock, as a metav1.Time string."""
        return self._api.now()

    def clock(self) -> float:
        return self._api.clock()

    def own_status(self, ns: str, name: str) -> Obj | None:
        """Writes through the registry are visible in the store at once: never a status the cache lacks."""
        return None

    def remove_pod(self, ns: str, name: str, uid: str | None = None) -> tuple[Obj, bool]:
        """The kubelet's last word on a Pod whose containers have stopped: DELETE with grace period 0
        (pkg/kubelet/status/status_manager.go), on the Pod's uid when given (a Pod re-created under the
        same name is not touched). Finalizers still hold it, as in Kubernetes."""
        pre = {"uid": uid} if uid else None
        return self._api.delete(rt_of("Pod"), ns, name, grace=0, preconditions=pre)
