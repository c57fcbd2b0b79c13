"""A node process gives the heap a burst freed back once the burst is over (node/__main__.release_heap)."""

from __future__ import annotations

import asyncio

import pytest

from kai_labs.sim.node.__main__ import malloc_trim, release_heap


def test_the_heap_is_trimmed_once_per_burst_after_it_goes_quiet() -> None:
    # the informer events counted at the start and after each quiet period
    script = [0, 0, 0, 3, 5, 5, 5, 9, 9]
    tick = 0
    trims: list[int] = []

    async def sleep(_s: float) -> None:
        nonlocal tick
        tick += 1
        if tick == len(script):
            raise asyncio.CancelledError

    def trim(_pad: int) -> int:
        trims.append(tick)
        return 1

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(release_heap(lambda: script[tick], trim, sleep=sleep))
    # the start is a burst (trimmed at the first quiet tick); 3 and 5 are one burst, trimmed when it stays
    # at 5; no trim while quiet after that; 9 is a new burst, trimmed a tick later
    assert trims == [1, 5, 8]


def test_malloc_trim_is_glibcs_or_absent() -> None:
    fn = malloc_trim()
    if fn is not None:  # glibc: returns 1 when memory was released, else 0
        assert fn(0) in (0, 1)
