"""Shared fixtures: a real embedded cluster per test session, isolated homes."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

VENV_BIN = str(Path(sys.executable).parent)
os.environ["PATH"] = VENV_BIN + os.pathsep + os.environ.get("PATH", "")
# kubectl caches discovery per server host:port under ~/.kube/cache; every test cluster has its own port,
# so a test run used to leave a few hundred MB there. Keep the run's cache private (removed at exit).
if "KUBECACHEDIR" not in os.environ:
    os.environ["KUBECACHEDIR"] = tempfile.mkdtemp(prefix="kai-labs-kubecache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    cache = os.environ.get("KUBECACHEDIR", "")
    if Path(cache).name.startswith("kai-labs-kubecache-"):
        shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def kai_home() -> Iterator[Path]:
    """A private KAI_LABS_HOME for this test session (removed afterwards)."""
    home = Path(tempfile.mkdtemp(prefix="kai-labs-test-"))
    old = os.environ.get("KAI_LABS_HOME")
    os.environ["KAI_LABS_HOME"] = str(home)
    yield home
    from kai_labs.clusters import embedded as cl

    for d in home.iterdir() if home.exists() else []:
        cl.down(d.name)
    if old is None:
        os.environ.pop("KAI_LABS_HOME", None)
    else:
        os.environ["KAI_LABS_HOME"] = old
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(kai_home: Path):  # type: ignore[no-untyped-def]
    """One embedded cluster (seed 1) shared by the session's tests; tests use their own namespaces."""
    import kai_labs

    c = kai_labs.start(name="kai-labs", seed=1)
    yield c
    from kai_labs.clusters import embedded as cl

    cl.down("kai-labs")


@pytest.fixture
def namespace(cluster) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh namespace for one test, labelled as created by kai-labs, deleted afterwards."""
    name = "t-" + uuid.uuid4().hex[:8]
    manifest = (f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n"
                f"    app.kubernetes.io/created-by: kai-labs\n")
    cluster.kubectl("apply", "-f", "-", input=manifest, check=True)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")
