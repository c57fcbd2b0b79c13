"""The ``ip kube-proxy`` table kube-proxy's nftables mode programs, as ``nft list table`` prints it.

Facts carried over (never code) from kubernetes/kubernetes
``pkg/proxy/nftables/proxier.go``:

* the table ``ip kube-proxy`` ("rules for kube-proxy"); base chains ``filter-prerouting``,
  ``filter-input``, ``filter-forward``, ``filter-output`` at priority dstnat-10,
  ``filter-output-post-dnat`` at dstnat+10, ``nat-prerouting``/``nat-output`` at dstnat,
  ``nat-postrouting`` at srcnat (``nftablesBaseChains``), and the jumps from them
  (``nftablesJumpChains``: ``ct state new`` into the endpoint, firewall and ClusterIP checks);
* ``setupNFTables``: ``mark-for-masquerade`` (``mark set mark or <bit>``), ``masquerading``
  (return unless marked, clear the mark, ``masquerade fully-random``), the ``cluster-ips``
  set and ``cluster-ips-check`` (reject undefined ports of a ClusterIP, drop unallocated
  Service IPs), ``nodeport-ips``, the ``no-endpoint-services`` / ``no-endpoint-nodeports``
  verdict maps with ``reject-chain``, ``firewall-ips``, and the ``service-ips`` /
  ``service-nodeports`` dispatch maps;
* ``syncProxyRules``: per Service port, map elements ``ip . proto . port : goto service-…``
  (or ``goto reject-chain`` / ``drop`` in ``no-endpoint-services``), the masquerade rule for
  traffic from outside the Pod range, ``external-…`` chains for nodePort / external / LB
  traffic (short-circuit for Pods and the node itself under externalTrafficPolicy Local),
  ``numgen random mod N vmap { 0 : goto endpoint-…, … }``, affinity sets and rules, and
  endpoint chains (hairpin masquerade, ``update @affinity-…``, ``dnat to ip:port``);
* names: ``hashAndTruncate`` (8 characters of base32(sha256(name)), then ``-name``) over
  ``ns/svc/proto/portname`` and ``ns/svc/proto/portname__ip/port``, with the prefixes
  ``service-``, ``local-``, ``external-``, ``endpoint-``, ``affinity-``, ``firewall-``.

kube-proxy in nftables mode defaults ``nodePortAddresses`` to the node's primary IPs
(``cmd/kube-proxy/app/server_linux.go: platformApplyDefaults``), so NodePorts are dispatched
through ``ip daddr @nodeport-ips``.
"""

from __future__ import annotations

import dataclasses

from kai_labs.k8s.netlogic import Snapshot

from .model import Endpoint, Options, ServicePort, b32_sha256, default_node, node_ips, service_ports
from .ruleset import SRC_LOCAL, SRC_NOT_POD, SRC_POD, Line, Ruleset

T1, T2, T3 = "\t", "\t\t", "\t\t\t"
_NAME_MAX = 256 - 16  # knftables.NameLengthMax - chainNamePrefixLengthMax


def hash_and_truncate(name: str) -> str:
    """proxier.go hashAndTruncate: ``HASH8-name``, cut to 240 characters with ``...``."""
    out = b32_sha256(name)[:8] + "-" + name
    return out[: _NAME_MAX - 3] + "..." if len(out) > _NAME_MAX else out


def chain_base(sp: ServicePort) -> str:
    """servicePortChainNameBase: ``HASH-ns/svc/proto/portname``."""
    return hash_and_truncate(f"{sp.namespace}/{sp.name}/{sp.protocol}/{sp.port_name}")


def endpoint_base(sp: ServicePort, ep: Endpoint) -> str:
    """servicePortEndpointChainNameBase: ``HASH-ns/svc/proto/portname__ip/port``."""
    return hash_and_truncate(f"{sp.namespace}/{sp.name}/{sp.protocol}/{sp.port_name}__"
                             f"{ep.ip.replace(':', '.')}/{ep.port}")


def service_chain(sp: ServicePort) -> str:
    return "service-" + chain_base(sp)


def local_chain(sp: ServicePort) -> str:
    return "local-" + chain_base(sp)


def external_chain(sp: ServicePort) -> str:
    return "external-" + chain_base(sp)


def endpoint_chain(sp: ServicePort, ep: Endpoint) -> str:
    return "endpoint-" + endpoint_base(sp, ep)


def affinity_set(sp: ServicePort, ep: Endpoint) -> str:
    return "affinity-" + endpoint_base(sp, ep)


