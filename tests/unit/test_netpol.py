"""The NetworkPolicy evaluator (kai_labs/k8s/netpol.py, R99 and R110-R114): pure cases from the semantics of
staging/src/k8s.io/api/networking/v1/types.go and the upstream netpol e2e matrix."""

from __future__ import annotations

from typing import Any

from kai_labs.k8s import netpol
from kai_labs.k8s.netpol import Peer

NS = {"app": {"kubernetes.io/metadata.name": "app", "team": "a"},
      "other": {"kubernetes.io/metadata.name": "other", "team": "b"},
      "kube-system": {"kubernetes.io/metadata.name": "kube-system"}}

WEB = Peer("10.244.1.5", "app", "web-1", {"app": "web"}, (("http", 8080, "TCP"), ("dns", 53, "UDP")), "172.18.0.3")
CLIENT = Peer("10.244.2.7", "app", "client", {"role": "client"}, (), "172.18.0.4")
STRANGER = Peer("10.244.2.8", "app", "stranger", {"role": "other"}, (), "172.18.0.4")
FOREIGN = Peer("10.244.1.9", "other", "foreign", {"role": "client"}, (), "172.18.0.3")
DNS = Peer("10.244.0.3", "kube-system", "coredns-1", {"k8s-app": "kube-dns"}, (("dns", 53, "UDP"),), "172.18.0.2")


def pol(name: str, spec: dict[str, Any], ns: str = "app") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


DENY_ALL = pol("deny-all", {"podSelector": {}, "policyTypes": ["Ingress"]})


def test_R99_no_policy_selects_the_pod_everything_passes() -> None:
    d = netpol.decide([pol("x", {"podSelector": {"matchLabels": {"app": "db"}}})], NS, CLIENT, WEB, "TCP", 8080)
    assert d.allowed and d.reason == "" and d.verdicts == ()


def test_R99_empty_pod_selector_isolates_every_pod_of_its_namespace_only() -> None:
    d = netpol.decide([DENY_ALL], NS, CLIENT, WEB, "TCP", 8080)
    assert not d.allowed
    assert d.reason == ("denied: NetworkPolicy app/deny-all isolates web-1 for ingress and no rule allows "
                        "10.244.2.7 (client) on TCP 8080")
    other_ns = Peer("10.244.1.10", "other", "w", {"app": "web"})
    assert netpol.decide([DENY_ALL], NS, CLIENT, other_ns, "TCP", 8080).allowed


def test_R110_deny_all_plus_an_allow_is_the_union() -> None:
    allow = pol("allow-client", {"podSelector": {"matchLabels": {"app": "web"}},
                                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}]})
    d = netpol.decide([DENY_ALL, allow], NS, CLIENT, WEB, "TCP", 8080)
    assert d.allowed and d.reason == "allowed by NetworkPolicy app/allow-client ingress rule 1"
    d = netpol.decide([DENY_ALL, allow], NS, STRANGER, WEB, "TCP", 8080)
    assert not d.allowed
    assert "NetworkPolicies app/allow-client, app/deny-all isolate web-1" in d.reason


def test_R110_an_empty_rule_allows_everything_and_no_rule_nothing() -> None:
    everyone = pol("all", {"podSelector": {}, "ingress": [{}]})
    assert netpol.decide([everyone], NS, FOREIGN, WEB, "UDP", 53).allowed
    assert not netpol.decide([pol("none", {"podSelector": {}, "ingress": []})], NS, FOREIGN, WEB, "UDP", 53).allowed


def test_R111_pod_selector_alone_means_the_policys_namespace() -> None:
    p = pol("p", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}]})
    assert netpol.decide([p], NS, CLIENT, WEB, "TCP", 8080).allowed
    assert not netpol.decide([p], NS, FOREIGN, WEB, "TCP", 8080).allowed  # same labels, other namespace


def test_R111_namespace_and_pod_selector_in_one_peer_is_AND_in_two_peers_OR() -> None:
    both = pol("and", {"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "b"}}, "podSelector": {"matchLabels": {"role": "client"}}}]}]})
    two = pol("or", {"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "b"}}}, {"podSelector": {"matchLabels": {"role": "client"}}}]}]})
    other_stranger = Peer("10.244.1.11", "other", "s", {"role": "other"})
    assert netpol.decide([both], NS, FOREIGN, WEB, "TCP", 8080).allowed
    assert not netpol.decide([both], NS, other_stranger, WEB, "TCP", 8080).allowed
    assert not netpol.decide([both], NS, CLIENT, WEB, "TCP", 8080).allowed  # team a
    assert netpol.decide([two], NS, other_stranger, WEB, "TCP", 8080).allowed  # any Pod of team b
    assert netpol.decide([two], NS, CLIENT, WEB, "TCP", 8080).allowed  # a client of the policy's namespace
    assert not netpol.decide([two], NS, STRANGER, WEB, "TCP", 8080).allowed


def test_R111_empty_namespace_selector_is_every_namespace() -> None:
    p = pol("p", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]})
    assert netpol.decide([p], NS, FOREIGN, WEB, "TCP", 8080).allowed
    node = Peer("172.18.0.4")
    assert not netpol.decide([p], NS, node, WEB, "TCP", 8080).allowed  # selectors match Pods only


def test_R112_ip_block_with_except_and_the_pods_own_node() -> None:
    p = pol("p", {"podSelector": {}, "ingress": [{"from": [
        {"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.2.0/24"]}}]}]})
    assert netpol.decide([p], NS, FOREIGN, WEB, "TCP", 8080).allowed  # 10.244.1.9
    assert not netpol.decide([p], NS, CLIENT, WEB, "TCP", 8080).allowed  # 10.244.2.7 is excepted
    other_node = Peer("172.18.0.4")
    assert not netpol.decide([p], NS, other_node, WEB, "TCP", 8080).allowed
    own_node = Peer("172.18.0.3")
    d = netpol.decide([p], NS, own_node, WEB, "TCP", 8080)
    assert d.allowed and "own node" in d.reason
    nodes = pol("nodes", {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "172.18.0.0/16"}}]}]})
    assert netpol.decide([nodes], NS, other_node, WEB, "TCP", 8080).allowed


