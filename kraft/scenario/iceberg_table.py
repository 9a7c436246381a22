"""What the iceberg check (checks/iceberg.py) judges, gathered from the live cluster.

A scenario whose topic sets `iceberg.mode` (docs/ICEBERG.md) is also an Iceberg table.
After the workload, the recovery and the final reads, while every node still runs, the
runner asks for three things and keeps them in History.iceberg (JSON-able):

1. the translation caught up: `GET /v1/topics/{topic}/iceberg` (any node) until every
   partition's lag is 0, at most CATCH_UP_BASE_S plus the topic's iceberg.target.lag.ms;
   the last answer is kept either way, and where it stopped (each partition's last
   stable offset, the "until" of the comparison);
2. the table: every row, through a node's Iceberg REST catalog, with pyiceberg
   (RestCatalog), as any reader would, and the offsets its snapshot says it holds;
3. the committed log: a read_committed confluent-kafka consumer (librdkafka, not kraft's
   own read path) from the beginning of each partition to the end it finds, which is the
   last stable offset as that consumer sees it (nothing writes after the workload, so it
   is where the lag answer's should be; the check says so where they differ).

Values are kept as text (UTF-8, else "b64:" and base64), so the check compares bytes.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import time
from collections.abc import Callable
from typing import Any

from kraft.server.local_cluster import http_json

CATCH_UP_BASE_S = 60.0  # plus the topic's iceberg.target.lag.ms
DEFAULT_TARGET_LAG_MS = 10_000  # the config's default (docs/ICEBERG.md)
LOG_READ_BOUND_S = 60.0  # the read_committed log, at most
POLL_S = 0.5
GROUP = "kraft-lab-iceberg-check"  # assigned, never joined or committed

# a row or a committed record: [partition, offset, key, value, timestamp ms, headers]
Record = list[Any]


def iceberg_mode(configs: dict[str, Any]) -> str | None:
    """The topic's iceberg.mode, None when it is not set or disabled."""
    mode = configs.get("iceberg.mode")
    return None if mode is None or str(mode) == "disabled" else str(mode)


def catch_up_bound_s(configs: dict[str, Any]) -> float:
    return CATCH_UP_BASE_S + int(configs.get("iceberg.target.lag.ms", DEFAULT_TARGET_LAG_MS)) / 1000


def encode(raw: bytes | None) -> str | None:
    """Bytes as comparable text: UTF-8 where it decodes (and does not look like our own
    prefix), else "b64:" and base64."""
    if raw is None:
        return None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = None
    if text is not None and not text.startswith("b64:"):
        return text
    return "b64:" + base64.b64encode(raw).decode()


def collect(cluster: Any, topic: str, partitions: int, configs: dict[str, Any],
            bound_s: float | None = None) -> dict[str, Any]:
    """Everything the iceberg check needs, from a running LocalCluster (History.iceberg).
    A key_value table's only: other modes' rows are not the records' bytes."""
    mode = iceberg_mode(configs)
    if mode != "key_value":
        return {"mode": mode, "not_run": f"iceberg.mode {mode}: the check compares key_value tables"}
    out: dict[str, Any] = {"mode": mode, "caught_up": False, "rows": None, "log_complete": False,
                           "target_lag_ms": int(configs.get("iceberg.target.lag.ms", DEFAULT_TARGET_LAG_MS))}
    try:
        urls = [cluster.url(n) for n in sorted(cluster.hosts) if cluster.running(n)]
        out.update(caught_up(urls, topic, partitions, catch_up_bound_s(configs) if bound_s is None else bound_s,
                             cluster.headers))
        out.update(read_table(urls, topic, cluster.headers))
        # to the end a read_committed consumer finds now (its own LSO, not the lag answer's):
        # nothing writes after the workload, so a table that truly caught up holds all of it
        out.update(read_committed_log(cluster.bootstrap_servers, topic, partitions, [None] * partitions))
    except Exception as exc:  # noqa: BLE001 - the verdict says it, the run goes on to its other checks
        out["collect_error"] = f"{exc.__class__.__name__}: {str(exc)[:300]}"
    return out


