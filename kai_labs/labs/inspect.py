"""The inspection walker: follow a Service's path hop by hop, the way the chapter debugs.

    trace = inspect(cluster, "web", "demo")
    trace.diagnosis        # the first failed step: it names the broken hop
    print(trace)           # every step with its evidence and the kubectl command to see it

Hops, in order: client's DNS name (``dns``), the client's port (``port``),
``service``, ``selector``, ``pods``, ``endpointslice``, ``readiness``,
``targetPort``, ``networkpolicy`` (only where policies exist: does one drop the
client's packets), ``app`` (does the Pod answer on that port) and ``request`` (a
real request along the client's own URL; from the client's own Pod when policies
judge it). The walker only reads the API and
uses ``cluster.net``; it returns plain dataclasses (``Trace.to_dict`` /
``Trace.from_dict`` round-trip through JSON).
"""

from __future__ import annotations

import html
import ipaddress
import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import kube
from .checks import dns_egress, network_policies

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass
class Client:
    namespace: str
    url: str
    source: str = ""

    @property
    def host(self) -> str:
        return urlsplit(self._u).hostname or ""

    @property
    def port(self) -> int:
        u = urlsplit(self._u)
        return u.port or (443 if u.scheme == "https" else 80)

    @property
    def _u(self) -> str:
        return self.url if "://" in self.url else "http://" + self.url


@dataclass
class Step:
    hop: str
    title: str
    status: str
    explanation: str
    kubectl: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class PodView:
    name: str
    ip: str | None
    labels: dict[str, str]
    ready: bool
    phase: str
    ports: list[dict[str, Any]]
    selected: bool
    owner: str | None
    diff: dict[str, list[str | None]] = field(default_factory=dict)  # key -> [wanted, has]


@dataclass
class EndpointView:
    address: str
    pod: str | None
    ready: bool
    serving: bool
    terminating: bool


@dataclass
class SliceView:
    name: str
    ports: list[dict[str, Any]]
    endpoints: list[EndpointView]


@dataclass
class ServiceView:
    name: str
    namespace: str
    type: str
    cluster_ip: str
    dns: str
    ports: list[dict[str, Any]]
    selector: dict[str, str]


