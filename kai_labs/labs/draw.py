"""Diagrams: a trace drawn as client -> Service -> EndpointSlices -> Pods with Graphviz.

``draw(trace)`` returns a :class:`Diagram`, a ``graphviz.Digraph`` whose DOT
source is deterministic (stable node ids, sorted objects), so tests compare it
with golden files without rendering. Rendering uses the ``graphviz-pure`` binary
that pip installs (no system Graphviz needed) and falls back to a system
``dot``; it is quiet (``-q``, stderr captured). Every SVG carries alt text: a
``<title>``/``<desc>`` pair and ``role="img"``/``aria-label`` on ``<svg>``.
"""

from __future__ import annotations

import base64
import html
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

from .inspect import EndpointView, PodView, Trace

RED = "#cf222e"
DIM = "#8c959f"
GREEN = "#1a7f37"
BLUE = "#0969da"  # the packet walk's current hop
MAX_PODS = 12  # more than this: Pods and endpoints collapse into summary nodes
FONT = "Helvetica"


class DiagramError(Exception):
    """No Graphviz renderer is available, or it failed."""


def find_dot() -> str | None:
    """The renderer: $KAI_LABS_DOT, graphviz-pure (next to Python or on PATH), else a system ``dot``."""
    env = os.environ.get("KAI_LABS_DOT")
    if env:
        return env
    here = Path(sys.executable).parent / "graphviz-pure"
    if here.exists():
        return str(here)
    return shutil.which("graphviz-pure") or shutil.which("dot")


def use_graphviz_pure() -> None:
    """Point the graphviz package's own backend (``Digraph.render``/``pipe``) at our renderer when no
    system ``dot`` is on PATH."""
    import graphviz.backend.dot_command as dc

    if shutil.which("dot") is None:
        exe = find_dot()
        if exe:
            dc.DOT_BINARY = Path(exe)


def render_svg(source: str, alt: str = "") -> str:
    exe = find_dot()
    if exe is None:
        raise DiagramError("no Graphviz renderer found: `pip install graphviz-pure` (or install Graphviz)")
    try:
        r = subprocess.run([exe, "-Tsvg", "-q"], input=source.encode(), capture_output=True, timeout=60)
    except OSError as e:
        raise DiagramError(f"could not run {exe}: {e}") from None
    if r.returncode != 0:
        raise DiagramError(f"{Path(exe).name} failed: {r.stderr.decode(errors='replace').strip()[:300]}")
    svg = r.stdout.decode()
    return add_alt_text(svg, alt) if alt else svg


def add_alt_text(svg: str, alt: str) -> str:
    """Put alt text where screen readers and browsers look: aria-label, <title>, <desc>."""
    a = html.escape(alt, quote=True)
    i = svg.find("<svg")
    j = svg.find(">", i)
    if i < 0 or j < 0:
        return svg
    head = svg[i:j]
    return (svg[:i] + head + f' role="img" aria-label="{a}">' + f"\n<title>{a}</title>\n<desc>{a}</desc>"
            + svg[j + 1:])


class Diagram:
    """What a diagram adds to ``graphviz.Digraph``: rendering with graphviz-pure, and its alt text.

    :func:`draw` returns an instance of :func:`diagram_class`, a ``graphviz.Digraph`` with these methods; the
    class is made on first use, so that importing kai_labs does not import graphviz."""

    alt_text: str = ""
    source: str  # graphviz.Digraph's DOT text

    def svg(self) -> str:
        return render_svg(self.source, self.alt_text)

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict[str, str]:
        try:
            svg = self.svg()
            return {"text/html": diagram_html(self, svg=svg, caption=False), "image/svg+xml": svg,
                    "text/plain": self.alt_text}
        except DiagramError as e:
            return {"text/plain": f"{self.alt_text}\n(diagram not rendered: {e})"}

    def save(self, path: str | Path) -> Path:
        """Write ``.svg`` (rendered, with alt text) or ``.dot``/``.gv`` (source)."""
        p = Path(path)
        if p.suffix in (".dot", ".gv"):
            p.write_text(self.source)
        elif p.suffix == ".svg":
            p.write_text(self.svg())
        else:
            raise DiagramError(f"unsupported diagram format {p.suffix or '(none)'}: use .svg or .dot")
        return p


