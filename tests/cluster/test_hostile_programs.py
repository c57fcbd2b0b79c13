"""Hostile learner programs against the real kubectl: each runs in a busybox Deployment while the API keeps
answering, and ends as a real container would (OOMKilled 137 with restarts and back-off, or just running,
limited). ``kubectl exec`` over the container's memory limit is killed with 137 and takes the container along
(the kubelet's memory.oom.group)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.helpers import eventually

pytestmark = pytest.mark.cluster

HOSTILE = {
    # name: (command, memory limit or None)
    "printf-args": (["printf", "hello", "world"], None),
    "seq": (["seq", "300000000"], None),
    "printf-width": (["printf", "%1500000000s", "x"], None),
    "doubling": (["sh", "-c", "x=a; while true; do x=$x$x; done"], "32Mi"),
    "doubling-default": (["sh", "-c", "x=a; while true; do x=$x$x; done"], None),
    "spin": (["sh", "-c", "while true; do :; done"], None),
}


def deployment(name: str, command: list[str], memory: str | None) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "main", "image": "busybox", "command": command}
    if memory:
        c["resources"] = {"limits": {"memory": memory}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [c]}}}}


def test_hostile_programs_leave_the_api_answering(cluster, namespace):  # type: ignore[no-untyped-def]
    docs = "\n---\n".join(json.dumps(deployment(name, cmd, mem)) for name, (cmd, mem) in HOSTILE.items())
    r = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=docs, timeout=30)
    assert r.returncode == 0, r.stderr

    def ask(*args: str) -> str:
        t0 = time.monotonic()
        r = cluster.kubectl("-n", namespace, "--request-timeout=5s", *args, timeout=15)
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stderr
        assert took < 3.0, f"kubectl {' '.join(args)} took {took:.1f}s"
        return str(r.stdout)

    def statuses() -> dict[str, dict[str, Any]]:
        pods = json.loads(ask("get", "pods", "-o", "json"))["items"]
        return {p["metadata"]["labels"]["app"]: (p.get("status", {}).get("containerStatuses") or [{}])[0]
                for p in pods}

    seen: dict[str, set[str]] = {name: set() for name in HOSTILE}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # every answer quick while the programs run
        assert ask("get", "--raw", "/healthz") == "ok"
        for name, st in statuses().items():
            for key in ("state", "lastState"):
                term = (st.get(key) or {}).get("terminated")
                if term:
                    seen[name].add(f"{term['reason']}/{term['exitCode']}")
        if {"OOMKilled/137"} <= seen["doubling"] and {"OOMKilled/137"} <= seen["doubling-default"] \
                and "Completed/0" in seen["printf-args"]:
            break
        time.sleep(0.5)
    final = statuses()
    assert "OOMKilled/137" in seen["doubling"], seen  # 32Mi: the cgroup's OOM killer
    assert "OOMKilled/137" in seen["doubling-default"], seen  # no limit: kai-labs' default (256Mi)
    assert "Completed/0" in seen["printf-args"], seen  # prints "hello" once and exits, as busybox
    assert "running" in final["spin"].get("state", {}), final["spin"]  # runs, limited to its time slices
    assert not seen["spin"], seen
    logs = ask("logs", "deploy/printf-args")
    assert logs.strip() == "hello"

    def restarted(name: str) -> bool:
        return int(statuses()[name].get("restartCount", 0)) >= 1
    eventually(lambda: restarted("doubling"), timeout=30)  # the restart policy applies as to any exit
    table = ask("get", "pods", "-l", "app=doubling")
    assert any(s in table for s in ("OOMKilled", "CrashLoopBackOff", "Running")), table


def test_exec_over_the_limit_is_killed_with_137(cluster, namespace):  # type: ignore[no-untyped-def]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "box"},
           "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"],
                                    "resources": {"limits": {"memory": "16Mi"}}}]}}
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(pod), check=True, timeout=30)
    eventually(lambda: "Running" in cluster.kubectl("-n", namespace, "get", "pod", "box").stdout, timeout=20)

    ok = cluster.kubectl("-n", namespace, "exec", "box", "--", "sh", "-c", "x=$(seq 1000); echo $x | wc -c",
                         timeout=30)
    assert (ok.returncode, ok.stdout) == (0, "3893\n"), ok.stderr
    bad = cluster.kubectl("-n", namespace, "exec", "box", "--", "sh", "-c", "x=$(seq 300000000)", timeout=60)
    assert bad.returncode == 137 and "command terminated with exit code 137" in bad.stderr, bad.stderr

    def last_terminated() -> dict[str, Any] | None:
        p = json.loads(cluster.kubectl("-n", namespace, "get", "pod", "box", "-o", "json").stdout)
        st = (p.get("status", {}).get("containerStatuses") or [{}])[0]
        return (st.get("lastState") or {}).get("terminated") or (st.get("state") or {}).get("terminated")
    term = eventually(last_terminated, timeout=20)
    assert term is not None and (term["reason"], term["exitCode"]) == ("OOMKilled", 137), term


def test_busybox_test_message(cluster, namespace):  # type: ignore[no-untyped-def]
    cluster.kubectl("-n", namespace, "run", "t", "--image=busybox", "--restart=Never", "--", "sh", "-c",
                    "test 1 -eq x; echo status=$?", check=True, timeout=30)
    eventually(lambda: "Completed" in cluster.kubectl("-n", namespace, "get", "pod", "t").stdout, timeout=20)
    assert cluster.kubectl("-n", namespace, "logs", "t").stdout == "sh: x: bad number\nstatus=2\n"
