"""The packet walk: one request, step by step, from the client's DNS lookup to the Pod's reply.

    w = c.net.walk("http://web", namespace="lab-wrong-targetport")
    w                 # Next/Back in JupyterLab; plain text elsewhere
    w.stopped         # the step where the path breaks (None when the reply comes back)

Steps, in the order a packet meets them:

``dns``        the resolver's search path (the client's namespace first, ndots:5) and the answer;
``service``    kube-proxy's dispatch: is ``ClusterIP:port`` a port the Service defines?
``endpoints``  which ready endpoints the rules choose from (and why some Pods are missing);
``dnat``       the endpoint chain rewrites the destination to ``Pod IP:targetPort``;
``networkpolicy`` (only where policies exist) does a policy drop the rewritten packet at the Pod?
``reply``      does the Pod answer there? conntrack turns the reply's source back into the Service.

Each step carries the rule line (from ``cluster.net.rules``, in the cluster's own proxy
mode) or the object field that decides it. The walk stops at the first step that fails and
says why in the course's words. It reads the API and uses ``cluster.net`` only, so it works
on the embedded cluster, kind and any context.
"""

from __future__ import annotations

import contextlib
import html
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..clusters import netrules
from ..clusters.base import ClusterError
from ..k8s import netlogic, proxyrules
from . import kube
from .checks import network_policies
from .draw import diagram_html, draw
from .inspect import Client, Trace, inspect

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
HOPS = ("dns", "service", "endpoints", "dnat", "networkpolicy", "reply")
# the inspection walker's hop (labs/inspect.py, drawn by labs/draw.py) each step corresponds to
DIAGRAM_HOP = {"dns": "dns", "service": "port", "endpoints": "readiness", "dnat": "targetPort",
               "networkpolicy": "networkpolicy", "reply": "app"}


@dataclass
class WalkStep:
    hop: str
    title: str
    status: str
    explanation: str
    evidence: list[str] = field(default_factory=list)  # rule lines or object fields that decide the step

    @property
    def diagram_hop(self) -> str:
        return DIAGRAM_HOP[self.hop]


