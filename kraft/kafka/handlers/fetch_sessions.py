"""Incremental fetch sessions (KIP-227), as Kafka's FetchSession/FetchSessionCache keep
them: pure logic, no I/O, the clock passed in.

A client's full fetch (epoch 0) names every partition it wants; the broker answers a
session id and remembers the partitions with their fetch positions. Later requests in
the session (epoch 1, 2, ...) name only the partitions whose position changed (and
the ones to forget), and the answer leaves out the partitions with nothing new: no
records, the same high watermark and log start, no error. Epoch -1 ends the session.

The cache is bounded (`max.incremental.fetch.session.cache.slots`). A new session may
take a slot from a session unused for EVICTION_MS, else from the least valuable
evictable one (fewer partitions is less valuable; a follower's session is worth more
than a consumer's and is protected while it is new), and otherwise gets none: the
client is answered session id 0 and keeps sending full fetches. A client that
disconnects keeps its session until it is evicted, as in Kafka.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kraft.kafka.wire import error_codes
from kraft.errors.kafka_codes import (
    FETCH_SESSION_ID_NOT_FOUND,
    FETCH_SESSION_TOPIC_ID_ERROR,
    INVALID_FETCH_SESSION_EPOCH,
)

INVALID_SESSION_ID = 0
INITIAL_EPOCH = 0  # a full fetch that asks for a session
FINAL_EPOCH = -1   # a full fetch without one (and what ends one)
EVICTION_MS = 120_000  # Kafka's min.incremental.fetch.session.eviction.ms
SESSIONS_SINCE = 7  # Fetch v7 brought session ids and epochs
TOPIC_IDS_SINCE = 13  # Fetch v13 names topics by id (KIP-516)


Key = Hashable  # a partition as the request names it: (topic name or topic id, index)


def next_epoch(epoch: int) -> int:
    """The epoch the client sends next; FINAL stays FINAL, and it wraps past 2**31-1 to 1."""
    if epoch < 0:
        return FINAL_EPOCH
    return 1 if epoch == 2**31 - 1 else epoch + 1


@dataclass(slots=True)
class Wanted:
    """What a request asks of one partition (the session keeps the latest)."""

    fetch_offset: int
    max_bytes: int
    current_leader_epoch: int = -1
    last_fetched_epoch: int = -1
    log_start_offset: int = -1  # a follower's


@dataclass(slots=True)  # one per partition per fetch: no frozen dataclass's slower init
class Outcome:
    """What was read for one partition: what decides whether an incremental answer
    must carry it."""

    records_bytes: int
    high_watermark: int
    log_start_offset: int
    error_code: int = error_codes.NONE
    preferred_read_replica: int = -1
    diverging: bool = False


@dataclass(slots=True)
class CachedPartition:
    wanted: Wanted
    high_watermark: int = -1  # as last answered; -1 after an error, so it is answered again
    log_start_offset: int = -1

    def must_answer(self, outcome: Outcome, remember: bool) -> bool:
        """Kafka's rule for an incremental answer: new records, a moved high watermark or
        log start, a preferred read replica, an error or a diverging epoch."""
        must = outcome.records_bytes > 0 or outcome.preferred_read_replica >= 0 or outcome.diverging
        if outcome.high_watermark != self.high_watermark:
            must = True
            if remember:
                self.high_watermark = outcome.high_watermark
        if outcome.log_start_offset != self.log_start_offset:
            must = True
            if remember:
                self.log_start_offset = outcome.log_start_offset
        if outcome.error_code != error_codes.NONE:
            must = True
            if remember:
                self.high_watermark = -1
        return must


@dataclass(eq=False)
class FetchSession:
    session_id: int
    privileged: bool  # a follower's
    uses_topic_ids: bool
    created_ms: int
    last_used_ms: int
    epoch: int  # the epoch the next request must carry
    partitions: dict[Key, CachedPartition] = field(default_factory=dict)  # in fetch order
    # a follower's session: what the leader keeps to examine only the partitions that may
    # have news (replication/fetch_session.py's LeaderFetchSession)
    follower: Any = None

    def update(self, wanted: dict[Key, Wanted], forgotten: Iterable[Key]) -> None:
        for key, want in wanted.items():
            cached = self.partitions.get(key)
            if cached is None:
                self.partitions[key] = CachedPartition(want)
            else:
                cached.wanted = want
        for key in forgotten:
            self.partitions.pop(key, None)

    def evictable_rank(self) -> tuple[bool, int, int]:
        """Lower is evicted first: a consumer's before a follower's, then fewer partitions."""
        return (self.privileged, len(self.partitions), self.session_id)


class FetchSessionCache:
    """One broker's sessions, at most `max_slots` of them."""

    def __init__(self, max_slots: int, eviction_ms: int = EVICTION_MS,
                 new_id: Callable[[], int] = lambda: random.randint(1, 2**31 - 1)):
        self.max_slots = max_slots
        self.eviction_ms = eviction_ms
        self._new_id = new_id
        self.sessions: dict[int, FetchSession] = {}
        self.evictions = 0

    def __len__(self) -> int:
        return len(self.sessions)

    def cached_partitions(self) -> int:
        return sum(len(s.partitions) for s in self.sessions.values())

    def get(self, session_id: int) -> FetchSession | None:
        return self.sessions.get(session_id)

    def remove(self, session_id: int) -> FetchSession | None:
        return self.sessions.pop(session_id, None)

    def touch(self, session: FetchSession, now_ms: int) -> None:
        session.last_used_ms = now_ms

    def maybe_create(self, now_ms: int, privileged: bool, partitions: dict[Key, CachedPartition],
                     uses_topic_ids: bool) -> int:
        """A new session's id, or INVALID_SESSION_ID when no slot can be had."""
        if self.max_slots <= 0:
            return INVALID_SESSION_ID
        if len(self.sessions) >= self.max_slots and not self._try_evict(privileged, len(partitions), now_ms):
            return INVALID_SESSION_ID
        session_id = self._new_id()
        while session_id == INVALID_SESSION_ID or session_id in self.sessions:
            session_id = self._new_id()
        self.sessions[session_id] = FetchSession(session_id, privileged, uses_topic_ids, now_ms, now_ms,
                                                 next_epoch(INITIAL_EPOCH), dict(partitions))
        return session_id

    def _try_evict(self, privileged: bool, size: int, now_ms: int) -> bool:
        if not self.sessions:
            return False
        stalest = min(self.sessions.values(), key=lambda s: (s.last_used_ms, s.session_id))
        if now_ms - stalest.last_used_ms > self.eviction_ms:
            return self._evict(stalest)
        # A follower may take a consumer's slot at any time; anyone may take the slot of a
        # session older than the eviction time; a new session is never evicted by a consumer
        old = [s for s in self.sessions.values() if now_ms - s.created_ms > self.eviction_ms]
        candidates = old + [s for s in self.sessions.values() if privileged and not s.privileged and s not in old]
        if not candidates:
            return False
        cheapest = min(candidates, key=FetchSession.evictable_rank)
        if (privileged, size) <= cheapest.evictable_rank()[:2]:
            return False  # the new session must be worth more than the one it would replace
        return self._evict(cheapest)

    def _evict(self, session: FetchSession) -> bool:
        del self.sessions[session.session_id]
        self.evictions += 1
        return True

    def new_context(self, version: int, session_id: int, epoch: int, wanted: dict[Key, Wanted],
                    forgotten: list[Key], privileged: bool, now_ms: int) -> FetchContext:
        """How to answer a request: Kafka's FetchManager.newContext."""
        if version < SESSIONS_SINCE:
            return FetchContext(SESSIONLESS, wanted=wanted)
        if epoch in (INITIAL_EPOCH, FINAL_EPOCH):  # a full fetch: any session it names ends
            if session_id != INVALID_SESSION_ID:
                self.remove(session_id)
            if epoch == FINAL_EPOCH:
                return FetchContext(SESSIONLESS, wanted=wanted)
            return FetchContext(FULL, wanted=wanted, cache=self, privileged=privileged,
                                uses_topic_ids=version >= TOPIC_IDS_SINCE)
        session = self.get(session_id)
        if session is None:
            return FetchContext(SESSION_ERROR, error_code=FETCH_SESSION_ID_NOT_FOUND)
        if session.epoch != epoch:
            return FetchContext(SESSION_ERROR, error_code=INVALID_FETCH_SESSION_EPOCH)
        if session.uses_topic_ids != (version >= TOPIC_IDS_SINCE):
            return FetchContext(SESSION_ERROR, error_code=FETCH_SESSION_TOPIC_ID_ERROR)
        session.update(wanted, forgotten)
        if not session.partitions:  # everything forgotten: the session ends
            self.remove(session.session_id)
            return FetchContext(SESSIONLESS, wanted=wanted)
        self.touch(session, now_ms)
        session.epoch = next_epoch(session.epoch)
        return FetchContext(INCREMENTAL, session=session, expected_epoch=session.epoch)