# (name, type, hook, priority). nft names a priority (dstnat = -100, srcnat = 100) only on the
# hooks where the name is defined (prerouting, postrouting); elsewhere it takes and prints the number.
_BASE = (
    ("filter-prerouting", "filter", "prerouting", "dstnat - 10"),
    ("filter-input", "filter", "input", "-110"),
    ("filter-forward", "filter", "forward", "-110"),
    ("filter-output", "filter", "output", "-110"),
    ("filter-output-post-dnat", "filter", "output", "-90"),
    ("nat-prerouting", "nat", "prerouting", "dstnat"),
    ("nat-output", "nat", "output", "-100"),
    ("nat-postrouting", "nat", "postrouting", "srcnat"),
)
_JUMPS = (  # (from, extra, to)
    ("filter-input", "ct state new", "nodeport-endpoints-check"),
    ("filter-input", "ct state new", "service-endpoints-check"),
    ("filter-forward", "ct state new", "service-endpoints-check"),
    ("filter-output", "ct state new", "service-endpoints-check"),
    ("filter-prerouting", "ct state new", "firewall-check"),
    ("filter-output", "ct state new", "firewall-check"),
    ("nat-output", "", "services"),
    ("nat-prerouting", "", "services"),
    ("nat-postrouting", "", "masquerading"),
    ("filter-forward", "ct state new", "cluster-ips-check"),
    ("filter-output-post-dnat", "ct state new", "cluster-ips-check"),
)


class _Out:
    def __init__(self) -> None:
        self.lines: list[Line] = []

    def text(self, text: str) -> None:
        self.lines.append(Line(text))

    def rule(self, chain: str, text: str, **kw: object) -> None:
        self.lines.append(Line(T2 + text, chain=chain, rule=True, **kw))  # type: ignore[arg-type]


def render(snap: Snapshot, options: Options | None = None, service: str | None = None) -> Ruleset:
    """The ``ip kube-proxy`` table for ``snap`` on one node; ``service`` ("ns/name") keeps that
    Service's elements and chains only (the table's fixed frame stays, so it still loads)."""
    options = options or Options()
    node = default_node(snap, options)
    every = service_ports(snap, options)
    ports = [p for p in every if service is None or p.service == service]
    mark = f"{options.mark:#08x}"
    out = _Out()
    o = out
    o.text("table ip kube-proxy {")
    o.text(T1 + 'comment "rules for kube-proxy"')

    # ---- sets and maps ----
    _set(o, "cluster-ips", "ipv4_addr", "Active ClusterIPs",
         [(ip, Line(T3 + ip, chain="@cluster-ips", service=svc))
          for ip, svc in dict.fromkeys((p.cluster_ip, p.service) for p in ports)])
    nips = node_ips(snap, node)
    _set(o, "nodeport-ips", "ipv4_addr", "IPs that accept NodePort traffic",
         [(ip, Line(T3 + ip, chain="@nodeport-ips")) for ip in nips])
    svc_ips: list[tuple[str, Line]] = []
    no_ep: list[tuple[str, Line]] = []
    svc_np: list[tuple[str, Line]] = []
    no_ep_np: list[tuple[str, Line]] = []
    for p in ports:
        _elements(p, svc_ips, no_ep, svc_np, no_ep_np)
    _map(o, "no-endpoint-services", "ipv4_addr . inet_proto . inet_service : verdict",
         "vmap to drop or reject packets to services with no endpoints", no_ep)
    _map(o, "no-endpoint-nodeports", "inet_proto . inet_service : verdict",
         "vmap to drop or reject packets to service nodeports with no endpoints", no_ep_np)
    _map(o, "firewall-ips", "ipv4_addr . inet_proto . inet_service : verdict",
         "destinations that are subject to LoadBalancerSourceRanges", [])
    _map(o, "service-ips", "ipv4_addr . inet_proto . inet_service : verdict",
         "ClusterIP, ExternalIP and LoadBalancer IP traffic", svc_ips)
    _map(o, "service-nodeports", "inet_proto . inet_service : verdict", "NodePort traffic", svc_np)
    for p in ports:
        if p.affinity_seconds is not None:
            for ep in p.reachable_endpoints:
                o.text(T1 + f"set {affinity_set(p, ep)} {{")
                o.text(T2 + "type ipv4_addr")
                o.text(T2 + "flags dynamic,timeout")
                o.text(T2 + f"timeout {p.affinity_seconds}s")
                o.text(T1 + "}")

    # ---- base chains and the fixed chains ----
    for name, typ, hook, prio in _BASE:
        o.text(T1 + f"chain {name} {{")
        o.text(T2 + f"type {typ} hook {hook} priority {prio}; policy accept;")
        for src, extra, dst in _JUMPS:
            if src == name:
                o.rule(name, f"{extra} jump {dst}".strip(), jumps=(dst,))
        o.text(T1 + "}")
    all_ips = frozenset(p.cluster_ip for p in every)
    fixed: list[tuple[str, str | None, list[tuple[str, dict[str, object]]]]] = [
        ("cluster-ips-check", None, [
            ('ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"',
             {"dst": all_ips, "final": True}),
            *[(f'ip daddr {{ {", ".join(options.service_cidrs)} }} drop comment '
               '"Drop traffic to unallocated ClusterIPs"', {"final": True, "dst": frozenset()})],
        ]),
        ("firewall-check", None, [
            ("ip daddr . meta l4proto . th dport vmap @firewall-ips", {"jumps": ("@firewall-ips",)})]),
        ("mark-for-masquerade", None, [(f"mark set mark or {mark}", {})]),
        ("masquerading", None, [
            (f"mark and {mark} == 0 return", {}),
            (f"mark set mark xor {mark}", {}),
            ("masquerade fully-random", {}),
        ]),
        ("nodeport-endpoints-check", None, [
            ("ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
             {"dst": frozenset(nips), "jumps": ("@no-endpoint-nodeports",)})]),
        ("reject-chain", "helper for @no-endpoint-services / @no-endpoint-nodeports",
         [("reject", {"final": True})]),
        ("service-endpoints-check", None, [
            ("ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
             {"jumps": ("@no-endpoint-services",)})]),
        ("services", None, [
            ("ip daddr . meta l4proto . th dport vmap @service-ips", {"jumps": ("@service-ips",)}),
            ("ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
             {"dst": frozenset(nips), "jumps": ("@service-nodeports",)}),
        ]),
    ]
    for name, comment, rules in fixed:
        o.text(T1 + f"chain {name} {{")
        if comment:
            o.text(T2 + f'comment "{comment}"')
        for text, kw in rules:
            o.rule(name, text, **kw)
        o.text(T1 + "}")

    # ---- per Service port chains ----
    for p in ports:
        _service_chains(o, p, options)
    o.text("}")
    node_chains = ("filter-output", "nat-output", "filter-output-post-dnat")
    return Ruleset(
        "nftables", out.lines,
        hooks_pod=tuple((c, False) for c in ("filter-prerouting", "nat-prerouting", "filter-forward")),
        hooks_node=tuple((c, False) for c in node_chains),
        dnat_chains=frozenset(),
    )


