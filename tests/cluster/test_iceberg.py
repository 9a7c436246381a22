"""Iceberg topics: a topic with iceberg.mode=key_value is also an Iceberg table, which
DuckDB and pyiceberg read through kraft's own REST catalog on any node (docs/ICEBERG.md).

Real processes, a real Kafka client (librdkafka) writing, real readers: DuckDB with its
iceberg extension (from PyPI, loaded from the wheel: no download) and pyiceberg's REST
catalog client. The table must hold each committed record once: none of an aborted
transaction, none twice after the partition's leader is killed mid-stream.
"""

from __future__ import annotations

import base64
import glob
import importlib
import json
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from cluster_client import create_topic

from kraft.server.local_cluster import LocalCluster, http_json, security_toml

pytestmark = pytest.mark.cluster
confluent_kafka = pytest.importorskip("confluent_kafka", reason="needs confluent-kafka (the test extras)")
duckdb = pytest.importorskip("duckdb", reason="needs duckdb (the test extras)")
pyiceberg_rest = pytest.importorskip("pyiceberg.catalog.rest", reason="needs pyiceberg")

TABLE_WAIT_S = 90  # the table trails the log by iceberg.target.lag.ms; a loaded 2-core machine more


def duckdb_with_extensions():
    """A DuckDB connection with its iceberg, httpfs and avro extensions loaded from the wheels."""
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    for name in ("avro", "httpfs", "iceberg"):
        package = importlib.import_module(f"duckdb_extension_{name}")
        (path,) = glob.glob(f"{package.__path__[0]}/extensions/*/{name}.duckdb_extension")
        con.execute(f"LOAD '{path}'")
    return con


def duckdb_on(c, node: int):
    """A DuckDB connection with kraft's catalog on `node` attached as `k`."""
    con = duckdb_with_extensions()
    con.execute(f"ATTACH 'kraft' AS k (TYPE iceberg, ENDPOINT '{c.url(node)}/iceberg', AUTHORIZATION_TYPE 'none')")
    return con


def not_translated_yet(exc: Exception) -> bool:
    """DuckDB's error for a table the catalog does not list yet."""
    return "does not exist" in str(exc) or "not found" in str(exc).lower()


def table_rows(c, node: int, topic: str) -> list[tuple]:
    """(partition, offset, key, value) of every row, read by DuckDB through `node`."""
    con = duckdb_on(c, node)
    try:
        return con.execute(f"SELECT kafka.partition, kafka.offset, kafka.key, value FROM k.kraft.\"{topic}\" "
                           "ORDER BY 1, 2").fetchall()
    except duckdb.Error as exc:
        if not_translated_yet(exc):
            return []
        raise
    finally:
        con.close()


class Acked:
    """What the cluster acknowledged: (partition, offset) -> (key, value)."""

    def __init__(self):
        self.records: dict[tuple[int, int], tuple[bytes | None, bytes]] = {}
        self.lock = threading.Lock()

    def callback(self, err, msg):
        if err is None:
            with self.lock:
                self.records[(msg.partition(), msg.offset())] = (msg.key(), msg.value())


def paced_writer(p, topic: str, partitions: int, acked: Acked):
    """write(first, count): records r<first>.. round the partitions, 100 a second at most."""
    def write(first: int, count: int):
        for i in range(first, first + count):
            p.produce(topic, value=b"r%d" % i, partition=i % partitions, on_delivery=acked.callback)
            p.poll(0)
            time.sleep(0.01)
    return write


def producer(c, **extra):
    return confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all",
                                     "enable.idempotence": True, "linger.ms": 5, **extra})


