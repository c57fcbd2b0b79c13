"""ConfigMap (pkg/registry/core/configmap): storage, validation, table columns.

Source: pkg/apis/core/validation/validation.go ValidateConfigMap, ValidateConfigMapUpdate;
pkg/printers/internalversion/printers.go printConfigMap. No visible defaults
(SetDefaults_ConfigMap's empty data map is omitted in JSON); strategic merge patches touch only
metadata's lists.
"""

from __future__ import annotations

import datetime
from typing import Any

from ....k8s.validation import byte_len as _blen
from ....k8s.validation import is_config_map_key
from ...apimachinery.errors import forbidden, invalid
from ..strategy import ResourceType, Strategy, register
from ..table import Column, Row, age, age_col, col, name_col
from ..validation import Errs, _get_str_map, _meta_errs, _too_long, name_is_dns_subdomain

_MAX_CONFIG_SIZE = 1024 * 1024


def validate(obj: dict[str, Any], old: dict[str, Any] | None) -> Errs:
    """ValidateConfigMap (+ immutable ConfigMaps on update)."""
    errs = _meta_errs(obj, old, name_is_dns_subdomain)
    data = _get_str_map(obj, "data", "data", errs) or {}
    binary = _get_str_map(obj, "binaryData", "binaryData", errs) or {}
    total = 0
    for key, value in data.items():
        errs.extend(invalid(f"data[{key}]", key, m) for m in is_config_map_key(key))
        if key in binary:
            errs.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        total += _blen(value)
    for key, value in binary.items():
        errs.extend(invalid(f"binaryData[{key}]", key, m) for m in is_config_map_key(key))
        total += len(value) * 3 // 4
    if total > _MAX_CONFIG_SIZE:
        errs.append(_too_long("", _MAX_CONFIG_SIZE))
    if old is not None and old.get("immutable") is True:
        msg = "field is immutable when `immutable` is set"
        if obj.get("immutable") is not True:
            errs.append(forbidden("immutable", msg))
        for key in ("data", "binaryData"):
            if (obj.get(key) or {}) != (old.get(key) or {}):
                errs.append(forbidden(key, msg))
    return errs


COLUMNS: list[Column] = [
    name_col(),
    col(
        "Data",
        "string",
        "Data contains the configuration data. Each key must consist of alphanumeric characters, "
        "'-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys "
        "stored in Data must not overlap with the keys in the BinaryData field, this is enforced "
        "during validation process.",
    ),
    age_col(),
]


def print_row(obj: dict[str, Any], now: datetime.datetime) -> Row:
    data = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return {"cells": [(obj.get("metadata") or {}).get("name") or "", data, age(obj, now)]}


STRATEGY = register(Strategy(
    resource=ResourceType("", "v1", "ConfigMap", "configmaps", "configmap", short_names=("cm",)),
    discovery_order=70,
    validate=validate,
    columns=COLUMNS,
    print_row=print_row,
))
