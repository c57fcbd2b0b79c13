"""One crash run: concurrent writers through the official client, SIGKILL at a seeded random
point, restart, then check that nothing acknowledged was lost and the cluster heals.

Used by test_crash_recovery.py (a few runs) and benchmarks/bench_reliability.py (many)."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kai_labs.clusters import embedded as cl
from tests.manifests import documents, service, web_deployment

WEB = documents(web_deployment(3, readiness=True), service())

ABSENT = None


@dataclass
class Writer:
    """Owns its names: the model of what the store must hold for them is exact."""

    prefix: str
    rng: random.Random
    state: dict[str, str | None] = field(default_factory=dict)  # acknowledged state per name
    pending: tuple[str, str | None] | None = None  # the op in flight when the process died (may or may not apply)
    acked: int = 0
    ops: dict[str, int] = field(default_factory=lambda: {"create": 0, "patch": 0, "replace": 0, "delete": 0})
    max_rv: int = 0
    error: str = ""

    def run(self, c: cl.Cluster, ns: str, stop: threading.Event) -> None:
        from kubernetes import client, config

        core = client.CoreV1Api(config.new_client_from_config(config_file=str(c.kubeconfig), context=c.context))
        i = 0
        while not stop.is_set():
            name = f"{self.prefix}-{self.rng.randrange(12)}"
            cur = self.state.get(name, ABSENT)
            i += 1
            value = f"{self.prefix}:{i}"
            try:
                if cur is ABSENT:
                    op, self.pending = "create", (name, value)
                    o = core.create_namespaced_config_map(
                        ns,
                        {"metadata": {"name": name, "labels": {"w": self.prefix}}, "data": {"v": value}},
                        _request_timeout=5,
                    )
                else:
                    r = self.rng.random()
                    if r < 0.2:
                        op, self.pending = "delete", (name, ABSENT)
                        o = core.delete_namespaced_config_map(name, ns, _request_timeout=5)
                        o = None
                    elif r < 0.4:
                        op, self.pending = "replace", (name, value)
                        live = core.read_namespaced_config_map(name, ns, _request_timeout=5)
                        live.data = {"v": value}
                        o = core.replace_namespaced_config_map(name, ns, live, _request_timeout=5)
                    else:
                        op, self.pending = "patch", (name, value)
                        o = core.patch_namespaced_config_map(name, ns, {"data": {"v": value}}, _request_timeout=5)
            except Exception as e:  # noqa: BLE001 - the process is killed under us; the op stays pending
                self.error = f"{type(e).__name__}"
                return
            self.state[name] = self.pending[1]
            self.pending = None
            self.acked += 1
            self.ops[op] += 1
            if o is not None:
                self.max_rv = max(self.max_rv, int(o.metadata.resource_version))


@dataclass
class CrashResult:
    run: int
    acked: int
    names: int
    ops: dict[str, int]
    lost: list[str]
    rv_before: int
    rv_after: int
    restart_s: float
    heal_s: float
    heal_detail: str


def _consistent(c: cl.Cluster, core: Any, disc: Any, ns: str, replicas: int) -> str | None:
    """None when the Deployment's Pods are Ready, the Service's slices list exactly their IPs, and each
    of those IPs really answers as its Pod (the Pod servers run again, not just a stale status)."""
    pods = [
        p for p in core.list_namespaced_pod(ns, label_selector="app=web").items if not p.metadata.deletion_timestamp
    ]
    ready = [
        p
        for p in pods
        if p.status.phase == "Running"
        and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
    ]
    if len(ready) != replicas or len(pods) != replicas:
        return f"{len(ready)}/{len(pods)} pods ready, want {replicas}"
    ips = sorted(p.status.pod_ip for p in ready)
    if len(set(ips)) != len(ips) or not all(ips):
        return f"pod IPs not unique: {ips}"
    slices = disc.list_namespaced_endpoint_slice(ns, label_selector="kubernetes.io/service-name=web").items
    eps = sorted(
        a for s in slices for e in (s.endpoints or []) if e.conditions and e.conditions.ready for a in e.addresses
    )
    every = sorted(a for s in slices for e in (s.endpoints or []) for a in e.addresses)
    if eps != ips or every != ips:
        return f"slice lists {every} (ready {eps}), pods are {ips}"
    for p in ready:
        r = c.net.curl(f"http://{p.status.pod_ip}:8080/hostname", ns, timeout=1.0)
        if not r.ok or r.body.strip() != p.metadata.name:
            return f"pod {p.metadata.name} at {p.status.pod_ip} does not answer: {r.error} {r.body[:60]!r}"
    r = c.net.curl("http://web/hostname", ns, timeout=1.0)
    if not r.ok or r.body.strip() not in {p.metadata.name for p in ready}:
        return f"the Service does not reach a ready Pod: {r.error} {r.body[:60]!r}"
    return None


def wait_consistent(c: cl.Cluster, ns: str, replicas: int, timeout: float) -> tuple[float, str | None]:
    core, disc = c.core(), c.discovery()
    t0 = time.monotonic()
    last: str | None = "never checked"
    while time.monotonic() - t0 < timeout:
        last = _consistent(c, core, disc, ns, replicas)
        if last is None:
            return time.monotonic() - t0, None
        time.sleep(0.02)
    return time.monotonic() - t0, last


def crash_run(run: int, writers: int = 4, seed_base: int = 1000) -> CrashResult:
    """Needs KAI_LABS_HOME set to a scratch directory."""
    rng = random.Random(seed_base + run)
    name = f"crash-{run}"
    cl.reset(name)
    c = cl.start(name=name, seed=run, set_env=False)
    ns = "default"
    try:
        r = c.kubectl("apply", "-f", "-", input=WEB)
        assert r.returncode == 0, r.stderr
        took, why = wait_consistent(c, ns, 3, 20)
        assert why is None, f"the Deployment never became consistent before the crash: {why}"
        ws = [Writer(f"w{t}", random.Random(rng.random())) for t in range(writers)]
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(c, ns, stop), daemon=True) for w in ws]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 15
        while sum(w.acked for w in ws) < 30 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.6))  # a seeded random point in the burst
        pid = cl.status(name).pid
        assert pid
        os.kill(pid, signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(10)
        assert not any(t.is_alive() for t in threads), "a writer hung after the kill"
        t0 = time.monotonic()
        c2 = cl.start(name=name, set_env=False)
        restart_s = time.monotonic() - t0
        heal_s, heal_why = wait_consistent(c2, ns, 3, 15)
        core = c2.core()
        lst = core.list_namespaced_config_map(ns)
        stored = {i.metadata.name: (i.data or {}).get("v") for i in lst.items}
        lost = []
        names = 0
        for w in ws:
            for n, want in w.state.items():
                names += 1
                got = stored.get(n, ABSENT)
                ok = {want}
                if w.pending and w.pending[0] == n:
                    ok.add(w.pending[1])  # the write in flight at the kill: either outcome is allowed
                if got not in ok:
                    lost.append(f"{n}: stored {got!r}, acknowledged {want!r}")
            # no name a writer never wrote (or only tried) may appear from nowhere
            for n in stored:
                if n.startswith(w.prefix + "-") and n not in w.state and not (w.pending and w.pending[0] == n):
                    lost.append(f"{n}: stored but never written")
        rv_before = max(max(w.max_rv for w in ws), int(lst.metadata.resource_version))
        new = core.create_namespaced_config_map(ns, {"metadata": {"name": f"after-{run}"}})
        rv_after = int(new.metadata.resource_version)
        return CrashResult(
            run,
            sum(w.acked for w in ws),
            names,
            {k: sum(w.ops[k] for w in ws) for k in ws[0].ops},
            lost,
            rv_before,
            rv_after,
            restart_s,
            heal_s,
            heal_why or "",
        )
    finally:
        cl.down(name)
        cl.reset(name)
