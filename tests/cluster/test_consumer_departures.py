"""A REST consumer instance that went away tells its client why, on the shared 3-node cluster:
after consumer.instance.timeout.ms without a request its next request, through any node,
gets 40403 saying it expired, when, and which setting did it; a deleted one says it was
deleted; the console's departures answer lists both (the browser side is in
test_console.py)."""

from __future__ import annotations

import re

import pytest
from cluster_client import NODES, assert_envelope, call
from consumer_client import Consumer

from kraft.server.local_cluster import http_json

pytestmark = pytest.mark.cluster

GROUP = "departures"
EXPIRY_WAIT_S = 30  # a 1 s timeout, the coordinator's sweep, a busy machine
UTC = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


def departures(cluster, node: int = 1) -> dict[str, dict]:
    status, body = http_json("GET", f"{cluster.url(node)}/v1/console/consumer-groups/{GROUP}/departures")
    assert status == 200, body
    return {d["instance_id"]: d for d in body["departures"]}


def test_an_expired_or_deleted_instance_is_told_what_happened_through_every_node(shared_cluster):
    cluster = shared_cluster
    idle = Consumer.create(cluster, GROUP, "idle", {"consumer.instance.timeout.ms": 1000})
    deleted = Consumer.create(cluster, GROUP, "deleted", node=2)
    deleted.ok("DELETE", "")
    # polled beside the instance, never through it: its own requests would keep it alive
    cluster.wait_until(lambda: "idle" in departures(cluster), EXPIRY_WAIT_S, "the idle instance expired")
    for node in NODES:
        status, body = idle.req("GET", "/assignments", node=node, retry_s=5)
        assert_envelope(status, body, 40403)
        assert re.fullmatch(rf"consumer instance 'idle' of group '{GROUP}' expired at {UTC}: no request for 1000 ms "
                            r"\(consumer.instance.timeout.ms\); create it again", body["message"]), body
        status, body = deleted.req("POST", "/subscription", {"topics": ["t"]}, node=node, retry_s=5)
        assert_envelope(status, body, 40403)
        assert re.fullmatch(rf"consumer instance 'deleted' of group '{GROUP}' was deleted at {UTC} "
                            r"\(DELETE of the instance\); create it again", body["message"]), body
        seen = departures(cluster, node)
        assert seen["idle"]["reason"] == "expired" and seen["idle"]["timeout_ms"] == 1000, seen
        assert seen["deleted"]["reason"] == "deleted" and seen["deleted"]["message"] == body["message"], seen
    status, body = call("GET", f"{cluster.url(1)}/consumers/{GROUP}/instances/never/assignments")
    assert_envelope(status, body, 40403)
    assert "not found in group" in body["message"], body  # nothing to tell about a name never used
    Consumer.create(cluster, GROUP, "idle").delete()  # the name is free again; its new life ends as deleted
    assert departures(cluster)["idle"]["reason"] == "deleted"
