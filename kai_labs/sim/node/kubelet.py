"""The kubelet: runs each Pod of our Nodes for real, probes it, reports its status.

Lifecycle, events and status texts follow pkg/kubelet (kuberuntime_container.go
events, status/generate.go conditions, prober/worker.go probe state machine:
R29-R32). Containers are emulated by images.py as real servers on loopback.
Pods bound to a Node we do not run keep whatever status clients write (as kwok
does), so tests and tools can stage any Pod state.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import hashlib
import ipaddress
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..apimachinery import errors
from ..clock import Clock, RealClock
from ..network.fabric import Network, PodNetView, PodSockets
from ..storage.store import Event, Obj, clone
from ..version import K8S_MINOR
from . import images

log = logging.getLogger("kai_labs.kubelet")

BACKOFF_MAX = 300.0  # MaxContainerBackOff (pkg/kubelet/kubelet.go): image pulls and crashed containers
IMAGE_BACKOFF_INITIAL = 10.0  # backOffPeriod (pkg/kubelet/kubelet.go), doubled per failed pull
ERR_PULL_SHOWN = 1.0  # how long a failed pull shows ErrImagePull before the next sync says ImagePullBackOff

LOG_MAX_BYTES = 10 << 20  # a container's log kept for `kubectl logs`: containerLogMaxSize (10Mi by default)


def _ts(t: float | None = None) -> str:
    return dt.datetime.fromtimestamp(t if t is not None else time.time(), dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _qualified(image: str) -> str:
    """containerd's fully qualified reference: docker.io/library/nginx:latest."""
    name = image.split("@")[0]
    first = name.split("/")[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif "." not in first and ":" not in first and first != "localhost":
        name = "docker.io/" + name
    tail = name.rsplit("/", 1)[-1]
    return name if ":" in tail else name + ":latest"


def image_id(image: str) -> str:
    repo = _qualified(image).rsplit(":", 1)[0]
    return f"{repo}@sha256:" + hashlib.sha256(_qualified(image).encode()).hexdigest()


def image_size(image: str) -> int:
    return 20_000_000 + int(hashlib.sha256(image.encode()).hexdigest()[:6], 16)


@dataclass
class LogBuffer:
    lines: collections.deque[tuple[float, str]] = field(default_factory=lambda: collections.deque(maxlen=5000))
    previous: list[tuple[float, str]] = field(default_factory=list)
    waiters: list[asyncio.Event] = field(default_factory=list)
    closed: bool = False

    size: int = 0  # bytes in ``lines``

    def append(self, line: str) -> None:
        for part in line.rstrip("\n").split("\n"):
            if len(self.lines) == self.lines.maxlen:
                self.size -= len(self.lines[0][1]) + 1
            self.lines.append((time.time(), part))
            self.size += len(part) + 1
        while self.size > LOG_MAX_BYTES and len(self.lines) > 1:  # the oldest lines go, as log rotation
            self.size -= len(self.lines.popleft()[1]) + 1
        for w in self.waiters:
            w.set()

    def rotate(self) -> None:
        self.previous = list(self.lines)
        self.lines.clear()
        self.size = 0


@dataclass
class ProbeState:
    result: bool  # the published result
    run: int = 0  # consecutive identical raw results
    last: bool | None = None


class ContainerRun:
    def __init__(self, spec: Obj) -> None:
        self.spec = spec
        self.name: str = spec["name"]
        self.app: images.Container | None = None
        self.started_at: float | None = None
        self.ready = False
        self.restarts = 0
        self.state: dict[str, Any] = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: dict[str, Any] = {}
        self.readiness: ProbeState | None = None
        self.liveness: ProbeState | None = None
        self.startup_done = "startupProbe" not in spec
        self.logs = LogBuffer()
        self.tasks: list[asyncio.Task[Any]] = []


class PodWorker:
    def __init__(self, kubelet: Kubelet, ns: str, name: str) -> None:
        self.k = kubelet
        self.ns = ns
        self.name = name
        self.wake = asyncio.Event()
        self.containers: dict[str, ContainerRun] = {}
        self.ip: str | None = None
        self.task = asyncio.get_running_loop().create_task(self.run())
        self.stopping = False
        self.done = False
        self.writing = False  # our own status write is under way: its store event must not wake us

    def pod(self) -> Obj | None:
        """The Pod as the cache has it, with the status this kubelet last wrote when the cache has not seen
        that write yet (the status manager's own copy, pkg/kubelet/status: writes reach the API later)."""
        pod = self.k.lister.get("/pods", self.ns, self.name)
        if pod is not None:
            own = self.k.client.own_status(self.ns, self.name)
            if own is not None:
                pod["status"] = clone(own)
        return pod

    def k_node(self) -> str:
        pod = self.k.lister.peek("/pods", self.ns, self.name)
        return str((pod or {}).get("spec", {}).get("nodeName", ""))

    # -- main loop ---------------------------------------------------------------
    async def run(self) -> None:
        try:
            pod = self.pod()
            if pod is None:
                return
            if pod["metadata"].get("deletionTimestamp") and not self.containers:
                # a Pod deleted while this node was away: nothing is started, its stop is confirmed
                # (the pod workers only kill a terminating Pod, pkg/kubelet/pod_workers.go)
                await self._terminate(pod)
                return
            if not await self._pull_images(pod):
                return
            await self._start(pod)
            pod = None  # a worker waits most of its life: it holds no copy of its Pod meanwhile
            while not self.stopping:
                self.wake.clear()
                cached = self.k.lister.peek("/pods", self.ns, self.name)
                if cached is None:
                    break
                if cached["metadata"].get("deletionTimestamp"):
                    pod = self.pod()
                    if pod is not None:
                        await self._terminate(pod)
                    break
                await self._sync_status()
                await self.wake.wait()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pod worker %s/%s failed", self.ns, self.name)
        finally:
            await self._stop_all()
            if self.ip:
                self.k.net.unregister(self.ip)
            self.done = True

    def event(self, etype: str, reason: str, message: str, container: str | None = None) -> None:
        pod = self.k.lister.peek("/pods", self.ns, self.name)
        if pod is None:
            return
        fp = f"spec.containers{{{container}}}" if container else ""
        self.k.rec.event(pod, etype, reason, message, "kubelet", pod["spec"].get("nodeName", ""), fp)

    def _going(self) -> bool:
        """What ends a back-off early: the worker stops, or the Pod is deleted or being deleted."""
        if self.stopping:
            return True
        pod = self.k.lister.peek("/pods", self.ns, self.name)
        return pod is None or bool(pod["metadata"].get("deletionTimestamp"))

    async def _backoff(self, seconds: float) -> bool:
        """Wait ``seconds``; False as soon as the Pod goes away (see _going), True when the time is up.

        Always really suspends: ``wake`` is cleared right before each wait (whatever set it has just been
        looked at by _going), so neither an event set earlier nor any other update of the Pod (labels,
        another writer's status) cuts the back-off short. On Python 3.12+ ``wait_for(event.wait())`` on an
        event that is already set returns without ever yielding to the loop, so a loop waiting like that
        never lets the API server run."""
        clock = self.k.clock
        deadline = clock.monotonic() + seconds
        while not self._going():
            left = deadline - clock.monotonic()
            if left <= 0:
                return True
            self.wake.clear()
            await clock.wait(self.wake, left)
        return False

    async def _pull_images(self, pod: Obj) -> bool:
        """Images the cluster does not emulate fail to pull, as in pkg/kubelet/images/image_manager.go
        (EnsureImageExists): Pulling, Failed "Failed to pull image ...", then "Error: ErrImagePull"
        (kuberuntime_container.go startContainer); until the per-image flowcontrol.Backoff has run out
        (10 s doubling to 5 min, kubelet.go backOffPeriod / MaxContainerBackOff) each sync reports BackOff
        "Back-off pulling image ..." and "Error: ImagePullBackOff". The recorder aggregates repeats (counts),
        so a Pod stuck there keeps a handful of Events."""
        bad = [(c["name"], c.get("image", ""), images.image_error(c.get("image", "")))
               for c in pod["spec"].get("containers", [])]
        bad = [b for b in bad if b[2]]
        if not bad:
            return True
        backoff = IMAGE_BACKOFF_INITIAL
        while not self.stopping:
            cur = self.pod()
            if cur is None:
                return False
            if cur["metadata"].get("deletionTimestamp"):
                await self._terminate(cur)
                return False
            for cname, image, msg in bad:  # a pull attempt, failing
                self.event("Normal", "Pulling", f'Pulling image "{image}"', cname)
                self.event("Warning", "Failed", msg or "", cname)
                self.event("Warning", "Failed", "Error: ErrImagePull", cname)
            self._set_waiting(cur, {c: ("ErrImagePull", m) for c, _, m in bad})
            # the next sync (here ERR_PULL_SHOWN later) finds the image in back-off until `backoff` has passed
            if await self._backoff(ERR_PULL_SHOWN):
                cur = self.pod()
                if cur is not None:
                    for cname, image, _ in bad:
                        self.event("Normal", "BackOff", f'Back-off pulling image "{image}"', cname)
                        self.event("Warning", "Failed", "Error: ImagePullBackOff", cname)
                    self._set_waiting(cur, {c: ("ImagePullBackOff", f'Back-off pulling image "{i}": '
                                                                    f"ErrImagePull: {m}") for c, i, m in bad})
                    await self._backoff(backoff - ERR_PULL_SHOWN)
            backoff = min(backoff * 2, BACKOFF_MAX)
        return False

    def _set_waiting(self, pod: Obj, reasons: dict[str, tuple[str, str | None]]) -> None:
        st = pod.setdefault("status", {})
        st["phase"] = "Pending"
        st["hostIP"] = self.k.node_ip(pod["spec"]["nodeName"])
        st["hostIPs"] = [{"ip": st["hostIP"]}]
        st.setdefault("startTime", _ts(self.k.clock.now()))
        statuses = []
        for c in pod["spec"]["containers"]:
            reason, msg = reasons.get(c["name"], ("ContainerCreating", None))
            waiting: dict[str, Any] = {"reason": reason}
            if msg and reason != "ContainerCreating":
                waiting["message"] = msg
            statuses.append({"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
                             "restartCount": 0, "started": False, "state": {"waiting": waiting}})
        st["containerStatuses"] = statuses
        st["conditions"] = self._conditions(pod, ready=False, initialized=True, sandbox=True,
                                            containers_not_ready=[c["name"] for c in pod["spec"]["containers"]])
        self._write_status(pod)

    # -- start ----------------------------------------------------------------
    async def _start(self, pod: Obj) -> None:
        node = pod["spec"]["nodeName"]
        self.ip = self.k.allocate_ip(pod)
        view = PodNetView(self.k.net, self.ns, self.name, self.ip, node)
        sockets = PodSockets(self.ns, self.name, node, {})
        md = pod["metadata"]
        self.k.net.register(self.ip, sockets, {  # what other nodes' routing needs to know of this Pod
            "metadata": {"name": md["name"], "namespace": md.get("namespace", ""), "uid": md.get("uid", "")},
            "spec": {k: pod["spec"][k] for k in ("nodeName", "hostname", "subdomain") if k in pod["spec"]},
            "status": {"phase": "Running", "podIP": self.ip, "podIPs": [{"ip": self.ip}]}})
        st = pod.setdefault("status", {})
        st["podIP"] = self.ip
        st["podIPs"] = [{"ip": self.ip}]
        st["hostIP"] = self.k.node_ip(node)
        st["hostIPs"] = [{"ip": st["hostIP"]}]
        st["startTime"] = st.get("startTime") or _ts(self.k.clock.now())
        st["phase"] = "Pending"
        self._write_status(pod)
        env_base = self.k.service_env(self.ns) if pod["spec"].get("enableServiceLinks", True) else {}
        for c in pod["spec"]["containers"]:
            run = ContainerRun(c)
            self.containers[c["name"]] = run
            policy = c.get("imagePullPolicy", "IfNotPresent")
            image = c.get("image", "")
            if policy == "Always":
                self.event("Normal", "Pulling", f'Pulling image "{image}"', c["name"])
                self.event("Normal", "Pulled", f'Successfully pulled image "{image}" in 312ms (312ms including '
                           f"waiting). Image size: {image_size(image)} bytes.", c["name"])
            else:
                self.event("Normal", "Pulled", f'Container image "{image}" already present on machine',
                           c["name"])
            await self._start_container(run, view, env_base, sockets)
        await self._sync_status(force=True)

    async def _start_container(self, run: ContainerRun, view: PodNetView, env_base: dict[str, str],
                               sockets: PodSockets) -> None:
        pod = self.pod()
        if pod is None:
            return
        env = dict(env_base)
        while True:
            try:
                env.update(self._container_env(pod, run.spec))
                break
            except ConfigError as e:  # the kubelet keeps retrying until the object exists
                run.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(e)}}
                self.event("Warning", "Failed", f"Error: {e}", run.name)
                await self._sync_status()
                await self.k.clock.sleep(2.0)
                if self.stopping:
                    return
                pod = self.pod()
                if pod is None or pod["metadata"].get("deletionTimestamp"):
                    return
        env["HOSTNAME"] = self.name
        env.setdefault("KUBERNETES_SERVICE_HOST", "10.96.0.1")
        env.setdefault("KUBERNETES_SERVICE_PORT", "443")
        self.event("Normal", "Created", f"Created container: {run.name}", run.name)
        app = images.Container(pod, run.spec, view, run.logs.append, env)
        run.app = app
        await app.start()
        for app_port, real in app.bound.items():
            sockets.ports[app_port] = real
        run.started_at = self.k.clock.now()
        run.state = {"running": {"startedAt": _ts(run.started_at)}}
        run.ready = False
        self.event("Normal", "Started", f"Started container {run.name}", run.name)
        spec = run.spec
        if "readinessProbe" in spec:
            run.readiness = ProbeState(result=False)
            run.tasks.append(asyncio.create_task(self._probe_loop(run, "readiness", spec["readinessProbe"])))
        if "livenessProbe" in spec:
            run.liveness = ProbeState(result=True)
            run.tasks.append(asyncio.create_task(self._probe_loop(run, "liveness", spec["livenessProbe"])))
        if "startupProbe" in spec:
            run.tasks.append(asyncio.create_task(self._probe_loop(run, "startup", spec["startupProbe"])))
        run.tasks.append(asyncio.create_task(self._wait_exit(run, view, env_base, sockets)))

    def _container_env(self, pod: Obj, spec: Obj) -> dict[str, str]:
        """envFrom then env, as kubelet_pods.go makeEnvironmentVariables: ConfigMap keys, field refs
        ($(VAR) expansion is done by images.py)."""
        env: dict[str, str] = {}
        store = self.k.lister
        for src in spec.get("envFrom") or []:
            ref = src.get("configMapRef")
            if not ref:
                continue
            cm = store.peek("/configmaps", self.ns, ref.get("name", ""))
            if cm is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'configmap "{ref.get("name", "")}" not found')
            for k, v in (cm.get("data") or {}).items():
                env[src.get("prefix", "") + k] = str(v)
        for e in spec.get("env") or []:
            name = e.get("name", "")
            if "value" in e:
                env[name] = str(e["value"])
                continue
            vf = e.get("valueFrom") or {}
            if "configMapKeyRef" in vf:
                ref = vf["configMapKeyRef"]
                cm = store.peek("/configmaps", self.ns, ref.get("name", ""))
                if cm is None or ref.get("key") not in (cm.get("data") or {}):
                    if ref.get("optional"):
                        continue
                    if cm is None:
                        raise ConfigError(f'configmap "{ref.get("name", "")}" not found')
                    raise ConfigError(f'couldn\'t find key {ref.get("key")} in ConfigMap '
                                      f'{self.ns}/{ref.get("name")}')
                env[name] = str(cm["data"][ref["key"]])
            elif "fieldRef" in vf:
                path = vf["fieldRef"].get("fieldPath", "")
                env[name] = _field_ref(pod, path, self.ip or "")
            else:
                env[name] = ""
        return env

    async def _wait_exit(self, run: ContainerRun, view: PodNetView, env_base: dict[str, str],
                         sockets: PodSockets) -> None:
        assert run.app is not None
        code = await run.app.wait()
        if self.stopping:
            return
        await self._container_exited(run, code, run.app.termination_reason(code))
        pod = self.pod()
        if pod is None:
            return
        policy = pod["spec"].get("restartPolicy", "Always")
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            self.wake.set()
            return
        # CrashLoopBackOff: 10s doubling to 5 minutes
        delay = min(10.0 * (2 ** max(0, run.restarts)), BACKOFF_MAX)
        run.state = {"waiting": {"reason": "CrashLoopBackOff",
                                 "message": f"back-off {int(delay)}s restarting failed container={run.name} "
                                            f"pod={self.name}_{self.ns}({pod['metadata']['uid']})"}}
        self.event("Warning", "BackOff", "Back-off restarting failed container "
                   f"{run.name} in pod {self.name}_{self.ns}({pod['metadata']['uid']})", run.name)
        self.wake.set()
        await self.k.clock.sleep(delay)
        if self.stopping:
            return
        run.restarts += 1
        run.logs.rotate()
        for t in run.tasks:
            if t is not asyncio.current_task():
                t.cancel()
        run.tasks = []
        await self._start_container(run, view, env_base, sockets)
        self.wake.set()

    async def _container_exited(self, run: ContainerRun, code: int, reason: str) -> None:
        now = _ts(self.k.clock.now())
        started = run.state.get("running", {}).get("startedAt", now)
        run.state = {"terminated": {"exitCode": code, "reason": reason, "startedAt": started,
                                    "finishedAt": now, "containerID": self._cid(run)}}
        run.last_state = dict(run.state)
        run.ready = False
        if run.app is not None:
            for app_port in list(run.app.bound):
                if self.ip and self.ip in self.k.net.pods:
                    self.k.net.pods[self.ip].ports.pop(app_port, None)
            await run.app.stop()
        self.wake.set()

    def _cid(self, run: ContainerRun) -> str:
        pod = self.pod()
        uid = pod["metadata"]["uid"] if pod else ""
        return "containerd://" + hashlib.sha256(f"{uid}/{run.name}/{run.restarts}".encode()).hexdigest()

    # -- probes ------------------------------------------------------------------
    async def _probe_loop(self, run: ContainerRun, kind: str, probe: Obj) -> None:
        initial = float(probe.get("initialDelaySeconds", 0))
        period = float(probe.get("periodSeconds", 10))
        succ_t = int(probe.get("successThreshold", 1))
        fail_t = int(probe.get("failureThreshold", 3))
        state = ProbeState(result=(kind != "readiness")) if kind != "readiness" else run.readiness
        assert state is not None
        if kind == "startup":
            state.result = False
        clock = self.k.clock
        started = run.started_at or clock.now()
        await clock.sleep(max(0.0, started + initial - clock.now()))
        while not self.stopping:
            if kind in ("readiness", "liveness") and not run.startup_done:
                await clock.sleep(0.2)
                continue
            ok, why = await self._probe_once(run, probe)
            if state.last is ok:
                state.run += 1
            else:
                state.last, state.run = ok, 1
            if not ok:
                label = {"readiness": "Readiness", "liveness": "Liveness", "startup": "Startup"}[kind]
                self.event("Warning", "Unhealthy", f"{label} probe failed: {why}", run.name)
            changed = False
            if ok and state.run >= succ_t and not state.result:
                state.result, changed = True, True
            elif not ok and state.run >= fail_t and state.result:
                state.result, changed = False, True
            if kind == "readiness" and changed:
                run.ready = state.result
                self.wake.set()
            if kind == "startup" and state.result:
                run.startup_done = True
                if run.readiness is None:
                    run.ready = True
                self.wake.set()
                return
            if kind in ("liveness", "startup") and not ok and state.run >= fail_t:
                what = "liveness" if kind == "liveness" else "startup"
                self.event("Normal", "Killing", f"Container {run.name} failed {what} probe, will be restarted",
                           run.name)
                if run.app is not None:
                    await run.app.stop()
                return
            await clock.sleep(period)

    async def _probe_once(self, run: ContainerRun, probe: Obj) -> tuple[bool, str]:
        timeout = float(probe.get("timeoutSeconds", 1))
        ip = self.ip or ""
        if "exec" in probe:
            if run.app is None:
                return False, "container not running"
            try:
                code, out, err = await asyncio.wait_for(run.app.exec(list(probe["exec"].get("command") or [])),
                                                        timeout)
            except asyncio.TimeoutError:
                return False, f"command timed out: \"{' '.join(probe['exec'].get('command') or [])}\" timed out " \
                              f"after {int(timeout)}s"
            return code == 0, (out + err).strip()
        handler = probe.get("httpGet") or probe.get("tcpSocket") or probe.get("grpc")
        if handler is None:
            return False, "no probe handler"
        port = self._resolve_port(run, handler.get("port"))
        if port is None:
            return False, f"unable to resolve named port {handler.get('port')!r}"
        scheme = (handler.get("scheme") or "HTTP").lower()
        path = handler.get("path") or "/"
        url = f"{scheme}://{ip}:{port}{path}"
        try:  # from the node, straight to the Pod's IP (no Service in between), as the kubelet's prober
            reader, writer = await self.k.net.open(ip, port, timeout, source=self.k.node_ip(self.k_node()))
        except (OSError, asyncio.TimeoutError):
            msg = f"dial tcp {ip}:{port}: connect: connection refused"
            return False, (f'Get "{url}": {msg}' if "httpGet" in probe else msg)
        if "httpGet" not in probe:
            writer.close()
            return True, ""
        try:
            host = handler.get("host") or ip
            headers = "".join(f"{h['name']}: {h['value']}\r\n" for h in handler.get("httpHeaders") or [])
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.{K8S_MINOR}\r\n"
                         f"Accept: */*\r\n{headers}Connection: close\r\n\r\n".encode())
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout)
            parts = line.decode(errors="replace").split()
            code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        except asyncio.TimeoutError:
            return False, (f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting '
                           f"headers)")
        except (OSError, ValueError):
            return False, f'Get "{url}": EOF'
        finally:
            writer.close()
        if 200 <= code < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {code}"

    def _resolve_port(self, run: ContainerRun, port: Any) -> int | None:
        if isinstance(port, int):
            return port
        if isinstance(port, str) and port.isdigit():
            return int(port)
        for p in run.spec.get("ports") or []:
            if p.get("name") == port:
                return int(p["containerPort"])
        return None

    # -- status -------------------------------------------------------------------
    def _conditions(self, pod: Obj, *, ready: bool, initialized: bool, sandbox: bool,
                    containers_not_ready: list[str], completed: bool = False) -> list[dict[str, Any]]:
        now = _ts(self.k.clock.now())
        old = {c["type"]: c for c in pod.get("status", {}).get("conditions") or []}

        def cond(ctype: str, ok: bool, reason: str = "", message: str = "") -> dict[str, Any]:
            status = "True" if ok else "False"
            prev = old.get(ctype)
            c: dict[str, Any] = {"type": ctype, "status": status, "lastProbeTime": None,
                                 "lastTransitionTime": prev["lastTransitionTime"]
                                 if prev and prev.get("status") == status else now}
            if reason:
                c["reason"] = reason
            if message:
                c["message"] = message
            return c

        if completed:
            reason, msg = "PodCompleted", ""
        elif containers_not_ready:
            reason = "ContainersNotReady"
            msg = "containers with unready status: [" + " ".join(containers_not_ready) + "]"
        else:
            reason, msg = "", ""
        return [
            cond("PodReadyToStartContainers", sandbox),
            cond("Initialized", initialized, "PodCompleted" if completed else ""),
            cond("Ready", ready, reason, msg),
            cond("ContainersReady", ready, reason, msg),
            cond("PodScheduled", True),
        ]

    async def _sync_status(self, force: bool = False) -> None:
        pod = self.pod()
        if pod is None:
            return
        statuses = []
        all_terminated = True
        all_zero = True
        not_ready = []
        for c in pod["spec"]["containers"]:
            run = self.containers.get(c["name"])
            if run is None:
                continue
            if run.readiness is None and "running" in run.state:
                run.ready = run.startup_done
            if "running" not in run.state:
                run.ready = False
            term = run.state.get("terminated")
            if term is None:
                all_terminated = False
            elif term.get("exitCode") != 0:
                all_zero = False
            if not run.ready:
                not_ready.append(run.name)
            s: dict[str, Any] = {"name": run.name, "image": c.get("image", ""),
                                 "imageID": image_id(c.get("image", "")),
                                 "containerID": self._cid(run), "ready": run.ready,
                                 "restartCount": run.restarts, "started": "running" in run.state,
                                 "state": run.state}
            if run.last_state and run.restarts:
                s["lastState"] = run.last_state
            statuses.append(s)
        st = pod.setdefault("status", {})
        policy = pod["spec"].get("restartPolicy", "Always")
        completed = False
        started = any("running" in r.state or "terminated" in r.state or r.restarts
                      for r in self.containers.values())
        if all_terminated and statuses and (policy == "Never" or (policy == "OnFailure" and all_zero)):
            st["phase"] = "Succeeded" if all_zero else "Failed"
            completed = True
        else:
            st["phase"] = "Running" if started else "Pending"
        st["containerStatuses"] = statuses
        ready = not not_ready and not completed
        st["conditions"] = self._conditions(pod, ready=ready, initialized=True, sandbox=not completed,
                                            containers_not_ready=[] if completed else not_ready,
                                            completed=completed)
        if completed:
            st["conditions"][2]["status"] = "False"
            st["conditions"][3]["status"] = "False"
        st.setdefault("qosClass", "BestEffort")
        self._write_status(pod)

    def _write_status(self, pod: Obj) -> None:
        """pods/status through the registry, on the resourceVersion just read: a conflict (someone wrote
        in between) is left to the next sync, which recomputes the status from the containers."""
        cur = self.k.lister.peek("/pods", self.ns, self.name)
        if cur is None:
            return
        own = self.k.client.own_status(self.ns, self.name)
        if (own if own is not None else cur.get("status")) == pod.get("status"):
            return
        md = cur["metadata"]
        new = {"apiVersion": "v1", "kind": "Pod", "status": pod["status"],
               "metadata": {"name": md["name"], "namespace": md.get("namespace", ""),
                            "resourceVersion": md["resourceVersion"]}}
        self.writing = True  # the store calls Kubelet.observe synchronously from the write
        try:
            self.k.client.update_status("Pod", new)
        except errors.ApiError as e:
            log.debug("status write failed: %s", e)
        finally:
            self.writing = False

    # -- termination ----------------------------------------------------------------
    async def _terminate(self, pod: Obj) -> None:
        grace = int(pod["metadata"].get("deletionGracePeriodSeconds", 30))
        for run in self.containers.values():
            if "running" in run.state:
                self.event("Normal", "Killing", f"Stopping container {run.name}", run.name)
        delay = 0.0
        for run in self.containers.values():
            if run.app is not None and "running" in run.state:
                delay = max(delay, _pre_stop_seconds(run.spec))
        delay = min(delay, float(grace))
        if delay > 0:
            for run in self.containers.values():
                if run.readiness is None:
                    run.ready = False
            await self._sync_status()
            await self.k.clock.sleep(delay)
        self.stopping = True
        await self._stop_all()
        with contextlib.suppress(errors.ApiError):
            self.k.client.remove_pod(self.ns, self.name, pod["metadata"].get("uid"))

    async def _stop_all(self) -> None:
        self.stopping = True
        for run in self.containers.values():
            for t in run.tasks:
                t.cancel()
            if run.app is not None:
                with contextlib.suppress(Exception):
                    await run.app.stop()
            run.logs.closed = True
            for w in run.logs.waiters:
                w.set()


