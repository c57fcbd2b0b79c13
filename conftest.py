"""pytest as an instructor types it: `pytest --nbval lessons/ exercises/ solutions/` from the course's root.

The committed lesson outputs come from a fresh embedded cluster with seed 1 (`python -m kai_labs.notebooks
run`), and the notebooks expect one each: a lesson begins by deleting and recreating its namespace, and Pod
IPs, names and hashes follow the seed. Run in one pytest session against the learner's own cluster, the
notebooks saw each other's objects and other IPs, and some twenty cells differed. So for nbval runs only
(nothing changes for the test suite under tests/):

- each notebook gets its own cluster: a fresh KAI_LABS_HOME in a temporary directory, KAI_LABS_SEED=1, no
  KUBECONFIG, this installation's kubectl first on PATH; the cluster is stopped when the notebook's last
  cell is done and the variables are put back;
- the kernel is this Python (`--nbval-current-env`) unless a kernel was named;
- lessons/nbval-sanitize.cfg masks ages and timestamps unless another sanitizer was given.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent
SANITIZE = ROOT / "lessons" / "nbval-sanitize.cfg"
ENV_KEYS = ("KAI_LABS_HOME", "KAI_LABS_SEED", "KUBECONFIG", "PATH")


def _nbval(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False))


def pytest_configure(config: pytest.Config) -> None:
    if not _nbval(config):
        return
    if getattr(config.option, "nbval_sanitize_with", None) is None and not getattr(config.option, "sanitize_with",
                                                                                   None):
        config.option.nbval_sanitize_with = str(SANITIZE)
    if not getattr(config.option, "nbval_kernel_name", None) and not getattr(config.option, "current_env", False):
        config.option.nbval_current_env = True


def _notebook(item: pytest.Item) -> Any:
    parent = item.parent
    return parent if parent is not None and str(getattr(parent, "path", "")).endswith(".ipynb") else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    nb = _notebook(item)
    if nb is None or not _nbval(item.config) or getattr(nb, "_kai_labs_home", None) is not None:
        return
    # before nbval's file setup starts the notebook's kernel, which inherits this environment
    home = tempfile.mkdtemp(prefix=f"kai-labs-nbval-{Path(str(nb.path)).stem[:20]}-")
    nb._kai_labs_home = home
    nb._kai_labs_env = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ.pop("KUBECONFIG", None)
    os.environ.update(KAI_LABS_HOME=home, KAI_LABS_SEED="1",
                      PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    yield  # nbval's own teardown (after the notebook's last cell: the kernel stops)
    nb = _notebook(item)
    home = getattr(nb, "_kai_labs_home", None) if nb is not None else None
    if home is None or (nextitem is not None and _notebook(nextitem) is nb):
        return
    subprocess.run([sys.executable, "-m", "kai_labs.cli", "cluster", "down"], env=dict(os.environ), check=False,
                   capture_output=True, timeout=120)
    for k, v in nb._kai_labs_env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    shutil.rmtree(home, ignore_errors=True)
    nb._kai_labs_home = None
