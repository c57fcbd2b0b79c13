"""NetworkPolicy decisions: is this flow allowed, by which policy, or denied because of which (R99, R110-R115).

Pure: the caller passes the policies, the namespaces' labels and the two ends of the flow; nothing here does
I/O or reads a clock. The embedded network (``sim/network/fabric.py``) and the real-cluster path
(``clusters/real.py``) both ask :func:`decide`, so ``net route`` explains the same decision on any cluster.

Semantics, as a conforming CNI implements them (staging/src/k8s.io/api/networking/v1/types.go, the docs of
NetworkPolicySpec, NetworkPolicyIngressRule/EgressRule, NetworkPolicyPeer, NetworkPolicyPort, IPBlock;
the upstream "netpol" e2e matrix, test/e2e/network/netpol/network_policy.go):

- R99: a Pod is isolated for ingress (egress) when any policy in its namespace selects it (podSelector;
  empty selects every Pod of the namespace) and lists Ingress (Egress) in policyTypes. A Pod no policy
  isolates for a direction accepts (sends) everything in that direction.
- R110: an isolated Pod accepts (sends) only what at least one rule of those policies allows: the union.
  A rule allows a flow when one of its peers matches the other end AND one of its ports matches; an empty
  or absent ``from``/``to`` matches every peer, empty or absent ``ports`` every port.
- R111: a peer's podSelector alone selects Pods in the policy's namespace; namespaceSelector alone every
  Pod of the selected namespaces; both in one peer: Pods matching the podSelector in namespaces matching
  the namespaceSelector (AND). Two peers in one list are OR.
- R112: ipBlock matches by address (cidr, minus each except), here applied to Pod IPs as the cluster's
  network sees them and to node IPs; a Pod's own node always reaches it (kubelet probes: the ingress
  field's doc, "OR if the traffic source is the pod's local node").
- R113: a port matches on protocol (default TCP) and number, a range with endPort (port..endPort), or a
  name resolved against the destination Pod's container ports (for ingress and egress alike); a named
  port that the destination does not define matches nothing.
- R114: both ends are judged: the client's egress and the server's ingress, after a Service's DNAT
  (backend Pod IP and targetPort); replies of an allowed connection pass (conntrack).
- R115 (the embedded network, ``fabric.py``): a Pod's DNS query is a UDP flow to kube-dns's backend (kind's
  CoreDNS Pod: kube-system, k8s-app=kube-dns, port 53); when its egress policies drop it, the lookup times out.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
INGRESS, EGRESS = "Ingress", "Egress"


@dataclass(frozen=True)
class Peer:
    """One end of a flow as the policies see it: an address, and what it is when it is a Pod."""

    ip: str
    namespace: str | None = None  # None: not a Pod (a node, an address outside the cluster)
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[tuple[str, int, str], ...] = ()  # named container ports: (name, containerPort, protocol)
    host_ip: str | None = None  # the Pod's node

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None

    def describe(self) -> str:
        return f"{self.ip} ({self.name})" if self.name else self.ip


def pod_peer(pod: Obj) -> Peer | None:
    """A Peer for a Pod object (full, or the compact note a node keeps); None without an IP."""
    md = pod.get("metadata") or {}
    st = pod.get("status") or {}
    ip = st.get("podIP")
    if not ip:
        return None
    ports: list[tuple[str, int, str]] = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") and isinstance(p.get("containerPort"), int):
                ports.append((p["name"], p["containerPort"], p.get("protocol") or "TCP"))
    return Peer(ip, md.get("namespace") or "default", md.get("name"), dict(md.get("labels") or {}),
                tuple(ports), st.get("hostIP"))


def compact_ports(pod: Obj) -> list[Obj]:
    """The container ports a policy can name, as a short list (what a node's sandbox note carries)."""
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name"):
                out.append({"name": p["name"], "containerPort": p.get("containerPort"),
                            "protocol": p.get("protocol") or "TCP"})
    return out


# --------------------------------------------------------------------------- selectors

def selector_matches(sel: Obj | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelectorAsSelector(sel).Matches(labels); an empty selector matches everything. A selector
    the API would have refused (unknown operator) matches nothing, as LabelSelectorAsSelector fails."""
    if not sel:
        return True
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In":
            ok = present and labels[key] in values
        elif op == "NotIn":
            ok = not present or labels[key] not in values
        elif op == "Exists":
            ok = present
        elif op == "DoesNotExist":
            ok = not present
        else:
            return False
        if not ok:
            return False
    return True


def policy_types(policy: Obj) -> list[str]:
    """spec.policyTypes, or what SetDefaults_NetworkPolicy would give it (for objects not defaulted)."""
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return list(types)
    return [INGRESS] + ([EGRESS] if spec.get("egress") else [])


def _key(policy: Obj) -> str:
    md = policy.get("metadata") or {}
    return f"{md.get('namespace', '')}/{md.get('name', '')}"


def isolating(policies: Iterable[Obj], pod: Peer, direction: str) -> list[Obj]:
    """R99: the policies that select ``pod`` and have ``direction`` among their policyTypes."""
    if not pod.is_pod:
        return []
    out = []
    for p in policies:
        if (p.get("metadata") or {}).get("namespace") != pod.namespace:
            continue
        if direction in policy_types(p) and selector_matches((p.get("spec") or {}).get("podSelector"), pod.labels):
            out.append(p)
    return out


# --------------------------------------------------------------------------- peers and ports

@functools.lru_cache(maxsize=1024)
def parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A cidr as the API accepted it (host bits allowed: ParseCIDRSloppy masks them); memoized, as every flow
    checks the same few blocks."""
    try:
        parts = text.split("/")
        if len(parts) == 2 and "." in parts[0]:
            text = ".".join(str(int(o)) for o in parts[0].split(".")) + "/" + str(int(parts[1]))
        return ipaddress.ip_network(text, strict=False)
    except (ValueError, AttributeError):
        return None


@functools.lru_cache(maxsize=1024)
def _addr(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


def ip_block_matches(block: Obj, ip: str) -> bool:
    """R112: ``ip`` inside cidr and outside every except."""
    addr = _addr(ip)
    if addr is None:
        return False
    net = parse_cidr(str(block.get("cidr") or ""))
    if net is None or addr.version != net.version or addr not in net:
        return False
    for text in block.get("except") or []:
        exc = parse_cidr(str(text))
        if exc is not None and addr.version == exc.version and addr in exc:
            return False
    return True


def peer_matches(peer: Obj, other: Peer, policy_ns: str, namespaces: Mapping[str, Mapping[str, str]]) -> bool:
    """R111/R112: does one NetworkPolicyPeer select ``other``?"""
    block = peer.get("ipBlock")
    if block is not None:
        return ip_block_matches(block, other.ip)
    pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
    if not other.is_pod or (pod_sel is None and ns_sel is None):
        return False
    if ns_sel is None:
        if other.namespace != policy_ns:
            return False
    elif not selector_matches(ns_sel, namespaces.get(other.namespace or "", {})):
        return False
    return pod_sel is None or selector_matches(pod_sel, other.labels)


def port_matches(port: Obj, protocol: str, number: int, dest: Peer) -> bool:
    """R113: protocol and number, a range, or a name resolved against the destination Pod's ports."""
    proto = port.get("protocol") or "TCP"
    if proto != protocol:
        return False
    value = port.get("port")
    if value is None:
        return True
    if isinstance(value, str) and not value.isdigit():
        return any(n == value and pr == protocol and cp == number for n, cp, pr in dest.ports)
    lo = int(value)
    end = port.get("endPort")
    hi = int(end) if isinstance(end, int) else lo
    return lo <= number <= hi


def _rule_allows(rule: Obj, peers_key: str, other: Peer, protocol: str, number: int, dest: Peer,
                 policy_ns: str, namespaces: Mapping[str, Mapping[str, str]]) -> bool:
    ports = rule.get("ports") or []
    if ports and not any(port_matches(p, protocol, number, dest) for p in ports):
        return False
    peers = rule.get(peers_key) or []
    return not peers or any(peer_matches(p, other, policy_ns, namespaces) for p in peers)


# --------------------------------------------------------------------------- decisions

@dataclass(frozen=True)
class Verdict:
    """One side's decision: the Pod whose policies judged it, and which policy allowed it or isolated it."""

    direction: str  # INGRESS (the server's side) or EGRESS (the client's)
    pod: Peer
    allowed: bool
    isolated_by: tuple[str, ...] = ()  # "ns/name" of the policies that isolate the Pod in this direction
    allowed_by: str | None = None  # "ns/name" of the first policy whose rule allows the flow
    rule_index: int | None = None  # 1-based index of that rule in its ingress/egress list
    rule: str = ""


@dataclass(frozen=True)
class Decision:
    """The flow's fate under NetworkPolicy: allowed unless a side is isolated and no rule allows it."""

    allowed: bool
    verdicts: tuple[Verdict, ...] = ()
    reason: str = ""  # the course's sentence; "" when no policy isolates either end
    protocol: str = "TCP"
    port: int = 0

    @property
    def rule(self) -> str:
        return ",".join(dict.fromkeys(v.rule for v in self.verdicts if v.rule))


def judge(policies: Sequence[Obj], namespaces: Mapping[str, Mapping[str, str]], pod: Peer, other: Peer,
          direction: str, protocol: str, port: int, dest: Peer) -> Verdict | None:
    """R99/R110: ``pod``'s policies for one direction; None when none isolates it (nothing to say)."""
    iso = isolating(policies, pod, direction)
    if not iso:
        return None
    names = tuple(sorted(_key(p) for p in iso))
    if direction == INGRESS and other.ip and other.ip == pod.host_ip:
        return Verdict(direction, pod, True, names, None, None, "R112")
    list_key, peers_key = ("ingress", "from") if direction == INGRESS else ("egress", "to")
    for p in sorted(iso, key=_key):
        ns = (p.get("metadata") or {}).get("namespace") or ""
        for i, rule in enumerate((p.get("spec") or {}).get(list_key) or []):
            if _rule_allows(rule, peers_key, other, protocol, port, dest, ns, namespaces):
                return Verdict(direction, pod, True, names, _key(p), i + 1, "R110")
    return Verdict(direction, pod, False, names, rule="R99")


def decide(policies: Sequence[Obj], namespaces: Mapping[str, Mapping[str, str]], src: Peer, dst: Peer,
           protocol: str, port: int) -> Decision:
    """R114: the client's egress, then the server's ingress; the first denial decides."""
    verdicts: list[Verdict] = []
    eg = judge(policies, namespaces, src, dst, EGRESS, protocol, port, dst) if src.is_pod else None
    if eg is not None:
        verdicts.append(eg)
    ing = judge(policies, namespaces, dst, src, INGRESS, protocol, port, dst) if dst.is_pod else None
    if ing is not None:
        verdicts.append(ing)
    allowed = all(v.allowed for v in verdicts)
    return Decision(allowed, tuple(verdicts), explain(verdicts, src, dst, protocol, port), protocol, port)


def _policies_text(names: Sequence[str]) -> str:
    if len(names) == 1:
        return f"NetworkPolicy {names[0]} isolates"
    return f"NetworkPolicies {', '.join(names)} isolate"


def explain(verdicts: Sequence[Verdict], src: Peer, dst: Peer, protocol: str, port: int) -> str:
    """The course's sentence: the denial (which policies isolate which Pod, what no rule allows), else each
    allowing policy and rule; "" when no policy isolates either end."""
    for v in verdicts:
        if not v.allowed:
            if v.direction == INGRESS:
                return (f"denied: {_policies_text(v.isolated_by)} {v.pod.name} for ingress and no rule allows "
                        f"{src.describe()} on {protocol} {port}")
            return (f"denied: {_policies_text(v.isolated_by)} {v.pod.name} for egress and no rule allows "
                    f"{dst.describe()} on {protocol} {port}")
    parts = []
    for v in verdicts:
        side = v.direction.lower()
        if v.allowed_by is None:
            parts.append(f"allowed: {v.pod.name} is reached from its own node ({src.ip}), which its {side} "
                         "policies always let in")
        else:
            parts.append(f"allowed by NetworkPolicy {v.allowed_by} {side} rule {v.rule_index}")
    return "; ".join(parts)
