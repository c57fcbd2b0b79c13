"""Tests for kai_labs.k8s.netlogic, one group per rule (R21, R33-R51)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kai_labs.k8s.netlogic import Affinity, DnsRecord, Route, Snapshot, resolv_conf, resolve, route

# --------------------------------------------------------------------------- #
# factories
# --------------------------------------------------------------------------- #

NODES = {"kind-control-plane": "172.18.0.2", "kind-worker": "172.18.0.3",
         "kind-worker2": "172.18.0.4"}


def node(name: str, ip: str) -> dict:
    return {"metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                     {"type": "Hostname", "address": name}]}}


def pod(name: str, ip: str, node_name: str = "kind-worker", ns: str = "default",
        phase: str = "Running") -> dict:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": node_name},
            "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}]}}


def sport(port: int, name: str = "", target: Any = None, node_port: int | None = None,
          protocol: str = "TCP") -> dict:
    p: dict = {"port": port, "protocol": protocol, "targetPort": target if target is not None else port}
    if name:
        p["name"] = name
    if node_port is not None:
        p["nodePort"] = node_port
    return p


def service(name: str, ports: list[dict], ns: str = "default", ip: str | None = "10.96.0.20",
            type_: str = "ClusterIP", **spec: Any) -> dict:
    s: dict = {"type": type_, "ports": ports, **spec}
    if ip is not None:
        s["clusterIP"] = ip
        if ip != "None":
            s["clusterIPs"] = [ip]
    return {"metadata": {"name": name, "namespace": ns}, "spec": s, "status": {}}


def headless(name: str, ports: list[dict], ns: str = "default") -> dict:
    return service(name, ports, ns=ns, ip="None")


def ep(ip: str, pod_name: str, node_name: str = "kind-worker", ready: bool | None = True,
       serving: bool | None = None, terminating: bool | None = None,
       hostname: str | None = None) -> dict:
    cond: dict = {}
    for key, val in (("ready", ready), ("serving", serving), ("terminating", terminating)):
        if val is not None:
            cond[key] = val
    e: dict = {"addresses": [ip], "conditions": cond, "nodeName": node_name,
               "targetRef": {"kind": "Pod", "name": pod_name, "namespace": "default"}}
    if hostname:
        e["hostname"] = hostname
    return e


def eslice(svc_name: str, endpoints: list[dict], ports: list[tuple[str, int]] | None,
           ns: str = "default", suffix: str = "abc") -> dict:
    return {"metadata": {"name": f"{svc_name}-{suffix}", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": svc_name}},
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": None if ports is None else [{"name": n, "port": p, "protocol": "TCP"}
                                                 for n, p in ports]}


def snap(services: list[dict] = (), slices: list[dict] = (), pods: list[dict] = (),
         namespaces: tuple[str, ...] = ("default", "kube-system", "other")) -> Snapshot:
    kube = service("kubernetes", [sport(443, "https", 6443)], ip="10.96.0.1")
    return Snapshot(services=[kube, *services], endpointslices=list(slices), pods=list(pods),
                    nodes=[node(n, i) for n, i in NODES.items()], namespaces=list(namespaces))


def web_snap(**svc_spec: Any) -> Snapshot:
    """web (ClusterIP 10.96.0.20, port 80 'http' -> 8080) with two ready pods."""
    svc = service("web", [sport(80, "http", 8080)], **svc_spec)
    eps = [ep("10.244.1.5", "web-a", "kind-worker"), ep("10.244.2.6", "web-b", "kind-worker2")]
    pods = [pod("web-a", "10.244.1.5", "kind-worker"), pod("web-b", "10.244.2.6", "kind-worker2")]
    return snap([svc], [eslice("web", eps, [("http", 8080)])], pods)


def first(seq: Any) -> Any:
    return seq[0]


def a_data(answer: Any) -> list[str]:
    return sorted(r.data for r in answer.answers if r.type == "A")


# --------------------------------------------------------------------------- #
# R21 endpoint conditions as consumers read them
# --------------------------------------------------------------------------- #

def test_R21_terminating_serving_endpoint_not_in_dns_but_proxied_as_fallback() -> None:
    svc = headless("db", [sport(5432, "pg")])
    cip = service("web", [sport(80, "http", 8080)])
    term = ep("10.244.1.9", "p", ready=False, serving=True, terminating=True)
    s = snap([svc, cip], [eslice("db", [term], [("pg", 5432)]),
                          eslice("web", [term], [("http", 8080)], suffix="w")],
             [pod("p", "10.244.1.9")])
    assert resolve(s, "db").rcode == "NXDOMAIN"
    r = route(s, "10.96.0.20:80", pick=first)
    assert r.action == "forward" and r.endpoint == ("p", "10.244.1.9", 8080)


# --------------------------------------------------------------------------- #
# R33 resolver
# --------------------------------------------------------------------------- #

def test_R33_resolv_conf_text() -> None:
    assert resolv_conf("bar") == ("search bar.svc.cluster.local svc.cluster.local cluster.local\n"
                                  "nameserver 10.96.0.10\noptions ndots:5\n")
    assert "nameserver 10.96.0.99" in resolv_conf("x", "10.96.0.99")


def test_R33_search_path_same_namespace_and_other_namespace() -> None:
    s = snap([service("foo", [sport(80)], ns="bar", ip="10.96.0.30")],
             namespaces=("default", "bar"))
    a = resolve(s, "foo", "bar")
    assert a.rcode == "NOERROR" and a_data(a) == ["10.96.0.30"]
    assert a.fqdn == "foo.bar.svc.cluster.local." and a.tried == ["foo.bar.svc.cluster.local."]
    b = resolve(s, "foo.bar", "default")
    assert a_data(b) == ["10.96.0.30"]
    assert b.tried == ["foo.bar.default.svc.cluster.local.", "foo.bar.svc.cluster.local."]
    c = resolve(s, "foo", "default")
    assert c.rcode == "NXDOMAIN" and c.answers == []
    assert c.tried == ["foo.default.svc.cluster.local.", "foo.svc.cluster.local.",
                       "foo.cluster.local.", "foo."]


def test_R33_ndots_and_absolute_names() -> None:
    s = web_snap()
    fq = resolve(s, "web.default.svc.cluster.local", "other")
    assert a_data(fq) == ["10.96.0.20"]
    assert fq.tried[0] == "web.default.svc.cluster.local.other.svc.cluster.local."  # 4 dots < 5
    abs_ = resolve(s, "web.default.svc.cluster.local.", "other")
    assert abs_.tried == ["web.default.svc.cluster.local."] and a_data(abs_) == ["10.96.0.20"]
    assert resolve(s, "web.", "default").rcode == "NXDOMAIN"
    deep = resolve(s, "a.b.c.d.e.f", "default")  # 5 dots: tried as-is first
    assert deep.tried[0] == "a.b.c.d.e.f." and deep.rcode == "NXDOMAIN"


def test_R33_kubernetes_default_resolves() -> None:
    assert a_data(resolve(snap(), "kubernetes.default", "other")) == ["10.96.0.1"]


# --------------------------------------------------------------------------- #
# R34-R40 DNS records
# --------------------------------------------------------------------------- #

def test_R34_clusterip_a_record_without_endpoints() -> None:
    s = snap([service("web", [sport(80, "http", 8080)])], [eslice("web", [], None)])
    a = resolve(s, "web")
    assert a.rcode == "NOERROR"
    assert a.answers == [DnsRecord("web.default.svc.cluster.local.", "A", 30, "10.96.0.20")]


def test_R34_one_a_per_cluster_ip_deduplicated() -> None:
    svc = service("web", [sport(80, "http"), sport(443, "https")])
    assert a_data(resolve(snap([svc]), "web")) == ["10.96.0.20"]


def test_R35_headless_ready_ips_or_nxdomain() -> None:
    svc = headless("db", [sport(5432, "pg")])
    eps = [ep("10.244.1.5", "a"), ep("10.244.2.6", "b", ready=None),
           ep("10.244.3.7", "c", ready=False)]
    s = snap([svc], [eslice("db", eps, [("pg", 5432)])])
    assert a_data(resolve(s, "db")) == ["10.244.1.5", "10.244.2.6"]
    empty = snap([svc], [eslice("db", [ep("10.244.3.7", "c", ready=False)], [("pg", 5432)])])
    assert resolve(empty, "db").rcode == "NXDOMAIN"


def test_R35_headless_endpoint_without_ports_still_listed() -> None:
    svc = headless("db", [sport(5432, "pg", "pgport")])
    s = snap([svc], [eslice("db", [ep("10.244.1.5", "a")], []),
                     eslice("db", [ep("10.244.2.6", "b")], [("pg", 5432)], suffix="x")])
    assert a_data(resolve(s, "db")) == ["10.244.1.5", "10.244.2.6"]


def test_R36_hostname_and_dashed_ip_names() -> None:
    svc = headless("db", [sport(5432, "pg")])
    eps = [ep("10.244.1.5", "db-0", hostname="db-0"), ep("10.244.2.6", "x"),
           ep("10.244.3.7", "y", ready=False, hostname="db-2")]
    s = snap([svc], [eslice("db", eps, [("pg", 5432)])])
    assert a_data(resolve(s, "db-0.db")) == ["10.244.1.5"]
    assert a_data(resolve(s, "10-244-2-6.db")) == ["10.244.2.6"]
    assert resolve(s, "db-2.db").rcode == "NXDOMAIN"  # not ready
    assert resolve(s, "nobody.db").rcode == "NXDOMAIN"


def test_R37_srv_clusterip_uses_service_port() -> None:
    s = web_snap()
    a = resolve(s, "_http._tcp.web", qtype="SRV")
    assert [r.data for r in a.answers] == ["0 100 80 web.default.svc.cluster.local."]
    assert resolve(s, "_http._TCP.web", qtype="SRV").rcode == "NOERROR"


def test_R37_srv_headless_uses_target_port_and_endpoint_targets() -> None:
    svc = headless("db", [sport(5432, "pg", "pgport")])
    eps = [ep("10.244.1.5", "db-0", hostname="db-0"), ep("10.244.2.6", "b")]
    s = snap([svc], [eslice("db", eps, [("pg", 6543)])])
    a = resolve(s, "_pg._tcp.db", qtype="SRV")
    data = sorted(r.data.split(" ", 2)[2] for r in a.answers)
    assert data == ["6543 10-244-2-6.db.default.svc.cluster.local.",
                    "6543 db-0.db.default.svc.cluster.local."]


def test_R37_unnamed_port_has_no_srv() -> None:
    s = snap([service("web", [sport(80)])])
    assert resolve(s, "_http._tcp.web", qtype="SRV").rcode == "NXDOMAIN"
    assert resolve(s, "_80._tcp.web", qtype="SRV").rcode == "NXDOMAIN"


def test_R38_external_name_cname() -> None:
    ext = service("ext", [], ip=None, type_="ExternalName", externalName="example.com")
    a = resolve(snap([ext]), "ext")
    assert a.rcode == "NOERROR"
    assert a.answers == [DnsRecord("ext.default.svc.cluster.local.", "CNAME", 30, "example.com.")]


def test_R38_external_name_ipv4_like_is_nxdomain() -> None:
    ext = service("ext", [], ip=None, type_="ExternalName", externalName="1.2.3.4")
    assert resolve(snap([ext]), "ext").rcode == "NXDOMAIN"


def test_R38_external_name_in_cluster_target_followed() -> None:
    ext = service("alias", [], ip=None, type_="ExternalName",
                  externalName="web.default.svc.cluster.local")
    s = web_snap()
    s = Snapshot(s.services + [ext], s.endpointslices, s.pods, s.nodes, s.namespaces)
    a = resolve(s, "alias")
    assert [r.type for r in a.answers] == ["CNAME", "A"] and a_data(a) == ["10.96.0.20"]


@pytest.mark.parametrize("name", ["WEB", "Web.Default", "WEB.DEFAULT.SVC.CLUSTER.LOCAL."])
def test_R39_dns_case_insensitive(name: str) -> None:
    assert a_data(resolve(web_snap(), name)) == ["10.96.0.20"]


@pytest.mark.parametrize("name", [
    "nope.default.svc.cluster.local.",          # unknown Service
    "web.nons.svc.cluster.local.",              # unknown namespace
    "a.b.c.web.default.svc.cluster.local.",     # too many labels
    "web.default.foo.cluster.local.",           # not svc/pod
    "www.example.com.",                         # outside the cluster, no internet
])
def test_R39_nxdomain_cases(name: str) -> None:
    assert resolve(web_snap(), name).rcode == "NXDOMAIN"


def test_R39_namespace_apex_is_nodata() -> None:
    a = resolve(web_snap(), "default.svc.cluster.local.")
    assert a.rcode == "NOERROR" and a.answers == []


def test_R40_pod_a_records_insecure() -> None:
    s = web_snap()
    a = resolve(s, "10-244-9-9.default.pod.cluster.local")
    assert a_data(a) == ["10.244.9.9"]  # pods insecure: no Pod needed
    assert resolve(s, "10-244-9-9.nons.pod.cluster.local.").rcode == "NXDOMAIN"
    assert resolve(s, "not-an-ip.default.pod.cluster.local.").rcode == "NXDOMAIN"


# --------------------------------------------------------------------------- #
# R41-R51 kube-proxy
# --------------------------------------------------------------------------- #

def test_R41_headless_name_dialled_directly_without_translation() -> None:
    svc = headless("db", [sport(5432, "pg", 6543)])
    s = snap([svc], [eslice("db", [ep("10.244.1.5", "db-a")], [("pg", 6543)])],
             [pod("db-a", "10.244.1.5")])
    r = route(s, "db:5432", pick=first)
    assert r.action == "forward" and r.endpoint == ("db-a", "10.244.1.5", 5432)
    assert r.service == "default/db" and "R41" in r.rule
    assert r.candidates == (("db-a", "10.244.1.5", 5432),)


def test_R41_external_name_not_proxied_dns_error() -> None:
    ext = service("ext", [], ip=None, type_="ExternalName", externalName="example.com")
    r = route(snap([ext]), "ext:80")
    assert r.action == "drop" and r.error == "dns" and r.reason.startswith("DNS:")


def test_R41_unknown_name_dns_error() -> None:
    r = route(web_snap(), "nope:80")
    assert r.error == "dns" and "NXDOMAIN" in r.reason and r.endpoint is None


def test_R42_endpoints_keyed_by_port_name_across_slices() -> None:
    svc = service("web", [sport(80, "http", "web"), sport(9090, "metrics", 9090)])
    s1 = eslice("web", [ep("10.244.1.5", "a")], [("http", 8080), ("metrics", 9090)], suffix="1")
    s2 = eslice("web", [ep("10.244.2.6", "b")], [("http", 8081), ("metrics", 9090)], suffix="2")
    s3 = eslice("web", [ep("10.244.3.7", "c")], [("metrics", 9090)], suffix="3")
    s = snap([svc], [s1, s2, s3])
    r = route(s, "10.96.0.20:80", pick=first)
    assert set(r.candidates) == {("a", "10.244.1.5", 8080), ("b", "10.244.2.6", 8081)}
    m = route(s, "10.96.0.20:9090", pick=first)
    assert len(m.candidates) == 3


def test_R42_nil_conditions_default_ready() -> None:
    svc = service("web", [sport(80, "http", 8080)])
    e = {"addresses": ["10.244.1.5"], "targetRef": {"kind": "Pod", "name": "a"}}
    r = route(snap([svc], [eslice("web", [e], [("http", 8080)])]), "10.96.0.20:80", pick=first)
    assert r.action == "forward" and r.endpoint == ("a", "10.244.1.5", 8080)


def test_R43_ready_only_and_terminating_fallback() -> None:
    svc = service("web", [sport(80, "http", 8080)])
    eps = [ep("10.244.1.5", "ready"), ep("10.244.1.6", "term", ready=False, serving=True,
                                         terminating=True),
           ep("10.244.1.7", "unready", ready=False, serving=False, terminating=False)]
    r = route(snap([svc], [eslice("web", eps, [("http", 8080)])]), "10.96.0.20:80", pick=first)
    assert r.candidates == (("ready", "10.244.1.5", 8080),)
    fallback = route(snap([svc], [eslice("web", eps[1:], [("http", 8080)])]), "10.96.0.20:80",
                     pick=first)
    assert fallback.candidates == (("term", "10.244.1.6", 8080),)


def test_R44_no_endpoints_rejects() -> None:
    svc = service("web", [sport(80, "http", 8080)])
    for slices in ([eslice("web", [], None)],
                   [eslice("web", [ep("10.244.1.7", "u", ready=False, serving=False)],
                           [("http", 8080)])]):
        r = route(snap([svc], slices), "web:80")
        assert r.action == "reject" and r.error == "refused" and r.rule == "R44"
        assert r.service == "default/web"


def test_R45_internal_traffic_policy_local() -> None:
    s = web_snap(internalTrafficPolicy="Local")
    local = route(s, "10.96.0.20:80", source_node="kind-worker2", pick=first)
    assert local.endpoint == ("web-b", "10.244.2.6", 8080) and local.candidates == (local.endpoint,)
    r = route(s, "10.96.0.20:80", source_node="kind-control-plane", pick=first)
    assert r.action == "drop" and r.error == "timeout" and r.rule == "R45"


def test_R45_external_traffic_policy_local_drops_external_clients() -> None:
    svc = service("web", [sport(80, "http", 8080, node_port=30080)], type_="NodePort",
                  externalTrafficPolicy="Local")
    s = snap([svc], [eslice("web", [ep("10.244.1.5", "a", "kind-worker")], [("http", 8080)])])
    assert route(s, "172.18.0.4:30080").action == "drop"           # kind-worker2: none local
    ok = route(s, "172.18.0.3:30080", pick=first)                     # kind-worker: local
    assert ok.endpoint == ("a", "10.244.1.5", 8080)
    pod_client = route(s, "172.18.0.4:30080", source_node="kind-worker2", pick=first)
    assert pod_client.action == "forward"  # pod traffic short-circuits the Local policy


def test_R46_dnat_to_slice_port_and_every_endpoint_hit() -> None:
    s = web_snap()
    rng = random.Random(7)
    seen = {route(s, "web:80", pick=rng.choice).endpoint for _ in range(60)}
    assert seen == {("web-a", "10.244.1.5", 8080), ("web-b", "10.244.2.6", 8080)}


def test_R47_client_ip_affinity_with_timeout() -> None:
    now = [0.0]
    aff = Affinity(lambda: now[0])
    s = web_snap(sessionAffinity="ClientIP",
                 sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    last = lambda seq: seq[-1]  # noqa: E731
    r1 = route(s, "web:80", source_ip="10.244.0.9", pick=first, affinity=aff)
    for t in (10.0, 69.0):
        now[0] = t
        again = route(s, "web:80", source_ip="10.244.0.9", pick=last, affinity=aff)
        assert again.endpoint == r1.endpoint and again.rule == "R47"
    other = route(s, "web:80", source_ip="10.244.0.10", pick=last, affinity=aff)
    assert other.endpoint != r1.endpoint
    now[0] = 69.0 + 61
    expired = route(s, "web:80", source_ip="10.244.0.9", pick=last, affinity=aff)
    assert expired.endpoint != r1.endpoint


def test_R47_affinity_ignored_when_service_has_none() -> None:
    aff = Affinity(lambda: 0.0)
    s = web_snap()
    first_r = route(s, "web:80", source_ip="10.244.1.77", pick=first, affinity=aff)
    second = route(s, "web:80", source_ip="10.244.1.77", pick=lambda q: q[-1], affinity=aff)
    assert first_r.endpoint != second.endpoint


def test_R48_nodeport_any_node_cluster_policy() -> None:
    svc = service("web", [sport(80, "http", 8080, node_port=30080)], type_="NodePort")
    s = snap([svc], [eslice("web", [ep("10.244.1.5", "a", "kind-worker")], [("http", 8080)])])
    for ip in NODES.values():
        r = route(s, f"{ip}:30080", pick=first)
        assert r.action == "forward" and r.endpoint == ("a", "10.244.1.5", 8080)
    assert route(s, "10.96.0.20:80", pick=first).action == "forward"
    empty = snap([svc], [eslice("web", [], None)])
    assert route(empty, "172.18.0.3:30080").error == "refused"
    assert route(s, "172.18.0.3:31999").error == "refused"  # no such nodePort


def test_R49_undefined_cluster_ip_port_rejects_nftables() -> None:
    r = route(web_snap(), "10.96.0.20:8080")
    assert r.action == "reject" and r.error == "refused"
    assert r.rule == "R49" and "nftables" in r.reason


def test_R50_direct_pod_ip_forwarded_listening_checked_later() -> None:
    s = web_snap()
    r = route(s, "10.244.1.5:9999")
    assert r.action == "forward" and r.endpoint == ("web-a", "10.244.1.5", 9999)
    assert r.service is None
    pending = Snapshot(s.services, s.endpointslices, [pod("p", "10.244.4.4", phase="Pending")],
                       s.nodes, s.namespaces)
    assert route(pending, "10.244.4.4:80").error == "timeout"
    assert route(s, "10.99.99.99:80").error == "timeout"


def test_R51_load_balancer_ingress_ip_and_pending() -> None:
    svc = service("web", [sport(80, "http", 8080, node_port=30080)], type_="LoadBalancer")
    sl = eslice("web", [ep("10.244.1.5", "a")], [("http", 8080)])
    pending = snap([svc], [sl])
    assert route(pending, "172.18.0.2:30080", pick=first).action == "forward"
    assert route(pending, "10.96.0.20:80", pick=first).action == "forward"
    svc_lb = {**svc, "status": {"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}]}}}
    r = route(snap([svc_lb], [sl]), "172.18.255.200:80", pick=first)
    assert r.action == "forward" and r.endpoint == ("a", "10.244.1.5", 8080)


def test_route_error_mapping() -> None:
    assert Route("forward", ("a", "1.2.3.4", 1), "x").error is None
    assert Route("reject", None, "x").error == "refused"
    assert Route("drop", None, "x").error == "timeout"
    assert Route("drop", None, "DNS: y NXDOMAIN").error == "dns"


# --------------------------------------------------------------------------- #
# properties
# --------------------------------------------------------------------------- #

_cond = st.tuples(st.sampled_from([True, False, None]), st.sampled_from([True, False, None]),
                  st.sampled_from([True, False, None]))


def _prop_snap(conds: list[tuple[bool | None, bool | None, bool | None]]) -> Snapshot:
    eps = [ep(f"10.244.1.{i + 1}", f"p{i}", ready=r, serving=s, terminating=t)
           for i, (r, s, t) in enumerate(conds)]
    return snap([service("web", [sport(80, "http", 8080)])],
                [eslice("web", eps, [("http", 8080)])])


@settings(max_examples=150, deadline=None)
@given(conds=st.lists(_cond, min_size=1, max_size=6), seed=st.integers(0, 2**16))
def test_R43_property_never_non_ready_when_ready_exists(conds: list, seed: int) -> None:
    r = route(_prop_snap(conds), "10.96.0.20:80", pick=random.Random(seed).choice)
    ready = {f"10.244.1.{i + 1}" for i, (rd, _, _) in enumerate(conds) if rd is not False}
    fallback = {f"10.244.1.{i + 1}" for i, (rd, sv, tm) in enumerate(conds)
                if sv is not False and tm is True}
    if ready:
        assert r.action == "forward" and r.endpoint[1] in ready
        assert {c[1] for c in r.candidates} == ready
    elif fallback:
        assert r.action == "forward" and r.endpoint[1] in fallback
    else:
        assert r.action == "reject"


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_R46_property_every_ready_endpoint_eventually_picked(n: int, seed: int) -> None:
    s = _prop_snap([(True, True, False)] * n)
    rng = random.Random(seed)
    seen = {route(s, "web:80", pick=rng.choice).endpoint[1] for _ in range(40 * n)}
    assert seen == {f"10.244.1.{i + 1}" for i in range(n)}


def test_clusterip_is_not_reachable_from_outside_the_cluster() -> None:
    """An outside client is source_node=None with a source IP outside the Pod and node ranges (203.0.113.50)."""
    s = web_snap()
    r = route(s, "web:80", source_ip="203.0.113.50", pick=first)
    assert r.action == "drop" and "only reachable from inside the cluster" in r.reason
    assert route(s, "web:80", pick=first).action == "forward"  # no source given: a client in the cluster