@dataclass
class Trace:
    service: str
    namespace: str
    client: Client
    steps: list[Step]
    svc: ServiceView | None = None
    pods: list[PodView] = field(default_factory=list)
    slices: list[SliceView] = field(default_factory=list)

    @property
    def diagnosis(self) -> Step | None:
        """The first failed step: the broken hop (None when every step is ok)."""
        return next((s for s in self.steps if s.status == FAILED), None)

    @property
    def ok(self) -> bool:
        return self.diagnosis is None

    def step(self, hop: str) -> Step | None:
        return next((s for s in self.steps if s.hop == hop), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trace:
        svc = d.get("svc")
        return cls(
            d["service"], d["namespace"], Client(**d["client"]), [Step(**s) for s in d["steps"]],
            ServiceView(**svc) if svc else None, [PodView(**p) for p in d.get("pods") or []],
            [SliceView(s["name"], s["ports"], [EndpointView(**e) for e in s["endpoints"]])
             for s in d.get("slices") or []])

    def summary(self) -> str:
        d = self.diagnosis
        if d is None:
            return f"Service {self.service} in {self.namespace}: every hop is ok."
        return f"Service {self.service} in {self.namespace}: broken at {d.hop}: {d.explanation}"

    def __str__(self) -> str:
        mark = {OK: "ok     ", FAILED: "FAILED ", SKIPPED: "skipped"}
        out = [f"Trace of Service {self.service} (namespace {self.namespace}); client: {self.client.url} from "
               f"{self.client.namespace}" + (f" [{self.client.source}]" if self.client.source else "")]
        for i, s in enumerate(self.steps, 1):
            out.append(f"{i:2}. [{mark[s.status]}] {s.hop:<13} {s.explanation}")
            out.append(f"{'':16}$ {s.kubectl}")
        d = self.diagnosis
        out.append(f"Diagnosis: {d.hop}: {d.explanation}" if d else "Diagnosis: no broken hop found.")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        e = html.escape
        icon = {OK: "&#10004; ok", FAILED: "&#10008; failed", SKIPPED: "&#8211; skipped"}
        color = {OK: "var(--jp-success-color1, #1a7f37)", FAILED: "var(--jp-error-color1, #cf222e)",
                 SKIPPED: "var(--jp-content-font-color2, #6e7781)"}
        rows = "".join(
            f"<tr><td style='color:{color[s.status]};white-space:nowrap;text-align:left;vertical-align:top'>"
            f"{icon[s.status]}</td>"
            f"<td style='text-align:left;vertical-align:top'><code>{e(s.hop)}</code></td>"
            f"<td style='text-align:left'>{e(s.explanation)}<br>"
            "<code style='color:var(--jp-content-font-color2, #57606a)'>$ "
            f"{e(s.kubectl)}</code></td></tr>" for s in self.steps)
        d = self.diagnosis
        head = (f"<b>Diagnosis:</b> broken at <code>{e(d.hop)}</code>: {e(d.explanation)}" if d
                else "<b>Diagnosis:</b> every hop is ok.")
        return (f"<div class='kai-trace'><p>Trace of Service <code>{e(self.service)}</code> in "
                f"<code>{e(self.namespace)}</code>; client <code>{e(self.client.url)}</code> from "
                f"<code>{e(self.client.namespace)}</code></p><p>{head}</p><table>{rows}</table></div>")


def _sel(sel: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((sel or {}).items()))


def _as_client(client: Client | str | dict[str, Any] | None, service: str, namespace: str,
               svc: kube.Obj | None) -> Client:
    if isinstance(client, Client):
        return client
    if isinstance(client, dict):
        return Client(**client)
    if isinstance(client, str):
        return Client(namespace, client, "given URL")
    port = 80
    if svc and svc["spec"].get("ports"):
        port = int(svc["spec"]["ports"][0]["port"])
    return Client(namespace, f"http://{service}" + ("" if port == 80 else f":{port}") + "/",
                  f"a Pod in {namespace}")


@dataclass
class Walk:
    """What the hops share while walking one Service: the namespace's snapshot, the Service and its Pods.

    Every hop is a function ``Walk -> Step`` that only reads this (and the cluster through ``cluster.net``
    for the hops that send something), so each can be tested with a fake snapshot."""

    cluster: Any
    snap: kube.Snapshot
    trace: Trace
    svc: kube.Obj
    selected: list[kube.Obj] = field(default_factory=list)  # live Pods the selector matches
    candidates: list[kube.Obj] = field(default_factory=list)  # other live Pods, the client's own excepted
    client_dep: str | None = None
    resolved: dict[str, int | None] = field(default_factory=dict)  # endpoint -> targetPort number (targetPort hop)
    policies: bool = False  # the Service's or the client's namespace has NetworkPolicies (networkpolicy hop)
    via: tuple[str, str] | None = None  # (namespace, Deployment) of the client Pod that real requests go from

    @property
    def service(self) -> str:
        return self.trace.service

    @property
    def namespace(self) -> str:
        return self.trace.namespace

    @property
    def ns_flag(self) -> str:
        return f"-n {self.namespace}"

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.svc["spec"])

    @property
    def selector(self) -> dict[str, str]:
        return dict(self.spec.get("selector") or {})

    @property
    def endpoints(self) -> list[EndpointView]:
        return [e for s in self.trace.slices for e in s.endpoints]

    @property
    def ready(self) -> list[EndpointView]:
        return [e for e in self.endpoints if e.ready]


def inspect(cluster: Any, service: str, namespace: str = "default",
            client: Client | str | dict[str, Any] | None = None) -> Trace:
    """Walk Service ``service`` in ``namespace`` hop by hop; ``client`` is who calls it (default: a Pod in
    the same namespace calling ``http://<service>:<first port>/``)."""
    snap = kube.snapshot(cluster, namespace)
    svc = snap.service(service) if snap.exists else None
    trace = Trace(service, namespace, _as_client(client, service, namespace, svc), [])
    trace.steps.append(service_step(trace, snap, svc))
    if svc is None:
        return _skip_rest(trace, cluster)
    w = Walk(cluster, snap, trace, svc)
    trace.svc = service_view(w)
    collect_pods(w)
    collect_slices(w)
    # the client's side first: dns and port
    trace.steps.append(dns_step(w))
    trace.steps.append(port_step(w))
    for hop in (selector_step, pods_step, endpointslice_step, readiness_step, target_port_step,
                networkpolicy_step, app_step):
        step = hop(w)
        if step is None:  # a hop that does not apply here (networkpolicy: no policies at all)
            continue
        trace.steps.append(step)
        if _stops(step, w):
            return _skip_rest(trace, cluster, policies=w.policies, via=w.via)
    _request_step(cluster, trace, via=w.via)
    return trace


def _stops(step: Step, w: Walk) -> bool:
    """Whether the walk ends after ``step``: a failed hop (a selector that fails still shows the Pods), the
    Pods hop unless ok, and an ExternalName Service at the selector."""
    if step.hop == "selector":
        return w.spec.get("type") == "ExternalName"
    if step.hop == "pods":
        return step.status != OK
    return step.status == FAILED


# ------------------------------------------------------------------------------------------------ facts

def _ports_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": p.get("name", ""), "port": p.get("port"), "targetPort": p.get("targetPort", p.get("port")),
             "protocol": p.get("protocol", "TCP")} for p in spec.get("ports") or []]


def service_view(w: Walk) -> ServiceView:
    spec = w.spec
    return ServiceView(w.service, w.namespace, spec.get("type", "ClusterIP"), str(spec.get("clusterIP", "")),
                       f"{w.service}.{w.namespace}.svc.cluster.local", _ports_of(spec), w.selector)


