"""Idempotent produce against real node processes: a retry never writes a record twice.

Forced timeouts (a SIGSTOPped follower holds acks=all back), retries through another
node (forwarded), a retry after the leader's kill -9 (the new leader knows the batch
from the replicated log), the killed leader back as leader (its table rebuilt from
disk), refusals (gaps, stale epochs, bad parameters: 4xx, never 5xx), and the bundled
client and `kraft produce` using it. Every duplicate check reads the partition back.
"""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
from cluster_client import V2_JSON, call, create_topic

from kraft.server.local_cluster import LocalCluster, http_json
from kraft.client.producer_client import ProducerClient
from kraft.testing.elections import elect

pytestmark = pytest.mark.cluster
_names = itertools.count()


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=30)
        yield c


@pytest.fixture
def topic(cluster):
    return create_topic(cluster, f"idem-{next(_names)}", 1, {"min.insync.replicas": 2})


# -- helpers ------------------------------------------------------------------------------------
def new_producer(c, node=1):
    status, body = call("POST", c.v3(node) + "/producers", {})
    assert status == 200, body
    assert body["kind"] == "KraftProducer" and body["producer_epoch"] == 0
    return body["producer_id"]


def produce(c, node, topic, values, pid, seq, epoch=0, partition=0, acks="all", timeout_ms=10_000):
    """One idempotent v2 request, not retried here: (status, body)."""
    query = (f"?acks={acks}&timeout_ms={timeout_ms}&producer_id={pid}"
             f"&producer_epoch={epoch}&sequence={seq}")
    path = f"/topics/{topic}" + ("" if partition is None else f"/partitions/{partition}")
    return http_json("POST", c.url(node) + path + query, {"records": [{"value": v} for v in values]},
                     headers={"Content-Type": V2_JSON}, timeout=timeout_ms / 1000 + 10)


def offsets_of(answer):
    status, body = answer
    assert status == 200, body
    assert all(o["error_code"] is None for o in body["offsets"]), body
    return [o["offset"] for o in body["offsets"]]


def slot_error(answer):
    status, body = answer
    assert status == 200, body  # v2: a failed record carries its error in its slot
    return body["offsets"][0]["error_code"], body["offsets"][0]["error"]


def read_values(c, topic, partition=0, node=None):
    """Everything committed in the partition, through any live node (bounded)."""
    node = node or next(n for n in c.hosts if c.running(n))
    out, offset = [], 0
    for _ in range(1000):
        status, recs = call("GET", f"{c.url(node)}/topics/{topic}/partitions/{partition}"
                                   f"/records?offset={offset}&timeout=200")
        assert status == 200, recs
        if not recs:
            return out
        out += [r["value"] for r in recs]
        offset = recs[-1]["offset"] + 1
    raise AssertionError("read did not finish")


def partition_info(c, topic, via=None):
    via = via or next(n for n in c.hosts if c.running(n))
    status, body = http_json("GET", c.v3(via) + f"/topics/{topic}/partitions/0")
    assert status == 200, body
    return body


def leader_of(c, topic):
    return partition_info(c, topic)["leader_id"]


def preferred_leads(c, topic, node, timeout_s: float, what: str) -> None:
    """Wait until `node` (the first replica) leads, asking for a preferred election
    (ElectLeaders) meanwhile: the controller's own move comes only every 5 s."""
    def leads() -> bool:
        if leader_of(c, topic) == node:
            return True
        elect({"bootstrap.servers": c.bootstrap_servers}, topic, 0, "preferred")  # refused until in sync
        return False
    c.wait_until(leads, timeout_s, what, interval_s=0.3)


def paused_follower(c, topic):
    """A follower of the partition that is not the active controller (pausing the
    controller would also stall metadata, which is not what these tests are about)."""
    info = partition_info(c, topic)
    controller = c.raft_leader()
    return next(b for b in info["replica_ids"] if b != info["leader_id"] and b != controller)


def in_sync_again(c, topic, node):
    """Back in the ISR and unfenced, as seen by another node AND by the node itself: a node
    just resumed from SIGSTOP still answers from its image of before the pause."""
    other = next(n for n in c.hosts if n != node and c.running(n))

    def settled(via):
        status, body = http_json("GET", c.v3(via) + "/brokers")
        return status == 200 and not any(b.get("fenced") for b in body["data"]) \
            and sorted(partition_info(c, topic, via)["isr"]) == [1, 2, 3]

    def metadata_offset(via):
        status, body = http_json("GET", c.v3(via) + "/quorum?local=1")
        return body["metadata_offset"] if status == 200 else -1

    c.wait_until(lambda: settled(other), 30, f"{node} back in the ISR of {topic}")
    target = metadata_offset(other)
    c.wait_until(lambda: metadata_offset(node) >= target, 30, f"{node} caught up with metadata")
    c.wait_ready([node], timeout_s=30)


