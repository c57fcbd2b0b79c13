"""Pod (pkg/registry/core/pod): storage, defaults, validation, initial status, table columns.

Source: pkg/apis/core/v1/defaults.go SetDefaults_Pod; the admission plugins serviceaccount
(serviceAccountName ``default``), defaulttolerationseconds (not-ready/unreachable 300s) and priority
(priority 0, preemptionPolicy PreemptLowerPriority); validation.go ValidatePodCreate, ValidatePodUpdate,
ValidateContainerUpdates, validateOnlyAddedTolerations; pkg/registry/core/pod/strategy.go
(PrepareForCreate: phase Pending, qosClass); printers.go printPod. The pod spec's own defaults and
checks are shared with the pod templates of Deployment and ReplicaSet (``defaults.py``,
``validation.py``). Graceful deletion and binding stay in ``generic.py``.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from ....k8s.validation import inclusive_range_error
from ...apimachinery.errors import forbidden, invalid
from ..defaults import _child_map, _empty, default_pod_spec
from ..strategy import (
    POD_SPEC_PATCH_KEYS,
    AdmissionConfig,
    PatchKeys,
    ResourceType,
    Strategy,
    patch_keys_at,
    register,
)
from ..table import (
    NONE,
    Column,
    Row,
    age,
    age_col,
    col,
    int_or,
    name_col,
    obj_meta,
    obj_name,
    obj_spec,
    obj_status,
    parse_time,
    since,
)
from ..validation import (
    MAX_INT32,
    Errs,
    _get_map,
    _is_int,
    _list_at,
    name_is_dns_subdomain,
    validate_object_meta,
    validate_object_meta_update,
    validate_pod_spec,
)

Obj = dict[str, Any]
Cell = str | int


DEFAULT_TOLERATION_SECONDS = 300  # kube-apiserver's --default-{not-ready,unreachable}-toleration-seconds


_NOT_READY_TAINT = "node.kubernetes.io/not-ready"


_UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


def default(obj: dict[str, Any]) -> None:
    """SetDefaults_Pod + SetDefaults_PodSpec + the admission plugins kubectl shows the effect of."""
    spec = _child_map(obj, "spec")
    if spec is None:
        return
    default_pod_spec(spec)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    _default_pod_admission(spec)


def admit(obj: dict[str, Any], config: AdmissionConfig) -> None:
    """DefaultTolerationSeconds with the API server's configured seconds (the cluster's setting: 30 s in
    kai-labs, see controllers/nodelifecycle.py NodeLifecycleSettings). It runs before :func:`default`,
    whose own copy of the plugin (upstream's 300 s, for callers without an API server) then finds the
    tolerations there."""
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _add_default_tolerations(spec, config.default_not_ready_toleration_seconds,
                                 config.default_unreachable_toleration_seconds)


def _default_pod_admission(spec: dict[str, Any]) -> None:
    """ServiceAccount, DefaultTolerationSeconds (upstream's seconds) and Priority admission (Pods only)."""
    if _empty(spec.get("serviceAccountName")):
        sa = spec.get("serviceAccount")
        spec["serviceAccountName"] = sa if isinstance(sa, str) and sa else "default"
    if _empty(spec.get("serviceAccount")) and isinstance(spec.get("serviceAccountName"), str):
        spec["serviceAccount"] = spec["serviceAccountName"]  # deprecated mirror set by conversion
    if spec.get("priority") is None and _empty(spec.get("priorityClassName")):
        spec["priority"] = 0
    if spec.get("preemptionPolicy") is None:
        spec["preemptionPolicy"] = "PreemptLowerPriority"
    _add_default_tolerations(spec, DEFAULT_TOLERATION_SECONDS, DEFAULT_TOLERATION_SECONDS)


def _tolerates_no_execute(tolerations: list[dict[str, Any]], key: str) -> bool:
    """The plugin's test: a toleration whose key is this taint's or empty (any operator), and whose
    effect is NoExecute or empty."""
    return any((t.get("key") or "") in (key, "") and (t.get("effect") or "") in ("", "NoExecute")
               for t in tolerations)


def _add_default_tolerations(spec: dict[str, Any], not_ready: int, unreachable: int) -> None:
    """plugin/pkg/admission/defaulttolerationseconds (R55): a Pod that does not already tolerate the
    not-ready / unreachable NoExecute taints gets a toleration for each, for the configured seconds."""
    raw = spec.get("tolerations")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        return
    present = [t for t in raw if isinstance(t, dict)]
    added = []
    for key, seconds in ((_NOT_READY_TAINT, not_ready), (_UNREACHABLE_TAINT, unreachable)):
        if not _tolerates_no_execute(present, key):
            added.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds})
    if added:
        spec["tolerations"] = raw + added