@dataclass
class PacketWalk:
    """A request's walk through DNS, kube-proxy's rules and the Pod; ``stopped`` is where it breaks."""

    url: str
    namespace: str
    mode: str
    steps: list[WalkStep]
    trace: Trace | None = None  # the Service's inspection, for the diagram

    @property
    def stopped(self) -> WalkStep | None:
        return next((s for s in self.steps if s.status == FAILED), None)

    def path_text(self, i: int) -> str:
        """The hops in a row, the current one in brackets: ``dns -> [service] -> endpoints -> dnat -> reply``;
        a failed hop is marked ``X``, one not reached ``~``."""
        out = []
        for j, s in enumerate(self.steps):
            name = {FAILED: f"X {s.hop}", SKIPPED: f"~{s.hop}"}.get(s.status, s.hop)
            out.append(f"[{name}]" if j == i else name)
        return " -> ".join(out)

    def path_html(self, i: int) -> str:
        """The hops as a row of boxes, the current one outlined: the packet's place on its path."""
        color = {OK: "var(--jp-success-color1, #1a7f37)", FAILED: "var(--jp-error-color1, #cf222e)",
                 SKIPPED: "var(--jp-content-font-color2, #6e7781)"}
        boxes = []
        for j, s in enumerate(self.steps):
            border = "3px solid" if j == i else "1px dashed" if s.status == SKIPPED else "1px solid"
            boxes.append(f"<span style='display:inline-block;padding:2px 8px;margin:2px;border:{border} "
                         f"{color[s.status]};border-radius:6px;color:{color[s.status]};"
                         f"font-weight:{'bold' if j == i else 'normal'}'>{html.escape(s.hop)}</span>")
        return "<div class='kai-walk-path'>" + " &#8594; ".join(boxes) + "</div>"

    def step_text(self, i: int) -> str:
        s = self.steps[i]
        mark = {OK: "ok", FAILED: "STOPS HERE", SKIPPED: "not reached"}[s.status]
        lines = [f"Step {i + 1}/{len(self.steps)} {s.title} [{mark}]   {self.path_text(i)}", f"  {s.explanation}"]
        lines += [f"    | {e}" for e in s.evidence]
        return "\n".join(lines)

    def __str__(self) -> str:
        head = f"Packet walk: {self.url} from a Pod in {self.namespace} (kube-proxy mode {self.mode})"
        body = [self.step_text(i) for i, s in enumerate(self.steps) if s.status != SKIPPED]
        d = self.stopped
        tail = f"The walk stops at {d.hop}: {d.explanation}" if d else "The reply comes back: every step is ok."
        return "\n\n".join([head, *body, tail])

    def __repr__(self) -> str:
        return str(self)

    def step_html(self, i: int) -> str:
        s = self.steps[i]
        e = html.escape
        color = {OK: "var(--jp-success-color1, #1a7f37)", FAILED: "var(--jp-error-color1, #cf222e)",
                 SKIPPED: "var(--jp-content-font-color2, #6e7781)"}[s.status]
        ev = "".join(f"<li><code>{e(x)}</code></li>" for x in s.evidence)
        return (f"<div class='kai-walk'>{self.path_html(i)}<p><b>Step {i + 1}/{len(self.steps)}: {e(s.title)}</b> "
                f"<span style='color:{color}'>[{e(s.status)}]</span></p><p>{e(s.explanation)}</p>"
                f"<ul>{ev}</ul><p style='color:var(--jp-content-font-color2, #57606a)'>diagram hop: "
                f"<code>{e(s.diagram_hop)}</code></p></div>")

    def widget(self) -> Any:
        """Next/Back through the steps (ipywidgets), the Service's diagram under them."""
        import ipywidgets as w  # late: optional and heavy

        shown = [i for i, s in enumerate(self.steps) if s.status != SKIPPED] or [0]
        pos = {"i": 0}
        out = w.HTML()
        back, nxt = w.Button(description="Back"), w.Button(description="Next")

        diagram = w.HTML()
        drawn: dict[str, str] = {}  # hop -> the diagram's HTML, drawn once

        def show() -> None:
            out.value = self.step_html(shown[pos["i"]])
            back.disabled = pos["i"] == 0
            nxt.disabled = pos["i"] == len(shown) - 1
            hop = self.steps[shown[pos["i"]]].diagram_hop  # that step's links drawn blue
            if self.trace is not None:
                with contextlib.suppress(Exception):  # no Graphviz: the steps still work
                    if hop not in drawn:
                        drawn[hop] = diagram_html(draw(self.trace, highlight=hop))
                    diagram.value = drawn[hop]

        def move(delta: int) -> None:
            pos["i"] = max(0, min(len(shown) - 1, pos["i"] + delta))
            show()

        back.on_click(lambda _: move(-1))
        nxt.on_click(lambda _: move(1))
        show()
        return w.VBox([w.HBox([back, nxt]), out, diagram])

    def _ipython_display_(self) -> None:
        from IPython.display import display  # late: only in a notebook

        try:
            display(self.widget())  # type: ignore[no-untyped-call]
        except ImportError:
            print(self)


def _parse(url: str) -> tuple[str, int]:
    """(host, port) of a URL or ``host[:port]``; a learner's typo is one sentence (ClusterError), no traceback."""
    text = url.strip()[:2048]
    try:
        u = urlsplit(text if "://" in text else "http://" + text)
        host, port = u.hostname or "", u.port or (443 if u.scheme == "https" else 80)
    except ValueError:
        raise ClusterError(f"{url!r} is not a URL the walk can follow: the port must be a number from 0 to "
                           f"65535, e.g. http://web:80/") from None
    if not host:
        raise ClusterError(f"{url!r} names no host: give a URL such as http://web/ or web:80")
    return host, port


def _skip(steps: list[WalkStep]) -> None:
    titles = {"dns": "DNS lookup", "service": "Service lookup (kube-proxy's dispatch)",
              "endpoints": "endpoint choice", "dnat": "DNAT to the Pod", "reply": "the reply"}
    done = {s.hop for s in steps}
    # networkpolicy is a step only where policies exist (_policy): never listed as "not reached"
    steps += [WalkStep(h, titles[h], SKIPPED, "not reached: the walk stopped earlier") for h in HOPS
              if h not in done and h in titles]


