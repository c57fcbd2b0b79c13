"""Reliability figures of the embedded cluster: crash safety, concurrency, hostile input, access,
resources. The same workloads as tests/reliability, with bigger numbers.

    .venv/bin/python benchmarks/bench_reliability.py            # 20 crash runs, 3000 objects
    .venv/bin/python benchmarks/bench_reliability.py --quick    # 3 crash runs, for a smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")

from kai_labs.clusters import embedded as cl  # noqa: E402
from tests.reliability.crashlib import crash_run  # noqa: E402
from tests.reliability.loadlib import Load, pct, run_load  # noqa: E402
from tests.reliability.rawapi import Raw, check, check_status, corpus, fd_count, listeners_of, rss_mib, send  # noqa: E402  # noqa: E402
from tests.reliability.reslib import create_objects, down_leaves_nothing, fds_settle, settle, watch_round  # noqa: E402


def line(title: str, **kv: object) -> None:
    print(f"{title:<12} " + "  ".join(f"{k}={v}" for k, v in kv.items()), flush=True)


def bench_crash(runs: int) -> dict[str, object]:
    acked = names = 0
    lost: list[str] = []
    restart, heal = [], []
    ops: dict[str, int] = {}
    rv_ok = 0
    for i in range(runs):
        r = crash_run(i)
        acked += r.acked
        names += r.names
        lost += r.lost
        restart.append(r.restart_s)
        heal.append(r.heal_s)
        rv_ok += r.rv_after > r.rv_before
        for k, v in r.ops.items():
            ops[k] = ops.get(k, 0) + v
        if r.heal_detail:
            lost.append(f"run {i}: not healed: {r.heal_detail}")
    line(
        "crash",
        runs=runs,
        acknowledged_writes_verified=acked,
        **ops,
        names_checked=names,
        lost=len(lost),
        rv_increasing=f"{rv_ok}/{runs}",
        restart_s_p50=f"{statistics.median(restart):.2f}",
        restart_s_max=f"{max(restart):.2f}",
        heal_s_p50=f"{statistics.median(heal):.3f}",
        heal_s_max=f"{max(heal):.3f}",
    )
    for x in lost[:10]:
        print("   LOST", x)
    return {"runs": runs, "acked": acked, "lost": len(lost)}


def bench_load(c: cl.Cluster) -> dict[str, object]:
    c.kubectl("create", "namespace", "load", check=True)
    load = Load(client_increments=20, kubectl_increments=4, writes_each=60, applies_each=5)
    res = run_load(c, "load", load)
    lost = res.counter_expected - res.counter
    line(
        "concurrency",
        sessions=res.sessions,
        counter=f"{res.counter}/{res.counter_expected}",
        lost_updates=lost,
        conflicts_409=res.conflicts,
        watch_events=res.watch_events,
        watch_problems=len(res.watch_problems),
        errors=len(res.errors),
        hung=len(res.hung),
        wall_s=f"{res.wall_s:.1f}",
    )
    line(
        "latency",
        client_ops=len(res.client_latency_ms),
        client_ms_p50=f"{pct(res.client_latency_ms, 50):.1f}",
        p95=f"{pct(res.client_latency_ms, 95):.1f}",
        p99=f"{pct(res.client_latency_ms, 99):.1f}",
        max=f"{max(res.client_latency_ms):.1f}",
        kubectl_calls=len(res.kubectl_latency_ms),
        kubectl_ms_p50=f"{pct(res.kubectl_latency_ms, 50):.0f}",
        kubectl_p99=f"{pct(res.kubectl_latency_ms, 99):.0f}",
    )
    for x in (res.errors + res.watch_problems + res.hung)[:10]:
        print("   PROBLEM", x)
    return {"lost": lost}


def _random_json(rng: random.Random, depth: int = 0) -> object:
    r = rng.random()
    if depth > 4 or r < 0.4:
        return rng.choice(
            [
                None,
                True,
                False,
                rng.randint(-(2**40), 2**40),
                rng.random() * 1e6,
                "",
                "".join(rng.choice("aZ-./_é🚀\x00 \n$(){}") for _ in range(rng.randrange(12))),
            ]
        )
    if r < 0.7:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["apiVersion", "kind", "metadata", "name", "labels", "data", "spec", "ports", "selector", "x"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def bench_hostile(raw: Raw, fuzz: int) -> dict[str, object]:
    raw.request("POST", "/api/v1/namespaces", json={"metadata": {"name": "hostile"}})
    raw.request("POST", "/api/v1/namespaces/hostile/configmaps", json={"metadata": {"name": "exists"}})
    n = wrong = five = 0
    problems = []
    for i, c in enumerate(corpus("hostile", "exists")):
        if raw.request("GET", "/api/v1/namespaces/hostile/configmaps/exists").status_code == 404:
            raw.request("POST", "/api/v1/namespaces/hostile/configmaps", json={"metadata": {"name": "exists"}})
        n += 1
        r = send(raw, c)
        five += r.status_code >= 500 and c.expect != "real5xx"
        p = check(c, r)
        if p:
            wrong += 1
            problems.append(f"{c.what}: {p}")
        if i % 20 == 19:
            assert raw.healthy(), f"not serving after {c.what}"
    rng = random.Random(11)
    fz = fz5 = 0
    kinds = ["configmaps", "services", "pods", "secrets"]
    for i in range(fuzz):
        body = _random_json(rng)
        if rng.random() < 0.5 and isinstance(body, dict):
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"f{i}"}, **body}
        ct, method, path = "application/json", "POST", f"/api/v1/namespaces/hostile/{rng.choice(kinds)}"
        if rng.random() < 0.3:
            method, path = "PATCH", "/api/v1/namespaces/hostile/configmaps/exists"
            ct = rng.choice(["application/merge-patch+json", "application/json-patch+json"])
        r = raw.request(method, path, data=json.dumps(body), headers={"Content-Type": ct})
        fz += 1
        if r.status_code >= 500 or (r.status_code >= 400 and check_status(r)):
            fz5 += 1
            problems.append(f"fuzz {method} {json.dumps(body)[:80]}: HTTP {r.status_code} {r.text[:120]}")
        if i % 100 == 99:
            assert raw.healthy()
    line(
        "hostile",
        corpus_inputs=n,
        corpus_wrong=wrong,
        fuzz_inputs=fz,
        fuzz_wrong=fz5,
        server_errors_on_client_mistakes=five + fz5,
        healthy_after=raw.healthy(),
    )
    for x in problems[:10]:
        print("   WRONG", x)
    return {"inputs": n + fz, "500s": five + fz5}


def bench_access(raw: Raw) -> None:
    from tests.reliability.test_access import API_PATHS, BAD_AUTH

    n = ok = 0
    for method, path in API_PATHS:
        for auth in BAD_AUTH:
            header = None if auth is None else auth.replace("{tok}", raw.token)
            r = raw.request(method, path, token=header, data=b"{}" if method in ("POST", "PATCH") else None)
            n += 1
            ok += r.status_code == 401 and r.json().get("reason") == "Unauthorized"
    socks = listeners_of(raw.pid)
    line(
        "access",
        unauthenticated_requests=n,
        got_401=ok,
        listening_sockets=len(socks),
        non_loopback=sum(not s.address.startswith("127.") for s in socks),
        private_files=all((raw.home / f).stat().st_mode & 0o077 == 0 for f in ("kubeconfig", "token", "server.key")),
    )


def bench_resources(objects: int) -> None:
    name = "bench-res"
    c = cl.start(name, seed=3, set_env=False)
    raw = Raw(cl.home_for(name))
    c.kubectl("create", "namespace", "bulk", check=True)
    fd0, rss0 = fd_count(raw.pid), rss_mib(raw.pid)
    took = create_objects(c, "bulk", objects)
    t0 = time.monotonic()
    n = len(c.core().list_namespaced_config_map("bulk").items)
    list_ms = (time.monotonic() - t0) * 1000
    fd1, rss1 = fds_settle(raw.pid, fd0 + 10), rss_mib(raw.pid)
    rv = c.core().list_namespaced_config_map("bulk", limit=1).metadata.resource_version
    during = []
    rss_w = []
    for _ in range(5):
        d, _ = watch_round(raw, "bulk", 100, rv)
        during.append(d)
        rss_w.append(rss_mib(raw.pid))
    fd2 = fds_settle(raw.pid, fd1 + 10)
    line(
        "objects",
        created=n,
        create_s=f"{took:.1f}",
        per_s=f"{objects / took:.0f}",
        list_all_ms=f"{list_ms:.0f}",
        rss_mib=f"{rss0:.0f}->{rss1:.0f}",
        fds=f"{fd0}->{fd1}",
    )
    line(
        "watches",
        rounds=5,
        streams_per_round=100,
        fds_open_max=max(during),
        fds_after=fd2,
        rss_mib_rounds="/".join(f"{x:.0f}" for x in rss_w),
    )
    c.kubectl("create", "namespace", "fifty", check=True)
    f0, l0 = fd_count(raw.pid), len(listeners_of(raw.pid))
    c.kubectl(
        "-n",
        "fifty",
        "create",
        "deployment",
        "big",
        "--replicas=50",
        "--image=registry.k8s.io/e2e-test-images/agnhost:2.53",
        "--",
        "/agnhost",
        "netexec",
        "--http-port=8080",
        check=True,
    )
    core = c.core()
    t0 = time.monotonic()
    settle(lambda: sum(p.status.phase == "Running" for p in core.list_namespaced_pod("fifty").items) == 50, 120)
    up_s = time.monotonic() - t0
    f_up, l_up = fd_count(raw.pid), len(listeners_of(raw.pid))
    c.kubectl("-n", "fifty", "delete", "deployment", "big", check=True)
    settle(lambda: not core.list_namespaced_pod("fifty").items, 60)
    f_after = fds_settle(raw.pid, f0 + 10, 15)
    line(
        "pods",
        replicas=50,
        running_s=f"{up_s:.1f}",
        fds=f"{f0}->{f_up}->{f_after}",
        listeners=f"{l0}->{l_up}->{len(listeners_of(raw.pid))}",
    )
    left = down_leaves_nothing(name)
    line("down", leftovers=len(left), detail="; ".join(left) or "none")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crash-runs", type=int, default=20)
    ap.add_argument("--objects", type=int, default=3000)
    ap.add_argument("--fuzz", type=int, default=2000)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.crash_runs, a.objects, a.fuzz = 3, 1000, 300
    home = Path(tempfile.mkdtemp(prefix="kai-rel-bench-"))
    os.environ["KAI_LABS_HOME"] = str(home)
    t0 = time.monotonic()
    try:
        crash = bench_crash(a.crash_runs)
        c = cl.start("bench", seed=1, set_env=False)
        raw = Raw(cl.home_for("bench"))
        load = bench_load(c)
        hostile = bench_hostile(raw, a.fuzz)
        bench_access(raw)
        cl.down("bench")
        bench_resources(a.objects)
    finally:
        for d in home.iterdir():
            cl.down(d.name)
        shutil.rmtree(home, ignore_errors=True)
    print(
        f"SUMMARY crash_runs={crash['runs']} acknowledged_writes_verified={crash['acked']} "
        f"lost={crash['lost'] + load['lost']} inputs_tried={hostile['inputs']} server_errors={hostile['500s']} "
        f"total_s={time.monotonic() - t0:.0f}"
    )
    return 0 if crash["lost"] == 0 and load["lost"] == 0 and hostile["500s"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
