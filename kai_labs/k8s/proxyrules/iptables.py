"""The nat and filter tables kube-proxy's iptables mode programs, as ``iptables-save`` prints them.

Facts carried over (never code) from kubernetes/kubernetes ``pkg/proxy/iptables/proxier.go``:

* ``iptablesJumpChains``: the built-in chains' jumps into ``KUBE-SERVICES``,
  ``KUBE-EXTERNAL-SERVICES``, ``KUBE-NODEPORTS``, ``KUBE-FORWARD``, ``KUBE-PROXY-FIREWALL``
  (filter) and ``KUBE-SERVICES``, ``KUBE-POSTROUTING`` (nat), with their comments;
* ``syncProxyRules``: ``KUBE-MARK-MASQ`` (``--or-mark 0x4000``), ``KUBE-POSTROUTING``
  (return unless marked, ``--xor-mark``, ``MASQUERADE --random-fully``), ``KUBE-FORWARD``;
  per Service port the ``"<port> cluster IP"`` rule in ``KUBE-SERVICES`` (and ``external IP``
  / ``loadbalancer IP``), ``KUBE-NODEPORTS`` rules, the masquerade rule for sources outside
  the Pod range, ``KUBE-EXT-`` chains (``masquerade traffic for … external destinations``;
  under externalTrafficPolicy Local the ``pod traffic`` and ``LOCAL traffic`` short-circuits
  and ``KUBE-SVL-``), the ``-m statistic --mode random --probability`` ladder (1/(n-i), ten
  decimals; the last endpoint unconditional), ``-m recent`` for ClientIP affinity, and
  ``KUBE-SEP-`` chains (hairpin masquerade, ``DNAT --to-destination``); in filter,
  ``"<port> has no endpoints" … -j REJECT`` and ``"has no local endpoints" … -j DROP``;
  the last rule of nat ``KUBE-SERVICES`` sends local destinations to ``KUBE-NODEPORTS``;
* names: ``portProtoHash`` = first 16 characters of base32(sha256(servicePortName +
  protocol)) after ``KUBE-SVC-``, ``KUBE-SVL-``, ``KUBE-EXT-``, ``KUBE-FW-``;
  ``servicePortEndpointChainName`` hashes servicePortName + protocol + ``ip:port`` for
  ``KUBE-SEP-``.

The rules are printed in kube-proxy's own argument order (the order ``iptables-restore``
receives); ``iptables-save`` on a node lists the same rules with its canonical order.
"""

from __future__ import annotations

from kai_labs.k8s.netlogic import Snapshot

from .model import Endpoint, Options, ServicePort, b32_sha256, default_node, node_ips, service_ports
from .ruleset import SRC_LOCAL, SRC_NOT_POD, SRC_POD, Line, Ruleset


def port_proto_hash(sp: ServicePort) -> str:
    return b32_sha256(sp.key + sp.protocol)[:16]


def svc_chain(sp: ServicePort) -> str:
    return "KUBE-SVC-" + port_proto_hash(sp)


def svl_chain(sp: ServicePort) -> str:
    return "KUBE-SVL-" + port_proto_hash(sp)


def ext_chain(sp: ServicePort) -> str:
    return "KUBE-EXT-" + port_proto_hash(sp)


def fw_chain(sp: ServicePort) -> str:
    return "KUBE-FW-" + port_proto_hash(sp)


def sep_chain(sp: ServicePort, ep: Endpoint) -> str:
    return "KUBE-SEP-" + b32_sha256(sp.key + sp.protocol + ep.hostport)[:16]


def _q(comment: str) -> str:
    """A --comment argument: quoted when it has a space, as kube-proxy writes it."""
    return f'"{comment}"' if " " in comment else comment


