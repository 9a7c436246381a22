"""Handing out producer ids on a broker: from a block the controller granted.

One controller round trip per BLOCK_SIZE producers (Kafka's ProducerIdManager). The
block is the node's only state here; a restart asks for a new block and the rest of
the old one is simply never used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from kraft.errors import BrokerNotAvailable, StaleBrokerEpoch

RequestBlock = Callable[[], Awaitable[dict]]


class ProducerIdAllocator:
    def __init__(self, request_block: RequestBlock):
        """request_block() -> {"first_producer_id", "size"} from the controller."""
        self._request_block = request_block
        self._next = 0
        self._end = 0
        self._lock = asyncio.Lock()  # one block request at a time; others wait for it

    async def next_id(self) -> int:
        async with self._lock:
            if self._next >= self._end:
                block = await self._request_block()
                self._next = block["first_producer_id"]
                self._end = self._next + block["size"]
            pid = self._next
            self._next += 1
            return pid


def block_requester(node_id: int, broker_epoch: Callable[[], int | None],
                    controller_call: Callable[[str, dict], Awaitable[dict]]) -> RequestBlock:
    """Asks the controller for a block in this broker's name (its current epoch)."""
    async def request_block() -> dict:
        epoch = broker_epoch()
        if epoch is None:
            raise BrokerNotAvailable(f"node {node_id} has not registered as a broker yet; retry")
        try:
            return await controller_call("allocate_producer_ids",
                                         {"broker_id": node_id, "broker_epoch": epoch})
        except StaleBrokerEpoch:
            raise BrokerNotAvailable(f"node {node_id} is registering again; retry") from None
    return request_block
