"""Validate both ways: every solution notebook passes its grade; every exercise runs and says "not yet".

Each notebook runs in its own subprocess (nbclient) with a fresh KAI_LABS_HOME
(so a fresh embedded cluster) and KAI_LABS_SEED=1; two run at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.notebooks
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb")) + sorted((ROOT / "exercises").glob("*.ipynb"))

RUNNER = r"""
import json, sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
nb = nbformat.read(sys.argv[1], as_version=4)
result = {"error": None, "verdict": None, "svg": False, "grade_html": ""}
try:
    for attempt in (1, 2):
        try:
            NotebookClient(nb, timeout=120, kernel_name="python3",
                           resources={"metadata": {"path": sys.argv[2]}}).execute()
            break
        except RuntimeError as e:
            # two runners start kernels at once: a kernel can lose the race for the ports it was given and
            # die before its first reply, when no cell has run yet; start it once more
            if attempt == 2 or "Kernel died before replying to kernel_info" not in str(e):
                raise
            print(f"kernel died at start ({e}); starting it again", file=sys.stderr)
except CellExecutionError as e:
    result["error"] = str(e)[-2000:]
finally:
    from kai_labs.clusters import embedded as cluster
    cluster.down("kai-labs")
verdict = []
for cell in nb.cells:
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if "image/svg+xml" in data:
            result["svg"] = "aria-label" in data["image/svg+xml"] and "<svg" in data["image/svg+xml"]
        if "kai-grade" in data.get("text/html", ""):
            result["grade_html"] = data["text/html"]
        if out.get("name") == "stdout" and "verdict" in cell.get("metadata", {}).get("tags", []):
            # a print can reach the notebook as several stream outputs ("PASSED", then "\n"): join them
            verdict.append(out["text"])
if verdict:
    result["verdict"] = "".join(verdict).strip()
print("RESULT " + json.dumps(result))
"""


def _run(nb: Path) -> dict[str, Any]:
    home = tempfile.mkdtemp(prefix="kai-nb-")
    env = dict(os.environ, KAI_LABS_HOME=home, KAI_LABS_SEED="1")
    env.pop("KUBECONFIG", None)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    try:
        p = subprocess.run([sys.executable, "-c", RUNNER, str(nb), str(ROOT)], capture_output=True, text=True,
                           env=env, timeout=300)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        return {"error": f"runner failed: {p.stderr[-2000:]}", "verdict": None, "svg": False}
    out: dict[str, Any] = json.loads(line[7:])
    out["stderr"] = p.stderr
    return out


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip([f"{nb.parent.name}/{nb.name}" for nb in NOTEBOOKS], pool.map(_run, NOTEBOOKS), strict=True))


@pytest.mark.parametrize("nb", [f"solutions/{p.name}" for p in NOTEBOOKS if p.parent.name == "solutions"])
def test_solution_notebook_passes(results: dict[str, dict[str, Any]], nb: str) -> None:
    r = results[nb]
    assert r["error"] is None, r["error"]
    assert r["verdict"] == "PASSED", r
    assert r["svg"], "the diagram rendered as SVG with alt text"


@pytest.mark.parametrize("nb", [f"exercises/{p.name}" for p in NOTEBOOKS if p.parent.name == "exercises"])
def test_exercise_notebook_runs_and_says_not_yet(results: dict[str, dict[str, Any]], nb: str) -> None:
    r = results[nb]
    assert r["error"] is None, r["error"]
    assert r["verdict"] == "NOT YET", r
    assert "Not yet" in r["grade_html"]


LEARNER_RUNNER = r"""
import sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
code = [c for c in nb.cells if c.cell_type == "code"]
start = next(i for i, c in enumerate(code) if c.source.lstrip().startswith("# Start here"))
nb.cells = code[: start + 1]
try:
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
finally:
    from kai_labs.clusters import embedded as cluster
    cluster.down("kai-labs")
print("OUTPUT " + "".join(o.get("text", "") for o in nb.cells[-1].outputs).replace("\r", "").replace("\n", "\\n"))
"""


def test_a_workshop_learner_starts_an_exercise_in_her_own_namespace_and_names(tmp_path: Path) -> None:
    """The exercise's first look (`kubectl get ... -n {s.namespace}`) shows the learner's own scenario: her
    namespace prefix and her variant's names, not the course's defaults (it showed "No resources found")."""
    from kai_labs.labs import scenario as sc

    env = dict(os.environ, KAI_LABS_HOME=str(tmp_path / "home"), KAI_LABS_SEED="1", KAI_LABS_LEARNER="ann")
    env.pop("KUBECONFIG", None)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    nb = ROOT / "exercises" / "02-wrong-targetport.ipynb"
    p = subprocess.run([sys.executable, "-c", LEARNER_RUNNER, str(nb), str(ROOT / "exercises")], capture_output=True,
                       text=True, env=env, timeout=300)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("OUTPUT ")), None)
    assert line is not None, p.stderr[-3000:]
    out = line[7:].replace("\\n", "\n")
    os.environ["KAI_LABS_LEARNER"] = "ann"
    try:
        mine = sc.get("wrong-targetport")
    finally:
        del os.environ["KAI_LABS_LEARNER"]
    assert mine.namespace == "ann-lab-wrong-targetport" and mine.service != "web", (mine.namespace, mine.service)
    assert "No resources found" not in out, out
    assert f"service/{mine.service}" in out and f"deployment.apps/{mine.service}" in out, out
