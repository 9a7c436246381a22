"""Follower fetch sessions (kraft/replication/fetch_session.py): a follower names only the
positions that moved, a leader answers only the partitions with news, and replication
goes on as with full fetches. Real logs and replicas; only the connection is left out
(test_replica_fetch_wire.py has the Kafka encoding)."""

from __future__ import annotations

import asyncio
import time

from kraft.metadata.image import PartitionRegistration
from kraft.replication import fetch_protocol as fp
from kraft.replication.fetch_session import FollowerFetchSession, LeaderFetchSession
from kraft.replication.partition_replica import PartitionReplica
from kraft.replication.replica_fetcher_manager import FollowedStream
from kraft.replication.replica_manager import ReplicaManager
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record import Record
from kraft.storage.record_batch import encode_batch

PARTITIONS = 4


def position(partition: int, offset: int, topic_id: str = "tid") -> fp.FetchPartition:
    return fp.FetchPartition(topic_id, partition, offset, 0, 1)


def full(*positions: fp.FetchPartition) -> fp.FetchRequest:
    return fp.FetchRequest(2, 1, 0, 1 << 20, tuple(positions))


# -- the follower's side ------------------------------------------------------------------------

class Positioned:
    """A replica as the follower's stream sees it: its fetch position, the same object
    while it does not move (as PartitionReplica.fetch_position)."""

    def __init__(self, partition: int, offset: int):
        self.position = position(partition, offset)

    def fetch_position(self) -> fp.FetchPartition:
        return self.position

    def move_to(self, offset: int) -> None:
        self.position = position(self.position.partition, offset)


def test_a_follower_sends_full_fetches_until_the_leader_keeps_a_session():
    session = FollowerFetchSession()
    assert session.wants_full and (session.session_id, session.epoch) == (0, 0)
    session.answered(0, 0)  # the leader had no slot: full fetches go on
    assert session.wants_full
    session.answered(0, 77)
    assert not session.wants_full and (session.session_id, session.epoch) == (77, 1)


def test_in_a_session_a_follower_names_only_what_moved_or_left():
    stream = FollowedStream()
    a, b = Positioned(0, 5), Positioned(1, 7)
    stream.set_replicas({("tid", 0): a, ("tid", 1): b})
    first, _ = stream.positions(full=True)
    assert [p.partition for p in first] == [0, 1]
    assert stream.positions(full=False) == ((), ())  # nothing moved
    stream.moved.add(("tid", 1))  # named in an answer, but it did not move
    assert stream.positions(full=False) == ((), ())
    a.move_to(9)
    c = Positioned(2, 0)
    stream.moved.add(("tid", 0))
    stream.set_replicas({("tid", 0): a, ("tid", 1): b, ("tid", 2): c})
    moved, _ = stream.positions(full=False)
    assert sorted((p.partition, p.fetch_offset) for p in moved) == [(0, 9), (2, 0)]
    stream.set_replicas({("tid", 0): a, ("tid", 2): c})
    assert stream.positions(full=False) == ((), (("tid", 1),))
    # a full fetch (a new session) names every partition followed, and forgets none
    everything, forgotten = stream.positions(full=True)
    assert sorted(p.partition for p in everything) == [0, 2] and forgotten == ()


def test_a_session_error_starts_over_with_a_full_fetch():
    session = FollowerFetchSession()
    session.answered(0, 77)
    session.answered(71, 0)  # INVALID_FETCH_SESSION_EPOCH: the leader lost track
    # full again, naming the old session so the leader drops it (Kafka's FetchSessionHandler)
    assert session.wants_full and (session.session_id, session.epoch) == (77, 0)
    session.answered(0, 78)
    assert (session.session_id, session.epoch) == (78, 1)


def test_a_session_the_leader_ended_starts_over():
    session = FollowerFetchSession()
    session.answered(0, 77)
    session.answered(0, 0)  # answered, but no longer in a session
    assert session.wants_full


# -- the leader's side ---------------------------------------------------------------------------