def test_R113_named_ports_resolve_against_the_destination_for_ingress_and_egress() -> None:
    ing = pol("ing", {"podSelector": {}, "ingress": [{"ports": [{"port": "http", "protocol": "TCP"}]}]})
    assert netpol.decide([ing], NS, CLIENT, WEB, "TCP", 8080).allowed
    assert not netpol.decide([ing], NS, CLIENT, WEB, "TCP", 80).allowed
    eg = pol("eg", {"podSelector": {"matchLabels": {"role": "client"}}, "policyTypes": ["Egress"],
                    "egress": [{"ports": [{"port": "http", "protocol": "TCP"}]}]})
    assert netpol.decide([eg], NS, CLIENT, WEB, "TCP", 8080).allowed
    assert not netpol.decide([eg], NS, CLIENT, STRANGER, "TCP", 8080).allowed  # it names no port "http"
    assert not netpol.decide([eg], NS, CLIENT, Peer("203.0.113.5"), "TCP", 8080).allowed


def test_R113_end_port_range_and_protocols() -> None:
    p = pol("p", {"podSelector": {}, "ingress": [{"ports": [{"port": 8000, "endPort": 8080, "protocol": "TCP"},
                                                            {"port": 53, "protocol": "UDP"}]}]})
    assert netpol.decide([p], NS, CLIENT, WEB, "TCP", 8000).allowed
    assert netpol.decide([p], NS, CLIENT, WEB, "TCP", 8080).allowed
    assert not netpol.decide([p], NS, CLIENT, WEB, "TCP", 8081).allowed
    assert netpol.decide([p], NS, CLIENT, WEB, "UDP", 53).allowed
    assert not netpol.decide([p], NS, CLIENT, WEB, "TCP", 53).allowed
    defaulted = pol("d", {"podSelector": {}, "ingress": [{"ports": [{"port": 53}]}]})  # protocol TCP
    assert not netpol.decide([defaulted], NS, CLIENT, WEB, "UDP", 53).allowed


def test_R99_egress_only_policy_leaves_ingress_open_and_breaks_dns() -> None:
    eg = pol("no-egress", {"podSelector": {"matchLabels": {"role": "client"}}, "policyTypes": ["Egress"]})
    d = netpol.decide([eg], NS, CLIENT, DNS, "UDP", 53)
    assert not d.allowed
    assert d.reason == ("denied: NetworkPolicy app/no-egress isolates client for egress and no rule allows "
                        "10.244.0.3 (coredns-1) on UDP 53")
    assert netpol.decide([eg], NS, STRANGER, CLIENT, "TCP", 80).allowed  # ingress to the client is open
    dns = pol("dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
         "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}], "ports": [{"port": 53, "protocol": "UDP"}]}]})
    d = netpol.decide([eg, dns], NS, CLIENT, DNS, "UDP", 53)
    assert d.allowed and d.reason == "allowed by NetworkPolicy app/dns egress rule 1"
    assert not netpol.decide([eg, dns], NS, CLIENT, WEB, "TCP", 8080).allowed


def test_R114_both_ends_are_judged_and_egress_first() -> None:
    eg = pol("eg", {"podSelector": {"matchLabels": {"role": "client"}}, "policyTypes": ["Egress"], "egress": [{}]})
    d = netpol.decide([eg, DENY_ALL], NS, CLIENT, WEB, "TCP", 8080)
    assert not d.allowed and "for ingress" in d.reason
    d = netpol.decide([eg, pol("web-in", {"podSelector": {}, "ingress": [{}]})], NS, CLIENT, WEB, "TCP", 8080)
    assert d.allowed
    assert d.reason == ("allowed by NetworkPolicy app/eg egress rule 1; "
                        "allowed by NetworkPolicy app/web-in ingress rule 1")


def test_defaults_and_selectors() -> None:
    assert netpol.policy_types({"spec": {"egress": [{}]}}) == ["Ingress", "Egress"]
    assert netpol.policy_types({"spec": {}}) == ["Ingress"]
    sel = {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]}
    assert netpol.selector_matches(sel, {}) and not netpol.selector_matches(sel, {"app": "db"})
    assert not netpol.selector_matches({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}, {"a": "1"})


def test_pod_peer_reads_a_pod_object() -> None:
    pod = {"metadata": {"name": "web-1", "namespace": "app", "labels": {"app": "web"}},
           "spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}, {"containerPort": 9}]}]},
           "status": {"podIP": "10.244.1.5", "hostIP": "172.18.0.3"}}
    p = netpol.pod_peer(pod)
    assert p == Peer("10.244.1.5", "app", "web-1", {"app": "web"}, (("http", 8080, "TCP"),), "172.18.0.3")
    assert netpol.pod_peer({"metadata": {}, "status": {}}) is None
