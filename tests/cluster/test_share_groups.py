"""Share groups (KIP-932) with confluent-kafka's ShareConsumer on the shared cluster: more
consumers than partitions all get work, each record is handed to one consumer at a time
and acknowledged one by one (accept, release, reject), a killed consumer's records come
back when their lock runs out, per-group configs set through the admin API, and Kafka's
error codes for acknowledgements that do not fit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from cluster_client import call, create_topic
from kafka_wire import kafka_socket, leader_of, wire_call
from share_clients import (BOUND_S, code, consumer, new_name, poll_until, produce, set_group_configs, share_acknowledge,
                           share_fetch, share_group, topic_id, values)


pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import AcknowledgeType, Producer, ShareConsumer  # noqa: E402
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType  # noqa: E402

LOCK_MS = 2000  # the kill test's groups hold records this long


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    return shared_cluster


def test_more_consumers_than_partitions_each_hold_a_record_of_one_partition_at_once(cluster):
    topic = new_name("share-hold")
    group = share_group(cluster, topic, partitions=1)
    members = [consumer(cluster, group, explicit=True) for _ in range(3)]
    held = []
    try:
        for share in members:
            share.subscribe([topic])
        for i, share in enumerate(members):  # each holds its record: the next goes to the next member
            produce(cluster, topic, [f"r{i}"])
            held += poll_until(share, lambda got: len(got) >= 1)
        assert values(held) == ["r0", "r1", "r2"] and len({m.offset() for m in held}) == 3
        for share, message in zip(members, held):
            share.acknowledge(message, AcknowledgeType.ACCEPT)
            share.commit_sync()
        produce(cluster, topic, ["end"])
        after = poll_until(members[0], lambda got: "end" in values(got))
        assert values(after) == ["end"]  # nothing accepted came back
        members[0].acknowledge(after[0])
        members[0].commit_sync()
    finally:
        for share in members:
            share.close()


def test_implicit_consumers_receive_every_record_once(cluster):
    topic = new_name("share-all")
    group = share_group(cluster, topic, partitions=2)
    sent = [f"m{i}" for i in range(60)]
    members = [consumer(cluster, group) for _ in range(3)]
    got: list = []
    try:
        for share in members:
            share.subscribe([topic])
        producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all"})
        for i, v in enumerate(sent):
            producer.produce(topic, value=v.encode(), partition=i % 2)
        assert producer.flush(30) == 0
        deadline = time.monotonic() + BOUND_S
        while len(got) < len(sent) and time.monotonic() < deadline:
            for share in members:  # polling again accepts what the last poll gave (implicit mode)
                got += [m for m in share.poll(0.2)]
        assert Counter(values(got)) == Counter(sent)
        assert {m.delivery_count() for m in got} == {1}
    finally:
        for share in members:
            share.close()


def test_release_redelivers_with_a_higher_count_and_reject_archives(cluster):
    topic = new_name("share-ack")
    group = share_group(cluster, topic)
    produce(cluster, topic, ["a", "b"])
    share = consumer(cluster, group, explicit=True)
    try:
        share.subscribe([topic])
        first = poll_until(share, lambda got: len(got) >= 2)
        assert [(m.value(), m.delivery_count()) for m in first] == [(b"a", 1), (b"b", 1)]
        share.acknowledge(first[0], AcknowledgeType.RELEASE)
        share.acknowledge(first[1], AcknowledgeType.REJECT)
        share.commit_sync()
        again = poll_until(share, lambda got: len(got) >= 1)
        assert [(m.value(), m.offset(), m.delivery_count()) for m in again] == [(b"a", first[0].offset(), 2)]
        share.acknowledge(again[0], AcknowledgeType.ACCEPT)
        share.commit_sync()
        produce(cluster, topic, ["c"])
        last = poll_until(share, lambda got: "c" in values(got))
        assert values(last) == ["c"]  # neither the accepted nor the rejected record came back
        share.acknowledge(last[0])
        share.commit_sync()
    finally:
        share.close()


def test_the_delivery_limit_archives_a_record_released_too_often(cluster):
    topic = new_name("share-limit")
    group = share_group(cluster, topic, share_delivery_count_limit=2)
    produce(cluster, topic, ["x"])
    share = consumer(cluster, group, explicit=True)
    try:
        share.subscribe([topic])
        for delivery in (1, 2):
            [message] = poll_until(share, lambda got: len(got) >= 1)
            assert (message.value(), message.delivery_count()) == (b"x", delivery)
            share.acknowledge(message, AcknowledgeType.RELEASE)
            share.commit_sync()
        produce(cluster, topic, ["y"])
        after = poll_until(share, lambda got: "y" in values(got))
        assert values(after) == ["y"]  # x was archived at its second release
        share.acknowledge(after[0])
        share.commit_sync()
    finally:
        share.close()


HOLDER = """
import sys, time
from confluent_kafka import ShareConsumer
share = ShareConsumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2],
                       "share.acknowledgement.mode": "explicit"})
