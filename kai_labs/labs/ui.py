"""An ipywidgets panel: pick a scenario, break/reset it, see the diagram, check, reveal hints.

    kai_labs.scenarios.get("wrong-selector").panel(c)    # or kai_labs.panel(c, "wrong-selector")

Made for a laptop window (1366x768 with JupyterLab's file browser open) and for
both JupyterLab themes:

- every button has a label in words, an icon and a tooltip (its accessible name is
  the label; the tooltip says what it does);
- results say it in words and a symbol (``✔ Passed``, ``⚠ Not yet``, ``✘ Error``),
  never by colour alone; colours come from JupyterLab's theme variables, so they
  stay readable in the light and the dark theme;
- while the cluster starts, a scenario is created or a check waits for a rollout,
  the status line shows a spinner and what it waits for, and the buttons are
  disabled (a second click cannot start a second grade);
- the status line is an ARIA live region (``role="status"``), so screen readers
  announce the outcome.

``cluster`` may be ``None``: the first button click then starts (or reuses) the
embedded cluster with ``kai_labs.start()``, with progress shown. Nothing here knows
about check internals or the reference solution.
"""

from __future__ import annotations

import html
import importlib
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..clusters import start
from ..errors import friendly
from .diagnose import form as diagnosis_form
from .diagnose import inline_code_html
from .draw import diagram_html, draw
from .spec import ScenarioError


class Catalog(Protocol):
    """The scenarios the panel offers (:data:`kai_labs.labs.scenario.CATALOG`)."""

    def names(self) -> list[str]: ...

    def get(self, name: str) -> Any: ...

# JupyterLab theme variables (with fallbacks for classic Notebook / VS Code): readable in light and dark
OK_COLOR = "var(--jp-success-color1, #1a7f37)"
WARN_COLOR = "var(--jp-warn-color1, #9a6700)"
ERR_COLOR = "var(--jp-error-color1, #cf222e)"
MUTED_COLOR = "var(--jp-ui-font-color2, #57606a)"

CSS = """<style>
.kai-panel { max-width: 100%; }
.kai-panel .kai-buttons { flex-wrap: wrap; gap: 4px; }
.kai-panel .kai-buttons .widget-button { width: auto; min-width: 7em; margin: 0; }
.kai-panel .kai-status { min-height: 1.8em; }
.kai-panel .kai-about .widget-html-content, .kai-panel .kai-hints .widget-html-content { line-height: 1.4; }
.kai-panel .kai-about p, .kai-panel .kai-hints p { margin: 0.2em 0; }
.kai-panel .kai-grade td, .kai-panel .kai-grade th { text-align: left; vertical-align: top; }
.kai-panel .kai-output table td, .kai-panel .kai-output table th { text-align: left; vertical-align: top; }
/* the trace's and the grade's fixed GitHub-light colours are too dark on a dark theme */
body[data-jp-theme-light="false"] .kai-panel .kai-output code[style*="#57606a"] {
  color: var(--jp-content-font-color2) !important; }
body[data-jp-theme-light="false"] .kai-panel .kai-output [style*="#1a7f37"] {
  color: var(--jp-success-color1, #3fb950) !important; }
body[data-jp-theme-light="false"] .kai-panel .kai-output [style*="#cf222e"] {
  color: var(--jp-error-color1, #f85149) !important; }
body[data-jp-theme-light="false"] .kai-panel .kai-output [style*="#b35900"] {
  color: var(--jp-warn-color1, #d29922) !important; }
body[data-jp-theme-light="false"] .kai-panel .kai-output [style*="#6e7781"] {
  color: var(--jp-content-font-color2) !important; }
</style>"""


def _status(symbol: str, text_html: str, color: str, *, busy: bool = False) -> str:
    spin = ('<i class="fa fa-spinner fa-spin" aria-hidden="true" style="margin-right:0.4em"></i>' if busy else "")
    return (f'<div role="status" aria-live="polite" style="color:var(--jp-ui-font-color1)">{spin}'
            f'<span aria-hidden="true" style="color:{color};font-weight:bold">{symbol}</span> {text_html}</div>')


def ok(text_html: str) -> str:
    return _status("&#10004;", text_html, OK_COLOR)


def warn(text_html: str) -> str:
    return _status("&#9888;", text_html, WARN_COLOR)


