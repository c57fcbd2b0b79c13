"""One embedded cluster's control plane: store, API, controllers and scheduler on one event loop, and
the node machines (one process each) it starts.

This is the only place that knows how the parts are wired. Data flows:
HTTP request -> apiserver -> Api (defaults, validation, allocation) -> Store
(SQLite + memory) -> store events -> Controllers (work queues) -> writes back
through Api/Store. Each node process (sim/node/__main__.py) watches the API like
a kubelet and writes Pod status, events and its Lease back through it; the API
server proxies logs, exec, attach and port-forward to the node's kubelet
(apiserver/proxy.py). Network reads the current Services, EndpointSlices and
Pods for every in-cluster connection (cluster.net here; Pods' own in the nodes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import platform
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from .apimachinery import errors
from .apiserver.proxy import KubeletClient
from .controllers.manager import Controllers
from .controllers.nodelifecycle import NodeLifecycleSettings
from .events import Recorder
from .machines import Machines
from .network import nethttp
from .network.fabric import Network, SocketDir
from .registry.allocators import Ids
from .registry.generic import DNS_IP, KUBERNETES_IP, Api, rt_of
from .storage.store import Event, Store
from .version import K8S_MINOR, K8S_VERSION

log = logging.getLogger("kai_labs.runtime")

# kube-proxy's configuration as kubeadm writes it into kube-system/kube-proxy (the fields the rules depend on).
KUBE_PROXY_CONFIG = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                     "clusterCIDR: 10.244.0.0/16\ndetectLocalMode: ClusterCIDR\nmode: nftables\n")


# A Node carrying this annotation is run by the embedded kubelet (kwok marks its fake nodes the same way).
KUBELET_ANNOTATION = "kai-labs.dev/kubelet"


def node_names(cluster: str) -> list[str]:
    return [f"{cluster}-control-plane", f"{cluster}-worker", f"{cluster}-worker2"]


class Runtime:
    def __init__(self, home: Path, name: str = "kai-labs", seed: int | None = None) -> None:
        self.home = home
        self.name = name
        self.clock = time.time
        self.store = Store(home / "state.db")
        self.ids = Ids(self.store, seed)
        self.api = Api(self.store, self.ids, self.clock, service_accounts=True)
        self.rec = Recorder(self.api)
        self.net = Network(self.store, self.ids.seed, SocketDir(home / "net"))
        self.nodes = node_names(name)
        self.kubelets = KubeletClient(SocketDir(home / "kubelet"))
        self.machines = Machines(home, self.ids.seed)  # the node processes: start_nodes, once the API serves
        self._nodes_starting: asyncio.Future[None] | None = None
        self._zygote_starting: asyncio.Future[None] | None = None
        self.controllers = Controllers(self.api, self.rec, lambda: set(self.nodes),
                                       settings=NodeLifecycleSettings.from_env(), ca_bundle=self._ca_bundle)
        self._drain_scheduled = False
        self.controllers.on_work = self._schedule_drain
        self.controllers.on_later = self._schedule_deferred
        self._deferred_at: float | None = None
        self.store.subscribe(self._on_event)
        self.store.on_dirty = self._schedule_flush
        self.started = time.time()

    def _ca_bundle(self) -> str | None:
        """The cluster CA in PEM, for kube-root-ca.crt (None before the home has one)."""
        try:
            return (self.home / "ca.crt").read_text()
        except OSError:
            return None

    def _schedule_flush(self) -> None:
        with contextlib.suppress(RuntimeError):  # no loop (bootstrap): start() flushes
            asyncio.get_running_loop().call_soon(self.store.flush)

    # -- wiring -----------------------------------------------------------------
    def _on_event(self, ev: Event) -> None:
        if ev.key == "/nodes" and ev.type == "ADDED":
            self._register_node(ev.obj)
        elif ev.key == "/nodes" and ev.type == "DELETED":
            asyncio.get_running_loop().create_task(self.machines.remove(ev.obj["metadata"]["name"]))
        self.controllers.observe(ev)

    def _register_node(self, node: dict[str, Any]) -> None:
        """Node IPAM (a /24 of 10.244.0.0/16 per node, as kind's kube-controller-manager assigns) and,
        for Nodes annotated for the embedded kubelet, the kubelet's registration: Ready status, addresses."""
        name = node["metadata"]["name"]
        cur = self.store.get("/nodes", "", name)
        if cur is None:
            return
        changed = False
        if not cur.get("spec", {}).get("podCIDR"):
            used = {n.get("spec", {}).get("podCIDR") for n in self.store.scan("/nodes")}
            idx = next(i for i in range(256) if f"10.244.{i}.0/24" not in used)
            cur.setdefault("spec", {})["podCIDR"] = f"10.244.{idx}.0/24"
            cur["spec"]["podCIDRs"] = [cur["spec"]["podCIDR"]]
            changed = True
        owned = (cur["metadata"].get("annotations") or {}).get(KUBELET_ANNOTATION) == "embedded"
        if owned:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(self.machines.add(name))
            if not cur.get("status", {}).get("conditions"):
                idx = int(cur["spec"]["podCIDR"].split(".")[2])
                cur["status"] = self._node(name, idx)["status"]
                changed = True
        if changed:
            self.store.put("/nodes", cur, "MODIFIED")

    def _schedule_drain(self) -> None:
        if self._drain_scheduled:
            return
        self._drain_scheduled = True
        try:
            # a few milliseconds of batching, as controllers' work queues do
            asyncio.get_running_loop().call_later(0.003, self._drain)
        except RuntimeError:  # no loop yet (bootstrap): drained at start
            self._drain_scheduled = False

    def _schedule_deferred(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        if self._deferred_at is not None and self._deferred_at <= due:
            return
        self._deferred_at = due

        def fire() -> None:
            self._deferred_at = None
            self.controllers.release_deferred()
            self._schedule_drain()

        loop.call_at(due, fire)

    def _drain(self) -> None:
        self._drain_scheduled = False
        # bounded slices of work so API requests are served in between
        self.controllers.drain(budget=0.05)
        if self.controllers.pending():
            self._schedule_drain()

    def start(self) -> None:
        """Bootstrap default objects, resume Pods, run pending work (inside the loop)."""
        self.bootstrap()
        for n in self.store.iter("/namespaces"):  # each namespace's ServiceAccount and kube-root-ca.crt
            self.controllers.queue["serviceaccount"].add(("", n["metadata"]["name"]))
        self.controllers.drain()
        self.store.flush()
        for svc in self.store.iter("/services"):
            self.controllers.queue["service"].add((svc["metadata"]["namespace"], svc["metadata"]["name"]))
        for d in self.store.iter("apps/deployments"):
            self.controllers.queue["deployment"].add((d["metadata"]["namespace"], d["metadata"]["name"]))
        for r in self.store.iter("apps/replicasets"):
            self.controllers.queue["replicaset"].add((r["metadata"]["namespace"], r["metadata"]["name"]))
        for e in self.store.iter("/endpoints"):
            self.controllers.queue["mirroring"].add((e["metadata"]["namespace"], e["metadata"]["name"]))
        for r in self.store.iter("/replicationcontrollers"):
            self.controllers.queue["replicationcontroller"].add((r["metadata"]["namespace"], r["metadata"]["name"]))
        for p in self.store.iter("/pods"):
            if not p.get("spec", {}).get("nodeName"):
                self.controllers.queue["schedule"].add((p["metadata"]["namespace"], p["metadata"]["name"]))
        for n in self.store.iter("/namespaces"):
            if n["metadata"].get("deletionTimestamp"):
                self.controllers.queue["namespace"].add(("", n["metadata"]["name"]))
        self._schedule_drain()

    def embedded_nodes(self) -> list[str]:
        """The Nodes whose kubelet this cluster runs (its own, and any created with the annotation)."""
        owned = {n["metadata"]["name"] for n in self.store.scan("/nodes")
                 if (n["metadata"].get("annotations") or {}).get(KUBELET_ANNOTATION) == "embedded"}
        return sorted(owned)

    def loopback_path(self) -> str:
        """The API's Unix socket for the cluster's own components (short enough for sun_path)."""
        return SocketDir(self.home / "run").path("api")

    async def start_nodes(self) -> None:
        """Power on the node machines (inside the loop, once the API serves on its loopback socket)."""
        await self.machines.start_all(self.embedded_nodes(), self.loopback_path())

    def start_nodes_soon(self, zygote: asyncio.Future[None]) -> None:
        """start_nodes in the background, once the zygote (started early) is there."""
        async def go() -> None:
            # shielded: stopping the nodes cancels this, and a zygote cancelled halfway through its process's
            # creation waited for that process forever (asyncio.run never ended on an error at start)
            await asyncio.shield(zygote)
            await self.start_nodes()

        self._zygote_starting = zygote
        self._nodes_starting = asyncio.ensure_future(go())

    async def stop_nodes(self) -> None:
        if self._nodes_starting is not None and not self._nodes_starting.done():
            self._nodes_starting.cancel()
        if self._zygote_starting is not None:  # let it finish starting, so that shutdown stops it
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._zygote_starting), 10.0)
        await self.machines.shutdown()

    async def stop(self) -> None:
        await self.machines.shutdown()
        await self.kubelets.close()
        self.store.close()

    # -- bootstrap --------------------------------------------------------------
    def bootstrap(self) -> None:
        api = self.api
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            if self.store.peek("/namespaces", "", ns) is None:
                api.create(rt_of("Namespace"), "", {"metadata": {"name": ns, "labels": {
                    "kubernetes.io/metadata.name": ns}}})
        for i, node in enumerate(self.nodes):
            if self.store.peek("/nodes", "", node) is None:
                api.create(rt_of("Node"), "", self._node(node, i))
                n = self.store.get("/nodes", "", node)
                assert n is not None
                if not n.get("status", {}).get("conditions"):
                    n["status"] = self._node(node, i)["status"]
                    self.store.put("/nodes", n, "MODIFIED")
        if self.store.peek("/services", "default", "kubernetes") is None:
            api.create(rt_of("Service"), "default", {
                "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {"clusterIP": KUBERNETES_IP, "ports": [
                    {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}})
            api.create(rt_of("Endpoints"), "default", {
                "metadata": {"name": "kubernetes", "labels": {
                    "endpointslice.kubernetes.io/skip-mirror": "true"}},
                "subsets": [{"addresses": [{"ip": "172.18.0.2"}],
                             "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]})
            api.create(rt_of("EndpointSlice"), "default", {
                "metadata": {"name": "kubernetes", "labels": {
                    "kubernetes.io/service-name": "kubernetes",
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["172.18.0.2"], "conditions": {
                    "ready": True, "serving": True, "terminating": False}}],
                "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]})
        if self.store.peek("/services", "kube-system", "kube-dns") is None:
            api.create(rt_of("Service"), "kube-system", {
                "metadata": {"name": "kube-dns", "labels": {
                    "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
                    "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
                "spec": {"clusterIP": DNS_IP, "selector": {"k8s-app": "kube-dns"}, "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]}})
        if self.store.peek("/configmaps", "kube-system", "kube-proxy") is None:
            # The proxy mode, stated where kubeadm and kind state it (kube-system/kube-proxy, config.conf).
            # nftables: the embedded proxy rejects a port a ClusterIP does not define (R49), as nftables does.
            api.create(rt_of("ConfigMap"), "kube-system", {
                "metadata": {"name": "kube-proxy", "labels": {"app": "kube-proxy"}},
                "data": {"config.conf": KUBE_PROXY_CONFIG}})
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            if self.store.peek("/serviceaccounts", ns, "default") is None:
                api.create(rt_of("ServiceAccount"), ns, {"metadata": {"name": "default"}})

    def _node(self, name: str, index: int) -> dict[str, Any]:
        control = index == 0
        # The labels a kind node's kubelet registers with (pkg/kubelet/kubelet_node_status.go
        # initialNode: hostname, os, arch and their beta twins) and, on the control plane, the two kubeadm
        # adds. No topology.kubernetes.io/zone: kind has no cloud provider to set one, so its EndpointSlices
        # carry no zone; a lesson that teaches topology labels its nodes itself.
        labels = {
            "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
        }
        if control:
            labels["node-role.kubernetes.io/control-plane"] = ""
            labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        ip = f"172.18.{(index + 2) // 256}.{(index + 2) % 256}"
        now = self.api.now()

        def cond(t: str, s: str, r: str, m: str) -> dict[str, str]:
            return {"type": t, "status": s, "lastHeartbeatTime": now, "lastTransitionTime": now, "reason": r,
                    "message": m}

        return {
            "metadata": {"name": name, "labels": labels,
                         "annotations": {KUBELET_ANNOTATION: "embedded", "node.alpha.kubernetes.io/ttl": "0",
                                         "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"],
                     "providerID": f"kind://docker/{self.name}/{name}",
                     **({"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}
                        if control else {})},
            "status": {
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                "capacity": {"cpu": "2", "ephemeral-storage": "263174212Ki", "memory": "24601060Ki", "pods": "110"},
                "allocatable": {"cpu": "2", "ephemeral-storage": "263174212Ki", "memory": "24601060Ki",
                                "pods": "110"},
                "conditions": [
                    cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
                         "kubelet has sufficient memory available"),
                    cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"architecture": "amd64", "bootID": self.ids.uid("boot", "", name),
                             "containerRuntimeVersion": "containerd://2.1.3",
                             "kernelVersion": platform.release(), "kubeProxyVersion": "",
                             "kubeletVersion": K8S_VERSION, "machineID": self.ids.uid("machine", "", name)
                             .replace("-", ""), "operatingSystem": "linux",
                             "osImage": "Debian GNU/Linux 12 (bookworm)", "systemUUID": self.ids.uid(
                                 "system", "", name)},
            },
        }

    def version_info(self) -> dict[str, Any]:
        return {"major": "1", "minor": K8S_MINOR, "emulationMajor": "1", "emulationMinor": K8S_MINOR,
                "minCompatibilityMajor": "1", "minCompatibilityMinor": str(int(K8S_MINOR) - 1),
                "gitVersion": K8S_VERSION, "gitCommit": "kai-labs-embedded", "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.6", "compiler": "gc",
                "platform": "linux/amd64"}

    # -- subresources the apiserver delegates -----------------------------------
    def bind(self, ns: str, name: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("target"), dict):
            raise errors.bad_request("a Binding needs a target")
        pod = self.api.get(rt_of("Pod"), ns, name)
        if pod["spec"].get("nodeName"):
            raise errors.conflict("pods", name, "", f"pod {name} is already assigned to node "
                                                    f"\"{pod['spec']['nodeName']}\"")
        self.controllers.bind(pod, str(body["target"].get("name", "")))
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    async def pod_log(self, request: web.Request, ns: str, name: str) -> web.StreamResponse:
        pod = self.api.get(rt_of("Pod"), ns, name)
        q = request.query
        containers = [c["name"] for c in pod["spec"].get("containers", [])]
        container = q.get("container")
        if container is None:
            if len(containers) > 1:
                raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                         f"[{' '.join(containers)}]")
            container = containers[0] if containers else None
        elif container not in containers:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        node = pod["spec"].get("nodeName") or ""
        served = await self.kubelets.logs(request, node, self._node_ip(node), ns, name, container) \
            if node and container and node in self.embedded_nodes() else None
        if served is not None:
            return served
        phase = pod.get("status", {}).get("phase", "Pending")
        if phase == "Pending" or not node:
            waiting = ""
            for cs in pod.get("status", {}).get("containerStatuses") or []:
                if cs["name"] == container:
                    waiting = (cs.get("state", {}).get("waiting") or {}).get("reason", "")
            why = waiting or "ContainerCreating"
            raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: '
                                     f"{'trying and failing to pull image' if 'Image' in why else why}"
                                     if why in ("ContainerCreating", "ErrImagePull", "ImagePullBackOff")
                                     else f'container "{container}" in pod "{name}" is waiting to start')
        if request.query.get("previous") == "true":
            raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return web.Response(text="")

    def _node_ip(self, node: str) -> str:
        n = self.store.peek("/nodes", "", node)
        for a in (n or {}).get("status", {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                return str(a["address"])
        return "172.18.0.2"

    async def pod_stream(self, request: web.Request, sub: str, ns: str, name: str) -> web.StreamResponse:
        """pods/exec, pods/attach, pods/portforward: checked here, served by the node's kubelet
        (node/streaming.py through apiserver/proxy.py)."""
        pod = self.api.get(rt_of("Pod"), ns, name)
        node = pod["spec"].get("nodeName") or ""
        if not node:
            raise errors.bad_request(f"pod {name} does not have a host assigned")
        if node not in self.embedded_nodes():  # a Node no kubelet of ours runs (kwok-like): nothing serves it
            raise errors.bad_request(f'container not found ("{request.query.get("container") or ""}")')
        return await self.kubelets.stream(request, node, self._node_ip(node), sub, ns, name)

    # -- kai-labs extension endpoints -------------------------------------------
    async def _machines(self, request: web.Request, rest: list[str]) -> web.StreamResponse:
        """GET /kai-labs/v1/machines; POST /kai-labs/v1/machines/<node>/{stop,start} (``kai-labs node``)."""
        if not rest and request.method == "GET":
            return web.json_response({"machines": self.machines.status()})
        if len(rest) != 2 or request.method != "POST" or rest[1] not in ("stop", "start"):
            raise errors.unknown_resource()
        node = rest[0]
        if node not in self.embedded_nodes():
            raise errors.not_found("nodes", node)
        if rest[1] == "stop":
            await self.machines.stop(node)
        else:
            await self.machines.start(node)
        return web.json_response({"machines": self.machines.status()})

    async def handle_extension(self, request: web.Request, seg: list[str]) -> web.StreamResponse:
        if seg[:2] != ["v1", "net"] or len(seg) != 3 or request.method != "POST":
            if seg == ["v1", "info"]:
                running = sum(1 for p in self.store.scan("/pods") if p.get("status", {}).get("phase") == "Running")
                return web.json_response({"name": self.name, "seed": self.ids.seed, "nodes": self.nodes,
                                          "pods_running": running})
            if seg[:2] == ["v1", "machines"]:
                return await self._machines(request, seg[2:])
            raise errors.unknown_resource()
        try:
            body = await request.json()
        except (json.JSONDecodeError, ValueError):
            raise errors.bad_request("the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise errors.bad_request("the body must be a JSON object")
        op = seg[2]
        if op == "resolve":
            return web.json_response(nethttp.resolve(self.net, body))
        if op == "route":
            return web.json_response(nethttp.route(self.net, body))
        if op == "curl":
            return web.json_response(await nethttp.curl(self.net, body, self.nodes[1]))
        raise errors.unknown_resource()