_DIAGRAM_CLASS: type[Any] | None = None


def diagram_class() -> type[Any]:
    """``Diagram`` mixed into ``graphviz.Digraph`` (made once, importing graphviz then)."""
    global _DIAGRAM_CLASS
    if _DIAGRAM_CLASS is None:
        import graphviz  # late: `import kai_labs` stays free of graphviz until a diagram is drawn

        use_graphviz_pure()
        _DIAGRAM_CLASS = type("Diagram", (Diagram, graphviz.Digraph), {"__module__": __name__,
                                                                        "__doc__": Diagram.__doc__})
    return _DIAGRAM_CLASS


def diagram_html(diagram: Diagram, svg: str | None = None, caption: bool = True) -> str:
    """The diagram as an ``<img>`` with real alt text, scaled down to fit the output's width.

    JupyterLab draws image/svg+xml as an ``<img>`` that no CSS confines and without ``alt``, so a wide
    diagram's right end (where the broken link usually is) is cut off on a laptop. Its HTML renderer
    confines ``<img>`` (max-width: 100%), keeps a data: ``src`` through the sanitizer of untrusted notebooks,
    and ranks text/html above image/svg+xml. Click (or Enter) toggles full size. Falls back to the text
    when no renderer is available.
    """
    alt = _esc(diagram.alt_text or "diagram of the path")
    try:
        svg = diagram.svg() if svg is None else svg
    except DiagramError as e:
        return f"<pre>{alt}</pre><p><i>(diagram not rendered: {_esc(e)})</i></p>"
    src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    toggle = ("this.style.maxWidth = this.style.maxWidth === 'none' ? '100%' : 'none'; "
              "this.setAttribute('aria-pressed', this.style.maxWidth === 'none')")
    text = ('<figcaption style="color:var(--jp-ui-font-color2, #57606a);font-size:90%">Scaled to fit. Click the '
            "diagram (or focus it and press Enter) to see it at full size, then scroll sideways.</figcaption>"
            if caption else "")
    return (f'<figure class="kai-diagram" style="margin:0.5em 0;overflow-x:auto">'
            f'<img src="{src}" alt="{alt}" title="{alt}" role="button" tabindex="0" aria-pressed="false" '
            f'style="max-width:100%;height:auto;background:white;border-radius:4px;cursor:zoom-in" '
            f'onclick="{toggle}" onkeydown="if (event.key === \'Enter\' || event.key === \' \') {{ {toggle}; '
            f'event.preventDefault(); }}">{text}</figure>')


def _esc(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _lbl(d: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items()))


def _nid(prefix: str, name: str) -> str:
    return prefix + "_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def alt_text(trace: Trace) -> str:
    svc = trace.svc
    n_eps = sum(len(s.endpoints) for s in trace.slices)
    ready = sum(e.ready for s in trace.slices for e in s.endpoints)
    sel = [p for p in trace.pods if p.selected]
    parts = [f"Diagram of Service {trace.service} in namespace {trace.namespace}:",
             f"client in {trace.client.namespace} calls {trace.client.url};"]
    if svc is None:
        parts.append("the Service does not exist.")
    else:
        ip = "headless" if svc.cluster_ip == "None" else f"ClusterIP {svc.cluster_ip}"
        parts.append(f"Service {svc.name} ({ip}, selector {_lbl(svc.selector) or 'none'})"
                     f" -> {len(trace.slices)} EndpointSlice(s) with {n_eps} endpoint(s), {ready} ready"
                     f" -> {len(sel)} selected Pod(s); {len(trace.pods) - len(sel)} Pod(s) outside the selector.")
    d = trace.diagnosis
    parts.append(f"First broken hop: {d.hop}: {d.explanation}." if d else "Every hop is ok.")
    return " ".join(parts)


