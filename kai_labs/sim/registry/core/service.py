"""Service (pkg/registry/core/service): storage, defaults, validation, status, table columns.

Source: pkg/apis/core/v1/defaults.go SetDefaults_Service; pkg/registry/core/service/strategy.go
(normalizeClusterIPs, dropTypeDependentFields: PrepareForUpdate); storage/alloc.go
(initIPFamilyFields, allocIPs); ipallocator ErrNotInRange; validation.go ValidateService,
validateServicePort, ValidateServiceClusterIPsRelatedFields, validateUpgradeDowngradeClusterIPs,
validateClientIPAffinityConfig, validateServiceExternalTrafficPolicy,
validateServiceInternalTrafficFieldsValue; printers.go printService, getServiceExternalIP,
makePortString; types.go (``spec.ports`` merged by ``port``). Allocation itself (clusterIP,
nodePort) stays in ``generic.py``.
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
from collections.abc import Iterable
from typing import Any

from ....k8s.validation import is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_port_num
from ...apimachinery.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from ..allocators import SERVICE_CIDR
from ..defaults import _as_list, _as_map, _child_map, _empty, _is_int, _maps
from ..strategy import CONDITIONS_PATCH_KEYS, ResourceType, Strategy, patch_keys_at, register
from ..table import (
    NONE,
    UNKNOWN,
    Column,
    Row,
    age,
    age_col,
    col,
    format_labels,
    int_or,
    name_col,
    obj_name,
    obj_spec,
    obj_status,
)
from ..validation import (
    Errs,
    _get_bool,
    _get_int,
    _get_int_or_str,
    _get_map,
    _get_opt_str,
    _get_str,
    _get_str_list,
    _get_str_map,
    _items,
    _list_at,
    _parse_ip,
    _safe,
    _validate_protocol,
    is_valid_ip,
    name_is_dns1035_label,
    validate_labels,
    validate_non_special_ip,
    validate_object_meta,
    validate_object_meta_update,
    validate_port_num_or_name,
)

Obj = dict[str, Any]


DEFAULT_CLIENT_IP_TIMEOUT = 10800


def default(obj: dict[str, Any]) -> None:
    """SetDefaults_Service (R5) + the allocator's IP-family defaults + create-time clusterIPs sync."""
    spec = _child_map(obj, "spec")
    if spec is None:
        return
    _default_session_affinity(spec)
    if _empty(spec.get("type")):
        spec["type"] = "ClusterIP"
    for sp in _maps(spec.get("ports")):
        _default_service_port(sp)
    if _externally_accessible(spec) and _empty(spec.get("externalTrafficPolicy")):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    normalize_service_cluster_ips(obj, None)
    _default_ip_families(spec)
    status = _child_map(obj, "status")
    if status is not None and status.get("loadBalancer") is None:
        status["loadBalancer"] = {}


def _default_session_affinity(spec: dict[str, Any]) -> None:
    if _empty(spec.get("sessionAffinity")):
        spec["sessionAffinity"] = "None"
    affinity = spec.get("sessionAffinity")
    if affinity == "None":
        spec.pop("sessionAffinityConfig", None)
    elif affinity == "ClientIP":
        cfg = _as_map(spec.get("sessionAffinityConfig"))
        client_ip = _as_map(cfg.get("clientIP")) if cfg is not None else None
        if client_ip is None or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT}}


def _default_service_port(sp: dict[str, Any]) -> None:
    if _empty(sp.get("protocol")):
        sp["protocol"] = "TCP"
    tp = sp.get("targetPort")
    if (tp is None or tp == "" or (_is_int(tp) and tp == 0)) and _is_int(sp.get("port")):
        sp["targetPort"] = sp["port"]


