"""Every scenario, broken and solved, through the rules in a real kernel.

For each scenario the embedded cluster's own objects give the ruleset (``cluster.net.rules``);
a node namespace gets the scenario's Pods at their embedded addresses, each Pod's server
listening where its app listens (agnhost ``--http-port``, http-echo ``-listen``). The client's
URL is resolved by the cluster's DNS (DNS is not kube-proxy's part), then real TCP connections
go to the answer. The kernel's verdict (an answer, refused, timeout) must be the embedded
cluster's verdict for the same request (``cluster.net.curl``), in the cluster's own mode
(nftables); in iptables mode too, except that a port the Service does not define times out
there instead of being refused (R82).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from kai_labs.k8s import proxyrules
from kai_labs.labs import scenario as scenarios

from .conftest import PROVEN
from .netlab import NetLab

pytestmark = [pytest.mark.kernel, pytest.mark.cluster]


def _listens(pod: dict[str, Any]) -> tuple[int, ...]:
    """The TCP ports the Pod's emulated apps listen on, read from their args as the apps read them."""
    ports: list[int] = []
    for c in pod["spec"].get("containers") or []:
        args = " ".join([*(c.get("command") or []), *(c.get("args") or [])])
        if "agnhost" in c.get("image", "") and "netexec" in args:
            m = re.search(r"--http-port[= ](\d+)", args)
            ports.append(int(m.group(1)) if m else 8080)
        elif "http-echo" in c.get("image", ""):
            m = re.search(r"-listen[= ]:(\d+)", args)
            ports.append(int(m.group(1)) if m else 5678)
    return tuple(ports)


def _pods(cluster: Any, namespaces: set[str]) -> dict[str, tuple[str, tuple[int, ...]]]:
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    for ns in sorted(namespaces):
        items = json.loads(cluster.kubectl("-n", ns, "get", "pods", "-o", "json", check=True).stdout)["items"]
        for p in items:
            ip = p.get("status", {}).get("podIP")
            if ip and not p["metadata"].get("deletionTimestamp"):
                out[p["metadata"]["name"]] = (ip, _listens(p))
    return out


def _verdicts(answers: list[str]) -> set[str]:
    return {"answer" if not a.startswith("error") and a not in ("refused", "timeout") else a for a in answers}


def _prove(cluster: Any, kernel_tools: dict[str, str], s: Any, state: str) -> None:
    eff = s.effective(cluster)
    url = s.client_url(cluster) or f"http://{eff.service}/"
    client_ns = eff.client.namespace if eff.client else eff.namespace
    u = urlsplit(url if "://" in url else "http://" + url)
    host, port = u.hostname or "", u.port or 80
    embedded = cluster.net.curl(url, client_ns)
    ips = [r.data for r in cluster.net.resolve(host, client_ns).answers if r.type == "A"]
    if not ips:  # the break is in DNS, before any kube-proxy rule: nothing for the kernel to prove
        assert embedded.error == "dns", embedded
        return
    expected = "answer" if (embedded.ok or embedded.status) else str(embedded.error)
    svc = next((sv for sv in json.loads(cluster.kubectl("get", "services", "-A", "-o", "json", check=True).stdout)
                ["items"] if sv["spec"].get("clusterIP") == ips[0]), None)
    undefined_port = svc is not None and all(int(p["port"]) != port for p in svc["spec"]["ports"])
    pods = _pods(cluster, {*eff.all_namespaces, client_ns})
    lab = NetLab(kernel_tools, pods)
    try:
        lab.up()
        for mode in proxyrules.MODES:
            lab.load(mode, cluster.net.rules(mode=mode).text)
            want = "timeout" if (mode == "iptables" and undefined_port and expected == "refused") else expected
            got = lab.connect(ips[0], port, 6 if want != "timeout" else 1)
            assert _verdicts(got) == {want}, (mode, url, got, embedded)
            if want == "answer" and embedded.backend:
                assert {a.split(":")[0] for a in got} <= set(pods)
            PROVEN.append(f"{mode}/scenario {s.name} ({state})")
            lab.flush()
    finally:
        lab.down()


# breaks past kube-proxy's rules, which this lab does not build: an app bound to 127.0.0.1 (the lab's servers
# listen on every address) and an ingress NetworkPolicy (the lab loads the rules only): there the embedded
# cluster's verdict is the Pod's or the policy's, not the rules'
PAST_THE_RULES = {"localhost-only", "netpol-ingress-deny"}


@pytest.mark.parametrize("name", [n for n in scenarios.names() if n not in PAST_THE_RULES])
def test_scenario_verdicts_in_the_kernel(kernel_tools: dict[str, str], cluster: Any, name: str) -> None:
    s = scenarios.get(name).reset(cluster)
    _prove(cluster, kernel_tools, s, "broken")
    s.solve(cluster)
    _prove(cluster, kernel_tools, s, "solved")
