"""Many concurrent sessions on one namespace: read-modify-write counters with retry (client and
kubectl), writers on their own and on shared objects, kubectl apply, raw and kubectl watches.

Checks: no lost update, stale resourceVersions get 409, every watch sees every event in order,
nothing hangs. Used by test_concurrency.py and benchmarks/bench_reliability.py."""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kai_labs.clusters import embedded as cl

from .rawapi import Raw


@dataclass
class Load:
    client_counters: int = 8
    client_increments: int = 10
    kubectl_counters: int = 4
    kubectl_increments: int = 3
    writers: int = 6
    writes_each: int = 25
    appliers: int = 4
    applies_each: int = 3
    raw_watchers: int = 6
    kubectl_watchers: int = 2

    @property
    def sessions(self) -> int:
        return (
            self.client_counters
            + self.kubectl_counters
            + self.writers
            + self.appliers
            + self.raw_watchers
            + self.kubectl_watchers
        )


@dataclass
class LoadResult:
    sessions: int
    counter: int
    counter_expected: int
    conflicts: int
    client_latency_ms: list[float] = field(default_factory=list)
    kubectl_latency_ms: list[float] = field(default_factory=list)
    watch_events: int = 0
    watch_problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    hung: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def _core(c: cl.Cluster) -> Any:
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(config_file=str(c.kubeconfig), context=c.context))


def _events_from_stream(text: str) -> tuple[list[dict[str, Any]], str]:
    """Concatenated (pretty-printed) JSON objects, as `kubectl get -w -o json` writes them."""
    dec = json.JSONDecoder()
    out = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out, ""
        try:
            obj, j = dec.raw_decode(text, i)
        except ValueError:
            return out, text[i:]
        out.append(obj)
        i = j


def replay(initial: dict[str, int], events: list[tuple[str, str, int]]) -> tuple[dict[str, int], list[str]]:
    """Apply (type, name, rv) events over name -> rv; returns the state and ordering problems."""
    state = dict(initial)
    problems = []
    last = 0
    for typ, name, rv in events:
        if rv <= last:
            problems.append(f"resourceVersion {rv} after {last} ({typ} {name})")
        last = rv
        if typ == "DELETED":
            if name not in state:
                problems.append(f"DELETED {name} that was never seen")
            state.pop(name, None)
        elif typ in ("ADDED", "MODIFIED"):
            state[name] = rv
        elif typ == "ERROR":
            problems.append(f"ERROR event: {name}")
    return state, problems


