"""ServiceAccount (pkg/registry/core/serviceaccount): storage, validation, table columns.

Source: printers.go printServiceAccount; types.go ``Secrets []ObjectReference
`patchStrategy:"merge" patchMergeKey:"name"```. Only the metadata is validated here.
"""

from __future__ import annotations

import datetime
from typing import Any

from ..strategy import ResourceType, Strategy, register
from ..table import Column, Row, age, age_col, col, name_col
from ..validation import validate_meta_only

COLUMNS: list[Column] = [
    name_col(),
    col(
        "Secrets",
        "string",
        "Secrets is a list of the secrets in the same namespace that pods running using this "
        "ServiceAccount are allowed to use.",
    ),
    age_col(),
]


def print_row(obj: dict[str, Any], now: datetime.datetime) -> Row:
    return {"cells": [(obj.get("metadata") or {}).get("name") or "", len(obj.get("secrets") or []), age(obj, now)]}


STRATEGY = register(Strategy(
    resource=ResourceType("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", short_names=("sa",)),
    discovery_order=80,
    validate=validate_meta_only,
    columns=COLUMNS,
    print_row=print_row,
    patch_keys={"secrets": ("merge", "name")},
))
