"""Endpoints (pkg/registry/core/endpoint): storage, defaults, validation, table columns.

Source: pkg/apis/core/v1/defaults.go SetDefaults_Endpoints; validation.go ValidateEndpoints,
validateEndpointSubsets, validateEndpointAddress, validateEndpointPort; printers.go printEndpoints,
formatEndpoints; types.go (``subsets`` is replaced whole by a strategic merge patch).
"""

from __future__ import annotations

import datetime
from typing import Any

from ....k8s.validation import is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_port_num
from ...apimachinery.errors import invalid, required
from ..defaults import _empty, _maps
from ..strategy import ResourceType, Strategy, register
from ..table import NONE, Column, Row, age, age_col, col, int_or, join_host_port, name_col, obj_name
from ..validation import (
    Errs,
    _get_int,
    _get_opt_str,
    _get_str,
    _items,
    _meta_errs,
    _validate_protocol,
    is_valid_ip,
    name_is_dns_subdomain,
    validate_non_special_ip,
)

Obj = dict[str, Any]


def default(obj: dict[str, Any]) -> None:
    """SetDefaults_Endpoints: port protocol TCP."""
    for subset in _maps(obj.get("subsets")):
        for port in _maps(subset.get("ports")):
            if _empty(port.get("protocol")):
                port["protocol"] = "TCP"


def _validate_endpoint_address(a: dict[str, Any], path: str, errs: Errs) -> None:
    ip = _get_str(a, "ip", f"{path}.ip", errs)
    errs.extend(is_valid_ip(f"{path}.ip", ip))
    hostname = _get_str(a, "hostname", f"{path}.hostname", errs)
    if hostname:
        errs.extend(invalid(f"{path}.hostname", hostname, m) for m in is_dns1123_label(hostname))
    node = _get_opt_str(a, "nodeName", f"{path}.nodeName", errs)
    if node is not None:
        errs.extend(invalid(f"{path}.nodeName", node, m) for m in is_dns1123_subdomain(node))
    errs.extend(validate_non_special_ip(f"{path}.ip", ip))


def validate(obj: dict[str, Any], old: dict[str, Any] | None) -> Errs:
    """ValidateEndpoints / validateEndpointSubsets / validateEndpointPort."""
    errs = _meta_errs(obj, old, name_is_dns_subdomain)
    for i, ss in _items(obj, "subsets", "subsets", errs):
        sp = f"subsets[{i}]"
        addrs = _items(ss, "addresses", f"{sp}.addresses", errs)
        not_ready = _items(ss, "notReadyAddresses", f"{sp}.notReadyAddresses", errs)
        if not addrs and not not_ready:
            errs.append(required(sp, "must specify `addresses` or `notReadyAddresses`"))
        for j, a in addrs:
            _validate_endpoint_address(a, f"{sp}.addresses[{j}]", errs)
        for j, a in not_ready:
            _validate_endpoint_address(a, f"{sp}.notReadyAddresses[{j}]", errs)
        ports = _items(ss, "ports", f"{sp}.ports", errs)
        for j, p in ports:
            _validate_endpoint_port(p, len(ports) > 1, f"{sp}.ports[{j}]", errs)
    return errs


def _validate_endpoint_port(p: dict[str, Any], require_name: bool, path: str, errs: Errs) -> None:
    name = _get_str(p, "name", f"{path}.name", errs)
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs.extend(invalid(f"{path}.name", name, m) for m in is_dns1123_label(name))
    port = _get_int(p, "port", f"{path}.port", errs) or 0
    errs.extend(invalid(f"{path}.port", port, m) for m in is_valid_port_num(port))
    errs.extend(_validate_protocol(_get_str(p, "protocol", f"{path}.protocol", errs), f"{path}.protocol"))
    app = _get_opt_str(p, "appProtocol", f"{path}.appProtocol", errs)
    if app is not None:
        errs.extend(invalid(f"{path}.appProtocol", app, m) for m in is_qualified_name(app))


COLUMNS: list[Column] = [
    name_col(),
    col(
        "Endpoints",
        "string",
        "The set of all endpoints is the union of all subsets. Addresses are placed into subsets "
        "according to the IPs they share.",
    ),
    age_col(),
]


def _endpoint_targets(subset: Obj) -> list[list[str]]:
    """The address groups formatEndpoints walks for one subset (one per port)."""
    ips = [a.get("ip") or "" for a in subset.get("addresses") or []]
    ports = subset.get("ports") or []
    if not ports:  # headless services may have no ports
        return [ips]
    return [[join_host_port(ip, int_or(port.get("port"))) for ip in ips] for port in ports]


def format_endpoints(endpoints: Obj) -> str:
    """formatEndpoints(endpoints, nil): ``ip:port,...`` with the ``+ N more...`` rule."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return NONE
    limit, more, count = 3, False, 0
    listed: list[str] = []
    for subset in subsets:
        for group in _endpoint_targets(subset):
            count += len(group)
            for target in group:
                if len(listed) == limit:
                    more = True
                    break
                listed.append(target)
    ret = ",".join(listed)
    return f"{ret} + {count - limit} more..." if more else ret


def print_row(obj: Obj, now: datetime.datetime) -> Row:
    return {"cells": [obj_name(obj), format_endpoints(obj), age(obj, now)]}


STRATEGY = register(Strategy(
    resource=ResourceType("", "v1", "Endpoints", "endpoints", "endpoints", short_names=("ep",)),
    discovery_order=50,
    validate=validate,
    default=default,
    columns=COLUMNS,
    print_row=print_row,
    patch_keys={"subsets": ("replace", "")},
))