# -- the producer endpoint ----------------------------------------------------------------------
def test_producer_ids_are_distinct_through_every_node(cluster):
    ids = [new_producer(cluster, node) for node in (1, 2, 3, 1, 2, 3)]
    assert len(set(ids)) == len(ids) and min(ids) >= 0
    status, body = http_json("POST", f"{cluster.url(1)}/v3/clusters/nope/producers", {})
    assert status == 404 and body["error_code"] == 404


# -- (a) forced timeout, then the retry -----------------------------------------------------------
def test_retry_after_a_forced_timeout_is_answered_with_the_original_offset(cluster, topic):
    pid = new_producer(cluster)
    assert offsets_of(produce(cluster, 1, topic, ["a0", "a1"], pid, 0)) == [0, 1]
    follower = paused_follower(cluster, topic)
    cluster.pause(follower)
    try:
        status, body = produce(cluster, leader_of(cluster, topic), topic, ["b0", "b1"], pid, 2,
                               timeout_ms=800)
        code, message = slot_error((status, body))
        assert code == 50003 and "outcome unknown" in message, body
    finally:
        cluster.resume(follower)
    in_sync_again(cluster, topic, follower)
    # the same batch again (same sequence): not written twice, answered with where it went
    assert offsets_of(produce(cluster, 1, topic, ["b0", "b1"], pid, 2)) == [2, 3]
    assert offsets_of(produce(cluster, 2, topic, ["c0"], pid, 4)) == [4]
    assert read_values(cluster, topic) == ["a0", "a1", "b0", "b1", "c0"]


def test_bundled_client_retries_through_a_timeout_without_duplicates(cluster, topic):
    follower = paused_follower(cluster, topic)
    client = ProducerClient([cluster.url(n) for n in (1, 2, 3)], timeout_ms=800, attempts=40,
                            backoff_s=0.2)
    assert client.send(topic, [{"value": "before"}], partition=0) == [(0, 0)]
    cluster.pause(follower)
    try:
        # held back until the paused follower leaves the ISR; every retry has the same sequence
        assert client.send(topic, [{"value": "x0"}, {"value": "x1"}], partition=0) == [(0, 1), (0, 2)]
    finally:
        cluster.resume(follower)
    assert client.retries >= 1  # it did time out and retry
    in_sync_again(cluster, topic, follower)
    assert client.send(topic, [{"value": "after"}], partition=0) == [(0, 3)]
    assert read_values(cluster, topic) == ["before", "x0", "x1", "after"]


# -- (b) the retry arrives at another node --------------------------------------------------------
def test_retry_through_another_node_is_deduplicated_by_the_leader(cluster, topic):
    pid = new_producer(cluster, 2)
    leader = leader_of(cluster, topic)
    others = [n for n in (1, 2, 3) if n != leader]
    assert offsets_of(produce(cluster, leader, topic, ["v0", "v1", "v2"], pid, 0)) == [0, 1, 2]
    for node in others:  # forwarded to the leader, which knows the batch
        assert offsets_of(produce(cluster, node, topic, ["v0", "v1", "v2"], pid, 0)) == [0, 1, 2]
    assert offsets_of(produce(cluster, others[0], topic, ["w"], pid, 3)) == [3]
    assert offsets_of(produce(cluster, leader, topic, ["w"], pid, 3)) == [3]
    assert read_values(cluster, topic) == ["v0", "v1", "v2", "w"]


