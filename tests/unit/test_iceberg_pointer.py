"""An Iceberg topic's table pointer in the metadata: moved only by compare-and-set
(controller/iceberg_control.py), replayed into the image, kept by the snapshot codec,
gone with its topic. Through the real state machine."""

from __future__ import annotations

import pytest

from kraft.controller.commands import build_command
from kraft.controller.iceberg_control import commit_table
from kraft.controller.topic_control import delete_topic
from kraft.errors import BadRequest, ConcurrentMetadataChange, TopicNotFound
from kraft.iceberg.names import live_key, pointer_key, table_names
from kraft.metadata.image_codec import image_from_dict, image_to_dict
from kraft.metadata.records import (BecomeController, ConfigRecord, MetadataBatch, RemoveTopic, TopicRecord,
                                    encode_batch)
from kraft.metadata.state_machine import MetadataStateMachine


def apply(sm, records):
    return sm.apply(encode_batch(MetadataBatch(controller_epoch=1, records=tuple(records))))


def with_topic() -> MetadataStateMachine:
    sm = MetadataStateMachine()
    assert apply(sm, [BecomeController(controller_id=1, controller_epoch=1)]).ok
    assert apply(sm, [TopicRecord(name="events", topic_id="t1")]).ok
    return sm


def commit(sm, based_on, location, topic="events", topic_id="t1"):
    records, answer = commit_table(sm.image, topic, topic_id, based_on, location)
    assert apply(sm, records).ok
    return answer


def test_the_pointer_moves_only_from_where_the_commit_began():
    sm = with_topic()
    assert commit(sm, None, "file:///w/m0.json") == {"metadata_location": "file:///w/m0.json"}
    commit(sm, "file:///w/m0.json", "file:///w/m1.json")
    assert sm.image.iceberg_tables == {"t1": "file:///w/m1.json"}
    # two commits raced from m1: the second finds the table moved on
    commit(sm, "file:///w/m1.json", "file:///w/m2a.json")
    with pytest.raises(ConcurrentMetadataChange, match="reload it and retry"):
        commit_table(sm.image, "events", "t1", "file:///w/m1.json", "file:///w/m2b.json")
    # a second "first commit" (another partition's translator creating the table) too
    with pytest.raises(ConcurrentMetadataChange):
        commit_table(sm.image, "events", "t1", None, "file:///w/other.json")
    assert sm.image.iceberg_tables == {"t1": "file:///w/m2a.json"}


def test_a_commit_for_a_topic_gone_or_made_again_is_refused():
    sm = with_topic()
    with pytest.raises(TopicNotFound):
        commit_table(sm.image, "events", "old-id", None, "file:///w/m0.json")
    with pytest.raises(TopicNotFound):
        commit_table(sm.image, "nope", "t1", None, "file:///w/m0.json")


def test_the_pointer_survives_the_snapshot_codec_and_leaves_with_its_topic():
    sm = with_topic()
    assert apply(sm, [TopicRecord(name="other", topic_id="t2")]).ok
    commit(sm, None, "file:///w/e.json")
    commit(sm, None, "file:///w/o.json", topic="other", topic_id="t2")
    assert image_from_dict(image_to_dict(sm.image)).iceberg_tables == {"t1": "file:///w/e.json",
                                                                      "t2": "file:///w/o.json"}
    assert apply(sm, [RemoveTopic(topic_id="t1")]).ok
    assert sm.image.iceberg_tables == {"t2": "file:///w/o.json"}
    # a topic made again under the name starts without a table
    assert apply(sm, [TopicRecord(name="events", topic_id="t3")]).ok
    assert "t3" not in sm.image.iceberg_tables
    assert "iceberg_tables" not in image_to_dict(with_topic().image)  # none: the snapshot is as before


def test_the_request_is_checked_where_it_runs():
    with pytest.raises(BadRequest, match="metadata_location"):
        build_command("commit_iceberg_table", {"topic": "events", "topic_id": "t1", "metadata_location": ""},
                      None, {})
    with pytest.raises(BadRequest):
        build_command("commit_iceberg_table", {"topic": "events", "topic_id": "t1",
                                               "metadata_location": "x" * 5000}, None, {})


def delete(sm, name):
    records, _ = delete_topic(sm.image, name)
    assert apply(sm, records).ok


def test_a_topic_deleted_with_iceberg_delete_false_leaves_its_tables_in_the_catalog_by_name():
    sm = with_topic()
    assert apply(sm, [TopicRecord(name="scratch", topic_id="t2"),
                      ConfigRecord(resource_type="topic", resource_name="events", name="iceberg.delete",
                                   value="false")]).ok
    commit(sm, None, "file:///w/e.json")
    commit(sm, None, "file:///w/e-dlq.json", topic_id="t1~dlq")
    commit(sm, None, "file:///w/s.json", topic="scratch", topic_id="t2")
    delete(sm, "events")
    delete(sm, "scratch")  # iceberg.delete's default: the table goes with its topic
    assert sm.image.iceberg_tables == {"kept:events": "file:///w/e.json", "kept:events~dlq": "file:///w/e-dlq.json"}
    assert image_from_dict(image_to_dict(sm.image)).iceberg_tables == sm.image.iceberg_tables
    assert table_names(sm.image) == ["events", "events~dlq"]
    assert pointer_key(sm.image, "events") == "kept:events" and live_key(sm.image, "events") is None
    with pytest.raises(TopicNotFound):  # a kept table is history: nothing commits to it
        commit_table(sm.image, "events", "kept:events", "file:///w/e.json", "file:///w/e2.json")
    # a topic made again under the name: the kept table is read until the new one has a table
    assert apply(sm, [TopicRecord(name="events", topic_id="t3")]).ok
    assert live_key(sm.image, "events") == "t3" and pointer_key(sm.image, "events") == "kept:events"
    commit(sm, None, "file:///w/new.json", topic_id="t3")
    assert pointer_key(sm.image, "events") == "t3" and table_names(sm.image) == ["events", "events~dlq"]


def test_keeping_again_under_a_name_replaces_both_kept_tables():
    sm = with_topic()
    assert apply(sm, [ConfigRecord(resource_type="topic", resource_name="events", name="iceberg.delete",
                                   value="false")]).ok
    commit(sm, None, "file:///w/old.json")
    commit(sm, None, "file:///w/old-dlq.json", topic_id="t1~dlq")
    delete(sm, "events")
    assert apply(sm, [TopicRecord(name="events", topic_id="t2"),
                      ConfigRecord(resource_type="topic", resource_name="events", name="iceberg.delete",
                                   value="false")]).ok
    delete(sm, "events")  # never translated: nothing to keep, the kept tables stay
    assert sm.image.iceberg_tables == {"kept:events": "file:///w/old.json", "kept:events~dlq": "file:///w/old-dlq.json"}
    assert apply(sm, [TopicRecord(name="events", topic_id="t3"),
                      ConfigRecord(resource_type="topic", resource_name="events", name="iceberg.delete",
                                   value="false")]).ok
    commit(sm, None, "file:///w/new.json", topic_id="t3")  # a table, no dead letters
    delete(sm, "events")
    assert sm.image.iceberg_tables == {"kept:events": "file:///w/new.json"}  # never t3's table with t1's dead letters
    assert table_names(sm.image) == ["events"]
