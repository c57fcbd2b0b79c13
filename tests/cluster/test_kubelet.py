"""The kubelet's side of what a learner sees: env from ConfigMaps, config errors, image pull errors."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from tests.helpers import eventually

pytestmark = pytest.mark.cluster




def status_col(cluster, ns, pod):  # type: ignore[no-untyped-def]
    out = cluster.kubectl("-n", ns, "get", "pod", pod).stdout.splitlines()
    return out[1].split()[2] if len(out) > 1 else None


def test_env_from_configmap_and_downward_api(cluster, namespace):  # type: ignore[no-untyped-def]
    r = cluster.kubectl("-n", namespace, "apply", "-f", "-", input="""
apiVersion: v1
kind: ConfigMap
metadata: {name: client}
data: {WEB_URL: "http://web:80"}
---
apiVersion: v1
kind: Pod
metadata: {name: show}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo url=$WEB_URL pod=$POD ns=$NS"]
    env:
    - name: WEB_URL
      valueFrom: {configMapKeyRef: {name: client, key: WEB_URL}}
    - name: POD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: NS
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
""")
    assert r.returncode == 0, r.stderr
    eventually(lambda: status_col(cluster, namespace, "show") == "Completed")
    assert cluster.kubectl("-n", namespace, "logs", "show").stdout.strip() == \
        f"url=http://web:80 pod=show ns={namespace}"


def test_missing_configmap_is_create_container_config_error(cluster, namespace):  # type: ignore[no-untyped-def]
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input="""
apiVersion: v1
kind: Pod
metadata: {name: broken}
spec:
  containers:
  - name: c
    image: busybox
    command: ["sleep", "3600"]
    envFrom: [{configMapRef: {name: nope}}]