def test_a_key_value_topic_is_a_table_that_duckdb_and_pyiceberg_read_through_any_node():
    with LocalCluster(3) as c:
        c.start().wait_ready(timeout_s=60)
        create_topic(c, "events", partitions=3, configs={"iceberg.mode": "key_value",
                                                         "iceberg.target.lag.ms": 1000})
        create_topic(c, "plain", partitions=1)
        acked = Acked()
        p = producer(c)
        for i in range(60):
            p.produce("events", key=None if i % 10 == 0 else b"k%d" % i, value=b"v%d" % i,
                      headers=[("trace", b"t%d" % i), ("empty", None)], on_delivery=acked.callback)
        p.produce("plain", value=b"not a table")
        assert p.flush(30) == 0
        # a committed transaction's records are rows; an aborted one's never are
        tx = producer(c, **{"transactional.id": "iceberg-tx"})
        tx.init_transactions(30)
        tx.begin_transaction()
        for i in range(5):
            tx.produce("events", key=b"aborted", value=b"aborted-%d" % i, partition=i % 3)
        tx.abort_transaction(30)
        tx.begin_transaction()
        for i in range(5):
            tx.produce("events", key=b"tx", value=b"tx-%d" % i, partition=i % 3, on_delivery=acked.callback)
        tx.commit_transaction(30)
        assert len(acked.records) == 65

        expected = sorted((part, off, key, value) for (part, off), (key, value) in acked.records.items())
        c.wait_until(lambda: len(table_rows(c, 2, "events")) >= len(expected), TABLE_WAIT_S,
                     "every committed record in the table")
        rows = table_rows(c, 3, "events")
        assert rows == expected  # each once, none of the aborted transaction

        # the metadata columns: a record's headers, its timestamp as a timestamptz
        con = duckdb_on(c, 1)
        headers, = con.execute("SELECT kafka.headers FROM k.kraft.events WHERE value = 'v7'").fetchone()
        assert headers == [{"key": "trace", "value": b"t7"}, {"key": "empty", "value": None}]
        ts_type = con.execute("SELECT typeof(kafka.timestamp) FROM k.kraft.events LIMIT 1").fetchone()[0]
        assert ts_type.startswith("TIMESTAMP WITH TIME ZONE")
        con.close()

        # pyiceberg's REST client sees the same table through another node
        catalog = pyiceberg_rest.RestCatalog("kraft", uri=f"{c.url(2)}/iceberg")
        assert catalog.list_namespaces() == [("kraft",)]
        assert catalog.list_tables("kraft") == [("kraft", "events")]  # not the plain topic
        scanned = catalog.load_table("kraft.events").scan().to_arrow()
        assert scanned.num_rows == len(expected)

        # the translation's progress: each partition up to its last stable offset, from any
        # node (REST), and at each partition's leader (/metrics)
        status, body = http_json("GET", f"{c.url(3)}/v1/topics/events/iceberg")
        assert status == 200 and body["table"] == "kraft.events" and body["mode"] == "key_value", body
        assert [p["lag"] for p in body["partitions"]] == [0, 0, 0], body
        assert sum(p["translated_offset"] for p in body["partitions"]) >= len(expected)
        metrics = "".join(urllib.request.urlopen(f"{c.url(n)}/metrics", timeout=10).read().decode()
                          for n in (1, 2, 3))
        assert metrics.count("kraft_iceberg_translation_lag_records{") == 3, metrics[-2000:]
        # a partition whose log ends in an aborted transaction: no row, and its lag still reaches 0
        tx.begin_transaction()
        tx.produce("events", key=b"aborted", value=b"aborted-last", partition=0)
        tx.abort_transaction(30)

        def caught_up():
            status, body = http_json("GET", f"{c.url(1)}/v1/topics/events/iceberg")
            return status == 200 and body["partitions"][0]["lag"] == 0 \
                and body["partitions"][0]["translated_offset"] > 0
        c.wait_until(caught_up, TABLE_WAIT_S, "partition 0 translated past its aborted transaction")
        assert table_rows(c, 1, "events") == expected
        status, body = http_json("GET", f"{c.url(3)}/v1/topics/plain/iceberg")
        assert status == 200 and body["table"] is None and body["mode"] == "disabled", body
        # `kraft topic describe` shows the table and each partition's translation
        described = subprocess.run([sys.executable, "-m", "kraft", "topic", "describe", "events", "--bootstrap",
                                    c.url(2)], capture_output=True, text=True, timeout=60)
        assert described.returncode == 0, described.stderr
        assert "Iceberg: mode key_value  table kraft.events" in described.stdout, described.stdout
        lag_rows = described.stdout.split("Iceberg:")[1]
        assert all(f"│ {p} " in lag_rows for p in range(3)) and "Lag" in lag_rows, described.stdout

        # what the catalog refuses, in its own error form
        status, body = http_json("GET", f"{c.url(1)}/iceberg/v1/namespaces/kraft/tables/plain")
        assert status == 404 and body["error"]["type"] == "NoSuchTableException", body
        status, body = http_json("GET", f"{c.url(1)}/iceberg/v1/namespaces/other/tables")
        assert status == 404 and body["error"]["type"] == "NoSuchNamespaceException", body
        status, body = http_json("POST", f"{c.url(1)}/iceberg/v1/namespaces/kraft/tables/events", {})
        assert status == 406 and "read-only" in body["error"]["message"], body

        # a deleted topic's table leaves the catalog with it (on every node)
        status, body = http_json("DELETE", f"{c.v3(1)}/topics/events")
        assert status == 204, body
        c.wait_until(lambda: all(http_json("GET", f"{c.url(n)}/iceberg/v1/namespaces/kraft/tables")[1]["identifiers"]
                                 == [] for n in (1, 2, 3)), 30, "the table gone from every node's catalog")
        assert http_json("GET", f"{c.url(2)}/iceberg/v1/namespaces/kraft/tables/events")[0] == 404

        # a bad partition spec is refused when the topic is created, naming the problem
        status, body = http_json("POST", c.v3(1) + "/topics", {
            "topic_name": "badspec", "partitions_count": 1, "replication_factor": 1,
            "configs": [{"name": "iceberg.mode", "value": "key_value"},
                        {"name": "iceberg.partition.spec", "value": "(hour(value))"}]})
        assert status == 422 and "iceberg.partition.spec" in body["message"], body  # as any bad config


