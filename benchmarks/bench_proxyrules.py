"""Speed of kube-proxy's rules as kai_labs.k8s.proxyrules computes them.

Run: .venv/bin/python benchmarks/bench_proxyrules.py

Prints one line per figure with its target. Not a test: figures vary with the machine. The
targets keep `kai-labs net rules` and a lesson cell interactive: a course cluster has tens of
Services; 1000 Services x 3 endpoints is a large shared workshop cluster.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kai_labs.k8s import proxyrules  # noqa: E402
from kai_labs.k8s.netlogic import Snapshot  # noqa: E402


def report(name: str, value: str, target: str) -> None:
    print(f"{name:<58} {value:>14}   (target {target})", flush=True)


def _pod_ip(n: int) -> str:
    return f"10.244.{n // 250}.{n % 250 + 1}"


def world(services: int, endpoints: int) -> Snapshot:
    svcs, slices = [], []
    for i in range(services):
        name = f"svc-{i}"
        svcs.append({"metadata": {"name": name, "namespace": f"ns-{i % 20}"},
                     "spec": {"clusterIP": f"10.96.{i // 250}.{i % 250 + 1}",
                              "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
        slices.append({"metadata": {"name": f"{name}-x", "namespace": f"ns-{i % 20}",
                                    "labels": {"kubernetes.io/service-name": name}},
                       "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                       "endpoints": [{"addresses": [_pod_ip(i * endpoints + j)], "conditions": {"ready": True},
                                      "nodeName": f"node-{j % 3}"} for j in range(endpoints)]})
    nodes = [{"metadata": {"name": f"node-{n}"},
              "status": {"addresses": [{"type": "InternalIP", "address": f"172.18.0.{n + 2}"}]}} for n in range(3)]
    return Snapshot(svcs, slices, [], nodes, [f"ns-{i}" for i in range(20)])


def timed(fn: object, runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    for services, target_ms in ((30, 50), (1000, 2000)):
        snap = world(services, 3)
        for mode in proxyrules.MODES:
            ms = timed(lambda s=snap, m=mode: proxyrules.rules(s, m), 5) * 1000
            report(f"rules, {services} Services x 3 endpoints, {mode}", f"{ms:.1f} ms", f"< {target_ms} ms")
    snap = world(1000, 3)
    for mode in proxyrules.MODES:
        rs = proxyrules.rules(snap, mode)
        ms = timed(lambda r=rs: r.path(proxyrules.Request("10.96.1.1", 80)), 5) * 1000
        report(f"path of one request, 1000 Services, {mode}", f"{ms:.1f} ms", "< 500 ms")
    tracemalloc.start()
    proxyrules.rules(snap, "iptables")
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    report("peak memory of the iptables rules, 1000 Services", f"{peak:.1f} MiB", "< 50 MiB")


if __name__ == "__main__":
    main()
