"""``kai-labs scenario ...`` and ``kai-labs build-exercises``.

Every learner mistake (unknown scenario, no cluster, bad manifest, wrong
namespace) ends in one clear line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..clusters import current
from . import scenario as sc
from .diagnose import HOPS
from .draw import DiagramError
from .exercises import ExerciseError, build_exercises
from .kube import get_namespace

ACTIONS = ("list", "show", "create", "diagnose", "inspect", "diagram", "check", "hint", "reset", "solve", "apply",
           "delete")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("scenario", help="break, inspect, draw, grade and fix Service scenarios")
    ps = p.add_subparsers(dest="action", metavar="ACTION")

    def add(name: str, help_: str, needs_name: bool = True) -> argparse.ArgumentParser:
        a: argparse.ArgumentParser = ps.add_parser(name, help=help_)
        if needs_name:
            a.add_argument("scenario", help="scenario name (see `kai-labs scenario list`)")
        a.add_argument("--name", dest="cluster", default="kai-labs", help="cluster name (default kai-labs)")
        a.set_defaults(func=_dispatch)
        return a

    add("list", "list the scenarios", needs_name=False).add_argument("--json", action="store_true")
    add("show", "symptom, objective and the scenario's manifests").add_argument("--json", action="store_true")
    c = add("create", "create the scenario (idempotent)")
    c.add_argument("--seed", type=int, default=None, help="mystery: which break to pick")
    c.add_argument("--vary", type=int, default=None, metavar="N",
                   help="which names, labels and ports (0: as in the files; default: a workshop learner's own, else 0)")
    g = add("diagnose", "say which hop is broken, before you fix it (exit 0 only when right)")
    g.add_argument("hop", help="one of the walker's hops: " + ", ".join(HOPS))
    g.add_argument("--because", default="", help="why: what you saw, and which command showed it")
    g.add_argument("--json", action="store_true")
    add("inspect", "walk the Service's path and name the broken hop (the answer key: after your diagnosis)"
        ).add_argument("--json", action="store_true")
    d = add("diagram", "draw the path (SVG or DOT)")
    d.add_argument("-o", "--output", default=None, help="file.svg or file.dot (default: DOT on stdout)")
    k = add("check", "grade the fix (exit 1 until it passes)")
    k.add_argument("--json", action="store_true")
    k.add_argument("--timeout", type=float, default=None, help="seconds to wait for the cluster to converge")
    h = add("hint", "show hint N (1-3)")
    h.add_argument("n", type=int, nargs="?", default=1)
    r = add("reset", "back to the broken state")
    r.add_argument("--seed", type=int, default=None, help="mystery: pick the break again")
    r.add_argument("--vary", type=int, default=None, metavar="N", help="other names, labels and ports (see create)")
    add("solve", "apply the reference fix (instructors)")
    a = add("apply", "apply your fix from a YAML file into the scenario's namespace")
    a.add_argument("-f", "--filename", required=True)
    add("delete", "delete the scenario's namespaces")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    b = sub.add_parser("build-exercises", help="for course developers, in a checkout of the repository: generate "
                       "exercises/ from solutions/ (deterministic)")
    b.add_argument("--check", action="store_true", help="exit 1 if exercises/ differs from what would be built")
    b.add_argument("--root", default=None, help="repository root (default: found from the current directory)")
    b.set_defaults(func=_build)


def _cluster(a: argparse.Namespace) -> Any:
    """KAI_LABS_CLUSTER=kind|context:<name>, else the embedded cluster."""
    return current(a.cluster, set_env=False)


def _dispatch(a: argparse.Namespace) -> int:
    try:
        return _run(a)
    except sc.ScenarioError as e:
        print(f"kai-labs: {e}", file=sys.stderr)
        return 1


def _run(a: argparse.Namespace) -> int:
    if a.action == "list":
        rows = [{"name": s.name, "title": s.title, "namespace": s.namespace, "minutes": s.minutes}
                for s in sc.all_scenarios()]
        if a.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                print(f"{r['name']:<22} {r['title']}  ({r['namespace']})")
        return 0
    s = sc.get(a.scenario)
    if a.action in ("show", "hint"):
        s = _as_created(a, s)
    if a.action == "show":
        if a.json:
            print(json.dumps({"name": s.name, "title": s.title, "namespaces": list(s.all_namespaces),
                              "symptom": s.symptom, "objective": s.objective,  # not "change": it names the fix
                              "hints": len(s.hints)}, indent=2))
        else:
            print(s.describe())
            print("\n" + s.manifests())
        return 0
    if a.action == "hint":
        if a.n > len(s.hints):
            print(f"No more hints: {s.name} has {len(s.hints)}. To let the course walk the path and name the broken "
                  f"hop: kai-labs scenario inspect {s.name}")
            return 0
        print(f"Hint {a.n}/{len(s.hints)}: {s.hint(a.n)}")
        return 0
    c = _cluster(a)
    if a.action == "create":
        t0 = time.monotonic()
        s = s.create(c, seed=a.seed, vary=a.vary)
        print(f"scenario {s.name} is ready in namespace {', '.join(s.all_namespaces)} "
              f"({time.monotonic() - t0:.2f}s)\n")
        print(s.describe())
        return 0
    if a.action == "reset":
        s.reset(c, seed=a.seed, vary=a.vary)
        print(f"scenario {s.name} is back to its broken state")
        return 0
    if a.action == "delete":
        s.delete(c)
        print(f"scenario {s.name} deleted")
        return 0
    if a.action == "solve":
        s.solve(c)
        print(f"applied the reference fix for {s.name}; run `kai-labs scenario check {s.name}`")
        return 0
    if a.action == "apply":
        path = Path(a.filename)
        if not path.exists():
            raise sc.ScenarioError(f"no such file: {path}")
        print(s.apply(c, path.read_text(), str(path)))
        return 0
    _need_created(c, s)
    if a.action == "diagnose":
        verdict = s.diagnose(a.hop, because=a.because, cluster=c)
        print(json.dumps(verdict.to_dict(), indent=2) if a.json else str(verdict))
        return 0 if verdict.right else 1
    if a.action == "inspect":
        t = s.inspect(c)
        print(json.dumps(t.to_dict(), indent=2) if a.json else str(t))
        return 0 if t.ok else 1
    if a.action == "diagram":
        d = s.diagram(c)
        if a.output:
            try:
                out = d.save(a.output)
            except DiagramError as e:
                raise sc.ScenarioError(str(e)) from None
            print(f"wrote {out}")
        else:
            print(d.source)
        return 0
    if a.action == "check":
        g = s.check(c, timeout=a.timeout)
        print(json.dumps(g.to_dict(), indent=2) if a.json else str(g))
        return 0 if g.passed else 1
    raise sc.ScenarioError(f"unknown action {a.action}")


def _as_created(a: argparse.Namespace, s: sc.Scenario) -> sc.Scenario:
    """``s`` in the names and ports its namespace records, when a cluster answers (hints and manifests then name
    what the learner sees); ``s`` as it is without a cluster or before ``create``."""
    try:
        return s.recorded(_cluster(a))
    except Exception:  # noqa: BLE001 - show and hint work without a cluster
        return s


def _need_created(c: Any, s: sc.Scenario) -> None:
    if get_namespace(c, s.namespace) is None:
        raise sc.ScenarioError(f"scenario {s.name} is not created yet: run `kai-labs scenario create {s.name}`")


def _build(a: argparse.Namespace) -> int:
    try:
        changed = build_exercises(root=Path(a.root) if a.root else None, check=a.check)
    except ExerciseError as e:
        print(f"kai-labs: {e}", file=sys.stderr)
        return 1
    if a.check:
        if changed:
            print("exercises/ is out of date: " + ", ".join(changed) + "\nrun `kai-labs build-exercises`",
                  file=sys.stderr)
            return 1
        print("exercises/ is up to date")
        return 0
    print(f"wrote {len(changed)} changed exercise notebook(s)" + (": " + ", ".join(changed) if changed else ""))
    return 0

