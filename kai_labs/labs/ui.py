"""An ipywidgets panel: pick a scenario, break/reset it, see the diagram, check, reveal hints.

Buttons carry words and icons (never colour alone); long operations show a
progress line while they wait. Nothing here knows about check internals or the
reference solution.
"""

from __future__ import annotations

import html
from typing import Any

from . import scenario as sc


def panel(cluster: Any, name: str | None = None) -> Any:
    import ipywidgets as w

    names = sc.names()
    pick = w.Dropdown(options=[(f"{sc.get(n).title} ({n})", n) for n in names], value=name or names[0],
                      description="Scenario", layout=w.Layout(width="520px"))
    b_create = w.Button(description="Create (break)", icon="bolt", tooltip="create the broken scenario")
    b_reset = w.Button(description="Reset", icon="undo", tooltip="back to the broken state")
    b_inspect = w.Button(description="Inspect + diagram", icon="search", tooltip="walk the path and draw it")
    b_check = w.Button(description="Check my fix", icon="check", button_style="primary", tooltip="grade")
    b_hint = w.Button(description="Reveal next hint", icon="lightbulb-o", tooltip="one hint at a time")
    status = w.HTML(value="<i>Ready.</i>")
    progress = w.IntProgress(value=0, min=0, max=1, description="", layout=w.Layout(width="200px", visibility="hidden"))
    about = w.HTML()
    out = w.Output()
    hints = w.HTML()
    state = {"shown": 0}

    def current() -> sc.Scenario:
        return sc.get(str(pick.value))

    def show_about(*_: Any) -> None:
        s = current()
        state["shown"] = 0
        hints.value = ""
        about.value = (f"<b>{html.escape(s.title)}</b><br><b>Symptom:</b> {html.escape(s.symptom)}<br>"
                       f"<b>Objective:</b> {html.escape(s.objective)}")

    def busy(text: str, fn: Any) -> None:
        buttons = (b_create, b_reset, b_inspect, b_check, b_hint)
        for b in buttons:
            b.disabled = True
        progress.layout.visibility = "visible"
        progress.bar_style = "info"
        progress.value = 0
        status.value = f"&#8987; {html.escape(text)} (please wait)"
        try:
            msg = fn()
            status.value = msg
        except Exception as e:  # noqa: BLE001 - a panel reports, never raises
            from ..errors import friendly

            status.value = f"&#10008; <b>Error:</b> {html.escape(friendly(e) or str(e))}"
        finally:
            progress.value = 1
            progress.layout.visibility = "hidden"
            for b in buttons:
                b.disabled = False

    def do_create(_: Any) -> None:
        def run() -> str:
            current().create(cluster)
            return f"&#10004; Created <code>{html.escape(current().namespace)}</code>: it is broken on purpose."
        busy("creating the scenario", run)

    def do_reset(_: Any) -> None:
        def run() -> str:
            current().reset(cluster)
            return "&#10004; Reset to the broken state."
        busy("resetting", run)

    def do_inspect(_: Any) -> None:
        def run() -> str:
            from IPython.display import HTML, display

            from .draw import draw

            t = current().inspect(cluster)
            out.clear_output()
            with out:
                display(HTML(t._repr_html_()))
                display(draw(t))
            d = t.diagnosis
            return (f"&#9888; First broken hop: <b>{html.escape(d.hop)}</b>" if d
                    else "&#10004; Every hop is ok.")
        busy("walking the path", run)

    def do_check(_: Any) -> None:
        def run() -> str:
            from IPython.display import HTML, display

            g = current().check(cluster)
            out.clear_output()
            with out:
                display(HTML(g._repr_html_()))
            return ("&#10004; <b>Passed.</b> Read the debrief below." if g.passed
                    else "&#9888; <b>Not yet.</b> See the failed checks below.")
        busy("grading (real requests through the Service)", run)

    def do_hint(_: Any) -> None:
        s = current()
        state["shown"] = min(state["shown"] + 1, len(s.hints))
        hints.value = "".join(f"<p><b>Hint {i + 1}/{len(s.hints)}:</b> {html.escape(h)}</p>"
                              for i, h in enumerate(s.hints[: state["shown"]]))

    pick.observe(show_about, names="value")
    b_create.on_click(do_create)
    b_reset.on_click(do_reset)
    b_inspect.on_click(do_inspect)
    b_check.on_click(do_check)
    b_hint.on_click(do_hint)
    show_about()
    box = w.VBox([pick, about, w.HBox([b_create, b_reset, b_inspect, b_check, b_hint]),
                  w.HBox([progress, status]), hints, out])
    box.buttons = {"create": b_create, "reset": b_reset, "inspect": b_inspect, "check": b_check, "hint": b_hint}
    box.status = status
    box.hints = hints
    return box
