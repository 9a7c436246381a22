"""The long polls' change signal, on a real event loop and its real timers."""

import asyncio
import time

from kraft.replication.change_signal import ChangeSignal, wait_any


def run(coro):
    return asyncio.run(coro)


def test_a_wait_ends_at_the_pulse_and_counts_it():
    async def main():
        signal = ChangeSignal()
        waiter = asyncio.create_task(signal.wait(30))
        await asyncio.sleep(0)
        assert not waiter.done()
        signal.pulse()
        await asyncio.wait_for(waiter, 5)
        return signal.version
    assert run(main()) == 1


def test_a_wait_without_a_pulse_ends_at_its_timeout():
    async def main():
        started = time.monotonic()
        await ChangeSignal().wait(0.05)
        return time.monotonic() - started
    assert run(main()) >= 0.05


def test_wait_any_ends_at_the_pulse_of_any_signal_and_leaves_no_waiter_behind():
    async def main():
        signals = [ChangeSignal() for _ in range(40)]
        waiter = asyncio.create_task(wait_any(signals, 30))
        await asyncio.sleep(0)
        signals[17].pulse()
        await asyncio.wait_for(waiter, 5)
        return [len(s._waiters) for s in signals]
    assert run(main()) == [0] * 40


def test_a_cancelled_wait_leaves_no_waiter_and_a_later_pulse_is_harmless():
    async def main():
        signals = [ChangeSignal(), ChangeSignal()]
        waiter = asyncio.create_task(wait_any(signals, 30))
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        left = [len(s._waiters) for s in signals]
        for s in signals:
            s.pulse()
        return waiter.cancelled(), left
    assert run(main()) == (True, [0, 0])


def test_one_pulse_wakes_every_waiter_of_a_signal():
    async def main():
        signal = ChangeSignal()
        waiters = [asyncio.create_task(signal.wait(30)) for _ in range(5)]
        await asyncio.sleep(0)
        signal.pulse()
        await asyncio.wait_for(asyncio.gather(*waiters), 5)
        return signal.version
    assert run(main()) == 1


def test_nothing_to_wait_for_returns_at_once():
    async def main():
        started = time.monotonic()
        await wait_any([], 30)
        await ChangeSignal().wait(0)
        return time.monotonic() - started
    assert run(main()) < 5