# -- (d) refusals ---------------------------------------------------------------------------------
def test_out_of_order_and_stale_epoch_are_refused_with_42206(cluster, topic):
    pid = new_producer(cluster)
    code, message = slot_error(produce(cluster, 1, topic, ["x"], pid, 5))
    assert code == 42206 and message.startswith("OUT_OF_ORDER_SEQUENCE"), message
    assert "must be 0" in message
    assert offsets_of(produce(cluster, 2, topic, ["a", "b"], pid, 0)) == [0, 1]
    code, message = slot_error(produce(cluster, 3, topic, ["gap"], pid, 3))  # 2 is next
    assert code == 42206 and message.startswith("OUT_OF_ORDER_SEQUENCE"), message
    assert "expected sequence 2, got 3" in message and f"{topic}-0" in message
    # a new epoch starts at 0; after it, the old epoch is fenced
    assert offsets_of(produce(cluster, 1, topic, ["e1"], pid, 0, epoch=1)) == [2]
    code, message = slot_error(produce(cluster, 1, topic, ["old"], pid, 2, epoch=0))
    assert code == 42206 and message.startswith("INVALID_PRODUCER_EPOCH"), message
    # v3: the envelope itself carries it
    status, body = http_json(
        "POST", f"{cluster.v3(2)}/topics/{topic}/records?producer_id={pid}&producer_epoch=1"
                "&sequence=7", {"partition_id": 0, "value": {"type": "STRING", "data": "v3"}})
    assert (status, body["error_code"]) == (422, 42206) and "OUT_OF_ORDER" in body["message"]
    status, body = http_json(
        "POST", f"{cluster.v3(3)}/topics/{topic}/records?producer_id={pid}&producer_epoch=1"
                "&sequence=1", {"partition_id": 0, "value": {"type": "STRING", "data": "v3"}})
    assert status == 200 and body["offset"] == 3, body
    assert read_values(cluster, topic) == ["a", "b", "e1", "v3"]


BAD_QUERIES = [
    ("producer_id=1", 400), ("producer_id=1&producer_epoch=0", 400),
    ("sequence=0", 400), ("producer_id=x&producer_epoch=0&sequence=0", 400),
    ("producer_id=-1&producer_epoch=0&sequence=0", 400),
    ("producer_id=1&producer_epoch=40000&sequence=0", 400),
    ("producer_id=1&producer_epoch=0&sequence=2147483648", 400),
    ("producer_id=1&producer_epoch=0&sequence=-3", 400),
    ("producer_id=99999999999999999999&producer_epoch=0&sequence=0", 400),
]


@pytest.mark.parametrize("query,status", BAD_QUERIES)
def test_bad_or_partial_idempotence_parameters_are_400(cluster, query, status):
    name = create_topic(cluster, "idem-bad", 3)
    for path in (f"{cluster.url(1)}/topics/{name}/partitions/0",
                 f"{cluster.v3(2)}/topics/{name}/records"):
        body = ({"records": [{"value": 1}]} if "v3" not in path
                else {"value": {"type": "JSON", "data": 1}})
        got, answer = http_json("POST", f"{path}?{query}", body,
                                headers={"Content-Type": V2_JSON if "v3" not in path
                                         else "application/json"})
        assert (got, answer["error_code"]) == (status, status), answer


def test_an_idempotent_request_goes_to_one_partition_and_a_batch_is_all_or_nothing(cluster):
    name = create_topic(cluster, f"idem-multi-{next(_names)}", 3)
    pid = new_producer(cluster)
    q = f"?producer_id={pid}&producer_epoch=0&sequence=0"
    status, body = http_json("POST", f"{cluster.url(1)}/topics/{name}{q}",
                             {"records": [{"value": 1, "partition": 0}, {"value": 2, "partition": 1}]},
                             headers={"Content-Type": V2_JSON})
    assert (status, body["error_code"]) == (422, 42206) and "one partition" in body["message"], body
    entries = [{"id": "ok", "partition_id": 2, "value": {"type": "JSON", "data": 1}},
               {"id": "bad", "partition_id": 2, "value": {"type": "BINARY", "data": "%%"}}]
    status, body = http_json("POST", f"{cluster.v3(2)}/topics/{name}/records:batch{q}",
                             {"entries": entries})
    assert status == 422 and "whole or not at all" in body["message"], body
    # keyless records without a partition go where the producer id says, also on a retry
    first = offsets_of(produce(cluster, 3, name, ["k0", "k1"], pid, 0, partition=None))
    again = http_json("POST", f"{cluster.url(1)}/topics/{name}{q}",
                      {"records": [{"value": "k0"}, {"value": "k1"}]},
                      headers={"Content-Type": V2_JSON})
    assert offsets_of(again) == first == [0, 1]
    assert again[1]["offsets"][0]["partition"] == pid % 3
    assert sum(len(read_values(cluster, name, p)) for p in range(3)) == 2
    status, body = http_json("POST", f"{cluster.v3(2)}/topics/{name}/records:batch"
                             f"?producer_id={pid}&producer_epoch=0&sequence=0",
                             {"entries": [{"id": "a", "partition_id": pid % 3, "value": {"data": "k0"}},
                                          {"id": "b", "partition_id": pid % 3, "value": {"data": "k1"}}]})
    assert status == 207 and [s["offset"] for s in body["successes"]] == [0, 1], body