def collect_pods(w: Walk) -> None:
    """The live Pods as the trace shows them (selected or not, with the labels that differ), and which the
    selector matches."""
    sel = w.selector
    live = w.snap.live_pods()
    w.client_dep = _client_deployment(w.snap, w.trace.client, w.namespace)
    for p in live:
        lbl = kube.labels(p)
        diff = {k: [v, lbl.get(k)] for k, v in sorted(sel.items()) if lbl.get(k) != v} if sel else {}
        w.trace.pods.append(PodView(kube.name(p), kube.pod_ip(p), dict(sorted(lbl.items())), kube.pod_ready(p),
                                    (p.get("status") or {}).get("phase", ""),
                                    [{k: v for k, v in cp.items() if k != "container"}
                                     for cp in kube.container_ports(p)],
                                    kube.selects(sel, lbl), w.snap.owner_deployment(p), diff))
    w.selected = [p for p in live if kube.selects(sel, kube.labels(p))]
    w.candidates = [p for p in live if p not in w.selected and w.snap.owner_deployment(p) != w.client_dep]


def collect_slices(w: Walk) -> None:
    for sl in w.snap.slices_for(w.service):
        eps = [EndpointView(",".join(e.get("addresses") or []), (e.get("targetRef") or {}).get("name"),
                            bool((e.get("conditions") or {}).get("ready", True)),
                            bool((e.get("conditions") or {}).get("serving", True)),
                            bool((e.get("conditions") or {}).get("terminating", False)))
               for e in sl.get("endpoints") or []]
        w.trace.slices.append(SliceView(kube.name(sl), [{"name": p.get("name", ""), "port": p.get("port"),
                                                         "protocol": p.get("protocol", "TCP")}
                                                        for p in sl.get("ports") or []],
                                        sorted(eps, key=lambda e: (e.pod or "", e.address))))


# ------------------------------------------------------------------------------------------------ hops

def service_step(trace: Trace, snap: kube.Snapshot, svc: kube.Obj | None) -> Step:
    """Does the Service exist?"""
    service, namespace = trace.service, trace.namespace
    if not snap.exists:
        return Step("service", "Does the Service exist?", FAILED, f"namespace {namespace} does not exist",
                    "kubectl get namespaces")
    if svc is None:
        others = [kube.name(s) for s in snap.services]
        return Step("service", "Does the Service exist?", FAILED,
                    f"there is no Service {service} in {namespace}"
                    + (f" (there are: {', '.join(others)})" if others else " (no Services at all)"),
                    f"kubectl get svc -n {namespace}", {"services": others})
    spec = svc["spec"]
    headless = spec.get("clusterIP") == "None"
    ports = _ports_of(spec)
    port_text = ", ".join(f"{p['port']}->{p['targetPort']}/{p['protocol']}" for p in ports) or "no ports"
    return Step("service", "Does the Service exist?", OK,
                f"Service {service} is {'headless' if headless else spec.get('type', 'ClusterIP')}"
                f"{'' if headless else ' ' + str(spec.get('clusterIP'))}, ports {port_text}, selector "
                f"{_sel(spec.get('selector')) or '<none>'}", f"kubectl describe svc {service} -n {namespace}",
                {"type": spec.get("type"), "clusterIP": spec.get("clusterIP"), "ports": ports,
                 "selector": spec.get("selector") or {}})


def selector_step(w: Walk) -> Step:
    """Which Pods does the selector match?"""
    title = "Which Pods does the selector match?"
    service, sel, selected, candidates = w.service, w.selector, w.selected, w.candidates
    sel_cmd = f"kubectl get pods {w.ns_flag} --show-labels"
    owners = sorted({w.snap.owner_deployment(p) or f"Pod {kube.name(p)}" for p in selected})
    if w.spec.get("type") == "ExternalName":
        return Step("selector", title, SKIPPED,
                    "an ExternalName Service has no selector and no endpoints: DNS answers with a CNAME",
                    f"kubectl get svc {service} {w.ns_flag} -o wide")
    if not sel:
        return Step("selector", title, FAILED, f"Service {service} has no selector: no controller manages its "
                    "endpoints", f"kubectl get svc {service} {w.ns_flag} -o wide")
    if not selected and candidates:
        have = sorted({_sel({k: kube.labels(p).get(k, "<missing>") for k in sel}) for p in candidates})
        return Step("selector", title, FAILED,
                    f"Service {service} selects {_sel(sel)}; no Pod carries it; Pods have {'; '.join(have)}",
                    sel_cmd, {"selector": sel, "pods": {kube.name(p): kube.labels(p) for p in candidates}})
    if not selected:
        return Step("selector", title, SKIPPED,
                    f"selector {_sel(sel)}: there are no Pods in {w.namespace} to compare it with", sel_cmd,
                    {"selector": sel})
    if len(owners) > 1:
        return Step("selector", title, FAILED,
                    f"selector {_sel(sel)} matches Pods of {len(owners)} workloads ({', '.join(owners)}): "
                    "requests are spread over all of them",
                    sel_cmd, {"selector": sel, "owners": owners,
                              "pods": {kube.name(p): kube.labels(p) for p in selected}})
    return Step("selector", title, OK, f"selector {_sel(sel)} matches {len(selected)} Pod(s) of {owners[0]}",
                sel_cmd, {"selector": sel, "matched": [kube.name(p) for p in selected]})


