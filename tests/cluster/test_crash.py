"""Kill -9 the cluster during a burst of writes: every acknowledged write survives the restart."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from kai_labs.clusters import embedded as cl

pytestmark = pytest.mark.cluster


def _writer(c: cl.Cluster, ns: str, prefix: str, acked: list[tuple[str, str]], stop: threading.Event) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(c.api_client())
    i = 0
    while not stop.is_set():
        name = f"{prefix}-{i}"
        value = f"value-{prefix}-{i}"
        try:
            core.create_namespaced_config_map(ns, {"metadata": {"name": name}, "data": {"v": value}},
                                              _request_timeout=2)
        except (ApiException, OSError, Exception):  # noqa: BLE001 - the process is being killed under us
            return
        acked.append((name, value))
        i += 1


@pytest.mark.parametrize("run", range(3))
def test_kill_9_during_writes_loses_no_acknowledged_write(kai_home: Path, run: int) -> None:
    name = f"crash{run}"
    rng = random.Random(1000 + run)
    c = cl.start(name=name, seed=run, set_env=False)
    ns = "default"
    acked: list[tuple[str, str]] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_writer, args=(c, ns, f"w{t}", acked, stop)) for t in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(acked) < 20 and time.monotonic() < deadline:  # writes are flowing...
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.5))  # ...then kill at a random point of the burst
    st = cl.status(name)
    assert st.pid
    os.kill(st.pid, signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(5)
    assert len(acked) > 10, "the writers should have been acknowledged many times before the kill"
    c2 = cl.start(name=name, set_env=False)
    core = c2.core()
    items = core.list_namespaced_config_map(ns).items
    stored = {i.metadata.name: (i.data or {}).get("v") for i in items}
    missing = [(n, v) for n, v in acked if stored.get(n) != v]
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}"
    max_rv = max(int(i.metadata.resource_version) for i in items)
    new = core.create_namespaced_config_map(ns, {"metadata": {"name": "after-restart"}})
    assert int(new.metadata.resource_version) > max_rv, "resourceVersions keep increasing across the restart"
    cl.down(name)
