"""ReplicationController (pkg/registry/core/replicationcontroller): storage, defaults, validation, status,
generation, table columns; the Pods are kept by the same controller as a ReplicaSet's
(:mod:`kai_labs.sim.controllers.replication`).

Source: pkg/apis/core/v1/defaults.go SetDefaults_ReplicationController (the selector and the object's
labels default to the template's labels, replicas to 1); pkg/apis/core/validation/validation.go
ValidateReplicationController, ValidateReplicationControllerSpec, ValidatePodTemplateSpecForRC (a
non-empty selector that matches the template's labels, restartPolicy Always, no activeDeadlineSeconds;
unlike a ReplicaSet's, the selector may change); pkg/registry/core/replicationcontroller/strategy.go
(PrepareForCreate: empty status, generation 1); printers.go printReplicationController.
"""

from __future__ import annotations

import datetime
from typing import Any

from ...apimachinery.errors import invalid, required
from ..defaults import _child_map, _default_template
from ..strategy import CONDITIONS_PATCH_KEYS, ResourceType, Strategy, patch_keys_at, pod_template_patch_keys, register
from ..table import (
    D_CONTAINERS,
    D_IMAGES,
    Column,
    Row,
    age,
    age_col,
    col,
    format_label_selector,
    int_or,
    layout_container_cells,
    name_col,
    obj_name,
    obj_spec,
    obj_status,
    template_containers,
)
from ..validation import (
    Errs,
    _get_int,
    _get_map,
    _get_str_map,
    _meta_errs,
    _nonneg,
    _safe,
    name_is_dns_subdomain,
    validate_labels,
    validate_replicated_template,
)

Obj = dict[str, Any]


def default(obj: dict[str, Any]) -> None:
    """SetDefaults_ReplicationController (+ the pod template's defaults)."""
    spec = _child_map(obj, "spec")
    if spec is None:
        return
    template = spec.get("template")
    tlabels = (template.get("metadata") or {}).get("labels") if isinstance(template, dict) and isinstance(
        template.get("metadata"), dict) else None
    if isinstance(tlabels, dict) and tlabels:
        if not spec.get("selector"):
            spec["selector"] = dict(tlabels)
        meta = _child_map(obj, "metadata")
        if meta is not None and not meta.get("labels"):
            meta["labels"] = dict(tlabels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_template(spec)


def validate(obj: Obj, old: Obj | None) -> Errs:
    """ValidateReplicationController / ValidateReplicationControllerUpdate."""
    errs = _meta_errs(obj, old, name_is_dns_subdomain)
    spec = _get_map(obj, "spec", "spec", errs) or {}
    errs.extend(_nonneg(_get_int(spec, "minReadySeconds", "spec.minReadySeconds", errs), "spec.minReadySeconds"))
    selector = _get_str_map(spec, "selector", "spec.selector", errs)
    if not selector:
        errs.append(required("spec.selector"))
    else:
        errs.extend(validate_labels(selector, "spec.selector"))
    errs.extend(_nonneg(_get_int(spec, "replicas", "spec.replicas", errs), "spec.replicas"))
    if spec.get("template") is None:
        errs.append(required("spec.template"))
        return errs
    template = _get_map(spec, "template", "spec.template", errs) or {}
    tmeta = _get_map(template, "metadata", "spec.template.metadata", errs) or {}
    tlabels = _get_str_map(tmeta, "labels", "spec.template.metadata.labels", errs) or {}
    if selector and any(tlabels.get(k) != v for k, v in selector.items()):
        errs.append(invalid("spec.template.metadata.labels", _safe(tmeta.get("labels")),
                            "`selector` does not match template `labels`"))
    validate_replicated_template(template, tmeta, tlabels, "ReplicationController", errs)
    return errs


COLUMNS: list[Column] = [
    name_col(),
    col("Desired", "integer", "Replicas is the number of desired replicas. This is a pointer to distinguish "
        "between explicit zero and unspecified. Defaults to 1. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
    col("Current", "integer", "Replicas is the most recently observed number of replicas. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
    col("Ready", "integer", "The number of ready replicas for this replication controller."),
    age_col(),
    col("Containers", "string", D_CONTAINERS, 1),
    col("Images", "string", D_IMAGES, 1),
    col("Selector", "string", "Selector is a label query over pods that should match the Replicas count. If "
        "Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values "
        "that must match in order to be controlled by this replication controller, if empty defaulted to "
        "labels on Pod template. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors", 1),
]


def print_row(obj: Obj, now: datetime.datetime) -> Row:
    spec, status = obj_spec(obj), obj_status(obj)
    names, images = layout_container_cells(template_containers(obj))
    selector = spec.get("selector")
    return {"cells": [
        obj_name(obj),
        int_or(spec.get("replicas"), 1),
        int_or(status.get("replicas")),
        int_or(status.get("readyReplicas")),
        age(obj, now),
        names,
        images,
        format_label_selector({"matchLabels": selector} if isinstance(selector, dict) and selector else None),
    ]}


STRATEGY = register(Strategy(
    resource=ResourceType("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller",
                          short_names=("rc",), categories=("all",),
                          subresources={"status": ("ReplicationController", ("get", "patch", "update")),
                                        "scale": ("Scale", ("get", "patch", "update"))}),
    discovery_order=35,  # between pods and services, as in the core group's alphabetical discovery
    validate=validate,
    default=default,
    initial_status={"replicas": 0},
    track_generation=True,
    columns=COLUMNS,
    print_row=print_row,
    patch_keys={**pod_template_patch_keys("spec.template"), **patch_keys_at("status", CONDITIONS_PATCH_KEYS)},
))