def pods_step(w: Walk) -> Step:
    """Are there Pods behind it? (Skipped when the selector failed: it matches nothing.)"""
    title = "Are there Pods behind it?"
    sel, selected = w.selector, w.selected
    stuck = [(p, why) for p in selected if (why := _unschedulable(p))]
    if selected and len(stuck) == len(selected):
        pod, why = stuck[0]
        return Step("pods", title, FAILED,
                    f"{len(selected)} Pod(s), none scheduled: Pending, no node can run them ({why})",
                    f"kubectl describe pod {kube.name(pod)} {w.ns_flag}", {"unschedulable": [kube.name(p) for p, _ in
                                                                                             stuck]})
    if selected:
        return Step("pods", title, OK, f"{len(selected)} Pod(s): " + ", ".join(
                    f"{kube.name(p)} ({'Ready' if kube.pod_ready(p) else 'not Ready'})" for p in selected),
                    f"kubectl get pods {w.ns_flag} -l {_sel(sel)} -o wide")
    if w.trace.steps[-1].status == FAILED:
        return Step("pods", title, SKIPPED, "the selector matches nothing (above)",
                    f"kubectl get pods {w.ns_flag} -l {_sel(sel)} -o wide")
    deps = [f"{kube.name(d)} (replicas: {d['spec'].get('replicas', 1)})" for d in w.snap.deployments
            if kube.name(d) != w.client_dep]
    return Step("pods", title, FAILED, "no Pods to select: a Service never creates Pods; "
                + (f"Deployment {', '.join(deps)}" if deps else f"no Deployment in {w.namespace}"),
                f"kubectl get deploy,pods {w.ns_flag}", {"deployments": deps})


def endpointslice_step(w: Walk) -> Step:
    """Does the EndpointSlice list them?"""
    title = "Does the EndpointSlice list them?"
    es_cmd = f"kubectl get endpointslice {w.ns_flag} -l kubernetes.io/service-name={w.service} -o wide"
    eps = w.endpoints
    if not eps:
        return Step("endpointslice", title, FAILED,
                    f"{len(w.selected)} Pod(s) match but the EndpointSlice has no endpoints (Pods without an IP "
                    "yet, or the controller has not caught up)", es_cmd)
    return Step("endpointslice", title, OK,
                f"{len(w.trace.slices)} EndpointSlice(s), {len(eps)} endpoint(s): "
                + ", ".join(f"{e.pod or e.address} {e.address}" for e in eps), es_cmd,
                {"slices": [s.name for s in w.trace.slices]})


def readiness_step(w: Walk) -> Step:
    """Are the endpoints ready? (When none is, the last readiness probe failure says why.)"""
    title = "Are the endpoints ready?"
    eps, ready = w.endpoints, w.ready
    if not ready:
        worst = next((p for p in w.selected if not kube.pod_ready(p)), w.selected[0])
        why = _crash(worst) or _probe_failure(w.cluster, w.namespace, kube.name(worst))
        return Step("readiness", title, FAILED,
                    f"0 of {len(eps)} endpoints are ready: Pod {kube.name(worst)} is "
                    f"{(worst.get('status') or {}).get('phase', '?')} but not Ready" + (f" ({why})" if why else ""),
                    f"kubectl describe pod {kube.name(worst)} {w.ns_flag}", {"last_probe_failure": why})
    unready = [e.pod or e.address for e in eps if not e.ready]
    return Step("readiness", title, OK, f"{len(ready)} of {len(eps)} endpoints ready"
                + (f" (not ready: {', '.join(unready)})" if unready else ""),
                f"kubectl get endpointslice {w.ns_flag} -l kubernetes.io/service-name={w.service} -o yaml")


def resolve_ready_ports(w: Walk, svc_port: dict[str, Any]) -> dict[str, int | None]:
    """Each ready endpoint's port for ``svc_port``, as its EndpointSlice resolved the targetPort (None: the
    Pod has no container port of that name)."""
    resolved: dict[str, int | None] = {}
    for e in w.ready:
        sl = next(s for s in w.trace.slices if e in s.endpoints)
        num = next((int(p["port"]) for p in sl.ports if p["name"] == svc_port.get("name", "")), None)
        resolved[e.pod or e.address] = num
    return resolved


