"""The learner's diagnosis: which hop is broken and why, stated before the fix and judged.

    s.diagnose("targetPort", because="the log says 3000, the Service sends 8080")
    kai-labs scenario diagnose wrong-targetport targetPort --because "..."

The hop names are the walker's (:mod:`.inspect`): ``service``, ``dns``, ``port``,
``selector``, ``pods``, ``endpointslice``, ``readiness``, ``targetPort``, ``networkpolicy``, ``app``.
A scenario's ``spec.yaml`` says which hops name its break (``diagnosis`` plus
``diagnose.accept``: a refused connection on a wrong targetPort is the walker's
``app`` hop, and a learner who says ``targetPort`` is right too), what shows it with
kubectl (``diagnose.look``) and which words a reason that saw the evidence contains
(``diagnose.evidence``).

What the course can know, and what it cannot: it judges the hop against the break it
created, and it can tell whether the learner's reason mentions the evidence. It
cannot see which kubectl commands the learner ran (the embedded API server keeps no
audit of reads for the course, and a real cluster's audit log is not ours to read),
so "you have not looked at X yet" is said as a nudge that names the kubectl command
that shows X, never as a claim about what the learner did. Wrong answers in this
process are counted, so the nudges escalate: the first names what to look at, the
third offers the walker (``s.inspect(c)``) as the answer key.
"""

from __future__ import annotations

import difflib
import html
import importlib
from dataclasses import dataclass, field
from typing import Any

# the walker's hops in path order (inspect._skip_rest): where a request goes, first to last
HOPS: tuple[str, ...] = ("service", "dns", "port", "selector", "pods", "endpointslice", "readiness",
                         "targetPort", "networkpolicy", "app")

# what each hop is, for a learner who names it (one line), and the kubectl that shows it on any cluster
WHAT: dict[str, str] = {
    "service": "the Service object exists under the name clients call, with a type that routes",
    "dns": "the client's DNS name finds the Service (a short name is looked up in the client's own namespace)",
    "port": "the port the client dials is one the Service exposes",
    "selector": "the Service's selector matches the labels of the Pods that should answer, and only those",
    "pods": "Pods exist behind the Service (a Service never creates Pods: a Deployment does)",
    "endpointslice": "the EndpointSlice lists the selected Pods with their addresses and ports",
    "readiness": "the Pods are Ready, so their endpoints receive traffic",
    "targetPort": "the Service's targetPort resolves to a port in each Pod (a number, or a container port's name)",
    "networkpolicy": "no NetworkPolicy drops the packets between the client's Pod and the Pods (after the "
                     "Service's DNAT: the Pod's IP and targetPort)",
    "app": "the app in the Pod listens on the port the traffic arrives at",
}

LOOK: dict[str, str] = {
    "service": "kubectl get svc {svc} -n {ns} -o wide",
    "dns": "kubectl exec -n {client_ns} client -- nslookup {svc}.{ns}",
    "port": "kubectl get svc {svc} -n {ns} -o jsonpath='{{.spec.ports}}'",
    "selector": "kubectl get svc {svc} -n {ns} -o jsonpath='{{.spec.selector}}'; kubectl get pods -n {ns} "
                "--show-labels",
    "pods": "kubectl get deploy,pods -n {ns}",
    "endpointslice": "kubectl get endpointslices -n {ns} -l kubernetes.io/service-name={svc}",
    "readiness": "kubectl get pods -n {ns}; kubectl describe pods -n {ns}",
    "targetPort": "kubectl describe svc {svc} -n {ns}; kubectl get pods -n {ns} -o "
                  "jsonpath='{{.items[0].spec.containers[0].ports}}'",
    "networkpolicy": "kubectl get networkpolicy -n {ns}; kubectl describe networkpolicy -n {ns}",
    "app": "kubectl logs deploy/{intended} -n {ns}",
}

ALIASES: dict[str, str] = {
    "svc": "service", "services": "service", "name": "dns", "ports": "port", "serviceport": "port",
    "selectors": "selector", "labels": "selector", "label": "selector", "pod": "pods", "replicas": "pods",
    "deployment": "pods", "endpoints": "endpointslice", "endpoint": "endpointslice",
    "endpointslices": "endpointslice", "slice": "endpointslice", "ready": "readiness", "probe": "readiness",
    "readinessprobe": "readiness", "targetport": "targetPort", "target-port": "targetPort",
    "target_port": "targetPort", "application": "app", "container": "app",
    "netpol": "networkpolicy", "networkpolicies": "networkpolicy", "network-policy": "networkpolicy",
    "policy": "networkpolicy", "firewall": "networkpolicy",
}

