"""The EndpointSliceMirroring controller (pkg/controller/endpointslicemirroring): EndpointSlices for the
Endpoints of a Service without a selector, which someone wrote by hand (the Service's own slices come from
the Endpoints, not from Pods).

An Endpoints object is mirrored when its Service exists with a nil selector, the Endpoints are not labelled
``endpointslice.kubernetes.io/skip-mirror: "true"`` and carry no leader-election annotation
(endpointslicemirroring_controller.go syncEndpoints, utils.go shouldMirror); otherwise its mirrored slices
are deleted. Each subset's addresses become endpoints (``addresses`` ready true, ``notReadyAddresses`` ready
false; only the ready condition is set; targetRef, nodeName, hostname carried over), grouped by the
subset's ports and the address family, at most 1000 per slice (--mirroring-max-endpoints-per-subset). A
slice is named ``<endpoints name>-<5 random>``, owned by the Endpoints (a controller reference), labelled
with the Endpoints' labels plus ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by:
endpointslicemirroring-controller.k8s.io``, and annotated with its annotations but
``endpoints.kubernetes.io/last-change-trigger-time`` and ``kubectl.kubernetes.io/last-applied-configuration``
(utils.go newEndpointSlice, addressToEndpoint, epPortsToEpsPorts).
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from ..apimachinery import errors
from ..clientset import Client, Lister
from ..storage.store import Obj, clone

SLICES = "discovery.k8s.io/endpointslices"
MANAGED_BY = "endpointslicemirroring-controller.k8s.io"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_PER_SLICE = 1000
_DROPPED_ANNOTATIONS = ("endpoints.kubernetes.io/last-change-trigger-time",
                        "kubectl.kubernetes.io/last-applied-configuration")


def _address_type(ip: Any) -> str | None:
    try:
        addr = ipaddress.ip_address(str(ip))
    except ValueError:
        return None  # not an IP: skipped, as the controller skips it
    return "IPv4" if addr.version == 4 else "IPv6"


def _endpoint(address: Obj, ready: bool) -> Obj:
    ep: Obj = {"addresses": [address["ip"]], "conditions": {"ready": ready}}
    if address.get("hostname"):
        ep["hostname"] = address["hostname"]
    if address.get("nodeName"):
        ep["nodeName"] = address["nodeName"]
    if address.get("targetRef"):
        ep["targetRef"] = address["targetRef"]
    return ep


def _ports(subset: Obj) -> list[Obj]:
    out: list[Obj] = []
    for p in subset.get("ports") or []:
        if not isinstance(p, dict):
            continue
        port: Obj = {"name": p.get("name") or "", "port": p.get("port"), "protocol": p.get("protocol") or "TCP"}
        if p.get("appProtocol"):
            port["appProtocol"] = p["appProtocol"]
        out.append(port)
    return out


def desired_groups(endpoints: Obj) -> list[tuple[str, list[Obj], list[Obj]]]:
    """(addressType, ports, endpoints) per mirrored slice, in the order of the subsets."""
    groups: dict[tuple[str, str], tuple[str, list[Obj], list[Obj]]] = {}
    for subset in endpoints.get("subsets") or []:
        if not isinstance(subset, dict):
            continue
        ports = _ports(subset)
        pkey = repr(sorted(tuple(sorted(p.items())) for p in ports))
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for a in subset.get(field) or []:
                if not isinstance(a, dict):
                    continue
                atype = _address_type(a.get("ip"))
                if atype is None:
                    continue
                groups.setdefault((atype, pkey), (atype, ports, []))[2].append(_endpoint(a, ready))
    out: list[tuple[str, list[Obj], list[Obj]]] = []
    for atype, ports, eps in groups.values():
        for i in range(0, len(eps), MAX_PER_SLICE):
            out.append((atype, ports, eps[i:i + MAX_PER_SLICE]))
    return out


class EndpointSliceMirroringController:
    def __init__(self, lister: Lister, client: Client) -> None:
        self.lister = lister
        self.client = client

    def mirrored(self, ns: str, name: str) -> list[Obj]:
        return [s for s in self.lister.iter(SLICES, ns)
                if (s["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY) == MANAGED_BY
                and (s["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME) == name]

    def _should_mirror(self, ns: str, name: str) -> Obj | None:
        """The Endpoints to mirror (cached, read-only), or None: the Service first, since most have a selector."""
        svc = self.lister.peek("/services", ns, name)
        if svc is None or svc["metadata"].get("deletionTimestamp") or svc.get("spec", {}).get("selector") is not None:
            return None
        ep = self.lister.peek("/endpoints", ns, name)
        if ep is None or ep["metadata"].get("deletionTimestamp"):
            return None
        if (ep["metadata"].get("labels") or {}).get(LABEL_SKIP_MIRROR) == "true":
            return None
        if LEADER_ANNOTATION in (ep["metadata"].get("annotations") or {}):
            return None
        return ep

    def sync(self, ns: str, name: str) -> None:
        ep = self._should_mirror(ns, name)
        existing = self.mirrored(ns, name)
        if ep is None and not existing:
            return
        want = desired_groups(ep) if ep is not None else []
        keep: list[Obj] = []  # existing slices reused, by identity
        for atype, ports, endpoints in want:
            assert ep is not None
            match = next((s for s in existing if all(s is not k for k in keep) and s.get("addressType") == atype),
                         None)
            body = self._slice(ep, atype, ports, endpoints, match)
            if match is None:
                self.client.create("EndpointSlice", ns, body)
                continue
            keep.append(match)
            if any(body.get(k) != match.get(k) for k in ("ports", "endpoints")) or (
                    body["metadata"].get("labels") != match["metadata"].get("labels")
                    or (body["metadata"].get("annotations") or {}) != (match["metadata"].get("annotations") or {})):
                self.client.update("EndpointSlice", ns, match["metadata"]["name"], body)
        for s in existing:
            if any(s is k for k in keep):
                continue
            try:
                self.client.delete("EndpointSlice", ns, s["metadata"]["name"])
            except errors.ApiError as e:
                if e.code != 404:
                    raise

    @staticmethod
    def _slice(ep: Obj, atype: str, ports: list[Obj], endpoints: list[Obj], cur: Obj | None) -> Obj:
        md = ep["metadata"]
        labels = {**(md.get("labels") or {}), LABEL_SERVICE_NAME: md["name"], LABEL_MANAGED_BY: MANAGED_BY}
        annotations = {k: v for k, v in (md.get("annotations") or {}).items() if k not in _DROPPED_ANNOTATIONS}
        meta: Obj = clone(cur["metadata"]) if cur is not None else {
            "generateName": f"{md['name']}-",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Endpoints", "name": md["name"], "uid": md["uid"],
                                 "controller": True, "blockOwnerDeletion": True}]}
        meta["labels"] = labels
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta,
                "addressType": atype, "endpoints": copy.deepcopy(endpoints), "ports": copy.deepcopy(ports) or None}