def err(text_html: str) -> str:
    return _status("&#10008;", text_html, ERR_COLOR)


def waiting(text: str) -> str:
    return _status("", f"{html.escape(text)} <span style='color:{MUTED_COLOR}'>(please wait)</span>", MUTED_COLOR,
                   busy=True)


def _display_html(out: Any, text: str) -> None:
    """Show ``text`` as HTML in the panel's output area (appended to the Output widget's model, so it works
    from a button's callback and outside a kernel alike)."""
    # late, like ipywidgets (a CLI-only install has no IPython); typed Any: IPython.display has no annotations
    ipd: Any = importlib.import_module("IPython.display")
    out.append_display_data(ipd.HTML(text))


def panel(cluster: Any = None, name: str | None = None, *, catalog: Catalog) -> Any:
    try:
        import ipywidgets as w  # in the `lab` extra: a CLI-only install does not pull IPython
    except ModuleNotFoundError as e:
        raise ScenarioError("the scenario panel needs ipywidgets, which comes with JupyterLab: "
                           "pip install 'kai-labs[lab]'") from e

    names = catalog.names()
    pick = w.Dropdown(options=[(f"{catalog.get(n).title} ({n})", n) for n in names], value=name or names[0],
                      description="Scenario", layout=w.Layout(width="32em", max_width="100%"),
                      tooltip="which broken scenario to work on")

    def button(label: str, icon: str, tooltip: str, style: str = "") -> Any:
        return w.Button(description=label, icon=icon, tooltip=tooltip, button_style=style,
                        layout=w.Layout(width="auto"))

    b_create = button("Create (break)", "bolt", "Create the scenario in its own namespace, broken on purpose")
    b_reset = button("Reset", "undo", "Delete the scenario's namespace and create it again, broken")
    b_inspect = button("Inspect + diagram", "search",
                       "The answer key: walk Service -> selector -> EndpointSlice -> readiness -> targetPort, name "
                       "the first broken hop and draw the path (state your diagnosis first)")
    b_check = button("Check my fix", "check", "Grade your fix with real requests through the Service", "primary")
    b_hint = button("Reveal next hint", "lightbulb-o", "Show one more hint (one at a time)")
    buttons = (b_create, b_reset, b_inspect, b_check, b_hint)
    status = w.HTML(value=_status("&#8226;", "Ready. Start with <b>Create (break)</b>.", MUTED_COLOR))
    status.add_class("kai-status")
    about = w.HTML()
    about.add_class("kai-about")
    out = w.Output(layout=w.Layout(max_width="100%", overflow="auto"))
    out.add_class("kai-output")
    hints = w.HTML()
    hints.add_class("kai-hints")
    state: dict[str, Any] = {"shown": 0, "cluster": cluster}
    diagnose = diagnosis_form(lambda hop, because: current().diagnose(hop, because=because,
                                                                      cluster=the_cluster()))
    diagnose.add_class("kai-diagnose-panel")

    def current() -> Any:
        return catalog.get(str(pick.value))

    def shown() -> Any:
        """The scenario in the values its namespace records (`create --vary N` from a terminal included),
        for the texts the panel shows; the catalog's values until a cluster is there to ask."""
        s = current()
        if state["cluster"] is None:
            return s
        try:
            return s.recorded(state["cluster"])
        except Exception:  # the cluster gone or not answering: the catalog's texts still help
            return s

    def the_cluster() -> Any:
        if state["cluster"] is None:
            status.value = waiting("starting the embedded cluster")
            state["cluster"] = start()
        return state["cluster"]

    def fresh() -> None:
        """Forget what was shown for the previous state: hints, grade, walk, diagnosis."""
        state["shown"] = 0
        hints.value = ""
        b_hint.description = "Reveal next hint"
        b_hint.disabled = False
        out.outputs = ()
        diagnose.widgets["out"].value = ""

    def show_about(*_: Any) -> None:
        s = current()
        fresh()
        about.value = (f"<p><b>{html.escape(s.title)}</b></p><p><b>Symptom:</b> {html.escape(s.symptom)}</p>"
                       f"<p><b>Objective:</b> {html.escape(s.objective)}</p>")

    def busy(text: str, fn: Callable[[], str]) -> None:
        for b in buttons:
            b.disabled = True
        status.value = waiting(text)
        t0 = time.monotonic()
        try:
            the_cluster()
            status.value = waiting(text)
            msg = fn()
        except Exception as e:  # noqa: BLE001 - a panel reports, never raises
            msg = err(f"<b>Error:</b> {html.escape(friendly(e) or str(e))}")
        finally:
            for b in buttons:
                b.disabled = False
            b_hint.disabled = bool(state["shown"]) and state["shown"] >= len(current().hints)
        secs = time.monotonic() - t0
        if secs >= 1 and msg.endswith("</div>"):
            msg = msg[:-6] + f" <span style='color:{MUTED_COLOR}'>({secs:.1f} s)</span></div>"
        status.value = msg

    def do_create(_: Any) -> None:
        def run() -> str:
            current().create(the_cluster())
            fresh()
            return ok(f"Created <code>{html.escape(current().namespace)}</code>: it is broken on purpose. "
                      "Next: investigate with kubectl, then say which hop is broken (below).")
        busy("creating the scenario (waiting for its Pods)", run)

    def do_reset(_: Any) -> None:
        def run() -> str:
            current().reset(the_cluster())
            fresh()
            return ok("Reset to the broken state.")
        busy("resetting the scenario (delete and create again)", run)

    def do_inspect(_: Any) -> None:
        def run() -> str:
            t = current().inspect(the_cluster())
            out.outputs = ()
            _display_html(out, t._repr_html_())
            _display_html(out, diagram_html(draw(t)))
            d = t.diagnosis
            return (warn(f"First broken hop: <b>{html.escape(d.hop)}</b> (details and diagram below).") if d
                    else ok("Every hop is ok."))
        busy("walking the path Service -> EndpointSlice -> Pods", run)

    def do_check(_: Any) -> None:
        def run() -> str:
            g = current().check(the_cluster())
            out.outputs = ()
            _display_html(out, g._repr_html_())
            if g.passed:
                _display_html(out, f"<div class='kai-debrief' style='text-align:left'><p><b>Debrief.</b> "
                              f"{inline_code_html(shown().debrief)}</p></div>")
            n = sum(r.passed for r in g.results)
            if g.passed:
                return ok(f"<b>Passed</b> ({n}/{len(g.results)} checks). Read the debrief below.")
            first = g.first_failure
            where = (f" First failed check: <b>{html.escape(first.name)}</b> at hop "
                     f"<code>{html.escape(first.hop)}</code>." if first else "")
            return warn(f"<b>Not yet</b> ({n}/{len(g.results)} checks passed).{where} See the failed checks below.")
        busy("grading: real requests through the Service (waits for rollouts, up to ~20 s)", run)

    def do_hint(_: Any) -> None:
        s = shown()
        if not s.hints:
            hints.value = "<p>This scenario has no hints.</p>"
            return
        state["shown"] = min(state["shown"] + 1, len(s.hints))
        hints.value = "".join(f"<p><b>Hint {i + 1}/{len(s.hints)}:</b> {inline_code_html(h)}</p>"
                              for i, h in enumerate(s.hints[: state["shown"]]))
        if state["shown"] >= len(s.hints):
            hints.value += ("<p><i>No more hints.</i> The answer key: <b>Inspect + diagram</b> walks the path and "
                            "names the broken hop.</p>")
            b_hint.description = "All hints shown"
            b_hint.disabled = True

    def on_pick(*a: Any) -> None:
        show_about(*a)
        b_hint.disabled = False

    pick.observe(on_pick, names="value")
    b_create.on_click(do_create)
    b_reset.on_click(do_reset)
    b_inspect.on_click(do_inspect)
    b_check.on_click(do_check)
    b_hint.on_click(do_hint)
    show_about()
    row = w.HBox(list(buttons), layout=w.Layout(flex_flow="row wrap", max_width="100%"))
    row.add_class("kai-buttons")
    step = w.HTML("<p style='text-align:left'><b>Your diagnosis</b> (after investigating with kubectl, before "
                  "the fix):</p>")
    box = w.VBox([w.HTML(CSS), pick, about, row, status, step, diagnose, hints, out],
                 layout=w.Layout(max_width="100%"))
    box.add_class("kai-panel")
    box.buttons = {"create": b_create, "reset": b_reset, "inspect": b_inspect, "check": b_check, "hint": b_hint}
    box.status = status
    box.hints = hints
    box.output = out
    box.diagnose = diagnose
    return box