SESSIONLESS, FULL, INCREMENTAL, SESSION_ERROR = "sessionless", "full", "incremental", "error"


@dataclass
class Answer:
    """The top of a Fetch answer and the partitions it carries, in order."""

    error_code: int
    session_id: int
    partitions: list[Key]


@dataclass
class FetchContext:
    kind: str
    wanted: dict[Key, Wanted] = field(default_factory=dict)
    error_code: int = error_codes.NONE
    cache: FetchSessionCache | None = None
    privileged: bool = False
    uses_topic_ids: bool = False
    session: FetchSession | None = None
    expected_epoch: int = 0

    def to_read(self) -> list[tuple[Key, Wanted]]:
        """The partitions to read, in order (an incremental fetch reads its whole session)."""
        if self.session is not None:
            return [(key, cached.wanted) for key, cached in self.session.partitions.items()]
        return list(self.wanted.items())

    def answer(self, outcomes: dict[Key, Outcome], now_ms: int) -> Answer:
        """The answer once the partitions are read; records the session's state (and
        creates it, for a full fetch)."""
        if self.kind == SESSION_ERROR:
            return Answer(self.error_code, INVALID_SESSION_ID, [])
        if self.kind == SESSIONLESS:
            return Answer(error_codes.NONE, INVALID_SESSION_ID, list(outcomes))
        if self.kind == FULL:
            assert self.cache is not None
            remembered: dict[Key, CachedPartition] = {}
            for key, outcome in outcomes.items():
                remembered[key] = CachedPartition(self.wanted[key])
                remembered[key].must_answer(outcome, remember=True)
            session_id = self.cache.maybe_create(now_ms, self.privileged, remembered, self.uses_topic_ids)
            return Answer(error_codes.NONE, session_id, list(outcomes))
        session = self.session
        assert session is not None
        if session.epoch != self.expected_epoch:  # another request of the session came between
            return Answer(INVALID_FETCH_SESSION_EPOCH, INVALID_SESSION_ID, [])
        answered, with_records = [], []
        for key, outcome in outcomes.items():
            cached = session.partitions.get(key)
            if cached is not None and cached.must_answer(outcome, remember=True):
                answered.append(key)
                if outcome.records_bytes > 0:
                    with_records.append(key)
        for key in with_records:  # read last next time, so every partition gets its turn at max_bytes
            session.partitions[key] = session.partitions.pop(key)
        return Answer(error_codes.NONE, session.session_id, answered)
