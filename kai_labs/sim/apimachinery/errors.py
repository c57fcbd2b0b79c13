"""Kubernetes API errors as values: field errors and ``Status`` objects.

Facts carried over (not code) from
kubernetes/apimachinery ``pkg/util/validation/field/errors.go`` (``Error.Error``,
``ErrorBody``) and ``pkg/api/errors/errors.go`` (``NewInvalid``, ``NewNotFound``,
``NewAlreadyExists``, ``NewConflict``): the texts below are what a real API
server sends, so kubectl prints the same lines on the embedded cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# field.ErrorType -> (String(), CauseType)
_TYPES = {
    "Required": ("Required value", "FieldValueRequired"),
    "Invalid": ("Invalid value", "FieldValueInvalid"),
    "NotSupported": ("Unsupported value", "FieldValueNotSupported"),
    "Duplicate": ("Duplicate value", "FieldValueDuplicate"),
    "Forbidden": ("Forbidden", "FieldValueForbidden"),
    "TooLong": ("Too long", "FieldValueTooLong"),
    "TooMany": ("Too many", "FieldValueTooMany"),
    "NotFound": ("Not found", "FieldValueNotFound"),
}

_OMIT = object()


def _render_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: ``<path>: <type text>[: <value>][: <detail>]``."""

    type: str  # one of the keys of _TYPES
    field: str
    value: Any = _OMIT
    detail: str = ""

    def body(self) -> str:
        text, _ = _TYPES[self.type]
        s = text
        if self.type not in ("Required", "Forbidden", "TooLong", "TooMany") and self.value is not _OMIT:
            s = f"{text}: {_render_value(self.value)}"
        if self.type == "NotSupported" and self.detail == "" and self.value is _OMIT:
            s = text
        if self.detail:
            s += f": {self.detail}"
        return s

    def render(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        return {"reason": _TYPES[self.type][1], "message": self.body(), "field": self.field}


def required(path: str, detail: str = "") -> FieldError:
    return FieldError("Required", path, detail=detail)


def invalid(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError("Invalid", path, value, detail)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError("Forbidden", path, detail=detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError("Duplicate", path, value)


def not_supported(path: str, value: Any, supported: list[str]) -> FieldError:
    detail = ""
    if supported:
        detail = "supported values: " + ", ".join(json.dumps(s) for s in sorted(supported))
    return FieldError("NotSupported", path, value, detail)


def aggregate(errs: list[FieldError]) -> str:
    """``errs.ToAggregate().Error()``: one message, or ``[a, b]`` for several."""
    msgs: list[str] = []
    for e in errs:  # the aggregate drops exact duplicates
        r = e.render()
        if r not in msgs:
            msgs.append(r)
    if len(msgs) == 1:
        return msgs[0]
    return "[" + ", ".join(msgs) + "]"


@dataclass
class ApiError(Exception):
    """An error the API answers with: carries the whole ``Status`` body."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:  # metav1.Status: `json:"reason,omitempty"` (StatusReasonUnknown is "")
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def qualified_resource(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def qualified_kind(kind: str, group: str) -> str:
    return f"{kind}.{group}" if group else kind


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = kind
    return d


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        404, "NotFound", f'{qualified_resource(resource, group)} "{name}" not found',
        _details(name, group, resource),
    )


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        409, "AlreadyExists", f'{qualified_resource(resource, group)} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(resource: str, name: str, group: str = "", why: str = "") -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {qualified_resource(resource, group)} "{name}": {why}',
        _details(name, group, resource),
    )


def invalid_object(kind: str, group: str, name: str, errs: list[FieldError]) -> ApiError:
    details = _details(name, group, kind)
    details["causes"] = [e.cause() for e in errs]
    return ApiError(
        422, "Invalid", f'{qualified_kind(kind, group)} "{name}" is invalid: {aggregate(errs)}', details,
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden_error(resource: str, name: str, group: str, message: str) -> ApiError:
    res = qualified_resource(resource, group)
    return ApiError(403, "Forbidden", f'{res} "{name}" is forbidden: {message}', _details(name, group, resource))


def unknown_resource() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_supported(resource: str, group: str, verb: str) -> ApiError:
    return ApiError(
        405, "MethodNotAllowed",
        f"{verb} is not supported on resources of kind {qualified_resource(resource, group)!r}",
        _details("", group, resource),
    )


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_large(message: str = "Request entity too large: limit is 3145728") -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", message)


def unsupported_media_type(ct: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    'the body of the request was in an unknown format - accepted media types include: '
                    'application/json, application/yaml, application/vnd.kubernetes.protobuf', {})


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")


class DiskFull(ApiError):
    """A write refused because the cluster's disk (or the store's page limit) is full."""


def disk_full(home: str) -> DiskFull:
    """What a write answers while the store cannot commit for want of space.

    kube-apiserver has no Status of its own for this: etcd refuses the write with
    "etcdserver: mvcc: database space exceeded", etcd3's store returns the client's error as it is
    (staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go, Create/GuaranteedUpdate), the registry's
    InterpretCreateError/InterpretUpdateError pass an error they do not know through
    (pkg/storage/errors/storage.go), and ErrorToAPIStatus makes it a 500 with reason StatusReasonUnknown
    ("", so no reason field) and the error's text as message
    (pkg/endpoints/handlers/responsewriters/status.go); kubectl prints "Error from server: <message>".
    The code and the empty reason are kept; the message says what to do instead of etcd's words.
    """
    return DiskFull(500, "", f"the cluster's disk is full: free space in {home}")


def shutting_down() -> ApiError:
    """A request that reaches the store after it closed: what kube-apiserver answers while it drains
    (staging/src/k8s.io/apiserver/pkg/server/filters/waitgroup.go: NewServiceUnavailable)."""
    return ApiError(503, "ServiceUnavailable", "apiserver is shutting down")


def storage_failed(why: str) -> ApiError:
    """Any other write the store could not commit (an I/O error): a 500 with the error's text and no
    reason, as kube-apiserver answers an etcd error it does not interpret (see disk_full)."""
    return ApiError(500, "", why)
