"""The kubelet on a FakeClock (kai_labs.sim.clock): probe periods and the image-pull back-off proved
without sleeping; status written through the registry's status path; the Node's Pod range."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kai_labs.sim.clientset import Client, Lister
from kai_labs.sim.clock import FakeClock, RealClock
from kai_labs.sim.network.fabric import Network, SocketDir
from kai_labs.sim.node import kubelet as kl
from kai_labs.sim.node.kubelet import Kubelet
from kai_labs.sim.registry.allocators import Ids
from kai_labs.sim.registry.generic import Api, rt_of
from kai_labs.sim.storage.store import Store


class Events:
    """Stands in for the event Recorder: keeps (reason, message) in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def event(self, obj: Any, etype: str, reason: str, message: str, component: str, host: str = "",
              field_path: str = "") -> None:
        self.seen.append((reason, message))

    def count(self, reason: str, text: str = "") -> int:
        return sum(1 for r, m in self.seen if r == reason and text in m)


class World:
    def __init__(self, tmp: Path, clock: FakeClock) -> None:
        self.clock = clock
        self.store = Store(tmp / "state.db")
        self.api = Api(self.store, Ids(self.store, 7), clock.now)
        self.net = Network(self.store, 7, SocketDir(tmp / "net"))
        self.events = Events()
        self.kubelet = Kubelet(self.api.ids, self.net, self.events, ["n1"],
                               lister=Lister(self.store), client=Client(self.api), clock=clock)
        self.store.subscribe(self.kubelet.observe)
        self.api.create(rt_of("Namespace"), "", {"metadata": {"name": "default"}})
        self.api.create(rt_of("Node"), "", {"metadata": {"name": "n1"},
                                            "spec": {"podCIDR": "10.244.3.0/24", "podCIDRs": ["10.244.3.0/24"]}})

    def pod(self, name: str, container: dict[str, Any]) -> None:
        self.api.create(rt_of("Pod"), "default", {"metadata": {"name": name},
                                                  "spec": {"nodeName": "n1", "containers": [container]}})

    def status(self, name: str) -> dict[str, Any]:
        pod = self.store.peek("/pods", "default", name)
        assert pod is not None
        return dict(pod.get("status") or {})

    async def until(self, what: Callable[[], bool], real_seconds: float = 3.0) -> None:
        """Let the loop run (real I/O on loopback) until ``what`` holds; the fake clock stands still."""
        end = time.monotonic() + real_seconds
        while not what():
            assert time.monotonic() < end, "condition not reached"
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        await self.kubelet.shutdown()
        self.store.close()


