"""IngressClass (pkg/registry/networking/ingressclass): cluster-scoped, served as an object, with its
defaults, validation and table columns.

Source: pkg/apis/networking/v1/defaults.go SetDefaults_IngressClass (parameters.scope Cluster);
pkg/apis/networking/validation/validation.go ValidateIngressClass(Update) (controller required, at most 250
bytes, a domain-prefixed path (apimachinery IsDomainPrefixedPath), immutable; parameters' apiGroup, kind,
name, scope and namespace); printers.go printIngressClass (NAME, CONTROLLER, PARAMETERS, AGE).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from ....k8s.validation import is_dns1123_subdomain, regex_error
from ...apimachinery.errors import forbidden, invalid, not_supported, required
from ..strategy import ResourceType, Strategy, register
from ..table import Column, Row, age, age_col, col, name_col, obj_name
from ..validation import (
    Errs,
    _get_map,
    _get_opt_str,
    _get_str,
    _meta_errs,
    _too_long,
    name_is_dns_label,
    name_is_dns_subdomain,
)

Obj = dict[str, Any]
_MAX_CONTROLLER = 250
_HTTP_PATH_FMT = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
_SCOPES = ["Cluster", "Namespace"]


def default(obj: Obj) -> None:
    """SetDefaults_IngressClass: a parameters reference without a scope is Cluster-scoped."""
    params = (obj.get("spec") or {}).get("parameters") if isinstance(obj.get("spec"), dict) else None
    if isinstance(params, dict) and params.get("scope") is None:
        params["scope"] = "Cluster"


def _domain_prefixed_path(value: str, path: str) -> Errs:
    """IsDomainPrefixedPath."""
    head, sep, tail = value.partition("/")
    if not sep or not head or not tail:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, head, m) for m in is_dns1123_subdomain(head)]
    if not re.fullmatch(_HTTP_PATH_FMT, tail):
        errs.append(invalid(path, tail, regex_error("Invalid path", _HTTP_PATH_FMT)))
    return errs


def _path_segment(value: str, path: str) -> Errs:
    """content.IsPathSegmentName."""
    if value in (".", ".."):
        return [invalid(path, value, f"may not be '{value}'")]
    return [invalid(path, value, f"may not contain '{c}'") for c in ("/", "%") if c in value]


def validate(obj: Obj, old: Obj | None) -> Errs:
    errs = _meta_errs(obj, old, name_is_dns_subdomain)
    spec = _get_map(obj, "spec", "spec", errs) or {}
    controller = _get_str(spec, "controller", "spec.controller", errs)
    if old is not None and controller != ((old.get("spec") or {}).get("controller") or ""):
        errs.append(invalid("spec.controller", controller, "field is immutable"))
    if not controller:
        errs.append(required("spec.controller"))
    else:
        if len(controller.encode()) > _MAX_CONTROLLER:
            errs.append(_too_long("spec.controller", _MAX_CONTROLLER))
        errs.extend(_domain_prefixed_path(controller, "spec.controller"))
    params = _get_map(spec, "parameters", "spec.parameters", errs)
    if params is None:
        return errs
    pp = "spec.parameters"
    group = _get_opt_str(params, "apiGroup", f"{pp}.apiGroup", errs)
    if group is not None:
        errs.extend(invalid(f"{pp}.apiGroup", group, m) for m in is_dns1123_subdomain(group))
    for key in ("kind", "name"):
        v = _get_str(params, key, f"{pp}.{key}", errs)
        errs.extend(_path_segment(v, f"{pp}.{key}") if v else [required(f"{pp}.{key}")])
    scope = _get_opt_str(params, "scope", f"{pp}.scope", errs)
    ns = _get_opt_str(params, "namespace", f"{pp}.namespace", errs)
    if scope is None:
        errs.append(required(f"{pp}.scope"))
    elif scope not in _SCOPES:
        errs.append(not_supported(f"{pp}.scope", scope, _SCOPES))
    elif scope == "Namespace":
        if ns is None:
            errs.append(required(f"{pp}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs.extend(invalid(f"{pp}.namespace", ns, m) for m in name_is_dns_label(ns, False))
    elif ns is not None:
        errs.append(forbidden(f"{pp}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs


COLUMNS: list[Column] = [
    name_col(),
    col("Controller", "string", "Controller that is responsible for handling this class"),
    col("Parameters", "string", "A reference to a resource with additional parameters"),
    age_col(),
]


def print_row(obj: Obj, now: datetime.datetime) -> Row:
    """printIngressClass: PARAMETERS is ``Kind[.apiGroup]/name``, ``<none>`` without a reference."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    params = spec.get("parameters")
    text = "<none>"
    if isinstance(params, dict):
        text = str(params.get("kind") or "")
        if params.get("apiGroup") is not None:
            text += "." + str(params["apiGroup"])
        text += "/" + str(params.get("name") or "")
    return {"cells": [obj_name(obj), spec.get("controller") or "", text, age(obj, now)]}


STRATEGY = register(Strategy(
    resource=ResourceType("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass",
                          namespaced=False),
    discovery_order=132,
    validate=validate,
    default=default,
    columns=COLUMNS,
    print_row=print_row,
))
