"""Schema ID validation at the broker, as Confluent Server's topic configs define it:
the pure check (kraft/broker/schema_ids.py) and the node's cache of ids."""

from __future__ import annotations

import asyncio
import struct

import pytest

from kraft.broker.schema_id_cache import SchemaIdCache
from kraft.broker.schema_ids import SchemaIdInfo, check_schema_ids, named_ids, refusals, validated_sides
from kraft.config.topic_configs import DEFAULT_TOPIC_CONFIGS, ConfigError, parse_config_value
from kraft.errors import InvalidRecord

TOPIC = "orders"
ORDERS = SchemaIdInfo(frozenset({"orders-value"}), "shop.Order")
KEYS = SchemaIdInfo(frozenset({"orders-key"}), None)
OTHER = SchemaIdInfo(frozenset({"payments-value"}), "shop.Payment")
REGISTRY = {1: ORDERS, 2: KEYS, 3: OTHER}


def framed(schema_id: int, payload: bytes = b"\x02") -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + payload


def configs(**overrides: str) -> dict[str, str]:
    return {**DEFAULT_TOPIC_CONFIGS, **{k.replace("_", "."): v for k, v in overrides.items()}}


VALUES_ON = configs(confluent_value_schema_validation="true")


def check(records, topic_configs=VALUES_ON, known=REGISTRY):
    sides = validated_sides(topic_configs)
    check_schema_ids(records, sides, TOPIC, {i: known.get(i) for i in named_ids(records, sides)})


def test_validation_is_off_by_default_and_checks_nothing():
    assert DEFAULT_TOPIC_CONFIGS["confluent.value.schema.validation"] == "false"
    assert DEFAULT_TOPIC_CONFIGS["confluent.key.schema.validation"] == "false"
    assert validated_sides(DEFAULT_TOPIC_CONFIGS) == ()
    check([(None, b"plain bytes")], DEFAULT_TOPIC_CONFIGS)


def test_topic_name_strategy_is_the_default_and_confluent_class_names_are_accepted():
    strategy = "io.confluent.kafka.serializers.subject.TopicNameStrategy"
    assert DEFAULT_TOPIC_CONFIGS["confluent.value.subject.name.strategy"] == strategy
    record = "io.confluent.kafka.serializers.subject.RecordNameStrategy"
    assert parse_config_value("confluent.key.subject.name.strategy", record) == record
    with pytest.raises(ConfigError):
        parse_config_value("confluent.value.subject.name.strategy", "MyStrategy")
    assert parse_config_value("confluent.value.schema.validation", "TRUE") == "true"


def test_a_value_framed_with_an_id_of_the_topics_value_subject_passes():
    check([(b"any key", framed(1)), (None, framed(1, b""))])


def test_plain_bytes_are_refused_with_the_record_index():
    with pytest.raises(InvalidRecord) as refused:
        check([(None, framed(1)), (None, b'{"a": 1}')])
    assert [i for i, _ in refused.value.record_errors] == [1]
    assert "magic byte 0" in refused.value.record_errors[0][1]


def test_a_value_too_short_for_the_framing_is_refused():
    with pytest.raises(InvalidRecord) as refused:
        check([(None, b"\x00\x00\x01")])
    assert "too short" in refused.value.record_errors[0][1]


def test_a_wrong_magic_byte_is_refused():
    with pytest.raises(InvalidRecord) as refused:
        check([(None, b"\x01" + framed(1)[1:])])
    assert "starts with byte 1" in refused.value.record_errors[0][1]


def test_an_unknown_schema_id_is_refused():
    with pytest.raises(InvalidRecord) as refused:
        check([(None, framed(99))])
    assert "schema id 99 is not in the schema registry" in str(refused.value)


def test_an_id_registered_under_another_subject_is_refused_naming_where_it_is():
    with pytest.raises(InvalidRecord) as refused:
        check([(None, framed(3))])
    message = refused.value.record_errors[0][1]
    assert "'orders-value'" in message and "'payments-value'" in message


