"""The resource types the embedded cluster serves, as data.

Names, short names, categories and verbs are those a v1.3x API server reports in
discovery (``kubectl api-resources`` on kind), so kubectl resolves ``svc``,
``po``, ``deploy``, ``ep``, ``all`` the same way.
"""

from __future__ import annotations

from . import apps, core, discovery
from .strategy import ALL_VERBS, ResourceType

__all__ = ["ALL_VERBS", "RESOURCES", "ResourceType", "by_kind", "by_plural", "groups", "storage_key"]

RESOURCES: list[ResourceType] = [
    core.namespace.STRATEGY.resource,
    core.node.STRATEGY.resource,
    core.pod.STRATEGY.resource,
    core.service.STRATEGY.resource,
    core.endpoints.STRATEGY.resource,
    core.event.STRATEGY.resource,
    core.configmap.STRATEGY.resource,
    core.serviceaccount.STRATEGY.resource,
    discovery.endpointslice.STRATEGY.resource,
    apps.deployment.STRATEGY.resource,
    apps.replicaset.STRATEGY.resource,
]

# The events.k8s.io view shares storage with core events in a real server; here it
# is served read-through from the same key (see server.py), so ``kubectl events`` works.
_BY_GROUP_PLURAL = {(r.group, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES if r.group != "events.k8s.io"}


def by_plural(group: str, plural: str) -> ResourceType | None:
    return _BY_GROUP_PLURAL.get((group, plural))


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    return _BY_KIND.get((api_version, kind))


def storage_key(rt: ResourceType) -> str:
    """Where objects of this type are stored (events.k8s.io shares core events)."""
    if rt.group == "events.k8s.io":
        return "/events"
    return rt.key


def groups() -> dict[str, list[ResourceType]]:
    """Group name -> resource types, in discovery order (core group first as "")."""
    out: dict[str, list[ResourceType]] = {}
    for r in RESOURCES:
        out.setdefault(r.group, []).append(r)
    return out
