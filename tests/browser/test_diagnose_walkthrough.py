"""A learner's walk through exercise 02 and a lesson prediction, in JupyterLab in chromium (issue #14).

Exercise 02 (wrong-targetport): the ticket, kubectl in the notebook, a wrong diagnosis refused with a nudge,
the right one accepted, a wrong fix (the Service's port) named by the grade, the right fix graded passed,
hints as formatted text. Lesson 02: the revealing cell's committed output is collapsed until the learner has
answered the prediction and runs the cell.

Screenshots land in artifacts/browser/; with KAI_LABS_UPDATE_DOC_IMAGES=1 the walk's pictures are also
written to docs/images/ (a test run never rewrites committed files otherwise).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from kai_labs.labs.diagnose import HOPS

from .conftest import (
    ROOT,
    T_RUN,
    Lab,
    cell,
    cell_index,
    error_outputs,
    insert_cell_below,
    menu,
    open_notebook,
    replace_source,
    run_cell,
    shot,
    wait_idle,
)

pytestmark = pytest.mark.browser

DOC_IMG = ROOT / "docs" / "images"


def step(page: Any, name: str, locator: Any = None) -> Path:
    path = shot(page, name, locator)
    if os.environ.get("KAI_LABS_UPDATE_DOC_IMAGES", "0") == "1":
        DOC_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOC_IMG / path.name)
    return path


def _out(target: Any) -> str:
    return target.locator(".jp-OutputArea").text_content() or ""


def test_exercise_02_as_a_learner_sees_it(page: Any, lab: Lab) -> None:
    nb = "exercises/02-wrong-targetport.ipynb"
    i_start, i_scen, i_look, i_diag, i_fix, i_grade = (cell_index(nb, t) for t in (
        "kai_labs.start()", 'scenarios.get("wrong-targetport")', "!kubectl get svc,deploy,pods",
        "s.diagnosis_form(c)", "## 3. Fix it", "grade = s.check(c)"))
    i_fix += 1  # the code cell after the heading
    open_notebook(page, lab, nb)
    run_cell(page, cell(page, i_start))
    scen = cell(page, i_scen)
    run_cell(page, scen)
    assert "Ticket" in _out(scen) and "3000" not in _out(scen)  # the ticket does not give the answer away
    step(page, "walk-01-ticket", scen)

    look = cell(page, i_look)
    run_cell(page, look)
    assert "lab-wrong-targetport" in _out(look) or "web" in _out(look)
    step(page, "walk-02-kubectl")

    diag = cell(page, i_diag)
    replace_source(page, diag, "s.diagnosis_form(c)")
    run_cell(page, diag)
    form = diag.locator(".kai-diagnose").first
    form.wait_for(state="visible")
    form.locator("select").select_option(index=HOPS.index("endpointslice") + 1)
    form.get_by_role("button", name="Check my diagnosis").click()
    page.wait_for_function("(el) => /Not this hop/.test(el.textContent)", arg=form.element_handle(), timeout=T_RUN)
    assert "kubectl get endpointslices" in (form.text_content() or "")
    step(page, "walk-03-diagnosis-wrong", form)
    form.locator("select").select_option(index=HOPS.index("targetPort") + 1)
    form.locator("textarea").fill("kubectl logs says the app listens on 3000; the Service sends traffic to 8080")
    form.get_by_role("button", name="Check my diagnosis").click()
    page.wait_for_function("(el) => /Right/.test(el.textContent)", arg=form.element_handle(), timeout=T_RUN)
    step(page, "walk-04-diagnosis-right", form)

    # a wrong fix first: the Service's port instead of its targetPort
    fix = cell(page, i_fix)
    replace_source(page, fix, "!kubectl patch svc web -n lab-wrong-targetport --type=json -p "
                              "'[{\"op\":\"replace\",\"path\":\"/spec/ports/0/port\",\"value\":3000}]'")
    run_cell(page, fix)
    grade = cell(page, i_grade)
    run_cell(page, grade)
    assert "port changed from 80 to 3000" in _out(grade), _out(grade)[:2000]
    step(page, "walk-05-wrong-fix-named", grade)

    replace_source(page, fix, "!kubectl patch svc web -n lab-wrong-targetport --type=json -p "
                              "'[{\"op\":\"replace\",\"path\":\"/spec/ports/0/port\",\"value\":80},"
                              "{\"op\":\"replace\",\"path\":\"/spec/ports/0/targetPort\",\"value\":3000}]'")
    run_cell(page, fix)
    run_cell(page, grade)
    assert "Passed" in _out(grade), _out(grade)[:2000]
    step(page, "walk-06-passed", grade)

    hints = insert_cell_below(page, grade, "h = s.hint_box()\nh.next(); h.next(); h.next()\nh.next()")
    run_cell(page, hints)
    assert "No more hints" in _out(hints)
    more = insert_cell_below(page, hints, "h")
    run_cell(page, more)
    assert "<code>" not in _out(more) and "\\'" not in _out(more)  # rendered, not a Python string
    more.locator("code").first.wait_for(state="visible")
    step(page, "walk-07-hints", more)
    assert error_outputs(page) == []


def test_a_prediction_hides_the_answer_until_asked(page: Any, lab: Lab) -> None:
    nb = "lessons/02-anatomy-of-a-service.ipynb"
    i_pred = cell_index(nb, 'predict("02-by-name")')
    open_notebook(page, lab, nb)
    reveal = cell(page, i_pred + 1)
    # committed output, collapsed: the answer is not on screen when the notebook opens
    reveal.locator(".jp-OutputPlaceholder").first.wait_for(state="visible")
    assert not reveal.get_by_text("No resources found").first.is_visible()
    ask = cell(page, i_pred)
    ask.locator(".cm-content").click()
    menu(page, "Run", "Run All Above Selected Cell")
    wait_idle(page, T_RUN)
    page.wait_for_function("""() => Array.from(document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt'))
        .every(p => !/\\[\\*\\]/.test(p.textContent))""", timeout=T_RUN)
    # (run_cell waits for a new prompt number: a fresh run gives these cells their committed numbers again)
    ask.locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    form = ask.locator(".widget-vbox.kai-predict").first
    form.wait_for(state="visible")
    form.locator("input[type=radio]").first.check()
    form.get_by_role("button", name="Check my prediction").click()
    page.wait_for_function("(el) => /Not quite/.test(el.textContent)", arg=form.element_handle(), timeout=T_RUN)
    assert "No resources found" in (form.text_content() or "")  # the explanation points at the output
    step(page, "walk-08-prediction-wrong", ask)
    reveal.locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    reveal.get_by_text("No resources found").first.wait_for(state="visible", timeout=T_RUN)
    wait_idle(page, T_RUN)
    step(page, "walk-09-prediction-revealed", reveal)