def target_port_step(w: Walk) -> Step:
    """Where does the traffic go in the Pod? Sets ``w.resolved`` for the app hop."""
    title = "Where does the traffic go in the Pod?"
    svc_port = _chosen_port(w.trace, w.svc)
    if svc_port is None:
        return Step("targetPort", title, FAILED, f"Service {w.service} has no ports",
                    f"kubectl get svc {w.service} {w.ns_flag} -o yaml")
    w.resolved = resolved = resolve_ready_ports(w, svc_port)
    tp = svc_port.get("targetPort", svc_port.get("port"))
    missing = sorted(k for k, v in resolved.items() if v is None)
    if missing:
        pod = {kube.name(p): p for p in w.selected}.get(missing[0])
        have = ", ".join(f"{cp['name'] or '<unnamed>'}:{cp['containerPort']}/{cp['protocol']}"
                         for cp in kube.container_ports(pod)) if pod else "?"
        return Step("targetPort", title, FAILED,
                    f"Service port {svc_port.get('name') or svc_port.get('port')} targets the named port "
                    f"'{tp}'; no container port of Pod {missing[0]} carries that name (it has {have or 'none'})",
                    f"kubectl get pod {missing[0]} {w.ns_flag} -o jsonpath='{{.spec.containers[*].ports}}'",
                    {"targetPort": tp, "pods_without_port": missing})
    return Step("targetPort", title, OK, f"port {svc_port.get('port')} -> targetPort {tp} -> "
                + ", ".join(f"{k}:{v}" for k, v in sorted(resolved.items())),
                f"kubectl describe svc {w.service} {w.ns_flag}", {"resolved": resolved})


def _client_pod(w: Walk) -> tuple[kube.Obj | None, str]:
    """A running Pod of the client Deployment (the trace's source ``Deployment <name>, ...``), and the
    Deployment's name ("" when the client is no Deployment)."""
    cl = w.trace.client
    if not cl.source.startswith("Deployment "):
        return None, ""
    dep = cl.source.split()[1].rstrip(",")
    snap = w.snap if cl.namespace == w.namespace else kube.snapshot(w.cluster, cl.namespace)
    pods = [p for p in snap.live_pods() if snap.owner_deployment(p) == dep and kube.pod_ip(p)]
    return (sorted(pods, key=kube.name)[0] if pods else None), dep


def networkpolicy_step(w: Walk) -> Step | None:
    """Does a NetworkPolicy drop the client's packets on the way to the Pods? Judged after the Service's DNAT
    (Pod IP and targetPort: R114) by ``cluster.net.route``, which states NetworkPolicy's decision on any
    cluster. None (no hop) when neither the Service's nor the client's namespace has a policy: nothing is
    isolated then (R99), and traces of namespaces without policies stay as they were."""
    title = "Does a NetworkPolicy let the client's packets in?"
    cl = w.trace.client
    namespaces = sorted({w.namespace, cl.namespace})
    pols = {ns: network_policies(w.cluster, ns) or [] for ns in namespaces}
    names = [f"{ns}/{kube.name(p)}" for ns in namespaces for p in pols[ns]]
    if not names:
        return None
    w.policies = True
    pod, dep = _client_pod(w)
    src_ip = kube.pod_ip(pod) if pod else None
    if pod is not None:
        w.via = (cl.namespace, dep)
    who = f"Pod {kube.name(pod)} of Deployment {dep} ({src_ip})" if pod else f"a client in {cl.namespace} that " \
        "is no Pod (no labels for a policy to match)"
    get = " ".join(f"kubectl get networkpolicy -n {ns};" for ns in namespaces)
    dns = dns_egress(w.cluster, pod) if pod is not None else None
    if dns is not None and pod is not None:
        # the client's own lookups: cut off from kube-dns, it never learns where web is (R115)
        return Step("networkpolicy", title, FAILED,
                    f"{who} cannot resolve {cl.host}: its DNS queries to kube-dns (UDP 53) are dropped ({dns.reason}); "
                    "every lookup times out and the client reports a bad address", f"{get} kubectl describe "
                    f"networkpolicy -n {cl.namespace}", {"policies": names, "source": src_ip, "dns": dns.reason})
    verdicts: list[str] = []
    for e in sorted(w.ready, key=lambda x: x.pod or "")[:3]:
        num = w.resolved.get(e.pod or e.address)
        if num is None:
            continue
        ip = e.address.split(",")[0]
        r = w.cluster.net.route(f"{ip}:{num}", namespace=cl.namespace, source_ip=src_ip)
        cmd = (f"{get} kai-labs net route {ip}:{num} -n {cl.namespace}"
               + (f" --source-ip {src_ip}" if src_ip else ""))
        if r.action == "drop":
            why = r.reason.split("; ", 1)[-1] if "; " in r.reason else r.reason
            return Step("networkpolicy", title, FAILED,
                        f"packets from {who} to Pod {e.pod} ({ip}:{num}) are dropped: {why}; the client sees a "
                        "timeout, not a refusal", cmd,
                        {"policies": names, "source": src_ip, "dest": f"{ip}:{num}", "reason": r.reason})
        verdicts.append(f"{e.pod}: {r.reason.split('; ', 1)[-1] if '; ' in r.reason else r.reason}")
    return Step("networkpolicy", title, OK,
                f"NetworkPolicies {', '.join(names)}: packets from {who} pass ({'; '.join(verdicts) or 'allowed'})",
                f"{get} kai-labs net route {w.service}.{w.namespace}:{_client_port(w)} -n {cl.namespace}",
                {"policies": names, "source": src_ip})


