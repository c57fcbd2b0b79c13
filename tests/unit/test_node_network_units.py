"""Pieces of the node's network (issue #18, R100-R102) over real Unix sockets: which address a listener
answers on, UDP datagrams and their refusals, nc's option parsing, agnhost's dns-suffix."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kai_labs.sim.network.fabric import ANY, LOOPBACK, POD_IP, Network, SocketDir, UdpFlow, bind_scope
from kai_labs.sim.node import tools
from tests.unit.fakenet import FakeNet, World

POD = "10.244.1.5"


class _NoObjects:
    def subscribe(self, fn: Callable[[Any], None]) -> None:
        pass

    def iter(self, key: str, ns: str | None = None) -> Iterator[Any]:
        return iter([])


@pytest.fixture
def net(tmp_path: Path) -> Network:
    n = Network(_NoObjects(), 1, SocketDir(tmp_path / "net"))
    n.sockets.sandbox_up(POD)
    return n


@pytest.mark.parametrize("host,scope", [
    ("", ANY), ("0.0.0.0", ANY), ("::", ANY), ("[::]", ANY),
    ("127.0.0.1", LOOPBACK), ("127.1.2.3", LOOPBACK), ("localhost", LOOPBACK), ("[::1]", LOOPBACK),
    (POD, POD_IP), ("10.1.2.3", None), ("example.com", None),
])
def test_R100_bind_scope(host: str, scope: str | None) -> None:
    assert bind_scope(host, POD) == scope


async def _hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"hi")
    await writer.drain()
    writer.close()


@pytest.mark.parametrize("bind,via_pod_ip,via_loopback", [(ANY, True, True), (LOOPBACK, False, True),
                                                           (POD_IP, True, False)])
def test_R100_a_listener_answers_on_the_addresses_it_is_bound_to(net: Network, bind: str, via_pod_ip: bool,
                                                                  via_loopback: bool) -> None:
    async def main() -> None:
        server, _ = await net.listen(POD, 8080, _hello, bind)
        for loopback, answers in ((False, via_pod_ip), (True, via_loopback)):
            if answers:
                reader, writer = await net.open(POD, 8080, 1.0, source="10.244.0.9", loopback=loopback)
                assert await reader.read() == b"hi"
                writer.close()
            else:
                with pytest.raises(ConnectionRefusedError) as e:
                    await net.open(POD, 8080, 1.0, source="10.244.0.9", loopback=loopback,
                                   refused="nothing listens")
                if bind == LOOPBACK:  # the course's sentence says why
                    assert "127.0.0.1:8080" in str(e.value)
        server.close()
    asyncio.run(main())


def test_R101_udp_round_trip_and_refusals(net: Network) -> None:
    async def main() -> None:
        seen: list[tuple[bytes, tuple[str, int]]] = []

        def answer(data: bytes, peer: tuple[str, int]) -> bytes:
            seen.append((data, peer))
            return data.upper()

        transport = await net.listen_udp(POD, 8081, answer)
        flow = UdpFlow(net, "10.244.0.9", (POD, 8081), POD, 8081)
        flow.send(b"ping")
        assert await flow.recv(2.0) == b"PING"
        assert seen == [(b"ping", ("10.244.0.9", flow.sport))]  # the virtual source, as the server sees it
        flow.close()
        # the Pod is there, nothing on the port: ICMP port unreachable, the next read is refused
        flow = UdpFlow(net, "10.244.0.9", (POD, 9999), POD, 9999)
        flow.send(b"x")
        with pytest.raises(ConnectionRefusedError):
            await flow.recv(1.0)
        flow.close()
        # nobody owns the address: no answer at all
        flow = UdpFlow(net, "10.244.0.9", ("10.244.9.9", 53), "10.244.9.9", 53)
        flow.send(b"x")
        with pytest.raises(TimeoutError):
            await flow.recv(0.2)
        flow.close()
        transport.close()
    asyncio.run(main())


@pytest.mark.parametrize("argv,openbsd,bad", [
    (["nc", "-v", "-t", "-w", "2", "-z", "web", "80"], True, None),
    (["nc", "-v", "-t", "-w", "2", "-z", "web", "80"], False, "t"),  # busybox's nc has no -t
    (["nc", "-vuw2", "web", "53"], False, None),
    (["nc", "-w"], False, "w"),
])
def test_R102_nc_options(argv: list[str], openbsd: bool, bad: str | None) -> None:
    o = tools._parse_nc(argv, openbsd)
    if bad is not None:
        assert o == bad
        return
    assert isinstance(o, tools._NcOpts) and o.args == argv[-2:] and o.verbose == 1
    assert o.wait == 2.0


def test_R105_agnhost_dns_suffix_and_server_list() -> None:
    fake = FakeNet(World(), "p", POD, "team")
    out: list[str] = []
    image = "registry.k8s.io/e2e-test-images/agnhost:2.53"
    for sub in ("dns-suffix", "dns-server-list"):
        assert asyncio.run(tools.run(["/agnhost", sub], fake, out.append, out.append, image=image)) == 0
    assert out == ["team.svc.cluster.local,svc.cluster.local,cluster.local\n", "10.96.0.10\n"]
