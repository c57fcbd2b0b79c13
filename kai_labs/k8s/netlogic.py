"""Service networking decisions: cluster DNS answers and kube-proxy routing.

Pure logic over a snapshot of API objects (plain dicts spelled as the Kubernetes
JSON API spells them). Nothing here opens sockets; the caller wires the
decisions to real connections.

Rule ids (R21, R33-R51) are those of docs/rules.md.
Behaviour was carried over (never code) from these sources:

* DNS naming and record shapes: kubernetes/dns ``docs/specification.md``
  (schema 1.0.1, sections 2.3-2.6).
* CoreDNS ``kubernetes`` plugin: ``plugin/kubernetes/parse.go: parseRequest``
  (name grammar, too-long names, apex NODATA), ``kubernetes.go: Records,
  findServices, findPods, endpointHostname, match (EqualFold),
  matchPortAndProtocol``, ``object/endpoint.go: endpointsliceReady`` (nil ready
  counts as ready) and the "sentinel port" used for slices with no ports.
* kubeadm's Corefile (``cmd/kubeadm/app/phases/addons/dns/manifests.go``), which
  kind uses: ``pods insecure`` and ``ttl 30``.
* Pod resolver file: ``pkg/kubelet/network/dns/dns.go`` (search list, ndots:5)
  and containerd's CRI ``parseDNSOptions`` (line order: search, nameserver,
  options). Search-list walking follows glibc ``res_nsearch``: fewer dots than
  ndots -> search suffixes first, then the name as is; NODATA on one suffix does
  not stop the walk.
* kube-proxy: ``pkg/proxy/endpointslicecache.go`` (per port-name endpoint lists,
  nil condition defaults, first address only), ``pkg/proxy/topology.go:
  CategorizeEndpoints`` (ready, else serving+terminating, independently for
  Cluster and Local), ``pkg/proxy/iptables/proxier.go: syncProxyRules``
  (REJECT "has no endpoints", DROP "has no local endpoints", the EXT chain's
  "pod traffic for external destinations" short-circuit, the ``recent`` module
  for ClientIP affinity), ``pkg/proxy/nftables/proxier.go`` (cluster-ips-check
  rejects undefined ClusterIP ports), ``pkg/proxy/util/utils.go:
  ShouldSkipService`` (headless and ExternalName are not proxied).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

CLUSTER_DOMAIN = "cluster.local"
DNS_TTL = 30  # kubeadm Corefile: "kubernetes cluster.local ... { ttl 30 }"
NDOTS = 5  # pkg/kubelet/network/dns/dns.go: defaultDNSOptions
DEFAULT_AFFINITY_TIMEOUT = 10800  # pkg/apis/core/v1/defaults.go (R5, R47)
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_MAX_CNAME_DEPTH = 8

Endpoint = tuple[str, str, int]  # (pod_name, pod_ip, port)


# --------------------------------------------------------------------------- #
# Snapshot and small object accessors
# --------------------------------------------------------------------------- #

def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name") or "")


def _ns(obj: Obj) -> str:
    return str(_meta(obj).get("namespace") or "default")


def _pod_ips(pod: Obj) -> list[str]:
    """R20 convention: a pod written with only ``podIP`` has ``podIPs: [podIP]``."""
    st = _status(pod)
    ips = [str(p.get("ip")) for p in st.get("podIPs") or [] if p.get("ip")]
    if not ips and st.get("podIP"):
        ips = [str(st["podIP"])]
    return ips


def _node_ips(node: Obj) -> list[str]:
    return [str(a.get("address")) for a in _status(node).get("addresses") or []
            if a.get("type") in ("InternalIP", "ExternalIP") and a.get("address")]


@dataclass(frozen=True)
class Snapshot:
    """The API objects the network decisions are made over."""

    services: list[Obj] = field(default_factory=list)
    endpointslices: list[Obj] = field(default_factory=list)
    pods: list[Obj] = field(default_factory=list)
    nodes: list[Obj] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)  # existing namespace names

    def namespace_exists(self, name: str) -> bool:
        """Case-insensitive, as CoreDNS matches query labels (R39)."""
        return any(n.lower() == name.lower() for n in self.namespaces)

    def service(self, namespace: str, name: str) -> Obj | None:
        """The Service ``namespace/name``, matched case-insensitively (R39)."""
        for svc in self.services:
            if _ns(svc).lower() == namespace.lower() and _name(svc).lower() == name.lower():
                return svc
        return None

    def slices_for(self, svc: Obj) -> list[Obj]:
        """EndpointSlices labelled for ``svc`` in its namespace (IP slices only)."""
        return [s for s in self.endpointslices
                if _ns(s) == _ns(svc)
                and (_meta(s).get("labels") or {}).get(SERVICE_NAME_LABEL) == _name(svc)
                and s.get("addressType", "IPv4") in ("IPv4", "IPv6")]

    def pod_by_ip(self, ip: str) -> Obj | None:
        """A pod owning ``ip``, preferring a Running one."""
        owners = [p for p in self.pods if ip in _pod_ips(p)]
        running = [p for p in owners if _status(p).get("phase") == "Running"]
        return (running or owners)[0] if owners else None

    def node_by_ip(self, ip: str) -> Obj | None:
        return next((n for n in self.nodes if ip in _node_ips(n)), None)

    def service_by_cluster_ip(self, ip: str) -> Obj | None:
        return next((s for s in self.services if ip in _cluster_ips(s)), None)

    def service_by_external_ip(self, ip: str) -> Obj | None:
        """A Service whose LB ingress IP or ``spec.externalIPs`` contains ``ip``."""
        for svc in self.services:
            ingress = _status(svc).get("loadBalancer", {}).get("ingress") or []
            if ip in [i.get("ip") for i in ingress] or ip in (_spec(svc).get("externalIPs") or []):
                return svc
        return None


# --------------------------------------------------------------------------- #
# Service helpers
# --------------------------------------------------------------------------- #

def _svc_type(svc: Obj) -> str:
    return str(_spec(svc).get("type") or "ClusterIP")


def _is_headless(svc: Obj) -> bool:
    return _svc_type(svc) != "ExternalName" and _spec(svc).get("clusterIP") == "None"


def _cluster_ips(svc: Obj) -> list[str]:
    spec = _spec(svc)
    if _svc_type(svc) == "ExternalName":
        return []
    ips = [str(i) for i in spec.get("clusterIPs") or [] if i and i != "None"]
    if not ips and spec.get("clusterIP") not in (None, "", "None"):
        ips = [str(spec["clusterIP"])]
    return list(dict.fromkeys(ips))


def _svc_ports(svc: Obj) -> list[Obj]:
    """Service ports with R5 defaults applied (protocol TCP, name "")."""
    return [{**p, "name": p.get("name") or "", "protocol": p.get("protocol") or "TCP"}
            for p in _spec(svc).get("ports") or []]


def _svc_key(svc: Obj) -> str:
    return f"{_ns(svc)}/{_name(svc)}"


def _port_label(svc: Obj, sp: Obj) -> str:
    """kube-proxy's ServicePortName spelling, ``ns/name:portname``."""
    return f"{_svc_key(svc)}:{sp['name']}" if sp["name"] else f"{_svc_key(svc)}:{sp['port']}"


