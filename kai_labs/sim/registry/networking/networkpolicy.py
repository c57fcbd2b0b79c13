"""NetworkPolicy (pkg/registry/networking/networkpolicy): storage, defaults, validation, table columns.

Source: pkg/apis/networking/v1/defaults.go (SetDefaults_NetworkPolicyPort: protocol TCP;
SetDefaults_NetworkPolicy: policyTypes [Ingress], plus Egress when egress rules exist);
pkg/apis/networking/validation/validation.go (ValidateNetworkPolicy, ValidateNetworkPolicySpec,
ValidateNetworkPolicyPort, ValidateNetworkPolicyPeer, ValidateIPBlock with the legacy CIDR parse of
apimachinery pkg/util/validation/ip.go parseCIDR, StrictIPCIDRValidation off);
pkg/printers/internalversion/printers.go printNetworkPolicy (NAME, POD-SELECTOR, AGE). The Go types carry
no patchStrategy tags, so strategic merge patches replace the rule lists. What the policies do to traffic
is ``kai_labs/k8s/netpol.py``.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from ....k8s.validation import is_valid_port_name, is_valid_port_num
from ...apimachinery.errors import FieldError, forbidden, invalid, required
from ..defaults import _maps
from ..strategy import ResourceType, Strategy, register
from ..table import Column, Row, age, age_col, col, format_label_selector, name_col, obj_name
from ..validation import (
    Errs,
    _get_int,
    _get_int_or_str,
    _get_map,
    _get_opt_str,
    _get_str,
    _get_str_list,
    _items,
    _meta_errs,
    _ns_ordered,
    _validate_label_selector,
    name_is_dns_subdomain,
)

Obj = dict[str, Any]

_PROTOCOLS = ["TCP", "UDP", "SCTP"]  # the literal order ValidateNetworkPolicyPort passes to NotSupported
_POLICY_TYPES = ["Ingress", "Egress"]
_CIDR_MSG = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
_SLOPPY_V4_CIDR = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,3})")


@dataclass(frozen=True)
class GoValueError(FieldError):
    """A field error whose value Go prints with ``%#v`` (``[]networking.PolicyType{"Ingress", ...}``, a typed nil
    slice ``[]networking.IngressRule(nil)``), which no JSON rendering gives."""

    go_value: str = ""

    def body(self) -> str:
        return f"Invalid value: {self.go_value}: {self.detail}"


def default(obj: Obj) -> None:
    """SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    for key in ("ingress", "egress"):
        for rule in _maps(spec.get(key)):
            for port in _maps(rule.get("ports")):
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def parse_cidr_sloppy(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """netutils.ParseCIDRSloppy: IPv4 octets and prefix may carry leading zeros; host bits may be set
    (the network is the masked prefix)."""
    if not isinstance(value, str) or "%" in value:
        return None
    m = _SLOPPY_V4_CIDR.fullmatch(value)
    try:
        if m is not None:
            octets = [int(o) for o in m.groups()[:4]]
            bits = int(m.group(5))
            if any(o > 255 for o in octets) or bits > 32:
                return None
            return ipaddress.ip_network(f"{'.'.join(map(str, octets))}/{bits}", strict=False)
        if ":" not in value or "/" not in value:
            return None
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _validate_port(port: Obj, path: str, errs: Errs) -> None:
    """ValidateNetworkPolicyPort."""
    proto = _get_opt_str(port, "protocol", f"{path}.protocol", errs)
    if proto is not None and proto not in _PROTOCOLS:
        errs.append(_ns_ordered(f"{path}.protocol", proto, _PROTOCOLS))
    value = _get_int_or_str(port, "port", f"{path}.port", errs)
    end = _get_int(port, "endPort", f"{path}.endPort", errs)
    if value is None:
        if end is not None:
            errs.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    elif isinstance(value, int):
        errs.extend(invalid(f"{path}.port", value, m) for m in is_valid_port_num(value))
        if end is not None:
            if end < value:
                errs.append(invalid(f"{path}.endPort", end, "must be greater than or equal to `port`"))
            errs.extend(invalid(f"{path}.endPort", end, m) for m in is_valid_port_num(end))
    else:
        if end is not None:
            errs.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
        errs.extend(invalid(f"{path}.port", value, m) for m in is_valid_port_name(value))


def _validate_ip_block(block: Obj, path: str, allowed: set[str], errs: Errs) -> None:
    """ValidateIPBlock: a CIDR, and each except a strict subset of it (CIDRs already stored in the old
    object are not checked again on update)."""
    cidr = _get_str(block, "cidr", f"{path}.cidr", errs)
    if not cidr:
        errs.append(required(f"{path}.cidr"))
        return
    net = parse_cidr_sloppy(cidr)
    if net is None:
        if cidr not in allowed:
            errs.append(invalid(f"{path}.cidr", cidr, _CIDR_MSG))
        return
    for i, text in enumerate(_get_str_list(block, "except", f"{path}.except", errs) or []):
        ep = f"{path}.except[{i}]"
        exc = parse_cidr_sloppy(text)
        if exc is None:
            if text not in allowed:
                errs.append(invalid(ep, text, _CIDR_MSG))
            continue
        if exc.version != net.version or exc.network_address not in net or net.prefixlen >= exc.prefixlen:
            errs.append(invalid(ep, text, "must be a strict subset of `cidr`"))


def _validate_peer(peer: Obj, path: str, allowed: set[str], errs: Errs) -> None:
    """ValidateNetworkPolicyPeer: at least one of the three; ipBlock alone."""
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        sel = _get_map(peer, key, f"{path}.{key}", errs)
        if sel is not None:
            count += 1
            _validate_label_selector(sel, f"{path}.{key}", errs)
    block = _get_map(peer, "ipBlock", f"{path}.ipBlock", errs)
    if block is not None:
        count += 1
        _validate_ip_block(block, f"{path}.ipBlock", allowed, errs)
    if count == 0:
        errs.append(required(path, "must specify a peer"))
    elif count > 1 and block is not None:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))