def _client_port(w: Walk) -> int:
    p = _chosen_port(w.trace, w.svc)
    return int(p["port"]) if p else w.trace.client.port


def app_step(w: Walk) -> Step:
    """Does the app answer on that port? A request straight to (up to three) ready Pods on their targetPort."""
    title = "Does the app answer on that port?"
    failed: list[str] = []
    log_hint = ""
    for e in sorted(w.ready, key=lambda x: x.pod or "")[:3]:
        num = w.resolved[e.pod or e.address]
        r = w.cluster.net.curl(f"http://{e.address.split(',')[0]}:{num}/", namespace=w.namespace, timeout=1.0)
        if not r.ok and r.status is None:
            failed.append(f"{e.pod} ({e.address}:{num}: {r.error})")
            if len(failed) == 1:
                pod = next((p for p in w.selected if kube.name(p) == e.pod), None)
                names = [str(c.get("name")) for c in ((pod or {}).get("spec") or {}).get("containers") or []]
                log_hint = _listen_hint(w.cluster, w.namespace, e.pod or "", names)
    if failed and w.policies and all(f.endswith(": timeout)") for f in failed):
        # the walker's own requests come from no Pod the policies allow: dropped, they say nothing of the app
        return Step("app", title, SKIPPED,
                    "not asked directly: NetworkPolicy isolates these Pods and the walker's own requests come from "
                    "outside the Pods it allows (they time out); the request below comes from the client's Pod",
                    f"kubectl logs -l {_sel(w.selector)} {w.ns_flag} --tail=5")
    if failed:
        return Step("app", title, FAILED, f"nothing answers on the targetPort: {', '.join(failed)}"
                    + (f"; the app's log says: {log_hint}" if log_hint else "") + loopback_note(log_hint),
                    f"kubectl logs {failed[0].split(' ')[0]} {w.ns_flag}", {"failed": failed})
    return Step("app", title, OK,
                f"the Pods answer on their targetPort ({', '.join(sorted(set(map(str, w.resolved.values()))))})",
                f"kubectl logs -l {_sel(w.selector)} {w.ns_flag} --tail=5")


def _client_deployment(snap: kube.Snapshot, cl: Client, namespace: str) -> str | None:
    if cl.namespace != namespace or not cl.source.startswith("Deployment "):
        return None
    return cl.source.split()[1].rstrip(",")


def _chosen_port(trace: Trace, svc: kube.Obj) -> dict[str, Any] | None:
    ports = svc["spec"].get("ports") or []
    if not ports:
        return None
    headless = svc["spec"].get("clusterIP") == "None"
    for p in ports:
        if not headless and int(p["port"]) == trace.client.port:
            return dict(p)
    return dict(ports[0])


