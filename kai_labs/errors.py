"""Turning exceptions a learner can cause into one clear sentence."""

from __future__ import annotations

import json
from typing import Any

from .clusters.base import ClusterError


def api_message(exc: Any) -> str | None:
    """The Status message of a kubernetes.client ApiException, as kubectl would print it."""
    body = getattr(exc, "body", None)
    status = getattr(exc, "status", None)
    if body is None or status is None:
        return None
    try:
        data = json.loads(body)
        msg = data.get("message")
        reason = data.get("reason") or ""
    except (ValueError, AttributeError):
        return f"the API answered {status}: {body!s}"[:500]
    if not msg:
        return f"the API answered {status} {reason}"
    return f"Error from server ({reason}): {msg}" if reason else f"Error from server: {msg}"


def friendly(exc: BaseException) -> str | None:
    """A one-line explanation for errors caused by input or environment, else None (a bug: re-raise)."""
    if isinstance(exc, ClusterError):
        return str(exc)
    msg = api_message(exc)
    if msg:
        return msg
    try:
        import urllib3.exceptions

        if isinstance(exc, urllib3.exceptions.MaxRetryError | urllib3.exceptions.NewConnectionError):
            return ("the cluster does not answer; start it with `kai-labs cluster up` (or kai_labs.start() in a "
                    "notebook)")
    except ImportError:
        pass
    if isinstance(exc, ConnectionError) and not isinstance(exc, BrokenPipeError):
        return "the cluster does not answer; start it with `kai-labs cluster up`"
    try:
        import yaml

        if isinstance(exc, yaml.YAMLError):
            return f"invalid YAML: {exc}"
    except ImportError:
        pass
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename}"
    return None
