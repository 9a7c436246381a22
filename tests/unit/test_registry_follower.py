"""A node's registry state follows `_schemas` batch by batch: every record once, in log
order, transaction markers left out, and a wait for an offset ends when it is applied."""

from __future__ import annotations

import asyncio

from kraft.registry.follower import SchemaLogFollower
from kraft.schemas import registry_codec as codec
from kraft.schemas.registry_codec import RecordKey, SchemaRecord
from kraft.storage.record import Record
from kraft.storage.record_batch import encode_batch, encode_control_batch


def schema_record(subject: str, version: int, schema_id: int) -> Record:
    value = codec.encode_schema_value(SchemaRecord(subject, version, schema_id, "AVRO", '"string"', (), False))
    return Record(codec.encode_key(codec.schema_key(subject, version)), value)


def follower() -> SchemaLogFollower:
    async def never(*_):
        raise AssertionError("not read in these tests")
    return SchemaLogFollower(never, never, lambda: True, lambda: True)


def test_batches_are_applied_once_in_log_order():
    f = follower()
    first = encode_batch([schema_record("a", 1, 1), schema_record("a", 2, 2)], 0, 0)
    second = encode_batch([Record(codec.encode_key(RecordKey("CONFIG", None)),
                                  codec.encode_config_value(codec.SubjectConfig("FULL")))], 2, 0)
    f.apply_batches(first + second)
    f.apply_batches(first)  # read again (a retried read): nothing changes
    assert [r.id for r in f.state.versions("a")] == [1, 2]
    assert f.state.level("a") == "FULL" and f.state.applied == 3


def test_a_transaction_marker_moves_the_offset_and_applies_nothing():
    f = follower()
    f.apply_batches(encode_batch([schema_record("a", 1, 1)], 0, 0) + encode_control_batch(5, 0, True, 0, 1, 0))
    assert f.state.applied == 2 and f.state.skipped == 0


def test_a_wait_for_an_offset_ends_when_it_is_applied_or_times_out():
    async def scenario():
        f = follower()
        waiting = asyncio.create_task(f.wait_applied(0, 5.0))
        await asyncio.sleep(0)
        f.apply_batches(encode_batch([schema_record("a", 1, 1)], 0, 0))
        return await waiting, await f.wait_applied(7, 0.01)

    assert asyncio.run(scenario()) == (True, False)
