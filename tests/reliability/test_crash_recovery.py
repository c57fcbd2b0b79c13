"""SIGKILL during concurrent create/patch/replace/delete: nothing acknowledged is lost, resourceVersions
keep increasing, and Pods, IPs and EndpointSlices agree again right after the restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import env_int
from .crashlib import crash_run

RUNS = env_int("KAI_REL_CRASH_RUNS", 3)


@pytest.mark.parametrize("run", range(RUNS))
def test_sigkill_loses_no_acknowledged_write(kai_home: Path, run: int) -> None:
    res = crash_run(run)
    assert res.acked >= 30, "writers should have been acknowledged many times before the kill"
    assert not res.lost, f"{len(res.lost)} acknowledged writes lost after SIGKILL: {res.lost[:5]}"
    assert res.rv_after > res.rv_before, (
        f"resourceVersion went back across the restart: {res.rv_after} <= {res.rv_before}"
    )
    assert not res.heal_detail, f"not consistent {res.heal_s:.1f}s after restart: {res.heal_detail}"
    assert res.heal_s < 3.0, f"Pods/IPs/EndpointSlices took {res.heal_s:.2f}s to agree after the restart"
