"""Workshop mode: namespace prefixes, the RBAC that confines each learner, and the instructor's status."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
import yaml

import kai_labs
from kai_labs import cli
from kai_labs.clusters.embedded import ClusterError
from kai_labs.labs import workshop


def test_namespace_for(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(workshop.LEARNER_ENV, raising=False)
    assert workshop.namespace_for("lab-wrong-selector") == "lab-wrong-selector"
    assert workshop.namespace_labels() == {"app.kubernetes.io/created-by": "kai-labs"}
    monkeypatch.setenv(workshop.LEARNER_ENV, "alice")
    assert workshop.namespace_for("lab-wrong-selector") == "alice-lab-wrong-selector"
    assert workshop.namespace_for("alice-lab-wrong-selector") == "alice-lab-wrong-selector"  # idempotent
    assert workshop.namespace_for("lesson01", "bob") == "bob-lesson01"
    assert workshop.namespace_labels()["kai-labs.dev/learner"] == "alice"
    for bad in ("Alice", "a_b", "-a", "a" * 21, "a.b"):
        monkeypatch.setenv(workshop.LEARNER_ENV, bad)
        with pytest.raises(ClusterError, match="cannot prefix a namespace"):
            workshop.namespace_for("lesson01")
    longest = max(workshop.course_namespaces(), key=len)
    assert len(workshop.namespace_for(longest, "a" * 20)) <= 63


# ---------------------------------------------------------------------------- a small RBAC evaluator

def _allowed(docs: list[dict[str, Any]], who: str, verb: str, resource: str, namespace: str | None,
             name: str | None = None, group: str = "") -> bool:
    roles = {(d["metadata"].get("namespace"), d["kind"], d["metadata"]["name"]): d for d in docs
             if d["kind"] in ("Role", "ClusterRole")}
    for b in docs:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(s["name"] == who for s in b["subjects"]):
            continue
        bns = b["metadata"].get("namespace")
        if b["kind"] == "RoleBinding" and bns != namespace:
            continue
        ref = b["roleRef"]
        role = roles.get((bns if ref["kind"] == "Role" else None, ref["kind"], ref["name"]))
        for rule in (role or {}).get("rules", []):
            if (group in rule["apiGroups"] and any(fnmatch.fnmatch(resource, r) for r in rule["resources"])
                    and (verb in rule["verbs"] or "*" in rule["verbs"])
                    and (not rule.get("resourceNames") or name in rule["resourceNames"])):
                return True
    return False


def test_rbac_confines_each_learner_to_their_namespaces() -> None:
    docs = workshop.rbac_manifests(["alice", "bob"])
    kinds = [d["kind"] for d in docs]
    base = workshop.course_namespaces()
    assert "lab-wrong-namespace-frontend" in base and "lesson03-client" in base
    assert kinds.count("Namespace") == 2 * len(base) and kinds.count("Role") == 2 * len(base)
    alice_ns = [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"
                and d["metadata"]["labels"]["kai-labs.dev/learner"] == "alice"]
    assert all(n.startswith("alice-") for n in alice_ns) and "alice-lab-wrong-selector" in alice_ns
    assert all(d["metadata"]["labels"]["app.kubernetes.io/created-by"] == "kai-labs" for d in docs)
    A = _allowed  # noqa: N806
    # what the course does, in her own namespaces
    for verb, res, group in [("create", "pods", ""), ("get", "pods/log", ""), ("patch", "services", ""),
                             ("create", "deployments", "apps"), ("patch", "deployments/scale", "apps"),
                             ("list", "endpointslices", "discovery.k8s.io"), ("watch", "events", "")]:
        assert A(docs, "alice", verb, res, "alice-lab-wrong-selector", group=group), (verb, res)
    assert A(docs, "alice", "get", "namespaces", None, "alice-lab-wrong-selector")
    assert A(docs, "alice", "patch", "namespaces", None, "alice-lab-mystery")
    assert A(docs, "alice", "list", "nodes", None)
    # and nothing else
    assert not A(docs, "alice", "create", "pods", "bob-lab-wrong-selector")
    assert not A(docs, "alice", "get", "namespaces", None, "bob-lab-wrong-selector")
    assert not A(docs, "alice", "create", "pods", "default")
    assert not A(docs, "alice", "create", "namespaces", None, "alice-anything")
    assert not A(docs, "alice", "delete", "namespaces", None, "alice-lab-wrong-selector")
    assert not A(docs, "alice", "get", "secrets", "alice-lab-wrong-selector")
    assert not A(docs, "alice", "create", "endpointslices", "alice-lab-wrong-selector", group="discovery.k8s.io")
    assert not A(docs, "alice", "create", "roles", "alice-lab-wrong-selector", group="rbac.authorization.k8s.io")
    assert not A(docs, "alice", "create", "pods/exec", "alice-lab-wrong-selector")


def test_rbac_cli_prints_applyable_yaml(capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli.main(["workshop", "rbac", "--learners", "ann,ben", "--subject", "serviceaccount",
                     "--name-template", "learner-{learner}", "--sa-namespace", "hub"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# kai-labs workshop") and "&id" not in out  # no YAML anchors for humans to puzzle over
    docs = [d for d in yaml.safe_load_all(out) if d]
    sas = [d for d in docs if d["kind"] == "ServiceAccount"]
    assert [(s["metadata"]["namespace"], s["metadata"]["name"]) for s in sas] == [("hub", "learner-ann"),
                                                                                 ("hub", "learner-ben")]
    rb = next(d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["namespace"] == "ben-lesson01")
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "learner-ben", "namespace": "hub"}]
    assert cli.main(["workshop", "rbac", "--learners", "ann,ann"]) == 1
    assert "listed twice" in capsys.readouterr().err


# ---------------------------------------------------------------------------- status, on a cluster

def _create_for(cluster, learner: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """What the labs will do once they call namespace_for: the scenario's manifests in the learner's namespaces."""
    s = kai_labs.scenarios.get(name)
    docs = [d for d in yaml.safe_load_all(s.manifests()) if d]
    for d in docs:
        md = d["metadata"]
        if d["kind"] == "Namespace":
            md["name"] = workshop.namespace_for(md["name"], learner)
            md.setdefault("labels", {}).update(workshop.namespace_labels(learner))
        elif md.get("namespace"):
            md["namespace"] = workshop.namespace_for(md["namespace"], learner)
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs), check=True)


@pytest.mark.cluster
def test_status_shows_each_learners_scenarios_and_grades(cluster, foreign, capsys) -> None:  # type: ignore[no-untyped-def]
    _create_for(cluster, "ann", "wrong-selector")
    _create_for(cluster, "ben", "wrong-selector")
    kai_labs.scenarios.get("wrong-selector").wait(cluster)
    try:
        # ben fixes his (the reference fix, in his namespace)
        for op in kai_labs.scenarios.get("wrong-selector").solution_ops():
            cluster.kubectl(*[a.replace("lab-wrong-selector", "ben-lab-wrong-selector") for a in op], check=True)
        rows = workshop.status(foreign, scenarios=["wrong-selector", "no-pods"], timeout=5)
        got = {(r.learner, r.scenario): r for r in rows}
        assert got[("ann", "wrong-selector")].state == "created"
        assert got[("ann", "wrong-selector")].verdict == "NOT YET" and got[("ann", "wrong-selector")].first_failure
        assert got[("ben", "wrong-selector")].verdict == "PASSED"
        assert got[("ann", "no-pods")].state == "not started" and got[("ann", "no-pods")].verdict == ""
        text = workshop.format_status(rows)
        assert "ann: 1 scenario(s) started, 0 passed" in text and "ben: 1 scenario(s) started, 1 passed" in text
        assert cli.main(["workshop", "status", "--no-grade", "--learners", "ann"]) == 0
        out = capsys.readouterr().out
        assert "ann" in out and "ben " not in out and "wrong-selector" in out
    finally:
        for who in ("ann", "ben"):
            cluster.kubectl("delete", "namespace", f"{who}-lab-wrong-selector", "--wait=false")


def test_prefix_namespaces_in_text(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bases = ["lab-wrong-namespace", "lab-wrong-namespace-frontend"]
    text = ("kubectl set env deployment/frontend -n lab-wrong-namespace-frontend "
            "WEB_URL=http://web.lab-wrong-namespace.svc.cluster.local/hostname\nnamespace: lab-wrong-namespace\n")
    monkeypatch.delenv(workshop.LEARNER_ENV, raising=False)
    assert workshop.prefix_namespaces(text, bases) == text
    out = workshop.prefix_namespaces(text, bases, "ann")
    assert out == ("kubectl set env deployment/frontend -n ann-lab-wrong-namespace-frontend "
                   "WEB_URL=http://web.ann-lab-wrong-namespace.svc.cluster.local/hostname\n"
                   "namespace: ann-lab-wrong-namespace\n")
    assert workshop.prefix_namespaces(out, bases, "ann") == out  # idempotent


def test_scenarios_use_the_learners_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a workshop every namespace a scenario names (spec, manifests, reference fix) carries the prefix."""
    from kai_labs.labs import scenario as sc

    monkeypatch.setenv("KAI_LABS_LEARNER", "alice")
    s = sc._load(sc.SCENARIO_DIR / "wrong-namespace")
    assert all(ns.startswith("alice-lab-") for ns in s.all_namespaces)
    assert "namespace: alice-lab-wrong-namespace" in s.manifests()
    assert "namespace: lab-wrong-namespace\n" not in s.manifests()
    assert any("alice-lab-wrong-namespace" in arg for op in s.solution_ops() for arg in op)
    monkeypatch.delenv("KAI_LABS_LEARNER")
    plain = sc._load(sc.SCENARIO_DIR / "wrong-namespace")
    assert plain.namespace == "lab-wrong-namespace"
