"""`kai-labs net rules` and `cluster.net.rules(...)` on the embedded cluster (R75-R84).

The rules are computed from the objects the official client reads, so they follow the
cluster's state: the wrong-targetPort Service DNATs to the Pods' port 8080 whatever the app
listens on, a Service without ready endpoints gets the reject path, and the mode is the one
the cluster states in kube-system/kube-proxy.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import eventually
from tests.manifests import documents, service, web_deployment

pytestmark = pytest.mark.cluster


def _apply(cluster, ns: str, text: str) -> None:  # type: ignore[no-untyped-def]
    r = cluster.kubectl("-n", ns, "apply", "-f", "-", input=text)
    assert r.returncode == 0, r.stderr


def _pod_ips(cluster, ns: str) -> list[str]:  # type: ignore[no-untyped-def]
    pods = json.loads(cluster.kubectl("-n", ns, "get", "pods", "-l", "app=web", "-o", "json", check=True).stdout)
    return sorted(p["status"].get("podIP", "") for p in pods["items"]
                  if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", [])))


def _ready(cluster, ns: str, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    def ok() -> list[str] | None:
        ips = _pod_ips(cluster, ns)
        return ips if len(ips) == n and all(ips) else None

    ips = eventually(ok, timeout=30)
    eventually(lambda: all(f"{ip}:8080" in cluster.net.rules("web", ns).text for ip in ips), timeout=15)
    return ips


def test_mode_is_stated_in_kube_proxy_configmap(cluster) -> None:  # type: ignore[no-untyped-def]
    out = cluster.kubectl("-n", "kube-system", "get", "configmap", "kube-proxy", "-o",
                          "jsonpath={.data.config\\.conf}", check=True).stdout
    assert "mode: nftables" in out
    assert cluster.net.rules().mode == "nftables"


def test_rules_follow_the_wrong_targetport(cluster, namespace: str) -> None:  # type: ignore[no-untyped-def]
    _apply(cluster, namespace, documents(web_deployment(2), service(port_name="http", target_port=8080)))
    ips = _ready(cluster, namespace, 2)
    for mode in ("nftables", "iptables"):
        r = cluster.net.rules("web", namespace, mode=mode, request="web:80")
        for ip in ips:
            assert f"{ip}:8080" in r.text
        assert "dnat" in " ".join(r.lines_taken).lower()
        assert f"{namespace}/web" in r.text and "kube-dns" not in r.text  # filtered to one Service
    ipt = cluster.net.rules("web", namespace, mode="iptables").text
    assert "-m statistic --mode random --probability 0.5000000000" in ipt


def test_service_without_endpoints_takes_the_reject_path(cluster, namespace: str) -> None:  # type: ignore[no-untyped-def]
    _apply(cluster, namespace, service(name="empty", app="nothing"))
    nft = cluster.net.rules("empty", namespace, request="empty:80")
    assert nft.lines_taken[-1] == "reject"
    assert any("goto reject-chain" in t for t in nft.lines_taken)
    ipt = cluster.net.rules("empty", namespace, mode="iptables", request="empty:80")
    assert ipt.lines_taken[-1].endswith("-j REJECT") and "has no endpoints" in ipt.lines_taken[-1]
    assert cluster.net.route("empty:80", namespace).action == "reject"  # the embedded proxy agrees


def _cli(cluster, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "kai_labs.cli", "net", "rules", "--name", cluster.name, *args],
                          capture_output=True, text=True, timeout=60)


def test_cli_marks_the_lines_and_refuses_unknown(cluster, namespace: str) -> None:  # type: ignore[no-untyped-def]
    _apply(cluster, namespace, service(name="empty", app="nothing"))
    r = _cli(cluster, "empty", "-n", namespace, "--mode", "iptables", "--request", "http://empty/")
    assert r.returncode == 0, r.stderr
    marked = [line for line in r.stdout.splitlines() if line.startswith(">> ")]
    assert any("has no endpoints" in m and "-j REJECT" in m for m in marked)
    assert "*nat" in r.stdout and "*filter" in r.stdout
    bad = _cli(cluster, "nope", "-n", namespace)
    assert bad.returncode != 0 and 'services "nope" not found' in bad.stderr and "Traceback" not in bad.stderr
    typo = _cli(cluster, "empty", "-n", namespace, "--request", "empty:http")
    assert typo.returncode != 0 and "is not host:port" in typo.stderr and "Traceback" not in typo.stderr
    nxdomain = cluster.net.rules("empty", namespace, request="nothere:80")
    assert not nxdomain.lines_taken and "does not resolve" in str(nxdomain)
