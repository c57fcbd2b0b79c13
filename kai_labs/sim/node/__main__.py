"""One node of the embedded cluster: ``python -m kai_labs.sim.node --home DIR --node NAME --server URL``.

Started by the control plane (``sim/machines.py``), one process per Node, as kind runs one container per
node. The process holds the node's kubelet, its Pods' emulated programs and its share of the Pod network;
it reaches the cluster only through the API server, as a kubelet does: informers (list + watch), the Pod
status manager, events, the node Lease renewed every 10 s (pkg/kubelet/nodelease: renewInterval is a quarter
of leaseDurationSeconds 40) and the node status (pkg/kubelet/kubelet_node_status.go).

A node that is stuck or killed therefore stops only its own Pods; the API keeps serving and the node
lifecycle controller sees the heartbeats stop. The process ends when its standard input closes (the control
plane is gone) or on SIGTERM; it then stops its containers without telling the API, like a machine that
loses power.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ..clock import RealClock
from ..network.fabric import Network, SocketDir
from ..registry.allocators import Picks
from ..remote import PATHS, ApiConnection, Cache, EventSender, PodWriter
from .kubelet import Kubelet, pod_cidr
from .server import KubeletServer

log = logging.getLogger("kai_labs.node")

LEASE_DURATION = 40  # nodeLeaseDurationSeconds (kubelet config default)
LEASE_RENEW = LEASE_DURATION / 4  # pkg/kubelet/nodelease: renewInterval = 0.25 * duration
STATUS_REPORT = 60.0  # node status re-posted at least this often (kubelet: on change, or nodeStatusReportFrequency)


def micro_time() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


KUBELET_CONDITIONS = [  # kubelet_node_status.go setters: type, status, reason, message
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
]


class Node:
    def __init__(self, home: Path, name: str, server: str, seed: int) -> None:
        self.home = home
        self.name = name
        token = (home / "token").read_text().strip()
        self.conn = ApiConnection(server, token, str(home / "ca.crt"))
        self.cache = Cache(self.conn, list(PATHS))
        self.sockets = SocketDir(home / "net")
        self.net = Network(self.cache, seed, self.sockets)
        self.writer = PodWriter(self.conn, self.cache)
        self.events = EventSender(self.conn)
        self.kubelet: Kubelet | None = None
        self.server: KubeletServer | None = None
        self.seed = seed
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.cache.start()
        self._clean_sandboxes()
        self.kubelet = Kubelet(Picks(self.seed), self.net, self.events, [self.name], lister=self.cache,
                               client=self.writer, clock=RealClock())
        self.cache.subscribe(self.kubelet.observe)
        await self.post_status()
        self.kubelet.resume()
        self.server = KubeletServer(self.kubelet, self.net)
        kdir = SocketDir(self.home / "kubelet")
        path = kdir.path(self.name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        await self.server.start(path)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._heartbeat()))

    def _clean_sandboxes(self) -> None:
        """Sandboxes a killed process of this node left behind (its sockets answer nobody)."""
        cidr = pod_cidr(self.cache.peek("/nodes", "", self.name))
        for ip in self.sockets.sandboxes():
            with contextlib.suppress(ValueError):
                if ipaddress.ip_address(ip) in cidr:
                    self.sockets.sandbox_down(ip)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self.kubelet is not None:
            await self.kubelet.shutdown()
        if self.server is not None:
            await self.server.stop()
        await self.cache.stop()
        await self.conn.close()

    # -- heartbeats ----------------------------------------------------------------
    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        last_status = loop.time()
        while True:
            try:
                await self.renew_lease()
                if loop.time() - last_status >= STATUS_REPORT:
                    await self.post_status()
                    last_status = loop.time()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the API is away: try again at the next beat
                log.info("heartbeat: %s", e)
            await asyncio.sleep(LEASE_RENEW)

    async def renew_lease(self) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.name}"
        code, lease = await self.conn.request("GET", path)
        if code == 404:
            node = self.cache.peek("/nodes", "", self.name) or {}
            uid = node.get("metadata", {}).get("uid", "")
            body: dict[str, Any] = {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": "kube-node-lease", "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": uid}]},
                "spec": {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_DURATION,
                         "renewTime": micro_time()}}
            code, answer = await self.conn.request(
                "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", body)
            if code not in (201, 409):
                log.debug("lease create: HTTP %s %s", code, (answer or {}).get("message", ""))
            return
        if code != 200 or not isinstance(lease, dict):
            return
        lease.setdefault("spec", {})["renewTime"] = micro_time()
        lease["spec"]["holderIdentity"] = self.name
        lease["spec"]["leaseDurationSeconds"] = LEASE_DURATION
        await self.conn.request("PUT", path, lease)

    async def post_status(self) -> None:
        """The kubelet's node status: its four conditions, heartbeat now (transition kept when unchanged)."""
        for _ in range(3):
            code, node = await self.conn.request("GET", f"/api/v1/nodes/{self.name}")
            if code != 200 or not isinstance(node, dict):
                return
            now = now_iso()
            st = node.setdefault("status", {})
            old = {c.get("type"): c for c in st.get("conditions") or []}
            conds = []
            for ctype, status, reason, message in KUBELET_CONDITIONS:
                prev = old.get(ctype) or {}
                conds.append({"type": ctype, "status": status, "lastHeartbeatTime": now,
                              "lastTransitionTime": prev.get("lastTransitionTime", now)
                              if prev.get("status") == status else now,
                              "reason": reason, "message": message})
            st["conditions"] = conds
            code, _ = await self.conn.request("PUT", f"/api/v1/nodes/{self.name}/status", node)
            if code != 409:
                return


async def run(home: Path, name: str, server: str, seed: int) -> int:
    node = Node(home, name, server, seed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def parent_gone() -> None:
        try:
            data = os.read(0, 1024)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            stop.set()

    with contextlib.suppress(OSError, ValueError):
        loop.add_reader(0, parent_gone)
    try:
        await node.start()
    except Exception as e:
        log.error("node %s could not start: %s", name, e)
        return 1
    print("ready", flush=True)
    log.info("node %s ready", name)
    await stop.wait()
    log.info("node %s stopping", name)
    await node.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kai_labs.sim.node")
    p.add_argument("--home", required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--seed", type=int, required=True)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s {a.node} %(name)s: %(message)s")
    return asyncio.run(run(Path(a.home), a.node, a.server, a.seed))


if __name__ == "__main__":
    sys.exit(main())
