"""Workshop density on one host: how many learners, each with an embedded cluster and a kernel?

Every learner is what a workshop host runs for them (workshop/jupyterhub_config.py): a kernel (as their
JupyterLab notebook has) that has run lesson 07 top to bottom on its own embedded cluster, so the cluster
holds lesson 07's state, plus a scenario created and broken. Then:

- memory per learner (sum of PSS of the learner's kernel and cluster processes), split by part;
- idle CPU: all learners waiting, over 30 s, as a share of one core;
- grading: 10 learners press "check" at once (a correct fix just applied), several rounds: p50 and p99.

    .venv/bin/python benchmarks/bench_workshop.py --learners 40         # the issue's goal: 40, p50 < 1 s
    .venv/bin/python benchmarks/bench_workshop.py --learners 4 --rounds 2

JupyterHub's own parts (the hub and proxy, once; a JupyterLab server per learner) are measured apart: one
JupyterLab server is started and its PSS reported, since its cost is the same for every learner.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "07-debugging-a-service.ipynb"
SCENARIO = "wrong-targetport"


def line(name: str, value: str, target: str) -> None:
    print(f"{name:<66}{value:>12}   (target {target})", flush=True)


def children(pid: int) -> list[int]:
    out = [pid]
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out += children(int(p.name))
    return out


def pss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    return sum(int(ln.split()[1]) for ln in text.splitlines() if ln.startswith("Pss:")) / 1024


def cpu_seconds(pid: int) -> float:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


class Learner:
    def __init__(self, n: int, root: Path) -> None:
        self.name = f"learner{n:02d}"
        self.home = root / self.name
        self.home.mkdir(mode=0o700)
        env = dict(os.environ, KAI_LABS_HOME=str(self.home), KAI_LABS_SEED="1",
                   PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
        env.pop("KUBECONFIG", None)
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=str(LESSON.parent))
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 300) -> str:
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append(f"ERROR {msg['content']['ename']}: {msg['content']['evalue']}")

        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{self.name}: {''.join(out)[-1000:]}")
        return "".join(out)

    def kernel_pid(self) -> int:
        return int(self.km.provisioner.process.pid)  # type: ignore[union-attr]

    def cluster_pid(self) -> int:
        return int(json.loads((self.home / "kai-labs" / "server.json").read_text())["pid"])

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.run("from kai_labs.clusters import embedded; embedded.down('kai-labs')", timeout=60)
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def prepare(learner: Learner) -> None:
    nb = json.loads(LESSON.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            learner.run("".join(cell["source"]))
    learner.run(f"from kai_labs import scenarios as _S\n_s = _S.get({SCENARIO!r})\n_s.create(c)\n")


def grade_once(learner: Learner) -> float:
    """A correct fix applied, then "check" pressed at once: the seconds the learner waits."""
    out = learner.run("import time as _t\n_s.reset(c)\n_s.solve(c, wait=False)\n_t0 = _t.monotonic()\n"
                      "_g = _s.check(c)\nprint(_t.monotonic() - _t0, _g.passed)")
    seconds, passed = out.split()[-2:]
    if passed != "True":
        raise RuntimeError(f"{learner.name}: a correct fix was graded Not yet")
    return float(seconds)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--learners", type=int, default=40)
    p.add_argument("--graders", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kai-labs-workshop-bench-"))
    learners: list[Learner] = []
    try:
        t = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            learners = list(pool.map(lambda n: Learner(n, root), range(a.learners)))
            list(pool.map(prepare, learners))
        line(f"{a.learners} learners: kernel up, lesson 07 run, a scenario created", f"{time.perf_counter() - t:.0f} s",
             "reference")
        time.sleep(5)
        kernels = [pss_mb(x.kernel_pid()) for x in learners]
        clusters = []
        cps = []
        for x in learners:
            procs = children(x.cluster_pid())
            cps.append(pss_mb(procs[0]))
            clusters.append(sum(pss_mb(q) for q in procs))
        per = [k + c for k, c in zip(kernels, clusters, strict=True)]
        line("memory per learner (kernel + cluster), sum of PSS, median", f"{statistics.median(per):.0f} MB",
             "reference")
        line("  of which the kernel", f"{statistics.median(kernels):.0f} MB", "reference")
        line("  of which the cluster's control plane", f"{statistics.median(cps):.0f} MB", "reference")
        nodes = statistics.median(clusters) - statistics.median(cps)
        line("  of which its node processes and zygote", f"{nodes:.0f} MB", "reference")
        line(f"memory for {a.learners} learners", f"{sum(per) / 1024:.1f} GB", "< 24 GB host")

        every = [q for x in learners for q in [x.kernel_pid(), *children(x.cluster_pid())]]
        before = sum(cpu_seconds(q) for q in every)
        time.sleep(30)
        idle = (sum(cpu_seconds(q) for q in every) - before) / 30
        line(f"idle CPU, {a.learners} learners waiting", f"{idle * 100:.0f} % of a core", "< 200 % (2 cores)")
        line("  per learner", f"{idle / a.learners * 100:.1f} % of a core", "reference")

        waits: list[float] = []
        graders = learners[: a.graders]
        for _ in range(a.rounds):
            with concurrent.futures.ThreadPoolExecutor(len(graders)) as pool:
                waits += list(pool.map(grade_once, graders))
        waits.sort()
        p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
        line(f"grading, {len(graders)} learners at once x {a.rounds}: p50", f"{statistics.median(waits):.2f} s",
             "< 1 s")
        line("  p99", f"{p99:.2f} s", "reference")

        line("one learner's JupyterLab server (as jupyterhub-singleuser runs it), PSS", f"{server_pss():.0f} MB",
             "reference")
    finally:
        for x in learners:
            x.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


def server_pss() -> float:
    """A JupyterLab server alone (jupyterhub-singleuser is this server plus the hub's login), once it serves."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser", "--allow-root",
                             f"--port={port}", "--ServerApp.token=bench"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(10)
        return pss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
