"""API-server validation: the entry point and the checks several kinds share.

``validate(kind, obj, old)`` returns the ``FieldError`` list a v1.3x API server
builds for a create (``old is None``) or an update, *after* defaulting
(``defaults.apply_defaults``), by the kind's strategy (``registry/core/<kind>.py``,
``registry/<group>/<kind>.py``). Here live the checks several kinds share: typed
field access, names, metadata, label selectors, ports, IPs, the pod spec (Pods
and pod templates) and the workload spec of Deployments and ReplicaSets. It is
total: ill-typed input (a string where an integer belongs, a list where a map
belongs, ...) yields field errors whose detail starts with ``must be of type``,
never an exception.

Facts (rules, field paths, message texts, ordering) carried over, not code, from
kubernetes/kubernetes:

* ``pkg/apis/core/validation/validation.go`` (ValidateObjectMeta wrapper,
  ValidatePortNumOrName, ValidatePodSpec, validateContainers,
  validateContainerCommon, validateContainerPorts, validateProbe,
  validateHandler, validateRestartPolicy, validateDNSPolicy, ValidateTolerations,
  ValidatePodTemplateSpec, ValidateNonSpecialIP);
* ``pkg/apis/apps/validation/validation.go`` (ValidateDeploymentSpec,
  ValidateReplicaSetSpec, ValidatePodTemplateSpecForReplicaSet) and
  ``pkg/registry/apps/{deployment,replicaset}/strategy.go`` (selector immutable);
* staging ``k8s.io/apimachinery``: ``pkg/util/validation/validation.go``
  (IsDNS1123Label, IsDNS1123Subdomain, IsDNS1035Label, IsValidPortNum,
  IsValidPortName, IsValidPercent, IsConfigMapKey, IsHTTPHeaderName,
  RegexError, MaxLenError, InclusiveRangeError), ``pkg/util/validation/ip.go``
  (IsValidIP, IsValidIPv4Address), ``pkg/api/validate/content/kube.go``
  (IsLabelKey, IsLabelValue), ``pkg/api/validation/objectmeta.go``
  (ValidateObjectMetaAccessor, ValidateAnnotations, ValidateImmutableField),
  ``pkg/apis/meta/v1/validation/validation.go`` (ValidateLabels,
  ValidateLabelSelector).

Two points follow the source where earlier notes differed (docs/rules.md R6
now states them): values that are not strings or numbers render as JSON (current
``field.Error.ErrorBody`` tries ``json.Marshal`` before ``%#v``), and
``NotSupported`` keeps the caller's order (only callers passing a set sort).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any, TypeGuard

from ...k8s.validation import byte_len as _blen
from ...k8s.validation import (
    inclusive_range_error,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_http_header_name,
    is_qualified_name,
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
)
from ..apimachinery.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from .strategy import strategy_for

Errs = list[FieldError]
NameFn = Callable[[str, bool], list[str]]

MAX_INT32 = 2**31 - 1

# --------------------------------------------------------------------------- value helpers


def _safe(value: Any) -> Any:
    """A value ``FieldError.render`` can always print (JSON-able), else its ``str``."""
    try:
        json.dumps(value, sort_keys=True)
        return value
    except (TypeError, ValueError, RecursionError):
        return str(value)


_TYPE_DETAIL = "must be of type "


def _type_error(path: str, value: Any, type_name: str) -> FieldError:
    return invalid(path, _safe(value), _TYPE_DETAIL + type_name)


def _ns_ordered(path: str, value: Any, supported: list[str]) -> FieldError:
    """``field.NotSupported`` with the caller's order kept (Go does not sort)."""
    detail = "supported values: " + ", ".join(json.dumps(s) for s in supported)
    return FieldError("NotSupported", path, _safe(value), detail)


def _too_long(path: str, limit: int) -> FieldError:
    return FieldError("TooLong", path, detail=f"may not be more than {limit} bytes")


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _list_at(m: dict[str, Any], key: str) -> list[Any]:
    """``m[key]`` when it is a list, else an empty one (ill-typed input is reported elsewhere)."""
    v = m.get(key)
    return v if isinstance(v, list) else []


def _get_map(m: dict[str, Any], key: str, path: str, errs: Errs) -> dict[str, Any] | None:
    v = m.get(key)
    if v is None:
        return None
    if isinstance(v, dict):
        return v
    errs.append(_type_error(path, v, "object"))
    return None


def _get_list(m: dict[str, Any], key: str, path: str, errs: Errs) -> list[Any] | None:
    v = m.get(key)
    if v is None:
        return None
    if isinstance(v, list):
        return v
    errs.append(_type_error(path, v, "array"))
    return None


def _get_str(m: dict[str, Any], key: str, path: str, errs: Errs) -> str:
    """The string at ``key``; absent/null is ``""`` (Go's zero value)."""
    v = m.get(key)
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    errs.append(_type_error(path, v, "string"))
    return ""


