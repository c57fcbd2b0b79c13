"""Hostile learner programs against the API's latency (run: `make bench`, or alone:
`.venv/bin/python benchmarks/bench_hostile.py [--duration 15] [--only NAME]`).

For each program of issue #13 (``printf hello world``, ``seq 300000000`` as a container and through
``kubectl exec``, ``printf '%1500000000s' x``, ``x=a; while true; do x=$x$x; done``, and a
``while true; do :; done`` busy loop), in a fresh embedded cluster: the program runs in a busybox Pod
with no resources set (kai-labs' default memory limit applies) while 20 writers patch their own
ConfigMap as fast as the API answers, for ``--duration`` seconds. Prints, one line per figure with its
target (issue #13, a 2-core machine): the writers' API latency p50 / p99 / max, and what became of the
offending container (its last termination's reason and exit code, its restarts; for the exec, what
kubectl printed), and the node processes' peak RSS.

A run without any hostile program comes first, as the reference. The writers run in their own process
(``--role writers``) so their CPU is not the server's; they share the machine's cores with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_cluster import tree  # noqa: E402 (the cluster process and its node processes)

from kai_labs.clusters import embedded as cl  # noqa: E402

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"
NS = "hostile"
WRITERS = 20

# name: (the Pod's command, or None for the reference run; an exec to run in a `sleep` Pod instead)
CASES: dict[str, tuple[list[str] | None, list[str] | None]] = {
    "none (reference)": (None, None),
    "printf hello world": (["printf", "hello", "world"], None),
    "seq 300000000": (["seq", "300000000"], None),
    "kubectl exec -- seq 300000000": (["sleep", "3600"], ["seq", "300000000"]),
    "printf '%1500000000s' x": (["printf", "%1500000000s", "x"], None),
    "x=$x$x until the limit": (["sh", "-c", "x=a; while true; do x=$x$x; done"], None),
    "while true; do :; done": (["sh", "-c", "while true; do :; done"], None),
}


def line(name: str, value: str, target: str) -> None:
    print(f"{name:<58} {value:>22}   (target {target})", flush=True)


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# -- the writers (run as a subprocess) -------------------------------------------------------------
async def run_writers(home: Path, port: int, duration: float) -> dict[str, Any]:
    import aiohttp

    base = f"https://127.0.0.1:{port}"
    ctx = ssl.create_default_context(cafile=str(home / "ca.crt"))
    headers = {"Authorization": "Bearer " + (home / "token").read_text().strip(),
               "Content-Type": "application/merge-patch+json"}
    lat: list[float] = []
    errors = 0
    stop_at = time.time() + duration

    async def writer(s: aiohttp.ClientSession, i: int) -> None:
        nonlocal errors
        url = f"{base}/api/v1/namespaces/{NS}/configmaps/w{i}"
        n = 0
        while time.time() < stop_at:
            n += 1
            t = time.perf_counter()
            try:
                async with s.patch(url, data=json.dumps({"data": {"n": str(n)}}), headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=30)) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
            except (aiohttp.ClientError, asyncio.TimeoutError):
                errors += 1
            lat.append(time.perf_counter() - t)

    conn = aiohttp.TCPConnector(ssl=ctx, limit=0)
    async with aiohttp.ClientSession(connector=conn) as s:
        await asyncio.gather(*(writer(s, i) for i in range(WRITERS)))
    return {"writes": len(lat), "errors": errors, "p50": pct(lat, 50), "p99": pct(lat, 99),
            "max": max(lat, default=float("nan"))}


# -- the driver ------------------------------------------------------------------------------------
def kubectl(kc: Path, *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBECTL, "--kubeconfig", str(kc), *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def fate(kc: Path) -> str:
    r = kubectl(kc, "-n", NS, "get", "pod", "victim", "-o", "json", "--request-timeout=10s")
    if r.returncode:
        return f"? ({r.stderr.strip()[:60]})"
    st = (json.loads(r.stdout).get("status", {}).get("containerStatuses") or [{}])[0]
    term = (st.get("lastState") or {}).get("terminated") or (st.get("state") or {}).get("terminated")
    now = next(iter(st.get("state") or {"?": {}}))
    ended = f"{term['reason']} {term['exitCode']}" if term else "never ended"
    return f"{ended}, {st.get('restartCount', 0)} restarts, {now} now"


def one(name: str, command: list[str] | None, exec_argv: list[str] | None, duration: float, n: int) -> None:
    c = cl.start(f"h{n}", seed=1, set_env=False)
    st = cl.status(f"h{n}")
    assert st.pid and st.port
    kc = c.kubeconfig
    try:
        kubectl(kc, "create", "namespace", NS)
        cms = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: w{i}}}\ndata: {{n: '0'}}\n"
                      for i in range(WRITERS))
        kubectl(kc, "-n", NS, "apply", "-f", "-", stdin=cms)
        exec_proc: subprocess.Popen[bytes] | None = None
        if command is not None:
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "victim"},
                   "spec": {"containers": [{"name": "main", "image": "busybox", "command": command}]}}
            kubectl(kc, "-n", NS, "apply", "-f", "-", stdin=json.dumps(pod))
            deadline = time.time() + 30
            while time.time() < deadline and "Running" not in kubectl(kc, "-n", NS, "get", "pod", "victim").stdout \
                    and exec_argv is not None:
                time.sleep(0.2)
            if exec_argv is not None:
                exec_proc = subprocess.Popen([KUBECTL, "--kubeconfig", str(kc), "-n", NS, "exec", "victim", "--",
                                              *exec_argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        me = [sys.executable, __file__, "--role", "writers", "--home", str(st.home), "--port", str(st.port),
              "--duration", str(duration)]
        writers = subprocess.Popen(me, stdout=subprocess.PIPE, text=True)
        peak_node = 0.0
        while writers.poll() is None:
            peak_node = max(peak_node, max((rss_mb(p) for p in tree(st.pid)[1:]), default=0.0))
            time.sleep(0.5)
        res = json.loads(writers.communicate()[0].strip().splitlines()[-1])
        print(name, flush=True)
        line("  API writes (20 writers)", f"{res['writes']} ({res['writes'] / duration:.0f}/s), "
                                          f"{res['errors']} errors", "0 errors")
        line("  API latency p50 / p99 / max", f"{res['p50'] * 1000:.0f} / {res['p99'] * 1000:.0f} / "
                                             f"{res['max'] * 1000:.0f} ms", "p99 < 100 ms")
        if command is not None:
            line("  the container", fate(kc), "OOMKilled or limited")
        if exec_proc is not None:
            if exec_proc.poll() is None:
                exec_proc.kill()
                outcome = "still streaming (killed after the run)"
            else:
                err = (exec_proc.communicate()[1] or b"").decode(errors="replace").strip()
                outcome = f"exit {exec_proc.returncode}" + (f": {err[-48:]}" if err else "")
            line("  kubectl exec", outcome, "streams, or 137")
        line("  node processes' peak RSS (largest)", f"{peak_node:.0f} MB", "reference")
        line("  control plane RSS", f"{rss_mb(st.pid):.0f} MB", "reference")
    finally:
        cl.down(f"h{n}")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--only", help="run only the case whose name contains this")
    p.add_argument("--role", choices=["writers"])
    p.add_argument("--home")
    p.add_argument("--port", type=int)
    a = p.parse_args()
    if a.role:
        print(json.dumps(asyncio.run(run_writers(Path(a.home), a.port, a.duration))), flush=True)
        return 0

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` ends us: still stop our clusters
    root = Path(tempfile.mkdtemp(prefix="kai-labs-bench-"))
    os.environ["KAI_LABS_HOME"] = str(root)
    try:
        for n, (name, (command, exec_argv)) in enumerate(CASES.items()):
            if a.only and a.only not in name:
                continue
            one(name, command, exec_argv, a.duration, n)
    finally:
        for d in root.iterdir() if root.exists() else []:
            cl.down(d.name)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
