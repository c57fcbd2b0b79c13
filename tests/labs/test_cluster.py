"""Every scenario on the embedded cluster: broken -> inspected -> failing -> solved -> passing.

Plus wrong fixes that must fail for the intended reason, and grades that must
not mutate the cluster.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import kai_labs
from kai_labs.labs import scenario as sc
from kai_labs.labs.draw import draw

from .conftest import GOLDEN, UPDATE

pytestmark = pytest.mark.cluster
NAMES = sc.names()


def _rv(cluster: Any, s: sc.Scenario) -> list[tuple[str, str]]:
    out = []
    for ns in s.all_namespaces:
        r = cluster.kubectl("get", "svc,deploy,cm", "-n", ns, "-o", "json")
        for o in json.loads(r.stdout)["items"]:
            out.append((o["metadata"]["name"], o["metadata"]["resourceVersion"]))
    return sorted(out)


@pytest.mark.parametrize("name", NAMES)
def test_broken_inspected_failing_solved_passing(cluster: Any, name: str) -> None:
    s = sc.get(name)
    s.reset(cluster, seed=1 if s.variants else None)
    s.create(cluster)  # idempotent: a second create changes nothing
    eff = s.effective(cluster)
    trace = s.inspect(cluster)
    assert trace.diagnosis is not None
    assert trace.diagnosis.hop == eff.diagnosis, str(trace)
    assert trace.diagnosis.kubectl.startswith("kubectl")
    if UPDATE:
        (GOLDEN / f"{name}.trace.json").write_text(json.dumps(trace.to_dict(), indent=1, sort_keys=True) + "\n")
    svg = draw(trace).svg()
    assert "<svg" in svg and 'aria-label="Diagram of Service web' in svg and "<desc>" in svg

    before = _rv(cluster, s)
    t0 = time.monotonic()
    g = s.check(cluster)
    elapsed = time.monotonic() - t0
    assert not g.passed, str(g)
    assert "NOT YET" in str(g) and "Not yet" in g._repr_html_()
    assert elapsed < 5, f"a failing grade on a settled cluster took {elapsed:.2f}s"
    assert _rv(cluster, s) == before, "graders never mutate the cluster"

    s.solve(cluster)
    g = s.check(cluster)
    assert g.passed, str(g)
    assert s.inspect(cluster).diagnosis is None


@pytest.mark.parametrize("name", NAMES)
def test_a_fix_graded_at_once_passes(cluster: Any, name: str) -> None:
    """A learner checks right after patching. The grade must wait for the cluster to catch up (rollout,
    probes, EndpointSlice ready conditions), not read the lag as "Not yet": CI once saw solutions/03 fail
    because a slice still said ready=false for Pods that had just turned Ready. benchmarks/bench_grading.py
    runs this many times over."""
    s = sc.get(name)
    s.reset(cluster, seed=1 if s.variants else None)
    s.solve(cluster, wait=False)
    g = s.check(cluster)
    assert g.passed, str(g)


def test_grade_time_when_converged(cluster: Any) -> None:
    s = sc.get("wrong-selector")
    s.reset(cluster)
    s.solve(cluster)
    t0 = time.monotonic()
    for _ in range(3):
        assert s.check(cluster).passed
    per = (time.monotonic() - t0) / 3
    print(f"grade takes {per:.3f}s when converged")
    assert per < 1.0


def _patch(cluster: Any, *args: str) -> None:
    r = cluster.kubectl(*args)
    assert r.returncode == 0, r.stderr


def _failing(cluster: Any, s: sc.Scenario, hop: str, text: str) -> None:
    g = s.check(cluster, timeout=8)
    assert not g.passed, str(g)
    msgs = " | ".join(f"{r.hop}: {r.message}" for r in g.results if not r.passed)
    assert text in msgs, msgs
    assert any(r.hop == hop for r in g.results if not r.passed), msgs


def test_relabelling_the_deployment_is_a_valid_fix_too(cluster: Any) -> None:
    s = sc.get("wrong-selector").reset(cluster)
    ns = s.namespace
    r = cluster.kubectl("get", "deploy", "web", "-n", ns, "-o", "json")
    dep = json.loads(r.stdout)
    dep["spec"]["selector"]["matchLabels"] = {"app": "web"}
    dep["spec"]["template"]["metadata"]["labels"] = {"app": "web"}
    for k in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        dep["metadata"].pop(k, None)
    dep.pop("status", None)
    _patch(cluster, "delete", "deploy", "web", "-n", ns)
    cluster.kubectl("apply", "-f", "-", input=json.dumps(dep), check=True)
    assert s.check(cluster).passed


def test_wrong_selector_renamed_service_fails(cluster: Any) -> None:
    s = sc.get("wrong-selector").reset(cluster)
    _patch(cluster, "delete", "svc", "web", "-n", s.namespace)
    _patch(cluster, "expose", "deployment", "web", "-n", s.namespace, "--name=web2", "--port=80",
           "--target-port=8080")
    _failing(cluster, s, "service", "Service web is gone")


def test_bare_pod_instead_of_scaling_fails(cluster: Any) -> None:
    s = sc.get("no-pods").reset(cluster)
    _patch(cluster, "run", "web-manual", "-n", s.namespace, "--labels=app=web",
           "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--", "netexec", "--http-port=8080")
    _failing(cluster, s, "selector", "bare Pod")


def test_removing_the_readiness_probe_fails(cluster: Any) -> None:
    s = sc.get("unready-pods").reset(cluster)
    _patch(cluster, "patch", "deploy", "web", "-n", s.namespace, "--type=json", "-p",
           '[{"op":"remove","path":"/spec/template/spec/containers/0/readinessProbe"}]')
    _failing(cluster, s, "readiness", "no readiness probe")


def test_client_pointed_at_a_pod_ip_fails(cluster: Any) -> None:
    s = sc.get("port-vs-targetport").reset(cluster)
    pods = json.loads(cluster.kubectl("get", "pods", "-n", s.namespace, "-l", "app=web", "-o", "json").stdout)
    ip = pods["items"][0]["status"]["podIP"]
    _patch(cluster, "set", "env", "deployment/frontend", "-n", s.namespace, f"WEB_URL=http://{ip}:8080/hostname")
    _failing(cluster, s, "client", "points at a Pod IP")


def test_changing_the_service_port_instead_of_the_client_fails(cluster: Any) -> None:
    s = sc.get("port-vs-targetport").reset(cluster)
    _patch(cluster, "patch", "svc", "web", "-n", s.namespace, "--type=json", "-p",
           '[{"op":"replace","path":"/spec/ports/0/port","value":8080}]')
    _failing(cluster, s, "port", "other clients already use it")


def test_scaling_away_the_other_app_fails(cluster: Any) -> None:
    s = sc.get("selector-too-broad").reset(cluster)
    _patch(cluster, "scale", "deploy", "orders", "-n", s.namespace, "--replicas=0")
    _failing(cluster, s, "pods", "Deployment orders belongs to someone else")


def test_half_fixed_selector_still_fails_on_traffic(cluster: Any) -> None:
    s = sc.get("selector-too-broad").reset(cluster)
    _failing(cluster, s, "selector", "orders")


def test_wrong_namespace_fix_in_default_is_named(cluster: Any) -> None:
    s = sc.get("wrong-namespace").reset(cluster)
    _patch(cluster, "set", "env", "deployment/frontend", "-n", s.client.namespace,
           "WEB_URL=http://web.default.svc.cluster.local/hostname")
    _failing(cluster, s, "request", "failed")


def test_fix_applied_to_the_wrong_namespace_is_refused(cluster: Any) -> None:
    s = sc.get("wrong-selector").reset(cluster)
    bad = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: default\nspec:\n"
           "  selector: {app: api}\n  ports: [{port: 80, targetPort: 8080}]\n")
    with pytest.raises(sc.ScenarioError, match="lives in lab-wrong-selector"):
        s.apply(cluster, bad)
    with pytest.raises(sc.ScenarioError, match="invalid YAML at line"):
        s.apply(cluster, "apiVersion: v1\nkind: Service\nmetadata: {name: web\n")
    with pytest.raises(sc.ScenarioError, match="must be between 1 and 65535"):
        s.apply(cluster, bad.replace("  namespace: default\n", "").replace("8080", "99999"))
    s.apply(cluster, bad.replace("  namespace: default\n", ""))
    assert s.check(cluster).passed


def test_a_namespace_less_fix_in_a_two_namespace_scenario_must_say_where_it_goes(cluster: Any) -> None:
    s = sc.get("wrong-namespace").reset(cluster)
    frontend = json.loads(cluster.kubectl("get", "deploy", "frontend", "-n", s.client.namespace, "-o",
                                          "json").stdout)
    for k in ("namespace", "resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        frontend["metadata"].pop(k, None)
    frontend.pop("status", None)
    with pytest.raises(sc.ScenarioError, match="has no metadata.namespace.*say which one"):
        s.apply(cluster, json.dumps(frontend))
    assert "frontend" not in cluster.kubectl("get", "deploy", "-n", s.namespace, "-o", "name").stdout


def test_hints_are_revealed_one_at_a_time() -> None:
    h = sc.get("no-pods").hint_box()
    assert "3 hints available" in str(h)
    first = h.next()
    assert first in str(h) and sc.get("no-pods").hints[1] not in str(h)
    h.next(), h.next(), h.next()
    assert h.shown == 3


def test_grade_without_the_scenario_says_not_yet(cluster: Any) -> None:
    s = sc.get("headless-port")
    s.delete(cluster)
    g = s.check(cluster)
    assert not g.passed and "scenario create headless-port" in str(g)


def test_panel_builds_and_buttons_work(cluster: Any) -> None:
    p = kai_labs.panel(cluster, "no-pods")
    labels = {b.description for b in p.buttons.values()}
    assert {"Create (break)", "Reset", "Inspect + diagram", "Check my fix", "Reveal next hint"} <= labels
    p.buttons["create"].click()
    assert "Created" in p.status.value
    p.buttons["hint"].click()
    assert "Hint 1/3" in p.hints.value
    p.buttons["check"].click()
    assert "Not yet" in p.status.value


def test_panel_hints_follow_the_values_a_terminal_created(cluster: Any) -> None:
    """`kai-labs scenario create NAME --vary N` from a terminal, then the panel in the notebook: its hints
    name the values the scenario's namespace records, not the catalog's defaults."""
    s = sc.get("wrong-targetport").reset(cluster, vary=3)  # (created already by earlier tests of the module)
    try:
        varied = s.recorded(cluster)
        default = sc.get("wrong-targetport")
        assert varied.hints[2] != default.hints[2]
        p = kai_labs.panel(cluster, "wrong-targetport")
        for _ in range(3):
            p.buttons["hint"].click()
        assert f"kubectl patch svc {varied.service} " in p.hints.value, p.hints.value
        assert "kubectl patch svc web " not in p.hints.value  # the catalog's default, which is not running
    finally:
        s.reset(cluster, vary=0)


# Wrong fixes found by a review: each sidesteps what its scenario teaches and must fail for that reason.

def test_relabelling_pods_instead_of_fixing_the_selector_fails(cluster: Any) -> None:
    """The ReplicaSet releases relabelled Pods and starts new ones with the old labels (ClaimObject)."""
    s = sc.get("wrong-selector").reset(cluster)
    _patch(cluster, "label", "pods", "--all", "-n", s.namespace, "app=web", "--overwrite")
    _failing(cluster, s, "selector", "bare Pod")


def test_a_second_service_on_the_client_port_fails(cluster: Any) -> None:
    s = sc.get("port-vs-targetport").reset(cluster)
    _patch(cluster, "expose", "deployment", "web", "-n", s.namespace, "--name=web-8080", "--port=8080")
    _patch(cluster, "set", "env", "deployment/frontend", "-n", s.client.namespace,
           "WEB_URL=http://web-8080:8080/hostname")
    _failing(cluster, s, "client", "Service web-8080, not Service web")


def test_one_pods_dns_name_under_the_headless_service_fails(cluster: Any) -> None:
    s = sc.get("headless-port").reset(cluster)
    ip = json.loads(cluster.kubectl("get", "pods", "-n", s.namespace, "-l", "app=web", "-o", "json").stdout)[
        "items"][0]["status"]["podIP"]
    _patch(cluster, "set", "env", "deployment/frontend", "-n", s.client.namespace,
           f"WEB_URL=http://{ip.replace('.', '-')}.web.{s.namespace}.svc.cluster.local:8080/hostname")
    _failing(cluster, s, "client", "names one Pod")


def test_an_externalname_alias_in_the_clients_namespace_fails(cluster: Any) -> None:
    s = sc.get("wrong-namespace").reset(cluster)
    _patch(cluster, "create", "service", "externalname", "web", "-n", s.client.namespace,
           f"--external-name=web.{s.namespace}.svc.cluster.local")
    _failing(cluster, s, "client", "do not copy or alias")


def test_untouched_wrong_namespace_says_a_short_name_means_the_clients_namespace(cluster: Any) -> None:
    s = sc.get("wrong-namespace").reset(cluster)
    _failing(cluster, s, "client", "a short name is looked up in the client's own namespace")
