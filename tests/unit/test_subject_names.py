"""Confluent's subject name strategies, as its serializers name subjects."""

from __future__ import annotations

import json

import pytest

from kraft.errors import BadRequest, InvalidValue
from kraft.schemas.format_table import FORMATS
from kraft.schemas.subject_names import subject_name

AVRO = FORMATS["AVRO"].parse(json.dumps({"type": "record", "name": "Order", "namespace": "shop",
                                         "fields": [{"name": "id", "type": "long"}]}), {})
JSON = FORMATS["JSON"].parse(json.dumps({"title": "Order", "type": "object"}), {})
PROTO = FORMATS["PROTOBUF"].parse('syntax = "proto3"; package shop; message Order { int64 id = 1; }', {})


def test_topic_name_is_the_topic_and_key_or_value_whatever_the_schema():
    assert subject_name("TOPIC_NAME", "orders", False, None) == "orders-value"
    assert subject_name("TOPIC_NAME", "orders", True, AVRO) == "orders-key"


@pytest.mark.parametrize("schema, name", [(AVRO, "shop.Order"), (JSON, "Order"), (PROTO, "shop.Order")])
def test_record_strategies_take_the_records_full_name(schema, name):
    assert subject_name("RECORD_NAME", "orders", False, schema) == name
    assert subject_name("TOPIC_RECORD_NAME", "orders", True, schema) == f"orders-{name}"


def test_record_strategies_need_the_schema_and_a_record_in_it():
    with pytest.raises(BadRequest):
        subject_name("RECORD_NAME", "orders", False, None)
    untitled = FORMATS["JSON"].parse(json.dumps({"type": "object"}), {})
    with pytest.raises(InvalidValue):
        subject_name("TOPIC_RECORD_NAME", "orders", False, untitled)
    with pytest.raises(InvalidValue):
        subject_name("SUBJECT_NAME", "orders", False, AVRO)