def test_the_client_places_keys_where_the_server_would(cluster):
    name = create_topic(cluster, f"idem-keys-{next(_names)}", 3)
    client = ProducerClient([cluster.url(2)])
    keys = [f"user-{i}" for i in range(12)] + ["ünï", "", "x" * 50]
    mine = client.send(name, [{"key": k, "value": i} for i, k in enumerate(keys)])
    status, body = call("POST", f"{cluster.url(1)}/topics/{name}",  # server-side choice
                        {"records": [{"key": k, "value": i} for i, k in enumerate(keys)]},
                        headers={"Content-Type": V2_JSON})
    assert status == 200, body
    assert [p for p, _ in mine] == [o["partition"] for o in body["offsets"]]
    assert len({p for p, _ in mine}) > 1
    sticky = client.send(name, [{"value": i} for i in range(5)])  # keyless: one partition per call
    assert len({p for p, _ in sticky}) == 1


# -- (e) kraft produce ----------------------------------------------------------------------------
def kraft(cluster, *args, stdin=""):
    return subprocess.run([sys.executable, "-m", "kraft", *args], input=stdin, check=False,
                          capture_output=True, text=True, timeout=60, cwd=str(cluster.base_dir))


def test_kraft_produce_is_idempotent_by_default_and_can_opt_out(cluster):
    name = create_topic(cluster, f"idem-cli-{next(_names)}", 3)
    lines = [f"u{i % 7}:v{i}" for i in range(1200)]  # keyed: spread over the partitions
    res = kraft(cluster, "produce", name, "--key-separator", ":", "--bootstrap", cluster.url(2),
                stdin="\n".join(lines) + "\n")
    assert res.returncode == 0, res.stderr
    res = kraft(cluster, "produce", name, "--no-idempotence", "--partition", "1",
                "--bootstrap", cluster.url(3), stdin="plain\n")
    assert res.returncode == 0, res.stderr
    got = [v for p in range(3) for v in read_values(cluster, name, p)]
    assert sorted(got) == sorted([f"v{i}" for i in range(1200)] + ["plain"])


# -- (c) the leader dies; then comes back and leads again ------------------------------------------
def test_retry_after_the_leader_is_killed_and_after_it_leads_again(cluster, topic):
    pid = new_producer(cluster)
    old = partition_info(cluster, topic)["replica_ids"][0]  # the preferred leader
    preferred_leads(cluster, topic, old, 20, "preferred leader")
    via = next(n for n in (1, 2, 3) if n != old)
    for seq in range(0, 10, 2):
        assert offsets_of(produce(cluster, via, topic, [f"s{seq}", f"s{seq + 1}"], pid, seq)) \
            == [seq, seq + 1]
    cluster.kill(old)
    new = cluster.wait_until(lambda: (l := leader_of(cluster, topic)) not in (None, -1, old) and l,
                             20, "a new leader")
    # acknowledged, so replicated: the new leader rebuilt its table from the log it copied
    answer = call("POST", f"{cluster.url(via)}/topics/{topic}/partitions/0?producer_id={pid}"
                          "&producer_epoch=0&sequence=8", {"records": [{"value": "s8"}, {"value": "s9"}]},
                  headers={"Content-Type": V2_JSON}, retry_s=20)
    assert offsets_of(answer) == [8, 9]
    assert offsets_of(produce(cluster, new, topic, ["s10"], pid, 10)) == [10]
    # the killed leader restarts (its table from snapshot + replay), catches up, leads again
    cluster.start_node(old)
    in_sync_again(cluster, topic, old)
    preferred_leads(cluster, topic, old, 30, "preferred leader back")
    assert offsets_of(produce(cluster, old, topic, ["s10"], pid, 10)) == [10]
    assert offsets_of(produce(cluster, old, topic, ["s8", "s9"], pid, 8)) == [8, 9]
    assert offsets_of(produce(cluster, via, topic, ["s11"], pid, 11)) == [11]
    assert read_values(cluster, topic) == [f"s{i}" for i in range(12)]
