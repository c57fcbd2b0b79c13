"""The grader recognises the common wrong fixes and says what each did (issue #14, part 2).

Every grader three ways, on the real embedded cluster: the reference fix passes, the untouched scenario fails
(with no "Your change" line: nothing was changed), and each recognised wrong fix fails with its own message
and hop. The wrong fixes are made with the real kubectl, as a learner would make them.
"""

from __future__ import annotations

from typing import Any

import pytest

from kai_labs.labs import scenario as sc

pytestmark = pytest.mark.cluster

NAMES = sc.names()


def _json_patch(kind: str, name: str, path: str, value: Any) -> list[str]:
    import json

    return ["patch", kind, name, "--type=json", "-p",
            json.dumps([{"op": "replace", "path": path, "value": value}])]


CONTAINER_PORT = "/spec/template/spec/containers/0/ports/0/containerPort"

# scenario, what the learner did (kubectl, the namespace is added), hop, the words of its own message
WRONG: list[tuple[str, str, list[list[str]], str, str]] = [
    ("wrong-targetport", "containerPort moved to where the app listens",
     [_json_patch("deploy", "web", CONTAINER_PORT, 3000)], "app", "containerPort is informational"),
    ("wrong-targetport", "the Service's port instead of targetPort",
     [_json_patch("svc", "web", "/spec/ports/0/port", 3000)], "port", "port changed from 80 to 3000"),
    ("wrong-targetport", "a change off the path (more replicas)",
     [["scale", "deploy", "web", "--replicas=3"]], "app", "had no effect on the path"),
    ("wrong-selector", "the label on the Service object instead of its selector",
     [["label", "svc", "web", "app=api"]], "selector", "metadata.labels"),
    ("wrong-selector", "the Pods relabelled by hand",
     [["label", "pods", "--all", "app=web", "--overwrite"]], "pods", "relabelled by hand"),
    ("wrong-selector", "the Service's port changed",
     [_json_patch("svc", "web", "/spec/ports/0/port", 8080)], "port", "port changed from 80 to 8080"),
    ("selector-too-broad", "the label on the Service object instead of its selector",
     [["label", "svc", "web", "component=web"]], "selector", "metadata.labels"),
    ("named-port-mismatch", "the Service's port instead of the names",
     [_json_patch("svc", "web", "/spec/ports/0/port", 8080)], "port", "port changed from 80 to 8080"),
    ("named-port-mismatch", "a change off the path (an env var)",
     [["set", "env", "deploy/web", "PORT_NAME=http"]], "targetPort", "had no effect on the path"),
    ("unready-pods", "containerPort moved to where the app listens",
     [_json_patch("deploy", "web", CONTAINER_PORT, 8081)], "app", "containerPort is informational"),
    ("no-pods", "a change off the path (an env var, still no replicas)",
     [["set", "env", "deploy/web", "READY=yes"]], "pods", "had no effect on the path"),
    ("port-vs-targetport", "the Service's port moved to what the client dials",
     [_json_patch("svc", "web", "/spec/ports/0/port", 8080)], "port", "port changed from 80 to 8080"),
    ("headless-port", "the Service's port changed",
     [_json_patch("svc", "web", "/spec/ports/0/port", 8080)], "port", "port changed from 80 to 8080"),
    ("wrong-namespace", "the client's URL changed, still a short name",
     [["set", "env", "deploy/frontend", "WEB_URL=http://web:80/hostname"]], "dns", "had no effect on the path"),
    ("mystery", "the label on the Service object instead of its selector",
     [["label", "svc", "web", "team=web"]], "selector", "metadata.labels"),
    ("localhost-only", "targetPort moved: the port was right, the address is not",
     [_json_patch("svc", "web", "/spec/ports/0/targetPort", 8080)], "app", "had no effect on the path"),
    ("netpol-ingress-deny", "the frontend allowed on the Service's port instead of the Pods' port",
     [["patch", "networkpolicy", "default-deny-ingress", "--type=json", "-p", '[{"op":"add","path":"/spec/ingress",'
       '"value":[{"from":[{"podSelector":{"matchLabels":{"app":"frontend"}}}],"ports":[{"port":80}]}]}]']],
     "networkpolicy", "sees port 8080, never 80"),
    ("crashloop-backends", "an env var for the listen address, the unknown flag still there",
     [["set", "env", "deploy/web", "LISTEN_ADDRESS=0.0.0.0"]], "readiness", "had no effect on the path"),
    ("crashloop-backends", "a change off the path (more replicas)",
     [["scale", "deploy", "web", "--replicas=3"]], "readiness", "had no effect on the path"),
    ("pending-backends", "more replicas, still nowhere to run",
     [["scale", "deploy", "web", "--replicas=3"]], "pods", "had no effect on the path"),
    ("netpol-egress-dns", "egress opened on the Service's port 80, DNS still cut",
     [["patch", "networkpolicy", "frontend-egress", "--type=json", "-p",
       '[{"op":"add","path":"/spec/egress/-","value":{"ports":[{"port":80}]}}]']],
     "networkpolicy", "their DNS queries to kube-dns (UDP 53) are dropped"),
]


