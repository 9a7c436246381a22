"""What became of the REST consumer instances that left this node's groups: when and why.

An instance leaves without its client hearing of it: it expires (no request within its
consumer.instance.timeout.ms), its client deletes it, or its group's coordinator moves to
another node. A later request of its client gets 40403 either way (as Confluent's REST
Proxy answers); with this record the message says what happened, and the console says why
a group emptied. Bounded: the newest MAX_KEPT records, none older than KEPT_MS, so the
cost never grows with history. Pure: the caller passes the wall-clock time.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

EXPIRED, DELETED, MOVED = "expired", "deleted", "coordinator_moved"
MAX_KEPT = 1000
KEPT_MS = 24 * 3600 * 1000  # a client back the next morning still learns why


def utc_text(at_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at_ms / 1000))


def not_found_message(group_id: str, name: str) -> str:
    """The 40403 for an instance nobody here remembers."""
    return (f"consumer instance {name!r} not found in group {group_id!r} (deleted, expired, or its "
            f"coordinator moved: create it again)")


@dataclass(frozen=True)
class Departure:
    group_id: str
    instance_id: str
    reason: str  # EXPIRED, DELETED or MOVED
    at_ms: int  # wall clock
    node_id: int  # the node whose coordinator it left
    timeout_ms: int | None = None  # EXPIRED: its consumer.instance.timeout.ms

    def message(self) -> str:
        what = f"consumer instance {self.instance_id!r} of group {self.group_id!r}"
        at = utc_text(self.at_ms)
        if self.reason == EXPIRED:
            why = f"expired at {at}: no request for {self.timeout_ms} ms (consumer.instance.timeout.ms)"
        elif self.reason == DELETED:
            why = f"was deleted at {at} (DELETE of the instance)"
        else:
            why = (f"was dropped at {at}: node {self.node_id} stopped coordinating the group (the leader "
                   "of its offsets partition moved)")
        return f"{what} {why}; create it again"

    def view(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "reason": self.reason, "at_ms": self.at_ms,
                "at": utc_text(self.at_ms), "timeout_ms": self.timeout_ms, "node_id": self.node_id,
                "message": self.message()}


class Departures:
    def __init__(self, max_kept: int = MAX_KEPT, kept_ms: int = KEPT_MS):
        self.max_kept, self.kept_ms = max_kept, kept_ms
        self._kept: OrderedDict[tuple[str, str], Departure] = OrderedDict()  # oldest first

    def __len__(self) -> int:
        return len(self._kept)

    def note(self, departure: Departure) -> None:
        key = (departure.group_id, departure.instance_id)
        self._kept.pop(key, None)  # its newest departure only, at the young end
        self._kept[key] = departure
        self._trim(departure.at_ms)

    def returned(self, group_id: str, instance_id: str) -> None:
        """An instance of that name exists again: its old departure says nothing now."""
        self._kept.pop((group_id, instance_id), None)

    def of(self, group_id: str, instance_id: str, now_ms: int) -> Departure | None:
        self._trim(now_ms)
        return self._kept.get((group_id, instance_id))

    def of_group(self, group_id: str, now_ms: int) -> list[Departure]:
        """Newest first (a scan of at most max_kept records)."""
        self._trim(now_ms)
        return [d for d in reversed(self._kept.values()) if d.group_id == group_id]

    def _trim(self, now_ms: int) -> None:
        while len(self._kept) > self.max_kept:
            self._kept.popitem(last=False)
        while self._kept and next(iter(self._kept.values())).at_ms <= now_ms - self.kept_ms:
            self._kept.popitem(last=False)