class ConfigError(Exception):
    """A container's configuration cannot be built yet (CreateContainerConfigError)."""


def _field_ref(pod: Obj, path: str, ip: str) -> str:
    """The downward API's fieldRef values (pkg/kubelet/kubelet_pods.go podFieldSelectorRuntimeValue)."""
    md, spec, st = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
    simple = {"metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", ""),
              "metadata.uid": md.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
              "spec.serviceAccountName": spec.get("serviceAccountName", ""),
              "status.hostIP": st.get("hostIP", ""), "status.podIP": ip or st.get("podIP", ""),
              "status.podIPs": ip or st.get("podIP", "")}
    if path in simple:
        return str(simple[path])
    for prefix, src in (("metadata.labels['", md.get("labels") or {}),
                        ("metadata.annotations['", md.get("annotations") or {})):
        if path.startswith(prefix) and path.endswith("']"):
            return str(src.get(path[len(prefix):-2], ""))
    return ""


def _pre_stop_seconds(container: Obj) -> float:
    """How long a preStop hook keeps the container serving: ``sleep: {seconds: N}`` (KEP-3960) or an
    exec of ``sleep N`` / ``sh -c "sleep N"``; agnhost netexec's --delay-shutdown does the same."""
    hook = ((container.get("lifecycle") or {}).get("preStop") or {})
    try:
        if "sleep" in hook:
            return float(hook["sleep"].get("seconds", 0))
        cmd = [str(x) for x in (hook.get("exec") or {}).get("command") or []]
        if cmd[:1] == ["sleep"] and len(cmd) == 2:
            return float(cmd[1])
        if cmd[:2] in (["sh", "-c"], ["/bin/sh", "-c"]) and len(cmd) == 3 and cmd[2].split()[:1] == ["sleep"]:
            return float(cmd[2].split()[1])
        for a in [str(x) for x in (container.get("command") or []) + (container.get("args") or [])]:
            if a.startswith("--delay-shutdown="):
                return float(a.split("=", 1)[1])
    except (ValueError, IndexError, AttributeError, TypeError):
        return 0.0
    return 0.0


