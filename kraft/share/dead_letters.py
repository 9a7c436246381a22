"""KIP-1191's dead-letter records: what a share group writes to its dead-letter topic for
a record it archived because it failed (rejected by a consumer, or at the delivery
limit). Pure, but for reading the source record from the leader's log.

A dead letter carries Kafka's context headers (`__dlq.errors.topic`, `.partition`,
`.offset`, `.group`, `.delivery.count`, `.message`) and, with the group's
`errors.deadletterqueue.copy.record.enable`, the source record's key and value. It goes to
the dead-letter topic's partition `source partition % its partitions`, as in Kafka. The
topic must exist, start with the broker's `errors.deadletterqueue.topic.name.prefix` and
have `errors.deadletterqueue.group.enable=true`: the topic's owner decides whether groups
may write to it (a group's readers could otherwise write into any topic).
"""

from __future__ import annotations

from typing import Protocol

from kraft.errors import KraftError
from kraft.metadata.image import MetadataImage
from kraft.replication.partition_read import Bounds, ReadPlan, ReadRequest, Taken
from kraft.replication.read_bounds import Isolation
from kraft.share.share_partition import DeadLetter
from kraft.storage.record import Record
from kraft.storage.record_batch import decode_records_prefix, iter_batches

COPY_READ_BYTES = 1024 * 1024  # enough for the source record's batch start; a bigger batch is stepped
ENABLE = "errors.deadletterqueue.group.enable"


class ReadableReplica(Protocol):
    def plan_read(self, request: ReadRequest, bounds: Bounds | None = None) -> ReadPlan: ...

    def take(self, plan: ReadPlan, max_bytes: int | None = None, as_slices: bool = False) -> Taken: ...


def dead_letter_problem(image: MetadataImage, topic: str, prefix: str) -> tuple[str | None, int]:
    """(why the group cannot write there, or None; the topic's partition count)."""
    if prefix and not topic.startswith(prefix):
        return f"dead-letter topic {topic!r} does not start with {prefix!r}", 0
    found = image.topic(topic)
    if found is None:
        return f"dead-letter topic {topic!r} does not exist", 0
    if image.topic_configs.get(topic, {}).get(ENABLE, "false") != "true":
        return f"dead-letter topic {topic!r} does not have {ENABLE}=true", 0
    return None, len(found.partitions)


def source_record(replica: ReadableReplica, offset: int) -> Record | None:
    """The record at `offset` in the leader's log; None when it is gone (retention)."""
    try:
        plan = replica.plan_read(ReadRequest(offset, COPY_READ_BYTES, Isolation.UNCOMMITTED))
        if not plan.has_records:  # not below the HW
            return None
        data = replica.take(plan).records
    except KraftError:  # the leader moved, or the log holds it no more: the headers still go
        return None
    for pos, header in iter_batches(data):
        if header.base_offset <= offset <= header.last_offset:
            try:
                records, _, _ = decode_records_prefix(data, pos, 1, from_offset=offset)
            except KraftError:  # a batch whose records do not open (the log checked its CRC)
                return None
            return next((r for r in records if r.offset == offset), None)
    return None


def dead_letter_record(group_id: str, topic: str, partition: int, dead: DeadLetter, source: Record | None,
                       now_ms: int) -> Record:
    message = "Offset rejected by client." if dead.rejected else "Offset delivery count limit reached."
    headers = (("__dlq.errors.topic", topic.encode()), ("__dlq.errors.partition", str(partition).encode()),
               ("__dlq.errors.offset", str(dead.offset).encode()), ("__dlq.errors.group", group_id.encode()),
               ("__dlq.errors.delivery.count", str(dead.delivery_count).encode()),
               ("__dlq.errors.message", message.encode()))
    return Record(source.key if source is not None else None, source.value if source is not None else None,
                  headers, now_ms)