def _default_parse_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _default_ip_families(spec: dict[str, Any]) -> None:
    """alloc.go initIPFamilyFields on a single-stack IPv4 cluster.

    Headless + selectorless Services default to RequireDualStack and get both
    families listed; everything else gets SingleStack / [IPv4]. A family is not
    inferred from an IPv6 clusterIP (validation reports that IPv6 is not configured).
    """
    if spec.get("type") == "ExternalName":
        return
    cips = _as_list(spec.get("clusterIPs")) or []
    first = cips[0] if cips else spec.get("clusterIP")
    headless = first == "None"
    selector = spec.get("selector")
    selectorless = not (isinstance(selector, dict) and len(selector) > 0)
    if spec.get("ipFamilyPolicy") is None:
        spec["ipFamilyPolicy"] = "RequireDualStack" if headless and selectorless else "SingleStack"
    if spec.get("ipFamilies") is not None:
        return
    ip = _default_parse_ip(first)
    if ip is not None and ip.version == 6:
        return
    families = ["IPv4"]
    if headless and selectorless and spec.get("ipFamilyPolicy") != "SingleStack":
        families.append("IPv6")
    spec["ipFamilies"] = families


def _type(spec: dict[str, Any]) -> Any:
    return spec.get("type") or "ClusterIP"  # already defaulted when Go's storage sees it


def patch_allocated_values(spec: dict[str, Any], ospec: dict[str, Any]) -> None:
    """An update that leaves out what the API server allocated keeps it (pkg/registry/core/service/storage/
    storage.go patchAllocatedValues, run before PrepareForUpdate and validation): ``kubectl replace -f`` of a
    manifest without clusterIP, or ``kubectl apply`` after ``clusterIP:`` was removed from it (also
    ``clusterIP: None``), keeps the address instead of failing "primary clusterIP can not be unset".

    - both old and new need a cluster IP (type other than ExternalName): an empty clusterIP takes the old
      one, empty clusterIPs the old list;
    - both need node ports (NodePort, LoadBalancer): a port with no nodePort takes the old port's of the
      same name, unless another port of the new spec already uses that number;
    - both need a health-check node port: an unset healthCheckNodePort takes the old one.
    """
    if _type(spec) != "ExternalName" and _type(ospec) != "ExternalName":
        if not spec.get("clusterIP") and ospec.get("clusterIP"):
            spec["clusterIP"] = ospec["clusterIP"]
        if not spec.get("clusterIPs") and ospec.get("clusterIPs"):
            spec["clusterIPs"] = list(ospec["clusterIPs"])
    node_port_types = ("NodePort", "LoadBalancer")
    if _type(spec) in node_port_types and _type(ospec) in node_port_types:
        new_ports, old_ports = _maps(spec.get("ports")), _maps(ospec.get("ports"))
        used = ({p.get("nodePort") for p in old_ports if p.get("nodePort")}
                & {p.get("nodePort") for p in new_ports if p.get("nodePort")})
        by_name = {p.get("name") or "": p.get("nodePort") for p in old_ports}
        for p in new_ports:
            if not p.get("nodePort"):
                was = by_name.get(p.get("name") or "")
                if was and was not in used:
                    p["nodePort"] = was
        if (spec.get("externalTrafficPolicy") == "Local" and ospec.get("externalTrafficPolicy") == "Local"
                and _type(spec) == "LoadBalancer" and _type(ospec) == "LoadBalancer"
                and not spec.get("healthCheckNodePort") and ospec.get("healthCheckNodePort")):
            spec["healthCheckNodePort"] = ospec["healthCheckNodePort"]