def _fqdn(*labels: str) -> str:
    return ".".join([*labels, CLUSTER_DOMAIN]) + "."


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- #
# DNS
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str
    ttl: int
    data: str  # A: ip; CNAME: target with trailing dot; SRV: "prio weight port target."


@dataclass(frozen=True)
class DnsAnswer:
    rcode: str  # "NOERROR" | "NXDOMAIN"
    answers: list[DnsRecord]
    fqdn: str  # the fully-qualified name that answered (or the last one tried)
    tried: list[str]  # names tried in order (search path expansion), trailing dot


def resolv_conf(namespace: str, nameserver: str = "10.96.0.10") -> str:
    """A ClusterFirst Pod's /etc/resolv.conf (R33), in containerd's line order."""
    search = f"{namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}"
    return f"search {search}\nnameserver {nameserver}\noptions ndots:{NDOTS}\n"


def _search_names(name: str, namespace: str) -> list[str]:
    """R33: glibc search-list expansion with ndots:5; a trailing dot is absolute."""
    if name.endswith("."):
        return [name]
    suffixes = [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]
    expanded = [f"{name}.{s}." for s in suffixes]
    as_is = [name + "."]
    return as_is + expanded if name.count(".") >= NDOTS else expanded + as_is


def resolve(snap: Snapshot, name: str, namespace: str = "default", qtype: str = "A") -> DnsAnswer:
    """What a Pod in ``namespace`` gets for ``name`` (R33-R40).

    The first name in the search walk that has answer records wins. If none
    does, the rcode is NOERROR when some name existed without records of that
    type (NODATA), else NXDOMAIN.
    """
    tried: list[str] = []
    nodata = False
    for candidate in _search_names(name.strip(), namespace):
        tried.append(candidate)
        rcode, records = _query(snap, candidate, qtype.upper(), 0)
        if records:
            return DnsAnswer("NOERROR", records, candidate, tried)
        nodata = nodata or rcode == "NOERROR"
    return DnsAnswer("NOERROR" if nodata else "NXDOMAIN", [], tried[-1] if tried else name, tried)