def _wrap(text: str, width: int = 42, max_lines: int = 4) -> str:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    if cur:
        lines.append(cur)
    return "\n".join(lines[:max_lines]) + (" ..." if len(lines) > max_lines else "")


class _Edges:
    """Draws edges; the edges of the broken hop red and bold, the first of them saying BROKEN; the edges
    of a highlighted hop (the packet walk's current step) blue and bold."""

    def __init__(self, g: Any, broken: str | None, highlight: str | None = None) -> None:
        self.g = g
        self.broken = broken
        self.highlight = highlight
        self.told: list[str] = []

    def __call__(self, a: str, b: str, hops: tuple[str, ...], label: str = "", **kw: str) -> None:
        if self.broken in hops:
            why = "" if self.told else "BROKEN" if label == self.broken else f"BROKEN: {self.broken}"
            self.told.append(a)
            self.g.edge(a, b, label="\n".join(x for x in (label, why) if x), color=RED, fontcolor=RED,
                        penwidth="2.5", style="bold")
        elif self.highlight is not None and self.highlight in hops:
            self.g.edge(a, b, label=label, color=BLUE, fontcolor=BLUE, penwidth="2.5", style="bold")
        else:
            self.g.edge(a, b, label=label, **kw)


def draw(trace: Trace, max_pods: int = MAX_PODS, legend: bool = True, highlight: str | None = None) -> Diagram:
    """Draw ``trace``: the first broken link is red, and its reason is spelled out under the title.
    ``highlight`` (a walker hop, e.g. "targetPort") draws that hop's links blue: the packet walk's step."""
    g: Any = diagram_class()(name=_nid("service", f"{trace.namespace}_{trace.service}"))
    g.alt_text = alt_text(trace) + (f" Highlighted: the {highlight} hop." if highlight else "")
    _graph_attrs(g, trace)
    d = trace.diagnosis
    edge = _Edges(g, d.hop if d else None, highlight)
    if _client_and_service(g, trace, edge):
        selected = sorted((p for p in trace.pods if p.selected), key=lambda p: p.name)
        others = sorted((p for p in trace.pods if not p.selected), key=lambda p: p.name)
        big = len(selected) > max_pods
        slice_ids = _slices(g, trace, edge, big)
        _selected_pods(g, trace, edge, selected, slice_ids, big)
        if others:
            _unselected_pods(g, others, max_pods, edge.broken == "selector" and not selected)
    if legend:
        _legend(g)
    return cast(Diagram, g)


def title_html(trace: Trace) -> str:
    """The graph's title: the Service, then the first broken link's reason (or that every hop is ok)."""
    d = trace.diagnosis
    # The reason goes under the title, not on the red edge: a long edge label widened every broken
    # diagram by about 300 px, and the edge itself only needs to say which hop.
    title = f"<B>{_esc(f'Service {trace.service} in {trace.namespace}')}</B>"
    if d:
        lines = _wrap(f"first broken link, {d.hop}: {d.explanation}", width=110, max_lines=3).split("\n")
        title += "".join(f"<BR/><FONT COLOR='{RED}'>{_esc(ln)}</FONT>" for ln in lines)
    else:
        title += "<BR/>every hop is ok"
    return title


def _graph_attrs(g: Any, trace: Trace) -> None:
    # compact (small ranksep, two-line endpoints, the reason in the title) because a laptop shows it scaled down
    g.attr(rankdir="LR", fontname=FONT, fontsize="11", nodesep="0.25", ranksep="0.2",
           label=f"<{title_html(trace)}>", labelloc="t", tooltip=g.alt_text)
    g.attr("node", fontname=FONT, fontsize="10", shape="box", style="rounded")
    g.attr("edge", fontname=FONT, fontsize="9")


