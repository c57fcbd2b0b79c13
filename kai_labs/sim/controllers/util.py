"""Helpers the controllers share (pkg/controller/controller_utils.go, controller_ref_manager.go)."""

from __future__ import annotations

from typing import Any

from ...k8s import labels
from ..clientset import Lister
from ..storage.store import Obj


def owner_ref(obj: Obj, kind: str, api_version: str) -> dict[str, Any]:
    """A controller ownerReference to ``obj`` (metav1.NewControllerRef)."""
    return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def controller_uid(obj: Obj) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def pod_ready(pod: Obj) -> bool:
    for c in pod.get("status", {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def pod_active(pod: Obj) -> bool:
    return (pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
            and not pod["metadata"].get("deletionTimestamp"))


def owned(lister: Lister, key: str, ns: str, uid: str) -> list[Obj]:
    """The objects of ``key`` in ``ns`` whose controller is ``uid``, by name (cached, read-only), from
    the controller index (no scan of the namespace)."""
    return lister.controlled_by(key, ns, uid)


def selector_matches(selector: dict[str, Any] | None, lbls: dict[str, str] | None) -> bool:
    return labels.from_label_selector(selector).matches(lbls or {})
