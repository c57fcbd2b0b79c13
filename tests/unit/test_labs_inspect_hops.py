"""The inspection walker one hop at a time, on a fake namespace (no cluster).

Each hop of kai_labs.labs.inspect is a function ``Walk -> Step``; these tests build the namespace a hop reads
(kube.Snapshot) and, for the hops that send something, a fake ``cluster.net``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from kai_labs.clusters.base import DnsAnswer, DnsRecord, HttpResult
from kai_labs.labs import kube

# labs/__init__ exports the inspect() function under the module's name, so import from the module
from kai_labs.labs.inspect import (
    FAILED,
    OK,
    SKIPPED,
    Client,
    Trace,
    Walk,
    _stops,
    app_step,
    collect_pods,
    collect_slices,
    dns_step,
    endpointslice_step,
    inspect,
    pods_step,
    port_step,
    readiness_step,
    selector_step,
    service_step,
    service_view,
    target_port_step,
)
from kai_labs.labs.kube import SERVICE_NAME_LABEL, Snapshot

NS = "demo"


def pod(name: str, labels: dict[str, str], *, ready: bool = True, ip: str = "10.244.0.5", owner: str | None = "rs-web",
        ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": NS, "labels": labels}
    if owner:
        md["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner}]
    return {"metadata": md,
            "spec": {"containers": [{"name": "app", "ports": ports if ports is not None else
                                     [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def rs(name: str, deployment: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "ownerReferences": [{"kind": "Deployment", "name": deployment}]}}


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"replicas": replicas}}


def service(selector: dict[str, str] | None = None, *, port: int = 80, target: Any = 8080,
            cluster_ip: str = "10.96.0.20", type_: str = "ClusterIP") -> dict[str, Any]:
    spec: dict[str, Any] = {"type": type_, "clusterIP": cluster_ip,
                            "ports": [{"name": "", "port": port, "targetPort": target, "protocol": "TCP"}]}
    if selector is not None:
        spec["selector"] = selector
    return {"metadata": {"name": "web", "namespace": NS}, "spec": spec}


def endpoint_slice(*eps: tuple[str, str, bool], port: int | None = 8080) -> dict[str, Any]:
    return {"metadata": {"name": "web-abc", "labels": {SERVICE_NAME_LABEL: "web"}},
            "ports": [{"name": "", "port": port, "protocol": "TCP"}] if port is not None else [],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": r}, "targetRef": {"name": n}}
                          for n, ip, r in eps]}


@dataclass
class FakeNet:
    answers: dict[tuple[str, str], DnsAnswer] = field(default_factory=dict)  # (name, client namespace)
    curls: list[str] = field(default_factory=list)
    ok: bool = True

    def resolve(self, name: str, namespace: str = "default") -> DnsAnswer:
        missing = DnsAnswer("NXDOMAIN", [], f"{name}.{namespace}.svc.cluster.local.", [])
        return self.answers.get((name, namespace), missing)

    def curl(self, url: str, namespace: str = "default", timeout: float = 2.0) -> HttpResult:
        self.curls.append(url)
        if self.ok:
            return HttpResult(True, 200, "web-1", None, "web-1")
        return HttpResult(False, None, "", "refused", None, "connection refused")


@dataclass
class FakeLog:
    data: bytes


@dataclass
class FakeCore:
    log: str

    def read_namespaced_pod_log(self, pod: str, namespace: str, **_: Any) -> FakeLog:
        return FakeLog(self.log.encode())


@dataclass
class FakeCluster:
    net: FakeNet = field(default_factory=FakeNet)
    log: str = ""

    def core(self) -> FakeCore:  # only Pod logs; events fail (AttributeError), and the hops must cope
        return FakeCore(self.log)


def walk(svc: dict[str, Any], pods: list[dict[str, Any]], slices: list[dict[str, Any]] | None = None, *,
         url: str = "http://web/", deployments: list[dict[str, Any]] | None = None,
         net: FakeNet | None = None) -> Walk:
    snap = Snapshot(NS, True, services=[svc], pods=pods, slices=slices or [],
                    deployments=deployments or [deployment("web", 2)], replicasets=[rs("rs-web", "web"),
                                                                                   rs("rs-orders", "orders")])
    trace = Trace("web", NS, Client(NS, url, "a Pod"), [])
    w = Walk(FakeCluster(net or FakeNet(), "starting\nlistening on port 3000\n"), snap, trace, svc)
    trace.svc = service_view(w)
    collect_pods(w)
    collect_slices(w)
    return w


# ---------------------------------------------------------------------------------------------- service

def test_service_step_names_the_services_that_do_exist() -> None:
    trace = Trace("web", NS, Client(NS, "http://web/"), [])
    other = {"metadata": {"name": "api"}, "spec": {}}
    step = service_step(trace, Snapshot(NS, True, services=[other]), None)
    assert (step.status, step.explanation) == (FAILED, "there is no Service web in demo (there are: api)")
    assert service_step(trace, Snapshot(NS, False), None).explanation == "namespace demo does not exist"


def test_service_step_ok_says_type_ip_ports_and_selector() -> None:
    trace = Trace("web", NS, Client(NS, "http://web/"), [])
    step = service_step(trace, Snapshot(NS, True), service({"app": "web"}))
    assert step.status == OK
    assert step.explanation == "Service web is ClusterIP 10.96.0.20, ports 80->8080/TCP, selector app=web"


# ---------------------------------------------------------------------------------------------- facts

def test_collect_pods_keeps_selected_pods_as_a_list_and_each_pods_flag_as_a_bool() -> None:
    # mypy found `selected` used first as one Pod's bool, then as the list of selected Pods
    w = walk(service({"app": "web"}), [pod("web-1", {"app": "web"}), pod("api-1", {"app": "api"})])
    assert [kube.name(p) for p in w.selected] == ["web-1"]
    assert [(p.name, p.selected, p.diff) for p in w.trace.pods] == [("web-1", True, {}),
                                                                    ("api-1", False, {"app": ["web", "api"]})]


# ---------------------------------------------------------------------------------------------- selector, pods

def test_selector_step_fails_when_no_pod_carries_the_selector() -> None:
    w = walk(service({"app": "web"}), [pod("api-1", {"app": "api"})])
    step = selector_step(w)
    assert step.status == FAILED
    assert step.explanation == "Service web selects app=web; no Pod carries it; Pods have app=api"


def test_selector_step_fails_when_it_spans_two_workloads() -> None:
    w = walk(service({"app": "shop"}), [pod("web-1", {"app": "shop"}), pod("orders-1", {"app": "shop"},
                                                                             owner="rs-orders")])
    step = selector_step(w)
    assert step.status == FAILED and "matches Pods of 2 workloads (orders, web)" in step.explanation


def test_an_externalname_service_stops_the_walk_at_the_selector() -> None:
    w = walk(service(type_="ExternalName"), [])
    step = selector_step(w)
    assert step.status == SKIPPED and _stops(step, w)


def test_pods_step_after_a_failed_selector_is_skipped_and_stops() -> None:
    w = walk(service({"app": "web"}), [pod("api-1", {"app": "api"})])
    w.trace.steps.append(selector_step(w))
    step = pods_step(w)
    assert step.status == SKIPPED and _stops(step, w)


def test_pods_step_with_no_pods_names_the_deployment_and_its_replicas() -> None:
    w = walk(service({"app": "web"}), [], deployments=[deployment("web", 0)])
    w.trace.steps.append(selector_step(w))
    step = pods_step(w)
    assert step.status == FAILED
    assert step.explanation == "no Pods to select: a Service never creates Pods; Deployment web (replicas: 0)"


# ---------------------------------------------------------------------------------------------- slices, readiness

def test_endpointslice_step_fails_without_endpoints() -> None:
    w = walk(service({"app": "web"}), [pod("web-1", {"app": "web"})], [endpoint_slice()])
    assert endpointslice_step(w).status == FAILED


def test_readiness_step_fails_when_no_endpoint_is_ready_and_copes_without_events() -> None:
    w = walk(service({"app": "web"}), [pod("web-1", {"app": "web"}, ready=False)],
             [endpoint_slice(("web-1", "10.244.0.5", False))])
    step = readiness_step(w)
    assert step.status == FAILED
    assert step.explanation == "0 of 1 endpoints are ready: Pod web-1 is Running but not Ready"


def test_readiness_step_lists_the_unready_ones() -> None:
    w = walk(service({"app": "web"}), [pod("web-1", {"app": "web"}), pod("web-2", {"app": "web"}, ready=False)],
             [endpoint_slice(("web-1", "10.244.0.5", True), ("web-2", "10.244.0.6", False))])
    assert readiness_step(w).explanation == "1 of 2 endpoints ready (not ready: web-2)"


# ---------------------------------------------------------------------------------------------- targetPort, app

def test_target_port_step_fails_on_a_named_port_no_container_carries() -> None:
    w = walk(service({"app": "web"}, target="web"), [pod("web-1", {"app": "web"})],
             [endpoint_slice(("web-1", "10.244.0.5", True), port=None)])
    step = target_port_step(w)
    assert step.status == FAILED
    assert "targets the named port 'web'; no container port of Pod web-1 carries that name (it has http:8080/TCP)" \
        in step.explanation
    assert w.resolved == {"web-1": None}


def test_target_port_then_app_step_on_a_working_path() -> None:
    net = FakeNet()
    w = walk(service({"app": "web"}), [pod("web-1", {"app": "web"})], [endpoint_slice(("web-1", "10.244.0.5", True))],
             net=net)
    assert target_port_step(w).explanation == "port 80 -> targetPort 8080 -> web-1:8080"
    step = app_step(w)
    assert step.status == OK and net.curls == ["http://10.244.0.5:8080/"]


def test_app_step_fails_when_nothing_answers() -> None:
    w = walk(service({"app": "web"}), [pod("web-1", {"app": "web"})], [endpoint_slice(("web-1", "10.244.0.5", True))],
             net=FakeNet(ok=False))
    target_port_step(w)
    step = app_step(w)
    assert step.status == FAILED
    assert step.explanation == ("nothing answers on the targetPort: web-1 (10.244.0.5:8080: refused); the app's log "
                                "says: listening on port 3000")


# ---------------------------------------------------------------------------------------------- client side

def test_port_step_says_the_client_dialled_the_target_port() -> None:
    w = walk(service({"app": "web"}), [pod("web-1", {"app": "web"})], url="http://web:8080/")
    step = port_step(w)
    assert step.status == FAILED
    assert step.explanation.endswith("exposes only 80 (-> 8080) - that is the targetPort, the Pod side; clients use "
                                     "the Service port")


def test_dns_step_ok_and_from_another_namespace() -> None:
    fqdn = "web.demo.svc.cluster.local."
    net = FakeNet({("web", NS): DnsAnswer("NOERROR", [DnsRecord(fqdn, "A", 30, "10.96.0.20")], fqdn, [fqdn])})
    w = walk(service({"app": "web"}), [], net=net)
    assert dns_step(w).explanation == "web -> web.demo.svc.cluster.local -> 10.96.0.20 (the ClusterIP)"
    w.trace.client = Client("frontend", "http://web/")
    step = dns_step(w)
    assert step.status == FAILED and step.explanation.startswith(
        "from namespace frontend, web means web.frontend.svc.cluster.local, which does not exist (NXDOMAIN)")


def test_dns_step_for_a_pod_ip() -> None:
    w = walk(service({"app": "web"}), [pod("web-1", {"app": "web"})], url="http://10.244.0.5:8080/")
    step = dns_step(w)
    assert step.status == FAILED and "dials Pod web-1's IP" in step.explanation


# ---------------------------------------------------------------------------------------------- the whole walk

def test_inspect_walks_every_hop_in_order_and_names_the_first_broken_one(monkeypatch: pytest.MonkeyPatch) -> None:
    snap = Snapshot(NS, True, services=[service({"app": "web"})], pods=[pod("api-1", {"app": "api"})],
                    slices=[endpoint_slice()], deployments=[deployment("web", 2)], replicasets=[rs("rs-web", "web")])
    monkeypatch.setattr(kube, "snapshot", lambda cluster, namespace: snap)
    fqdn = "web.demo.svc.cluster.local."
    net = FakeNet({("web", NS): DnsAnswer("NOERROR", [DnsRecord(fqdn, "A", 30, "10.96.0.20")], fqdn, [fqdn])},
                  ok=False)
    trace = inspect(FakeCluster(net), "web", NS)
    assert [(s.hop, s.status) for s in trace.steps] == [
        ("service", "ok"), ("dns", "ok"), ("port", "ok"), ("selector", "failed"), ("pods", "skipped"),
        ("endpointslice", "skipped"), ("readiness", "skipped"), ("targetPort", "skipped"), ("app", "skipped"),
        ("request", "failed")]
    assert trace.diagnosis is not None and trace.diagnosis.hop == "selector"