def test_tombstones_and_null_keys_pass_as_in_confluent_server():
    both = configs(confluent_value_schema_validation="true", confluent_key_schema_validation="true")
    check([(None, None), (None, framed(1))], both)


def test_every_failing_record_is_named_and_the_rest_are_not():
    records = [(None, framed(1)), (None, b"x"), (None, framed(1)), (None, framed(99))]
    sides = validated_sides(VALUES_ON)
    assert [i for i, _ in refusals(records, sides, TOPIC, REGISTRY)] == [1, 3]


def test_key_validation_is_independent_of_value_validation():
    keys_on = configs(confluent_key_schema_validation="true")
    check([(framed(2), b"plain value")], keys_on)
    with pytest.raises(InvalidRecord) as refused:
        check([(b"plain key", framed(1))], keys_on)
    assert "the key" in refused.value.record_errors[0][1]


def test_record_name_strategy_names_the_subject_by_the_record():
    strategy = "io.confluent.kafka.serializers.subject.RecordNameStrategy"
    by_record = configs(confluent_value_schema_validation="true", confluent_value_subject_name_strategy=strategy)
    known = {5: SchemaIdInfo(frozenset({"shop.Order"}), "shop.Order")}
    check([(None, framed(5))], by_record, known)
    with pytest.raises(InvalidRecord):
        check([(None, framed(1))], by_record)  # under orders-value, not shop.Order


def test_topic_record_name_strategy_names_the_subject_by_topic_and_record():
    by_topic_record = configs(confluent_value_schema_validation="true",
                              confluent_value_subject_name_strategy="TopicRecordNameStrategy")
    known = {6: SchemaIdInfo(frozenset({"orders-shop.Order"}), "shop.Order")}
    check([(None, framed(6))], by_topic_record, known)
    with pytest.raises(InvalidRecord):
        check([(None, framed(6))], by_topic_record, {6: SchemaIdInfo(frozenset({"other-shop.Order"}), "shop.Order")})


class StateOfOneNode:
    """A registry state as a node follows it: ids appear once the node has read them."""

    def __init__(self) -> None:
        self.ids: dict[int, SchemaIdInfo] = {}
        self.unread: dict[int, SchemaIdInfo] = {}  # registered elsewhere, not read here yet
        self.applied = 0
        self.asked = 0
        self.catch_ups = 0

    def version(self) -> int:
        return self.applied

    def info(self, schema_id: int) -> SchemaIdInfo | None:
        self.asked += 1
        return self.ids.get(schema_id)

    async def catch_up(self) -> None:
        self.catch_ups += 1
        if self.unread:
            self.ids.update(self.unread)
            self.unread.clear()
            self.applied += 1


def test_known_ids_are_asked_of_the_state_once_until_it_changes():
    state = StateOfOneNode()
    state.ids[1] = ORDERS
    cache = SchemaIdCache(state)
    for _ in range(3):
        assert asyncio.run(cache.resolve({1})) == {1: ORDERS}
    assert state.asked == 1 and state.catch_ups == 0
    state.applied += 1  # a schema registered or deleted: what was known is asked again
    asyncio.run(cache.resolve({1}))
    assert state.asked == 2


def test_an_id_not_read_yet_is_found_after_one_catch_up():
    state = StateOfOneNode()
    state.unread[7] = ORDERS
    cache = SchemaIdCache(state)
    assert asyncio.run(cache.resolve({7})) == {7: ORDERS}
    assert state.catch_ups == 1


def test_an_unknown_id_costs_one_catch_up_not_one_per_batch():
    state = StateOfOneNode()
    cache = SchemaIdCache(state)
    for _ in range(5):
        assert asyncio.run(cache.resolve({99})) == {99: None}
    assert state.catch_ups == 1 and state.asked == 1


def test_a_node_without_a_registry_knows_no_id():
    assert asyncio.run(SchemaIdCache().resolve({1, 2})) == {1: None, 2: None}