def _validate_containers_only_for_pod(spec: dict[str, Any], errs: Errs) -> None:
    for key in ("containers", "initContainers"):
        items = _list_at(spec, key)
        for i, c in enumerate(items):
            image = c.get("image") if isinstance(c, dict) else None
            if isinstance(image, str) and image != image.strip():
                errs.append(invalid(f"spec.{key}[{i}].image", image, "must not have leading or trailing whitespace"))


_UPDATABLE_POD_FIELDS = ",".join([
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    "`spec.containers[*].resources` (for CPU/memory only)",
])


POD_UPDATE_FORBIDDEN_MESSAGE = f"pod updates may not change fields other than {_UPDATABLE_POD_FIELDS}"


def _validate_pod_create(obj: dict[str, Any]) -> Errs:
    """validatePodMetadataAndSpec."""
    errs = validate_object_meta(obj, name_is_dns_subdomain)
    spec = _get_map(obj, "spec", "spec", errs)
    validate_pod_spec(spec or {}, "spec", errs)
    _validate_containers_only_for_pod(spec or {}, errs)
    return errs


def _validate_pod_update(obj: dict[str, Any], old: dict[str, Any]) -> Errs:
    """ValidatePodUpdate (first line of the Forbidden message only: the Go diff is not reproduced)."""
    errs = validate_object_meta_update(obj, old)
    spec = _get_map(obj, "spec", "spec", errs) or {}
    validate_pod_spec(spec, "spec", errs)
    _validate_containers_only_for_pod(spec, errs)
    ospec = old.get("spec") if isinstance(old.get("spec"), dict) else {}
    assert isinstance(ospec, dict)
    for key in ("containers", "initContainers"):
        new_c = _list_at(spec, key)
        old_c = _list_at(ospec, key)
        if len(new_c) != len(old_c):
            errs.append(forbidden(f"spec.{key}", "pod updates may not add or remove containers"))
            return errs
    errs.extend(_pod_update_deadline(spec, ospec))
    errs.extend(_pod_update_tolerations(spec, ospec))
    if spec != ospec and _munge_pod_spec(spec, ospec) != ospec:
        errs.append(forbidden("spec", POD_UPDATE_FORBIDDEN_MESSAGE))
    return errs