def _cidrs(spec: Obj) -> set[str]:
    """Every cidr and except of a stored policy (ValidateNetworkPolicyUpdate's existingCIDRs)."""
    out: set[str] = set()
    for key, peers in (("ingress", "from"), ("egress", "to")):
        for rule in _maps(spec.get(key)):
            for peer in _maps(rule.get(peers)):
                block = peer.get("ipBlock")
                if isinstance(block, dict):
                    if isinstance(block.get("cidr"), str):
                        out.add(block["cidr"])
                    out.update(e for e in block.get("except") or [] if isinstance(e, str))
    return out


def validate(obj: Obj, old: Obj | None) -> Errs:
    """ValidateNetworkPolicy / ValidateNetworkPolicyUpdate."""
    errs = _meta_errs(obj, old, name_is_dns_subdomain)
    spec = _get_map(obj, "spec", "spec", errs) or {}
    old_spec = (old or {}).get("spec")
    allowed = _cidrs(old_spec) if isinstance(old_spec, dict) else set()
    _validate_label_selector(_get_map(spec, "podSelector", "spec.podSelector", errs) or {}, "spec.podSelector", errs)
    for key, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in _items(spec, key, f"spec.{key}", errs):
            rp = f"spec.{key}[{i}]"
            for j, port in _items(rule, "ports", f"{rp}.ports", errs):
                _validate_port(port, f"{rp}.ports[{j}]", errs)
            for j, peer in _items(rule, peers, f"{rp}.{peers}", errs):
                _validate_peer(peer, f"{rp}.{peers}[{j}]", allowed, errs)
    types = _get_str_list(spec, "policyTypes", "spec.policyTypes", errs) or []
    if len(types) > len(_POLICY_TYPES):
        go = "[]networking.PolicyType{" + ", ".join(json.dumps(t) for t in types) + "}"
        errs.append(GoValueError("Invalid", "spec.policyTypes", None, "may not specify more than two policyTypes", go))
        return errs
    for i, t in enumerate(types):
        if t not in _POLICY_TYPES:
            errs.append(_ns_ordered(f"spec.policyTypes[{i}]", t, _POLICY_TYPES))
    return errs


COLUMNS: list[Column] = [
    name_col(),
    col("Pod-Selector", "string",
        "podSelector selects the pods to which this NetworkPolicy object applies. The array of rules is applied "
        "to any pods selected by this field. An empty selector matches all pods in the policy's namespace. "
        "Multiple network policies can select the same set of pods. In this case, the ingress rules for each "
        "are combined additively. This field is optional. If it is not specified, it defaults to an empty "
        "selector."),
    age_col(),
]


def print_row(obj: Obj, now: datetime.datetime) -> Row:
    """printNetworkPolicy: the name, metav1.FormatLabelSelector(spec.podSelector), the age."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    return {"cells": [obj_name(obj), format_label_selector(spec.get("podSelector") or {}), age(obj, now)]}


STRATEGY = register(Strategy(
    resource=ResourceType("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy",
                          short_names=("netpol",)),
    discovery_order=130,
    validate=validate,
    default=default,
    track_generation=True,
    columns=COLUMNS,
    print_row=print_row,
))
