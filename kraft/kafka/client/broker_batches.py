"""Requests one broker sends another, batched per destination (Kafka's inter-broker send
threads: the transaction marker channel, AddPartitionsToTxnManager).

Callers hand in one item each (a marker, a partition to verify) and wait for its answer.
Per destination broker one request is in flight at a time, over one connection; what
arrives meanwhile waits and goes out together in the next request, so many transactions
ending at once cost one round trip per broker, not one each. Two items that one request
cannot carry together (the same transactional id twice, the same producer's markers)
go in successive requests, in the order they came. A caller that stops waiting (its
deadline) leaves its item's answer unread; the batch goes on.

Owned by the node: close() ends every sender and fails what still waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from kraft.kafka.client.broker_client import BrokerConnection, BrokerUnreachable

Item = TypeVar("Item")

# send(connection, items) -> one answer per item, in order: a value or an exception
Send = Callable[[BrokerConnection, list[Any]], Awaitable[list[Any]]]


class BrokerBatches(Generic[Item]):
    def __init__(self, connect: Callable[[int], BrokerConnection], send: Send,
                 conflict_key: Callable[[Item], Hashable]) -> None:
        self._connect = connect
        self._send = send
        self._conflict_key = conflict_key
        self._waiting: dict[int, list[tuple[Item, asyncio.Future]]] = {}
        self._senders: dict[int, asyncio.Task] = {}
        self._in_flight: dict[int, list[tuple[Item, asyncio.Future]]] = {}
        self._connections: dict[int, BrokerConnection] = {}
        self._closed = False

    async def call(self, destination: int, item: Item) -> Any:
        if self._closed:
            raise BrokerUnreachable("this node is shutting down")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(destination, []).append((item, future))
        if destination not in self._senders:
            self._senders[destination] = asyncio.create_task(self._drain(destination),
                                                             name=f"broker-batches-{destination}")
        return await future

    def _next_batch(self, destination: int) -> list[tuple[Item, asyncio.Future]]:
        """Every waiting item one request can carry, oldest first; the rest keep waiting."""
        waiting = self._waiting.get(destination, [])
        batch: list[tuple[Item, asyncio.Future]] = []
        later: list[tuple[Item, asyncio.Future]] = []
        keys: set[Hashable] = set()
        for item, future in waiting:
            if future.done():
                continue  # its caller stopped waiting
            key = self._conflict_key(item)
            (later if key in keys else batch).append((item, future))
            keys.add(key)
        self._waiting[destination] = later
        return batch

    async def _drain(self, destination: int) -> None:
        try:
            while batch := self._next_batch(destination):
                connection = self._connections.get(destination)
                if connection is None:
                    connection = self._connections[destination] = self._connect(destination)
                self._in_flight[destination] = batch
                try:
                    answers = await self._send(connection, [item for item, _ in batch])
                except Exception as exc:  # unreachable, or an answer that is not one: each caller learns it
                    answers = [exc] * len(batch)
                del self._in_flight[destination]
                for (_, future), answer in zip(batch, answers):
                    if not future.done():
                        if isinstance(answer, BaseException):
                            future.set_exception(answer)
                        else:
                            future.set_result(answer)
        finally:
            self._senders.pop(destination, None)
            if not self._closed and self._waiting.get(destination):  # came in as this one ended
                self._senders[destination] = asyncio.create_task(self._drain(destination),
                                                                 name=f"broker-batches-{destination}")

    async def close(self) -> None:
        self._closed = True
        senders = list(self._senders.values())
        for task in senders:
            task.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        for waiting in [*self._waiting.values(), *self._in_flight.values()]:
            for _, future in waiting:
                if not future.done():
                    future.set_exception(BrokerUnreachable("this node is shutting down"))
        self._waiting.clear()
        self._in_flight.clear()
        for connection in self._connections.values():
            await connection.close()
        self._connections.clear()
