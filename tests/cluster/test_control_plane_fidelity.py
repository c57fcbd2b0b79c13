"""What kube-apiserver and kube-controller-manager add, seen through the real kubectl (issue #18, the API
side; rules R85-R93): the Endpoints warning and lifetime, services/status, kept clusterIPs, immortal
namespaces, ServiceAccounts and the token volume, ReplicationControllers."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

pytestmark = pytest.mark.cluster

WARNING = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"


def _until(fn: Any, timeout: float = 20.0) -> Any:
    end = time.monotonic() + timeout
    while True:
        got = fn()
        if got or time.monotonic() > end:
            return got
        time.sleep(0.2)


def test_R86_kubectl_warns_on_endpoints_and_they_go_with_their_service(cluster: Any, namespace: str) -> None:
    k = cluster.kubectl
    assert k("create", "service", "clusterip", "web", "--tcp=80:8080", "-n", namespace).returncode == 0
    assert _until(lambda: k("get", "endpoints", "web", "-n", namespace).returncode == 0)
    r = k("get", "endpoints", "web", "-n", namespace)
    assert r.stderr.strip() == WARNING, r.stderr
    assert r.stdout.splitlines()[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    assert WARNING not in k("get", "endpointslices", "-n", namespace).stderr
    assert k("delete", "service", "web", "-n", namespace).returncode == 0
    gone = _until(lambda: "NotFound" in k("get", "endpoints", "web", "-n", namespace).stderr)
    assert gone


def test_R87_a_status_patch_keeps_annotations_and_load_balancer(cluster: Any, namespace: str) -> None:
    k = cluster.kubectl
    assert k("create", "service", "clusterip", "st", "--tcp=80:80", "-n", namespace).returncode == 0
    patch = json.dumps({"metadata": {"annotations": {"patchedstatus": "true"}},
                        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}})
    r = k("patch", "service", "st", "-n", namespace, "--subresource=status", "--type=merge", "-p", patch)
    assert r.returncode == 0, r.stderr
    time.sleep(3)  # the service controller used to reset it ~2 s later
    svc = json.loads(k("get", "service", "st", "-n", namespace, "-o", "json").stdout)
    assert svc["metadata"]["annotations"] == {"patchedstatus": "true"}
    assert svc["status"]["loadBalancer"] == {"ingress": [{"ip": "203.0.113.1"}]}


SVC = """apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: web
{extra}  ports:
  - port: 80
"""


def test_R88_replace_or_apply_without_cluster_ip_keeps_it(cluster: Any, namespace: str) -> None:
    k = cluster.kubectl
    plain = SVC.format(name="web", extra="")
    assert k("apply", "-n", namespace, "-f", "-", input=plain).returncode == 0
    ip = k("get", "svc", "web", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout
    r = k("replace", "-n", namespace, "-f", "-", input=plain)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "service/web replaced"
    assert k("get", "svc", "web", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout == ip
    # clusterIP: None applied, then removed from the manifest
    assert k("apply", "-n", namespace, "-f", "-",
             input=SVC.format(name="hl", extra="  clusterIP: None\n")).returncode == 0
    r = k("apply", "-n", namespace, "-f", "-", input=SVC.format(name="hl", extra=""))
    assert r.returncode == 0, r.stderr
    assert k("get", "svc", "hl", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout == "None"


def test_R89_the_default_namespaces_may_not_be_deleted(cluster: Any) -> None:
    for ns in ("default", "kube-system", "kube-public"):
        r = cluster.kubectl("delete", "namespace", ns)
        assert r.returncode != 0
        assert r.stderr.strip() == (f'Error from server (Forbidden): namespaces "{ns}" is forbidden: '
                                    "this namespace may not be deleted")
    assert cluster.kubectl("get", "namespace", "default", "-o", "jsonpath={.status.phase}").stdout == "Active"


def test_R90_R92_service_accounts_the_root_ca_and_the_token_volume(cluster: Any) -> None:
    k = cluster.kubectl
    ns = f"sa-{int(time.time() * 1000) % 10**8}"
    try:
        # a Pod right after its namespace: never refused for want of the default ServiceAccount
        assert k("create", "namespace", ns).returncode == 0
        r = k("run", "p", "--image=nginx", "-n", ns)
        assert r.returncode == 0, r.stderr
        assert k("get", "serviceaccount", "default", "-n", ns).returncode == 0
        cm = json.loads(k("get", "configmap", "kube-root-ca.crt", "-n", ns, "-o", "json").stdout)
        assert cm["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
        described = k("describe", "pod", "p", "-n", ns).stdout
        vol = json.loads(k("get", "pod", "p", "-n", ns, "-o", "json").stdout)["spec"]["volumes"][0]["name"]
        assert vol.startswith("kube-api-access-")
        assert f"/var/run/secrets/kubernetes.io/serviceaccount from {vol} (ro)" in described
        assert f"  {vol}:\n    Type:                    Projected (a volume that contains injected data " \
               "from multiple sources)" in described
        assert "ConfigMapName:           kube-root-ca.crt" in described
        r = k("run", "q", "--image=nginx", "-n", ns, "--overrides", '{"spec":{"serviceAccountName":"nope"}}')
        assert r.returncode != 0
        assert r.stderr.strip() == (f'Error from server (Forbidden): pods "q" is forbidden: error looking up '
                                    f'service account {ns}/nope: serviceaccount "nope" not found')
    finally:
        k("delete", "namespace", ns, "--wait=false")


RC = """apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: 2
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx
"""


def test_R93_replication_controllers_with_kubectl(cluster: Any, namespace: str) -> None:
    k = cluster.kubectl
    r = k("get", "rc", "-n", "kube-system")
    assert r.returncode == 0 and r.stderr.strip() == "No resources found in kube-system namespace."
    assert k("create", "-n", namespace, "-f", "-", input=RC).stdout.strip() == "replicationcontroller/web created"
    ready = _until(lambda: k("get", "rc", "web", "-n", namespace, "-o", "jsonpath={.status.readyReplicas}").stdout
                   == "2", timeout=60)
    assert ready
    rows = [ln.split() for ln in k("get", "rc", "-n", namespace).stdout.splitlines()]
    assert rows[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"] and rows[1][:4] == ["web", "2", "2", "2"]
    described = k("describe", "rc", "web", "-n", namespace).stdout
    assert "Selector:     app=web" in described and "Replicas:     2 current / 2 desired" in described
    assert "SuccessfulCreate" in described
    r = k("scale", "rc", "web", "--replicas=1", "-n", namespace)
    assert r.stdout.strip() == "replicationcontroller/web scaled", r.stderr
    one = _until(lambda: k("get", "pods", "-n", namespace, "-l", "app=web", "--field-selector",
                           "status.phase=Running", "-o", "name").stdout.count("pod/") == 1, timeout=60)
    assert one
