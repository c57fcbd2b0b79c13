"""Lease (pkg/registry/coordination/lease): storage, decoding of its MicroTimes, validation, columns.

A kubelet proves it is alive by renewing the Lease named after its Node in ``kube-node-lease`` (the
node lifecycle controller reads ``spec.renewTime``); leader election uses Leases too.

Source: pkg/apis/coordination/validation/validation.go ValidateLease, ValidateLeaseSpec;
pkg/registry/coordination/lease/strategy.go (PrepareForCreate/PrepareForUpdate drop ``strategy`` and
``preferredHolder`` while the CoordinatedLeaderElection feature gate is off, its default);
staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/micro_time.go (RFC3339Micro, written back in UTC) and
Go's time.Parse for the text of a MicroTime that does not parse; pkg/printers/internalversion/printers.go
printLease (NAME, HOLDER, AGE).
"""

from __future__ import annotations

import datetime
from typing import Any

from ...apimachinery import errors
from ...apimachinery.errors import invalid
from ..strategy import ResourceType, Strategy, register
from ..table import Column, Row, age, age_col, col, name_col, obj_name
from ..validation import Errs, _get_int, _get_map, _meta_errs, name_is_dns_subdomain

Obj = dict[str, Any]

RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
MICRO_TIME_FIELDS = ("acquireTime", "renewTime")

_D_HOLDER = ("holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader "
             "Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name "
             "field.")


def _quote(s: str) -> str:
    """Go time's quote(): the text in double quotes, quotes and backslashes escaped."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _digits(s: str, n: int) -> bool:
    return len(s) >= n and all("0" <= c <= "9" for c in s[:n])


def _num(s: str, fixed: bool) -> tuple[int, str] | None:
    """Go time's getnum: one or two digits (exactly two when ``fixed``)."""
    if not _digits(s, 1):
        return None
    if not _digits(s, 2):
        return None if fixed else (int(s[0]), s[1:])
    return int(s[:2]), s[2:]


def parse_micro_time(value: str) -> tuple[datetime.datetime | None, str]:
    """metav1.MicroTime's UnmarshalJSON: time.Parse(RFC3339Micro, value). Returns (time, "") or
    (None, Go's ParseError text)."""
    def cannot(rest: str, elem: str) -> tuple[None, str]:
        return None, (f"parsing time {_quote(value)} as {_quote(RFC3339_MICRO)}: cannot parse {_quote(rest)} as "
                      f"{_quote(elem)}")

    def out_of_range(what: str) -> tuple[None, str]:
        return None, f"parsing time {_quote(value)}: {what} out of range"

    rest = value
    if len(rest) < 4 or not _digits(rest, 4):
        return cannot(rest, "2006")
    year, rest = int(rest[:4]), rest[4:]
    fields: list[int] = []
    # (literal before, layout element, fixed width, upper bound exclusive, range name)
    for lit, elem, fixed, limit, what in (("-", "01", True, 13, "month"), ("-", "02", True, 100, "day"),
                                          ("T", "15", False, 24, "hour"), (":", "04", True, 60, "minute"),
                                          (":", "05", True, 60, "second")):
        if not rest.startswith(lit):
            return cannot(rest, lit)
        rest = rest[len(lit):]
        got = _num(rest, fixed)
        if got is None:
            return cannot(rest, elem)
        n, after = got
        if (what == "month" and n < 1) or n >= limit:
            return out_of_range(what)
        fields.append(n)
        rest = after
    if len(rest) < 7 or rest[0] not in ".," or not _digits(rest[1:], 6):
        return cannot(rest, ".000000")
    micros, rest = int(rest[1:7]), rest[7:]
    if rest.startswith("Z"):
        offset, rest = 0, rest[1:]
    else:
        if len(rest) < 6 or rest[3] != ":" or rest[0] not in "+-":
            return cannot(rest, "Z07:00")
        hh, mm = _num(rest[1:3], True), _num(rest[4:6], True)
        if hh is None or mm is None:
            return cannot(rest, "Z07:00")
        if hh[0] > 24:
            return out_of_range("time zone offset hour")
        if mm[0] > 60:
            return out_of_range("time zone offset minute")
        offset = (hh[0] * 60 + mm[0]) * (1 if rest[0] == "+" else -1)
        rest = rest[6:]
    if rest:
        return None, f"parsing time {_quote(value)}: extra text: {_quote(rest)}"
    month, day, hour, minute, second = fields
    try:
        t = datetime.datetime(year, month, day, hour, minute, second, micros,
                              datetime.timezone(datetime.timedelta(minutes=offset)))
    except ValueError:
        return out_of_range("day")
    return t, ""


def format_micro_time(t: datetime.datetime) -> str:
    """MicroTime.MarshalJSON: UTC, six fractional digits."""
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default(obj: Obj) -> None:
    """Decoding and PrepareForCreate/PrepareForUpdate: the MicroTimes parse (else the 400 a decode
    failure gets) and are kept in UTC; ``strategy`` and ``preferredHolder`` are dropped (feature gate off)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    for key in MICRO_TIME_FIELDS:
        v = spec.get(key)
        if not isinstance(v, str):
            continue  # null is the zero time; a wrong JSON type is reported by strict decoding or validation
        t, err = parse_micro_time(v)
        if t is None:
            raise errors.bad_request(f'Lease in version "v1" cannot be handled as a Lease: {err}')
        spec[key] = format_micro_time(t)
    spec.pop("strategy", None)
    spec.pop("preferredHolder", None)


def validate(obj: Obj, old: Obj | None) -> Errs:
    """ValidateLease / ValidateLeaseUpdate."""
    errs = _meta_errs(obj, old, name_is_dns_subdomain)
    spec = _get_map(obj, "spec", "spec", errs) or {}
    duration = _get_int(spec, "leaseDurationSeconds", "spec.leaseDurationSeconds", errs)
    if duration is not None and duration <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = _get_int(spec, "leaseTransitions", "spec.leaseTransitions", errs)
    if transitions is not None and transitions < 0:
        errs.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    return errs


COLUMNS: list[Column] = [name_col(), col("Holder", "string", _D_HOLDER), age_col()]


def print_row(obj: Obj, now: datetime.datetime) -> Row:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    holder = spec.get("holderIdentity")
    return {"cells": [obj_name(obj), holder if isinstance(holder, str) else "", age(obj, now)]}


def renew_time(lease: Obj) -> datetime.datetime | None:
    """A stored Lease's ``spec.renewTime`` (None when unset)."""
    spec = lease.get("spec") if isinstance(lease.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    v = spec.get("renewTime")
    return parse_micro_time(v)[0] if isinstance(v, str) else None


STRATEGY = register(Strategy(
    resource=ResourceType("coordination.k8s.io", "v1", "Lease", "leases", "lease"),
    discovery_order=120,
    validate=validate,
    default=default,
    columns=COLUMNS,
    print_row=print_row,
))
