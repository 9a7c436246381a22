"""Connections to other brokers for requests that run side by side (the REST door's
produce and reads at a partition's leader): each connection carries one request at a
time, as BrokerConnection does; a request takes an idle one or dials another, and gives
it back after. At most IN_USE_MAX per broker at once (more wait for one): a burst of REST
requests must not open more connections than the other broker's listener takes from one
address (max.connections.per.ip). A few idle ones per broker are kept for the next
requests; the node closes them all at shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from kraft.kafka.client.broker_client import BrokerConnection, BrokerUnreachable

IDLE_KEPT = 4  # per broker: what a steady stream of requests reuses
IN_USE_MAX = 64  # per broker, well below the default max.connections.per.ip (250)


class BrokerPool:
    def __init__(self, connect: Callable[[int], BrokerConnection]) -> None:
        self._connect = connect
        self._idle: dict[int, list[BrokerConnection]] = {}
        self._slots: dict[int, asyncio.Semaphore] = {}
        self._closed = False

    @asynccontextmanager
    async def lease(self, broker_id: int, wait_s: float) -> AsyncIterator[BrokerConnection]:
        """A connection to the broker for one request; BrokerUnreachable when none is free
        within wait_s (the request's own bound: it is not sent late)."""
        if self._closed:
            raise BrokerUnreachable("this node is shutting down")
        slots = self._slots.setdefault(broker_id, asyncio.Semaphore(IN_USE_MAX))
        try:
            async with asyncio.timeout(max(wait_s, 0.0)):
                await slots.acquire()
        except TimeoutError:
            raise BrokerUnreachable(f"no connection to broker {broker_id} free within {wait_s:.1f} s") from None
        try:
            idle = self._idle.setdefault(broker_id, [])
            while idle and idle[-1].closed_by_peer:  # a restarted broker's: of no use, not even once
                await idle.pop().close()
            connection = idle.pop() if idle else self._connect(broker_id)
            try:
                yield connection
            except BaseException:
                await connection.close()  # whatever it was in the middle of is of no use to the next
                raise
            if self._closed or len(idle) >= IDLE_KEPT:
                await connection.close()
            else:
                idle.append(connection)
        finally:
            slots.release()

    async def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                await connection.close()
        self._idle.clear()