def caught_up(urls: list[str], topic: str, partitions: int, bound_s: float,
              headers: dict[str, str] | None = None, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Asks until every partition's lag is 0 (and the table exists, unless the log is
    empty), at most bound_s. {"caught_up", "waited_s", "bound_s", "view": the last
    answer's partitions, "until": each partition's last stable offset in it (None where
    unknown), "view_error": why no answer came, if none did}."""
    start = time.monotonic()
    view: dict[str, Any] | None = None
    why = None
    turn = 0
    while True:
        url = urls[turn % len(urls)]
        turn += 1
        try:
            status, body = http_json("GET", f"{url}/v1/topics/{topic}/iceberg", timeout=5, headers=headers)
        except OSError as exc:  # a node not answering: the next one is asked
            status, body = None, str(exc)
        if status == 200 and isinstance(body, dict):
            view = body
            if _all_translated(body, partitions):
                break
        else:
            why = f"{url}: {status} {str(body)[:200]}"
        if time.monotonic() - start >= bound_s:
            break
        sleep(POLL_S)
    parts = (view or {}).get("partitions") or []
    stable = {p.get("partition_id"): p.get("last_stable_offset") for p in parts}
    return {"caught_up": view is not None and _all_translated(view, partitions),
            "waited_s": round(time.monotonic() - start, 2), "bound_s": bound_s,
            "view": parts, "table": (view or {}).get("table"), "snapshot_id": (view or {}).get("snapshot_id"),
            "until": [stable.get(p) for p in range(partitions)], "view_error": None if view else why}


def _all_translated(body: dict[str, Any], partitions: int) -> bool:
    parts = body.get("partitions") or []
    if len(parts) != partitions or any(p.get("lag") != 0 for p in parts):
        return False
    # no table yet is caught up only while nothing was ever committed to the log
    return body.get("table") is not None or all(not p.get("last_stable_offset") for p in parts)


def read_table(urls: list[str], topic: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """{"rows": every row of kraft.<topic> (None if it could not be read), "translated":
    the offsets its snapshot's summary says it holds, "table_error"}. Through the first
    node whose catalog answers."""
    from pyiceberg.catalog.rest import RestCatalog
    from pyiceberg.exceptions import NoSuchTableError

    errors = []
    for url in urls:
        props = {f"header.{k}": v for k, v in (headers or {}).items()}
        try:
            catalog = RestCatalog("kraft", uri=f"{url}/iceberg", **props)
            try:
                table = catalog.load_table(("kraft", topic))
            except NoSuchTableError:
                return {"rows": [], "translated": {}, "table_error": None, "table_snapshot_id": None}
            snapshot = table.current_snapshot()
            offsets = snapshot.summary["kraft.offsets"] if snapshot is not None and snapshot.summary else None
            rows = _rows(table.scan().to_arrow())
        except Exception as exc:  # noqa: BLE001 - any reader's failure: the next node, then the verdict says it
            errors.append(f"{url}: {exc.__class__.__name__}: {str(exc)[:300]}")
            continue
        return {"rows": rows, "translated": json.loads(offsets) if offsets else {},
                "table_error": None, "table_snapshot_id": snapshot.snapshot_id if snapshot is not None else None}
    return {"rows": None, "translated": {}, "table_error": "; ".join(errors) or "no node to ask",
            "table_snapshot_id": None}


def _rows(arrow: Any) -> list[Record]:
    import pyarrow as pa  # type: ignore[import-untyped]  # ships no types

    flat = arrow.flatten()

    def col(name: str) -> list[Any]:
        return list(flat.column(name).to_pylist())
    stamps = flat.column("kafka.timestamp").cast(pa.int64()).to_pylist()  # microseconds
    out: list[Record] = []
    for p, o, k, v, ts, hs in zip(col("kafka.partition"), col("kafka.offset"), col("kafka.key"), col("value"),
                                  stamps, col("kafka.headers")):
        out.append([p, o, encode(k), encode(v), ts // 1000,
                    [[h["key"], encode(h["value"])] for h in (hs or [])]])
    return out


def read_committed_log(bootstrap: str, topic: str, partitions: int, until: list[int | None],
                       bound_s: float = LOG_READ_BOUND_S) -> dict[str, Any]:
    """{"log": every record a read_committed consumer gets from the beginning of each
    partition below until[p] (to its first end of partition where until[p] is None),
    "log_complete": whether each partition got that far, "log_start": each partition's
    log start offset, "log_end": where each read ended (until[p], else the end of
    partition it found: the last stable offset), "log_beyond": records seen at or past
    until, "log_error"}."""
    import confluent_kafka as ck  # a test extra: the runner checks for it first

    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False,
                            "isolation.level": "read_committed", "enable.partition.eof": True,
                            "auto.offset.reset": "earliest", "log_level": 2})
    records: list[Record] = []
    starts: list[int | None] = [None] * partitions  # each partition's log start, as the read found it
    ends: list[int | None] = [None] * partitions  # where the read ended: the LSO, as read_committed sees it
    beyond = 0
    done: set[int] = {p for p in range(partitions) if until[p] == 0}
    error = None
    try:
        for i in range(partitions):
            starts[i] = consumer.get_watermark_offsets(ck.TopicPartition(topic, i), timeout=10)[0]
            if until[i] == 0:
                ends[i] = 0
        consumer.assign([ck.TopicPartition(topic, i, ck.OFFSET_BEGINNING) for i in range(partitions)
                         if i not in done])
        deadline = time.monotonic() + bound_s
        while len(done) < partitions and time.monotonic() < deadline:
            for m in consumer.consume(num_messages=10_000, timeout=0.5):
                p, offset, err = m.partition(), m.offset(), m.error()
                if err is not None and err.code() != ck.KafkaError._PARTITION_EOF:
                    error = f"{err.name()}: {err.str()}"  # kept if the read does not finish
                    continue
                if p is None or offset is None or not 0 <= p < partitions:
                    continue
                end = until[p]
                if err is not None:  # the end of the partition, as read_committed sees it: the LSO
                    if p not in done and (end is None or offset >= end):
                        done.add(p)
                        ends[p] = offset if end is None else end
                    continue
                if end is not None and offset >= end:
                    beyond += 1
                    if p not in done:
                        done.add(p)
                        ends[p] = end
                    continue
                _, stamp = m.timestamp()
                headers: list[Any] = list(m.headers() or [])
                records.append([p, offset, encode(_bytes(m.key())), encode(_bytes(m.value())), stamp,
                                [[k, encode(_bytes(v))] for k, v in headers]])
    except ck.KafkaException as exc:
        error = str(exc)
    finally:
        consumer.close()
    return {"log": records, "log_complete": len(done) == partitions, "log_beyond": beyond, "log_start": starts,
            "log_end": ends,
            "log_error": error if len(done) < partitions else None}


def _bytes(v: str | bytes | None) -> bytes | None:
    return v.encode() if isinstance(v, str) else v


def wait_coordinator(cluster: Any, topic: str, configs: dict[str, Any]) -> None:
    """For an Iceberg topic, until its table coordinator can be named (the topic it is
    placed by exists and is led), so a fault may target it from the first second."""
    from kraft.scenario.targets import TargetUnavailable, resolve
    if iceberg_mode(configs) is None:
        return

    def named() -> bool:
        try:
            return bool(resolve(cluster, f"table-coordinator:{topic}"))
        except TargetUnavailable:
            return False
    cluster.wait_until(named, 30, f"the table coordinator of {topic} named")


def cannot_check(scenario: Any) -> str | None:
    """Why the scenario cannot run here: its workload or its iceberg check needs a Kafka
    client this machine lacks, or the check cannot read a secured cluster; else None."""
    if scenario.workload.needs_kafka_client and importlib.util.find_spec("confluent_kafka") is None:
        return "needs confluent-kafka (pip install confluent-kafka; a test extra)"
    if iceberg_mode(scenario.topic.configs) is None:
        return None
    if importlib.util.find_spec("confluent_kafka") is None:
        return "the iceberg check needs confluent-kafka (a test extra)"
    if scenario.cluster.security:
        return "the iceberg check reads the Kafka listener without credentials: not with [cluster] security"
    return None


async def gather(h: Any, cluster: Any, topic: Any, phase: Callable[[], None]) -> None:
    """Into h.iceberg, what the iceberg check needs, while every node still serves the table."""
    if iceberg_mode(topic.configs) is not None:
        phase()
        h.iceberg = await asyncio.to_thread(collect, cluster, topic.name, topic.partitions, topic.configs)
