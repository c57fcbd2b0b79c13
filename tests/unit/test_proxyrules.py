"""kube-proxy's rules as pure functions (kai_labs/k8s/proxyrules; rules R75-R84).

The hash test vectors are the names kube-proxy's own tests and comments use
(pkg/proxy/iptables/proxier_test.go: ns1/svc1:p80 -> KUBE-SVC-XPGD46QRK7WJZT7O,
KUBE-SEP-SXIVWICOYRO3J4NJ; pkg/proxy/nftables/proxier.go comments: ULMVA6XW, 5OJB2KTY).
"""

from __future__ import annotations

import pytest

from kai_labs.k8s import proxyrules as pr
from kai_labs.k8s.netlogic import Snapshot
from kai_labs.k8s.proxyrules import iptables as ipt
from kai_labs.k8s.proxyrules import nftables as nft

NODE_IP = "172.18.0.2"


def _ep(ip: str, pod: str, node: str = "node-1", ready: bool = True) -> dict[str, object]:
    return {"addresses": [ip], "conditions": {"ready": ready, "serving": ready, "terminating": False},
            "nodeName": node, "targetRef": {"kind": "Pod", "name": pod}}


def _svc(name: str, ip: str, ports: list[dict[str, object]], **spec: object) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "lab"}, "spec": {"clusterIP": ip, "ports": ports, **spec}}


