"""Shared by the consumer-group test modules: a REST Proxy v2 consumer client as a user
would write it (retrying the documented retriable 50003 for a bounded time), and the
checks every error answer must pass."""

from __future__ import annotations

import time

from cluster_client import V2_BINARY, V2_JSON, call

from kraft.server.local_cluster import http_json

V2 = "application/vnd.kafka.v2+json"
GROUPS = {"offsets.topic.num.partitions": 6}  # a light __consumer_offsets for tests
FIRST_USE_RETRY_S = 30.0  # the first group use creates __consumer_offsets: 50003 meanwhile


def produce(c, topic, records, node=1, partition=None):
    """v2 JSON produce; returns [(partition, offset)] per record."""
    path = f"/topics/{topic}" + (f"/partitions/{partition}" if partition is not None else "")
    status, body = call("POST", c.url(node) + path, {"records": records},
                        headers={"Content-Type": V2_JSON}, timeout=30)
    assert status == 200, body
    assert all(o["error_code"] is None for o in body["offsets"]), body
    return [(o["partition"], o["offset"]) for o in body["offsets"]]


def produce_keyed(c, topic, keys, node=1):
    """One produce request per record (one batch each, so reads can stop between them);
    returns {key: (partition, offset)}."""
    out = {}
    for key in keys:
        [(p, o)] = produce(c, topic, [{"key": key, "value": {"k": key}}], node)
        out[key] = (p, o)
    return out


class Consumer:
    """One REST Proxy v2 consumer instance, addressed through a chosen node."""

    def __init__(self, c, group, name, node=1, binary=False):
        self.c, self.group, self.name, self.node, self.binary = c, group, name, node, binary

    @classmethod
    def create(cls, c, group, name, config=None, node=1, retry_s=FIRST_USE_RETRY_S):
        """config: the create body's other fields (format defaults to json here)."""
        body = {"name": name, "format": "json", **(config or {})}
        status, answer = call("POST", f"{c.url(node)}/consumers/{group}", body,
                              headers={"Content-Type": V2}, retry_s=retry_s)
        assert status == 200, (status, answer)
        assert answer["instance_id"] == name, answer
        # the node asked, even when another node (the coordinator) answered
        assert answer["base_uri"] == f"{c.url(node)}/consumers/{group}/instances/{name}", answer
        return cls(c, group, name, node, body["format"] == "binary")

    def url(self, node=None, suffix=""):
        return f"{self.c.url(node or self.node)}/consumers/{self.group}/instances/{self.name}{suffix}"

    def req(self, method, suffix, body=None, node=None, headers=None, retry_s=10.0, **kw):
        if headers is None:
            # Confluent's examples send the Content-Type on every POST, even without a body
            headers = {"Content-Type": V2} if body is not None or method == "POST" else {}
        return call(method, self.url(node, suffix), body, headers=headers, retry_s=retry_s, **kw)

    def ok(self, method, suffix, body=None, node=None, expect=204, **kw):
        status, answer = self.req(method, suffix, body, node, **kw)
        assert status == expect, (method, suffix, status, answer)
        return answer

    def subscribe(self, topics, node=None):
        self.ok("POST", "/subscription", {"topics": list(topics)}, node)

    def assignment(self, node=None) -> set[tuple[str, int]]:
        answer = self.ok("GET", "/assignments", node=node, expect=200)
        return {(p["topic"], p["partition"]) for p in answer["partitions"]}

    def records(self, node=None, timeout_ms=300, max_bytes=None, accept=None):
        query = f"?timeout={timeout_ms}" + (f"&max_bytes={max_bytes}" if max_bytes else "")
        accept = accept or (V2_BINARY if self.binary else V2_JSON)
        status, answer = call("GET", self.url(node, "/records" + query), headers={"Accept": accept},
                              timeout=timeout_ms / 1000 + 30)
        assert status == 200, (status, answer)
        assert isinstance(answer, list), answer
        return answer

    def commit(self, offsets=None, node=None):
        """offsets: {(topic, partition): last consumed offset}; None commits the positions."""
        body = None if offsets is None else {
            "offsets": [{"topic": t, "partition": p, "offset": o} for (t, p), o in sorted(offsets.items())]}
        self.ok("POST", "/offsets", body, node)

    def committed(self, partitions=None, node=None) -> dict[tuple[str, int], int]:
        body = None if partitions is None else {
            "partitions": [{"topic": t, "partition": p} for t, p in sorted(partitions)]}
        answer = self.ok("GET", "/offsets", body, node, expect=200)
        return {(o["topic"], o["partition"]): o["offset"] for o in answer["offsets"]}

    def delete(self, node=None):
        self.ok("DELETE", "", node=node)


def drain(consumers, until, timeout_s=20.0, poll_ms=200):
    """Poll every consumer in turn until `until(got)` holds (bounded); returns
    {instance name: [record, ...]} in delivery order."""
    got = {c.name: [] for c in consumers}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for consumer in consumers:
            got[consumer.name].extend(consumer.records(timeout_ms=poll_ms))
        if until(got):
            return got
    raise AssertionError(f"not reached within {timeout_s}s; got "
                         f"{ {n: [(r['partition'], r['offset']) for r in rs] for n, rs in got.items()} }")


def group_view(c, group, node=1):
    status, body = call("GET", f"{c.v3(node)}/consumer-groups/{group}")
    assert status == 200, (status, body)
    return body


def assigned(member: dict) -> list[dict]:
    """A v3 consumer's assignments, through the link it carries (as the spec shapes it)."""
    status, body = call("GET", member["assignments"]["related"])
    assert status == 200, (status, body)
    return body["data"]


def coordinator_of(c, group, node=1) -> int:
    return int(group_view(c, group, node)["coordinator"]["related"].rsplit("/", 1)[-1])


def http(method, url, body=None, headers=None, raw=None, timeout=30.0):
    """No retries: what one request answers."""
    return http_json(method, url, body=body, headers=headers, raw=raw, timeout=timeout)
