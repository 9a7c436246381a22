"""Shared by the REST test modules: a client that retries as a Kafka client would, and
topic creation that waits until every node serves the topic."""

from __future__ import annotations

import time

from kraft.local_cluster import http_json

RETRIABLE = {50003, 50301}  # API.md: retriable (leader moving, no quorum answer yet)
NODES = (1, 2, 3)
V2_JSON = "application/vnd.kafka.json.v2+json"
V2_BINARY = "application/vnd.kafka.binary.v2+json"


def call(method, url, body=None, headers=None, raw=None, timeout=30.0, retry_s=10.0):
    """http_json, retried (bounded) while the answer is a retriable 5xx, as a client would:
    a leader or controller move under load must not fail a test about something else."""
    deadline = time.monotonic() + retry_s
    while True:
        status, answer = http_json(method, url, body=body, headers=headers, raw=raw,
                                   timeout=timeout)
        if not (isinstance(answer, dict) and answer.get("error_code") in RETRIABLE) \
                or time.monotonic() >= deadline:
            return status, answer
        time.sleep(0.2)


def brokers_unfenced(c) -> bool:
    status, body = http_json("GET", c.v3(1) + "/brokers")
    return status == 200 and len(body["data"]) == 3 and not any(b.get("fenced") for b in body["data"])


def create_topic(c, name, partitions=3, configs=None):
    doc = {"topic_name": name, "partitions_count": partitions, "replication_factor": 3}
    if configs:
        doc["configs"] = [{"name": k, "value": str(v)} for k, v in configs.items()]
    # RF 3 needs all three brokers: a broker fenced for a moment (a busy machine) is waited for
    c.wait_until(lambda: brokers_unfenced(c), 20, "all brokers unfenced")
    status, body = call("POST", c.v3(1) + "/topics", doc)
    # 409: an attempt that got a retriable answer had created it (names are unique)
    assert status in (201, 409), body

    def ready():  # polled: no retries inside
        for node in NODES:
            if http_json("GET", f"{c.v3(node)}/topics/{name}")[0] != 200:
                return False
            for p in range(partitions):
                if http_json("GET", f"{c.url(node)}/topics/{name}/partitions/{p}/offsets")[0] != 200:
                    return False
        return True

    c.wait_until(ready, 15, f"topic {name} ready on every node")
    return name