DEFAULT_POD_CIDR = ipaddress.IPv4Network("10.244.1.0/24")


def pod_cidr(node: Obj | None) -> ipaddress.IPv4Network:
    """The Node's IPv4 Pod range (the embedded network is IPv4 only): the first IPv4 entry of
    ``spec.podCIDRs`` / ``spec.podCIDR`` (a dual-stack Node may list its IPv6 range first), else the
    default. An IPv6 range, or text that is no range, used to reach the IPv4 allocator or fail the worker."""
    spec = (node or {}).get("spec") or {}
    for c in [*(spec.get("podCIDRs") or []), spec.get("podCIDR")]:
        if not isinstance(c, str):
            continue
        try:
            net = ipaddress.ip_network(c, strict=False)
        except ValueError:
            continue
        if isinstance(net, ipaddress.IPv4Network):
            return net
    return DEFAULT_POD_CIDR


class Reader(Protocol):
    """The kubelet's informer cache (clientset.Lister in one process, remote.Cache in a node process)."""

    def get(self, key: str, ns: str, name: str) -> Obj | None: ...

    def peek(self, key: str, ns: str, name: str) -> Obj | None: ...

    def iter(self, key: str, ns: str | None = None) -> Iterator[Obj]: ...

    def scan(self, key: str, ns: str | None = None) -> Iterator[Obj]: ...