""")
    eventually(lambda: status_col(cluster, namespace, "broken") == "CreateContainerConfigError")
    events = json.loads(cluster.kubectl("-n", namespace, "get", "events", "-o", "json").stdout)["items"]
    assert any(e["message"] == 'Error: configmap "nope" not found' for e in events)


def test_unknown_image_is_err_image_pull_and_names_what_runs(cluster, namespace):  # type: ignore[no-untyped-def]
    cluster.kubectl("-n", namespace, "run", "odd", "--image=example.com/not/emulated:1")
    eventually(lambda: status_col(cluster, namespace, "odd") in ("ErrImagePull", "ImagePullBackOff"))
    events = json.loads(cluster.kubectl("-n", namespace, "get", "events", "-o", "json").stdout)["items"]
    msgs = [e["message"] for e in events if e["reason"] == "Failed"]
    assert any(m.startswith('Failed to pull image "example.com/not/emulated:1"') and "agnhost" in m for m in msgs)


def test_image_pull_back_off_waits_and_the_api_keeps_answering(cluster, namespace):  # type: ignore[no-untyped-def]
    """A Pod whose image the cluster does not emulate goes ErrImagePull then ImagePullBackOff and stays there
    with a handful of Events; the kubelet's back-off really waits (it used to spin: on Python 3.12+ it never
    yielded and the whole API froze, on 3.11 it wrote thousands of events), and the Pod can be deleted."""
    cluster.kubectl("-n", namespace, "run", "odd", "--image=redis", check=True, timeout=20)

    def ask(*args: str):  # type: ignore[no-untyped-def]
        t0 = time.monotonic()
        r = cluster.kubectl("-n", namespace, "--request-timeout=5s", *args, timeout=15)
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stderr
        assert took < 3.0, f"kubectl {' '.join(args)} took {took:.1f}s"
        return r.stdout

    def reason() -> str:
        return ask("get", "pod", "odd", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}")

    seen: list[str] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 6.0:  # every answer quick, the Pod waiting for its image all along
        r = reason()
        if r and (not seen or seen[-1] != r):
            seen.append(r)
        time.sleep(0.1)
    assert seen and set(seen) <= {"ErrImagePull", "ImagePullBackOff"}, seen
    assert seen[-1] == "ImagePullBackOff", seen

    items = json.loads(ask("get", "events", "--field-selector", "involvedObject.name=odd", "-o",
                           "json"))["items"]
    by_reason = {(e["reason"], e["message"]): e["count"] for e in items}
    assert len(items) <= 10, sorted(by_reason)
    assert max(by_reason.values()) <= 3, by_reason
    assert any(m == "Error: ErrImagePull" for _, m in by_reason), by_reason
    assert ("BackOff", 'Back-off pulling image "redis"') in by_reason, by_reason
    assert any(m == "Error: ImagePullBackOff" for _, m in by_reason), by_reason

    cluster.kubectl("-n", namespace, "delete", "pod", "odd", "--timeout=20s", check=True, timeout=30)
    assert "NotFound" in cluster.kubectl("-n", namespace, "get", "pod", "odd", timeout=15).stderr


def test_image_pull_back_off_yields_to_the_event_loop(tmp_path):  # type: ignore[no-untyped-def]
    """The same, in process and without HTTP: while a Pod sits in its image pull back-off the event loop
    keeps running other tasks, and the kubelet records a few aggregated Events, not a stream of them."""
    from kai_labs.sim.clientset import Client, Lister
    from kai_labs.sim.node.kubelet import Kubelet
    from kai_labs.sim.registry.generic import rt_of
    from kai_labs.sim.runtime import Runtime

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    rt: Runtime | None = None
    kubelet: Kubelet | None = None

    async def setup() -> None:  # the control plane and one node's kubelet, on one loop
        nonlocal rt, kubelet
        rt = Runtime(tmp_path, seed=1)
        rt.start()
        kubelet = Kubelet(rt.ids, rt.net, rt.rec, ["kai-labs-worker"], lister=Lister(rt.store),
                          client=Client(rt.api))
        rt.store.subscribe(kubelet.observe)
        rt.api.create(rt_of("Pod"), "default", {"metadata": {"name": "odd"}, "spec": {
            "nodeName": "kai-labs-worker", "containers": [{"name": "c", "image": "redis"}]}})

    async def ticks(seconds: float) -> int:
        n, end = 0, loop.time() + seconds
        while loop.time() < end:
            await asyncio.sleep(0.01)
            n += 1
        return n

    async def look() -> tuple[str, list[tuple[str, str, int]]]:  # read the store on its own loop
        assert rt is not None
        pod = rt.store.get("/pods", "default", "odd")
        assert pod is not None
        events = [(e["reason"], e["message"], e["count"]) for e in rt.store.iter("/events", "default")
                  if e["involvedObject"]["name"] == "odd"]
        return pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], events

    try:
        asyncio.run_coroutine_threadsafe(setup(), loop).result(20)
        n = asyncio.run_coroutine_threadsafe(ticks(3.0), loop).result(15)
        assert n > 30, f"the event loop ran a 10 ms ticker only {n} times in 3 s"
        reason, events = asyncio.run_coroutine_threadsafe(look(), loop).result(15)
        assert reason == "ImagePullBackOff"
        assert 0 < len(events) <= 10, events
        assert max(c for _, _, c in events) <= 3, events
    finally:
        if rt is not None and kubelet is not None:
            for w in list(kubelet.workers.values()):  # frees a worker spinning in its back-off (old bug)
                w.stopping = True
            asyncio.run_coroutine_threadsafe(kubelet.shutdown(), loop).result(20)
        if rt is not None:
            asyncio.run_coroutine_threadsafe(rt.stop(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(20)
        if not thread.is_alive():
            loop.close()


def test_a_replacement_pod_never_gets_an_ip_a_pod_just_gave_up(cluster, namespace):  # type: ignore[no-untyped-def]
    """host-local IPAM (containernetworking/plugins ipam/host-local) allocates after the last reserved address,
    so a freed Pod IP comes back only after the range wraps: a client still holding an old IP must not reach a
    new Pod. Ten rounds of replacing three Pods: thirty new IPs, none seen before."""
    manifest = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: churn}\nspec:\n  replicas: 3\n"
                "  selector: {matchLabels: {app: churn}}\n  template:\n    metadata: {labels: {app: churn}}\n"
                "    spec:\n      containers:\n      - {name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.53,"
                " args: [pause]}\n")
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest, check=True)

    def live_ips():  # type: ignore[no-untyped-def]
        items = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-l", "app=churn", "-o",
                                           "json").stdout)["items"]
        ips = {p["status"].get("podIP") for p in items if not p["metadata"].get("deletionTimestamp")}
        return ips if len(ips) == 3 and None not in ips and len(items) == 3 else None

    seen = set(eventually(live_ips))
    for _ in range(10):
        cluster.kubectl("delete", "pods", "-n", namespace, "-l", "app=churn", "--wait=true", check=True)
        new = eventually(live_ips)
        assert not new & seen, f"reused {sorted(new & seen)}"
        seen |= new
