"""`pytest --nbval lessons/ exercises/ solutions/`, typed from the course's root as an instructor would.

The root conftest.py gives each notebook its own fresh seeded cluster (and the lessons' sanitizer, and this
Python as the kernel), so the committed outputs reproduce without the options tests/notebooks passes by hand;
the learner's own cluster (the default home under $HOME) is never touched, and every cluster is stopped.
A lesson, an exercise and a solution here (the full set runs in test_lessons.py and tests/labs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.notebooks


def test_pytest_nbval_as_typed_passes_with_a_cluster_per_notebook(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path), PYDEVD_DISABLE_FILE_VALIDATION="1")
    for k in ("KAI_LABS_HOME", "KAI_LABS_SEED", "KUBECONFIG", "KAI_LABS_LEARNER"):
        env.pop(k, None)
    notebooks = ["lessons/02-anatomy-of-a-service.ipynb", "exercises/01-wrong-selector.ipynb",
                 "solutions/01-wrong-selector.ipynb"]
    r = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", *notebooks],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    summary = r.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary, summary
    assert not (tmp_path / ".kai-labs").exists()  # the learner's own cluster home was never used
    left = subprocess.run(["pgrep", "-f", "kai-labs-nbval-"], capture_output=True, text=True)
    assert left.stdout.strip() == "", left.stdout  # each notebook's cluster was stopped
