"""Nodes and images as a real node runs them (issue #18, rules R100-R109): the host part of a listen address,
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
    assert "[ERR] server exited with: listen tcp 10.1.2.3:8080: bind: cannot assign requested address\n" in logs, logs
    assert "[INFO] server is listening on 10.1.2.3:8080\n" in logs.splitlines(keepends=True)[0], logs


def test_R108_input_piped_at_once_into_run_i_sh_prints_the_output(cluster, namespace):  # type: ignore[no-untyped-def]
    ns = namespace
    r = cluster.kubectl("-n", ns, "run", "web", "--image=registry.k8s.io/e2e-test-images/agnhost:2.53",
                        "--", "netexec", "--http-port=80")
    assert r.returncode == 0, r.stderr
    assert cluster.kubectl("-n", ns, "expose", "pod", "web", "--port=80").returncode == 0
    _ready(cluster, ns, "web")
    # kubectl sends all of stdin and half-closes it before the shell has run the first line: the output of
    # the lines read still reaches the client
    r = cluster.kubectl("-n", ns, "run", "t", "--rm", "-i", "--restart=Never", "--image=busybox", "--", "sh",
                        input="wget -qO- http://web/hostname\necho done\nexit\n", timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("webdone\n"), r.stdout  # /hostname answers without a newline


def test_R107_a_pod_bound_to_the_control_plane_node_runs(cluster, namespace):  # type: ignore[no-untyped-def]
    ns = namespace
    node = next(n for n in cluster.kubectl("get", "nodes", "-o", "name").stdout.split()
                if n.endswith("-control-plane")).split("/", 1)[1]
    r = cluster.kubectl("-n", ns, "apply", "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: cp}}
spec:
  nodeName: {node}
  containers:
  - {{name: c, image: busybox, command: ["sleep", "3600"]}}
""")
    assert r.returncode == 0, r.stderr
    _ready(cluster, ns, "cp")
    ip = cluster.kubectl("-n", ns, "get", "pod", "cp", "-o", "jsonpath={.status.podIP}").stdout
    assert ip.startswith("10.244.0."), ip  # the control-plane node's podCIDR


AGN = "registry.k8s.io/e2e-test-images/agnhost:2.53"

IMAGES = f"""
apiVersion: v1
kind: Pod
metadata: {{name: bare}}
spec:
  containers: [{{name: c, image: "{AGN}"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: porter}}
spec:
  containers:
  - name: c
    image: {AGN}
    args: ["porter"]
    env: [{{name: SERVE_PORT_8080, value: foo}}, {{name: SERVE_TCP_PORT_9090, value: bar}},
          {{name: SERVE_UDP_PORT_9091, value: baz}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: e2e-nginx}}
spec:
  containers: [{{name: c, image: "registry.k8s.io/e2e-test-images/nginx:1.14-4"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: e2e-busybox}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: registry.k8s.io/e2e-test-images/busybox:1.36.1-1
    command: ["sh", "-c", "echo hello from busybox"]
"""


def test_R103_R106_agnhost_default_porter_dns_suffix_and_the_e2e_images(cluster, namespace):  # type: ignore[no-untyped-def]
    ns = namespace
    r = cluster.kubectl("-n", ns, "apply", "-f", "-", input=IMAGES)
    assert r.returncode == 0, r.stderr
    # agnhost with neither command nor args runs its CMD, pause
    _ready(cluster, ns, "bare", "porter", "e2e-nginx")
    assert cluster.kubectl("-n", ns, "logs", "bare").stdout == "Paused\n"
    # porter serves each SERVE_PORT_<n> / SERVE_TCP_PORT_<n> value on port n
    ip = cluster.kubectl("-n", ns, "get", "pod", "porter", "-o", "jsonpath={.status.podIP}").stdout
    for port, value in ((8080, "foo"), (9090, "bar")):
        r = cluster.kubectl("-n", ns, "exec", "bare", "--", "wget", "-qO-", f"http://{ip}:{port}/anything")
        assert (r.returncode, r.stdout) == (0, value), r.stderr
    r = cluster.kubectl("-n", ns, "exec", "bare", "--", "sh", "-c", f"echo x | nc -u -w 1 {ip} 9091")
    assert (r.returncode, r.stdout) == (0, "baz"), r.stderr
    # dns-suffix / dns-server-list print the Pod's resolv.conf lists
    r = cluster.kubectl("-n", ns, "exec", "bare", "--", "/agnhost", "dns-suffix")
    assert r.stdout == f"{ns}.svc.cluster.local,svc.cluster.local,cluster.local\n", r.stderr
    r = cluster.kubectl("-n", ns, "exec", "bare", "--", "/agnhost", "dns-server-list")
    assert r.stdout == "10.96.0.10\n", r.stderr
    # the e2e nginx image (nginx:1.14-alpine) serves on 80
    ip = cluster.kubectl("-n", ns, "get", "pod", "e2e-nginx", "-o", "jsonpath={.status.podIP}").stdout
    r = cluster.kubectl("-n", ns, "exec", "bare", "--", "wget", "-S", "-qO-", f"http://{ip}/")
    assert r.returncode == 0 and "Welcome to nginx!" in r.stdout, r.stderr
    assert "Server: nginx/1.14.2" in r.stderr, r.stderr
    # the e2e busybox image runs busybox's applets
    eventually(lambda: cluster.kubectl("-n", ns, "get", "pod", "e2e-busybox", "-o",
                                       "jsonpath={.status.phase}").stdout == "Succeeded", timeout=20)
    assert cluster.kubectl("-n", ns, "logs", "e2e-busybox").stdout == "hello from busybox\n"


