"""The rules computed from a real embedded cluster's objects, proven in a real kernel.

``cluster.net.rules(mode=...)`` reads the embedded cluster's Services, EndpointSlices and Nodes
with the official client; the text is loaded into a node namespace whose Pods have the embedded
Pods' own addresses (their servers listen where the embedded apps listen). Real TCP to the
ClusterIPs then gives the verdicts the embedded proxy gives for the same Services: the ready
Pods answer, a Service without endpoints is refused, a wrong targetPort is refused by the Pod.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from kai_labs.k8s import proxyrules
from tests.helpers import eventually
from tests.manifests import AGNHOST, documents, service, web_deployment

from .conftest import PROVEN
from .netlab import NetLab

pytestmark = [pytest.mark.kernel, pytest.mark.cluster]

API = f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: api}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: api}}}}
  template:
    metadata: {{labels: {{app: api}}}}
    spec:
      containers:
      - name: api
        image: {AGNHOST}
        args: ["netexec", "--http-port=3000"]
        ports: [{{containerPort: 8080}}]
"""


def _ready_pods(cluster: Any, ns: str, app: str) -> dict[str, str]:
    pods = json.loads(cluster.kubectl("-n", ns, "get", "pods", "-l", f"app={app}", "-o", "json", check=True).stdout)
    return {p["metadata"]["name"]: p["status"]["podIP"] for p in pods["items"]
            if p["status"].get("podIP") and any(c["type"] == "Ready" and c["status"] == "True"
                                                for c in p["status"].get("conditions", []))}


def _cluster_ip(cluster: Any, ns: str, name: str) -> str:
    return str(cluster.kubectl("-n", ns, "get", "service", name, "-o", "jsonpath={.spec.clusterIP}",
                               check=True).stdout)


@pytest.fixture(scope="module")
def world(kernel_tools: dict[str, str], cluster: Any) -> Iterator[tuple[Any, str, NetLab, dict[str, dict[str, str]]]]:
    ns = "kernel-rules"
    cluster.kubectl("apply", "-f", "-", check=True, input=(
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n"
        "    app.kubernetes.io/created-by: kai-labs\n"))
    cluster.kubectl("-n", ns, "apply", "-f", "-", check=True, input=documents(
        web_deployment(2), service(), API, service(name="api", app="api"), service(name="empty", app="nothing")))
    pods = {app: eventually(lambda a=app: (lambda p: p if len(p) == 2 else None)(_ready_pods(cluster, ns, a)),
                            timeout=60) for app in ("web", "api")}
    eventually(lambda: all(f"{ip}:8080" in cluster.net.rules(mode="iptables").text
                           for app in pods.values() for ip in app.values()), timeout=30)
    lab = NetLab(kernel_tools, {**{n: (ip, (8080,)) for n, ip in pods["web"].items()},
                                **{n: (ip, (3000,)) for n, ip in pods["api"].items()}})
    try:
        lab.up()
        yield cluster, ns, lab, pods
    finally:
        lab.down()
        cluster.kubectl("delete", "namespace", ns, "--wait=false")


@pytest.mark.parametrize("mode", proxyrules.MODES)
def test_embedded_cluster_rules_in_the_kernel(world: tuple[Any, str, NetLab, dict[str, dict[str, str]]],
                                              mode: str) -> None:
    cluster, ns, lab, pods = world
    lab.load(mode, cluster.net.rules(mode=mode).text)
    try:
        web = _cluster_ip(cluster, ns, "web")
        assert set(lab.connect(web, 80, 16)) == {f"{name}:8080" for name in pods["web"]}
        assert cluster.net.curl("http://web/", ns).ok
        PROVEN.append(f"{mode}/embedded cluster: ready Service")

        assert lab.connect(_cluster_ip(cluster, ns, "empty"), 80, 2) == ["refused", "refused"]
        assert cluster.net.curl("http://empty/", ns).error == "refused"
        PROVEN.append(f"{mode}/embedded cluster: Service without endpoints")

        assert lab.connect(_cluster_ip(cluster, ns, "api"), 80, 4) == ["refused"] * 4  # nothing on 8080 in the Pods
        assert cluster.net.curl("http://api/", ns).error == "refused"
        PROVEN.append(f"{mode}/embedded cluster: wrong targetPort")
    finally:
        lab.flush()
