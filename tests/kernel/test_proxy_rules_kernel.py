"""kube-proxy's generated rules, proven in a real kernel (kai_labs/k8s/proxyrules; R75-R84).

The rules for a set of Service shapes are generated from API objects, loaded with Debian's
``nft -f`` / ``iptables-restore`` into a node's network namespace, and real TCP connections
go to the Service addresses. The Pods' servers answer their name: ready Pods are reached,
the unready one never, a Service without endpoints is refused, and the embedded proxy's
decision (kai_labs.k8s.netlogic.route) for the same objects agrees.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from kai_labs.k8s import netlogic
from kai_labs.k8s import proxyrules as pr

from .conftest import PROVEN
from .netlab import NODE_IP, POD_IPS, NetLab

pytestmark = pytest.mark.kernel

Obj = dict[str, object]


def _ep(pod: str, node: str, ready: bool = True) -> Obj:
    return {"addresses": [POD_IPS[pod]], "nodeName": node, "targetRef": {"kind": "Pod", "name": pod},
            "conditions": {"ready": ready, "serving": ready, "terminating": False}}


READY = [_ep("pod-a", "node-1"), _ep("pod-b", "node-2")]
UNREADY = _ep("pod-c", "node-1", ready=False)


def _svc(name: str, ip: str, ports: list[Obj], **spec: object) -> Obj:
    return {"metadata": {"name": name, "namespace": "shop"}, "spec": {"clusterIP": ip, "ports": ports, **spec}}


def _slice(svc: str, ports: list[Obj], eps: list[Obj]) -> Obj:
    return {"metadata": {"name": f"{svc}-abcde", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "ports": ports, "endpoints": eps}


def _objects() -> netlogic.Snapshot:
    http = [{"name": "http", "port": 8080, "protocol": "TCP"}]
    plain = [{"name": "", "port": 8080, "protocol": "TCP"}]
    services = [
        _svc("web", "10.96.0.20", [{"name": "http", "port": 80, "targetPort": 8080}]),
        _svc("multi", "10.96.0.30", [{"name": "http", "port": 80, "targetPort": "http"},
                                     {"name": "metrics", "port": 9100, "targetPort": "metrics"}]),
        _svc("empty", "10.96.0.21", [{"port": 80, "targetPort": 8080}]),
        _svc("np", "10.96.0.22", [{"port": 80, "targetPort": 8080, "nodePort": 30080}], type="NodePort"),
        _svc("sticky", "10.96.0.23", [{"port": 80, "targetPort": 8080}], sessionAffinity="ClientIP"),
        _svc("local", "10.96.0.24", [{"port": 80, "targetPort": 8080, "nodePort": 30081}], type="NodePort",
             externalTrafficPolicy="Local"),
        _svc("npempty", "10.96.0.25", [{"port": 80, "targetPort": 8080, "nodePort": 30082}], type="NodePort"),
    ]
    slices = [
        _slice("web", http, [*READY, UNREADY]),
        _slice("multi", [*http, {"name": "metrics", "port": 9090, "protocol": "TCP"}], [*READY, UNREADY]),
        _slice("empty", plain, [UNREADY]),
        _slice("np", plain, [*READY, UNREADY]),
        _slice("sticky", plain, READY),
        _slice("local", plain, [*READY, UNREADY]),
        _slice("npempty", plain, [UNREADY]),
    ]
    nodes = [{"metadata": {"name": name}, "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}
             for name, ip in (("node-1", NODE_IP), ("node-2", "172.18.0.3"))]
    return netlogic.Snapshot(services, slices, [], nodes, ["shop"])


SNAP = _objects()


@pytest.fixture(scope="module")
def lab(kernel_tools: dict[str, str]) -> Iterator[NetLab]:
    net = NetLab(kernel_tools)
    try:
        net.up()
        yield net
    finally:
        net.down()


@pytest.fixture(scope="module", params=pr.MODES)
def mode(request: pytest.FixtureRequest, lab: NetLab) -> Iterator[str]:
    text = pr.rules(SNAP, request.param, pr.Options(node="node-1")).text
    lab.load(request.param, text)
    yield str(request.param)
    lab.flush()


def _embedded(dest: str, source_node: str | None = "node-1", source_ip: str | None = None) -> netlogic.Route:
    return netlogic.route(SNAP, dest, source_node=source_node, source_ip=source_ip, pick=random.Random(0).choice)


def _proved(mode: str, shape: str) -> None:
    PROVEN.append(f"{mode}/{shape}")


def test_clusterip_reaches_ready_pods_never_unready(lab: NetLab, mode: str) -> None:
    got = set(lab.connect("10.96.0.20", 80, 24))
    assert got == {"pod-a:8080", "pod-b:8080"}, got  # port 80 -> targetPort 8080; pod-c is not ready
    route = _embedded("10.96.0.20:80")
    assert route.action == "forward" and {c[0] for c in route.candidates} == {"pod-a", "pod-b"}
    _proved(mode, "ClusterIP port->targetPort with an unready Pod")


def test_named_ports_each_reach_their_target(lab: NetLab, mode: str) -> None:
    assert set(lab.connect("10.96.0.30", 80, 16)) == {"pod-a:8080", "pod-b:8080"}
    assert set(lab.connect("10.96.0.30", 9100, 16)) == {"pod-a:9090", "pod-b:9090"}
    assert _embedded("10.96.0.30:9100").endpoint[2] == 9090  # type: ignore[index]
    _proved(mode, "two named ports")


def test_no_ready_endpoints_is_refused(lab: NetLab, mode: str) -> None:
    assert lab.connect("10.96.0.21", 80, 3) == ["refused"] * 3
    assert _embedded("10.96.0.21:80").error == "refused"
    _proved(mode, "no ready endpoints (refused)")


def test_nodeport_from_the_node_and_from_outside(lab: NetLab, mode: str) -> None:
    assert set(lab.connect(NODE_IP, 30080, 16)) == {"pod-a:8080", "pod-b:8080"}
    assert set(lab.connect(NODE_IP, 30080, 16, src="outside")) == {"pod-a:8080", "pod-b:8080"}
    assert _embedded(f"{NODE_IP}:30080", source_node=None).action == "forward"
    _proved(mode, "NodePort")


def test_nodeport_without_endpoints_is_refused_from_outside(lab: NetLab, mode: str) -> None:
    assert lab.connect(NODE_IP, 30082, 2, src="outside") == ["refused"] * 2
    assert _embedded(f"{NODE_IP}:30082", source_node=None).error == "refused"
    _proved(mode, "NodePort without endpoints (refused)")


def test_session_affinity_client_ip_sticks(lab: NetLab, mode: str) -> None:
    got = lab.connect("10.96.0.23", 80, 12)
    assert len(set(got)) == 1 and got[0] in {"pod-a:8080", "pod-b:8080"}, got
    _proved(mode, "sessionAffinity ClientIP")


def test_external_traffic_policy_local(lab: NetLab, mode: str) -> None:
    """From outside only node-1's own ready Pod; from the node itself both (the short-circuit)."""
    assert set(lab.connect(NODE_IP, 30081, 16, src="outside")) == {"pod-a:8080"}
    assert set(lab.connect(NODE_IP, 30081, 16)) == {"pod-a:8080", "pod-b:8080"}
    route = netlogic.route(SNAP, f"{NODE_IP}:30081", source_node=None, source_ip="192.168.50.2")
    assert route.action == "forward" and route.endpoint is not None and route.endpoint[0] == "pod-a"
    _proved(mode, "externalTrafficPolicy Local")


def test_undefined_clusterip_port(lab: NetLab, mode: str) -> None:
    """nftables rejects a port the Service does not define (cluster-ips-check); iptables has no rule: timeout."""
    got = lab.connect("10.96.0.20", 81, 1, timeout=1.0)
    assert got == (["refused"] if mode == "nftables" else ["timeout"])
    _proved(mode, "undefined ClusterIP port")