_FILTER_JUMPS = (  # (builtin, comment, extra, target)
    ("INPUT", "kubernetes load balancer firewall", "-m conntrack --ctstate NEW", "KUBE-PROXY-FIREWALL"),
    ("INPUT", "kubernetes health check service ports", "", "KUBE-NODEPORTS"),
    ("INPUT", "kubernetes externally-visible service portals", "-m conntrack --ctstate NEW",
     "KUBE-EXTERNAL-SERVICES"),
    ("FORWARD", "kubernetes load balancer firewall", "-m conntrack --ctstate NEW", "KUBE-PROXY-FIREWALL"),
    ("FORWARD", "kubernetes forwarding rules", "", "KUBE-FORWARD"),
    ("FORWARD", "kubernetes service portals", "-m conntrack --ctstate NEW", "KUBE-SERVICES"),
    ("FORWARD", "kubernetes externally-visible service portals", "-m conntrack --ctstate NEW",
     "KUBE-EXTERNAL-SERVICES"),
    ("OUTPUT", "kubernetes load balancer firewall", "-m conntrack --ctstate NEW", "KUBE-PROXY-FIREWALL"),
    ("OUTPUT", "kubernetes service portals", "-m conntrack --ctstate NEW", "KUBE-SERVICES"),
)
_NAT_JUMPS = (
    ("PREROUTING", "kubernetes service portals", "", "KUBE-SERVICES"),
    ("OUTPUT", "kubernetes service portals", "", "KUBE-SERVICES"),
    ("POSTROUTING", "kubernetes postrouting rules", "", "KUBE-POSTROUTING"),
)


class _Table:
    def __init__(self, name: str, builtins: tuple[str, ...]) -> None:
        self.name = name
        self.builtins = builtins
        self.chains: list[str] = []
        self.rules: list[Line] = []

    def chain(self, name: str) -> None:
        if name not in self.chains:
            self.chains.append(name)

    def add(self, chain: str, args: str, **kw: object) -> None:
        self.chain(chain) if chain not in self.builtins else None
        kw.setdefault("rule", True)
        self.rules.append(Line(f"-A {chain} {args}", chain=f"{self.name}:{chain}", **kw))  # type: ignore[arg-type]

    def lines(self) -> list[Line]:
        out = [Line(f"*{self.name}")]
        out += [Line(f":{b} ACCEPT [0:0]") for b in self.builtins]
        out += [Line(f":{c} - [0:0]") for c in self.chains]
        out += self.rules
        out.append(Line("COMMIT"))
        return out


