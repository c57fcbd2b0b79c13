"""Scenarios: a folder of real manifests plus a small spec, and what you can do with one.

A scenario's break is visible in its ``manifests.yaml`` (they apply unchanged to
a kind cluster: ``kubectl apply -f manifests.yaml``). ``spec.yaml`` says what a
learner sees (title, symptom, objective, hints, debrief) and which checks grade
it; ``solution.yaml`` holds the reference fix as kubectl invocations and never
reaches learner output.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import os
import random
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from . import diagnose as diag
from . import kube, ui, vary
from .apply import apply_manifest
from .checks import fingerprint
from .draw import Diagram, draw
from .grade import Grade, grade
from .inspect import Client, Trace, inspect
from .learners import learner, prefix_namespaces
from .spec import ClientSpec, ScenarioError, client_url_from

__all__ = ["SCENARIO_DIR", "CATALOG", "ClientSpec", "HintBox", "Scenario", "ScenarioError", "all_scenarios",
           "client_url_from", "get", "names"]

SCENARIO_DIR = Path(__file__).parent / "scenarios"
VARIANT_ANNOTATION = "kai-labs.dev/case"
SCENARIO_LABEL = "kai-labs.dev/scenario"
VARY_ENV = "KAI_LABS_VARY"


def _case_id(variant: str) -> str:
    """The mystery's variant as the namespace records it: a stable id that does not name the break."""
    return "case-" + hashlib.sha256(f"kai-labs mystery {variant}".encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    namespace: str
    service: str
    symptom: str
    objective: str
    hints: tuple[str, ...]
    debrief: str
    checks: tuple[tuple[str, dict[str, Any]], ...]
    change: dict[str, Any] = field(default_factory=dict)
    namespaces: tuple[str, ...] = ()
    client: ClientSpec | None = None
    intended: str = "web"  # the Deployment whose Pods should receive the traffic
    keep: tuple[dict[str, Any], ...] = ()
    keep_ports: tuple[dict[str, Any], ...] = ()
    keep_headless: bool = False
    diagnosis: str | None = None  # the hop the walker must name (tests); a right answer to diagnose()
    diagnose_spec: dict[str, Any] = field(default_factory=dict)  # spec.yaml's diagnose: accept, look, evidence
    variants: tuple[str, ...] = ()
    minutes: int = 10
    path: Path = SCENARIO_DIR
    variant_of: str | None = None
    vary_key: int = 0  # which values (names, labels, ports): 0 is the files as they are (see :mod:`.vary`)
    values: dict[str, str] = field(default_factory=dict)  # default token -> this variant's (empty: default)
    learner_id: str | None = None  # the workshop learner whose namespaces the files are rendered into

    # ------------------------------------------------------------------ text
    @property
    def all_namespaces(self) -> tuple[str, ...]:
        return self.namespaces or (self.namespace,)

    def describe(self) -> str:
        lines = [f"{self.title}  ({self.name}, about {self.minutes} min)", "",
                 f"Namespace: {', '.join(self.all_namespaces)}", f"Symptom:   {self.symptom}",
                 f"Objective: {self.objective}"]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return (f"### {self.title}\n\n*Scenario `{self.name}`, namespace `{', '.join(self.all_namespaces)}`, "
                f"about {self.minutes} minutes.*\n\n**Symptom.** {self.symptom}\n\n**Objective.** {self.objective}\n")

    def __repr__(self) -> str:
        return f"<Scenario {self.name!r}: {self.title}>"

    def hint(self, n: int) -> str:
        """Hint ``n`` (1-based): they escalate, the last one is nearly the answer."""
        if not 1 <= n <= len(self.hints):
            raise ScenarioError(f"scenario {self.name} has hints 1 to {len(self.hints)}")
        return self.hints[n - 1]

    def hint_box(self) -> HintBox:
        return HintBox(self)

    def diagnose(self, hop: str, because: str = "", cluster: Any = None) -> diag.Diagnosis:
        """Judge "the break is at ``hop``, because ...", before any fix (see :mod:`.diagnose`).

        A mystery needs its cluster (the break is chosen when it is created): pass ``cluster=c``, or create,
        inspect or check it in this kernel first. Nothing in the cluster changes."""
        eff = self
        if not self.variants:
            # a scenario created with other values (an explicit vary) is judged in those
            known = cluster if cluster is not None else _LAST_CLUSTER.get(self.name)
            if known is not None:
                try:
                    eff = self.recorded(known)
                except Exception:  # noqa: BLE001 - a cluster that went away: judge in this scenario's values
                    eff = self
        if self.variants:
            cluster = cluster if cluster is not None else _LAST_CLUSTER.get(self.name)
            if cluster is None:
                raise ScenarioError(f"{self.name}: pass the cluster (s.diagnose(hop, because=..., cluster=c)); "
                                    "the break is chosen when the scenario is created")
            eff = self.effective(cluster)
            if eff.variant_of is None:
                raise ScenarioError(f"scenario {self.name} is not created yet: s.create(c) (or `kai-labs "
                                    f"scenario create {self.name}`)")
        return diag.judge(eff, hop, because)

    def diagnosis_form(self, cluster: Any = None) -> Any:
        """The diagnosis as a small form (a dropdown of hops, a reason, a button); answers as diagnose() does."""
        return diag.form(lambda hop, because: self.diagnose(hop, because=because, cluster=cluster))

    def render(self, text: str) -> str:
        """Course text written for the default scenario (``kubectl get svc web -n lab-wrong-targetport``) in this
        scenario's names, ports and namespaces: for notebooks and tools that quote commands."""
        return _prefixed(self.path, vary.render(text, self.values), self.learner_id)

    # ------------------------------------------------------------------ manifests
    def manifests(self, variant: str | None = None) -> str:
        """The manifests text in this scenario's values (for ``mystery``: the chosen variant, rendered into this
        namespace). The Namespace records a varied scenario's values (``v<k>``), opaque like the mystery's case."""
        text = _render(self.path, "manifests.yaml", self.values, self.learner_id)
        if not self.variants:
            return _annotate(text, vary.encode(None, self.vary_key)) if self.vary_key else text
        if variant is None:
            return text
        base = _scenario(variant, self.vary_key, self.learner_id, self.name)
        docs = [d for d in yaml.safe_load_all(base.manifests()) if d]
        out = [d for d in yaml.safe_load_all(text) if d]
        for d in docs:
            if d.get("kind") == "Namespace":
                continue
            d["metadata"]["namespace"] = self.namespace
            out.append(d)
        # opaque, so `kubectl get ns -o yaml` does not give the answer away; variant() maps it back
        out[0].setdefault("metadata", {}).setdefault("annotations", {})[VARIANT_ANNOTATION] = vary.encode(
            _case_id(variant), self.vary_key)
        return yaml.safe_dump_all(out, sort_keys=False)

    def solution_ops(self, variant: str | None = None) -> list[list[str]]:
        if self.variants:
            if variant is None:
                raise ScenarioError("mystery: create the scenario first (the variant is chosen then)")
            base = _scenario(variant, self.vary_key, self.learner_id, self.name)
            return [[a.replace(base.namespace, self.namespace) for a in op] for op in base.solution_ops()]
        data = yaml.safe_load(_render(self.path, "solution.yaml", self.values, self.learner_id)) or []
        return [list(map(str, op["kubectl"])) for op in data]

    # ------------------------------------------------------------------ cluster
    def variant(self, cluster: Any) -> str | None:
        """For ``mystery``: which variant is running (read from its namespace's annotation)."""
        if not self.variants:
            return None
        v, _ = self._recorded(cluster)
        if not v:
            return None
        return next((name for name in self.variants if v in (name, _case_id(name))), None)

    def _recorded(self, cluster: Any) -> tuple[str | None, int | None]:
        """(the mystery's case, the values variant k) recorded on the namespace; k is None when the namespace
        does not exist (nothing recorded yet), 0 when it exists with the default values."""
        ns = kube.get_namespace(cluster, self.namespace)
        if ns is None:
            return None, None
        return vary.decode(((ns.get("metadata") or {}).get("annotations") or {}).get(VARIANT_ANNOTATION))

    def with_values(self, k: int) -> Scenario:
        """This scenario in values variant ``k`` (0: the files as they are), in the same namespaces.

        A scenario rebased into a learner's namespaces from outside (the instructor's ``workshop.scenario_for``)
        is reloaded as that learner's, so the manifests its wrong-fix recognisers compare with are hers."""
        who = _learner_of(self)
        if k == self.vary_key and who == self.learner_id:
            return self
        out = _scenario(self.name, k, who)
        if out.namespace != self.namespace:  # rebased elsewhere (workshop.scenario_for): keep those namespaces
            out = replace(out, namespace=self.namespace, namespaces=self.namespaces, client=self.client)
        return out

    def recorded(self, cluster: Any) -> Scenario:
        """This scenario with the values its namespace records (a later process, another kernel, the CLI: the
        same names and ports as when it was created); itself when it is not created yet."""
        case, k = self._recorded(cluster)
        if k is None:
            return self
        me = self.with_values(k)
        v = next((n for n in me.variants if case in (n, _case_id(n))), None) if case else None
        t = _scenario(v, me.vary_key, me.learner_id, me.name).values if v else {}
        if t:  # a mystery's own text names the app too: it follows the running break's values
            me = replace(me, symptom=vary.render(me.symptom, t), objective=vary.render(me.objective, t),
                         hints=tuple(vary.render(h, t) for h in me.hints), debrief=vary.render(me.debrief, t))
        return me

    def effective(self, cluster: Any) -> Scenario:
        """The scenario whose checks apply (a mystery's running variant, rebased into its namespace)."""
        me = self.recorded(cluster)
        v = me.variant(cluster)
        if not v:
            return me
        base = _scenario(v, me.vary_key, me.learner_id, me.name)
        return replace(base, name=me.name, namespace=me.namespace, namespaces=(), title=me.title,
                       symptom=me.symptom, objective=me.objective, hints=me.hints, debrief=me.debrief,
                       path=me.path, variants=me.variants, variant_of=v)

    def create(self, cluster: Any, seed: int | None = None, wait: bool = True, timeout: float = 20.0,
               vary: int | None = None) -> Scenario:
        """Create the scenario's objects that are missing (idempotent: existing objects are left as they are).

        ``seed`` picks a mystery's break; ``vary`` the values (names, labels, ports: 0 is the files as they are,
        any other number another variant; see :mod:`.vary`). Without ``vary``, a scenario already created keeps
        the values its namespace records, and a new one takes this scenario's (a workshop learner's own
        variant, else the default). Returns the scenario in the values it was created with, so its hints and
        texts match the cluster."""
        _LAST_CLUSTER[self.name] = cluster
        _, have = self._recorded(cluster)
        if have is not None and vary is not None and _vary_key(vary) != have:
            raise ScenarioError(f"scenario {self.name} already exists with other values; reset it to change "
                                f"them (`kai-labs scenario reset {self.name} --vary {vary}`)")
        me = self.with_values(have if have is not None else self.vary_key if vary is None else _vary_key(vary))
        out = me._create(cluster, seed, wait, timeout)
        return out.recorded(cluster) if out.variants else out

    def _create(self, cluster: Any, seed: int | None, wait: bool, timeout: float) -> Scenario:
        _LAST_CLUSTER[self.name] = cluster
        variant = None
        if self.variants:
            variant = self.variant(cluster)
            if variant is None:
                if seed is None and os.environ.get("KAI_LABS_SEED", "").strip().isdigit():
                    seed = int(os.environ["KAI_LABS_SEED"])
                variant = random.Random(seed).choice(sorted(self.variants))
        text = self.manifests(variant)
        docs = [d for d in yaml.safe_load_all(text) if d]
        # missing objects are created; a Service or Deployment changed since (a fix) is put back as the
        # manifest says, so "create" on a fixed scenario breaks it again (reset starts from nothing)
        missing = [d for d in docs if not _exists(cluster, d) or _drifted(cluster, d)]
        if missing:
            r = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(missing, sort_keys=False))
            if r.returncode != 0:
                raise ScenarioError(f"could not create scenario {self.name}: {r.stderr.strip()}")
        if wait:
            self.wait(cluster, timeout)
        return self

    def wait(self, cluster: Any, timeout: float = 20.0) -> bool:
        """Wait until the scenario's namespaces stop changing (rollouts done, slices caught up)."""
        deadline = time.monotonic() + timeout
        while True:
            snaps = [kube.snapshot(cluster, ns) for ns in self.all_namespaces]
            if all(s.settled()[0] for s in snaps):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def delete(self, cluster: Any) -> None:
        for ns in self.all_namespaces:
            obj = kube.get_namespace(cluster, ns)
            if obj is None:
                continue
            if kube.labels(obj).get(kube.CREATED_BY) != "kai-labs":
                raise ScenarioError(f"namespace {ns} was not created by kai-labs; refusing to delete it")
            cluster.kubectl("delete", "namespace", ns, "--wait=true", timeout=60)

    def reset(self, cluster: Any, seed: int | None = None, wait: bool = True, vary: int | None = None) -> Scenario:
        """Back to the broken state: delete the scenario's namespaces and create it again (with the same break
        and values unless ``seed`` or ``vary`` asks for others)."""
        _, have = self._recorded(cluster)
        me = self.with_values(_vary_key(vary) if vary is not None else have if have is not None else self.vary_key)
        keep_variant = self.variant(cluster) if self.variants and seed is None else None
        self.delete(cluster)
        if keep_variant:
            text = me.manifests(keep_variant)
            r = cluster.kubectl("apply", "-f", "-", input=text)
            if r.returncode != 0:
                raise ScenarioError(f"could not reset scenario {self.name}: {r.stderr.strip()}")
            if wait:
                me.wait(cluster)
            return me.recorded(cluster)
        out = me._create(cluster, seed, wait, 20.0)
        return out.recorded(cluster) if out.variants else out

    def solve(self, cluster: Any, wait: bool = True) -> None:
        """Apply the reference fix (for instructors, tests and the CLI; never shown to learners)."""
        me = self.recorded(cluster)
        for op in me.solution_ops(me.variant(cluster)):
            r = cluster.kubectl(*op)
            if r.returncode != 0:
                raise ScenarioError(f"the reference fix for {self.name} failed: {r.stderr.strip()}")
        if wait:
            time.sleep(0.05)
            self.wait(cluster)

    def client_url(self, cluster: Any) -> str | None:
        """The URL the scenario's client calls now (None when it has no client)."""
        eff = self.effective(cluster)
        if eff.client is None:
            return None
        snap = kube.snapshot(cluster, eff.client.namespace)
        return client_url_from(snap, eff.client)

    def inspect(self, cluster: Any) -> Trace:
        _LAST_CLUSTER[self.name] = cluster
        eff = self.effective(cluster)
        client = None
        if eff.client is not None:
            url = self.client_url(cluster)
            client = Client(eff.client.namespace, url or "",
                            f"Deployment {eff.client.deployment}, env {eff.client.env}")
        return inspect(cluster, eff.service, eff.namespace, client=client)

    def diagram(self, cluster: Any) -> Diagram:
        return draw(self.inspect(cluster))

    def check(self, cluster: Any, timeout: float | None = None) -> Grade:
        _LAST_CLUSTER[self.name] = cluster
        return grade(cluster, self, timeout=timeout)

    def apply(self, cluster: Any, text: str, source: str = "<manifest>") -> str:
        """Apply a learner's manifest into this scenario; clear errors for bad YAML, bad objects, wrong namespace."""
        return apply_manifest(cluster, self, text, source)

    def panel(self, cluster: Any) -> Any:
        return ui.panel(cluster, self.name, catalog=CATALOG)


