"""A follower's fetch (Kafka's Fetch with KIP-279/320 semantics) as the replication code
sees it: the leader answers it in ReplicaManager.handle_fetch, the follower applies the
answer in PartitionReplica.on_fetched. On the wire it is Kafka's own Fetch request,
carrying the follower's replica id (kraft/kafka/handlers/replica_fetch_api.py on the leader,
kraft/internode/replica_fetch_channel.py on the follower); KAFKA_CODES is the one
translation between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from kraft.errors import kafka_codes as codes

NOT_LEADER = "NOT_LEADER"
FENCED_LEADER_EPOCH = "FENCED_LEADER_EPOCH"  # the follower knows a newer epoch than we do
UNKNOWN_LEADER_EPOCH = "UNKNOWN_LEADER_EPOCH"  # the follower's epoch is older than ours
UNKNOWN_PARTITION = "UNKNOWN_PARTITION"
OFFSET_OUT_OF_RANGE = "OFFSET_OUT_OF_RANGE"
STORAGE_ERROR = "KAFKA_STORAGE_ERROR"  # the leader's copy is damaged or its disk failed

# each error's Kafka code in a Fetch answer, and back (an unknown code: the leader failed)
KAFKA_CODES = {OFFSET_OUT_OF_RANGE: codes.OFFSET_OUT_OF_RANGE, UNKNOWN_PARTITION: codes.UNKNOWN_TOPIC_OR_PARTITION,
               NOT_LEADER: codes.NOT_LEADER_OR_FOLLOWER, STORAGE_ERROR: codes.KAFKA_STORAGE_ERROR,
               FENCED_LEADER_EPOCH: codes.FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH: codes.UNKNOWN_LEADER_EPOCH}
ERRORS_BY_CODE = {code: error for error, code in KAFKA_CODES.items()} | {codes.UNKNOWN_TOPIC_ID: UNKNOWN_PARTITION}


def error_of(code: int) -> str | None:
    """The error of a Kafka code in a Fetch answer (None: none); a code a leader should
    not send counts as a failed leader's, after which the follower backs off."""
    return None if code == 0 else ERRORS_BY_CODE.get(code, STORAGE_ERROR)


@dataclass(frozen=True)
class FetchPartition:
    topic_id: str
    partition: int
    fetch_offset: int
    last_fetched_epoch: int  # epoch of the follower's last batch (-1: empty log)
    current_leader_epoch: int  # the leader epoch the follower believes in
    log_start_offset: int = -1  # the follower's (-1: unknown)
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


@dataclass(frozen=True)
class PartitionData:
    topic_id: str
    partition: int
    error: str | None = None
    high_watermark: int = -1
    log_start_offset: int = -1
    # the leader's log end; Kafka's answer does not carry it, so a follower sees -1
    log_end_offset: int = -1
    diverging_epoch: int = -1  # set when the follower must truncate first
    diverging_end_offset: int = -1
    records: bytes = b""