@dataclass(frozen=True)
class _Request:
    """parse.go: recordRequest. Empty strings mean "not given"."""

    pod_or_svc: str
    namespace: str = ""
    service: str = ""
    endpoint: str = ""
    port: str = ""
    protocol: str = ""


class _Invalid(Exception):
    """parse.go: errInvalidRequest -> NXDOMAIN."""


def _parse(base: str) -> _Request | None:
    """CoreDNS parseRequest over the labels left of the zone. None means apex NODATA."""
    if base in ("", "svc", "pod"):
        return None
    segs = base.split(".")
    kind = segs.pop()
    if kind not in ("svc", "pod"):
        raise _Invalid(base)
    ns = segs.pop() if segs else ""
    svc = segs.pop() if segs else ""
    if len(segs) == 0:
        return _Request(kind, ns, svc)
    if len(segs) == 1:  # <endpoint>.<svc>.<ns>.svc
        return _Request(kind, ns, svc, endpoint=segs[0])
    if len(segs) == 2:  # _<port>._<proto>.<svc>.<ns>.svc
        return _Request(kind, ns, svc, port=segs[0].removeprefix("_"),
                        protocol=segs[1].removeprefix("_"))
    raise _Invalid(base)  # too many labels (R39)


def _query(snap: Snapshot, qname: str, qtype: str, depth: int) -> tuple[str, list[DnsRecord]]:
    """One question to the cluster DNS server: (rcode, answer records)."""
    bare = qname.rstrip(".").lower()
    zone = CLUSTER_DOMAIN.lower()
    if bare != zone and not bare.endswith("." + zone):
        return "NXDOMAIN", []  # outside the cluster zone; no internet here
    try:
        req = _parse(bare[: -len(zone)].rstrip("."))
    except _Invalid:
        return "NXDOMAIN", []
    if req is None or not req.namespace:
        return "NOERROR", []
    if not snap.namespace_exists(req.namespace):
        return "NXDOMAIN", []  # kubernetes.go: Records -> errNsNotExposed
    if not req.service:
        return "NOERROR", []  # "<ns>.svc.cluster.local": NODATA
    if req.pod_or_svc == "pod":
        return _pod_answer(req, qname, qtype)
    return _service_answer(snap, req, qname, qtype, depth)


def _pod_answer(req: _Request, qname: str, qtype: str) -> tuple[str, list[DnsRecord]]:
    """R40, ``pods insecure``: any well-formed dashed IP answers in an existing namespace."""
    label = req.service
    if label.count("-") == 3 and "--" not in label:
        text = label.replace("-", ".")
        if not _is_ipv4(text):
            return "NXDOMAIN", []
        return "NOERROR", [DnsRecord(qname, "A", DNS_TTL, text)] if qtype == "A" else []
    try:
        ipaddress.IPv6Address(label.replace("-", ":"))
    except ValueError:
        return "NXDOMAIN", []
    return "NOERROR", []  # an IPv6 pod name: no A record (single-stack IPv4 here)


