"""The follower fetch exchange (Kafka's Fetch with KIP-279/320 semantics), on the wire
(carried one message each way by kraft/internode/fetch_channel.py).

Request: JSON. Response: a 4-byte big-endian header length, a JSON header with one
entry per partition, then each partition's record batches as raw bytes, in header
order — so followers copy batches as they are, never re-encoding them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields

import orjson

NOT_LEADER = "NOT_LEADER"
FENCED_LEADER_EPOCH = "FENCED_LEADER_EPOCH"  # the follower knows a newer epoch than we do
UNKNOWN_LEADER_EPOCH = "UNKNOWN_LEADER_EPOCH"  # the follower's epoch is older than ours
UNKNOWN_PARTITION = "UNKNOWN_PARTITION"
OFFSET_OUT_OF_RANGE = "OFFSET_OUT_OF_RANGE"
STORAGE_ERROR = "KAFKA_STORAGE_ERROR"  # the leader's copy is damaged or its disk failed


@dataclass(frozen=True)
class FetchPartition:
    topic_id: str
    partition: int
    fetch_offset: int
    last_fetched_epoch: int  # epoch of the follower's last batch (-1: empty log)
    current_leader_epoch: int  # the leader epoch the follower believes in
    log_start_offset: int = -1  # the follower's (-1: unknown, a node from before it was sent)
    # Kafka's partition_max_bytes: the most this partition may send (-1: no cap of its
    # own); a follower's throttled replica asks for no more than its budget
    max_bytes: int = -1


@dataclass(frozen=True)
class FetchRequest:
    replica_id: int
    broker_epoch: int
    max_wait_ms: int
    max_bytes: int
    partitions: tuple[FetchPartition, ...]
    # a fetch session's request (fetch_session.py): `partitions` holds only the positions
    # that changed, `forgotten` the (topic id, partition) no longer fetched
    forgotten: tuple[tuple[str, int], ...] = ()
    incremental: bool = False

    def encode(self) -> bytes:
        return orjson.dumps(self)  # orjson walks dataclasses natively (asdict deep-copies)

    @classmethod
    def decode(cls, raw: bytes) -> "FetchRequest":
        data = orjson.loads(raw)
        return cls(int(data["replica_id"]), int(data["broker_epoch"]), int(data["max_wait_ms"]),
                   int(data["max_bytes"]),
                   tuple(FetchPartition(str(p["topic_id"]), int(p["partition"]),
                                        int(p["fetch_offset"]), int(p["last_fetched_epoch"]),
                                        int(p["current_leader_epoch"]), int(p.get("log_start_offset", -1)),
                                        int(p.get("max_bytes", -1)))
                         for p in data["partitions"]),
                   tuple((str(t), int(n)) for t, n in data.get("forgotten", ())),
                   bool(data.get("incremental", False)))


@dataclass(frozen=True)
class PartitionData:
    topic_id: str
    partition: int
    error: str | None = None
    high_watermark: int = -1
    log_start_offset: int = -1
    log_end_offset: int = -1
    diverging_epoch: int = -1  # set when the follower must truncate first
    diverging_end_offset: int = -1
    records: bytes = b""


_HEADER_FIELDS = tuple(f.name for f in fields(PartitionData) if f.name != "records")


def encode_response(parts: list[PartitionData]) -> bytes:
    # Built by hand: idle long-polls answer often, and dataclasses.asdict (a deep copy,
    # records included) was a fifth of an idle broker's CPU with 1,000 partitions.
    header = []
    for p in parts:
        entry = {name: getattr(p, name) for name in _HEADER_FIELDS}
        entry["size"] = len(p.records)
        header.append(entry)
    head = orjson.dumps(header)
    return b"".join([struct.pack(">I", len(head)), head] + [p.records for p in parts])


def decode_response(raw: bytes) -> list[PartitionData]:
    (length,) = struct.unpack_from(">I", raw, 0)
    header = orjson.loads(raw[4:4 + length])
    pos = 4 + length
    out = []
    for entry in header:
        size = entry.pop("size")
        out.append(PartitionData(**entry, records=raw[pos:pos + size]))
        pos += size
    if pos != len(raw):
        raise ValueError(f"fetch response has {len(raw) - pos} stray bytes")
    return out
