"""kai_labs.notebooks: cleaning executed notebooks and installing JupyterLab settings (no kernel, no cluster)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat

from kai_labs import notebooks
from kai_labs.notebooks import LAB_OVERRIDES, clean, install_lab_settings, lab_settings_path

ROOT = Path(__file__).resolve().parents[2]


def _executed() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("!kubectl get pods", execution_count=17,
                                  outputs=[nbformat.v4.new_output("stream", name="stdout", text="NAME  READY\n"),
                                           nbformat.v4.new_output("stream", name="stdout", text="web   1/1\n")]),
        nbformat.v4.new_code_cell("1 + 1", execution_count=18, metadata={"execution": {"iopub.status.busy": "x"},
                                                                          "tags": ["nbval-ignore-output"]},
                                  outputs=[nbformat.v4.new_output("execute_result", data={"text/plain": "2"},
                                                                  execution_count=18)]),
    ])
    nb.metadata["widgets"] = {"state": {}}
    return nb


def test_clean_renumbers_merges_streams_and_drops_noise() -> None:
    nb = clean(_executed())
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2]
    assert code[0].outputs == [nbformat.v4.new_output("stream", name="stdout", text="NAME  READY\nweb   1/1\n")]
    assert code[1].outputs[0]["execution_count"] == 2
    assert code[1].metadata == {"tags": ["nbval-ignore-output"]}
    assert set(nb.metadata) == {"kernelspec", "language_info"}
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_clean_is_idempotent() -> None:
    once = nbformat.writes(clean(_executed()))
    assert nbformat.writes(clean(nbformat.reads(once, 4))) == once


def test_install_lab_settings_merges(tmp_path: Path) -> None:
    path = lab_settings_path(str(tmp_path))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                "@jupyterlab/apputils-extension:notification": {"doNotDisturbMode": True}}))
    assert install_lab_settings(str(tmp_path)) == path
    got = json.loads(path.read_text())
    assert got["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    assert got["@jupyterlab/apputils-extension:notification"] == {
        "doNotDisturbMode": True, "checkForUpdates": False, "fetchNews": "false"}
    assert path == tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def test_binder_overrides_match_the_installer() -> None:
    assert json.loads((ROOT / "binder" / "overrides.json").read_text()) == LAB_OVERRIDES


def test_lessons_have_one_kernelspec_and_documented_tags_only() -> None:
    allowed = {"nbval-ignore-output", "raises-exception", "nbval-skip"}
    for path in sorted((ROOT / "lessons").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3", path.name
        for cell in nb.cells:
            assert set(cell.metadata.get("tags", [])) <= allowed, (path.name, cell.metadata.get("tags"))


def test_the_pre_save_hook_keeps_a_course_notebooks_metadata(tmp_path: Path) -> None:
    """What JupyterLab saves for a lesson after its kernel started: language_info as the kernel reports
    it. The hook puts back what the course commits; a learner's own notebook or kernel is left alone."""
    reported = {"name": "python", "version": "3.12.4", "mimetype": "text/x-python",
                "codemirror_mode": {"name": "ipython", "version": 3}, "pygments_lexer": "ipython3"}

    def model() -> dict[str, Any]:
        return {"type": "notebook", "content": {"metadata": {"kernelspec": dict(notebooks.KERNELSPEC),
                                                             "language_info": dict(reported)}, "cells": []}}

    lesson = model()
    notebooks.keep_course_metadata(lesson, "lessons/02-anatomy-of-a-service.ipynb")
    assert lesson["content"]["metadata"] == {"kernelspec": notebooks.KERNELSPEC,
                                             "language_info": notebooks.LANGUAGE_INFO}
    mine = model()
    notebooks.keep_course_metadata(mine, "my-notes/try.ipynb")
    assert mine["content"]["metadata"]["language_info"] == reported
    other_kernel = model()
    other_kernel["content"]["metadata"]["kernelspec"]["name"] = "julia-1.10"
    notebooks.keep_course_metadata(other_kernel, "exercises/02-wrong-targetport.ipynb")
    assert other_kernel["content"]["metadata"]["language_info"] == reported
    # install-lab-settings sets the hook in the environment's server config
    notebooks.install_lab_settings(str(tmp_path))
    conf = json.loads(notebooks.server_config_path(str(tmp_path)).read_text())
    assert conf["ContentsManager"]["pre_save_hook"] == notebooks.PRE_SAVE_HOOK


def test_the_sanitizer_drops_kubectls_cancelled_watch_log_and_nothing_else() -> None:
    """kubectl wait can log a cancelled watch when its condition is met while the watch opens (a client
    race): nbval must drop that line from a fresh output, as parsed by nbval itself (an empty replacement
    needs the space after "replace:", which an editor could strip)."""
    import re

    from nbval.plugin import get_sanitize_patterns

    cfg = (Path(__file__).resolve().parents[2] / "lessons" / "nbval-sanitize.cfg").read_text()
    patterns = dict(get_sanitize_patterns(cfg))
    rx = next(r for r in patterns if "Failed to watch" in r)
    assert patterns[rx] == ""
    fresh = ('deployment.apps/web configured\r\nE1207 23:44:03.274623   32228 reflector.go:205] "Failed to watch" '
             'err="Get \\"https://127.0.0.1:1/apis/apps/v1/deployments\\": context canceled" type="*v1.Deployment"\n'
             'refused\n')
    assert re.sub(rx, "", fresh) == "deployment.apps/web configured\r\nrefused\n"
    other = 'E1207 23:44:03.274623   32228 reflector.go:205] "Failed to watch" err="forbidden"\n'
    assert re.sub(rx, "", other) == other  # a real watch error still shows
