"""A fake PodNet for the image and tool tests: virtual names and ip:port mapped to real loopback sockets."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

NS = "default"


@dataclass
class Rec:
    name: str
    type: str
    ttl: int
    data: str


@dataclass
class Ans:
    rcode: str
    answers: list[Rec]
    fqdn: str
    tried: list[str]


@dataclass
class World:
    endpoints: dict[tuple[str, int], int] = field(default_factory=dict)  # virtual ip:port -> real port
    drop: set[str] = field(default_factory=set)
    records: dict[str, list[Rec]] = field(default_factory=dict)
    conns: dict[int, tuple[str, int]] = field(default_factory=dict)

    def a(self, fqdn: str, ip: str) -> None:
        self.records.setdefault(fqdn, []).append(Rec(fqdn, "A", 30, ip))


class FakeNet:
    def __init__(self, world: World, pod_name: str = "client", pod_ip: str = "10.244.0.5", namespace: str = NS):
        self.world, self.pod_name, self.pod_ip, self.namespace = world, pod_name, pod_ip, namespace
        self.node_name, self.dns_ip = "kai-worker", "10.96.0.10"

    def resolv_conf(self) -> str:
        return (f"search {self.namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
                "nameserver 10.96.0.10\noptions ndots:5\n")

    def resolve(self, name: str, qtype: str = "A") -> Ans:
        if name.endswith("."):
            cands = [name[:-1]]
        else:
            search = [f"{name}.{d}"
                      for d in (f"{self.namespace}.svc.cluster.local", "svc.cluster.local", "cluster.local")]
            cands = search + [name] if name.count(".") < 5 else [name] + search
        tried = []
        for c in cands:
            tried.append(c)
            recs = self.world.records.get(c.lower())
            if recs is not None:
                return Ans("NOERROR", [r for r in recs if r.type in (qtype, "CNAME")], c, tried)
        return Ans("NXDOMAIN", [], cands[-1], tried)

    async def connect(self, ip: str, port: int, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if ip in self.world.drop:
            await asyncio.sleep(timeout)
            raise asyncio.TimeoutError()
        real = self.world.endpoints.get((ip, port))
        if real is None:
            raise ConnectionRefusedError()
        r, w = await asyncio.open_connection("127.0.0.1", real)
        self.world.conns[w.get_extra_info("sockname")[1]] = (self.pod_ip, random.randint(40000, 60000))
        return r, w

    def peer(self, real_peer: tuple[str, int]) -> tuple[str, int]:
        return self.world.conns.get(real_peer[1], real_peer)

    async def listen_udp(self, port: int, handler: Any, host: str = "") -> asyncio.BaseTransport:
        """A real loopback UDP socket answering with ``handler(payload, client)``."""
        class Proto(asyncio.DatagramProtocol):
            def connection_made(self, transport: Any) -> None:
                self.t = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                reply = handler(data, addr)
                if reply is not None:
                    self.t.sendto(reply, addr)

        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(Proto, local_addr=("127.0.0.1", 0))
        return transport

    async def listen(self, port: int, handler: Any, host: str = "") -> tuple[asyncio.AbstractServer, int]:
        """The fake's sockets are loopback TCP: the 'path' it returns is the real port (what tests connect to)."""
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        return server, server.sockets[0].getsockname()[1]
