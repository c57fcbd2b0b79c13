"""One watch stream: store events for one resource, filtered, written as watch frames.

Follows the cacheWatcher of staging/src/k8s.io/apiserver/pkg/storage/cacher (cache_watcher.go):
events wait in a BOUNDED buffer between the store and the client. A watcher that falls behind
past the bound is closed (``forget``: "Forcing watcher close due to unresponsiveness"): its
buffer is dropped at once and the stream ends without an error frame, so the client's reflector
watches again from the last resourceVersion it saw, or re-lists when that is gone (410).
A slow reader therefore costs at most ``bound`` events of memory, never the whole history.

Frames are what kube-apiserver writes (endpoints/handlers/watch.go): one JSON
``{"type": ..., "object": ...}`` per line; BOOKMARK frames for ``sendInitialEvents``; with
``as=Table`` each object becomes a one-row Table and only the first carries the column
definitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ..storage.store import HISTORY, Event, Store
from ..storage.store import _dumps as dumps

log = logging.getLogger("kai_labs.apiserver")

Obj = dict[str, Any]

# The bound: as many events as the store keeps for resuming watches. A watcher closed for falling
# behind can resume from its last resourceVersion whenever the history still reaches back to it.
BOUND = HISTORY


class WatchStream:
    """Subscribes on creation (before the caller lists, so no event falls in between); ``run``
    writes frames until the timeout, ``close`` or the bound is exceeded."""

    def __init__(self, store: Store, key: str, matches: Callable[[Obj], bool],
                 write: Callable[[bytes], Awaitable[None]], *,
                 table: Callable[[Obj], Obj] | None = None, bound: int | None = None) -> None:
        self.key = key
        self.matches = matches
        self.write = write
        self.table = table
        self.bound = BOUND if bound is None else bound
        self.overflowed = False  # closed for falling behind: the client must watch again
        self.closed = False
        self.seen: set[tuple[str, str]] = set()
        self._pending: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._first = True
        self._cancel = store.subscribe(self._offer)

    # -- the store side ---------------------------------------------------------
    def _offer(self, ev: Event) -> None:
        if ev.key != self.key or self.closed:
            return
        if len(self._pending) >= self.bound:
            log.warning("closing a watch on %s that fell %d events behind", self.key, self.bound)
            self.overflowed = True
            self.close()
            return
        self._pending.append(ev)
        self._wake.set()

    def close(self) -> None:
        """Stop receiving events and end ``run``; what was buffered is dropped."""
        self.closed = True
        self._pending.clear()
        self._cancel()
        self._wake.set()

    def __len__(self) -> int:
        return len(self._pending)

    # -- the client side --------------------------------------------------------
    async def send(self, etype: str, obj: Obj) -> None:
        o = obj
        if self.table is not None and etype != "BOOKMARK":
            o = self.table(obj)
            if not self._first:
                o["columnDefinitions"] = []
            self._first = False
        await self.write(dumps({"type": etype, "object": o}).encode() + b"\n")

    async def send_initial(self, objs: list[Obj]) -> None:
        for o in objs:
            self.seen.add((o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            await self.send("ADDED", o)

    async def send_event(self, ev: Event) -> None:
        ident = (ev.obj["metadata"].get("namespace", ""), ev.obj["metadata"]["name"])
        if ev.type == "DELETED":
            if ident in self.seen or self.matches(ev.obj):
                self.seen.discard(ident)
                await self.send("DELETED", ev.obj)
            return
        if self.matches(ev.obj):
            # A watch resumed from a resourceVersion has not seen the object before, yet it existed:
            # a change stays MODIFIED (only an object leaving the selection becomes DELETED).
            self.seen.add(ident)
            await self.send(ev.type, ev.obj)
        elif ident in self.seen:
            self.seen.discard(ident)
            await self.send("DELETED", ev.obj)

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
                ev = self._pending.popleft()
                if ev.rv <= last_rv:
                    continue
                await self.send_event(ev)
        finally:
            self._cancel()
