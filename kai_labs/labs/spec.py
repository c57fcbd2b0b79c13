"""The data a scenario's ``spec.yaml`` names that checks, apply and the panel share, below :mod:`.scenario`.

:class:`ScenarioError` (the learner-facing error of the course layer), :class:`ClientSpec`
(the scenario's client Deployment) and :func:`client_url_from` (the URL that client calls)
live here so that the modules :mod:`.scenario` builds on never import it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import kube


class ScenarioError(Exception):
    """A learner-facing problem with a scenario (unknown name, invalid manifest, wrong namespace)."""


@dataclass(frozen=True)
class ClientSpec:
    """The scenario's client: a Deployment whose container env var holds the URL it calls."""

    namespace: str
    deployment: str
    env: str = "WEB_URL"


def client_url_from(snap: kube.Snapshot, client: ClientSpec) -> str | None:
    dep = snap.deployment(client.deployment)
    if dep is None:
        return None
    for c in dep["spec"]["template"]["spec"].get("containers") or []:
        for e in c.get("env") or []:
            if e.get("name") == client.env:
                return str(e.get("value", ""))
    return None
