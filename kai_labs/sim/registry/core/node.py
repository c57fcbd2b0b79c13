"""Node (pkg/registry/core/node): storage, defaults, validation, table columns.

Source: pkg/apis/core/v1/defaults.go SetDefaults_NodeStatus; validation.go ValidateNode;
printers.go printNode, findNodeRoles; types.go (``podCIDRs`` merge, ``taints`` replace,
``status.conditions`` and ``status.addresses`` merged by ``type``).
"""

from __future__ import annotations

import datetime
from typing import Any

from ....k8s.validation import is_qualified_name, is_valid_label_value
from ...apimachinery.errors import FieldError, invalid, required
from ..defaults import _as_map
from ..strategy import ResourceType, Strategy, register
from ..table import NONE, UNKNOWN, Column, Row, age, age_col, col, name_col, obj_meta, obj_name, obj_spec, obj_status
from ..validation import (
    _TAINT_EFFECTS,
    Errs,
    _get_map,
    _get_str,
    _items,
    _meta_errs,
    _ns_ordered,
    _safe,
    name_is_dns_subdomain,
)

Obj = dict[str, Any]


def default(obj: dict[str, Any]) -> None:
    """SetDefaults_NodeStatus: allocatable defaults to capacity."""
    status = _as_map(obj.get("status"))
    if status is None:
        return
    capacity = status.get("capacity")
    if status.get("allocatable") is None and isinstance(capacity, dict):
        status["allocatable"] = dict(capacity)


def validate(obj: dict[str, Any], old: dict[str, Any] | None) -> Errs:
    """ValidateNode: subdomain name; taints (reported under metadata.taints, as the source does)."""
    errs = _meta_errs(obj, old, name_is_dns_subdomain)
    spec = _get_map(obj, "spec", "spec", errs) or {}
    seen: set[tuple[str, str]] = set()
    for i, t in _items(spec, "taints", "metadata.taints", errs):
        tp = f"metadata.taints[{i}]"
        key = _get_str(t, "key", f"{tp}.key", errs)
        value = _get_str(t, "value", f"{tp}.value", errs)
        effect = _get_str(t, "effect", f"{tp}.effect", errs)
        errs.extend(invalid(f"{tp}.key", key, m) for m in is_qualified_name(key))
        msgs = is_valid_label_value(value)
        if msgs:
            errs.append(invalid(f"{tp}.value", value, ";".join(msgs)))
        if not effect:
            errs.append(required(f"{tp}.effect"))
        elif effect not in _TAINT_EFFECTS:
            errs.append(_ns_ordered(f"{tp}.effect", effect, _TAINT_EFFECTS))
        if (key, effect) in seen:
            errs.append(FieldError("Duplicate", tp, _safe(t), "taints must be unique by key and effect pair"))
        seen.add((key, effect))
    return errs


_D_NODE_ADDRESSES = (
    "List of addresses reachable to the node. Queried from cloud provider, if available. More info: "
    "https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as "
    "mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it "
    "is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an "
    "example. Consumers should assume that addresses can change during the lifetime of a Node. However, "
    "there are some exceptions where this may not be possible, such as Pods that inherit a Node's "
    "address in its own status or consumers of the downward API (status.hostIP)."
)


COLUMNS: list[Column] = [
    name_col(),
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    age_col(),
    col("Version", "string", "Kubelet Version reported by the node."),
    col("Internal-IP", "string", _D_NODE_ADDRESSES, 1),
    col("External-IP", "string", _D_NODE_ADDRESSES, 1),
    col(
        "OS-Image",
        "string",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
        1,
    ),
    col(
        "Kernel-Version",
        "string",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
        1,
    ),
    col(
        "Container-Runtime",
        "string",
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. "
        "containerd://1.4.2).",
        1,
    ),
]


def node_status(node: Obj) -> str:
    """printNode STATUS: Ready / NotReady / Unknown, plus SchedulingDisabled."""
    conditions = {c.get("type"): c for c in obj_status(node).get("conditions") or []}
    parts: list[str] = []
    ready = conditions.get("Ready")
    if ready is not None:
        parts.append("Ready" if ready.get("status") == "True" else "NotReady")
    if not parts:
        parts.append("Unknown")
    if obj_spec(node).get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def find_node_roles(node: Obj) -> list[str]:
    """findNodeRoles: ``node-role.kubernetes.io/<role>`` keys and ``kubernetes.io/role`` values."""
    roles: set[str] = set()
    for key, value in (obj_meta(node).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/") :]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value != "":
            roles.add(value)
    return sorted(roles)


def _node_address(node: Obj, type_: str) -> str:
    for address in obj_status(node).get("addresses") or []:
        if address.get("type") == type_:
            return address.get("address") or ""
    return NONE


def print_row(node: Obj, now: datetime.datetime) -> Row:
    info = obj_status(node).get("nodeInfo") or {}
    return {
        "cells": [
            obj_name(node),
            node_status(node),
            ",".join(find_node_roles(node)) or NONE,
            age(node, now),
            info.get("kubeletVersion") or "",
            _node_address(node, "InternalIP"),
            _node_address(node, "ExternalIP"),
            info.get("osImage") or UNKNOWN,
            info.get("kernelVersion") or UNKNOWN,
            info.get("containerRuntimeVersion") or UNKNOWN,
        ]
    }


STRATEGY = register(Strategy(
    resource=ResourceType("", "v1", "Node", "nodes", "node", namespaced=False, short_names=("no",),
                          subresources={"status": ("Node", ("get", "patch", "update"))}),
    discovery_order=20,
    validate=validate,
    default=default,
    columns=COLUMNS,
    print_row=print_row,
    patch_keys={"spec.podCIDRs": ("merge", ""), "spec.taints": ("replace", ""),
                "status.conditions": ("merge", "type"), "status.addresses": ("merge", "type")},
))
