"""Predictions in the lessons (issue #14, part 5): asked before the cell that reveals, answered with feedback,
and the committed notebooks keep the answer out of sight until the learner has answered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from kai_labs import notebooks
from kai_labs.labs import predict as pr

ROOT = Path(__file__).resolve().parents[2]
MINE = ["02-anatomy-of-a-service", "04-readiness", "06-service-types-and-boundaries", "07-debugging-a-service"]


def _src(c: dict) -> str:  # type: ignore[type-arg]
    return "".join(c["source"]) if isinstance(c["source"], list) else str(c["source"])


def test_every_question_has_its_answer_among_the_choices_and_a_reason_for_each_wrong_one() -> None:
    for key in pr.load():
        p = pr.predict(key)
        assert p.answer in p.choices and p.why, key
        for choice, text in p.choices.items():
            fb = p.check(choice)
            assert fb.right == (choice == p.answer), (key, choice)
            if not fb.right:
                assert text and ("next cell" in text or "kubectl" in text), (key, choice)  # points at the output


def test_an_answer_by_number_or_text_is_recorded_and_a_wrong_pick_is_refused() -> None:
    p = pr.predict("02-by-name")
    assert not pr.answered("02-by-name")
    assert not p.check(1) and p.check("none") and pr.answered("02-by-name")
    with pytest.raises(ValueError, match="choose 1 to 3"):
        p.check(9)
    with pytest.raises(ValueError, match="not one of the choices"):
        p.check("banana")
    with pytest.raises(ValueError, match="no prediction"):
        pr.predict("99-nothing")


def test_the_form_records_the_answer() -> None:
    p = pr.predict("04-canary")
    box = p.form()
    box.click()
    assert "Choose an answer first" in box.widgets["out"].value
    box.widgets["options"].value = p.answer
    box.click()
    assert "Right" in box.widgets["out"].value and p.chosen == p.answer


def test_clean_keeps_hidden_outputs_and_drops_a_widget_view_it_cannot_restore() -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x", metadata={"jupyter": {"outputs_hidden": True}, "scrolled": True})
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "text/plain": "Predict: ...", "application/vnd.jupyter.widget-view+json": {"model_id": "abc"}})]
    nb.cells = [cell]
    out = notebooks.clean(nb)
    # JupyterLab saves nbformat's older "collapsed" beside outputs_hidden: committed so, a save changes nothing
    assert out.cells[0].metadata == {"jupyter": {"outputs_hidden": True}, "collapsed": True}
    assert set(out.cells[0].outputs[0]["data"]) == {"text/plain"}


@pytest.mark.parametrize("name", MINE)
def test_each_prediction_comes_before_hidden_outputs_and_a_folded_answer(name: str) -> None:
    cells = json.loads((ROOT / "lessons" / f"{name}.ipynb").read_text())["cells"]
    prompts = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "Predict, then run" in _src(c)]
    assert prompts, name
    for i in prompts:
        ask = cells[i + 1]
        assert re.search(r'predict\("[0-9]{2}-[a-z-]+"\)', _src(ask)), (name, i)
        assert "application/vnd.jupyter.widget-view+json" not in json.dumps(ask["outputs"])
        reveal = cells[i + 2]
        assert reveal["cell_type"] == "code" and reveal["metadata"].get("jupyter", {}).get("outputs_hidden"), \
            (name, i + 2)
        answer = next(c for c in cells[i + 3:] if c["cell_type"] == "markdown")
        assert "<details>" in _src(answer), (name, _src(answer)[:80])


def test_lesson_07s_practice_does_not_run_its_spoiler_on_run_all() -> None:
    cells = json.loads((ROOT / "lessons" / "07-debugging-a-service.ipynb").read_text())["cells"]
    spoiler = next(i for i, c in enumerate(cells) if _src(c).startswith("### Spoiler"))
    assert 'predict("07-practice")' in _src(cells[spoiler - 1])
    for c in cells[spoiler + 1:]:
        if c["cell_type"] != "code":
            continue
        assert 'answered("07-practice")' in _src(c), _src(c)[:80]
        text = json.dumps(c["outputs"])
        assert "every hop is ok" not in text and "broken at readiness" not in text, text[:200]
