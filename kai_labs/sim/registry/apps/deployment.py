"""Deployment (pkg/registry/apps/deployment): storage, defaults, validation, status, generation, columns.

Source: pkg/apis/apps/v1/defaults.go SetDefaults_Deployment; pkg/apis/apps/validation/validation.go
ValidateDeploymentSpec, ValidateDeploymentStrategy, ValidateRollingUpdateDeployment,
ValidatePositiveIntOrPercent, IsNotMoreThan100Percent; pkg/registry/apps/deployment/strategy.go
(PrepareForCreate: empty status, generation 1; selector immutable); printers.go printDeployment.
The pod template's defaults and checks are shared with ReplicaSet and Pod (``defaults.py``,
``validation.py``).
"""

from __future__ import annotations

import datetime
from typing import Any

from ....k8s.validation import is_valid_percent
from ...apimachinery.errors import forbidden, invalid, required
from ..defaults import _child_map, _default_template, _empty
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
    int_or,
    label_selector_string,
    layout_container_cells,
    name_col,
    obj_name,
    obj_spec,
    obj_status,
    template_containers,
)
from ..validation import (
    _RE_ATOI,
    Errs,
    _get_int,
    _get_int_or_str,
    _get_map,
    _get_str,
    _is_int,
    _nonneg,
    _ns_ordered,
    _safe,
    validate_workload,
)

Obj = dict[str, Any]


def default(obj: dict[str, Any]) -> None:
    """apps/v1 SetDefaults_Deployment (+ pod template defaults)."""
    spec = _child_map(obj, "spec")
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _child_map(spec, "strategy")
    if strategy is not None:
        if _empty(strategy.get("type")):
            strategy["type"] = "RollingUpdate"
        if strategy.get("type") == "RollingUpdate":
            ru = _child_map(strategy, "rollingUpdate")
            if ru is not None:
                for key in ("maxUnavailable", "maxSurge"):
                    if ru.get(key) is None:
                        ru[key] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _default_template(spec)


def _int_or_percent_value(v: Any) -> int:
    """getIntOrPercentValue: a valid percent's number, else IntValue (0 for a non-numeric string)."""
    if isinstance(v, str):
        if not is_valid_percent(v):
            return int(v[:-1])
        return int(v) if _RE_ATOI.fullmatch(v) else 0
    return v if _is_int(v) else 0


def _validate_int_or_percent(v: int | str, path: str) -> Errs:
    """ValidatePositiveIntOrPercent."""
    if isinstance(v, str):
        return [invalid(path, v, m) for m in is_valid_percent(v)]
    return _nonneg(v, path)


def _validate_strategy(spec: dict[str, Any], errs: Errs) -> None:
    """ValidateDeploymentStrategy + ValidateRollingUpdateDeployment."""
    strategy = _get_map(spec, "strategy", "spec.strategy", errs) or {}
    stype = _get_str(strategy, "type", "spec.strategy.type", errs)
    ru = _get_map(strategy, "rollingUpdate", "spec.strategy.rollingUpdate", errs)
    if stype == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            errs.append(forbidden("spec.strategy.rollingUpdate",
                                  "may not be specified when strategy `type` is 'Recreate'"))
    elif stype == "RollingUpdate":
        if ru is None:
            errs.append(required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil"))
            return
        base = "spec.strategy.rollingUpdate"
        mu = _get_int_or_str(ru, "maxUnavailable", f"{base}.maxUnavailable", errs)
        ms = _get_int_or_str(ru, "maxSurge", f"{base}.maxSurge", errs)
        mu_v = mu if mu is not None else 0
        ms_v = ms if ms is not None else 0
        errs.extend(_validate_int_or_percent(mu_v, f"{base}.maxUnavailable"))
        errs.extend(_validate_int_or_percent(ms_v, f"{base}.maxSurge"))
        if _int_or_percent_value(mu_v) == 0 and _int_or_percent_value(ms_v) == 0:
            errs.append(invalid(f"{base}.maxUnavailable", mu_v, "may not be 0 when `maxSurge` is 0"))
        if isinstance(mu_v, str) and not is_valid_percent(mu_v) and int(mu_v[:-1]) > 100:
            errs.append(invalid(f"{base}.maxUnavailable", mu_v, "must not be greater than 100%"))
    else:
        errs.append(_ns_ordered("spec.strategy", _safe(strategy), ["Recreate", "RollingUpdate"]))


def _validate_deployment_extras(spec: dict[str, Any], errs: Errs) -> None:
    _validate_strategy(spec, errs)
    min_ready = _get_int(spec, "minReadySeconds", "spec.minReadySeconds", errs)
    errs.extend(_nonneg(min_ready, "spec.minReadySeconds"))
    rhl = _get_int(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit", errs)
    errs.extend(_nonneg(rhl, "spec.revisionHistoryLimit"))
    pds = _get_int(spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds", errs)
    if pds is not None:
        errs.extend(_nonneg(pds, "spec.progressDeadlineSeconds"))
        if pds <= (min_ready or 0):
            errs.append(invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))


COLUMNS: list[Column] = [
    name_col(),
    col("Ready", "string", "Number of the pod with ready state"),
    col(
        "Up-to-date",
        "string",
        "Total number of non-terminated pods targeted by this deployment that have the desired "
        "template spec.",
    ),
    col(
        "Available",
        "string",
        "Total number of available pods (ready for at least minReadySeconds) targeted by this "
        "deployment.",
    ),
    age_col(),
    col("Containers", "string", D_CONTAINERS, 1),
    col("Images", "string", D_IMAGES, 1),
    col(
        "Selector",
        "string",
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the "
        "ones affected by this deployment.",
        1,
    ),
]


def print_row(obj: Obj, now: datetime.datetime) -> Row:
    spec, status = obj_spec(obj), obj_status(obj)
    names, images = layout_container_cells(template_containers(obj))
    return {
        "cells": [
            obj_name(obj),
            f"{int_or(status.get('readyReplicas'))}/{int_or(spec.get('replicas'), 1)}",
            int_or(status.get("updatedReplicas")),
            int_or(status.get("availableReplicas")),
            age(obj, now),
            names,
            images,
            label_selector_string(spec.get("selector")),
        ]
    }


def validate(obj: Obj, old: Obj | None) -> Errs:
    """ValidateDeployment (ValidateDeploymentUpdate: the selector is immutable)."""
    return validate_workload(obj, old, "Deployment", _validate_deployment_extras)


STRATEGY = register(Strategy(
    resource=ResourceType("apps", "v1", "Deployment", "deployments", "deployment", short_names=("deploy",),
                          categories=("all",),
                          subresources={"status": ("Deployment", ("get", "patch", "update")),
                                        "scale": ("Scale", ("get", "patch", "update"))}),
    discovery_order=100,
    validate=validate,
    default=default,
    initial_status={},
    track_generation=True,
    columns=COLUMNS,
    print_row=print_row,
    patch_keys={**pod_template_patch_keys("spec.template"), **patch_keys_at("status", CONDITIONS_PATCH_KEYS)},
))
