"""EndpointSlice (pkg/registry/discovery/endpointslice): storage, defaults, validation, table columns.

Source: pkg/apis/discovery/v1/defaults.go SetDefaults_EndpointPort;
pkg/apis/discovery/validation/validation.go ValidateEndpointSlice (+ addressType immutable on
update); printers.go printEndpointSlice, formatDiscoveryPorts, formatDiscoveryEndpoints. Strategic
merge patches touch only metadata's lists.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from typing import Any

from ....k8s.validation import is_dns1123_label, is_valid_port_num
from ...apimachinery.errors import duplicate, invalid, not_supported, required
from ..defaults import _maps
from ..strategy import ResourceType, Strategy, register
from ..table import Column, Row, age, age_col, col, list_with_more, name_col, obj_name
from ..validation import (
    _PORT_PROTOCOLS,
    Errs,
    _get_bool,
    _get_int,
    _get_map,
    _get_opt_str,
    _get_str,
    _get_str_list,
    _get_str_map,
    _items,
    _meta_errs,
    _parse_ip,
    _safe,
    _sloppy_v4,
    name_is_dns_subdomain,
    validate_labels,
    validate_non_special_ip,
)

Obj = dict[str, Any]


def default(obj: dict[str, Any]) -> None:
    """discovery/v1 SetDefaults_EndpointPort: name "" and protocol TCP."""
    for port in _maps(obj.get("ports")):
        if port.get("name") is None:
            port["name"] = ""
        if port.get("protocol") is None:
            port["protocol"] = "TCP"


_ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]


def validate(obj: dict[str, Any], old: dict[str, Any] | None) -> Errs:
    """ValidateEndpointSlice (+ addressType immutable on update)."""
    errs = _meta_errs(obj, old, name_is_dns_subdomain)
    atype = _get_str(obj, "addressType", "addressType", errs)
    valid_types = _ADDRESS_TYPES if old is None else sorted(_ADDRESS_TYPES + ["IP"])
    if not atype:
        errs.append(required("addressType"))
    elif atype not in valid_types:
        errs.append(not_supported("addressType", atype, valid_types))
    for i, ep in _items(obj, "endpoints", "endpoints", errs):
        _validate_slice_endpoint(ep, atype, f"endpoints[{i}]", errs)
    names: set[str] = set()
    for i, p in _items(obj, "ports", "ports", errs):
        pp = f"ports[{i}]"
        name = _get_str(p, "name", f"{pp}.name", errs)
        if name:
            errs.extend(invalid(f"{pp}.name", name, m) for m in is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(f"{pp}.name", name))
        names.add(name)
        proto = _get_opt_str(p, "protocol", f"{pp}.protocol", errs)
        if proto is None:
            errs.append(required(f"{pp}.protocol"))
        elif proto not in _PORT_PROTOCOLS:
            errs.append(not_supported(f"{pp}.protocol", proto, _PORT_PROTOCOLS))
        port = _get_int(p, "port", f"{pp}.port", errs)
        if port is not None:
            errs.extend(invalid(f"{pp}.port", port, m) for m in is_valid_port_num(port) if port != 0)
    if old is not None and obj.get("addressType") != old.get("addressType"):
        errs.append(invalid("addressType", _safe(obj.get("addressType", "")), "field is immutable"))
    return errs


def _validate_slice_endpoint(ep: dict[str, Any], atype: str, path: str, errs: Errs) -> None:
    addrs = _get_str_list(ep, "addresses", f"{path}.addresses", errs) or []
    if not addrs:
        errs.append(required(f"{path}.addresses", "must contain at least 1 address"))
    for i, a in enumerate(addrs):
        ap = f"{path}.addresses[{i}]"
        parsed = _parse_ip(a) or _sloppy_v4(a)
        if atype == "IPv4":
            if not isinstance(parsed, ipaddress.IPv4Address):
                errs.append(invalid(ap, a, "must be a valid IPv4 address"))
            errs.extend(validate_non_special_ip(ap, a))
        elif atype == "IPv6":
            if not isinstance(parsed, ipaddress.IPv6Address):
                errs.append(invalid(ap, a, "must be a valid IPv6 address"))
            errs.extend(validate_non_special_ip(ap, a))
    topology = _get_str_map(ep, "deprecatedTopology", f"{path}.deprecatedTopology", errs)
    if topology:
        errs.extend(validate_labels(topology, f"{path}.deprecatedTopology"))
    hostname = _get_opt_str(ep, "hostname", f"{path}.hostname", errs)
    if hostname is not None:
        errs.extend(invalid(f"{path}.hostname", hostname, m) for m in is_dns1123_label(hostname))
    conditions = _get_map(ep, "conditions", f"{path}.conditions", errs) or {}
    for key in ("ready", "serving", "terminating"):
        _get_bool(conditions, key, f"{path}.conditions.{key}", errs)


COLUMNS: list[Column] = [
    name_col(),
    col(
        "AddressType",
        "string",
        "addressType specifies the type of address carried by this EndpointSlice. All addresses in "
        "this slice must be the same type.",
    ),
    col("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice."),
    col("Endpoints", "string", "endpoints is a list of unique endpoints in this slice."),
    age_col(),
]


def format_discovery_ports(ports: Iterable[Obj] | None) -> str:
    """formatDiscoveryPorts: port number, else name, else ``*``."""
    limit, more, count = 3, False, 0
    listed: list[str] = []
    for port in ports or []:
        if len(listed) < limit:
            if port.get("port") is not None:
                listed.append(str(port["port"]))
            elif port.get("name") is not None:
                listed.append(port["name"])
            else:
                listed.append("*")
        elif len(listed) == limit:
            more = True
        count += 1
    return list_with_more(listed, more, count, limit)


def format_discovery_endpoints(endpoints: Iterable[Obj] | None) -> str:
    """formatDiscoveryEndpoints: every address of every endpoint."""
    limit, more, count = 3, False, 0
    listed: list[str] = []
    for endpoint in endpoints or []:
        for address in endpoint.get("addresses") or []:
            if len(listed) < limit:
                listed.append(address)
            elif len(listed) == limit:
                more = True
            count += 1
    return list_with_more(listed, more, count, limit)


def print_row(obj: Obj, now: datetime.datetime) -> Row:
    return {
        "cells": [
            obj_name(obj),
            obj.get("addressType") or "",
            format_discovery_ports(obj.get("ports")),
            format_discovery_endpoints(obj.get("endpoints")),
            age(obj, now),
        ]
    }


STRATEGY = register(Strategy(
    resource=ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice"),
    discovery_order=90,
    validate=validate,
    default=default,
    columns=COLUMNS,
    print_row=print_row,
))
