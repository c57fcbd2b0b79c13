"""Speed of the virtual network's UDP path (issue #18, R101): datagram round trips through fabric.UdpFlow and
a Pod's UDP server, over real Unix datagram sockets, against TCP connections through the same fabric.

Prints one line per figure with its target. Not a test: figures vary with the machine; the targets are ours
(a UDP exchange must cost no more than a TCP one on a 2-core machine, so netexec's UDP server, which every
agnhost netexec Pod now runs, adds nothing a learner can feel).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kai_labs.sim.network.fabric import Network, SocketDir, UdpFlow  # noqa: E402

POD = "10.244.1.5"
N = 2000


class _NoObjects:
    def subscribe(self, fn: Callable[[Any], None]) -> None:
        pass

    def iter(self, key: str, ns: str | None = None) -> Iterator[Any]:
        return iter([])


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(await reader.read(64))
    await writer.drain()
    writer.close()


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-udp-") as d:
        net = Network(_NoObjects(), 1, SocketDir(Path(d) / "net"))
        net.sockets.sandbox_up(POD)
        transport = await net.listen_udp(POD, 8081, lambda data, peer: data)
        server, _ = await net.listen(POD, 8080, _echo)

        udp: list[float] = []
        flow = UdpFlow(net, "10.244.0.9", (POD, 8081), POD, 8081)
        for _ in range(N):
            t = time.perf_counter()
            flow.send(b"hostname")
            await flow.recv(1.0)
            udp.append(time.perf_counter() - t)
        flow.close()

        tcp: list[float] = []
        for _ in range(N):
            t = time.perf_counter()
            reader, writer = await net.open(POD, 8080, 1.0, source="10.244.0.9")
            writer.write(b"hostname")
            await reader.read()
            writer.close()
            tcp.append(time.perf_counter() - t)

        flows: list[float] = []
        for _ in range(N):  # a new flow per exchange, as netexec's /dial?protocol=udp opens one per try
            t = time.perf_counter()
            f = UdpFlow(net, "10.244.0.9", (POD, 8081), POD, 8081)
            f.send(b"hostname")
            await f.recv(1.0)
            f.close()
            flows.append(time.perf_counter() - t)
        transport.close()
        server.close()

    def ms(xs: list[float], q: float) -> float:
        return sorted(xs)[int(len(xs) * q)] * 1000

    print(f"udp round trip on one flow, median: {statistics.median(udp) * 1000:.3f} ms "
          f"(p99 {ms(udp, 0.99):.3f} ms; target: at most the TCP exchange's)")
    print(f"udp exchange on a new flow, median: {statistics.median(flows) * 1000:.3f} ms "
          f"(p99 {ms(flows, 0.99):.3f} ms; target: at most the TCP exchange's)")
    print(f"tcp connect+exchange, median: {statistics.median(tcp) * 1000:.3f} ms "
          f"(p99 {ms(tcp, 0.99):.3f} ms; the reference)")


if __name__ == "__main__":
    asyncio.run(main())
