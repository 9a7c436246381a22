"""Writes owned by the runtime, after Kafka's CoordinatorRuntime.scheduleWriteOperation.

An operation is a plain function of one shard: it reads the shard and returns the
records to append and the answer, and changes nothing. The runtime does the rest:

- one partition's operations run one at a time, in the order `write` was called; each
  runs once the previous one's records are in this node's log and replayed, so it sees
  every earlier operation's effects (Kafka's operations see its uncommitted state too);
- the records are appended as one batch with acks=all (a transactional batch of the
  producer when one is given) and replayed into the shard through its `replay`, the
  function a load replays the log with, the moment the batch is in this node's log;
- the answer is returned once the batch is committed (every in-sync replica has it).
  An operation with no records answers once everything it may have read is committed:
  the partition's append in flight, if any, and anything in the log above the high
  watermark (what a failed acks=all wait left, below). At once, as a rule.

A failed append: when the batch never reached this node's log, nothing is replayed and
the shard is what its log says (Kafka reverts to its last committed state). When the
batch reached the log and only the acks=all wait failed (its bound ran out, the
leadership moved), its records stay replayed, since the log holds them and a load would
find them; the caller still gets the error, and so does a later operation that reads
them while they are still not committed (a retry answered from them would tell the
client a change happened that a new leader may not have). A leadership that moves unloads the shard,
and the next leader loads it from its own log. A batch that lands after the partition
was loaded again (this node lost and regained the leadership meanwhile) is not in the
new shard: that shard is unloaded, to be loaded again with it.

Each write runs as a task the runtime owns: a caller that stops waiting never leaves an
operation half done, and the runtime's shutdown awaits it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from kraft.errors import KraftError
from kraft.storage.record import Record
from kraft.storage.record_batch import NO_SEQUENCE, encode_batch

NO_PRODUCER = -1  # the producer id replay() gets for a record of a non-transactional batch

T = TypeVar("T")


class ReplayShard(Protocol):
    def replay(self, record: Record, producer_id: int, /) -> None:
        """One record of the partition's log, in log order, with the producer of its
        batch when that is transactional (else NO_PRODUCER): what a load replays and
        what a write replays once its records are in the log."""


S = TypeVar("S", bound=ReplayShard)

# operation(shard): (records to append, the answer once they are committed)
Operation = Callable[[S], tuple[list[Record], T]]
# append(partition, batch, timestamp, on_appended): acks=all; on_appended(base offset) once in this node's log
AppendBatch = Callable[[int, bytes, int, Callable[[int], None]], Awaitable[int]]
Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


@dataclass(frozen=True)
class TxnProducer:
    """The producer whose transactional batch the records go in (a transaction's offset commits)."""

    producer_id: int
    producer_epoch: int


class ShardWrites(Generic[S]):
    def __init__(self, shard: Callable[[int], S | None], append: AppendBatch, spawn: Spawn,
                 not_loaded: Callable[[int], KraftError], reload: Callable[[int], None],
                 log_committed: Callable[[int, S], Awaitable[None]]):
        """shard(p): partition p's shard, None when not loaded; not_loaded(p): the error
        for an operation whose partition is not loaded; reload(p): unload p's shard (the
        next tick loads it again); log_committed(p, shard): once all of p's log here is
        committed, that shard still loaded (raises when not, or not in its bound)."""
        self._shard = shard
        self._append = append
        self._spawn = spawn
        self._not_loaded = not_loaded
        self._reload = reload
        self._log_committed = log_committed
        # partition -> the turn of its last operation: done once that operation's records
        # are in the log and replayed, or it ended without
        self._turns: dict[int, asyncio.Future[None]] = {}
        self._appending: dict[int, asyncio.Task[Any]] = {}  # partition -> its last write that appended

    async def write(self, p: int, operation: Operation[S, T], producer: TxnProducer | None = None,
                    name: str = "write", settle: bool = True) -> T:
        """settle=False: an operation that returns no records answers without waiting for
        what it read to be committed (a duty's look, which no client waits on)."""
        if p not in self._turns:
            # its turn now: the operation runs at once, and only an append needs a task (a
            # tick that looks at every group and changes none spawns nothing)
            shard, records, answer = self._operate(p, operation)
            if not records:
                if settle:
                    await self._settled(p, shard)
                return answer
            return await self._queue(p, lambda turn: self._append_records(p, shard, records, answer, producer, turn),
                                     name)
        previous = self._turns[p]
        return await self._queue(p, lambda turn: self._run(p, operation, producer, previous, turn, settle), name)

    async def _queue(self, p: int, make: Callable[[asyncio.Future[None]], Coroutine[Any, Any, T]], name: str) -> T:
        """A task of the runtime's that takes the partition's next turn."""
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task: asyncio.Task[T] = self._spawn(make(turn), f"{name}-{p}")
        self._turns[p] = turn  # once spawned: a refused write takes no turn
        task.add_done_callback(lambda _: self._end_turn(p, turn))
        return await asyncio.shield(task)

    def _end_turn(self, p: int, turn: asyncio.Future[None]) -> None:
        if not turn.done():
            turn.set_result(None)
        if self._turns.get(p) is turn:
            del self._turns[p]

    def _operate(self, p: int, operation: Operation[S, T]) -> tuple[S, list[Record], T]:
        shard = self._shard(p)
        if shard is None:
            raise self._not_loaded(p)
        records, answer = operation(shard)
        return shard, records, answer

    async def _settled(self, p: int, shard: S) -> None:
        """Once everything an operation with no records may have read (from `shard`) is
        committed: the partition's append in flight, if any, then the rest of its log."""
        appending = self._appending.get(p)
        if appending is not None and not appending.done():
            await asyncio.shield(appending)
        await self._log_committed(p, shard)

    async def _run(self, p: int, operation: Operation[S, T], producer: TxnProducer | None,
                   previous: asyncio.Future[None], turn: asyncio.Future[None], settle: bool) -> T:
        await previous
        shard, records, answer = self._operate(p, operation)
        if not records:
            self._end_turn(p, turn)
            if settle:
                await self._settled(p, shard)
            return answer
        return await self._append_records(p, shard, records, answer, producer, turn)

    async def _append_records(self, p: int, shard: S, records: list[Record], answer: T, producer: TxnProducer | None,
                              turn: asyncio.Future[None]) -> T:
        producer_id = producer.producer_id if producer is not None else NO_PRODUCER
        if producer is not None:
            batch = encode_batch(records, 0, -1, producer.producer_id, producer.producer_epoch, NO_SEQUENCE,
                                 is_transactional=True)
        else:
            batch = encode_batch(records, 0, -1)

        def appended(base: int) -> None:
            try:
                if self._shard(p) is not shard:
                    self._reload(p)  # loaded again before this batch landed: it missed it
                    return
                for i, record in enumerate(records):
                    shard.replay(dataclasses.replace(record, offset=base + i), producer_id)
            finally:
                self._end_turn(p, turn)

        me = asyncio.current_task()
        assert me is not None
        self._appending[p] = me
        try:
            await self._append(p, batch, max(r.timestamp_ms for r in records), appended)
        finally:
            if self._appending.get(p) is me:
                del self._appending[p]
        return answer
