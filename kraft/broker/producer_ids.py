"""Handing out producer ids on a broker: from a block the controller granted.

One controller round trip per BLOCK_SIZE producers (Kafka's ProducerIdManager). The
block is the node's only state here; a restart asks for a new block and the rest of
the old one is simply never used.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable

from kraft.errors import Retriable, StaleBrokerEpoch

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


_allocators: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def allocator_for(node) -> ProducerIdAllocator:
    """The node's allocator, made on first use (kept beside the node, not in it)."""
    allocator = _allocators.get(node)
    if allocator is None:
        allocator = _allocators[node] = ProducerIdAllocator(lambda: _request_block(node))
    return allocator


async def _request_block(node) -> dict:
    epoch = node.lifecycle.broker_epoch if node.lifecycle is not None else None
    if epoch is None:
        raise Retriable(f"node {node.node_id} has not registered as a broker yet; retry")
    try:
        return await node.controller_call("allocate_producer_ids",
                                          {"broker_id": node.node_id, "broker_epoch": epoch})
    except StaleBrokerEpoch:
        raise Retriable(f"node {node.node_id} is registering again; retry") from None
