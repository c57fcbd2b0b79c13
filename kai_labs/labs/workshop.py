"""Workshop mode: many learners on one shared cluster, each confined to their own namespaces.

* A learner id (``KAI_LABS_LEARNER``, set per user by JupyterHub) prefixes every
  namespace the course creates: :func:`namespace_for` turns ``lab-wrong-selector``
  into ``alice-lab-wrong-selector``.
* ``kai-labs workshop rbac --learners alice,bob`` prints, for the instructor to
  ``kubectl apply``, each learner's Namespaces (labelled as created by kai-labs
  and by learner), a Role and RoleBinding in each that allow what the course
  does there (Pods, Services, Deployments; EndpointSlices and events read-only;
  no Secrets, no RBAC), a ClusterRole limited by ``resourceNames`` to reading and
  patching their own Namespace objects, and read access to Nodes.
* ``kai-labs workshop status`` shows, for the instructor, each learner's
  scenarios and their grades.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from ..clusters import connect, start
from ..clusters.base import ClusterError
from ..clusters.embedded import attach
from . import kube
from .learners import (
    CREATED_BY,
    LEARNER_ENV,
    LEARNER_LABEL,
    LEARNER_RE,
    check_learner,
    learner,
    namespace_for,
    namespace_labels,
    prefix_namespaces,
)
from .scenario import SCENARIO_DIR, get, names

__all__ = ["CREATED_BY", "LEARNER_ENV", "LEARNER_LABEL", "ROLE_NAME", "Row", "check_learner", "course_namespaces",
           "format_status", "learner", "learner_of", "namespace_for", "namespace_labels", "prefix_namespaces",
           "rbac_manifests", "rbac_yaml", "register", "scenario_for", "scenario_namespaces", "status"]

ROLE_NAME = "kai-labs-learner"
# the namespaces the lesson notebooks create (scenario namespaces come from their spec.yaml)
LESSON_NAMESPACES = ("lesson01", "lesson02", "lesson03", "lesson03-client", "lesson04", "lesson05", "lesson06",
                     "lesson07")


def scenario_namespaces() -> dict[str, tuple[str, ...]]:
    """scenario name -> its base namespaces, read from the spec files (never prefixed)."""
    out: dict[str, tuple[str, ...]] = {}
    for n in names():
        spec = yaml.safe_load((Path(SCENARIO_DIR) / n / "spec.yaml").read_text()) or {}
        out[n] = tuple(spec.get("namespaces") or [spec["namespace"]])
    return out


def course_namespaces() -> list[str]:
    """Every base namespace the course creates: the lessons', then each scenario's."""
    out = list(LESSON_NAMESPACES)
    for nss in scenario_namespaces().values():
        out += [n for n in nss if n not in out]
    return out


def learner_of(namespace: dict[str, Any], bases: list[str] | None = None) -> str | None:
    """Whose namespace this is: its learner label, else a ``<learner>-<base>`` name."""
    md = namespace.get("metadata") or {}
    label = (md.get("labels") or {}).get(LEARNER_LABEL)
    if label:
        return str(label)
    name = str(md.get("name", ""))
    for base in sorted(bases if bases is not None else course_namespaces(), key=len, reverse=True):
        if name.endswith("-" + base) and LEARNER_RE.fullmatch(name[:-len(base) - 1]):
            return name[:-len(base) - 1]
    return None


# ---------------------------------------------------------------------------------------------- RBAC

_ALL = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
_READ = ["get", "list", "watch"]
ROLE_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["pods", "services", "configmaps"], "verbs": _ALL},
    {"apiGroups": [""], "resources": ["pods/log", "endpoints", "events"], "verbs": _READ},
    {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale", "replicasets", "replicasets/scale",
                                          "statefulsets", "daemonsets"], "verbs": _ALL},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _READ},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": _READ},
]


def _subject(who: str, kind: str, template: str, sa_namespace: str) -> dict[str, Any]:
    name = template.format(learner=who)
    if kind == "user":
        return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}
    if kind == "group":
        return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}
    if kind == "serviceaccount":
        return {"kind": "ServiceAccount", "name": name, "namespace": sa_namespace}
    raise ClusterError(f"subject kind must be user, group or serviceaccount, not {kind!r}")


def rbac_manifests(learners: list[str], *, subject: str = "user", template: str = "{learner}",
                   sa_namespace: str = "kai-labs-workshop",
                   namespaces: list[str] | None = None) -> list[dict[str, Any]]:
    """Namespaces, Roles and RoleBindings (and the small cluster-scoped rest) confining each learner."""
    if not learners:
        raise ClusterError("name the learners: --learners alice,bob,carol")
    seen: set[str] = set()
    for who in learners:
        check_learner(who)
        if who in seen:
            raise ClusterError(f"learner {who} is listed twice")
        seen.add(who)
    bases = namespaces or course_namespaces()
    docs: list[dict[str, Any]] = []
    subjects = {who: _subject(who, subject, template, sa_namespace) for who in learners}
    if subject == "serviceaccount":
        docs.append({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": sa_namespace, "labels": {CREATED_BY: "kai-labs"}}})
        docs += [{"apiVersion": "v1", "kind": "ServiceAccount",
                  "metadata": {"name": s["name"], "namespace": sa_namespace,
                               "labels": {CREATED_BY: "kai-labs", LEARNER_LABEL: who}}}
                 for who, s in subjects.items()]
    for who in learners:
        mine = [namespace_for(b, who) for b in bases]
        labels = {CREATED_BY: "kai-labs", LEARNER_LABEL: who}
        for ns in mine:
            docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
            docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                         "metadata": {"name": ROLE_NAME, "namespace": ns, "labels": labels}, "rules": ROLE_RULES})
            docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                         "metadata": {"name": ROLE_NAME, "namespace": ns, "labels": labels},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE_NAME},
                         "subjects": [subjects[who]]})
        # Namespaces are cluster-scoped: a ClusterRole limited by resourceNames to this learner's own (read them,
        # patch their labels/annotations as the scenarios do); no create and no delete, so no other namespace.
        cr = f"{ROLE_NAME}-{who}"
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                     "metadata": {"name": cr, "labels": labels},
                     "rules": [{"apiGroups": [""], "resources": ["namespaces"], "resourceNames": mine,
                                "verbs": ["get", "patch", "update"]}]})
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                     "metadata": {"name": cr, "labels": labels},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cr},
                     "subjects": [subjects[who]]})
    nodes = f"{ROLE_NAME}-nodes"
    docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": {"name": nodes, "labels": {CREATED_BY: "kai-labs"}},
                 "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": _READ}]})
    docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": {"name": nodes, "labels": {CREATED_BY: "kai-labs"}},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": nodes},
                 "subjects": [subjects[w] for w in learners]})
    return docs


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def rbac_yaml(learners: list[str], **kw: Any) -> str:
    docs = rbac_manifests(learners, **kw)
    head = (f"# kai-labs workshop: namespaces and RBAC for {len(learners)} learner(s): {', '.join(learners)}\n"
            f"# apply:  kai-labs workshop rbac --learners {','.join(learners)} | kubectl apply -f -\n"
            f"# each learner's JupyterHub server needs {LEARNER_ENV}=<learner id> and a kubeconfig or service\n"
            f"# account for the subject below; learners cannot create, delete or touch any other namespace.\n")
    return head + str(yaml.dump_all(docs, Dumper=_NoAliases, sort_keys=False))


# ---------------------------------------------------------------------------------------------- status

@dataclass
class Row:
    learner: str
    scenario: str
    state: str  # "not started" | "partial" | "created"
    verdict: str = ""  # "PASSED" | "NOT YET" | "" (not graded)
    checks: str = ""  # "3/4"
    first_failure: str = ""

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def scenario_for(scenario: Any, learner_id: str) -> Any:
    """``scenario`` rebased into ``learner_id``'s namespaces (for grading a learner from the instructor's seat)."""
    me = learner()

    def base(ns: str) -> str:
        return ns[len(me) + 1:] if me and ns.startswith(f"{me}-") else ns

    def p(ns: str) -> str:
        return namespace_for(base(ns), learner_id)

    change = dict(scenario.change)
    if change.get("namespace"):
        change["namespace"] = p(str(change["namespace"]))
    client = replace(scenario.client, namespace=p(scenario.client.namespace)) if scenario.client else None
    return replace(scenario, namespace=p(scenario.namespace), namespaces=tuple(p(n) for n in scenario.namespaces),
                   client=client, change=change)


def status(cluster: Any, *, grade: bool = True, learners: list[str] | None = None,
           scenarios: list[str] | None = None, timeout: float = 3.0) -> list[Row]:
    """Each learner's scenarios (found by their namespaces) and, with ``grade``, the grade of each created one."""
    resp = cluster.core().list_namespace(label_selector=f"{CREATED_BY}=kai-labs", _preload_content=False)
    bases = course_namespaces()
    by_learner: dict[str, set[str]] = {}
    for ns in json.loads(resp.data).get("items") or []:
        who = learner_of(ns, bases)
        if who and (not learners or who in learners):
            by_learner.setdefault(who, set()).add(kube.name(ns))
    per_scenario = scenario_namespaces()
    rows: list[Row] = []
    for who in sorted(by_learner):
        have = by_learner[who]
        for name, nss in per_scenario.items():
            if scenarios and name not in scenarios:
                continue
            found = [namespace_for(n, who) in have for n in nss]
            state = "created" if all(found) else ("partial" if any(found) else "not started")
            row = Row(who, name, state)
            if grade and state == "created":
                g = scenario_for(get(name), who).check(cluster, timeout=timeout)
                row.verdict = g.verdict()
                row.checks = f"{sum(r.passed for r in g.results)}/{len(g.results)}"
                ff = g.first_failure
                row.first_failure = f"{ff.name}: {ff.message}" if ff else ""
            rows.append(row)
    return rows