# the cluster a scenario was last created, inspected or graded on in this process: s.diagnose(hop) without a
# cluster uses it to find a mystery's running variant
_LAST_CLUSTER: dict[str, Any] = {}


def _drifted(cluster: Any, doc: dict[str, Any]) -> bool:
    """Whether a Service or Deployment of the manifests differs, where a fix would change it, from the cluster's."""
    if doc.get("kind") not in ("Service", "Deployment"):
        return False
    md = doc.get("metadata") or {}
    r = cluster.kubectl("get", str(doc["kind"]).lower(), str(md.get("name")), "-n", str(md.get("namespace")),
                        "-o", "json", "--ignore-not-found")
    if r.returncode != 0 or not r.stdout.strip():
        return False
    return fingerprint(json.loads(r.stdout)) != fingerprint(doc)


def _exists(cluster: Any, doc: dict[str, Any]) -> bool:
    kind, md = doc.get("kind"), doc.get("metadata") or {}
    r = cluster.kubectl("get", str(kind).lower(), str(md.get("name")), *(
        ["-n", str(md["namespace"])] if md.get("namespace") else []), "-o", "name", "--ignore-not-found")
    return bool(r.stdout.strip())


class Hint(str):
    """One hint as formatted text: Markdown in JupyterLab (commands in code spans, copyable as they are),
    plain text in a terminal; never a Python string literal with quotes and escapes."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        return str(self)


class HintBox:
    """Hints revealed one at a time: ``h = s.hint_box(); h.next()``; after the last, "no more hints" and the
    walker (``s.inspect(c)``) as the answer key."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.shown = 0

    def _no_more(self) -> str:
        return (f"No more hints ({len(self.scenario.hints)} of {len(self.scenario.hints)} shown). To let the course "
                f"walk the path and name the broken hop: `s.inspect(c)` in a notebook, `kai-labs scenario inspect "
                f"{self.scenario.name}` in a terminal.")

    def next(self) -> Hint:
        if self.shown >= len(self.scenario.hints):
            return Hint(self._no_more())
        self.shown += 1
        return Hint(f"Hint {self.shown}/{len(self.scenario.hints)}: {self.scenario.hints[self.shown - 1]}")

    def __str__(self) -> str:
        if not self.shown:
            return f"{len(self.scenario.hints)} hints available; call .next() to see the first."
        out = [f"Hint {i + 1}/{len(self.scenario.hints)}: {h}" for i, h in enumerate(self.scenario.hints[:self.shown])]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        if not self.shown:
            return f"<p>{len(self.scenario.hints)} hints available; call <code>.next()</code> to see the first.</p>"
        return "".join(f"<p style='text-align:left'><b>Hint {i + 1}/{len(self.scenario.hints)}:</b> "
                       f"{diag.inline_code_html(h)}</p>" for i, h in enumerate(self.scenario.hints[:self.shown]))


