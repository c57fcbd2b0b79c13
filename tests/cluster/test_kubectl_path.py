"""The chapter's debugging path, driven by the real kubectl binary against the embedded cluster.

Each assertion is what a real cluster would print for the same manifests.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import eventually as wait_for

pytestmark = pytest.mark.cluster

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: agnhost
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080"]
        ports:
        - name: http
          containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: ClusterIP
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: http
"""


def kubectl(cluster, ns, *args, input=None, ok=True):  # type: ignore[no-untyped-def]
    r = cluster.kubectl("-n", ns, *args, input=input)
    if ok:
        assert r.returncode == 0, f"kubectl {' '.join(args)} failed: {r.stderr}"
    return r




def pods(cluster, ns, selector="app=web"):  # type: ignore[no-untyped-def]
    out = kubectl(cluster, ns, "get", "pods", "-l", selector, "-o", "json").stdout
    return json.loads(out)["items"]


def ready_pods(cluster, ns, n):  # type: ignore[no-untyped-def]
    def ok():  # type: ignore[no-untyped-def]
        ps = [p for p in pods(cluster, ns) if not p["metadata"].get("deletionTimestamp")]
        ready = [p for p in ps if any(c["type"] == "Ready" and c["status"] == "True"
                                      for c in p["status"].get("conditions", []))]
        return ready if len(ready) == n and len(ps) == n else None
    return wait_for(ok)


@pytest.fixture
def web(cluster, namespace):  # type: ignore[no-untyped-def]
    kubectl(cluster, namespace, "apply", "-f", "-", input=WEB)
    ready_pods(cluster, namespace, 3)
    return namespace


def test_apply_prints_what_kubectl_prints(cluster, namespace):  # type: ignore[no-untyped-def]
    r = kubectl(cluster, namespace, "apply", "-f", "-", input=WEB)
    assert r.stdout.splitlines() == ["deployment.apps/web created", "service/web created"]
    r = kubectl(cluster, namespace, "apply", "-f", "-", input=WEB)
    assert r.stdout.splitlines() == ["deployment.apps/web unchanged", "service/web unchanged"]


def test_get_svc_columns(cluster, web):  # type: ignore[no-untyped-def]
    out = kubectl(cluster, web, "get", "svc").stdout.splitlines()
    assert re.split(r"\s{2,}", out[0].strip()) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    row = re.split(r"\s{2,}", out[1].strip())
    assert row[0] == "web" and row[1] == "ClusterIP" and row[3] == "<none>" and row[4] == "80/TCP"
    assert re.fullmatch(r"10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+", row[2])
    wide = kubectl(cluster, web, "get", "svc", "web", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-1] == "SELECTOR" and wide[1].split()[-1] == "app=web"


def test_describe_svc_shows_selector_ports_and_endpoints(cluster, web):  # type: ignore[no-untyped-def]
    out = kubectl(cluster, web, "describe", "svc", "web").stdout
    assert re.search(r"^Selector:\s+app=web$", out, re.M)
    assert re.search(r"^Port:\s+http\s+80/TCP$", out, re.M)
    assert re.search(r"^TargetPort:\s+http/TCP$", out, re.M)
    eps = re.search(r"^Endpoints:\s+(.*)$", out, re.M)
    assert eps and len(eps.group(1).split(",")) == 3 and all(e.endswith(":8080") for e in eps.group(1).split(","))