def normalize_service_cluster_ips(obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Keep ``spec.clusterIP`` and ``spec.clusterIPs`` in step, and drop fields a type change orphans.

    Source: pkg/registry/core/service/strategy.go normalizeClusterIPs and
    dropTypeDependentFields. ``old`` is the stored object on update, None on create.
    """
    spec = _as_map(obj.get("spec")) if isinstance(obj, dict) else None
    if spec is None:
        return
    cip, cips = spec.get("clusterIP"), spec.get("clusterIPs")
    if old is None:
        if isinstance(cip, str) and cip and not cips:
            spec["clusterIPs"] = [cip]
        return
    ospec = _as_map(old.get("spec")) if isinstance(old, dict) else None
    if ospec is None:
        return
    patch_allocated_values(spec, ospec)
    cip, cips = spec.get("clusterIP"), spec.get("clusterIPs")
    ocip, ocips = ospec.get("clusterIP"), ospec.get("clusterIPs")
    if ocips and not cips and ocip == cip:
        spec["clusterIPs"] = ocips
    if ocip != cip and spec.get("clusterIPs") == ocips:
        if ocip and not cip:
            spec.pop("clusterIPs", None)
        elif isinstance(cip, str):
            spec["clusterIPs"] = [cip]
    _drop_type_dependent_fields(spec, ospec)


def _drop_type_dependent_fields(spec: dict[str, Any], ospec: dict[str, Any]) -> None:
    """strategy.go dropTypeDependentFields: only fields the user left unchanged are cleared."""
    new_type, old_type = spec.get("type"), ospec.get("type")
    if new_type == old_type:
        return
    if new_type == "ExternalName":
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if key in spec and spec.get(key) == ospec.get(key):
                spec.pop(key, None)
    if new_type not in ("NodePort", "LoadBalancer"):
        old_ports = {(p.get("port"), p.get("protocol")): p.get("nodePort") for p in _maps(ospec.get("ports"))}
        for p in _maps(spec.get("ports")):
            if "nodePort" in p and old_ports.get((p.get("port"), p.get("protocol"))) == p.get("nodePort"):
                p.pop("nodePort", None)
    if new_type != "LoadBalancer":
        for key in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if key in spec and spec.get(key) == ospec.get(key):
                spec.pop(key, None)
    if not _externally_accessible(spec):
        for key in ("externalTrafficPolicy", "healthCheckNodePort"):
            if key in spec and spec.get(key) == ospec.get(key):
                spec.pop(key, None)


SERVICE_CLUSTER_IP_RANGE = str(SERVICE_CIDR)  # one range for the allocator and validation (allocators.py)


_SERVICE_NET = ipaddress.ip_network(SERVICE_CLUSTER_IP_RANGE)


_KUBELET_PORT = 10250


def cluster_ip_in_range(ip: str) -> bool:
    """True when ``ip`` is allocatable from the Service range, 10.96.0.0/16 (network and broadcast are reserved)."""
    parsed = _parse_ip(ip)
    if not isinstance(parsed, ipaddress.IPv4Address) or parsed not in _SERVICE_NET:
        return False
    return parsed not in (_SERVICE_NET.network_address, _SERVICE_NET.broadcast_address)


def cluster_ip_range_error(ip: str, cluster_ips: list[str] | None = None) -> FieldError:
    """The allocator's answer for a requested clusterIP outside the service range.

    Source: pkg/registry/core/service/storage/alloc.go allocIPs
    (``failed to allocate IP %v: %v`` on ``spec.clusterIPs`` with the whole
    clusterIPs list as value) and ipallocator ErrNotInRange.Error.
    """
    value = cluster_ips if cluster_ips is not None else [ip]
    return invalid("spec.clusterIPs", _safe(value),
                   f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. "
                   f"The range of valid IPs is {SERVICE_CLUSTER_IP_RANGE}")


_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


_AFFINITIES = ["ClientIP", "None"]


_IP_FAMILIES = ["IPv4", "IPv6"]


_IP_FAMILY_POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"]


_TRAFFIC_POLICIES = ["Cluster", "Local"]


_MAX_AFFINITY_TIMEOUT = 86400


def _svc_spec(obj: dict[str, Any], errs: Errs) -> dict[str, Any]:
    return _get_map(obj, "spec", "spec", errs) or {}


def _cluster_ips(spec: dict[str, Any], errs: Errs) -> list[str]:
    return _get_str_list(spec, "clusterIPs", "spec.clusterIPs", errs) or []


def _is_headless(spec: dict[str, Any]) -> bool:
    cips = spec.get("clusterIPs")
    return isinstance(cips, list) and len(cips) == 1 and cips[0] == "None"


def _externally_accessible(spec: dict[str, Any]) -> bool:
    t = spec.get("type")
    ext = spec.get("externalIPs")
    return t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and isinstance(ext, list) and len(ext) > 0)


def validate_service_cluster_ips_related(spec: dict[str, Any]) -> Errs:
    """ValidateServiceClusterIPsRelatedFields (returns early for ExternalName)."""
    errs: Errs = []
    if spec.get("type") == "ExternalName":
        return errs
    cip = _get_str(spec, "clusterIP", "spec.clusterIP", errs)
    cips = _cluster_ips(spec, errs)
    if cip:
        if not cips:
            errs.append(required("spec.clusterIPs"))
        elif cips[0] != cip:
            errs.append(invalid("spec.clusterIPs", cips, "first value must match `clusterIP`"))
    elif cips:
        errs.append(invalid("spec.clusterIPs", cips, "must be empty when `clusterIP` is not specified"))
    families = _get_str_list(spec, "ipFamilies", "spec.ipFamilies", errs) or []
    seen: set[str] = set()
    for i, fam in enumerate(families):
        if fam not in _IP_FAMILIES:
            errs.append(not_supported(f"spec.ipFamilies[{i}]", fam, _IP_FAMILIES))
        if fam in seen:
            errs.append(duplicate(f"spec.ipFamilies[{i}]", fam))
        seen.add(fam)
    policy = _get_opt_str(spec, "ipFamilyPolicy", "spec.ipFamilyPolicy", errs)
    if policy is not None and policy not in _IP_FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", policy, _IP_FAMILY_POLICIES))
    has_invalid = False
    for i, ip in enumerate(cips):
        if i == 0 and ip == "None":
            if len(cips) > 1:
                has_invalid = True
                errs.append(invalid("spec.clusterIPs", cips, "'None' must be the first and only value"))
            continue
        ip_errs = is_valid_ip(f"spec.clusterIPs[{i}]", ip)
        has_invalid = has_invalid or bool(ip_errs)
        errs.extend(ip_errs)
    if len(cips) > 2:
        errs.append(invalid("spec.clusterIPs", cips, "may only hold up to 2 values"))
    if has_invalid:
        return errs
    errs.extend(_dual_stack_checks(spec, cips, families))
    return errs


def _dual_stack_checks(spec: dict[str, Any], cips: list[str], families: list[str]) -> Errs:
    errs: Errs = []
    if len(cips) > 1:
        versions = {ip.version for ip in (_parse_ip(c) for c in cips) if ip is not None}
        if len(cips) != 2 or len(versions) != 2:
            errs.append(invalid("spec.clusterIPs", cips, "may specify no more than one IP for each IP family"))
    if not _is_headless(spec) and cips and families:
        for i, ip in enumerate(cips[: len(families)]):
            parsed = _parse_ip(ip)
            is_v6 = parsed is not None and parsed.version == 6
            if families[i] == "IPv4" and is_v6:
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip,
                                    f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
            if families[i] == "IPv6" and not is_v6:
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip,
                                    f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    return errs


def validate_service_allocation(obj: dict[str, Any]) -> Errs:
    """What a Service create is refused with *before* full validation runs.

    The real registry runs allocation in BeginCreate, ahead of the strategy's
    ValidateService: initIPFamilyFields pre-validates the clusterIP fields
    (ValidateServiceClusterIPsRelatedFields) and checks the families against a
    single-stack IPv4 cluster, then allocIPs rejects a requested clusterIP that
    is outside the Service range (10.96.0.0/16). Each stage answers alone. Sources:
    pkg/registry/core/service/storage/alloc.go (initIPFamilyFields, allocIPs).
    Node ports are not checked here (the server's allocator owns them).
    """
    errs: Errs = []
    if not isinstance(obj, dict):
        return errs
    spec = _svc_spec(obj, errs)
    if errs or spec.get("type") == "ExternalName":
        return errs
    errs.extend(validate_service_cluster_ips_related(spec))
    if errs:
        return errs
    errs.extend(_family_checks(spec))
    if errs:
        return errs
    cips = spec.get("clusterIPs") or []
    if cips and cips[0] != "None" and not cluster_ip_in_range(cips[0]):
        errs.append(cluster_ip_range_error(cips[0], list(cips)))
    return errs


def _family_checks(spec: dict[str, Any]) -> Errs:
    """initIPFamilyFields checks against a single-stack IPv4 cluster."""
    errs: Errs = []
    policy = spec.get("ipFamilyPolicy")
    cips: list[str] = spec.get("clusterIPs") or []
    families: list[str] = spec.get("ipFamilies") or []
    if policy == "SingleStack":
        if len(cips) == 2:
            errs.append(invalid("spec.ipFamilyPolicy", policy,
                                "must be 'RequireDualStack' or 'PreferDualStack' "
                                "when multiple cluster IPs are specified"))
        if len(families) == 2:
            errs.append(invalid("spec.ipFamilyPolicy", policy,
                                "must be 'RequireDualStack' or 'PreferDualStack' "
                                "when multiple IP families are specified"))
    for i, ip in enumerate(cips):
        if ip == "None":
            break
        parsed = _parse_ip(ip)
        if i >= len(families) and parsed is not None and parsed.version == 6:
            errs.append(invalid(f"spec.clusterIPs[{i}]", cips, "IPv6 is not configured on this cluster"))
    if errs:
        return errs
    selector = spec.get("selector")
    if _is_headless(spec) and not (isinstance(selector, dict) and selector):
        return errs
    if policy == "RequireDualStack":
        errs.append(invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack services"))
    for i, fam in enumerate(families):
        if fam != "IPv4":
            errs.append(invalid(f"spec.ipFamilies[{i}]", fam, "not configured on this cluster"))
    return errs


def _validate_service_port(sp: dict[str, Any], i: int, require_name: bool, names: set[str], errs: Errs) -> None:
    """validateServicePort (R8-R11)."""
    path = f"spec.ports[{i}]"
    name = _get_str(sp, "name", f"{path}.name", errs)
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs.extend(invalid(f"{path}.name", name, m) for m in is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        else:
            names.add(name)
    port = _get_int(sp, "port", f"{path}.port", errs)
    errs.extend(invalid(f"{path}.port", port or 0, m) for m in is_valid_port_num(port or 0))
    errs.extend(_validate_protocol(_get_str(sp, "protocol", f"{path}.protocol", errs), f"{path}.protocol"))
    target = _get_int_or_str(sp, "targetPort", f"{path}.targetPort", errs)
    errs.extend(validate_port_num_or_name(target if target is not None else 0, f"{path}.targetPort"))
    app = _get_opt_str(sp, "appProtocol", f"{path}.appProtocol", errs)
    if app is not None:
        errs.extend(invalid(f"{path}.appProtocol", app, m) for m in is_qualified_name(app))


def _validate_service_type_rules(spec: dict[str, Any], ports: list[tuple[int, dict[str, Any]]], errs: Errs) -> None:
    """The ``switch service.Spec.Type`` block of ValidateService (R14)."""
    stype = spec.get("type")
    cips = _list_at(spec, "clusterIPs")
    if stype == "LoadBalancer":
        for i, p in ports:
            if p.get("port") == _KUBELET_PORT:
                errs.append(invalid(f"spec.ports[{i}]", _KUBELET_PORT,
                                    f"may not expose port {_KUBELET_PORT} externally since it is used by kubelet"))
    if stype in ("LoadBalancer", "NodePort") and _is_headless(spec):
        errs.append(invalid("spec.clusterIPs[0]", _safe(cips[0]), f"may not be set to 'None' for {stype} services"))
    if stype == "ExternalName":
        if cips:
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = _get_str(spec, "externalName", "spec.externalName", errs).removesuffix(".")
        if cname:
            errs.extend(invalid("spec.externalName", cname, m) for m in is_dns1123_subdomain(cname))
        else:
            errs.append(required("spec.externalName"))


def _validate_session_affinity(spec: dict[str, Any], errs: Errs) -> None:
    """R15: sessionAffinity values and validateClientIPAffinityConfig."""
    affinity = _get_str(spec, "sessionAffinity", "spec.sessionAffinity", errs)
    if not affinity:
        errs.append(required("spec.sessionAffinity"))
    elif affinity not in _AFFINITIES:
        errs.append(not_supported("spec.sessionAffinity", affinity, _AFFINITIES))
    cfg_path = "spec.sessionAffinityConfig"
    cfg = _get_map(spec, "sessionAffinityConfig", cfg_path, errs)
    if affinity == "ClientIP":
        when = "when session affinity type is ClientIP"
        client_ip = _get_map(cfg, "clientIP", f"{cfg_path}.clientIP", errs) if cfg is not None else None
        timeout = (_get_int(client_ip, "timeoutSeconds", f"{cfg_path}.clientIP.timeoutSeconds", errs)
                   if client_ip is not None else None)
        if cfg is None:
            errs.append(required(cfg_path, when))
        elif client_ip is None:
            errs.append(required(f"{cfg_path}.clientIP", when))
        elif timeout is None:
            errs.append(required(f"{cfg_path}.clientIP.timeoutSeconds", when))
        elif timeout <= 0 or timeout > _MAX_AFFINITY_TIMEOUT:
            errs.append(invalid(f"{cfg_path}.clientIP.timeoutSeconds", timeout,
                                f"must be greater than 0 and less than {_MAX_AFFINITY_TIMEOUT}"))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(forbidden(cfg_path, "must not be set when session affinity is None"))


def _validate_node_ports(spec: dict[str, Any], ports: list[tuple[int, dict[str, Any]]], errs: Errs) -> None:
    """R13: nodePort forbidden for ClusterIP; duplicate (protocol, nodePort)."""
    node_ports: dict[int, int | None] = {}
    for i, p in ports:
        node_ports[i] = _get_int(p, "nodePort", f"spec.ports[{i}].nodePort", errs)
    if spec.get("type") == "ClusterIP":
        for i, _ in ports:
            if node_ports[i]:
                errs.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    seen: set[tuple[Any, int]] = set()
    for i, p in ports:
        np = node_ports[i]
        if not np:
            continue
        key = (p.get("protocol"), np)
        if key in seen:
            errs.append(duplicate(f"spec.ports[{i}].nodePort", np))
        seen.add(key)


def _service_port_key(p: dict[str, Any]) -> dict[str, Any]:
    """The internal core.ServicePort used as duplicate key, as json.Marshal renders it (R12)."""
    return {"AppProtocol": None, "Name": "", "NodePort": 0, "Port": _safe(p.get("port", 0)),
            "Protocol": _safe(p.get("protocol", "")), "TargetPort": 0}


def _validate_duplicate_ports(ports: list[tuple[int, dict[str, Any]]], errs: Errs) -> None:
    seen: set[tuple[str, str]] = set()
    for i, p in ports:
        key = (repr(p.get("protocol")), repr(p.get("port")))
        if key in seen:
            errs.append(duplicate(f"spec.ports[{i}]", _service_port_key(p)))
        seen.add(key)


def _validate_external_ips(spec: dict[str, Any], errs: Errs) -> None:
    for i, ip in enumerate(_get_str_list(spec, "externalIPs", "spec.externalIPs", errs) or []):
        ip_errs = is_valid_ip(f"spec.externalIPs[{i}]", ip)
        errs.extend(ip_errs or validate_non_special_ip(f"spec.externalIPs[{i}]", ip))


def _validate_traffic_policies(spec: dict[str, Any], errs: Errs) -> None:
    """validateServiceExternalTrafficPolicy + validateServiceInternalTrafficFieldsValue."""
    lb_only = "may only be used when `type` is 'LoadBalancer'"
    alloc = _get_bool(spec, "allocateLoadBalancerNodePorts", "spec.allocateLoadBalancerNodePorts", errs)
    if alloc is not None and spec.get("type") != "LoadBalancer":
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts", lb_only))
    if spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(required("allocateLoadBalancerNodePorts"))  # sic: the source's path has no "spec."
    etp = _get_str(spec, "externalTrafficPolicy", "spec.externalTrafficPolicy", errs)
    if not _externally_accessible(spec):
        if etp:
            errs.append(invalid("spec.externalTrafficPolicy", etp,
                                "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(required("spec.externalTrafficPolicy"))
    elif etp not in _TRAFFIC_POLICIES:
        errs.append(not_supported("spec.externalTrafficPolicy", etp, _TRAFFIC_POLICIES))
    hc = _get_int(spec, "healthCheckNodePort", "spec.healthCheckNodePort", errs)
    needs_hc = spec.get("type") == "LoadBalancer" and etp == "Local"
    if hc and not needs_hc:
        errs.append(invalid("spec.healthCheckNodePort", hc,
                            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    elif hc and needs_hc:
        errs.extend(invalid("spec.healthCheckNodePort", hc, m) for m in is_valid_port_num(hc))
    itp = _get_opt_str(spec, "internalTrafficPolicy", "spec.internalTrafficPolicy", errs)
    if spec.get("internalTrafficPolicy") is None and spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer"):
        errs.append(required("spec.internalTrafficPolicy"))
    if itp is not None and itp not in _TRAFFIC_POLICIES:
        errs.append(not_supported("spec.internalTrafficPolicy", itp, _TRAFFIC_POLICIES))


def validate_service_spec(obj: dict[str, Any]) -> Errs:
    """ValidateService without the metadata part, in the source's order (R7-R17)."""
    errs: Errs = []
    spec = _svc_spec(obj, errs)
    ports = _items(spec, "ports", "spec.ports", errs)
    stype = _get_str(spec, "type", "spec.type", errs)
    if not ports and not _is_headless(spec) and stype != "ExternalName":
        errs.append(required("spec.ports"))
    _validate_service_type_rules(spec, ports, errs)
    names: set[str] = set()
    for i, p in ports:
        _validate_service_port(p, i, len(ports) > 1, names, errs)
    selector = _get_str_map(spec, "selector", "spec.selector", errs)
    if selector is not None:
        errs.extend(validate_labels(selector, "spec.selector"))
    _validate_session_affinity(spec, errs)
    errs.extend(validate_service_cluster_ips_related(spec))
    _validate_external_ips(spec, errs)
    if not stype:
        errs.append(required("spec.type"))
    elif stype not in _SERVICE_TYPES:
        errs.append(not_supported("spec.type", stype, _SERVICE_TYPES))
    _validate_node_ports(spec, ports, errs)
    _validate_duplicate_ports(ports, errs)
    _validate_traffic_policies(spec, errs)
    return errs


def _validate_service_update_ips(spec: dict[str, Any], ospec: dict[str, Any]) -> Errs:
    """validateUpgradeDowngradeClusterIPs (+ the ipFamilies counterpart, basic cases)."""
    errs: Errs = []
    if spec.get("type") == "ExternalName" or ospec.get("type") == "ExternalName":
        return errs
    if _is_headless(spec) and _is_headless(ospec):
        return errs
    new = [c for c in spec.get("clusterIPs") or [] if isinstance(c, str)]
    old = [c for c in ospec.get("clusterIPs") or [] if isinstance(c, str)]
    if len(old) == len(new):
        errs.extend(invalid(f"spec.clusterIPs[{i}]", new, "may not change once set")
                    for i, ip in enumerate(old) if ip != new[i])
    elif len(old) > len(new):
        if not new:
            errs.append(invalid("spec.clusterIPs[0]", new, "primary clusterIP can not be unset"))
        elif old and new[0] != old[0]:
            errs.append(invalid("spec.clusterIPs[0]", new, "may not change once set"))
    elif old and new[0] != old[0]:
        errs.append(invalid("spec.clusterIPs[0]", new, "may not change once set"))
    if not _is_headless(spec) and not _is_headless(ospec):
        nf, of = spec.get("ipFamilies") or [], ospec.get("ipFamilies") or []
        if isinstance(nf, list) and isinstance(of, list) and len(nf) == len(of) and nf != of:
            errs.append(invalid("spec.ipFamilies[0]", _safe(nf), "may not change once set"))
    return errs


def validate(obj: dict[str, Any], old: dict[str, Any] | None) -> Errs:
    if old is None:
        pre = validate_service_allocation(obj)
        if pre:
            return pre
        return validate_object_meta(obj, name_is_dns1035_label) + validate_service_spec(obj)
    obj = copy.deepcopy(obj)
    normalize_service_cluster_ips(obj, old)
    errs = validate_object_meta_update(obj, old)
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    ospec = old.get("spec") if isinstance(old.get("spec"), dict) else {}
    assert isinstance(spec, dict) and isinstance(ospec, dict)
    errs.extend(_validate_service_update_ips(spec, ospec))
    return errs + validate_service_spec(obj)


COLUMNS: list[Column] = [
    name_col(),
    col(
        "Type",
        "string",
        "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are "
        "ExternalName, ClusterIP, NodePort, and LoadBalancer.",
    ),
    col(
        "Cluster-IP",
        "string",
        "clusterIP is the IP address of the service and is usually assigned randomly. If an address "
        "is specified manually, is in-range (as per system configuration), and is not in use, it will "
        "be allocated to the service; otherwise creation of the service will fail.",
    ),
    col(
        "External-IP",
        "string",
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept "
        "traffic for this service.  These IPs are not managed by Kubernetes.",
    ),
    col(
        "Port(s)",
        "string",
        "The list of ports that are exposed by this service. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
    ),
    age_col(),
    col(
        "Selector",
        "string",
        "Route service traffic to pods with label keys and values matching this selector. If empty "
        "or not present, the service is assumed to have an external process managing its endpoints, "
        "which Kubernetes will not modify.",
        1,
    ),
]


def _load_balancer_ips(svc: Obj) -> str:
    """loadBalancerStatusStringer with wide=true (the server never clips)."""
    found: set[str] = set()
    for ing in (obj_status(svc).get("loadBalancer") or {}).get("ingress") or []:
        if ing.get("ip"):
            found.add(ing["ip"])
        elif ing.get("hostname"):
            found.add(ing["hostname"])
    return ",".join(sorted(found))


def _service_external_ip(svc: Obj) -> str:
    """getServiceExternalIP."""
    spec = obj_spec(svc)
    svc_type = spec.get("type") or "ClusterIP"
    external_ips: list[str] = spec.get("externalIPs") or []
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) if external_ips else NONE
    if svc_type == "LoadBalancer":
        lb = _load_balancer_ips(svc)
        if external_ips:
            return ",".join((lb.split(",") if lb else []) + external_ips)
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return spec.get("externalName") or ""
    return UNKNOWN


def make_port_string(ports: Iterable[Obj]) -> str:
    """makePortString: ``80/TCP`` or ``80:30080/TCP``, joined by ``,``."""
    pieces = []
    for p in ports:
        protocol = p.get("protocol") or "TCP"
        node_port = int_or(p.get("nodePort"))
        if node_port > 0:
            pieces.append(f"{int_or(p.get('port'))}:{node_port}/{protocol}")
        else:
            pieces.append(f"{int_or(p.get('port'))}/{protocol}")
    return ",".join(pieces)


def _cluster_ip(svc: Obj) -> str:
    spec = obj_spec(svc)
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return ips[0] if ips else NONE


def print_row(svc: Obj, now: datetime.datetime) -> Row:
    spec = obj_spec(svc)
    return {
        "cells": [
            obj_name(svc),
            spec.get("type") or "ClusterIP",
            _cluster_ip(svc),
            _service_external_ip(svc),
            make_port_string(spec.get("ports") or []) or NONE,
            age(svc, now),
            format_labels(spec.get("selector")),
        ]
    }


STRATEGY = register(Strategy(
    resource=ResourceType("", "v1", "Service", "services", "service", short_names=("svc",), categories=("all",),
                          verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
                          subresources={"status": ("Service", ("get", "patch", "update")),
                                        "proxy": ("ServiceProxyOptions",
                                                  ("create", "delete", "get", "patch", "update"))}),
    discovery_order=40,
    validate=validate,
    default=default,
    prepare_update=normalize_service_cluster_ips,
    status_keeps_metadata=True,
    initial_status={"loadBalancer": {}},
    columns=COLUMNS,
    print_row=print_row,
    patch_keys={"spec.ports": ("merge", "port"), **patch_keys_at("status", CONDITIONS_PATCH_KEYS)},
))
