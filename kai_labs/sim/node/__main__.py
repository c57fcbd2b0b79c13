"""The embedded cluster's nodes: ``python -m kai_labs.sim.node --home DIR --seed N`` (a zygote).

Started by the control plane (``sim/machines.py``): a zygote that forks one process per Node, as kind runs
one container per node. A node process holds the node's kubelet, its Pods' emulated programs and its share
of the Pod network; it reaches the cluster only through the API server, as a kubelet does: informers
(list + watch), the Pod status manager, events, the node Lease renewed every 10 s (pkg/kubelet/nodelease:
renewInterval is a quarter of leaseDurationSeconds 40) and the node status (pkg/kubelet/kubelet_node_status.go).

A node that is stuck or killed therefore stops only its own Pods; the API keeps serving and the node
lifecycle controller sees the heartbeats stop. A node process ends on SIGTERM or when its zygote is gone;
it then stops its containers without telling the API, like a machine that loses power.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import datetime as dt
import gc
import ipaddress
import logging
import os
import resource
import select
import signal
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..apiserver import tls
from ..clock import RealClock
from ..network.fabric import Network, SocketDir
from ..registry.allocators import Picks
from ..remote import PATHS, ApiConnection, Cache, EventSender, PodWriter
from .kubelet import Kubelet, pod_cidr
from .server import KubeletServer

log = logging.getLogger("kai_labs.node")

LEASE_DURATION = 40  # nodeLeaseDurationSeconds (kubelet config default)
LEASE_RENEW = LEASE_DURATION / 4  # pkg/kubelet/nodelease: renewInterval = 0.25 * duration
STATUS_REPORT = 60.0  # node status re-posted at least this often (the kubelet: on change, checked every
# nodeStatusUpdateFrequency 10 s, else every nodeStatusReportFrequency 5 min; kai-labs posts its heartbeat more often)


def micro_time() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# A node process's address space, as a kind node container's memory: the Pods' own budgets (their
# containers' memory limits, node/tools.py) come first; this only bounds what a bug could take.
NODE_MEMORY = 2 << 30

KUBELET_CONDITIONS = [  # kubelet_node_status.go setters: type, status, reason, message
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
]


# glibc's malloc keeps the chunks a burst of work freed (hundreds of Pod versions decoded, copied and let
# go) inside its heap: only the heap's top goes back on free, and its mmap threshold grows with the largest
# block freed, so later large blocks land in the heap too. A node that has just started ninety Pods held
# ~4.7 MB of such free memory in its RSS (~1.3 MB of its PSS: most were pages it shared with the zygote).
# malloc_trim(0) gives those pages back (madvise); it is called once the node has been quiet for a while
# after activity.
HEAP_QUIET = 1.0  # seconds without an informer event before the heap is trimmed


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None on a C library without it (musl, macOS): there, nothing is trimmed."""
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


async def release_heap(activity: Callable[[], int], trim: Callable[[int], int], quiet: float = HEAP_QUIET,
                       sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Trim the heap once per burst: after ``activity()`` moved, and then stayed for ``quiet`` seconds."""
    seen = activity()
    dirty = True  # the start (informers listed, Pods resumed) is a burst too
    while True:
        await sleep(quiet)
        now = activity()
        if now != seen:
            seen, dirty = now, True
        elif dirty:
            trim(0)
            dirty = False


class Node:
    def __init__(self, home: Path, name: str, server: str, seed: int, ctx: ssl.SSLContext | None = None) -> None:
        self.home = home
        self.name = name
        token = (home / "token").read_text().strip()
        self.conn = ApiConnection(server, token, ctx)
        # its own Pods only, as a kubelet's informer (fieldSelector spec.nodeName); other nodes' Pods are known
        # to the network through their sandboxes (network/fabric.py)
        self.cache = Cache(self.conn, list(PATHS), {"/pods": f"spec.nodeName={name}"})
        self.sockets = SocketDir(home / "net")
        self.net = Network(self.cache, seed, self.sockets, peers=True)
        self.writer = PodWriter(self.conn, self.cache)
        self.events = EventSender(self.conn)
        self.kubelet: Kubelet | None = None
        self.server: KubeletServer | None = None
        self.seed = seed
        self._tasks: list[asyncio.Task[None]] = []
        self.activity = 0  # informer events seen: the heap is trimmed after they stop for a while

    async def start(self) -> None:
        await self.cache.start()
        self._clean_sandboxes()
        self.kubelet = Kubelet(Picks(self.seed), self.net, self.events, [self.name], lister=self.cache,
                               client=self.writer, clock=RealClock())
        self.cache.subscribe(self.kubelet.observe)
        self.cache.subscribe(self._active)
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
        trim = malloc_trim()
        if trim is not None:
            self._tasks.append(loop.create_task(release_heap(lambda: self.activity, trim)))

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

    # -- memory --------------------------------------------------------------------
    def _active(self, _ev: Any) -> None:
        self.activity += 1

    # -- heartbeats ----------------------------------------------------------------
    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        last_status = loop.time()
        while True:
            try:
                await self.renew_lease()
                if loop.time() - last_status >= STATUS_REPORT or self._status_differs():
                    await self.post_status()
                    last_status = loop.time()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the API is away: try again at the next beat
                log.info("heartbeat: %s", e)
            await asyncio.sleep(LEASE_RENEW)

    def _status_differs(self) -> bool:
        """The API shows other conditions than the kubelet's (the node lifecycle controller set them Unknown
        while we were silent): tryUpdateNodeStatus then posts at once instead of waiting for the report period."""
        node = self.cache.peek("/nodes", "", self.name)
        if node is None:
            return False
        have = {c.get("type"): c.get("status") for c in node.get("status", {}).get("conditions") or []}
        return any(have.get(t) != status for t, status, _, _ in KUBELET_CONDITIONS)

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


async def _orphaned(parent: int, stop: asyncio.Event) -> None:
    """Stop when the process that started us is gone (we are handed to init): nobody supervises us."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("the node machines' supervisor is gone: stopping")
            stop.set()
            return
        await asyncio.sleep(1.0)


