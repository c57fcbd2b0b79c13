"""A grade: run a scenario's checks, waiting (bounded) for the cluster to converge, then report.

``grade()`` never raises for a learner's state (a missing namespace, a cluster that
stopped): it returns a :class:`Grade` that says "not yet" and why. It renders as
HTML in a notebook and as text in a terminal; the CLI turns ``passed`` into the
exit code.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import friendly
from . import kube
from .checks import CheckResult, Context, changed, no_effect, run, wrong_fixes
from .diagnose import accepted

DEFAULT_TIMEOUT = 20.0


@dataclass
class Grade:
    scenario: str
    title: str
    results: list[CheckResult]
    seconds: float
    attempts: int
    settled: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def first_failure(self) -> CheckResult | None:
        return next((r for r in self.results if not r.passed), None)

    def __bool__(self) -> bool:
        return self.passed

    def verdict(self) -> str:
        return "PASSED" if self.passed else "NOT YET"

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "passed": self.passed, "verdict": self.verdict(),
                "seconds": round(self.seconds, 3), "attempts": self.attempts, "settled": self.settled,
                "notes": self.notes, "results": [r.to_dict() for r in self.results]}

    def __str__(self) -> str:
        n = sum(r.passed for r in self.results)
        lines = [f"{self.verdict()}: {self.scenario} - {n}/{len(self.results)} checks passed "
                 f"({self.seconds:.2f}s)"]
        for r in self.results:
            lines.append(f"  [{'ok' if r.passed else 'FAILED'}] {r.name} ({r.hop}): {r.message}")
            if not r.passed:
                if r.expected or r.found:
                    lines.append(f"      expected: {r.expected}")
                    lines.append(f"      found:    {r.found}")
                if r.hint:
                    lines.append(f"      hint:     {r.hint}")
        lines += [f"  note: {n_}" for n_ in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Grade {self.scenario}: {self.verdict()} ({sum(r.passed for r in self.results)}/{len(self.results)})>"

    def _repr_html_(self) -> str:
        e = html.escape
        color = "var(--jp-success-color1, #1a7f37)" if self.passed else "var(--jp-warn-color1, #b35900)"
        icon = "&#10004; Passed" if self.passed else "&#9888; Not yet"
        rows = []
        for r in self.results:
            mark = ('<span style="color:var(--jp-success-color1, #1a7f37)">&#10004; ok</span>' if r.passed
                    else '<span style="color:var(--jp-error-color1, #cf222e)">&#10008; failed</span>')
            extra = ""
            if not r.passed:
                bits = []
                if r.expected or r.found:
                    bits.append(f"<div><b>expected</b> {e(r.expected)}<br><b>found</b> {e(r.found)}</div>")
                if r.hint:
                    bits.append(f"<div><i>hint:</i> {e(r.hint)}</div>")
                extra = "".join(bits)
            rows.append(f"<tr><td style='white-space:nowrap;text-align:left;vertical-align:top'>{mark}</td>"
                        f"<td style='text-align:left;vertical-align:top'><b>{e(r.name)}</b> "
                        f"<code>{e(r.hop)}</code><div>{e(r.message)}</div>{extra}</td></tr>")
        notes = "".join(f"<p><i>note:</i> {e(n)}</p>" for n in self.notes)
        return (f"<div class='kai-grade' role='status' aria-label='{e(self.verdict())}: {e(self.scenario)}'>"
                f"<p style='font-weight:bold;color:{color}'>{icon}: {e(self.title)} "
                f"({sum(r.passed for r in self.results)}/{len(self.results)} checks, {self.seconds:.2f}s)</p>"
                f"<table style='text-align:left'>{''.join(rows)}</table>{notes}</div>")


def _timeout(value: float | None) -> float:
    if value is not None:
        return value
    env = os.environ.get("KAI_LABS_GRADE_TIMEOUT", "")
    try:
        return float(env) if env else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


def grade(cluster: Any, scenario: Any, timeout: float | None = None) -> Grade:
    """Run ``scenario``'s checks until they pass or the cluster has settled (bounded by ``timeout``)."""
    t0 = time.monotonic()
    deadline = t0 + _timeout(timeout)
    attempts = 0
    try:
        eff = scenario.effective(cluster)
    except Exception as e:  # noqa: BLE001
        return Grade(scenario.name, scenario.title, [CheckResult("cluster", "cluster", False,
                     friendly(e) or str(e))], time.monotonic() - t0, 0)
    settled_why = ""
    while True:
        attempts += 1
        try:
            snaps = {ns: kube.snapshot(cluster, ns) for ns in eff.all_namespaces}
        except Exception as e:  # noqa: BLE001
            return Grade(eff.name, eff.title, [CheckResult("cluster", "cluster", False, friendly(e) or str(e),
                         hint="Start the cluster: kai_labs.start() or `kai-labs cluster up`.")],
                         time.monotonic() - t0, attempts)
        missing = [ns for ns, s in snaps.items() if not s.exists]
        if missing:
            return Grade(eff.name, eff.title, [CheckResult(
                "Scenario exists", "namespace", False,
                f"namespace {', '.join(missing)} does not exist: the scenario was not created (or was deleted).",
                "the scenario's namespace", "nothing", f"Create it: kai-labs scenario create {scenario.name}")],
                time.monotonic() - t0, attempts)
        settled = [s.settled() for s in snaps.values()]
        is_settled = all(ok for ok, _ in settled)
        settled_why = next((why for ok, why in settled if not ok), "settled")
        ctx = Context(cluster, eff, snaps)
        results = [run(ctx, name, params) for name, params in eff.checks]
        if all(r.passed for r in results) or is_settled or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if not all(r.passed for r in results):
        results = _your_change(cluster, scenario, eff, ctx, results) + results
    g = Grade(eff.name, eff.title, results, time.monotonic() - t0, attempts, settled_why)
    if not is_settled:
        g.notes.append(f"the cluster was still changing when the time ran out ({settled_why}); grade again in "
                       "a moment")
    if not g.passed:
        g.notes.extend(_wrong_namespace_notes(cluster, eff))
    return g