def render(snap: Snapshot, options: Options | None = None, service: str | None = None) -> Ruleset:
    """``iptables-save`` for the filter and nat tables kube-proxy owns on one node.

    ``service`` ("ns/name") keeps that Service's rules only, with the fixed frame."""
    options = options or Options()
    node = default_node(snap, options)
    local_ips = node_ips(snap, node)
    ports = [p for p in service_ports(snap, options) if service is None or p.service == service]
    mark = f"{options.mark:#x}"
    flt = _Table("filter", ("INPUT", "FORWARD", "OUTPUT"))
    nat = _Table("nat", ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"))
    for c in ("KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-PROXY-FIREWALL"):
        flt.chain(c)
    for c in ("KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"):
        nat.chain(c)
    for builtin, comment, extra, target in _FILTER_JUMPS:
        flt.add(builtin, f"{extra} -m comment --comment {_q(comment)} -j {target}".strip(),
                jumps=(f"filter:{target}",))
    for builtin, comment, extra, target in _NAT_JUMPS:
        nat.add(builtin, f"{extra} -m comment --comment {_q(comment)} -j {target}".strip(),
                jumps=(f"nat:{target}",))

    for p in ports:
        _filter_rules(flt, p)
    flt.add("KUBE-FORWARD", "-m conntrack --ctstate INVALID -j DROP", dst=frozenset())
    flt.add("KUBE-FORWARD", f'-m comment --comment "kubernetes forwarding rules" -m mark --mark {mark}/{mark} '
            "-j ACCEPT", dst=frozenset())
    flt.add("KUBE-FORWARD", '-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack '
            "--ctstate RELATED,ESTABLISHED -j ACCEPT", dst=frozenset())

    for p in ports:
        _nat_dispatch(nat, p)
    nat.add("KUBE-SERVICES", '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last '
            'rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS', dst_local=True,
            jumps=("nat:KUBE-NODEPORTS",))
    nat.add("KUBE-MARK-MASQ", f"-j MARK --or-mark {mark}")
    nat.add("KUBE-POSTROUTING", f"-m mark ! --mark {mark}/{mark} -j RETURN")
    nat.add("KUBE-POSTROUTING", f"-j MARK --xor-mark {mark}")
    nat.add("KUBE-POSTROUTING", '-m comment --comment "kubernetes service traffic requiring SNAT" '
            "-j MASQUERADE --random-fully")
    for p in ports:
        _nat_chains(nat, p, options)

    head = [Line(f"# kube-proxy (iptables mode) rules for node {node or '(none)'}"
                 + (f", Service {service}" if service else "")),
            Line(f"# node addresses: {', '.join(local_ips) or '(none)'}")]
    return Ruleset(
        "iptables", head + flt.lines() + nat.lines(),
        hooks_pod=(("nat:PREROUTING", True), ("filter:FORWARD", False)),
        hooks_node=(("nat:OUTPUT", True), ("filter:OUTPUT", False)),
        dnat_chains=frozenset(),
    )


def _filter_rules(t: _Table, p: ServicePort) -> None:
    has_internal = p.has_endpoints and (not p.internal_local or bool(p.local_endpoints))
    has_external = p.has_endpoints and (not p.external_local or bool(p.local_endpoints))
    why = "has no endpoints" if not p.has_endpoints else "has no local endpoints"
    verdict = "REJECT" if not p.has_endpoints else "DROP"
    m = f"-m {p.protocol} -p {p.protocol}"
    kw: dict[str, object] = {"service": p.service, "proto": p.protocol, "final": True}
    if not has_internal:
        t.add("KUBE-SERVICES", f'-m comment --comment "{p.key} {why}" {m} -d {p.cluster_ip} --dport {p.port} '
              f"-j {verdict}", dst=frozenset([p.cluster_ip]), dport=p.port, **kw)
    if not has_external:
        for ip in (*p.external_ips, *p.lb_ips):
            t.add("KUBE-EXTERNAL-SERVICES", f'-m comment --comment "{p.key} {why}" {m} -d {ip} --dport {p.port} '
                  f"-j {verdict}", dst=frozenset([ip]), dport=p.port, **kw)
        if p.node_port:
            t.add("KUBE-EXTERNAL-SERVICES", f'-m comment --comment "{p.key} {why}" -m addrtype --dst-type LOCAL '
                  f"{m} --dport {p.node_port} -j {verdict}", dst_local=True, dport=p.node_port, **kw)


def _nat_dispatch(t: _Table, p: ServicePort) -> None:
    has_internal = p.has_endpoints and (not p.internal_local or bool(p.local_endpoints))
    m = f"-m {p.protocol} -p {p.protocol}"
    internal = svl_chain(p) if p.internal_local else svc_chain(p)
    if has_internal:
        t.add("KUBE-SERVICES", f'-m comment --comment "{p.key} cluster IP" {m} -d {p.cluster_ip} --dport {p.port} '
              f"-j {internal}", service=p.service, dst=frozenset([p.cluster_ip]), dport=p.port, proto=p.protocol,
              jumps=(f"nat:{internal}",), final=True)
    if p.has_endpoints:
        for label, ips in (("external IP", p.external_ips), ("loadbalancer IP", p.lb_ips)):
            for ip in ips:
                t.add("KUBE-SERVICES", f'-m comment --comment "{p.key} {label}" {m} -d {ip} --dport {p.port} '
                      f"-j {ext_chain(p)}", service=p.service, dst=frozenset([ip]), dport=p.port,
                      proto=p.protocol, jumps=(f"nat:{ext_chain(p)}",), final=True)
        if p.node_port:
            t.add("KUBE-NODEPORTS", f"-m comment --comment {p.key} {m} --dport {p.node_port} -j {ext_chain(p)}",
                  service=p.service, dport=p.node_port, proto=p.protocol, jumps=(f"nat:{ext_chain(p)}",),
                  final=True)


def _nat_chains(t: _Table, p: ServicePort, options: Options) -> None:
    has_internal = p.has_endpoints and (not p.internal_local or bool(p.local_endpoints))
    has_external = p.has_endpoints and (not p.external_local or bool(p.local_endpoints))
    uses_cluster = bool(p.cluster_endpoints) and p.uses_cluster_endpoints
    uses_local = bool(p.local_endpoints) and p.uses_local_endpoints
    internal = svl_chain(p) if p.internal_local else svc_chain(p)
    m = f"-m {p.protocol} -p {p.protocol}"
    s = p.service

    def lb(chain: str, eps: tuple[Endpoint, ...]) -> None:
        if chain == internal and has_internal:
            t.add(chain, f'-m comment --comment "{p.key} cluster IP" {m} -d {p.cluster_ip} --dport {p.port} '
                  f"! -s {options.cluster_cidr} -j KUBE-MARK-MASQ", service=s, dst=frozenset([p.cluster_ip]),
                  dport=p.port, src=SRC_NOT_POD, jumps=("nat:KUBE-MARK-MASQ",))
        if p.affinity_seconds is not None:
            for ep in eps:
                t.add(chain, f'-m comment --comment "{p.key} -> {ep.hostport}" -m recent --name {sep_chain(p, ep)} '
                      f"--rcheck --seconds {p.affinity_seconds} --reap -j {sep_chain(p, ep)}", service=s,
                      jumps=(f"nat:{sep_chain(p, ep)}",), random=True)
        n = len(eps)
        for i, ep in enumerate(eps):
            stat = f"-m statistic --mode random --probability {1.0 / (n - i):.10f} " if i < n - 1 else ""
            t.add(chain, f'-m comment --comment "{p.key} -> {ep.hostport}" {stat}-j {sep_chain(p, ep)}',
                  service=s, jumps=(f"nat:{sep_chain(p, ep)}",), random=True)

    if uses_cluster:
        lb(svc_chain(p), p.cluster_endpoints)
    if uses_local:
        lb(svl_chain(p), p.local_endpoints)
    if p.has_endpoints and p.externally_accessible:
        e = ext_chain(p)
        if not p.external_local:
            t.add(e, f'-m comment --comment "masquerade traffic for {p.key} external destinations" -j KUBE-MARK-MASQ',
                  service=s, jumps=("nat:KUBE-MARK-MASQ",))
        else:
            t.add(e, f'-m comment --comment "pod traffic for {p.key} external destinations" -s {options.cluster_cidr} '
                  f"-j {svc_chain(p)}", service=s, src=SRC_POD, jumps=(f"nat:{svc_chain(p)}",), final=True)
            t.add(e, f'-m comment --comment "masquerade LOCAL traffic for {p.key} external destinations" '
                  "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ", service=s, src=SRC_LOCAL,
                  jumps=("nat:KUBE-MARK-MASQ",))
            t.add(e, f'-m comment --comment "route LOCAL traffic for {p.key} external destinations" '
                  f"-m addrtype --src-type LOCAL -j {svc_chain(p)}", service=s, src=SRC_LOCAL,
                  jumps=(f"nat:{svc_chain(p)}",), final=True)
        if has_external:
            target = svl_chain(p) if p.external_local else svc_chain(p)
            t.add(e, f"-j {target}", service=s, jumps=(f"nat:{target}",), final=True)
    for ep in p.reachable_endpoints:
        c = sep_chain(p, ep)
        t.add(c, f"-m comment --comment {p.key} -s {ep.ip} -j KUBE-MARK-MASQ", service=s, src=f"ip:{ep.ip}",
              jumps=("nat:KUBE-MARK-MASQ",))
        recent = (f"-m recent --set --name {c} --mask 255.255.255.255 --rsource "
                  if p.affinity_seconds is not None else "")
        t.add(c, f"-m comment --comment {p.key} {recent}{m} -j DNAT --to-destination {ep.hostport}",
              service=s, final=True, dnat=True)