def test_get_endpointslice_by_service_name_label(cluster, web):  # type: ignore[no-untyped-def]
    out = kubectl(cluster, web, "get", "endpointslice", "-l", "kubernetes.io/service-name=web").stdout.splitlines()
    assert re.split(r"\s{2,}", out[0].strip()) == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    row = re.split(r"\s{2,}", out[1].strip())
    assert row[0].startswith("web-") and row[1] == "IPv4" and row[2] == "8080"
    assert len(row[3].split(",")) == 3
    sl = json.loads(kubectl(cluster, web, "get", "endpointslice", "-l", "kubernetes.io/service-name=web",
                            "-o", "json").stdout)["items"][0]
    assert sl["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert sl["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert sl["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert all(e["conditions"] == {"ready": True, "serving": True, "terminating": False} for e in sl["endpoints"])


def test_get_pods_show_labels_and_wide(cluster, web):  # type: ignore[no-untyped-def]
    out = kubectl(cluster, web, "get", "pods", "--show-labels").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"]
    for line in out[1:]:
        cols = line.split()
        assert cols[1] == "1/1" and cols[2] == "Running" and cols[3] == "0"
        assert cols[-1].startswith("app=web,pod-template-hash=")
    wide = kubectl(cluster, web, "get", "pods", "-l", "app=web", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:8] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED"]
    nodes = {line.split()[6] for line in wide[1:]}
    assert nodes <= {"kai-labs-worker", "kai-labs-worker2"} and len(nodes) == 2  # spread over the workers
    for line in wide[1:]:
        assert line.split()[5].startswith("10.244.")


def test_describe_pod_shows_events_and_readiness(cluster, web):  # type: ignore[no-untyped-def]
    name = pods(cluster, web)[0]["metadata"]["name"]
    out = kubectl(cluster, web, "describe", "pod", name).stdout
    assert re.search(r"^Status:\s+Running$", out, re.M)
    assert re.search(r"^\s+Ready:\s+True$", out, re.M)
    assert "Controlled By:  ReplicaSet/web-" in out
    for reason in ("Scheduled", "Pulled", "Created", "Started"):
        assert re.search(rf"Normal\s+{reason}\s", out), reason


def test_scale_rollout_restart_and_delete_pod(cluster, web):  # type: ignore[no-untyped-def]
    before = {p["status"]["podIP"] for p in pods(cluster, web)}
    assert kubectl(cluster, web, "scale", "deployment/web", "--replicas=4").stdout.strip() == \
        "deployment.apps/web scaled"
    ready_pods(cluster, web, 4)
    kubectl(cluster, web, "scale", "deployment/web", "--replicas=3")
    ready_pods(cluster, web, 3)
    assert kubectl(cluster, web, "rollout", "restart", "deployment/web").stdout.strip() == \
        "deployment.apps/web restarted"
    r = kubectl(cluster, web, "rollout", "status", "deployment/web", "--timeout=20s")
    assert 'deployment "web" successfully rolled out' in r.stdout
    after = ready_pods(cluster, web, 3)
    assert not before & {p["status"]["podIP"] for p in after}, "a rollout gives new Pods new IPs"
    victim = after[0]["metadata"]["name"]
    # kubectl 1.37 names the namespace: pod "x" deleted from <ns> namespace
    assert kubectl(cluster, web, "delete", "pod", victim).stdout.strip() == \
        f'pod "{victim}" deleted from {web} namespace'
    replaced = ready_pods(cluster, web, 3)
    assert victim not in {p["metadata"]["name"] for p in replaced}


def test_relabelled_pod_leaves_its_replicaset_and_is_replaced_then_adopted_back(cluster, web):  # type: ignore[no-untyped-def]
    """pkg/controller/controller_ref_manager.go ClaimObject: a Pod whose labels stop matching is released
    (its controller ownerReference removed) and replaced; a matching orphan is adopted. A learner who
    "fixes" a selector by relabelling Pods sees them orphaned and new Pods with the old labels appear."""
    victim = pods(cluster, web)[0]["metadata"]["name"]
    kubectl(cluster, web, "label", "pod", victim, "app=debug", "--overwrite")

    def released():  # type: ignore[no-untyped-def]
        p = json.loads(kubectl(cluster, web, "get", "pod", victim, "-o", "json").stdout)
        return not any(r.get("controller") for r in p["metadata"].get("ownerReferences") or [])
    wait_for(released)
    replacements = ready_pods(cluster, web, 3)
    assert victim not in {p["metadata"]["name"] for p in replacements}, "the ReplicaSet made a new Pod"
    assert kubectl(cluster, web, "get", "pod", victim).returncode == 0, "the released Pod keeps running"
    # back under the selector: adopted, and the ReplicaSet (now one too many) removes a Pod
    kubectl(cluster, web, "label", "pod", victim, "app=web", "--overwrite")
    wait_for(lambda: len([p for p in pods(cluster, web) if not p["metadata"].get("deletionTimestamp")]) == 3)
    rs = json.loads(kubectl(cluster, web, "get", "rs", "-o", "json").stdout)["items"]
    assert [r["status"].get("replicas") for r in rs] == [3]


def test_patch_like_edit_changes_the_service(cluster, web):  # type: ignore[no-untyped-def]
    # Service ports merge by `port` (patchMergeKey in core/v1 types.go): this changes port 80's targetPort.
    r = kubectl(cluster, web, "patch", "svc", "web", "-p", '{"spec":{"ports":[{"port":80,"targetPort":8080}]}}')
    assert r.stdout.strip() == "service/web patched"
    svc = json.loads(kubectl(cluster, web, "get", "svc", "web", "-o", "json").stdout)
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(80, 8080)]
    # ...and a different port number is a second entry: with the same name, the real 422.
    r = kubectl(cluster, web, "patch", "svc", "web", "-p", '{"spec":{"ports":[{"name":"http","port":8080}]}}',
                ok=False)
    assert 'The Service "web" is invalid: spec.ports[1].name: Duplicate value: "http"' in r.stderr
    r = kubectl(cluster, web, "patch", "svc", "web", "--type=json",
                "-p", '[{"op":"replace","path":"/spec/ports/0/targetPort","value":"http"}]')
    assert r.stdout.strip() == "service/web patched"
    r = kubectl(cluster, web, "patch", "svc", "web", "--type=merge", "-p", '{"spec":{"type":"ClusterIP"}}')
    assert r.stdout.strip() == "service/web patched (no change)"


def test_run_curl_client_pod_then_logs(cluster, web):  # type: ignore[no-untyped-def]
    r = kubectl(cluster, web, "run", "tmp", "--image=curlimages/curl", "--restart=Never", "--",
                "curl", "-s", "http://web/hostname")
    assert r.stdout.strip() == "pod/tmp created"

    def done():  # type: ignore[no-untyped-def]
        p = json.loads(kubectl(cluster, web, "get", "pod", "tmp", "-o", "json").stdout)
        return p if p["status"].get("phase") in ("Succeeded", "Failed") else None

    p = wait_for(done)
    assert p["status"]["phase"] == "Succeeded"
    logs = kubectl(cluster, web, "logs", "tmp").stdout.strip()
    assert logs in {q["metadata"]["name"] for q in pods(cluster, web)}
    out = kubectl(cluster, web, "get", "pod", "tmp").stdout.splitlines()[1].split()
    assert out[1:3] == ["0/1", "Completed"]


def test_invalid_service_gets_the_real_422_message(cluster, namespace):  # type: ignore[no-untyped-def]
    bad = """
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 70000
"""
    r = kubectl(cluster, namespace, "apply", "-f", "-", input=bad, ok=False)
    assert r.returncode == 1
    assert ('The Service "web" is invalid: spec.ports[0].targetPort: Invalid value: 70000: must be between 1 '
            'and 65535, inclusive') in r.stderr


def test_unknown_field_is_a_strict_decoding_error(cluster, namespace):  # type: ignore[no-untyped-def]
    typo = WEB.split("---")[1].replace("targetPort: http", "targetport: http")
    r = kubectl(cluster, namespace, "apply", "-f", "-", input=typo, ok=False)
    assert r.returncode == 1
    assert 'strict decoding error: unknown field "spec.ports[0].targetport"' in r.stderr


def test_a_replication_controller_is_decoded_strictly_too(cluster, namespace):  # type: ignore[no-untyped-def]
    """Its fields come from the same schema data as the other kinds (it had none: any typo passed)."""
    rc = """apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  replica: 2
  selector: {app: rc}
  template:
    metadata: {labels: {app: rc}}
    spec:
      containers: [{name: c, image: registry.k8s.io/pause:3.10, ports: [{containerport: 80}]}]
"""
    r = kubectl(cluster, namespace, "apply", "-f", "-", input=rc, ok=False)
    assert r.returncode == 1
    assert ('strict decoding error: unknown field "spec.replica", unknown field '
            '"spec.template.spec.containers[0].ports[0].containerport"') in r.stderr, r.stderr


def test_not_found_and_already_exists(cluster, namespace):  # type: ignore[no-untyped-def]
    r = kubectl(cluster, namespace, "get", "svc", "nope", ok=False)
    assert r.stderr.strip() == 'Error from server (NotFound): services "nope" not found'
    kubectl(cluster, namespace, "create", "configmap", "c1")
    r = kubectl(cluster, namespace, "create", "configmap", "c1", ok=False)
    assert r.stderr.strip() == 'error: failed to create configmap: configmaps "c1" already exists'


def test_unknown_resource_type(cluster, namespace):  # type: ignore[no-untyped-def]
    r = kubectl(cluster, namespace, "get", "widgets", ok=False)  # (ingresses are served now: networking.k8s.io)
    assert 'the server doesn\'t have a resource type "widgets"' in r.stderr


def test_dry_run_server_creates_nothing(cluster, namespace):  # type: ignore[no-untyped-def]
    r = kubectl(cluster, namespace, "apply", "--dry-run=server", "-f", "-", input=WEB)
    assert "service/web created (server dry run)" in r.stdout
    assert kubectl(cluster, namespace, "get", "svc", "-o", "name").stdout.strip() == ""


def test_official_client_lists_and_watches(cluster, web):  # type: ignore[no-untyped-def]
    from kubernetes import watch

    core = cluster.core()
    svc = core.read_namespaced_service("web", web)
    assert svc.spec.selector == {"app": "web"} and svc.spec.ports[0].target_port == "http"
    items = core.list_namespaced_pod(web, label_selector="app in (web),pod-template-hash").items
    assert len(items) == 3
    rv = core.list_namespaced_pod(web).metadata.resource_version
    cluster.kubectl("-n", web, "label", "pod", items[0].metadata.name, "extra=yes")
    w = watch.Watch()
    seen = []
    for ev in w.stream(core.list_namespaced_pod, web, resource_version=rv, timeout_seconds=5):
        seen.append((ev["type"], ev["object"].metadata.name))
        if ev["object"].metadata.labels.get("extra") == "yes":
            w.stop()
    assert ("MODIFIED", items[0].metadata.name) in seen


def test_delete_deployment_cascades(cluster, web):  # type: ignore[no-untyped-def]
    kubectl(cluster, web, "delete", "deployment", "web")
    wait_for(lambda: not pods(cluster, web) and
             not json.loads(kubectl(cluster, web, "get", "rs", "-o", "json").stdout)["items"])


def test_explain_reads_the_served_openapi(cluster):  # type: ignore[no-untyped-def]
    out = cluster.kubectl("explain", "service.spec.ports.targetPort").stdout
    assert "FIELD: targetPort <IntOrString>" in out
    assert "Number or name of the port to access on the pods targeted by the service." in out
    out = cluster.kubectl("explain", "deployment.spec").stdout
    assert "GROUP:      apps" in out and "FIELD: spec <DeploymentSpec>" in out
