"""Query and DeleteOptions checks as kube-apiserver makes them before it touches storage.

ListOptions: apimachinery/pkg/apis/meta/internalversion/validation; DeleteOptions:
apimachinery/pkg/apis/meta/v1/validation (ValidateDeleteOptions) and the Go JSON decoder's texts;
dryRun and fieldValidation: apiserver/pkg/endpoints/handlers (rest.go, fieldmanager).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..apimachinery import errors

_INT64 = re.compile(r"[+-]?[0-9]+")


def parse_int64(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 10, 64)``, with its error texts (ValueError): a sign and ASCII
    digits only, so ``nan``, ``inf``, ``1e3``, ``1.5``, `` 5`` and ``1_000`` are all refused."""
    quoted = json.dumps(text)
    if not _INT64.fullmatch(text):
        raise ValueError(f"strconv.ParseInt: parsing {quoted}: invalid syntax")
    n = int(text, 10)
    if not -(2 ** 63) <= n < 2 ** 63:
        raise ValueError(f"strconv.ParseInt: parsing {quoted}: value out of range")
    return n


def timeout_seconds(q: Any) -> int | None:
    """ListOptions.timeoutSeconds as the query parameter codec decodes it (runtime
    ``Convert_Slice_string_To_Pointer_int64``): an integer, or 400 BadRequest with strconv's text.
    The first value counts (an empty one is refused too, as ParseInt refuses "")."""
    values = q.getall("timeoutSeconds", []) if hasattr(q, "getall") else [q["timeoutSeconds"]] if (
        "timeoutSeconds" in q) else []
    if not values:
        return None
    try:
        return parse_int64(values[0])
    except ValueError as e:
        raise errors.bad_request(str(e)) from None


def list_options(q: Any, watch: bool) -> int | None:
    """ListOptions checks of the real apiserver; returns the resourceVersion as a number (None: unset/0).

    The query is decoded first (``ParameterCodec.DecodeParameters``: a timeoutSeconds that is not an
    int64 is 400); then ``ValidateListOptions`` (apimachinery/pkg/apis/meta/internalversion/validation)
    answers 422 Invalid for kind ListOptions; a resourceVersion that is not a number is the storage
    layer's ``APIObjectVersioner.ParseResourceVersion`` error, answered as 400."""
    timeout_seconds(q)
    rv = q.get("resourceVersion", "")
    match = q.get("resourceVersionMatch", "")
    errs: list[errors.FieldError] = []
    if match:
        if match not in ("Exact", "NotOlderThan"):
            errs.append(errors.FieldError("NotSupported", "resourceVersionMatch", match,
                                          'supported values: "Exact", "NotOlderThan"'))
        elif not rv:
            errs.append(errors.forbidden("resourceVersionMatch",
                                         "resourceVersionMatch is forbidden unless resourceVersion is provided"))
        elif q.get("continue"):
            errs.append(errors.forbidden("resourceVersionMatch",
                                         "resourceVersionMatch is forbidden when continue is provided"))
        elif match == "Exact" and rv == "0":
            errs.append(errors.forbidden("resourceVersionMatch",
                                         'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if errs:
        raise errors.invalid_object("ListOptions", "meta.k8s.io", "", errs)
    if rv in ("", "0"):
        return None
    try:
        n = int(rv, 10)
        if not 0 < n < 2 ** 64 or not rv.isdigit():
            raise ValueError
    except ValueError:
        if watch:
            raise errors.bad_request(f'invalid resource version "{rv}"') from None
        raise errors.bad_request(f'resourceVersion: Invalid value: "{rv}": strconv.ParseUint: parsing '
                                 f'{json.dumps(rv)}: invalid syntax') from None
    return n


_DELETE_OPTION_TYPES = {"gracePeriodSeconds": ("int64", int), "propagationPolicy": ("string", str),
                        "orphanDependents": ("bool", bool), "dryRun": ("[]string", list),
                        "preconditions": ("v1.Preconditions", dict)}


def _go_json_kind(v: Any) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(v), "value")


def check_delete_options(opts: dict[str, Any]) -> None:
    """Decode DeleteOptions as the Go types do: a wrong type is a 400 and deletes nothing
    (e.g. ``"dryRun": "All"`` must not delete for real)."""
    for k, (go, py) in _DELETE_OPTION_TYPES.items():
        v = opts.get(k)
        if v is None:
            continue
        ok = isinstance(v, py) and not (py is int and isinstance(v, bool))
        if k == "dryRun" and ok:
            ok = all(isinstance(x, str) for x in v)
            if ok and any(x != "All" for x in v):
                raise errors.bad_request(f'Invalid dryRun value: "{next(x for x in v if x != "All")}"; '
                                         'supported values: "All"')
        if k == "preconditions" and ok:
            ok = all(isinstance(v.get(f), (str, type(None))) for f in ("uid", "resourceVersion"))
        if not ok:
            raise errors.bad_request(f"json: cannot unmarshal {_go_json_kind(v)} into Go struct field "
                                     f"DeleteOptions.{k} of type {go}")


def check_propagation(prop: Any) -> None:
    """``ValidateDeleteOptions``: an unknown propagationPolicy is 422, and nothing is deleted."""
    if prop not in (None, "", "Foreground", "Background", "Orphan"):
        raise errors.invalid_object("DeleteOptions", "meta.k8s.io", "", [errors.FieldError(
            "NotSupported", "propagationPolicy", prop,
            'supported values: "Foreground", "Background", "Orphan", "nil"')])


def write_options(q: Any) -> tuple[bool, str]:
    """dryRun ("All" or unset) and fieldValidation (the apiserver's default directive is Warn)."""
    dry_run = q.get("dryRun") == "All"
    if "dryRun" in q and q.get("dryRun") not in ("All", ""):
        raise errors.bad_request(f'Invalid dryRun value: "{q.get("dryRun")}"; supported values: "All"')
    fv = q.get("fieldValidation", "Warn")
    if fv not in ("Ignore", "Warn", "Strict"):
        raise errors.bad_request(f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got "{fv}"')
    return dry_run, str(fv)


def check_path_name(name: str) -> None:
    if name in (".", "..") or "/" in name or "%" in name:
        raise errors.bad_request(f'invalid resource name "{name}": may not contain \'/\' or \'%\'')
