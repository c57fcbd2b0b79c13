"""Storage that recovers: the cluster's disk fills up with writers running, then is freed.

    sudo .venv/bin/python benchmarks/bench_storage.py              # 8 writers, 6 s of full disk
    sudo .venv/bin/python benchmarks/bench_storage.py --writers 20

The disk is a small tmpfs holding the cluster's home (mounting one needs root, as CI runs; elsewhere the
script says so and stops). Writers create ConfigMaps over HTTPS as fast as the API answers, a watcher
follows them, a file takes every free byte, then is deleted. Every write's answer is recorded:
acknowledged (201), refused (any error Status), unanswered (no answer in 10 s). Then the cluster is
listed, stopped and started again, and listed once more.

One printed line per figure, with its target (issue #13, "Disk full then freed"):
writes work again (and after how long once space is freed), acknowledged writes lost (0: not in the list
or missing after the restart), refused writes visible (0: in the list, in the watch, or after the restart).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kai_labs.clusters import embedded as cl  # noqa: E402
from tests.helpers import fill  # noqa: E402  (the tests' full-disk filler)

NS = "default"
PATH = f"/api/v1/namespaces/{NS}/configmaps"
FULL = "the cluster's disk is full: free space in "


def line(name: str, value: str, target: str) -> None:
    print(f"{name:<58} {value:>18}   (target {target})", flush=True)


class Api:
    """HTTPS with the cluster's token and CA; one keep-alive connection per caller."""

    def __init__(self, home: Path) -> None:
        self.port = int(json.loads((home / "server.json").read_text())["port"])
        self.token = (home / "token").read_text().strip()
        self.ctx = ssl.create_default_context(cafile=str(home / "ca.crt"))

    def conn(self, timeout: float = 10.0) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)

    def call(self, c: http.client.HTTPSConnection, method: str, path: str, body: object = None,
             auth: bool = True) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        c.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        r = c.getresponse()
        return r.status, r.read()

    def get(self, path: str, auth: bool = True) -> tuple[int, bytes]:
        c = self.conn()
        try:
            return self.call(c, "GET", path, auth=auth)
        finally:
            c.close()

    def names(self) -> set[str] | str:
        """The ConfigMaps' names, or why the list failed."""
        code, body = self.get(PATH)
        if code != 200:
            return f"{code} {body[:160].decode(errors='replace')}"
        return {o["metadata"]["name"] for o in json.loads(body)["items"]}


@dataclass
class Writes:
    acked: dict[str, float] = field(default_factory=dict)  # name -> when the answer came
    refused: dict[str, str] = field(default_factory=dict)  # name -> the Status message
    unanswered: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def writer(api: Api, wid: int, payload: str, w: Writes, stop: threading.Event) -> None:
    c = api.conn()
    i = 0
    while not stop.is_set():
        name = f"w{wid}-{i}"
        i += 1
        try:
            code, body = api.call(c, "POST", PATH, {"apiVersion": "v1", "kind": "ConfigMap",
                                                    "metadata": {"name": name}, "data": {"k": payload}})
        except (OSError, http.client.HTTPException):
            with w.lock:
                w.unanswered.add(name)
            c.close()
            c = api.conn()
            continue
        with w.lock:
            if code == 201:
                w.acked[name] = time.monotonic()
            else:
                try:
                    w.refused[name] = str(json.loads(body).get("message", ""))
                except ValueError:
                    w.refused[name] = body[:200].decode(errors="replace")
        if code != 201:
            time.sleep(0.01)  # a refused client retries soon, not in a hot loop
    c.close()