def test_a_full_request_replaces_the_session_and_an_incremental_one_updates_it():
    session = LeaderFetchSession()
    assert session.apply(full(position(0, 5), position(1, 7))) == {("tid", 0), ("tid", 1)}
    named = session.apply(fp.FetchRequest(2, 1, 0, 9, (position(1, 8),), forgotten=(("tid", 0),), incremental=True))
    assert named == {("tid", 1)} and session.positions == {("tid", 1): position(1, 8)}
    session.apply(full(position(3, 0)))
    assert list(session.positions) == [("tid", 3)]


def test_the_leader_tells_offsets_once_and_news_every_time():
    session = LeaderFetchSession()
    quiet = fp.PartitionData("tid", 0, high_watermark=5, log_start_offset=0, log_end_offset=5)
    assert session.to_answer([quiet]) == [quiet]
    assert session.to_answer([quiet]) == []  # nothing new since
    moved = fp.PartitionData("tid", 0, high_watermark=6, log_start_offset=0, log_end_offset=6)
    assert session.to_answer([moved]) == [moved]
    failing = fp.PartitionData("tid", 0, error=fp.NOT_LEADER)
    assert session.to_answer([failing]) == [failing] and session.to_answer([failing]) == [failing]


# -- a leader's replica manager serving sessions -------------------------------------------------

def registration(epoch: int = 1) -> PartitionRegistration:
    return PartitionRegistration((1, 2), (1, 2), 1, epoch, epoch)


def replicas(tmp_path, manager: ReplicaManager) -> tuple[list[PartitionReplica], list[PartitionReplica]]:
    """PARTITIONS partitions led by broker 1 (in the manager), followed by broker 2."""
    leaders, followers = [], []
    for p in range(PARTITIONS):
        leader = PartitionReplica(1, "t", "tid", p, PartitionLog.open(tmp_path / f"l{p}"), 0)
        follower = PartitionReplica(2, "t", "tid", p, PartitionLog.open(tmp_path / f"f{p}"), 0)
        leader.apply_registration(registration(), 0)
        follower.apply_registration(registration(), 0)
        manager.hosted.add(leader)
        leaders.append(leader)
        followers.append(follower)
    return leaders, followers


def append(replica: PartitionReplica, value: bytes) -> None:
    replica.append(encode_batch([Record(None, value)], 0, -1), False)


async def fetch_round(manager, session, wire: FollowerFetchSession, followers, wait_ms: int = 0,
                      stream: FollowedStream | None = None):
    """One round trip, the follower's side as its fetcher does it."""
    stream = stream if stream is not None else _streams.setdefault(id(wire), FollowedStream())
    stream.set_replicas({(f.topic_id, f.partition): f for f in followers})
    full = wire.wants_full
    positions, forgotten = stream.positions(full)
    sent = fp.FetchRequest(2, 1, wait_ms, 1 << 20, positions, forgotten=forgotten, incremental=not full)
    answers = await manager.handle_fetch(sent, session)
    wire.answered(0, 1)  # the leader keeps session 1
    for data in answers:
        key = (data.topic_id, data.partition)
        stream.moved.add(key)
        followers[data.partition].on_fetched(data, stream.sent[key], 1)
    return sent, answers


_streams: dict[int, FollowedStream] = {}