def test_each_record_is_one_row_when_the_leader_is_killed_mid_stream():
    with LocalCluster(3) as c:
        c.start().wait_ready(timeout_s=60)
        create_topic(c, "kills", partitions=2, configs={"iceberg.mode": "key_value",
                                                        "iceberg.target.lag.ms": 1000})
        acked = Acked()
        p = producer(c, **{"message.timeout.ms": 60000})
        write = paced_writer(p, "kills", 2, acked)
        write(0, 100)
        assert p.flush(30) == 0
        c.wait_until(lambda: len(table_rows(c, 1, "kills")) > 0, TABLE_WAIT_S, "a first translation")
        status, body = http_json("GET", f"{c.v3(1)}/topics/kills/partitions/0")
        assert status == 200, body
        leader = body["leader_id"]
        # "lone" (one replica each): its partition 0 has no leader while `leader` is down,
        # and the table's coordinator must still commit its other partition's rounds
        other = next(n for n in (1, 2, 3) if n != leader)
        lone = lone_topic(c, leader, other)
        lone.produce("lone", value=b"before", partition=1)
        assert lone.flush(30) == 0
        c.wait_until(lambda: len(table_rows(c, other, "lone")) == 1, TABLE_WAIT_S, "lone's first row")
        c.kill(leader)
        write(100, 100)  # the producer retries to the new leader
        lone.produce("lone", value=b"while partition 0 is offline", partition=1)
        assert lone.flush(30) == 0
        c.wait_until(lambda: len(table_rows(c, other, "lone")) == 2, TABLE_WAIT_S,
                     "a row committed while partition 0 has no leader")
        c.start_node(leader)
        c.wait_ready(timeout_s=60)
        write(200, 100)
        assert p.flush(60) == 0
        assert len(acked.records) == 300
        expected = sorted((part, off, None, value) for (part, off), (_, value) in acked.records.items())
        c.wait_until(lambda: len(table_rows(c, 2, "kills")) >= len(expected), TABLE_WAIT_S,
                     "every acknowledged record in the table")
        rows = table_rows(c, 3, "kills")
        assert len(rows) == len(set(rows)), "a record translated twice"
        assert rows == expected