def run_load(c: cl.Cluster, ns: str, load: Load, seed: int = 7) -> LoadResult:
    raw = Raw(cl.home_for(c.name))
    core0 = c.core()
    core0.create_namespaced_config_map(ns, {"metadata": {"name": "counter"}, "data": {"n": "0"}})
    lst = core0.list_namespaced_config_map(ns)
    r0 = int(lst.metadata.resource_version)
    initial = {i.metadata.name: int(i.metadata.resource_version) for i in lst.items}
    res = LoadResult(
        load.sessions,
        0,
        load.client_counters * load.client_increments + load.kubectl_counters * load.kubectl_increments,
        0,
    )
    lock = threading.Lock()
    stop_watch = threading.Event()
    sentinel = "zz-sentinel"

    def note_err(msg: str) -> None:
        with lock:
            res.errors.append(msg)

    # -- watchers ---------------------------------------------------------------------------
    raw_events: list[list[tuple[str, str, int]]] = [[] for _ in range(load.raw_watchers)]

    def raw_watch(i: int) -> None:
        try:
            r = raw.request(
                "GET",
                f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={r0}&timeoutSeconds=120",
                stream=True,
                timeout=(5, 130),
            )
            if r.status_code != 200:
                note_err(f"watch {i}: HTTP {r.status_code} {r.text[:200]}")
                return
            for line in r.iter_lines():
                if not line:
                    continue
                ev = json.loads(line)
                md = ev["object"].get("metadata", {})
                raw_events[i].append(
                    (
                        ev["type"],
                        md.get("name", ev["object"].get("message", "")),
                        int(md.get("resourceVersion", 0) or 0),
                    )
                )
                if md.get("name") == sentinel:
                    break
            r.close()
        except Exception as e:  # noqa: BLE001
            note_err(f"watch {i}: {type(e).__name__}: {e}")

    kubectl_events: list[list[dict[str, Any]]] = [[] for _ in range(load.kubectl_watchers)]
    kubectl_ready = [threading.Event() for _ in range(load.kubectl_watchers)]
    kprocs: list[subprocess.Popen[str]] = []

    def kubectl_watch(i: int) -> None:
        import os
        import shutil
        import sys

        exe = shutil.which("kubectl", path=os.path.dirname(sys.executable)) or "kubectl"
        p = subprocess.Popen(
            [
                exe,
                "--kubeconfig",
                str(c.kubeconfig),
                "-n",
                ns,
                "get",
                "configmaps",
                "-w",
                "--output-watch-events",
                "-o",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        kprocs.append(p)
        assert p.stdout is not None
        buf = ""
        while not stop_watch.is_set():
            line = p.stdout.readline()
            if not line:
                break
            buf += line  # one compact JSON event per line (older kubectl: pretty-printed objects)
            evs, buf = _events_from_stream(buf)
            kubectl_events[i] += evs
            if len(kubectl_events[i]) >= len(initial):
                kubectl_ready[i].set()
            if any(e.get("object", {}).get("metadata", {}).get("name") == sentinel for e in evs):
                break
        p.terminate()

    # -- counters ----------------------------------------------------------------------------
    def client_counter(i: int) -> None:
        core = _core(c)
        from kubernetes.client.rest import ApiException

        done = 0
        while done < load.client_increments:
            t0 = time.perf_counter()
            try:
                cm = core.read_namespaced_config_map("counter", ns, _request_timeout=10)
                cm.data["n"] = str(int(cm.data["n"]) + 1)
                core.replace_namespaced_config_map("counter", ns, cm, _request_timeout=10)
                done += 1
            except ApiException as e:
                if e.status != 409:
                    note_err(f"counter {i}: {e.status} {e.reason}")
                    return
                with lock:
                    res.conflicts += 1
            finally:
                with lock:
                    res.client_latency_ms.append((time.perf_counter() - t0) * 1000)

    def kubectl_counter(i: int) -> None:
        done = 0
        attempts = 0
        while done < load.kubectl_increments and attempts < 200:
            attempts += 1
            t0 = time.perf_counter()
            g = c.kubectl("-n", ns, "get", "configmap", "counter", "-o", "json", timeout=60)
            if g.returncode != 0:
                note_err(f"kubectl counter {i} get: {g.stderr.strip()}")
                return
            obj = json.loads(g.stdout)
            obj["data"]["n"] = str(int(obj["data"]["n"]) + 1)
            r = c.kubectl("-n", ns, "replace", "-f", "-", input=json.dumps(obj), timeout=60)
            with lock:
                res.kubectl_latency_ms.append((time.perf_counter() - t0) * 1000)
            if r.returncode == 0:
                done += 1
            elif "the object has been modified" in r.stderr:
                with lock:
                    res.conflicts += 1
            else:
                note_err(f"kubectl counter {i} replace: {r.stderr.strip()}")
                return

    # -- writers and appliers ----------------------------------------------------------------------
    def writer(i: int) -> None:
        core = _core(c)
        rng = random.Random(seed * 100 + i)
        live: set[str] = set()
        for k in range(load.writes_each):
            t0 = time.perf_counter()
            try:
                name = f"w{i}-{rng.randrange(6)}"
                if name not in live:
                    core.create_namespaced_config_map(
                        ns, {"metadata": {"name": name}, "data": {"k": str(k)}}, _request_timeout=10
                    )
                    live.add(name)
                elif rng.random() < 0.3:
                    core.delete_namespaced_config_map(name, ns, _request_timeout=10)
                    live.discard(name)
                else:
                    core.patch_namespaced_config_map(name, ns, {"data": {"k": str(k)}}, _request_timeout=10)
                # everybody also patches one shared object (no precondition: last writer wins)
                core.patch_namespaced_config_map(
                    "counter", ns, {"metadata": {"annotations": {f"w{i}": str(k)}}}, _request_timeout=10
                )
            except Exception as e:  # noqa: BLE001
                note_err(f"writer {i}: {type(e).__name__}: {str(e)[:200]}")
                return
            finally:
                with lock:
                    res.client_latency_ms.append((time.perf_counter() - t0) * 1000)

    def applier(i: int) -> None:
        for k in range(load.applies_each):
            t0 = time.perf_counter()
            shared = (
                f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: shared-apply}}\n"
                f"data: {{from: a{i}, k{i}: '{k}'}}\n---\n"
                f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: own-{i}}}\ndata: {{k: '{k}'}}\n"
            )
            for _ in range(5):
                r = c.kubectl("-n", ns, "apply", "-f", "-", input=shared, timeout=60)
                # two first applies race to create (both saw 404): the loser gets AlreadyExists, as on
                # any cluster, and applies again
                if r.returncode == 0 or "already exists" not in r.stderr:
                    break
                with lock:
                    res.conflicts += 1
            with lock:
                res.kubectl_latency_ms.append((time.perf_counter() - t0) * 1000)
            if r.returncode != 0:
                note_err(f"applier {i}: {r.stderr.strip()}")
                return

    t_start = time.monotonic()
    watchers = [
        threading.Thread(target=raw_watch, args=(i,), daemon=True, name=f"watch{i}") for i in range(load.raw_watchers)
    ]
    watchers += [
        threading.Thread(target=kubectl_watch, args=(i,), daemon=True, name=f"kwatch{i}")
        for i in range(load.kubectl_watchers)
    ]
    for t in watchers:
        t.start()
    for ev in kubectl_ready:  # kubectl lists first: wait for its list, so the writes all come after
        if not ev.wait(30):
            res.errors.append("a kubectl watch did not print its initial list within 30s")
    work = [
        threading.Thread(target=client_counter, args=(i,), daemon=True, name=f"counter{i}")
        for i in range(load.client_counters)
    ]
    work += [
        threading.Thread(target=kubectl_counter, args=(i,), daemon=True, name=f"kcounter{i}")
        for i in range(load.kubectl_counters)
    ]
    work += [threading.Thread(target=writer, args=(i,), daemon=True, name=f"writer{i}") for i in range(load.writers)]
    work += [threading.Thread(target=applier, args=(i,), daemon=True, name=f"applier{i}") for i in range(load.appliers)]
    for t in work:
        t.start()
    for t in work:
        t.join(max(1.0, 150 - (time.monotonic() - t_start)))
    res.hung += [t.name for t in work if t.is_alive()]
    core0.create_namespaced_config_map(ns, {"metadata": {"name": sentinel}})
    t_sent = time.monotonic()
    for t in watchers:  # every watch must deliver the sentinel promptly
        t.join(max(0.1, 20 - (time.monotonic() - t_sent)))
    stop_watch.set()
    res.hung += [t.name for t in watchers if t.is_alive()]
    for p in kprocs:
        if p.poll() is None:
            p.kill()
        p.wait(5)
    res.wall_s = time.monotonic() - t_start

    final = core0.list_namespaced_config_map(ns)
    want = {i.metadata.name: int(i.metadata.resource_version) for i in final.items}
    res.counter = int(next(i for i in final.items if i.metadata.name == "counter").data["n"])
    seen_rvs = None
    for i, evs in enumerate(raw_events):
        res.watch_events += len(evs)
        got, problems = replay(initial, evs)
        res.watch_problems += [f"watch {i}: {p}" for p in problems[:5]]
        if got != want:
            diff = sorted(set(got.items()) ^ set(want.items()))[:5]
            res.watch_problems.append(f"watch {i}: replayed state differs from the final list: {diff}")
        rvs = [e[2] for e in evs]
        if seen_rvs is None:
            seen_rvs = rvs
        elif rvs != seen_rvs:
            res.watch_problems.append(f"watch {i}: saw a different sequence of events than watch 0")
    for i, objs in enumerate(kubectl_events):
        evs = [
            (o.get("type", ""), o["object"]["metadata"]["name"], int(o["object"]["metadata"]["resourceVersion"]))
            for o in objs
            if isinstance(o, dict) and "object" in o
        ]
        res.watch_events += len(evs)
        # kubectl lists first (ADDED, in name order) and watches from the list's resourceVersion;
        # no write happened before its list was printed (the writers waited for it)
        head, tail = evs[: len(initial)], evs[len(initial) :]
        listed = {n: rv for _, n, rv in head}
        if listed != initial:
            res.watch_problems.append(f"kubectl watch {i}: initial list {listed} != {initial}")
        got, problems = replay(listed, tail)
        if tail and tail[0][2] <= r0:
            problems.append(f"first watch event rv {tail[0][2]} not after the list ({r0})")
        res.watch_problems += [f"kubectl watch {i}: {p}" for p in problems[:5]]
        if got != want:
            diff = sorted(set(got.items()) ^ set(want.items()))[:5]
            res.watch_problems.append(f"kubectl watch {i}: replayed state differs from the final list: {diff}")
    return res