RIGHT, WRONG, UNKNOWN = "right", "wrong", "unknown"

# wrong answers per scenario in this process: the nudges escalate with them
_ATTEMPTS: dict[str, int] = {}


def normalize(hop: str) -> str | None:
    """A hop name as the walker spells it, or None; case, dashes and a few plain synonyms are forgiven."""
    h = (hop or "").strip()
    if h in HOPS:
        return h
    low = h.lower().replace(" ", "")
    for name in HOPS:
        if low == name.lower():
            return name
    return ALIASES.get(low)


@dataclass
class Diagnosis:
    """The course's answer to a learner's diagnosis; truthy only when the hop is right."""

    scenario: str
    hop: str
    verdict: str
    message: str
    because: str = ""
    nudges: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # kubectl that shows what the nudges name
    next_step: str = ""  # what to do now (after a right answer)

    @property
    def right(self) -> bool:
        return self.verdict == RIGHT

    def __bool__(self) -> bool:
        return self.right

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "hop": self.hop, "verdict": self.verdict, "right": self.right,
                "message": self.message, "because": self.because, "nudges": self.nudges,
                "commands": self.commands, "next_step": self.next_step}

    def _headline(self) -> str:
        return {RIGHT: "✔ Right", WRONG: "✘ Not this hop", UNKNOWN: "? Unknown hop"}[self.verdict]

    def __str__(self) -> str:
        out = [f"{self._headline()}: {self.message}"]
        out += [f"  - {n}" for n in self.nudges]
        out += [f"    $ {c}" for c in self.commands]
        if self.next_step:
            out.append(f"Next: {self.next_step}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"<Diagnosis {self.scenario} {self.hop!r}: {self.verdict}>"

    def _repr_html_(self) -> str:
        e = html.escape
        color = {RIGHT: "var(--jp-success-color1, #1a7f37)", WRONG: "var(--jp-error-color1, #cf222e)",
                 UNKNOWN: "var(--jp-warn-color1, #9a6700)"}[self.verdict]
        nudges = "".join(f"<li>{inline_code_html(n)}</li>" for n in self.nudges)
        cmds = "".join(f"<pre style='text-align:left'><code>{e(c)}</code></pre>" for c in self.commands)
        return (f"<div class='kai-diagnosis' role='status' style='text-align:left'>"
                f"<p><b style='color:{color}'>{e(self._headline())}</b>: {inline_code_html(self.message)}</p>"
                + (f"<ul>{nudges}</ul>" if nudges else "") + cmds
                + (f"<p><b>Next:</b> {inline_code_html(self.next_step)}</p>" if self.next_step else "") + "</div>")


def inline_code_html(text: str) -> str:
    """Markdown's `code` spans as <code>, the rest escaped: course text is prose with commands in it."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unbalanced backtick: show the text as it is
        return html.escape(text)
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def _spec(sc: Any) -> dict[str, Any]:
    return dict(getattr(sc, "diagnose_spec", None) or {})


def _fmt(text: str, sc: Any) -> str:
    client = getattr(sc, "client", None)
    values = {"ns": sc.namespace, "svc": sc.service, "intended": sc.intended,
              "client_ns": client.namespace if client else sc.namespace,
              "client": client.deployment if client else "client"}
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text


def accepted(sc: Any) -> tuple[str, ...]:
    """The hops that name ``sc``'s break (the walker's ``diagnosis`` first)."""
    extra = tuple(_spec(sc).get("accept") or ())
    first = (sc.diagnosis,) if sc.diagnosis else ()
    return first + tuple(h for h in extra if h not in first)


def look_commands(sc: Any, hop: str) -> list[str]:
    """The kubectl that shows ``hop`` in ``sc``: the scenario's own (``diagnose.look``) for its break, else
    the walker's generic command for that hop."""
    if hop in accepted(sc):
        own = [_fmt(str(x["cmd"]), sc) for x in _spec(sc).get("look") or [] if x.get("cmd")]
        if own:
            return own
    return [_fmt(LOOK[hop], sc)] if hop in LOOK else []


