"""Deterministic identities: UIDs, generated name suffixes, IPs and node ports.

Under a seed, every generated value is a pure function of (seed, what is being
named, how many times that was named before in the same namespace). Counters are
kept in the store's meta table, per namespace, and dropped when the namespace
is deleted, so re-running a notebook on a fresh namespace prints the same
names, ClusterIPs and ports. Without a seed, a random one is chosen at first start and
kept with the cluster's state. Pod IPs are not drawn here: each node hands them out in order, as
host-local IPAM does (kai_labs/sim/node/kubelet.py HostLocal), so they follow the order Pods start in.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from collections.abc import Callable

from ..storage.store import Store

# apimachinery/pkg/util/rand: the alphabet generateName suffixes use (no vowels,
# no confusable characters), five characters long.
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"

# kind's defaults (sigs.k8s.io/kind pkg/apis/config/v1alpha4 default.go: serviceSubnet 10.96.0.0/16,
# podSubnet 10.244.0.0/16), which kind hands to kubeadm as --service-cluster-ip-range.
SERVICE_CIDR = ipaddress.IPv4Network("10.96.0.0/16")
POD_CIDR = ipaddress.ip_network("10.244.0.0/16")


def service_range_offset(network: ipaddress.IPv4Network) -> int:
    """The size of the static lower band of a Service range (pkg/registry/core/service/ipallocator
    calculateRangeOffset, min(max(16, size/16), 256)): dynamic ClusterIPs are taken from above it first,
    so addresses a user asks for by hand (kube-dns's 10.96.0.10) rarely collide. 256 for a /16, and 0
    for a range smaller than 16 addresses."""
    size = network.num_addresses
    if size < 16:
        return 0
    return min(max(16, size // 16), 256)
NODE_PORT_RANGE = (30000, 32767)


class Picks:
    """Seeded choices that need no storage (a node process gets one too, from the cluster's seed)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def _digest(self, *parts: object) -> bytes:
        text = "\x00".join(str(p) for p in (self.seed, *parts))
        return hashlib.sha256(text.encode()).digest()

    def pick_ip(self, network: ipaddress.IPv4Network, used: set[str], reserved: int, *key: object) -> str:
        """A free address of network, chosen by hash of key, skipping `reserved` low addresses."""
        size = network.num_addresses - reserved - 1  # no broadcast
        start = int.from_bytes(self._digest("ip", str(network), *key)[:8], "big") % size
        for i in range(size):
            ip = str(network.network_address + reserved + (start + i) % size)
            if ip not in used:
                return ip
        raise RuntimeError(f"range {network} is full")

    def pick_service_ip(self, network: ipaddress.IPv4Network, used: set[str], *key: object) -> str:
        """A ClusterIP as the Service IP allocator picks one (pkg/registry/core/service/ipallocator,
        randomScanStrategyWithOffset): a free address of the upper band (above the static band, see
        :func:`service_range_offset`), chosen by hash of key where upstream draws at random; only when the
        upper band is full, one of the lower band. The network address and the broadcast address are never
        given; the first usable address (10.96.0.1) is the kubernetes Service's."""
        base = int(network.network_address) + 1
        size = network.num_addresses - 2  # no network, no broadcast address
        offset = min(service_range_offset(network), size)
        start = int.from_bytes(self._digest("ip", str(network), *key)[:8], "big")
        for lo, hi in ((offset, size), (0, offset)):
            width = hi - lo
            for i in range(width):
                ip = str(ipaddress.IPv4Address(base + lo + (start + i) % width))
                if ip not in used:
                    return ip
        raise RuntimeError(f"range {network} is full")


class Ids(Picks):
    def __init__(self, store: Store, seed: int | None) -> None:
        self.store = store
        stored = store.meta_get("seed")
        if seed is None:
            if stored is None:
                import secrets

                seed = secrets.randbits(32)
            else:
                seed = int(stored)
        store.meta_set("seed", str(seed))
        self.seed = seed

    def next_count(self, ns: str, what: str) -> int:
        k = f"ctr/{ns}/{what}"
        n = int(self.store.meta_get(k) or "0") + 1
        self.store.meta_set(k, str(n))
        return n

    def drop_namespace(self, ns: str) -> None:
        self.store.db.execute("DELETE FROM meta WHERE k LIKE ?", (f"ctr/{ns}/%",))

    def uid(self, key: str, ns: str, name: str) -> str:
        n = self.next_count(ns, f"uid/{key}/{name}")
        return str(uuid.UUID(bytes=self._digest("uid", key, ns, name, n)[:16], version=4))

    def suffix(self, ns: str, prefix: str, taken: Callable[[str], bool], length: int = 5) -> str:
        """A generateName suffix; retried (deterministically) while the name is taken."""
        n = self.next_count(ns, f"gen/{prefix}")
        attempt = 0
        while True:
            d = self._digest("gen", ns, prefix, n, attempt)
            s = "".join(ALPHANUMS[b % len(ALPHANUMS)] for b in d[:length])
            if not taken(prefix + s):
                return s
            attempt += 1

    def pick_port(self, used: set[int], *key: object) -> int:
        lo, hi = NODE_PORT_RANGE
        size = hi - lo + 1
        start = int.from_bytes(self._digest("port", *key)[:8], "big") % size
        for i in range(size):
            p = lo + (start + i) % size
            if p not in used:
                return p
        raise RuntimeError("node port range is full")
