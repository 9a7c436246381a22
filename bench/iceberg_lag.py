"""Iceberg topics: what translation costs the producer, how far the table trails, and how
fast a backlog is translated, against pyarrow's own Parquet writing in the same run.

    .venv/bin/python bench/iceberg_lag.py                       # 1,000 records/s of 1 KiB, 60 s
    .venv/bin/python bench/iceberg_lag.py --rate 1000 --seconds 60 --backlog 100000 --repeats 2

On one fresh 3-node LocalCluster, each repeat runs:
- **plain**: a 3-partition RF-3 topic, --rate one-KiB records a second (confluent-kafka,
  acks=all, linger 5 ms) for --seconds: the rate reached and the acknowledgement's p50/p99;
- **iceberg**: the same into a topic with iceberg.mode=key_value at the default target
  lag (10 s), while each partition's translated offset is sampled every 0.2 s (GET
  /v1/topics/{topic}/iceberg): each record's translation lag is from its acknowledgement
  to the first sample whose translated offset passed it (p50/p99/max);
- **backlog**: --backlog records written to a topic first, then iceberg.mode set on it
  (target lag 1 s): the records a second until every partition's lag is 0, per node (the
  three leaders translate side by side);
- **pyarrow floor**: the same number of rows, built as Arrow tables and written with
  pyarrow.parquet to a local file, in this process: rows a second;
- **one process's rounds**: the same number of records, as batches of 15 (what the
  producer's linger made), through a translator's round in this process: the log's
  bytes decoded (`visible_records`), staged as Parquet data files and committed, 16 MiB a
  round, into a table of a temporary warehouse: rows a second, and the share of the time
  spent decoding. What a node could reach with a core to itself and nothing else to do;
- **a native decoder**: the same log bytes read by aiokafka's C record reader (a test
  extra) into the columns a round needs: records a second, against kraft's Python
  decoder (`decode_all`) on the same bytes.
Nothing here is asserted; bench/README.md has the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

import confluent_kafka  # noqa: E402

from kraft.server.local_cluster import LocalCluster, http_json  # noqa: E402

VALUE = os.urandom(1024)


def create(c, name: str, configs: dict | None = None) -> None:
    doc = {"topic_name": name, "partitions_count": 3, "replication_factor": 3,
           "configs": [{"name": k, "value": str(v)} for k, v in (configs or {}).items()]}
    status, body = http_json("POST", c.v3(1) + "/topics", doc)
    assert status == 201, body
    c.wait_until(lambda: all(len(p["isr"]) == 3 for p in
                             http_json("GET", f"{c.v3(1)}/topics/{name}/partitions")[1]["data"]), 30, "full ISRs")


def produce(c, topic: str, rate: int, seconds: float, sampler=None) -> dict:
    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all",
                                         "linger.ms": 5, "enable.idempotence": True})
    acked: list[tuple[int, int, float, float]] = []  # partition, offset, sent, acked

    def report(err, msg, sent):
        if err is None:
            acked.append((msg.partition(), msg.offset(), sent, time.monotonic()))
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        wait = started + n / rate - time.monotonic()
        if wait > 0:
            time.sleep(min(0.002, wait))
            producer.poll(0)
            continue
        sent = time.monotonic()
        producer.produce(topic, VALUE, on_delivery=lambda e, m, s=sent: report(e, m, s))
        producer.poll(0)
        n += 1
    producer.flush(60)
    elapsed = time.monotonic() - started
    latencies = sorted(a - s for _, _, s, a in acked)
    return {"sent": n, "acked": len(acked), "rate": round(len(acked) / elapsed),
            "ack_p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
            "ack_p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 1), "records": acked}


class Sampler(threading.Thread):
    """Each partition's translated offset every 0.2 s."""

    def __init__(self, c, topic: str):
        super().__init__(daemon=True)
        self.c, self.topic = c, topic
        self.samples: list[tuple[float, dict[int, int]]] = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.2):
            status, body = http_json("GET", f"{self.c.url(1)}/v1/topics/{self.topic}/iceberg")
            if status == 200:
                self.samples.append((time.monotonic(), {p["partition_id"]: p["translated_offset"] or 0
                                                        for p in body["partitions"]}))


def translation_lags(records, samples) -> list[float]:
    lags = []
    for partition, offset, _, acked in records:
        seen = next((t for t, done in samples if t >= acked and done.get(partition, 0) > offset), None)
        if seen is not None:
            lags.append(seen - acked)
    return sorted(lags)


def caught_up(c, topic: str) -> bool:
    status, body = http_json("GET", f"{c.url(1)}/v1/topics/{topic}/iceberg")
    return status == 200 and body["table"] is not None and all(p["lag"] == 0 for p in body["partitions"])


def pyarrow_floor(rows: int) -> float:
    from kraft.iceberg.layout import Row, key_value_table
    import pyarrow.parquet as pq  # type: ignore[import-untyped]
    batch = [Row(0, o, 1_700_000_000_000 + o, None, VALUE, ()) for o in range(rows)]
    with tempfile.TemporaryDirectory() as d:
        started = time.monotonic()
        for first in range(0, rows, 16 * 1024):  # the translator's rounds are at most 16 MiB
            pq.write_table(key_value_table(batch[first:first + 16 * 1024]), f"{d}/part-{first}.parquet")
        return rows / (time.monotonic() - started)


