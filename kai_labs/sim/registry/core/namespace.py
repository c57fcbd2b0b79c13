"""Namespace (pkg/registry/core/namespace): storage, defaults, validation, initial status, table columns.

Source: pkg/apis/core/v1/defaults.go SetDefaults_Namespace, SetDefaults_NamespaceStatus;
pkg/registry/core/namespace/strategy.go (PrepareForCreate: phase Active, the ``kubernetes``
finalizer); validation.go ValidateNamespace; printers.go printNamespace. Deletion (Terminating, the
finalize subresource) stays in ``generic.py``.
"""

from __future__ import annotations

import datetime
from typing import Any

from ....k8s.validation import is_qualified_name
from ...apimachinery.errors import invalid
from ..defaults import _child_map, _empty
from ..strategy import CONDITIONS_PATCH_KEYS, ResourceType, Strategy, patch_keys_at, register
from ..table import Column, Row, age, age_col, col, name_col, obj_name, obj_status
from ..validation import _STANDARD_FINALIZERS, Errs, _get_map, _get_str_list, _meta_errs, name_is_dns_label

Obj = dict[str, Any]


def default(obj: dict[str, Any]) -> None:
    """SetDefaults_Namespace (name label), namespace strategy finalizer, SetDefaults_NamespaceStatus."""
    meta = _child_map(obj, "metadata")
    name = meta.get("name") if meta is not None else None
    if meta is not None and isinstance(name, str) and name:
        labels = _child_map(meta, "labels")
        if labels is not None:
            labels["kubernetes.io/metadata.name"] = name
    spec = _child_map(obj, "spec")
    if spec is not None and spec.get("finalizers") is None:
        spec["finalizers"] = ["kubernetes"]
    status = _child_map(obj, "status")
    if status is not None and _empty(status.get("phase")):
        status["phase"] = "Active"


def validate(obj: dict[str, Any], old: dict[str, Any] | None) -> Errs:
    """ValidateNamespace: DNS-1123 label name, spec.finalizers names."""
    errs = _meta_errs(obj, old, name_is_dns_label)
    spec = _get_map(obj, "spec", "spec", errs) or {}
    for i, f in enumerate(_get_str_list(spec, "finalizers", "spec.finalizers", errs) or []):
        path = f"spec.finalizers[{i}]"
        msgs = is_qualified_name(f)
        errs.extend(invalid(path, f, m) for m in msgs)
        if not msgs and "/" not in f and f not in _STANDARD_FINALIZERS:
            errs.append(invalid(path, f, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


COLUMNS: list[Column] = [
    name_col(),
    col("Status", "string", "The status of the namespace"),
    age_col(),
]


def print_row(obj: Obj, now: datetime.datetime) -> Row:
    return {"cells": [obj_name(obj), obj_status(obj).get("phase") or "", age(obj, now)]}


STRATEGY = register(Strategy(
    resource=ResourceType("", "v1", "Namespace", "namespaces", "namespace", namespaced=False, short_names=("ns",),
                          verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
                          subresources={"status": ("Namespace", ("get", "patch", "update")),
                                        "finalize": ("Namespace", ("update",))}),
    discovery_order=10,
    validate=validate,
    default=default,
    initial_status={"phase": "Active"},
    columns=COLUMNS,
    print_row=print_row,
    patch_keys=patch_keys_at("status", CONDITIONS_PATCH_KEYS),
))
