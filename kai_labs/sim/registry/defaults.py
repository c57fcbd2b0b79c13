"""API-server defaulting: the entry point and what several kinds share.

``apply_defaults(kind, obj)`` runs the kind's strategy's defaulter (``registry/core/<kind>.py``,
``registry/<group>/<kind>.py``). Here: the pod spec's defaults (Pods and the pod templates of
Deployments and ReplicaSets) and the small helpers the kinds' defaulters use. Objects are plain
dicts spelled as the Kubernetes JSON API spells them; every function mutates in place and never
raises on ill-typed input (a field of the wrong type is left alone for ``validation.validate`` to
report).

Facts carried over (not code) from kubernetes/kubernetes:

* ``pkg/apis/core/v1/defaults.go`` (SetDefaults_PodSpec, SetDefaults_Container,
  SetDefaults_Probe, SetDefaults_HTTPGetAction);
* ``pkg/apis/core/v1/zz_generated.defaults.go`` (declarative ``+default``:
  ContainerPort.protocol TCP).
"""

from __future__ import annotations

import re
from typing import Any

from .strategy import strategy_for

# --------------------------------------------------------------------------- helpers

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _as_map(v: Any) -> dict[str, Any] | None:
    return v if isinstance(v, dict) else None


def _as_list(v: Any) -> list[Any] | None:
    return v if isinstance(v, list) else None


def _child_map(parent: dict[str, Any], key: str, create: bool = True) -> dict[str, Any] | None:
    """Return ``parent[key]`` as a dict, creating it when absent/None (if ``create``)."""
    v = parent.get(key)
    if v is None and create:
        v = {}
        parent[key] = v
    return v if isinstance(v, dict) else None


def _maps(v: Any) -> list[dict[str, Any]]:
    """The dict elements of a list (others are skipped: validation reports them)."""
    lst = _as_list(v)
    return [x for x in lst if isinstance(x, dict)] if lst is not None else []


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == 0 and _is_int(v)


# --------------------------------------------------------------------------- public API

def apply_defaults(kind: str, obj: dict[str, Any]) -> None:
    """Default ``obj`` (a ``kind`` object) in place, as a v1.3x API server does before validation."""
    if not isinstance(obj, dict):
        return
    strategy = strategy_for(kind)
    if strategy is not None:
        strategy.default(obj)


def default_pod_spec(spec: dict[str, Any]) -> None:
    """SetDefaults_PodSpec plus per-container/probe defaults; used for Pods and pod templates.

    Source: pkg/apis/core/v1/defaults.go SetDefaults_PodSpec, SetDefaults_Container,
    SetDefaults_Probe, SetDefaults_HTTPGetAction; zz_generated.defaults.go (ports).
    """
    if not isinstance(spec, dict):
        return
    if _empty(spec.get("dnsPolicy")):
        spec["dnsPolicy"] = "ClusterFirst"
    if _empty(spec.get("restartPolicy")):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if _empty(spec.get("schedulerName")):
        spec["schedulerName"] = "default-scheduler"
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in _maps(spec.get(key)):
            _default_container(c)


def image_pull_policy_for(image: Any) -> str:
    """``Always`` when the image tag is ``latest`` (or absent, no digest), else ``IfNotPresent``.

    Source: SetDefaults_Container + pkg/util/parsers.ParseImageName (an unparsable
    reference yields an empty tag, hence IfNotPresent).
    """
    if not isinstance(image, str) or not _IMAGE_REF.match(image):
        return "IfNotPresent"
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else ""
    if tag == "" and digest == "":
        tag = "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


# Loose docker reference grammar: lowercase repository path, optional :tag, optional @digest.
_IMAGE_REF = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)


# --------------------------------------------------------------------------- containers

def _default_container(c: dict[str, Any]) -> None:
    """SetDefaults_Container, ContainerPort protocol, probes and lifecycle handlers."""
    if _empty(c.get("imagePullPolicy")):
        c["imagePullPolicy"] = image_pull_policy_for(c.get("image"))
    if _empty(c.get("terminationMessagePath")):
        c["terminationMessagePath"] = "/dev/termination-log"
    if _empty(c.get("terminationMessagePolicy")):
        c["terminationMessagePolicy"] = "File"
    if c.get("resources") is None:
        c["resources"] = {}
    for p in _maps(c.get("ports")):
        if _empty(p.get("protocol")):
            p["protocol"] = "TCP"
    for probe_key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = _as_map(c.get(probe_key))
        if probe is not None:
            _default_probe(probe)
    lifecycle = _as_map(c.get("lifecycle"))
    if lifecycle is not None:
        for hook in ("postStart", "preStop"):
            handler = _as_map(lifecycle.get(hook))
            if handler is not None:
                _default_handler(handler)


def _default_probe(probe: dict[str, Any]) -> None:
    """SetDefaults_Probe (R32): zero means unset for these four counters."""
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10),
                       ("successThreshold", 1), ("failureThreshold", 3)):
        if _empty(probe.get(key)):
            probe[key] = value
    _default_handler(probe)


def _default_handler(handler: dict[str, Any]) -> None:
    """SetDefaults_HTTPGetAction: path ``/`` and scheme ``HTTP``."""
    http = _as_map(handler.get("httpGet"))
    if http is not None:
        if _empty(http.get("path")):
            http["path"] = "/"
        if _empty(http.get("scheme")):
            http["scheme"] = "HTTP"


# --------------------------------------------------------------------------- pod templates

def _default_template(spec: dict[str, Any]) -> None:
    template = _child_map(spec, "template")
    if template is None:
        return
    tspec = _child_map(template, "spec")
    if tspec is not None:
        default_pod_spec(tspec)
