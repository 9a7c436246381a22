"""The rules a client's write meets, whichever door it came through.

REST builds records from JSON; a Kafka client sends a RecordBatch. Both reach the log
only through these rules, in this order: no client writes an internal topic; a batch
from a client is checked whole (a Kafka batch) before anything is stored; the topic's
`message.timestamp.type=LogAppendTime` stamps the batch with the broker's clock (as
Kafka does: the header's timestamp type and maxTimestamp, no record rewritten); its
`compression.type` decides the stored codec (the records section is closed anew, its
records untouched). Nothing here decodes a client's batch into records: a batch at the
record bound costs the walk's slices and the codecs' C code, never a loop-long stall. `max.message.bytes` bounds what the
client sent as one unit: a Kafka client's batch, as Kafka checks it; a REST client
sends records, not batches, so each record is held to it (the REST Proxy's producer
splits a request into batches; kraft stores a request's records for one partition as
one batch, which may be larger). Pure: no I/O, the caller passes the topic's effective
configs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from kraft.errors import InvalidAppend, InvalidRecord, InvalidTopic, MessageTooLarge, UnsupportedMessageFormat
from kraft.config.topic_names import is_internal_topic
from kraft.storage.compression import NONE, compress, stored_codec
from kraft.storage.record import Record, record_size
from kraft.storage.record_batch import HEADER_SIZE, MAGIC, MAGIC_POS, NO_PRODUCER_ID, BatchHeader, encode_batch, recoded
from kraft.storage.record_check import Sliced, maybe_offload, run_to_end, walk_records

BATCH_HEADER_SIZE = 61
# The smallest record a batch can carry (length, attributes, timestamp and offset
# deltas, null key, empty value, no headers): 7 bytes.
SMALLEST_RECORD_BYTES = 7


def refuse_internal_topic(topic: str) -> None:
    """Kafka answers a client's append to an internal topic INVALID_TOPIC_EXCEPTION."""
    if is_internal_topic(topic):  # only the cluster's own coordinators append to these
        raise InvalidTopic(f"{topic} is an internal topic: only the cluster's coordinators write to it")


def check_batch_size(size: int, configs: Mapping[str, str], topic: str) -> None:
    limit = int(configs["max.message.bytes"])
    if size > limit:
        raise MessageTooLarge(f"batch of {size} bytes is larger than max.message.bytes ({limit}) "
                              f"of topic {topic!r}")


def check_record_count(count: int, configs: Mapping[str, str], topic: str) -> None:
    """A batch may hold no more records than an uncompressed batch within
    max.message.bytes could (one per SMALLEST_RECORD_BYTES): compression buys bytes on
    the wire, not records per batch. Each record costs the leader a walk whatever its
    size; a million empty ones compress to under 1 MB and took a leader's event loop
    for over a second. Checked on the header, before anything is opened."""
    limit = int(configs["max.message.bytes"])
    if count > limit // SMALLEST_RECORD_BYTES:
        raise MessageTooLarge(f"batch of {count} records holds more than max.message.bytes ({limit}) "
                              f"of topic {topic!r} allows ({limit // SMALLEST_RECORD_BYTES}, "
                              f"{SMALLEST_RECORD_BYTES} bytes per record)")


def check_record_sizes(records: Sequence[Record], configs: Mapping[str, str], topic: str) -> None:
    limit = int(configs["max.message.bytes"])
    for record in records:
        if (size := record_size(record)) > limit:
            raise MessageTooLarge(f"record of {size} bytes is larger than max.message.bytes ({limit}) "
                                  f"of topic {topic!r}")


def compacted(configs: Mapping[str, str]) -> bool:
    return "compact" in configs.get("cleanup.policy", "delete").split(",")


def check_keys(records: Sequence[Record], configs: Mapping[str, str], topic: str) -> None:
    """A compacted topic keeps the latest record per key, so a record without one could
    never be found again: Kafka refuses the whole batch, naming each keyless record
    (KIP-467's record errors, by index in the batch)."""
    if compacted(configs):
        refuse_keyless([i for i, r in enumerate(records) if r.key is None], len(records), configs, topic)


def refuse_keyless(keyless: Sequence[int], count: int, configs: Mapping[str, str], topic: str) -> None:
    if keyless:
        errors = tuple((i, "a record on a compacted topic needs a key") for i in keyless)
        raise InvalidRecord(f"{len(keyless)} of {count} records have no key; topic {topic!r} is compacted "
                            f"(cleanup.policy={configs['cleanup.policy']}), so every record needs one", errors)


