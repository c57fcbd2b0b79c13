"""The chapter's debugging step, verbatim, from a terminal: kubectl run -it / exec / port-forward.

Real kubectl drives the embedded cluster through a pseudo-terminal (pexpect), as a learner's
JupyterLab terminal does: WebSocket v5.channel.k8s.io for exec/attach, SPDY/3.1 tunnelled in a
WebSocket for port-forward (kai_labs/sim/node/streaming.py).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pexpect
import pytest

from tests.helpers import eventually as _eventually

pytestmark = pytest.mark.cluster


def eventually(pred, timeout=15.0):  # type: ignore[no-untyped-def]
    return _eventually(pred, timeout)

CURL_PROMPT = r"~ \$ "
ROOT_PROMPT = r"/ # "




@pytest.fixture(scope="module")
def web(cluster) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A namespace with the chapter's `web` Service in front of two ready agnhost Pods."""
    ns = "dbg-" + uuid.uuid4().hex[:8]
    r = cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {ns}, labels: {{app.kubernetes.io/created-by: kai-labs}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080"]
        ports: [{{name: http, containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: http}}]
""")
    assert r.returncode == 0, r.stderr
    eventually(lambda: cluster.kubectl("-n", ns, "get", "pods", "-l", "app=web", "-o",
                                       "jsonpath={.items[*].status.containerStatuses[0].ready}").stdout
               == "true true")
    yield ns
    cluster.kubectl("delete", "namespace", ns, "--wait=false")


def _spawn(cluster, *args: str) -> pexpect.spawn:  # type: ignore[no-untyped-def]
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    return pexpect.spawn("kubectl", list(args), env=env, encoding="utf-8", timeout=20, dimensions=(40, 160))


def _pod_names(cluster, ns: str) -> list[str]:  # type: ignore[no-untyped-def]
    return cluster.kubectl("-n", ns, "get", "pods", "-o", "name").stdout.split()


def test_run_it_curl_shell_is_the_chapters_debugging_step(cluster, web):  # type: ignore[no-untyped-def]
    c = _spawn(cluster, "run", "tmp-curl", "-n", web, "--rm", "-it", "--image=curlimages/curl", "--", "sh")
    c.expect("If you don't see a command prompt, try pressing enter.")
    c.expect(CURL_PROMPT)  # redrawn on attach, as busybox's line editing does on the first resize
    c.sendline("")
    c.expect(CURL_PROMPT)
    c.sendline("nslookup web")
    c.expect(rf"Name:\s+web\.{web}\.svc\.cluster\.local\r\nAddress: 10\.\d+\.\d+\.\d+")
    c.expect(CURL_PROMPT)
    c.sendline("curl -v http://web:80")
    c.expect(r"\* Connected to web \(10\.[\d.]+\) port 80")
    c.expect(r"< HTTP/1\.1 200 OK")
    c.expect(CURL_PROMPT)
    c.sendline("curl -s -I --max-time 2 -H 'X-Test: 1' http://web/hostname")
    c.expect(r"HTTP/1\.1 200 OK")
    c.expect(CURL_PROMPT)
    c.sendline("wget -qO- http://web/hostname; echo")
    c.expect(r"web-[a-z0-9]+-[a-z0-9]{5}\r\n")
    c.expect(CURL_PROMPT)
    c.sendline("cat /etc/resolv.conf")
    c.expect(rf"search {web}\.svc\.cluster\.local svc\.cluster\.local cluster\.local")
    c.expect(CURL_PROMPT)
    c.sendline("hostname; env | grep ^HOME=")
    c.expect(r"tmp-curl\r\nHOME=/home/curl_user\r\n")
    c.expect(CURL_PROMPT)
    c.sendline("dig web")
    c.expect(r"sh: dig: not found\r\nkai-labs: 'dig' is not available in this emulated image \(curlimages/curl\)")
    c.expect(CURL_PROMPT)
    c.sendline("exit")
    c.expect(r'pod "tmp-curl" deleted')
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
    eventually(lambda: "pod/tmp-curl" not in _pod_names(cluster, web))


def test_run_it_busybox_line_editing_ctrl_c_and_exit_code(cluster, web):  # type: ignore[no-untyped-def]
    c = _spawn(cluster, "run", "bb", "-n", web, "--rm", "-it", "--restart=Never", "--image=busybox")
    c.expect(ROOT_PROMPT)
    c.send("curl x" + "\x7f" * 6 + "nslookup web\r")  # backspaces edit the line
    c.expect(rf"Name:\s+web\.{web}\.svc\.cluster\.local")
    c.expect(ROOT_PROMPT)
    c.send("sleep 30\r")
    time.sleep(0.3)
    c.send("\x03")  # Ctrl-C interrupts the foreground command
    c.expect(r"\^C\r\n")
    c.expect(ROOT_PROMPT)
    c.sendline("echo status=$?")
    c.expect(r"status=130")
    c.expect(ROOT_PROMPT)
    c.sendline("exit 3")
    c.expect(r'pod "bb" deleted')
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 3  # --restart=Never: kubectl run returns the container's exit code


def test_exec_it_shell_into_agnhost(cluster, web):  # type: ignore[no-untyped-def]
    pod = cluster.kubectl("-n", web, "get", "pods", "-l", "app=web", "-o", "name").stdout.split()[0]
    c = _spawn(cluster, "exec", "-it", "-n", web, pod, "--", "sh")
    c.expect(ROOT_PROMPT)
    c.sendline("hostname")
    c.expect(pod.split("/")[1] + "\r\n")
    c.expect(ROOT_PROMPT)
    c.sendline("curl -s http://web/echo?msg=through-the-service; echo")
    c.expect("through-the-service\r\n")
    c.expect(ROOT_PROMPT)
    c.send("\x04")  # Ctrl-D on an empty line: end of input
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0


def test_exec_non_interactive_exit_codes_and_stdin(cluster, web):  # type: ignore[no-untyped-def]
    pod = cluster.kubectl("-n", web, "get", "pods", "-l", "app=web", "-o", "name").stdout.split()[0]
    r = cluster.kubectl("-n", web, "exec", pod, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.returncode == 3
    assert r.stdout == "out\n"
    assert "err\n" in r.stderr and "command terminated with exit code 3" in r.stderr
    r = cluster.kubectl("-n", web, "exec", pod, "--", "wget", "-qO-", "http://web/hostname")
    assert r.returncode == 0 and r.stdout.startswith("web-")
    r = cluster.kubectl("-n", web, "exec", "-i", pod, "--", "cat", input="from stdin\n")
    assert (r.returncode, r.stdout) == (0, "from stdin\n")
    r = cluster.kubectl("-n", web, "exec", "-i", pod, "--", "sh", input="echo one\nexit 4\necho never\n")
    assert (r.returncode, r.stdout) == (4, "one\n")
    r = cluster.kubectl("-n", web, "exec", pod, "--", "dig", "web")
    assert r.returncode == 1
    assert 'exec: "dig": executable file not found in $PATH' in r.stderr


def test_run_i_one_shot_client_pod(cluster, web):  # type: ignore[no-untyped-def]
    r = cluster.kubectl("-n", web, "run", "once", "-i", "--rm", "--restart=Never", "--image=curlimages/curl",
                        "--", "curl", "-s", "http://web/hostname")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"web-[a-z0-9]+-[a-z0-9]{5}\n", r.stdout.split('pod "once" deleted')[0])
    assert "falling back to streaming logs" not in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_port_forward_service_and_pod(cluster, web):  # type: ignore[no-untyped-def]
    port = _free_port()
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    pf = subprocess.Popen(["kubectl", "-n", web, "port-forward", "svc/web", f"{port}:80"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert pf.stdout is not None
        line = pf.stdout.readline()
        assert line == f"Forwarding from 127.0.0.1:{port} -> 8080\n"  # the Service's targetPort
        for _ in range(3):  # several connections through one tunnel
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=5) as resp:
                assert resp.status == 200
                assert resp.read().decode().startswith("web-")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/echo?msg=" + "x" * 5000, timeout=5) as resp:
            assert resp.read() == b"x" * 5000
    finally:
        pf.terminate()
        pf.wait(5)
    pod = cluster.kubectl("-n", web, "get", "pods", "-l", "app=web", "-o", "name").stdout.split()[0]
    port = _free_port()
    pf = subprocess.Popen(["kubectl", "-n", web, "port-forward", pod, f"{port}:9999"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert pf.stdout is not None
        assert pf.stdout.readline().startswith(f"Forwarding from 127.0.0.1:{port} -> 9999")
        with pytest.raises(OSError):  # the tunnel closes the connection
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
        out, _ = pf.communicate(timeout=10)
        assert "connect: connection refused" in out  # nothing listens on 9999 in the Pod
    finally:
        if pf.poll() is None:
            pf.kill()
            pf.wait(5)


def test_exec_curl_localhost_reaches_the_pods_own_app(cluster, namespace):  # type: ignore[no-untyped-def]
    """Inside a Pod, localhost is the Pod's own network namespace: the app answers on the port it
    listens on, and a port nobody listens on is refused at once."""
    r = cluster.kubectl("-n", namespace, "run", "app", "--image=registry.k8s.io/e2e-test-images/agnhost:2.53",
                        "--", "netexec", "--http-port=8080")
    assert r.returncode == 0, r.stderr
    cluster.kubectl("-n", namespace, "wait", "--for=condition=Ready", "pod/app", "--timeout=20s", check=True)
    ok = cluster.kubectl("-n", namespace, "exec", "app", "--", "curl", "-s", "http://localhost:8080/hostname")
    assert ok.stdout.strip() == "app"
    bad = cluster.kubectl("-n", namespace, "exec", "app", "--", "curl", "-sS", "--max-time", "2",
                          "http://127.0.0.1:3000/")
    assert bad.returncode != 0 and "Failed to connect to 127.0.0.1 port 3000" in bad.stderr
