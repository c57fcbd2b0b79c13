"""A controller whose write the API refuses for now (500: a full disk) tries again later, as client-go's
rate-limited work queue does (AddRateLimited: 5 ms doubling per failure). Real SQLite: the store is full
by its own page limit (SQLITE_FULL), then has room again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kai_labs.sim.controllers.manager import Controllers
from kai_labs.sim.events import Recorder
from kai_labs.sim.registry.allocators import Ids
from kai_labs.sim.registry.generic import Api, rt_of
from kai_labs.sim.storage.store import Store

RS = {"metadata": {"name": "web"}, "spec": {
    "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
        {"name": "c", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53"}]}}}}


def test_a_replicaset_scaled_while_the_disk_is_full_gets_its_pods_once_there_is_room(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int]:
        store = Store(tmp_path / "state.db")
        store.probe_every = 0.0
        api = Api(store, Ids(store, 1), lambda: 1_700_000_000.0)
        ctl = Controllers(api, Recorder(api), set)
        ctl.on_work = lambda: asyncio.get_running_loop().call_soon(ctl.drain)
        store.subscribe(ctl.observe)
        api.create(rt_of("Namespace"), "", {"metadata": {"name": "default"}})
        ctl.drain()
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        api.create(rt_of("ReplicaSet", "apps/v1"), "default", RS)  # lands; its Pods cannot
        store.db.execute(f"PRAGMA max_page_count={pages + 1}")
        ctl.drain()
        await asyncio.sleep(0.2)
        while_full = store.count("/pods")
        store.db.execute("PRAGMA max_page_count=1073741823")
        for _ in range(200):  # the retry timer brings the ReplicaSet back (5 ms doubling)
            await asyncio.sleep(0.05)
            if store.count("/pods") == 3:
                break
        n = store.count("/pods")
        store.close()
        return while_full, n

    while_full, after = asyncio.run(scenario())
    assert while_full < 3
    assert after == 3
