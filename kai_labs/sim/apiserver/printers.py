"""Server-side ``Table`` printers: what ``kubectl get`` (and ``-o wide``) shows.

kubectl asks the API server for ``application/json;as=Table;g=meta.k8s.io;v=v1``
and prints the columns and cells it gets back; this module builds that Table.
Each kind's columns and row function (printers.go ``AddHandlers`` and ``print<Kind>``) live in
its strategy module (``registry/core/<kind>.py``, ``registry/<group>/<kind>.py``); the helpers
several kinds share (``listWithMoreString``, ``layoutContainerCells``, ``FormatLabels``,
``FormatLabelSelector``, ``HumanDuration``, ``translateTimestampSince``) in ``registry/table.py``.
This module assembles the Table. Facts carried over (not code) from kubernetes/kubernetes:

* ``pkg/printers/storage/storage.go`` -- the API server always generates the
  table with ``Wide: true``, so every column (priority 0 and 1) and every cell
  is sent; kubectl drops priority>0 columns unless ``-o wide``.
* ``pkg/printers/tablegenerator.go`` -- ``GenerateTable`` (Table envelope).
* ``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/response.go`` --
  ``asTable``: ``includeObject`` Metadata (default) / Object / None.
* ``staging/src/k8s.io/apiserver/pkg/registry/rest/table.go`` -- the default
  table convertor (columns ``Name`` and ``Created At``) for any other kind.

Objects are the v1 JSON dicts the store holds. Where the Go printer reads an
internal-type field that v1 conversion/defaulting fills in (``podIPs`` from
``podIP``, ``clusterIPs`` from ``clusterIP``, Service ``type`` ClusterIP, port
``protocol`` TCP, ``replicas`` 1), the kind's row function applies the same fallback.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from ..registry.strategy import strategy_for
from ..registry.table import D_AGE as _D_AGE
from ..registry.table import (
    Column,
    Row,
    RowPrinter,
    human_duration,
    parse_time,
    translate_timestamp_since,
)
from ..registry.table import col as _col
from ..registry.table import name_col as _name_col
from ..registry.table import obj_meta as _meta
from ..registry.table import obj_name as _name

Obj = dict[str, Any]

# rest/table.go defaultTableConvertor.
DEFAULT_COLUMNS: list[Column] = [
    _name_col(),
    _col("Created At", "date", _D_AGE),
]


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

INCLUDE_OBJECT_VALUES = ("Metadata", "Object", "None")


__all__ = ["human_duration", "parse_time", "translate_timestamp_since", "columns_for", "table"]


def _printer(kind: str) -> tuple[list[Column], RowPrinter]:
    """The columns and row printer of ``kind``: its strategy's, else the default table convertor's."""
    s = strategy_for(kind)
    if s is not None and s.print_row is not None:
        return s.columns, s.print_row
    return DEFAULT_COLUMNS, _print_default


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