async def run(home: Path, name: str, server: str, seed: int, parent: int, ctx: ssl.SSLContext | None) -> int:
    node = Node(home, name, server, seed, ctx)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watch = loop.create_task(_orphaned(parent, stop))
    # a TERM while still starting (the cluster stopped right after `up`: the informers wait for an API that
    # is going away) ends the start at once rather than after the supervisor's grace and a KILL
    starting = loop.create_task(node.start())
    stopped = loop.create_task(stop.wait())
    await asyncio.wait([starting, stopped], return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await starting
        watch.cancel()
        log.info("node %s stopped while starting", name)
        await node.stop()
        return 0
    stopped.cancel()
    try:
        starting.result()
    except Exception as e:
        log.error("node %s could not start: %s", name, e)
        return 1
    print(f"ready {name}", flush=True)
    log.info("node %s ready", name)
    await stop.wait()
    watch.cancel()
    log.info("node %s stopping", name)
    await node.stop()
    return 0


# --------------------------------------------------------------------------- the zygote
# Node processes are forked from one process that has imported everything once ("zygote", as Android
# starts apps): the modules' memory is shared between all node processes (copy-on-write; gc.freeze keeps
# the collector from touching it), so eleven nodes cost little more than one. The control plane talks
# to the zygote over its stdin/stdout, one line per message:
#   in:  "spawn <node>"                      out: "started <node> <pid>", "ready <node>" (from the child),
#                                                  "exited <node> <pid> <code>"
# The zygote ends when its stdin closes, stopping its children (TERM, then KILL). It starts before the API
# serves (its imports overlap the control plane's start), so the API's URL comes with each spawn.

def _child(home: Path, name: str, server: str, seed: int, zygote: int, ctx: ssl.SSLContext | None) -> None:
    """In the forked child: a node process of its own. Never returns."""
    code = 1
    try:
        with contextlib.suppress(ValueError, OSError):  # the machine's memory: a backstop under the Pods' budgets
            resource.setrlimit(resource.RLIMIT_AS, (NODE_MEMORY, resource.getrlimit(resource.RLIMIT_AS)[1]))
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # the zygote's TERM handler (close stdin) would make a TERM that comes before run() installs its own
        # do nothing: the node then started anyway and was KILLed after the grace. Until then, TERM ends it;
        # one sent while we were being forked waited, blocked, until now (the zygote blocks it around fork)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        logf = os.open(home / "nodes" / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(logf, 2)
        os.close(logf)
        for h in logging.getLogger().handlers:
            h.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {name} %(name)s: %(message)s"))
        code = asyncio.run(run(home, name, server, seed, zygote, ctx))
    except BaseException:
        log.exception("node %s failed", name)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(code)


def zygote(home: Path, seed: int) -> int:
    ctx = None  # the API's loopback socket needs no TLS; an https:// server gets the home's CA
    gc.collect()
    gc.freeze()
    children: dict[int, str] = {}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)

    def on_child(_sig: int, _frame: Any) -> None:
        with contextlib.suppress(OSError):
            os.write(wake_w, b"x")

    signal.signal(signal.SIGCHLD, on_child)
    signal.signal(signal.SIGTERM, lambda _s, _f: os.close(0))  # treated as the end of stdin
    me = os.getpid()
    buf = b""

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            name = children.pop(pid, "?")
            say(f"exited {name} {pid} {os.waitstatus_to_exitcode(status)}")

    open_stdin = True
    while open_stdin:
        try:
            ready, _, _ = select.select([0, wake_r], [], [])
        except (OSError, ValueError):  # stdin closed by SIGTERM
            break
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_r, 4096)
            reap()
        if 0 in ready:
            data = os.read(0, 4096)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                parts = line.decode(errors="replace").split(maxsplit=2)  # the server may be a path with spaces
                if len(parts) == 3 and parts[0] == "spawn":
                    sys.stdout.flush()
                    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
                    pid = os.fork()
                    if pid != 0:
                        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                    if pid == 0:
                        if parts[2].startswith("https://"):
                            ctx = tls.client_context(home)
                        _child(home, parts[1], parts[2], seed, me, ctx)
                    children[pid] = parts[1]
                    say(f"started {parts[1]} {pid}")
    for pid in list(children):  # the control plane is gone or stops us: so do the nodes
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5.0
    while children and time.monotonic() < deadline:
        reap()
        time.sleep(0.05)
    for pid in list(children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kai_labs.sim.node")
    p.add_argument("--home", required=True)
    p.add_argument("--seed", type=int, required=True)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s zygote %(name)s: %(message)s")
    return zygote(Path(a.home), a.seed)


if __name__ == "__main__":
    sys.exit(main())
