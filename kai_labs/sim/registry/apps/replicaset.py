"""ReplicaSet (pkg/registry/apps/replicaset): storage, defaults, validation, status, generation, columns.

Source: pkg/apis/apps/v1/defaults.go SetDefaults_ReplicaSet; pkg/apis/apps/validation/validation.go
ValidateReplicaSetSpec, ValidatePodTemplateSpecForReplicaSet; pkg/registry/apps/replicaset/strategy.go
(PrepareForCreate: empty status, generation 1; selector immutable); printers.go printReplicaSet.
The pod template's defaults and checks are shared with Deployment and Pod (``defaults.py``,
``validation.py``).
"""

from __future__ import annotations

import datetime
from typing import Any

from ..defaults import _child_map, _default_template
from ..strategy import (
    CONDITIONS_PATCH_KEYS,
    ResourceType,
    Strategy,
    patch_keys_at,
    pod_template_patch_keys,
    register,
)
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
from ..validation import Errs, validate_workload

Obj = dict[str, Any]


def default(obj: dict[str, Any]) -> None:
    """apps/v1 SetDefaults_ReplicaSet (+ pod template defaults)."""
    spec = _child_map(obj, "spec")
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_template(spec)


_D_RS_SELECTOR = (
    "Selector is a label query over pods that should match the replica count. If the selector is "
    "empty, it is defaulted to the labels present on the pod template. Label keys and values that must "
    "match in order to be controlled by this replica set. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)


COLUMNS: list[Column] = [
    name_col(),
    col(
        "Desired",
        "integer",
        "Replicas is the number of desired replicas. This is a pointer to distinguish between "
        "explicit zero and unspecified. Defaults to 1. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller",
    ),
    col(
        "Current",
        "integer",
        "Replicas is the most recently observed number of replicas. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller",
    ),
    col(
        "Ready",
        "integer",
        "The number of ready replicas for this replica set.",
    ),
    age_col(),
    col("Containers", "string", D_CONTAINERS, 1),
    col("Images", "string", D_IMAGES, 1),
    col("Selector", "string", _D_RS_SELECTOR, 1),
]


def print_row(obj: Obj, now: datetime.datetime) -> Row:
    spec, status = obj_spec(obj), obj_status(obj)
    names, images = layout_container_cells(template_containers(obj))
    return {
        "cells": [
            obj_name(obj),
            int_or(spec.get("replicas"), 1),
            int_or(status.get("replicas")),
            int_or(status.get("readyReplicas")),
            age(obj, now),
            names,
            images,
            format_label_selector(spec.get("selector")),
        ]
    }


def validate(obj: Obj, old: Obj | None) -> Errs:
    """ValidateReplicaSet (ValidateReplicaSetUpdate: the selector is immutable)."""
    return validate_workload(obj, old, "ReplicaSet")


STRATEGY = register(Strategy(
    resource=ResourceType("apps", "v1", "ReplicaSet", "replicasets", "replicaset", short_names=("rs",),
                          categories=("all",),
                          subresources={"status": ("ReplicaSet", ("get", "patch", "update")),
                                        "scale": ("Scale", ("get", "patch", "update"))}),
    discovery_order=110,
    validate=validate,
    default=default,
    initial_status={},
    track_generation=True,
    columns=COLUMNS,
    print_row=print_row,
    patch_keys={**pod_template_patch_keys("spec.template"), **patch_keys_at("status", CONDITIONS_PATCH_KEYS)},
))
