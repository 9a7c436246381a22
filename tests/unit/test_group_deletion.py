"""DeleteGroups and OffsetDelete: the rules (kraft/groups/group_deletion.py) and the
coordinator writing tombstones to a real offsets log, which a reload reads the same."""

from __future__ import annotations

import asyncio

import pytest
from test_txn_group_coordinator import coordinator, headers, loaded

from kraft.errors import CoordinatorNotAvailable, GroupIdNotFound, GroupSubscribedToTopic, NonEmptyGroup
from kraft.groups.consumer_instance import InstanceConfig
from kraft.groups.group_deletion import Membership, check_group_deletable, offsets_to_delete
from kraft.groups.offset_store import CommittedOffset, OffsetCache, commit_record, tombstone_record
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import decode_records

GROUP = "g"


@pytest.fixture
def log(tmp_path):
    log = PartitionLog.open(tmp_path / "offsets")
    yield log
    log.close()


# -- the rules ----------------------------------------------------------------------------------
def test_only_a_group_without_members_that_exists_is_deleted():
    check_group_deletable("g", Membership(), {("t", 0)})
    with pytest.raises(NonEmptyGroup):
        check_group_deletable("g", Membership(2, frozenset({"t"})), {("t", 0)})
    with pytest.raises(GroupIdNotFound):
        check_group_deletable("g", Membership(), set())


def test_offsets_of_consumed_topics_stay_and_unreadable_members_keep_them_all():
    consuming = Membership(1, frozenset({"t"}))
    outcome = offsets_to_delete("g", consuming, {("t", 0), ("u", 0)}, [("t", 0), ("u", 0), ("u", 1)])
    assert isinstance(outcome[("t", 0)], GroupSubscribedToTopic)
    assert outcome[("u", 0)] is None and outcome[("u", 1)] is None  # no offset: nothing left either way
    with pytest.raises(NonEmptyGroup):
        offsets_to_delete("g", Membership(1, None), {("u", 0)}, [("u", 0)])
    assert offsets_to_delete("g", Membership(), {("t", 0)}, [("t", 0)]) == {("t", 0): None}
    with pytest.raises(GroupIdNotFound):
        offsets_to_delete("g", Membership(), set(), [("t", 0)])


def test_a_tombstone_never_removes_a_commit_later_in_the_log():
    cache = OffsetCache()
    cache.put("g", "t", 0, CommittedOffset(5, "", 0, log_offset=10))
    cache.forget("g", "t", 0, 9)  # an older tombstone acknowledged after the newer commit
    assert cache.get("g", "t", 0).offset == 5
    cache.forget("g", "t", 0, 11)
    assert cache.get("g", "t", 0) is None and cache.groups() == []


# -- the coordinator ------------------------------------------------------------------------------
async def test_deleting_a_group_tombstones_every_offset_and_survives_a_reload(log):
    coord, _ = await loaded(log)
    await coord.commit(GROUP, {("t", 0): (3, "m"), ("t", 1): (4, "")})
    await coord.commit("other", {("t", 0): (9, "")})
    await coord.txn_offset_commit(GROUP, 70, 0, -1, "", None, {("t", 1): (7, "")})  # pending in a transaction
    await coord.delete_group(GROUP)
    assert coord.committed_of_group(GROUP) == {} and coord.unstable_offsets(GROUP) == frozenset()
    assert coord.describe(GROUP) == {}  # gone: DescribeGroups says Dead
    last = headers(log)[-1]
    tombstones = decode_records(log.read(last.base_offset, 10**6))
    assert [r.value for r in tombstones] == [None, None]
    reloaded, _ = coordinator(log)
    assert await reloaded.locate(GROUP) is None
    assert reloaded.committed_of_group(GROUP) == {} and reloaded.committed("other", "t", 0).offset == 9
    with pytest.raises(GroupIdNotFound):
        await reloaded.delete_group(GROUP)


async def test_a_group_with_a_member_is_not_deleted_and_one_being_deleted_takes_no_member(log):
    coord, appender = await loaded(log)
    await coord.commit(GROUP, {("t", 0): (3, "")})
    group = coord.kafka_client_group(GROUP)
    joined = await group.join(None, "c", 10_000, 10_000, "consumer", [("range", b"")], frozenset({"t"}), 0)
    with pytest.raises(NonEmptyGroup):
        await coord.delete_group(GROUP)
    assert group.leave(joined.member_id, 1) is None
    appender.hold = asyncio.Event()  # the tombstones' acks=all wait, held
    deleting = asyncio.create_task(coord.delete_group(GROUP))
    await asyncio.sleep(0.05)
    with pytest.raises(CoordinatorNotAvailable):  # as Kafka answers a join to a group turning Dead
        coord.kafka_client_group(GROUP)
    appender.hold.set()
    await deleting
    assert coord.committed(GROUP, "t", 0) is None
    assert coord.kafka_client_group(GROUP) is not None  # a new group of that name may start


async def test_offset_delete_keeps_what_members_consume(log):
    coord, _ = await loaded(log)
    await coord.commit(GROUP, {("t", 0): (3, ""), ("t", 1): (4, "")})
    group = coord.kafka_client_group(GROUP)
    joined = await group.join(None, "c", 10_000, 10_000, "consumer", [("range", b"")], frozenset({"t"}), 0)
    kept = await coord.delete_offsets(GROUP, [("t", 0)])
    assert isinstance(kept[("t", 0)], GroupSubscribedToTopic) and coord.committed(GROUP, "t", 0).offset == 3
    group.leave(joined.member_id, 1)
    assert await coord.delete_offsets(GROUP, [("t", 0)]) == {("t", 0): None}
    assert coord.committed(GROUP, "t", 0) is None and coord.committed(GROUP, "t", 1).offset == 4


async def test_rest_consumer_instances_are_members_too(log):
    coord, _ = await loaded(log)
    await coord.commit(GROUP, {("t", 0): (3, "")})
    instance = coord.create_instance(GROUP, "i1", InstanceConfig())
    instance.topics = frozenset({"t"})
    assert coord.group(GROUP).subscribe(instance, 0) is None
    assert coord.membership(GROUP) == Membership(1, frozenset({"t"}))
    with pytest.raises(NonEmptyGroup):
        await coord.delete_group(GROUP)
    kept = await coord.delete_offsets(GROUP, [("t", 0)])
    assert isinstance(kept[("t", 0)], GroupSubscribedToTopic)
    coord.delete_instance(GROUP, "i1")
    await coord.delete_group(GROUP)
    assert coord.committed(GROUP, "t", 0) is None


def test_a_tombstone_has_the_key_of_the_commit_it_deletes():
    assert commit_record("g", "t", 0, 1, "", 0).key == tombstone_record("g", "t", 0, 0).key
