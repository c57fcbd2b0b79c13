"""The course layer: scenarios, the inspection walker, diagrams, grading, exercises.

    import kai_labs
    c = kai_labs.start()
    s = kai_labs.scenarios.get("wrong-selector").create(c)
    trace = c.inspect("web", s.namespace)     # or s.inspect(c)
    kai_labs.draw(trace)                      # a graphviz.Digraph, SVG in a notebook
    s.check(c)                                # a Grade: "not yet" until the fix works

Nothing here reaches into the embedded cluster: everything goes through the
Kubernetes API, kubectl and ``cluster.net``.
"""

from __future__ import annotations

from typing import Any

from . import scenario as scenarios
from . import ui
from .checks import CheckResult
from .draw import draw as _draw
from .exercises import build_exercises as _build_exercises
from .grade import Grade, grade
from .inspect import Client, Step, Trace, inspect
from .scenario import CATALOG, Scenario, ScenarioError

__all__ = ["CheckResult", "Client", "Grade", "Scenario", "ScenarioError", "Step", "Trace", "draw", "grade",
           "inspect", "scenarios", "panel", "build_exercises"]


def draw(trace: Trace, **kw: Any) -> Any:
    """A ``graphviz.Digraph`` of the trace (see :mod:`kai_labs.labs.draw`)."""
    return _draw(trace, **kw)


def panel(cluster: object, name: str | None = None) -> Any:
    """The ipywidgets scenario panel (see :mod:`kai_labs.labs.ui`)."""
    return ui.panel(cluster, name, catalog=CATALOG)


def build_exercises(check: bool = False) -> list[str]:
    return _build_exercises(check=check)
