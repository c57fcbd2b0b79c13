"""Lifecycle figures of the embedded cluster: what `kai-labs cluster up/status/down` answer and how long they take
when the cluster is healthy, loaded (its process stopped for a few seconds) or hung (stopped for good).

Run: `.venv/bin/python benchmarks/bench_lifecycle.py`. Prints one line per figure with its target (issue 13,
item 5: running means the pid holds the home's lock; server.json is never deleted while that pid lives; status
can say "running but not answering"; down stops a hung cluster; up never leaves a hung child behind).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kai_labs.clusters import embedded as cl  # noqa: E402

KAI = [sys.executable, "-m", "kai_labs.cli"]
NAME = "bench"


def line(name: str, value: str, target: str) -> None:
    print(f"{name:<58} {value:>14}   (target {target})", flush=True)


def kai(home: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    r = subprocess.run([*KAI, *args, "--name", NAME], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, KAI_LABS_HOME=str(home)))
    return time.perf_counter() - t, r


def processes_on(home: Path) -> int:
    """Live processes whose command line names the home (the cluster process and its node processes)."""
    n = 0
    for e in os.listdir("/proc"):
        try:
            if e.isdigit() and str(home).encode() in Path(f"/proc/{e}/cmdline").read_bytes():
                stat = Path(f"/proc/{e}/stat").read_text().rsplit(")", 1)[1].split()
                n += stat[0] != "Z"
        except OSError:
            continue
    return n


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="kai-labs-bench-lifecycle-"))
    home = root / NAME
    try:
        dt, r = kai(root, "cluster", "up")
        line("cluster up (fresh home)", f"{dt:.2f} s" if r.returncode == 0 else "failed", "< 5 s")
        pid = int(json.loads((home / "server.json").read_text())["pid"])
        dt, r = kai(root, "cluster", "status")
        line("cluster status, running (CLI: Python start included)", f"{dt:.2f} s, rc {r.returncode}",
             "rc 0, < 1.5 s")
        os.environ["KAI_LABS_HOME"] = str(root)
        times = []
        for _ in range(20):
            t = time.perf_counter()
            st = cl.status(NAME)
            times.append(time.perf_counter() - t)
        line("  status() in process: lock + server.json + /readyz", f"{sorted(times)[10] * 1000:.1f} ms median",
             "< 50 ms")

        # loaded: the process stops answering for 3 s while `up` runs
        info = (home / "server.json").read_text()
        os.kill(pid, signal.SIGSTOP)
        t = time.perf_counter()
        p = subprocess.Popen([*KAI, "cluster", "up", "--name", NAME], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=dict(os.environ, KAI_LABS_HOME=str(root)))
        time.sleep(3)
        kept = (home / "server.json").exists() and (home / "server.json").read_text() == info
        procs = processes_on(home)
        os.kill(pid, signal.SIGCONT)
        out, _ = p.communicate(timeout=60)
        dt = time.perf_counter() - t
        line("up while the cluster is stopped 3 s: server.json kept", "yes" if kept else "NO", "yes")
        line("  processes on the home meanwhile (a second cluster?)", str(procs), "as before")
        line("  up's answer once it answers again", "already running" if "already running" in out else "other",
             "already running")
        line("  up's time", f"{dt:.2f} s", "3 s + one probe")

        # hung: stopped for good
        os.kill(pid, signal.SIGSTOP)
        t = time.perf_counter()
        st = cl.status(NAME)
        line("  status() in process, hung", f"{(time.perf_counter() - t):.2f} s, {st.state}",
             "the 1 s probe, not answering")
        dt, r = kai(root, "cluster", "status")
        said = "not answering" if "running but not answering" in r.stdout else r.stdout.strip()[:30]
        line("cluster status, hung (CLI)", f"{dt:.2f} s, rc {r.returncode}", "rc 3, < 2.5 s")
        line("  status says", said, "not answering")
        dt, r = kai(root, "cluster", "down", "--grace", "2")
        line("cluster down --grace 2, hung (SIGTERM, then SIGKILL)", f"{dt:.2f} s", "2 s + < 1 s")
        line("  processes left on the home", str(processes_on(home)), "0")
        dt, r = kai(root, "cluster", "up")
        line("cluster up after that", f"{dt:.2f} s" if r.returncode == 0 else "failed", "< 5 s")
        dt, r = kai(root, "cluster", "down")
        line("cluster down, healthy (SIGTERM only)", f"{dt:.2f} s", "< 3 s")
        line("  processes left on the home", str(processes_on(home)), "0")

        # a child that hangs at start and ignores SIGTERM
        site = root / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(
            "import signal, sys, time\n"
            "if 'kai_labs.sim' in getattr(sys, 'orig_argv', sys.argv):\n"
            "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "    while True:\n"
            "        time.sleep(1)\n")
        os.environ["PYTHONPATH"] = str(site)
        t = time.perf_counter()
        try:
            cl.up(NAME, timeout=3)
            answer = "started?!"
        except cl.ClusterError as e:
            answer = "stopped" if "was stopped" in str(e) else str(e)[:20]
        dt = time.perf_counter() - t
        del os.environ["PYTHONPATH"]
        line("up with a child hung at start (timeout 3 s)", f"{dt:.2f} s, {answer}", "3 s + grace 2 s")
        line("  processes left on the home", str(processes_on(home)), "0")
    finally:
        os.environ.pop("PYTHONPATH", None)
        with_home = dict(os.environ, KAI_LABS_HOME=str(root))
        subprocess.run([*KAI, "cluster", "down", "--name", NAME, "--grace", "2"], capture_output=True, env=with_home)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