def _client_and_service(g: Any, trace: Trace, edge: _Edges) -> bool:
    """The client and the Service nodes and the edge between; False when the Service does not exist."""
    cl = trace.client
    g.node("client", f"client\n{cl.source or 'a Pod'}\nnamespace {cl.namespace}\nGET {cl.url}", shape="box",
           style="rounded,dashed")
    svc = trace.svc
    if svc is None:
        g.node("svc", f"Service {trace.service}\n(does not exist)", color=RED, fontcolor=RED)
        edge("client", "svc", ("service", "dns", "port", "request"))
        return False
    ip = "None (headless)" if svc.cluster_ip == "None" else svc.cluster_ip
    ports = "<BR/>".join(_esc(f"{p['name'] or '-'}: {p['port']} -> {p['targetPort']}/{p['protocol']}")
                         for p in svc.ports) or "no ports"
    g.node("svc", "<<TABLE BORDER='0' CELLBORDER='0' CELLSPACING='1'>"
           f"<TR><TD><B>Service {_esc(svc.name)}</B></TD></TR>"
           f"<TR><TD>{_esc(svc.dns)}</TD></TR><TR><TD>ClusterIP {_esc(ip)}</TD></TR>"
           f"<TR><TD>{ports}</TD></TR><TR><TD>selector {_esc(_lbl(svc.selector) or '<none>')}</TD></TR></TABLE>>",
           shape="box", style="rounded,bold")
    edge("client", "svc", ("dns", "port", "request"), label=f"{cl.host}:{cl.port}")
    return True


def _endpoint_row(e: EndpointView) -> str:
    # two lines per endpoint keep the node narrow: who it is, then its conditions
    cond = " · ".join(f"{k} {'yes' if v else 'NO' if k != 'terminating' else 'no'}" for k, v in
                      (("ready", e.ready), ("serving", e.serving), ("terminating", e.terminating)))
    return (f"<TR><TD ALIGN='LEFT'>{_esc(e.address)} {_esc(e.pod or '')}<BR ALIGN='LEFT'/>"
            f"<FONT POINT-SIZE='9'>{cond}</FONT><BR ALIGN='LEFT'/></TD></TR>")


def _slices(g: Any, trace: Trace, edge: _Edges, big: bool) -> list[str]:
    """One node per EndpointSlice (or "no EndpointSlice"), each linked from the Service; their node ids."""
    slice_ids: list[str] = []
    if not trace.slices:
        g.node("slice_none", "no EndpointSlice", style="rounded,dashed")
        slice_ids.append("slice_none")
    for i, sl in enumerate(trace.slices):
        sid = f"slice_{i}"
        slice_ids.append(sid)
        sports = ", ".join(f"{p['name'] or '-'}:{p['port']}" for p in sl.ports) or "&lt;unset&gt;"
        rows = [f"<TR><TD><B>EndpointSlice {_esc(sl.name)}</B></TD></TR>",
                f"<TR><TD>ports {sports if sports == '&lt;unset&gt;' else _esc(sports)}</TD></TR>"]
        if big:
            r = sum(e.ready for e in sl.endpoints)
            rows.append(f"<TR><TD>{len(sl.endpoints)} endpoints, {r} ready</TD></TR>")
        else:
            if not sl.endpoints:
                rows.append("<TR><TD>no endpoints</TD></TR>")
            rows += [_endpoint_row(e) for e in sl.endpoints]
        g.node(sid, "<<TABLE BORDER='0' CELLBORDER='0' CELLSPACING='1'>" + "".join(rows) + "</TABLE>>",
               shape="box", style="rounded")
        edge("svc", sid, ("selector", "pods", "endpointslice"), label="selector" if i == 0 else "")
    if not trace.slices:
        edge("svc", "slice_none", ("selector", "pods", "endpointslice"))
    return slice_ids