def _log_append_time(configs: Mapping[str, str]) -> bool:
    return configs.get("message.timestamp.type") == "LogAppendTime"


def _restamp(records: Sequence[Record]) -> None:
    now = int(time.time() * 1000)  # Kafka's broker-side time: the node taking the write
    for record in records:
        record.timestamp_ms = now


def check_client_records(records: Sequence[Record], configs: Mapping[str, str], topic: str) -> None:
    """A REST client's records, every one checked before any is written: no internal
    topic, max.message.bytes per record, keys on a compacted topic."""
    refuse_internal_topic(topic)
    check_record_sizes(records, configs, topic)
    check_keys(records, configs, topic)


def batch_of_records(records: Sequence[Record], configs: Mapping[str, str], topic: str,
                     producer_id: int = NO_PRODUCER_ID, producer_epoch: int = -1,
                     sequence: int = -1) -> bytes:
    """A REST client's records as the batch to store, every rule met (the REST door
    checks a whole request first, then encodes each partition's share: encode_checked)."""
    check_client_records(records, configs, topic)
    return encode_checked(records, configs, producer_id, producer_epoch, sequence)


def encode_checked(records: Sequence[Record], configs: Mapping[str, str],
                   producer_id: int = NO_PRODUCER_ID, producer_epoch: int = -1,
                   sequence: int = -1) -> bytes:
    """Records check_client_records passed as the batch to store (producer fields travel
    inside it, also when forwarded to the leader), stamped and compressed as the topic says."""
    if _log_append_time(configs):
        _restamp(records)
    return encode_batch(records, 0, -1, producer_id, producer_epoch, sequence,
                        compression=stored_codec(configs["compression.type"], NONE))


def checked_client_batch(data: bytes, configs: Mapping[str, str], topic: str) -> tuple[bytes, BatchHeader]:
    """A Kafka client's partition data as the batch to store, with the header it was
    sent with, or the error to answer. Stored as sent unless a rule changes it."""
    return run_to_end(client_batch_checks(data, configs, topic))


def client_batch_checks(data: bytes, configs: Mapping[str, str], topic: str) -> Sliced[tuple[bytes, BatchHeader]]:
    """checked_client_batch as sliced work: it pauses between slices of a large batch's
    record walk and hands its codec work to its driver to run off the loop."""
    refuse_internal_topic(topic)
    header = _sound_batch_header(data)
    check_batch_size(header.size, configs, topic)
    check_record_count(header.record_count, configs, topic)
    keyless: list[int] | None = [] if compacted(configs) else None
    # CRC-32C, the codec, every record's framing and offset delta (and keys, compacted)
    _, section = yield from walk_records(data, keyless=keyless)
    if keyless is not None:
        refuse_keyless(keyless, header.record_count, configs, topic)
    codec = stored_codec(configs["compression.type"], header.compression)
    append_time = int(time.time() * 1000) if _log_append_time(configs) else None  # the node taking the write
    if append_time is None and codec == header.compression and header.append_time is None:
        return data, header  # the common case: stored as sent
    body: bytes | memoryview
    if codec == header.compression:
        body = memoryview(data)[HEADER_SIZE:header.size]
    elif codec == NONE:
        body = bytes(section)
    else:  # the section as the walk opened it, closed with the topic's codec
        body = yield from maybe_offload(lambda: compress(codec, bytes(section)), len(section))
    batch = recoded(data, header, body, codec, append_time)
    check_batch_size(len(batch), configs, topic)
    return batch, header


def _sound_batch_header(data: bytes) -> BatchHeader:
    if len(data) < BATCH_HEADER_SIZE:
        raise InvalidAppend(f"{len(data)} bytes are not a record batch")
    if data[MAGIC_POS] != MAGIC:
        raise UnsupportedMessageFormat("only RecordBatch v2 (magic 2) is accepted; upgrade the client")
    header = BatchHeader.parse(data)
    if header.size != len(data):
        raise InvalidAppend(f"a produce must carry exactly one batch: {len(data)} bytes, "
                            f"the batch says {header.size}")
    if header.is_control:  # markers are the transaction coordinator's alone
        raise InvalidAppend("clients may not write control batches (transaction markers)")
    if header.is_transactional and header.producer_id < 0:
        raise InvalidAppend("a transactional batch needs a producer id (InitProducerId)")
    if header.record_count < 1 or header.last_offset_delta != header.record_count - 1:
        raise InvalidAppend("records must carry offset deltas 0, 1, 2, ... and at least one record")
    return header
