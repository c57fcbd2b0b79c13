"""PATCH bodies as the Kubernetes API server applies them.

Three patch types (``Content-Type`` of a PATCH request):

* ``application/merge-patch+json`` -- RFC 7386, :func:`merge_patch`.
* ``application/json-patch+json`` -- RFC 6902, :func:`json_patch` (applied
  with the ``jsonpatch`` package).
* ``application/strategic-merge-patch+json`` -- :func:`strategic_merge`, what
  kubectl apply (client side), edit, label, annotate, scale, rollout restart
  and set image send.

Facts carried over (not code) from kubernetes/kubernetes:

* ``staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch.go`` --
  ``mergeMap``, ``mergeSlice``, ``mergePatchIntoOriginal``
  (``$setElementOrder``), ``applyRetainKeysDirective``,
  ``preprocessDeletionListForMerging`` (``$deleteFromPrimitiveList``),
  ``handleDirectiveInMergeMap`` (``$patch``), ``removeDirectives``,
  ``normalizeElementOrder`` / ``mergeSortedSlice`` / ``deduplicateScalars``;
  the server applies with ``MergeParallelList`` and ``IgnoreUnmatchedNulls``.
* ``staging/src/k8s.io/apimachinery/pkg/util/mergepatch/errors.go`` -- texts.
* ``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`` --
  ``applyJSPatch`` (decode error -> 400, apply error -> 422 via
  ``NewGenericServerResponse``, more than 10000 operations -> 413) and
  ``interpretStrategicMergePatchError`` (which errors are 400 / 422; others
  become 500 with reason Unknown through ``ErrorToAPIStatus``).
* ``staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go``
  (``NewGenericServerResponse``: 422 -> reason Invalid, message "the server
  rejected our request due to an error in our request").
* ``staging/src/k8s.io/api/core/v1/types.go``, ``apps/v1/types.go``,
  ``batch/v1/types.go``, ``apimachinery/pkg/apis/meta/v1/types.go`` -- the
  ``patchStrategy`` / ``patchMergeKey`` struct tags, tabulated in each kind's strategy
  (``registry/strategy.py``: ``Strategy.patch_keys``; ObjectMeta's for every kind).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from ..registry.strategy import OBJECT_META_PATCH_KEYS, strategy_for

MAX_JSON_PATCH_OPERATIONS = 10000
_GENERIC_422 = "the server rejected our request due to an error in our request"

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList"
SET_ORDER_PREFIX = "$setElementOrder"

# mergepatch/errors.go (and the strategicpatch errors the handler maps to 400)
ERR_BAD_JSON_DOC = "invalid JSON document"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"
ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_SET_ORDER = "invalid patch format of setElementOrder list"


class PatchError(ValueError):
    """A patch the API server refuses; carries the Status code and reason."""

    def __init__(self, message: str, status_code: int = 400, reason: str = "BadRequest",
                 detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.reason = reason
        self.detail = detail or message


def _bad_request(msg: str) -> PatchError:
    return PatchError(msg, 400, "BadRequest")


def _invalid_422(detail: str) -> PatchError:
    return PatchError(_GENERIC_422, 422, "Invalid", detail)


def _internal(msg: str) -> PatchError:
    # ErrorToAPIStatus for an error that is not a Status: 500, reason Unknown ("")
    return PatchError(msg, 500, "", msg)


# ---------------------------------------------------------------------------
# Go formatting helpers for error texts
# ---------------------------------------------------------------------------


def _go_type(v: Any) -> str:
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    return "<nil>"


def _go_v(v: Any) -> str:
    """Go's ``%v`` of a decoded JSON value."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_v(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go_v(x) for x in v) + "]"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _json_kind(v: Any) -> str:
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "object"


class _SMPError(Exception):
    """Internal: an error inside the strategic merge, mapped at the top."""


def _err_bad_arg_type(expected: str, actual: Any) -> _SMPError:
    return _SMPError(f"expected a {expected}, but received a {_go_type(actual)}")


