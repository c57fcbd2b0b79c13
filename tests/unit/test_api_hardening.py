"""The API server's answers to hostile or mistaken requests (issue #13), through its aiohttp app:
YAML alias bombs, media types it does not take, query parameters that are not integers, label
selectors, and watch fan-out (each event encoded once; a watcher that stops reading is closed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kai_labs.sim.apiserver import watch
from kai_labs.sim.apiserver.server import ApiServer
from kai_labs.sim.apiserver.watch import WatchStream
from kai_labs.sim.runtime import Runtime
from kai_labs.sim.storage.store import Store
from tests.manifests import YAML_ALIAS_BOMB

LAUGHS = YAML_ALIAS_BOMB

H = {"Authorization": "Bearer tok"}
CMS = "/api/v1/namespaces/default/configmaps"

Scenario = Callable[[TestClient, Runtime], Awaitable[None]]


def run_api(tmp_path: Path, scenario: Scenario) -> None:
    async def main() -> None:
        rt = Runtime(tmp_path, "h", 1)
        rt.bootstrap()
        async with TestClient(TestServer(ApiServer(rt, "tok").app)) as client:
            await asyncio.wait_for(scenario(client, rt), 30)

    asyncio.run(main())


async def _status(r: Any) -> dict[str, Any]:
    body: dict[str, Any] = await r.json()
    assert body["kind"] == "Status" and body["code"] == r.status, body
    return body


# -- YAML ------------------------------------------------------------------------------------------
def test_a_yaml_alias_bomb_is_refused_like_kube_apiserver(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        r = await client.post(CMS, data=LAUGHS, headers={**H, "Content-Type": "application/yaml"})
        assert r.status == 400
        body = await _status(r)
        assert body["reason"] == "BadRequest"
        # rest.go transformDecodeError: the kind expected, go-yaml's error, the body's first 30 bytes in hex
        assert body["message"] == ("the object provided is unrecognized (must be of type ConfigMap): yaml: document "
                                   "contains excessive aliasing (" + LAUGHS.encode()[:30].hex() + " ...)")
        r = await client.patch(CMS + "/lol?fieldManager=me", data=LAUGHS,
                               headers={**H, "Content-Type": "application/apply-patch+yaml"})
        assert r.status == 400
        assert (await _status(r))["message"] == "error encoding patch: yaml: document contains excessive aliasing"
        r = await client.get(CMS + "/lol", headers=H)
        assert r.status == 404  # nothing was created

    run_api(tmp_path, scenario)


def test_yaml_bodies_with_anchors_and_json_as_yaml_still_work(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        body = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: anchors}\ndata:\n  a: &v hello\n  b: *v\n"
        r = await client.post(CMS, data=body, headers={**H, "Content-Type": "application/yaml"})
        assert r.status == 201, await r.text()
        assert (await r.json())["data"] == {"a": "hello", "b": "hello"}
        # kubectl's server-side apply sends JSON as application/apply-patch+yaml
        applied = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"k": "v"}})
        r = await client.patch(CMS + "/ssa?fieldManager=kubectl", data=applied,
                               headers={**H, "Content-Type": "application/apply-patch+yaml"})
        assert r.status in (200, 201), await r.text()

    run_api(tmp_path, scenario)


# -- media types -----------------------------------------------------------------------------------
def test_a_body_in_a_media_type_the_verb_does_not_take_is_415(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        cm = json.dumps({"metadata": {"name": "plain"}})
        r = await client.post(CMS, data=cm, headers={**H, "Content-Type": "text/plain"})
        assert r.status == 415
        body = await _status(r)
        assert body["reason"] == "UnsupportedMediaType" and "details" not in body
        assert body["message"] == ("the body of the request was in an unknown format - accepted media types include: "
                                   "application/json, application/yaml, application/vnd.kubernetes.protobuf")
        r = await client.get(CMS + "/plain", headers=H)
        assert r.status == 404  # not created
        # no Content-Type at all: JSON, as NegotiateInputSerializer takes it
        r = await client.post(CMS, data=cm.encode(), headers=H, skip_auto_headers=["Content-Type"])
        assert r.status == 201
        r = await client.patch(CMS + "/plain", data='{"data": {"a": "b"}}', headers={**H, "Content-Type": "text/plain"})
        assert r.status == 415
        assert (await _status(r))["message"].endswith(
            "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, "
            "application/apply-patch+yaml")
        r = await client.put(CMS + "/plain", data=cm, headers={**H, "Content-Type": "application/merge-patch+json"})
        assert r.status == 415

    run_api(tmp_path, scenario)


# -- query parameters ------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "1e3", "1.5", " 5", "1_000", "", "99999999999999999999"])
def test_timeout_seconds_that_is_not_an_int64_is_400(tmp_path: Path, value: str) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        for watch_q in ("&watch=true", ""):
            r = await client.get(f"{CMS}?timeoutSeconds={value}{watch_q}", headers=H)
            assert r.status == 400, (watch_q, await r.text())
            why = "value out of range" if value.isdigit() else "invalid syntax"
            assert (await _status(r))["message"] == f'strconv.ParseInt: parsing "{value}": {why}'

    run_api(tmp_path, scenario)


def test_a_watch_with_an_integer_timeout_ends_in_time(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        r = await client.get(f"{CMS}?watch=true&timeoutSeconds=1", headers=H)
        assert r.status == 200
        await asyncio.wait_for(r.read(), 5)
        r = await client.get(f"{CMS}?watch=true&timeoutSeconds=-1", headers=H)  # a deadline in the past
        await asyncio.wait_for(r.read(), 5)

    run_api(tmp_path, scenario)


def test_label_selectors_parse_as_apimachinery(tmp_path: Path) -> None:
    """selector.go: ``x in ()`` is valid syntax (the empty value); ``x in (`` is not."""
    async def scenario(client: TestClient, rt: Runtime) -> None:
        for name, labels in (("empty", {"a": ""}), ("other", {"a": "b"}), ("none", {})):
            r = await client.post(CMS, json={"metadata": {"name": name, "labels": labels}}, headers=H)
            assert r.status == 201
        r = await client.get(CMS, params={"labelSelector": "a in ()"}, headers=H)
        assert r.status == 200
        assert [i["metadata"]["name"] for i in (await r.json())["items"]] == ["empty"]
        r = await client.get(CMS, params={"labelSelector": "a in ("}, headers=H)
        assert r.status == 400
        assert (await _status(r))["message"] == \
            "unable to parse requirement: found '', expected: ',', ')' or identifier"

    run_api(tmp_path, scenario)


# -- watch fan-out ---------------------------------------------------------------------------------
def _cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": data}


def _collect(write_log: list[bytes]) -> Callable[[bytes], Awaitable[None]]:
    async def write(b: bytes) -> None:
        write_log.append(b)

    return write


def test_each_event_is_encoded_once_for_all_watchers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = watch.dumps

    def counting(obj: Any) -> str:
        nonlocal calls
        calls += 1
        return real(obj)

    monkeypatch.setattr(watch, "dumps", counting)

    async def main() -> list[list[bytes]]:
        store = Store(tmp_path / "s.db")
        outs: list[list[bytes]] = [[] for _ in range(20)]
        streams = [WatchStream(store, "/configmaps", lambda o: True, _collect(out)) for out in outs]
        tasks = [asyncio.ensure_future(s.run(0, timeout=0.3)) for s in streams]
        for i in range(10):
            store.put("/configmaps", _cm(f"c{i}"), "ADDED")
        await asyncio.gather(*tasks)
        return outs

    outs = asyncio.run(main())
    assert calls == 10  # ten events, twenty watchers: ten encodings
    frames = [b"".join(o).splitlines() for o in outs]
    assert all(f == frames[0] for f in frames) and len(frames[0]) == 10
    assert [json.loads(f)["object"]["metadata"]["name"] for f in frames[0]] == [f"c{i}" for i in range(10)]


def test_the_shared_encodings_are_few_and_pin_few_objects(tmp_path: Path) -> None:
    """The cache of encoded objects serves one fan-out; holding thousands would keep as many old object
    versions alive (a node's ConfigMap watch made it pin ~40 MB under 20 writers)."""
    async def main() -> None:
        store = Store(tmp_path / "s.db")
        out: list[bytes] = []
        s = WatchStream(store, "/configmaps", lambda o: True, _collect(out))
        task = asyncio.ensure_future(s.run(0, timeout=2))
        for i in range(2000):
            store.put("/configmaps", _cm("same", n=str(i), pad="x" * 1000), "MODIFIED")
            if i % 100 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0.2)
        s.close()
        await task
        assert len(b"".join(out).splitlines()) == 2000
        assert len(watch.ENCODED._items) <= watch.ENCODED.max_items  # noqa: SLF001
        assert watch.ENCODED.size <= watch.ENCODED.max_bytes

    asyncio.run(main())


def test_a_watcher_whose_client_stops_reading_is_closed_and_dropped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cacheWatcher: a full buffer and no event taken within the budget -> "Forcing ... watcher close due to
    unresponsiveness"; the connection is dropped since the stream cannot end cleanly behind a blocked write."""
    monkeypatch.setattr(watch, "CHAN_SIZE", 10)
    monkeypatch.setattr(watch, "BUDGET", 0.2)

    async def main() -> None:
        store = Store(tmp_path / "s.db")
        stuck = asyncio.Event()
        aborted: list[bool] = []

        async def write(b: bytes) -> None:
            await stuck.wait()  # the client's socket never drains

        s = WatchStream(store, "/configmaps", lambda o: True, write, abort=lambda: aborted.append(True))
        task = asyncio.ensure_future(s.run(0, timeout=60))
        for i in range(30):  # past CHAN_SIZE, but the write has only just blocked: not yet closed
            store.put("/configmaps", _cm(f"a{i}"), "ADDED")
            await asyncio.sleep(0)
        assert not s.overflowed and len(s) >= 10
        await asyncio.sleep(0.3)  # the budget passes with the write still blocked
        store.put("/configmaps", _cm("late"), "ADDED")
        assert s.overflowed and aborted == [True] and len(s) == 0
        stuck.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())


