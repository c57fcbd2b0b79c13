"""Learner ids and the namespaces they prefix (workshop mode), with no knowledge of scenarios.

A learner id (``KAI_LABS_LEARNER``, set per user by JupyterHub) prefixes every
namespace the course creates: :func:`namespace_for` turns ``lab-wrong-selector``
into ``alice-lab-wrong-selector``. Scenarios (:mod:`.scenario`) and the workshop
commands (:mod:`.workshop`) both build on this.
"""

from __future__ import annotations

import os
import re

from ..clusters.base import ClusterError

LEARNER_ENV = "KAI_LABS_LEARNER"
LEARNER_LABEL = "kai-labs.dev/learner"
CREATED_BY = "app.kubernetes.io/created-by"
LEARNER_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?")


def check_learner(learner: str) -> str:
    if not LEARNER_RE.fullmatch(learner or ""):
        raise ClusterError(f"learner id {learner!r} cannot prefix a namespace: use 1-20 lowercase letters, digits "
                           f"and '-', starting and ending with a letter or digit (e.g. alice, team-7)")
    return learner


def learner() -> str | None:
    """This process's learner id (``KAI_LABS_LEARNER``), or None outside a workshop."""
    value = os.environ.get(LEARNER_ENV, "").strip()
    return check_learner(value) if value else None


def namespace_for(base: str, learner_id: str | None = None) -> str:
    """The namespace this learner uses for the course namespace ``base`` (``base`` itself outside a workshop).

    Idempotent: a name that already carries the prefix is returned unchanged."""
    who = check_learner(learner_id) if learner_id else learner()
    if not who or base.startswith(f"{who}-"):
        return base
    return f"{who}-{base}"


def prefix_namespaces(text: str, bases: list[str] | tuple[str, ...], learner_id: str | None = None) -> str:
    """``text`` (manifests, a kubectl argument, a hint) with each whole-word base namespace replaced by this learner's
    (``lab-wrong-namespace`` but not inside ``lab-wrong-namespace-frontend``; DNS names like
    ``web.lab-wrong-namespace.svc.cluster.local`` included). Unchanged outside a workshop."""
    who = check_learner(learner_id) if learner_id else learner()
    if not who:
        return text
    for base in sorted(set(bases), key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z0-9-]){re.escape(base)}(?![A-Za-z0-9-])", namespace_for(base, who), text)
    return text


def namespace_labels(learner_id: str | None = None) -> dict[str, str]:
    """Labels every namespace the course creates should carry (the learner label only in a workshop)."""
    who = check_learner(learner_id) if learner_id else learner()
    out = {CREATED_BY: "kai-labs"}
    if who:
        out[LEARNER_LABEL] = who
    return out
