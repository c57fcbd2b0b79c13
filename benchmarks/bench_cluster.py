"""Speed and memory figures of the embedded cluster (run: `make bench`).

Prints one line per figure with its target. Not a test: figures vary with the
machine; the targets are those of the [cluster] issue on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kai_labs.clusters import embedded as cl  # noqa: E402

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: agnhost
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080"]
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
"""


def line(name: str, value: str, target: str) -> None:
    print(f"{name:<58} {value:>14}   (target {target})", flush=True)


def tree(pid: int) -> list[int]:
    """The cluster process and its descendants (the node zygote and the node processes)."""
    out, todo = [pid], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        out += [int(k) for k in kids]
        todo += [int(k) for k in kids]
    return out


def smaps_mb(pid: int, field: str) -> float:
    """A field of /proc/PID/smaps_rollup in MB: Pss counts memory shared between processes once in all."""
    try:
        for ln in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if ln.startswith(field + ":"):
                return int(ln.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1]) / 1024
    return 0.0


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, check=True,
                          env=dict(os.environ, KUBECONFIG=str(kubeconfig)))


def settled(c: cl.Cluster, ns: str, n: int) -> bool:
    """The Deployment reports n ready replicas and the Service's slices hold n ready endpoints.
    (Raw JSON, and no list of all Pods per poll: polling must not eat the CPU it is measuring.)"""
    raw = c.apps().read_namespaced_deployment_status("web", ns, _preload_content=False)
    st = json.loads(raw.data).get("status", {})
    if st.get("readyReplicas", 0) != n or st.get("updatedReplicas", 0) != n:
        return False
    raw = c.discovery().list_namespaced_endpoint_slice(ns, label_selector="kubernetes.io/service-name=web",
                                                       _preload_content=False)
    ready = sum(1 for s in json.loads(raw.data)["items"] for e in (s.get("endpoints") or [])
                if e["conditions"].get("ready"))
    return ready == n