def _set(o: _Out, name: str, typ: str, comment: str, elems: list[tuple[str, Line]]) -> None:
    o.text(T1 + f"set {name} {{")
    o.text(T2 + f"type {typ}")
    o.text(T2 + f'comment "{comment}"')
    _elems(o, elems)
    o.text(T1 + "}")


def _map(o: _Out, name: str, typ: str, comment: str, elems: list[tuple[str, Line]]) -> None:
    o.text(T1 + f"map {name} {{")
    o.text(T2 + f"type {typ}")
    o.text(T2 + f'comment "{comment}"')
    _elems(o, elems)
    o.text(T1 + "}")


def _elems(o: _Out, elems: list[tuple[str, Line]]) -> None:
    """``elements = { a,`` / ``b }``: one element per line, as ``nft list`` prints them."""
    if not elems:
        return
    o.text(T2 + "elements = {")
    for i, (_, line) in enumerate(elems):
        sep = "," if i < len(elems) - 1 else ""
        o.lines.append(dataclasses.replace(line, text=line.text + sep, rule=True))
    o.text(T2 + "}")


def _elem(chain: str, p: ServicePort, key: str, verdict: str, *, ip: str | None, port: int,
          comment: bool) -> tuple[str, Line]:
    target = verdict.split()[-1] if verdict.startswith("goto ") else ""
    c = f' comment "{p.key}"' if comment else ""
    return key, Line(T3 + f"{key}{c} : {verdict}", chain=chain, service=p.service,
                     dst=frozenset([ip]) if ip else None, dport=port, proto=p.protocol,
                     jumps=(target,) if target else (), final=True)


def _elements(p: ServicePort, svc_ips: list[tuple[str, Line]], no_ep: list[tuple[str, Line]],
              svc_np: list[tuple[str, Line]], no_ep_np: list[tuple[str, Line]]) -> None:
    """syncProxyRules' map elements for one Service port."""
    has_internal = p.has_endpoints and (not p.internal_local or bool(p.local_endpoints))
    has_external = p.has_endpoints and (not p.external_local or bool(p.local_endpoints))
    internal_verdict = "goto reject-chain" if not p.has_endpoints else "drop"
    external_verdict = internal_verdict
    key = f"{p.cluster_ip} . {p.protocol} . {p.port}"
    internal_chain = local_chain(p) if p.internal_local else service_chain(p)
    if has_internal:
        svc_ips.append(_elem("@service-ips", p, key, f"goto {internal_chain}", ip=p.cluster_ip, port=p.port,
                             comment=False))
    else:
        no_ep.append(_elem("@no-endpoint-services", p, key, internal_verdict, ip=p.cluster_ip, port=p.port,
                           comment=True))
    for ip in (*p.external_ips, *p.lb_ips):
        k = f"{ip} . {p.protocol} . {p.port}"
        if p.has_endpoints:
            svc_ips.append(_elem("@service-ips", p, k, f"goto {external_chain(p)}", ip=ip, port=p.port,
                                 comment=False))
        if not has_external:
            no_ep.append(_elem("@no-endpoint-services", p, k, external_verdict, ip=ip, port=p.port, comment=True))
    if p.node_port:
        k = f"{p.protocol} . {p.node_port}"
        if p.has_endpoints:
            svc_np.append(_elem("@service-nodeports", p, k, f"goto {external_chain(p)}", ip=None,
                                port=p.node_port, comment=False))
        if not has_external:
            no_ep_np.append(_elem("@no-endpoint-nodeports", p, k, external_verdict, ip=None,
                                  port=p.node_port, comment=True))


