"""The watch stream (kai_labs/sim/apiserver/watch.py): frames, and a bounded buffer that closes a
watcher falling behind, as kube-apiserver's cacheWatcher does, so a stalled reader costs bounded memory
and its client watches again or re-lists."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kai_labs.sim.apiserver import watch
from kai_labs.sim.apiserver.server import ApiServer
from kai_labs.sim.apiserver.watch import WatchStream
from kai_labs.sim.runtime import Runtime
from kai_labs.sim.storage.store import Store


def _cm(name: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns,
                                                                  "labels": labels}}


def _frames(chunks: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in b"".join(chunks).splitlines()]


def test_frames_follow_the_selection(tmp_path: Path) -> None:
    async def main() -> list[dict[str, Any]]:
        store = Store(tmp_path / "s.db")
        out: list[bytes] = []

        async def write(b: bytes) -> None:
            out.append(b)

        s = WatchStream(store, "/configmaps", lambda o: o["metadata"]["labels"].get("a") == "1", write)
        store.put("/configmaps", _cm("x", a="1"), "ADDED")
        store.put("/configmaps", _cm("y", a="2"), "ADDED")      # not selected
        store.put("/pods", _cm("p", a="1"), "ADDED")            # another key
        store.put("/configmaps", _cm("x", a="2"), "MODIFIED")   # leaves the selection
        store.remove("/configmaps", "default", "y")             # never seen, not selected
        await s.run(0, timeout=0.2)
        return _frames(out)

    frames = asyncio.run(main())
    assert [(f["type"], f["object"]["metadata"]["name"]) for f in frames] == [("ADDED", "x"), ("DELETED", "x")]


def test_table_frames_carry_columns_once(tmp_path: Path) -> None:
    async def main() -> list[dict[str, Any]]:
        store = Store(tmp_path / "s.db")
        out: list[bytes] = []

        async def write(b: bytes) -> None:
            out.append(b)

        def table(o: dict[str, Any]) -> dict[str, Any]:
            return {"kind": "Table", "columnDefinitions": [{"name": "Name"}], "rows": [o["metadata"]["name"]]}

        s = WatchStream(store, "/configmaps", lambda o: True, write, table=table)
        await s.send_initial([_cm("a")])
        await s.send("BOOKMARK", {"kind": "ConfigMap", "metadata": {"resourceVersion": "1"}})
        store.put("/configmaps", _cm("b"), "ADDED")
        await s.run(0, timeout=0.2)
        return _frames(out)

    a, bookmark, b = asyncio.run(main())
    assert a["object"]["columnDefinitions"] == [{"name": "Name"}]
    assert bookmark["object"] == {"kind": "ConfigMap", "metadata": {"resourceVersion": "1"}}
    assert b["object"]["columnDefinitions"] == [] and b["object"]["rows"] == ["b"]


def test_a_stalled_reader_is_closed_and_its_memory_freed(tmp_path: Path) -> None:
    """The reader blocks on its first frame; thousands of writes later the buffer holds at most the
    bound, then nothing at all: the watcher is closed, the stream ends, and the client can re-list."""
    async def main() -> None:
        store = Store(tmp_path / "s.db")
        release = asyncio.Event()
        written: list[bytes] = []

        async def write(b: bytes) -> None:
            written.append(b)
            await release.wait()  # a client that stopped reading: the socket never drains

        s = WatchStream(store, "/configmaps", lambda o: True, write, bound=50)
        task = asyncio.create_task(s.run(0, timeout=60))
        store.put("/configmaps", _cm("first"), "ADDED")
        await asyncio.sleep(0.05)
        assert len(written) == 1  # the run loop is stuck writing it
        peak = 0
        for i in range(2000):
            store.put("/configmaps", _cm(f"c{i}"), "ADDED")
            peak = max(peak, len(s))
        assert peak <= 50
        assert s.overflowed and len(s) == 0
        assert s._offer not in store._listeners  # noqa: SLF001 - no longer fed by the store
        release.set()
        await asyncio.wait_for(task, 5)  # the stream ends instead of running to its timeout
        assert len(written) == 1
        assert len(store.list("/configmaps")) == 2001  # the re-list sees everything

    asyncio.run(main())


def test_a_watch_that_falls_behind_ends_over_http_and_the_client_relists(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "BOUND", 20)

    async def main() -> None:
        rt = Runtime(tmp_path, "w", 1)
        rt.bootstrap()
        server = ApiServer(rt, "tok")
        h = {"Authorization": "Bearer tok"}
        async with TestClient(TestServer(server.app)) as client:
            r = await client.get("/api/v1/namespaces/default/configmaps?watch=true", headers=h)
            assert r.status == 200
            await asyncio.sleep(0.1)  # the watch is subscribed
            for i in range(100):  # one loop turn: the watcher cannot keep up
                rt.store.put("/configmaps", _cm(f"c{i}"), "ADDED")
            body = await asyncio.wait_for(r.read(), 5)  # ends well before timeoutSeconds (1800)
            assert len([ln for ln in body.splitlines() if b'"ADDED"' in ln]) <= 20
            lst = await client.get("/api/v1/namespaces/default/configmaps", headers=h)
            assert len((await lst.json())["items"]) == 100

    asyncio.run(main())
