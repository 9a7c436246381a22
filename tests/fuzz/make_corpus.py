"""Write the seed inputs of the fuzz targets (tests/fuzz/corpus/<target>/), from real
clients' output: record batches built by kafka-python's own batch builder with each codec
it has here (snappy, which it lacks, in both framings the reader accepts); the share-group
Kafka requests as their clients shape them, encoded by kio (the other Kafka seeds are
recorded: record_kafka_requests.py); schema registry bodies of each schema type.

    python -m tests.fuzz.make_corpus record_batches|kafka_requests|registry_bodies

Run again only to refresh the seeds; the committed files are what the suite uses.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import pathlib
import sys
import uuid

HERE = pathlib.Path(__file__).resolve().parent


def save(target: str, data: bytes) -> None:
    directory = HERE / "corpus" / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def kafka_python_batches() -> list[bytes]:
    from kafka.record.default_records import DefaultRecordBatchBuilder

    out = []
    for codec in (0, 1, 3, 4):  # none, gzip, lz4, zstd (its snappy needs python-snappy)
        for transactional, count in ((False, 1), (False, 5), (True, 3)):
            builder = DefaultRecordBatchBuilder(2, codec, transactional, 7 if transactional else -1,
                                                0 if transactional else -1, 0 if transactional else -1,
                                                batch_size=1 << 20)
            for i in range(count):
                builder.append(i, 1_700_000_000_000 + i, key=None if i % 2 else f"k{i}".encode(),
                               value=(b"v" * 40 * i) if i != 2 else None,
                               headers=[("h", b"x"), ("n", None)] if i == 1 else [])
            out.append(bytes(builder.build()))
    return out


def snappy_batches() -> list[bytes]:
    """snappy, which kafka-python cannot write here: both framings the reader accepts,
    xerial blocks (Java clients) and raw snappy (librdkafka)."""
    import cramjam
    from crc32c import crc32c

    from kraft.storage.record import Record
    from kraft.storage.record_batch import (
        ATTRIBUTES_POS,
        CRC_POS,
        HEADER_SIZE,
        BatchHeader,
        encode_batch,
        record_section,
    )

    records = [Record(f"k{i}".encode(), b"value " * i, (("h", b"x"),) if i == 1 else (), 1_700_000_000_000 + i)
               for i in range(4)]
    xerial = encode_batch(records, 0, 0, compression=2)
    plain = record_section(xerial, 0, BatchHeader.parse(xerial))
    raw = bytearray(xerial[:HEADER_SIZE] + bytes(cramjam.snappy.compress_raw(plain)))
    raw[8:12] = (len(raw) - 12).to_bytes(4, "big")
    raw[CRC_POS:CRC_POS + 4] = crc32c(bytes(raw[ATTRIBUTES_POS:])).to_bytes(4, "big")
    return [xerial, bytes(raw)]


def record_batches() -> None:
    batches = kafka_python_batches() + snappy_batches()
    for batch in batches:
        save("record_batches", b"\x00" + batch)  # as sent: the CRC must hold
    save("record_batches", b"\x01" + b"".join(batches[:3]))  # several in a row, CRCs restamped


# -- kafka_requests: the share-group APIs, which no recorded client speaks --------------------
GROUP, MEMBER = "orders-share", "2Yf1rM3dQ0u9pT7kLx4bQw"  # a share consumer's own member id (22 characters)
TOPIC_ID = uuid.UUID("5f0b1c2a-7d3e-4c1b-9a8f-2e6d4b7c9a10")
CLIENTS = {77: "adminclient-1", 90: "adminclient-1", 91: "adminclient-1", 92: "adminclient-1",
           **{key: "broker-2" for key in range(83, 88)}}  # the share-state APIs: a partition leader's calls
# (first, last, acknowledge types): 0 gap, 1 accept, 2 release, 3 reject, 4 renew (v2); one type
# for the whole range or one per record
ACKS = ((0, 4, (1,)), (5, 5, (2,)), (6, 9, (1, 0, 0, 3)), (12, 12, (3,)))
Shape = tuple[int, int, dict]


def _shape(key: int, version: int, **fields) -> Shape:
    return key, version, fields


def _kio(api: str, version: int):
    return importlib.import_module(f"kio.schema.{api}.v{version}.request")


def _share_fetches(version: int) -> list[Shape]:
    """Opening a share session, fetching with acknowledgements (forgetting a topic), closing
    it; v2 also renewing locks, in record_limit mode."""
    sf = _kio("share_fetch", version)
    v2 = {"share_acquire_mode": 1, "is_renew_ack": False} if version >= 2 else {}

    def topic(acks=ACKS, partitions=(0, 1)):
        batches = tuple(sf.AcknowledgementBatch(first_offset=f, last_offset=l, acknowledge_types=t) for f, l, t in acks)
        return sf.FetchTopic(topic_id=TOPIC_ID, partitions=tuple(  # acknowledgements on partition 0
            sf.FetchPartition(partition_index=p, acknowledgement_batches=batches if p == 0 else ())
            for p in partitions))

    def fetch(epoch: int, topics, forgotten=(), max_records: int = 500, **more) -> Shape:
        return _shape(78, version, group_id=GROUP, member_id=MEMBER, share_session_epoch=epoch,
                      max_wait=datetime.timedelta(milliseconds=500), min_bytes=1, max_bytes=52428800,
                      max_records=max_records, batch_size=500, topics=topics, forgotten_topics_data=forgotten,
                      **{**v2, **more})
    out = [fetch(0, (topic(()),)),
           fetch(1, (topic(),), (sf.ForgottenTopic(topic_id=uuid.UUID(int=TOPIC_ID.int + 1), partitions=(2, 3)),)),
           fetch(-1, (topic(ACKS[:2], (0,)),), max_records=0)]
    if version >= 2:  # KIP-1222: renewing the locks fetches nothing
        out.append(fetch(2, (topic(((20, 24, (4,)),), (0,)),), is_renew_ack=True))
    return out


def _share_acknowledges(version: int) -> list[Shape]:
    sa = _kio("share_acknowledge", version)

    def acknowledge(epoch: int, acks, partitions, **v2) -> Shape:
        batches = tuple(sa.AcknowledgementBatch(first_offset=f, last_offset=l, acknowledge_types=t) for f, l, t in acks)
        return _shape(79, version, group_id=GROUP, member_id=MEMBER, share_session_epoch=epoch, **v2,
                      topics=(sa.AcknowledgeTopic(topic_id=TOPIC_ID, partitions=tuple(
                          sa.AcknowledgePartition(partition_index=p, acknowledgement_batches=batches)
                          for p in partitions)),))
    if version < 2:
        return [acknowledge(3, ACKS, (0, 2))]
    return [acknowledge(3, ACKS, (0, 2), is_renew_ack=False),
            acknowledge(4, ((30, 31, (4, 4)),), (0,), is_renew_ack=True)]


def _share_groups() -> list[Shape]:
    return [_shape(76, 1, group_id=GROUP, member_id=MEMBER, member_epoch=0, rack_id=None,  # joining
                   subscribed_topic_names=("orders", "audit")),
            _shape(76, 1, group_id=GROUP, member_id=MEMBER, member_epoch=7, rack_id=None, subscribed_topic_names=None),
            _shape(76, 1, group_id=GROUP, member_id=MEMBER, member_epoch=-1, rack_id="rack-a",  # leaving
                   subscribed_topic_names=None),
            _shape(77, 1, group_ids=(GROUP, "audit-share"), include_authorized_operations=True)]


def _share_states() -> list[Shape]:
    init, read = _kio("initialize_share_group_state", 0), _kio("read_share_group_state", 0)
    delete = _kio("delete_share_group_state", 0)
    out = [_shape(83, 0, group_id=GROUP, topics=(init.InitializeStateData(topic_id=TOPIC_ID, partitions=(
               init.PartitionData(partition=0, state_epoch=1, start_offset=0),
               init.PartitionData(partition=1, state_epoch=1, start_offset=-1))),)),
           _shape(84, 0, group_id=GROUP, topics=(read.ReadStateData(topic_id=TOPIC_ID, partitions=(
               read.PartitionData(partition=0, leader_epoch=3), read.PartitionData(partition=1, leader_epoch=-1))),)),
           _shape(86, 0, group_id=GROUP, topics=(delete.DeleteStateData(topic_id=TOPIC_ID, partitions=(
               delete.PartitionData(partition=0), delete.PartitionData(partition=1))),))]
    for version in (0, 1):
        write = _kio("write_share_group_state", version)
        # delivery states: 0 available, 2 acknowledged, 4 archived
        batches = tuple(write.StateBatch(first_offset=f, last_offset=l, delivery_state=s, delivery_count=c)
                        for f, l, s, c in ((10, 14, 2, 1), (15, 15, 0, 2), (16, 19, 4, 5)))
        done = {"delivery_complete_count": 9} if version >= 1 else {}
        out.append(_shape(85, version, group_id=GROUP, topics=(write.WriteStateData(topic_id=TOPIC_ID, partitions=(
            write.PartitionData(partition=0, state_epoch=1, leader_epoch=3, start_offset=10, state_batches=batches,
                                **done),)),)))
        summary = _kio("read_share_group_state_summary", version)
        out.append(_shape(87, version, group_id=GROUP, topics=(summary.ReadStateSummaryData(
            topic_id=TOPIC_ID, partitions=(summary.PartitionData(partition=0, leader_epoch=3),)),)))
    return out


def _share_offsets() -> list[Shape]:
    out = []
    for version in (0, 1):
        d = _kio("describe_share_group_offsets", version)
        out.append(_shape(90, version, groups=(
            d.DescribeShareGroupOffsetsRequestGroup(group_id=GROUP, topics=(
                d.DescribeShareGroupOffsetsRequestTopic(topic_name="orders", partitions=(0, 1, 2)),)),
            d.DescribeShareGroupOffsetsRequestGroup(group_id="audit-share", topics=None))))
    alter, delete = _kio("alter_share_group_offsets", 0), _kio("delete_share_group_offsets", 0)
    starts = tuple(alter.AlterShareGroupOffsetsRequestPartition(partition_index=p, start_offset=offset)
                   for p, offset in ((0, 42), (1, 0)))
    out.append(_shape(91, 0, group_id=GROUP, topics=(
        alter.AlterShareGroupOffsetsRequestTopic(topic_name="orders", partitions=starts),)))
    out.append(_shape(92, 0, group_id=GROUP, topics=tuple(delete.DeleteShareGroupOffsetsRequestTopic(topic_name=name)
                                                          for name in ("orders", "audit"))))
    return out


def kafka_requests() -> None:
    """Share-group frames as a share consumer, an admin client and a partition leader send
    them, encoded by kio, named as record_kafka_requests.py names what it records."""
    from kraft.scenario.hostile.frames import request

    shapes = (_share_groups() + _share_fetches(1) + _share_fetches(2) + _share_acknowledges(1)
              + _share_acknowledges(2) + _share_states() + _share_offsets())
    for correlation_id, (key, version, fields) in enumerate(shapes, start=11):
        frame = request(key, version, correlation_id, CLIENTS.get(key, "share-consumer"), **fields)[4:]  # no size
        name = f"{key:02d}-v{version}-{hashlib.sha1(frame).hexdigest()[:12]}"
        (HERE / "corpus" / "kafka_requests" / name).write_bytes(frame)

# -- registry_bodies: registration bodies of each schema type ------------------------------
AVRO_ORDER = {"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "long"},
    {"name": "item", "type": "string"},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"],
                                "default": "NEW"}, "default": "NEW"},
    {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
    {"name": "address", "type": ["null", {"type": "record", "name": "Address", "fields": [
        {"name": "street", "type": "string"}, {"name": "zip", "type": ["null", "string"], "default": None}]}],
     "default": None},
    {"name": "prices", "type": {"type": "map", "values": {"type": "bytes", "logicalType": "decimal", "precision": 9,
                                                          "scale": 2}}, "default": {}},
    {"name": "placed", "type": {"type": "long", "logicalType": "timestamp-millis"}, "default": 0}]}
JSON_ORDER = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://shop.example/order.json",
    "type": "object", "required": ["id", "item"], "additionalProperties": False,
    "properties": {"id": {"type": "integer", "minimum": 1}, "item": {"type": "string", "pattern": "^[a-z]+$"},
                   "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
                   "address": {"$ref": "#/$defs/address"},
                   "payment": {"oneOf": [{"$ref": "#/$defs/card"}, {"type": "string", "enum": ["cash"]}]}},
    "patternProperties": {"^x-[a-z]+$": {"type": "string"}},
    "$defs": {"address": {"type": "object", "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}}},
              "card": {"type": "object", "properties": {"last4": {"type": "string", "pattern": "^[0-9]{4}$"}},
                       "required": ["last4"]}}}
BACKTRACKING = {"type": "object", "properties": {"item": {"type": "string", "pattern": "^(a|a)+$"}},
                "patternProperties": {"^(a+)+$": {"type": "integer"}}}
PROTO_ORDER = """syntax = "proto3";
package shop;