def _pod_update_deadline(spec: dict[str, Any], ospec: dict[str, Any]) -> Errs:
    new, old = spec.get("activeDeadlineSeconds"), ospec.get("activeDeadlineSeconds")
    if new is None:
        if old is not None:
            return [invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value")]
        return []
    if not _is_int(new):
        return []
    if new < 0 or new > MAX_INT32:
        return [invalid("spec.activeDeadlineSeconds", new, inclusive_range_error(0, MAX_INT32))]
    if _is_int(old) and old < new:
        return [invalid("spec.activeDeadlineSeconds", new, "must be less than or equal to previous value")]
    return []


def _pod_update_tolerations(spec: dict[str, Any], ospec: dict[str, Any]) -> Errs:
    """validateOnlyAddedTolerations: existing tolerations may only change tolerationSeconds."""
    new = ([t for t in spec.get("tolerations") or [] if isinstance(t, dict)]
           if isinstance(spec.get("tolerations"), list) else [])
    old = ([t for t in ospec.get("tolerations") or [] if isinstance(t, dict)]
           if isinstance(ospec.get("tolerations"), list) else [])

    def strip(t: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in t.items() if k != "tolerationSeconds" and v not in (None, "")}

    stripped_new = [strip(t) for t in new]
    for t in old:
        if strip(t) not in stripped_new:
            return [forbidden("spec.tolerations",
                              "existing toleration can not be modified except its tolerationSeconds")]
    return []


def _munge_pod_spec(spec: dict[str, Any], ospec: dict[str, Any]) -> dict[str, Any]:
    """Copy the updatable fields from the old spec so only forbidden changes remain."""
    munged = copy.deepcopy(spec)
    for key in ("containers", "initContainers"):
        old_c = _list_at(ospec, key)
        new_c = _list_at(munged, key)
        for c, oc in zip(new_c, old_c, strict=False):
            if not (isinstance(c, dict) and isinstance(oc, dict)):
                continue
            _copy_key(c, oc, "image")
            if key == "containers":
                _munge_cpu_memory(c, oc)
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        _copy_key(munged, ospec, key)
    otg, ntg = ospec.get("terminationGracePeriodSeconds"), munged.get("terminationGracePeriodSeconds")
    if _is_int(otg) and otg < 0 and ntg == 1:
        munged["terminationGracePeriodSeconds"] = otg
    return munged


def _copy_key(dst: dict[str, Any], src: dict[str, Any], key: str) -> None:
    if key in src:
        dst[key] = copy.deepcopy(src[key])
    else:
        dst.pop(key, None)


def _munge_cpu_memory(c: dict[str, Any], oc: dict[str, Any]) -> None:
    """InPlacePodVerticalScaling: cpu/memory requests and limits may change."""
    res, ores = c.get("resources"), oc.get("resources")
    if not isinstance(res, dict) or not isinstance(ores, dict):
        return
    for part in ("limits", "requests"):
        new_l, old_l = res.get(part), ores.get(part)
        if not isinstance(old_l, dict):
            continue
        merged = dict(new_l) if isinstance(new_l, dict) else {}
        for r in ("cpu", "memory"):
            merged.pop(r, None)
            if r in old_l:
                merged[r] = old_l[r]
        res[part] = merged


def validate(obj: dict[str, Any], old: dict[str, Any] | None) -> Errs:
    return _validate_pod_create(obj) if old is None else _validate_pod_update(obj, old)


# AddHandlers in printers.go, in source order and with source priorities.
COLUMNS: list[Column] = [
    name_col(),
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last "
        "container in this pod has restarted.",
    ),
    age_col(),
    col(
        "IP",
        "string",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
        "allocated.",
        1,
    ),
    col(
        "Node",
        "string",
        "NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the "
        "scheduler simply schedules this pod onto that node, assuming that it fits resource "
        "requirements.",
        1,
    ),
    col(
        "Nominated Node",
        "string",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot "
        "be scheduled right away as preemption victims receive their graceful termination periods. "
        "This field does not guarantee that the pod will be scheduled on this node. Scheduler may "
        "decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also "
        "decide to give the resources on this node to a higher priority pod that is created after "
        "preemption. As a result, this field may be different than PodSpec.nodeName when the pod is "
        "scheduled.",
        1,
    ),
    col(
        "Readiness Gates",
        "string",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when "
        'all its containers are ready AND all conditions specified in the readiness gates have status '
        'equal to "True" More info: '
        "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
        1,
    ),
]


