"""Requests between brokers batched per destination (kraft/kafka/client/broker_batches.py): what
arrives while a request is out goes in the next one, together; items one request cannot
carry together go in successive ones, in order; a failed request fails its own items
only; close() ends the senders and fails what waits. The sending is a coroutine that
records each request (the batching is the subject, not a connection)."""

from __future__ import annotations

import asyncio

import pytest

from kraft.kafka.client.broker_batches import BrokerBatches
from kraft.kafka.client.broker_client import BrokerConnection, BrokerUnreachable


class Recorder:
    """The requests sent, per destination; each waits for `release` before it answers."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, list[tuple[str, int]]]] = []
        self.release = asyncio.Event()
        self.fail_next = False

        self.destination_of: dict[int, int] = {}

    def connect(self, destination: int) -> BrokerConnection:
        connection = BrokerConnection(lambda: None, f"to-{destination}")  # never dialed here
        self.destination_of[id(connection)] = destination
        return connection

    async def send(self, connection, items):
        self.sent.append((self.destination_of[id(connection)], list(items)))
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise BrokerUnreachable("reset")
        return [f"{name}:{n}" for name, n in items]


def batches(recorder: Recorder) -> BrokerBatches:
    return BrokerBatches(recorder.connect, recorder.send, conflict_key=lambda item: item[0])


def test_what_arrives_while_a_request_is_out_goes_out_together_next():
    async def scenario():
        r = Recorder()
        b = batches(r)
        first = asyncio.create_task(b.call(1, ("a", 1)))
        await asyncio.sleep(0)
        later = [asyncio.create_task(b.call(1, (name, 2))) for name in ("b", "c", "d")]
        elsewhere = asyncio.create_task(b.call(2, ("e", 1)))
        await asyncio.sleep(0.01)
        assert r.sent == [(1, [("a", 1)]), (2, [("e", 1)])]  # one in flight per destination
        r.release.set()
        assert await asyncio.gather(first, *later, elsewhere) == ["a:1", "b:2", "c:2", "d:2", "e:1"]
        assert r.sent[2:] == [(1, [("b", 2), ("c", 2), ("d", 2)])]
        await b.close()

    asyncio.run(scenario())


def test_items_one_request_cannot_carry_together_go_in_order():
    async def scenario():
        r = Recorder()
        r.release.set()
        b = batches(r)
        answers = await asyncio.gather(*(b.call(1, item) for item in (("a", 1), ("a", 2), ("b", 1), ("a", 3))))
        assert answers == ["a:1", "a:2", "b:1", "a:3"]
        assert [items for _, items in r.sent] == [[("a", 1), ("b", 1)], [("a", 2)], [("a", 3)]]
        await b.close()

    asyncio.run(scenario())


def test_a_failed_request_fails_its_own_items_only():
    async def scenario():
        r = Recorder()
        b = batches(r)
        r.fail_next = True
        doomed = asyncio.create_task(b.call(1, ("a", 1)))
        await asyncio.sleep(0)
        fine = asyncio.create_task(b.call(1, ("b", 1)))
        r.release.set()
        with pytest.raises(BrokerUnreachable):
            await doomed
        assert await fine == "b:1"
        await b.close()

    asyncio.run(scenario())


def test_close_fails_what_waits_and_takes_nothing_more():
    async def scenario():
        r = Recorder()
        b = batches(r)
        out = asyncio.create_task(b.call(1, ("a", 1)))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(b.call(1, ("b", 1)))
        await asyncio.sleep(0)
        await b.close()
        for task in (out, waiting):
            with pytest.raises(BrokerUnreachable):
                await task
        with pytest.raises(BrokerUnreachable):
            await b.call(1, ("c", 1))

    asyncio.run(scenario())
