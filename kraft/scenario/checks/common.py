"""What every checker returns, and the views of a History several checkers share.

Pure: no I/O, no clock. A "place" is (partition, offset); an observation is one place
holding one value, as a consumer read it, as the final read phase read it, or as a
broker's log on disk holds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from kraft.scenario.history import OK, History, Write

MAX_EXAMPLES = 10
CHECKED_ACKS = ("1", "all")  # acks levels whose acknowledgement promises durability


@dataclass
class CheckResult:
    name: str
    ok: bool
    summary: str  # one line for the verdict table, with counts
    counts: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)  # at most MAX_EXAMPLES offenders
    offenders: list[str] = field(default_factory=list)  # every offender, for the JSON report

    @property
    def ran(self) -> bool:
        """False for a checker its scenario gave nothing to judge ("not run (...)"): it
        proves nothing either way, and the console shows it neutral."""
        return not self.summary.startswith("not run")


class Examples:
    """Collects offenders: keeps the first `limit` and counts the rest."""

    def __init__(self, limit: int = MAX_EXAMPLES):
        self.items: list[str] = []
        self.limit = limit
        self.dropped = 0

    def add(self, text: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(text)
        else:
            self.dropped += 1

    def final(self) -> list[str]:
        return self.items + ([f"... and {self.dropped} more"] if self.dropped else [])


def where(h: History, partition: int) -> str:
    """How examples name a partition: "t-0"."""
    return f"{h.topic}-{partition}"


def replica_limit(h: History, partition: int) -> int:
    """The offset below which a replica's log must hold only committed records: the HW
    the final read phase saw, else (if it never learned it) the end of the final read."""
    if partition in h.final_end_offsets:
        return h.final_end_offsets[partition]
    final = h.final_reads.get(partition, [])
    return max((o for o, _ in final), default=-1) + 1


def observations(h: History, committed_replicas_only: bool) -> Iterator[tuple[int, int, str, str]]:
    """(partition, offset, value, source) for every read, final read and replica record.

    With committed_replicas_only, replica records at or above replica_limit() are left
    out: above the HW a replica may hold an uncommitted tail that is later truncated.
    """
    for r in h.reads:
        yield r.partition, r.offset, r.value, f"read by {r.consumer} at {r.time_ms:.0f} ms"
    for p, records in h.final_reads.items():
        for offset, value in records:
            yield p, offset, value, "final read"
    for p, brokers in h.replica_logs.items():
        limit = replica_limit(h, p) if committed_replicas_only else None
        for broker, log in brokers.items():
            for offset, _epoch, value in log:
                if limit is None or offset < limit:
                    yield p, offset, value, f"broker {broker} log"


def acknowledged(h: History) -> list[Write]:
    """Writes the cluster acknowledged at a level that promises durability."""
    return [w for w in h.writes if w.outcome == OK and w.acks in CHECKED_ACKS]


def final_values(h: History) -> dict[int, set[str]]:
    return {p: {v for _, v in records} for p, records in h.final_reads.items()}


def lost(h: History) -> list[Write]:
    """Acknowledged writes (acks 1/all) whose value the final read of their partition
    does not hold."""
    final = final_values(h)
    return [w for w in acknowledged(h) if w.value not in final.get(w.partition, ())]


def describe_write(h: History, w: Write) -> str:
    at = w.complete_ms if w.complete_ms is not None else w.invoke_ms
    offset = f" offset {w.offset}" if w.offset is not None else ""
    return (f"{w.value} (acks={w.acks}) acknowledged at {at:.0f} ms "
            f"on {where(h, w.partition)}{offset}")