def format_status(rows: list[Row]) -> str:
    if not rows:
        return "no learner namespaces on this cluster yet (kai-labs workshop rbac ... | kubectl apply -f -)"
    lines = [f"{'LEARNER':14} {'SCENARIO':22} {'STATE':12} {'GRADE':8} {'CHECKS':6}  FIRST FAILURE"]
    for r in rows:
        lines.append(f"{r.learner:14} {r.scenario:22} {r.state:12} {r.verdict or '-':8} {r.checks or '-':6}  "
                     f"{r.first_failure[:80]}")
    learners = sorted({r.learner for r in rows})
    lines.append("")
    for who in learners:
        mine = [r for r in rows if r.learner == who]
        passed = sum(r.verdict == "PASSED" for r in mine)
        started = sum(r.state != "not started" for r in mine)
        lines.append(f"{who}: {started} scenario(s) started, {passed} passed")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- CLI

def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    w = sub.add_parser("workshop", help="many learners on one cluster: namespaces, RBAC, progress")
    ws = w.add_subparsers(dest="action", metavar="ACTION")
    r = ws.add_parser("rbac", help="print Namespaces, Roles and RoleBindings confining each learner (YAML)")
    r.add_argument("--learners", required=True, help="comma-separated learner ids, e.g. alice,bob,carol")
    r.add_argument("--subject", choices=["user", "group", "serviceaccount"], default="user",
                   help="who the learner is to the API server (default: a User named after the learner)")
    r.add_argument("--name-template", default="{learner}",
                   help="the subject's name, e.g. '{learner}@example.org' or 'learner-{learner}'")
    r.add_argument("--sa-namespace", default="kai-labs-workshop", help="namespace of the ServiceAccounts")
    r.set_defaults(func=_rbac)
    s = ws.add_parser("status", help="each learner's scenarios and grades (for the instructor)")
    s.add_argument("--context", default=None, help="kubeconfig context (default: KAI_LABS_CLUSTER, else the "
                   "embedded cluster)")
    s.add_argument("--allow-context", action="store_true",
                   help="opt in to a context that is neither the embedded cluster nor kind-*")
    s.add_argument("--name", default="kai-labs", help="embedded cluster name")
    s.add_argument("--learners", default=None, help="only these learners (comma-separated)")
    s.add_argument("--scenarios", default=None, help="only these scenarios (comma-separated)")
    s.add_argument("--no-grade", action="store_true", help="only list what exists (fast)")
    s.add_argument("--timeout", type=float, default=3.0, help="seconds each grade may wait for convergence")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_status)
    w.set_defaults(func=lambda a: (w.print_help(), 2)[1])


def _split(text: str | None) -> list[str] | None:
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def _rbac(a: argparse.Namespace) -> int:
    print(rbac_yaml(_split(a.learners) or [], subject=a.subject, template=a.name_template,
                    sa_namespace=a.sa_namespace), end="")
    return 0


def _status(a: argparse.Namespace) -> int:
    if a.context:
        cluster = connect(a.context, allow=a.allow_context)
    elif os.environ.get("KAI_LABS_CLUSTER", "").strip() not in ("", "embedded"):
        cluster = start(a.name, set_env=False)
    else:
        cluster = attach(a.name, set_env=False)
    rows = status(cluster, grade=not a.no_grade, learners=_split(a.learners), scenarios=_split(a.scenarios),
                  timeout=a.timeout)
    if a.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        print(format_status(rows))
    return 0
