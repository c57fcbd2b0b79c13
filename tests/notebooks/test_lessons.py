"""Every lesson notebook re-runs on a fresh seeded cluster and reproduces its committed outputs.

nbval runs in a subprocess per notebook with its own ``KAI_LABS_HOME`` (a temporary
directory) and ``KAI_LABS_SEED=1``; outputs are compared strictly after the
sanitizer in ``lessons/nbval-sanitize.cfg`` masks ages, timestamps and other
clock-dependent text. The cluster that the notebook started is stopped afterwards.

Regenerate outputs after editing a lesson: ``python -m kai_labs.notebooks run lessons/*.ipynb``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]-*.ipynb"))
SANITIZE = ROOT / "lessons" / "nbval-sanitize.cfg"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.notebooks


def test_lessons_exist() -> None:
    assert len(LESSONS) == 7, [p.name for p in LESSONS]


@pytest.mark.parametrize("notebook", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_reproduces_its_outputs(notebook: Path, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("KUBECONFIG", None)
    env.update(KAI_LABS_HOME=str(tmp_path / "home"), KAI_LABS_SEED="1",
               PATH=str(BIN) + os.pathsep + env.get("PATH", ""), PYDEVD_DISABLE_FILE_VALIDATION="1")
    cmd = [sys.executable, "-m", "pytest", "--nbval", str(notebook), "--nbval-sanitize-with", str(SANITIZE),
           "--nbval-current-env", "--nbval-cell-timeout=120", "-p", "no:cacheprovider", "-q",
           "-o", "addopts=", "--rootdir", str(tmp_path)]
    try:
        r = subprocess.run(cmd, env=env, cwd=notebook.parent, capture_output=True, text=True, timeout=600)
    finally:
        subprocess.run([sys.executable, "-m", "kai_labs.cli", "cluster", "down"], env=env, capture_output=True,
                       check=False, timeout=60)
    assert r.returncode == 0, f"nbval failed for {notebook.name}:\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"
