"""The pool of connections to other brokers (kraft/kafka/client/broker_pool.py): at most
IN_USE_MAX leased per broker at once, the rest wait their turn; a connection given back
is the next one handed out; a connection that failed in use is not; none after close."""

from __future__ import annotations

import asyncio

import pytest

from kraft.kafka.client.broker_client import BrokerConnection, BrokerUnreachable
from kraft.kafka.client.broker_pool import IN_USE_MAX, BrokerPool


def pool() -> tuple[BrokerPool, list[BrokerConnection]]:
    made: list[BrokerConnection] = []

    def connect(broker_id: int) -> BrokerConnection:
        made.append(BrokerConnection(lambda: None, f"to-{broker_id}"))  # never dialed here
        return made[-1]
    return BrokerPool(connect), made


def test_leases_per_broker_are_bounded_and_given_back_ones_reused():
    async def scenario():
        p, made = pool()
        release = asyncio.Event()
        holding = 0

        async def hold(broker_id: int) -> None:
            nonlocal holding
            async with p.lease(broker_id, 30):
                holding += 1
                await release.wait()

        tasks = [asyncio.create_task(hold(1)) for _ in range(IN_USE_MAX + 5)]
        other = asyncio.create_task(hold(2))
        await asyncio.sleep(0.01)
        assert holding == IN_USE_MAX + 1  # broker 1's extra five wait; broker 2 is not held up
        release.set()
        await asyncio.gather(*tasks, other)
        assert holding == IN_USE_MAX + 6
        assert len(made) == IN_USE_MAX + 1  # the five that waited took connections given back
        async with p.lease(1, 30) as again:
            assert again in made
        await p.close()

    asyncio.run(scenario())


def test_a_lease_waits_no_longer_than_the_request_may():
    async def scenario():
        p, _ = pool()
        release = asyncio.Event()

        async def hold() -> None:
            async with p.lease(1, 30):
                await release.wait()

        holders = [asyncio.create_task(hold()) for _ in range(IN_USE_MAX)]
        await asyncio.sleep(0.01)
        with pytest.raises(BrokerUnreachable, match="free within"):
            async with p.lease(1, 0.05):
                pass
        release.set()
        await asyncio.gather(*holders)
        await p.close()

    asyncio.run(scenario())


def test_a_connection_that_failed_in_use_is_not_handed_out_again_and_none_after_close():
    async def scenario():
        p, made = pool()
        with pytest.raises(RuntimeError):
            async with p.lease(1, 30):
                raise RuntimeError("the request failed")
        async with p.lease(1, 30) as fresh:
            assert fresh is made[1]
        await p.close()
        with pytest.raises(BrokerUnreachable):
            async with p.lease(1, 30):
                pass

    asyncio.run(scenario())
