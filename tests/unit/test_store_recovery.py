"""The store when the disk fills, and when its files are damaged (kai_labs/sim/storage/store.py).

Real SQLite throughout. A full disk comes two ways: `PRAGMA max_page_count` (SQLite's own SQLITE_FULL,
raised by the statement that needs a page) and, as root, a small tmpfs filled to the last byte (the
SQLITE_FULL a real disk gives, raised by COMMIT when the write-ahead log cannot grow: the path that used
to leave every later request answering "cannot commit - no transaction is active").

What must hold: a write answered with an error is never seen afterwards (not in a list, not by a
watcher, not after a restart); every write that was not refused is still there after a restart; writes
work again once there is room, on the same connection; the health check says so meanwhile; a damaged
database or a write-ahead log that lost committed writes is refused at start with one sentence.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kai_labs.sim.apimachinery import errors
from kai_labs.sim.apiserver import healthz
from kai_labs.sim.apiserver.server import ApiServer
from kai_labs.sim.runtime import Runtime
from kai_labs.sim.storage import store as store_mod
from kai_labs.sim.storage.store import Event, Store
from tests.helpers import fill, tmpfs

KEY = "/configmaps"
PAYLOAD = "x" * 3000  # a few per page: the disk fills after a few dozen writes


def _cm(name: str, data: str = PAYLOAD) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": {"k": data}}


def _names(store: Store) -> set[str]:
    return {o["metadata"]["name"] for o in store.list(KEY)}


class Writes:
    """A writer that behaves as the API server does: put, then commit before answering (flush)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.acked: list[str] = []
        self.failed: list[str] = []
        self.events: list[Event] = []
        store.subscribe(self.events.append)

    def write(self, name: str) -> bool:
        try:
            self.store.put(KEY, _cm(name), "ADDED")
            self.store.flush()
        except (errors.ApiError, sqlite3.Error):
            self.failed.append(name)
            return False
        self.acked.append(name)
        return True

    def until_refused(self, prefix: str, most: int = 5000) -> None:
        for i in range(most):
            if not self.write(f"{prefix}-{i}"):
                return
        pytest.fail(f"{most} writes went through a full disk")

    def seen(self) -> set[str]:
        return {e.obj["metadata"]["name"] for e in self.events}


# -- a real full disk (root: tmpfs) ----------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs."""
    with tmpfs(tmp_path / "disk", 2) as d:
        yield d


def test_a_write_refused_for_a_full_disk_is_never_seen(small_disk: Path) -> None:
    """The issue's bug: COMMIT failed with SQLITE_FULL, the write stayed in memory and in the watch feed,
    and later statements ran outside any transaction (so a write answered 500 was on disk after restart)."""
    store = Store(small_disk / "state.db")
    w = Writes(store)
    for i in range(5):
        assert w.write(f"before-{i}")
    rv_before = store.rv
    filler = fill(small_disk)
    w.until_refused("during")
    for i in range(5):  # refused again and again: nothing sticks, nothing gets stuck
        w.write(f"again-{i}")
    failed = set(w.failed)
    assert failed & _names(store) == set()
    assert failed & w.seen() == set()
    assert store.rv == rv_before + len(w.acked) - 5
    filler.unlink()
    store.close()
    again = Store(small_disk / "state.db")
    assert _names(again) == set(w.acked)
    assert again.rv == store.rv
    again.close()


def test_writes_work_again_once_there_is_space_without_reopening(small_disk: Path) -> None:
    store = Store(small_disk / "state.db")
    w = Writes(store)
    assert w.write("first")
    filler = fill(small_disk)
    w.until_refused("full")
    with pytest.raises(errors.ApiError) as e:
        store.put(KEY, _cm("refused"), "ADDED")
    assert e.value.code == 500 and e.value.reason == ""
    assert e.value.message == f"the cluster's disk is full: free space in {small_disk}"
    filler.unlink()
    assert w.write("after")
    assert {"first", "after"} <= _names(store)
    store.remove(KEY, "default", "after")
    assert "after" not in _names(store)
    store.close()


