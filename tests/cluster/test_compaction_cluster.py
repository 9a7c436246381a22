"""Log compaction in a real 3-node cluster: a cleanup.policy=compact topic with small
segments shrinks on every replica (leader and followers clean their own logs) and a
read from offset 0 gives the latest value of each key at its original offset."""

from __future__ import annotations

import time

import pytest
from cluster_client import V2_JSON, call, create_topic

from kraft.server.local_cluster import LocalCluster
from kraft.storage.log_inspect import partition_dirs, read_records

pytestmark = pytest.mark.cluster

TOPIC = "compacted"
KEYS = [f"k{i}" for i in range(4)]


def disk_bytes(cluster, node: int) -> int:
    dirs = partition_dirs(cluster.config.node(node).data_path, TOPIC, 0)
    return sum(f.stat().st_size for d in dirs for f in d.glob("*.log"))


def latest_view(records):
    """key -> (offset, value) of the last record of each key, as any replica must agree."""
    view = {}
    for offset, _, key, value in records:
        view[key] = (offset, value)
    return view


def test_compacted_topic_keeps_the_latest_value_per_key_on_every_replica():
    with LocalCluster(nodes=3) as c:
        c.start()
        c.wait_ready(timeout_s=30)
        create_topic(c, TOPIC, 1, {"cleanup.policy": "compact", "segment.bytes": 1024,
                                   "min.cleanable.dirty.ratio": 0.01})
        produced = {}  # offset -> (key, value)
        peak = {n: 0 for n in (1, 2, 3)}  # the cleaner may start while we produce
        for round_ in range(100):
            body = {"records": [{"key": KEYS[i % len(KEYS)], "value": round_ * 100 + i} for i in range(8)]}
            status, answer = call("POST", c.url(1 + round_ % 3) + f"/topics/{TOPIC}", body,
                                  headers={"Content-Type": V2_JSON}, timeout=30)
            assert status == 200, answer
            for rec, off in zip(body["records"], answer["offsets"]):
                produced[off["offset"]] = (rec["key"], rec["value"])
            peak = {n: max(peak[n], disk_bytes(c, n)) for n in (1, 2, 3)}
        assert all(size > 8 * 1024 for size in peak.values()), peak
        # the cleaner looks every 5 s; each replica must end up far smaller
        c.wait_until(lambda: all(disk_bytes(c, n) < peak[n] / 4 for n in (1, 2, 3)), 40,
                     "every replica compacted", interval_s=0.5)

        status, got = call("GET", c.url(1) + f"/topics/{TOPIC}/partitions/0/records?offset=0&max_bytes=1000000",
                           headers={"Accept": V2_JSON})
        assert status == 200, got
        assert len(got) < len(produced) / 4
        for rec in got:  # every survivor is what was produced at its offset
            assert produced[rec["offset"]] == (rec["key"], rec["value"]), rec
        latest = {}
        for offset in sorted(produced):
            latest[produced[offset][0]] = (offset, produced[offset][1])
        assert {r["key"]: (r["offset"], r["value"]) for r in got} == latest

        # replicas differ in what they have cleaned so far, never in what they keep
        deadline = time.monotonic() + 20
        while True:
            logs = {n: read_records(d) for n in (1, 2, 3)
                    for d in partition_dirs(c.config.node(n).data_path, TOPIC, 0)}
            views = [latest_view(log) for log in logs.values()]
            if len(logs) == 3 and views[0] == views[1] == views[2] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(logs) == 3 and views[0] == views[1] == views[2]
        at = {}
        for log in logs.values():
            for offset, epoch, key, value in log:
                assert at.setdefault(offset, (epoch, key, value)) == (epoch, key, value)
