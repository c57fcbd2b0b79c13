"""Ingress (pkg/registry/networking/ingress): served as an object (no controller acts on it), with its
validation and table columns.

Source: pkg/apis/networking/validation/validation.go (ValidateIngressCreate/Update, ValidateIngressSpec,
validateIngressRules, validateHTTPIngressPath, validateIngressBackend, validateIngressTLS, the
ingress.class annotation check); pkg/printers/internalversion/printers.go printIngress (NAME, CLASS, HOSTS,
ADDRESS, PORTS, AGE; formatHosts, formatPorts, ingressLoadBalancerStatusStringer). Service backend names
are DNS-1035 labels (ValidateServiceName; the RelaxedServiceNameValidation gate taken as off). No v1
defaults; a new Ingress starts with ``status: {loadBalancer: {}}``.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from typing import Any

from ....k8s.validation import (
    is_dns1123_subdomain,
    is_valid_port_name,
    is_valid_port_num,
)
from ...apimachinery.errors import invalid, not_supported, required
from ..strategy import ResourceType, Strategy, register
from ..table import Column, Row, age, age_col, col, name_col, obj_name
from ..validation import (
    Errs,
    _get_int,
    _get_map,
    _get_opt_str,
    _get_str,
    _get_str_list,
    _items,
    _meta_errs,
    name_is_dns1035_label,
    name_is_dns_subdomain,
)
from .networkpolicy import GoValueError

Obj = dict[str, Any]
_PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]  # sets.NewString(...).List(): sorted
_BAD_SEQUENCES = ["//", "/./", "/../", "%2f", "%2F"]
_BAD_SUFFIXES = ["/..", "/."]
_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        parts = text.split(".")  # ParseIPSloppy: IPv4 octets with leading zeros
        return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    """IsWildcardDNS1123Subdomain."""
    fmt = r"\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not re.fullmatch(fmt, value):
        errs.append("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
                    "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
                    f"character (e.g. '*.example.com', regex used for validation is '{fmt}')")
    return errs


def _validate_backend(b: Obj, path: str, errs: Errs) -> None:
    """validateIngressBackend."""
    resource = _get_map(b, "resource", f"{path}.resource", errs)
    service = _get_map(b, "service", f"{path}.service", errs)
    if resource is not None and service is not None:
        errs.append(invalid(path, "", "cannot set both resource and service backends"))
        return
    if resource is not None:
        group = _get_opt_str(resource, "apiGroup", f"{path}.resource.apiGroup", errs)
        if group is not None:
            errs.extend(invalid(f"{path}.resource.apiGroup", group, m) for m in is_dns1123_subdomain(group))
        for key in ("kind", "name"):
            v = _get_str(resource, key, f"{path}.resource.{key}", errs)
            if not v:
                errs.append(required(f"{path}.resource.{key}"))
            elif v in (".", "..") or "/" in v or "%" in v:
                errs.append(invalid(f"{path}.resource.{key}", v,
                                    f"may not {'be' if v in ('.', '..') else 'contain'} "
                                    f"'{v if v in ('.', '..') else ('/' if '/' in v else '%')}'"))
        return
    if service is None:
        errs.append(invalid(path, "", "resource or service backend is required"))
        return
    name = _get_str(service, "name", f"{path}.service.name", errs)
    if not name:
        errs.append(required(f"{path}.service.name"))
    else:
        errs.extend(invalid(f"{path}.service.name", name, m) for m in name_is_dns1035_label(name, False))
    port = _get_map(service, "port", f"{path}.service.port", errs) or {}
    pname = _get_str(port, "name", f"{path}.service.port.name", errs)
    number = _get_int(port, "number", f"{path}.service.port.number", errs) or 0
    if pname and number:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif pname:
        errs.extend(invalid(f"{path}.service.port.name", pname, m) for m in is_valid_port_name(pname))
    elif number:
        errs.extend(invalid(f"{path}.service.port.number", number, m) for m in is_valid_port_num(number))
    else:
        errs.append(required(path, "port name or number is required"))


def _validate_path(p: Obj, path: str, errs: Errs) -> None:
    """validateHTTPIngressPath."""
    ptype = _get_opt_str(p, "pathType", f"{path}.pathType", errs)
    text = _get_str(p, "path", f"{path}.path", errs)
    if ptype is None:
        errs.append(required(f"{path}.pathType", "pathType must be specified"))
        return
    if ptype in ("Exact", "Prefix"):
        if not text.startswith("/"):
            errs.append(invalid(f"{path}.path", text, "must be an absolute path"))
        if text:
            errs.extend(invalid(f"{path}.path", text, f"must not contain '{s}'") for s in _BAD_SEQUENCES if s in text)
            errs.extend(invalid(f"{path}.path", text, f"cannot end with '{s}'") for s in _BAD_SUFFIXES
                        if text.endswith(s))
    elif ptype == "ImplementationSpecific":
        if text and not text.startswith("/"):
            errs.append(invalid(f"{path}.path", text, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{path}.pathType", ptype, _PATH_TYPES))
    _validate_backend(_get_map(p, "backend", f"{path}.backend", errs) or {}, f"{path}.backend", errs)


def _validate_spec(spec: Obj, errs: Errs) -> None:
    """ValidateIngressSpec."""
    rules = _items(spec, "rules", "spec.rules", errs)
    default_backend = _get_map(spec, "defaultBackend", "spec.defaultBackend", errs)
    if not rules and default_backend is None:
        go = "[]networking.IngressRule(nil)" if spec.get("rules") is None else "[]networking.IngressRule{}"
        errs.append(GoValueError("Invalid", "spec", None, "either `defaultBackend` or `rules` must be specified", go))
    if default_backend is not None:
        _validate_backend(default_backend, "spec.defaultBackend", errs)
    for i, rule in rules:
        rp = f"spec.rules[{i}]"
        host = _get_str(rule, "host", f"{rp}.host", errs)
        if host:
            if _is_ip(host):
                errs.append(invalid(f"{rp}.host", host, "must be a DNS name, not an IP address"))
            msgs = is_wildcard_dns1123_subdomain(host) if "*" in host else is_dns1123_subdomain(host)
            errs.extend(invalid(f"{rp}.host", host, m) for m in msgs)
        http = _get_map(rule, "http", f"{rp}.http", errs)
        if http is not None:
            paths = _items(http, "paths", f"{rp}.http.paths", errs)
            if not paths:
                errs.append(required(f"{rp}.http.paths"))
            for j, p in paths:
                _validate_path(p, f"{rp}.http.paths[{j}]", errs)
    for i, tls in _items(spec, "tls", "spec.tls", errs):
        for j, host in enumerate(_get_str_list(tls, "hosts", f"spec.tls[{i}].hosts", errs) or []):
            msgs = is_wildcard_dns1123_subdomain(host) if "*" in host else is_dns1123_subdomain(host)
            errs.extend(invalid(f"spec.tls[{i}].hosts[{j}]", host, m) for m in msgs)
        secret = _get_str(tls, "secretName", f"spec.tls[{i}].secretName", errs)
        if secret:
            errs.extend(invalid(f"spec.tls[{i}].secretName", secret, m) for m in name_is_dns_subdomain(secret, False))
    cls = _get_opt_str(spec, "ingressClassName", "spec.ingressClassName", errs)
    if cls is not None:
        errs.extend(invalid("spec.ingressClassName", cls, m) for m in name_is_dns_subdomain(cls, False))


def validate(obj: Obj, old: Obj | None) -> Errs:
    """ValidateIngressCreate / ValidateIngressUpdate."""
    errs = _meta_errs(obj, old, name_is_dns_subdomain)
    spec = _get_map(obj, "spec", "spec", errs) or {}
    _validate_spec(spec, errs)
    if old is None:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        cls = spec.get("ingressClassName")
        if _CLASS_ANNOTATION in annotations and isinstance(cls, str) and annotations[_CLASS_ANNOTATION] != cls:
            errs.append(invalid(f"annotations.{_CLASS_ANNOTATION}", annotations[_CLASS_ANNOTATION],
                                "must match `ingressClassName` when both are specified"))
    return errs


def format_hosts(rules: list[Obj]) -> str:
    """formatHosts: up to three hosts, ``*`` when none."""
    listed: list[str] = []
    more = False
    for rule in rules:
        if len(listed) == 3:
            more = True
        if not more and rule.get("host"):
            listed.append(rule["host"])
    if not listed:
        return "*"
    return ",".join(listed) + (f" + {len(rules) - 3} more..." if more else "")


def load_balancer_address(status: Obj, wide: bool = False) -> str:
    """ingressLoadBalancerStatusStringer: IPs and hostnames, cut to 16 characters + "..." unless wide."""
    parts = []
    for ing in (status.get("loadBalancer") or {}).get("ingress") or []:
        if ing.get("ip"):
            parts.append(ing["ip"])
        elif ing.get("hostname"):
            parts.append(ing["hostname"])
    text = ",".join(parts)
    return text[:16] + "..." if not wide and len(text) > 16 else text


COLUMNS: list[Column] = [
    name_col(),
    col("Class", "string", "The name of the IngressClass resource that should be used for ingress"),
    col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    col("Ports", "string", "Ports of TLS configurations that open"),
    age_col(),
]


def print_row(obj: Obj, now: datetime.datetime) -> Row:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    assert isinstance(spec, dict) and isinstance(status, dict)
    return {"cells": [obj_name(obj), spec.get("ingressClassName") or "<none>", format_hosts(spec.get("rules") or []),
                      load_balancer_address(status), "80, 443" if spec.get("tls") else "80", age(obj, now)]}


STRATEGY = register(Strategy(
    resource=ResourceType("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", short_names=("ing",),
                          subresources={"status": ("Ingress", ("get", "patch", "update"))}),
    discovery_order=131,
    validate=validate,
    initial_status={"loadBalancer": {}},
    track_generation=True,
    columns=COLUMNS,
    print_row=print_row,
))