# checks that guard what the learner must keep: when one fails, it already says what the change did
KEEP_CHECKS = {"Service kept", "Service ports kept", "Service stays headless", "Other workloads untouched",
               "Readiness probe kept"}


def _your_change(cluster: Any, scenario: Any, eff: Any, ctx: Context, results: list[CheckResult]) -> list[CheckResult]:
    """What the learner's change did, when the grade fails: a recognised wrong fix by name, else "no effect on
    the path" when something changed, no kept thing was broken, and the walker still stops at the hop the
    scenario broke."""
    try:
        found = wrong_fixes(ctx)
        if found or any(r.name in KEEP_CHECKS and not r.passed for r in results):
            return found
        what = changed(ctx)
        want = accepted(eff)
        if not what or not want:
            return []
        d = scenario.inspect(cluster).diagnosis
        if d is not None and d.hop in want:
            return [no_effect(ctx, d.hop, what)]
    except Exception:  # noqa: BLE001 - an extra explanation must never break a grade
        return []
    return []


def _wrong_namespace_notes(cluster: Any, sc: Any) -> list[str]:
    """A fix applied to the wrong namespace (usually `default`) leaves a look-alike object there: say so."""
    notes: list[str] = []
    try:
        core, apps = cluster.core(), cluster.apps()
        svcs = {kube.name(s) for s in kube.items(core.list_namespaced_service("default", _preload_content=False))}
        deps = {kube.name(d) for d in kube.items(apps.list_namespaced_deployment("default", _preload_content=False))}
    except Exception:  # noqa: BLE001
        return notes
    for kind, have in (("Service", svcs), ("Deployment", deps)):
        for n in sorted(have & {sc.service, sc.intended} - ({"kubernetes"} if kind == "Service" else set())):
            notes.append(f"a {kind} named {n} exists in namespace default: did you apply your fix there? This "
                         f"scenario lives in {sc.namespace} (use -n {sc.namespace}).")
    return notes
