"""Time for the cluster's components, injectable as in client-go's ``k8s.io/utils/clock``.

The kubelet's probe periods, grace periods and back-offs (image pulls 10 s doubling to 5 min,
CrashLoopBackOff) wait on a :class:`Clock`. :class:`RealClock` is the event loop's; :class:`FakeClock`
advances only when a test says so, so a 5-minute back-off is proved in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch (timestamps written into objects)."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring intervals."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        """Wait until ``event`` is set or ``timeout`` seconds pass; True if the event was set. Always
        suspends at least once (an already set event still lets the loop run others)."""
        ...


class RealClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        if event.is_set():
            await asyncio.sleep(0)
            return True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), max(0.0, timeout))
        return event.is_set()


class FakeClock:
    """Time stands still until :meth:`advance`; sleepers whose deadline has come are woken in order."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._wall0 = start
        self._t = 0.0
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._wall0 + self._t

    def monotonic(self) -> float:
        return self._t

    def waiters(self) -> int:
        """How many sleeps (and timed waits) are pending."""
        return sum(1 for *_, f in self._sleepers if not f.done())

    def next_deadline(self) -> float | None:
        pending = [t for t, _, f in self._sleepers if not f.done()]
        return min(pending) if pending else None

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._t + max(0.0, seconds), next(self._seq), fut))
        await fut

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        if event.is_set():
            await asyncio.sleep(0)
            return True
        sleeper = asyncio.ensure_future(self.sleep(timeout))
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waiter.cancel()
        return event.is_set()

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has come (they run at the loop's
        next turns: ``await asyncio.sleep(0)`` a few times, or :meth:`settle`)."""
        self._t += seconds
        while self._sleepers and self._sleepers[0][0] <= self._t:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def settle(self, turns: int = 20) -> None:
        """Let woken tasks run until they wait again."""
        for _ in range(turns):
            await asyncio.sleep(0)
