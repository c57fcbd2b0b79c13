"""The resource types the embedded cluster serves, as data.

Names, short names, categories and verbs are those a v1.3x API server reports in
discovery (``kubectl api-resources`` on kind), so kubectl resolves ``svc``,
``po``, ``deploy``, ``ep``, ``all`` the same way.
"""

from __future__ import annotations

from pathlib import Path

from .strategy import ALL_VERBS, ResourceType, import_groups, in_discovery_order

__all__ = ["ALL_VERBS", "RESOURCES", "ResourceType", "by_kind", "by_name", "by_plural", "groups", "storage_key"]

# every kind module under registry/<group>/ registers its strategy; discovery lists them in their declared order
import_groups(__name__.rpartition(".")[0], [str(Path(__file__).parent)])
RESOURCES: list[ResourceType] = [s.resource for s in in_discovery_order()]

# The events.k8s.io view shares storage with core events in a real server; here it
# is served read-through from the same key (see server.py), so ``kubectl events`` works.
_BY_GROUP_PLURAL = {(r.group, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES if r.group != "events.k8s.io"}
_BY_NAME = {r.kind: r for r in reversed(RESOURCES) if r.group != "events.k8s.io"}


def by_plural(group: str, plural: str) -> ResourceType | None:
    return _BY_GROUP_PLURAL.get((group, plural))


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    return _BY_KIND.get((api_version, kind))


def by_name(kind: str) -> ResourceType | None:
    """The served type of ``kind`` in whichever group serves it (the first in discovery order)."""
    return _BY_NAME.get(kind)


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
