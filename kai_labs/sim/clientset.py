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

from collections.abc import Iterator
from typing import Any

from .registry.generic import Api, rt_of
from .storage.store import Obj, Store


class Lister:
    """Read-only access to the objects of one storage key ("/pods", "/services", ...)."""

    def __init__(self, store: Store) -> None:
        self._store = store

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
