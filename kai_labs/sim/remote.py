"""client-go for components in another process than the API server: informers, writes, events over HTTPS.

A node process (``sim/node/__main__.py``) reaches the cluster only as a kubelet does: list then watch
through the API server into a local cache (an informer: client-go ``tools/cache/reflector.go``, re-listing
when a watch ends with 410 Gone or the server closes it), and writes through the API (the kubelet's status
manager, ``pkg/kubelet/status/status_manager.go``: the latest status of each Pod, sent in the background,
retried on a conflict; the final DELETE with grace 0 on the Pod's uid). Events are aggregated here (count,
lastTimestamp) and sent from a bounded queue; like client-go's broadcaster, events beyond the queue are
dropped rather than ever blocking the kubelet.

``Cache`` reads like ``clientset.Lister`` and publishes ``storage.store.Event`` values, so the kubelet and
the network code run unchanged on either side of the process boundary.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp

from .events import identity, new_event
from .registry.generic import now_iso
from .storage.store import Event, Obj, clone, decode, encode

log = logging.getLogger("kai_labs.remote")

# storage key -> the collection's path
PATHS = {
    "/pods": "/api/v1/pods",
    "/services": "/api/v1/services",
    "/nodes": "/api/v1/nodes",
    "/namespaces": "/api/v1/namespaces",
    "/configmaps": "/api/v1/configmaps",
    "discovery.k8s.io/endpointslices": "/apis/discovery.k8s.io/v1/endpointslices",
    "networking.k8s.io/networkpolicies": "/apis/networking.k8s.io/v1/networkpolicies",  # the node's CNI enforces them
}
EVENTS_QUEUE = 1000  # client-go's broadcaster queue (maxQueuedEvents)


class ApiConnection:
    """Connections to the API server with the component's bearer token: over HTTPS to ``https://...``, or
    over the API's loopback Unix socket (a path) as the cluster's own node processes do. TLS costs each
    connection some 200 KB in asyncio and OpenSSL, and a node holds one connection per watch."""

    def __init__(self, server: str, token: str, ctx: ssl.SSLContext | None = None) -> None:
        self._unix = None if server.startswith("https://") else server
        self.server = "http://kubernetes" if self._unix else server.rstrip("/")
        self._ssl = ctx  # HTTPS: verifies the serving certificate against the cluster's CA (it names 127.0.0.1)
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": "kubelet/kai-labs"}
        self.session: aiohttp.ClientSession | None = None  # requests: a few pooled connections
        self.watches: aiohttp.ClientSession | None = None  # one connection per watch, held open

    def _connector(self, limit: int) -> aiohttp.BaseConnector:
        if self._unix:
            return aiohttp.UnixConnector(path=self._unix, limit=limit, keepalive_timeout=5.0)
        return aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True, limit=limit,
                                    keepalive_timeout=5.0)

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:
            self.session = aiohttp.ClientSession(headers=self._headers, connector=self._connector(6),
                                                 timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        return self.session

    def _watch_session(self) -> aiohttp.ClientSession:
        if self.watches is None:
            self.watches = aiohttp.ClientSession(headers=self._headers, connector=self._connector(0),
                                                 timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        return self.watches

    async def request(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
                      timeout: float = 10.0) -> tuple[int, Any]:
        data = None if body is None else encode(body).encode()
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self._session().request(method, self.server + path, data=data, headers=headers,
                                           timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            text = await resp.read()
            try:
                return resp.status, decode(text) if text else None
            except ValueError:
                return resp.status, None

    async def watch(self, path: str) -> aiohttp.ClientResponse:
        return await self._watch_session().get(self.server + path, timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=5, sock_read=None))

    async def close(self) -> None:
        for s in (self.session, self.watches):
            if s is not None:
                await s.close()
        self.session = self.watches = None


class Cache:
    """Informers for a set of storage keys: a local copy kept current by list + watch."""

    def __init__(self, conn: ApiConnection, keys: list[str], selectors: dict[str, str] | None = None) -> None:
        self.conn = conn
        self.keys = keys
        self.selectors = selectors or {}  # key -> fieldSelector (a kubelet: spec.nodeName=<its node>)
        self._objs: dict[str, dict[tuple[str, str], Obj]] = {k: {} for k in keys}
        self._subs: list[Callable[[Event], None]] = []
        self.rv = 0
        self._synced: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # -- lister ----------------------------------------------------------------
    def subscribe(self, fn: Callable[[Event], None]) -> None:
        self._subs.append(fn)

    def get(self, key: str, ns: str, name: str) -> Obj | None:
        o = self._objs.get(key, {}).get((ns, name))
        return clone(o) if o is not None else None

    def peek(self, key: str, ns: str, name: str) -> Obj | None:
        return self._objs.get(key, {}).get((ns, name))

    def iter(self, key: str, ns: str | None = None) -> Iterator[Obj]:
        objs = self._objs.get(key, {})
        for k in sorted(objs):
            if ns is None or k[0] == ns:
                yield objs[k]

    def scan(self, key: str, ns: str | None = None) -> Iterator[Obj]:
        for k, o in list(self._objs.get(key, {}).items()):
            if ns is None or k[0] == ns:
                yield o

    def count(self, key: str, ns: str | None = None) -> int:
        return sum(1 for _ in self.scan(key, ns))

    def resource_version(self) -> int:
        return self.rv

    # -- reflectors ------------------------------------------------------------
    async def start(self, timeout: float = 20.0) -> None:
        """List every key, then keep watching in the background; returns once all are listed."""
        for key in self.keys:
            self._synced[key] = asyncio.Event()
            self._tasks.append(asyncio.get_running_loop().create_task(self._reflect(key)))
        async def synced() -> None:  # one coroutine, not a gather: cancelled (a node stopped while starting),
            for e in list(self._synced.values()):  # a gather logged "exception was never retrieved"
                await e.wait()

        await asyncio.wait_for(synced(), timeout)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t

    def _publish(self, ev: Event) -> None:
        for fn in list(self._subs):
            try:
                fn(ev)
            except Exception:
                log.exception("a subscriber failed on %s %s", ev.type, ev.key)

    def _apply(self, key: str, etype: str, obj: Obj) -> None:
        md = obj.get("metadata") or {}
        k = (md.get("namespace", ""), md.get("name", ""))
        rv = int(md.get("resourceVersion") or 0)
        self.rv = max(self.rv, rv)
        if etype == "DELETED":
            self._objs[key].pop(k, None)
        else:
            self._objs[key][k] = obj
        self._publish(Event(rv, etype, key, obj))

    def _path(self, key: str) -> str:
        sel = self.selectors.get(key)
        return PATHS[key] + (f"?fieldSelector={urllib.parse.quote(sel, safe='=,')}" if sel else "")

    async def _list(self, key: str) -> int:
        status, body = await self.conn.request("GET", self._path(key), timeout=30.0)
        if status != 200 or not isinstance(body, dict):
            raise ConnectionError(f"list {key}: HTTP {status}")
        kind = str(body.get("kind", "List")).removesuffix("List")
        api_version = str(body.get("apiVersion", "v1"))
        fresh: dict[tuple[str, str], Obj] = {}
        for item in body.get("items") or []:
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
            md = item["metadata"]
            fresh[(md.get("namespace", ""), md["name"])] = item
        old = self._objs[key]
        for k, o in list(old.items()):  # what went away while we were not watching
            if k not in fresh:
                self._apply(key, "DELETED", o)
        for k, o in fresh.items():
            prev = old.get(k)
            if prev is None:
                self._apply(key, "ADDED", o)
            elif prev.get("metadata", {}).get("resourceVersion") != o["metadata"].get("resourceVersion"):
                self._apply(key, "MODIFIED", o)
        rv = int(body.get("metadata", {}).get("resourceVersion") or 0)
        self.rv = max(self.rv, rv)
        return rv

    async def _reflect(self, key: str) -> None:
        delay = 0.2
        rv: int | None = None
        while True:
            try:
                if rv is None:
                    rv = await self._list(key)
                    self._synced[key].set()
                rv = await self._watch(key, rv)
                delay = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the API is away (restart, overload): back off, then re-list
                log.info("watch %s: %s; re-listing in %.1fs", key, e, delay)
                rv = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _watch(self, key: str, rv: int) -> int | None:
        """Follow one watch until it ends: the next resourceVersion to watch from, or None to re-list."""
        path = f"{self._path(key)}{'&' if key in self.selectors else '?'}watch=true&allowWatchBookmarks=true" \
               f"&resourceVersion={rv}&timeoutSeconds=300"
        resp = await self.conn.watch(path)
        try:
            if resp.status == 410:
                return None
            if resp.status != 200:
                raise ConnectionError(f"watch {key}: HTTP {resp.status}")
            buf = b""
            async for chunk in resp.content.iter_any():
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    ev = decode(line)  # objects the informer keeps: orjson's shared keys (storage/store.py)
                    etype, obj = ev.get("type"), ev.get("object") or {}
                    if etype == "ERROR":
                        return None if obj.get("code") == 410 else rv
                    new_rv = int(obj.get("metadata", {}).get("resourceVersion") or rv)
                    rv = max(rv, new_rv)
                    if etype == "BOOKMARK":
                        self.rv = max(self.rv, rv)
                        continue
                    self._apply(key, str(etype), obj)
            return rv
        finally:
            resp.release()


class PodWriter:
    """The kubelet's writes: each Pod's latest status and its final delete, in order, in the background."""

    def __init__(self, conn: ApiConnection, cache: Cache) -> None:
        self.conn = conn
        self.cache = cache
        self._status: dict[tuple[str, str], Obj] = {}
        self._delete: dict[tuple[str, str], str | None] = {}
        self._written: dict[tuple[str, str], tuple[int, Obj]] = {}  # our last write: (its rv, the status)
        self._inflight: dict[tuple[str, str], Obj] = {}  # being sent now
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    def update_status(self, kind: str, obj: Obj) -> None:
        md = obj["metadata"]
        key = (md.get("namespace", ""), md["name"])
        cur = self.cache.peek("/pods", *key)
        written = self._written.get(key)
        if (written is not None and cur is not None and written[1] == obj["status"]
                and int(cur["metadata"].get("resourceVersion") or 0) < written[0]):
            return  # what we wrote last; the cache has not seen it yet
        self._status[key] = clone(obj["status"])
        self._kick(key)

    def own_status(self, ns: str, name: str) -> Obj | None:
        """The status queued or written last, while the cache has not caught up with it."""
        key = (ns, name)
        if key in self._status:
            return self._status[key]
        if key in self._inflight:
            return self._inflight[key]
        written = self._written.get(key)
        if written is None:
            return None
        cur = self.cache.peek("/pods", ns, name)
        if cur is not None and int(cur["metadata"].get("resourceVersion") or 0) < written[0]:
            return written[1]
        if cur is not None and key not in self._tasks:
            del self._written[key]  # the cache has caught up: our copy of the status is no longer needed
        return None

    def remove_pod(self, ns: str, name: str, uid: str | None = None) -> None:
        self._delete[(ns, name)] = uid
        self._kick((ns, name))

    def _kick(self, key: tuple[str, str]) -> None:
        t = self._tasks.get(key)
        if t is None or t.done():
            self._tasks[key] = asyncio.get_running_loop().create_task(self._drain(key))

    async def _drain(self, key: tuple[str, str]) -> None:
        delay = 0.5
        while key in self._status or key in self._delete:
            try:
                if key in self._status:
                    status = self._status.pop(key)
                    self._inflight[key] = status
                    done = False
                    try:
                        done = await self._put_status(key, status)
                    finally:
                        self._inflight.pop(key, None)
                        if not done:  # refused, timed out or cut off: still to be written (unless newer came)
                            self._status.setdefault(key, status)
                    if not done:
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 10.0)
                        continue
                elif key in self._delete:
                    uid = self._delete[key]
                    await self._remove(key, uid)
                    if self._delete.get(key) == uid:
                        del self._delete[key]
                delay = 0.5
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                log.info("pod %s/%s: %s; retrying", *key, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        self._tasks.pop(key, None)

    async def _put_status(self, key: tuple[str, str], status: Obj) -> bool:
        """True when done (written, or the Pod is gone); False to retry later."""
        ns, name = key
        path = f"/api/v1/namespaces/{ns}/pods/{name}/status"
        cur = self.cache.peek("/pods", ns, name)
        if cur is None:
            return True
        rv = int(cur["metadata"].get("resourceVersion") or 0)
        written = self._written.get(key)
        if written is not None:
            rv = max(rv, written[0])
        for _ in range(3):
            body = {"apiVersion": "v1", "kind": "Pod", "status": status,
                    "metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv)}}
            code, answer = await self.conn.request("PUT", path, body)
            if code == 200 and isinstance(answer, dict):
                self._written[key] = (int(answer["metadata"]["resourceVersion"]), status)
                return True
            if code == 404:
                self._written.pop(key, None)
                return True
            if code != 409:
                log.info("status of %s/%s: HTTP %s %s", ns, name, code, (answer or {}).get("message", ""))
                return False
            code, fresh = await self.conn.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
            if code == 404:
                return True
            if code != 200 or not isinstance(fresh, dict):
                return False
            rv = int(fresh["metadata"]["resourceVersion"])
        return False

    async def _remove(self, key: tuple[str, str], uid: str | None) -> None:
        ns, name = key
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
        if uid:
            body["preconditions"] = {"uid": uid}
        code, answer = await self.conn.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}", body)
        if code not in (200, 202, 404, 409):
            log.info("delete %s/%s: HTTP %s %s", ns, name, code, (answer or {}).get("message", ""))
        self._written.pop(key, None)

    async def flush(self, timeout: float) -> None:
        """Wait (at most ``timeout``) for what is queued to be written."""
        pending = [t for t in self._tasks.values() if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)


class EventSender:
    """client-go's event recorder across the process boundary: counted repeats, a bounded queue."""

    def __init__(self, conn: ApiConnection, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock
        self._index: dict[tuple[str, str, str, str, str], Obj] = {}
        self._queue: collections.deque[tuple[str, Obj]] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def event(self, obj: Obj, etype: str, reason: str, message: str, component: str,
              host: str = "", field_path: str = "") -> None:
        now = now_iso(self.clock)
        ident = identity(obj, reason, message, field_path)
        known = self._index.get(ident)
        if known is not None:
            known["count"] = int(known.get("count", 1)) + 1
            known["lastTimestamp"] = now
            self._send("PATCH", known)
            return
        ev = new_event(obj, etype, reason, message, component, host, field_path, now,
                       format(int(self.clock() * 1e9), "x"))
        if len(self._index) > 4096:  # the correlator's cache is an LRU in client-go
            self._index.pop(next(iter(self._index)))
        self._index[ident] = ev
        self._send("POST", ev)

    def _send(self, method: str, ev: Obj) -> None:
        if len(self._queue) >= EVENTS_QUEUE:
            self.dropped += 1
            return
        self._queue.append((method, ev))
        self._wake.set()
        if self._task is None or self._task.done():
            with contextlib.suppress(RuntimeError):
                self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._queue:
            method, ev = self._queue.popleft()
            ns = ev["metadata"]["namespace"]
            try:
                if method == "POST":
                    await self.conn.request("POST", f"/api/v1/namespaces/{ns}/events", ev)
                else:
                    await self.conn.request("PATCH", f"/api/v1/namespaces/{ns}/events/{ev['metadata']['name']}",
                                            {"count": ev["count"], "lastTimestamp": ev["lastTimestamp"]},
                                            content_type="application/merge-patch+json")
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                log.debug("event %s: %s", ev["reason"], e)
