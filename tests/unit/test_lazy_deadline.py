"""The connection deadline the Kafka listener and the brokers' client read under: a wait
past it raises TimeoutError as asyncio.timeout's does, moving it later costs no timer,
and it never cancels anything outside a guarded wait."""

import asyncio
import time

import pytest

from kraft.kafka.wire.lazy_deadline import LazyDeadline


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_a_wait_past_its_deadline_raises_timeout_and_the_task_goes_on():
    async def main():
        deadline = LazyDeadline()
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            with deadline.until(time.monotonic() + 0.05):
                await asyncio.sleep(5)
        took = time.monotonic() - started
        assert asyncio.current_task().cancelling() == 0  # nothing left pending on the task
        with deadline.until(time.monotonic() + 5):  # the next wait is guarded afresh
            await asyncio.sleep(0.01)
        deadline.close()
        return took
    assert run(main()) < 4


def test_moving_the_deadline_later_keeps_each_wait_to_its_own():
    async def main():
        deadline = LazyDeadline()
        started = time.monotonic()
        for _ in range(6):  # together past the first deadline, each well within its own
            with deadline.until(time.monotonic() + 0.2):
                await asyncio.sleep(0.06)
        deadline.close()
        return time.monotonic() - started
    assert run(main()) > 0.2


def test_an_earlier_deadline_than_the_armed_one_is_kept():
    async def main():
        deadline = LazyDeadline()
        with deadline.until(time.monotonic() + 60):
            await asyncio.sleep(0)
        with pytest.raises(TimeoutError):
            with deadline.until(time.monotonic() + 0.05):
                await asyncio.sleep(5)
        deadline.close()
    run(main())


def test_no_cancellation_once_the_wait_is_over():
    async def main():
        deadline = LazyDeadline()
        with deadline.until(time.monotonic() + 0.05):
            await asyncio.sleep(0)
        await asyncio.sleep(0.2)  # past the deadline, outside any guarded wait
        deadline.close()
        return "not cancelled"
    assert run(main()) == "not cancelled"


def test_a_cancel_from_outside_stays_a_cancel():
    async def main():
        async def guarded():
            deadline = LazyDeadline()
            try:
                with deadline.until(time.monotonic() + 5):
                    await asyncio.sleep(5)
            finally:
                deadline.close()
        task = asyncio.create_task(guarded())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    run(main())


def test_guarded_waits_do_not_nest():
    async def main():
        deadline = LazyDeadline()
        with deadline.until(time.monotonic() + 5):
            with pytest.raises(RuntimeError):
                deadline.until(time.monotonic() + 1)
        deadline.close()
    run(main())
