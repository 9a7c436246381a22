"""Brokers grouped by host: the [[hosts]] entry each broker registered with (a failure
domain); a broker outside any entry is a host of its own, keyed "broker=<id>" as
MetadataImage.host_of keys it (an entry's name cannot hold "=").

Pure: the console's overview (/v1/cluster/health_overview), `kraft status` and the
per-host gauges of /metrics read these. The counts are made per topic state (partition_tallies).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kraft.metadata.image import MetadataImage, host_key
from kraft.metadata.partition_tallies import TALLIES

COUNTS = ("leaders", "replicas", "under_replicated")
USAGE = ("cpu_percent", "rss_bytes")  # what each broker's process says of itself; None when it did not answer


def partition_counts(image: MetadataImage) -> dict[int, dict[str, int]]:
    """Per broker: partitions it leads, replicas it holds, and under-replicated partitions
    it leads (counted where Kafka's UnderReplicatedPartitions is: on the leader)."""
    tally = TALLIES.of(image)
    leaders, replicas, under = tally.leaders, tally.replicas, tally.under_by_leader
    return {b: {"leaders": leaders[b], "replicas": replicas[b], "under_replicated": under[b]}
            for b in replicas.keys() | leaders.keys()}


def broker_rows(hosts: Mapping[int, str | None], counts: Mapping[int, Mapping[str, int]],
                usage: Mapping[int, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per broker of `hosts` (broker id -> its host name or None), by id."""
    rows = []
    for broker_id in sorted(hosts):
        found, used = counts.get(broker_id, {}), usage.get(broker_id, {})
        rows.append({"broker_id": broker_id, "host_name": hosts[broker_id],
                     **{k: found.get(k, 0) for k in COUNTS}, **{k: used.get(k) for k in USAGE}})
    return rows


def host_rows(brokers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """broker_rows grouped by host, in the order of each host's lowest broker id: the
    counts summed, and the CPU and memory of the brokers that reported them (those that
    did not are named in `unreported`; None when none did)."""
    grouped: dict[str, dict[str, Any]] = {}
    for row in sorted(brokers, key=lambda r: r["broker_id"]):
        key = host_key(row["broker_id"], row["host_name"])
        host = grouped.get(key)
        if host is None:
            host = grouped[key] = {"host": key, "host_name": row["host_name"], "brokers": [],
                                   **dict.fromkeys(COUNTS, 0), **dict.fromkeys(USAGE), "unreported": []}
        host["brokers"].append(row["broker_id"])
        for k in COUNTS:
            host[k] += row[k]
        if all(row[k] is None for k in USAGE):
            host["unreported"].append(row["broker_id"])
        for k in USAGE:
            if row[k] is not None:
                host[k] = row[k] + (host[k] or 0)
    for host in grouped.values():
        if host["cpu_percent"] is not None:
            host["cpu_percent"] = round(host["cpu_percent"], 1)
    return list(grouped.values())


def registered_hosts(image: MetadataImage) -> dict[int, str | None]:
    """Each registered broker's host name (None: outside any [[hosts]] entry)."""
    return {broker_id: reg.host_name for broker_id, reg in image.brokers.items()}
