"""Reading through the HTTP API against one real 3-node cluster.

Read by offset (Redpanda's HTTP proxy), partition offsets, v2 topic metadata and the
v3 partition offsets, as a client would see them: exact records, only committed ones,
long-polling, out-of-range and bad-request errors, forwarding from any node, and
retention moving the beginning offset.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time

import pytest
from cluster_client import NODES, V2_BINARY, V2_JSON, assert_envelope, call, create_topic

pytestmark = pytest.mark.cluster


READS = "reads"
BLOBS = [b"\x00", b"\x00\xff\x01binary", bytes(range(256)), b"", "ütf-8 ☃".encode()]
_names = itertools.count()


def values0(i):
    return {"i": i, "s": "ü" * i}


# -- fixture and helpers -------------------------------------------------------------------------
def produce(c, node, topic, partition, records, binary=False):
    status, body = call(
        "POST", f"{c.url(node)}/topics/{topic}/partitions/{partition}", {"records": records},
        headers={"Content-Type": V2_BINARY if binary else V2_JSON}, timeout=30)
    assert status == 200, body
    assert all(o["error_code"] is None for o in body["offsets"]), body
    return [o["offset"] for o in body["offsets"]]


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    c = shared_cluster
    create_topic(c, READS, 3, {"retention.ms": 86400000})
    # partition 0: ten JSON records in two batches of five (offsets 0-4 and 5-9)
    assert produce(c, 2, READS, 0, [{"key": f"k{i}", "value": values0(i)}
                                    for i in range(5)]) == list(range(5))
    assert produce(c, 3, READS, 0, [{"key": f"k{i}", "value": values0(i)}
                                    for i in range(5, 10)]) == list(range(5, 10))
    # partition 1: binary records
    produce(c, 1, READS, 1, [{"key": base64.b64encode(b"key\x00").decode(),
                              "value": base64.b64encode(b).decode()} for b in BLOBS],
            binary=True)
    return c


@pytest.fixture
def topic(cluster):
    return create_topic(cluster, f"consume-{next(_names)}", 1)


def records_url(c, node, topic, partition, query):
    return f"{c.url(node)}/topics/{topic}/partitions/{partition}/records{query}"


def get_records(c, topic, partition, query="?offset=0&timeout=0", node=1, accept=V2_JSON,
                timeout=30):
    return call("GET", records_url(c, node, topic, partition, query),
                     headers={"Accept": accept} if accept else None, timeout=timeout)


def read(c, topic, partition, offset=0, node=1, binary=False, extra=""):
    status, body = get_records(c, topic, partition, f"?offset={offset}&timeout=0{extra}", node,
                               V2_BINARY if binary else V2_JSON)
    assert status == 200, body
    assert isinstance(body, list), body
    return body


def offsets(c, topic, partition, node=1):
    status, body = call("GET", f"{c.url(node)}/topics/{topic}/partitions/{partition}/offsets")
    assert status == 200, body
    return body


def leader_of(c, topic, partition):
    status, body = call("GET", f"{c.v3(1)}/topics/{topic}/partitions/{partition}")
    assert status == 200, body
    return body["leader_id"]


def assert_range_in_message(message, start, end):
    numbers = [int(n) for n in re.findall(r"-?\d+", message)]
    assert start in numbers and end in numbers, f"range {start}..{end} not in {message!r}"


# -- read by offset ----------------------------------------------------------------------------
def test_read_json_returns_every_record(cluster):
    got = read(cluster, READS, 0)
    assert [r["offset"] for r in got] == list(range(10))
    for i, r in enumerate(got):
        assert set(r) >= {"topic", "key", "value", "partition", "offset", "timestamp"}, r
        assert r["topic"] == READS and r["partition"] == 0
        assert r["key"] == f"k{i}" and r["value"] == values0(i)
        assert isinstance(r["timestamp"], int) and abs(r["timestamp"] - time.time() * 1000) < 600_000


def test_read_binary_returns_exact_bytes(cluster):
    got = read(cluster, READS, 1, binary=True)
    assert [base64.b64decode(r["value"]) for r in got] == BLOBS
    assert {base64.b64decode(r["key"]) for r in got} == {b"key\x00"}
    assert [r["offset"] for r in got] == list(range(len(BLOBS)))
    # JSON records read in binary: the JSON text's bytes, base64
    got = read(cluster, READS, 0, binary=True)
    assert [json.loads(base64.b64decode(r["value"])) for r in got] == [values0(i) for i in range(10)]
    assert [base64.b64decode(r["key"]) for r in got] == [f'"k{i}"'.encode() for i in range(10)]


def test_accept_defaults_and_json_variants_give_json(cluster):
    for accept in (None, "*/*", "application/json", V2_JSON + ", */*;q=0.5"):
        status, body = get_records(cluster, READS, 0, accept=accept)
        assert status == 200, (accept, body)
        assert [r["value"] for r in body] == [values0(i) for i in range(10)], accept


def test_only_records_below_the_high_watermark(cluster):
    end = offsets(cluster, READS, 0)["end_offset"]
    got = read(cluster, READS, 0)
    assert got and all(r["offset"] < end for r in got)
    assert got[-1]["offset"] == end - 1
    # a write still being replicated (acks=1) never shows above the end offset of its time
    name = create_topic(cluster, f"hw-{next(_names)}", 1)
    status, body = call("POST", f"{cluster.url(1)}/topics/{name}?acks=1",
                             {"records": [{"value": i} for i in range(20)]},
                             headers={"Content-Type": V2_JSON})
    assert status == 200, body
    deadline = time.monotonic() + 10
    while True:
        got = read(cluster, name, 0)
        end = offsets(cluster, name, 0)["end_offset"]
        assert all(r["offset"] < end for r in got), (got, end)
        if len(got) == 20:
            break
        assert time.monotonic() < deadline, "acks=1 records never became readable"
        time.sleep(0.05)


@pytest.mark.parametrize("start", [1, 3, 5, 7, 9])
def test_read_from_the_middle(cluster, start):
    got = read(cluster, READS, 0, start)
    assert [r["offset"] for r in got] == list(range(start, 10))
    assert [r["value"] for r in got] == [values0(i) for i in range(start, 10)]


def test_small_max_bytes_gives_the_first_record(cluster):
    got = read(cluster, READS, 0, 0, extra="&max_bytes=1")
    assert [r["offset"] for r in got] == [0]  # at least one record, as a fetch gets one batch
    got = read(cluster, READS, 0, 2, extra="&max_bytes=1")
    assert [r["offset"] for r in got] == [2]
    got = read(cluster, READS, 0, 6, extra="&max_bytes=1")
    assert [r["offset"] for r in got] == [6]
    got = read(cluster, READS, 0, 0, extra="&max_bytes=10000000")
    assert [r["offset"] for r in got] == list(range(10))


# -- waiting for data ---------------------------------------------------------------------------
@pytest.mark.parametrize("via_leader", [True, False], ids=["leader", "forwarded"])
def test_long_poll_returns_the_record_produced_meanwhile(cluster, topic, via_leader):
    leader = leader_of(cluster, topic, 0)
    node = leader if via_leader else next(n for n in NODES if n != leader)
    end = offsets(cluster, topic, 0)["end_offset"]
    errors = []

    def later():
        try:
            time.sleep(0.5)
            produce(cluster, 1 + (leader % 3), topic, 0, [{"value": "wake up"}])
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    t = threading.Thread(target=later, daemon=True)
    t.start()
    try:
        status, body = get_records(cluster, topic, 0, f"?offset={end}&timeout=3000", node,
                                   timeout=20)
    finally:
        t.join(15)
    assert not errors, errors
    assert status == 200, body
    assert [r["value"] for r in body] == ["wake up"]
    assert body[0]["offset"] == end


def test_read_at_the_end_with_timeout_0_is_empty_at_once(cluster):
    for node in NODES:
        t0 = time.monotonic()
        status, body = get_records(cluster, READS, 0, "?offset=10&timeout=0", node)
        assert status == 200 and body == [], body
        assert time.monotonic() - t0 < 2.0
    status, body = get_records(cluster, READS, 2, "?offset=0&timeout=0")
    assert status == 200 and body == [], body


@pytest.mark.parametrize("offset", [11, 12, 1000, 2**62])
def test_offset_beyond_the_end_is_40402_with_the_range(cluster, offset):
    for node in NODES:
        status, body = get_records(cluster, READS, 0, f"?offset={offset}&timeout=0", node)
        assert_envelope(status, body, 40402)
        assert_range_in_message(body["message"], 0, 10)


# -- offsets ------------------------------------------------------------------------------------
def test_offsets_match_what_was_produced(cluster):
    for node in NODES:
        assert offsets(cluster, READS, 0, node) == {"beginning_offset": 0, "end_offset": 10}
        assert offsets(cluster, READS, 1, node) == {"beginning_offset": 0,
                                                    "end_offset": len(BLOBS)}
        assert offsets(cluster, READS, 2, node) == {"beginning_offset": 0, "end_offset": 0}


def test_offsets_follow_new_writes(cluster, topic):
    for n in range(3):
        produce(cluster, NODES[n], topic, 0, [{"value": i} for i in range(n + 1)])
        for node in NODES:
            assert offsets(cluster, topic, 0, node)["end_offset"] == sum(range(1, n + 2))


# -- forwarding ---------------------------------------------------------------------------------
def test_reads_through_any_node_are_the_same(cluster):
    for p in (0, 1):
        leader = leader_of(cluster, READS, p)
        for binary in (False, True):
            direct = read(cluster, READS, p, node=leader, binary=binary)
            assert direct
            for node in NODES:
                assert read(cluster, READS, p, node=node, binary=binary) == direct
                assert read(cluster, READS, p, 3, node=node, binary=binary) == direct[3:]


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("accept", ["application/xml", "text/plain", "text/html",
                                    "application/vnd.kafka.avro.v2+json"])
def test_unsupported_accept_is_406(cluster, accept):
    for node in NODES:
        status, body = get_records(cluster, READS, 0, accept=accept, node=node)
        assert_envelope(status, body, 406)


@pytest.mark.parametrize("query", [
    "?offset=-1", "?offset=abc", "?offset=1.5", "?offset=", "?offset=0x10",
    "?offset=0&timeout=-1", "?offset=0&timeout=abc", "?offset=0&timeout=1.5",
    "?offset=0&max_bytes=0", "?offset=0&max_bytes=-1", "?offset=0&max_bytes=abc",
])
def test_bad_query_values_are_400(cluster, query):
    for node in NODES:
        status, body = get_records(cluster, READS, 0, query, node)
        assert_envelope(status, body, 400)


def test_unknown_topic_and_partition(cluster):
    for node in NODES:
        for suffix in ("/records?offset=0&timeout=0", "/offsets"):
            status, body = call("GET", f"{cluster.url(node)}/topics/nope/partitions/0{suffix}",
                                     headers={"Accept": V2_JSON})
            assert_envelope(status, body, 40401)
            for p in ("3", "-1", "x", "99"):
                status, body = call(
                    "GET", f"{cluster.url(node)}/topics/{READS}/partitions/{p}{suffix}",
                    headers={"Accept": V2_JSON})
                assert_envelope(status, body, 40402)


# -- metadata -----------------------------------------------------------------------------------
def test_v2_topic_metadata(cluster):
    status, names = call("GET", cluster.url(2) + "/topics")
    assert status == 200 and READS in names, names
    for node in NODES:
        status, body = call("GET", f"{cluster.url(node)}/topics/{READS}")
        assert status == 200, body
        assert body["name"] == READS
        assert isinstance(body["configs"], dict)
        assert str(body["configs"].get("retention.ms")) == "86400000", body["configs"]
        assert [p["partition"] for p in body["partitions"]] == [0, 1, 2]
        for p in body["partitions"]:
            assert p["leader"] == leader_of(cluster, READS, p["partition"])
            assert sorted(r["broker"] for r in p["replicas"]) == [1, 2, 3]
            assert [r["broker"] for r in p["replicas"] if r["leader"]] == [p["leader"]]
            assert all(r["in_sync"] is True for r in p["replicas"])


def test_v3_partition_offsets_on_the_leader(cluster):
    for p, count in ((0, 10), (1, len(BLOBS)), (2, 0)):
        leader = leader_of(cluster, READS, p)
        status, body = call("GET", f"{cluster.v3(leader)}/topics/{READS}/partitions/{p}")
        assert status == 200, body
        assert body["high_watermark"] == count, body
        assert body["log_start_offset"] == 0, body
        assert body["log_end_offset"] == count, body


# -- retention ----------------------------------------------------------------------------------
def test_retention_moves_the_beginning_offset(cluster):
    name = create_topic(cluster, "retained", 1,
                        {"segment.bytes": 1024, "retention.bytes": 2048})
    value = lambda i: f"{i:04d}" + "r" * 196  # 200 bytes each
    for i in range(50):
        produce(cluster, NODES[i % 3], name, 0, [{"value": value(i)}])
    assert offsets(cluster, name, 0)["end_offset"] == 50
    deadline = time.monotonic() + 20
    while True:
        o = offsets(cluster, name, 0)
        if o["beginning_offset"] > 0:
            break
        assert time.monotonic() < deadline, f"retention never deleted a segment: {o}"
        time.sleep(0.25)
    begin, end = o["beginning_offset"], o["end_offset"]
    assert end == 50 and 0 < begin < 50
    for node in NODES:
        status, body = get_records(cluster, name, 0, "?offset=0&timeout=0", node)
        assert_envelope(status, body, 40402)
        numbers = [int(n) for n in re.findall(r"-?\d+", body["message"])]
        # the range said is the one now valid (retention may have moved on meanwhile)
        assert 50 in numbers and any(begin <= n < 50 for n in numbers), body["message"]
        got = read(cluster, name, 0, offsets(cluster, name, 0, node)["beginning_offset"], node)
        assert got, "nothing readable from the beginning offset"
        assert [r["value"] for r in got] == [value(r["offset"]) for r in got]
        assert got[0]["offset"] >= begin
    # the retained bytes come down to about retention.bytes: most of the records go, at
    # the latest at the leader's next retention pass (every 5 s) if the first one ran while
    # the records were still being written
    deadline = time.monotonic() + 20
    while (retained := 50 - offsets(cluster, name, 0)["beginning_offset"]) >= 40:
        assert time.monotonic() < deadline, f"{retained} records still retained"
        time.sleep(0.25)