def walk(cluster: Any, url: str, namespace: str = "default", mode: str | None = None,
         diagram: bool = True) -> PacketWalk:
    """Step a request to ``url`` from a Pod in ``namespace`` through DNS, the rules, DNAT and the reply."""
    host, port = _parse(url)
    steps: list[WalkStep] = []
    rules0 = netrules.rules(cluster, mode=mode)
    pw = PacketWalk(url, namespace, rules0.mode, steps)
    snap = netrules.snapshot(cluster, namespace)

    # 1. DNS
    ip, fqdn = host, ""
    if netlogic._is_ipv4(host):
        steps.append(WalkStep("dns", "DNS lookup", OK, f"{host} is an address: no DNS lookup"))
    else:
        ans = cluster.net.resolve(host, namespace)
        ips = [r.data for r in ans.answers if r.type == "A"]
        search = netlogic.resolv_conf(namespace).splitlines()[0]
        ev = [f"/etc/resolv.conf: {search}", f"tried: {', '.join(ans.tried)}"]
        if not ips:
            steps.append(WalkStep("dns", "DNS lookup", FAILED,
                                  f"{host} does not resolve from namespace {namespace} ({ans.rcode}): the resolver "
                                  f"completes a short name with the client's own namespace first, and no Service "
                                  f"of that name answered. A Service in another namespace is <name>.<namespace>.",
                                  ev))
            _skip(steps)
            return pw
        ip, fqdn = ips[0], ans.fqdn
        steps.append(WalkStep("dns", "DNS lookup", OK, f"{host} resolves to {ip} ({fqdn})",
                              [*ev, f"answer: {fqdn} A {', '.join(ips)}"]))

    svc = snap.service_by_cluster_ip(ip)
    answered = netlogic._answered_service(snap, fqdn) if fqdn else None
    if svc is None and answered is not None and netlogic._is_headless(answered):
        return _headless(cluster, pw, snap, answered, ip, port)
    if svc is None:
        steps.append(WalkStep("service", "Service lookup (kube-proxy's dispatch)", OK,
                              f"{ip} is no Service's ClusterIP: no kube-proxy rule applies; the packet goes "
                              f"straight to {ip}:{port}"))
        return _reply(cluster, pw, None, ip, port)

    key = f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
    rules = netrules.rules(cluster, svc["metadata"]["name"], svc["metadata"]["namespace"], mode=pw.mode,
                           request=f"{ip}:{port}")
    pw.trace = _trace(cluster, svc, namespace, url) if diagram else None
    taken = rules.lines_taken
    sp_obj = next((p for p in netlogic._svc_ports(svc) if int(p["port"]) == port and p["protocol"] == "TCP"), None)
    ports = ", ".join(f"{p['port']}" + (f"/{p['name']}" if p["name"] else "") for p in netlogic._svc_ports(svc))

    # 2. the Service's port
    if sp_obj is None:
        how = ("kube-proxy (nftables) rejects it: connection refused" if pw.mode == "nftables" else
               "no kube-proxy rule matches it (iptables): the connection times out")
        steps.append(WalkStep("service", "Service lookup (kube-proxy's dispatch)", FAILED,
                              f"{ip} is Service {key}, but it has no port {port} (its ports: {ports}); {how}. "
                              f"Clients must use a port the Service defines.",
                              [*_last(taken, 2), f"spec.ports: {ports}"]))
        _skip(steps)
        return pw
    dispatch = [t for t in taken if ip in t and str(port) in t]
    steps.append(WalkStep("service", "Service lookup (kube-proxy's dispatch)", OK,
                          f"{ip}:{port} is Service {key} port {sp_obj['name'] or port}", dispatch or taken[:1]))

    # 3. endpoints
    sps = [p for p in proxyrules.service_ports(snap) if p.service == key and p.port == port and p.protocol == "tcp"]
    sp = sps[0] if sps else None
    if sp is None or not sp.has_endpoints:
        steps.append(WalkStep("endpoints", "endpoint choice", FAILED, _why_no_endpoints(cluster, svc, sp_obj),
                              _last(taken, 2)))
        _skip(steps)
        return pw
    owners = _owners(cluster, svc, sp.cluster_endpoints)
    lb = [t for t in taken if "numgen" in t or "statistic" in t or t.startswith("-A KUBE-SVC")]
    if len(owners) > 1:
        steps.append(WalkStep("endpoints", "endpoint choice", FAILED,
                              f"the ready endpoints of {key} are Pods of {len(owners)} different workloads "
                              f"({', '.join(sorted(owners))}): the selector "
                              f"{_sel(svc)} matches them all, so kube-proxy spreads requests over all of them",
                              lb or taken))
        _skip(steps)
        return pw
    eps = sp.cluster_endpoints
    chosen = eps[0]
    unready = [e.pod or e.ip for e in sp.all_endpoints if e not in eps]
    extra = f"; left out (not ready): {', '.join(unready)}" if unready else ""
    steps.append(WalkStep("endpoints", "endpoint choice", OK,
                          f"kube-proxy picks one of {len(eps)} ready endpoint(s) at random "
                          f"({', '.join(e.hostport for e in eps)}){extra}; this walk follows {chosen.pod or chosen.ip}",
                          lb))

    # 4. DNAT
    dnat = [t for t in taken if chosen.hostport in t and ("dnat" in t.lower())]
    tp = svc["spec"]["ports"][[int(p["port"]) for p in svc["spec"]["ports"]].index(port)].get("targetPort", port)
    steps.append(WalkStep("dnat", "DNAT to the Pod", OK,
                          f"the endpoint chain rewrites the destination {ip}:{port} to {chosen.hostport} "
                          f"(targetPort {tp} -> {chosen.port} on Pod {chosen.pod or chosen.ip})", dnat))
    if not _policy(cluster, pw, svc["metadata"]["namespace"], chosen.ip, chosen.port, chosen.pod or chosen.ip):
        _skip(steps)
        return pw
    return _reply(cluster, pw, key, chosen.ip, chosen.port, pod=chosen.pod, vip=f"{ip}:{port}")


