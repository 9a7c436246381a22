"""acks=all writers wake when the high watermark covers their last offset, and only then;
all of them when leadership moves (kraft/replication/commit_waiters.py)."""

from __future__ import annotations

import asyncio

from kraft.replication.commit_waiters import CommitWaiters


async def test_an_hw_advance_wakes_exactly_the_writers_it_covers():
    waiters = CommitWaiters()
    futures = {offset: waiters.past(offset) for offset in (5, 1, 9, 3)}  # a retried batch may come late
    waiters.release_below(4)  # offsets 0..3 committed
    await asyncio.sleep(0)
    assert {o for o, f in futures.items() if f.done()} == {1, 3}
    waiters.release_below(6)
    assert {o for o, f in futures.items() if f.done()} == {1, 3, 5}
    assert len(waiters) == 1


async def test_a_writer_that_gave_up_is_skipped_and_a_role_change_wakes_everyone():
    waiters = CommitWaiters()
    gave_up = waiters.past(2)
    gave_up.cancel()  # its deadline passed
    rest = [waiters.past(offset) for offset in (7, 8)]
    waiters.release_below(3)  # the cancelled one is dropped without error
    assert not any(f.done() for f in rest)
    waiters.release_all()  # leadership moved: each checks what happened
    assert all(f.done() for f in rest) and len(waiters) == 0