def test_health_fails_while_full_and_recovers_without_a_write(small_disk: Path) -> None:
    store = Store(small_disk / "state.db")
    store.probe_every = 0.0
    w = Writes(store)
    assert store.health() is None
    filler = fill(small_disk)
    w.until_refused("full")
    assert store.health() == f"the cluster's disk is full: free space in {small_disk}"
    assert store.health() is not None  # the probe (a real write) still cannot commit
    filler.unlink()
    assert store.health() is None
    store.close()


# -- SQLITE_FULL from max_page_count (no root needed) ---------------------------------------------------
def _cap(store: Store) -> None:
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count={pages}")


def test_page_limit_refusals_are_rolled_back_and_lifting_it_lets_writes_in(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.probe_every = 0.0
    w = Writes(store)
    for i in range(3):
        assert w.write(f"ok-{i}")
    _cap(store)
    w.until_refused("capped")
    assert w.write("capped-again") is False
    assert set(w.failed) & (_names(store) | w.seen()) == set()
    assert store.health() is not None
    store.db.execute("PRAGMA max_page_count=1073741823")
    assert store.health() is None
    assert w.write("lifted")
    store.close()
    again = Store(tmp_path / "state.db")
    assert _names(again) == set(w.acked)
    again.close()


def test_a_refused_update_and_delete_leave_the_old_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    first = store.put(KEY, _cm("cm", "v1"), "ADDED")
    seen: list[Event] = []
    store.subscribe(seen.append)
    _cap(store)
    big = _cm("cm", "v2" * 200_000)
    with pytest.raises(errors.ApiError):
        store.put(KEY, big, "MODIFIED")
    assert big["metadata"].get("resourceVersion") is None  # the caller's object is as it was
    cur = store.get(KEY, "default", "cm")
    assert cur is not None and cur["data"]["k"] == "v1"
    assert cur["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert seen == []
    store.close()


def test_pending_counters_do_not_break_the_next_commit(tmp_path: Path) -> None:
    """Allocator counters (meta) ride in the open transaction until the next object write commits it; a
    refusal rolls them back with it, and the transaction state stays usable (no "cannot commit")."""
    store = Store(tmp_path / "state.db")
    store.meta_set("ctr/default/x", "1")
    _cap(store)
    w = Writes(store)
    w.until_refused("c")
    store.flush()
    store.db.execute("PRAGMA max_page_count=1073741823")
    store.meta_set("ctr/default/x", "2")
    assert w.write("later")
    assert store.meta_get("ctr/default/x") == "2"
    store.close()
    again = Store(tmp_path / "state.db")
    assert again.meta_get("ctr/default/x") == "2"
    again.close()


# -- damaged files at start ------------------------------------------------------------------------------
def _populated(d: Path, n: int = 40) -> Store:
    store = Store(d / "state.db")
    for i in range(n):
        store.put(KEY, _cm(f"cm-{i}", "y" * 500), "ADDED")
    return store


def _copy_live(src: Path, dst: Path) -> None:
    """The files as a killed process leaves them: the database, its write-ahead log, the rv note."""
    dst.mkdir()
    for name in ("state.db", "state.db-wal", "state.db-rv"):
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)


def test_a_damaged_database_is_one_sentence_with_reset_as_the_way_out(tmp_path: Path) -> None:
    _populated(tmp_path).close()
    with open(tmp_path / "state.db", "r+b") as f:
        f.write(b"this is not SQLite" * 10)
    with pytest.raises(store_mod.StoreError) as e:
        Store(tmp_path / "state.db")
    assert e.value.reset
    assert str(e.value).startswith(f"the cluster's store {tmp_path / 'state.db'} is damaged")
    assert "\n" not in str(e.value)


def test_a_lost_write_ahead_log_is_reported_with_how_many_writes_went(tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    store = _populated(live)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for i in range(7):
        store.put(KEY, _cm(f"late-{i}"), "ADDED")
    assert (live / "state.db-wal").stat().st_size > 0
    _copy_live(live, tmp_path / "killed")
    (tmp_path / "killed" / "state.db-wal").unlink()
    with pytest.raises(store_mod.StoreError) as e:
        Store(tmp_path / "killed" / "state.db")
    assert e.value.reset
    assert "lost its last 7 writes" in str(e.value)
    store.close()


def test_a_damaged_write_ahead_log_is_reported_too(tmp_path: Path) -> None:
    """SQLite drops WAL frames from the first one whose checksum fails, silently: the rv note catches it."""
    live = tmp_path / "live"
    live.mkdir()
    store = _populated(live)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for i in range(10):
        store.put(KEY, _cm(f"late-{i}"), "ADDED")
    _copy_live(live, tmp_path / "killed")
    wal = tmp_path / "killed" / "state.db-wal"
    with open(wal, "r+b") as f:
        f.seek(wal.stat().st_size // 2)
        f.write(b"\xff" * 64)
    with pytest.raises(store_mod.StoreError) as e:
        Store(tmp_path / "killed" / "state.db")
    assert "writes" in str(e.value) and "state.db-wal" in str(e.value)
    store.close()


def test_a_killed_process_loses_nothing_and_is_not_reported(tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    store = _populated(live)
    _copy_live(live, tmp_path / "killed")
    again = Store(tmp_path / "killed" / "state.db")
    assert again.rv == store.rv and len(_names(again)) == 40
    again.close()
    store.close()


def test_a_missing_database_with_its_rv_note_is_reported(tmp_path: Path) -> None:
    _populated(tmp_path).close()
    (tmp_path / "state.db").unlink()
    with pytest.raises(store_mod.StoreError) as e:
        Store(tmp_path / "state.db")
    assert "missing" in str(e.value)
    assert not (tmp_path / "state.db").exists()  # not replaced by an empty one behind the learner's back


# -- the API's answers: a Status, and health checks ------------------------------------------------------
def test_health_answers_read_like_kube_apiservers() -> None:
    def bad() -> str | None:
        return "the cluster's disk is full: free space in /h"

    def good() -> str | None:
        return None

    assert healthz.answer("healthz", {}, healthz.checks("healthz", good)) == (200, "ok")
    assert healthz.answer("livez", {"verbose": [""]}, healthz.checks("livez", good)) == (
        200, "[+]ping ok\n[+]log ok\n[+]etcd ok\nlivez check passed\n")
    assert healthz.answer("healthz", {}, healthz.checks("healthz", bad)) == (
        500, "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\nhealthz check failed\n")
    assert healthz.answer("readyz", {}, healthz.checks("readyz", bad)) == (
        500, "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n"
             "[-]etcd-readiness failed: reason withheld\nreadyz check failed\n")
    assert healthz.answer("healthz", {"exclude": ["etcd", "nope"]}, healthz.checks("healthz", bad)) == (
        200, "ok")
    assert healthz.answer("healthz", {"exclude": ["etcd", "nope"], "verbose": ["1"]},
                          healthz.checks("healthz", bad)) == (
        200, "[+]ping ok\n[+]log ok\n[+]etcd excluded: ok\n"
             'warn: some health checks cannot be excluded: no matches for "nope"\nhealthz check passed\n')


def test_a_full_disk_over_http_is_a_status_a_failed_healthz_and_no_trace(tmp_path: Path) -> None:
    """Through the real API server: the refused create answers kube-apiserver's 500 Status with a message
    that says what to do, a watcher never hears of it, /healthz fails the etcd check until there is room,
    and then the same process takes writes again."""

    async def main() -> None:
        rt = Runtime(tmp_path, "d", 1)
        rt.bootstrap()
        rt.store.flush()
        rt.store.probe_every = 0.0
        server = ApiServer(rt, "tok")
        h = {"Authorization": "Bearer tok"}
        url = "/api/v1/namespaces/default/configmaps"
        async with TestClient(TestServer(server.app)) as client:
            assert (await client.get("/healthz")).status == 200
            w = await client.get(url + "?watch=true&timeoutSeconds=30", headers=h)
            frames: list[dict[str, Any]] = []

            async def read_frames() -> None:
                async for line in w.content:
                    frames.append(json.loads(line))

            reader = asyncio.create_task(read_frames())
            await asyncio.sleep(0.1)  # the watch is subscribed
            _cap(rt.store)
            refused: dict[str, Any] = {}
            acked: list[str] = []
            for i in range(200):
                r = await client.post(url, json=_cm(f"cm-{i}"), headers=h)
                if r.status != 201:
                    refused = {"name": f"cm-{i}", "status": r.status, "body": await r.json()}
                    break
                acked.append(f"cm-{i}")
            assert refused, "200 creates went through a page limit"
            assert refused["status"] == 500
            assert refused["body"] == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                       "message": f"the cluster's disk is full: free space in {tmp_path}",
                                       "code": 500}
            hz = await client.get("/healthz")
            assert hz.status == 500 and hz.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert await hz.text() == ("[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n"
                                       "healthz check failed\n")
            assert (await client.get("/readyz")).status == 500
            names = {o["metadata"]["name"] for o in (await (await client.get(url, headers=h)).json())["items"]}
            assert refused["name"] not in names and set(acked) <= names
            rt.store.db.execute("PRAGMA max_page_count=1073741823")
            hz = await client.get("/healthz")
            assert (hz.status, await hz.text()) == (200, "ok")
            r = await client.post(url, json=_cm("after"), headers=h)
            assert r.status == 201
            for _ in range(100):  # the watcher hears of "after"...
                if any(f["object"]["metadata"]["name"] == "after" for f in frames):
                    break
                await asyncio.sleep(0.02)
            reader.cancel()
            w.close()
        watched = [f["object"]["metadata"]["name"] for f in frames]
        assert "after" in watched and set(acked) <= set(watched)
        assert refused["name"] not in watched  # ...and never of the refused one
        rt.store.close()

    asyncio.run(main())


def test_a_write_after_close_is_503_shutting_down_and_cleanup_is_calm(tmp_path: Path) -> None:
    """A request handler still finishing when the cluster stops (a watch the runner cancelled late) used
    to meet the closed database in its flush and log a traceback per handler at every `cluster down`."""
    s = Store(tmp_path / "state.db")
    s.put(KEY, _cm("before"), "ADDED")
    s.close()
    with pytest.raises(errors.ApiError) as e:
        s.put(KEY, _cm("after"), "ADDED")
    assert (e.value.code, e.value.reason, e.value.message) == (503, "ServiceUnavailable", "apiserver is shutting down")
    s.flush()  # the middleware's flush after each request: nothing to commit, no error
    err = s.failed(sqlite3.ProgrammingError("Cannot operate on a closed database."))
    assert err.code == 503 and s.failure is None
    s.close()  # twice is calm
    again = Store(tmp_path / "state.db")
    assert again.peek(KEY, "default", "before") is not None and again.peek(KEY, "default", "after") is None
    again.close()


def test_history_gives_back_each_version_for_a_resuming_watch(tmp_path: Path) -> None:
    """The history a watch resumes from (kept compressed) returns every version as it was written."""
    s = Store(tmp_path / "state.db")
    first = s.put(KEY, _cm("cm", "one"), "ADDED")
    cm = s.get(KEY, "default", "cm")
    assert cm is not None
    cm["data"] = {"k": "two"}
    s.put(KEY, cm, "MODIFIED")
    s.remove(KEY, "default", "cm")
    events = s.since(int(first["metadata"]["resourceVersion"]) - 1)
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[0].obj["data"] == _cm("cm", "one")["data"] and events[1].obj["data"] == {"k": "two"}
    assert [int(e.obj["metadata"]["resourceVersion"]) for e in events[:2]] == [e.rv for e in events[:2]]
    s.close()
