"""One watch stream: store events for one resource, filtered, written as watch frames.

Follows the cacheWatcher of staging/src/k8s.io/apiserver/pkg/storage/cacher (cache_watcher.go,
cacher.go ``dispatchEvent``, time_budget.go, watch_cache.go ``suggestedWatchChannelSize``):

- Events wait in a bounded buffer between the store and the client. kube-apiserver gives each
  watcher channels of ``chanSize`` events (10 to 100 for a watch no index serves); when they are
  full, the dispatcher waits a short time budget (at most 100 ms) for the watcher to take the event
  and otherwise terminates it ("Forcing ... watcher close due to unresponsiveness"). Here a watcher
  with ``CHAN_SIZE`` or more events waiting whose client has not taken a frame for ``BUDGET``
  seconds is closed the same way; so is one that ever has ``BOUND`` events waiting (a burst it
  cannot have read: the memory bound). The budget is longer than kube-apiserver's because here a
  blocked watcher delays no other (the store never waits for a watcher); the budget only tells a
  client that stopped reading from one that is briefly behind a busy event loop.
- A closed watcher's buffer is dropped at once and its stream ends without an error frame (or, if
  its client stopped reading, the connection is dropped), so the client's reflector watches again
  from the last resourceVersion it saw, or lists again when that is gone (410). A slow reader
  therefore costs at most ``BOUND`` waiting events, never the whole history.
- Each event's object is encoded to JSON once, whichever watchers send it (the cacher's
  ``cachingObject`` does the same per serialization format); a watcher writes what is waiting in
  one chunk, so fifty watchers do not cost fifty encodings and fifty TLS records per event.

Frames are what kube-apiserver writes (endpoints/handlers/watch.go): one JSON
``{"type": ..., "object": ...}`` per line; BOOKMARK frames for ``sendInitialEvents``; with
``as=Table`` each object becomes a one-row Table and only the first carries the column
definitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from ..storage.store import HISTORY, Event, Store
from ..storage.store import _dumps as dumps

log = logging.getLogger("kai_labs.apiserver")

Obj = dict[str, Any]

# Events a watcher may have waiting at all: as many as the store keeps for resuming watches, so a
# watcher closed for falling behind can resume from its last resourceVersion whenever the history
# still reaches back to it.
BOUND = HISTORY
# cacher: maxWatchChanSizeWithoutIndex (100) for the input channel and as much again for the result
# channel; past this many waiting events a watcher must keep taking frames.
CHAN_SIZE = 200
# Seconds a watcher past CHAN_SIZE may go without its client taking a frame.
BUDGET = 1.0
# Frames and bytes written in one chunk at most (a chunk waits in the connection's buffer while a slow
# client reads it; a single larger frame is written alone).
BATCH = 64
BATCH_BYTES = 64 * 1024


class _Encoded:
    """JSON of the latest events' objects, shared by every watcher. Small on purpose: the watchers of an
    event send it within a few loop turns (one that is behind encodes again), and each entry keeps its
    object version alive."""

    def __init__(self, max_items: int = 256, max_bytes: int = 4 * 1024 * 1024) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[int, tuple[Obj, str, bytes]] = OrderedDict()

    def object_json(self, obj: Obj) -> bytes:
        """``obj`` as JSON bytes; encoded once while the same object (same version) is recent."""
        rv = obj.get("metadata", {}).get("resourceVersion", "")
        hit = self._items.get(id(obj))
        if hit is not None and hit[0] is obj and hit[1] == rv:
            return hit[2]
        data = dumps(obj).encode()
        old = self._items.pop(id(obj), None)
        if old is not None:
            self.size -= len(old[2])
        self._items[id(obj)] = (obj, rv, data)  # the object is held, so its id is not reused meanwhile
        self.size += len(data)
        while (self.size > self.max_bytes or len(self._items) > self.max_items) and self._items:
            _, (_, _, gone) = self._items.popitem(last=False)
            self.size -= len(gone)
        return data

    def frame(self, etype: str, obj: Obj) -> bytes:
        return b'{"type":"' + etype.encode() + b'","object":' + self.object_json(obj) + b"}\n"


ENCODED = _Encoded()


class WatchStream:
    """Subscribes on creation (before the caller lists, so no event falls in between); ``run``
    writes frames until the timeout, ``close`` or the watcher is closed for falling behind.

    ``abort``: drops the client's connection; called when the watcher is closed while a write to a
    client that stopped reading is still pending (the stream cannot end cleanly then)."""

    def __init__(self, store: Store, key: str, matches: Callable[[Obj], bool],
                 write: Callable[[bytes], Awaitable[None]], *,
                 table: Callable[[Obj], Obj] | None = None, bound: int | None = None,
                 abort: Callable[[], None] | None = None, name: str = "") -> None:
        self.key = key
        self.name = name or key.strip("/")
        self.matches = matches
        self.write = write
        self.table = table
        self.abort = abort
        self.bound = BOUND if bound is None else bound
        self.overflowed = False  # closed for falling behind: the client must watch again
        self.closed = False
        self.seen: set[tuple[str, str]] = set()
        self._pending: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._first = True
        self._writing_since: float | None = None  # a write to the client is pending since then
        self._clock = asyncio.get_running_loop().time
        self._cancel = store.subscribe(self._offer)

    # -- the store side ---------------------------------------------------------
    def _offer(self, ev: Event) -> None:
        if ev.key != self.key or self.closed:
            return
        waiting = len(self._pending)
        if waiting >= self.bound:
            self._unresponsive(f"{waiting} events waiting")
            return
        if waiting >= CHAN_SIZE and self._writing_since is not None:
            stuck = self._clock() - self._writing_since
            if stuck > BUDGET:
                self._unresponsive(f"{waiting} events waiting, no frame taken for {stuck:.1f}s")
                return
        self._pending.append(ev)
        self._wake.set()

    def _unresponsive(self, why: str) -> None:
        log.warning("Forcing %s watcher close due to unresponsiveness: %s", self.name, why)
        self.overflowed = True
        blocked = self._writing_since is not None
        self.close()
        if blocked and self.abort is not None:
            self.abort()

    def close(self) -> None:
        """Stop receiving events and end ``run``; what was buffered is dropped."""
        self.closed = True
        self._pending.clear()
        self._cancel()
        self._wake.set()

    def __len__(self) -> int:
        return len(self._pending)

    # -- the client side --------------------------------------------------------
    async def _write(self, data: bytes) -> None:
        self._writing_since = self._clock()
        try:
            await self.write(data)
        finally:
            self._writing_since = None

    def _frame(self, etype: str, obj: Obj) -> bytes:
        if self.table is None or etype == "BOOKMARK":
            if etype == "BOOKMARK":
                return dumps({"type": etype, "object": obj}).encode() + b"\n"
            return ENCODED.frame(etype, obj)
        o = self.table(obj)
        if not self._first:
            o["columnDefinitions"] = []
        self._first = False
        return dumps({"type": etype, "object": o}).encode() + b"\n"

    async def send(self, etype: str, obj: Obj) -> None:
        await self._write(self._frame(etype, obj))

    async def send_initial(self, objs: list[Obj]) -> None:
        chunk: list[bytes] = []
        size = 0
        for o in objs:
            self.seen.add((o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            chunk.append(self._frame("ADDED", o))
            size += len(chunk[-1])
            if len(chunk) >= BATCH or size >= BATCH_BYTES:
                await self._write(b"".join(chunk))
                chunk = []
                size = 0
        if chunk:
            await self._write(b"".join(chunk))

    def _event_frame(self, ev: Event) -> bytes | None:
        """The frame this watcher sends for ``ev`` (None: not for it), updating what it has seen."""
        ident = (ev.obj["metadata"].get("namespace", ""), ev.obj["metadata"]["name"])
        if ev.type == "DELETED":
            if ident in self.seen or self.matches(ev.obj):
                self.seen.discard(ident)
                return self._frame("DELETED", ev.obj)
            return None
        if self.matches(ev.obj):
            # A watch resumed from a resourceVersion has not seen the object before, yet it existed:
            # a change stays MODIFIED (only an object leaving the selection becomes DELETED).
            self.seen.add(ident)
            return self._frame(ev.type, ev.obj)
        if ident in self.seen:
            self.seen.discard(ident)
            return self._frame("DELETED", ev.obj)
        return None

    async def send_event(self, ev: Event) -> None:
        frame = self._event_frame(ev)
        if frame is not None:
            await self._write(frame)

    async def run(self, last_rv: int, timeout: float) -> None:
        """Write the buffered and coming events newer than ``last_rv`` until ``timeout`` seconds
        have passed, the stream is closed, or it fell behind (``overflowed``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while not self.closed:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                if not self._pending:
                    self._wake.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=min(remaining, 30))
                    continue
                chunk: list[bytes] = []
                size = 0
                while self._pending and len(chunk) < BATCH and size < BATCH_BYTES:
                    ev = self._pending.popleft()
                    if ev.rv <= last_rv:
                        continue
                    frame = self._event_frame(ev)
                    if frame is not None:
                        chunk.append(frame)
                        size += len(frame)
                if chunk:
                    await self._write(b"".join(chunk))
        finally:
            self._cancel()