share.subscribe([sys.argv[3]])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    got = [m for m in share.poll(0.5) if m.error() is None]
    if got:
        print(" ".join(str(m.offset()) for m in got), flush=True)
        time.sleep(120)  # holds them, never acknowledging, until it is killed
"""


def test_records_held_by_a_killed_consumer_come_back_when_their_lock_runs_out(cluster):
    topic = new_name("share-kill")
    group = share_group(cluster, topic, share_record_lock_duration_ms=LOCK_MS)
    produce(cluster, topic, ["k0", "k1", "k2"])
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, cluster.bootstrap_servers, group, topic],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    share = None
    try:
        line = holder.stdout.readline()  # bounded: the holder gives up after 60 s
        assert line.split(), "the holder received nothing"
        held = sorted(int(o) for o in line.split())
        os.kill(holder.pid, signal.SIGKILL)  # no release: its connections closing (or its locks) free them
        holder.wait(10)
        share = consumer(cluster, group, explicit=True)
        share.subscribe([topic])
        back = poll_until(share, lambda got: len(got) >= len(held))
        assert sorted(m.offset() for m in back) == held
        assert {m.delivery_count() for m in back} == {2}
        for m in back:
            share.acknowledge(m)
        share.commit_sync()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if share is not None:
            share.close()


# -- the wire: acknowledgements that do not fit -------------------------------------------
def test_acknowledgements_that_do_not_fit_get_kafkas_codes_and_change_nothing(cluster):
    topic = new_name("share-wire")
    group = share_group(cluster, topic)
    produce(cluster, topic, ["w0", "w1"])
    tid, member = topic_id(cluster, topic), str(uuid.uuid4())
    with kafka_socket(cluster, leader_of(cluster, topic, 0)) as s:
        assert code(share_acknowledge(s, group, member, 1, tid, 0, 0).error_code) == 122  # SHARE_SESSION_NOT_FOUND
        opened = share_fetch(s, group, member, 0, tid)
        assert code(opened.error_code) == 0
        [part] = opened.responses[0].partitions
        assert [(a.first_offset, a.last_offset, a.delivery_count) for a in part.acquired_records] == [(0, 1, 1)]
        assert code(share_fetch(s, group, member, 5, tid).error_code) == 123  # INVALID_SHARE_SESSION_EPOCH
        wrong = share_acknowledge(s, group, member, 1, tid, 1, 2)  # offset 2 was never acquired
        assert code(wrong.responses[0].partitions[0].error_code) == 121  # INVALID_RECORD_STATE
        other = share_acknowledge(s, group, str(uuid.uuid4()), 1, tid, 0, 0)  # not this member's session
        assert code(other.error_code) == 122
        right = share_acknowledge(s, group, member, 2, tid, 0, 1)  # both are still held: nothing changed
        assert code(right.responses[0].partitions[0].error_code) == 0
        closing = share_acknowledge(s, group, member, -1, tid, 0, 0)  # already accepted
        assert code(closing.responses[0].partitions[0].error_code) == 121


def group_coordinator(cluster, group: str) -> int:
    """The group's coordinator, found as a client finds it (FindCoordinator), which also
    creates __consumer_offsets when no group has used it yet; asked again while the
    coordinator is still being elected."""
    from kio.schema.find_coordinator.v4.request import FindCoordinatorRequest
    deadline = time.monotonic() + BOUND_S
    while True:
        with kafka_socket(cluster, 1) as s:
            (found,) = wire_call(s, FindCoordinatorRequest(key_type=0, coordinator_keys=(group,))).coordinators
        if code(found.error_code) == 0:
            return int(found.node_id)
        assert time.monotonic() < deadline, f"no coordinator for {group} within {BOUND_S} s: {found}"
        time.sleep(0.2)


def test_a_stale_member_epoch_is_fenced_and_an_unknown_member_refused(cluster):
    from kio.schema.share_group_heartbeat.v1.request import ShareGroupHeartbeatRequest
    topic = new_name("share-hb")
    group = share_group(cluster, topic)
    member = str(uuid.uuid4())
    with kafka_socket(cluster, group_coordinator(cluster, group)) as s:
        joined = wire_call(s, ShareGroupHeartbeatRequest(group_id=group, member_id=member, member_epoch=0,
                                                         subscribed_topic_names=(topic,)))
        assert code(joined.error_code) == 0 and joined.member_epoch > 0
        assert [list(tp.partitions) for tp in joined.assignment.topic_partitions] == [[0]]
        stale = wire_call(s, ShareGroupHeartbeatRequest(group_id=group, member_id=member,
                                                        member_epoch=joined.member_epoch + 7))
        assert code(stale.error_code) == 110  # FENCED_MEMBER_EPOCH
        unknown = wire_call(s, ShareGroupHeartbeatRequest(group_id=group, member_id=str(uuid.uuid4()), member_epoch=3))
        assert code(unknown.error_code) == 25  # UNKNOWN_MEMBER_ID
        left = wire_call(s, ShareGroupHeartbeatRequest(group_id=group, member_id=member, member_epoch=-1))
        assert code(left.error_code) == 0 and left.member_epoch == -1


def test_group_configs_are_checked_and_described(cluster):
    group = new_name("share-configs")
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    for name, value in (("share.record.lock.duration.ms", "12"), ("share.auto.offset.reset", "middle"),
                        ("no.such.config", "1")):
        resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
            ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)])
        with pytest.raises(confluent_kafka.KafkaException) as refused:
            for future in admin.incremental_alter_configs([resource]).values():
                future.result(15)
        assert refused.value.args[0].code() == confluent_kafka.KafkaError.INVALID_CONFIG, name
    set_group_configs(cluster, group, share_record_lock_duration_ms=15000)
    [described] = admin.describe_configs([ConfigResource(ResourceType.GROUP, group)]).values()
    configs = described.result(15)
    assert configs["share.record.lock.duration.ms"].value == "15000"
    assert configs["share.delivery.count.limit"].value == "5"  # the broker's default


def test_the_readme_share_consumer_runs_as_written(cluster):
    import re
    from pathlib import Path
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    [block] = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "ShareConsumer" in b]
    topic, group = new_name("jobs"), new_name("resizers")
    script = (block.replace("localhost:9092", cluster.bootstrap_servers)
              .replace('"jobs"', repr(topic)).replace('"resizers"', repr(group)))
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert sorted(ran.stdout.splitlines()) == [f"b'photo-{i}' delivery 1" for i in (1, 2, 3)]  # partitions: any order


def test_share_groups_are_listed_described_and_their_lag_shown(cluster):
    from kio.schema.describe_share_group_offsets.v1 import request as offsets_request
    from kio.schema.list_groups.v5.request import ListGroupsRequest
    from kio.schema.share_group_describe.v1.request import ShareGroupDescribeRequest
    topic = new_name("share-admin")
    group = share_group(cluster, topic)
    produce(cluster, topic, [f"l{i}" for i in range(5)])
    share = consumer(cluster, group, explicit=True)
    try:
        share.subscribe([topic])
        got = poll_until(share, lambda got: len(got) >= 5)
        share.acknowledge(got[0], AcknowledgeType.ACCEPT)
        share.acknowledge(got[1], AcknowledgeType.ACCEPT)  # the other three stay held
        share.commit_sync()
        with kafka_socket(cluster, group_coordinator(cluster, group)) as s:
            listed = wire_call(s, ListGroupsRequest(states_filter=(), types_filter=("share",)))
            assert {(g.group_id, g.group_type, g.group_state) for g in listed.groups} >= {(group, "share", "Stable")}
            [described] = wire_call(s, ShareGroupDescribeRequest(group_ids=(group,),
                                                                  include_authorized_operations=False)).groups
            assert code(described.error_code) == 0 and described.group_state == "Stable"
            [member] = described.members
            assert [(tp.topic_name, list(tp.partitions)) for tp in member.assignment.topic_partitions] == [(topic, [0])]
            [answer] = wire_call(s, offsets_request.DescribeShareGroupOffsetsRequest(groups=(
                offsets_request.DescribeShareGroupOffsetsRequestGroup(group_id=group, topics=(
                    offsets_request.DescribeShareGroupOffsetsRequestTopic(topic_name=topic, partitions=(0,)),)),))).groups
            [partition] = answer.topics[0].partitions
            assert (code(partition.error_code), partition.start_offset, partition.lag) == (0, 2, 3)
            unknown = wire_call(s, ShareGroupDescribeRequest(group_ids=(new_name("nobody"),),
                                                             include_authorized_operations=False)).groups[0]
            assert code(unknown.error_code) in (16, 69)  # NOT_COORDINATOR elsewhere, else GROUP_ID_NOT_FOUND
    finally:
        share.close()


def read_dead_letters(cluster, topic: str, count: int) -> list:
    reader = confluent_kafka.Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": new_name("r"),
                                       "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        reader.subscribe([topic])
        got: list = []
        deadline = time.monotonic() + BOUND_S
        while len(got) < count and time.monotonic() < deadline:
            message = reader.poll(0.5)
            if message is not None and message.error() is None:
                got.append(message)
        return got
    finally:
        reader.close()


def test_rejected_and_worn_out_records_go_to_the_dead_letter_topic(cluster):
    topic = new_name("share-dlq")
    dead_letters = f"dlq.{topic}"
    create_topic(cluster, dead_letters, 1, {"errors.deadletterqueue.group.enable": "true"})
    group = share_group(cluster, topic, share_delivery_count_limit=2,
                        errors_deadletterqueue_topic_name=dead_letters,
                        errors_deadletterqueue_copy_record_enable="true")
    produce(cluster, topic, ["bad", "poison", "fine"])
    share = consumer(cluster, group, explicit=True)
    try:
        share.subscribe([topic])
        first = poll_until(share, lambda got: len(got) >= 3)
        kinds = {"bad": AcknowledgeType.REJECT, "poison": AcknowledgeType.RELEASE, "fine": AcknowledgeType.ACCEPT}
        for m in first:
            share.acknowledge(m, kinds[m.value().decode()])
        share.commit_sync()
        [again] = poll_until(share, lambda got: len(got) >= 1)
        assert (again.value(), again.delivery_count()) == (b"poison", 2)
        share.acknowledge(again, AcknowledgeType.RELEASE)  # the second delivery was the last
        share.commit_sync()
    finally:
        share.close()
    got = read_dead_letters(cluster, dead_letters, 2)
    offsets = {m.value().decode(): m.offset() for m in first}
    seen = {m.value(): {k: v.decode() for k, v in m.headers()} for m in got}
    assert set(seen) == {b"bad", b"poison"}, seen
    for value, count, message in ((b"bad", "1", "Offset rejected by client."),
                                  (b"poison", "2", "Offset delivery count limit reached.")):
        assert seen[value] == {"__dlq.errors.topic": topic, "__dlq.errors.partition": "0",
                               "__dlq.errors.offset": str(offsets[value.decode()]), "__dlq.errors.group": group,
                               "__dlq.errors.delivery.count": count, "__dlq.errors.message": message}



def test_a_worn_out_records_lock_running_out_writes_its_dead_letter_with_no_fetch_after_it(cluster):
    """A member takes the record at its last delivery and goes quiet (its session still
    open, nobody fetching the partition again): when the lock runs out the record is
    archived and its dead letter written then, as Kafka's lock timer does, not at some
    later fetch that may never come."""
    topic = new_name("share-dlq-quiet")
    dead_letters = f"dlq.{topic}"
    create_topic(cluster, dead_letters, 1, {"errors.deadletterqueue.group.enable": "true"})
    group = share_group(cluster, topic, share_delivery_count_limit=2, share_record_lock_duration_ms=LOCK_MS,
                        errors_deadletterqueue_topic_name=dead_letters,
                        errors_deadletterqueue_copy_record_enable="true")
    produce(cluster, topic, ["quiet"])
    tid, member = topic_id(cluster, topic), str(uuid.uuid4())
    with kafka_socket(cluster, leader_of(cluster, topic, 0)) as s:
        deadline = time.monotonic() + BOUND_S
        acquired: list = []
        epoch = 0
        while (not acquired or acquired[-1][1] < 2) and time.monotonic() < deadline:
            release = [(0, 0, 2)] if acquired else []  # the first delivery goes back (RELEASE)
            answer = share_fetch(s, group, member, epoch, tid, acks=release)
            assert code(answer.error_code) == 0, answer
            epoch += 1
            acquired += [(a.first_offset, a.delivery_count) for p in answer.responses[0].partitions
                         for a in p.acquired_records]
        assert acquired == [(0, 1), (0, 2)]
        got = read_dead_letters(cluster, dead_letters, 1)  # the session stays open meanwhile
    assert [(m.value(), {k: v.decode() for k, v in m.headers()}["__dlq.errors.message"]) for m in got] == \
        [(b"quiet", "Offset delivery count limit reached.")]


# -- the HTTP door: REST share consumers -------------------------------------------------------
def rest(c, method: str, path: str, body=None, node: int = 1):
    return call(method, f"{c.url(node)}{path}", body)


def test_a_rest_share_consumer_is_a_work_queue_with_redelivery(cluster):
    topic = new_name("share-rest")
    group = share_group(cluster, topic, partitions=2)
    produce(cluster, topic, ["j0", "j1", "j2", "j3"])
    status, made = rest(cluster, "POST", f"/share-consumers/{group}", {"name": "w1", "format": "binary"})
    assert status == 200, made
    base = f"/share-consumers/{group}/instances/w1"
    assert rest(cluster, "POST", base + "/subscription", {"topics": [topic]}, node=2)[0] == 204  # any node
    got: list = []
    deadline = time.monotonic() + BOUND_S
    while len(got) < 4 and time.monotonic() < deadline:
        status, records = rest(cluster, "GET", base + "/records?timeout=500", node=3)
        assert status == 200, records
        got += records
    import base64
    by_value = {base64.b64decode(r["value"]).decode(): r for r in got}
    assert sorted(by_value) == ["j0", "j1", "j2", "j3"] and {r["delivery_count"] for r in got} == {1}
    kinds = {"j0": "accept", "j1": "release", "j2": "reject", "j3": "accept"}
    acks = [{"topic": topic, "partition": r["partition"], "offset": r["offset"], "type": kinds[v]}
            for v, r in by_value.items()]
    assert rest(cluster, "POST", base + "/acknowledgements", {"records": acks})[0] == 204
    status, again = rest(cluster, "GET", base + "/records?timeout=5000")
    assert status == 200 and [(base64.b64decode(r["value"]), r["delivery_count"]) for r in again] == [(b"j1", 2)]
    # acknowledging a record the instance no longer holds is refused, and changes nothing
    accepted = [a for a in acks if a["type"] == "accept"][:1]  # j0 or j3: done, no longer held
    status, refused = rest(cluster, "POST", base + "/acknowledgements", {"records": accepted})
    assert status == 409 and refused["error_code"] == 40903, refused
    # DELETE gives back what it holds: another instance gets j1 at once, a third time
    assert rest(cluster, "DELETE", base)[0] == 204
    assert rest(cluster, "GET", base + "/records")[0] == 404
    assert rest(cluster, "POST", f"/share-consumers/{group}", {"name": "w2"})[0] == 200
    base2 = f"/share-consumers/{group}/instances/w2"
    assert rest(cluster, "POST", base2 + "/subscription", {"topics": [topic]})[0] == 204
    status, third = rest(cluster, "GET", base2 + "/records?timeout=5000")
    assert status == 200 and [(base64.b64decode(r["value"]), r["delivery_count"]) for r in third] == [(b"j1", 3)]
    assert rest(cluster, "DELETE", base2)[0] == 204


def test_rest_share_consumers_refuse_bad_input_with_api_codes(cluster):
    group = new_name("share-rest-bad")
    assert rest(cluster, "POST", f"/share-consumers/{group}", {"format": "avro"})[1]["error_code"] == 42206
    assert rest(cluster, "POST", f"/share-consumers/{group}", {"nme": "x"})[1]["error_code"] == 42206
    assert rest(cluster, "POST", f"/share-consumers/{group}", {"name": "w"})[0] == 200
    assert rest(cluster, "POST", f"/share-consumers/{group}", {"name": "w"})[0] == 409
    base = f"/share-consumers/{group}/instances/w"
    assert rest(cluster, "POST", base + "/subscription", {"topics": "x"})[1]["error_code"] == 42206
    for body in ({"records": []}, {"records": [{"topic": "t", "partition": "0", "offset": 1}]},
                 {"records": [{"topic": "t", "partition": 0, "offset": 1, "type": "maybe"}]}):
        status, answer = rest(cluster, "POST", base + "/acknowledgements", body)
        assert status == 422 and answer["error_code"] == 42206, (body, answer)
    assert rest(cluster, "GET", f"/share-consumers/{group}/instances/nobody/records")[1]["error_code"] == 40403
    assert rest(cluster, "DELETE", base)[0] == 204


def test_the_readme_rest_work_queue_runs_as_written(cluster):
    import json
    import re
    from pathlib import Path
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    [block] = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.S) if "/share-consumers/" in b]
    topic, group = new_name("tasks"), new_name("workers")
    for node in (1, 2, 3):
        block = block.replace(f"localhost:808{node}", cluster.url(node).removeprefix("http://"))
    block = block.replace("/topics/tasks", f"/topics/{topic}").replace('"tasks"', f'"{topic}"') \
        .replace("/share-consumers/workers", f"/share-consumers/{group}")
    script = block.replace("\ncurl ", "\necho; curl ")  # one answer a line
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    answers = [json.loads(line) for line in ran.stdout.splitlines() if line.strip()]
    first, again = answers[-2], answers[-1]  # the two polls (the release answers 204, no body)
    assert [(r["value"], r["offset"], r["delivery_count"]) for r in first] == [("resize-1", 0, 1)]
    assert sorted((r["value"], r["delivery_count"]) for r in again) == [("resize-1", 2), ("resize-2", 1)]


def test_share_groups_over_http_show_members_start_lag_and_records_in_flight(cluster):
    topic = new_name("share-view")
    dead_letters = f"dlq.{topic}"
    create_topic(cluster, dead_letters, 1, {"errors.deadletterqueue.group.enable": "true"})
    group = share_group(cluster, topic, errors_deadletterqueue_topic_name=dead_letters)
    produce(cluster, topic, [f"v{i}" for i in range(6)])
    share = consumer(cluster, group, explicit=True)
    try:
        share.subscribe([topic])
        got = poll_until(share, lambda got: len(got) >= 6)
        kinds = [AcknowledgeType.ACCEPT, AcknowledgeType.RELEASE, AcknowledgeType.REJECT, AcknowledgeType.ACCEPT,
                 AcknowledgeType.RELEASE, AcknowledgeType.ACCEPT]  # 0 done: start 1, the released one
        for m, kind in zip(sorted(got, key=lambda m: m.offset()), kinds):
            share.acknowledge(m, kind)
        share.commit_sync()
        status, listed = call("GET", f"{cluster.v3(2)}/share-groups")
        assert status == 200 and {g["share_group_id"]: g["members_count"] for g in listed["data"]}.get(group) == 1
        status, view = call("GET", f"{cluster.v3(3)}/share-groups/{group}")  # any node: forwarded
        assert status == 200, view
        assert [m["subscribed_topics"] for m in view["members"]] == [[topic]]
        assert view["dead_letter_topic"] == dead_letters
        [partition] = view["partitions"]
        assert (partition["start_offset"], partition["lag"]) == (1, 2)  # 1 and 4 not yet done
        shown = partition["in_flight"]  # the released two: available, or acquired again by a prefetch
        assert (shown["available"] + shown["acquired"], shown["acknowledged"], shown["archived"]) == (2, 2, 1), shown
        assert (partition["end_offset"], partition["high_watermark"], partition["not_yet_delivered"]) == (6, 6, 0)
    finally:
        share.close()
    assert call("GET", f"{cluster.v3(1)}/share-groups/{new_name('nobody')}")[0] == 404


# -- failover: what was acknowledged stays acknowledged (last: it restarts nodes, and leadership
# moves back to the preferred replicas after it, coordinators too) -----------------------------
def leader_seen(c, topic: str, partition: int, asked: int) -> int:
    status, body = call("GET", f"{c.url(asked)}/topics/{topic}/partitions/{partition}")
    return body["leader"] if status == 200 and body.get("leader") is not None else -1


def move_by_kill(c, node: int, topic: str, partition: int) -> None:
    """Kill -9 the node leading topic-partition and wait until another leads it; then start
    it again (it catches up as a follower)."""
    c.kill(node)
    other = next(n for n in sorted(c.hosts) if n != node)
    c.wait_until(lambda: leader_seen(c, topic, partition, other) not in (-1, node), BOUND_S,
                 f"a new leader of {topic}-{partition}")
    c.start_node(node)
    c.wait_ready([node], timeout_s=BOUND_S)


def accept_all(share: ShareConsumer, wanted: list[str]) -> list:
    """Poll until every wanted value came; accept everything received; the messages."""
    got = poll_until(share, lambda got: set(wanted) <= set(values(got)))
    for m in got:
        share.acknowledge(m, AcknowledgeType.ACCEPT)
    share.commit_sync()
    return got


def test_acknowledgements_survive_a_killed_partition_leader_and_a_killed_share_coordinator(cluster):
    from kraft.config.topic_names import SHARE_STATE_TOPIC
    from kraft.coordinator.placement import key_partition
    from kraft.share.share_state import state_key
    topic = new_name("share-failover")
    group = share_group(cluster, topic, share_record_lock_duration_ms=LOCK_MS)
    share = consumer(cluster, group, explicit=True)
    try:
        share.subscribe([topic])
        produce(cluster, topic, [f"a{i}" for i in range(10)])
        first = accept_all(share, [f"a{i}" for i in range(10)])
        assert {m.delivery_count() for m in first} == {1}
        # the state's coordinator: the leader of its __share_group_state partition
        status, body = call("GET", f"{cluster.url(1)}/topics/{SHARE_STATE_TOPIC}")
        assert status == 200, body
        count = len(body["partitions"])
        status, described = call("GET", f"{cluster.v3(1)}/topics/{topic}")
        assert status == 200, described
        state_partition = key_partition(state_key(group, described["topic_id"], 0), count)
        share_coordinator = leader_seen(cluster, SHARE_STATE_TOPIC, state_partition, 1)
        leader = leader_seen(cluster, topic, 0, 1)
        if share_coordinator != leader:  # its state moves to a new coordinator, read back from the log
            move_by_kill(cluster, share_coordinator, SHARE_STATE_TOPIC, state_partition)
        move_by_kill(cluster, leader_seen(cluster, topic, 0, 1), topic, 0)  # the new leader reads the state
        produce(cluster, topic, [f"b{i}" for i in range(5)])
        after = accept_all(share, [f"b{i}" for i in range(5)])
        assert sorted(values(after)) == [f"b{i}" for i in range(5)]  # no accepted record came back
        assert {m.delivery_count() for m in after} == {1}
    finally:
        share.close()