def test_a_fast_watcher_keeps_up_with_a_burst_past_its_channel_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst written in one event-loop turn is no reason to close a client that reads."""
    monkeypatch.setattr(watch, "CHAN_SIZE", 10)
    monkeypatch.setattr(watch, "BUDGET", 0.05)

    async def main() -> list[bytes]:
        store = Store(tmp_path / "s.db")
        out: list[bytes] = []

        async def write(b: bytes) -> None:
            out.append(b)
            await asyncio.sleep(0.01)  # a real socket write yields now and then

        s = WatchStream(store, "/configmaps", lambda o: True, write)
        task = asyncio.ensure_future(s.run(0, timeout=3))
        for i in range(500):
            store.put("/configmaps", _cm(f"b{i}"), "ADDED")
        await asyncio.sleep(1)
        assert not s.overflowed
        s.close()
        await task
        return out

    frames = b"".join(asyncio.run(main())).splitlines()
    assert len(frames) == 500


def test_a_watch_over_http_survives_its_client_and_frees_its_watcher(tmp_path: Path) -> None:
    async def scenario(client: TestClient, rt: Runtime) -> None:
        before = len(rt.store._listeners)  # noqa: SLF001
        r = await client.get(f"{CMS}?watch=true", headers=H)
        assert r.status == 200
        await asyncio.sleep(0.1)
        assert len(rt.store._listeners) == before + 1  # noqa: SLF001
        r.close()  # the client goes away
        for i in range(5):
            rt.store.put("/configmaps", _cm(f"x{i}"), "ADDED")
            await asyncio.sleep(0.05)
        for _ in range(50):
            if len(rt.store._listeners) == before:  # noqa: SLF001
                break
            await asyncio.sleep(0.05)
        assert len(rt.store._listeners) == before  # noqa: SLF001

    run_api(tmp_path, scenario)
