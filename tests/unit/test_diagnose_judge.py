"""The diagnosis judge and the hint box, without a cluster (issue #14)."""

from __future__ import annotations

import pytest

from kai_labs.labs import diagnose as dg
from kai_labs.labs import scenario as sc


@pytest.mark.parametrize("name", [n for n in sc.names() if n != "mystery"])
def test_every_scenario_accepts_its_walker_hop_and_refuses_the_others(name: str) -> None:
    s = sc.get(name)
    want = dg.accepted(s)
    assert want and set(want) <= set(dg.HOPS) and want[0] == s.diagnosis
    for hop in dg.HOPS:
        d = s.diagnose(hop, because="x")
        assert d.right == (hop in want), (hop, str(d))
        if not d.right:
            assert d.commands and all(c.startswith("kubectl ") for c in d.commands), str(d)
            assert "{" not in d.message.replace("{.", ""), d.message  # every placeholder filled in


def test_hop_names_are_forgiving_but_unknown_ones_get_the_list() -> None:
    assert dg.normalize("TargetPort") == "targetPort" and dg.normalize("endpoints") == "endpointslice"
    assert dg.normalize("labels") == "selector" and dg.normalize("nonsense") is None
    d = sc.get("no-pods").diagnose("podz")
    assert d.verdict == dg.UNKNOWN and "Did you mean pods?" in d.message and not d
    assert "x" * 81 not in sc.get("no-pods").diagnose("x" * 5000).message  # long input is cut


def test_a_reason_without_the_evidence_is_nudged() -> None:
    s = sc.get("wrong-targetport")
    assert not [n for n in s.diagnose("targetPort", because="the log says 3000").nudges if "does not name" in n]
    d = s.diagnose("targetPort", because="a hunch")
    assert d and any("does not name" in n for n in d.nudges) and d.commands
    assert any("Say why" in n for n in s.diagnose("app").nudges)


def test_wrong_answers_escalate_to_a_hint_then_the_walker() -> None:
    s = sc.get("no-pods")
    dg._ATTEMPTS.pop(s.name, None)
    first, second, third = (s.diagnose(h) for h in ("selector", "service", "readiness"))
    assert not any("hint" in n for n in first.nudges)
    assert any("hint" in n for n in second.nudges) and not any("s.inspect" in n for n in second.nudges)
    assert any("s.inspect(c)" in n for n in third.nudges)
    assert "traffic does not get as far as readiness" in third.message
    assert s.diagnose("pods", because="0 replicas").right and s.name not in dg._ATTEMPTS


def test_the_mystery_needs_its_cluster() -> None:
    sc._LAST_CLUSTER.pop("mystery", None)  # no cluster used with it in this process
    with pytest.raises(sc.ScenarioError, match="pass the cluster"):
        sc.get("mystery").diagnose("selector")


def test_hints_are_markdown_and_end_with_no_more_hints() -> None:
    s = sc.get("wrong-targetport")
    box = s.hint_box()
    shown = [box.next() for _ in range(len(s.hints) + 2)]
    assert shown[0].startswith("Hint 1/3: ") and repr(shown[0]) == str(shown[0])  # no Python quoting
    assert shown[2]._repr_markdown_().count("`") % 2 == 0 and "\\\"" not in shown[2]
    assert shown[3].startswith("No more hints") and shown[4] == shown[3] and "kai-labs scenario inspect" in shown[3]
    assert "<code>kubectl patch svc web" in box._repr_html_()