import "google/protobuf/timestamp.proto";

message Order {
  int64 id = 1;
  string item = 2;
  repeated string tags = 3;
  enum Status {
    NEW = 0;
    PAID = 1;
    SHIPPED = 2;
  }
  Status status = 4;
  message Address {
    string street = 1;
    optional string zip = 2;
  }
  Address address = 5;
  map<string, int64> prices = 6;
  oneof payment {
    string card = 7;
    bool cash = 8;
  }
  google.protobuf.Timestamp placed = 9;
}
"""
AVRO, JSON, PROTOBUF, NORMALIZE = 0, 1, 2, 4  # the target's first byte: the subject, normalize=true


def registry_bodies() -> None:
    import orjson

    narrower = {**AVRO_ORDER, "fields": AVRO_ORDER["fields"][:1] + [{"name": "count", "type": "int"}]}
    bodies = [
        (AVRO, {"schema": orjson.dumps(AVRO_ORDER).decode()}),
        (AVRO | NORMALIZE, {"schemaType": "AVRO", "schema": orjson.dumps(AVRO_ORDER).decode()}),
        (AVRO, {"schema": orjson.dumps(narrower).decode()}),  # incompatible: a field without a default
        (JSON, {"schemaType": "JSON", "schema": orjson.dumps(JSON_ORDER).decode()}),
        (JSON | NORMALIZE, {"schemaType": "JSON", "schema": orjson.dumps(BACKTRACKING).decode()}),
        (JSON, {"schemaType": "JSON", "schema": '{"type":"string","pattern":"^(a+)+$"}'}),
        (PROTOBUF, {"schemaType": "PROTOBUF", "schema": PROTO_ORDER}),
        (PROTOBUF, {"schemaType": "PROTOBUF", "schema": PROTO_ORDER.replace("package shop;", 'package shop;\n\n'
                                                                             'import "shop/common.proto";'),
                    "references": [{"name": "shop/common.proto", "subject": "common-value", "version": 1}]}),
    ]
    for first, body in bodies:
        save("registry_bodies", bytes([first]) + orjson.dumps(body))


if __name__ == "__main__":
    {"record_batches": record_batches, "kafka_requests": kafka_requests,
     "registry_bodies": registry_bodies}[sys.argv[1]]()