@dataclass(frozen=True)
class _Hit:
    """One msg.Service from findServices: an address (or CNAME host) and a port."""

    host: str
    port: int
    target: str  # SRV target / owner name, trailing dot


def _service_answer(snap: Snapshot, req: _Request, qname: str, qtype: str,
                    depth: int) -> tuple[str, list[DnsRecord]]:
    svc = snap.service(req.namespace, req.service)
    if svc is None:
        return "NXDOMAIN", []  # R39: unknown Service in an existing namespace
    if _svc_type(svc) == "ExternalName":
        return _external_name_answer(snap, svc, req, qname, qtype, depth)
    hits = _endpoint_hits(snap, svc, req) if _is_headless(svc) or req.endpoint else _cluster_ip_hits(svc, req)
    if not hits:
        return "NXDOMAIN", []  # R35/R37/R39
    return "NOERROR", _render(hits, qname, qtype)


def _cluster_ip_hits(svc: Obj, req: _Request) -> list[_Hit]:
    """R34/R37: one hit per (matching Service port, cluster IP); port = Service port."""
    target = _fqdn(_name(svc), _ns(svc), "svc")
    return [_Hit(ip, int(sp["port"]), target)
            for sp in _svc_ports(svc) if _port_matches(req, sp["name"], sp["protocol"])
            for ip in _cluster_ips(svc)]


def _port_matches(req: _Request, name: str, protocol: str) -> bool:
    """kubernetes.go: matchPortAndProtocol (an empty request part is a wildcard)."""
    return ((not req.port or req.port.lower() == name.lower())
            and (not req.protocol or req.protocol.lower() == protocol.lower()))


def _endpoint_hostname(ep: Obj, address: str) -> str:
    """kubernetes.go: endpointHostname -> ``hostname`` or the dashed IP (R36)."""
    return str(ep.get("hostname") or address.replace(".", "-").replace(":", "-"))


def _endpoint_hits(snap: Snapshot, svc: Obj, req: _Request) -> list[_Hit]:
    """R35-R37: ready (or nil) endpoints; port = the EndpointSlice port (targetPort)."""
    hits: list[_Hit] = []
    for sl in snap.slices_for(svc):
        ports = [(p.get("name") or "", p.get("protocol") or "TCP", p.get("port"))
                 for p in sl.get("ports") or []] or [("", "", -1)]  # CoreDNS sentinel port
        for ep in sl.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue  # object/endpoint.go: endpointsliceReady
            for addr in ep.get("addresses") or []:
                host = _endpoint_hostname(ep, addr)
                if req.endpoint and req.endpoint.lower() != host.lower():
                    continue
                target = _fqdn(host, _name(svc), _ns(svc), "svc")
                hits += [_Hit(addr, int(num) if num is not None else -1, target)
                         for name, proto, num in ports if _port_matches(req, name, proto)]
    return hits


def _external_name_answer(snap: Snapshot, svc: Obj, req: _Request, qname: str, qtype: str,
                          depth: int) -> tuple[str, list[DnsRecord]]:
    """R38: CNAME to ``externalName``; IPv4-like names and endpoint queries are NXDOMAIN."""
    host = str(_spec(svc).get("externalName") or "").rstrip(".")
    if req.endpoint or not host or _is_ipv4(host):
        return "NXDOMAIN", []
    records = [DnsRecord(qname, "CNAME", DNS_TTL, host + ".")]
    if qtype != "CNAME" and depth < _MAX_CNAME_DEPTH:
        records += _query(snap, host + ".", qtype, depth + 1)[1]  # in-cluster targets only
    return "NOERROR", records


def _render(hits: list[_Hit], qname: str, qtype: str) -> list[DnsRecord]:
    """backend_lookup.go: A (deduplicated) or SRV records; other types get NODATA."""
    if qtype == "A":
        ips = dict.fromkeys(h.host for h in hits if _is_ipv4(h.host))
        return [DnsRecord(qname, "A", DNS_TTL, ip) for ip in ips]
    if qtype == "SRV":
        unique = list(dict.fromkeys((h.port, h.target) for h in hits if h.port >= 0))
        weight = 100 // len(unique) if unique else 0  # priorities/weights: not compared (R37)
        return [DnsRecord(qname, "SRV", DNS_TTL, f"0 {weight} {port} {target}")
                for port, target in unique]
    return []


