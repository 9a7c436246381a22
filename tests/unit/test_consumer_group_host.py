"""The consumer groups' write path: each change goes to the offsets partition before it
is answered, a failed write leaves the group as its last record says, and replaying the
written batches (what a new coordinator does) gives back the same group."""

from __future__ import annotations

import asyncio

import pytest

from kraft.groups.consumer_group import GroupConfig, Heartbeat, Refusal
from kraft.groups.consumer_group_host import ConsumerGroupHost
from kraft.groups.offset_store import OffsetCache
from kraft.storage.record_batch import decode_records, encode_batch

TOPICS = {"t": 4}


class Partition:
    """An offsets partition as the host sees it through the runtime's writes: a log of
    batches and its cache, into which each written record is replayed (`fail`: the
    append fails, nothing reaches the log)."""

    def __init__(self):
        self.cache = OffsetCache()
        self.batches: list[bytes] = []
        self.fail = False

    async def write(self, group_id: str, operation, settle: bool = True):
        records, answer = operation(self.cache)
        if not records:
            return answer
        if self.fail:
            raise OSError("the append failed")
        self.batches.append(encode_batch(records, 0, -1))
        for record in records:
            self.cache.replay(record)
        return answer

    def successor(self) -> Partition:
        """The partition as a new coordinator loads it: the same log, replayed."""
        loaded = Partition()
        loaded.batches = list(self.batches)
        for batch in self.batches:
            for record in decode_records(batch):
                loaded.cache.replay(record)
        return loaded


def host(partition: Partition, clock: list[int] | None = None) -> ConsumerGroupHost:
    now = clock or [0]
    return ConsumerGroupHost(lambda: GroupConfig(10_000, 1000), lambda g: partition.cache,
                             partition.write, lambda: now[0], lambda: 0)


def join(member: str) -> Heartbeat:
    return Heartbeat(member, 0, 0, rebalance_timeout_ms=30_000, topic_names=("t",), owned=frozenset())


def test_changes_are_written_and_a_new_coordinator_loads_them():
    partition = Partition()
    h = host(partition)
    a = asyncio.run(h.heartbeat("g", join("a"), TOPICS))
    asyncio.run(h.heartbeat("g", Heartbeat("a", a.member_epoch, 1, owned=a.assignment), TOPICS))
    assert len(partition.batches) == 1  # the second heartbeat changed nothing
    successor = host(partition.successor())
    loaded = successor.get("g")
    assert loaded is not None and loaded.to_record() == h.get("g").to_record()
    again = asyncio.run(successor.heartbeat("g", Heartbeat("a", a.member_epoch, 2, owned=a.assignment), TOPICS))
    assert again.member_epoch == a.member_epoch


def test_a_failed_write_leaves_the_group_as_it_was():
    partition = Partition()
    h = host(partition)
    asyncio.run(h.heartbeat("g", join("a"), TOPICS))
    before = h.get("g").to_record()
    partition.fail = True
    with pytest.raises(OSError):
        asyncio.run(h.heartbeat("g", join("b"), TOPICS))
    assert h.get("g").to_record() == before and "b" not in h.get("g").members


def test_a_refused_join_creates_no_group_and_a_deleted_group_is_gone_after_a_load():
    partition = Partition()
    h = host(partition)
    refused = asyncio.run(h.heartbeat("g", Heartbeat("a", 0, 0, rebalance_timeout_ms=1), TOPICS))
    assert isinstance(refused, Refusal) and h.get("g") is None and partition.batches == []
    assert asyncio.run(h.heartbeat("g", Heartbeat("a", 3, 0), TOPICS)) is None  # no such group
    a = asyncio.run(h.heartbeat("g", join("a"), TOPICS))
    asyncio.run(h.heartbeat("g", Heartbeat("a", -1, 1), TOPICS))
    asyncio.run(h.delete("g"))
    assert h.get("g") is None and host(partition.successor()).get("g") is None
    assert a.member_epoch > 0


def test_members_that_died_with_the_old_coordinator_expire_under_the_new_one():
    """No member ever heartbeats to the new coordinator: its tick still loads the group
    and removes them after the session timeout, so the group can empty and be deleted."""
    partition = Partition()
    asyncio.run(host(partition).heartbeat("g", join("a"), TOPICS))
    clock = [1_000]
    loaded = partition.successor()
    successor = host(loaded, clock)
    asyncio.run(successor.tick(TOPICS, ["g"]))
    assert set(successor.get("g").members) == {"a"}  # its session restarted at the load
    clock[0] = 1_000 + 10_000
    asyncio.run(successor.tick(TOPICS, ["g"]))
    assert successor.get("g").empty
    assert host(loaded.successor()).get("g").empty  # written