def _slice(svc: str, ports: list[dict[str, object]], eps: list[dict[str, object]]) -> dict[str, object]:
    return {"metadata": {"name": f"{svc}-x", "namespace": "lab", "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "ports": ports, "endpoints": eps}


def snapshot() -> Snapshot:
    svcs = [
        _svc("web", "10.96.0.20", [{"name": "http", "port": 80, "targetPort": 8080}]),
        _svc("empty", "10.96.0.21", [{"port": 80}]),
        _svc("np", "10.96.0.22", [{"port": 80, "nodePort": 30080}], type="NodePort",
             externalTrafficPolicy="Local", sessionAffinity="ClientIP"),
        _svc("headless", "None", [{"port": 80}]),
    ]
    slices = [
        _slice("web", [{"name": "http", "port": 8080, "protocol": "TCP"}],
               [_ep("10.244.1.10", "a"), _ep("10.244.1.11", "b", "node-2"), _ep("10.244.1.12", "c", ready=False)]),
        _slice("np", [{"name": "", "port": 8080, "protocol": "TCP"}],
               [_ep("10.244.1.10", "a"), _ep("10.244.1.11", "b", "node-2")]),
    ]
    nodes = [{"metadata": {"name": "node-1"}, "status": {"addresses": [{"type": "InternalIP", "address": NODE_IP}]}}]
    return Snapshot(svcs, slices, [], nodes, ["lab"])


def _port(key: str, eps: tuple[pr.Endpoint, ...] = ()) -> pr.ServicePort:
    ns, rest = key.split("/")
    name, _, port_name = rest.partition(":")
    return pr.ServicePort(ns, name, port_name, "tcp", 80, "172.30.0.41", 0, (), (), (), False, False, None,
                          eps, eps, (), bool(eps))


def test_R76_iptables_names_match_kube_proxy_test_vectors() -> None:
    ep = pr.Endpoint("p", "10.180.0.1", 80, "n", True, True, False)
    sp = _port("ns1/svc1:p80", (ep,))
    assert ipt.svc_chain(sp) == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert ipt.sep_chain(sp, ep) == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    assert ipt.ext_chain(sp).startswith("KUBE-EXT-XPGD46QRK7WJZT7O")


def test_R75_nftables_names_match_kube_proxy_comments() -> None:
    ep = pr.Endpoint("p", "10.180.0.1", 80, "n", True, True, False)
    sp = _port("ns1/svc1:p80", (ep,))
    assert nft.service_chain(sp) == "service-ULMVA6XW-ns1/svc1/tcp/p80"
    assert nft.endpoint_chain(sp, ep) == "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"


def test_R76_unnamed_port_hashes_without_port_suffix() -> None:
    """ServicePortName.String(): ``ns/name`` when the port has no name (not ``ns/name:80``)."""
    assert _port("ns1/svc1").key == "ns1/svc1"
    assert ipt.svc_chain(_port("ns1/svc1")) != ipt.svc_chain(_port("ns1/svc1:80"))


@pytest.mark.parametrize("mode", pr.MODES)
def test_R77_unready_endpoint_never_in_rules_and_headless_skipped(mode: str) -> None:
    text = pr.rules(snapshot(), mode).text
    assert "10.244.1.10:8080" in text and "10.244.1.11:8080" in text
    assert "10.244.1.12" not in text  # not ready: no endpoint chain, no DNAT
    assert "headless" not in text  # ShouldSkipService


def test_R78_iptables_probability_ladder_and_reject() -> None:
    text = pr.rules(snapshot(), "iptables").text
    assert ('-A KUBE-SVC-NAVV37HDGJLPWY47 -m comment --comment "lab/web:http -> 10.244.1.10:8080" '
            "-m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-") in text
    assert ('-A KUBE-SERVICES -m comment --comment "lab/empty has no endpoints" -m tcp -p tcp '
            "-d 10.96.0.21 --dport 80 -j REJECT") in text
    assert "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000" in text
    assert "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS" in text


def test_R79_nftables_maps_and_reject_chain() -> None:
    text = pr.rules(snapshot(), "nftables").text
    assert "10.96.0.20 . tcp . 80 : goto service-URTH2HAX-lab/web/tcp/http" in text
    assert '10.96.0.21 . tcp . 80 comment "lab/empty" : goto reject-chain' in text
    assert "numgen random mod 2 vmap { 0 : goto endpoint-" in text
    assert "mark set mark or 0x004000" in text


def test_R80_externaltrafficpolicy_local_uses_local_endpoints_only() -> None:
    r = pr.rules(snapshot(), "iptables")
    svl = [line.text for line in r.lines if line.text.startswith("-A KUBE-SVL-")]
    assert svl and all("10.244.1.11" not in t for t in svl)  # pod b is on node-2
    assert any("10.244.1.10:8080" in t for t in svl)


@pytest.mark.parametrize("mode", pr.MODES)
def test_R81_path_of_ready_service_ends_in_dnat(mode: str) -> None:
    r = pr.rules(snapshot(), mode)
    texts = [r.lines[i].text for i in r.path(pr.Request("10.96.0.20", 80))]
    dnat = [t for t in texts if "dnat to" in t.lower() or "DNAT" in t]
    assert {t.rsplit(" ", 1)[-1] for t in dnat} == {"10.244.1.10:8080", "10.244.1.11:8080"}


@pytest.mark.parametrize(("mode", "verdict"), [("nftables", "reject"), ("iptables", "-j REJECT")])
def test_R81_path_of_empty_service_ends_in_reject(mode: str, verdict: str) -> None:
    r = pr.rules(snapshot(), mode)
    texts = [r.lines[i].text.strip() for i in r.path(pr.Request("10.96.0.21", 80))]
    assert texts[-1].endswith(verdict)
    assert not any("DNAT" in t or "dnat to" in t for t in texts)


def test_R82_undefined_clusterip_port_rejected_in_nftables_only() -> None:
    nf = pr.rules(snapshot(), "nftables")
    assert nf.lines[nf.path(pr.Request("10.96.0.20", 81))[-1]].text.strip().startswith("ip daddr @cluster-ips reject")
    it = pr.rules(snapshot(), "iptables")
    assert not any("REJECT" in it.lines[i].text for i in it.path(pr.Request("10.96.0.20", 81)))


def test_R80_nodeport_from_pod_short_circuits_local_policy() -> None:
    r = pr.rules(snapshot(), "iptables")
    req = pr.Request(NODE_IP, 30080, local_ips=frozenset([NODE_IP]))
    texts = [r.lines[i].text for i in r.path(req)]
    assert any("pod traffic for lab/np external destinations" in t for t in texts)
    assert any("10.244.1.11:8080" in t for t in texts)  # the Cluster chain: both nodes' Pods


@pytest.mark.parametrize("mode", pr.MODES)
def test_filter_to_one_service(mode: str) -> None:
    text = pr.rules(snapshot(), mode, service="lab/empty").text
    assert "10.96.0.21" in text and "10.96.0.20" not in text and "10.244.1.10" not in text


def test_highlighted_marks_lines() -> None:
    out = pr.rules(snapshot(), "nftables").highlighted(pr.Request("10.96.0.21", 80))
    marked = [line for line in out.splitlines() if line.startswith(">> ")]
    assert any("goto reject-chain" in m for m in marked)
    assert not any("10.96.0.20 . tcp" in m for m in marked)


def test_unknown_mode_is_a_sentence() -> None:
    with pytest.raises(ValueError, match="unknown proxy mode 'ipvs'"):
        pr.rules(snapshot(), "ipvs")


def test_R84_kind_clusters_use_the_embedded_clusters_proxy_mode() -> None:
    """kind clusters the course creates run kube-proxy in the mode the embedded cluster states."""
    import yaml

    from kai_labs.clusters import kind
    from kai_labs.sim.runtime import KUBE_PROXY_CONFIG

    stated = yaml.safe_load(KUBE_PROXY_CONFIG)["mode"]
    created = yaml.safe_load(kind.KIND_CONFIG.format(name="x"))["networking"]["kubeProxyMode"]
    assert stated == created == kind.KUBE_PROXY_MODE == "nftables"


@pytest.mark.parametrize(("mode", "check", "remember"), [
    ("iptables", "-m recent --name KUBE-SEP-", "-m recent --set --name KUBE-SEP-"),
    ("nftables", "ip saddr @affinity-", "update @affinity-"),
])
def test_R83_client_ip_affinity_is_remembered_per_endpoint(mode: str, check: str, remember: str) -> None:
    text = pr.rules(snapshot(), mode, service="lab/np").text
    # a recall line per endpoint in each policy chain (Cluster: pods a and b; Local: node-1's pod a),
    # a remember line per endpoint chain
    assert text.count(check) == 3 and text.count(remember) == 2
    assert ("--rcheck --seconds 10800 --reap" in text) if mode == "iptables" else ("timeout 10800s" in text)
    assert "affinity" not in pr.rules(snapshot(), mode, service="lab/web").text.replace("kube-proxy", "")
