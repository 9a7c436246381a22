"""One records request of a REST consumer instance: positions, reads, new positions.

A partition without a position starts at the group's committed offset, else where
auto.offset.reset says (earliest: log start; latest: high watermark; none: an error).
A position the log no longer has (retention, or truncation after an unclean election)
is reset the same way. All partitions are read at once without waiting; only when none
has data does the request long-poll, and the first partition with data answers it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from kraft.broker.partition_reader import PartitionReader
from kraft.groups.consumer_instance import ConsumerInstance
from kraft.groups.group_coordinator import GroupCoordinator
from kraft.errors import KraftError, OffsetOutOfRange, Overloaded
from kraft.storage.record import Record
from kraft.broker.isolation import visible_records_off_loop
from kraft.groups.consumer_instance import READ_COMMITTED

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]


async def resolve_position(manager: GroupCoordinator, reader: PartitionReader, instance: ConsumerInstance, tp: TopicPartition) -> int:
    committed = manager.committed(instance.group, *tp)
    if committed is not None:
        return committed.offset
    return await reset_position(reader, instance, tp)


async def reset_position(reader: PartitionReader, instance: ConsumerInstance, tp: TopicPartition) -> int:
    policy = instance.config.auto_offset_reset
    if policy == "none":
        raise OffsetOutOfRange(f"no valid offset for {tp[0]}-{tp[1]} in group {instance.group!r} "
                               f"(nothing committed or out of range) and auto.offset.reset is none: "
                               f"seek with positions first")
    start, end = await reader.offsets(tp[0], tp[1], stable=_stable(instance))
    return start if policy == "earliest" else end


def _stable(instance: ConsumerInstance) -> bool:
    return instance.config.isolation_level == READ_COMMITTED


async def poll(manager: GroupCoordinator, reader: PartitionReader, instance: ConsumerInstance, max_bytes: int,
               timeout_ms: int, max_records: int | None = None) -> list[tuple[TopicPartition, Record]]:
    """max_bytes and max_records (None: no bound) are shared out evenly among the partitions."""
    owned = instance.owned
    if not owned:
        await asyncio.sleep(min(timeout_ms, 1000) / 1000)  # nothing to read yet: a short wait
        return []
    for tp in owned:
        if tp not in instance.positions:
            try:
                position = await resolve_position(manager, reader, instance, tp)
            except OffsetOutOfRange:
                raise  # auto.offset.reset=none: the client must seek
            except KraftError as exc:  # its leader is moving: it sits this request out
                log.debug("poll %s-%d: no position yet: %s", tp[0], tp[1], exc.message)
                continue
            if tp in instance.owned:  # a rebalance may have taken it during the await
                instance.positions[tp] = position
    placed = [tp for tp in instance.owned if tp in instance.positions]
    if not placed:
        return []
    share = max(1, max_bytes // len(placed))
    records = None if max_records is None else max(1, max_records // len(placed))
    out = await _read_round(reader, instance, placed, share, 0, records)
    if not out and timeout_ms > 0:
        out = await _read_round(reader, instance, placed, share, timeout_ms, records)
    return out


async def _read_round(reader: PartitionReader, instance: ConsumerInstance, owned: list[TopicPartition],
                      share: int, timeout_ms: int, max_records: int | None = None) -> list[tuple[TopicPartition, Record]]:
    """Read every owned partition at its position; with a timeout, answer at first data."""
    started = {tp: instance.positions[tp] for tp in owned}
    stable = _stable(instance)
    tasks = {asyncio.ensure_future(reader.read(tp[0], tp[1], pos, share, timeout_ms, stable)): tp
             for tp, pos in started.items()}
    out: list[tuple[TopicPartition, Record]] = []
    pending = set(tasks)
    try:
        while pending and not (out and timeout_ms > 0):  # without a wait, collect every partition
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                tp = tasks[task]
                try:
                    data, aborted = task.result()
                except OffsetOutOfRange:
                    position = await reset_position(reader, instance, tp)
                    if tp in instance.owned:
                        instance.positions[tp] = position
                    continue
                except KraftError as exc:  # leader moving: this partition sits this round out
                    log.debug("poll %s-%d skipped: %s", tp[0], tp[1], exc.message)
                    continue
                try:
                    records, next_position = await visible_records_off_loop(
                        data, started[tp], aborted, share, time.monotonic() + max(timeout_ms / 1000, 1.0),
                        max_records)
                except Overloaded as exc:  # no room to open it now: this partition sits this round out
                    log.debug("poll %s-%d skipped: %s", tp[0], tp[1], exc.message)
                    continue
                if next_position > started[tp] and tp in instance.owned \
                        and instance.positions.get(tp) == started[tp]:  # still its own, not seeked
                    instance.positions[tp] = next_position  # past compacted-away offsets too
                    out.extend((tp, r) for r in records)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return out