def lone_topic(c, first: int, second: int):
    """Topic "lone": partition 0 on `first` alone, partition 1 on `second`; a producer."""
    status, body = http_json("POST", c.v3(1) + "/topics", {
        "topic_name": "lone", "replicas_assignments": {"0": [first], "1": [second]},
        "configs": [{"name": "iceberg.mode", "value": "key_value"}, {"name": "iceberg.target.lag.ms", "value": "1000"},
                    {"name": "min.insync.replicas", "value": "1"}]})
    assert status == 201, body
    c.wait_until(lambda: all(http_json("GET", f"{c.url(n)}/topics/lone/partitions/{p}/offsets")[0] == 200
                             for n in (first, second) for p in (0, 1)), 30, "lone hosted")
    return producer(c)


def test_a_table_is_read_by_whoever_may_read_its_topic():
    users = {"admin": "admin-password", "reader": "reader-password", "stranger": "stranger-password"}
    auth = {u: {"Authorization": "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()} for u, p in users.items()}
    with LocalCluster(1, extra_toml=security_toml(users), headers=auth["admin"]) as c:
        c.start().wait_ready(timeout_s=60)
        for topic in ("secret", "shared"):
            status, body = http_json("POST", c.v3(1) + "/topics", {
                "topic_name": topic, "partitions_count": 1, "replication_factor": 1,
                "configs": [{"name": "iceberg.mode", "value": "key_value"},
                            {"name": "iceberg.target.lag.ms", "value": "1000"}]}, headers=auth["admin"])
            assert status == 201, body
            status, body = http_json("POST", f"{c.url(1)}/topics/{topic}", {"records": [{"value": {"t": topic}}]},
                                     headers={**auth["admin"], "Content-Type": "application/vnd.kafka.json.v2+json"})
            assert status == 200, body
        status, body = http_json("POST", c.v3(1) + "/acls", {
            "resource_type": "TOPIC", "resource_name": "shared", "pattern_type": "LITERAL", "principal": "User:reader",
            "host": "*", "operation": "READ", "permission": "ALLOW"}, headers=auth["admin"])
        assert status == 201, body

        def listed(user):
            status, body = http_json("GET", f"{c.url(1)}/iceberg/v1/namespaces/kraft/tables", headers=auth[user])
            assert status == 200, body
            return [t["name"] for t in body["identifiers"]]
        c.wait_until(lambda: listed("admin") == ["secret", "shared"], TABLE_WAIT_S, "both tables in the catalog")
        assert listed("reader") == ["shared"] and listed("stranger") == []
        assert http_json("GET", f"{c.url(1)}/iceberg/v1/namespaces/kraft/tables/secret",
                         headers=auth["reader"])[0] == 403
        assert http_json("GET", f"{c.url(1)}/iceberg/v1/namespaces/kraft/tables/shared")[0] == 401  # no credentials
        catalog = pyiceberg_rest.RestCatalog("kraft", uri=f"{c.url(1)}/iceberg", auth={
            "type": "basic", "basic": {"username": "reader", "password": "reader-password"}})
        c.wait_until(lambda: catalog.load_table("kraft.shared").scan().to_arrow().num_rows == 1, TABLE_WAIT_S,
                     "the record in the table")


def test_schema_topics_are_tables_of_their_columns_that_evolve_and_bad_records_are_dead_letters():
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    order = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"},
                                                          {"name": "sku", "type": "string"}]}
    # version 2 adds an optional field (BACKWARD compatible): a new column, null in old rows
    order2 = {**order, "fields": [*order["fields"], {"name": "note", "type": ["null", "string"], "default": None}]}
    reading = {"type": "object", "properties": {"sensor": {"type": "string"}, "celsius": {"type": "number"}}}
    with LocalCluster(3) as c:
        c.start().wait_ready(timeout_s=60)
        create_topic(c, "orders", partitions=1, configs={"iceberg.mode": "value_schema_id_prefix",
                                                         "iceberg.target.lag.ms": 1000})
        registry = SchemaRegistryClient({"url": c.schema_registry_url})
        context = SerializationContext("orders", MessageField.VALUE)
        p = producer(c)
        serialize = AvroSerializer(registry, json.dumps(order))
        for i in range(5):
            p.produce("orders", value=serialize({"id": i, "sku": f"s{i}"}, context))
        p.produce("orders", value=b"plain bytes, no schema")  # cannot be a row: a dead letter
        assert p.flush(30) == 0
        con = duckdb_on(c, 2)

        def rows(columns="value.id, value.sku"):
            try:
                return con.execute(f"SELECT {columns} FROM k.kraft.orders ORDER BY 1").fetchall()
            except duckdb.Error:
                return []  # the table, or the column asked for, is not there yet
        c.wait_until(lambda: len(rows()) == 5, TABLE_WAIT_S, "the Avro records as rows")
        assert rows() == [(i, f"s{i}") for i in range(5)]
        dead = con.execute('SELECT kafka.offset, value, reason FROM k.kraft."orders~dlq"').fetchall()
        assert [(o, v) for o, v, _ in dead] == [(5, b"plain bytes, no schema")] and "framing" in dead[0][2], dead

        p.produce("orders", value=AvroSerializer(registry, json.dumps(order2))({"id": 5, "sku": "s5", "note": "gift"},
                                                                               context))
        assert p.flush(30) == 0
        c.wait_until(lambda: len(rows("value.id, value.sku, value.note")) == 6, TABLE_WAIT_S,
                     "the table evolved to version 2")
        assert rows("value.id, value.sku, value.note") == [(i, f"s{i}", None) for i in range(5)] + [(5, "s5", "gift")]
        con.close()

        # value_schema_latest: unframed JSON values, read with the subject's latest schema
        registry.register_schema("readings-value", Schema(json.dumps(reading), "JSON"))
        create_topic(c, "readings", partitions=1, configs={"iceberg.mode": "value_schema_latest",
                                                           "iceberg.target.lag.ms": 1000})
        for sensor, celsius in (("a", 21.5), ("b", -3)):
            p.produce("readings", value=json.dumps({"sensor": sensor, "celsius": celsius}).encode())
        assert p.flush(30) == 0
        catalog = pyiceberg_rest.RestCatalog("kraft", uri=f"{c.url(3)}/iceberg")

        def readings():
            try:
                return catalog.load_table("kraft.readings").scan().to_arrow().column("value").to_pylist()
            except pyiceberg_rest.NoSuchTableError:
                return []
        c.wait_until(lambda: len(readings()) == 2, TABLE_WAIT_S, "the JSON records as rows")
        assert sorted(readings(), key=lambda v: v["sensor"]) == [{"sensor": "a", "celsius": 21.5},
                                                                {"sensor": "b", "celsius": -3.0}]

        # iceberg.delete=false: the table outlives its topic, in the catalog and on disk
        status, body = http_json("PUT", f"{c.v3(1)}/topics/readings/configs/iceberg.delete", {"value": "false"})
        assert status == 204, body
        for topic in ("readings", "orders"):
            status, body = http_json("DELETE", f"{c.v3(1)}/topics/{topic}")
            assert status == 204, body
        c.wait_until(lambda: all(http_json("GET", f"{c.url(n)}/iceberg/v1/namespaces/kraft/tables")[1]["identifiers"]
                                 == [{"namespace": ["kraft"], "name": "readings"}] for n in (1, 2, 3)), 30,
                     "only the kept table left in every node's catalog")
        assert sorted(readings(), key=lambda v: v["sensor"])[0] == {"sensor": "a", "celsius": 21.5}
        assert http_json("GET", f"{c.url(2)}/iceberg/v1/namespaces/kraft/tables/orders")[0] == 404