class Writer(Protocol):
    """The kubelet's writes: the Pod status manager and the final delete (pkg/kubelet/status)."""

    def update_status(self, kind: str, obj: Obj) -> Any: ...

    def remove_pod(self, ns: str, name: str, uid: str | None = None) -> Any: ...

    def own_status(self, ns: str, name: str) -> Obj | None:
        """A status written (or queued) that the cache does not show yet; None when the cache is current."""


class IpPicker(Protocol):
    def pick_ip(self, network: ipaddress.IPv4Network, used: set[str], reserved: int, *key: object) -> str: ...


class HostLocal:
    """A node's Pod IP allocator, as the host-local IPAM plugin that kind's CNI (kindnet) delegates to
    (containernetworking/plugins plugins/ipam/host-local/backend/allocator/allocator.go, range_iter.go):
    the range is the Node's podCIDR without its network address, its gateway (.1) and its broadcast
    address, so the first Pod gets .2, the next .3, and so on. The iterator starts just after the last
    address it reserved (remembered per range in ``last_reserved_ip.0``), skips addresses in use and
    wraps round at the end of the range: an address a Pod gave back is handed out again only after the
    range wrapped (a deleted Pod's IP is not reused at once, unlike a random pick).

    State: host-local keeps ``/var/lib/cni/networks/<network>/last_reserved_ip.0`` on the node's disk;
    here ``<dir>/<node>/last_reserved_ip.0`` (``<home>/ipam``), so a restarted node process carries on
    where it stopped. The addresses in use are not kept in files (host-local has one per address): they
    are the Pod IPs the kubelet knows (the API's Pods and the live sandboxes)."""

    FILE = "last_reserved_ip.0"

    def __init__(self, state_dir: Path | None) -> None:
        self.state_dir = state_dir
        self.last: dict[str, int] = {}  # node -> last reserved address (as an int), when not on disk

    def _file(self, node: str) -> Path | None:
        if self.state_dir is None or not node or "/" in node or node.startswith("."):
            return None
        return self.state_dir / node / self.FILE

    def last_reserved(self, node: str) -> int | None:
        path = self._file(node)
        if path is not None:
            with contextlib.suppress(OSError, ValueError):
                return int(ipaddress.IPv4Address(path.read_text().strip()))
        return self.last.get(node)

    def _remember(self, node: str, ip: int) -> None:
        self.last[node] = ip
        path = self._file(node)
        if path is None:
            return
        with contextlib.suppress(OSError):
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(str(ipaddress.IPv4Address(ip)))
            os.replace(tmp, path)

    def allocate(self, node: str, cidr: ipaddress.IPv4Network, used: set[str]) -> str:
        """The next free address after the last reserved one, wrapping round; RuntimeError when full."""
        first = int(cidr.network_address) + 2  # .1 is the gateway (host-local reserves it)
        last = int(cidr.broadcast_address) - 1
        if last < first:
            raise RuntimeError(f"no IP addresses available in range set: {cidr}")
        size = last - first + 1
        prev = self.last_reserved(node)
        start = prev + 1 if prev is not None and first <= prev <= last else first
        for i in range(size):
            ip = first + (start - first + i) % size
            text = str(ipaddress.IPv4Address(ip))
            if text not in used:
                self._remember(node, ip)
                return text
        raise RuntimeError(f"no IP addresses available in range set: {ipaddress.IPv4Address(first)}-"
                           f"{ipaddress.IPv4Address(last)}")


