"""The inspection walker: follow a Service's path hop by hop, the way the chapter debugs.

    trace = inspect(cluster, "web", "demo")
    trace.diagnosis        # the first failed step: it names the broken hop
    print(trace)           # every step with its evidence and the kubectl command to see it

Hops, in order: client's DNS name (``dns``), the client's port (``port``),
``service``, ``selector``, ``pods``, ``endpointslice``, ``readiness``,
``targetPort``, ``app`` (does the Pod answer on that port) and ``request`` (a
real request along the client's own URL). The walker only reads the API and
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


def inspect(cluster: Any, service: str, namespace: str = "default",
            client: Client | str | dict[str, Any] | None = None) -> Trace:
    """Walk Service ``service`` in ``namespace`` hop by hop; ``client`` is who calls it (default: a Pod in
    the same namespace calling ``http://<service>:<first port>/``)."""
    snap = kube.snapshot(cluster, namespace)
    svc = snap.service(service) if snap.exists else None
    cl = _as_client(client, service, namespace, svc)
    steps: list[Step] = []
    trace = Trace(service, namespace, cl, steps)
    ns_flag = f"-n {namespace}"

    # -- service --------------------------------------------------------------------------
    if not snap.exists:
        steps.append(Step("service", "Does the Service exist?", FAILED,
                          f"namespace {namespace} does not exist", "kubectl get namespaces"))
        return _skip_rest(trace, cluster)
    if svc is None:
        others = [kube.name(s) for s in snap.services]
        steps.append(Step("service", "Does the Service exist?", FAILED,
                          f"there is no Service {service} in {namespace}"
                          + (f" (there are: {', '.join(others)})" if others else " (no Services at all)"),
                          f"kubectl get svc {ns_flag}", {"services": others}))
        return _skip_rest(trace, cluster)
    spec = svc["spec"]
    headless = spec.get("clusterIP") == "None"
    ports = [{"name": p.get("name", ""), "port": p.get("port"), "targetPort": p.get("targetPort", p.get("port")),
              "protocol": p.get("protocol", "TCP")} for p in spec.get("ports") or []]
    trace.svc = ServiceView(service, namespace, spec.get("type", "ClusterIP"), str(spec.get("clusterIP", "")),
                            f"{service}.{namespace}.svc.cluster.local", ports, dict(spec.get("selector") or {}))
    port_text = ", ".join(f"{p['port']}->{p['targetPort']}/{p['protocol']}" for p in ports) or "no ports"
    steps.append(Step("service", "Does the Service exist?", OK,
                      f"Service {service} is {'headless' if headless else spec.get('type', 'ClusterIP')}"
                      f"{'' if headless else ' ' + str(spec.get('clusterIP'))}, ports {port_text}, selector "
                      f"{_sel(spec.get('selector')) or '<none>'}", f"kubectl describe svc {service} {ns_flag}",
                      {"type": spec.get("type"), "clusterIP": spec.get("clusterIP"), "ports": ports,
                       "selector": spec.get("selector") or {}}))

    # -- pods, selector (facts first, statuses below) ----------------------------------------
    sel = dict(spec.get("selector") or {})
    live = snap.live_pods()
    client_dep = _client_deployment(snap, cl, namespace)
    for p in live:
        lbl = kube.labels(p)
        selected = kube.selects(sel, lbl)
        diff = {k: [v, lbl.get(k)] for k, v in sorted(sel.items()) if lbl.get(k) != v} if sel else {}
        trace.pods.append(PodView(kube.name(p), kube.pod_ip(p), dict(sorted(lbl.items())), kube.pod_ready(p),
                                  (p.get("status") or {}).get("phase", ""),
                                  [{k: v for k, v in cp.items() if k != "container"} for cp in kube.container_ports(p)],
                                  selected, snap.owner_deployment(p), diff))
    selected = [p for p in live if kube.selects(sel, kube.labels(p))]
    candidates = [p for p in live if p not in selected and snap.owner_deployment(p) != client_dep]
    for sl in snap.slices_for(service):
        eps = [EndpointView(",".join(e.get("addresses") or []), (e.get("targetRef") or {}).get("name"),
                            bool((e.get("conditions") or {}).get("ready", True)),
                            bool((e.get("conditions") or {}).get("serving", True)),
                            bool((e.get("conditions") or {}).get("terminating", False)))
               for e in sl.get("endpoints") or []]
        trace.slices.append(SliceView(kube.name(sl), [{"name": p.get("name", ""), "port": p.get("port"),
                                                       "protocol": p.get("protocol", "TCP")}
                                                      for p in sl.get("ports") or []],
                                      sorted(eps, key=lambda e: (e.pod or "", e.address))))

    # -- dns and port: the client's side ---------------------------------------------------
    _client_steps(cluster, trace, svc, selected, snap)

    # -- selector ------------------------------------------------------------------------
    sel_cmd = f"kubectl get pods {ns_flag} --show-labels"
    owners = sorted({snap.owner_deployment(p) or f"Pod {kube.name(p)}" for p in selected})
    if spec.get("type") == "ExternalName":
        steps.append(Step("selector", "Which Pods does the selector match?", SKIPPED,
                          "an ExternalName Service has no selector and no endpoints: DNS answers with a CNAME",
                          f"kubectl get svc {service} {ns_flag} -o wide"))
        return _skip_rest(trace, cluster)
    if not sel:
        steps.append(Step("selector", "Which Pods does the selector match?", FAILED,
                          f"Service {service} has no selector: no controller manages its endpoints",
                          f"kubectl get svc {service} {ns_flag} -o wide"))
    elif not selected and candidates:
        have = sorted({_sel({k: kube.labels(p).get(k, "<missing>") for k in sel}) for p in candidates})
        steps.append(Step("selector", "Which Pods does the selector match?", FAILED,
                          f"Service {service} selects {_sel(sel)}; no Pod carries it; Pods have {'; '.join(have)}",
                          sel_cmd, {"selector": sel, "pods": {kube.name(p): kube.labels(p) for p in candidates}}))
    elif not selected:
        steps.append(Step("selector", "Which Pods does the selector match?", SKIPPED,
                          f"selector {_sel(sel)}: there are no Pods in {namespace} to compare it with", sel_cmd,
                          {"selector": sel}))
    elif len(owners) > 1:
        steps.append(Step("selector", "Which Pods does the selector match?", FAILED,
                          f"selector {_sel(sel)} matches Pods of {len(owners)} workloads ({', '.join(owners)}): "
                          "requests are spread over all of them",
                          sel_cmd, {"selector": sel, "owners": owners,
                                    "pods": {kube.name(p): kube.labels(p) for p in selected}}))
    else:
        steps.append(Step("selector", "Which Pods does the selector match?", OK,
                          f"selector {_sel(sel)} matches {len(selected)} Pod(s) of {owners[0]}", sel_cmd,
                          {"selector": sel, "matched": [kube.name(p) for p in selected]}))

    # -- pods ------------------------------------------------------------------------------
    if selected:
        steps.append(Step("pods", "Are there Pods behind it?", OK,
                          f"{len(selected)} Pod(s): " + ", ".join(
                              f"{kube.name(p)} ({'Ready' if kube.pod_ready(p) else 'not Ready'})" for p in selected),
                          f"kubectl get pods {ns_flag} -l {_sel(sel)} -o wide"))
    elif steps[-1].status == FAILED:
        steps.append(Step("pods", "Are there Pods behind it?", SKIPPED, "the selector matches nothing (above)",
                          f"kubectl get pods {ns_flag} -l {_sel(sel)} -o wide"))
    else:
        deps = [f"{kube.name(d)} (replicas: {d['spec'].get('replicas', 1)})" for d in snap.deployments
                if kube.name(d) != client_dep]
        steps.append(Step("pods", "Are there Pods behind it?", FAILED,
                          "no Pods to select: a Service never creates Pods; "
                          + (f"Deployment {', '.join(deps)}" if deps else f"no Deployment in {namespace}"),
                          f"kubectl get deploy,pods {ns_flag}", {"deployments": deps}))
    if steps[-1].status != OK:
        return _skip_rest(trace, cluster)

    # -- endpointslice ---------------------------------------------------------------------
    es_cmd = f"kubectl get endpointslice {ns_flag} -l kubernetes.io/service-name={service} -o wide"
    eps = [e for s in trace.slices for e in s.endpoints]
    if not eps:
        steps.append(Step("endpointslice", "Does the EndpointSlice list them?", FAILED,
                          f"{len(selected)} Pod(s) match but the EndpointSlice has no endpoints (Pods without an IP "
                          "yet, or the controller has not caught up)", es_cmd))
        return _skip_rest(trace, cluster)
    steps.append(Step("endpointslice", "Does the EndpointSlice list them?", OK,
                      f"{len(trace.slices)} EndpointSlice(s), {len(eps)} endpoint(s): "
                      + ", ".join(f"{e.pod or e.address} {e.address}" for e in eps), es_cmd,
                      {"slices": [s.name for s in trace.slices]}))

    # -- readiness ---------------------------------------------------------------------------
    ready = [e for e in eps if e.ready]
    if not ready:
        worst = next((p for p in selected if not kube.pod_ready(p)), selected[0])
        why = _probe_failure(cluster, namespace, kube.name(worst))
        steps.append(Step("readiness", "Are the endpoints ready?", FAILED,
                          f"0 of {len(eps)} endpoints are ready: Pod {kube.name(worst)} is "
                          f"{(worst.get('status') or {}).get('phase', '?')} but not Ready"
                          + (f" ({why})" if why else ""),
                          f"kubectl describe pod {kube.name(worst)} {ns_flag}", {"last_probe_failure": why}))
        return _skip_rest(trace, cluster)
    unready = [e.pod or e.address for e in eps if not e.ready]
    steps.append(Step("readiness", "Are the endpoints ready?", OK,
                      f"{len(ready)} of {len(eps)} endpoints ready"
                      + (f" (not ready: {', '.join(unready)})" if unready else ""),
                      f"kubectl get endpointslice {ns_flag} -l kubernetes.io/service-name={service} -o yaml"))

    # -- targetPort ------------------------------------------------------------------------
    svc_port = _chosen_port(trace, svc)
    if svc_port is None:
        steps.append(Step("targetPort", "Where does the traffic go in the Pod?", FAILED,
                          f"Service {service} has no ports", f"kubectl get svc {service} {ns_flag} -o yaml"))
        return _skip_rest(trace, cluster)
    pod_by_name = {kube.name(p): p for p in selected}
    resolved: dict[str, int | None] = {}
    for e in ready:
        sl = next(s for s in trace.slices if e in s.endpoints)
        num = next((int(p["port"]) for p in sl.ports if p["name"] == svc_port.get("name", "")), None)
        resolved[e.pod or e.address] = num
    tp = svc_port.get("targetPort", svc_port.get("port"))
    missing = sorted(k for k, v in resolved.items() if v is None)
    if missing:
        pod = pod_by_name.get(missing[0])
        have = ", ".join(f"{cp['name'] or '<unnamed>'}:{cp['containerPort']}/{cp['protocol']}"
                         for cp in kube.container_ports(pod)) if pod else "?"
        steps.append(Step("targetPort", "Where does the traffic go in the Pod?", FAILED,
                          f"Service port {svc_port.get('name') or svc_port.get('port')} targets the named port "
                          f"'{tp}'; no container port of Pod {missing[0]} carries that name (it has {have or 'none'})",
                          f"kubectl get pod {missing[0]} {ns_flag} -o jsonpath='{{.spec.containers[*].ports}}'",
                          {"targetPort": tp, "pods_without_port": missing}))
        return _skip_rest(trace, cluster)
    steps.append(Step("targetPort", "Where does the traffic go in the Pod?", OK,
                      f"port {svc_port.get('port')} -> targetPort {tp} -> "
                      + ", ".join(f"{k}:{v}" for k, v in sorted(resolved.items())),
                      f"kubectl describe svc {service} {ns_flag}", {"resolved": resolved}))

    # -- app ---------------------------------------------------------------------------------
    failed: list[str] = []
    log_hint = ""
    for e in sorted(ready, key=lambda x: x.pod or "")[:3]:
        num = resolved[e.pod or e.address]
        r = cluster.net.curl(f"http://{e.address.split(',')[0]}:{num}/", namespace=namespace, timeout=1.0)
        if not r.ok and r.status is None:
            failed.append(f"{e.pod} ({e.address}:{num}: {r.error})")
            if len(failed) == 1:
                log_hint = _listen_hint(cluster, namespace, e.pod or "")
    if failed:
        steps.append(Step("app", "Does the app answer on that port?", FAILED,
                          f"nothing answers on the targetPort: {', '.join(failed)}" + (
                              f"; the app's log says: {log_hint}" if log_hint else ""),
                          f"kubectl logs {failed[0].split(' ')[0]} {ns_flag}", {"failed": failed}))
        return _skip_rest(trace, cluster)
    steps.append(Step("app", "Does the app answer on that port?", OK,
                      f"the Pods answer on their targetPort ({', '.join(sorted(set(map(str, resolved.values()))))})",
                      f"kubectl logs -l {_sel(sel)} {ns_flag} --tail=5"))

    # -- request -----------------------------------------------------------------------------
    _request_step(cluster, trace)
    return trace


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


def _client_steps(cluster: Any, trace: Trace, svc: kube.Obj, selected: list[kube.Obj],
                  snap: kube.Snapshot) -> None:
    cl, steps, spec = trace.client, trace.steps, svc["spec"]
    headless = spec.get("clusterIP") == "None"
    dns_cmd = (f"kubectl run tmp-dns -n {cl.namespace} --rm -it --restart=Never --image=busybox:1.36 -- "
               f"nslookup {cl.host}")
    try:
        ipaddress.ip_address(cl.host)
        is_ip = True
    except ValueError:
        is_ip = False
    if not cl.url:
        steps.append(Step("dns", "Does the client's name resolve?", FAILED, "the client has no URL",
                          f"kubectl get deploy -n {cl.namespace} -o yaml"))
    elif is_ip:
        pod = next((kube.name(p) for p in snap.pods if kube.pod_ip(p) == cl.host), None)
        steps.append(Step("dns", "Does the client's name resolve?", FAILED if pod else SKIPPED,
                          (f"the client dials Pod {pod}'s IP {cl.host}: it breaks with the next rollout; use "
                           f"the Service name" if pod else f"the client dials an IP ({cl.host}), no DNS involved"),
                          f"kubectl get pods,svc -n {trace.namespace} -o wide"))
    else:
        ans = cluster.net.resolve(cl.host, namespace=cl.namespace)
        ips = [a.data for a in ans.answers if a.type == "A"]
        fqdn = f"{trace.service}.{trace.namespace}.svc.cluster.local"
        if ans.rcode != "NOERROR" or not ips:
            if headless and cl.host.split(".")[0] == trace.service:
                steps.append(Step("dns", "Does the client's name resolve?", SKIPPED,
                                  f"{cl.host} has no A records: a headless Service's DNS lists only ready "
                                  "endpoints (see readiness)", dns_cmd))
            elif cl.host.split(".")[0] == trace.service and cl.namespace != trace.namespace:
                steps.append(Step("dns", "Does the client's name resolve?", FAILED,
                                  f"from namespace {cl.namespace}, {cl.host} means "
                                  f"{cl.host}.{cl.namespace}.svc.cluster.local, which "
                                  f"does not exist ({ans.rcode}); Service {trace.service} lives in "
                                  f"{trace.namespace}: use {trace.service}.{trace.namespace} or {fqdn}",
                                  dns_cmd, {"rcode": ans.rcode, "tried": ans.tried}))
            else:
                steps.append(Step("dns", "Does the client's name resolve?", FAILED,
                                  f"{cl.host} does not resolve from {cl.namespace} ({ans.rcode})", dns_cmd,
                                  {"rcode": ans.rcode, "tried": ans.tried}))
        elif ans.fqdn.rstrip(".") != fqdn:
            steps.append(Step("dns", "Does the client's name resolve?", FAILED,
                              f"{cl.host} resolves to {ans.fqdn.rstrip('.')} ({', '.join(ips)}), not to Service "
                              f"{trace.service} in {trace.namespace}", dns_cmd, {"fqdn": ans.fqdn, "ips": ips}))
        else:
            steps.append(Step("dns", "Does the client's name resolve?", OK,
                              f"{cl.host} -> {ans.fqdn.rstrip('.')} -> {', '.join(ips)}"
                              + (" (headless: Pod IPs)" if headless else " (the ClusterIP)"), dns_cmd,
                              {"fqdn": ans.fqdn, "ips": ips}))
    # port
    ports = spec.get("ports") or []
    port_cmd = f"kubectl get svc {trace.service} -n {trace.namespace} -o jsonpath='{{.spec.ports}}'"
    if headless:
        listen = set()
        for p in selected:
            for sp in ports:
                n = kube.resolve_target_port(p, sp)
                if n:
                    listen.add(n)
        if listen and cl.port not in listen:
            steps.append(Step("port", "Does the client dial a port the Service serves?", FAILED,
                              f"headless Service: the client connects straight to Pod IPs on port {cl.port}; "
                              f"no port translation happens, and the Pods are reached on "
                              f"{', '.join(map(str, sorted(listen)))} (targetPort)", port_cmd,
                              {"client_port": cl.port, "pod_ports": sorted(listen)}))
        else:
            steps.append(Step("port", "Does the client dial a port the Service serves?", OK,
                              f"headless Service: the client dials Pod IPs on {cl.port}, the targetPort", port_cmd))
    else:
        numbers = [int(p["port"]) for p in ports]
        if cl.port not in numbers:
            targets = [str(p.get("targetPort")) for p in ports]
            extra = (" - that is the targetPort, the Pod side; clients use the Service port"
                     if str(cl.port) in targets else "")
            steps.append(Step("port", "Does the client dial a port the Service serves?", FAILED,
                              f"the client dials {cl.host}:{cl.port}, but Service {trace.service} exposes only "
                              + ", ".join(f"{p['port']} (-> {p.get('targetPort', p['port'])})" for p in ports)
                              + extra, port_cmd, {"client_port": cl.port, "service_ports": numbers}))
        else:
            steps.append(Step("port", "Does the client dial a port the Service serves?", OK,
                              f"the client dials port {cl.port}, a port of Service {trace.service}", port_cmd))


def _request_step(cluster: Any, trace: Trace) -> None:
    cl = trace.client
    cmd = f"kubectl run tmp-curl -n {cl.namespace} --rm -it --restart=Never --image=curlimages/curl -- curl -v {cl.url}"
    if not cl.url:
        trace.steps.append(Step("request", "Does a real request get through?", SKIPPED, "no URL", cmd))
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


def _skip_rest(trace: Trace, cluster: Any) -> Trace:
    order = ["service", "dns", "port", "selector", "pods", "endpointslice", "readiness", "targetPort", "app",
             "request"]
    have = {s.hop for s in trace.steps}
    reasons = "an earlier hop failed"
    for hop in order:
        if hop not in have:
            trace.steps.append(Step(hop, hop, SKIPPED, f"not checked: {reasons}", "-"))
    trace.steps.sort(key=lambda s: order.index(s.hop))
    # a request through the Service still tells the truth about what a client sees
    if trace.svc is not None and trace.client.url:
        trace.steps[:] = [s for s in trace.steps if s.hop != "request"]
        _request_step(cluster, trace)
    return trace


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


def _listen_hint(cluster: Any, namespace: str, pod: str) -> str:
    text = kube.pod_log_tail(cluster, namespace, pod, 20)
    for line in text.splitlines():
        if re.search(r"port \d+|listen", line, re.I):
            return line.strip()[-100:]
    return ""