def rounds_in_process(rows: int) -> dict:
    from kraft.broker.isolation import visible_records
    from kraft.iceberg.catalog import KraftCatalog, TableMoved
    from kraft.iceberg.translator import PartitionTranslation, TableCommitter
    from kraft.storage.record import Record
    from kraft.storage.record_batch import encode_batch

    class Pointers:
        topic_ids = {"events": "t1"}
        iceberg_tables: dict[str, str] = {}

        def commit(self, topic, topic_id, based_on, location):
            if self.iceberg_tables.get(topic_id) != based_on:
                raise TableMoved("moved on")
            self.iceberg_tables[topic_id] = location
    log = b"".join(encode_batch([Record(None, VALUE, (), 1_700_000_000_000 + o) for o in range(first, min(first + 15, rows))],
                                first, 0) for first in range(0, rows, 15))
    pointers = Pointers()
    with tempfile.TemporaryDirectory() as d:
        catalog = KraftCatalog(Path(d).as_uri(), lambda: pointers, pointers.commit)
        committer = TableCommitter(catalog, "events")
        decoding = 0.0
        started = time.monotonic()
        position, view = 0, memoryview(log)
        while position < rows:
            at = time.monotonic()
            records, end = visible_records(view, position, [], 16 * 1024 * 1024)
            decoding += time.monotonic() - at
            work = PartitionTranslation(catalog, "events", 0)
            work.stage(work.start(), records, end)
            committer.commit()
            view = view[_bytes_before(view, end):]
            position = end
        took = time.monotonic() - started
    return {"rows_per_s": round(rows / took), "decode_share": round(decoding / took, 2)}


def decoders(rows: int) -> dict:
    """Records a second: kraft's decoder and aiokafka's C reader over the same log bytes."""
    from kraft.storage.record import Record
    from kraft.storage.record_batch import decode_all, encode_batch
    log = b"".join(encode_batch([Record(None, VALUE, (), 1_700_000_000_000 + o) for o in range(first, min(first + 15, rows))],
                                first, 0) for first in range(0, rows, 15))
    started = time.monotonic()
    decoded = decode_all(log, verify=False)
    out = {"kraft_records_per_s": round(len(decoded) / (time.monotonic() - started))}
    try:
        from aiokafka.record.memory_records import MemoryRecords  # type: ignore[import-untyped]
    except ImportError:
        return out
    started = time.monotonic()
    records, columns = MemoryRecords(log), ([], [], [], [])
    while (batch := records.next_batch()) is not None:
        for r in batch:
            for column, value in zip(columns, (r.offset, r.timestamp, r.key, r.value)):
                column.append(value)
    out["aiokafka_c_records_per_s"] = round(len(columns[0]) / (time.monotonic() - started))
    return out


def _bytes_before(view: memoryview, offset: int) -> int:
    """Where the first batch at or after `offset` starts in `view`."""
    from kraft.storage.record_batch import iter_batches
    for pos, header in iter_batches(view):
        if header.last_offset >= offset:
            return pos
    return len(view)


def one(rate: int, seconds: float, backlog: int, repeat: int) -> dict:
    out: dict = {}
    with LocalCluster(3) as c:
        c.start().wait_ready(timeout_s=60)
        create(c, f"plain{repeat}")
        plain = produce(c, f"plain{repeat}", rate, seconds)
        out["plain"] = {k: v for k, v in plain.items() if k != "records"}
        create(c, f"ice{repeat}", {"iceberg.mode": "key_value"})
        sampler = Sampler(c, f"ice{repeat}")
        sampler.start()
        ice = produce(c, f"ice{repeat}", rate, seconds)
        c.wait_until(lambda: caught_up(c, f"ice{repeat}"), 120, "the table caught up")
        time.sleep(0.5)
        sampler.stop.set()
        sampler.join()
        lags = translation_lags(ice["records"], sampler.samples)
        out["iceberg"] = {k: v for k, v in ice.items() if k != "records"}
        out["iceberg"].update({"lag_p50_s": round(lags[len(lags) // 2], 2), "lag_p99_s": round(lags[int(len(lags) * 0.99)], 2),
                               "lag_max_s": round(lags[-1], 2), "lag_measured": len(lags)})
        create(c, f"backlog{repeat}")
        produce(c, f"backlog{repeat}", 100_000, backlog / 20_000)  # as fast as it goes
        status, body = http_json("GET", f"{c.v3(1)}/topics/backlog{repeat}/partitions")
        total = 0
        for p in body["data"]:
            status, offsets = http_json("GET", f"{c.url(1)}/topics/backlog{repeat}/partitions/{p['partition_id']}/offsets")
            total += offsets["end_offset"]
        started = time.monotonic()
        status, body = http_json("POST", f"{c.v3(1)}/topics/backlog{repeat}/configs:alter", {"data": [
            {"name": "iceberg.mode", "value": "key_value"}, {"name": "iceberg.target.lag.ms", "value": "1000"}]})
        assert status in (200, 204), body
        c.wait_until(lambda: caught_up(c, f"backlog{repeat}"), 600, "the backlog translated", interval_s=0.2)
        took = time.monotonic() - started
        out["backlog"] = {"records": total, "seconds": round(took, 1), "records_per_s": round(total / took),
                          "per_node_records_per_s": round(total / took / 3)}
    out["pyarrow_floor_rows_per_s"] = round(pyarrow_floor(out["backlog"]["records"] // 3))
    out["backlog"]["per_node_vs_floor"] = round(out["backlog"]["per_node_records_per_s"] / out["pyarrow_floor_rows_per_s"], 2)
    out["rounds_in_process"] = rounds_in_process(out["backlog"]["records"] // 3)
    out["rounds_in_process"]["vs_floor"] = round(out["rounds_in_process"]["rows_per_s"] / out["pyarrow_floor_rows_per_s"], 2)
    out["decoders"] = decoders(out["backlog"]["records"] // 3)
    out["producer_rate_ratio"] = round(out["iceberg"]["rate"] / out["plain"]["rate"], 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--backlog", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    for r in range(args.repeats):
        print(json.dumps(one(args.rate, args.seconds, args.backlog, r)), flush=True)


if __name__ == "__main__":
    main()
