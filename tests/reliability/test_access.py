"""Access: bearer token on every API path, loopback only, private files, and no learner text ever
reaching a real shell on the host."""

from __future__ import annotations

import os
import stat
import time
import uuid
from pathlib import Path

import pytest

from kai_labs.clusters import embedded as cl

from .rawapi import Raw, check_status, descendants, listeners_of

API_PATHS = [
    ("GET", "/"),
    ("GET", "/api"),
    ("GET", "/apis"),
    ("GET", "/api/v1"),
    ("GET", "/apis/apps/v1"),
    ("GET", "/api/v1/namespaces"),
    ("GET", "/api/v1/namespaces/default/pods"),
    ("GET", "/api/v1/secrets"),
    ("GET", "/api/v1/namespaces/default/secrets/x"),
    ("POST", "/api/v1/namespaces/default/configmaps"),
    ("DELETE", "/api/v1/namespaces/default"),
    ("PATCH", "/api/v1/nodes/kai-labs-worker"),
    ("GET", "/api/v1/namespaces/default/pods/x/log"),
    ("GET", "/api/v1/namespaces/default/pods/x/exec"),
    ("GET", "/apis/apps/v1/deployments?watch=true"),
    ("GET", "/openapi/v3"),
    ("GET", "/openapi/v2"),
    ("GET", "/kai-labs/v1/info"),
    ("POST", "/kai-labs/v1/net/curl"),
    ("POST", "/kai-labs/v1/net/route"),
    ("GET", "/kai-labs/v1/public/x"),
    ("GET", "/kai-labs/v1/public/../net/curl"),
    ("GET", "/healthz/../api/v1/secrets"),
    ("GET", "/version/"),
    ("GET", "/readyz/x"),
    ("GET", "/metrics"),
    ("GET", "/nope"),
    ("GET", "/%2e%2e/api/v1/secrets"),
]
BAD_AUTH = [
    None,
    "Bearer wrong-token",
    "Bearer ",
    "Bearer",
    "Basic YWRtaW46YWRtaW4=",
    "Token {tok}",
    "Bearer {tok}x",
    "Bearer x{tok}",
    "{tok}",
    "Bearer {tok},{tok}",
]


@pytest.fixture(scope="module")
def raw(cluster) -> Raw:  # type: ignore[no-untyped-def]
    return Raw(cl.home_for(cluster.name))


def test_no_or_wrong_token_is_401_everywhere_but_health(raw: Raw) -> None:
    bad = []
    n = 0
    for method, path in API_PATHS:
        for auth in BAD_AUTH:
            header = None if auth is None else auth.replace("{tok}", raw.token)
            n += 1
            r = raw.request(method, path, token=header, data=b"{}" if method in ("POST", "PATCH") else None)
            if r.status_code != 401 or check_status(r) or r.json().get("reason") != "Unauthorized":
                bad.append(f"{method} {path} with {auth!r}: HTTP {r.status_code} {r.text[:120]}")
    assert not bad, f"{len(bad)} of {n}:\n" + "\n".join(bad[:20])
    for path in ("/version", "/healthz", "/livez", "/readyz"):
        r = raw.request("GET", path, token=None)
        assert r.status_code == 200, (path, r.status_code)
    assert raw.request("GET", "/api/v1/namespaces").status_code == 200


def test_listens_on_loopback_only(raw: Raw, cluster, namespace) -> None:  # type: ignore[no-untyped-def]
    # with Pods running their servers too
    r = cluster.kubectl("-n", namespace, "create", "deployment", "lo", "--image=nginx", "--replicas=2")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pods = cluster.core().list_namespaced_pod(namespace).items
        if len(pods) == 2 and all(p.status.phase == "Running" for p in pods):
            break
        time.sleep(0.1)
    tree = [raw.pid, *descendants(raw.pid)]
    assert len(tree) >= 4, f"the control plane and its three node processes: {tree}"
    socks = [s for pid in tree for s in listeners_of(pid)]
    # TCP: the API server alone, on loopback. The Pods' servers are Unix sockets in the 0700 home.
    assert [s.port for s in socks] == [raw.port], f"TCP listeners of the cluster: {socks}"
    exposed = [s for s in socks if not s.address.startswith("127.")]
    assert not exposed, f"listening beyond loopback: {exposed}"
    pod_sockets = [p for p in (raw.home / "net").rglob("*") if p.is_socket()]
    assert len(pod_sockets) >= 2, f"the Pods' servers listen in the home: {pod_sockets}"


def test_secrets_on_disk_are_private(raw: Raw) -> None:
    home = raw.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700, oct(home.stat().st_mode)
    for f in ("kubeconfig", "token", "server.key"):
        mode = stat.S_IMODE((home / f).stat().st_mode)
        assert mode == 0o600, f"{f} is {oct(mode)}"


def test_learner_text_never_reaches_a_host_shell(cluster, namespace) -> None:  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex[:8]
    marks = [Path(f"/tmp/pwned-{tag}-{i}") for i in range(8)]
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: sh1}}
spec:
  restartPolicy: Never
  containers:
  - {{name: c, image: busybox, command: ["sh", "-c", "echo $(touch {marks[0]}); touch {marks[1]}; `touch {marks[2]}`"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: curl1}}
spec:
  restartPolicy: Never
  containers:
  - {{name: c, image: curlimages/curl, args: ["http://x; touch {marks[3]}", "-o", "{marks[4]}"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: sleeper}}
spec:
  containers:
  - {{name: c, image: busybox, command: ["sh", "-c", "sleep 3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: nx, labels: {{app: nx}}}}
spec:
  containers:
  - {{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [netexec, --http-port=8080]}}
"""
    r = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=manifest)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ph = {p.metadata.name: p.status.phase for p in cluster.core().list_namespaced_pod(namespace).items}
        if (
            ph.get("sleeper") == "Running"
            and ph.get("nx") == "Running"
            and ph.get("sh1") in ("Succeeded", "Failed")
            and ph.get("curl1") in ("Succeeded", "Failed")
        ):
            break
        time.sleep(0.1)
    cluster.kubectl("-n", namespace, "exec", "sleeper", "--", "sh", "-c", f"touch {marks[5]}")
    cluster.kubectl("-n", namespace, "exec", "sleeper", "--", "touch", str(marks[6]))
    ip = cluster.core().read_namespaced_pod("nx", namespace).status.pod_ip
    cluster.net.curl(f"http://{ip}:8080/shell?cmd=touch%20{marks[7]}", namespace)
    time.sleep(0.5)
    made = [str(m) for m in marks if m.exists()]
    for m in marks:
        if m.exists():
            os.unlink(m)
    assert not made, f"a learner's text reached a host shell: {made}"
