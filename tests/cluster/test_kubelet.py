"""The kubelet's side of what a learner sees: env from ConfigMaps, config errors, image pull errors."""

from __future__ import annotations

import json

import pytest

from tests.helpers import eventually

pytestmark = pytest.mark.cluster




def status_col(cluster, ns, pod):  # type: ignore[no-untyped-def]
    out = cluster.kubectl("-n", ns, "get", "pod", pod).stdout.splitlines()
    return out[1].split()[2] if len(out) > 1 else None


def test_env_from_configmap_and_downward_api(cluster, namespace):  # type: ignore[no-untyped-def]
    r = cluster.kubectl("-n", namespace, "apply", "-f", "-", input="""
apiVersion: v1
kind: ConfigMap
metadata: {name: client}
data: {WEB_URL: "http://web:80"}
---
apiVersion: v1
kind: Pod
metadata: {name: show}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo url=$WEB_URL pod=$POD ns=$NS"]
    env:
    - name: WEB_URL
      valueFrom: {configMapKeyRef: {name: client, key: WEB_URL}}
    - name: POD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: NS
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
""")
    assert r.returncode == 0, r.stderr
    eventually(lambda: status_col(cluster, namespace, "show") == "Completed")
    assert cluster.kubectl("-n", namespace, "logs", "show").stdout.strip() == \
        f"url=http://web:80 pod=show ns={namespace}"


def test_missing_configmap_is_create_container_config_error(cluster, namespace):  # type: ignore[no-untyped-def]
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input="""
apiVersion: v1
kind: Pod
metadata: {name: broken}
spec:
  containers:
  - name: c
    image: busybox
    command: ["sleep", "3600"]
    envFrom: [{configMapRef: {name: nope}}]
""")
    eventually(lambda: status_col(cluster, namespace, "broken") == "CreateContainerConfigError")
    events = json.loads(cluster.kubectl("-n", namespace, "get", "events", "-o", "json").stdout)["items"]
    assert any(e["message"] == 'Error: configmap "nope" not found' for e in events)


def test_unknown_image_is_err_image_pull_and_names_what_runs(cluster, namespace):  # type: ignore[no-untyped-def]
    cluster.kubectl("-n", namespace, "run", "odd", "--image=example.com/not/emulated:1")
    eventually(lambda: status_col(cluster, namespace, "odd") in ("ErrImagePull", "ImagePullBackOff"))
    events = json.loads(cluster.kubectl("-n", namespace, "get", "events", "-o", "json").stdout)["items"]
    msgs = [e["message"] for e in events if e["reason"] == "Failed"]
    assert any(m.startswith('Failed to pull image "example.com/not/emulated:1"') and "agnhost" in m for m in msgs)


def test_a_replacement_pod_never_gets_an_ip_a_pod_just_gave_up(cluster, namespace):  # type: ignore[no-untyped-def]
    """host-local IPAM (containernetworking/plugins ipam/host-local) allocates after the last reserved address,
    so a freed Pod IP comes back only after the range wraps: a client still holding an old IP must not reach a
    new Pod. Ten rounds of replacing three Pods: thirty new IPs, none seen before."""
    manifest = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: churn}\nspec:\n  replicas: 3\n"
                "  selector: {matchLabels: {app: churn}}\n  template:\n    metadata: {labels: {app: churn}}\n"
                "    spec:\n      containers:\n      - {name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.53,"
                " args: [pause]}\n")
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest, check=True)

    def live_ips():  # type: ignore[no-untyped-def]
        items = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-l", "app=churn", "-o",
                                           "json").stdout)["items"]
        ips = {p["status"].get("podIP") for p in items if not p["metadata"].get("deletionTimestamp")}
        return ips if len(ips) == 3 and None not in ips and len(items) == 3 else None

    seen = set(eventually(live_ips))
    for _ in range(10):
        cluster.kubectl("delete", "pods", "-n", namespace, "-l", "app=churn", "--wait=true", check=True)
        new = eventually(live_ips)
        assert not new & seen, f"reused {sorted(new & seen)}"
        seen |= new