_POD_SUCCEEDED_CONDITIONS = [
    {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
]


_POD_FAILED_CONDITIONS = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


class _PodTally:
    """The running totals printPod keeps while walking container statuses."""

    def __init__(self, reason: str, total: int) -> None:
        self.reason = reason
        self.total = total
        self.ready = 0
        self.restarts = 0
        self.last_restart: datetime.datetime | None = None
        self.sidecar_restarts = 0
        self.last_sidecar_restart: datetime.datetime | None = None


def _later(a: datetime.datetime | None, b: datetime.datetime | None) -> datetime.datetime | None:
    """lastRestartDate.Before(&terminatedDate) bookkeeping (zero time is earliest)."""
    if b is None:
        return a
    return b if a is None or a < b else a


def _last_terminated(cs: Obj) -> datetime.datetime | None:
    terminated = (cs.get("lastState") or {}).get("terminated")
    return parse_time(terminated.get("finishedAt")) if terminated is not None else None


def _is_restartable_init(container: Obj | None) -> bool:
    """podutil.IsRestartableInitContainer: restartPolicy Always (a sidecar)."""
    return container is not None and container.get("restartPolicy") == "Always"


def _init_reason(cs: Obj, index: int, count: int) -> str:
    """The reason printPod reports for a failed / waiting / running init container."""
    state = cs.get("state") or {}
    terminated = state.get("terminated")
    if terminated is not None:
        if terminated.get("reason"):
            return "Init:" + str(terminated["reason"])
        if int_or(terminated.get("signal")) != 0:
            return f"Init:Signal:{int_or(terminated.get('signal'))}"
        return f"Init:ExitCode:{int_or(terminated.get('exitCode'))}"
    waiting = state.get("waiting")
    if waiting is not None and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
        return "Init:" + str(waiting["reason"])
    return f"Init:{index}/{count}"


def _walk_init_containers(pod: Obj, tally: _PodTally) -> bool:
    """First loop of printPod; returns ``initializing``."""
    init_specs = {c.get("name"): c for c in obj_spec(pod).get("initContainers") or []}
    count = len(obj_spec(pod).get("initContainers") or [])
    for i, cs in enumerate(obj_status(pod).get("initContainerStatuses") or []):
        tally.restarts += int_or(cs.get("restartCount"))
        tally.last_restart = _later(tally.last_restart, _last_terminated(cs))
        sidecar = _is_restartable_init(init_specs.get(cs.get("name")))
        if sidecar:
            tally.sidecar_restarts += int_or(cs.get("restartCount"))
            tally.last_sidecar_restart = _later(tally.last_sidecar_restart, _last_terminated(cs))
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated is not None and int_or(terminated.get("exitCode")) == 0:
            continue
        if sidecar and cs.get("started") is True:
            if cs.get("ready"):
                tally.ready += 1
            continue
        tally.reason = _init_reason(cs, i, count)
        return True
    return False


def _condition_true(pod: Obj, type_: str) -> bool:
    """First condition of ``type_`` decides (isPodInitializedConditionTrue)."""
    for cond in obj_status(pod).get("conditions") or []:
        if cond.get("type") == type_:
            return bool(cond.get("status") == "True")
    return False


def _has_pod_ready_condition(pod: Obj) -> bool:
    """hasPodReadyCondition: any Ready condition with status True."""
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in obj_status(pod).get("conditions") or []
    )


def _walk_containers(pod: Obj, tally: _PodTally) -> None:
    """Second loop of printPod (containers walked from last to first)."""
    tally.restarts = tally.sidecar_restarts
    tally.last_restart = tally.last_sidecar_restart
    has_running = False
    for cs in reversed(obj_status(pod).get("containerStatuses") or []):
        tally.restarts += int_or(cs.get("restartCount"))
        tally.last_restart = _later(tally.last_restart, _last_terminated(cs))
        state = cs.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting is not None and waiting.get("reason"):
            tally.reason = waiting["reason"]
        elif terminated is not None and terminated.get("reason"):
            tally.reason = terminated["reason"]
        elif terminated is not None:
            signal = int_or(terminated.get("signal"))
            tally.reason = f"Signal:{signal}" if signal != 0 else f"ExitCode:{int_or(terminated.get('exitCode'))}"
        elif cs.get("ready") and state.get("running") is not None:
            has_running = True
            tally.ready += 1
    if tally.reason == "Completed" and has_running:
        tally.reason = "Running" if _has_pod_ready_condition(pod) else "NotReady"