# --------------------------------------------------------------------------- #
# kube-proxy data plane
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class Route:
    action: str  # "forward" | "reject" | "drop"
    endpoint: Endpoint | None  # (pod_name, pod_ip, port) when forward
    reason: str  # one readable sentence for a learner: what kube-proxy does, and why
    service: str | None = None  # "ns/name" when the destination was a Service
    candidates: tuple[Endpoint, ...] = ()  # all usable endpoints considered
    rule: str = ""  # the rule id(s) of docs/rules.md behind the decision, for tests and developers

    @property
    def error(self) -> str | None:
        """None when forwarded; "dns" | "refused" (reject) | "timeout" (drop)."""
        if self.action == "forward":
            return None
        if self.reason.startswith("DNS:"):
            return "dns"
        return "refused" if self.action == "reject" else "timeout"


class Affinity:
    """ClientIP session-affinity memory (R47), like iptables' ``recent`` lists.

    Keyed by (node handling the packet, service port, client IP). A remembered
    endpoint is reused while it is usable and was last used no more than
    ``timeoutSeconds`` ago (``--rcheck --seconds N``); each use refreshes it
    (the endpoint chain's ``--set``).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last: dict[tuple[str, str, str], tuple[Endpoint, float]] = {}

    def recall(self, key: tuple[str, str, str], timeout: float,
               usable: Sequence[Endpoint]) -> Endpoint | None:
        entry = self._last.get(key)
        if entry is None:
            return None
        endpoint, stamp = entry
        if self._clock() - stamp > timeout:
            del self._last[key]  # --reap
            return None
        return endpoint if endpoint in usable else None

    def remember(self, key: tuple[str, str, str], endpoint: Endpoint) -> None:
        self._last[key] = (endpoint, self._clock())


@dataclass(frozen=True)
class _Ep:
    """endpointslicecache.go: endpointInfo, with R42's nil-condition defaults."""

    pod: str
    ip: str
    port: int
    node: str
    ready: bool
    serving: bool
    terminating: bool

    def as_tuple(self) -> Endpoint:
        return (self.pod, self.ip, self.port)


@dataclass(frozen=True)
class _Ctx:
    snap: Snapshot
    source_node: str | None
    source_ip: str | None
    pick: Callable[[Sequence[Any]], Any]
    affinity: Affinity | None
    protocol: str = "TCP"  # a Service port matches on number and protocol (kube-proxy's rules do, R101)


def _slice_port(sl: Obj, sp: Obj) -> int | None:
    """R42: the slice's port number for the Service port's name and protocol."""
    for p in sl.get("ports") or []:
        if ((p.get("name") or "") == sp["name"] and (p.get("protocol") or "TCP") == sp["protocol"]
                and p.get("port") is not None):
            return int(p["port"])
    return None


def _to_ep(snap: Snapshot, ep: Obj, port: int) -> _Ep | None:
    addrs = ep.get("addresses") or []
    if not addrs:
        return None
    cond = ep.get("conditions") or {}
    ref = ep.get("targetRef") or {}
    pod = ref.get("name") if ref.get("kind", "Pod") == "Pod" else None
    if not pod:
        owner = snap.pod_by_ip(addrs[0])
        pod = _name(owner) if owner else ""
    return _Ep(str(pod), str(addrs[0]), port, str(ep.get("nodeName") or ""),
               ready=cond.get("ready") is not False, serving=cond.get("serving") is not False,
               terminating=cond.get("terminating") is True)


def _service_port_endpoints(snap: Snapshot, svc: Obj, sp: Obj) -> list[_Ep]:
    """R42: endpoints for one Service port, from every slice carrying its port name."""
    seen: dict[tuple[str, int], _Ep] = {}
    for sl in snap.slices_for(svc):
        port = _slice_port(sl, sp)
        if port is None:
            continue  # slice lacks this port name: contributes nothing (R23, R42)
        for raw in sl.get("endpoints") or []:
            ep = _to_ep(snap, raw, port)
            if ep is not None:
                seen.setdefault((ep.ip, ep.port), ep)
    return sorted(seen.values(), key=lambda e: (ipaddress.ip_address(e.ip), e.port))


