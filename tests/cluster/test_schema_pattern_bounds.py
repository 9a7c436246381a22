"""A JSON Schema pattern built to backtrack does not stall a node: a REST produce of data
crafted against it (the jsonschema format) is answered 42203 with the reason, and the node
answers other requests meanwhile."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from cluster_client import create_topic

from kraft.server.local_cluster import http_json

pytestmark = pytest.mark.cluster

V2_JSONSCHEMA = "application/vnd.kafka.jsonschema.v2+json"
ATTACKS = [("^(a+)+$", "a" * 30 + "!", "does not match"),  # exponential in Python's re
           ("^(a|a)+$", "a" * 40 + "!", "took too long")]  # exponential in any backtracking engine


def produce(c, topic: str, pattern: str, value: str):
    body = {"value_schema": json.dumps({"type": "string", "pattern": pattern}), "records": [{"value": value}] * 8}
    return http_json("POST", f"{c.url(1)}/topics/{topic}", body, headers={"Content-Type": V2_JSONSCHEMA},
                     timeout=60)


def test_backtracking_patterns_are_answered_42203_while_the_node_serves_others(shared_cluster):
    c = shared_cluster
    topics = [create_topic(c, f"redos-{uuid.uuid4().hex[:6]}", partitions=1) for _ in ATTACKS]  # a subject each
    answers: list = []

    def attack() -> None:
        for _ in range(3):
            answers.extend(produce(c, topic, pattern, value) for topic, (pattern, value, _) in zip(topics, ATTACKS))

    attacker = threading.Thread(target=attack)
    attacker.start()
    canaries = []
    while attacker.is_alive() or not canaries:
        canaries.append(http_json("GET", f"{c.url(1)}/v3/clusters", timeout=10)[0])
    attacker.join()
    assert canaries and set(canaries) == {200}, canaries
    for (status, answer), (_, _, reason) in zip(answers, ATTACKS * 3):
        assert (status, answer["error_code"]) == (422, 42203), answer
        assert reason in answer["message"], answer
    for topic in topics:
        status, offsets = http_json("GET", f"{c.url(1)}/topics/{topic}/partitions/0/offsets")
        assert status == 200 and offsets["end_offset"] == 0, offsets  # nothing of the requests written
