"""What NetworkPolicy enforcement costs the embedded cluster (issue #18 part 2).

Prints one line per figure with its target: the pure decision per flow (kai_labs/k8s/netpol.py) with many
policies, a request's latency through cluster.net with and without policies, and the node processes' memory
before and after (nodes watch the policies and keep no other Pod's object: other nodes' Pods are read from
their sandbox notes).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_cluster import kubectl, line, smaps_mb, tree  # noqa: E402
from kai_labs.clusters import embedded as cl  # noqa: E402
from kai_labs.k8s import netpol  # noqa: E402

N_POLICIES = 50

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080"]
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {role: client}}
spec:
  containers: [{name: c, image: busybox, command: ["sleep", "3600"]}]
"""


def policies(ns: str) -> list[dict[str, object]]:
    """A deny-all, N-1 policies whose rules do not match the client, and the one that allows it (last)."""
    out: list[dict[str, object]] = [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                     "metadata": {"name": "deny-all", "namespace": ns},
                                     "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}]
    for i in range(N_POLICIES - 1):
        out.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": f"p{i:03d}", "namespace": ns},
                    "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                             "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": f"r{i}"}}},
                                                   {"ipBlock": {"cidr": "192.168.0.0/16"}}],
                                          "ports": [{"port": "http"}, {"port": 9000, "endPort": 9100}]}]}})
    out.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "zz-allow-client", "namespace": ns},
                "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                         "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}]}})
    return out


def pure_decision_us() -> float:
    pols = policies("app")
    ns = {"app": {"kubernetes.io/metadata.name": "app"}}
    src = netpol.Peer("10.244.2.7", "app", "client", {"role": "client"})
    dst = netpol.Peer("10.244.1.5", "app", "web-1", {"app": "web"}, (("http", 8080, "TCP"),), "172.18.0.3")
    n = 2000
    t = time.perf_counter()
    for _ in range(n):
        assert netpol.decide(pols, ns, src, dst, "TCP", 8080).allowed
    return (time.perf_counter() - t) / n * 1e6


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    line(f"netpol.decide, {N_POLICIES + 1} policies, allowed by the last", f"{pure_decision_us():.0f} us",
         "< 1 ms (a request ~5 ms)")
    root = Path(tempfile.mkdtemp(prefix="kai-labs-bench-"))
    os.environ["KAI_LABS_HOME"] = str(root)
    try:
        c = cl.start("bench", seed=1, set_env=False)
        kc = c.kubeconfig
        kubectl(kc, "apply", "-f", "-", stdin="apiVersion: v1\nkind: Namespace\nmetadata: {name: np}\n")
        kubectl(kc, "-n", "np", "apply", "-f", "-", stdin=APP)
        kubectl(kc, "-n", "np", "rollout", "status", "deploy/web", "--timeout=60s")
        kubectl(kc, "-n", "np", "wait", "--for=condition=Ready", "pod/client", "--timeout=60s")
        client_ip = json.loads(kubectl(kc, "-n", "np", "get", "pod", "client", "-o", "json").stdout)["status"]["podIP"]
        pid = cl.status("bench").pid
        assert pid is not None

        def nodes_pss() -> float:
            return sum(smaps_mb(p, "Pss") for p in tree(pid)[1:])

        def latency_ms() -> float:
            times = []
            for _ in range(30):
                t = time.perf_counter()
                r = c.net.curl("http://web/hostname", "np")
                assert r.ok, r
                times.append(time.perf_counter() - t)
            return statistics.median(times) * 1000

        def exec_ms() -> float:
            times = []
            for _ in range(5):
                t = time.perf_counter()
                r = kubectl(kc, "-n", "np", "exec", "client", "--", "wget", "-qO-", "-T", "2", "http://web/hostname")
                assert r.stdout.startswith("web-"), r
                times.append(time.perf_counter() - t)
            return statistics.median(times) * 1000

        before_exec, before_lat = exec_ms(), latency_ms()
        before_pss = nodes_pss()  # after the same kind of traffic as the figure with policies
        # one document per policy (kubectl validates a v1 List against /openapi/v2, which is not served)
        kubectl(kc, "apply", "-f", "-", stdin="\n---\n".join(json.dumps(p) for p in policies("np")))
        route = c.net.route("web:80", "np", source_ip=client_ip)
        assert route.action == "forward" and "zz-allow-client" in route.reason, route
        time.sleep(1.0)  # the nodes' watches deliver the policies
        after_exec = exec_ms()
        line("kubectl exec wget via the Service, no policy (median of 5)", f"{before_exec:.0f} ms", "reference")
        line(f"kubectl exec wget via the Service, {N_POLICIES + 1} policies (median of 5)", f"{after_exec:.0f} ms",
             "< +20 ms")
        line("cluster.net.curl via the Service, no policy (median of 30)", f"{before_lat:.1f} ms", "reference")
        t = time.perf_counter()  # cluster.net's own client (10.244.1.254) is now denied: time the decision instead
        for _ in range(30):
            c.net.route("web:80", "np", source_ip=client_ip)
        line(f"cluster.net route with {N_POLICIES + 1} policies (mean of 30)",
             f"{(time.perf_counter() - t) / 30 * 1000:.1f} ms", "< 20 ms")
        after_pss = nodes_pss()
        line("node processes, sum of PSS, no policy", f"{before_pss:.1f} MB", "reference")
        n_nodes = len(tree(pid)) - 2  # minus the control plane and the zygote
        line(f"node processes, sum of PSS, {N_POLICIES + 1} policies ({n_nodes} nodes)", f"{after_pss:.1f} MB",
             f"< +0.5 MB per node ({before_pss + 0.5 * n_nodes:.1f} MB)")
        cl.down("bench")
    finally:
        for d in root.iterdir() if root.exists() else []:
            cl.down(d.name)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
