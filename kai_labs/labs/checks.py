"""Checks: small read-only functions over the cluster that grade a fix by its outcome.

Each check takes a :class:`Context` (snapshots of the scenario's namespaces plus
the cluster handle for real requests) and its parameters from ``spec.yaml``, and
returns a :class:`CheckResult` whose message names the hop and shows expected
against found. Checks never create, change or delete anything.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

from ..errors import friendly
from ..k8s import netpol
from . import kube
from .spec import client_url_from


@dataclass(frozen=True)
class CheckResult:
    name: str
    hop: str
    passed: bool
    message: str
    expected: str = ""
    found: str = ""
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Context:
    cluster: Any
    scenario: Any  # Scenario (effective)
    snaps: dict[str, kube.Snapshot] = field(default_factory=dict)

    @property
    def ns(self) -> str:
        return str(self.scenario.namespace)

    @property
    def snap(self) -> kube.Snapshot:
        return self.snaps[self.ns]


CHECKS: dict[str, Callable[..., CheckResult]] = {}


def check(name: str) -> Callable[[Callable[..., CheckResult]], Callable[..., CheckResult]]:
    def deco(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        CHECKS[name] = fn
        return fn

    return deco


def _sel(sel: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((sel or {}).items())) or "<none>"


def _ports(svc: kube.Obj) -> str:
    return ", ".join(f"{p.get('port')}->{p.get('targetPort', p.get('port'))}" for p in svc["spec"].get("ports") or [])


@check("service_kept")
def service_kept(ctx: Context) -> CheckResult:
    sc, snap = ctx.scenario, ctx.snap
    svc = snap.service(sc.service)
    name = "Service kept"
    if svc is None:
        others = [kube.name(s) for s in snap.services]
        return CheckResult(
            name, "service", False,
            f"Service {sc.service} is gone from namespace {ctx.ns}"
            + (f" (found: {', '.join(others)})" if others else "") + ". Clients call it by the name "
            f"{sc.service}; a Service under another name does not help them.",
            expected=f"Service {sc.service} in {ctx.ns}", found=", ".join(others) or "no Services",
            hint=f"Fix Service {sc.service} in place (kubectl edit/patch), or recreate it under the same name.")
    if svc["spec"].get("type") == "ExternalName":
        return CheckResult(name, "service", False, f"Service {sc.service} became an ExternalName Service.",
                           "a ClusterIP or headless Service", "ExternalName",
                           "Keep the Service's type; fix the hop that is broken.")
    if not svc["spec"].get("selector"):
        return CheckResult(
            name, "selector", False,
            f"Service {sc.service} has no selector: its endpoints would have to be written by hand and would "
            "freeze today's Pod IPs.", "a selector that matches the Pods", "no selector",
            "Give the Service a selector that matches the Pods of Deployment " f"{sc.intended}.")
    # clients dial a Service's port; targetPort is where the Pods receive it (types.go, ServicePort.Port and
    # ServicePort.TargetPort): a changed port is a different Service for every client that already uses it
    was = original(ctx).get(("Service", ctx.ns, sc.service))
    moved = _ports_moved(was, svc) if was else []
    if moved:
        before, after = moved[0]
        return CheckResult(
            name, "port", False,
            f"Service {sc.service}'s port changed from {before} to {after}: clients dial the Service's port "
            f"(http://{sc.service}" + ("" if before == 80 else f":{before}") + f" means port {before}), so they now "
            "reach nothing. The port in the Pod that traffic is "
            "sent to is targetPort.", f"port {before}", f"port {after}",
            f"Put port {before} back (kubectl edit svc {sc.service} -n {ctx.ns}); if traffic must go to another "
            "port in the Pod, change targetPort.")
    return CheckResult(name, "service", True, f"Service {sc.service} exists in {ctx.ns}, selects "
                       f"{_sel(svc['spec'].get('selector'))} on port(s) {_ports(svc)}.",
                       found=_sel(svc["spec"].get("selector")))


@check("service_ports")
def service_ports(ctx: Context) -> CheckResult:
    sc = ctx.scenario
    svc = ctx.snap.service(sc.service)
    want = [(int(p["port"]), p.get("targetPort")) for p in sc.keep_ports]
    exp = ", ".join(f"{a}->{b}" for a, b in want)
    if svc is None:
        return CheckResult("Service ports kept", "port", False, f"Service {sc.service} is missing.", exp, "nothing")
    have = [(int(p["port"]), p.get("targetPort", p.get("port"))) for p in svc["spec"].get("ports") or []]
    if have != want:
        return CheckResult(
            "Service ports kept", "port", False,
            f"Service {sc.service}'s ports changed: other clients already use it as it was. Expected {exp}; "
            f"found {_ports(svc)}.", exp, _ports(svc),
            "Put the Service's ports back and change the client that dials the wrong port.")
    return CheckResult("Service ports kept", "port", True, f"Service {sc.service} still maps {exp}.", exp, exp)


@check("service_headless")
def service_headless(ctx: Context) -> CheckResult:
    sc = ctx.scenario
    svc = ctx.snap.service(sc.service)
    ip = (svc or {}).get("spec", {}).get("clusterIP")
    if svc is None or ip != "None":
        return CheckResult(
            "Service stays headless", "service", False,
            f"Service {sc.service} must stay headless (clusterIP: None): other clients use its per-Pod DNS "
            f"records. Found clusterIP {ip or 'nothing (Service missing)'}.", "clusterIP: None", str(ip),
            "Keep the headless Service and change the client's URL instead.")
    return CheckResult("Service stays headless", "service", True, f"Service {sc.service} is still headless.",
                       "clusterIP: None", "clusterIP: None")


@check("workloads_kept")
def workloads_kept(ctx: Context) -> CheckResult:
    sc = ctx.scenario
    for k in sc.keep:
        dep = ctx.snap.deployment(k["deployment"])
        want = int(k.get("replicas", 1))
        got = int((dep or {}).get("spec", {}).get("replicas", 0)) if dep else 0
        if dep is None or got < want:
            return CheckResult(
                "Other workloads untouched", "pods", False,
                f"Deployment {k['deployment']} belongs to someone else and must keep running; expected "
                f"{want} replica(s), found {'no Deployment' if dep is None else got}.",
                f"{want} replica(s)", "missing" if dep is None else str(got),
                f"Restore Deployment {k['deployment']} and narrow the Service's selector instead.")
    kept = ", ".join(k["deployment"] for k in sc.keep)
    return CheckResult("Other workloads untouched", "pods", True, f"Deployment(s) {kept} still run.")


@check("readiness_probe_kept")
def readiness_probe_kept(ctx: Context, deployment: str = "web", path: str = "/healthz",
                         port: int = 8080) -> CheckResult:
    dep = ctx.snap.deployment(deployment)
    name = "Readiness probe kept"
    if dep is None:
        return CheckResult(name, "readiness", False, f"Deployment {deployment} is missing from {ctx.ns}.",
                           f"Deployment {deployment}", "nothing")
    c = (dep["spec"]["template"]["spec"].get("containers") or [{}])[0]
    probe = c.get("readinessProbe")
    exp = f"httpGet {path} on port {port}"
    if not probe:
        return CheckResult(
            name, "readiness", False,
            f"Deployment {deployment} has no readiness probe any more. The task says the probe is right: without "
            "it, traffic would go to Pods that cannot answer.", exp, "no readinessProbe",
            "Put the probe back and fix what it finds: where does the app listen?")
    hg = probe.get("httpGet") or {}
    p = hg.get("port")
    num = p if isinstance(p, int) else next((q.get("containerPort") for q in c.get("ports") or []
                                             if q.get("name") == p), None)
    found = f"httpGet {hg.get('path')} on port {p}" + (f" ({num})" if num != p else "")
    if hg.get("path") == path and isinstance(p, str) and num != port:
        # the probe itself is intact; the container port it names was renumbered
        return CheckResult(name, "readiness", False,
                           f"The readiness probe still checks {hg.get('path')} on the port named {p}, but that "
                           f"container port now says {num}, not {port}: the contract moved. containerPort does "
                           "not move the app either.", exp, found,
                           f"Put containerPort {p} back to {port}; change where the app listens (its args).")
    if hg.get("path") != path or num != port:
        return CheckResult(name, "readiness", False,
                           f"Deployment {deployment}'s readiness probe changed: expected {exp}, found {found}. "
                           "The probe is the contract; make the app meet it.", exp, found,
                           "Restore the probe; look at the container's args.")
    return CheckResult(name, "readiness", True, f"The readiness probe still checks {exp}.", exp, found)


@check("client_url")
def client_url(ctx: Context) -> CheckResult:
    cs = ctx.scenario.client
    snap = ctx.snaps[cs.namespace]
    name = "Client uses a Service name"
    url = client_url_from(snap, cs)
    if url is None:
        return CheckResult(name, "client", False,
                           f"Deployment {cs.deployment} in {cs.namespace} (or its env {cs.env}) is missing.",
                           f"Deployment {cs.deployment} with env {cs.env}", "nothing",
                           f"Restore Deployment {cs.deployment} and change only {cs.env}.")
    host = urlsplit(url if "://" in url else "http://" + url).hostname or ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return _client_names_the_service(ctx, url, host)
    owner = ""
    for s in ctx.snaps.values():
        for p in s.pods:
            if kube.pod_ip(p) == str(ip):
                owner = f" (Pod {kube.name(p)})"
    cip = next((kube.name(v) for s in ctx.snaps.values() for v in s.services
                if (v.get("spec") or {}).get("clusterIP") == str(ip)), None)
    if owner:
        what = f"a Pod IP{owner}. Pod IPs change with every rollout"
    elif cip:
        what = (f"the ClusterIP of Service {cip}. It works until the Service is recreated, and it hides the "
                "name clients should depend on")
    else:
        what = "an IP address that is no Pod's and no Service's"
    return CheckResult(
        name, "client", False,
        f"{cs.env}={url} points at {what}: use the Service's DNS name.",
        "a Service DNS name", url,
        f"Use {ctx.scenario.service}.<namespace> (or the full {ctx.scenario.service}.<namespace>.svc.cluster.local).")


def service_fqdn(host: str, client_ns: str, domain: str = "cluster.local") -> str:
    """The name a ClusterFirst Pod in ``client_ns`` ends up asking for ``host`` when it names a Service.

    The search path (<ns>.svc.<domain>, svc.<domain>, <domain>; ndots 5) makes ``web`` mean
    web.<client_ns>.svc, ``web.other`` mean web.other.svc and ``web.other.svc`` the same, all under
    ``domain`` (kubernetes/dns docs/specification.md). Other names are returned as they are.
    """
    h = host.lower().rstrip(".")
    if h.endswith(f".svc.{domain}"):
        return h
    if h.endswith(".svc"):
        return f"{h}.{domain}"
    labels_ = h.split(".")
    if len(labels_) == 1:
        return f"{h}.{client_ns}.svc.{domain}"
    if len(labels_) == 2:
        return f"{h}.svc.{domain}"
    return h


def _client_names_the_service(ctx: Context, url: str, host: str) -> CheckResult:
    """The host must name *this* Service: not another Service, a copy or alias in the client's namespace,
    or one Pod's DNS name under a headless Service (all of which sidestep what the scenario teaches)."""
    sc, cs = ctx.scenario, ctx.scenario.client
    name = "Client uses a Service name"
    want = f"{sc.service}.{ctx.ns}.svc.cluster.local"
    exp = f"the DNS name of Service {sc.service} in {ctx.ns} (e.g. {sc.service}.{ctx.ns})"
    fq = service_fqdn(host, cs.namespace)
    if fq == want:
        return CheckResult(name, "client", True, f"{cs.env}={url} names Service {sc.service} in {ctx.ns}.",
                           exp, url)
    if fq.endswith("." + want):
        return CheckResult(name, "client", False,
                           f"{cs.env}={url} names one Pod under the headless Service, not the Service: every "
                           "request goes to that one Pod, and the name breaks when the Pod is replaced.",
                           exp, url, f"Use the Service name, {sc.service}.{ctx.ns}, with the Pods' port.")
    parts = fq.split(".")
    if len(parts) == 5 and fq.endswith(".svc.cluster.local"):
        other, other_ns = parts[0], parts[1]
        known = ctx.snaps.get(other_ns)
        if known is not None and known.service(other) is None:
            short = "." not in host.rstrip(".")
            why = (f"Service {other} in {other_ns}, which does not exist"
                   + (": a short name is looked up in the client's own namespace" if short else ""))
        elif other_ns == ctx.ns:
            why = f"Service {other}, not Service {sc.service}: another Service sidesteps the one to fix"
        elif other == sc.service:
            why = (f"Service {other} in {other_ns}, not the one in {ctx.ns}: do not copy or alias the Service; "
                   "call the real one by its namespace")
        else:
            why = f"Service {other} in {other_ns}, not Service {sc.service} in {ctx.ns}"
        return CheckResult(name, "client", False, f"{cs.env}={url} names {why}.", exp, url,
                           f"Point {cs.env} at {sc.service}.{ctx.ns}.")
    return CheckResult(name, "client", False,
                       f"{cs.env}={url} does not name Service {sc.service} in {ctx.ns} (it asks DNS for {fq}).",
                       exp, url, f"Point {cs.env} at {sc.service}.{ctx.ns}.")


