"""Scenario variants on the real embedded cluster (issue #14 part 5): the grader is not tied to one literal fix.

For each varied scenario, in a non-default variant (other names, labels, ports): the broken state fails the
grade, the variant's reference fix passes, and one recognised wrong fix gets its own message with the
variant's numbers (three ways, as test_wrong_fixes does for the default). The values are recorded on the
Namespace, so a Scenario object that knows nothing of the variant (``sc.get(name)``, as in another kernel) and
the CLI (another process) grade, diagnose, hint and solve in the same values.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kai_labs.labs import diagnose as dg
from kai_labs.labs import scenario as sc
from kai_labs.labs import vary, workshop

pytestmark = pytest.mark.cluster

KAI_LABS = str(Path(sys.executable).parent / "kai-labs")
K = 3  # a non-default variant; the unit tests cover the rest of the range
CONTAINER_PORT = "/spec/template/spec/containers/0/ports/0/containerPort"

Values = dict[str, str]


def _json_patch(kind: str, name: str, path: str, value: Any) -> list[str]:
    return ["patch", kind, name, "--type=json", "-p", json.dumps([{"op": "replace", "path": path, "value": value}])]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAI_LABS, "scenario", *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))


# scenario -> (the wrong fix in this variant's names and numbers, hop, the words its own message must hold)
WrongFix = Callable[[Values], tuple[list[list[str]], str, str]]
WRONG: dict[str, WrongFix] = {
    "wrong-targetport": lambda v: (
        [_json_patch("deploy", v["web"], CONTAINER_PORT, int(v["3000"]))], "app",
        f"containerPort of Deployment {v['web']} from {v['8080']} to {v['3000']}"),
    "port-vs-targetport": lambda v: (
        [_json_patch("svc", v["web"], "/spec/ports/0/port", int(v["8080"]))], "port",
        f"port changed from 80 to {v['8080']}"),
    "named-port-mismatch": lambda v: (
        [_json_patch("svc", v["web"], "/spec/ports/0/port", int(v["8080"]))], "port",
        f"port changed from 80 to {v['8080']}"),
    "wrong-selector": lambda v: (
        [["label", "svc", v["web"], f"app={v['api']}"]], "selector", f"You put app={v['api']} on Service {v['web']}"),
    "selector-too-broad": lambda v: (
        [["label", "svc", v["web"], f"component={v['web']}"]], "selector",
        f"You put component={v['web']} on Service {v['web']}"),
    "headless-port": lambda v: (
        [_json_patch("svc", v["web"], "/spec/ports/0/port", int(v["8080"]))], "port",
        f"port changed from 80 to {v['8080']}"),
    "unready-pods": lambda v: (
        [_json_patch("deploy", v["web"], CONTAINER_PORT, int(v["8081"]))], "app",
        f"containerPort of Deployment {v['web']} from {v['8080']} to {v['8081']}"),
    "no-pods": lambda v: ([["set", "env", f"deploy/{v['web']}", "READY=yes"]], "pods", "had no effect on the path"),
    "wrong-namespace": lambda v: (
        [["set", "env", "deploy/frontend", f"WEB_URL=http://{v['web']}:80/hostname"]], "dns",
        "had no effect on the path"),
}
NAMES = [n for n in sc.names() if n in WRONG]


@pytest.fixture(scope="module", autouse=True)
def _default_values_after(cluster: Any) -> Any:
    """create and reset keep the values a namespace records: delete the varied ones afterwards, so the next
    module's scenarios (test_wrong_fixes: ``kubectl label svc web``) start from the files' values again."""
    yield
    for name in sc.names():
        s = sc.get(name)
        if s._recorded(cluster)[1]:
            s.delete(cluster)


def _ns_for(s: sc.Scenario, op: list[str]) -> str:
    if s.client is not None and any("frontend" in a for a in op):
        return s.client.namespace
    return s.namespace


@pytest.mark.parametrize("name", NAMES)
def test_variant_broken_fails_solution_passes_in_another_processes_view(cluster: Any, name: str) -> None:
    s = sc.get(name).reset(cluster, vary=K)
    assert s.vary_key == K and s.values, s
    ns = json.loads(cluster.kubectl("get", "ns", s.namespace, "-o", "json").stdout)
    # recorded, opaque: the annotation names neither a value nor the break
    assert ns["metadata"]["annotations"][sc.VARIANT_ANNOTATION] == f"v{K}"
    plain = sc.get(name)  # knows nothing of the variant, as another kernel would not
    assert plain.vary_key == 0
    g = plain.check(cluster, timeout=8)
    assert not g.passed, str(g)
    assert not [r for r in g.results if r.name == "Your change"], f"nothing was changed, yet: {g}"
    assert s.service in str(g) and f" {sc.get(name).service} " not in f" {str(g)} ".replace(s.service, "")
    # the diagnosis is judged in the variant too: the evidence words are the variant's
    eff = plain.effective(cluster)
    assert eff.values == s.values
    ev = " ".join(str(w) for w in eff.diagnose_spec.get("evidence") or [])
    d = plain.diagnose(str(eff.diagnosis), because=f"I saw {ev}", cluster=cluster)
    assert d.right and not d.nudges, str(d)
    looks = " ".join(c for h in dg.accepted(eff) for c in dg.look_commands(eff, h))
    assert looks and not re.search(r"(?<![A-Za-z0-9_-])web(?![A-Za-z0-9_-])", looks), looks
    # the CLI (another process) hints in the variant's names
    assert s.hints != plain.hints
    r = _cli("hint", name, "3")
    assert r.returncode == 0 and r.stdout.strip() == f"Hint 3/3: {s.hints[2]}", r.stdout + r.stderr
    plain.solve(cluster)
    g = plain.check(cluster)
    assert g.passed, str(g)
    if name == "wrong-targetport":  # the CLI grades in the recorded values too (one is enough: it is slow here)
        r = _cli("check", name, "--timeout", "5")
        assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", NAMES)
def test_variant_wrong_fix_gets_its_message_with_the_variants_numbers(cluster: Any, name: str) -> None:
    s = sc.get(name).reset(cluster, vary=K)
    ops, hop, text = WRONG[name](s.values)
    for op in ops:
        r = cluster.kubectl(*op, "-n", _ns_for(s, op))
        assert r.returncode == 0, r.stderr
    s.wait(cluster)
    g = sc.get(name).check(cluster, timeout=10)
    assert not g.passed, str(g)
    failing = [r for r in g.results if not r.passed]
    assert any(text in r.message and r.hop == hop for r in failing), str(g)
    others = [r for r in g.results if r.name == "Your change" and text not in r.message]
    assert not others, str(g)


def test_reset_keeps_the_values_and_default_comes_back_with_vary_0(cluster: Any) -> None:
    s = sc.get("wrong-targetport").reset(cluster, vary=K)
    again = sc.get("wrong-targetport").reset(cluster)
    assert again.values == s.values
    with pytest.raises(sc.ScenarioError, match="other values"):
        sc.get("wrong-targetport").create(cluster, vary=K + 1)
    # the CLI asks for a variant the same way, and shows the manifests in the values the namespace records
    r = _cli("reset", "wrong-targetport", "--vary", str(K + 1))
    assert r.returncode == 0, r.stdout + r.stderr
    other = sc._scenario("wrong-targetport", K + 1).values
    r = _cli("show", "wrong-targetport")
    assert r.returncode == 0 and f"name: {other['web']}" in r.stdout and f"--http-port={other['3000']}" in r.stdout, \
        r.stdout + r.stderr
    r = _cli("create", "wrong-targetport", "--vary", "-1")
    assert r.returncode == 1 and "from 0" in r.stderr and "Traceback" not in r.stderr, r.stderr
    back = sc.get("wrong-targetport").reset(cluster, vary=0)
    assert back.values == {} and back is sc.get("wrong-targetport")
    ns = json.loads(cluster.kubectl("get", "ns", back.namespace, "-o", "json").stdout)
    assert sc.VARIANT_ANNOTATION not in (ns["metadata"].get("annotations") or {})


def test_a_workshop_learner_gets_their_own_variant_and_the_instructor_grades_it(
        cluster: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """KAI_LABS_LEARNER=ann: her scenario has her values (from (scenario, ann)), in her namespace; the instructor
    (no learner id) grades it in those values, wrong fix included, through workshop.scenario_for."""
    name = "wrong-targetport"
    monkeypatch.setenv("KAI_LABS_LEARNER", "ann")
    try:
        s = sc.get(name).reset(cluster)
        assert s.namespace == "ann-lab-wrong-targetport" and s.vary_key == vary.learner_key(name, "ann")
        v = s.values
        dep = json.loads(cluster.kubectl("get", "deploy", v["web"], "-n", s.namespace, "-o", "json").stdout)
        assert dep["spec"]["template"]["spec"]["containers"][0]["args"] == ["netexec", f"--http-port={v['3000']}"]
        r = cluster.kubectl(*_json_patch("deploy", v["web"], CONTAINER_PORT, int(v["3000"])), "-n", s.namespace)
        assert r.returncode == 0, r.stderr
        s.wait(cluster)
        monkeypatch.delenv("KAI_LABS_LEARNER")
        g = workshop.scenario_for(sc.get(name), "ann").check(cluster, timeout=8)
        assert not g.passed
        assert any(f"from {v['8080']} to {v['3000']}" in r.message for r in g.results if not r.passed), str(g)
        monkeypatch.setenv("KAI_LABS_LEARNER", "ann")
        sc.get(name).solve(cluster)
        monkeypatch.delenv("KAI_LABS_LEARNER")
        g = workshop.scenario_for(sc.get(name), "ann").check(cluster)
        assert g.passed, str(g)
    finally:
        cluster.kubectl("delete", "namespace", "ann-lab-wrong-targetport", "--wait=false")


def test_the_mystery_composes_its_break_with_values(cluster: Any) -> None:
    """mystery: the seed picks the break, vary the values; both recorded on one opaque annotation, and a
    Scenario that knows neither grades, diagnoses and solves in them."""
    s = sc.get("mystery").reset(cluster, seed=1, vary=K)
    plain = sc.get("mystery")
    v = plain.variant(cluster)
    assert v in plain.variants
    note = json.loads(cluster.kubectl("get", "ns", s.namespace, "-o", "json").stdout)["metadata"]["annotations"]
    case, k = vary.decode(note[sc.VARIANT_ANNOTATION])
    assert k == K and case and v not in case
    eff = plain.effective(cluster)
    assert eff.variant_of == v and eff.values and eff.values == sc._scenario(v, K, None, "mystery").values
    name = eff.values["web"]
    assert eff.service == name and f"http://{name}" in eff.symptom and "web" not in eff.symptom.split()
    assert json.loads(cluster.kubectl("get", "svc", name, "-n", s.namespace, "-o", "json").stdout)
    # what create returned, and the CLI's hints, name the app as it runs
    assert s.hints == eff.hints and any(f"'{name}'" in h for h in s.hints), s.hints
    r = _cli("hint", "mystery", "2")
    assert r.returncode == 0 and f"c.inspect('{name}', 'lab-mystery')" in r.stdout, r.stdout + r.stderr
    g = plain.check(cluster, timeout=8)
    assert not g.passed, str(g)
    assert plain.diagnose(str(eff.diagnosis), cluster=cluster).right
    r = cluster.kubectl("label", "svc", name, f"team={name}", "-n", s.namespace)
    assert r.returncode == 0, r.stderr
    g = plain.check(cluster, timeout=8)
    assert any(f"You put team={name} on Service {name}" in r.message for r in g.results), str(g)
    cluster.kubectl("label", "svc", name, "team-", "-n", s.namespace, check=True)
    plain.solve(cluster)
    g = plain.check(cluster)
    assert g.passed, str(g)


def test_the_instructor_recognises_a_wrong_fix_in_a_learners_default_variant(
        cluster: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """workshop.scenario_for rebases the scenario into ann's namespaces; before variants its wrong-fix recognisers
    compared with the unprefixed manifests, so ann's containerPort change read as "had no effect"."""
    name = "wrong-targetport"
    monkeypatch.setenv("KAI_LABS_LEARNER", "ann")
    monkeypatch.setenv(sc.VARY_ENV, "0")
    try:
        s = sc.get(name).reset(cluster)
        assert s.values == {} and s.namespace == "ann-lab-wrong-targetport"
        r = cluster.kubectl(*_json_patch("deploy", "web", CONTAINER_PORT, 3000), "-n", s.namespace)
        assert r.returncode == 0, r.stderr
        s.wait(cluster)
        monkeypatch.delenv("KAI_LABS_LEARNER")
        g = workshop.scenario_for(sc.get(name), "ann").check(cluster, timeout=8)
        assert any("containerPort of Deployment web from 8080 to 3000" in r.message for r in g.results), str(g)
    finally:
        cluster.kubectl("delete", "namespace", "ann-lab-wrong-targetport", "--wait=false")
