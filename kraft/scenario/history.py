"""What a scenario run records: the data every checker reads. Pure data, JSON-able.

Writes follow Jepsen's model: every attempt is invoked, then completes as ok (the
cluster acknowledged it, with an offset), fail (definitely not written: the cluster
refused it before appending, e.g. NOT_ENOUGH_REPLICAS or a 4xx) or unknown (timeout,
5xx, connection lost — it may or may not have been written).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"


@dataclass
class Write:
    producer: str  # e.g. "p0"
    seq: int  # per producer, increasing
    value: str  # unique in the run: f"{producer}-{seq}"
    partition: int  # the partition it was sent to
    acks: str  # "0" | "1" | "all"
    invoke_ms: float  # ms since the run started
    complete_ms: float | None = None
    outcome: str | None = None  # OK | FAIL | UNKNOWN; None while in flight
    offset: int | None = None  # the acknowledged offset (acks 1/all)
    error: str | None = None


@dataclass
class Read:
    consumer: str  # e.g. "c0"; "final" for the final read phase
    partition: int
    offset: int
    value: str
    time_ms: float


@dataclass
class Sample:
    """The cluster as the API showed it at one moment (one partition)."""

    time_ms: float
    partition: int
    leader: int | None
    leader_epoch: int
    isr: list[int]
    high_watermark: int | None  # None when the node asked did not know it
    unclean_elections: int
    controller_id: int | None
    raft_term: int | None  # the controller's Raft term (its controller epoch)


@dataclass
class FaultEvent:
    time_ms: float
    kind: str  # "kill", "stop", "pause", "resume", "restart", "isolate", "heal", ...
    target: list[int]  # node ids
    detail: str = ""


def admin_retention_ms(topic: str) -> str:
    """The retention.ms the admin workload gives topic meta-<i>: one value per topic, so
    a config lost or mixed up with another topic's shows."""
    return str(3_600_000 + int(topic.rsplit("-", 1)[1]))