class Recording(Protocol):
    def event(self, obj: Obj, etype: str, reason: str, message: str, component: str,
              host: str = "", field_path: str = "") -> None: ...


class Kubelet:
    def __init__(self, ids: IpPicker, net: Network, rec: Recording, nodes: list[str], *,
                 lister: Reader, client: Writer, clock: Clock | None = None, ipam_dir: Path | None = None) -> None:
        self.ids = ids  # seeded choices (Pod IPs no longer use them: see HostLocal)
        self.lister = lister  # reads: the informer cache
        self.client = client  # writes: through the API server
        self.clock: Clock = clock or RealClock()
        self.net = net
        self.rec = rec
        self.nodes = set(nodes)
        self.workers: dict[tuple[str, str], PodWorker] = {}
        self.ips: dict[str, tuple[str, str]] = {}  # Pod IP in use -> (namespace, name)
        # Pod IPs in order per node, as host-local hands them out; its last_reserved_ip files beside the
        # network's sockets (<home>/ipam), so they outlive a node process as host-local's outlive a reboot.
        self.ipam = HostLocal(ipam_dir if ipam_dir is not None else net.sockets.root.parent / "ipam")
        for p in self.lister.scan("/pods"):
            if p.get("status", {}).get("podIP"):
                self.ips[p["status"]["podIP"]] = (p["metadata"]["namespace"], p["metadata"]["name"])
        self.finished_logs: dict[tuple[str, str], dict[str, LogBuffer]] = {}

    def observe(self, ev: Event) -> None:
        if ev.key != "/pods":
            return
        md = ev.obj["metadata"]
        key = (md.get("namespace", ""), md["name"])
        node = ev.obj.get("spec", {}).get("nodeName")
        w = self.workers.get(key)
        ip = ev.obj.get("status", {}).get("podIP")
        if ip:
            if ev.type == "DELETED":
                if self.ips.get(ip) == key:
                    del self.ips[ip]
            else:
                self.ips[ip] = key
        if ev.type == "DELETED":
            if w is not None:
                w.stopping = True
                w.wake.set()
                self.workers.pop(key, None)
            return
        if node not in self.nodes:
            return
        if w is not None and w.done:
            self.workers.pop(key, None)
            w = None
        if w is None:
            # kept nested (noqa: SIM102): the outer test finds a Pod from before a restart, the inner one
            # whether there is nothing left to run for it
            if ev.obj.get("status", {}).get("phase") in ("Succeeded", "Failed") or (  # noqa: SIM102
                    ev.obj.get("status", {}).get("containerStatuses") and ev.type != "ADDED"
                    and key not in self.workers):
                # a Pod we ran before a restart: nothing to resume but its status
                if not md.get("deletionTimestamp") and ev.obj.get("status", {}).get("phase") in (
                        "Succeeded", "Failed"):
                    return
            self.workers[key] = PodWorker(self, key[0], key[1])
        elif not w.writing:  # a worker is not woken by its own status write (it knows what it wrote)
            w.wake.set()

    def resume(self) -> None:
        """After a restart: Pods of our nodes that were running start again (new process, same IP slot)."""
        for pod in list(self.lister.iter("/pods")):
            node = pod.get("spec", {}).get("nodeName")
            if node not in self.nodes:
                continue
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                md = pod["metadata"]
                if md.get("deletionTimestamp"):
                    with contextlib.suppress(errors.ApiError):
                        self.client.remove_pod(md["namespace"], md["name"], md.get("uid"))
                continue
            key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            if key not in self.workers:
                self.workers[key] = PodWorker(self, *key)

    def logs(self, ns: str, name: str, container: str | None) -> LogBuffer | None:
        w = self.workers.get((ns, name))
        if w is None:
            return None
        if container is None:
            if not w.containers:
                return LogBuffer()
            container = next(iter(w.containers))
        run = w.containers.get(container)
        return run.logs if run else None

    def allocate_ip(self, pod: Obj) -> str:
        cidr = pod_cidr(self.lister.peek("/nodes", "", pod["spec"]["nodeName"]))
        existing = pod.get("status", {}).get("podIP")
        if existing and ipaddress.ip_address(existing) in cidr and existing not in self.net.pods:
            return str(existing)
        used = set(self.net.pods) | set(self.ips)
        ip = self.ipam.allocate(pod["spec"]["nodeName"], cidr, used)
        self.ips[ip] = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        return ip

    def node_ip(self, node: str) -> str:
        n = self.lister.peek("/nodes", "", node)
        for a in (n or {}).get("status", {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                return str(a["address"])
        return "172.18.0.2"

    def service_env(self, ns: str) -> dict[str, str]:
        """Docker-link style variables for Services in the namespace (kubelet_pods.go getServiceEnvVarMap)."""
        env: dict[str, str] = {}
        for svc in self.lister.iter("/services", ns):
            spec = svc.get("spec", {})
            ip = spec.get("clusterIP")
            if not ip or ip == "None" or not spec.get("ports"):
                continue
            base = svc["metadata"]["name"].upper().replace("-", "_")
            env[f"{base}_SERVICE_HOST"] = ip
            env[f"{base}_SERVICE_PORT"] = str(spec["ports"][0]["port"])
        return env

    async def follow(self, buf: LogBuffer, start: int) -> AsyncIterator[str]:
        idx = start
        while True:
            items = list(buf.lines)
            while idx < len(items):
                yield items[idx][1]
                idx += 1
            if buf.closed:
                return
            ev = asyncio.Event()
            buf.waiters.append(ev)
            try:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(ev.wait(), 5)
            finally:
                buf.waiters.remove(ev)

    async def shutdown(self) -> None:
        for w in list(self.workers.values()):
            w.stopping = True
            w.wake.set()
            w.task.cancel()
        for w in list(self.workers.values()):
            with contextlib.suppress(BaseException):
                await w.task
        self.workers.clear()

