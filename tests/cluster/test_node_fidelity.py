"""Nodes and images as a real node runs them (issue #18, rules R100-R114): the host part of a listen address,
agnhost's default command, Pods bound to the control-plane node, piped input to `kubectl run -i -- sh`."""

from __future__ import annotations

import pytest

from tests.helpers import eventually

pytestmark = pytest.mark.cluster


def _ready(cluster, ns: str, *pods: str) -> None:  # type: ignore[no-untyped-def]
    for pod in pods:
        r = cluster.kubectl("-n", ns, "wait", "--for=condition=Ready", f"pod/{pod}", "--timeout=30s")
        assert r.returncode == 0, r.stderr


LISTEN = """
apiVersion: v1
kind: Pod
metadata: {name: lo, labels: {app: lo}}
spec:
  containers:
  - name: app
    image: hashicorp/http-echo
    args: ["-listen=127.0.0.1:8080", "-text=from-lo"]
  - name: side
    image: busybox
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: all, labels: {app: all}}
spec:
  containers:
  - name: app
    image: hashicorp/http-echo
    args: ["-listen=0.0.0.0:8080", "-text=from-all"]
  - name: side
    image: busybox
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - name: c
    image: busybox
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Service
metadata: {name: lo}
spec:
  selector: {app: lo}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: all}
spec:
  selector: {app: all}
  ports: [{port: 80, targetPort: 8080}]
"""


def test_R100_an_app_bound_to_loopback_answers_only_inside_its_pod(cluster, namespace):  # type: ignore[no-untyped-def]
    ns = namespace
    assert cluster.kubectl("-n", ns, "apply", "-f", "-", input=LISTEN).returncode == 0
    _ready(cluster, ns, "lo", "all", "client")
    lo_ip = cluster.kubectl("-n", ns, "get", "pod", "lo", "-o", "jsonpath={.status.podIP}").stdout.strip()

    # from inside its own Pod (another container shares the network namespace): it answers
    r = cluster.kubectl("-n", ns, "exec", "lo", "-c", "side", "--", "wget", "-qO-", "localhost:8080")
    assert (r.returncode, r.stdout) == (0, "from-lo\n"), r.stderr
    # from another Pod, straight to the Pod IP: nothing listens there, a refusal
    r = cluster.kubectl("-n", ns, "exec", "client", "--", "wget", "-qO-", "-T", "2", f"http://{lo_ip}:8080")
    assert r.returncode == 1
    assert f"wget: can't connect to remote host ({lo_ip}): Connection refused" in r.stderr
    # through the Service: the same refusal
    r = cluster.kubectl("-n", ns, "exec", "client", "--", "wget", "-qO-", "-T", "2", "http://lo")
    assert r.returncode == 1 and "Connection refused" in r.stderr, r.stderr
    # its own Pod IP from inside the Pod: refused as well (the socket is bound to 127.0.0.1 only)
    r = cluster.kubectl("-n", ns, "exec", "lo", "-c", "side", "--", "wget", "-qO-", "-T", "2",
                        f"http://{lo_ip}:8080")
    assert r.returncode == 1 and "Connection refused" in r.stderr, r.stderr
    # the course's own verdict agrees, and says why
    res = cluster.net.curl(f"http://lo.{ns}", ns)
    assert not res.ok and res.error == "refused", res
    assert "127.0.0.1:8080" in res.detail, res.detail

    # bound to every address: it answers from everywhere
    for argv in (["exec", "all", "-c", "side", "--", "wget", "-qO-", "localhost:8080"],
                 ["exec", "client", "--", "wget", "-qO-", "-T", "2", "http://all"]):
        r = cluster.kubectl("-n", ns, *argv)
        assert (r.returncode, r.stdout) == (0, "from-all\n"), r.stderr
    assert cluster.net.curl(f"http://all.{ns}", ns).ok


def test_R100_a_listen_address_not_the_pods_fails_to_bind(cluster, namespace):  # type: ignore[no-untyped-def]
    ns = namespace
    r = cluster.kubectl("-n", ns, "run", "elsewhere", "--restart=Never", "--image=hashicorp/http-echo", "--",
                        "-listen=10.1.2.3:8080", "-text=x")
    assert r.returncode == 0, r.stderr
    eventually(lambda: cluster.kubectl("-n", ns, "get", "pod", "elsewhere", "-o",
                                       "jsonpath={.status.phase}").stdout == "Failed", timeout=20)
    logs = cluster.kubectl("-n", ns, "logs", "elsewhere").stdout
    assert "listen tcp 10.1.2.3:8080: bind: cannot assign requested address" in logs, logs
