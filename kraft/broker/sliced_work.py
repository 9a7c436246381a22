"""The event loop's driver of sliced work (record_check.Sliced): a pause at each slice
boundary lets other requests and the node's heartbeats in; a codec's step runs on a
worker thread (its C code releases the GIL) while the loop goes on."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from kraft.storage.record_check import Sliced

T = TypeVar("T")


async def run_sliced(work: Sliced[T]) -> T:
    """What ``work`` returns. Offloaded steps run on the loop's default executor (the
    loop owns it and shuts it down on exit); their errors surface here, as they would
    inline."""
    result = None
    while True:
        try:
            step = work.send(result)
        except StopIteration as done:
            return done.value
        if step is None:
            await asyncio.sleep(0)
            result = None
        else:
            result = await asyncio.to_thread(step.run)