def run(tmp: Path, body: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        w = World(tmp, FakeClock())
        try:
            await asyncio.wait_for(body(w), 20)
        finally:
            await w.close()
    asyncio.run(main())


def test_image_pull_back_off_doubles_on_the_clock_without_sleeping(tmp_path: Path) -> None:
    async def body(w: World) -> None:
        t0 = time.monotonic()
        w.pod("bad", {"name": "app", "image": "redis:7"})
        ev = w.events
        await w.until(lambda: ev.count("Pulling") == 1)
        assert w.status("bad")["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"
        w.clock.advance(kl.ERR_PULL_SHOWN)
        await w.until(lambda: ev.count("BackOff") == 1)
        await w.until(lambda: w.status("bad")["containerStatuses"][0]["state"]["waiting"]["reason"]
                      == "ImagePullBackOff")
        pulls = 1
        for backoff in (10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0):
            # the next pull comes `backoff` seconds after the last one, not a moment earlier
            await w.clock.settle()
            w.clock.advance(backoff - kl.ERR_PULL_SHOWN - 0.5)
            await w.clock.settle()
            assert ev.count("Pulling") == pulls, backoff
            w.clock.advance(0.5)
            pulls += 1
            await w.until(lambda n=pulls: ev.count("Pulling") == n)
            w.clock.advance(kl.ERR_PULL_SHOWN)
            await w.until(lambda n=pulls: ev.count("BackOff") == n)
        assert time.monotonic() - t0 < 10  # some 15 minutes of back-off
    run(tmp_path, body)


def test_readiness_probe_period_on_the_clock(tmp_path: Path) -> None:
    async def body(w: World) -> None:
        w.pod("web", {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                      "readinessProbe": {"httpGet": {"path": "/missing", "port": 80}, "periodSeconds": 10,
                                         "failureThreshold": 1}})
        ev = w.events
        await w.until(lambda: ev.count("Unhealthy", "Readiness probe failed: HTTP probe failed with "
                                                    "statuscode: 404") == 1)
        await w.clock.settle()
        w.clock.advance(9.9)
        await asyncio.sleep(0.1)
        assert ev.count("Unhealthy") == 1
        w.clock.advance(0.1)
        await w.until(lambda: ev.count("Unhealthy") == 2)
        w.clock.advance(10)
        await w.until(lambda: ev.count("Unhealthy") == 3)
        st = w.status("web")
        assert st["phase"] == "Running" and st["podIP"].startswith("10.244.3.")
        assert st["containerStatuses"][0]["ready"] is False
    run(tmp_path, body)


def test_status_goes_through_the_registry_and_a_stale_write_conflicts(tmp_path: Path) -> None:
    async def body(w: World) -> None:
        w.pod("web", {"name": "nginx", "image": "nginx:1.27"})
        await w.until(lambda: w.status("web").get("phase") == "Running")
        await w.until(lambda: bool(w.status("web").get("containerStatuses", [{}])[0].get("ready")))
        pod = w.store.peek("/pods", "default", "web")
        assert pod is not None
        stale = {"metadata": {"name": "web", "namespace": "default",
                              "resourceVersion": str(int(pod["metadata"]["resourceVersion"]) - 1)},
                 "status": {"phase": "Failed"}}
        with pytest.raises(Exception, match="modified"):
            Client(w.api).update_status("Pod", stale)
        # the kubelet's own writes carry the resourceVersion it read: they land, and spec is untouched
        assert w.status("web")["phase"] == "Running"
        assert pod["spec"]["containers"][0]["image"] == "nginx:1.27"
    run(tmp_path, body)


def test_pod_cidr_is_the_nodes_ipv4_range() -> None:
    assert str(kl.pod_cidr({"spec": {"podCIDR": "10.244.5.0/24"}})) == "10.244.5.0/24"
    dual = {"spec": {"podCIDR": "fd00:10:244:5::/64", "podCIDRs": ["fd00:10:244:5::/64", "10.244.5.0/24"]}}
    assert str(kl.pod_cidr(dual)) == "10.244.5.0/24"
    assert kl.pod_cidr({"spec": {"podCIDR": "fd00::/64"}}) == kl.DEFAULT_POD_CIDR
    assert kl.pod_cidr({"spec": {"podCIDR": "not a range"}}) == kl.DEFAULT_POD_CIDR
    assert str(kl.pod_cidr({"spec": {"podCIDR": "10.244.6.9/24"}})) == "10.244.6.0/24"
    assert kl.pod_cidr(None) == kl.DEFAULT_POD_CIDR


def test_an_ipv6_node_range_still_gets_its_pods_an_ipv4_address(tmp_path: Path) -> None:
    async def body(w: World) -> None:
        w.api.create(rt_of("Node"), "", {"metadata": {"name": "n6"},
                                         "spec": {"podCIDR": "fd00:10:244:9::/64",
                                                  "podCIDRs": ["fd00:10:244:9::/64", "10.244.9.0/24"]}})
        w.kubelet.nodes.add("n6")
        w.api.create(rt_of("Pod"), "default", {"metadata": {"name": "p6"},
                                               "spec": {"nodeName": "n6",
                                                        "containers": [{"name": "c", "image": "nginx"}]}})
        await w.until(lambda: bool(w.status("p6").get("podIP")))
        assert w.status("p6")["podIP"].startswith("10.244.9.")
    run(tmp_path, body)


@pytest.mark.parametrize("clock", [RealClock(), FakeClock()])
def test_clock_wait_returns_on_the_event_or_the_timeout(clock: Any) -> None:
    async def main() -> None:
        ev = asyncio.Event()
        ev.set()
        assert await clock.wait(ev, 5) is True
        ev.clear()
        task = asyncio.ensure_future(clock.wait(ev, 0.05))
        if isinstance(clock, FakeClock):
            await clock.settle()
            assert clock.waiters() == 1
            clock.advance(0.05)
        assert await task is False
        task = asyncio.ensure_future(clock.wait(ev, 60))
        await asyncio.sleep(0)
        ev.set()
        assert await task is True
    asyncio.run(asyncio.wait_for(main(), 5))


def test_a_chatty_containers_log_keeps_its_newest_ten_mebibytes() -> None:
    """containerLogMaxSize (10Mi): a container writing 16 KiB lines keeps its newest lines, not 80 MB of them."""
    buf = kl.LogBuffer()
    for i in range(2000):
        buf.append(f"{i:06d}" + "x" * 16000)
    assert buf.size <= kl.LOG_MAX_BYTES
    assert sum(len(line) + 1 for _, line in buf.lines) == buf.size
    assert buf.lines[-1][1].startswith("001999")
    buf.rotate()
    assert buf.size == 0 and len(buf.previous) > 600


def test_R122_pod_ips_are_handed_out_in_order_on_a_node(tmp_path: Path) -> None:
    """host-local IPAM: the first Pod of the Node's /24 gets .2 (.1 is the gateway), the next .3, .4."""
    async def body(w: World) -> None:
        for i, name in enumerate(("first", "second", "third")):
            w.pod(name, {"name": "app", "image": "nginx"})
            await w.until(lambda n=name: bool(w.status(n).get("podIP")))  # type: ignore[misc]
            assert w.status(name)["podIP"] == f"10.244.3.{i + 2}"
        # host-local's last_reserved_ip.0, in the cluster home beside the network's sockets
        assert (tmp_path / "ipam" / "n1" / "last_reserved_ip.0").read_text() == "10.244.3.4"
    run(tmp_path, body)


def test_R122_host_local_continues_after_the_last_reserved_and_reuses_only_after_wrapping(tmp_path: Path) -> None:
    net = ipaddress.IPv4Network("10.244.7.0/29")  # .2-.6 (.0 network, .1 gateway, .7 broadcast)
    ipam = kl.HostLocal(tmp_path)
    used: set[str] = set()
    for want in ("10.244.7.2", "10.244.7.3", "10.244.7.4"):
        ip = ipam.allocate("n1", net, used)
        assert ip == want
        used.add(ip)
    used.discard("10.244.7.3")  # its Pod was deleted: the address is not given again before the range wraps
    assert ipam.allocate("n1", net, used) == "10.244.7.5"
    used.add("10.244.7.5")
    # a restarted node (a new allocator over the same state) carries on where the last one stopped
    again = kl.HostLocal(tmp_path)
    assert again.allocate("n1", net, used) == "10.244.7.6"
    used.add("10.244.7.6")
    assert again.allocate("n1", net, used) == "10.244.7.3"  # wrapped: the freed address, the first free one
    used.add("10.244.7.3")
    # another node keeps its own state
    assert again.allocate("n2", ipaddress.IPv4Network("10.244.8.0/24"), set()) == "10.244.8.2"
    with pytest.raises(RuntimeError, match="no IP addresses available"):
        again.allocate("n1", net, used)
