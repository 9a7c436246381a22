"""The node's registry state as schema ID validation sees it (kraft/registry/schema_ids.py):
an id's live subjects, and the record name Confluent's record name strategies take for
each format (Avro's top-level record, Protobuf's first message, JSON Schema's title)."""

from __future__ import annotations

import asyncio
import json

from kraft.broker.schema_ids import SchemaIdInfo
from kraft.errors import UnknownTopicOrPartition
from kraft.registry.follower import SchemaLogFollower
from kraft.registry.schema_ids import RegistrySchemaIds
from kraft.schemas import registry_codec as codec
from kraft.schemas.format_table import FORMATS
from kraft.schemas.registry_parsing import Parser

AVRO = json.dumps({"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "long"}]})
JSON = json.dumps({"title": "shop.Invoice", "type": "object"})
PROTO = ('syntax = "proto3";\npackage shop;\n\n'
         'message Payment {\n  int64 id = 1;\n}\n\nmessage Refund {\n  int64 id = 1;\n}\n')


async def _never(*_args):
    raise AssertionError("not read in these tests")


def follower_with(*records: codec.SchemaRecord, high_watermark=_never) -> SchemaLogFollower:
    follower = SchemaLogFollower(_never, high_watermark, lambda: True, lambda: True)
    for offset, record in enumerate(records):
        follower.state.apply(codec.encode_key(codec.schema_key(record.subject, record.version)),
                             codec.encode_schema_value(record), offset)
    return follower


def record(subject: str, schema_id: int, schema_type: str, text: str, deleted: bool = False) -> codec.SchemaRecord:
    return codec.SchemaRecord(subject, 1, schema_id, schema_type, text, (), deleted)


def ids_of(follower: SchemaLogFollower) -> RegistrySchemaIds:
    return RegistrySchemaIds(follower, Parser(FORMATS))


def test_an_id_has_every_live_subject_holding_it_and_its_record_name():
    source = ids_of(follower_with(record("orders-value", 1, "AVRO", AVRO), record("shop.Order", 1, "AVRO", AVRO)))
    assert source.info(1) == SchemaIdInfo(frozenset({"orders-value", "shop.Order"}), "shop.Order")
    assert source.info(2) is None


def test_record_names_of_json_schema_and_protobuf():
    source = ids_of(follower_with(record("a", 1, "JSON", JSON), record("b", 2, "PROTOBUF", PROTO)))
    assert source.info(1).record_name == "shop.Invoice"
    assert source.info(2).record_name == "shop.Payment"  # the first message, as Confluent names it


def test_an_id_held_only_by_soft_deleted_versions_is_not_valid_for_new_records():
    source = ids_of(follower_with(record("orders-value", 1, "AVRO", AVRO, deleted=True)))
    assert source.info(1) is None


def test_the_version_moves_when_the_state_does():
    follower = follower_with(record("a", 1, "AVRO", AVRO))
    source = ids_of(follower)
    before = source.version()
    follower.state.apply(codec.encode_key(codec.schema_key("b", 1)),
                         codec.encode_schema_value(record("b", 2, "JSON", JSON)), 1)
    assert source.version() != before


def test_catching_up_without_a_schemas_topic_answers_from_the_state_as_it_is():
    async def no_topic(topic: str, partition: int) -> int:
        raise UnknownTopicOrPartition(f"{topic}-{partition}")

    async def run() -> None:
        async with asyncio.timeout(30):  # the catch-up's own bound is an hour: it must not wait
            await follower_with(high_watermark=no_topic).catch_up(3600)

    asyncio.run(run())


def test_catching_up_waits_until_the_state_holds_the_leaders_high_watermark():
    follower = follower_with(record("a", 1, "AVRO", AVRO), high_watermark=lambda *_: _answer(2))

    async def run() -> None:
        waiting = asyncio.create_task(follower.catch_up(3600))
        for _ in range(10):
            await asyncio.sleep(0)
        assert not waiting.done()  # offset 1 is committed but not applied here yet
        follower.state.apply(codec.encode_key(codec.schema_key("b", 1)),
                             codec.encode_schema_value(record("b", 2, "JSON", JSON)), 1)
        follower.state.applied = 2
        follower.apply_batches(b"")  # wakes the waiters, as applying fetched records does
        async with asyncio.timeout(30):
            await waiting
        assert ids_of(follower).info(2) is not None

    asyncio.run(run())


async def _answer(value):
    return value
