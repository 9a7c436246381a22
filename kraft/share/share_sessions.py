"""Share fetch sessions (KIP-932), without I/O: one per (group, member) on each broker
it fetches from. Epoch 0 opens a session (replacing the member's old one), -1 closes
it, any other must be the next in turn; the session remembers its partitions, so a
request names only those it adds or forgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SHARE_SESSION_NOT_FOUND = 122
INVALID_SHARE_SESSION_EPOCH = 123
SHARE_SESSION_LIMIT_REACHED = 133
INVALID_REQUEST = 42
MAX_PARTITIONS = 10_000  # partitions one session may name (a hostile client names millions)
OPEN = 0
CLOSE = -1
MAX_EPOCH = 2**31 - 1

Key = tuple[str, str]  # (group id, member id)
Partition = tuple[str, int]  # (topic name, partition)


@dataclass
class ShareSession:
    group_id: str
    member_id: str
    next_epoch: int = 1
    partitions: set[Partition] = field(default_factory=set)
    last_used_ms: int = 0


@dataclass(frozen=True)
class SessionRefusal:
    code: int
    message: str


class ShareSessions:
    def __init__(self, max_sessions: int, idle_ms: int):
        self.max_sessions = max_sessions
        self.idle_ms = idle_ms
        self.sessions: dict[Key, ShareSession] = {}

    def use(self, group_id: str, member_id: str, epoch: int, added: set[Partition], forgotten: set[Partition],
            now_ms: int) -> ShareSession | SessionRefusal:
        """The session this request runs in, its partitions updated; a closing request
        (epoch -1) gets it removed from the cache."""
        key = (group_id, member_id)
        self._evict_idle(now_ms)
        if epoch == OPEN:
            if key not in self.sessions and len(self.sessions) >= self.max_sessions:
                return SessionRefusal(SHARE_SESSION_LIMIT_REACHED, f"this broker holds {len(self.sessions)} share sessions")
            session = self.sessions[key] = ShareSession(group_id, member_id)
        else:
            found = self.sessions.get(key)
            if found is None:
                return SessionRefusal(SHARE_SESSION_NOT_FOUND, "no share session for this member here")
            if epoch != CLOSE and epoch != found.next_epoch:
                return SessionRefusal(INVALID_SHARE_SESSION_EPOCH,
                                      f"share session epoch {epoch}, expected {found.next_epoch}")
            session = found
            if epoch == CLOSE:
                del self.sessions[key]
            else:
                session.next_epoch = 1 if session.next_epoch == MAX_EPOCH else session.next_epoch + 1
        if epoch != CLOSE:
            if len(session.partitions | added) > MAX_PARTITIONS:
                if epoch == OPEN:
                    del self.sessions[key]
                return SessionRefusal(INVALID_REQUEST, f"a share session names at most {MAX_PARTITIONS} partitions")
            session.partitions |= added
            session.partitions -= forgotten
        session.last_used_ms = now_ms
        return session

    def forget_member(self, group_id: str, member_id: str) -> ShareSession | None:
        return self.sessions.pop((group_id, member_id), None)

    def _evict_idle(self, now_ms: int) -> None:
        for key in [k for k, s in self.sessions.items() if now_ms - s.last_used_ms > self.idle_ms]:
            del self.sessions[key]
