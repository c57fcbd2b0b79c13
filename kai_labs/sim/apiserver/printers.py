"""Server-side ``Table`` printers: what ``kubectl get`` (and ``-o wide``) shows.

kubectl asks the API server for ``application/json;as=Table;g=meta.k8s.io;v=v1``
and prints the columns and cells it gets back; this module builds that Table.
Facts carried over (not code) from kubernetes/kubernetes:

* ``pkg/printers/internalversion/printers.go`` -- ``AddHandlers`` column
  definitions (names, types, formats, priorities) and the row functions
  ``printPod``, ``printService``, ``printEndpoints``, ``printEndpointSlice``,
  ``printDeployment``, ``printReplicaSet``, ``printNode``, ``printNamespace``,
  ``printEvent``, ``printConfigMap``, ``printServiceAccount`` with their helpers
  (``formatEndpoints``, ``formatDiscoveryPorts``, ``formatDiscoveryEndpoints``,
  ``listWithMoreString``, ``getServiceExternalIP``, ``makePortString``,
  ``layoutContainerCells``, ``findNodeRoles``, ``formatEventSource``,
  ``translateTimestampSince``).
* ``pkg/printers/storage/storage.go`` -- the API server always generates the
  table with ``Wide: true``, so every column (priority 0 and 1) and every cell
  is sent; kubectl drops priority>0 columns unless ``-o wide``.
* ``pkg/printers/tablegenerator.go`` -- ``GenerateTable`` (Table envelope).
* ``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/response.go`` --
  ``asTable``: ``includeObject`` Metadata (default) / Object / None.
* ``staging/src/k8s.io/apiserver/pkg/registry/rest/table.go`` -- the default
  table convertor (columns ``Name`` and ``Created At``) for any other kind.
* ``staging/src/k8s.io/apimachinery/pkg/util/duration/duration.go`` --
  ``HumanDuration``.
* ``staging/src/k8s.io/apimachinery/pkg/labels`` (``FormatLabels``,
  ``Requirement.String``) and ``pkg/apis/meta/v1/helpers.go``
  (``LabelSelectorAsSelector``, ``FormatLabelSelector``) for selector cells.

Objects are the v1 JSON dicts the store holds. Where the Go printer reads an
internal-type field that v1 conversion/defaulting fills in (``podIPs`` from
``podIP``, ``clusterIPs`` from ``clusterIP``, Service ``type`` ClusterIP, port
``protocol`` TCP, ``replicas`` 1), the same fallback is applied here.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from ..registry.strategy import strategy_for
from ..registry.table import D_AGE as _D_AGE
from ..registry.table import (
    NONE,
    Column,
    Row,
    RowPrinter,
    human_duration,
    parse_time,
    translate_timestamp_since,
)
from ..registry.table import age as _age
from ..registry.table import age_col as _age_col
from ..registry.table import col as _col
from ..registry.table import int_or as _int
from ..registry.table import name_col as _name_col
from ..registry.table import obj_meta as _meta
from ..registry.table import obj_name as _name
from ..registry.table import obj_spec as _spec
from ..registry.table import obj_status as _status
from ..registry.table import since as _since

Obj = dict[str, Any]
Cell = str | int


# --------------------------------------------------------------------------
# Column descriptions (the SwaggerDoc texts printers.go refers to).
# --------------------------------------------------------------------------


# AddHandlers in printers.go, in source order and with source priorities.
POD_COLUMNS: list[Column] = [
    _name_col(),
    _col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", "string", "The aggregate status of the containers in this pod."),
    _col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last "
        "container in this pod has restarted.",
    ),
    _age_col(),
    _col(
        "IP",
        "string",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
        "allocated.",
        1,
    ),
    _col(
        "Node",
        "string",
        "NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the "
        "scheduler simply schedules this pod onto that node, assuming that it fits resource "
        "requirements.",
        1,
    ),
    _col(
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
    _col(
        "Readiness Gates",
        "string",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when "
        'all its containers are ready AND all conditions specified in the readiness gates have status '
        'equal to "True" More info: '
        "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
        1,
    ),
]


# rest/table.go defaultTableConvertor.
DEFAULT_COLUMNS: list[Column] = [
    _name_col(),
    _col("Created At", "date", _D_AGE),
]

# --------------------------------------------------------------------------
# Small accessors and formatters shared by several printers.
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Pod
# --------------------------------------------------------------------------

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
        if _int(terminated.get("signal")) != 0:
            return f"Init:Signal:{_int(terminated.get('signal'))}"
        return f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
    waiting = state.get("waiting")
    if waiting is not None and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
        return "Init:" + str(waiting["reason"])
    return f"Init:{index}/{count}"


def _walk_init_containers(pod: Obj, tally: _PodTally) -> bool:
    """First loop of printPod; returns ``initializing``."""
    init_specs = {c.get("name"): c for c in _spec(pod).get("initContainers") or []}
    count = len(_spec(pod).get("initContainers") or [])
    for i, cs in enumerate(_status(pod).get("initContainerStatuses") or []):
        tally.restarts += _int(cs.get("restartCount"))
        tally.last_restart = _later(tally.last_restart, _last_terminated(cs))
        sidecar = _is_restartable_init(init_specs.get(cs.get("name")))
        if sidecar:
            tally.sidecar_restarts += _int(cs.get("restartCount"))
            tally.last_sidecar_restart = _later(tally.last_sidecar_restart, _last_terminated(cs))
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated is not None and _int(terminated.get("exitCode")) == 0:
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
    for cond in _status(pod).get("conditions") or []:
        if cond.get("type") == type_:
            return bool(cond.get("status") == "True")
    return False


def _has_pod_ready_condition(pod: Obj) -> bool:
    """hasPodReadyCondition: any Ready condition with status True."""
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in _status(pod).get("conditions") or []
    )


def _walk_containers(pod: Obj, tally: _PodTally) -> None:
    """Second loop of printPod (containers walked from last to first)."""
    tally.restarts = tally.sidecar_restarts
    tally.last_restart = tally.last_sidecar_restart
    has_running = False
    for cs in reversed(_status(pod).get("containerStatuses") or []):
        tally.restarts += _int(cs.get("restartCount"))
        tally.last_restart = _later(tally.last_restart, _last_terminated(cs))
        state = cs.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting is not None and waiting.get("reason"):
            tally.reason = waiting["reason"]
        elif terminated is not None and terminated.get("reason"):
            tally.reason = terminated["reason"]
        elif terminated is not None:
            signal = _int(terminated.get("signal"))
            tally.reason = f"Signal:{signal}" if signal != 0 else f"ExitCode:{_int(terminated.get('exitCode'))}"
        elif cs.get("ready") and state.get("running") is not None:
            has_running = True
            tally.ready += 1
    if tally.reason == "Completed" and has_running:
        tally.reason = "Running" if _has_pod_ready_condition(pod) else "NotReady"


def pod_status_reason(pod: Obj) -> str:
    """The STATUS cell of ``kubectl get pods``."""
    return _pod_tally(pod).reason


def _pod_tally(pod: Obj) -> _PodTally:
    phase = _status(pod).get("phase") or ""
    reason = _status(pod).get("reason") or phase
    for cond in _status(pod).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    spec = _spec(pod)
    total = len(spec.get("containers") or []) + sum(
        1 for c in spec.get("initContainers") or [] if _is_restartable_init(c)
    )
    tally = _PodTally(reason, total)
    initializing = _walk_init_containers(pod, tally)
    if not initializing or _condition_true(pod, "Initialized"):
        _walk_containers(pod, tally)
    if _meta(pod).get("deletionTimestamp") and _status(pod).get("reason") == "NodeLost":
        tally.reason = "Unknown"
    elif _meta(pod).get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        tally.reason = "Terminating"
    return tally


def _readiness_gates(pod: Obj) -> str:
    gates = _spec(pod).get("readinessGates") or []
    if not gates:
        return NONE
    conditions = _status(pod).get("conditions") or []
    true_count = 0
    for gate in gates:
        for cond in conditions:
            if cond.get("type") == gate.get("conditionType"):
                true_count += cond.get("status") == "True"
                break
    return f"{true_count}/{len(gates)}"


def _pod_ip(pod: Obj) -> str:
    status = _status(pod)
    ips = status.get("podIPs") or ([{"ip": status["podIP"]}] if status.get("podIP") else [])
    return (ips[0].get("ip") if ips else "") or NONE


def _print_pod(pod: Obj, now: datetime.datetime) -> Row:
    tally = _pod_tally(pod)
    restarts = str(tally.restarts)
    if tally.restarts != 0 and tally.last_restart is not None:
        restarts = f"{tally.restarts} ({_since(tally.last_restart, now)} ago)"
    cells: list[Cell] = [
        _name(pod),
        f"{tally.ready}/{tally.total}",
        tally.reason,
        restarts,
        _age(pod, now),
        _pod_ip(pod),
        _spec(pod).get("nodeName") or NONE,
        _status(pod).get("nominatedNodeName") or NONE,
        _readiness_gates(pod),
    ]
    row: Row = {"cells": cells}
    phase = _status(pod).get("phase")
    if phase == "Succeeded":
        row["conditions"] = copy.deepcopy(_POD_SUCCEEDED_CONDITIONS)
    elif phase == "Failed":
        row["conditions"] = copy.deepcopy(_POD_FAILED_CONDITIONS)
    return row


# --------------------------------------------------------------------------
# Service, Endpoints, EndpointSlice
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Deployment, ReplicaSet
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Node, Namespace, Event, ConfigMap, ServiceAccount
# --------------------------------------------------------------------------


def _print_default(obj: Obj, now: datetime.datetime) -> Row:
    """rest/table.go: name and creationTimestamp in RFC3339 (UTC)."""
    ts = parse_time(_meta(obj).get("creationTimestamp"))
    created = (
        ts.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else "0001-01-01T00:00:00Z"
    )
    return {"cells": [_name(obj), created]}


# --------------------------------------------------------------------------
# Table assembly
# --------------------------------------------------------------------------

PRINTERS: dict[str, tuple[list[Column], RowPrinter]] = {
    "Pod": (POD_COLUMNS, _print_pod),
}

INCLUDE_OBJECT_VALUES = ("Metadata", "Object", "None")


__all__ = ["human_duration", "parse_time", "translate_timestamp_since", "columns_for", "table"]


def _printer(kind: str) -> tuple[list[Column], RowPrinter]:
    """The columns and row printer of ``kind``: its strategy's, else this module's, else the default."""
    s = strategy_for(kind)
    if s is not None and s.print_row is not None:
        return s.columns, s.print_row
    return PRINTERS.get(kind, (DEFAULT_COLUMNS, _print_default))


def columns_for(kind: str) -> list[Column]:
    """The column definitions the server sends for ``kind`` (all priorities)."""
    return copy.deepcopy(_printer(kind)[0])


def _row_object(obj: Obj, include_object: str) -> Obj | None:
    """response.go asTable: what goes in ``row.object``."""
    if include_object in ("Metadata", ""):
        return {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": copy.deepcopy(_meta(obj)),
        }
    if include_object == "Object":
        return copy.deepcopy(obj)
    if include_object == "None":
        return None
    raise ValueError(f'unrecognized includeObject value: "{include_object}"')


def table(
    kind: str,
    objects: list[dict[str, Any]],
    now: datetime.datetime,
    include_object: str = "Metadata",
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table for ``objects`` of ``kind``, as a v1.3x API server sends it.

    All columns (priority 0 and 1) and all cells are included, as the server
    does; kubectl hides priority>0 columns unless ``-o wide``. The caller fills
    ``metadata.resourceVersion``. ``include_object`` is the TableOptions
    ``includeObject`` value; an unknown value raises ``ValueError`` (a 400 on a
    real server).
    """
    columns, printer = _printer(kind)
    rows: list[Row] = []
    for obj in objects:
        row = printer(obj, now)
        embedded = _row_object(obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    if not objects:
        _row_object({}, include_object)  # still reject a bad includeObject
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": ""},
        "columnDefinitions": copy.deepcopy(columns),
        "rows": rows,
    }