def _selected_pods(g: Any, trace: Trace, edge: _Edges, selected: list[PodView], slice_ids: list[str],
                   big: bool) -> None:
    """The Pods behind the Service (one summary node when there are many), linked from their endpoints."""
    if big:
        ready = sum(p.ready for p in selected)
        g.node("pods_summary", f"{len(selected)} Pods selected\n{ready} Ready, {len(selected) - ready} not Ready\n"
               f"owners: {', '.join(sorted({p.owner or 'bare Pod' for p in selected}))}", shape="box3d")
        for sid in slice_ids:
            edge(sid, "pods_summary", ("readiness", "targetPort", "app"))
        return
    by_name = {p.name: p for p in selected}
    for p in selected:
        g.node(_nid("pod", p.name), _pod_label(p), shape="box",
               style="rounded" if p.ready else "rounded,dashed")
    for i, sl in enumerate(trace.slices):
        for e in sl.endpoints:
            if e.pod in by_name:
                port = ",".join(str(x["port"]) for x in sl.ports) or "no port"
                hops: tuple[str, ...] = ("readiness",) if not e.ready else ("targetPort", "app")
                edge(f"slice_{i}", _nid("pod", e.pod), hops if _edge_broken(trace, e) else (),
                     label=f":{port}", style="solid" if e.ready else "dashed")


def _unselected_pods(g: Any, others: list[PodView], max_pods: int, misses_all: bool) -> None:
    """Pods the selector misses: apart, dimmed, with the label that differs (red when nothing is selected)."""
    with g.subgraph(name="cluster_unselected") as sub:
        sub.attr(label="not selected by the Service", style="dashed", color=DIM, fontcolor=DIM)
        for p in others[:max_pods]:
            diff = "; ".join(f"{k}: wants {w}, has {h if h is not None else '(none)'}"
                             for k, (w, h) in sorted(p.diff.items()))
            sub.node(_nid("pod", p.name), _pod_label(p) + (f"\ndiffers: {diff}" if diff else ""),
                     color=DIM, fontcolor=DIM, style="rounded,dashed")
        if len(others) > max_pods:
            sub.node("others_more", f"... {len(others) - max_pods} more Pods", color=DIM, fontcolor=DIM)
    first = others[0]
    color = RED if misses_all else DIM
    g.edge("svc", _nid("pod", first.name), label="selector misses", color=color, fontcolor=color,
           style="dotted", constraint="false")


def _edge_broken(trace: Trace, e: Any) -> bool:
    d = trace.diagnosis
    if d is None:
        return False
    if d.hop == "readiness":
        return not e.ready
    if d.hop in ("targetPort", "app"):
        return bool(e.ready)
    return False


def _pod_label(p: Any) -> str:
    ports = ", ".join(f"{x.get('name') or '-'}:{x.get('containerPort')}" for x in p.ports) or "none"
    ready = "Ready: yes" if p.ready else "Ready: NO"
    owner = f"Deployment {p.owner}" if p.owner else "bare Pod"
    labels = "\n".join(f"{k}={v}" for k, v in sorted(p.labels.items())) or "no labels"
    return f"Pod {p.name}\n{owner}\n{labels}\nIP {p.ip or '-'}\ncontainerPorts {ports}\n{p.phase}, {ready}"


def _legend(g: Any) -> None:
    """One compact table node (a row of separate nodes made lesson diagrams 1,500 px wide)."""
    rows = [("solid: traffic path, ok", "black"),
            ("red bold: first broken link", RED),
            ("grey dashed: not selected", DIM),
            ("dashed, Ready NO: not ready", "black")]
    cells = "".join(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{c}">{t}</FONT></TD></TR>' for t, c in rows)
    g.node("legend", f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1"><TR><TD ALIGN="LEFT"><B>legend</B>'
                     f"</TD></TR>{cells}</TABLE>>",
           shape="box", style="rounded", color=DIM, fontsize="8")

