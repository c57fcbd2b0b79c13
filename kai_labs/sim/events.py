"""The event recorder: core/v1 Events with counts, as client-go's tools/record writes them.

An Event repeated for the same object, reason, message and field path bumps ``count`` and
``lastTimestamp`` of the first one instead of writing a new one (the recorder's EventCorrelator,
in miniature). Best effort, as client-go's: nothing is recorded into a namespace that is missing or
going away, and a write the registry refuses is dropped.
"""

from __future__ import annotations

import contextlib

from .apimachinery import errors
from .clientset import Client, Lister
from .registry.generic import Api, rt_of
from .storage.store import Obj


class Recorder:
    """Writes core/v1 Events the way client-go's event recorder does (with counts)."""

    def __init__(self, api: Api) -> None:
        self.client = Client(api)
        self.lister = Lister(api.store)
        self._index: dict[tuple[str, str, str, str, str], str] = {}

    def event(self, obj: Obj, etype: str, reason: str, message: str, component: str,
              host: str = "", field_path: str = "") -> None:
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        now = self.client.now()
        ident = identity(obj, reason, message, field_path)
        known = self._index.get(ident)
        if known is not None:
            ev = self.lister.get("/events", ns, known)
            if ev is not None:
                ev["count"] = int(ev.get("count", 1)) + 1
                ev["lastTimestamp"] = now
                with contextlib.suppress(errors.ApiError):
                    self.client.update("Event", ns, known, ev)
                return
        stamp = format(int(self.client.clock() * 1e9) + self.lister.resource_version(), "x")
        ev = new_event(obj, etype, reason, message, component, host, field_path, now, stamp)
        nso = self.lister.peek("/namespaces", "", ns)
        if nso is None or nso["metadata"].get("deletionTimestamp"):
            return  # best effort, as client-go's recorder: no events into a namespace that is going away
        try:  # trusted: built well-formed here, and the bulk of all writes (validation would double their cost)
            created = self.client.create_trusted("Event", ns, ev)
        except errors.ApiError:
            return
        self._index[ident] = created["metadata"]["name"]


def identity(obj: Obj, reason: str, message: str, field_path: str) -> tuple[str, str, str, str, str]:
    """What makes two Events the same one (the correlator's key): counted, not written twice."""
    md = obj["metadata"]
    return (md.get("namespace") or "default", str(md.get("uid", "")), reason, message, field_path)


def new_event(obj: Obj, etype: str, reason: str, message: str, component: str, host: str, field_path: str,
              now: str, stamp: str) -> Obj:
    """A core/v1 Event about ``obj`` as client-go's recorder first writes it (count 1)."""
    md = obj["metadata"]
    rt = rt_of(obj.get("kind", "Pod"), obj.get("apiVersion", ""))
    involved = {"kind": rt.kind, "namespace": md.get("namespace", ""), "name": md["name"],
                "uid": md.get("uid", ""), "apiVersion": rt.api_version,
                "resourceVersion": md.get("resourceVersion", "")}
    if not rt.namespaced:
        involved["namespace"] = ""
    if field_path:
        involved["fieldPath"] = field_path
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{md['name']}.{stamp}", "namespace": md.get("namespace") or "default"},
        "involvedObject": involved, "reason": reason, "message": message,
        "source": {"component": component, **({"host": host} if host else {})},
        "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": etype,
        "eventTime": None, "reportingComponent": component, "reportingInstance": host,
    }
