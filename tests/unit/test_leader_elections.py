"""ElectLeaders' rules (kraft/controller/election.py): preferred and unclean elections per
partition, and the answers Kafka gives where nothing can or need be done."""

from __future__ import annotations

from test_controller_logic import DEFAULTS, Cluster

from kraft.controller import broker_control as bc
from kraft.controller.election import PREFERRED, UNCLEAN, elect_leaders
from kraft.metadata.image import NO_LEADER
from kraft.metadata.records import PartitionChange


def errors(response) -> dict:
    return {(r["topic"], r["partition"]): r["error"] for r in response["results"]}


def led_by_second_replica(c: Cluster, name: str = "t") -> tuple[int, ...]:
    """Leadership of t-0 moved off its preferred replica, which stays in sync."""
    p = c.part(name)
    c.run_records([PartitionChange(topic_id=f"id-{name}", partition=0, expected_partition_epoch=p.partition_epoch,
                                   leader=p.replicas[1])])
    return p.replicas


def test_preferred_election_gives_the_partition_back_to_its_first_replica():
    c = Cluster()
    c.create("t", partitions=2)
    replicas = led_by_second_replica(c)
    records, response = elect_leaders(c.image, DEFAULTS, PREFERRED, [("t", 0), ("t", 1)])
    assert errors(response) == {("t", 0): None, ("t", 1): "ElectionNotNeeded"}
    c.run_records(records)
    assert c.part("t").leader == replicas[0] and c.part("t").unclean_elections == 0


def test_a_preferred_replica_out_of_sync_or_down_is_not_available():
    c = Cluster()
    c.create("t", partitions=1)
    preferred = c.part("t").replicas[0]
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [preferred]))
    assert c.part("t").leader != preferred and preferred not in c.part("t").isr
    records, response = elect_leaders(c.image, DEFAULTS, PREFERRED, [("t", 0)])
    assert records == [] and errors(response) == {("t", 0): "PreferredLeaderNotAvailable"}


def test_unknown_topics_and_partitions_are_named_as_such():
    c = Cluster()
    c.create("t", partitions=1)
    _, response = elect_leaders(c.image, DEFAULTS, UNCLEAN, [("nope", 0), ("t", 7)])
    assert errors(response) == {("nope", 0): "TopicNotFound", ("t", 7): "PartitionNotFound"}


def test_asking_about_every_partition_tells_only_what_was_done():
    c = Cluster()
    c.create("t", partitions=3)
    c.create("u", partitions=2)
    led_by_second_replica(c)
    records, response = elect_leaders(c.image, DEFAULTS, PREFERRED, None)
    assert len(records) == 1 and errors(response) == {("t", 0): None}


def test_unclean_election_elects_a_live_replica_outside_the_isr_and_records_it():
    c = Cluster()
    c.create("t", partitions=1, rf=2, configs={"min.insync.replicas": 1})
    leader, follower = c.part("t").replicas
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [follower]))  # out of sync
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [leader]))  # the data's only holder goes
    c.register(follower, incarnation="b")
    c.heartbeat(follower, now=10)
    assert c.part("t").leader == NO_LEADER  # unclean.leader.election.enable is off
    _, not_clean = elect_leaders(c.image, DEFAULTS, PREFERRED, [("t", 0)])
    assert errors(not_clean) == {("t", 0): "PreferredLeaderNotAvailable"}
    records, response = elect_leaders(c.image, DEFAULTS, UNCLEAN, [("t", 0)])
    assert errors(response) == {("t", 0): None}
    c.run_records(records)
    p = c.part("t")
    assert p.leader == follower and p.isr == (follower,) and p.unclean_elections == 1
    _, again = elect_leaders(c.image, DEFAULTS, UNCLEAN, [("t", 0)])
    assert errors(again) == {("t", 0): "ElectionNotNeeded"}  # it has a leader now


def test_unclean_election_with_no_live_replica_finds_nobody():
    c = Cluster()
    c.create("t", partitions=1, rf=1)
    (only,) = c.part("t").replicas
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [only]))
    records, response = elect_leaders(c.image, DEFAULTS, UNCLEAN, [("t", 0)])
    assert records == [] and errors(response) == {("t", 0): "EligibleLeadersNotAvailable"}