def _err_no_merge_key(m: dict[str, Any], key: str) -> _SMPError:
    return _SMPError(f"map: {_go_v(m)} does not contain declared merge key: {key}")


def _err_bad_patch_type(t: Any, m: dict[str, Any]) -> _SMPError:
    return _SMPError(f"unknown patch type: {_go_v(t)} in map: {_go_v(m)}")


# ---------------------------------------------------------------------------
# RFC 7386 merge patch
# ---------------------------------------------------------------------------


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    return _merge_object(target, patch)


def _merge_object(target: Any, patch: dict[str, Any]) -> dict[str, Any]:
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = _merge(result.get(k), v)
    return result


def merge_patch(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch; a non-object patch is refused like the server."""
    if patch is None:
        raise _bad_request("Invalid JSON Patch")
    if not isinstance(patch, dict):
        raise _bad_request("error decoding patch: json: cannot unmarshal "
                           f"{_json_kind(patch)} into Go value of type map[string]interface {{}}")
    return _merge_object(copy.deepcopy(original), patch)


# ---------------------------------------------------------------------------
# RFC 6902 JSON patch
# ---------------------------------------------------------------------------


def json_patch(original: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 JSON patch; failures carry the status the server answers with."""
    if not isinstance(ops, list):
        raise _bad_request(f"json: cannot unmarshal {_json_kind(ops) if not isinstance(ops, dict) else 'object'}"
                           " into Go value of type jsonpatch.Patch")
    for op in ops:
        if not isinstance(op, dict):
            raise _bad_request(f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError("Request entity too large: The allowed maximum operations in a JSON patch is "
                         f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}", 413, "RequestEntityTooLarge")
    try:
        result = jsonpatch.JsonPatch(ops).apply(copy.deepcopy(original), in_place=False)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException,
            KeyError, IndexError, TypeError, ValueError) as e:
        raise _invalid_422(f"{type(e).__name__}: {e}") from None
    if not isinstance(result, dict):
        raise _invalid_422("the patched document is not an object")
    return result


# ---------------------------------------------------------------------------
# Patch metadata (struct tags) per kind
# ---------------------------------------------------------------------------

Meta = tuple[str, str]  # (patch strategy, merge key); strategy "merge" or "replace"
MERGE, REPLACE = "merge", "replace"


def _at(prefix: str, table: dict[str, Meta]) -> dict[str, Meta]:
    return {f"{prefix}.{k}": v for k, v in table.items()}


def _with_meta(*parts: dict[str, Meta]) -> dict[str, Meta]:
    out = _at("metadata", OBJECT_META_PATCH_KEYS)
    for p in parts:
        out.update(p)
    return out


def patch_meta(kind: str) -> dict[str, Meta]:
    """The kind's list paths (dotted from the object root, ``[]`` steps into a list's elements): metadata's,
    then its strategy's ``patch_keys``. Paths not listed: maps merge, lists are replaced."""
    strategy = strategy_for(kind)
    return _with_meta(strategy.patch_keys) if strategy is not None else _DEFAULT_META


_DEFAULT_META = _with_meta()


def _lookup(table: dict[str, Meta], path: str) -> Meta:
    return table.get(path, ("", ""))


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ---------------------------------------------------------------------------
# Strategic merge patch
# ---------------------------------------------------------------------------


def _type_key(v: Any) -> str:
    return _go_type(v)


def _eq(a: Any, b: Any) -> bool:
    """Go interface equality of decoded JSON scalars (int64 != float64)."""
    return _type_key(a) == _type_key(b) and a == b


def strategic_merge(kind: str, original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a strategic merge patch to a built-in object, as the server does."""
    if patch is None:
        patch = {}
    if not isinstance(patch, dict):
        raise _bad_request(f"json: cannot unmarshal {_json_kind(patch)} "
                           "into Go value of type map[string]interface {}")
    table = patch_meta(kind)
    try:
        return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), table, "")
    except _SMPError as e:
        msg = str(e)
        if msg in (ERR_BAD_JSON_DOC, ERR_BAD_PRIMITIVE_LIST, ERR_BAD_RETAIN_KEYS, ERR_BAD_SET_ORDER):
            raise _bad_request(msg) from None
        if msg == ERR_NO_LIST_OF_LISTS:
            raise _invalid_422(msg) from None
        raise _internal(msg) from None


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any],
               table: dict[str, Meta], path: str) -> dict[str, Any]:
    if DIRECTIVE in patch:
        return _handle_map_directive(patch[DIRECTIVE], patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_set_element_order(original, patch, table, path)
    for key in list(patch):
        _merge_key(original, key, patch[key], table, path)
    return original


def _handle_map_directive(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    if directive == "replace":
        del patch[DIRECTIVE]
        return patch
    if directive == "delete":
        return {}
    raise _err_bad_patch_type(directive, patch)


def _extract_key(key: str, prefix: str) -> str:
    parts = key.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        raise _SMPError(ERR_BAD_PRIMITIVE_LIST if prefix == DELETE_PRIMITIVE_PREFIX else ERR_BAD_SET_ORDER)
    return parts[1]


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _SMPError(ERR_BAD_RETAIN_KEYS)
    for k, v in patch.items():
        if v is None or k.startswith(DELETE_PRIMITIVE_PREFIX) or k.startswith(SET_ORDER_PREFIX):
            continue
        if k not in retain:
            raise _SMPError(ERR_BAD_RETAIN_KEYS)
    for k in list(original):
        if k not in retain:
            del original[k]


def _merge_key(original: dict[str, Any], key: str, patch_v: Any, table: dict[str, Meta], path: str) -> None:
    is_delete_list = False
    if key.startswith(DELETE_PRIMITIVE_PREFIX):
        key = _extract_key(key, DELETE_PRIMITIVE_PREFIX)
        is_delete_list = True
    if patch_v is None:
        original.pop(key, None)
        return
    if key not in original or _type_key(original[key]) != _type_key(patch_v):
        if not is_delete_list:
            _discard_nulls(patch_v)
            v, keep = _remove_directives(patch_v)
            if keep:
                original[key] = v
            else:
                original.pop(key, None)
        return
    sub = _child(path, key)
    strategy, merge_key = _lookup(table, sub)
    cur = original[key]
    if isinstance(cur, dict):
        original[key] = patch_v if strategy == REPLACE else _merge_map(cur, patch_v, table, sub)
    elif isinstance(cur, list):
        original[key] = _merge_slice_handler(cur, patch_v, table, sub, strategy, merge_key, is_delete_list)
    else:
        original[key] = _remove_directives(patch_v)[0]


def _discard_nulls(v: Any) -> None:
    if isinstance(v, dict):
        for k in list(v):
            if v[k] is None:
                del v[k]
            else:
                _discard_nulls(v[k])
    elif isinstance(v, list):
        for x in v:
            _discard_nulls(x)


def _remove_directives(obj: Any) -> tuple[Any, bool]:
    if isinstance(obj, dict):
        if DIRECTIVE in obj:
            return None, False
        for k in list(obj):
            v, keep = _remove_directives(obj[k])
            if keep:
                obj[k] = v
            else:
                del obj[k]
        return obj, True
    if isinstance(obj, list):
        res = []
        for x in obj:
            v, keep = _remove_directives(x)
            if keep:
                res.append(v)
        return res, True
    return obj, True


def _merge_slice_handler(original: list[Any], patch: list[Any], table: dict[str, Meta], path: str,
                         strategy: str, merge_key: str, is_delete_list: bool) -> list[Any]:
    if strategy == MERGE:
        return _merge_slice(original, patch, table, path, merge_key, is_delete_list)
    return patch


def _slice_element_type(*slices: list[Any]) -> str:
    prev: str | None = None
    for s in slices:
        for v in s:
            cur = _type_key(v)
            if prev is None:
                prev = cur
                if cur == "[]interface {}":
                    raise _SMPError(ERR_NO_LIST_OF_LISTS)
            elif prev != cur:
                raise _SMPError("list element types are not identical: " + _go_v(list(slices)))
    if prev is None:
        raise _SMPError("no elements in any of the given slices")
    return prev


def _merge_slice(original: list[Any], patch: list[Any], table: dict[str, Meta], path: str,
                 merge_key: str, is_delete_list: bool) -> list[Any]:
    if not original and not patch:
        return original
    elem = _slice_element_type(original, patch)
    is_map = elem == "map[string]interface {}"
    if not is_map:
        if is_delete_list:
            return [v for v in original if not any(_eq(v, d) for d in patch)]
        merged = _dedupe_scalars(original + patch)
        mk = ""
    else:
        if not merge_key:
            raise _SMPError("cannot merge lists without merge key for type struct")
        original, patch = _merge_special_elements(original, patch, merge_key)
        merged = _merge_without_special(original, patch, merge_key, table, path + "[]")
        mk = merge_key
    patch_items, server_only = _partition(merged, patch, mk)
    return _normalize_element_order(patch_items, server_only, patch, original, mk)


def _dedupe_scalars(s: list[Any]) -> list[Any]:
    # deduplicateScalars: a later duplicate is overwritten by the last element
    s = list(s)
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if _eq(s[i], s[j]):
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _merge_special_elements(original: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    plain: list[Any] = []
    replace = False
    for v in patch:
        if DIRECTIVE not in v:
            plain.append(v)
            continue
        d = v[DIRECTIVE]
        if d == "delete":
            if merge_key not in v:
                raise _err_no_merge_key(v, merge_key)
            original = [o for o in original if not _key_matches(o, merge_key, v[merge_key])]
        elif d == "replace":
            replace = True
        elif d == "merge":
            raise _SMPError("merging lists cannot yet be specified in the patch")
        else:
            raise _err_bad_patch_type(d, v)
    if replace:
        return plain, []
    return original, plain


def _key_matches(item: Any, merge_key: str, value: Any) -> bool:
    if not isinstance(item, dict):
        raise _SMPError("value for key is not a map.")
    return merge_key in item and _eq(item[merge_key], value)


def _find(items: list[Any], merge_key: str, value: Any) -> int:
    for i, item in enumerate(items):
        if _key_matches(item, merge_key, value):
            return i
    return -1


def _merge_without_special(original: list[Any], patch: list[Any], merge_key: str,
                           table: dict[str, Meta], path: str) -> list[Any]:
    for v in patch:
        if merge_key not in v:
            raise _err_no_merge_key(v, merge_key)
        i = _find(original, merge_key, v[merge_key])
        if i >= 0:
            original[i] = _merge_map(original[i], v, table, path)
        else:
            # the typed decode drops directive keys in a new element
            original.append(_remove_directives(v)[0])
    return original


def _merge_set_element_order(original: dict[str, Any], patch: dict[str, Any],
                             table: dict[str, Meta], path: str) -> None:
    for key in [k for k in patch if k.startswith(SET_ORDER_PREFIX)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _err_bad_arg_type("[]interface {}", order)
        okey = _extract_key(key, SET_ORDER_PREFIX)
        found_o, found_p = okey in original, okey in patch
        o_raw = original.get(okey) if found_o else []
        p_raw = patch.get(okey) if found_p else []
        if not isinstance(o_raw, list):
            raise _err_bad_arg_type("[]interface {}", o_raw)
        if not isinstance(p_raw, list):
            raise _err_bad_arg_type("[]interface {}", p_raw)
        o_list: list[Any] = o_raw
        p_list: list[Any] = p_raw
        sub = _child(path, okey)
        strategy, merge_key = _lookup(table, sub)
        _validate_set_order(p_list, order, merge_key)
        if not found_o and not found_p:
            continue
        if found_o and found_p:
            merged = _merge_slice_handler(o_list, p_list, table, sub, strategy, merge_key, False)
        else:
            merged = o_list if found_o else p_list
        patch_items, server_only = _partition(merged, order, merge_key)
        _slice_element_type(o_list, p_list)
        original[okey] = _normalize_element_order(patch_items, server_only, order, o_list, merge_key)
        patch.pop(okey, None)


def _has_directive(item: Any) -> bool:
    return isinstance(item, dict) and DIRECTIVE in item


def _validate_set_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    if not order or not patch_list:
        return
    if merge_key:
        non_delete, _ = _split_deletes(patch_list)
    else:
        non_delete = patch_list
    pi = oi = 0
    while pi < len(non_delete) and oi < len(order):
        if _has_directive(non_delete[pi]):
            pi += 1
            continue
        if _merge_key_equal(non_delete[pi], order[oi], merge_key):
            pi += 1
        oi += 1
    if pi < len(non_delete) and oi >= len(order):
        raise _SMPError(f"The order in patch list:\n{_go_v(patch_list)}\n doesn't match "
                        f"{SET_ORDER_PREFIX} list:\n{_go_v(order)}\n")


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _eq(left, right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise _err_bad_arg_type("map[string]interface {}", side)
        if merge_key not in side:
            raise _err_no_merge_key(side, merge_key)
    return _eq(left[merge_key], right[merge_key])


def _split_deletes(items: list[Any]) -> tuple[list[Any], list[Any]]:
    keep: list[Any] = []
    delete: list[Any] = []
    for v in items:
        if not isinstance(v, dict):
            raise _err_bad_arg_type("map[string]interface {}", v)
        (delete if v.get(DIRECTIVE) == "delete" else keep).append(v)
    return keep, delete


def _partition(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    in_patch: list[Any] = []
    server_only: list[Any] = []
    for v in merged:
        if not merge_key:
            found = any(_eq(v, b) for b in by)
        else:
            if not isinstance(v, dict):
                raise _err_bad_arg_type("map[string]interface {}", v)
            if merge_key not in v:
                raise _err_no_merge_key(v, merge_key)
            found = _find(by, merge_key, v[merge_key]) >= 0
        (in_patch if found else server_only).append(v)
    return in_patch, server_only


def _index(items: list[Any], v: Any, merge_key: str) -> int:
    def val(x: Any) -> Any:
        if merge_key:
            return x.get(merge_key) if isinstance(x, dict) else None
        return x
    target = val(v)
    for i, x in enumerate(items):
        if _eq(target, val(x)):
            return i
    return -1


def _normalize_slice_order(to_sort: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    deletes: list[Any] = []
    if merge_key:
        for lst in (to_sort, order):
            for item in lst:
                if not isinstance(item, dict):
                    raise _err_bad_arg_type("map[string]interface {}", item)
                if merge_key not in item:
                    raise _err_no_merge_key(item, merge_key)
        to_sort, deletes = _split_deletes(to_sort)
    items = list(to_sort)

    def less(a: Any, b: Any) -> bool:
        ia, ib = _index(order, a, merge_key), _index(order, b, merge_key)
        return ia < ib if ia >= 0 and ib >= 0 else True

    # sort.SliceStable with this (non-strict) less: insertion sort
    for i in range(1, len(items)):
        j = i
        while j > 0 and less(items[j], items[j - 1]):
            items[j], items[j - 1] = items[j - 1], items[j]
            j -= 1
    return items + deletes


def _normalize_element_order(patch_items: list[Any], server_only: list[Any], patch_order: list[Any],
                             server_order: list[Any], merge_key: str) -> list[Any]:
    left = _normalize_slice_order(server_only, server_order, merge_key)
    right = _normalize_slice_order(patch_items, patch_order, merge_key)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = _index(server_order, left[i], merge_key), _index(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out