# ---------------------------------------------------------------------- registry

def _bases(path: Path) -> list[str]:
    """The namespaces a scenario's files name (before any workshop prefix)."""
    spec = yaml.safe_load((path / "spec.yaml").read_text())
    out = [spec["namespace"], *(spec.get("namespaces") or [])]
    if spec.get("client", {}).get("namespace"):
        out.append(spec["client"]["namespace"])
    return out


def _prefixed(path: Path, text: str, learner_id: str | None = None) -> str:
    """In a workshop (KAI_LABS_LEARNER set), every namespace the scenario names carries the learner's prefix."""
    return prefix_namespaces(text, _bases(path), learner_id)


def _render(path: Path, filename: str, values: dict[str, str], learner_id: str | None = None) -> str:
    """One of the scenario's files in these values (:func:`.vary.render`), namespaces prefixed for the learner."""
    return _prefixed(path, vary.render((path / filename).read_text(), values), learner_id)


def _annotate(text: str, value: str | None) -> str:
    """The manifests with the Namespace (their first document) annotated with the variant it was made from.

    Inserted as text under the first ``metadata:`` so the file keeps its comments (they point at the break)
    and its layout; a Namespace that already has annotations is re-dumped instead."""
    if not value:
        return text
    docs = [d for d in yaml.safe_load_all(text) if d]
    if docs and docs[0].get("kind") == "Namespace" and not (docs[0].get("metadata") or {}).get("annotations"):
        out = re.sub(r"(?m)^metadata:\n", lambda m: f"metadata:\n  annotations:\n    {VARIANT_ANNOTATION}: "
                     f"{json.dumps(value)}\n", text, count=1)
        if [d for d in yaml.safe_load_all(out) if d][0]["metadata"].get("annotations") == {VARIANT_ANNOTATION: value}:
            return out
    docs[0].setdefault("metadata", {}).setdefault("annotations", {})[VARIANT_ANNOTATION] = value
    return yaml.safe_dump_all(docs, sort_keys=False)


