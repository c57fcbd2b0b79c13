"""Watch fan-out and connection-flood figures of the embedded cluster (run: `make bench`, or alone:
`.venv/bin/python benchmarks/bench_watch.py [--duration 60]`).

One fresh cluster in a temporary home. Prints one line per figure with its target (those of issue #13
on a 2-core machine):

- 50 watchers (45 that keep up, 5 that barely read) on one namespace's ConfigMaps while 20 writers
  patch their own ConfigMap as fast as the API answers, for ``--duration`` seconds: watch lag
  (write sent -> event read) p50/p99/max, the writers' API latency, the cluster's RSS before, during
  and after the watchers disconnect, and how many watches the server closed for falling behind
  (kube-apiserver's cacheWatcher closes them; the client lists and watches again). Before the
  watchers come, ``--warmup`` seconds of the same writes run alone, so the RSS they add is told
  apart from what writes alone cost; the target is against the fresh cluster's RSS.
- A flood of TLS connections that never finish their handshake (some send nothing, some half a
  ClientHello): how many the server closes and when, RSS before and after, and how long
  ``kubectl get --raw /version`` takes meanwhile.

Watchers and writers run in their own processes (``--role``), so the clients' own CPU does not
count as the server's lag; they still share the machine's cores with the cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kai_labs.clusters import embedded as cl  # noqa: E402

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"
NS = "watch"
WRITERS = 20
WATCHERS = 50
SLOW = 5


def line(name: str, value: str, target: str) -> None:
    print(f"{name:<58} {value:>16}   (target {target})", flush=True)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the clients (run as subprocesses) ---------------------------------------------------------------
class Api:
    def __init__(self, home: Path, port: int) -> None:
        self.base = f"https://127.0.0.1:{port}"
        self.port = port
        self.ctx = ssl.create_default_context(cafile=str(home / "ca.crt"))
        self.headers = {"Authorization": "Bearer " + (home / "token").read_text().strip()}


async def run_writers(api: Api, duration: float) -> dict[str, Any]:
    import aiohttp

    lat: list[float] = []
    errors = 0
    stop_at = time.time() + duration

    async def writer(s: aiohttp.ClientSession, i: int) -> None:
        nonlocal errors
        url = f"{api.base}/api/v1/namespaces/{NS}/configmaps/w{i}"
        n = 0
        done = False
        while not done:
            done = time.time() >= stop_at
            n += 1
            body = json.dumps({"data": {"t": repr(time.time()), "n": str(n), "done": "1" if done else "0"}})
            t = time.perf_counter()
            async with s.patch(url, data=body, headers={**api.headers,
                               "Content-Type": "application/merge-patch+json"}) as r:
                await r.read()
                if r.status != 200:
                    errors += 1
            lat.append(time.perf_counter() - t)

    conn = aiohttp.TCPConnector(ssl=api.ctx, limit=0)
    async with aiohttp.ClientSession(connector=conn) as s:
        await asyncio.gather(*(writer(s, i) for i in range(WRITERS)))
    return {"writes": len(lat), "errors": errors, "p50": pct(lat, 50), "p99": pct(lat, 99), "max": max(lat)}


def slow_watch(api: Api, stop: threading.Event, out: dict[str, int]) -> None:
    """A watcher that barely reads (a small receive buffer, 512 bytes every 100 ms), and lists and
    watches again whenever the server ends its watch, as a reflector does."""
    ctx = api.ctx
    while not stop.is_set():
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            raw.connect(("127.0.0.1", api.port))
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            req = (f"GET /api/v1/namespaces/{NS}/configmaps?watch=true&timeoutSeconds=600 HTTP/1.1\r\n"
                   f"Host: 127.0.0.1\r\nAuthorization: {api.headers['Authorization']}\r\n\r\n")
            s.sendall(req.encode())
            s.settimeout(1.0)
            while not stop.is_set():
                try:
                    chunk = s.recv(512)
                except TimeoutError:
                    continue
                if not chunk:
                    out["closed_by_server"] += 1
                    break
                time.sleep(0.1)
        except (OSError, ssl.SSLError):
            out["closed_by_server"] += 1
        finally:
            raw.close()


async def run_watchers(api: Api) -> dict[str, Any]:
    import aiohttp

    lags: list[float] = []
    relists = 0
    done_seen: list[set[str]] = [set() for _ in range(WATCHERS - SLOW)]
    stop = asyncio.Event()
    ready = 0
    loop = asyncio.get_running_loop()
    threading.Thread(target=lambda: (sys.stdin.readline(), loop.call_soon_threadsafe(stop.set)),
                     daemon=True).start()
    drained_at: list[float] = []

    async def watcher(s: aiohttp.ClientSession, i_w: int) -> None:
        nonlocal relists, ready
        first = True
        url = f"{api.base}/api/v1/namespaces/{NS}/configmaps"
        while not stop.is_set():
            async with s.get(url, headers=api.headers) as r:
                rv = (await r.json())["metadata"]["resourceVersion"]
            async with s.get(url, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "600"},
                             headers=api.headers, timeout=aiohttp.ClientTimeout(total=None)) as r:
                if first:
                    ready += 1
                    first = False
                stop_task = asyncio.ensure_future(stop.wait())
                buf = b""
                try:
                    while True:
                        read = asyncio.ensure_future(r.content.readany())
                        await asyncio.wait({read, stop_task}, return_when=asyncio.FIRST_COMPLETED)
                        if not read.done():
                            read.cancel()
                            return
                        chunk = read.result()
                        if not chunk:
                            break
                        now = time.time()
                        *frames, buf = (buf + chunk).split(b"\n")
                        for fr in frames:  # the fields by search: json.loads here would be the bottleneck
                            i = fr.find(b'"t":"')
                            if i >= 0:
                                lags.append(now - float(fr[i + 5:fr.index(b'"', i + 5)]))
                            if b'"done":"1"' in fr:
                                k = fr.index(b'"name":"') + 8
                                done_seen[i_w].add(fr[k:fr.index(b'"', k)].decode())
                                if all(len(d) == WRITERS for d in done_seen) and not drained_at:
                                    drained_at.append(now)
                finally:
                    stop_task.cancel()
            if not stop.is_set():
                relists += 1  # the server ended the watch early: list and watch again

    slow_out = {"closed_by_server": 0}
    tstop = threading.Event()
    threads = [threading.Thread(target=slow_watch, args=(api, tstop, slow_out), daemon=True) for _ in range(SLOW)]
    for t in threads:
        t.start()
    conn = aiohttp.TCPConnector(ssl=api.ctx, limit=0)
    async with aiohttp.ClientSession(connector=conn) as s:
        tasks = [asyncio.ensure_future(watcher(s, i)) for i in range(WATCHERS - SLOW)]
        while ready < WATCHERS - SLOW:
            await asyncio.sleep(0.05)
        print("ready", flush=True)
        await stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
    tstop.set()
    return {"events": len(lags), "p50": pct(lags, 50), "p99": pct(lags, 99), "max": max(lags, default=0.0),
            "relists": relists, "slow_closed": slow_out["closed_by_server"],
            "drained_at": drained_at[0] if drained_at else None}


# -- the TLS flood ---------------------------------------------------------------------------------
PARTIAL_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03])  # a record of 512 bytes


def kubectl_ms(kubeconfig: Path) -> float:
    t = time.perf_counter()
    subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), "get", "--raw", "/version"], check=True,
                   capture_output=True, timeout=60)
    return (time.perf_counter() - t) * 1000


def flood(port: int, pid: int, kubeconfig: Path, silent: int, partial: int) -> None:
    raise_nofile()
    before = rss_mb(pid)
    base = statistics.median(kubectl_ms(kubeconfig) for _ in range(3))
    socks: list[socket.socket] = []
    t0 = time.time()
    for i in range(silent + partial):
        s = socket.socket()
        s.connect(("127.0.0.1", port))
        if i >= silent:
            s.sendall(PARTIAL_HELLO)
        s.setblocking(False)
        socks.append(s)
    opened = time.time() - t0
    during = [kubectl_ms(kubeconfig) for _ in range(5)]
    peak = rss_mb(pid)
    closed_at: dict[int, float] = {}
    deadline = time.time() + 30
    while len(closed_at) < len(socks) and time.time() < deadline:
        for i, s in enumerate(socks):
            if i in closed_at:
                continue
            try:
                if s.recv(4096) == b"":
                    closed_at[i] = time.time() - t0
            except BlockingIOError:
                pass
            except OSError:
                closed_at[i] = time.time() - t0
        time.sleep(0.2)
    for s in socks:
        s.close()
    time.sleep(2)
    after = rss_mb(pid)
    n = len(socks)
    line(f"TLS flood: {silent} silent + {partial} half-ClientHello connections", f"opened in {opened:.1f} s",
         "reference")
    line("  closed by the server", f"{len(closed_at)}/{n}", f"{n}/{n}")
    if closed_at:
        line("  closed after (median / last)", f"{statistics.median(closed_at.values()):.1f} / "
             f"{max(closed_at.values()):.1f} s", "a few seconds")
    line("  kubectl get --raw /version during the flood (median)", f"{statistics.median(during):.0f} ms",
         f"< {max(1000, 3 * base):.0f} ms (idle {base:.0f} ms)")
    line("  cluster RSS before / at the peak / after", f"{before:.0f} / {peak:.0f} / {after:.0f} MB",
         f"after within 20 MB of {before:.0f}")


# -- the driver ------------------------------------------------------------------------------------
def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--role", choices=["watchers", "writers"])
    p.add_argument("--home")
    p.add_argument("--port", type=int)
    p.add_argument("--silent", type=int, default=3000)
    p.add_argument("--partial", type=int, default=1000)
    p.add_argument("--warmup", type=float, default=20.0, help="seconds of writes alone before the watchers")
    a = p.parse_args()
    if a.role:
        raise_nofile()
        api = Api(Path(a.home), a.port)
        res = asyncio.run(run_writers(api, a.duration) if a.role == "writers" else run_watchers(api))
        print(json.dumps(res), flush=True)
        return 0

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` ends us: still stop our cluster
    root = Path(tempfile.mkdtemp(prefix="kai-labs-bench-"))
    os.environ["KAI_LABS_HOME"] = str(root)
    procs: list[subprocess.Popen[str]] = []
    try:
        c = cl.start("bench", seed=1, set_env=False)
        st = cl.status("bench")
        assert st.pid and st.port
        pid, port, home = st.pid, st.port, st.home
        cms = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: w{i}}}\ndata: {{n: '0'}}\n"
                      for i in range(WRITERS))
        subprocess.run([KUBECTL, "--kubeconfig", str(c.kubeconfig), "create", "namespace", NS], check=True,
                       capture_output=True)
        subprocess.run([KUBECTL, "--kubeconfig", str(c.kubeconfig), "-n", NS, "apply", "-f", "-"], input=cms,
                       text=True, check=True, capture_output=True)
        time.sleep(3)
        fresh = rss_mb(pid)
        me = [sys.executable, __file__, "--home", str(home), "--port", str(port)]
        # writes alone first: the store's event history (5,000 events) and its caches fill up, as in any
        # cluster that has run a while; what the watchers cost is measured from there
        subprocess.run([*me, "--role", "writers", "--duration", str(a.warmup)], check=True, capture_output=True)
        time.sleep(3)
        start = rss_mb(pid)
        watchers = subprocess.Popen([*me, "--role", "watchers"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True)
        procs.append(watchers)
        assert watchers.stdout is not None and watchers.stdin is not None
        assert watchers.stdout.readline().strip() == "ready"
        with_watchers = rss_mb(pid)
        writers = subprocess.Popen([*me, "--role", "writers", "--duration", str(a.duration)],
                                   stdout=subprocess.PIPE, text=True)
        procs.append(writers)
        samples = []
        cpu0 = {n: cpu_s(q) for n, q in (("cluster", pid), ("watchers", watchers.pid), ("writers", writers.pid))}
        t_cpu = time.time()
        while writers.poll() is None:
            cpu1 = {n: cpu_s(q) for n, q in (("cluster", pid), ("watchers", watchers.pid), ("writers", writers.pid))}
            samples.append(rss_mb(pid))
            time.sleep(0.5)
        stopped = time.time()
        busy = {n: (cpu1[n] - cpu0[n]) / (stopped - t_cpu) for n in cpu0}
        wres = json.loads(writers.communicate()[0].strip().splitlines()[-1])
        time.sleep(5)  # the watchers drain what is still on its way
        watchers.stdin.write("stop\n")
        watchers.stdin.flush()
        wout = watchers.communicate(timeout=120)[0]
        res = json.loads(wout.strip().splitlines()[-1])
        time.sleep(5)
        after = rss_mb(pid)
        log = (home / "cluster.log").read_text(errors="replace") if (home / "cluster.log").exists() else ""
        closed_logged = log.count("fell behind") + log.count("unresponsive")

        rate = wres["writes"] / a.duration
        line(f"{WATCHERS} watchers ({SLOW} slow) + {WRITERS} writers, {a.duration:.0f} s: writes",
             f"{wres['writes']} ({rate:.0f}/s)", "reference")
        line("  watch events read by the 45 watchers that keep up", f"{res['events']}",
             f"{(WATCHERS - SLOW) * wres['writes']}")
        line("  watch lag p50 / p99 / max", f"{res['p50'] * 1000:.0f} / {res['p99'] * 1000:.0f} / "
             f"{res['max'] * 1000:.0f} ms", "p99 < 1000 ms")
        drain = "not drained" if res["drained_at"] is None else f"{max(0.0, res['drained_at'] - stopped):.1f} s"
        line("  last event delivered after the writers stopped", drain, "< 1 s")
        line("  writers' API latency p50 / p99 / max", f"{wres['p50'] * 1000:.0f} / {wres['p99'] * 1000:.0f} / "
             f"{wres['max'] * 1000:.0f} ms", "p99 < 100 ms")
        line("  write errors", str(wres["errors"]), "0")
        line("  watches the keeping-up watchers had to restart", str(res["relists"]), "0")
        line("  slow watches closed by the server (client side / log)", f"{res['slow_closed']} / {closed_logged}",
             "> 0")
        line(f"  cluster RSS: fresh / after {a.warmup:.0f} s of writes alone", f"{fresh:.0f} / {start:.0f} MB",
             "reference")
        line("  cluster RSS: with watchers / peak during / after they left",
             f"{with_watchers:.0f} / {max(samples, default=0):.0f} / {after:.0f} MB",
             f"after within 20 MB of {fresh:.0f}")
        line("  CPU while writing: cluster / watchers / writers (cores)",
             f"{busy['cluster']:.2f} / {busy['watchers']:.2f} / {busy['writers']:.2f}", f"of {os.cpu_count()}")
        flood(port, pid, c.kubeconfig, a.silent, a.partial)
        cl.down("bench")
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
        for d in root.iterdir() if root.exists() else []:
            cl.down(d.name)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
