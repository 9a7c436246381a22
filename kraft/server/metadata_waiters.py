"""Futures waiting for the local image to reach a metadata offset.

Woken on the event loop after each applied batch; a waiter whose offset has been
reached is resolved, the rest keep waiting until their own timeout.
"""

from __future__ import annotations

import asyncio
from typing import Callable


class MetadataWaiters:
    def __init__(self, current_offset: Callable[[], int]):
        self._current = current_offset
        self._waiting: list[tuple[int, asyncio.Future]] = []

    async def wait_for(self, offset: int, timeout_s: float) -> bool:
        if self._current() >= offset:
            return True
        fut = asyncio.get_running_loop().create_future()
        entry = (offset, fut)
        self._waiting.append(entry)
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(fut)
            return True
        except TimeoutError:
            return self._current() >= offset
        finally:
            if entry in self._waiting:
                self._waiting.remove(entry)

    def wake(self) -> None:
        if not self._waiting:
            return
        now = self._current()
        still = []
        for offset, fut in self._waiting:
            if offset <= now:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((offset, fut))
        self._waiting = still

    def close(self) -> None:
        for _, fut in self._waiting:
            if not fut.done():
                fut.cancel()
        self._waiting = []
