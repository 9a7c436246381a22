"""Follower fetch sessions (KIP-227): each side remembers what the other knows.

Kafka's replica fetchers use incremental fetch sessions: a follower names only the
partitions whose position changed, the leader answers only the partitions with
something new. The follower's side is Kafka's FetchSessionHandler: a full fetch (epoch 0)
asks for a session, the leader's answer names its id, and each later request carries
the id and the next epoch; any session error, or a lost connection, starts over with a
full fetch. The leader's session ids and epochs are the Kafka listener's
(kraft/kafka/handlers/fetch_sessions.py, where a follower's session is privileged); what it keeps
per follower session beyond them is LeaderFetchSession.

Most partitions a follower follows are idle at any moment (`__consumer_offsets` and
`__transaction_state` alone are 100, a real cluster thousands), yet a full fetch made the
leader examine all of them at every round trip and the follower rebuild all of them, for
every small append. With a session the leader examines a partition only when it may have
news: the follower moved, the partition changed since this session last looked (each
partition's change notes its key in the session's Watch), or the last answer had data or
an error the follower has not acted on yet. No pass over the idle ones is needed: a
follower whose end matched the leader's at an append counts as caught up until that
append (leader_state), so the ISR rule reads nothing from an idle partition.

Pure: no I/O, the caller passes the time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, cast

from kraft.replication.change_signal import Watch, Watchers
from kraft.replication.fetch_protocol import FetchPartition, FetchRequest, PartitionData

NO_SESSION = 0  # Kafka's INVALID_SESSION_ID
FULL_EPOCH = 0  # a full fetch that asks for a session (Kafka's INITIAL_EPOCH)

Key = tuple[str, int]  # (topic id, partition)


class Watched(Protocol):
    """A replica as a session watches it (PartitionReplica)."""
    replica_news: Watchers


def key_of(p: FetchPartition | PartitionData) -> Key:
    return p.topic_id, p.partition


class FollowerFetchSession:
    """The follower's side, for one connection to one leader. Which positions moved is
    the fetcher's to say (replica_fetcher_manager.FollowedStream); this says whether a
    request must be full, and keeps the session's id and epoch."""

    def __init__(self) -> None:
        self.session_id = NO_SESSION
        self.epoch = FULL_EPOCH  # the epoch the next request carries

    @property
    def wants_full(self) -> bool:
        return self.epoch == FULL_EPOCH

    def reset(self) -> None:
        """A session error or a failed request: the next request is a full one. It names
        the old session, as Kafka's does, so the leader drops it rather than keep it
        until it is evicted."""
        self.epoch = FULL_EPOCH

    def answered(self, error_code: int, session_id: int) -> None:
        """The leader's answer: the session it keeps (NO_SESSION: none, full fetches go
        on), or a session error, after which the next request is a full one."""
        if error_code != 0:
            self.reset()
        elif self.epoch == FULL_EPOCH:
            self.session_id = session_id
            self.epoch = 1 if session_id != NO_SESSION else FULL_EPOCH
        elif session_id != self.session_id:  # the leader ended it: start again
            self.session_id = session_id
            self.reset()
        else:
            self.epoch = 1 if self.epoch == 2**31 - 1 else self.epoch + 1


@dataclass
class LeaderFetchSession:
    """The leader's side: the follower's positions on this stream, and what it was told."""
    positions: dict[Key, FetchPartition] = field(default_factory=dict)
    # per partition: (the replica object, its change count) when this session last
    # examined it; a replica re-created under the same key never matches
    seen: dict[Key, tuple[object, int]] = field(default_factory=dict)
    # partitions whose last answer had records or an error: examined until the follower moves
    pending: set[Key] = field(default_factory=set)
    # (high watermark, log start, log end) last answered per partition
    told: dict[Key, tuple[int, int, int]] = field(default_factory=dict)
    # the replicas whose changes this session watches, and the keys they noted since
    watching: dict[Key, Watched] = field(default_factory=dict)
    watch: Watch = field(default_factory=Watch)
    # positions naming no replica hosted here: looked at again with every request
    unhosted: set[Key] = field(default_factory=set)

    def apply(self, request: FetchRequest) -> set[Key]:
        """Take a request's positions in; returns the keys it named. A request that is
        not incremental names every partition the session has."""
        named = {key_of(p) for p in request.partitions}
        dropped = list(request.forgotten)
        if not request.incremental:
            dropped += [k for k in self.positions if k not in named]
        for k in dropped:
            self._forget(k)
        for p in request.partitions:
            self.positions[key_of(p)] = p
        return named

    def _forget(self, k: Key) -> None:
        self.positions.pop(k, None)
        self.seen.pop(k, None)
        self.pending.discard(k)
        self.told.pop(k, None)
        self.unhosted.discard(k)
        replica = self.watching.pop(k, None)
        if replica is not None:
            replica.replica_news.discard(self.watch)

    def candidates(self, named: set[Key]) -> set[Key]:
        """The partitions that may have news for this request: named in it, answered with
        news last time, changed since, or not hosted here."""
        return named | self.pending | self.unhosted | self.noted()

    def rechecked(self) -> set[Key]:
        """The partitions to look at once more with this request (the ISR left this
        follower out, see PartitionReplica.ask_followers_again), taken."""
        return cast(set[Key], self.watch.take_recheck())

    def noted(self) -> set[Key]:
        """The partitions whose change was noted in the watch since the last look."""
        return cast(set[Key], self.watch.take())

    def follow(self, k: Key, replica: Watched) -> None:
        """Watch this replica's changes (once; again for a replica re-created under k)."""
        if self.watching.get(k) is not replica:
            old = self.watching.get(k)
            if old is not None:
                old.replica_news.discard(self.watch)
            self.watching[k] = replica
            replica.replica_news.add(self.watch, k)

    def close(self) -> None:
        """Stop watching (the session is dropped)."""
        for k in list(self.watching):
            self._forget(k)

    def must_examine(self, k: Key, replica: object, changes: int, named: set[Key]) -> bool:
        return k in named or k in self.pending or self.seen.get(k) != (replica, changes)

    def examined(self, k: Key, replica: object, changes: int, answer: PartitionData) -> None:
        self.seen[k] = (replica, changes)
        if has_news(answer):
            self.pending.add(k)
        else:
            self.pending.discard(k)

    def to_answer(self, answers: Iterable[PartitionData]) -> list[PartitionData]:
        """What the follower is told: the partitions with data, an error or a
        divergence, and those whose offsets moved since it was last told."""
        out = []
        for a in answers:
            k = key_of(a)
            offsets = (a.high_watermark, a.log_start_offset, a.log_end_offset)
            if has_news(a) or self.told.get(k) != offsets:
                self.told[k] = offsets
                out.append(a)
        return out


def has_news(a: PartitionData) -> bool:
    return bool(a.records) or a.error is not None or a.diverging_end_offset >= 0
