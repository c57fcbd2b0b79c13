"""A Pod's QoS class and the OOM score adjustment the kubelet gives its containers, pure.

Sources: pkg/apis/core/v1/helper/qos/qos.go (ComputePodQOS: only cpu and memory count; BestEffort when no
container requests or limits either, Guaranteed when every container limits both and every request equals
its limit, else Burstable; init containers count too), pkg/apis/core/v1/defaults.go (a container's
requests default to its limits, so a limit alone counts as an equal request) and pkg/kubelet/qos/policy.go
(GetContainerOOMScoreAdjust: Guaranteed -997, BestEffort 1000, Burstable 1000 - 1000*request/capacity
kept within 3..999).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .quantity import QuantityError, as_text, parse_quantity, quantity_value

GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000
_QOS_RESOURCES = ("cpu", "memory")


def _amount(value: Any) -> Fraction | None:
    text = as_text(value)
    if text is None:
        return None
    try:
        return parse_quantity(text.strip())
    except QuantityError:
        return None


def _resources(container: dict[str, Any]) -> tuple[dict[str, Fraction], dict[str, Fraction]]:
    """(requests, limits) of cpu and memory above zero, requests defaulted from limits."""
    res = container.get("resources") or {}
    limits = {k: q for k in _QOS_RESOURCES if (q := _amount((res.get("limits") or {}).get(k))) is not None and q > 0}
    requests = {k: q for k in _QOS_RESOURCES
                if (q := _amount((res.get("requests") or {}).get(k, (res.get("limits") or {}).get(k)))) is not None
                and q > 0}
    return requests, limits


def pod_qos(pod: dict[str, Any]) -> str:
    """``Guaranteed``, ``Burstable`` or ``BestEffort``."""
    spec = pod.get("spec") or {}
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        req, lim = _resources(c)
        for k, q in req.items():
            requests[k] = requests.get(k, Fraction(0)) + q
        for k, q in lim.items():
            limits[k] = limits.get(k, Fraction(0)) + q
        if not set(_QOS_RESOURCES) <= set(lim):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(k) == q for k, q in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def oom_score_adj(pod: dict[str, Any], container: dict[str, Any], memory_capacity: int) -> int:
    qos = pod_qos(pod)
    if qos == "Guaranteed":
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == "BestEffort":
        return BESTEFFORT_OOM_SCORE_ADJ
    request = _resources(container)[0].get("memory", Fraction(0))
    adj = 1000 - (1000 * quantity_value(request)) // max(memory_capacity, 1)
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    if adj == BESTEFFORT_OOM_SCORE_ADJ:
        return adj - 1
    return adj