def dns_step(w: Walk) -> Step:
    """Does the client's name resolve (to this Service)? Asks the cluster's DNS as a Pod in the client's
    namespace."""
    title = "Does the client's name resolve?"
    cl, trace = w.trace.client, w.trace
    headless = w.spec.get("clusterIP") == "None"
    dns_cmd = (f"kubectl run tmp-dns -n {cl.namespace} --rm -it --restart=Never --image=busybox:1.36 -- "
               f"nslookup {cl.host}")
    if not cl.url:
        return Step("dns", title, FAILED, "the client has no URL", f"kubectl get deploy -n {cl.namespace} -o yaml")
    if _is_ip(cl.host):
        pod = next((kube.name(p) for p in w.snap.pods if kube.pod_ip(p) == cl.host), None)
        return Step("dns", title, FAILED if pod else SKIPPED,
                    (f"the client dials Pod {pod}'s IP {cl.host}: it breaks with the next rollout; use "
                     f"the Service name" if pod else f"the client dials an IP ({cl.host}), no DNS involved"),
                    f"kubectl get pods,svc -n {trace.namespace} -o wide")
    ans = w.cluster.net.resolve(cl.host, namespace=cl.namespace)
    ips = [a.data for a in ans.answers if a.type == "A"]
    fqdn = f"{trace.service}.{trace.namespace}.svc.cluster.local"
    if ans.rcode != "NOERROR" or not ips:
        if headless and cl.host.split(".")[0] == trace.service:
            return Step("dns", title, SKIPPED, f"{cl.host} has no A records: a headless Service's DNS lists only "
                        "ready endpoints (see readiness)", dns_cmd)
        if cl.host.split(".")[0] == trace.service and cl.namespace != trace.namespace:
            return Step("dns", title, FAILED,
                        f"from namespace {cl.namespace}, {cl.host} means {cl.host}.{cl.namespace}.svc.cluster.local, "
                        f"which does not exist ({ans.rcode}); Service {trace.service} lives in "
                        f"{trace.namespace}: use {trace.service}.{trace.namespace} or {fqdn}",
                        dns_cmd, {"rcode": ans.rcode, "tried": ans.tried})
        return Step("dns", title, FAILED, f"{cl.host} does not resolve from {cl.namespace} ({ans.rcode})", dns_cmd,
                    {"rcode": ans.rcode, "tried": ans.tried})
    if ans.fqdn.rstrip(".") != fqdn:
        return Step("dns", title, FAILED, f"{cl.host} resolves to {ans.fqdn.rstrip('.')} ({', '.join(ips)}), not "
                    f"to Service {trace.service} in {trace.namespace}", dns_cmd, {"fqdn": ans.fqdn, "ips": ips})
    return Step("dns", title, OK, f"{cl.host} -> {ans.fqdn.rstrip('.')} -> {', '.join(ips)}"
                + (" (headless: Pod IPs)" if headless else " (the ClusterIP)"), dns_cmd,
                {"fqdn": ans.fqdn, "ips": ips})


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def port_step(w: Walk) -> Step:
    """Does the client dial a port the Service serves? (A headless Service: a port the Pods listen on.)"""
    title = "Does the client dial a port the Service serves?"
    cl, trace, spec = w.trace.client, w.trace, w.spec
    ports = spec.get("ports") or []
    port_cmd = f"kubectl get svc {trace.service} -n {trace.namespace} -o jsonpath='{{.spec.ports}}'"
    if spec.get("clusterIP") == "None":
        listen = {n for p in w.selected for sp in ports if (n := kube.resolve_target_port(p, sp))}
        if listen and cl.port not in listen:
            return Step("port", title, FAILED,
                        f"headless Service: the client connects straight to Pod IPs on port {cl.port}; "
                        f"no port translation happens, and the Pods are reached on "
                        f"{', '.join(map(str, sorted(listen)))} (targetPort)", port_cmd,
                        {"client_port": cl.port, "pod_ports": sorted(listen)})
        return Step("port", title, OK, f"headless Service: the client dials Pod IPs on {cl.port}, the targetPort",
                    port_cmd)
    numbers = [int(p["port"]) for p in ports]
    if cl.port not in numbers:
        targets = [str(p.get("targetPort")) for p in ports]
        extra = (" - that is the targetPort, the Pod side; clients use the Service port"
                 if str(cl.port) in targets else "")
        return Step("port", title, FAILED,
                    f"the client dials {cl.host}:{cl.port}, but Service {trace.service} exposes only "
                    + ", ".join(f"{p['port']} (-> {p.get('targetPort', p['port'])})" for p in ports)
                    + extra, port_cmd, {"client_port": cl.port, "service_ports": numbers})
    return Step("port", title, OK, f"the client dials port {cl.port}, a port of Service {trace.service}", port_cmd)


def exec_request(cluster: Any, namespace: str, deployment: str, url: str, timeout: int = 2) -> tuple[bool, str]:
    """One request from inside a Pod of ``deployment`` (``kubectl exec`` + busybox ``wget``), so that what judges
    that Pod (its labels for NetworkPolicy) judges the request: (answered, the body or the error)."""
    r = cluster.kubectl("exec", f"deploy/{deployment}", "-n", namespace, "--", "wget", "-qO-", "-T", str(timeout),
                        url, timeout=timeout + 20)
    if r.returncode == 0:
        return True, r.stdout.strip()
    return False, " ".join(r.stderr.split())[-200:] or f"exit status {r.returncode}"


def _request_step(cluster: Any, trace: Trace, via: tuple[str, str] | None = None) -> None:
    cl = trace.client
    cmd = f"kubectl run tmp-curl -n {cl.namespace} --rm -it --restart=Never --image=curlimages/curl -- curl -v {cl.url}"
    if not cl.url:
        trace.steps.append(Step("request", "Does a real request get through?", SKIPPED, "no URL", cmd))
        return
    if via is not None:
        # NetworkPolicy judges the client's own Pod: the request goes from there
        ns, dep = via
        ok, out = exec_request(cluster, ns, dep, cl.url)
        cmd = f"kubectl exec deploy/{dep} -n {ns} -- wget -qO- -T 2 {cl.url}"
        body = out.splitlines()[0][:80] if out else "an empty body"
        trace.steps.append(Step("request", "Does a real request get through?", OK if ok else FAILED,
                                f"GET {cl.url} from a Pod of Deployment {dep}: "
                                + (f"answered by {body}" if ok else out), cmd, {"via": f"{ns}/{dep}"}))
        return
    r = cluster.net.curl(cl.url, namespace=cl.namespace, timeout=1.0)
    if r.ok:
        trace.steps.append(Step("request", "Does a real request get through?", OK,
                                f"GET {cl.url} from {cl.namespace}: HTTP {r.status} from Pod {r.backend}", cmd,
                                {"status": r.status, "backend": r.backend}))
    else:
        trace.steps.append(Step("request", "Does a real request get through?", FAILED,
                                f"GET {cl.url} from {cl.namespace}: {r.error or 'HTTP ' + str(r.status)}"
                                + (f" ({r.detail})" if r.detail else ""), cmd,
                                {"error": r.error, "status": r.status}))