def _get_opt_str(m: dict[str, Any], key: str, path: str, errs: Errs) -> str | None:
    v = m.get(key)
    if v is None:
        return None
    if isinstance(v, str):
        return v
    errs.append(_type_error(path, v, "string"))
    return None


def _get_int(m: dict[str, Any], key: str, path: str, errs: Errs) -> int | None:
    v = m.get(key)
    if v is None:
        return None
    if _is_int(v):
        return int(v)
    errs.append(_type_error(path, v, "integer"))
    return None


def _get_bool(m: dict[str, Any], key: str, path: str, errs: Errs) -> bool | None:
    v = m.get(key)
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    errs.append(_type_error(path, v, "boolean"))
    return None


def _get_int_or_str(m: dict[str, Any], key: str, path: str, errs: Errs) -> int | str | None:
    v = m.get(key)
    if v is None:
        return None
    if _is_int(v) or isinstance(v, str):
        return v
    errs.append(_type_error(path, v, "integer or string"))
    return None


def _get_str_map(m: dict[str, Any], key: str, path: str, errs: Errs) -> dict[str, str] | None:
    """A ``map[string]string``; entries with a non-string value are reported and skipped."""
    raw = _get_map(m, key, path, errs)
    if raw is None:
        return None
    out: dict[str, str] = {}
    for k, v in raw.items():
        if not isinstance(k, str):
            errs.append(_type_error(path, k, "string"))
        elif not isinstance(v, str):
            errs.append(_type_error(f"{path}[{k}]", v, "string"))
        else:
            out[k] = v
    return out


def _get_str_list(m: dict[str, Any], key: str, path: str, errs: Errs) -> list[str] | None:
    raw = _get_list(m, key, path, errs)
    if raw is None:
        return None
    out: list[str] = []
    for i, v in enumerate(raw):
        if isinstance(v, str):
            out.append(v)
        else:
            errs.append(_type_error(f"{path}[{i}]", v, "string"))
    return out


def _items(m: dict[str, Any], key: str, path: str, errs: Errs) -> list[tuple[int, dict[str, Any]]]:
    """(index, element) for the object elements of a list; other elements are reported."""
    raw = _get_list(m, key, path, errs)
    out: list[tuple[int, dict[str, Any]]] = []
    for i, v in enumerate(raw or []):
        if isinstance(v, dict):
            out.append((i, v))
        else:
            errs.append(_type_error(f"{path}[{i}]", v, "object"))
    return out


# --------------------------------------------------------------------------- apimachinery string checks
# In kai_labs/k8s/validation.py (pure, shared with the label selector grammar); imported above.


def _mask_trailing_dash(name: str) -> str:
    """apimachinery maskTrailingDash (used for generateName prefixes)."""
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


# --------------------------------------------------------------------------- IP checks
# Source: apimachinery pkg/util/validation/ip.go, core ValidateNonSpecialIP.

_RE_SLOPPY_V4 = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")
_RE_ATOI = re.compile(r"[+-]?[0-9]+")


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go net.ParseIP: no zones, no surrounding junk."""
    if not isinstance(value, str) or "%" in value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _sloppy_v4(value: str) -> ipaddress.IPv4Address | None:
    """Go's ParseIPSloppy accepts IPv4 octets with leading zeros (as decimal)."""
    m = _RE_SLOPPY_V4.fullmatch(value)
    if m is None or any(int(o) > 255 for o in m.groups()):
        return None
    return ipaddress.IPv4Address(".".join(str(int(o)) for o in m.groups()))


def is_valid_ip(path: str, value: str) -> Errs:
    """IsValidIP: parseable, no leading 0s, not IPv4-mapped IPv6, canonical form."""
    ip = _parse_ip(value)
    if ip is None:
        if _sloppy_v4(value) is not None:
            return [invalid(path, value, "must not have leading 0s")]
        return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return [invalid(path, value, "must not be an IPv4-mapped IPv6 address")]
    if str(ip) != value:
        return [invalid(path, value, f"must be in canonical form ({json.dumps(str(ip))})")]
    return []


