"""Small helpers shared by the test suites."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(pred: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll ``pred`` until it returns something truthy (and return it), or fail after ``timeout`` seconds
    with the last value: controllers take a moment, tests wait for a condition, never for a fixed time."""
    deadline = time.monotonic() + timeout
    last: T = pred()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
        time.sleep(interval)
        last = pred()
    return last
