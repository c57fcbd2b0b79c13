"""The learner's diagnosis, judged (issue #14, part 1), on the real embedded cluster and the real CLI.

For every scenario: the right hop (with a reason that names the evidence) is accepted and `kai-labs scenario
diagnose` exits 0; a wrong hop is refused with a reason and a kubectl command, exit 1; a name that is no hop
gets the list of hops. The mystery is judged against the variant it runs, and says nothing before it is asked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kai_labs.labs import diagnose as dg
from kai_labs.labs import scenario as sc

pytestmark = pytest.mark.cluster

KAI_LABS = str(Path(sys.executable).parent / "kai-labs")
NAMES = sc.names()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAI_LABS, "scenario", *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))


def _evidence(s: sc.Scenario) -> str:
    return " ".join(str(w) for w in s.diagnose_spec.get("evidence") or [])


def _wrong(s: sc.Scenario) -> str:
    """A hop that is not the break: the one just before it on the path (or just after, for the first)."""
    want = dg.accepted(s)
    first = min(dg.HOPS.index(h) for h in want)
    return next(h for h in (dg.HOPS[first - 1:first] or dg.HOPS[first + 1:]) if h not in want)


@pytest.mark.parametrize("name", NAMES)
def test_right_wrong_and_unknown_diagnoses(cluster: Any, name: str) -> None:
    s = sc.get(name).reset(cluster, seed=1)
    eff = s.effective(cluster)
    right = eff.diagnosis
    assert right in dg.HOPS
    r = _cli("diagnose", name, right, "--because", f"I saw {_evidence(eff)}", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    d = json.loads(r.stdout)
    assert d["right"] and d["hop"] == right
    wrong = _wrong(eff)
    r = _cli("diagnose", name, wrong)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Not this hop" in r.stdout and "kubectl" in r.stdout, r.stdout
    r = _cli("diagnose", name, "the-network")
    assert r.returncode == 1 and "is not a hop on the path" in r.stdout and "targetPort" in r.stdout, r.stdout
    # the Python call agrees with the CLI
    assert s.diagnose(right, because="x", cluster=cluster).right
    assert not s.diagnose(wrong, cluster=cluster).right


def test_a_wrong_targetport_may_be_called_targetport_or_app(cluster: Any) -> None:
    s = sc.get("wrong-targetport").reset(cluster)
    for hop in ("targetPort", "app", "target-port"):
        assert s.diagnose(hop, because="the log says 3000").right, hop
    d = s.diagnose("targetPort", because="it feels wrong")
    assert d.right and any("does not name what shows the break" in n for n in d.nudges), str(d)
    assert any("kubectl logs deploy/web -n lab-wrong-targetport" in c for c in d.commands), str(d)


def test_a_wrong_diagnosis_gets_the_scenarios_own_nudge_then_escalates(cluster: Any) -> None:
    s = sc.get("wrong-targetport").reset(cluster)
    dg._ATTEMPTS.pop(s.name, None)
    d1 = s.diagnose("endpointslice")
    assert not d1 and "Whether anything answers on that port" in d1.message
    assert d1.commands == ["kubectl get endpointslices -n lab-wrong-targetport -l kubernetes.io/service-name=web"]
    d2 = s.diagnose("selector")
    assert "is fine here" in d2.message and any("hint" in n for n in d2.nudges)
    d3 = s.diagnose("dns")
    assert any("s.inspect(c)" in n for n in d3.nudges), str(d3)


def test_the_mystery_is_judged_against_its_running_variant_and_needs_creating(cluster: Any) -> None:
    s = sc.get("mystery")
    s.delete(cluster)
    r = _cli("diagnose", "mystery", "selector")
    assert r.returncode == 1 and "not created yet" in r.stderr, r.stderr
    s.create(cluster, seed=1)
    v = s.variant(cluster)
    assert v is not None
    right = sc.get(v).diagnosis
    assert s.diagnose(str(right), cluster=cluster).right
    # nothing the learner sees before asking names the break
    shown = s.describe() + " ".join(s.hints[:1])
    for word in ("selector", "targetPort", "scale", "named", "3000"):
        assert word not in s.describe(), word
    assert v not in shown


def test_the_form_answers_with_the_same_judgement(cluster: Any) -> None:
    s = sc.get("no-pods").reset(cluster)
    box = s.diagnosis_form(cluster)
    box.click()
    assert "Choose a hop first" in box.widgets["out"].value
    box.widgets["hop"].value = "pods"
    box.widgets["because"].value = "the Deployment has 0 replicas"
    box.click()
    assert "Right" in box.widgets["out"].value
    box.widgets["hop"].value = "selector"
    box.click()
    assert "Not this hop" in box.widgets["out"].value and "kubectl" in box.widgets["out"].value


def _rvs(cluster: Any, s: sc.Scenario) -> list[tuple[str, str]]:
    r = cluster.kubectl("get", "svc,deploy", "-n", s.namespace, "-o", "json")
    return sorted((o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in json.loads(r.stdout)["items"])


def test_create_on_a_fixed_scenario_breaks_it_again_and_leaves_a_broken_one_alone(cluster: Any) -> None:
    s = sc.get("wrong-targetport").reset(cluster)
    before = _rvs(cluster, s)
    s.create(cluster)
    assert _rvs(cluster, s) == before, "create changed a scenario that was already broken"
    s.solve(cluster)
    assert s.check(cluster).passed
    r = _cli("create", "wrong-targetport")
    assert r.returncode == 0, r.stderr
    g = s.check(cluster, timeout=8)
    assert not g.passed, str(g)


def test_panel_reset_clears_the_old_grade_and_a_pass_shows_the_debrief(cluster: Any) -> None:
    import kai_labs

    s = sc.get("no-pods").reset(cluster)
    p = kai_labs.panel(cluster, "no-pods")
    p.buttons["check"].click()
    assert "Not yet" in p.status.value and p.output.outputs
    p.diagnose.widgets["hop"].value = "pods"
    p.diagnose.click()
    assert "Right" in p.diagnose.widgets["out"].value
    for _ in s.hints:
        p.buttons["hint"].click()
    assert "No more hints" in p.hints.value and "<code>kubectl" in p.hints.value
    s.solve(cluster)
    p.buttons["check"].click()
    assert "Passed" in p.status.value and "debrief below" in p.status.value
    assert any("kai-debrief" in str(o) for o in p.output.outputs), p.output.outputs
    p.buttons["reset"].click()
    assert "Reset" in p.status.value
    assert not p.output.outputs and not p.hints.value and not p.diagnose.widgets["out"].value