def _policy(cluster: Any, pw: PacketWalk, svc_ns: str, ip: str, port: int, who: str) -> bool:
    """NetworkPolicy's word on the DNATed packet (Pod IP and targetPort: R114), as ``cluster.net.route`` states
    it; a step only when the Service's or the walk's namespace has policies (none: nothing is isolated, R99).
    False when the packet is dropped."""
    namespaces = sorted({svc_ns, pw.namespace})
    names = [f"{ns}/{kube.name(p)}" for ns in namespaces for p in network_policies(cluster, ns) or []]
    if not names:
        return True
    r = cluster.net.route(f"{ip}:{port}", namespace=pw.namespace)
    why = r.reason.split("; ", 1)[-1] if "; " in r.reason else r.reason
    ev = [f"kubectl get networkpolicy -n {ns}" for ns in namespaces] + [f"kai-labs net route {ip}:{port} -n "
                                                                         f"{pw.namespace}: {r.action}: {why}"]
    if r.action == "drop":
        pw.steps.append(WalkStep("networkpolicy", "NetworkPolicy at the Pod", FAILED,
                                 f"the packet to {who} ({ip}:{port}) is dropped: {why}. The client waits for an "
                                 f"answer that never comes: a timeout, not a refusal.", ev))
        return False
    pw.steps.append(WalkStep("networkpolicy", "NetworkPolicy at the Pod", OK,
                             f"NetworkPolicies {', '.join(names)}: the packet to {who} ({ip}:{port}) passes"
                             + (f" ({why})" if why else ""), ev))
    return True


def _reply(cluster: Any, pw: PacketWalk, key: str | None, ip: str, port: int, pod: str = "",
           vip: str = "") -> PacketWalk:
    r = cluster.net.curl(f"http://{ip}:{port}/", pw.namespace)
    who = f"Pod {pod}" if pod else ip
    if r.ok or r.status:
        back = (f"; conntrack rewrites the reply's source from {ip}:{port} back to {vip}, so the client sees the "
                f"Service's address" if vip else "")
        pw.steps.append(WalkStep("reply", "the reply", OK, f"{who} answers on {port} (HTTP {r.status}){back}",
                                 [f"GET http://{ip}:{port}/ -> HTTP {r.status}"]))
        return pw
    hint = ""
    if key:
        ns = key.split("/")[0]
        hint = (f" The Service sends traffic to port {port}, but the app in the Pod listens on another port: "
                f"kubectl logs {pod} -n {ns} says which; point targetPort at it.") if pod else ""
        if pod and "loopback" in (r.detail or ""):
            # the port is right, the address is not: the app is bound to 127.0.0.1 (R100)
            hint = (f" The app listens on port {port}, but on the Pod's loopback address only: kubectl logs {pod} "
                    f"-n {ns} says where; it must listen on every address (0.0.0.0).")
    pw.steps.append(WalkStep("reply", "the reply", FAILED,
                             f"{who} does not answer on {port}: {r.error or 'no answer'}.{hint}",
                             [f"GET http://{ip}:{port}/ -> {r.error}: {r.detail}".rstrip(": ")]))
    return pw


