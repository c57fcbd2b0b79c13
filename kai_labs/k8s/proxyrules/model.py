"""What kube-proxy knows about each Service port before it writes a rule.

Pure functions of API objects (a :class:`kai_labs.k8s.netlogic.Snapshot`): which Service
ports are proxied, their endpoints, and how the endpoints split into the Cluster and Local
policy sets on one node. Both renderers (:mod:`.nftables`, :mod:`.iptables`) read only this.

Facts carried over (never code) from kubernetes/kubernetes:

* ``pkg/proxy/util/utils.go: ShouldSkipService`` -- headless and ExternalName Services
  get no rules.
* ``pkg/proxy/types.go: ServicePortName.String`` -- ``ns/name:port`` with the port
  *name*, or plain ``ns/name`` when the port has none; this string feeds the chain hashes.
* ``pkg/proxy/serviceport.go: BaseServicePortInfo`` -- ``ExternallyAccessible`` (a
  nodePort, an external IP or a load-balancer IP), ``ExternalPolicyLocal``,
  ``InternalPolicyLocal``, ``UsesClusterEndpoints``, ``UsesLocalEndpoints``,
  ``StickyMaxAgeSeconds`` (default 10800).
* ``pkg/proxy/topology.go: CategorizeEndpoints`` -- ready endpoints, else
  serving+terminating ones, chosen independently for Cluster and Local; ``hasEndpoints``
  is true when any usable endpoint exists anywhere.
* ``pkg/proxy/endpointslicecache.go`` -- per port-name endpoint lists (via
  :mod:`kai_labs.k8s.netlogic`, R42-R45).
* ``pkg/proxy/apis/config/v1alpha1/defaults.go`` -- ``masqueradeBit`` 14 (mark 0x4000).
  kind's kube-proxy uses ``detectLocalMode: ClusterCIDR`` with the Pod range 10.244.0.0/16
  and the Service range 10.96.0.0/16; these are the :class:`Options` defaults.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from kai_labs.k8s import netlogic
from kai_labs.k8s.netlogic import Obj, Snapshot

PROTOCOLS = ("TCP", "UDP", "SCTP")
MODES = ("nftables", "iptables")


@dataclass(frozen=True)
class Options:
    """kube-proxy's configuration that shapes the rules (kind's values by default)."""

    node: str | None = None  # the node whose rules these are (Local endpoints); None: the first Node
    cluster_cidr: str = "10.244.0.0/16"  # detectLocalMode ClusterCIDR
    service_cidrs: tuple[str, ...] = ("10.96.0.0/16",)
    masquerade_bit: int = 14

    @property
    def mark(self) -> int:
        return 1 << self.masquerade_bit


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of one Service port (endpointslicecache.go: endpointInfo)."""

    pod: str
    ip: str
    port: int
    node: str
    ready: bool
    serving: bool
    terminating: bool

    @property
    def hostport(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    """One proxied Service port, categorised for one node (types.go, serviceport.go, topology.go)."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # lower case, as the rules spell it
    port: int
    cluster_ip: str
    node_port: int
    external_ips: tuple[str, ...]
    lb_ips: tuple[str, ...]
    lb_source_ranges: tuple[str, ...]
    external_local: bool  # ExternalPolicyLocal
    internal_local: bool  # InternalPolicyLocal
    affinity_seconds: int | None  # ClientIP affinity timeout, None without affinity
    all_endpoints: tuple[Endpoint, ...]
    cluster_endpoints: tuple[Endpoint, ...]
    local_endpoints: tuple[Endpoint, ...]
    has_endpoints: bool
    unready: tuple[Endpoint, ...] = field(default=())  # endpoints no rule reaches

    @property
    def key(self) -> str:
        """``ServicePortName.String()``: ``ns/name:portname`` or ``ns/name``."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def service(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.lb_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        return not self.internal_local or (self.externally_accessible and not self.external_local)

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_local or (self.externally_accessible and self.external_local)

    @property
    def reachable_endpoints(self) -> tuple[Endpoint, ...]:
        """``allLocallyReachableEndpoints``: the endpoints some rule on this node sends to."""
        eps: list[Endpoint] = []
        if self.uses_cluster_endpoints:
            eps += self.cluster_endpoints
        if self.uses_local_endpoints:
            eps += [e for e in self.local_endpoints if e not in eps]
        return tuple(sorted(eps, key=_ep_order))


def _ep_order(ep: Endpoint) -> tuple[tuple[int, ...], int]:
    return tuple(int(x) for x in ep.ip.split(".")) if ep.ip.count(".") == 3 else (0,), ep.port


def b32_sha256(text: str) -> str:
    """sha256, then standard base32 (RFC 4648, with padding), as kube-proxy hashes names."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()


def default_node(snap: Snapshot, options: Options) -> str:
    """The node the rules are for: the one asked for, else the first Node by name."""
    if options.node:
        return options.node
    names = sorted(str((n.get("metadata") or {}).get("name") or "") for n in snap.nodes)
    return names[0] if names else ""


def node_ips(snap: Snapshot, node: str) -> list[str]:
    """The node's InternalIP/ExternalIP addresses (nodePort addresses in nftables mode)."""
    for n in snap.nodes:
        if (n.get("metadata") or {}).get("name") == node:
            return [str(a["address"]) for a in (n.get("status") or {}).get("addresses") or []
                    if a.get("type") in ("InternalIP", "ExternalIP") and a.get("address")]
    return []


def _skip(svc: Obj) -> bool:
    """utils.go ShouldSkipService: no ClusterIP (headless) or ExternalName."""
    spec = svc.get("spec") or {}
    return spec.get("type") == "ExternalName" or spec.get("clusterIP") in (None, "", "None")


def _to_endpoint(ep: netlogic._Ep) -> Endpoint:
    return Endpoint(ep.pod, ep.ip, ep.port, ep.node, ep.ready, ep.serving, ep.terminating)


def service_ports(snap: Snapshot, options: Options | None = None) -> list[ServicePort]:
    """Every proxied IPv4 Service port of ``snap``, categorised for the node of ``options``.

    Sorted by ``ns/name:port`` so the rules come out in a stable order (kube-proxy walks a
    Go map, so a real node's order varies from sync to sync)."""
    options = options or Options()
    node = default_node(snap, options)
    out: list[ServicePort] = []
    by_service: dict[tuple[str, str], list[Obj]] = {}  # one pass over the slices, not one per Service
    for sl in snap.endpointslices:
        meta = sl.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(netlogic.SERVICE_NAME_LABEL)
        if owner:
            by_service.setdefault((str(meta.get("namespace") or "default"), str(owner)), []).append(sl)
    for svc in snap.services:
        if _skip(svc):
            continue
        spec = svc.get("spec") or {}
        meta = svc.get("metadata") or {}
        ips = [ip for ip in netlogic._cluster_ips(svc) if ip.count(".") == 3]
        if not ips:
            continue
        lb = [str(i["ip"]) for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
              if i.get("ip")]
        typ = spec.get("type") or "ClusterIP"
        affinity = None
        if spec.get("sessionAffinity") == "ClientIP":
            affinity = int(((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
                           or netlogic.DEFAULT_AFFINITY_TIMEOUT)
        own = Snapshot([], by_service.get((str(meta.get("namespace") or "default"), str(meta.get("name") or "")), []),
                       snap.pods, snap.nodes, snap.namespaces)
        for sp in netlogic._svc_ports(svc):
            if sp["protocol"] not in PROTOCOLS:
                continue
            eps = netlogic._service_port_endpoints(own, svc, sp)
            usable = netlogic._usable(eps)
            local = netlogic._local(eps, node)
            ext_accessible = bool((typ in ("NodePort", "LoadBalancer") and sp.get("nodePort"))
                                  or spec.get("externalIPs") or lb)
            reached = {(e.ip, e.port) for e in usable} | {(e.ip, e.port) for e in local}
            out.append(ServicePort(
                namespace=str(meta.get("namespace") or "default"), name=str(meta.get("name") or ""),
                port_name=str(sp["name"]), protocol=str(sp["protocol"]).lower(), port=int(sp["port"]),
                cluster_ip=ips[0],
                node_port=int(sp.get("nodePort") or 0) if typ in ("NodePort", "LoadBalancer") else 0,
                external_ips=tuple(str(i) for i in spec.get("externalIPs") or []),
                lb_ips=tuple(lb) if typ == "LoadBalancer" else (),
                lb_source_ranges=tuple(str(r) for r in spec.get("loadBalancerSourceRanges") or []),
                external_local=ext_accessible and spec.get("externalTrafficPolicy") == "Local",
                internal_local=spec.get("internalTrafficPolicy") == "Local",
                affinity_seconds=affinity,
                all_endpoints=tuple(_to_endpoint(e) for e in eps),
                cluster_endpoints=tuple(_to_endpoint(e) for e in usable),
                local_endpoints=tuple(_to_endpoint(e) for e in local),
                has_endpoints=bool(usable),
                unready=tuple(_to_endpoint(e) for e in eps if (e.ip, e.port) not in reached),
            ))
    return sorted(out, key=lambda p: (p.namespace, p.name, p.port_name, p.port, p.protocol))
