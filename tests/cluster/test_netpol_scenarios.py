"""The NetworkPolicy scenarios (issue #15): which fixes the grader takes and which it refuses, and why.

netpol-ingress-deny's objective keeps the namespace's default deny: an allow policy for the frontend's Pods on
the Pods' port passes (the idiomatic fix; the reference solution adds the same rule to the deny policy), while
deleting the deny, allowing every Pod, or allowing the Service's port instead of the targetPort fail, each with
its own message. Every change is made with the real kubectl, as a learner would make it.
"""

from __future__ import annotations

from typing import Any

import pytest

from kai_labs.labs import scenario as sc

pytestmark = pytest.mark.cluster

NAME = "netpol-ingress-deny"


def _allow(ns: str, port: int, source: str = "podSelector: {matchLabels: {app: frontend}}") -> str:
    return (f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: web-from-frontend, "
            f"namespace: {ns}}}\nspec:\n  podSelector: {{matchLabels: {{app: web}}}}\n  policyTypes: [Ingress]\n"
            f"  ingress:\n  - from: [{{{source}}}]\n    ports: [{{protocol: TCP, port: {port}}}]\n")


def _apply(cluster: Any, text: str) -> None:
    r = cluster.kubectl("apply", "-f", "-", input=text)
    assert r.returncode == 0, r.stderr


def _failing(g: Any) -> list[Any]:
    return [r for r in g.results if not r.passed]


def test_an_allow_policy_for_the_frontend_on_the_pods_port_passes(cluster: Any) -> None:
    s = sc.get(NAME).reset(cluster)
    _apply(cluster, _allow(s.namespace, 8080))
    g = s.check(cluster)
    assert g.passed, str(g)
    trace = s.inspect(cluster)
    assert trace.diagnosis is None, str(trace)
    assert trace.step("networkpolicy").status == "ok" and "web-from-frontend" in trace.step("networkpolicy").explanation


def test_the_untouched_break_is_named_at_the_networkpolicy_hop(cluster: Any) -> None:
    s = sc.get(NAME).reset(cluster)
    trace = s.inspect(cluster)
    d = trace.diagnosis
    assert d is not None and d.hop == "networkpolicy", str(trace)
    assert "default-deny-ingress" in d.explanation and "timeout" in d.explanation
    assert d.kubectl.startswith("kubectl get networkpolicy") and "kai-labs net route" in d.kubectl
    assert s.diagnose("NetworkPolicy", because="default-deny-ingress isolates the web Pods").right


def test_allowing_the_service_port_fails_because_policies_see_the_target_port(cluster: Any) -> None:
    s = sc.get(NAME).reset(cluster)
    _apply(cluster, _allow(s.namespace, 80))
    g = s.check(cluster, timeout=8)
    assert not g.passed
    mine = [r for r in g.results if r.name == "Your change"]
    assert len(mine) == 1 and mine[0].hop == "networkpolicy" and "sees port 8080, never 80" in mine[0].message, str(g)
    assert any(r.name.startswith("The client's requests") for r in _failing(g)), str(g)


def test_deleting_the_default_deny_fails_though_the_requests_pass(cluster: Any) -> None:
    s = sc.get(NAME).reset(cluster)
    r = cluster.kubectl("delete", "networkpolicy", "default-deny-ingress", "-n", s.namespace)
    assert r.returncode == 0, r.stderr
    g = s.check(cluster, timeout=8)
    failing = _failing(g)
    assert [f.name for f in failing] == ["Default deny kept"], str(g)
    assert "no longer isolates" in failing[0].message


def test_allowing_every_pod_fails(cluster: Any) -> None:
    s = sc.get(NAME).reset(cluster)
    _apply(cluster, _allow(s.namespace, 8080, source="namespaceSelector: {}"))
    g = s.check(cluster, timeout=8)
    failing = _failing(g)
    assert [f.name for f in failing] == ["Default deny kept"], str(g)
    assert "a Pod without those labels now reaches" in failing[0].message, str(g)


def test_the_packet_walk_stops_at_the_policy_and_lists_the_step_only_where_policies_exist(cluster: Any) -> None:
    s = sc.get(NAME).reset(cluster)
    w = cluster.net.walk("http://web", namespace=s.namespace)
    assert w.stopped is not None and w.stopped.hop == "networkpolicy", str(w)
    assert "default-deny-ingress" in w.stopped.explanation and "timeout, not a refusal" in w.stopped.explanation
    assert [x.hop for x in w.steps] == ["dns", "service", "endpoints", "dnat", "networkpolicy", "reply"]
    plain = sc.get("wrong-targetport").reset(cluster)
    assert [x.hop for x in cluster.net.walk("http://web", namespace=plain.namespace).steps] == [
        "dns", "service", "endpoints", "dnat", "reply"]


EGRESS = "netpol-egress-dns"


def test_egress_without_dns_is_named_at_the_networkpolicy_hop(cluster: Any) -> None:
    s = sc.get(EGRESS).reset(cluster)
    d = s.inspect(cluster).diagnosis
    assert d is not None and d.hop == "networkpolicy", str(s.inspect(cluster))
    assert "cannot resolve web" in d.explanation and "UDP 53" in d.explanation and "frontend-egress" in d.explanation
    g = s.check(cluster, timeout=8)
    assert not g.passed and any("bad address" in r.message for r in _failing(g)), str(g)


def test_removing_the_egress_policy_or_allowing_all_egress_fails(cluster: Any) -> None:
    s = sc.get(EGRESS).reset(cluster)
    r = cluster.kubectl("patch", "networkpolicy", "frontend-egress", "-n", s.namespace, "--type=json", "-p",
                        '[{"op":"add","path":"/spec/egress/-","value":{}}]')
    assert r.returncode == 0, r.stderr
    g = s.check(cluster, timeout=8)
    assert [f.name for f in _failing(g)] == ["Egress policy kept"], str(g)
    assert "an address outside the cluster" in _failing(g)[0].message
    r = cluster.kubectl("delete", "networkpolicy", "frontend-egress", "-n", s.namespace)
    assert r.returncode == 0, r.stderr
    g = s.check(cluster, timeout=8)
    assert [f.name for f in _failing(g)] == ["Egress policy kept"], str(g)
    assert "no longer isolates" in _failing(g)[0].message
