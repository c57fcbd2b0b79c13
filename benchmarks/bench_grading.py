"""Grading figures: does a correct fix pass, every time, when the learner checks at once?

For every scenario, round after round: create (or reset) it, check the untouched break (must say
"Not yet"), apply the reference fix and check *immediately*, the way a learner clicks "Check my fix"
right after patching. A correct fix graded "Not yet" is a false negative: the grader read the cluster
before it had caught up (CI once saw this on solutions/03; see Snapshot.settled in kai_labs/labs/kube.py).
Several workers run at once, each with its own embedded cluster, to load the machine as a workshop does.

    .venv/bin/python benchmarks/bench_grading.py                 # 3 workers x 6 rounds x 10 scenarios
    .venv/bin/python benchmarks/bench_grading.py --workers 1 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, time
import kai_labs
from kai_labs.clusters import embedded as cluster
from kai_labs.labs import scenario as S
c = kai_labs.start()
try:
    for i in range(int(sys.argv[1])):
        for name in S.names():
            s = S.get(name)
            s.reset(c) if i else s.create(c)
            broken = s.check(c, timeout=3)
            s.solve(c, wait=False)
            t0 = time.monotonic()
            fixed = s.check(c)
            print(json.dumps({"scenario": name, "broken_passed": broken.passed, "fixed_passed": fixed.passed,
                              "seconds": time.monotonic() - t0, "attempts": fixed.attempts,
                              "failed": [r.name for r in fixed.results if not r.passed]}), flush=True)
finally:
    cluster.down("kai-labs")
"""


def worker(rounds: int, seed: str) -> subprocess.Popen[str]:
    home = tempfile.mkdtemp(prefix="kai-bench-grading-")
    env = dict(os.environ, KAI_LABS_HOME=home, KAI_LABS_SEED=seed,
               KUBECACHEDIR=os.path.join(home, "kubecache"),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("KUBECONFIG", None)
    env.pop("KAI_LABS_CLUSTER", None)
    p = subprocess.Popen([sys.executable, "-c", WORKER, str(rounds)], env=env, cwd=ROOT, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.home = home  # type: ignore[attr-defined]
    return p


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=6)
    a = ap.parse_args()
    t0 = time.monotonic()
    procs = [worker(a.rounds, str(i + 1)) for i in range(a.workers)]
    rows: list[dict] = []
    for p in procs:
        out, err = p.communicate()
        shutil.rmtree(p.home, ignore_errors=True)  # type: ignore[attr-defined]
        rows += [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
        if p.returncode != 0:
            print(f"a worker failed (exit {p.returncode}):\n{err[-2000:]}")
            return 1
    false_not_yet = [r for r in rows if not r["fixed_passed"]]
    broken_passed = [r for r in rows if r["broken_passed"]]
    secs = sorted(r["seconds"] for r in rows)
    p95 = secs[int(0.95 * (len(secs) - 1))] if secs else 0.0
    print(f"grading  workers={a.workers}  fixes_graded={len(rows)}  false_not_yet={len(false_not_yet)}  "
          f"broken_passed={len(broken_passed)}  grade_after_fix_s_p50={statistics.median(secs):.2f}  "
          f"p95={p95:.2f}  max={secs[-1]:.2f}  wall_s={time.monotonic() - t0:.0f}")
    for r in false_not_yet + broken_passed:
        print("  ", r)
    return 0 if not false_not_yet and not broken_passed else 1


if __name__ == "__main__":
    sys.exit(main())