def _intended_pods(ctx: Context) -> dict[str, kube.Obj]:
    return {kube.name(p): p for p in ctx.snap.pods_of(ctx.scenario.intended)}


@check("endpoints_ready")
def endpoints_ready(ctx: Context, min: int = 1) -> CheckResult:  # noqa: A002 - spec.yaml spells it min
    sc, snap = ctx.scenario, ctx.snap
    name = "EndpointSlice holds the right ready endpoints"
    svc = snap.service(sc.service)
    exp = f"at least {min} ready endpoint(s), all Pods of Deployment {sc.intended}"
    if svc is None:
        return CheckResult(name, "endpointslice", False, f"Service {sc.service} is missing, so it has no "
                           "EndpointSlice.", exp, "no Service")
    port_names = {p.get("name", "") for p in svc["spec"].get("ports") or []}
    intended = _intended_pods(ctx)
    ready: list[str] = []
    wrong: list[str] = []
    portless: list[str] = []
    for sl in snap.slices_for(sc.service):
        names = {p.get("name", "") for p in sl.get("ports") or []}
        for ep in sl.get("endpoints") or []:
            if not (ep.get("conditions") or {}).get("ready", True):
                continue
            ref = (ep.get("targetRef") or {}).get("name")
            label = ref or ",".join(ep.get("addresses") or [])
            if ref not in intended:
                owner = next((snap.owner_deployment(p) for p in snap.pods if kube.name(p) == ref), None)
                why = (f"Deployment {owner}" if owner else "no Deployment: a bare Pod" if ref
                       else "no Pod: a hand-written endpoint")
                wrong.append(f"{label} ({why})")
            elif not port_names <= names:
                portless.append(label)
            else:
                ready.append(label)
    found = f"{len(ready)} ready: {', '.join(sorted(ready)) or 'none'}"
    if wrong:
        return CheckResult(
            name, "selector", False,
            f"EndpointSlice of Service {sc.service} also holds {', '.join(sorted(wrong))}: those Pods are not "
            f"part of Deployment {sc.intended}.", exp, found + f"; unintended: {', '.join(sorted(wrong))}",
            f"The selector must match only the Pods of Deployment {sc.intended}.")
    if portless:
        return CheckResult(
            name, "targetPort", False,
            f"Endpoints {', '.join(sorted(portless))} are ready but have no port for Service {sc.service}'s "
            f"targetPort: no container port carries that name.", exp, found,
            "A named targetPort must match a container port's name (and protocol).")
    if len(ready) < min:
        unready = [(e.get("targetRef") or {}).get("name", "?") for sl in snap.slices_for(sc.service)
                   for e in sl.get("endpoints") or [] if not (e.get("conditions") or {}).get("ready", True)]
        if unready:
            why = f"not ready: {', '.join(sorted(unready))}"
            hop, hint = "readiness", "Find out why the Pods' readiness probe fails (kubectl describe pod)."
        elif not intended:
            why = f"Deployment {sc.intended} runs no Pods"
            hop, hint = "pods", f"A Service never creates Pods: does Deployment {sc.intended} have replicas?"
        elif all(not kube.pod_ip(p) for p in intended.values()):
            # no Pod has an IP, so none can be an endpoint: they were never scheduled (or have not started yet)
            stuck = next((c.get("message") for p in intended.values() for c in (p.get("status") or {}).get(
                "conditions") or [] if c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable"), None)
            why = (f"the Pods of Deployment {sc.intended} are Pending with no IP"
                   + (f": the scheduler found no node for them ({str(stuck).strip()})" if stuck else ""))
            hop, hint = "pods", "Find out why the Pods are Pending: kubectl describe pod (Events, FailedScheduling)."
        elif ready:
            # the selector works (some of its Pods are ready endpoints): there are just too few of them
            why = (f"only {len(ready)} of the Pods of Deployment {sc.intended} are ready endpoints "
                   f"({len(intended)} Pod(s) running)")
            hop, hint = "pods", f"Run at least {min} replicas of Deployment {sc.intended} (kubectl scale)."
        else:
            sel = _sel(svc["spec"].get("selector"))
            sel_map = svc["spec"].get("selector") or {}
            have = sorted({_sel({k: kube.labels(p).get(k, "<missing>") for k in sel_map}) for p in intended.values()})
            why = f"selector {sel} matches none of its Pods (they have {'; '.join(have)})"
            hop, hint = "selector", "Make the selector and the Pod labels agree."
        return CheckResult(name, hop, False,
                           f"Service {sc.service} has {len(ready)} ready endpoint(s), needs {min}: {why}.",
                           exp, found, hint)
    return CheckResult(name, "endpointslice", True, f"Service {sc.service} has {len(ready)} ready endpoints, "
                       f"all Pods of Deployment {sc.intended}.", exp, found)


def traffic_target(ctx: Context) -> tuple[str, str]:
    """(url, namespace) a real request should use: the scenario client's URL, else http://<svc>/hostname."""
    cs = ctx.scenario.client
    if cs is not None:
        url = client_url_from(ctx.snaps[cs.namespace], cs) or ""
        return url, cs.namespace
    return f"http://{ctx.scenario.service}/hostname", ctx.ns


@check("traffic")
def traffic(ctx: Context, requests: int = 6, timeout: float = 1.0) -> CheckResult:
    sc = ctx.scenario
    url, ns = traffic_target(ctx)
    name = "Requests reach the intended Pods"
    exp = f"{requests}/{requests} requests answered by Pods of Deployment {sc.intended}"
    if not url:
        return CheckResult(name, "request", False, "The client has no URL to call.", exp, "no URL")
    intended = _intended_pods(ctx)
    ok = 0
    errors: list[str] = []
    wrong: dict[str, int] = {}
    hit: set[str] = set()
    for _ in range(requests):
        r = ctx.cluster.net.curl(url, namespace=ns, timeout=timeout)
        if not r.ok:
            errors.append(f"{r.error or ('HTTP ' + str(r.status))}: {r.detail or r.body.strip()[:80]}")
            continue
        if r.backend not in intended:
            wrong[r.backend or "?"] = wrong.get(r.backend or "?", 0) + 1
            continue
        ok += 1
        hit.add(str(r.backend))
    found = f"{ok}/{requests} answered by {', '.join(sorted(hit)) or 'no intended Pod'}"
    where = f"{url} from namespace {ns}"
    if wrong:
        owners = {b: next((ctx.snap.owner_deployment(p) for p in ctx.snap.pods if kube.name(p) == b), None)
                  for b in wrong}
        detail = ", ".join(f"{n}x {b}" + (f" (Deployment {owners[b]})" if owners[b] else "")
                           for b, n in sorted(wrong.items()))
        return CheckResult(name, "selector", False,
                           f"Requests to {where} landed in the wrong place: {detail}.", exp,
                           found + f"; elsewhere: {detail}", "Only the intended Pods may stand behind the Service.")
    if errors:
        first = errors[0]
        return CheckResult(name, "request", False,
                           f"{len(errors)} of {requests} requests to {where} failed; first: {first}.", exp, found,
                           "Inspect the path (s.inspect(c) in a notebook, `kai-labs scenario inspect "
                           f"{sc.name}` in a terminal) and fix the first broken hop.")
    return CheckResult(name, "request", True, f"{ok}/{requests} requests to {where} succeeded, answered by "
                       f"{', '.join(sorted(hit))}.", exp, found)


def network_policies(cluster: Any, namespace: str) -> list[kube.Obj] | None:
    """The NetworkPolicies of ``namespace`` as the API serves them (None when they cannot be read: no
    networking.k8s.io/v1 on the cluster, or no right to list them)."""
    try:
        api = importlib.import_module("kubernetes.client").NetworkingV1Api(cluster.api_client())
        return kube.items(api.list_namespaced_network_policy(namespace, _preload_content=False))
    except Exception:  # noqa: BLE001 - unreadable policies: the caller says so in words
        return None


# The cluster DNS server as a policy sees it when the API shows no Pod for it (the embedded cluster answers DNS
# in-process): kind's CoreDNS, kube-system, k8s-app=kube-dns, named ports dns 53/UDP and dns-tcp 53/TCP (R115)
_KIND_DNS = netpol.Peer("kube-dns", "kube-system", "coredns", {"k8s-app": "kube-dns"},
                        (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")))


def dns_egress(cluster: Any, pod: kube.Obj) -> netpol.Decision | None:
    """NetworkPolicy's word on ``pod``'s DNS queries (UDP 53 to a kube-dns Pod, after the kube-dns Service's
    DNAT: R114, R115): the denial, or None when they pass or cannot be judged."""
    src = netpol.pod_peer(pod)
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    pols = network_policies(cluster, ns)
    if src is None or not pols:
        return None
    dns_pods: list[kube.Obj] = []
    # no right to list kube-system: judge against kind's CoreDNS
    with contextlib.suppress(Exception):
        dns_pods = kube.items(cluster.core().list_namespaced_pod("kube-system", label_selector="k8s-app=kube-dns",
                                                                 _preload_content=False))
    dsts = [p for p in (netpol.pod_peer(d) for d in dns_pods) if p is not None] or [_KIND_DNS]
    labels = {n: {"kubernetes.io/metadata.name": n, **kube.labels(kube.get_namespace(cluster, n) or {})}
              for n in {ns, "kube-system"}}
    pols = pols + (network_policies(cluster, "kube-system") or [])
    d = netpol.decide(pols, labels, src, dsts[0], "UDP", 53)
    return None if d.allowed else d


@check("egress_isolation_kept")
def egress_isolation_kept(ctx: Context, policy: str = "frontend-egress") -> CheckResult:
    """The client's egress policy still isolates its Pods, and they still cannot reach what they have no business
    with: an address outside the cluster (TCP 443) and a Pod of another namespace (k8s/netpol.py: R99, R110)."""
    name = "Egress policy kept"
    cs = ctx.scenario.client
    exp = f"NetworkPolicy {policy} isolates the Pods of Deployment {cs.deployment} for egress; only what they need"
    pols = network_policies(ctx.cluster, cs.namespace)
    pol = next((p for p in pols or [] if kube.name(p) == policy), None)
    pods = ctx.snaps[cs.namespace].pods_of(cs.deployment)
    peers = [p for p in (netpol.pod_peer(x) for x in pods) if p is not None]
    if pol is None or not peers or not all(netpol.isolating([pol], p, netpol.EGRESS) for p in peers):
        return CheckResult(
            name, "networkpolicy", False,
            f"NetworkPolicy {policy} no longer isolates the Pods of Deployment {cs.deployment} for egress: the team "
            "keeps it. Add what is missing to it (or in another policy) instead of removing it.", exp,
            "missing" if pol is None else "not isolating", f"Put {policy} back and allow what the frontend needs.")
    labels = {cs.namespace: {"kubernetes.io/metadata.name": cs.namespace,
                             **kube.labels(kube.get_namespace(ctx.cluster, cs.namespace) or {})},
              "other": {"kubernetes.io/metadata.name": "other"}}
    outside = [(netpol.Peer("203.0.113.10"), "TCP", 443, "an address outside the cluster (203.0.113.10:443)"),
               (netpol.Peer("10.244.250.3", "other", "a Pod of another namespace", {"app": "other"}), "TCP", 8080,
                "a Pod of another namespace on 8080")]
    for dst, proto, port, what in outside:
        d = netpol.decide(pols or [], labels, peers[0], dst, proto, port)
        if d.allowed:
            return CheckResult(name, "networkpolicy", False,
                               f"The frontend's Pods may now send to {what}: {d.reason}. Allow only what they need "
                               "(the web Pods, and DNS).", exp, f"{what} allowed",
                               "Give the new egress rule a to: (kube-dns's Pods) and ports (53).")
    return CheckResult(name, "networkpolicy", True, f"NetworkPolicy {policy} still limits the frontend's egress.",
                       exp, "kept")


@check("ingress_isolation_kept")
def ingress_isolation_kept(ctx: Context, policy: str = "default-deny-ingress",
                           allowed: dict[str, str] | None = None) -> CheckResult:
    """The namespace's default deny still isolates every Pod for ingress, and no policy lets in more than the
    ``allowed`` Pods: judged by the policies' own semantics (k8s/netpol.py: R99, R110, R111) for a Pod of the
    namespace without those labels and for a Pod of another namespace, on the intended Pods' ports."""
    name = "Default deny kept"
    sc = ctx.scenario
    exp = f"NetworkPolicy {policy} isolates every Pod for ingress; only Pods labelled {_sel(allowed)} get in"
    pols = network_policies(ctx.cluster, ctx.ns)
    if pols is None:
        return CheckResult(name, "networkpolicy", False, f"the NetworkPolicies of {ctx.ns} cannot be read.", exp,
                           "unreadable")
    deny = next((p for p in pols if kube.name(p) == policy), None)
    spec = (deny or {}).get("spec") or {}
    if deny is None or spec.get("podSelector") not in ({}, None) or "Ingress" not in netpol.policy_types(deny):
        found = "missing" if deny is None else f"podSelector {spec.get('podSelector')}, policyTypes " \
            f"{netpol.policy_types(deny)}"
        return CheckResult(
            name, "networkpolicy", False,
            f"NetworkPolicy {policy} no longer isolates every Pod of {ctx.ns} for ingress ({found}). The "
            "security rollout stays: add a policy that allows what must get in, instead of removing the deny.",
            exp, found, f"Put {policy} back (podSelector {{}}, policyTypes [Ingress]) and add an allow policy.")
    ns_obj = kube.get_namespace(ctx.cluster, ctx.ns) or {}
    labels = {ctx.ns: {"kubernetes.io/metadata.name": ctx.ns, **kube.labels(ns_obj)},
              "other": {"kubernetes.io/metadata.name": "other"}}
    strangers = [netpol.Peer("10.244.250.1", ctx.ns, "a Pod without those labels", {"app": "stranger"}),
                 netpol.Peer("10.244.250.2", "other", "a Pod of another namespace", dict(allowed or {}))]
    for pod in ctx.snap.pods_of(sc.intended):
        dst = netpol.pod_peer(pod)
        if dst is None:
            continue
        for c in pod["spec"].get("containers") or []:
            for cp in c.get("ports") or []:
                port = int(cp.get("containerPort", 0))
                for src in strangers:
                    d = netpol.decide(pols, labels, src, dst, str(cp.get("protocol") or "TCP"), port)
                    if d.allowed:
                        return CheckResult(
                            name, "networkpolicy", False,
                            f"{src.name} now reaches Pod {kube.name(pod)} on {port}: {d.reason}. Let in only the "
                            f"Pods labelled {_sel(allowed)} of {ctx.ns}.", exp, f"{src.name} allowed",
                            "Narrow the allow rule's from: a podSelector with the frontend's labels.")
    return CheckResult(name, "networkpolicy", True,
                       f"NetworkPolicy {policy} still isolates every Pod of {ctx.ns}; other Pods stay out.", exp,
                       "kept")


@check("client_traffic")
def client_traffic(ctx: Context, requests: int = 4, timeout: int = 2) -> CheckResult:
    """Real requests from inside one of the client Deployment's Pods (``kubectl exec``: busybox ``wget``), so that
    whatever judges the client's Pod (its labels for NetworkPolicy, its own DNS) judges them too; stops at the
    first failure, so a dropped path costs one timeout, not ``requests`` of them."""
    sc, cs = ctx.scenario, ctx.scenario.client
    name = "The client's requests reach the intended Pods"
    exp = f"{requests}/{requests} requests from a Pod of Deployment {cs.deployment} answered by Pods of " \
          f"Deployment {sc.intended}"
    url = client_url_from(ctx.snaps[cs.namespace], cs) or ""
    if not url:
        return CheckResult(name, "request", False, f"Deployment {cs.deployment} has no {cs.env} to call.", exp,
                           "no URL")
    pods = sorted(ctx.snaps[cs.namespace].pods_of(cs.deployment), key=kube.name)
    denied = dns_egress(ctx.cluster, pods[0]) if pods else None
    if denied is not None:
        # not sent: its lookup would only wait out the resolver's timeout (5 s) to say "bad address"
        return CheckResult(
            name, "networkpolicy", False,
            f"The Pods of Deployment {cs.deployment} cannot resolve {urlsplit(url).hostname}: their DNS queries to "
            f"kube-dns (UDP 53) are dropped ({denied.reason}), so every request fails with \"bad address\" before "
            "a packet goes to web.", exp, "DNS dropped",
            "A Pod isolated for egress needs a rule for DNS too: UDP and TCP 53 to kube-dns's Pods (kube-system, "
            "k8s-app=kube-dns).")
    script = (f"for i in {' '.join(str(i) for i in range(requests))}; do wget -qO- -T {int(timeout)} "
              f"{shlex.quote(url)} || exit 1; echo; done")
    r = ctx.cluster.kubectl("exec", f"deploy/{cs.deployment}", "-n", cs.namespace, "--", "sh", "-c", script,
                            timeout=requests * timeout + 20)
    answers = [ln.strip() for ln in r.stdout.splitlines() if ln.strip()]
    intended = _intended_pods(ctx)
    hit = sorted({a for a in answers if a in intended})
    found = f"{sum(a in intended for a in answers)}/{requests} answered by {', '.join(hit) or 'none'}"
    where = f"{url} from a Pod of Deployment {cs.deployment} in {cs.namespace}"
    if r.returncode != 0:
        err = " ".join(r.stderr.split())[-200:] or f"exit status {r.returncode}"
        return CheckResult(name, "request", False, f"Requests to {where} failed after {len(answers)} answer(s): "
                           f"{err}.", exp, found,
                           "Inspect the path (s.inspect(c), `kai-labs scenario inspect "
                           f"{sc.name}`) and fix the first broken hop.")
    wrong = [a for a in answers if a not in intended]
    if wrong:
        return CheckResult(name, "selector", False, f"Requests to {where} were answered by {', '.join(wrong)}.",
                           exp, found, "Only the intended Pods may stand behind the Service.")
    return CheckResult(name, "request", True, f"{len(answers)}/{requests} requests to {where} succeeded, answered "
                       f"by {', '.join(hit)}.", exp, found)


# ---------------------------------------------------------------------- wrong fixes
# A wrong fix is recognised by comparing the objects now with the scenario's manifests as created (the broken
# state): what changed, and whether that change could have touched the broken hop.

Key = tuple[str, str, str]  # kind, namespace, name


def original(ctx: Context) -> dict[Key, kube.Obj]:
    """The scenario's objects as its manifests create them (a mystery: its running variant), by key."""
    sc = ctx.scenario
    try:
        text = sc.manifests(getattr(sc, "variant_of", None))
    except Exception:  # noqa: BLE001 - no manifests to compare with: recognise nothing
        return {}
    out: dict[Key, kube.Obj] = {}
    for d in yaml.safe_load_all(text):
        if isinstance(d, dict) and d.get("kind") in ("Service", "Deployment"):
            md = d.get("metadata") or {}
            out[(str(d["kind"]), str(md.get("namespace", sc.namespace)), str(md.get("name")))] = d
    return out


def _svc_ports(svc: kube.Obj) -> list[tuple[str, int, str]]:
    return [(str(p.get("name", "")), int(p.get("port", 0)), str(p.get("targetPort", p.get("port"))))
            for p in (svc.get("spec") or {}).get("ports") or []]


def _ports_moved(was: kube.Obj, now: kube.Obj) -> list[tuple[int, int]]:
    """(old, new) Service port numbers that changed, matched by position (and by name when both have one)."""
    a, b = _svc_ports(was), _svc_ports(now)
    moved = []
    for i, (name_, port, _) in enumerate(a):
        twin = next((q for q in b if name_ and q[0] == name_), b[i] if i < len(b) else None)
        if twin is not None and twin[1] != port:
            moved.append((port, twin[1]))
    return moved


def _containers(dep: kube.Obj) -> list[kube.Obj]:
    return list(((dep.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [])


def _args(c: kube.Obj) -> list[str]:
    return [str(x) for x in (c.get("command") or []) + (c.get("args") or [])]


def _probe(c: kube.Obj) -> str:
    p = c.get("readinessProbe") or {}
    return repr(((p.get("httpGet") or {}).get("path"), (p.get("httpGet") or {}).get("port"),
                 (p.get("exec") or {}).get("command"), (p.get("tcpSocket") or {}).get("port")))


def fingerprint(obj: kube.Obj) -> str:
    """What of a Service or Deployment can change a Service's path, with API defaults evened out."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Service" or "ports" in spec and "template" not in spec:
        return repr((spec.get("type", "ClusterIP"), spec.get("clusterIP") == "None", sorted(
            (spec.get("selector") or {}).items()), _svc_ports(obj),
            sorted(((obj.get("metadata") or {}).get("labels") or {}).items())))
    tpl = spec.get("template") or {}
    return repr((spec.get("replicas", 1), sorted(((tpl.get("metadata") or {}).get("labels") or {}).items()),
                 [(c.get("image"), _args(c), [(p.get("name"), p.get("containerPort")) for p in c.get("ports") or []],
                   sorted((str(e.get("name")), str(e.get("value", ""))) for e in c.get("env") or []), _probe(c))
                  for c in _containers(obj)]))


def _current(ctx: Context) -> dict[Key, kube.Obj]:
    out: dict[Key, kube.Obj] = {}
    for ns, snap in ctx.snaps.items():
        for s in snap.services:
            out[("Service", ns, kube.name(s))] = dict(s, kind="Service")
        for d in snap.deployments:
            out[("Deployment", ns, kube.name(d))] = dict(d, kind="Deployment")
    return out


def changed(ctx: Context) -> list[str]:
    """The scenario's Services and Deployments that differ from the manifests (or were added or deleted)."""
    was, now = original(ctx), _current(ctx)
    out = [f"{k[0]} {k[2]}" for k in sorted(set(was) | set(now))
           if k not in was or k not in now or fingerprint(was[k]) != fingerprint(now[k])]
    # bare Pods count when they could stand behind the Service (a client Pod for testing does not)
    svc = now.get(("Service", ctx.ns, ctx.scenario.service)) or {}
    sel = (svc.get("spec") or {}).get("selector") or {}
    bare = [kube.name(p) for snap in ctx.snaps.values() for p in snap.live_pods()
            if not (p.get("metadata") or {}).get("ownerReferences")
            and (sel and kube.selects(sel, kube.labels(p)) or "pod-template-hash" in kube.labels(p))]
    return out + [f"Pod {n}" for n in sorted(bare)]


def _container_port_changed(ctx: Context, was: dict[Key, kube.Obj], now: dict[Key, kube.Obj]) -> CheckResult | None:
    """containerPort renumbered while the app's arguments stayed: a container's ports list is "primarily
    informational" and declaring or omitting one opens nothing (staging/src/k8s.io/api/core/v1/types.go,
    Container.Ports); only a named targetPort or probe port reads it."""
    for key, dep in was.items():
        cur = now.get(key)
        if key[0] != "Deployment" or cur is None:
            continue
        for c0, c1 in zip(_containers(dep), _containers(cur), strict=False):
            p0 = [int(p.get("containerPort", 0)) for p in c0.get("ports") or []]
            p1 = [int(p.get("containerPort", 0)) for p in c1.get("ports") or []]
            if p0 == p1 or _args(c0) != _args(c1):
                continue
            before = ", ".join(map(str, p0)) or "none"
            after = ", ".join(map(str, p1)) or "none"
            return CheckResult(
                "Your change", "app", False,
                f"You changed containerPort of Deployment {key[2]} from {before} to {after}. containerPort is "
                "informational: it opens and moves nothing. The app still listens where its arguments say "
                f"({shlex.join(_args(c1)) or 'its image default'}), and the Service still sends traffic to its "
                "targetPort.", "the Service's targetPort = the port the app listens on",
                f"containerPort {after}, args {shlex.join(_args(c1))}",
                f"Find where the app listens (kubectl logs deploy/{key[2]} -n {key[1]}) and point the Service's "
                "targetPort there.")
    return None


def _label_on_service_object(ctx: Context, was: dict[Key, kube.Obj], now: dict[Key, kube.Obj]) -> CheckResult | None:
    sc = ctx.scenario
    key = ("Service", ctx.ns, sc.service)
    w, n = was.get(key), now.get(key)
    if w is None or n is None:
        return None
    added = {k: v for k, v in kube.labels(n).items() if kube.labels(w).get(k) != v}
    same_selector = (w.get("spec") or {}).get("selector") == (n.get("spec") or {}).get("selector")
    if not added or not same_selector:
        return None
    text = _sel(added)
    return CheckResult(
        "Your change", "selector", False,
        f"You put {text} on Service {sc.service}'s own metadata.labels. Those labels describe the Service itself "
        f"(kubectl get svc -l {text} finds it); which Pods get its traffic is decided by spec.selector, which "
        f"still says {_sel((n.get('spec') or {}).get('selector'))}.", "a changed spec.selector",
        f"metadata.labels {text}; spec.selector unchanged",
        f"Change the selector: kubectl edit svc {sc.service} -n {ctx.ns} (spec.selector), and remove the label "
        f"again (kubectl label svc {sc.service} -n {ctx.ns} {' '.join(k + '-' for k in added)}).")


def _pods_relabelled(ctx: Context) -> CheckResult | None:
    """A Pod with a ReplicaSet's pod-template-hash but no owner was relabelled by hand: the ReplicaSet released
    it (kubernetes pkg/controller/controller_ref_manager.go, ClaimPods releases Pods the selector no longer
    matches) and started a replacement with the template's labels."""
    bare = sorted(kube.name(p) for p in ctx.snap.live_pods()
                  if "pod-template-hash" in kube.labels(p) and not (p.get("metadata") or {}).get("ownerReferences"))
    if not bare:
        return None
    return CheckResult(
        "Your change", "pods", False,
        f"Pod(s) {', '.join(bare)} were relabelled by hand. Their ReplicaSet let them go (they no longer match its "
        "selector) and started new Pods with the template's labels; the released Pods belong to nobody and are not "
        "replaced when they die.", "labels changed in the Deployment's template, or the Service's selector",
        f"hand-relabelled Pods: {', '.join(bare)}",
        f"Delete the released Pods (kubectl delete pod {' '.join(bare)} -n {ctx.ns}) and change the selector "
        "or the Deployment's template instead.")


def _policy_on_service_port(ctx: Context) -> CheckResult | None:
    """An ingress rule that names the Service's port where the Pods' port (targetPort) was meant: a policy judges
    the packet after kube-proxy's DNAT, so it sees the backend Pod's IP and port (R114). Only looked for in a
    scenario whose own manifests carry a NetworkPolicy."""
    sc = ctx.scenario
    try:
        if "kind: NetworkPolicy" not in sc.manifests(getattr(sc, "variant_of", None)):
            return None
    except Exception:  # noqa: BLE001
        return None
    svc = ctx.snap.service(sc.service)
    if svc is None:
        return None
    sports = {int(p["port"]): p.get("targetPort", p["port"]) for p in svc["spec"].get("ports") or []}
    pod_ports = {int(cp.get("containerPort", 0)) for p in ctx.snap.pods_of(sc.intended)
                 for c in p["spec"].get("containers") or [] for cp in c.get("ports") or []}
    for pol in network_policies(ctx.cluster, ctx.ns) or []:
        for rule in (pol.get("spec") or {}).get("ingress") or []:
            for port in rule.get("ports") or []:
                n = port.get("port")
                if isinstance(n, int) and n in sports and n not in pod_ports and str(sports[n]) != str(n):
                    return CheckResult(
                        "Your change", "networkpolicy", False,
                        f"NetworkPolicy {kube.name(pol)} allows port {n}, the Service's port. A policy judges the "
                        f"packet at the Pod, after kube-proxy has rewritten it to Pod IP:targetPort, so it sees "
                        f"port {sports[n]}, never {n}.", f"the Pods' port ({sports[n]})", f"port {n}",
                        f"Allow port {sports[n]} (the targetPort) in NetworkPolicy {kube.name(pol)}.")
    return None


def wrong_fixes(ctx: Context) -> list[CheckResult]:
    """The common wrong fixes, each with its own message (empty when none is recognised)."""
    was, now = original(ctx), _current(ctx)
    found = [_container_port_changed(ctx, was, now), _label_on_service_object(ctx, was, now), _pods_relabelled(ctx),
             _policy_on_service_port(ctx)]
    return [r for r in found if r is not None]


def no_effect(ctx: Context, broken_hop: str, what: list[str]) -> CheckResult:
    """The learner changed something, and the first broken hop on the path is still the one the scenario broke."""
    return CheckResult(
        "Your change", broken_hop, False,
        f"Your change ({', '.join(what)}) had no effect on the path: the first broken hop is still {broken_hop}.",
        f"a change at {broken_hop}", ", ".join(what),
        f"Look at the {broken_hop} hop again; `kai-labs scenario hint {ctx.scenario.name} 1` if you are stuck.")


def run(ctx: Context, name: str, params: dict[str, Any]) -> CheckResult:
    fn = CHECKS[name]
    try:
        return fn(ctx, **params)
    except Exception as e:  # noqa: BLE001 - a grade must report, never raise in a learner's notebook
        msg = friendly(e) or f"{type(e).__name__}: {e}"
        return CheckResult(name, "cluster", False, f"the check could not run: {msg}")
