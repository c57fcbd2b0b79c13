"""The virtual network: Pod IPs mapped to real loopback sockets, DNS and the service proxy.

Every Pod's app really listens on 127.0.0.1 (on a port the OS picks); this
module keeps the table (pod IP, app port) -> loopback port and makes every
in-cluster connection go through netlogic's decisions (cluster DNS, kube-proxy)
before a real TCP connection is opened. Nothing listening on a Pod's port is a
real refusal (R50); a REJECT rule is an immediate refusal (R44); a DROP or an
address nobody owns waits for the caller's timeout (R45).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...k8s import netlogic
from ..storage.store import Event, Store

DNS_IP = "10.96.0.10"
_NET_KEYS = {"/services", "discovery.k8s.io/endpointslices", "/pods", "/nodes", "/namespaces"}


@dataclass
class PodSockets:
    namespace: str
    name: str
    node: str
    ports: dict[int, int]  # app port -> real loopback port


class Network:
    def __init__(self, store: Store, seed: int) -> None:
        self.store = store
        self.pods: dict[str, PodSockets] = {}  # pod IP -> sockets
        self._snap: netlogic.Snapshot | None = None
        self.rng = random.Random(seed)
        self.affinity = netlogic.Affinity(time.monotonic)
        # real local port of a proxied client connection -> virtual (ip, port)
        self.conntrack: dict[int, tuple[str, int]] = {}
        store.subscribe(self._on_event)

    def _on_event(self, ev: Event) -> None:
        if ev.key in _NET_KEYS:
            self._snap = None

    def snapshot(self) -> netlogic.Snapshot:
        if self._snap is None:
            s = self.store
            self._snap = netlogic.Snapshot(
                services=list(s.iter("/services")),
                endpointslices=list(s.iter("discovery.k8s.io/endpointslices")),
                pods=list(s.iter("/pods")),
                nodes=list(s.iter("/nodes")),
                namespaces=[n["metadata"]["name"] for n in s.iter("/namespaces")],
            )
        return self._snap

    # -- DNS and decisions ------------------------------------------------------
    def resolve(self, name: str, namespace: str = "default", qtype: str = "A") -> netlogic.DnsAnswer:
        return netlogic.resolve(self.snapshot(), name, namespace, qtype)

    def route(self, dest: str, namespace: str = "default", source_node: str | None = None,
              source_ip: str | None = None, pick: Callable[[Any], Any] | None = None) -> netlogic.Route:
        return netlogic.route(self.snapshot(), dest, namespace, source_node, source_ip,
                              pick=pick or self.rng.choice, affinity=self.affinity)

    # -- sockets ---------------------------------------------------------------
    def register(self, ip: str, sockets: PodSockets) -> None:
        self.pods[ip] = sockets

    def unregister(self, ip: str) -> None:
        self.pods.pop(ip, None)

    async def connect(self, ip: str, port: int, timeout: float, *, namespace: str = "default",
                      source_node: str | None = None, source_ip: str | None = None
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, netlogic.Route]:
        """Open a connection to ip:port as a client in the cluster would.

        Raises ConnectionRefusedError (REJECT, nothing listening) or TimeoutError
        (DROP, nobody owns the address) after waiting ``timeout``.
        """
        r = self.route(f"{ip}:{port}", namespace, source_node, source_ip)
        if r.action == "reject":
            raise _with_route(ConnectionRefusedError(r.reason), r)
        if r.action != "forward" or r.endpoint is None:
            await asyncio.sleep(timeout)
            raise _with_route(TimeoutError(r.reason), r)
        _, pod_ip, pod_port = r.endpoint
        sock = self.pods.get(pod_ip)
        if sock is None:  # a Pod whose sandbox is gone (or on a node we do not run): nothing answers
            await asyncio.sleep(timeout)
            raise _with_route(TimeoutError(f"no host answers at {pod_ip}"), r)
        real = sock.ports.get(pod_port)
        if real is None:
            via = f"{r.service} sent it to " if r.service else ""
            raise _with_route(ConnectionRefusedError(
                f"{via}pod {r.endpoint[0]} at {pod_ip}:{pod_port}, where nothing listens: the Pod answers with a "
                f"TCP reset"), r)
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", real), timeout)
        local = writer.get_extra_info("sockname")
        if local:
            self.conntrack[local[1]] = (source_ip or "10.244.0.1", local[1])
        return reader, writer, r

    def peer(self, real_peer: tuple[str, int]) -> tuple[str, int]:
        if real_peer and real_peer[1] in self.conntrack:
            return self.conntrack[real_peer[1]]
        return (real_peer[0], real_peer[1]) if real_peer else ("127.0.0.1", 0)

    def forget(self, writer: asyncio.StreamWriter) -> None:
        local = writer.get_extra_info("sockname")
        if local:
            self.conntrack.pop(local[1], None)


def _with_route(exc: Exception, r: netlogic.Route) -> Exception:
    exc.route = r  # type: ignore[attr-defined]
    return exc


class PodNetView:
    """The network as one Pod sees it (the PodNet protocol images.py uses)."""

    def __init__(self, net: Network, namespace: str, pod_name: str, pod_ip: str, node_name: str) -> None:
        self.net = net
        self.namespace = namespace
        self.pod_name = pod_name
        self.pod_ip = pod_ip
        self.node_name = node_name
        self.dns_ip = DNS_IP

    def resolve(self, name: str, qtype: str = "A") -> netlogic.DnsAnswer:
        return self.net.resolve(name, self.namespace, qtype)

    def resolv_conf(self) -> str:
        return netlogic.resolv_conf(self.namespace, DNS_IP)

    async def connect(self, ip: str, port: int, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if ip.startswith("127.") or ip == "::1":
            # the Pod's own loopback: its containers share one network namespace
            sock = self.net.pods.get(self.pod_ip)
            real = sock.ports.get(port) if sock else None
            if real is None:
                raise ConnectionRefusedError(f"nothing listens on {ip}:{port} inside pod {self.pod_name}")
            return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", real), timeout)
        reader, writer, _ = await self.net.connect(ip, port, timeout, namespace=self.namespace,
                                                   source_node=self.node_name, source_ip=self.pod_ip)
        return reader, writer

    def peer(self, real_peer: tuple[str, int]) -> tuple[str, int]:
        return self.net.peer(real_peer)
