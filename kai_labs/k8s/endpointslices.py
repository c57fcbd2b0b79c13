"""The EndpointSlice controller and the legacy Endpoints controller, as pure functions.

Objects are plain dicts spelled exactly as the Kubernetes JSON API spells them
(``metadata.name``, ``spec.selector``, ``status.podIPs``, ...). Nothing here does I/O:
the caller lists Pods/Nodes/EndpointSlices, calls :func:`reconcile_slices` /
:func:`desired_endpoints`, and writes the result.

Behaviour carried over (facts, not code) from kubernetes/kubernetes:

* ``pkg/controller/endpointslice/endpointslice_controller.go: syncService`` -- early
  returns for ExternalName and nil selector, the slice list selector
  (service-name + managed-by), dropping slices pending deletion.
* ``staging/src/k8s.io/endpointslice/reconciler.go: Reconcile, reconcileByAddressType,
  reconcileByPortMapping, finalize`` -- grouping by port list, the missing-Node rule,
  the three-step fill algorithm, the placeholder slice, create->update recycling.
* ``staging/src/k8s.io/endpointslice/utils.go: podToEndpoint, getEndpointPorts,
  getEndpointAddresses, newEndpointSlice, getEndpointSlicePrefix, ownedBy,
  getSliceToFill, addTriggerTimeAnnotation, setEndpointSliceLabels,
  getAddressTypesForService, isServiceIPSet, FindPort``.
* ``staging/src/k8s.io/endpointslice/util/controller_utils.go: ShouldPodBeInEndpoints,
  ShouldSetHostname, NewPortMapKey, EndpointsEqualBeyondHash, IsPodReady`` and
  ``util/endpointset.go: hashEndpoint`` (endpoint identity = addresses, hostname,
  targetRef namespace/name).
* ``pkg/controller/endpoint/endpoints_controller.go: syncService,
  podToEndpointAddressForService, addEndpointSubset, endpointPortFromServicePort`` and
  ``pkg/api/v1/endpoints/util.go: RepackSubsets, SortSubsets, LessEndpointAddress``
  for the legacy v1 Endpoints object.

Simulator choices (deliberate deviations, each one also noted where it is made):

* Go iterates maps in random order (``EndpointSet.PopAny``, ``UnsortedList``); here every
  such choice is made in a sorted order so output is reproducible. Kubernetes leaves
  the order unspecified (R28), so any fixed order is faithful.
* A pod with only ``status.podIP`` counts as ``podIPs: [{ip: podIP}]`` (R20).
* Empty ``endpoints``/``ports`` lists are emitted as ``None``: the real objects round-trip
  through protobuf, where an empty repeated field reads back as nil, i.e. JSON ``null``.
* A Service with neither ``ipFamilies`` nor a cluster IP gets IPv4 slices only (the
  source's dual-stack guess exists for pre-dual-stack API servers, which never apply
  to the embedded cluster, whose API server defaults ``ipFamilies``).
* Topology hints / trafficDistribution are not modelled; the legacy Endpoints
  1000-address over-capacity truncation is not modelled either.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MANAGED_BY = "endpointslice-controller.k8s.io"

LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_ZONE = "topology.kubernetes.io/zone"
ANNOTATION_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
RESERVED_LABELS = frozenset({LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS})

SLICE_API_VERSION = "discovery.k8s.io/v1"

Obj = dict[str, Any]
PortKey = tuple[tuple[str, int, str, str], ...]
EndpointHash = tuple[tuple[str, ...], str, str, str]


@dataclass
class SliceChanges:
    """What one reconcile of a Service's EndpointSlices wants written."""

    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


# --------------------------------------------------------------------------- small readers


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _name(obj: Obj) -> str:
    return _meta(obj).get("name") or ""


def _namespace(obj: Obj) -> str:
    return _meta(obj).get("namespace") or ""


def _labels(obj: Obj) -> dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


# --------------------------------------------------------------------------- R1-R3 selection


