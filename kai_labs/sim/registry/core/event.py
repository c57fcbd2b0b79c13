"""Event (pkg/registry/core/event): storage, validation, table columns.

Source: pkg/apis/core/validation/events.go (the metadata checks; a DNS-subdomain name);
printers.go printEvent, formatEventSource. No visible defaults; strategic merge patches touch only
metadata's lists. The event recorder's Events skip all of this (``generic.Api.create_trusted``).
"""

from __future__ import annotations

import datetime
from typing import Any

from ..strategy import ResourceType, Strategy, register
from ..table import Column, Row, col, int_or, name_col, obj_name, translate_timestamp_since
from ..validation import Errs, _meta_errs, name_is_dns_subdomain

Obj = dict[str, Any]


def validate(obj: dict[str, Any], old: dict[str, Any] | None) -> Errs:
    """ValidateEvent as far as it goes here: the metadata (a DNS-subdomain name)."""
    return _meta_errs(obj, old, name_is_dns_subdomain)


COLUMNS: list[Column] = [
    col("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
    col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
    col(
        "Reason",
        "string",
        "This should be a short, machine understandable string that gives the reason for the "
        "transition into the object's current status.",
    ),
    col("Object", "string", "The object that this event is about."),
    col(
        "Subobject",
        "string",
        "If referring to a piece of an object instead of an entire object, this string should "
        "contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].",
        1,
    ),
    col(
        "Source",
        "string",
        "The component reporting this event. Should be a short machine understandable string.",
        1,
    ),
    col("Message", "string", "A human-readable description of the status of this operation."),
    col(
        "First Seen",
        "string",
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
        1,
    ),
    col("Count", "string", "The number of times this event has occurred.", 1),
    name_col(priority=1),
]


def format_event_source(event: Obj) -> str:
    """formatEventSource: component (or reportingComponent), then ``, host`` when set."""
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


def _event_times(event: Obj, now: datetime.datetime) -> tuple[str, str, int]:
    """printEvent's lastTimestamp, firstTimestamp and count."""
    if event.get("firstTimestamp"):
        first = translate_timestamp_since(event["firstTimestamp"], now)
    else:
        first = translate_timestamp_since(event.get("eventTime"), now)
    last = translate_timestamp_since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first
    count = int_or(event.get("count"))
    series = event.get("series")
    if series is not None:
        last = translate_timestamp_since(series.get("lastObservedTime"), now)
        count = int_or(series.get("count"))
    elif count == 0:
        count = 1
    return last, first, count


def print_row(event: Obj, now: datetime.datetime) -> Row:
    last, first, count = _event_times(event, now)
    involved = event.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return {
        "cells": [
            last,
            event.get("type") or "",
            event.get("reason") or "",
            target,
            involved.get("fieldPath") or "",
            format_event_source(event),
            (event.get("message") or "").strip(),
            first,
            count,
            obj_name(event),
        ]
    }


STRATEGY = register(Strategy(
    resource=ResourceType("", "v1", "Event", "events", "event", short_names=("ev",)),
    discovery_order=60,
    validate=validate,
    columns=COLUMNS,
    print_row=print_row,
))