def watcher(api: Api, seen: set[str], stop: threading.Event) -> None:
    """Every name the watch reports; re-watches from the last resourceVersion when a stream ends."""
    rv = ""
    while not stop.is_set():
        c = api.conn(timeout=5)
        try:
            c.request("GET", f"{PATH}?watch=true&timeoutSeconds=60&allowWatchBookmarks=false"
                      + (f"&resourceVersion={rv}" if rv else ""),
                      headers={"Authorization": f"Bearer {api.token}"})
            r = c.getresponse()
            if r.status != 200:
                rv = ""
                time.sleep(0.1)
                continue
            while not stop.is_set():
                try:
                    ln = r.readline()
                except TimeoutError:
                    continue
                if not ln:
                    break
                ev = json.loads(ln)
                obj = ev["object"]
                if ev["type"] == "ERROR":  # 410 Gone: start over
                    rv = ""
                    break
                seen.add(obj["metadata"]["name"])
                rv = obj["metadata"].get("resourceVersion", rv)
        except (OSError, http.client.HTTPException, ValueError):
            time.sleep(0.1)
        finally:
            c.close()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--full-seconds", type=float, default=6.0)
    p.add_argument("--size-mb", type=int, default=64, help="the tmpfs holding the cluster's home")
    p.add_argument("--payload-kb", type=int, default=16)
    a = p.parse_args()
    if os.geteuid() != 0 or not shutil.which("mount"):
        print("bench_storage: skipped, a real full disk needs a tmpfs mount: run as root", file=sys.stderr)
        return 0
    root = Path(tempfile.mkdtemp(prefix="kai-labs-bench-storage-"))
    disk = root / "disk"
    disk.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={a.size_mb}m,mode=0700", "tmpfs", str(disk)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"bench_storage: cannot mount a tmpfs: {r.stderr.strip()}", file=sys.stderr)
        return 2
    os.environ["KAI_LABS_HOME"] = str(disk)
    name = "store"
    try:
        st = cl.up(name, seed=1)
        home = st.home
        api = Api(home)
        w = Writes()
        seen: set[str] = set()
        stop_watch, stop_writers = threading.Event(), threading.Event()
        threading.Thread(target=watcher, args=(api, seen, stop_watch), daemon=True).start()
        time.sleep(0.3)
        payload = "v" * (a.payload_kb * 1024)
        threads = [threading.Thread(target=writer, args=(api, i, payload, w, stop_writers), daemon=True)
                   for i in range(a.writers)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        filler = fill(disk)
        t_full = time.monotonic()
        first_refusal = None
        while time.monotonic() - t_full < a.full_seconds:
            if first_refusal is None and w.refused:
                first_refusal = time.monotonic() - t_full
            time.sleep(0.01)
        code_full, body_full = api.get("/healthz", auth=False)
        with w.lock:
            acked_before_free = len(w.acked)
        filler.unlink()
        t_free = time.monotonic()
        again = None
        while time.monotonic() - t_free < 20:
            with w.lock:
                after = [t for t in w.acked.values() if t > t_free]
            if after:
                again = min(after) - t_free
                break
            time.sleep(0.005)
        time.sleep(2.0)
        stop_writers.set()
        for t in threads:
            t.join(15)
        healthz_after = None
        for _ in range(50):  # the probe runs at most once a second
            healthz_after = api.get("/healthz", auth=False)
            if healthz_after == (200, b"ok"):
                break
            time.sleep(0.1)
        time.sleep(1.0)  # the watcher catches up
        stop_watch.set()
        listed = api.names()
        cl.down(name)
        restarted: set[str] | str
        try:
            cl.up(name, seed=1)
            restarted = Api(home).names()
        except cl.ClusterError as e:
            restarted = f"does not start: {str(e).splitlines()[0]}"
        cl.down(name)

        acked, refused = set(w.acked), set(w.refused)
        full_status = sum(1 for m in w.refused.values() if m == FULL + str(home))
        present = [x for x in (listed, restarted) if isinstance(x, set)]
        lost = acked - set.intersection(*present) if present else acked
        visible = refused & set.union(seen, *present)
        line(f"writers x ConfigMaps of {a.payload_kb} KiB on a {a.size_mb} MB tmpfs", f"{a.writers}", "reference")
        line("writes acknowledged / refused / unanswered", f"{len(acked)} / {len(refused)} / {len(w.unanswered)}",
             "refusals while full, none unanswered")
        while_full = acked_before_free - len([t for t in w.acked.values() if t <= t_full])
        line("  acknowledged while the disk was full", str(while_full), "reference (WAL space left)")
        line("disk filled -> first write refused", "never" if first_refusal is None else f"{first_refusal:.2f} s",
             "reference")
        line("  refusals that were the disk-full Status", f"{full_status} of {len(refused)}", "all")
        ok_full = code_full == 500 and b"[-]etcd failed: reason withheld" in body_full
        line("/healthz while the disk is full", f"{code_full} {'[-]etcd failed' if ok_full else body_full[:30]!r}",
             "500 [-]etcd failed")
        line("writes work again once space is freed", "no" if again is None else f"yes, after {again:.3f} s",
             "yes, no restart")
        ok_after = healthz_after == (200, b"ok")
        line("/healthz once space is freed", "ok" if ok_after else repr(healthz_after)[:60], "ok")
        for what, got in (("list once space is freed", listed), ("list after a restart", restarted)):
            line(what, "ok" if isinstance(got, set) else got[:60], "ok")
        line("acknowledged writes lost (list, restart)", str(len(lost)), "0")
        line("refused writes visible (list, watch, restart)", str(len(visible)), "0")
        if lost or visible:
            print("  lost:", sorted(lost)[:10], " visible:", sorted(visible)[:10])
    finally:
        with_home = disk / name
        if (with_home / "server.json").exists():
            cl.down(name)
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