UDP = f"""
apiVersion: v1
kind: Pod
metadata: {{name: udp-srv, labels: {{app: udp}}}}
spec:
  containers:
  - {{name: c, image: "{AGN}", args: ["netexec", "--http-port=8080", "--udp-port=8081"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: agn}}
spec:
  containers: [{{name: c, image: "{AGN}"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: bb}}
spec:
  containers: [{{name: c, image: busybox, command: ["sleep", "3600"]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: udp}}
spec:
  selector: {{app: udp}}
  ports:
  - {{name: dns-like, port: 90, targetPort: 8081, protocol: UDP}}
  - {{name: http, port: 80, targetPort: 8080}}
---
apiVersion: v1
kind: Service
metadata: {{name: empty}}
spec:
  selector: {{app: nobody}}
  ports: [{{port: 91, protocol: UDP}}]
"""


def test_R101_R102_udp_services_and_nc(cluster, namespace):  # type: ignore[no-untyped-def]
    ns = namespace
    assert cluster.kubectl("-n", ns, "apply", "-f", "-", input=UDP).returncode == 0
    _ready(cluster, ns, "udp-srv", "agn", "bb")

    def sh(pod: str, script: str):  # type: ignore[no-untyped-def]
        return cluster.kubectl("-n", ns, "exec", pod, "--", "sh", "-c", script)

    svc_ip = cluster.kubectl("-n", ns, "get", "svc", "udp", "-o", "jsonpath={.spec.clusterIP}").stdout
    # UDP through the Service to netexec's UDP server, from busybox's nc and from agnhost's (openbsd) nc
    r = sh("bb", "echo hostname | nc -u -w 2 udp 90")
    assert (r.returncode, r.stdout) == (0, "udp-srv"), r.stderr
    r = sh("agn", "echo hostName | nc -v -u -w 2 udp 90")
    assert (r.returncode, r.stdout) == (0, "udp-srv"), r.stderr
    assert f"Connection to udp ({svc_ip}) 90 port [udp/*] succeeded!" in r.stderr, r.stderr
    # netexec's /dial over UDP, as e2e's intra-pod checks use it
    r = sh("agn", "wget -qO- 'http://udp:80/dial?request=hostname&protocol=udp&host=udp&port=90&tries=1'")
    assert r.stdout == '{"responses":["udp-srv"]}', (r.stdout, r.stderr)
    r = sh("agn", "wget -qO- 'http://udp:80/dial?request=hostname&protocol=udp&host=empty&port=91&tries=1'")
    assert '"errors":["reading from udp connection failed. err:' in r.stdout and "connection refused" in r.stdout, \
        r.stdout

    # TCP reachability as e2e checks it (agnhost's nc -v -t -w 2 -z)
    r = sh("agn", "nc -v -t -w 2 -z udp 80")
    assert r.returncode == 0, r.stderr
    assert f"Connection to udp ({svc_ip}) 80 port [tcp/http] succeeded!" in r.stderr, r.stderr
    # port 90 is UDP only: a TCP connection to it is rejected
    r = sh("agn", "nc -v -t -w 2 -z udp 90")
    assert r.returncode == 1
    assert f"nc: connect to udp ({svc_ip}) port 90 (tcp) failed: Connection refused" in r.stderr, r.stderr
    # busybox's nc: its own words, and no -t option
    r = sh("bb", "nc -v -w 2 -z udp 80")
    assert (r.returncode, r.stderr) == (0, f"udp ({svc_ip}:80) open\n"), r.stderr
    r = sh("bb", f"nc -vv -w 2 {svc_ip} 90")
    assert r.returncode == 1
    assert r.stderr.startswith(f"nc: {svc_ip} ({svc_ip}:90): Connection refused\nsent 0, rcvd 0\n"), r.stderr
    r = sh("bb", "nc -t udp 80")
    assert r.returncode == 1 and r.stderr.startswith("nc: invalid option -- 't'\nBusyBox v1.36.1"), r.stderr
    # an address nobody owns: the connect runs out of -w
    r = sh("agn", "nc -v -w 1 -z 10.244.9.9 80")
    assert r.returncode == 1
    assert "nc: connect to 10.244.9.9 port 80 (tcp) timed out: Operation in progress\n" in r.stderr, r.stderr
    r = sh("bb", "nc -v -w 1 10.244.9.9 80")
    assert r.returncode == 1 and r.stderr.startswith("nc: 10.244.9.9 (10.244.9.9:80): Connection timed out\n")
    # stdin piped to a TCP server: the HTTP answer comes back
    r = sh("bb", "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 2 udp 80")
    assert r.returncode == 0 and r.stdout.startswith("HTTP/1.1 200 OK") and r.stdout.endswith("udp-srv"), r.stdout

    # DNS over UDP from busybox keeps working (kube-dns's port 53 is UDP)
    r = sh("bb", f"nslookup udp.{ns}.svc.cluster.local")
    assert f"Address: {svc_ip}" in r.stdout, r.stdout


