"""A course notebook opened in JupyterLab and saved without running anything is byte for byte the
committed file, so a learner's `git pull` never meets a conflict over metadata.

JupyterLab writes what the kernel reports into ``metadata.language_info`` (the Python's exact version,
mimetype, lexer...) as soon as the kernel starts, and its autosave then writes the notebook. The course
installs a server-side pre-save hook (``kai_labs.notebooks.keep_course_metadata``, set up by
``install-lab-settings``) that keeps the course notebooks' committed kernelspec and language_info.
The copies opened here live under artifacts/ (ignored by git), never in lessons/ itself."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from .conftest import ROOT, Lab, open_notebook, shot, wait_for

pytestmark = pytest.mark.browser

COPIES = ROOT / "artifacts" / "opened"


@pytest.mark.parametrize("notebook", ["lessons/02-anatomy-of-a-service.ipynb", "exercises/02-wrong-targetport.ipynb"],
                         ids=["lesson-02", "exercise-02"])
def test_a_course_notebook_opened_and_saved_is_unchanged(page: Any, lab: Lab, notebook: str) -> None:
    original = ROOT / notebook
    # the hook recognises a course notebook by its folder: the copy keeps the folder's name
    copy = COPIES / original.parent.name / original.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(original, copy)
    rel = copy.relative_to(ROOT).as_posix()
    try:
        open_notebook(page, lab, rel)
        before = lab.log.read_text(errors="replace").count(f"Saving file at /{rel}")
        page.keyboard.press("Control+s")
        wait_for(lambda: lab.log.read_text(errors="replace").count(f"Saving file at /{rel}") > before, 30,
                 f"JupyterLab saving {rel}")
        wait_for(lambda: copy.read_bytes() != b"", 10, "the saved file")
        shot(page, f"unchanged-{original.stem}")
        assert copy.read_text() == original.read_text(), "saving changed the notebook (see artifacts/opened/)"
    finally:
        shutil.rmtree(COPIES, ignore_errors=True)