def _service_chains(o: _Out, p: ServicePort, options: Options) -> None:
    svc = p.service
    has_internal = p.has_endpoints and (not p.internal_local or bool(p.local_endpoints))
    has_external = p.has_endpoints and (not p.external_local or bool(p.local_endpoints))
    uses_cluster = bool(p.cluster_endpoints) and p.uses_cluster_endpoints
    uses_local = bool(p.local_endpoints) and p.uses_local_endpoints
    internal_chain = local_chain(p) if p.internal_local else service_chain(p)
    chains: list[tuple[str, list[tuple[str, dict[str, object]]]]] = []

    def lb(chain: str, eps: tuple[Endpoint, ...]) -> list[tuple[str, dict[str, object]]]:
        rules: list[tuple[str, dict[str, object]]] = []
        if p.affinity_seconds is not None:
            rules += [(f"ip saddr @{affinity_set(p, ep)} goto {endpoint_chain(p, ep)}",
                       {"jumps": (endpoint_chain(p, ep),), "random": True}) for ep in eps]
        vm = ", ".join(f"{i} : goto {endpoint_chain(p, ep)}" for i, ep in enumerate(eps))
        rules.append((f"numgen random mod {len(eps)} vmap {{ {vm} }}",
                      {"jumps": tuple(endpoint_chain(p, ep) for ep in eps), "random": True}))
        if chain == internal_chain and has_internal:
            rules.insert(0, (f"ip daddr {p.cluster_ip} {p.protocol} dport {p.port} ip saddr != "
                             f"{options.cluster_cidr} jump mark-for-masquerade",
                             {"dst": frozenset([p.cluster_ip]), "dport": p.port, "src": SRC_NOT_POD,
                              "jumps": ("mark-for-masquerade",)}))
        return rules

    if uses_cluster:
        chains.append((service_chain(p), lb(service_chain(p), p.cluster_endpoints)))
    if uses_local:
        chains.append((local_chain(p), lb(local_chain(p), p.local_endpoints)))
    if p.has_endpoints and p.externally_accessible:
        ext: list[tuple[str, dict[str, object]]] = []
        if not p.external_local:
            ext.append(("jump mark-for-masquerade", {"jumps": ("mark-for-masquerade",)}))
        else:
            ext += [
                (f'ip saddr {options.cluster_cidr} goto {service_chain(p)} comment "short-circuit pod traffic"',
                 {"src": SRC_POD, "jumps": (service_chain(p),), "final": True}),
                ('fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
                 {"src": SRC_LOCAL, "jumps": ("mark-for-masquerade",)}),
                (f'fib saddr type local goto {service_chain(p)} comment "short-circuit local traffic"',
                 {"src": SRC_LOCAL, "jumps": (service_chain(p),), "final": True}),
            ]
        if has_external:
            target = local_chain(p) if p.external_local else service_chain(p)
            ext.append((f"goto {target}", {"jumps": (target,), "final": True}))
        chains.append((external_chain(p), ext))
    for ep in p.reachable_endpoints:
        rules: list[tuple[str, dict[str, object]]] = [
            (f"ip saddr {ep.ip} jump mark-for-masquerade",
             {"src": f"ip:{ep.ip}", "jumps": ("mark-for-masquerade",)})]
        if p.affinity_seconds is not None:
            rules.append((f"update @{affinity_set(p, ep)} {{ ip saddr }}", {}))
        rules.append((f"meta l4proto {p.protocol} dnat to {ep.hostport}", {"final": True, "dnat": True}))
        chains.append((endpoint_chain(p, ep), rules))
    for name, rules in sorted(chains, key=lambda c: c[0]):
        o.text(T1 + f"chain {name} {{")
        for text, kw in rules:
            o.rule(name, text, service=svc, **kw)
        o.text(T1 + "}")
