"""Small helpers shared by the test suites."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kai_labs.clusters import embedded

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


@contextlib.contextmanager
def tmpfs(d: Path, size_mb: int) -> Iterator[Path]:
    """A real small disk: a tmpfs mounted on ``d`` (root only; the test is skipped where mounting is not
    allowed), unmounted afterwards."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a real full disk needs a tmpfs mount (root)")
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(d)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def fill(d: Path) -> Path:
    """Take every free byte of d's filesystem with one file (returned: delete it to free the space)."""
    f = d / "filler"
    fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return f


def start_with_env(name: str, seed: int, settings: dict[str, str]) -> Any:
    """An embedded cluster of its own started with ``settings`` in its process's environment (the node
    lifecycle's short timings); the test's environment is left as it was."""
    old = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        return embedded.start(name, seed=seed, set_env=False)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
