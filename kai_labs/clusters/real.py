"""A real cluster behind the same ``Cluster`` handle: any kubeconfig context, kind included.

Three things differ from the embedded cluster, and only these:

* **Which context.** :func:`connect` takes a kubeconfig context and writes a
  kubeconfig holding only that context (``$KAI_LABS_HOME/.contexts/<context>/``),
  so the official client, ``kubectl`` and ``!kubectl`` cells in a notebook all
  talk to the same cluster whatever the user's current context is.
* **Safety.** A context that is neither the embedded cluster nor a local kind
  cluster (``kind-*`` with its API server on this machine) is refused unless the
  user opts in (``KAI_LABS_ALLOW_CONTEXT=<name>`` or ``allow=True``); the client
  Pods below only ever go into namespaces labelled
  ``app.kubernetes.io/created-by=kai-labs``.
* **``cluster.net``.** :class:`PodNet` sends ``resolve`` and ``curl`` from a
  short-lived client Pod in the learner's namespace (busybox ``nslookup``,
  ``curlimages/curl``) and reads the result from its log, so the answer comes
  from the cluster's real DNS and the real kube-proxy. ``route`` sends nothing:
  it infers kube-proxy's decision from the API objects (Services,
  EndpointSlices, Pods, Nodes) with the same rules the embedded cluster's proxy
  follows, and says so in its reason.

``kai_labs.start()`` honours ``KAI_LABS_CLUSTER`` (``embedded``, ``kind``,
``context:<name>``) through :func:`start_from_env`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import api_message
from ..k8s import netlogic, netpol
from . import kind
from .base import CURL_IMAGE, DNS_IMAGE, Cluster, ClusterError, DnsAnswer, DnsRecord, HttpResult, Route
from .embedded import attach, claim_home, home_for
from .embedded import start as start_embedded
from .embedded import status as embedded_status
from .netrules import RulesMixin

CLUSTER_ENV = "KAI_LABS_CLUSTER"
ALLOW_ENV = "KAI_LABS_ALLOW_CONTEXT"
CREATED_BY = "app.kubernetes.io/created-by"
ROLE_LABEL = "kai-labs.dev/role"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
DNS_TYPES = ("A", "AAAA", "SRV", "CNAME", "TXT", "PTR", "MX", "NS")
DNS_TTL = 30  # busybox nslookup prints no TTL; kubeadm's (and kind's) CoreDNS serves cluster names with ttl 30
_FATAL_WAITING = {"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError",
                  "CreateContainerError", "RunContainerError"}


# ---------------------------------------------------------------------------------------------- kubeconfig

def _kubectl_exe() -> str:
    return shutil.which("kubectl", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get(
        "PATH", "")) or "kubectl"


def _kubeconfig_source(kubeconfig: str | os.PathLike[str] | None) -> str:
    if kubeconfig:
        return str(kubeconfig)
    return os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")


def _config(args: list[str], source: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KUBECONFIG=source)
    try:
        return subprocess.run([_kubectl_exe(), "config", *args], capture_output=True, text=True, env=env,
                              timeout=30, check=False)
    except FileNotFoundError:
        raise ClusterError("kubectl is not installed; reinstall kai-labs (it brings kubectl along)") from None


def contexts(kubeconfig: str | os.PathLike[str] | None = None) -> tuple[list[str], str]:
    """(context names, current context) of a kubeconfig (``KUBECONFIG`` or ~/.kube/config by default)."""
    src = _kubeconfig_source(kubeconfig)
    r = _config(["get-contexts", "-o", "name"], src)
    if r.returncode != 0:
        raise ClusterError(f"cannot read the kubeconfig {src}: {r.stderr.strip() or r.stdout.strip()}")
    cur = _config(["current-context"], src)
    return [n for n in r.stdout.split() if n], cur.stdout.strip() if cur.returncode == 0 else ""


def _homes_root() -> Path:
    return home_for("kai-labs").parent


def _write_kubeconfig(context: str, cfg: dict[str, Any]) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", context)
    d = _homes_root() / ".contexts" / safe
    claim_home(d)  # 0700 all the way up: mkdir(parents=True) made a new KAI_LABS_HOME 0755, which `up` refuses
    path = d / "kubeconfig"
    tmp = d / f".kubeconfig.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=1)
    os.replace(tmp, path)
    return path


def _embedded_for(server: str) -> str | None:
    """The name of the running embedded cluster that serves ``server``, if any."""
    root = _homes_root()
    if not root.is_dir():
        return None
    want = server.rstrip("/")
    for d in sorted(root.iterdir()):
        if d.name.startswith(".") or not (d / "server.json").exists():
            continue
        try:
            port = int(json.loads((d / "server.json").read_text()).get("port", 0))
        except (OSError, ValueError):
            continue
        if want == f"https://127.0.0.1:{port}" and embedded_status(d.name).running:
            return d.name
    return None


# ---------------------------------------------------------------------------------------------- safety

def allowed_contexts() -> list[str]:
    return [x.strip() for x in os.environ.get(ALLOW_ENV, "").split(",") if x.strip()]


def context_verdict(context: str, server: str, allow: bool = False) -> str:
    """Why kai-labs may use this context: "embedded", "kind" or "opted-in"; else a ClusterError saying why not."""
    if _embedded_for(server):
        return "embedded"
    host = (urlsplit(server).hostname or "").lower()
    if context.startswith("kind-") and host in LOOPBACK:
        return "kind"
    if allow or context in allowed_contexts():
        return "opted-in"
    kindish = (f" (its name says kind, but its API server {host} is not on this machine)"
               if context.startswith("kind-") else "")
    raise ClusterError(
        f"refusing to use context {context!r} ({server}): it is neither the embedded kai-labs cluster nor a local "
        f"kind cluster (a kind-* context whose API server is on 127.0.0.1){kindish}. kai-labs creates namespaces, "
        f"Deployments and short-lived client Pods there and deletes the namespaces it created; on a cluster other "
        f"people use, that must be a decision, not an accident. If this is the cluster you mean (a workshop "
        f"cluster, say), opt in: export {ALLOW_ENV}={context}  (or kai_labs.connect({context!r}, allow=True)). "
        f"Even then kai-labs only touches namespaces labelled {CREATED_BY}=kai-labs.")


# ---------------------------------------------------------------------------------------------- connect

def connect(context: str | None = None, *, kubeconfig: str | os.PathLike[str] | None = None, allow: bool = False,
            net: str | None = None, set_env: bool = False) -> Cluster:
    """A :class:`~kai_labs.clusters.base.Cluster` handle on any kubeconfig context (default: the current one).

    The embedded cluster's context gets the embedded handle (its own DNS and
    service proxy) unless ``net="pod"``; every other context gets :class:`PodNet`.
    A context that is neither the embedded cluster nor a local kind cluster needs
    ``allow=True`` or ``KAI_LABS_ALLOW_CONTEXT=<context>``. ``set_env`` points
    ``KUBECONFIG`` at a kubeconfig holding only this context, for ``!kubectl``.
    """
    if net not in (None, "pod", "embedded"):
        raise ClusterError(f"net must be 'pod' or 'embedded', not {net!r}")
    src = _kubeconfig_source(kubeconfig)
    names, current = contexts(src)
    if context is None:
        if not current:
            raise ClusterError(f"the kubeconfig {src} has no current context; name one, e.g. "
                               f"kai_labs.connect('kind-kai-labs') (contexts: {', '.join(names) or 'none'})")
        context = current
    if context not in names:
        hint = " (create it with `kai-labs cluster up --kind`)" if context.startswith("kind-") else ""
        raise ClusterError(f"no context {context!r} in the kubeconfig {src}{hint}; it has: "
                           f"{', '.join(names) or 'no contexts'}")
    r = _config(["view", "--minify", "--flatten", "--context", context, "-o", "json"], src)
    if r.returncode != 0:
        raise ClusterError(f"cannot read context {context!r} from {src}: {r.stderr.strip()}")
    cfg = json.loads(r.stdout)
    cfg["current-context"] = context
    try:
        server = str(cfg["clusters"][0]["cluster"]["server"])
    except (KeyError, IndexError, TypeError):
        raise ClusterError(f"context {context!r} in {src} names no cluster server") from None
    verdict = context_verdict(context, server, allow)
    if verdict == "embedded" and net != "pod":
        emb = _embedded_for(server)
        assert emb is not None
        return attach(emb, set_env=set_env)
    path = _write_kubeconfig(context, cfg)
    c = Cluster(context, path, context, None, False)
    c.net = PodNet(c)
    if set_env:
        _set_env(path)
    return c


def _set_env(kubeconfig: Path) -> None:
    os.environ["KUBECONFIG"] = str(kubeconfig)
    bindir = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + path


def start_from_env(mode: str, name: str = "kai-labs", seed: int | None = None, *, set_env: bool = True,
                   create: bool = True) -> Cluster:
    """``kai_labs.start()`` for ``KAI_LABS_CLUSTER=kind`` or ``context:<name>`` (a seed only shapes the embedded
    cluster; a real cluster names its objects itself). ``create``: make the kind cluster when it is missing."""
    mode = mode.strip()
    if mode == "kind":
        ctx = f"kind-{name}"
        if ctx not in contexts()[0]:
            if not create:
                raise ClusterError(f"there is no kind cluster {name} (no context {ctx}); create it with "
                                   f"`kai-labs cluster up --kind --name {name}`")
            print(f"kai-labs: no kind cluster {name} yet; creating it (about a minute)...", file=sys.stderr)
            kind.up(name)
        return connect(ctx, set_env=set_env)
    if mode.startswith("context:") and mode[len("context:"):].strip():
        return connect(mode[len("context:"):].strip(), set_env=set_env)
    raise ClusterError(f"{CLUSTER_ENV}={mode!r} is not understood: use embedded (the default), kind (the kind "
                       f"cluster kind-{name}) or context:<kubeconfig context>")


def start(name: str = "kai-labs", seed: int | None = None, *, set_env: bool = True) -> Cluster:
    """``kai_labs.start()``: start (or reuse) the embedded cluster and return a handle; sets KUBECONFIG for
    `!kubectl` cells.

    ``KAI_LABS_CLUSTER=kind`` (the kind cluster ``kind-<name>``) or ``context:<name>``
    (any kubeconfig context) returns a handle on that cluster instead.

    Without a seed, ``KAI_LABS_SEED`` from the environment is used (CI sets it so
    notebook outputs are reproducible)."""
    mode = os.environ.get(CLUSTER_ENV, "").strip()
    if mode not in ("", "embedded"):
        return start_from_env(mode, name, seed, set_env=set_env)
    return start_embedded(name, seed, set_env=set_env)


def current(name: str = "kai-labs", *, set_env: bool = False) -> Cluster:
    """The cluster a command means: ``KAI_LABS_CLUSTER`` if set (never creating one), else the running embedded
    cluster ``name``. For CLI commands that act on an existing cluster (``scenario ...``, ``net ...``)."""
    mode = os.environ.get(CLUSTER_ENV, "").strip()
    if mode in ("", "embedded"):
        return attach(name, set_env=set_env)
    return start_from_env(mode, name, set_env=set_env, create=False)


# ---------------------------------------------------------------------------------------------- client Pods

def _api_error(e: Exception) -> int | None:
    return getattr(e, "status", None)


class PodNet(RulesMixin):
    """``cluster.net`` for a real cluster: DNS and HTTP from a short-lived client Pod; routing inferred;
    ``rules`` from the API objects."""

    kind = "pod"

    def __init__(self, cluster: Cluster, *, curl_image: str | None = None, dns_image: str | None = None,
                 start_timeout: float = 120.0) -> None:
        self.cluster = cluster
        self.curl_image = curl_image or os.environ.get("KAI_LABS_CURL_IMAGE") or CURL_IMAGE
        self.dns_image = dns_image or os.environ.get("KAI_LABS_DNS_IMAGE") or DNS_IMAGE
        self.start_timeout = start_timeout

    def __repr__(self) -> str:
        return f"<PodNet context={self.cluster.context!r}: client Pods {self.curl_image}, {self.dns_image}>"

    # -- the namespace guard ---------------------------------------------------------------------
    def guard(self, namespace: str) -> None:
        """Client Pods go only into namespaces kai-labs created (labelled created-by=kai-labs)."""
        try:
            resp = self.cluster.core().read_namespace(namespace, _preload_content=False)
        except Exception as e:  # noqa: BLE001 - turned into one sentence
            if _api_error(e) == 404:
                raise ClusterError(f"namespace {namespace} does not exist on {self.cluster.context}; create the "
                                   f"scenario or lesson that uses it first") from None
            if _api_error(e) == 403:
                raise ClusterError(f"you may not read namespace {namespace} on {self.cluster.context} (RBAC); in a "
                                   f"workshop, use your own namespaces (KAI_LABS_LEARNER)") from None
            raise
        labels = (json.loads(resp.data).get("metadata") or {}).get("labels") or {}
        if labels.get(CREATED_BY) != "kai-labs":
            raise ClusterError(f"namespace {namespace} was not created by kai-labs (no label {CREATED_BY}=kai-labs), "
                               f"so kai-labs starts no client Pod in it; send the request from a lab namespace")

    def run_pod(self, namespace: str, role: str, image: str, command: list[str], env: dict[str, str] | None = None,
                run_seconds: float = 10.0) -> tuple[str, int | None]:
        """Run one client Pod to completion and return (its log, its exit code); the Pod is always deleted."""
        from kubernetes.client.exceptions import ApiException  # late: a CLI install stays light

        self.guard(namespace)
        name = f"kai-net-{role}-{uuid.uuid4().hex[:8]}"
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {CREATED_BY: "kai-labs", ROLE_LABEL: f"net-{role}"}},
            "spec": {
                "restartPolicy": "Never", "automountServiceAccountToken": False, "enableServiceLinks": False,
                "terminationGracePeriodSeconds": 0, "activeDeadlineSeconds": int(self.start_timeout + run_seconds),
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": role, "image": image, "command": command,
                    "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                                  "limits": {"cpu": "200m", "memory": "64Mi"}},
                }],
            },
        }
        core = self.cluster.core()
        try:
            core.create_namespaced_pod(namespace, pod)
        except ApiException as e:
            raise ClusterError(f"could not start a client Pod in {namespace}: {api_message(e) or e}") from None
        try:
            code = self._wait(namespace, name, image, run_seconds)
            raw = core.read_namespaced_pod_log(name, namespace, _preload_content=False)
            return raw.data.decode("utf-8", errors="replace"), code
        finally:
            with contextlib.suppress(ApiException):
                core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)

    def _wait(self, namespace: str, name: str, image: str, run_seconds: float) -> int | None:
        core = self.cluster.core()
        t0 = time.monotonic()
        deadline = t0 + self.start_timeout + run_seconds
        delay = 0.05
        while True:
            obj = json.loads(core.read_namespaced_pod(name, namespace, _preload_content=False).data)
            st = obj.get("status") or {}
            cs = (st.get("containerStatuses") or [{}])[0]
            state = cs.get("state") or {}
            if st.get("phase") in ("Succeeded", "Failed") and "terminated" in state:
                return (state.get("terminated") or {}).get("exitCode")
            waiting = (state.get("waiting") or {})
            if waiting.get("reason") in _FATAL_WAITING:
                raise ClusterError(_image_advice(image, waiting, self.cluster.context))
            for cond in st.get("conditions") or []:
                if (cond.get("type") == "PodScheduled" and cond.get("status") == "False"
                        and cond.get("reason") == "Unschedulable" and time.monotonic() - t0 > 15):
                    raise ClusterError(f"the client Pod cannot be scheduled: {cond.get('message', '')}")
            if st.get("phase") == "Failed":
                raise ClusterError(f"the client Pod failed: {st.get('reason', '')} {st.get('message', '')}".strip())
            if time.monotonic() > deadline:
                raise ClusterError(f"the client Pod {namespace}/{name} did not finish within "
                                   f"{self.start_timeout + run_seconds:.0f}s (phase {st.get('phase')}, "
                                   f"{waiting.get('reason') or 'no waiting reason'}); is the image {image} pullable?")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    # -- curl ------------------------------------------------------------------------------------
    def curl(self, url: str, namespace: str = "default", timeout: float = 2.0) -> HttpResult:
        """A real request from a curlimages/curl Pod in ``namespace``, through the cluster's DNS and kube-proxy."""
        if not isinstance(timeout, (int, float)) or not 0 < timeout <= 60:
            raise ClusterError("timeout must be a number of seconds between 0 and 60")
        url = url.strip()
        if "://" not in url:
            url = "http://" + url
        if not re.fullmatch(r"[!-~]+", url):
            raise ClusterError(f"not a URL kai-labs will send: {url!r}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ClusterError(f"not an http(s) URL: {url}")
        marker = f"@@kai-labs-{uuid.uuid4().hex[:12]}@@"
        fmt = "\n" + marker + " %{http_code} %{exitcode} %{remote_ip} %{remote_port} %{errormsg}\n"
        cmd = ["curl", "-s", "--max-time", f"{float(timeout):g}", "-w", fmt, url]
        log, code = self.run_pod(namespace, "curl", self.curl_image, cmd, run_seconds=float(timeout) + 10)
        out = parse_curl_output(log, marker)
        if out is None:
            return HttpResult(False, None, "", "client", None,
                              f"the client Pod printed no result line (exit code {code}): {log.strip()[-300:]}")
        status = out["status"]
        error = curl_error(out["exitcode"])
        ok = out["exitcode"] == 0 and status is not None and 200 <= status < 400
        backend = self._backend(namespace, parts.hostname or "", out["remote_ip"], out["body"])
        return HttpResult(ok, status, out["body"], error, backend, "" if error is None else out["errormsg"])

    def _backend(self, namespace: str, host: str, remote_ip: str, body: str) -> str | None:
        """The Pod that answered, as far as the client can tell: the Pod with the remote IP (Pod IPs, headless), or
        the Pod whose name the response carries (agnhost /hostname) among the Pods in the namespaces involved."""
        pods = self._pods(_namespaces_for(namespace, host))
        if remote_ip:
            hit = next((p for p in pods if remote_ip in _pod_ips(p)), None)
            if hit is not None:
                return str(hit["metadata"]["name"])
        text = body.strip()
        if text and re.fullmatch(r"[a-z0-9][a-z0-9.-]{0,252}", text):
            hit = next((p for p in pods if p["metadata"]["name"] == text), None)
            if hit is not None:
                return text
        return None

    def _pods(self, namespaces: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        core = self.cluster.core()
        for ns in namespaces:
            try:
                out += json.loads(core.list_namespaced_pod(ns, _preload_content=False).data).get("items") or []
            except Exception:  # noqa: BLE001 - a namespace we may not read just contributes nothing
                continue
        return out

    # -- resolve ---------------------------------------------------------------------------------
    def resolve(self, name: str, namespace: str = "default", type: str = "A") -> DnsAnswer:  # noqa: A002
        """DNS as a Pod in ``namespace`` sees it: busybox nslookup of each search-path candidate, in resolver order."""
        qtype = str(type).upper()
        if qtype not in DNS_TYPES:
            raise ClusterError(f"DNS type {type!r} is not supported here (use one of {', '.join(DNS_TYPES)})")
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) or ".." in name:
            raise ClusterError(f"not a DNS name: {name!r}")
        marker = f"@@kai-labs-{uuid.uuid4().hex[:12]}@@"
        absolute = name.endswith(".")
        query = (f'echo "{marker} query $q"; nslookup -type=$KAI_TYPE "$q"; echo "{marker} rc $?"')
        if absolute:
            loop = f'q="$KAI_NAME"; {query}'
        else:
            loop = (f"for d in $(grep '^search' /etc/resolv.conf) .; do if [ \"$d\" != search ]; then "
                    f'if [ "$d" = . ]; then q="$KAI_NAME."; else q="$KAI_NAME.$d."; fi; {query}; fi; done')
        script = f'echo "{marker} conf"; cat /etc/resolv.conf; {loop}'
        log, _ = self.run_pod(namespace, "dns", self.dns_image, ["sh", "-c", script],
                              {"KAI_NAME": name, "KAI_TYPE": qtype.lower()}, run_seconds=30)
        return parse_resolve_output(log, marker, name)

    # -- route -----------------------------------------------------------------------------------
    def route(self, dest: str, namespace: str = "default", source_node: str | None = None,
              source_ip: str | None = None) -> Route:
        """kube-proxy's decision for ``dest``, inferred from the API objects (no packet is sent)."""
        host = dest.strip().rpartition(":")[0] or dest.strip()
        snap = self._snapshot(_namespaces_for(namespace, host))
        try:
            r = netlogic.route(snap, dest, namespace, source_node, source_ip, pick=lambda c: c[0])
        except ValueError:
            raise ClusterError(f"not a destination: {dest!r} (use name:port or ip:port)") from None
        reason = f"inferred from the API, no packet sent: {r.reason}"
        if r.action == "forward" and len(r.candidates) > 1:
            reason += (f"; the real kube-proxy picks at random among the {len(r.candidates)} eligible endpoints: "
                       + ", ".join(f"{p} {ip}:{port}" for p, ip, port in r.candidates))
        action, error = r.action, r.error
        if r.action == "forward" and r.endpoint is not None:
            d = self._policy_decision(snap, source_ip, r.endpoint[1], r.endpoint[2],
                                      _namespaces_for(namespace, host))
            if d is not None and d.reason:
                reason += f"; {d.reason}"
                if not d.allowed:
                    action, error = "drop", "timeout"
                    reason += " (if the cluster's network plugin enforces NetworkPolicy: kindnet before kind v0.24 "
                    reason += "and flannel do not, and then the packets pass)"
        return Route(action, r.endpoint, reason, r.service, error)

    def _policy_decision(self, snap: Any, source_ip: str | None, dest_ip: str, port: int,
                         namespaces: list[str]) -> netpol.Decision | None:
        """NetworkPolicy's word on the flow after DNAT (R114), from the policies and namespaces the API shows;
        None when they cannot be read."""
        from kubernetes import client  # late: the official client is slow to import

        api = client.NetworkingV1Api(self.cluster.api_client())

        def load(resp: Any) -> list[dict[str, Any]]:
            return list(json.loads(resp.data).get("items") or [])

        try:
            pols = load(api.list_network_policy_for_all_namespaces(_preload_content=False))
        except Exception as e:  # noqa: BLE001 - confined to some namespaces: read theirs
            if _api_error(e) != 403:
                return None
            pols = []
            for ns in namespaces:
                with contextlib.suppress(Exception):
                    pols += load(api.list_namespaced_network_policy(ns, _preload_content=False))
        if not pols:
            return None
        labels: dict[str, dict[str, str]] = {}
        try:
            for o in load(self.cluster.core().list_namespace(_preload_content=False)):
                labels[o["metadata"]["name"]] = dict(o["metadata"].get("labels") or {})
        except Exception:  # noqa: BLE001 - no namespace list: the name label every namespace carries
            labels = {ns: {"kubernetes.io/metadata.name": ns} for ns in namespaces}

        def peer(ip: str | None) -> netpol.Peer:
            pod = snap.pod_by_ip(ip) if ip else None
            return (netpol.pod_peer(pod) if pod is not None else None) or netpol.Peer(ip or "")

        return netpol.decide(pols, labels, peer(source_ip), peer(dest_ip), "TCP", port)

    def _snapshot(self, namespaces: list[str]) -> Any:
        core, disc = self.cluster.core(), self.cluster.discovery()

        def load(resp: Any) -> list[dict[str, Any]]:
            return list(json.loads(resp.data).get("items") or [])

        try:
            svcs = load(core.list_service_for_all_namespaces(_preload_content=False))
            slices = load(disc.list_endpoint_slice_for_all_namespaces(_preload_content=False))
            pods = load(core.list_pod_for_all_namespaces(_preload_content=False))
            ns_names = [o["metadata"]["name"] for o in load(core.list_namespace(_preload_content=False))]
        except Exception as e:  # noqa: BLE001 - a learner confined to their namespaces: read those
            if _api_error(e) != 403:
                raise
            svcs, slices, pods, ns_names = [], [], [], []
            for ns in namespaces:
                try:
                    svcs += load(core.list_namespaced_service(ns, _preload_content=False))
                    slices += load(disc.list_namespaced_endpoint_slice(ns, _preload_content=False))
                    pods += load(core.list_namespaced_pod(ns, _preload_content=False))
                    ns_names.append(ns)
                except Exception:  # noqa: BLE001
                    continue
        try:
            nodes = load(core.list_node(_preload_content=False))
        except Exception:  # noqa: BLE001 - no permission to list nodes: NodePort routes then say "nothing listens"
            nodes = []
        return netlogic.Snapshot(svcs, slices, pods, nodes, ns_names)


def _namespaces_for(namespace: str, host: str) -> list[str]:
    """The client's namespace plus the one a Service name like web.other[.svc...] points into."""
    out = [namespace]
    try:
        ipaddress.ip_address(host)
        return out
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if len(labels) >= 2 and labels[1] not in out and labels[1] != "svc":
        out.append(labels[1])
    return out


def _pod_ips(pod: dict[str, Any]) -> list[str]:
    st = pod.get("status") or {}
    ips = [i.get("ip") for i in st.get("podIPs") or [] if i.get("ip")]
    return ips or ([st["podIP"]] if st.get("podIP") else [])


def _image_advice(image: str, waiting: dict[str, Any], context: str) -> str:
    reason, msg = waiting.get("reason", ""), (waiting.get("message") or "").strip()
    if "Image" in reason:
        kind_name = context[len("kind-"):] if context.startswith("kind-") else None
        load = (f"; on kind, load it from Docker: docker pull {image} && kind load docker-image {image} "
                f"--name {kind_name}" if kind_name else "; set KAI_LABS_CURL_IMAGE / KAI_LABS_DNS_IMAGE to a copy "
                "in a registry the cluster can reach")
        return f"the client image {image} cannot be pulled on {context} ({reason}: {msg[:200]}){load}"
    return f"the client Pod could not start ({reason}: {msg[:300]})"


# ---------------------------------------------------------------------------------------------- parsing

def curl_error(exitcode: int) -> str | None:
    """curl's exit code in the words ``HttpResult.error`` uses on every cluster."""
    if exitcode == 0:
        return None
    return {6: "dns", 7: "refused", 28: "timeout", 52: "refused", 56: "refused", 35: "tls", 60: "tls",
            3: "url", 1: "url"}.get(exitcode, f"curl exit {exitcode}")


def parse_curl_output(log: str, marker: str) -> dict[str, Any] | None:
    """Split a client Pod's log into the body and the ``-w`` result line after ``marker`` (the last one wins)."""
    at = log.rfind("\n" + marker + " ")
    if at >= 0:
        body, line = log[:at], log[at + 1:]
    elif log.startswith(marker + " "):
        body, line = "", log
    else:
        return None
    line = line.split("\n", 1)[0][len(marker) + 1:]
    bits = line.split(" ", 4)
    while len(bits) < 5:
        bits.append("")
    code, exitcode, remote_ip, remote_port, errormsg = bits
    try:
        status = int(code)
        rc = int(exitcode)
    except ValueError:
        return None
    return {"body": body, "status": status or None, "exitcode": rc, "remote_ip": remote_ip.strip(),
            "remote_port": int(remote_port) if remote_port.strip().isdigit() else None, "errormsg": errormsg.strip()}


_RECORD_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("CNAME", re.compile(r"^(\S+)\s+canonical name = (\S+)\s*$")),
    ("SRV", re.compile(r"^(\S+)\s+service = (\d+ \d+ \d+ \S+)\s*$")),
    ("TXT", re.compile(r'^(\S+)\s+text = "(.*)"\s*$')),
    ("MX", re.compile(r"^(\S+)\s+mail exchanger = (\d+ \S+)\s*$")),
    ("NS", re.compile(r"^(\S+)\s+nameserver = (\S+)\s*$")),
    ("PTR", re.compile(r"^(\S+)\s+name = (\S+)\s*$")),
]