def _vary_table(path: Path) -> dict[str, tuple[str, ...]]:
    return vary.parse((yaml.safe_load((path / "spec.yaml").read_text()) or {}).get("vary"))


def _varies(path: Path) -> bool:
    """Whether the scenario has values to vary (its own ``vary``, or a mystery's breaks)."""
    spec = yaml.safe_load((path / "spec.yaml").read_text()) or {}
    return bool(spec.get("vary") or spec.get("variants"))


def _vary_key(n: int) -> int:
    try:
        return vary.seed_key(int(n))
    except (TypeError, ValueError) as e:
        raise ScenarioError(f"vary: {e}") from None


def _learner_of(sc: Scenario) -> str | None:
    """The workshop learner whose namespaces ``sc`` is in (None outside a workshop), read from the prefix."""
    base = _base_namespace(sc.path)
    if base and sc.namespace.endswith("-" + base) and sc.namespace != base:
        return sc.namespace[: -len(base) - 1]
    return None


@functools.lru_cache(maxsize=64)
def _base_namespace(path: Path) -> str:
    return str((yaml.safe_load((path / "spec.yaml").read_text()) or {}).get("namespace", ""))


def _load(path: Path, k: int = 0, learner_id: str | None = None, under: str | None = None) -> Scenario:
    """The scenario in ``path`` in values variant ``k`` (0: the files as they are), namespaces prefixed for
    ``learner_id`` (default: this process's learner)."""
    vals = vary.values(under or path.name, k, _vary_table(path))
    who = learner_id or learner()
    spec = yaml.safe_load(_render(path, "spec.yaml", vals, who))
    checks = tuple((next(iter(c)), dict(next(iter(c.values())) or {})) for c in spec.get("checks") or [])
    client = ClientSpec(**spec["client"]) if spec.get("client") else None
    return Scenario(
        name=path.name, title=spec["title"], namespace=spec["namespace"], service=spec.get("service", "web"),
        symptom=spec["symptom"], objective=spec["objective"], hints=tuple(spec["hints"]), debrief=spec["debrief"],
        checks=checks, change=dict(spec.get("change") or {}), namespaces=tuple(spec.get("namespaces") or ()),
        client=client, intended=(spec.get("intended") or {}).get("deployment", "web"),
        keep=tuple(spec.get("keep") or ()), keep_ports=tuple(spec.get("keep_ports") or ()),
        keep_headless=bool(spec.get("keep_headless")), diagnosis=spec.get("diagnosis"),
        diagnose_spec=dict(spec.get("diagnose") or {}),
        variants=tuple(spec.get("variants") or ()), minutes=int(spec.get("minutes", 10)), path=path,
        vary_key=k if (vals or spec.get("variants")) else 0, values=vals, learner_id=who)


