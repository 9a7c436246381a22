"""Pieces of the Kafka answers issue 35 corrected, checked without a cluster: keyless
records on a compacted topic (INVALID_RECORD with KIP-467 record errors, both doors),
ListGroups' state and type filters, the authorized-operations bitfield, a member's
group.instance.id in DescribeGroups, Metadata's code for an illegal topic name,
AlterReplicaLogDirs' codes for a broker with one log dir."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from kraft.api.error_map import error_body
from kraft.broker.client_writes import check_keys, checked_client_batch
from kraft.errors import InvalidRecord, InvalidTxnState, PartitionNotInTransaction
from kraft.groups.kafka_client_group import KafkaClientGroup
from kraft.kafka.handlers import metadata_api
from kraft.kafka.handlers import produce_api
from kraft.kafka.connection.authorized_ops import bitfield
from kraft.kafka.wire.codec import RequestHead
from kraft.kafka.handlers.group_admin_api import listed
from kraft.kafka.handlers.log_admin_api import log_dir_move_error
from kraft.kafka.connection.request_context import RequestContext
from kraft.storage.record import Record
from kraft.storage.record_batch import encode_batch

COMPACTED = {"max.message.bytes": "1000000", "compression.type": "producer", "cleanup.policy": "compact,delete"}


def test_keyless_records_on_a_compacted_topic_refuse_the_whole_batch_naming_each():
    records = [Record(b"k", b"v", (), 0), Record(None, b"v", (), 0), Record(b"k2", None, (), 0),
               Record(None, None, (), 0)]
    with pytest.raises(InvalidRecord) as refused:
        checked_client_batch(encode_batch(records, 0, -1), COMPACTED, "t")
    assert [i for i, _ in refused.value.record_errors] == [1, 3]
    assert refused.value.kafka_code == 87
    body, status = error_body(refused.value)  # the REST door's answer
    assert status == 422 and [e["batch_index"] for e in body["record_errors"]] == [1, 3]
    keyed = encode_batch([Record(b"k", None, (), 0)], 0, -1)  # a tombstone has a key: fine
    assert checked_client_batch(keyed, COMPACTED, "t")[0] == keyed
    check_keys(records, {**COMPACTED, "cleanup.policy": "delete"}, "t")  # not compacted: anything goes


def test_a_produce_answer_carries_the_record_errors():
    request = SimpleNamespace(topic_data=[SimpleNamespace(name="t", partition_data=[SimpleNamespace(index=0)])])
    refusal = InvalidRecord("2 records have no key", ((1, "needs a key"), (3, "needs a key")))
    (part,) = produce_api._answer(None, SimpleNamespace(api_version=9), request,
                                  {("t", 0): (87, -1, -1, -1, refusal)})["responses"][0]["partition_responses"]
    assert part["error_code"] == 87 and part["error_message"] == "2 records have no key"
    assert part["record_errors"] == [{"batch_index": 1, "batch_index_error_message": "needs a key"},
                                     {"batch_index": 3, "batch_index_error_message": "needs a key"}]


def test_a_batch_outside_its_transaction_is_transaction_abortable_from_produce_v11():
    request = SimpleNamespace(topic_data=[SimpleNamespace(name="t", partition_data=[SimpleNamespace(index=0)])])
    refusal = PartitionNotInTransaction("t-0 is not in the open transaction")

    def code(version: int) -> int:
        answer = produce_api._answer(None, SimpleNamespace(api_version=version), request,
                                     {("t", 0): (refusal.kafka_code, -1, -1, -1, refusal)})
        return answer["responses"][0]["partition_responses"][0]["error_code"]

    assert [code(v) for v in (9, 10, 11)] == [48, 48, 120]  # INVALID_TXN_STATE, then TRANSACTION_ABORTABLE
    other = InvalidTxnState("a transactional batch came without a transactional id")
    assert produce_api._answer(None, SimpleNamespace(api_version=11), request, {("t", 0): (48, -1, -1, -1, other)})[
        "responses"][0]["partition_responses"][0]["error_code"] == 48  # only the partition check changes


def test_list_groups_filters_states_and_types_without_case():
    summaries = [{"group_id": "a", "state": "Stable"}, {"group_id": "b", "state": "Empty", "protocol_type": "connect"},
                 {}]
    assert [r["group_id"] for r in listed(summaries, [], [])] == ["a", "b"]
    assert [r["group_id"] for r in listed(summaries, ["stable"], [])] == ["a"]
    assert [r["group_type"] for r in listed(summaries, [], ["Classic"])] == ["classic", "classic"]
    assert listed(summaries, [], ["consumer"]) == []  # no KIP-848 group here
    assert listed(summaries, ["Empty"], [])[0]["protocol_type"] == "connect"


def test_authorized_operations_are_kafkas_bits_of_what_is_allowed():
    everything = {"TOPIC": 0b1101_1111_1000,  # READ..DESCRIBE (3-8), DESCRIBE_CONFIGS, ALTER_CONFIGS (10, 11)
                  "GROUP": (1 << 3) | (1 << 6) | (1 << 8),
                  "CLUSTER": (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12),
                  "TRANSACTIONAL_ID": (1 << 4) | (1 << 8)}
    for resource_type, bits in everything.items():
        assert bitfield(resource_type, lambda op: True) == bits
    assert bitfield("TOPIC", lambda op: op in ("READ", "DESCRIBE")) == (1 << 3) | (1 << 8)
    assert bitfield("CLUSTER", lambda op: False) == 0


async def test_describe_shows_the_instance_id_a_member_joined_with():
    group = KafkaClientGroup("g", {"t": 1}, "p.")
    joined = await group.join(None, "c", 10_000, 10_000, "consumer", [("range", b"")], frozenset({"t"}), 0,
                              group_instance_id="static-1")
    (member,) = group.members()
    assert member["group_instance_id"] == "static-1" and group.instance_id_of(joined.member_id) == "static-1"
    other = KafkaClientGroup("h", {}, "p.")
    await other.join(None, "c", 10_000, 10_000, "consumer", [("range", b"")], frozenset(), 0)
    assert other.members()[0]["group_instance_id"] is None


def test_metadata_names_an_illegal_topic_invalid_not_a_bad_request():
    node = SimpleNamespace(access=SimpleNamespace(enabled=False))
    metadata_v12 = RequestContext(RequestHead(3, 12, 0, None))  # no connection: nothing to refuse
    answer = asyncio.run(metadata_api._named_topic(node, metadata_v12, "no spaces!", allow_create=True))
    assert answer["error_code"] == 17 and answer["partitions"] == []


def test_a_replica_moves_only_to_the_one_log_dir_it_is_in():
    own = frozenset({"/data/node-1/partitions"})
    assert log_dir_move_error(own, "/data/node-1/partitions/", False, True) == 0  # already there
    assert log_dir_move_error(own, "/data/node-1/partitions", False, False) == 9  # REPLICA_NOT_AVAILABLE
    assert log_dir_move_error(own, "/data/node-1/partitions", True, True) == 56  # KAFKA_STORAGE_ERROR
    for elsewhere in ("/data/node-2/partitions", "partitions", ""):
        assert log_dir_move_error(own, elsewhere, True, True) == 57  # LOG_DIR_NOT_FOUND comes first


def test_every_produce_refusal_carries_its_reason_in_the_error_message():
    part = SimpleNamespace(index=0, records=b"")
    request = SimpleNamespace(acks=5, timeout=__import__("datetime").timedelta(seconds=1), transactional_id=None,
                              topic_data=[SimpleNamespace(name="t", partition_data=[part])])
    answer = asyncio.run(produce_api.handle(None, SimpleNamespace(api_version=9), request))
    (refused,) = answer["responses"][0]["partition_responses"]
    assert refused["error_code"] == 21 and refused["error_message"] == "acks must be 0, 1 or -1 (all), got 5"
    (missing,) = produce_api._answer(None, SimpleNamespace(api_version=9), request, {})["responses"][0][
        "partition_responses"]
    assert missing["error_code"] == 42 and missing["error_message"]
