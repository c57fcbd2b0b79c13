"""The reliability suite: every test here is marked ``reliability``; sizes scale with env vars.

``KAI_REL_CRASH_RUNS`` (default 3), ``KAI_REL_OBJECTS`` (default 3000),
``KAI_REL_HYPOTHESIS`` (examples per property, default 120). benchmarks/bench_reliability.py
runs the same code with bigger numbers and prints the figures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.cluster)


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default
