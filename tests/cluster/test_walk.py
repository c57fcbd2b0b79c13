"""The packet walk (kai_labs/labs/walk.py) on every scenario: it stops at the right step, and walks
through once the scenario is solved; the rules of both states print in both proxy modes.

The step a scenario must stop at follows from the hop the inspection walker names for it
(spec.yaml ``diagnosis``): a client-side DNS miss stops at ``dns``, a port the Service does not
define at ``service``, anything that leaves kube-proxy without a (right) endpoint at
``endpoints``, and an app that does not listen where the packet is DNATed at ``reply``.
A headless Service has no ClusterIP and no rules, so its wrong port shows only at ``reply``.
"""

from __future__ import annotations

import base64
import re

import pytest

from kai_labs.clusters.base import ClusterError
from kai_labs.k8s import proxyrules
from kai_labs.labs import scenario as scenarios

pytestmark = pytest.mark.cluster

STOP = {"dns": "dns", "port": "service", "selector": "endpoints", "pods": "endpoints", "endpointslice": "endpoints",
        "readiness": "endpoints", "targetPort": "endpoints", "app": "reply", "networkpolicy": "networkpolicy"}
HEADLESS = {"headless-port": "reply"}
# fixed by letting in only the client's Pods: the walk's own vantage (no Pod, no labels) stays denied
STILL_DENIED = {"netpol-ingress-deny"}
# broken only for the client's own Pods (its egress policy): a walk from a Pod without its labels gets through
CLIENT_ONLY = {"netpol-egress-dns"}


def _walk(cluster, s):  # type: ignore[no-untyped-def]
    eff = s.effective(cluster)
    url = s.client_url(cluster) or f"http://{eff.service}/"
    ns = eff.client.namespace if eff.client else eff.namespace
    return eff, cluster.net.walk(url, namespace=ns)


def _rules_print(cluster, eff) -> None:  # type: ignore[no-untyped-def]
    for mode in proxyrules.MODES:
        text = str(cluster.net.rules(eff.service, eff.namespace, mode=mode))
        assert f"mode {mode}" in text
        if mode == "iptables":
            assert "*nat" in text and "KUBE-SERVICES" in text
        else:
            assert "table ip kube-proxy" in text


@pytest.mark.parametrize("name", scenarios.names())
def test_walk_stops_at_the_broken_step_then_passes(cluster, name: str) -> None:  # type: ignore[no-untyped-def]
    s = scenarios.get(name).reset(cluster)  # broken, whatever an earlier test did to it
    eff, w = _walk(cluster, s)
    if name in CLIENT_ONLY:
        assert w.stopped is None, str(w)
        return
    expected = HEADLESS.get(name) or STOP[str(eff.diagnosis)]
    assert w.stopped is not None, str(w)
    assert w.stopped.hop == expected, str(w)
    assert all(st.status == "skipped" for st in w.steps[w.steps.index(w.stopped) + 1:])
    _rules_print(cluster, eff)
    s.solve(cluster)
    eff, fixed = _walk(cluster, s)
    if name in STILL_DENIED:
        assert fixed.stopped is not None and fixed.stopped.hop == "networkpolicy", str(fixed)
        return
    assert fixed.stopped is None, str(fixed)
    assert fixed.steps[-1].hop == "reply" and fixed.steps[-1].status == "ok"
    _rules_print(cluster, eff)


def test_walk_widget_steps_next_and_back(cluster) -> None:  # type: ignore[no-untyped-def]
    s = scenarios.get("wrong-targetport").reset(cluster)
    w = cluster.net.walk("http://web/", namespace=s.namespace)
    box = w.widget()
    buttons, html, diagram = box.children
    back, nxt = buttons.children
    assert "Step 1/5" in html.value and back.disabled
    # the Service's diagram follows the step: the step's hop is drawn blue (and the broken one stays red)
    assert "Highlighted: the dns hop." in diagram.value
    for _ in range(4):
        nxt.click()
    assert "Step 5/5" in html.value and "failed" in html.value and nxt.disabled
    assert html.value.count("3px solid") == 1 and "kai-walk-path" in html.value  # the packet's hop outlined
    assert "-> dnat -> [X reply]" in w.step_text(4)
    assert "Highlighted: the app hop." in diagram.value
    back.click()
    assert "Step 4/5" in html.value and "Highlighted: the targetPort hop." in diagram.value
    back.click()
    back.click()
    back.click()  # step 1, DNS: the client -> Service link drawn blue (the broken targetPort links stay red)
    svg = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", diagram.value).group(1)).decode()  # type: ignore[union-attr]
    assert "#0969da" in svg and "#cf222e" in svg


@pytest.mark.parametrize("url", ["http://web:99999/", "http://:80/", "web:port"])
def test_walk_refuses_a_bad_url_in_one_sentence(cluster, url: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClusterError) as e:
        cluster.net.walk(url, namespace="default")
    assert "\n" not in str(e.value) and url in str(e.value)
