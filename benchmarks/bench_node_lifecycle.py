"""Node stop -> NotReady -> endpoints not ready -> Pods evicted -> replacements serving -> node back: how long
each step takes on the embedded cluster with the course's settings (issue 13, item 1).

Run: `.venv/bin/python benchmarks/bench_node_lifecycle.py`. Prints one line per figure with its target. The
course runs upstream's node-monitor-grace-period (50 s, checked every 5 s; the kubelet renews its Lease every
10 s, so a stop is noticed 40-55 s later) and shortens DefaultTolerationSeconds to 30 s (upstream 300 s); the
NoExecute taint comes at the monitor pass after NotReady, so eviction follows NotReady by 30-36 s.
Environment overrides (KAI_LABS_NODE_MONITOR_GRACE_PERIOD, ...) are cleared for this run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kai_labs.clusters import embedded as cl  # noqa: E402
from kai_labs.clusters import nodecli  # noqa: E402
from kai_labs.sim.controllers.nodelifecycle import NodeLifecycleSettings  # noqa: E402

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: agnhost
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080"]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
"""


def line(name: str, value: str, target: str) -> None:
    print(f"{name:<58} {value:>14}   (target {target})", flush=True)


def wait(pred: Any, timeout: float, every: float = 0.2) -> float | None:
    """Seconds until ``pred()`` holds (polled), None if it never did within ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(every)
    return None


def main() -> int:
    for var in NodeLifecycleSettings.ENV:
        os.environ.pop(var, None)
    os.environ["KAI_LABS_HOME"] = tempfile.mkdtemp(prefix="kai-labs-bench-nodelc-")
    name, ns = "bench-nodelc", "bench"
    victim, other = f"{name}-worker2", f"{name}-worker"
    c = cl.start(name, seed=1, set_env=False)
    core, apps = c.core(), c.apps()
    try:
        c.kubectl("create", "namespace", ns, check=True)
        c.kubectl("-n", ns, "apply", "-f", "-", input=WEB, check=True)

        def pods() -> list[dict[str, Any]]:
            return list(json.loads(core.list_namespaced_pod(ns, _preload_content=False).data)["items"])

        def slices() -> list[tuple[str, bool]]:
            raw = c.discovery().list_namespaced_endpoint_slice(ns, _preload_content=False)
            return [(e["targetRef"]["name"], bool(e["conditions"].get("ready")))
                    for s in json.loads(raw.data)["items"] for e in s.get("endpoints") or []]

        def settled() -> bool:
            st = json.loads(apps.read_namespaced_deployment_status("web", ns, _preload_content=False).data)
            return st.get("status", {}).get("readyReplicas", 0) == 4 and sum(r for _, r in slices()) == 4

        if wait(settled, 60) is None:
            print("the Deployment did not settle within 60 s", file=sys.stderr)
            return 1
        on_victim = {p["metadata"]["name"] for p in pods() if p["spec"].get("nodeName") == victim}
        line("Pods on the stopped node", str(len(on_victim)), "2 of 4 (spread)")

        def node_ready() -> str:
            n = json.loads(core.read_node(victim, _preload_content=False).data)
            return next((c["status"] for c in n["status"].get("conditions") or [] if c["type"] == "Ready"), "")

        t0 = time.monotonic()
        nodecli.call(name, "POST", f"/{victim}/stop")
        t_nr = wait(lambda: node_ready() != "True", 120)
        t_ep = wait(lambda: {n for n, r in slices() if not r} >= on_victim, 120 - (time.monotonic() - t0))
        t_ep = None if t_ep is None else time.monotonic() - t0

        def evicted() -> bool:
            ps = pods()
            gone = all(p["metadata"].get("deletionTimestamp") for p in ps if p["metadata"]["name"] in on_victim)
            live = [p for p in ps if not p["metadata"].get("deletionTimestamp")]
            return gone and len(live) == 4 and all(p["spec"].get("nodeName") == other for p in live)

        t_ev = wait(evicted, 120)
        t_ev = None if t_ev is None else time.monotonic() - t0
        t_sv = wait(lambda: sum(r for _, r in slices()) == 4, 60)
        t_sv = None if t_sv is None else time.monotonic() - t0

        def fmt(t: float | None) -> str:
            return "never" if t is None else f"{t:.1f} s"

        line("stop -> Node NotReady", fmt(t_nr), "40-55 s: grace 50 s, Lease every 10 s, checked every 5 s")
        line("stop -> its endpoints not ready", fmt(t_ep), "the NotReady moment + < 1 s")
        line("stop -> its Pods evicted and replaced", fmt(t_ev), "NotReady + 30-36 s (tolerationSeconds 30)")
        line("stop -> replacements serving (4 ready endpoints)", fmt(t_sv), "evicted + a few seconds")
        t1 = time.monotonic()
        nodecli.call(name, "POST", f"/{victim}/start")
        t_back = wait(lambda: node_ready() == "True", 90)
        t_clean = wait(lambda: not json.loads(core.read_node(victim, _preload_content=False).data)["spec"].get(
            "taints"), 90)
        t_clean = None if t_clean is None else time.monotonic() - t1
        line("start -> Node Ready", fmt(t_back), "the kubelet's first status post")
        line("start -> taints gone", fmt(t_clean), "Ready + <= 5 s (next monitor pass)")
        return 0 if None not in (t_nr, t_ep, t_ev, t_sv, t_back, t_clean) else 1
    finally:
        cl.down(name)


if __name__ == "__main__":
    sys.exit(main())