def validate_non_special_ip(path: str, value: str) -> Errs:
    ip = _parse_ip(value) or _sloppy_v4(value)
    if ip is None:
        return [invalid(path, value, "must be a valid IP address")]
    errs: Errs = []
    if ip.is_unspecified:
        errs.append(invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local:
        errs.append(invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if ip in ipaddress.ip_network("224.0.0.0/24") or ip in ipaddress.ip_network("ff02::/16"):
        errs.append(invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


# --------------------------------------------------------------------------- metadata
# Source: apimachinery pkg/api/validation/objectmeta.go, pkg/apis/meta/v1/validation.

_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}
_TOTAL_ANNOTATION_SIZE = 256 * 1024


def validate_labels(labels: dict[str, str], path: str) -> Errs:
    """ValidateLabels (R4): every error on the flat map path, key first then value."""
    errs: Errs = []
    for k, v in labels.items():
        errs.extend(invalid(path, k, m) for m in is_qualified_name(k))
        errs.extend(invalid(path, v, m) for m in is_valid_label_value(v))
    return errs


def validate_annotations(annotations: dict[str, str], path: str) -> Errs:
    errs: Errs = []
    total = 0
    for k, v in annotations.items():
        errs.extend(invalid(path, k, m) for m in is_qualified_name(k.lower()))
        total += _blen(k) + _blen(v)
    if total > _TOTAL_ANNOTATION_SIZE:
        errs.append(_too_long(path, _TOTAL_ANNOTATION_SIZE))
    return errs


def _validate_finalizers(finalizers: list[str], path: str) -> Errs:
    """ValidateFinalizers + core validateKubeFinalizerName."""
    errs: Errs = []
    for f in finalizers:
        msgs = is_qualified_name(f)
        errs.extend(invalid(path, f, m) for m in msgs)
        if not msgs and "/" not in f and f not in _STANDARD_FINALIZERS:
            errs.append(invalid(path, f, "name is neither a standard finalizer name nor is it fully qualified"))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def _meta_of(obj: dict[str, Any], errs: Errs) -> dict[str, Any]:
    return _get_map(obj, "metadata", "metadata", errs) or {}


def validate_object_meta(obj: dict[str, Any], name_fn: NameFn) -> Errs:
    """ValidateObjectMetaAccessor (create): name/generateName, labels, annotations, finalizers."""
    errs: Errs = []
    meta = _meta_of(obj, errs)
    gen = _get_str(meta, "generateName", "metadata.generateName", errs)
    if gen:
        errs.extend(invalid("metadata.generateName", gen, m) for m in name_fn(gen, True))
    name = _get_str(meta, "name", "metadata.name", errs)
    if not name:
        errs.append(required("metadata.name", "name or generateName is required"))
    else:
        errs.extend(invalid("metadata.name", name, m) for m in name_fn(name, False))
    errs.extend(_validate_meta_common(meta))
    return errs


def _validate_meta_common(meta: dict[str, Any]) -> Errs:
    errs: Errs = []
    generation = _get_int(meta, "generation", "metadata.generation", errs)
    if generation is not None and generation < 0:
        errs.append(invalid("metadata.generation", generation, "must be greater than or equal to 0"))
    labels = _get_str_map(meta, "labels", "metadata.labels", errs)
    if labels:
        errs.extend(validate_labels(labels, "metadata.labels"))
    annotations = _get_str_map(meta, "annotations", "metadata.annotations", errs)
    if annotations:
        errs.extend(validate_annotations(annotations, "metadata.annotations"))
    finalizers = _get_str_list(meta, "finalizers", "metadata.finalizers", errs)
    if finalizers:
        errs.extend(_validate_finalizers(finalizers, "metadata.finalizers"))
    return errs


def validate_object_meta_update(obj: dict[str, Any], old: dict[str, Any]) -> Errs:
    """ValidateObjectMetaAccessorUpdate (the parts the embedded server does not own itself)."""
    errs: Errs = []
    meta = _meta_of(obj, errs)
    old_meta = old.get("metadata") if isinstance(old.get("metadata"), dict) else {}
    assert isinstance(old_meta, dict)
    for key in ("name", "namespace", "uid"):
        new_v, old_v = meta.get(key), old_meta.get(key)
        if new_v != old_v:
            errs.append(invalid(f"metadata.{key}", _safe(new_v if new_v is not None else ""), "field is immutable"))
    errs.extend(_validate_meta_common(meta))
    return errs


def _meta_errs(obj: dict[str, Any], old: dict[str, Any] | None, name_fn: NameFn) -> Errs:
    return validate_object_meta(obj, name_fn) if old is None else validate_object_meta_update(obj, old)


# --------------------------------------------------------------------------- label selectors

def _validate_label_selector(sel: dict[str, Any], path: str, errs: Errs) -> bool:
    """ValidateLabelSelector; returns whether ``LabelSelectorAsSelector`` would succeed."""
    before = len(errs)
    match_labels = _get_str_map(sel, "matchLabels", f"{path}.matchLabels", errs)
    if match_labels:
        errs.extend(validate_labels(match_labels, f"{path}.matchLabels"))
    for i, expr in _items(sel, "matchExpressions", f"{path}.matchExpressions", errs):
        ep = f"{path}.matchExpressions[{i}]"
        op = _get_str(expr, "operator", f"{ep}.operator", errs)
        values = _get_str_list(expr, "values", f"{ep}.values", errs) or []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(f"{ep}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(f"{ep}.values",
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(f"{ep}.operator", op, "not a valid selector operator"))
        key = _get_str(expr, "key", f"{ep}.key", errs)
        errs.extend(invalid(f"{ep}.key", key, m) for m in is_qualified_name(key))
        for j, v in enumerate(values):
            errs.extend(invalid(f"{ep}.values[{j}]", v, m) for m in is_valid_label_value(v))
    return len(errs) == before


def _selector_matches(sel: dict[str, Any], labels: dict[str, str]) -> bool:
    """labels.Selector.Matches for a (valid) metav1.LabelSelector."""
    match_labels = sel.get("matchLabels") or {}
    for k, v in match_labels.items():
        if labels.get(k) != v:
            return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _selector_empty(sel: dict[str, Any]) -> bool:
    return not sel.get("matchLabels") and not sel.get("matchExpressions")


# --------------------------------------------------------------------------- shared port checks

def validate_port_num_or_name(value: int | str, path: str) -> Errs:
    """ValidatePortNumOrName (R11): an int must be 1-65535, a string an IANA_SVC_NAME."""
    if isinstance(value, str):
        return [invalid(path, value, m) for m in is_valid_port_name(value)]
    return [invalid(path, value, m) for m in is_valid_port_num(value)]


_PORT_PROTOCOLS = ["SCTP", "TCP", "UDP"]


def _validate_protocol(proto: str, path: str) -> Errs:
    if not proto:
        return [required(path)]
    if proto not in _PORT_PROTOCOLS:
        return [not_supported(path, proto, _PORT_PROTOCOLS)]
    return []


# --------------------------------------------------------------------------- Service


# --------------------------------------------------------------------------- Pod spec

_RESTART_POLICIES = ["Always", "OnFailure", "Never"]
_DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]
_HTTP_SCHEMES = ["HTTP", "HTTPS"]
_TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc", "sleep")
_RELAXED_ENV_MSG = "a valid environment variable name must consist only of printable ASCII characters other than '='"


def _nonneg(v: int | None, path: str) -> Errs:
    if v is not None and v < 0:
        return [invalid(path, v, "must be greater than or equal to 0")]
    return []


def _validate_container_ports(c: dict[str, Any], path: str, errs: Errs) -> None:
    """validateContainerPorts: names are IANA_SVC_NAMEs unique within the container."""
    names: set[str] = set()
    for i, p in _items(c, "ports", f"{path}.ports", errs):
        pp = f"{path}.ports[{i}]"
        name = _get_str(p, "name", f"{pp}.name", errs)
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                errs.extend(invalid(f"{pp}.name", name, m) for m in msgs)
            elif name in names:
                errs.append(duplicate(f"{pp}.name", name))
            else:
                names.add(name)
        cport = _get_int(p, "containerPort", f"{pp}.containerPort", errs)
        if not cport:
            if "containerPort" not in p or cport == 0:
                errs.append(required(f"{pp}.containerPort"))
        else:
            errs.extend(invalid(f"{pp}.containerPort", cport, m) for m in is_valid_port_num(cport))
        hport = _get_int(p, "hostPort", f"{pp}.hostPort", errs)
        if hport:
            errs.extend(invalid(f"{pp}.hostPort", hport, m) for m in is_valid_port_num(hport))
        errs.extend(_validate_protocol(_get_str(p, "protocol", f"{pp}.protocol", errs), f"{pp}.protocol"))


def _validate_env(c: dict[str, Any], path: str, errs: Errs) -> None:
    """ValidateEnv with RelaxedEnvironmentVariableValidation (on by default)."""
    for i, ev in _items(c, "env", f"{path}.env", errs):
        name = _get_str(ev, "name", f"{path}.env[{i}].name", errs)
        _get_str(ev, "value", f"{path}.env[{i}].value", errs)
        if not name:
            errs.append(required(f"{path}.env[{i}].name"))
        elif any(ord(ch) > 126 or ord(ch) < 32 or ch == "=" for ch in name):
            errs.append(invalid(f"{path}.env[{i}].name", name, _RELAXED_ENV_MSG))


def _validate_volume_mounts(c: dict[str, Any], path: str, volumes: set[str], errs: Errs) -> None:
    seen: set[str] = set()
    for i, m in _items(c, "volumeMounts", f"{path}.volumeMounts", errs):
        mp = f"{path}.volumeMounts[{i}]"
        name = _get_str(m, "name", f"{mp}.name", errs)
        mount_path = _get_str(m, "mountPath", f"{mp}.mountPath", errs)
        if not name:
            errs.append(required(f"{mp}.name"))
        if name not in volumes:
            errs.append(FieldError("NotFound", f"{mp}.name", name))
        if not mount_path:
            errs.append(required(f"{mp}.mountPath"))
        if mount_path in seen:
            errs.append(invalid(f"{mp}.mountPath", mount_path, "must be unique"))
        seen.add(mount_path)


def _validate_container_common(c: dict[str, Any], path: str, volumes: set[str], errs: Errs) -> None:
    """validateContainerCommon: name, image, terminationMessagePolicy, ports, env, mounts, pull policy."""
    name = _get_str(c, "name", f"{path}.name", errs)
    if not name:
        errs.append(required(f"{path}.name"))
    else:
        errs.extend(invalid(f"{path}.name", name, m) for m in is_dns1123_label(name))
    if not _get_str(c, "image", f"{path}.image", errs):
        errs.append(required(f"{path}.image"))
    tmp = _get_str(c, "terminationMessagePolicy", f"{path}.terminationMessagePolicy", errs)
    if not tmp:
        errs.append(required(f"{path}.terminationMessagePolicy"))
    elif tmp not in _TERMINATION_MESSAGE_POLICIES:
        errs.append(_ns_ordered(f"{path}.terminationMessagePolicy", tmp, _TERMINATION_MESSAGE_POLICIES))
    _get_str_list(c, "command", f"{path}.command", errs)
    _get_str_list(c, "args", f"{path}.args", errs)
    _validate_container_ports(c, path, errs)
    _validate_env(c, path, errs)
    _validate_volume_mounts(c, path, volumes, errs)
    pull = _get_str(c, "imagePullPolicy", f"{path}.imagePullPolicy", errs)
    if not pull:
        errs.append(required(f"{path}.imagePullPolicy"))
    elif pull not in _PULL_POLICIES:
        errs.append(not_supported(f"{path}.imagePullPolicy", pull, _PULL_POLICIES))
    resources = _get_map(c, "resources", f"{path}.resources", errs)
    if resources is not None:
        for part in ("limits", "requests"):
            for k, v in (_get_map(resources, part, f"{path}.resources.{part}", errs) or {}).items():
                if not (isinstance(v, str) or (isinstance(v, (int, float)) and not isinstance(v, bool))):
                    errs.append(_type_error(f"{path}.resources.{part}[{k}]", v, "quantity"))
    _get_map(c, "securityContext", f"{path}.securityContext", errs)


def _validate_handler(h: dict[str, Any], path: str, grace: int | None, errs: Errs) -> None:
    """validateHandler: exactly one handler type."""
    count = 0
    for key in _HANDLERS:
        if h.get(key) is None:
            continue
        if count > 0:
            errs.append(forbidden(f"{path}.{key}", "may not specify more than 1 handler type"))
            continue
        count += 1
        action = _get_map(h, key, f"{path}.{key}", errs)
        if action is not None:
            _validate_action(key, action, f"{path}.{key}", grace, errs)
    if count == 0:
        errs.append(required(path, "must specify a handler type"))


def _validate_action(key: str, a: dict[str, Any], path: str, grace: int | None, errs: Errs) -> None:
    if key == "exec":
        if not _get_str_list(a, "command", f"{path}.command", errs):
            errs.append(required(f"{path}.command"))
    elif key == "httpGet":
        if not _get_str(a, "path", f"{path}.path", errs):
            errs.append(required(f"{path}.path"))
        _validate_handler_port(a, path, errs)
        scheme = _get_str(a, "scheme", f"{path}.scheme", errs)
        if scheme not in _HTTP_SCHEMES:
            errs.append(not_supported(f"{path}.scheme", scheme, _HTTP_SCHEMES))
        for _, header in _items(a, "httpHeaders", f"{path}.httpHeaders", errs):
            hname = _get_str(header, "name", f"{path}.httpHeaders", errs)
            for msg in is_http_header_name(hname):
                errs.append(invalid(f"{path}.httpHeaders", hname, msg))
    elif key == "tcpSocket":
        _validate_handler_port(a, path, errs)
    elif key == "grpc":
        port = _get_int(a, "port", f"{path}.port", errs)
        errs.extend(validate_port_num_or_name(port or 0, f"{path}.port"))
    elif key == "sleep":
        seconds = _get_int(a, "seconds", f"{path}.seconds", errs) or 0
        limit = grace if grace is not None else 0
        if seconds <= 0 or seconds > limit:
            errs.append(invalid(path, seconds,
                                f"must be greater than 0 and less than terminationGracePeriodSeconds ({limit})"))


def _validate_handler_port(a: dict[str, Any], path: str, errs: Errs) -> None:
    port = _get_int_or_str(a, "port", f"{path}.port", errs)
    errs.extend(validate_port_num_or_name(port if port is not None else 0, f"{path}.port"))


def _validate_probe(c: dict[str, Any], key: str, grace: int | None, errs: Errs, path: str) -> None:
    """validateLivenessProbe / validateReadinessProbe / validateStartupProbe (R32)."""
    pp = f"{path}.{key}"
    probe = _get_map(c, key, pp, errs)
    if probe is None:
        return
    _validate_handler(probe, pp, grace, errs)
    ints = {k: _get_int(probe, k, f"{pp}.{k}", errs) for k in
            ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold")}
    for k, v in ints.items():
        errs.extend(_nonneg(v, f"{pp}.{k}"))
    tgps = _get_int(probe, "terminationGracePeriodSeconds", f"{pp}.terminationGracePeriodSeconds", errs)
    if tgps is not None and tgps <= 0:
        errs.append(invalid(f"{pp}.terminationGracePeriodSeconds", tgps, "must be greater than 0"))
    success = ints["successThreshold"] if ints["successThreshold"] is not None else 0
    if key in ("livenessProbe", "startupProbe") and success != 1:
        errs.append(invalid(f"{pp}.successThreshold", success, "must be 1"))
    if key == "readinessProbe" and tgps is not None:
        errs.append(invalid(f"{pp}.terminationGracePeriodSeconds", tgps, "must not be set for readinessProbes"))


def _validate_lifecycle(c: dict[str, Any], path: str, grace: int | None, errs: Errs) -> None:
    lifecycle = _get_map(c, "lifecycle", f"{path}.lifecycle", errs)
    if lifecycle is None:
        return
    for hook in ("postStart", "preStop"):
        h = _get_map(lifecycle, hook, f"{path}.lifecycle.{hook}", errs)
        if h is not None:
            _validate_handler(h, f"{path}.lifecycle.{hook}", grace, errs)


def _validate_containers(spec: dict[str, Any], base: str, volumes: set[str], grace: int | None, errs: Errs) -> set[str]:
    """validateContainers: required, common checks, unique names, probes, hostPort conflicts."""
    path = f"{base}.containers"
    containers = _items(spec, "containers", path, errs)
    names: set[str] = set()
    if not containers and not (isinstance(spec.get("containers"), list) and spec["containers"]):
        errs.append(required(path))
        return names
    for i, c in containers:
        cp = f"{path}[{i}]"
        _validate_container_common(c, cp, volumes, errs)
        name = c["name"] if isinstance(c.get("name"), str) else ""
        if name in names:
            errs.append(duplicate(f"{cp}.name", name))
        else:
            names.add(name)
        _validate_lifecycle(c, cp, grace, errs)
        for key in ("livenessProbe", "readinessProbe", "startupProbe"):
            _validate_probe(c, key, grace, errs, cp)
        if c.get("restartPolicy") is not None:
            errs.append(forbidden(f"{cp}.restartPolicy", "may not be set for non-init containers"))
    _check_host_ports(containers, path, errs)
    return names


def _validate_init_containers(spec: dict[str, Any], base: str, volumes: set[str], names: set[str],
                              grace: int | None, errs: Errs) -> None:
    """validateInitContainers (basic): common checks, names unique across regular and init."""
    path = f"{base}.initContainers"
    for i, c in _items(spec, "initContainers", path, errs):
        cp = f"{path}[{i}]"
        _validate_container_common(c, cp, volumes, errs)
        restart = _get_opt_str(c, "restartPolicy", f"{cp}.restartPolicy", errs)
        if restart is not None and restart != "Always":
            errs.append(_ns_ordered(f"{cp}.restartPolicy", restart, ["Always"]))
        name = c["name"] if isinstance(c.get("name"), str) else ""
        if name in names:
            errs.append(duplicate(f"{cp}.name", name))
        elif name:
            names.add(name)
        if restart == "Always":
            _validate_lifecycle(c, cp, grace, errs)
            for key in ("livenessProbe", "readinessProbe", "startupProbe"):
                _validate_probe(c, key, grace, errs, cp)
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(key) is not None:
                    errs.append(forbidden(f"{cp}.{key}",
                                          "may not be set for init containers without restartPolicy=Always"))


def _check_host_ports(containers: list[tuple[int, dict[str, Any]]], path: str, errs: Errs) -> None:
    """AccumulateUniqueHostPorts."""
    seen: set[str] = set()
    for ci, c in containers:
        for pi, p in enumerate(_list_at(c, "ports")):
            if not isinstance(p, dict) or not _is_int(p.get("hostPort")) or not p.get("hostPort"):
                continue
            key = f"{p.get('protocol', '')}/{p.get('hostIP', '')}/{p['hostPort']}"
            if key in seen:
                errs.append(duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)


def _validate_volumes(spec: dict[str, Any], base: str, errs: Errs) -> set[str]:
    """ValidateVolumes (names only): required, DNS-1123 label, unique."""
    names: set[str] = set()
    for i, v in _items(spec, "volumes", f"{base}.volumes", errs):
        vp = f"{base}.volumes[{i}]"
        name = _get_str(v, "name", f"{vp}.name", errs)
        if not name:
            errs.append(required(f"{vp}.name"))
        else:
            errs.extend(invalid(f"{vp}.name", name, m) for m in is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(f"{vp}.name", name))
        names.add(name)
    return names


def validate_tolerations(tolerations: list[tuple[int, dict[str, Any]]], path: str, errs: Errs) -> None:
    """ValidateTolerations."""
    for i, t in tolerations:
        tp = f"{path}[{i}]"
        key = _get_str(t, "key", f"{tp}.key", errs)
        op = _get_str(t, "operator", f"{tp}.operator", errs)
        value = _get_str(t, "value", f"{tp}.value", errs)
        effect = _get_str(t, "effect", f"{tp}.effect", errs)
        seconds = _get_int(t, "tolerationSeconds", f"{tp}.tolerationSeconds", errs)
        if key:
            errs.extend(invalid(f"{tp}.key", key, m) for m in is_qualified_name(key))
        if not key and op != "Exists":
            errs.append(invalid(f"{tp}.operator", op,
                                "operator must be Exists when `key` is empty, "
                                "which means \"match all values and all keys\""))
        if seconds is not None and effect != "NoExecute":
            errs.append(invalid(f"{tp}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            msgs = is_valid_label_value(value)
            if msgs:
                errs.append(invalid(f"{tp}.operator", value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                errs.append(invalid(f"{tp}.operator", _safe(t), "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(_ns_ordered(f"{tp}.operator", op, ["Equal", "Exists"]))
        if effect and effect not in _TAINT_EFFECTS:
            errs.append(_ns_ordered(f"{tp}.effect", effect, _TAINT_EFFECTS))


def validate_pod_spec(spec: dict[str, Any], base: str, errs: Errs) -> None:
    """ValidatePodSpec (the parts the embedded cluster models), field paths under ``base``."""
    grace = _get_int(spec, "terminationGracePeriodSeconds", f"{base}.terminationGracePeriodSeconds", errs)
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.append(required(f"{base}.terminationGracePeriodSeconds"))
    volumes = _validate_volumes(spec, base, errs)
    names = _validate_containers(spec, base, volumes, grace, errs)
    _validate_init_containers(spec, base, volumes, set(names), grace, errs)
    restart = _get_str(spec, "restartPolicy", f"{base}.restartPolicy", errs)
    if not restart:
        errs.append(required(f"{base}.restartPolicy"))
    elif restart not in _RESTART_POLICIES:
        errs.append(_ns_ordered(f"{base}.restartPolicy", restart, _RESTART_POLICIES))
    dns = _get_str(spec, "dnsPolicy", f"{base}.dnsPolicy", errs)
    if not dns:
        errs.append(required(f"{base}.dnsPolicy"))
    elif dns not in _DNS_POLICIES:
        errs.append(_ns_ordered(f"{base}.dnsPolicy", dns, _DNS_POLICIES))
    node_selector = _get_str_map(spec, "nodeSelector", f"{base}.nodeSelector", errs)
    if node_selector:
        errs.extend(validate_labels(node_selector, f"{base}.nodeSelector"))
    _get_map(spec, "securityContext", f"{base}.securityContext", errs)
    for key in ("serviceAccountName", "nodeName"):
        value = _get_str(spec, key, f"{base}.{key}", errs)
        if value:
            errs.extend(invalid(f"{base}.{key}", value, m) for m in is_dns1123_subdomain(value))
    ads = _get_int(spec, "activeDeadlineSeconds", f"{base}.activeDeadlineSeconds", errs)
    if ads is not None and (ads < 1 or ads > MAX_INT32):
        errs.append(invalid(f"{base}.activeDeadlineSeconds", ads, inclusive_range_error(1, MAX_INT32)))
    for key in ("hostname", "subdomain"):
        value = _get_str(spec, key, f"{base}.{key}", errs)
        if value:
            errs.extend(invalid(f"{base}.{key}", value, m) for m in is_dns1123_label(value))
    validate_tolerations(_items(spec, "tolerations", f"{base}.tolerations", errs), f"{base}.tolerations", errs)
    pcn = _get_str(spec, "priorityClassName", f"{base}.priorityClassName", errs)
    if pcn:
        errs.extend(invalid(f"{base}.priorityClassName", pcn, m) for m in is_dns1123_subdomain(pcn))


# --------------------------------------------------------------------------- Pod


# --------------------------------------------------------------------------- Deployment / ReplicaSet

def _validate_template(spec: dict[str, Any], sel: dict[str, Any] | None, sel_ok: bool, kind: str, errs: Errs) -> None:
    """ValidatePodTemplateSpecForReplicaSet + ValidatePodTemplateSpec."""
    template = _get_map(spec, "template", "spec.template", errs) or {}
    tmeta = _get_map(template, "metadata", "spec.template.metadata", errs) or {}
    labels = _get_str_map(tmeta, "labels", "spec.template.metadata.labels", errs)
    if sel_ok:
        matches = sel is not None and (_selector_empty(sel) or _selector_matches(sel, labels or {}))
        if not matches:
            errs.append(invalid("spec.template.metadata.labels", _safe(tmeta.get("labels")),
                                "`selector` does not match template `labels`"))
    validate_replicated_template(template, tmeta, labels, "ReplicaSet", errs)


def validate_replicated_template(template: dict[str, Any], tmeta: dict[str, Any], labels: dict[str, str] | None,
                                 kind: str, errs: Errs) -> None:
    """What ValidatePodTemplateSpecForReplicaSet and ...ForRC check after the selector: the template's
    labels and annotations, its pod spec, restartPolicy Always, no activeDeadlineSeconds (``kind`` names
    the controller in that message)."""
    if labels:
        errs.extend(validate_labels(labels, "spec.template.labels"))  # sic: the source's path
    annotations = _get_str_map(tmeta, "annotations", "spec.template.annotations", errs)
    if annotations:
        errs.extend(validate_annotations(annotations, "spec.template.annotations"))
    tspec = _get_map(template, "spec", "spec.template.spec", errs) or {}
    validate_pod_spec(tspec, "spec.template.spec", errs)
    restart = tspec.get("restartPolicy")
    if restart != "Always":
        errs.append(_ns_ordered("spec.template.spec.restartPolicy", _safe(restart if restart is not None else ""),
                                ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              f"activeDeadlineSeconds in {kind} is not Supported"))


def _validate_workload_selector(spec: dict[str, Any], errs: Errs) -> tuple[dict[str, Any] | None, bool]:
    sel = _get_map(spec, "selector", "spec.selector", errs)
    if spec.get("selector") is None:
        errs.append(required("spec.selector"))
        return None, True
    if sel is None:
        return None, False
    ok = _validate_label_selector(sel, "spec.selector", errs)
    if _selector_empty(sel):
        errs.append(invalid("spec.selector", _safe(sel), "empty selector is invalid for deployment"))
    if not ok:
        errs.append(invalid("spec.selector", _safe(sel), "invalid label selector"))
    return sel, ok


def validate_workload(obj: dict[str, Any], old: dict[str, Any] | None, kind: str,
                      extras: Callable[[dict[str, Any], Errs], None] | None = None) -> Errs:
    """ValidateDeploymentSpec / ValidateReplicaSetSpec (+ selector immutability on update); ``extras``
    adds the kind's own spec checks (a Deployment's strategy) after the pod template's."""
    errs = _meta_errs(obj, old, name_is_dns_subdomain)
    spec = _get_map(obj, "spec", "spec", errs) or {}
    replicas = _get_int(spec, "replicas", "spec.replicas", errs)
    errs.extend(_nonneg(replicas, "spec.replicas"))
    if kind == "ReplicaSet":
        errs.extend(_nonneg(_get_int(spec, "minReadySeconds", "spec.minReadySeconds", errs), "spec.minReadySeconds"))
    sel, sel_ok = _validate_workload_selector(spec, errs)
    _validate_template(spec, sel, sel_ok, kind, errs)
    if extras is not None:
        extras(spec, errs)
    if old is not None:
        ospec = old.get("spec") if isinstance(old.get("spec"), dict) else {}
        assert isinstance(ospec, dict)
        if spec.get("selector") != ospec.get("selector"):
            errs.append(invalid("spec.selector", _safe(spec.get("selector")), "field is immutable"))
    return errs


# --------------------------------------------------------------------------- entry point

def validate(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[FieldError]:
    """Validate a defaulted ``kind`` object for create (``old is None``) or update, by its strategy.

    When any wrong-JSON-type errors occur, only those come back (a decode failure comes first).
    """
    if not isinstance(obj, dict):
        return [_type_error("", obj, "object")]
    if old is not None and not isinstance(old, dict):
        old = {}
    strategy = strategy_for(kind)
    fn = strategy.validate if strategy is not None else validate_meta_only
    errs = fn(obj, old)
    type_errs = [e for e in errs if is_type_error(e)]
    return type_errs or errs


def validate_meta_only(obj: dict[str, Any], old: dict[str, Any] | None) -> Errs:
    """A kind with nothing to check but its metadata (a DNS-subdomain name)."""
    return (validate_object_meta(obj, name_is_dns_subdomain) if old is None
            else validate_object_meta_update(obj, old))


def is_type_error(err: FieldError) -> bool:
    """A wrong-JSON-type error; when any occur ``validate`` returns only those (a decode failure comes first)."""
    return err.type == "Invalid" and err.detail.startswith(_TYPE_DETAIL)