def _dot(name: str) -> str:
    return name if name.endswith(".") else name + "."


def parse_nslookup(lines: list[str]) -> tuple[str, list[DnsRecord]]:
    """(rcode, records) of one busybox ``nslookup -type=T NAME`` run."""
    records: list[DnsRecord] = []
    current: str | None = None
    rcode = ""
    for line in lines:
        m = re.match(r"^Name:\s+(\S+)", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^Address(?: \d+)?:\s+(\S+)", line)
        if m and current:
            addr = m.group(1)
            try:
                kind = "AAAA" if ipaddress.ip_address(addr).version == 6 else "A"
            except ValueError:
                continue
            records.append(DnsRecord(_dot(current), kind, DNS_TTL, addr))
            continue
        for kind, pat in _RECORD_PATTERNS:
            m = pat.match(line)
            if m:
                data = m.group(2)
                if kind in ("CNAME", "SRV", "MX", "NS", "PTR"):
                    data = _dot(data)
                records.append(DnsRecord(_dot(m.group(1)), kind, DNS_TTL, data))
                break
        else:
            m = re.match(r"^\*\* server can't find .*: (\S+)\s*$", line)
            if m:
                rcode = rcode or m.group(1).upper()
            elif re.match(r"^\*\*\* Can't find .*: No answer", line):
                rcode = rcode or "NOERROR"
            elif "no servers could be reached" in line or "timed out" in line:
                rcode = rcode or "SERVFAIL"
    if records:
        return "NOERROR", records
    return rcode or "NOERROR", []


def parse_resolve_output(log: str, marker: str, name: str) -> DnsAnswer:
    """Turn the DNS client Pod's log into the answer the Pod's resolver gets (search list and ndots applied)."""
    conf: list[str] = []
    blocks: dict[str, list[str]] = {}
    order: list[str] = []
    section: list[str] | None = None
    for line in log.splitlines():
        if line.startswith(marker + " "):
            word = line[len(marker) + 1:]
            if word == "conf":
                section = conf
            elif word.startswith("query "):
                q = word[len("query "):].strip()
                order.append(q)
                section = blocks.setdefault(q, [])
            else:
                section = None
            continue
        if section is not None:
            section.append(line)
    if not order:
        raise ClusterError(f"the DNS client Pod printed no answers: {log.strip()[-300:]}")
    ndots = 1
    search: list[str] = []
    for line in conf:
        bits = line.split()
        if bits and bits[0] == "search":
            search += bits[1:]
        if bits and bits[0] == "options":
            for opt in bits[1:]:
                if opt.startswith("ndots:") and opt[6:].isdigit():
                    ndots = int(opt[6:])
    if name.endswith("."):
        candidates = [name]
    else:
        expanded = [f"{name}.{s}." for s in search]
        candidates = [name + "."] + expanded if name.count(".") >= ndots else expanded + [name + "."]
    tried: list[str] = []
    nodata = servfail = False
    for cand in candidates:
        if cand not in blocks:
            continue
        tried.append(cand)
        rcode, records = parse_nslookup(blocks[cand])
        if records:
            return DnsAnswer("NOERROR", records, cand, tried)
        nodata = nodata or rcode == "NOERROR"
        servfail = servfail or rcode == "SERVFAIL"
    rcode = "NOERROR" if nodata else ("SERVFAIL" if servfail else "NXDOMAIN")
    return DnsAnswer(rcode, [], tried[-1] if tried else _dot(name), tried)