@dataclass
class History:
    topic: str
    partitions: int
    writes: list[Write] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    final_reads: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # p -> (offset, value)
    final_end_offsets: dict[int, int] = field(default_factory=dict)  # p -> HW at the end
    samples: list[Sample] = field(default_factory=list)
    faults: list[FaultEvent] = field(default_factory=list)
    # after healing and a clean stop: partition -> broker -> [(offset, leader epoch, value)]
    replica_logs: dict[int, dict[int, list[tuple[int, int, str]]]] = field(default_factory=dict)
    # idempotent producers' batches in those logs (any replica): partition ->
    # [(base offset, last offset, producer id, producer epoch, base sequence)], so a
    # duplicate can say which producer wrote each copy, and under which epoch and sequence
    producer_batches: dict[int, list[tuple[int, int, int, int, int]]] = field(default_factory=dict)
    # offsets that transaction markers take (any replica): partition -> ascending offsets;
    # no client is ever shown them, so readers skip them
    control_offsets: dict[int, list[int]] = field(default_factory=dict)
    final_isr: dict[int, list[int]] = field(default_factory=dict)
    heal_ms: float | None = None  # when every fault was healed
    first_ok_after_heal_ms: float | None = None
    final_read_complete: dict[int, bool] = field(default_factory=dict)
    # partition -> the offset a final read stopped at, answered nothing from there on
    # (transaction markers are never shown; the disk then says what is left)
    final_read_tail: dict[int, int] = field(default_factory=dict)
    # metadata writes: (topic name, outcome, complete ms) and the topics that exist at the end
    topics_created: list[tuple[str, str, float]] = field(default_factory=list)
    final_topics: list[str] = field(default_factory=list)
    final_retention_ms: dict[str, str] = field(default_factory=dict)  # created topic -> retention.ms at the end
    # security on: (ms, what the intruder tried, node URL, HTTP status; 0 = no answer)
    access_probes: list[tuple[float, str, str, int]] = field(default_factory=list)
    # consumer-group members (group_members > 0): what each did, in the order it happened:
    # (ms, member, kind, partition, offset); kind "assign" | "revoke" | "lost" (offset -1),
    # "commit-ok" | "commit-fail" (offset = the committed next offset)
    group_events: list[tuple[float, str, str, int, int]] = field(default_factory=list)
    group_consumed: list[tuple[int, int, str]] = field(default_factory=list)  # (partition, offset, value)
    group_final_committed: dict[int, int] = field(default_factory=dict)  # partition -> offset at the end
    # the compacted topic (compacted_keys > 0): (key, value, outcome, offset) per write,
    # and what it holds at the end: (offset, key, value)
    compacted_writes: list[tuple[str, str, str, int | None]] = field(default_factory=list)
    compacted_final: list[tuple[int, str, str]] = field(default_factory=list)
    # the hostile scenario: every answer to its abuse, judged as it came:
    # (ms, fault kind, node, what was sent, what came back, ok)
    abuse_answers: list[tuple[float, str, int, str, str, bool]] = field(default_factory=list)
    # the node watch (scenarios with abuse): whether it ran, node processes seen gone
    # (ms, node, exit code) and brokers seen fenced (ms, broker)
    watched: bool = False
    node_exits: list[tuple[float, int, int]] = field(default_factory=list)
    fenced_seen: list[tuple[float, int]] = field(default_factory=list)
    # a topic with iceberg.mode: its table's rows, the read_committed log to the last stable
    # offset and whether the table caught up (kraft/scenario/iceberg_table.py); {} otherwise
    iceberg: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "History":
        h = cls(data["topic"], data["partitions"])
        h.writes = [Write(**w) for w in data["writes"]]
        h.reads = [Read(**r) for r in data["reads"]]
        h.final_reads = {int(p): [tuple(x) for x in v] for p, v in data["final_reads"].items()}
        h.final_end_offsets = {int(p): v for p, v in data["final_end_offsets"].items()}
        h.samples = [Sample(**s) for s in data["samples"]]
        h.faults = [FaultEvent(**f) for f in data["faults"]]
        h.replica_logs = {int(p): {int(b): [tuple(x) for x in log] for b, log in v.items()}
                          for p, v in data["replica_logs"].items()}
        h.producer_batches = {int(p): [tuple(b) for b in v] for p, v in data.get("producer_batches", {}).items()}
        h.control_offsets = {int(p): list(v) for p, v in data.get("control_offsets", {}).items()}
        h.final_isr = {int(p): v for p, v in data["final_isr"].items()}
        h.heal_ms = data["heal_ms"]
        h.first_ok_after_heal_ms = data["first_ok_after_heal_ms"]
        h.final_read_complete = {int(p): v for p, v in data["final_read_complete"].items()}
        h.final_read_tail = {int(p): v for p, v in data.get("final_read_tail", {}).items()}
        h.topics_created = [tuple(t) for t in data.get("topics_created", [])]
        h.final_topics = list(data.get("final_topics", []))
        h.final_retention_ms = dict(data.get("final_retention_ms", {}))
        h.access_probes = [tuple(p) for p in data.get("access_probes", [])]
        h.group_events = [tuple(e) for e in data.get("group_events", [])]
        h.group_consumed = [tuple(c) for c in data.get("group_consumed", [])]
        h.group_final_committed = {int(p): o for p, o in data.get("group_final_committed", {}).items()}
        h.compacted_writes = [tuple(w) for w in data.get("compacted_writes", [])]
        h.compacted_final = [tuple(r) for r in data.get("compacted_final", [])]
        h.abuse_answers = [tuple(a) for a in data.get("abuse_answers", [])]
        h.watched = bool(data.get("watched", False))
        h.node_exits = [tuple(e) for e in data.get("node_exits", [])]
        h.fenced_seen = [tuple(f) for f in data.get("fenced_seen", [])]
        h.iceberg = dict(data.get("iceberg") or {})
        return h
