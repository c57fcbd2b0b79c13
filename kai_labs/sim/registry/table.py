"""What every server-side Table shares (apiserver/pkg/registry/rest/table.go, printers.go helpers):
column definitions, the Name and Age columns, and Kubernetes' way of printing durations
(apimachinery duration.HumanDuration, translateTimestampSince). Used by the printers in
``kai_labs/sim/apiserver/printers.py`` and by the kinds that carry their own columns
(``kai_labs/sim/registry/core``)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable
from typing import Any

Obj = dict[str, Any]
Row = dict[str, Any]
Column = dict[str, Any]
RowPrinter = Callable[[Obj, datetime.datetime], Row]

UNKNOWN = "<unknown>"

D_NAME = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
D_AGE = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients may "
    "not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
    "Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)

# the Containers and Images columns of the kinds with a pod template
D_CONTAINERS = "Names of each container in the template."


D_IMAGES = "Images referenced by each container in the template."


def col(name: str, type_: str, description: str, priority: int = 0, format_: str = "") -> Column:
    """One metav1.TableColumnDefinition (every field is always serialized)."""
    return {
        "name": name,
        "type": type_,
        "format": format_,
        "description": description,
        "priority": priority,
    }


def name_col(priority: int = 0) -> Column:
    return col("Name", "string", D_NAME, priority, "name")


def age_col() -> Column:
    return col("Age", "string", D_AGE)


# --------------------------------------------------------------------------
# Time: HumanDuration and translateTimestampSince.
# --------------------------------------------------------------------------

_NS_PER_S = 1_000_000_000
_NS_PER_MIN = 60 * _NS_PER_S
_NS_PER_H = 60 * _NS_PER_MIN


def _trunc_div(a: int, b: int) -> int:
    """Go integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _human_duration_ns(d: int) -> str:
    """duration.HumanDuration for a Go time.Duration of ``d`` nanoseconds."""
    seconds = _trunc_div(d, _NS_PER_S)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = d // _NS_PER_MIN
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = d // _NS_PER_H
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        return f"{hours // 24 // 365}y{(hours // 24) % 365}d"
    return f"{hours // 24 // 365}y"


def human_duration(seconds: float) -> str:
    """apimachinery ``duration.HumanDuration`` for a duration given in seconds."""
    return _human_duration_ns(int(seconds * _NS_PER_S))


_RFC3339 = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
                      r"(?P<tz>[Zz]|[+-]\d{2}:\d{2})?$")


def parse_time(value: Any) -> datetime.datetime | None:
    """Parse a metav1.Time / MicroTime string; ``None`` for missing (Go's zero time)."""
    if not value or not isinstance(value, str):
        return None
    m = _RFC3339.match(value)
    if m is None:
        return None
    # Python 3.10's fromisoformat takes neither a trailing "Z" nor a fraction other than 3 or 6 digits,
    # both of which RFC 3339 (and so metav1.Time / MicroTime) allow: normalize to what every Python reads
    frac = m["frac"][:6].ljust(6, "0") if m["frac"] else ""
    tz = "+00:00" if m["tz"] in ("Z", "z") else (m["tz"] or "")
    try:
        ts = datetime.datetime.fromisoformat(f"{m['date']}T{m['time']}{'.' + frac if frac else ''}{tz}")
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=datetime.timezone.utc)
    return ts


def _aware(now: datetime.datetime) -> datetime.datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=datetime.timezone.utc)


def since(ts: datetime.datetime, now: datetime.datetime) -> str:
    """HumanDuration(now - ts), at microsecond resolution."""
    delta = _aware(now) - ts
    return _human_duration_ns((delta // datetime.timedelta(microseconds=1)) * 1000)


def translate_timestamp_since(value: Any, now: datetime.datetime) -> str:
    """printers.go translateTimestampSince: ``<unknown>`` for a zero time."""
    ts = parse_time(value)
    return UNKNOWN if ts is None else since(ts, now)


def age(obj: Obj, now: datetime.datetime) -> str:
    """The Age column: time since metadata.creationTimestamp."""
    return translate_timestamp_since((obj.get("metadata") or {}).get("creationTimestamp"), now)


# --------------------------------------------------------------------------
# Accessors and formatters several kinds' printers share (printers.go helpers).
# --------------------------------------------------------------------------

NONE = "<none>"
UNSET = "<unset>"


def obj_meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def obj_name(obj: Obj) -> str:
    return obj_meta(obj).get("name") or ""


def obj_spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def obj_status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def int_or(value: Any, default: int = 0) -> int:
    return int(value) if value is not None else default


def format_labels(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: sorted ``k=v`` joined by ``,``; ``<none>`` when empty."""
    text = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
    return text or NONE


_OPERATORS = {"In": "in", "NotIn": "notin"}


def _requirement_string(key: str, operator: str, values: list[str]) -> str:
    """labels.Requirement.String for the operators a LabelSelector produces."""
    if operator == "Equals":
        return f"{key}={values[0]}"
    if operator == "Exists":
        return key
    if operator == "DoesNotExist":
        return f"!{key}"
    return f"{key} {_OPERATORS[operator]} ({','.join(sorted(values))})"


def label_selector_string(selector: Obj | None) -> str:
    """metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key."""
    if not selector:
        return ""
    reqs: list[tuple[str, str, list[str]]] = [
        (k, "Equals", [v]) for k, v in (selector.get("matchLabels") or {}).items()
    ]
    for expr in selector.get("matchExpressions") or []:
        reqs.append((expr.get("key", ""), expr.get("operator", ""), list(expr.get("values") or [])))
    reqs.sort(key=lambda r: r[0])
    return ",".join(_requirement_string(*r) for r in reqs)


def format_label_selector(selector: Obj | None) -> str:
    """metav1.FormatLabelSelector: like label_selector_string, ``<none>`` when empty."""
    return label_selector_string(selector) or NONE


def layout_container_cells(containers: Iterable[Obj]) -> tuple[str, str]:
    """layoutContainerCells: names and images, each joined by ``,``."""
    items = list(containers)
    return (
        ",".join(c.get("name") or "" for c in items),
        ",".join(c.get("image") or "" for c in items),
    )


def template_containers(obj: Obj) -> list[Obj]:
    return ((obj_spec(obj).get("template") or {}).get("spec") or {}).get("containers") or []


def join_host_port(host: str, port: int) -> str:
    """net.JoinHostPort: brackets around IPv6 hosts."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def list_with_more(items: list[str], more: bool, count: int, limit: int) -> str:
    """printers.go listWithMoreString (``<unset>`` when nothing listed)."""
    ret = ",".join(items)
    if more:
        return f"{ret} + {count - limit} more..."
    return ret or UNSET