def selects(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """R1/R2: equality-based AND over a plain map; nil *and* empty select nothing.

    Go would match everything with an empty ``labels.Set``, but the API never hands the
    controller an empty map (protobuf stores ``{}`` as nil), see docs/rules.md R2.
    """
    if not selector:
        return False
    have = labels or {}
    return all(key in have and have[key] == value for key, value in selector.items())


def _controller_manages(service: Obj) -> bool:
    """R2/R3 (endpointslice_controller.go / endpoints_controller.go: syncService)."""
    spec = _spec(service)
    if spec.get("type") == "ExternalName":
        return False
    return bool(spec.get("selector"))


def _selected_pods(service: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """Pods in the Service's namespace matching its selector, sorted by name."""
    ns = _namespace(service)
    selector = _spec(service).get("selector")
    chosen = [
        p for p in pods
        if (_namespace(p) or ns) == ns and selects(selector, _labels(p))
    ]
    return sorted(chosen, key=lambda p: (_name(p), _meta(p).get("uid") or ""))


# --------------------------------------------------------------------------- pod facts


def _is_terminal(pod: Obj) -> bool:
    return _status(pod).get("phase") in ("Succeeded", "Failed")


def _pod_ip_strings(pod: Obj) -> list[str]:
    """``status.podIPs[*].ip``; R20 convention: a lone ``podIP`` stands for ``podIPs``."""
    status = _status(pod)
    ips = [entry.get("ip") for entry in status.get("podIPs") or [] if entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def _should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """R18 (util/controller_utils.go: ShouldPodBeInEndpoints)."""
    if _is_terminal(pod):
        return False
    status = _status(pod)
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    if not include_terminating and _meta(pod).get("deletionTimestamp"):  # noqa: SIM103 - mirrors the Go guard chain
        return False
    return True


def _is_pod_ready(pod: Obj) -> bool:
    """R21 serving (controller_utils.go: IsPodReady): the Ready condition is "True"."""
    for condition in _status(pod).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _should_set_hostname(pod: Obj, service: Obj) -> bool:
    """R22 (controller_utils.go: ShouldSetHostname)."""
    spec = _spec(pod)
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == _name(service)
        and (_namespace(pod) or _namespace(service)) == _namespace(service)
    )


def _target_ref(pod: Obj, service: Obj) -> Obj:
    """R22: {kind: Pod, namespace, name, uid}; Go omits empty strings."""
    ref: Obj = {"kind": "Pod", "namespace": _namespace(pod) or _namespace(service), "name": _name(pod)}
    uid = _meta(pod).get("uid")
    if uid:
        ref["uid"] = uid
    return ref


# --------------------------------------------------------------------------- addresses (R20)


_SLOPPY_V4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Like utilnet.ParseIPSloppy: IPv4 octets may carry leading zeros (read as decimal)."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _SLOPPY_V4.match(text):
        octets = [int(part, 10) for part in text.split(".")]
        if all(o <= 255 for o in octets):
            return ipaddress.IPv4Address(".".join(str(o) for o in octets))
    return None


def _family_of(address_type: str) -> int:
    return 6 if address_type == "IPv6" else 4


def _addresses_for_type(pod: Obj, address_type: str) -> list[str]:
    """utils.go: getEndpointAddresses -- keep the slice's family, re-stringified."""
    out: list[str] = []
    for text in _pod_ip_strings(pod):
        ip = _parse_ip(text)
        if ip is not None and ip.version == _family_of(address_type):
            out.append(str(ip))
    return out


def _is_ipv6_string(text: str | None) -> bool:
    ip = _parse_ip(text) if text else None
    return ip is not None and ip.version == 6


def _address_types(service: Obj) -> list[str]:
    """utils.go: getAddressTypesForService, with the simulator's IPv4 default (see module doc)."""
    spec = _spec(service)
    types = []
    for family in spec.get("ipFamilies") or []:
        if family == "IPv4" and "IPv4" not in types:
            types.append("IPv4")
        if family == "IPv6" and "IPv6" not in types:
            types.append("IPv6")
    if types:
        return sorted(types)
    cluster_ip = spec.get("clusterIP") or ""
    if cluster_ip and cluster_ip != "None":
        return ["IPv6" if _is_ipv6_string(cluster_ip) else "IPv4"]
    return ["IPv4"]


def _is_service_ip_set(service: Obj) -> bool:
    """utils.go: isServiceIPSet -- false means headless (or not yet allocated)."""
    cluster_ip = _spec(service).get("clusterIP") or ""
    return cluster_ip not in ("", "None")


# --------------------------------------------------------------------------- ports (R23)


def _target_port(service_port: Obj) -> int | str:
    """R5: an omitted, 0 or "" targetPort is defaulted to ``port`` before anyone sees it."""
    target = service_port.get("targetPort")
    if target in (None, 0, ""):
        return int(service_port.get("port") or 0)
    out: int | str = target  # validated: an integer or a port name
    return out


def _protocol(port: Obj) -> str:
    return port.get("protocol") or "TCP"


def _find_port(pod: Obj, service_port: Obj) -> int | None:
    """utils.go: FindPort. Numbers pass through; names need name *and* protocol to match,
    searching containers, then init containers with restartPolicy Always (sidecars)."""
    target = _target_port(service_port)
    if isinstance(target, int):
        return target
    wanted_protocol = _protocol(service_port)
    spec = _spec(pod)
    candidates = list(spec.get("containers") or []) + [
        c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    ]
    for container in candidates:
        for port in container.get("ports") or []:
            if port.get("name") == target and _protocol(port) == wanted_protocol:
                return int(port["containerPort"])
    return None


def _endpoint_ports(service: Obj, pod: Obj) -> list[Obj]:
    """utils.go: getEndpointPorts. A port that can't be resolved is skipped (``continue``),
    the pod stays. EndpointPort.name is a pointer, so an unnamed port is ``"name": ""``."""
    ports = _spec(service).get("ports") or []
    out: list[Obj] = []
    for service_port in ports:
        number = _find_port(pod, service_port)
        if number is None:
            continue
        entry: Obj = {"name": service_port.get("name") or "", "port": number,
                      "protocol": _protocol(service_port)}
        if service_port.get("appProtocol"):
            entry["appProtocol"] = service_port["appProtocol"]
        out.append(entry)
    return out


def _port_key(ports: list[Obj] | None) -> PortKey:
    """controller_utils.go: NewPortMapKey -- order-insensitive, nil == empty."""
    return tuple(sorted(
        (p.get("name") or "", int(p.get("port") or 0), p.get("protocol") or "TCP", p.get("appProtocol") or "")
        for p in ports or []
    ))


def _sorted_ports(ports: list[Obj]) -> list[Obj]:
    """The port order inside a slice: the Service's, as utils.go getEndpointPorts builds the list from
    ``service.Spec.Ports`` (R95; slices are grouped by the order-independent key, R24)."""
    return list(ports)


# --------------------------------------------------------------------------- endpoints (R21/R22)


def _pod_to_endpoint(pod: Obj, node: Obj | None, service: Obj, address_type: str) -> Obj:
    """utils.go: podToEndpoint (field order follows discovery/v1 Endpoint)."""
    serving = _is_pod_ready(pod)
    terminating = bool(_meta(pod).get("deletionTimestamp"))
    ready = bool(_spec(service).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: Obj = {
        "addresses": _addresses_for_type(pod, address_type),
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    if _should_set_hostname(pod, service):
        endpoint["hostname"] = _spec(pod)["hostname"]
    endpoint["targetRef"] = _target_ref(pod, service)
    node_name = _spec(pod).get("nodeName")
    if node_name:
        endpoint["nodeName"] = node_name
    zone = _labels(node).get(LABEL_ZONE) if node is not None else None
    if zone:
        endpoint["zone"] = zone
    return endpoint


def _endpoint_hash(endpoint: Obj) -> EndpointHash:
    """util/endpointset.go: hashEndpoint -- identity is addresses, hostname, targetRef ns/name."""
    ref = endpoint.get("targetRef") or {}
    return (
        tuple(sorted(endpoint.get("addresses") or [])),
        endpoint.get("hostname") or "",
        ref.get("namespace") or "",
        ref.get("name") or "",
    )


def _normalized_ref(ref: Obj | None) -> Obj | None:
    if ref is None:
        return None
    return {k: v for k, v in ref.items() if k != "resourceVersion" and v not in ("", None)}


def _endpoints_equal_beyond_hash(a: Obj, b: Obj) -> bool:
    """controller_utils.go: EndpointsEqualBeyondHash (nil vs set counts as a change)."""
    if a.get("nodeName") != b.get("nodeName") or a.get("zone") != b.get("zone"):
        return False
    cond_a, cond_b = a.get("conditions") or {}, b.get("conditions") or {}
    for key in ("ready", "serving", "terminating"):
        if cond_a.get(key) != cond_b.get(key):
            return False
    return _normalized_ref(a.get("targetRef")) == _normalized_ref(b.get("targetRef"))


def _endpoint_sort_key(endpoint: Obj) -> tuple[str, str, str]:
    ref = endpoint.get("targetRef") or {}
    addresses = endpoint.get("addresses") or [""]
    return (ref.get("name") or "", addresses[0], ref.get("namespace") or "")


class _EndpointSet:
    """util/endpointset.go: EndpointSet, but PopAny pops the smallest (pod name, IP)."""

    def __init__(self) -> None:
        self._items: dict[EndpointHash, Obj] = {}

    def insert(self, endpoint: Obj) -> None:
        self._items[_endpoint_hash(endpoint)] = endpoint

    def get(self, endpoint: Obj) -> Obj | None:
        return self._items.get(_endpoint_hash(endpoint))

    def delete(self, endpoint: Obj) -> None:
        self._items.pop(_endpoint_hash(endpoint), None)

    def pop_any(self) -> Obj:
        key = min(self._items, key=lambda h: _endpoint_sort_key(self._items[h]))
        return self._items.pop(key)

    def __len__(self) -> int:
        return len(self._items)


# --------------------------------------------------------------------------- slice metadata (R27)


_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _slice_prefix(service_name: str) -> str:
    """utils.go: getEndpointSlicePrefix -- "<svc>-" unless that is not a valid generateName
    prefix (NameIsDNSSubdomain with prefix=true masks the trailing dash)."""
    prefix = f"{service_name}-"
    masked = prefix[:-1] + "a" if len(prefix) > 1 else prefix
    if len(masked) > 253 or not _DNS1123_SUBDOMAIN.match(masked):
        return service_name
    return prefix


def _owner_reference(service: Obj) -> Obj:
    """metav1.NewControllerRef(service, v1/Service)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "name": _name(service),
        "uid": _meta(service).get("uid") or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owned_by(slice_: Obj, service: Obj) -> bool:
    """utils.go: ownedBy -- an ownerReference with the Service's uid, kind Service, v1."""
    uid = _meta(service).get("uid") or ""
    return any(
        (ref.get("uid") or "") == uid and ref.get("kind") == "Service" and ref.get("apiVersion") == "v1"
        for ref in _meta(slice_).get("ownerReferences") or []
    )


def _service_labels_unreserved(service: Obj) -> dict[str, str]:
    return {k: v for k, v in _labels(service).items() if k not in RESERVED_LABELS}


def _slice_labels(slice_: Obj | None, service: Obj) -> tuple[dict[str, str], bool]:
    """utils.go: setEndpointSliceLabels -> (labels, changed). Only the Service's own
    non-reserved labels count as a change; the reserved ones are always overridden."""
    wanted = _service_labels_unreserved(service)
    current = {k: v for k, v in _labels(slice_ or {}).items() if k not in RESERVED_LABELS}
    changed = current != wanted
    labels = dict(wanted)
    if not _is_service_ip_set(service):
        labels[LABEL_HEADLESS] = ""
    labels[LABEL_SERVICE_NAME] = _name(service)
    labels[LABEL_MANAGED_BY] = MANAGED_BY
    return labels, changed


def _new_slice(service: Obj, ports: list[Obj], address_type: str) -> Obj:
    """utils.go: newEndpointSlice (no name: the API server generates one)."""
    labels, _ = _slice_labels(None, service)
    return {
        "apiVersion": SLICE_API_VERSION,
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": _slice_prefix(_name(service)),
            "namespace": _namespace(service),
            "labels": labels,
            "ownerReferences": [_owner_reference(service)],
        },
        "addressType": address_type,
        "endpoints": [],
        "ports": _sorted_ports(ports),
    }


def _is_placeholder_match(existing: Obj, placeholder: Obj) -> bool:
    """reconciler.go: placeholderSliceCompare -- namespace, labels, ownerReferences,
    addressType, and no endpoints / no ports (nil and empty are equal)."""
    return (
        _namespace(existing) == _namespace(placeholder)
        and _labels(existing) == _labels(placeholder)
        and _owner_refs(existing) == _owner_refs(placeholder)
        and existing.get("addressType") == placeholder.get("addressType")
        and not existing.get("endpoints")
        and not existing.get("ports")
    )


def _owner_refs(obj: Obj) -> list[Obj]:
    refs = _meta(obj).get("ownerReferences") or []
    return [{k: v for k, v in ref.items() if v not in (None, "")} for ref in refs]


def _with_trigger_time(slice_: Obj, now: str) -> Obj:
    """utils.go: addTriggerTimeAnnotation -- set when known, otherwise cleared."""
    meta = slice_.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    if now:
        annotations[ANNOTATION_TRIGGER_TIME] = now
    else:
        annotations.pop(ANNOTATION_TRIGGER_TIME, None)
    meta["annotations"] = annotations
    return slice_


def _finish_slice(slice_: Obj) -> Obj:
    """Deterministic endpoint order; empty lists become None (protobuf round trip)."""
    endpoints = sorted(slice_.get("endpoints") or [], key=_endpoint_sort_key)
    slice_["endpoints"] = endpoints or None
    slice_["ports"] = _sorted_ports(slice_.get("ports") or []) or None
    return slice_


# --------------------------------------------------------------------------- desired state


@dataclass
class _Group:
    """One port list (reconciler.go: endpointMeta + its EndpointSet)."""

    ports: list[Obj]
    endpoints: _EndpointSet = field(default_factory=_EndpointSet)


def _desired_groups(service: Obj, pods: list[Obj], nodes: dict[str, Obj],
                    address_type: str) -> dict[PortKey, _Group]:
    """reconciler.go: reconcileByAddressType, desired-state half.

    Note the source order: the port group is registered *before* the Node lookup and the
    address check, so a pod skipped for a missing Node still yields an (empty) group.
    """
    pnra = bool(_spec(service).get("publishNotReadyAddresses"))
    groups: dict[PortKey, _Group] = {}
    for pod in pods:
        if not _should_pod_be_in_endpoints(pod, include_terminating=True):
            continue
        ports = _endpoint_ports(service, pod)
        group = groups.setdefault(_port_key(ports), _Group(ports=ports))
        node = nodes.get(_spec(pod).get("nodeName") or "")
        if node is None and not pnra:
            continue  # R19: "skipping Pod for Service, Node not found" (the sync also errors)
        endpoint = _pod_to_endpoint(pod, node, service, address_type)
        if endpoint["addresses"]:
            group.endpoints.insert(endpoint)
    return groups


# --------------------------------------------------------------------------- reconcile


@dataclass
class _PortMappingResult:
    create: list[Obj]
    update: list[Obj]
    delete: list[Obj]


def _reconcile_existing(service: Obj, existing: list[Obj], desired: _EndpointSet,
                        by_name: dict[str, Obj], to_update: set[str], to_delete: set[str],
                        unchanged: set[str]) -> None:
    """reconcileByPortMapping step 1: keep desired endpoints, drop the rest, refresh labels."""
    for slice_ in existing:
        name = _name(slice_)
        by_name[name] = slice_
        old = list(slice_.get("endpoints") or [])
        kept: list[Obj] = []
        endpoint_updated = False
        for endpoint in old:
            wanted = desired.get(endpoint)
            if wanted is None:
                continue
            kept.append(wanted)
            if not _endpoints_equal_beyond_hash(wanted, endpoint):
                endpoint_updated = True
            desired.delete(endpoint)
        labels, labels_changed = _slice_labels(slice_, service)
        if endpoint_updated or len(old) != len(kept):
            if not kept:
                to_delete.add(name)
                continue
            updated = copy.deepcopy(slice_)
            updated["endpoints"] = kept
            updated["metadata"]["labels"] = labels
            by_name[name] = updated
            to_update.add(name)
        elif labels_changed:
            updated = copy.deepcopy(slice_)
            updated["endpoints"] = list(slice_.get("endpoints") or [])
            updated["metadata"]["labels"] = labels
            by_name[name] = updated
            to_update.add(name)
        else:
            unchanged.add(name)


def _slice_to_fill(candidates: list[Obj], count: int, max_per_slice: int) -> Obj | None:
    """utils.go: getSliceToFill -- the slice that ends up closest to full."""
    closest_diff = max_per_slice
    closest: Obj | None = None
    for slice_ in candidates:
        diff = max_per_slice - (count + len(slice_.get("endpoints") or []))
        if 0 <= diff < closest_diff:
            closest_diff, closest = diff, slice_
            if diff == 0:
                break
    return closest


def _reconcile_port_mapping(service: Obj, existing: list[Obj], group: _Group, address_type: str,
                            max_per_slice: int) -> _PortMappingResult:
    """reconciler.go: reconcileByPortMapping (steps 1-3)."""
    by_name: dict[str, Obj] = {}
    to_update: set[str] = set()
    to_delete: set[str] = set()
    unchanged: set[str] = set()
    desired = group.endpoints
    _reconcile_existing(service, existing, desired, by_name, to_update, to_delete, unchanged)

    # 2. fill the slices that are being updated anyway, fullest first
    if len(desired) and to_update:
        fill_order = sorted((by_name[n] for n in to_update),
                            key=lambda s: (-len(s.get("endpoints") or []), _name(s)))
        for slice_ in fill_order:
            while len(desired) and len(slice_["endpoints"]) < max_per_slice:
                slice_["endpoints"].append(desired.pop_any())

    # 3. put leftovers into one untouched slice if they fit, else create new slices
    created: list[Obj] = []
    while len(desired):
        target: Obj | None = None
        if len(desired) < max_per_slice and unchanged:
            target = _slice_to_fill([by_name[n] for n in sorted(unchanged)], len(desired), max_per_slice)
        if target is None:
            target = _new_slice(service, group.ports, address_type)
        else:
            target = copy.deepcopy(target)
            target["endpoints"] = list(target.get("endpoints") or [])
            by_name[_name(target)] = target
        while len(desired) and len(target["endpoints"]) < max_per_slice:
            target["endpoints"].append(desired.pop_any())
        if _name(target):
            to_update.add(_name(target))
            unchanged.discard(_name(target))
        else:
            created.append(target)

    return _PortMappingResult(
        create=created,
        update=[by_name[n] for n in sorted(to_update)],
        delete=[by_name[n] for n in sorted(to_delete)],
    )


def _reconcile_address_type(service: Obj, pods: list[Obj], nodes: dict[str, Obj], existing: list[Obj],
                            address_type: str, max_per_slice: int) -> _PortMappingResult:
    """reconciler.go: reconcileByAddressType (without topology hints)."""
    result = _PortMappingResult(create=[], update=[], delete=[])
    existing_by_key: dict[PortKey, list[Obj]] = {}
    for slice_ in sorted(existing, key=_name):
        if _owned_by(slice_, service):
            existing_by_key.setdefault(_port_key(slice_.get("ports")), []).append(slice_)
        else:
            result.delete.append(slice_)  # owned by an older Service of the same name

    groups = _desired_groups(service, pods, nodes, address_type)
    for key in sorted(groups):
        part = _reconcile_port_mapping(service, existing_by_key.get(key, []), groups[key],
                                       address_type, max_per_slice)
        result.create += part.create
        result.update += part.update
        result.delete += part.delete
    for key in sorted(existing_by_key):
        if key not in groups:
            result.delete += existing_by_key[key]

    # R26: "When no endpoint slices would usually exist, we need to add a placeholder."
    if len(existing) == len(result.delete) and not result.create:
        placeholder = _new_slice(service, [], address_type)
        if len(result.delete) == 1 and _is_placeholder_match(result.delete[0], placeholder):
            result.delete = []
        else:
            result.create.append(placeholder)
    return result


def _recycle_deleted_names(service: Obj, result: _PortMappingResult) -> None:
    """reconciler.go: finalize -- turn creates into updates of slices about to be deleted
    (same addressType and owned by this Service), taking creates from the end."""
    i = 0
    while i < len(result.delete) and result.create:
        doomed = result.delete[i]
        fresh = result.create[-1]
        if doomed.get("addressType") == fresh.get("addressType") and _owned_by(doomed, service):
            old_meta = _meta(doomed)
            for key in ("name", "resourceVersion", "uid", "creationTimestamp"):
                if old_meta.get(key) is not None:
                    fresh["metadata"][key] = old_meta[key]
            result.create.pop()
            result.update.append(fresh)
            result.delete.pop(i)
        else:
            i += 1


def _is_ours(slice_: Obj, service: Obj) -> bool:
    """The controller's list selector (service-name + managed-by), same namespace,
    minus slices pending deletion (endpointslice_controller.go: syncService)."""
    labels = _labels(slice_)
    return (
        labels.get(LABEL_SERVICE_NAME) == _name(service)
        and labels.get(LABEL_MANAGED_BY) == MANAGED_BY
        and (_namespace(slice_) or _namespace(service)) == _namespace(service)
        and not _meta(slice_).get("deletionTimestamp")
    )


def reconcile_slices(service: Obj, pods: list[Obj], nodes: dict[str, Obj], existing: list[Obj],
                     now: str, max_per_slice: int = 100) -> SliceChanges:
    """One sync of the EndpointSlice controller for ``service`` (R1-R3, R18-R28).

    Returns the creates (with ``generateName``, no name), full updated objects (with the
    existing name/resourceVersion) and names to delete. Returns an empty
    :class:`SliceChanges` when ``existing`` already represents the desired state.
    """
    if not _controller_manages(service):
        return SliceChanges()
    mine = [s for s in existing if _is_ours(s, service)]
    selected = _selected_pods(service, pods)
    supported = _address_types(service)

    total = _PortMappingResult(create=[], update=[], delete=[])
    by_type: dict[str, list[Obj]] = {}
    for slice_ in sorted(mine, key=_name):
        if slice_.get("addressType") in supported:
            by_type.setdefault(slice_["addressType"], []).append(slice_)
        else:
            total.delete.append(slice_)  # Reconcile: family no longer served
    for address_type in supported:
        part = _reconcile_address_type(service, selected, nodes, by_type.get(address_type, []),
                                       address_type, max_per_slice)
        _recycle_deleted_names(service, part)
        total.create += part.create
        total.update += part.update
        total.delete += part.delete

    if _meta(service).get("deletionTimestamp"):
        total.create = []  # finalize: no creates while the Service is being deleted
    return SliceChanges(
        create=[_with_trigger_time(_finish_slice(s), now) for s in total.create],
        update=sorted((_with_trigger_time(_finish_slice(s), now) for s in total.update), key=_name),
        delete=sorted(_name(s) for s in total.delete),
    )


# --------------------------------------------------------------------------- legacy Endpoints


def _legacy_address_ip(service: Obj, pod: Obj) -> str | None:
    """endpoints_controller.go: podToEndpointAddressForService -- first pod IP of the
    Service's primary family (ipFamilies[0], else clusterIP family, else podIP family)."""
    spec = _spec(service)
    families = spec.get("ipFamilies") or []
    if families:
        want_v6 = families[0] == "IPv6"
    elif _is_service_ip_set(service):
        want_v6 = _is_ipv6_string(spec.get("clusterIP"))
    else:
        want_v6 = _is_ipv6_string(_status(pod).get("podIP"))
    for text in _pod_ip_strings(pod):
        if _is_ipv6_string(text) == want_v6:
            return text
    return None


def _legacy_address(service: Obj, pod: Obj, ip: str) -> Obj:
    """v1.EndpointAddress {ip, hostname?, nodeName, targetRef}. nodeName is a pointer to
    pod.spec.nodeName, so it is always present."""
    address: Obj = {"ip": ip}
    if _should_set_hostname(pod, service):
        address["hostname"] = _spec(pod)["hostname"]
    address["nodeName"] = _spec(pod).get("nodeName") or ""
    address["targetRef"] = _target_ref(pod, service)
    return address


def _legacy_port(service_port: Obj, number: int) -> Obj:
    """endpoints_controller.go: endpointPortFromServicePort (core v1 omits an empty name)."""
    port: Obj = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = _protocol(service_port)
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _less_address_key(address: Obj) -> tuple[bytes, str]:
    """pkg/api/v1/endpoints/util.go: LessEndpointAddress -- IP bytes, then targetRef uid."""
    return (address["ip"].encode(), (address.get("targetRef") or {}).get("uid") or "")


_Entry = tuple[Obj, Obj | None, bool]  # (address, port or None for the no-port sentinel, ready)


def _legacy_entries(service: Obj, pods: list[Obj]) -> list[_Entry]:
    """endpoints_controller.go: syncService pod loop + addEndpointSubset."""
    spec = _spec(service)
    pnra = bool(spec.get("publishNotReadyAddresses"))
    service_ports = spec.get("ports") or []
    entries: list[_Entry] = []
    for pod in pods:
        if not _should_pod_be_in_endpoints(pod, include_terminating=pnra):
            continue
        ip = _legacy_address_ip(service, pod)
        if ip is None:
            continue
        address = _legacy_address(service, pod, ip)
        ready = pnra or _is_pod_ready(pod)
        if not service_ports:
            if spec.get("clusterIP") == "None":
                entries.append((address, None, ready))
            continue
        for service_port in service_ports:
            number = _find_port(pod, service_port)
            if number is not None:
                entries.append((address, _legacy_port(service_port, number), ready))
    return entries


_PortId = tuple[str, int, str, str]


def _port_identity(port: Obj | None) -> _PortId:
    if port is None:
        return ("", -1, "", "")
    return (port.get("name") or "", port["port"], port.get("protocol") or "", port.get("appProtocol") or "")


def _repack(entries: list[_Entry]) -> list[Obj]:
    """pkg/api/v1/endpoints/util.go: RepackSubsets -- one subset per distinct set of
    (address, ready) pairs, carrying every port that set offers; not-ready wins; the
    no-ports sentinel yields a subset without ports. Sorted deterministically."""
    addresses: dict[tuple[str, str], Obj] = {}
    per_port: dict[_PortId, dict[tuple[str, str], bool]] = {}
    port_objs: dict[_PortId, Obj | None] = {}
    for address, port, ready in entries:
        akey = (address["ip"], (address.get("targetRef") or {}).get("uid") or "")
        addresses.setdefault(akey, address)
        pid = _port_identity(port)
        port_objs[pid] = port
        states = per_port.setdefault(pid, {})
        states[akey] = states.get(akey, True) and ready
    by_address_set: dict[frozenset[tuple[tuple[str, str], bool]], list[_PortId]] = {}
    for pid, states in per_port.items():
        by_address_set.setdefault(frozenset(states.items()), []).append(pid)
    subsets: list[Obj] = []
    for address_set, pids in by_address_set.items():
        ready_list = sorted((addresses[a] for a, r in address_set if r), key=_less_address_key)
        not_ready = sorted((addresses[a] for a, r in address_set if not r), key=_less_address_key)
        ports = [port_objs[p] for p in sorted(pids) if port_objs[p] is not None]
        subset: Obj = {}
        if ready_list:
            subset["addresses"] = copy.deepcopy(ready_list)
        if not_ready:
            subset["notReadyAddresses"] = copy.deepcopy(not_ready)
        if ports:
            subset["ports"] = ports
        subsets.append(subset)
    return sorted(subsets, key=_subset_sort_key)


def _subset_sort_key(subset: Obj) -> tuple[tuple[_PortId, ...], str]:
    first = (subset.get("addresses") or subset.get("notReadyAddresses") or [{"ip": ""}])[0]
    return (tuple(_port_identity(p) for p in subset.get("ports") or []), first["ip"])


def desired_endpoints(service: Obj, pods: list[Obj], nodes: dict[str, Obj], now: str) -> Obj | None:
    """The v1 Endpoints object the legacy endpoints controller wants for ``service``.

    ``None`` when that controller leaves the Service alone (nil selector, ExternalName).
    ``nodes`` is accepted for symmetry: the legacy controller does not look Nodes up, so a
    pod on a missing Node is still listed (unlike R19 for slices). Over-capacity
    truncation (1000 addresses, ``endpoints.kubernetes.io/over-capacity``) is not modelled.
    """
    del nodes  # the legacy controller has no Node lister
    if not _controller_manages(service):
        return None
    subsets = _repack(_legacy_entries(service, _selected_pods(service, pods)))
    labels = dict(_labels(service))
    if _is_service_ip_set(service):
        labels.pop(LABEL_HEADLESS, None)
    else:
        labels[LABEL_HEADLESS] = ""
    metadata: Obj = {"name": _name(service), "namespace": _namespace(service)}
    if labels:
        metadata["labels"] = labels
    if now:
        metadata["annotations"] = {ANNOTATION_TRIGGER_TIME: now}
    endpoints: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata}
    if subsets:
        endpoints["subsets"] = subsets
    return endpoints


def endpoints_need_write(current: Obj | None, desired: Obj) -> bool:
    """endpoints_controller.go: syncService's "endpoints are equal, skipping update" test:
    subsets equal (ignoring targetRef.resourceVersion) and labels equal once the headless
    label is set aside. ``current`` None means the object must be created."""
    if current is None:
        return True
    def strip(labels: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in labels.items() if k != LABEL_HEADLESS}

    if strip(_labels(current)) != strip(_labels(desired)):
        return True
    return _canonical_subsets(current.get("subsets")) != _canonical_subsets(desired.get("subsets"))


def _canonical_subsets(subsets: list[Obj] | None) -> list[Obj]:
    out = []
    for subset in subsets or []:
        canon = {}
        for key in ("addresses", "notReadyAddresses"):
            canon[key] = [
                {**a, "targetRef": _normalized_ref(a.get("targetRef"))} for a in subset.get(key) or []
            ]
        canon["ports"] = list(subset.get("ports") or [])
        out.append(canon)
    return out
