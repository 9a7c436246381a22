"""Share fetch sessions (KIP-932), without I/O: one per (group, member) on each broker
it fetches from. Epoch 0 opens a session (replacing the member's old one), -1 closes
it, any other must be the next in turn; the session remembers its partitions, so a
request names only those it adds or forgets.

A session belongs to the connection that opened it (its owner), as Kafka's share session
cache ties each session to its client connection and drops it when that connection
closes (`close_owner`). From any other connection it is as if it did not exist: a
member id alone is no credential, so another client naming it can neither use, replace
nor close the session, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from kraft.errors.kafka_codes import (
    INVALID_REQUEST,
    INVALID_SHARE_SESSION_EPOCH,
    SHARE_SESSION_LIMIT_REACHED,
    SHARE_SESSION_NOT_FOUND,
)

MAX_PARTITIONS = 10_000  # partitions one session may name (a hostile client names millions)
OPEN = 0
CLOSE = -1
MAX_EPOCH = 2**31 - 1
NOT_HERE = "no share session for this member here"

Key = tuple[str, str]  # (group id, member id)
Partition = tuple[str, int]  # (topic name, partition)


@dataclass
class ShareSession:
    group_id: str
    member_id: str
    next_epoch: int = 1
    partitions: set[Partition] = field(default_factory=set)
    last_used_ms: int = 0
    owner: Hashable = None  # the connection that opened it (None: the broker itself)


@dataclass(frozen=True)
class SessionRefusal:
    code: int
    message: str


class ShareSessions:
    def __init__(self, max_sessions: int, idle_ms: int):
        self.max_sessions = max_sessions
        self.idle_ms = idle_ms
        self.sessions: dict[Key, ShareSession] = {}
        self.by_owner: dict[Hashable, set[Key]] = {}  # each owner's sessions, for close_owner

    def use(self, group_id: str, member_id: str, epoch: int, added: set[Partition], forgotten: set[Partition],
            now_ms: int, owner: Hashable = None) -> ShareSession | SessionRefusal:
        """The session this request (from connection `owner`) runs in, its partitions
        updated; a closing request (epoch -1) gets it removed from the cache."""
        key = (group_id, member_id)
        self._evict_idle(now_ms)
        found = self.sessions.get(key)
        if found is not None and found.owner != owner:
            return _elsewhere(epoch)
        if epoch == OPEN:
            if found is None and len(self.sessions) >= self.max_sessions:
                return SessionRefusal(SHARE_SESSION_LIMIT_REACHED, f"this broker holds {len(self.sessions)} share sessions")
            session = ShareSession(group_id, member_id, owner=owner)
            self._put(key, session)
        else:
            if found is None:
                return SessionRefusal(SHARE_SESSION_NOT_FOUND, NOT_HERE)
            if epoch != CLOSE and epoch != found.next_epoch:
                return SessionRefusal(INVALID_SHARE_SESSION_EPOCH,
                                      f"share session epoch {epoch}, expected {found.next_epoch}")
            session = found
            if epoch == CLOSE:
                self._drop(key)
            else:
                session.next_epoch = 1 if session.next_epoch == MAX_EPOCH else session.next_epoch + 1
        if epoch != CLOSE:
            if len(session.partitions | added) > MAX_PARTITIONS:
                if epoch == OPEN:
                    self._drop(key)
                return SessionRefusal(INVALID_REQUEST, f"a share session names at most {MAX_PARTITIONS} partitions")
            session.partitions |= added
            session.partitions -= forgotten
        session.last_used_ms = now_ms
        return session

    def close_owner(self, owner: Hashable) -> list[ShareSession]:
        """Its connection closed: the sessions it opened are gone (what their members
        hold is the caller's to give back)."""
        return [s for key in list(self.by_owner.get(owner, ())) if (s := self._drop(key)) is not None]

    def _put(self, key: Key, session: ShareSession) -> None:
        self._drop(key)
        self.sessions[key] = session
        self.by_owner.setdefault(session.owner, set()).add(key)

    def _drop(self, key: Key) -> ShareSession | None:
        session = self.sessions.pop(key, None)
        if session is not None:
            keys = self.by_owner.get(session.owner)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_owner[session.owner]
        return session

    def _evict_idle(self, now_ms: int) -> None:
        for key in [k for k, s in self.sessions.items() if now_ms - s.last_used_ms > self.idle_ms]:
            self._drop(key)


def _elsewhere(epoch: int) -> SessionRefusal:
    """The answer to a request naming a session another connection opened: Kafka's for a
    session this broker does not know (an opening request: the member's session is in
    use, so its epoch cannot start again here)."""
    if epoch == OPEN:
        return SessionRefusal(INVALID_SHARE_SESSION_EPOCH, "this member's share session is open on another connection")
    return SessionRefusal(SHARE_SESSION_NOT_FOUND, NOT_HERE)  # the same words: nothing told