def test_a_session_carries_only_the_busy_partition_and_replicates_like_a_full_fetch(tmp_path):
    manager = ReplicaManager(1, tmp_path / "node", lambda topic: {}, 5000, None, None)
    leaders, followers = replicas(tmp_path, manager)
    session, wire = LeaderFetchSession(), FollowerFetchSession()

    async def scenario():
        _, first = await fetch_round(manager, session, wire, followers)
        assert sorted(a.partition for a in first) == list(range(PARTITIONS))  # a new stream: all of them

        append(leaders[2], b"only here")
        sent, answers = await fetch_round(manager, session, wire, followers)
        assert sent.partitions == ()  # the follower did not move
        assert [a.partition for a in answers] == [2] and answers[0].records
        assert followers[2].log.log_end_offset == 1

        # the follower's next request names its new position; the leader's HW moves
        sent, answers = await fetch_round(manager, session, wire, followers)
        assert [p.partition for p in sent.partitions] == [2]
        assert leaders[2].high_watermark == 1
        assert [(a.partition, a.high_watermark) for a in answers] == [(2, 1)]

        # a long poll with nothing new waits, and wakes for an append to any partition
        async def append_soon():
            await asyncio.sleep(0.05)
            append(leaders[0], b"later")

        task = asyncio.create_task(append_soon())
        _, answers = await fetch_round(manager, session, wire, followers, wait_ms=5000)
        await task
        assert [a.partition for a in answers] == [0] and followers[0].log.log_end_offset == 1

        # every follower log holds what its leader holds
        for _ in range(3):
            await fetch_round(manager, session, wire, followers)
        assert [f.log.log_end_offset for f in followers] == [r.log.log_end_offset for r in leaders] == [1, 0, 1, 0]
        assert [r.high_watermark for r in leaders] == [1, 0, 1, 0]

    asyncio.run(scenario())
    for r in leaders + followers:
        r.log.close()


def test_a_partition_whose_answer_was_not_taken_is_sent_again(tmp_path):
    """A follower that could not apply an answer (its position did not move) gets the
    data again on its next request, not only at the next full pass."""
    manager = ReplicaManager(1, tmp_path / "node", lambda topic: {}, 5000, None, None)
    leaders, followers = replicas(tmp_path, manager)
    session, wire = LeaderFetchSession(), FollowerFetchSession()

    async def scenario():
        await fetch_round(manager, session, wire, followers)
        append(leaders[1], b"dropped once")
        request = fp.FetchRequest(2, 1, 0, 1 << 20, (), incremental=True)  # nothing moved
        lost = await manager.handle_fetch(request, session)  # never applied
        wire.answered(0, 1)
        assert [a.partition for a in lost] == [1] and lost[0].records
        _, again = await fetch_round(manager, session, wire, followers)
        assert [a.partition for a in again] == [1] and again[0].records
        assert followers[1].log.log_end_offset == 1

    asyncio.run(scenario())
    for r in leaders + followers:
        r.log.close()


def test_a_replica_fetch_of_no_partition_is_answered_at_once_not_after_its_wait(tmp_path):
    """Kafka answers a fetch with no partition at once; a long poll on nothing would hold
    the event loop (no signal to wait on) until its max wait ran out."""
    manager = ReplicaManager(1, tmp_path / "node", lambda topic: {}, 5000, None, None)
    max_wait_ms = 20_000
    started = time.monotonic()
    answers = asyncio.run(manager.handle_fetch(fp.FetchRequest(2, 1, max_wait_ms, 1 << 20, ())))
    assert answers == [] and time.monotonic() - started < max_wait_ms / 2000


def test_a_high_watermark_the_fetch_moved_is_told_when_its_long_poll_ends(tmp_path):
    """The follower's fetch moves the leader's HW but brings no records, so the long poll
    waits; when it ends, the answer still tells the HW (what the follower was told is
    recorded once, for the answer it gets, not for each look during the wait)."""
    manager = ReplicaManager(1, tmp_path / "node", lambda topic: {}, 5000, None, None)
    leaders, followers = replicas(tmp_path, manager)
    session, wire = LeaderFetchSession(), FollowerFetchSession()

    async def scenario():
        await fetch_round(manager, session, wire, followers)
        append(leaders[0], b"one")
        await fetch_round(manager, session, wire, followers)  # the record; the HW is still 0
        assert followers[0].log.log_end_offset == 1 and leaders[0].high_watermark == 0
        _, answers = await fetch_round(manager, session, wire, followers, wait_ms=200)
        assert leaders[0].high_watermark == 1
        assert [(a.partition, a.high_watermark) for a in answers] == [(0, 1)]
        assert followers[0].follower_hw == 1

    asyncio.run(scenario())
    for r in leaders + followers:
        r.log.close()