def test_R100_netexec_udp_listen_addresses(cluster, namespace):  # type: ignore[no-untyped-def]
    ns = namespace
    r = cluster.kubectl("-n", ns, "apply", "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: lo-udp}}
spec:
  containers:
  - {{name: c, image: "{AGN}", args: ["netexec", "--udp-listen-addresses=127.0.0.1"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: other}}
spec:
  containers: [{{name: c, image: "{AGN}"}}]
""")
    assert r.returncode == 0, r.stderr
    _ready(cluster, ns, "lo-udp", "other")
    ip = cluster.kubectl("-n", ns, "get", "pod", "lo-udp", "-o", "jsonpath={.status.podIP}").stdout
    assert "Started UDP server on port 127.0.0.1 8081" in cluster.kubectl("-n", ns, "logs", "lo-udp").stdout
    # inside its own Pod, on the loopback: it answers
    r = cluster.kubectl("-n", ns, "exec", "lo-udp", "--", "sh", "-c", "echo hostname | nc -u -w 1 127.0.0.1 8081")
    assert (r.returncode, r.stdout) == (0, "lo-udp"), r.stderr
    # from another Pod to the Pod IP: ICMP port unreachable
    r = cluster.kubectl("-n", ns, "exec", "other", "--", "sh", "-c", f"echo hostname | nc -u -w 1 {ip} 8081")
    assert (r.returncode, r.stdout) == (1, ""), r.stderr


def test_R109_a_port_whose_process_ended_is_refused_not_silent(cluster, namespace):  # type: ignore[no-untyped-def]
    ns = namespace
    r = cluster.kubectl("-n", ns, "apply", "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: two}}
spec:
  restartPolicy: Never
  containers:
  - {{name: app, image: "{AGN}", args: ["netexec", "--http-port=8080", "--udp-port=8081"]}}
  - {{name: side, image: busybox, command: ["sleep", "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: cli}}
spec:
  containers: [{{name: c, image: "{AGN}"}}]
""")
    assert r.returncode == 0, r.stderr
    _ready(cluster, ns, "two", "cli")
    ip = cluster.kubectl("-n", ns, "get", "pod", "two", "-o", "jsonpath={.status.podIP}").stdout
    r = cluster.kubectl("-n", ns, "exec", "cli", "--", "wget", "-qO-", f"http://{ip}:8080/exit?code=0")
    eventually(lambda: "terminated" in cluster.kubectl(
        "-n", ns, "get", "pod", "two", "-o", "jsonpath={.status.containerStatuses[?(@.name=='app')].state}").stdout,
        timeout=20)
    # the Pod's network namespace stays (its other container runs): the kernel answers a closed port with a
    # TCP reset, and a UDP datagram with ICMP port unreachable
    r = cluster.kubectl("-n", ns, "exec", "cli", "--", "nc", "-v", "-w", "3", "-z", ip, "8080")
    assert r.returncode == 1
    assert f"nc: connect to {ip} port 8080 (tcp) failed: Connection refused" in r.stderr, r.stderr
    r = cluster.kubectl("-n", ns, "exec", "cli", "--", "sh", "-c", f"echo hostname | nc -u -w 3 {ip} 8081")
    assert (r.returncode, r.stdout) == (1, ""), r.stderr  # refused at once (a timeout would exit 0)