def pod_status_reason(pod: Obj) -> str:
    """The STATUS cell of ``kubectl get pods``."""
    return _pod_tally(pod).reason


def _pod_tally(pod: Obj) -> _PodTally:
    phase = obj_status(pod).get("phase") or ""
    reason = obj_status(pod).get("reason") or phase
    for cond in obj_status(pod).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    spec = obj_spec(pod)
    total = len(spec.get("containers") or []) + sum(
        1 for c in spec.get("initContainers") or [] if _is_restartable_init(c)
    )
    tally = _PodTally(reason, total)
    initializing = _walk_init_containers(pod, tally)
    if not initializing or _condition_true(pod, "Initialized"):
        _walk_containers(pod, tally)
    if obj_meta(pod).get("deletionTimestamp") and obj_status(pod).get("reason") == "NodeLost":
        tally.reason = "Unknown"
    elif obj_meta(pod).get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        tally.reason = "Terminating"
    return tally


def _readiness_gates(pod: Obj) -> str:
    gates = obj_spec(pod).get("readinessGates") or []
    if not gates:
        return NONE
    conditions = obj_status(pod).get("conditions") or []
    true_count = 0
    for gate in gates:
        for cond in conditions:
            if cond.get("type") == gate.get("conditionType"):
                true_count += cond.get("status") == "True"
                break
    return f"{true_count}/{len(gates)}"


def _pod_ip(pod: Obj) -> str:
    status = obj_status(pod)
    ips = status.get("podIPs") or ([{"ip": status["podIP"]}] if status.get("podIP") else [])
    return (ips[0].get("ip") if ips else "") or NONE


def print_row(pod: Obj, now: datetime.datetime) -> Row:
    tally = _pod_tally(pod)
    restarts = str(tally.restarts)
    if tally.restarts != 0 and tally.last_restart is not None:
        restarts = f"{tally.restarts} ({since(tally.last_restart, now)} ago)"
    cells: list[Cell] = [
        obj_name(pod),
        f"{tally.ready}/{tally.total}",
        tally.reason,
        restarts,
        age(pod, now),
        _pod_ip(pod),
        obj_spec(pod).get("nodeName") or NONE,
        obj_status(pod).get("nominatedNodeName") or NONE,
        _readiness_gates(pod),
    ]
    row: Row = {"cells": cells}
    phase = obj_status(pod).get("phase")
    if phase == "Succeeded":
        row["conditions"] = copy.deepcopy(_POD_SUCCEEDED_CONDITIONS)
    elif phase == "Failed":
        row["conditions"] = copy.deepcopy(_POD_FAILED_CONDITIONS)
    return row


# PodStatus's struct tags
_POD_STATUS_PATCH_KEYS: PatchKeys = {
    "conditions": ("merge", "type"),
    "podIPs": ("merge", "ip"),
    "hostIPs": ("merge", "ip"),
    "resourceClaimStatuses": ("merge", "name"),
}


STRATEGY = register(Strategy(
    resource=ResourceType("", "v1", "Pod", "pods", "pod", short_names=("po",), categories=("all",),
                          subresources={"status": ("Pod", ("get", "patch", "update")), "log": ("Pod", ("get",)),
                                        "exec": ("PodExecOptions", ("create", "get")),
                                        "attach": ("PodAttachOptions", ("create", "get")),
                                        "portforward": ("PodPortForwardOptions", ("create", "get")),
                                        "binding": ("Binding", ("create",)),
                                        "eviction": ("Eviction", ("create",))}),
    discovery_order=30,
    validate=validate,
    default=default,
    admit=admit,
    initial_status={"phase": "Pending", "qosClass": "BestEffort"},
    columns=COLUMNS,
    print_row=print_row,
    patch_keys={**patch_keys_at("spec", POD_SPEC_PATCH_KEYS), **patch_keys_at("status", _POD_STATUS_PATCH_KEYS)},
))