def _skip_rest(trace: Trace, cluster: Any, policies: bool = False, via: tuple[str, str] | None = None) -> Trace:
    order = ["service", "dns", "port", "selector", "pods", "endpointslice", "readiness", "targetPort",
             "networkpolicy", "app", "request"]
    have = {s.hop for s in trace.steps}
    reasons = "an earlier hop failed"
    for hop in order:
        if hop == "networkpolicy" and not policies:
            continue  # listed only where policies exist (networkpolicy_step)
        if hop not in have:
            trace.steps.append(Step(hop, hop, SKIPPED, f"not checked: {reasons}", "-"))
    trace.steps.sort(key=lambda s: order.index(s.hop))
    # a request through the Service still tells the truth about what a client sees
    if trace.svc is not None and trace.client.url:
        trace.steps[:] = [s for s in trace.steps if s.hop != "request"]
        _request_step(cluster, trace, via=via)
    return trace


def _unschedulable(pod: kube.Obj) -> str:
    """The scheduler's message for a Pending Pod it could not place (condition PodScheduled=False, reason
    Unschedulable: pkg/scheduler/schedule_one.go), else ""."""
    if (pod.get("status") or {}).get("phase") != "Pending":
        return ""
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("reason") == "Unschedulable":
            return str(c.get("message") or "Unschedulable").strip()
    return ""


def _crash(pod: kube.Obj) -> str:
    """Why a container that keeps exiting is not Ready, from its status (a kubelet's restart back-off,
    pkg/kubelet/kuberuntime: waiting reason CrashLoopBackOff, lastState.terminated with the exit code); ""
    for a container that runs."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        if waiting.get("reason") == "CrashLoopBackOff" or (last and not (cs.get("state") or {}).get("running")):
            code = f", last exit code {last.get('exitCode')}" if last else ""
            return (f"container {cs.get('name')} keeps exiting: {waiting.get('reason') or 'restarting'}, "
                    f"{cs.get('restartCount', 0)} restart(s){code}; its last words: kubectl logs "
                    f"{kube.name(pod)} -c {cs.get('name')} (--previous: the instance before the last restart)")
    return ""


def _probe_failure(cluster: Any, namespace: str, pod: str) -> str:
    try:
        evs = kube.pod_events(cluster, namespace, pod)
    except Exception:  # noqa: BLE001
        return ""
    evs = [e for e in evs if e.get("reason") == "Unhealthy"]
    if not evs:
        return ""
    last = max(evs, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    return str(last.get("message", "")).strip()


def _listen_hint(cluster: Any, namespace: str, pod: str, containers: list[str] | None = None) -> str:
    """The first log line that says where the app listens. A Pod with several containers (an app and a sidecar)
    has no default log stream for the API (it answers 400 without ``container``), so each container's log is
    read in turn, the app's (first) one first."""
    texts = [kube.pod_log_tail(cluster, namespace, pod, 20)] if not containers or len(containers) < 2 else [
        _container_log_tail(cluster, namespace, pod, c) for c in containers]
    for text in texts:
        for line in text.splitlines():
            if re.search(r"port \d+|listen", line, re.I):
                return line.strip()[-100:]
    return ""


def _container_log_tail(cluster: Any, namespace: str, pod: str, container: str, lines: int = 20) -> str:
    try:
        resp = cluster.core().read_namespaced_pod_log(pod, namespace, container=container, tail_lines=lines,
                                                      _preload_content=False)
        return str(resp.data.decode(errors="replace"))
    except Exception:  # noqa: BLE001 - a hint only: no log, no hint
        return ""


# an app bound to the loopback address is reached only from inside its own Pod (R100)
_LOOPBACK = re.compile(r"(?<![\d.])(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+")


def loopback_note(log_line: str) -> str:
    """The course's sentence when the app's log says it listens on a loopback address (else "")."""
    m = _LOOPBACK.search(log_line)
    if not m:
        return ""
    return (f"; it listens on {m.group(0)}, the Pod's own loopback: only the Pod's containers reach it, and "
            f"connections to the Pod IP are refused. The app must listen on every address (0.0.0.0) or the Pod IP")