_CACHE: dict[tuple[str, int, str | None, str | None], Scenario] = {}


def names() -> list[str]:
    """Scenario names, in teaching order (the numbered order of the catalogue)."""
    order = ["wrong-selector", "wrong-targetport", "unready-pods", "named-port-mismatch", "selector-too-broad",
             "no-pods", "wrong-namespace", "port-vs-targetport", "headless-port", "mystery", "localhost-only",
             "netpol-ingress-deny", "crashloop-backends", "pending-backends", "netpol-egress-dns"]
    found = sorted(p.name for p in SCENARIO_DIR.iterdir() if (p / "spec.yaml").exists())
    return [n for n in order if n in found] + [n for n in found if n not in order]


def get(name: str) -> Scenario:
    """The scenario called ``name``; an unknown name suggests the closest one."""
    path = SCENARIO_DIR / name
    if not re.fullmatch(r"[a-z0-9-]+", name) or not (path / "spec.yaml").exists():
        close = difflib.get_close_matches(name, names(), n=1, cutoff=0.4)
        tip = f"; did you mean {close[0]}?" if close else ""
        raise ScenarioError(f"no scenario named {name!r}{tip} (known: {', '.join(names())})")
    who = learner()
    # a workshop learner gets their own values, derived from (scenario, learner): the same in every process;
    # KAI_LABS_VARY=0 keeps the files' values for everyone (a workshop whose notebooks quote them literally)
    off = os.environ.get(VARY_ENV, "").strip() == "0"
    k = vary.learner_key(name, who) if who and not off and _varies(path) else 0
    return _scenario(name, k, who)


def _scenario(name: str, k: int, learner_id: str | None = None, under: str | None = None) -> Scenario:
    """Scenario ``name`` in values variant ``k`` (cached: the files are read once per variant); ``under`` a
    mystery, the values are drawn under the mystery's name (the same app name whichever break runs)."""
    who = learner_id if learner_id is not None else learner()
    key = (name, k, who, under)
    if key not in _CACHE:
        _CACHE[key] = _load(SCENARIO_DIR / name, k, who, under)
    return _CACHE[key]


def all_scenarios() -> list[Scenario]:
    return [get(n) for n in names()]


class Catalog:
    """The scenarios on disk, as the panel (:mod:`.ui`) browses them."""

    def names(self) -> list[str]:
        return names()

    def get(self, name: str) -> Scenario:
        return get(name)


CATALOG = Catalog()