def _ns_for(s: sc.Scenario, op: list[str]) -> str:
    if s.client is not None and any("frontend" in a for a in op):
        return s.client.namespace
    return s.namespace


def _mine(g: Any) -> list[Any]:
    return [r for r in g.results if r.name == "Your change"]


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes_and_untouched_fails_without_blaming_a_change(cluster: Any, name: str) -> None:
    s = sc.get(name).reset(cluster, seed=1)
    g = s.check(cluster, timeout=8)
    assert not g.passed, str(g)
    assert not _mine(g), f"nothing was changed, yet: {g}"
    s.solve(cluster)
    g = s.check(cluster)
    assert g.passed, str(g)


@pytest.mark.parametrize(("name", "what", "ops", "hop", "text"), WRONG, ids=[f"{w[0]}: {w[1]}" for w in WRONG])
def test_wrong_fix_fails_with_its_own_message(cluster: Any, name: str, what: str, ops: list[list[str]], hop: str,
                                              text: str) -> None:
    s = sc.get(name).reset(cluster, seed=1)
    for op in ops:
        r = cluster.kubectl(*op, "-n", _ns_for(s, op))
        assert r.returncode == 0, r.stderr
    s.wait(cluster)
    g = s.check(cluster, timeout=10)
    assert not g.passed, str(g)
    failing = [r for r in g.results if not r.passed]
    assert any(text in r.message and r.hop == hop for r in failing), str(g)
    # one wrong fix, one explanation: the other recognisers stay quiet
    others = [r for r in _mine(g) if text not in r.message]
    assert not others, str(g)


def test_service_kept_checks_the_port_too(cluster: Any) -> None:
    """Before #14, "Service kept" passed for a Service whose port had been changed."""
    s = sc.get("wrong-targetport").reset(cluster)
    r = cluster.kubectl(*_json_patch("svc", "web", "/spec/ports/0/port", 3000), "-n", s.namespace)
    assert r.returncode == 0, r.stderr
    g = s.check(cluster, timeout=8)
    kept = next(r for r in g.results if r.name == "Service kept")
    assert not kept.passed and kept.hop == "port" and "from 80 to 3000" in kept.message, str(g)


def test_a_right_fix_that_also_documents_the_port_passes(cluster: Any) -> None:
    """containerPort changed together with the right targetPort is good practice, not a wrong fix."""
    s = sc.get("wrong-targetport").reset(cluster)
    for op in (_json_patch("deploy", "web", CONTAINER_PORT, 3000), _json_patch("svc", "web", "/spec/ports/0/targetPort",
                                                                               3000)):
        r = cluster.kubectl(*op, "-n", s.namespace)
        assert r.returncode == 0, r.stderr
    s.wait(cluster)
    g = s.check(cluster)
    assert g.passed, str(g)
