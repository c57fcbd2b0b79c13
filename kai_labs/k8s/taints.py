"""Taints and tolerations: which Pod tolerates which Node taint, and for how long.

Shared by the scheduler (the TaintToleration filter), the taint-eviction controller (NoExecute) and
the node lifecycle controller (the taints it puts on a Node that stops answering). Pure: no I/O, no
clock; callers pass plain API dicts.

Facts carried over from kubernetes/kubernetes:

* ``staging/src/k8s.io/api/core/v1/toleration.go`` ToleratesTaint (R52): an empty effect matches every
  effect, an empty key every key; operator ``Exists`` matches any value, ``Equal`` (or empty) the
  same value; any other operator (the alpha ``Lt``/``Gt``, off by default) matches nothing.
* ``pkg/apis/core/v1/helper/helpers.go`` FindMatchingUntoleratedTaint, GetMatchingTolerations
  (the first toleration that tolerates a taint is the one used) (R53).
* ``pkg/controller/tainteviction/taint_eviction.go`` getMinTolerationTime (R54): no used toleration
  means evict now, a ``tolerationSeconds`` <= 0 evicts now, none set means tolerate forever,
  otherwise the smallest one.
* ``pkg/scheduler/framework/plugins/tainttoleration``: only NoSchedule and NoExecute taints filter
  (DoNotScheduleTaintsFilterFunc), and the reason text ``node(s) had untolerated taint {key: value}``.
* ``staging/src/k8s.io/api/core/v1/well_known_taints.go``: the taint keys the control plane uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Obj = dict[str, Any]

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"

FOREVER = -1.0  # min_toleration_seconds: the Pod tolerates its Node's taints without a limit


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


def tolerates_taint(toleration: Obj, taint: Obj) -> bool:
    """R52: does one toleration tolerate one taint (Toleration.ToleratesTaint)."""
    effect, key = _s(toleration.get("effect")), _s(toleration.get("key"))
    if effect and effect != _s(taint.get("effect")):
        return False
    if key and key != _s(taint.get("key")):
        return False
    op = _s(toleration.get("operator"))
    if op in ("", "Equal"):
        return _s(toleration.get("value")) == _s(taint.get("value"))
    return op == "Exists"


def _dicts(items: Any) -> list[Obj]:
    return [x for x in items if isinstance(x, dict)] if isinstance(items, list) else []


def tolerations_tolerate_taint(tolerations: Any, taint: Obj) -> bool:
    return any(tolerates_taint(t, taint) for t in _dicts(tolerations))


def schedule_blocking(taint: Obj) -> bool:
    """DoNotScheduleTaintsFilterFunc: the effects the scheduler filters on."""
    return taint.get("effect") in (NO_SCHEDULE, NO_EXECUTE)


def find_untolerated_taint(taints: Any, tolerations: Any,
                           applies: Callable[[Obj], bool] = schedule_blocking) -> Obj | None:
    """R53: the first taint ``applies`` selects that no toleration tolerates (FindMatchingUntoleratedTaint)."""
    tols = _dicts(tolerations)
    for taint in _dicts(taints):
        if applies(taint) and not any(tolerates_taint(t, taint) for t in tols):
            return taint
    return None


def untolerated_reason(taint: Obj) -> str:
    """The TaintToleration filter's reason for a Node, as the FitError lists it."""
    return f"node(s) had untolerated taint {{{_s(taint.get('key'))}: {_s(taint.get('value'))}}}"


def no_execute_taints(taints: Any) -> list[Obj]:
    """The NoExecute taints of a Node, in their order (getNoExecuteTaints)."""
    return [t for t in _dicts(taints) if t.get("effect") == NO_EXECUTE]


def matching_tolerations(taints: Iterable[Obj], tolerations: Any) -> tuple[bool, list[Obj]]:
    """R53: (every taint tolerated, the toleration used for each), GetMatchingTolerations."""
    tols = _dicts(tolerations)
    used: list[Obj] = []
    for taint in taints:
        match = next((t for t in tols if tolerates_taint(t, taint)), None)
        if match is None:
            return False, []
        used.append(match)
    return True, used


def min_toleration_seconds(used: list[Obj]) -> float:
    """R54: how long a Pod may stay on its tainted Node: 0 = evict now, FOREVER = never
    (getMinTolerationTime)."""
    if not used:
        return 0.0
    least: int | None = None
    for t in used:
        secs = t.get("tolerationSeconds")
        if not isinstance(secs, int) or isinstance(secs, bool):
            continue
        if secs <= 0:
            return 0.0
        least = secs if least is None else min(least, secs)
    return FOREVER if least is None else float(least)


def taint_matches(a: Obj, b: Obj) -> bool:
    """Taint.MatchTaint: the same key and effect (a Node holds at most one of each pair)."""
    return _s(a.get("key")) == _s(b.get("key")) and _s(a.get("effect")) == _s(b.get("effect"))


def has_taint(taints: Any, key: str, effect: str) -> bool:
    return any(_s(t.get("key")) == key and _s(t.get("effect")) == effect for t in _dicts(taints))