def _headless(cluster: Any, pw: PacketWalk, snap: netlogic.Snapshot, svc: netlogic.Obj, ip: str,
              port: int) -> PacketWalk:
    key = f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
    pw.steps.append(WalkStep("service", "Service lookup (kube-proxy's dispatch)", OK,
                             f"{key} is headless (clusterIP: None): DNS answered Pod IPs and kube-proxy has no rule "
                             f"for it, so nothing translates the port", ["spec.clusterIP: None"]))
    owner = snap.pod_by_ip(ip)
    pod = str(owner["metadata"]["name"]) if owner else ""
    pw.steps.append(WalkStep("endpoints", "endpoint choice", OK,
                             f"the client picks one of the addresses DNS returned: {ip}"
                             + (f" (Pod {pod})" if pod else "")))
    pw.steps.append(WalkStep("dnat", "DNAT to the Pod", OK,
                             f"no DNAT: the client dials {ip}:{port} itself; the Service's targetPort is not "
                             f"applied"))
    return _reply(cluster, pw, key, ip, port, pod=pod)


def _last(lines: list[str], n: int) -> list[str]:
    return lines[-n:] if lines else []


def _sel(svc: netlogic.Obj) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((svc["spec"].get("selector") or {}).items())) or "(none)"


def _why_no_endpoints(cluster: Any, svc: netlogic.Obj, sp: netlogic.Obj) -> str:
    """The course's sentence for a Service port without ready endpoints (kube-proxy rejects it)."""
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    snap = kube.snapshot(cluster, ns)
    sel = svc["spec"].get("selector") or {}
    pods = [p for p in snap.live_pods() if kube.selects(sel, kube.labels(p))]
    tail = "so kube-proxy has no endpoint for it and rejects the connection: connection refused"
    if not sel:
        return f"Service {name} has no selector and no endpoints, {tail}"
    if not pods:
        return f"the selector {_sel(svc)} of Service {name} matches no running Pod in {ns}, {tail}"
    tp = sp.get("targetPort")
    if isinstance(tp, str):
        named = [p for p in pods if any(cp.get("name") == tp for c in p["spec"].get("containers") or []
                                        for cp in c.get("ports") or [])]
        if not named:
            return (f"targetPort {tp!r} is a port name no selected Pod declares (containerPort name), so the "
                    f"EndpointSlice has no port {tp!r} and {tail}")
    unready = [kube.name(p) for p in pods if not kube.pod_ready(p)]
    if unready:
        return (f"the selected Pods ({', '.join(sorted(unready))}) are not ready (their readinessProbe fails), "
                f"so they are listed as not ready and {tail}")
    return f"Service {name} has no ready endpoint for port {sp.get('port')}, {tail}"


def _owners(cluster: Any, svc: netlogic.Obj, eps: tuple[proxyrules.Endpoint, ...]) -> set[str]:
    snap = kube.snapshot(cluster, svc["metadata"]["namespace"])
    out: set[str] = set()
    for e in eps:
        pod = next((p for p in snap.pods if kube.name(p) == e.pod), None)
        owner = snap.owner_deployment(pod) if pod else None
        out.add(owner or e.pod)
    return out


def _trace(cluster: Any, svc: netlogic.Obj, namespace: str, url: str) -> Trace | None:
    try:
        return inspect(cluster, svc["metadata"]["name"], svc["metadata"]["namespace"],
                       client=Client(namespace, url, "the walked request"))
    except Exception:  # noqa: BLE001 - the diagram is an extra; the walk stands without it
        return None
