"""A ruleset as lines that know what they match, and the lines one request takes.

Each printed line carries the few facts the kernel would test (destination IPs and port,
a local destination, a source condition) and where it sends the packet (the chains or
maps it jumps to), so :meth:`Ruleset.path` can follow a new connection through the rules
the way netfilter does: the hooks in priority order, each chain top to bottom, stopping at
a terminal verdict (DNAT, reject, drop, goto). Random load-balancing lines are all
followed: each is a place the connection may go.

Hook order (which chains see a packet, and when) is netfilter's: for a Pod's connection
the node sees it in PREROUTING then FORWARD; for a process on the node in OUTPUT. The
chain priorities are kube-proxy's (``pkg/proxy/nftables/proxier.go: nftablesBaseChains``:
filter chains at dstnat-10, so they see the Service IP before DNAT; the post-DNAT output
filter at dstnat+10).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

# Source conditions a line may carry.
SRC_POD = "pod"  # the source is in the cluster's Pod range (detect-local ClusterCIDR)
SRC_NOT_POD = "not-pod"
SRC_LOCAL = "local"  # the source is an address of this node (fib saddr type local / --src-type LOCAL)


@dataclass(frozen=True)
class Line:
    """One printed line, with what it matches and where it sends a packet."""

    text: str
    chain: str = ""  # the chain (or "@map") the line belongs to; "" for structure lines
    service: str = ""  # "ns/name" when the line belongs to one Service
    dst: frozenset[str] | None = None  # destination IPs matched (None: any)
    dport: int | None = None
    proto: str | None = None
    dst_local: bool = False  # matches only destinations local to the node
    src: str | None = None  # SRC_* or "ip:<addr>" for one source address
    jumps: tuple[str, ...] = ()
    final: bool = False  # a match ends the walk (goto, DNAT, reject, drop)
    random: bool = False  # one of several random choices
    rule: bool = False  # a rule or map element (as opposed to a header, brace or comment)
    dnat: bool = False  # rewrites the destination to an endpoint (ends the nat walk)


@dataclass(frozen=True)
class Request:
    """A new connection as the node sees it."""

    dst: str
    dport: int
    proto: str = "tcp"
    src: str = "10.244.0.100"  # a Pod's address by default
    from_node: bool = False  # True: a process on the node itself (OUTPUT hooks)
    local_ips: frozenset[str] = frozenset()  # the node's own addresses
    pod_cidr: str = "10.244.0.0/16"


@dataclass
class Ruleset:
    """The printed rules of one mode, line by line."""

    mode: str
    lines: list[Line]
    hooks_pod: tuple[tuple[str, bool], ...] = ()  # (chain, stop after DNAT) in order for Pod traffic
    hooks_node: tuple[tuple[str, bool], ...] = ()
    dnat_chains: frozenset[str] = field(default_factory=frozenset)
    _index: dict[str, list[int]] | None = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines) + "\n"

    def chain_lines(self, chain: str) -> list[int]:
        """The rule lines of ``chain`` (or ``@map``), in order (indexed once: a path visits many chains)."""
        if self._index is None:
            self._index = {}
            for i, line in enumerate(self.lines):
                if line.rule:
                    self._index.setdefault(line.chain, []).append(i)
        return self._index.get(chain, [])

    def path(self, req: Request) -> list[int]:
        """Indices of the lines ``req`` matches, in the order the kernel meets them."""
        hit: list[int] = []
        dnat = False
        for chain, _ in (self.hooks_node if req.from_node else self.hooks_pod):
            if dnat and chain not in self.dnat_chains:
                break  # after DNAT the destination is a Pod: no Service rule matches any more
            verdict = self._walk(chain, req, hit, 0)
            if verdict == "dnat":
                dnat = True
            elif verdict == "final":
                break
        return hit

    def _matches(self, line: Line, req: Request) -> bool:
        if line.dst is not None and req.dst not in line.dst:
            return False
        if line.dport is not None and line.dport != req.dport:
            return False
        if line.proto is not None and line.proto != req.proto:
            return False
        if line.dst_local and req.dst not in req.local_ips:
            return False
        src = line.src
        if src is None:
            return True
        in_pods = _in(req.src, req.pod_cidr)
        if src == SRC_POD:
            return in_pods
        if src == SRC_NOT_POD:
            return not in_pods
        if src == SRC_LOCAL:
            return req.from_node or req.src in req.local_ips
        return src == f"ip:{req.src}"

    def _walk(self, chain: str, req: Request, hit: list[int], depth: int) -> str:
        """Run ``chain``: "" (fell off the end / returned), "final" or "dnat"."""
        if depth > 16:
            return ""
        randoms: list[str] = []
        for i in self.chain_lines(chain):
            line = self.lines[i]
            if not self._matches(line, req):
                continue
            hit.append(i)
            if line.random:
                randoms.extend(self._walk(j, req, hit, depth + 1) for j in line.jumps)
                continue
            results = [self._walk(j, req, hit, depth + 1) for j in line.jumps]
            if "dnat" in results or line.dnat:
                return "dnat"
            if line.final or "final" in results:
                return "dnat" if "dnat" in randoms else "final"
        return "dnat" if "dnat" in randoms else ""

    def highlighted(self, req: Request, marker: str = ">> ", blank: str = "   ") -> str:
        """The text with each line ``req`` matches marked at the left."""
        on = set(self.path(req))
        return "\n".join((marker if i in on else blank) + line.text for i, line in enumerate(self.lines)) + "\n"


def _in(ip: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