def _usable(eps: Iterable[_Ep]) -> list[_Ep]:
    """R43 (topology.go): ready endpoints, else serving+terminating ones."""
    eps = list(eps)
    ready = [e for e in eps if e.ready]
    return ready or [e for e in eps if e.serving and e.terminating]


def _local(eps: Sequence[_Ep], node: str | None) -> list[_Ep]:
    """R45: the Local policy set for ``node``, with its own terminating fallback."""
    return _usable(e for e in eps if node and e.node == node)


def _choose(ctx: _Ctx, svc: Obj, sp: Obj, usable: list[_Ep], node: str | None,
            via: str) -> Route:
    """R46/R47: DNAT to a random usable endpoint, or the client's sticky one."""
    cands = tuple(e.as_tuple() for e in usable)
    spec = _spec(svc)
    aff = ctx.affinity if spec.get("sessionAffinity") == "ClientIP" and ctx.source_ip else None
    key = (node or "", _port_label(svc, sp), ctx.source_ip or "")
    chosen: Endpoint | None = None
    if aff is not None:
        timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get(
            "timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT
        chosen = aff.recall(key, float(timeout), cands)
    rule, how = ("R47", "ClientIP affinity") if chosen else ("R46", "random pick")
    if chosen is None:
        picked = ctx.pick(cands)
        chosen = (str(picked[0]), str(picked[1]), int(picked[2]))
    if aff is not None:
        aff.remember(key, chosen)
    reason = (f"{via} {_port_label(svc, sp)} DNATed to {chosen[1]}:{chosen[2]} "
              f"(pod {chosen[0]}; {how} among {len(cands)} usable endpoint(s))")
    return Route("forward", chosen, reason, _svc_key(svc), cands, rule)


def _no_endpoints(svc: Obj, sp: Obj, via: str) -> Route:
    reason = (f"no ready or serving-terminating endpoints for {_port_label(svc, sp)} "
              f"(kube-proxy REJECTs {via} traffic: connection refused)")
    return Route("reject", None, reason, _svc_key(svc), rule="R44")


def _route_cluster_ip(ctx: _Ctx, svc: Obj, ip: str, port: int) -> Route:
    """R41-R47, R49 for ``clusterIP:port``."""
    sp = next((p for p in _svc_ports(svc) if int(p["port"]) == port and p["protocol"] == ctx.protocol), None)
    if sp is None:
        return Route("reject", None,
                     f"{_svc_key(svc)} defines no port {port} on ClusterIP {ip} "
                     "(kube-proxy in nftables mode rejects it; in iptables mode the connection would "
                     "time out instead)", _svc_key(svc), rule="R49")
    eps = _service_port_endpoints(ctx.snap, svc, sp)
    if not _usable(eps):
        return _no_endpoints(svc, sp, "ClusterIP")
    if _spec(svc).get("internalTrafficPolicy") == "Local":
        local = _local(eps, ctx.source_node)
        if not local:
            return Route("drop", None,
                         f"{_port_label(svc, sp)} has no local endpoints on node "
                         f"{ctx.source_node or '(none)'} (internalTrafficPolicy Local: "
                         "kube-proxy DROPs)", _svc_key(svc),
                         tuple(e.as_tuple() for e in _usable(eps)), "R45")
        return _choose(ctx, svc, sp, local, ctx.source_node, "ClusterIP (internalTrafficPolicy Local)")
    return _choose(ctx, svc, sp, _usable(eps), ctx.source_node, "ClusterIP")


def _external_usable(ctx: _Ctx, svc: Obj, eps: list[_Ep], node: str | None) -> tuple[list[_Ep], str]:
    """R45/R48: endpoints for external traffic handled by ``node`` (None = an LB)."""
    if _spec(svc).get("externalTrafficPolicy") != "Local":
        return _usable(eps), "externalTrafficPolicy Cluster"
    if ctx.source_node is not None:
        # proxier.go EXT chain: "pod traffic for <svc> external destinations" goes to
        # the Cluster-policy endpoints (kind's detect-local-mode is ClusterCIDR).
        return _usable(eps), "pod-originated traffic short-circuits externalTrafficPolicy Local"
    if node is None:  # an LB only sends to nodes whose health check reports local endpoints
        nodes = sorted({e.node for e in eps if e.node})
        return [e for n in nodes for e in _local(eps, n)], "externalTrafficPolicy Local via LB"
    return _local(eps, node), f"externalTrafficPolicy Local on node {node}"


def _route_external(ctx: _Ctx, svc: Obj, sp: Obj, node: str | None, via: str) -> Route:
    eps = _service_port_endpoints(ctx.snap, svc, sp)
    if not _usable(eps):
        return _no_endpoints(svc, sp, via)
    usable, why = _external_usable(ctx, svc, eps, node)
    if not usable:
        return Route("drop", None,
                     f"{_port_label(svc, sp)} has no local endpoints for {via} traffic "
                     f"({why}: kube-proxy DROPs)", _svc_key(svc),
                     tuple(e.as_tuple() for e in _usable(eps)), "R45")
    return _choose(ctx, svc, sp, usable, node, f"{via} ({why})")


def _route_node_port(ctx: _Ctx, node: Obj, ip: str, port: int) -> Route:
    """R48: ``nodeIP:nodePort`` (NodePort and LoadBalancer Services)."""
    for svc in ctx.snap.services:
        if _svc_type(svc) not in ("NodePort", "LoadBalancer"):
            continue
        sp = next((p for p in _svc_ports(svc)
                   if p.get("nodePort") == port and p["protocol"] == ctx.protocol), None)
        if sp is not None:
            return _route_external(ctx, svc, sp, _name(node), f"NodePort {ip}:{port}")
    return Route("reject", None,
                 f"nothing listens on node {_name(node)} ({ip}) port {port}: no Service uses "
                 "that nodePort, so the node's kernel answers with a TCP RST", rule="R48")


def _route_external_ip(ctx: _Ctx, svc: Obj, ip: str, port: int) -> Route:
    """R51: LoadBalancer ingress IPs and spec.externalIPs, as external traffic."""
    sp = next((p for p in _svc_ports(svc) if int(p["port"]) == port and p["protocol"] == ctx.protocol), None)
    if sp is None:
        return Route("drop", None,
                     f"{_svc_key(svc)} exposes no port {port} on external IP {ip}; no rule "
                     "matches and nothing answers", _svc_key(svc), rule="R51")
    return _route_external(ctx, svc, sp, None, f"external IP {ip}:{port}")


def _route_pod_ip(ctx: _Ctx, ip: str, port: int) -> Route:
    """Direct Pod traffic: no translation (R41); listening is checked later (R50)."""
    pod = ctx.snap.pod_by_ip(ip)
    if pod is None:
        return Route("drop", None,
                     f"no Pod, Service or Node has IP {ip}: packets go nowhere (timeout)")
    phase = _status(pod).get("phase") or "Unknown"
    if phase != "Running":
        return Route("drop", None,
                     f"Pod {_ns(pod)}/{_name(pod)} at {ip} is {phase}, not Running: nothing answers")
    ep = (_name(pod), ip, port)
    return Route("forward", ep, f"direct to Pod {_ns(pod)}/{_name(pod)} at {ip}:{port} "
                 "(no kube-proxy translation)", None, (ep,), "R41")


def _route_ip(ctx: _Ctx, ip: str, port: int) -> Route:
    svc = ctx.snap.service_by_cluster_ip(ip)
    if svc is not None:
        if _outside(ctx):
            # A ClusterIP is a virtual address that only kube-proxy's rules on the cluster's nodes know;
            # from outside the cluster nothing routes to it (a NodePort or LoadBalancer is the way in).
            return Route("drop", None, f"ClusterIP {ip} of {svc['metadata']['namespace']}/"
                         f"{svc['metadata']['name']} is only reachable from inside the cluster: a client "
                         f"outside has no route to it (use a NodePort or LoadBalancer)",
                         service=f"{svc['metadata']['namespace']}/{svc['metadata']['name']}")
        return _route_cluster_ip(ctx, svc, ip, port)
    node = ctx.snap.node_by_ip(ip)
    if node is not None:
        return _route_node_port(ctx, node, ip, port)
    svc = ctx.snap.service_by_external_ip(ip)
    if svc is not None:
        return _route_external_ip(ctx, svc, ip, port)
    return _route_pod_ip(ctx, ip, port)


def _outside(ctx: _Ctx) -> bool:
    """A client outside the cluster: no node, and a source address outside the Pod and node ranges
    (e.g. 203.0.113.50, a documentation range). With neither given, the caller means a client in the cluster."""
    if ctx.source_node is not None or not ctx.source_ip:
        return False
    try:
        addr = ipaddress.ip_address(ctx.source_ip)
    except ValueError:
        return False
    if addr in ipaddress.ip_network("10.244.0.0/16"):
        return False
    return ctx.snap.node_by_ip(ctx.source_ip) is None


def _split_dest(dest: str) -> tuple[str, int]:
    """``host:port`` -> (host, port); a bare host means port 80."""
    host, sep, port = dest.strip().rpartition(":")
    if not sep:
        return dest.strip(), 80
    return host, int(port)


def _answered_service(snap: Snapshot, fqdn: str) -> Obj | None:
    """The Service whose own name ``<svc>.<ns>.svc.<zone>.`` answered, if any."""
    labels = fqdn.rstrip(".").split(".")
    zone_len = len(CLUSTER_DOMAIN.split("."))
    if len(labels) != 3 + zone_len or labels[2].lower() != "svc":
        return None
    return snap.service(labels[1], labels[0])


def _route_name(ctx: _Ctx, host: str, port: int, namespace: str) -> Route:
    """Resolve ``host`` like the Pod's resolver, then route the address (R33, R41)."""
    ans = resolve(ctx.snap, host, namespace, "A")
    ips = [r.data for r in ans.answers if r.type == "A"]
    if not ips:
        what = "NXDOMAIN" if ans.rcode == "NXDOMAIN" else "no address records"
        cname = next((r.data for r in ans.answers if r.type == "CNAME"), None)
        extra = f"; CNAME {cname} cannot be resolved (no internet here)" if cname else ""
        return Route("drop", None,
                     f"DNS: could not resolve {host!r} from namespace {namespace}: {what} "
                     f"(tried {', '.join(ans.tried)}){extra}")
    svc = _answered_service(ctx.snap, ans.fqdn)
    if svc is not None and _is_headless(svc):
        chosen = ctx.pick(ips)
        direct = _route_pod_ip(ctx, chosen, port)
        cands = tuple((_name(p) if (p := ctx.snap.pod_by_ip(i)) else "", i, port) for i in ips)
        reason = (f"headless Service {_svc_key(svc)} resolved to Pod IPs; dialled {chosen}:{port} "
                  f"directly with no port translation: {direct.reason}")
        return Route(direct.action, direct.endpoint, reason, _svc_key(svc), cands,
                     ",".join(x for x in ("R41", direct.rule) if x))
    return _route_ip(ctx, ips[0], port)


def route(snap: Snapshot, dest: str, namespace: str = "default", source_node: str | None = None,
          source_ip: str | None = None, pick: Callable[[Sequence[Any]], Any] = random.choice,
          affinity: Affinity | None = None, protocol: str = "TCP") -> Route:
    """Decide what happens to a new TCP connection (or, with ``protocol="UDP"``, a UDP flow) to ``dest``
    (R41-R51, R101).

    ``dest`` is ``ip:port`` (ClusterIP, node IP + nodePort, LB/external IP, Pod
    IP) or ``name:port`` resolved from ``namespace`` with :func:`resolve`.
    ``source_node`` is the client Pod's node (None: a client outside the cluster).
    """
    ctx = _Ctx(snap, source_node, source_ip, pick, affinity, protocol)
    host, port = _split_dest(dest)
    if _is_ipv4(host):
        return _route_ip(ctx, host, port)
    return _route_name(ctx, host, port, namespace)