def judge(sc: Any, hop: str, because: str = "", *, count: bool = True) -> Diagnosis:
    """Judge a diagnosis of ``sc`` (the effective scenario: a mystery's running variant, in its namespace).

    Right when ``hop`` names the break; wrong with a nudge that depends on where the named hop lies on the
    path compared with the break (before it: that hop is fine, look further; after it: traffic never gets
    that far); unknown (with the list of hop names) for a name the walker does not use.
    """
    because = (because or "").strip()[:2000]
    name = getattr(sc, "name", "?")
    want = accepted(sc)
    h = normalize(hop)
    if h is None:
        close = difflib.get_close_matches((hop or "").strip(), list(HOPS), n=1, cutoff=0.5)
        tip = f" Did you mean {close[0]}?" if close else ""
        return Diagnosis(name, str(hop)[:80], UNKNOWN,
                         f"{str(hop)[:80]!r} is not a hop on the path.{tip} The hops, in path order: "
                         + ", ".join(HOPS) + ".", because)
    if not want:
        return Diagnosis(name, h, UNKNOWN, f"scenario {name} has no diagnosis to check against.", because)
    if h in want:
        _ATTEMPTS.pop(name, None)
        nudges: list[str] = []
        words = [str(w) for w in _spec(sc).get("evidence") or []]
        if not because:
            nudges.append("Say why, too: what did you see that shows it? e.g. "
                          f"s.diagnose({h!r}, because=\"...\").")
        elif words and not any(w.lower() in because.lower() for w in words):
            nudges.append("Your reason does not name what shows the break. Look again and say what you saw:")
        cmds = look_commands(sc, h) if nudges and because else []
        step = (f"fix it, then grade: s.check(c) (or `kai-labs scenario check {name}`). To compare your diagnosis "
                f"with the course's own walk of the path: s.inspect(c) (or `kai-labs scenario inspect {name}`).")
        return Diagnosis(name, h, RIGHT, f"the break is at {h}. What should hold there does not: {WHAT[h]}.",
                         because, nudges, cmds, step)
    n = _ATTEMPTS.get(name, 0) + 1 if count else _ATTEMPTS.get(name, 0)
    if count:
        _ATTEMPTS[name] = n
    own = {str(k): str(v) for k, v in (_spec(sc).get("nudges") or {}).items()}
    broken = min(HOPS.index(w) for w in want if w in HOPS)
    if h in own:
        msg = _fmt(own[h], sc)
    elif HOPS.index(h) < broken:
        msg = (f"{h} is fine here: {WHAT[h]}, as it should. The break is further along the path "
               f"({' -> '.join(HOPS)}): look at the hops after {h}.")
    else:
        msg = (f"traffic does not get as far as {h}: a hop before it is already broken. Start again from the "
               f"beginning of the path ({' -> '.join(HOPS)}).")
    nudges = ["The course cannot see which commands you ran; if you have not looked at this hop yet, this "
              "kubectl shows it:"]
    cmds = look_commands(sc, h)
    if n >= 2:
        nudges.append(f"A hint: s.hint_box().next() (or `kai-labs scenario hint {name} 1`).")
    if n >= 3:
        nudges.append("Still stuck? Let the course walk the path and name the hop: s.inspect(c) (or "
                      f"`kai-labs scenario inspect {name}`); then say it in your own words.")
    return Diagnosis(name, h, WRONG, msg, because, nudges, cmds)


def form(submit: Any) -> Any:
    """A small ipywidgets form: the hop (a dropdown of the walker's hops), the reason, a button.

    ``submit(hop, because)`` returns a :class:`Diagnosis` (or raises a learner-facing error); the answer
    renders below the button. ipywidgets loads here, late, so that ``import kai_labs`` stays light.
    """
    w = importlib.import_module("ipywidgets")
    hop = w.Dropdown(options=[("choose the broken hop…", "")] + [(f"{h}: {WHAT[h]}", h) for h in HOPS],
                     value="", description="Broken hop", style={"description_width": "initial"},
                     layout=w.Layout(width="100%"))
    because = w.Textarea(placeholder="because… (what you saw, and which command showed it)",
                         description="Because", layout=w.Layout(width="100%", height="4em"))
    button = w.Button(description="Check my diagnosis", icon="stethoscope", button_style="primary",
                      tooltip="Compare your diagnosis with the break (nothing in the cluster changes)",
                      layout=w.Layout(width="auto"))
    out = w.HTML(value="")

    def click(_: Any = None) -> None:
        if not hop.value:
            out.value = "<p role='status'>Choose a hop first.</p>"
            return
        try:
            d = submit(hop.value, because.value)
        except Exception as e:  # noqa: BLE001 - a learner-facing form never shows a traceback
            out.value = f"<p role='status'>✘ {html.escape(str(e))}</p>"
            return
        out.value = d._repr_html_()

    button.on_click(click)
    box = w.VBox([hop, because, button, out])
    box.add_class("kai-diagnose")
    box.click = click  # for tests and for a kernel without a front end
    box.widgets = {"hop": hop, "because": because, "button": button, "out": out}
    return box
