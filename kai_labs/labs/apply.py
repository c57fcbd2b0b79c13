"""Applying a learner's manifest into a scenario, with errors a learner can act on.

Invalid YAML is reported with its line; an object the API rejects with the API's
own message and the line its document starts on; an object aimed at another
namespace is refused with the namespace it should use.
"""

from __future__ import annotations

from typing import Any, Protocol

import yaml

from .spec import ScenarioError


class Target(Protocol):
    """What apply needs of a scenario (:class:`~kai_labs.labs.scenario.Scenario`)."""

    @property
    def name(self) -> str: ...

    @property
    def namespace(self) -> str: ...

    @property
    def all_namespaces(self) -> tuple[str, ...]: ...


def apply_manifest(cluster: Any, scenario: Target, text: str, source: str = "<manifest>") -> str:
    try:
        docs = list(yaml.compose_all(text))
        objs = [d for d in yaml.safe_load_all(text)]
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(f"{source}: invalid YAML{where}: {e.problem}") from None
    allowed = scenario.all_namespaces
    out = []
    for node, obj in zip(docs, objs, strict=False):
        if obj is None:
            continue
        line = node.start_mark.line + 1 if node is not None else 1
        if not isinstance(obj, dict) or "kind" not in obj or "apiVersion" not in obj:
            raise ScenarioError(f"{source}: the document at line {line} is not a Kubernetes object "
                                "(it needs apiVersion, kind and metadata)")
        ns = (obj.get("metadata") or {}).get("namespace")
        if obj.get("kind") == "Namespace":
            raise ScenarioError(f"{source}: line {line}: a fix does not need a Namespace object")
        if ns and ns not in allowed:
            raise ScenarioError(
                f"{source}: line {line}: {obj['kind']} {obj.get('metadata', {}).get('name')} says namespace {ns}, "
                f"but scenario {scenario.name} lives in {', '.join(allowed)}; set metadata.namespace to "
                f"{allowed[0]} (or remove it)")
        if not ns and len(allowed) > 1:
            # guessing would put a frontend fix next to web (or the reverse) and the grade would only say
            # "requests fail": make the learner say where it goes
            raise ScenarioError(
                f"{source}: line {line}: {obj['kind']} {obj.get('metadata', {}).get('name')} has no "
                f"metadata.namespace, and scenario {scenario.name} spans {', '.join(allowed)}: say which one")
        target = ns or scenario.namespace
        r = cluster.kubectl("apply", "-n", target, "-f", "-", input=yaml.safe_dump(obj, sort_keys=False))
        if r.returncode != 0:
            msg = r.stderr.strip().removeprefix("error: ")
            raise ScenarioError(f"{source}: the {obj['kind']} at line {line} was rejected: {msg}")
        out.append(r.stdout.strip())
    return "\n".join(out)
