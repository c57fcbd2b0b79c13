"""Predict, then run: a question with choices, answered before the cell that reveals the answer.

    from kai_labs.labs.predict import predict
    predict("02-by-name")      # a small form; without widgets: p = predict("02-by-name"); p.check(2)

The questions live in ``predictions.yaml`` beside this module, by key, so a lesson cell shows
neither the answer nor the explanations before the learner has answered.

How the answer stays hidden until the learner has answered, and the notebook stays deterministic:
the lesson is committed with every output (nbval compares them), and the cells that reveal carry
the standard notebook metadata ``jupyter.outputs_hidden`` (JupyterLab shows their output collapsed
until the cell is run again, which un-hides it; JupyterLab's CodeCell.execute sets outputHidden to
false). The explanation below them is folded in a ``<details>`` block. The form itself keeps no state
in the notebook file: the answer lives in the kernel, so an unattended run (nbval, the outputs tool)
renders the same form every time. Wrong answers get an explanation that points at what the reveal
cell shows.
"""

from __future__ import annotations

import html
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .diagnose import inline_code_html

QUESTIONS = Path(__file__).parent / "predictions.yaml"

# every prediction asked in this kernel, by question, so a later cell can ask whether it was answered
ASKED: dict[str, Prediction] = {}


@dataclass
class Feedback:
    """The course's answer to a prediction: right or not, and why, in words that point at the output."""

    choice: str
    right: bool
    text: str

    def __bool__(self) -> bool:
        return self.right

    def __str__(self) -> str:
        return f"{'✔ Right' if self.right else '✘ Not quite'}: {self.text}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        color = "var(--jp-success-color1, #1a7f37)" if self.right else "var(--jp-error-color1, #cf222e)"
        head = "✔ Right" if self.right else "✘ Not quite"
        return (f"<div class='kai-feedback' role='status' style='text-align:left'><b style='color:{color}'>{head}"
                f"</b>: {inline_code_html(self.text)}</div>")


@dataclass
class Prediction:
    """One "Predict, then run" question: choices, the right one, and an explanation per wrong one."""

    question: str
    choices: dict[str, str]  # choice -> what to say when it is chosen and wrong
    answer: str
    why: str = ""
    then: str = "Now run the next cell and compare."
    key: str = ""
    chosen: str | None = None
    history: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.chosen is not None

    def check(self, choice: str) -> Feedback:
        """Record ``choice`` (the text, or its 1-based number) and say whether it is right, and why."""
        key = _pick(self, choice)
        self.chosen = key
        self.history.append(key)
        if key == self.answer:
            return Feedback(key, True, " ".join(x for x in (self.why, self.then) if x))
        return Feedback(key, False, " ".join(x for x in (self.choices.get(key) or "", self.then) if x))

    def __str__(self) -> str:
        lines = [f"Predict: {self.question}"]
        lines += [f"  {i}. {c}" for i, c in enumerate(self.choices, 1)]
        lines.append(f"Answer with the form, or without widgets: predict({self.key!r}).check(<number>).")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The form where widgets render; the question and its numbered choices as text everywhere else
        (the committed text is the same on every run: no widget state is saved with the notebook)."""
        items = "".join(f"<li>{html.escape(c)}</li>" for c in self.choices)
        bundle: dict[str, Any] = {"text/plain": str(self), "text/html": (
            f"<div class='kai-predict' style='text-align:left'><p><b>Predict:</b> {html.escape(self.question)}</p>"
            f"<ol>{items}</ol><p><i>Run this cell to answer in a form (without widgets: "
            f"<code>predict({html.escape(repr(self.key))}).check(number)</code>).</i></p></div>")}
        try:
            box = self.form()
        except ImportError:
            return bundle
        view = box._repr_mimebundle_() or {}
        view = view[0] if isinstance(view, tuple) else view
        if "application/vnd.jupyter.widget-view+json" in view:
            bundle["application/vnd.jupyter.widget-view+json"] = view["application/vnd.jupyter.widget-view+json"]
        return bundle

    def form(self) -> Any:
        w = importlib.import_module("ipywidgets")
        question = w.HTML(f"<b>Predict:</b> {html.escape(self.question)}")
        options = w.RadioButtons(options=list(self.choices), value=None, layout=w.Layout(width="auto"))
        button = w.Button(description="Check my prediction", icon="check", tooltip="Record your answer; the next "
                          "cell shows what really happens", layout=w.Layout(width="auto"))
        out = w.HTML("")

        def click(_: Any = None) -> None:
            if options.value is None:
                out.value = "<p role='status'>Choose an answer first.</p>"
                return
            out.value = self.check(str(options.value))._repr_html_()

        button.on_click(click)
        box = w.VBox([question, options, button, out])
        box.add_class("kai-predict")
        box.click = click
        box.widgets = {"options": options, "button": button, "out": out}
        return box


def _pick(p: Prediction, choice: str | int) -> str:
    names = list(p.choices)
    if isinstance(choice, int) or str(choice).strip().isdigit():
        i = int(choice)
        if not 1 <= i <= len(names):
            raise ValueError(f"choose 1 to {len(names)}")
        return names[i - 1]
    text = str(choice).strip().lower()
    hit = [n for n in names if n.lower() == text] or [n for n in names if n.lower().startswith(text)]
    if len(hit) != 1:
        raise ValueError(f"{choice!r} is not one of the choices: " + "; ".join(names))
    return hit[0]


def load(path: Path = QUESTIONS) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(path.read_text()) or {}
    return {str(k): dict(v) for k, v in data.items()}


def predict(key: str) -> Prediction:
    """The prediction ``key`` of ``predictions.yaml``, to answer before the next cell runs (asked again,
    the same key starts afresh)."""
    known = load()
    if key not in known:
        raise ValueError(f"no prediction {key!r} (known: {', '.join(sorted(known))})")
    q = known[key]
    choices = {str(c): str(t or "") for c, t in (q.get("choices") or {}).items()}
    if q["answer"] not in choices:
        raise ValueError(f"prediction {key}: the answer is not one of the choices")
    p = Prediction(str(q["question"]), choices, str(q["answer"]), str(q.get("why") or ""),
                   str(q.get("then") or "Now run the next cell and compare."), key=key)
    ASKED[key] = p
    return p


def answered(key: str) -> bool:
    """Whether prediction ``key`` was answered in this kernel (a spoiler cell waits for it)."""
    p = ASKED.get(key)
    return p is not None and p.answered
