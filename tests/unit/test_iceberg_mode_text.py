"""The iceberg.mode topic config's text, Redpanda's form (kraft/config/iceberg_mode_text.py):
what each accepted text means and why each refused one is refused."""

from __future__ import annotations

import pytest

from kraft.config.iceberg_mode_text import IcebergMode, mode_problem, parse_mode
from kraft.config.topic_configs import ConfigError, parse_topic_override


@pytest.mark.parametrize("text, mode", [
    ("disabled", IcebergMode("disabled")),
    ("key_value", IcebergMode("key_value")),
    ("value_schema_id_prefix", IcebergMode("value_schema_id_prefix")),
    ("value_schema_latest", IcebergMode("value_schema_latest")),
    ("value_schema_latest:subject=orders-v2", IcebergMode("value_schema_latest", "orders-v2")),
    ("value_schema_latest:protobuf_name=shop.Order", IcebergMode("value_schema_latest", None, "shop.Order")),
    ("value_schema_latest:protobuf_name=shop.Order,subject=s", IcebergMode("value_schema_latest", "s", "shop.Order")),
])
def test_each_mode_and_its_options(text, mode):
    assert parse_mode(text) == mode
    assert parse_topic_override("iceberg.mode", text) == text  # a topic config takes it as written


def test_the_subject_defaults_to_the_topics_value_subject():
    assert parse_mode("value_schema_latest").subject_for("orders") == "orders-value"
    assert parse_mode("value_schema_latest:subject=x").subject_for("orders") == "x"


@pytest.mark.parametrize("text, why", [
    ("kv", "the mode is one of"),
    ("key_value:subject=x", "only value_schema_latest takes options"),
    ("value_schema_latest:", "an option is"),
    ("value_schema_latest:subject=", "an option is"),
    ("value_schema_latest:colour=red", "an option is"),
    ("value_schema_latest:subject=a,subject=b", "given twice"),
    ("value_schema_latest:protobuf_name=.shop", "full name"),
    ("value_schema_latest:protobuf_name=shop..Order", "full name"),
    ("value_schema_latest:protobuf_name=shop Order", "full name"),
    ("value_schema_latest:subject=" + "s" * 300, "at most 255"),
    ("value_schema_latest:subject=" + "s" * 700, "longer than"),
])
def test_what_is_refused_and_why(text, why):
    assert why in (mode_problem(text) or ""), mode_problem(text)
    with pytest.raises(ConfigError):
        parse_topic_override("iceberg.mode", text)
