"""Produce through the HTTP API against one real 3-node cluster.

What a Confluent REST Proxy (v2, v3) user would notice: the response shapes, that
values come back exactly as sent, where records land (explicit partition, murmur2 of
the key, keyless spread), acks, v3 streaming / typed data / headers / timestamps,
records:batch, forwarding through any node, and that every bad request gets the
error envelope with its code and stores nothing.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from cluster_client import (
    NODES,
    V2_BINARY,
    V2_JSON,
    assert_envelope,
    call,
    create_topic,
    padded_json_parts,
    raw_http,
)
from inproc_cluster import InProcessCluster

from kraft.broker.partitioner import partition_for_key

pytestmark = pytest.mark.cluster


MIB = 1024 * 1024
BAD = "bad-input"      # 3 partitions; only the bad-input cases write to it (acks=all)
SMALL = "small"        # 1 partition, max.message.bytes=1000
_names = itertools.count()


# -- fixture and helpers -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    # a missing topic stays missing here (40401); auto-creation: test_first_use.py
    with InProcessCluster(nodes=3, cluster={"auto.create.topics.enable": False}) as c:
        c.start().wait_ready(timeout_s=30)
        create_topic(c, BAD, 3)
        create_topic(c, SMALL, 1, {"max.message.bytes": 1000})
        yield c


@pytest.fixture
def topic(cluster):
    """A fresh 3-partition topic for one test."""
    return create_topic(cluster, f"produce-{next(_names)}", 3)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def v2_post(c, node, topic, body=None, raw=None, ctype=V2_JSON, partition=None, query=""):
    path = f"/topics/{topic}" + (f"/partitions/{partition}" if partition is not None else "")
    return call("POST", c.url(node) + path + query, body=body, raw=raw,
                     headers={"Content-Type": ctype}, timeout=30)


def v3_post(c, node, topic, body=None, raw=None, ctype="application/json", suffix="/records",
            query=""):
    return call("POST", f"{c.v3(node)}/topics/{topic}{suffix}{query}", body=body, raw=raw,
                     headers={"Content-Type": ctype}, timeout=30)


def offsets(c, topic, partition, node=1):
    status, body = call("GET", f"{c.url(node)}/topics/{topic}/partitions/{partition}/offsets")
    assert status == 200, body
    return body["beginning_offset"], body["end_offset"]


def read(c, topic, partition, offset=0, binary=False, node=1, timeout=0):
    status, body = call(
        "GET", f"{c.url(node)}/topics/{topic}/partitions/{partition}/records"
               f"?offset={offset}&timeout={timeout}",
        headers={"Accept": V2_BINARY if binary else V2_JSON}, timeout=30)
    assert status == 200, body
    return body


def read_all(c, topic, partition, offset=0, binary=False, node=1):
    """Every record from `offset` to the end offset, reading page after page (bounded)."""
    end = offsets(c, topic, partition, node)[1]
    out = []
    for _ in range(1000):
        if offset >= end:
            return out
        page = read(c, topic, partition, offset, binary, node)
        assert page, f"no records at {offset} although the end offset is {end}"
        out += page
        offset = page[-1]["offset"] + 1
    raise AssertionError("read_all did not finish")


def assert_ok_offsets(status, body, count):
    assert status == 200, body
    assert set(body) == {"offsets", "key_schema_id", "value_schema_id"}, body
    assert body["key_schema_id"] is None and body["value_schema_id"] is None, body
    assert len(body["offsets"]) == count, body
    for o in body["offsets"]:
        assert set(o) == {"partition", "offset", "error_code", "error"}, o
        assert o["error_code"] is None and o["error"] is None, o
        assert isinstance(o["partition"], int) and isinstance(o["offset"], int), o
    return body["offsets"]


@contextmanager
def nothing_stored(c, topic, partitions=3):
    """No partition of `topic` grows inside the block (seen from node 1, the end offsets)."""
    before = [offsets(c, topic, p)[1] for p in range(partitions)]
    yield
    after = [offsets(c, topic, p)[1] for p in range(partitions)]
    assert after == before, f"records were stored: {before} -> {after}"


def iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


# -- v2 ----------------------------------------------------------------------------------------
def test_v2_json_response_shape(cluster, topic):
    status, body = v2_post(cluster, 1, topic, {"records": [{"value": {"a": 1}}]})
    [o] = assert_ok_offsets(status, body, 1)
    assert 0 <= o["partition"] < 3
    assert o["offset"] == 0
    assert body == {"offsets": [{"partition": o["partition"], "offset": 0, "error_code": None,
                                 "error": None}],
                    "key_schema_id": None, "value_schema_id": None}


JSON_VALUES = [
    {"a": 1, "nested": [1, 2, {"b": None, "c": [True, False]}], "s": "x"},
    "unicode ☃ 日本語 🎉 ça",
    None,
    "",
    0,
    -12.5,
    True,
    [1, "two", None],
    'quotes " and \\ backslash\nand newline\ttab',
    {},
    {"big": 2**53},
]


def test_v2_json_values_round_trip(cluster, topic):
    records = [{"key": {"k": i} if i % 2 else f"key-{i}", "value": v, "partition": 1}
               for i, v in enumerate(JSON_VALUES)]
    status, body = v2_post(cluster, 2, topic, {"records": records})
    offs = assert_ok_offsets(status, body, len(records))
    assert [o["partition"] for o in offs] == [1] * len(records)
    assert [o["offset"] for o in offs] == list(range(len(records)))
    got = read_all(cluster, topic, 1)
    assert [r["value"] for r in got] == JSON_VALUES
    assert [r["key"] for r in got] == [r["key"] for r in records]
    for r in got:
        assert set(r) >= {"topic", "key", "value", "partition", "offset", "timestamp"}, r
        assert r["topic"] == topic and r["partition"] == 1
        assert isinstance(r["timestamp"], int)


BINARY_VALUES = [b"\x00", b"\x00\x01\x02\xff\xfe", b"plain text", bytes(range(256)), b"",
                 "ünïcødé".encode(), b"\x00" * 100, None]


def test_v2_binary_values_round_trip(cluster, topic):
    records = [{"key": None if v is None else b64(b"k\x00" + bytes([i])),
                "value": None if v is None else b64(v)} for i, v in enumerate(BINARY_VALUES)]
    status, body = v2_post(cluster, 3, topic, {"records": records}, ctype=V2_BINARY,
                           partition=2)
    offs = assert_ok_offsets(status, body, len(records))
    assert {o["partition"] for o in offs} == {2}
    assert [o["offset"] for o in offs] == list(range(len(records)))
    got = read_all(cluster, topic, 2, binary=True)
    assert [None if r["value"] is None else base64.b64decode(r["value"]) for r in got] \
        == BINARY_VALUES
    assert [r["key"] for r in got] == [r["key"] for r in records]


def test_v2_empty_binary_value_is_not_null(cluster, topic):
    """Kafka tells an empty value from a null one; so does the REST proxy."""
    status, body = v2_post(cluster, 1, topic, {"records": [{"value": ""}, {"value": None}]},
                           ctype=V2_BINARY, partition=0)
    assert_ok_offsets(status, body, 2)
    got = read_all(cluster, topic, 0, binary=True)
    assert [r["value"] for r in got] == ["", None]


def test_v2_partition_in_path(cluster, topic):
    status, body = v2_post(cluster, 1, topic, {"records": [{"value": i} for i in range(4)]},
                           partition=1)
    offs = assert_ok_offsets(status, body, 4)
    assert [(o["partition"], o["offset"]) for o in offs] == [(1, 0), (1, 1), (1, 2), (1, 3)]
    assert [r["value"] for r in read_all(cluster, topic, 1)] == [0, 1, 2, 3]
    assert offsets(cluster, topic, 0) == (0, 0) and offsets(cluster, topic, 2) == (0, 0)


def test_v2_explicit_partition_per_record(cluster, topic):
    wanted = [0, 1, 2, 1, 0, 2, 2]
    status, body = v2_post(cluster, 2, topic, {"records": [
        {"value": f"v{i}", "partition": p, "key": "same-key"} for i, p in enumerate(wanted)]})
    offs = assert_ok_offsets(status, body, len(wanted))
    assert [o["partition"] for o in offs] == wanted  # the explicit partition beats the key
    for p in range(3):
        expected = [f"v{i}" for i, q in enumerate(wanted) if q == p]
        assert [r["value"] for r in read_all(cluster, topic, p)] == expected
        assert sorted(o["offset"] for o in offs if o["partition"] == p) \
            == list(range(len(expected)))


def test_same_key_goes_to_the_murmur2_partition(cluster, topic):
    keys = [f"user-{i}" for i in range(24)] + ["", "ключ", "a" * 100]
    seen = {}
    for rnd in range(2):
        for node, key in zip(itertools.cycle(NODES), keys):
            status, body = v2_post(cluster, node, topic, {"records": [{"key": key, "value": rnd}]})
            [o] = assert_ok_offsets(status, body, 1)
            # JSON format: the key's bytes are its JSON text, as Confluent's JSON serializer
            assert o["partition"] == partition_for_key(json.dumps(key, ensure_ascii=False)
                                                       .encode(), 3), key
            assert seen.setdefault(key, o["partition"]) == o["partition"]
    assert len(set(seen.values())) == 3  # these keys do not all hash alike
    # binary format: the key's raw bytes
    for key in (b"user-1", b"\x00\xff", b"order-42"):
        status, body = v2_post(cluster, 1, topic, {"records": [{"key": b64(key), "value": b64(b"v")}]},
                               ctype=V2_BINARY)
        [o] = assert_ok_offsets(status, body, 1)
        assert o["partition"] == partition_for_key(key, 3), key


def test_keyless_records_go_to_the_partitions_the_asked_node_leads(cluster, topic):
    # no node-to-node forward for a keyless record: the node asked places it on a
    # partition it leads, round-robin (a node leading none spreads over all)
    status, body = call("GET", f"{cluster.url(1)}/topics/{topic}/partitions")
    assert status == 200, body
    leaders = {p["partition"]: p["leader"] for p in body}
    used = set()
    for node in (1, 2, 3):
        led = {p for p, leader in leaders.items() if leader == node} or set(leaders)
        got = set()
        for i in range(4):
            status, body = v2_post(cluster, node, topic, {"records": [{"value": i}]})
            [o] = assert_ok_offsets(status, body, 1)
            got.add(o["partition"])
        assert got == led, (node, got, leaders)
        used |= got
    assert used == {0, 1, 2}, leaders
    assert sum(offsets(cluster, topic, p)[1] for p in range(3)) == 12


def test_acks_0_answers_minus_one_and_the_record_arrives(cluster, topic):
    status, body = v2_post(cluster, 2, topic, {"records": [{"value": "fire-and-forget"},
                                                            {"value": "second"}]},
                           partition=0, query="?acks=0")
    offs = assert_ok_offsets(status, body, 2)
    assert [(o["partition"], o["offset"]) for o in offs] == [(0, -1), (0, -1)]
    deadline = time.monotonic() + 10
    while True:
        got = read(cluster, topic, 0, timeout=500)
        if len(got) >= 2:
            break
        assert time.monotonic() < deadline, f"acks=0 records never became readable: {got}"
    assert [r["value"] for r in got] == ["fire-and-forget", "second"]


def test_acks_0_writes_keep_their_order_through_every_node(cluster, topic):
    # acks=0 is answered before the write: the writes behind the answers must still land
    # in the order they were answered, also when a node forwards them to the leader
    sent = {node: [f"n{node}-{i}" for i in range(25)] for node in NODES}
    for i in range(25):
        for node in NODES:
            status, body = v2_post(cluster, node, topic, {"records": [{"value": sent[node][i]}]},
                                   partition=1, query="?acks=0")
            assert assert_ok_offsets(status, body, 1)[0]["offset"] == -1
    total = 25 * len(NODES)
    deadline = time.monotonic() + 15
    got = []
    while len(got) < total:
        got += read(cluster, topic, 1, offset=len(got), timeout=500)
        assert time.monotonic() < deadline, f"only {len(got)} of {total} acks=0 records arrived"
    values = [r["value"] for r in got]
    assert sorted(values) == sorted(v for vs in sent.values() for v in vs)  # none lost, none twice
    for node in NODES:
        assert [v for v in values if v.startswith(f"n{node}-")] == sent[node]
    status, body = v2_post(cluster, 2, topic, {"records": [{"value": 1}]}, partition=7, query="?acks=0")
    assert_envelope(status, body, 40402)  # checked before the answer, not lost after it
    status, body = v2_post(cluster, 2, "no-such-topic", {"records": [{"value": 1}]}, query="?acks=0")
    assert_envelope(status, body, 40401)


@pytest.mark.parametrize("acks", ["1", "all", "-1"])
def test_acks_1_and_all_give_consecutive_offsets(cluster, topic, acks):
    seen = []
    for n in range(3):
        status, body = v2_post(cluster, NODES[n], topic,
                               {"records": [{"value": f"{n}-{i}"} for i in range(4)]},
                               partition=2, query=f"?acks={acks}&timeout_ms=10000")
        seen += [o["offset"] for o in assert_ok_offsets(status, body, 4)]
    assert seen == list(range(12))
    deadline = time.monotonic() + 10
    while offsets(cluster, topic, 2)[1] < 12:
        assert time.monotonic() < deadline, "the high watermark never reached 12"
        time.sleep(0.05)
    assert [r["value"] for r in read_all(cluster, topic, 2)] == \
        [f"{n}-{i}" for n in range(3) for i in range(4)]


# -- v3 ----------------------------------------------------------------------------------------
def test_v3_single_record_report(cluster, topic):
    status, body = v3_post(cluster, 1, topic, {
        "partition_id": 1,
        "key": {"type": "STRING", "data": "kéy"},
        "value": {"type": "JSON", "data": {"x": 1, "y": [1, 2]}},
    })
    assert status == 200, body
    assert body["error_code"] == 200
    assert body["cluster_id"] == cluster.cluster_id
    assert body["topic_name"] == topic
    assert body["partition_id"] == 1
    assert body["offset"] == 0
    assert isinstance(body["timestamp"], str)
    assert abs(iso_ms(body["timestamp"]) - time.time() * 1000) < 60_000
    assert body["key"] == {"type": "STRING", "size": len("kéy".encode())}
    value_bytes = len(json.dumps({"x": 1, "y": [1, 2]}, separators=(",", ":")).encode())
    assert body["value"] == {"type": "JSON", "size": value_bytes}
    [r] = read_all(cluster, topic, 1)
    assert r["key"] == "kéy" and r["value"] == {"x": 1, "y": [1, 2]}


def test_v3_value_only_report_has_no_key(cluster, topic):
    status, body = v3_post(cluster, 2, topic, {"partition_id": 0,
                                               "value": {"type": "STRING", "data": "v"}})
    assert status == 200, body
    assert "key" not in body or body["key"] is None, body
    assert body["value"] == {"type": "STRING", "size": 1}


def test_v3_streaming_gives_one_report_per_record(cluster, topic):
    recs = [{"partition_id": 2, "value": {"type": "JSON", "data": {"n": i}}} for i in range(5)]
    raw = (json.dumps(recs[0]) + json.dumps(recs[1]) + "\n" + json.dumps(recs[2]) + "  \r\n\t"
           + json.dumps(recs[3], indent=2) + "\n" + json.dumps(recs[4]) + "\n").encode()
    status, body = v3_post(cluster, 3, topic, raw=raw)
    assert status == 200, body
    assert isinstance(body, list) and len(body) == 5, body
    for i, report in enumerate(body):
        assert report["error_code"] == 200, report
        assert report["partition_id"] == 2 and report["topic_name"] == topic
        assert report["offset"] == i
    assert [r["value"] for r in read_all(cluster, topic, 2)] == [{"n": i} for i in range(5)]


def test_v3_data_types_round_trip_as_bytes(cluster, topic):
    blob = b"\x00\x01binary\xff"
    cases = [
        ({"type": "BINARY", "data": b64(blob)}, blob),
        ({"type": "STRING", "data": "héllo wörld"}, "héllo wörld".encode()),
        ({"type": "STRING", "data": ""}, b""),
        ({"type": "JSON", "data": {"a": [1, 2]}}, None),   # JSON text; compared parsed
        ({"type": "JSON", "data": "a string"}, None),
        ({"type": "JSON", "data": 42}, None),
    ]
    for spec, _ in cases:
        status, body = v3_post(cluster, 1, topic, {"partition_id": 0, "key": spec, "value": spec})
        assert status == 200, (spec, body)
        assert body["value"]["type"] == spec["type"] and body["key"]["type"] == spec["type"]
    got = read_all(cluster, topic, 0, binary=True)
    assert len(got) == len(cases)
    for (spec, expected), r in zip(cases, got):
        value = base64.b64decode(r["value"])
        key = base64.b64decode(r["key"])
        if expected is None:
            assert json.loads(value) == spec["data"] and json.loads(key) == spec["data"]
        else:
            assert value == expected and key == expected, spec


def test_v3_report_sizes_are_decoded_bytes(cluster, topic):
    blob = bytes(range(200))
    status, body = v3_post(cluster, 2, topic, {"value": {"type": "BINARY", "data": b64(blob)},
                                               "key": {"type": "STRING", "data": "日本"}})
    assert status == 200, body
    assert body["value"] == {"type": "BINARY", "size": 200}
    assert body["key"] == {"type": "STRING", "size": 6}


def test_v3_headers_round_trip(cluster, topic):
    headers = [{"name": "trace-id", "value": b64(b"abc-123")},
               {"name": "bin", "value": b64(b"\x00\xff\x10")},
               {"name": "trace-id", "value": b64(b"second with same name")},
               {"name": "ünï", "value": b64("välue".encode())}]
    status, body = v3_post(cluster, 3, topic, {"partition_id": 1, "headers": headers,
                                               "value": {"type": "STRING", "data": "h"}})
    assert status == 200, body
    for binary in (False, True):
        records = read_all(cluster, topic, 1, binary=binary)
        # a retried 50003 (outcome unknown) may have stored the record twice: no
        # idempotent producer yet; every copy must carry the headers, in order
        assert records and all(r["headers"] == headers for r in records)


def test_v3_timestamp_in_ms_and_iso_is_kept(cluster):
    # old timestamps: retention.ms (by record time) would delete them, so keep forever
    topic = create_topic(cluster, f"produce-ts-{next(_names)}", 3, {"retention.ms": -1})
    ms = 1_700_000_000_123
    iso_text = "2024-01-02T03:04:05.678Z"
    iso_expected = int(datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC).timestamp() * 1000)
    for ts, expected in ((ms, ms), (iso_text, iso_expected),
                         ("2024-01-02T04:04:05.678+01:00", iso_expected)):
        status, body = v3_post(cluster, 1, topic, {"partition_id": 0, "timestamp": ts,
                                                   "value": {"type": "STRING", "data": str(ts)}})
        assert status == 200, body
        assert iso_ms(body["timestamp"]) == expected, body
    got = read_all(cluster, topic, 0)
    assert [r["timestamp"] for r in got] == [ms, iso_expected, iso_expected]
    # v2 records carry a timestamp too (ext): kept the same way
    status, body = v2_post(cluster, 2, topic, {"records": [{"value": 1, "timestamp": ms}]},
                           partition=0)
    assert_ok_offsets(status, body, 1)
    assert read_all(cluster, topic, 0)[-1]["timestamp"] == ms


def test_v3_batch_reports_successes_by_id(cluster, topic):
    entries = [{"id": f"e{i}", "partition_id": i % 3, "value": {"type": "JSON", "data": i}}
               for i in range(6)]
    status, body = v3_post(cluster, 1, topic, {"entries": entries}, suffix="/records:batch")
    assert status == 207, body
    assert body["failures"] == []
    assert sorted(s["id"] for s in body["successes"]) == [e["id"] for e in entries]
    for s in body["successes"]:
        i = int(s["id"][1:])
        assert s["error_code"] == 200 and s["partition_id"] == i % 3 and s["topic_name"] == topic
        assert s["offset"] == i // 3
    for p in range(3):
        assert [r["value"] for r in read_all(cluster, topic, p)] == [p, p + 3]


def test_v3_batch_mixed_gives_failures_by_id(cluster, topic):
    """One entry aimed at a partition that does not exist fails alone, by its id."""
    entries = [{"id": "good-1", "partition_id": 0, "value": {"type": "JSON", "data": 1}},
               {"id": "bad", "partition_id": 99, "value": {"type": "JSON", "data": 2}},
               {"id": "good-2", "partition_id": 1, "value": {"type": "JSON", "data": 3}}]
    status, body = v3_post(cluster, 2, topic, {"entries": entries}, suffix="/records:batch")
    assert status == 207, body
    assert sorted(s["id"] for s in body["successes"]) == ["good-1", "good-2"]
    [f] = body["failures"]
    assert f["id"] == "bad" and f["error_code"] == 40402 and f["message"]
    assert [r["value"] for r in read_all(cluster, topic, 0)] == [1]
    assert [r["value"] for r in read_all(cluster, topic, 1)] == [3]


# -- every node gives the same results --------------------------------------------------------
def test_produce_via_every_node_gives_the_same_results(cluster, topic):
    results = {}
    for node in NODES:
        status, body = v2_post(cluster, node, topic, {"records": [
            {"key": "fixed", "value": f"v2-{node}"}, {"value": f"p1-{node}", "partition": 1}]})
        offs = assert_ok_offsets(status, body, 2)
        status, rep = v3_post(cluster, node, topic, {"key": {"type": "STRING", "data": "fixed3"},
                                                     "value": {"type": "STRING", "data": f"v3-{node}"}})
        assert status == 200, rep
        status, batch = v3_post(cluster, node, topic, {"entries": [
            {"id": "x", "partition_id": 2, "value": {"type": "STRING", "data": f"b-{node}"}}]},
            suffix="/records:batch")
        assert status == 207 and not batch["failures"], batch
        results[node] = (offs, rep, batch["successes"][0])
    p_fixed = partition_for_key(b'"fixed"', 3)
    p_fixed3 = partition_for_key(b"fixed3", 3)
    assert [results[n][0][0]["partition"] for n in NODES] == [p_fixed] * 3
    assert [results[n][0][1]["partition"] for n in NODES] == [1] * 3
    assert [results[n][1]["partition_id"] for n in NODES] == [p_fixed3] * 3
    assert [results[n][2]["partition_id"] for n in NODES] == [2] * 3
    # each node's write came after the previous node's, in the same partition
    for extract in (lambda r: r[0][1]["offset"], lambda r: r[2]["offset"]):
        offs = [extract(results[n]) for n in NODES]
        assert offs == sorted(set(offs)), offs
    # and every node reads the same records back
    for p in range(3):
        seen = [read_all(cluster, topic, p, node=n) for n in NODES]
        assert seen[0] == seen[1] == seen[2]
    values = {r["value"] for p in range(3) for r in read_all(cluster, topic, p)}
    assert values == {f"{kind}-{n}" for kind in ("v2", "p1", "v3", "b") for n in NODES}


# -- bad input ---------------------------------------------------------------------------------
GOOD = {"records": [{"value": "ok"}]}


@pytest.mark.parametrize("raw, code", [
    pytest.param(b'{records: [{"value": 1}]}', 400, id="malformed"),
    pytest.param(b'{"records": [{"value": 1}', 400, id="truncated"),
    pytest.param(b'{"records": [{"value": 1}]', 400, id="truncated-no-brace"),
    pytest.param(b'{"records": [{"value": 1}]} xyz', 400, id="trailing-garbage"),
    pytest.param(b'{"records": [{"value": 1}]}{"records": []}', 400, id="two-objects"),
    pytest.param(b'{"records": [{"value": 1},]}', 400, id="trailing-comma"),
    pytest.param(b'{"records": [{"value": "\xff"}]}', 400, id="invalid-utf8"),
    pytest.param(b'{"records": {"value": 1}}', 400, id="records-object"),
    pytest.param(b'{"records": "value"}', 400, id="records-string"),
    pytest.param(b'{"records": null}', 400, id="records-null"),
    pytest.param(b'{"records": [1]}', 400, id="record-number"),
    pytest.param(b'{"records": ["v"]}', 400, id="record-string"),
    pytest.param(b'{"records": [[{"value": 1}]]}', 400, id="record-list"),
    pytest.param(b'{"records": [{"value": 1}, null]}', 400, id="second-record-null"),
    pytest.param(b'[{"value": 1}]', 400, id="body-list"),
    pytest.param(b'"records"', 400, id="body-string"),
    pytest.param(b'null', 400, id="body-null"),
    pytest.param(b'{"records": []}', 422, id="empty-records"),
    pytest.param(b'', 422, id="empty-body"),
    pytest.param(b'  \n ', 422, id="whitespace-body"),
])
def test_v2_unusable_body(cluster, raw, code):
    with nothing_stored(cluster, BAD):
        for node in (1, 3):
            status, body = v2_post(cluster, node, BAD, raw=raw)
            assert_envelope(status, body, code)


@pytest.mark.parametrize("records", [
    pytest.param([{"value": "not base64!!"}], id="value-not-base64"),
    pytest.param([{"value": "QUJ"}], id="value-bad-padding"),
    pytest.param([{"value": 123}], id="value-number"),
    pytest.param([{"value": {"a": 1}}], id="value-object"),
    pytest.param([{"key": "%%%", "value": "QUJD"}], id="key-not-base64"),
    pytest.param([{"value": "QUJD"}, {"value": "@@@@"}], id="second-record-bad"),
])
def test_v2_bad_base64_is_refused(cluster, records):
    with nothing_stored(cluster, BAD):
        status, body = v2_post(cluster, 2, BAD, {"records": records}, ctype=V2_BINARY)
        assert_envelope(status, body, codes={400, 42206})


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml",
                                   "application/x-www-form-urlencoded",
                                   "application/vnd.kafka.thrift.v2+json"])
def test_v2_unsupported_content_type_is_415(cluster, ctype):
    with nothing_stored(cluster, BAD):
        status, body = v2_post(cluster, 1, BAD, raw=json.dumps(GOOD).encode(), ctype=ctype)
        assert_envelope(status, body, 415)
        status, body = v3_post(cluster, 1, BAD, raw=b'{"value": {"type": "JSON", "data": 1}}',
                               ctype=ctype)
        assert_envelope(status, body, 415)


@pytest.mark.parametrize("query", ["?acks=2", "?acks=foo", "?acks=",
                                   "?timeout_ms=0", "?timeout_ms=abc", "?timeout_ms=-5",
                                   "?timeout_ms=1.5"])
def test_bad_produce_options_are_400(cluster, query):
    with nothing_stored(cluster, BAD):
        for node in NODES:
            status, body = v2_post(cluster, node, BAD, GOOD, query=query)
            assert_envelope(status, body, 400)
        status, body = v3_post(cluster, 2, BAD, {"value": {"type": "JSON", "data": 1}},
                               query=query)
        assert_envelope(status, body, 400)
        status, body = v3_post(cluster, 3, BAD, {"entries": [
            {"id": "a", "value": {"type": "JSON", "data": 1}}]}, suffix="/records:batch",
            query=query)
        assert_envelope(status, body, 400)


@pytest.mark.parametrize("partition", ["-1", "3", "99", "x", "1.0", "%201"])
def test_bad_partition_in_path_is_40402(cluster, partition):
    with nothing_stored(cluster, BAD):
        for node in NODES:
            status, body = v2_post(cluster, node, BAD, GOOD, partition=partition)
            assert_envelope(status, body, 40402)


@pytest.mark.parametrize("partition", [-1, 3, 99, "x", True, [0]])
def test_bad_partition_in_body_is_40402(cluster, partition):
    with nothing_stored(cluster, BAD):
        status, body = v2_post(cluster, 1, BAD, {"records": [
            {"value": "good", "partition": 0}, {"value": "bad", "partition": partition}]})
        assert_envelope(status, body, 40402)
        status, body = v3_post(cluster, 2, BAD, {"partition_id": partition,
                                                 "value": {"type": "JSON", "data": 1}})
        assert_envelope(status, body, 40402)


@pytest.mark.parametrize("path", ["/topics/nope", "/topics/nope/partitions/0"])
def test_unknown_topic_v2_is_40401(cluster, path):
    for node in NODES:
        status, body = call("POST", cluster.url(node) + path, GOOD,
                                 headers={"Content-Type": V2_JSON})
        assert_envelope(status, body, 40401)


def test_unknown_topic_v3_is_40401(cluster):
    for node in NODES:
        status, body = v3_post(cluster, node, "nope", {"value": {"type": "JSON", "data": 1}})
        assert_envelope(status, body, 40401)
        status, body = v3_post(cluster, node, "nope", {"entries": [
            {"id": "a", "value": {"type": "JSON", "data": 1}}]}, suffix="/records:batch")
        assert_envelope(status, body, 40401)


def test_with_auto_create_off_the_cli_producer_leaves_a_missing_topic_missing(cluster):
    status, body = call("GET", cluster.v3(1) + "/brokers/2/configs/auto.create.topics.enable")
    assert status == 200, body
    assert (body["value"], body["source"], body["is_default"]) == ("false", "STATIC_BROKER_CONFIG", False)
    res = subprocess.run([sys.executable, "-m", "kraft", "produce", "never-made",
                          "--bootstrap", cluster.url(3)], input="a\n", capture_output=True,
                         text=True, timeout=60, check=False, cwd=str(cluster.base_dir))
    assert res.returncode == 1 and "40401" in res.stderr, (res.returncode, res.stderr)
    for node in NODES:
        assert call("GET", cluster.v3(node) + "/topics/never-made")[0] == 404


@pytest.mark.parametrize("raw, code", [
    pytest.param(b'{"value": {"type": "JSON", "data": 1}', 400, id="truncated"),
    pytest.param(b'{value: 1}', 400, id="malformed"),
    pytest.param(b'{"value": {"type": "JSON", "data": 1}} xyz', 400, id="trailing-garbage"),
    pytest.param(b'{"value": {"type": "JSON", "data": 1}}{"value": ', 400,
                 id="stream-truncated-second"),
    pytest.param(b'[{"value": {"type": "JSON", "data": 1}}]', 400, id="body-list"),
    pytest.param(b'42', 400, id="body-number"),
    pytest.param(b'{"value": {"type": "JSON", "data": 1}} 7', 400, id="stream-second-number"),
    pytest.param(b'{"value": 5}', 400, id="value-not-object"),
    pytest.param(b'{"value": "text"}', 400, id="value-string"),
    pytest.param(b'{"value": {"type": "JSON", "data": 1}, "bogus": 1}', 400, id="unknown-field"),
    pytest.param(b'{"value": {"type": "JSON", "data": 1, "extra": 2}}', 400,
                 id="unknown-field-in-value"),
    # a schema format with no schema named: the subject's latest, and the subject has none
    pytest.param(b'{"value": {"type": "AVRO", "data": 1}}', 40403, id="avro-value"),
    pytest.param(b'{"key": {"type": "AVRO", "data": 1}, "value": {"type": "JSON", "data": 1}}',
                 40403, id="avro-key"),
    pytest.param(b'{"key": {"type": "PROTOBUF", "data": 1}}', 40403, id="protobuf-key"),
    pytest.param(b'{"value": {"type": "JSON", "schema_id": 1, "data": 1}}', 400, id="json-with-schema-id"),
    pytest.param(b'{"value": {"type": "AVRO", "schema_id": "one", "data": 1}}', 42206, id="schema-id-text"),
    pytest.param(b'{"value": {"type": "json", "data": 1}}', 42206, id="lowercase-type"),
    pytest.param(b'{"value": {"type": "BINARY", "data": "not base64!"}}', 42206, id="bad-base64"),
    pytest.param(b'{"value": {"type": "BINARY", "data": 5}}', 42206, id="binary-number"),
    pytest.param(b'{"value": {"type": "STRING", "data": 5}}', 42206, id="string-number"),
    pytest.param(b'{"value": {"type": "JSON", "data": 1}, "headers": {"a": "b"}}', 400,
                 id="headers-object"),
    pytest.param(b'{"value": {"type": "JSON", "data": 1}, "headers": [{"name": "a", "value": "@@"}]}',
                 42206, id="header-bad-base64"),
    pytest.param(b'{"value": {"type": "JSON", "data": 1}, "headers": [{"value": "QQ=="}]}', 400,
                 id="header-without-name"),
    pytest.param(b'{"value": {"type": "JSON", "data": 1}, "timestamp": "yesterday"}', 42206,
                 id="timestamp-text"),
    pytest.param(b'{"value": {"type": "JSON", "data": 1}, "timestamp": -5}', 42206,
                 id="timestamp-negative"),
    pytest.param(b'{"value": {"type": "JSON", "data": 1}, "timestamp": true}', 42206,
                 id="timestamp-bool"),
    pytest.param(b'', 422, id="empty-body"),
    pytest.param(b' \r\n', 422, id="whitespace-body"),
])
def test_v3_bad_record_is_refused(cluster, raw, code):
    with nothing_stored(cluster, BAD):
        for node in (1, 2):
            status, body = v3_post(cluster, node, BAD, raw=raw)
            assert_envelope(status, body, code)


@pytest.mark.parametrize("doc, code", [
    pytest.param({"entries": [{"id": "a", "value": {"type": "JSON", "data": 1}},
                              {"id": "a", "value": {"type": "JSON", "data": 2}}]}, 400,
                 id="duplicate-ids"),
    pytest.param({"entries": {"id": "a"}}, 400, id="entries-object"),
    pytest.param({"entries": [{"value": {"type": "JSON", "data": 1}}]}, 400, id="missing-id"),
    pytest.param({"entries": [{"id": 1, "value": {"type": "JSON", "data": 1}}]}, 400,
                 id="numeric-id"),
    pytest.param({"entries": [{"id": "", "value": {"type": "JSON", "data": 1}}]}, 400, id="empty-id"),
    pytest.param({"entries": [{"id": "i" * 81, "value": {"type": "JSON", "data": 1}}]}, 400,
                 id="id-over-80"),
    pytest.param({"entries": [{"id": "a", "value": {"type": "JSON", "data": 1}}], "x": 1}, 400,
                 id="unknown-top-level"),
    pytest.param([{"id": "a"}], 400, id="body-list"),
    pytest.param({"entries": []}, 422, id="empty-entries"),
    pytest.param({}, 400, id="empty-object"),
])
def test_v3_bad_batch_is_refused(cluster, doc, code):
    with nothing_stored(cluster, BAD):
        status, body = v3_post(cluster, 3, BAD, doc, suffix="/records:batch")
        assert_envelope(status, body, code)


@pytest.mark.parametrize("entry, code", [
    pytest.param({"id": "bad", "value": {"type": "JSON", "data": 1}, "bogus": 1}, 400,
                 id="unknown-entry-field"),
    pytest.param({"id": "bad", "value": {"type": "AVRO", "data": 1}}, 40403, id="avro"),
])
def test_v3_batch_reports_a_malformed_entry_as_its_own_failure(cluster, entry, code):
    """Each records:batch entry stands alone (207): a malformed one fails by itself."""
    with nothing_stored(cluster, BAD):
        status, body = v3_post(cluster, 3, BAD, {"entries": [entry]}, suffix="/records:batch")
        assert status == 207 and body["successes"] == [], body
        (failure,) = body["failures"]
        assert failure["id"] == "bad" and failure["error_code"] == code and failure["message"]


def test_pre_1970_iso_timestamp_is_refused_alike_on_every_node(cluster):
    """A negative epoch timestamp is refused as such (42206); an ISO date before 1970 is
    one too, whichever node the request reaches (leader or forwarding node)."""
    with nothing_stored(cluster, BAD):
        for node in NODES:
            for p in range(3):
                status, body = v3_post(cluster, node, BAD, {
                    "partition_id": p, "value": {"type": "JSON", "data": 1},
                    "timestamp": "1900-01-01T00:00:00Z"})
                assert_envelope(status, body, 42206)
                assert "query parameter" not in body["message"], body


def test_v3_batch_empty_body_is_422(cluster):
    with nothing_stored(cluster, BAD):
        status, body = v3_post(cluster, 1, BAD, raw=b"", suffix="/records:batch")
        assert_envelope(status, body, 422)


# -- sizes -------------------------------------------------------------------------------------
def test_record_over_max_message_bytes_is_413(cluster):
    with nothing_stored(cluster, SMALL, 1):
        for node in NODES:
            status, body = v2_post(cluster, node, SMALL, {"records": [{"value": b64(b"x" * 1001)}]},
                                   ctype=V2_BINARY)
            assert_envelope(status, body, 413)
            assert "1000" in body["message"]
            status, body = v2_post(cluster, node, SMALL, {"records": [{"value": "y" * 1001}]})
            assert_envelope(status, body, 413)
            status, body = v3_post(cluster, node, SMALL, {
                "value": {"type": "BINARY", "data": b64(b"z" * 1001)}})
            assert_envelope(status, body, 413)
            # one oversized record spoils the request: the small one is not stored either
            status, body = v2_post(cluster, node, SMALL, {"records": [
                {"value": b64(b"ok")}, {"value": b64(b"x" * 1001)}]}, ctype=V2_BINARY)
            assert_envelope(status, body, 413)


def test_size_is_counted_after_base64_decoding(cluster):
    value = bytes(range(256)) * 3 + b"\x00" * 232   # 1000 bytes
    assert len(value) == 1000 and len(b64(value)) > 1300
    end = offsets(cluster, SMALL, 0)[1]
    status, body = v2_post(cluster, 2, SMALL, {"records": [{"value": b64(value)}]},
                           ctype=V2_BINARY)
    assert_ok_offsets(status, body, 1)
    status, rep = v3_post(cluster, 3, SMALL, {"value": {"type": "BINARY", "data": b64(value)}})
    assert status == 200, rep
    assert rep["value"] == {"type": "BINARY", "size": 1000}
    got = read_all(cluster, SMALL, 0, offset=end, binary=True)
    assert [base64.b64decode(r["value"]) for r in got] == [value, value]


def test_record_over_the_default_1_mib_is_413(cluster):
    with nothing_stored(cluster, BAD):
        status, body = v2_post(cluster, 1, BAD, {"records": [{"value": b64(b"q" * (MIB + 1))}]},
                               ctype=V2_BINARY)
        assert_envelope(status, body, 413)
    status, body = v2_post(cluster, 1, BAD, {"records": [{"value": b64(b"q" * (MIB - 64))}]},
                           ctype=V2_BINARY, partition=0)
    [o] = assert_ok_offsets(status, body, 1)
    got = read(cluster, BAD, 0, o["offset"], binary=True)
    assert len(base64.b64decode(got[0]["value"])) == MIB - 64


def _big_body(total: int, piece: int = MIB):
    return padded_json_parts(b'{"records": [{"value": "', b'"}]}', total, piece)


def test_body_over_the_request_cap_is_413(cluster):
    total = 17 * MIB
    with nothing_stored(cluster, BAD):
        for node, path, ctype in ((1, f"/topics/{BAD}", V2_BINARY),
                                  (2, f"/v3/clusters/{cluster.cluster_id}/topics/{BAD}/records",
                                   "application/json")):
            status, body = raw_http(cluster.url(node), "POST", path,
                                    {"Content-Type": ctype, "Content-Length": str(total)},
                                    _big_body(total))
            assert_envelope(status, body, 413)

        def chunked():
            for part in _big_body(total, piece=256 * 1024):
                yield b"%x\r\n%s\r\n" % (len(part), part)
            yield b"0\r\n\r\n"

        status, body = raw_http(cluster.url(3), "POST", f"/topics/{BAD}",
                                {"Content-Type": V2_BINARY, "Transfer-Encoding": "chunked"},
                                chunked())
        assert_envelope(status, body, 413)
    for node in NODES:
        assert call("GET", cluster.url(node) + "/status/ready")[0] == 200


def test_good_produce_still_works_after_the_bad_ones(cluster):
    status, body = v2_post(cluster, 1, BAD, GOOD, partition=0)
    assert_ok_offsets(status, body, 1)


# -- values the log cannot hold: still the caller's mistake, never a 500 ---------------------------
DEEP = "[" * 300 + "]" * 300          # valid JSON, nested 300 levels
DEEPER = "[" * 5000 + "]" * 5000


def _v2(value_json: str) -> str:
    return '{"records": [{"value": ' + value_json + '}]}'


def _v3(data_json: str) -> str:
    return '{"value": {"type": "JSON", "data": ' + data_json + '}}'


V3_PATH = "/records"


@pytest.mark.parametrize("api, raw", [
    pytest.param("v2", _v2(DEEP), id="v2-value-nested-300"),
    pytest.param("v2", '{"records": [{"key": ' + DEEP + ', "value": 1}]}', id="v2-key-nested-300"),
    pytest.param("v2", _v2(DEEPER), id="v2-value-nested-5000"),
    pytest.param("v2", '{"records": [{"value": 1, "timestamp": 100000000000000000000}]}',
                 id="v2-timestamp-over-int64"),
    pytest.param("v2", '{"records": [{"value": 1, "timestamp": 9223372036854775808}]}',
                 id="v2-timestamp-2-63"),
    pytest.param("v3", _v3(DEEP), id="v3-json-nested-300"),
    pytest.param("v3", _v3(DEEPER),
                 id="v3-json-nested-5000"),
    pytest.param("v3", '{"value": {"type": "JSON", "data": 1}, "timestamp": 100000000000000000000}',
                 id="v3-timestamp-over-int64"),
    pytest.param("v3", '{"value": {"type": "STRING", "data": "\\ud800"}}',
                 id="v3-string-lone-surrogate"),
    pytest.param("v3", '{"value": {"type": "JSON", "data": "\\udfff"}}',
                 id="v3-json-lone-surrogate"),
    pytest.param("v3", '{"value": {"type": "STRING", "data": "a"}, '
                       '"headers": [{"name": "\\ud800", "value": "QQ=="}]}',
                 id="v3-header-name-lone-surrogate"),
    pytest.param("v3", '{"value": {"type": "STRING", "data": "a"}}'
                       '{"value": {"type": "STRING", "data": "\\ud800"}}',
                 id="v3-stream-second-lone-surrogate"),
    pytest.param("batch", '{"entries": [{"id": "a", "value": {"type": "JSON", "data": ' + DEEP + '}}]}',
                 id="batch-json-nested-300"),
])
def test_unstorable_values_are_4xx(cluster, api, raw):
    with nothing_stored(cluster, BAD):
        if api == "v2":
            status, body = v2_post(cluster, 1, BAD, raw=raw.encode())
        else:
            status, body = v3_post(cluster, 2, BAD, raw=raw.encode(),
                                   suffix="/records:batch" if api == "batch" else V3_PATH)
        if api == "batch":  # the entry fails on its own inside a 207
            assert status == 207 and not body["successes"], body
            assert all(f["error_code"] in (400, 42206) for f in body["failures"]), body
        else:
            assert_envelope(status, body, codes={400, 42206})