def all_ready(c: cl.Cluster, names: list[str]) -> bool:
    """Each of the Nodes posts Ready=True."""
    raw = json.loads(c.core().list_node(_preload_content=False).data)["items"]
    ready = {n["metadata"]["name"] for n in raw
             if any(k.get("type") == "Ready" and k.get("status") == "True"
                    for k in (n.get("status") or {}).get("conditions") or [])}
    return set(names) <= ready


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` ends us: still stop our clusters
    root = Path(tempfile.mkdtemp(prefix="kai-labs-bench-"))
    os.environ["KAI_LABS_HOME"] = str(root)
    try:
        cold, warm = [], []
        for i in range(5):
            t = time.perf_counter()
            cl.up(f"b{i}", seed=1)
            cold.append(time.perf_counter() - t)
            cl.down(f"b{i}")
            t = time.perf_counter()
            cl.up(f"b{i}", seed=1)
            warm.append(time.perf_counter() - t)
            cl.down(f"b{i}")
        line("cluster up -> API ready, first start (median of 5)", f"{statistics.median(cold):.3f} s", "< 0.5 s")
        line("cluster up -> API ready, restart (median of 5)", f"{statistics.median(warm):.3f} s", "< 0.5 s")

        c = cl.start("bench", seed=1, set_env=False)
        kc = c.kubeconfig
        times = []
        for i in range(5):
            ns = f"apply{i}"
            kubectl(kc, "create", "namespace", ns)
            t = time.perf_counter()
            kubectl(kc, "-n", ns, "apply", "-f", "-", stdin=WEB.replace("REPLICAS", "3"))
            while not settled(c, ns, 3):
                time.sleep(0.005)
            times.append(time.perf_counter() - t)
        line("kubectl apply 3-replica Deployment+Service -> settled", f"{statistics.median(times):.3f} s",
             "< 0.5 s")

        def run_many(*args: str) -> float:
            ts = []
            for _ in range(10):
                t = time.perf_counter()
                kubectl(kc, *args)
                ts.append(time.perf_counter() - t)
            return statistics.median(ts)

        client_only = run_many("version", "--client")
        get_pods = run_many("get", "pods", "-n", "apply0")
        # the floor any API server sets: TLS handshake + one trivial request (/version does no work here)
        floor = run_many("get", "--raw", "/version")
        line("kubectl version --client (median of 10)", f"{client_only * 1000:.0f} ms", "reference")
        line("kubectl get pods, whole process (median of 10)", f"{get_pods * 1000:.0f} ms",
             f"< {client_only * 1.1 * 1000:.0f} ms (within 10%)")
        line("  overhead over the client alone", f"{(get_pods / client_only - 1) * 100:+.0f} %", "< +10 %")
        line("  of which TLS + one request (kubectl get --raw /version)",
             f"{(floor / client_only - 1) * 100:+.0f} %", "any server")

        # kubelet's maxPods is 110, as on kind: 1,000 Pods need more than two workers. Nodes annotated
        # kai-labs.dev/kubelet=embedded are run by the embedded kubelet (kwok marks its nodes the same way).
        st = cl.status("bench")
        assert st.pid
        time.sleep(1.0)  # the nodes' start-up burst is over (they trim their heaps then)
        idle_procs = tree(st.pid)
        idle = sum(smaps_mb(p, "Pss") for p in idle_procs)
        idle_cp = smaps_mb(st.pid, "Pss")
        nodes = "".join(f"---\napiVersion: v1\nkind: Node\nmetadata:\n  name: extra-worker{i}\n  annotations:\n"
                        f"    kai-labs.dev/kubelet: embedded\n" for i in range(8))
        t = time.perf_counter()
        kubectl(kc, "apply", "-f", "-", stdin=nodes)
        # each is a process of its own that starts, syncs its informers and posts Ready: measured apart,
        # so the Pods' figure is about Pods (on a real cluster nodes join long before a rollout)
        while not all_ready(c, [f"extra-worker{i}" for i in range(8)]):
            time.sleep(0.02)
        line("8 more embedded Nodes: apply -> all Ready", f"{time.perf_counter() - t:.2f} s", "reference")
        time.sleep(1.0)
        joined = sum(smaps_mb(p, "Pss") for p in tree(st.pid))
        joined_cp = smaps_mb(st.pid, "Pss")
        per_node = (joined - joined_cp - (idle - idle_cp)) / 8
        kubectl(kc, "apply", "-f", "-", stdin="apiVersion: v1\nkind: Namespace\nmetadata: {name: big}\n")
        t = time.perf_counter()
        kubectl(kc, "-n", "big", "apply", "-f", "-", stdin=WEB.replace("REPLICAS", "1000"))
        while not settled(c, "big", 1000):
            time.sleep(0.02)
        big = time.perf_counter() - t
        line("1,000 Pods behind one Service: apply -> settled", f"{big:.2f} s", "< 2 s")
        time.sleep(2.0)
        procs = tree(st.pid)
        pss = sum(smaps_mb(p, "Pss") for p in procs)
        line(f"memory with 1,000 Pods: {len(procs)} processes, sum of PSS", f"{pss:.0f} MB", "< 200 MB")
        # where it goes: the cluster as `up` leaves it, each node process more, each Pod (in the control
        # plane's store and caches, and in its node: the kubelet's worker, the emulated program, the informer)
        cp = smaps_mb(st.pid, "Pss")
        line(f"  the cluster idle ({len(idle_procs)} processes: control plane, zygote, 3 nodes)", f"{idle:.0f} MB",
             "reference")
        line("  each more node process, idle", f"{per_node:.1f} MB", "reference")
        line("  each Pod, in the control plane", f"{(cp - joined_cp) / 1000 * 1024:.0f} KB", "reference")
        line("  each Pod, in the node processes",
             f"{(pss - cp - (joined - joined_cp)) / 1000 * 1024:.0f} KB", "reference")
        line("  control plane process RSS", f"{rss_mb(st.pid):.0f} MB", "reference")
        line("  node processes RSS, largest", f"{max(rss_mb(p) for p in procs[1:]):.0f} MB", "reference")
        r = c.net.curl("http://web/hostname", "big")
        line("  a request through the Service still answers", "yes" if r.ok else f"no ({r.error})", "yes")
        cl.down("bench")
    finally:
        for d in root.iterdir() if root.exists() else []:
            cl.down(d.name)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
