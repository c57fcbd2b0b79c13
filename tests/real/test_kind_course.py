"""The whole course on a real kind cluster (skipped unless one is running).

    kai-labs cluster up --kind          # once; needs Docker and kind
    pytest -m kind tests/real           # about 10-20 minutes

Every scenario is created broken, graded "not yet", fixed with its reference
solution and graded "passed" through real client Pods; then every lesson and
solution notebook runs top to bottom with KAI_LABS_CLUSTER=kind (nbval-lax: the
committed outputs come from the seeded embedded cluster, so only errors fail).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAME = os.environ.get("KAI_LABS_KIND_NAME", "kai-labs")
NOTEBOOKS = sorted((ROOT / "lessons").glob("[0-9][0-9]-*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))

pytestmark = pytest.mark.kind


def _kind_cluster_present() -> bool:
    if not shutil.which("kind") or not shutil.which("docker"):
        return False
    try:
        r = subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and NAME in r.stdout.split()


needs_kind = pytest.mark.skipif(not _kind_cluster_present(),
                                reason=f"no kind cluster {NAME} (kai-labs cluster up --kind creates it)")


@pytest.fixture(scope="module")
def kind_cluster():  # type: ignore[no-untyped-def]
    import kai_labs

    return kai_labs.connect(f"kind-{NAME}")


@needs_kind
@pytest.mark.parametrize("name", __import__("kai_labs").scenarios.names())
def test_scenario_on_kind(kind_cluster, name: str) -> None:  # type: ignore[no-untyped-def]
    import kai_labs

    s = kai_labs.scenarios.get(name)
    s.delete(kind_cluster)
    s.create(kind_cluster, seed=1, timeout=180)
    try:
        assert not s.check(kind_cluster, timeout=10).passed
        s.solve(kind_cluster)
        s.wait(kind_cluster, 180)
        g = s.check(kind_cluster, timeout=120)
        assert g.passed, str(g)
    finally:
        s.delete(kind_cluster)


@needs_kind
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS])
def test_notebook_on_kind(notebook: Path, tmp_path: Path) -> None:
    env = dict(os.environ, KAI_LABS_CLUSTER="kind", KAI_LABS_HOME=str(tmp_path / "home"),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", str(notebook), "--nbval-current-env",
           "--nbval-cell-timeout=600", "-p", "no:cacheprovider", "-q", "-o", "addopts=", "--rootdir", str(tmp_path)]
    r = subprocess.run(cmd, env=env, cwd=notebook.parent, capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, f"{notebook.name} failed on kind:\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"
