"""The controller's pure commands: image + request -> records + response."""

from __future__ import annotations

from collections import Counter

import pytest

from kraft.controller import broker_control as bc
from kraft.controller.config_control import alter_cluster_configs, alter_topic_configs
from kraft.metadata.effective_configs import topic_config
from kraft.controller.partition_change import build_partition_change
from kraft.controller.placement import place_replicas
from kraft.controller.preferred_leader import preferred_leader_changes
from kraft.controller.topic_control import (
    CreateTopic,
    create_partitions,
    create_topic,
    delete_topic,
)
from kraft.config.topic_names import validate_topic_name
from kraft.errors import InvalidValue, StaleBrokerEpoch, TopicAlreadyExists, TopicNotFound
from kraft.metadata.image import NO_LEADER
from kraft.metadata.records import (
    BecomeController,
    MetadataBatch,
    PartitionChange,
    RegisterBroker,
    encode_batch,
)
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.config.topic_configs import DEFAULT_TOPIC_CONFIGS

DEFAULTS = {**DEFAULT_TOPIC_CONFIGS, "num.partitions": "3", "replication.factor": "3"}


class Cluster:
    """A state machine plus helpers: run a command, apply its records."""

    def __init__(self, brokers=(1, 2, 3)):
        self.sm = MetadataStateMachine()
        self.run_records([BecomeController(controller_id=1, controller_epoch=1)])
        self.hb = bc.BrokerHeartbeats(session_timeout_ms=3000)
        for b in brokers:
            self.register(b)
            self.heartbeat(b, now=0)

    @property
    def image(self):
        return self.sm.image

    def run_records(self, records):
        if records:
            result = self.sm.apply(encode_batch(MetadataBatch(controller_epoch=1, records=tuple(records))))
            assert result.ok, result.error

    def run(self, outcome):
        records, response = outcome
        self.run_records(records)
        return response

    def register(self, b, incarnation="a", clean_shutdown=True):
        req = RegisterBroker(broker_id=b, incarnation_id=f"{incarnation}{b}", host="h", http_port=1,
                             clean_shutdown=clean_shutdown)
        return self.run(bc.register_broker(self.image, req, DEFAULTS))

    def heartbeat(self, b, now, offset=None):
        epoch = self.image.brokers[b].broker_epoch
        offset = self.image.offset if offset is None else offset
        return self.run(bc.heartbeat(self.image, self.hb, b, epoch, offset, now, DEFAULTS))

    def create(self, name, partitions=3, rf=3, configs=None):
        req = CreateTopic(name, partitions, rf, configs or {})
        return self.run(create_topic(self.image, req, DEFAULTS, topic_id=f"id-{name}"))

    def part(self, name, index=0):
        return self.image.topic(name).partitions[index]


def test_brokers_unfence_only_after_catching_up_with_their_registration():
    c = Cluster(brokers=())
    epoch = c.register(5)["broker_epoch"]
    assert c.image.brokers[5].broker_epoch == epoch and c.image.brokers[5].fenced
    assert c.heartbeat(5, now=0, offset=epoch - 1)["fenced"] is True
    assert c.image.brokers[5].fenced
    assert c.heartbeat(5, now=0, offset=epoch)["fenced"] is False
    assert not c.image.brokers[5].fenced


def test_retried_registration_keeps_the_epoch_a_new_incarnation_gets_a_new_one():
    c = Cluster()
    epoch = c.image.brokers[2].broker_epoch
    assert c.register(2)["broker_epoch"] == epoch
    new = c.register(2, incarnation="b")["broker_epoch"]
    assert new > epoch and c.image.brokers[2].fenced
    with pytest.raises(StaleBrokerEpoch):
        bc.heartbeat(c.image, c.hb, 2, epoch, c.image.offset, 0, DEFAULTS)


def test_restarted_broker_loses_its_leaderships_on_reregistration():
    c = Cluster()
    c.create("t", partitions=3)
    led = [i for i in range(3) if c.part("t", i).leader == 2]
    assert led
    c.register(2, incarnation="b")
    for i in led:
        assert c.part("t", i).leader not in (2, NO_LEADER) and 2 not in c.part("t", i).isr


def test_expired_session_fences_and_moves_leadership_to_an_isr_member():
    c = Cluster()
    c.create("t", partitions=6)
    c.heartbeat(1, now=2000)
    c.heartbeat(2, now=2000)
    assert bc.fence_expired(c.image, c.hb, 2999, DEFAULTS) == []
    c.run_records(bc.fence_expired(c.image, c.hb, 3001, DEFAULTS))
    assert c.image.brokers[3].fenced
    for i in range(6):
        p = c.part("t", i)
        assert p.leader in (1, 2) and 3 not in p.isr and p.leader in p.isr


MIN_ISR_1 = {"min.insync.replicas": 1}


def test_with_min_isr_1_a_replica_that_left_the_isr_is_stale_and_the_partition_waits():
    c = Cluster()
    c.create("t", partitions=1, rf=2, configs=MIN_ISR_1)
    p = c.part("t")
    leader, follower = p.replicas
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [follower]))
    p = c.part("t")
    assert p.isr == (leader,) and p.elr == ()  # the ISR still meets min ISR: the HW moves on
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [leader]))
    p = c.part("t")
    assert p.leader == NO_LEADER and p.isr == () and p.elr == (leader,)  # who has the data
    # the out-of-sync replica comes back: unclean off -> still offline
    c.register(follower, incarnation="b")
    c.heartbeat(follower, now=10)
    assert not c.image.brokers[follower].fenced
    assert c.part("t").leader == NO_LEADER


def test_replicas_leaving_an_isr_below_min_isr_are_eligible_and_lead_when_it_empties():
    c = Cluster()
    c.create("t", partitions=1, rf=3)  # min ISR 2
    leader, f1, f2 = c.part("t").replicas
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [f1]))
    assert c.part("t").isr == (leader, f2) and c.part("t").elr == ()  # still at min ISR
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [f2]))
    assert c.part("t").isr == (leader,) and c.part("t").elr == (f2,)  # the HW stops here
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [leader]))
    p = c.part("t")
    assert p.leader == NO_LEADER and p.isr == () and set(p.elr) == {leader, f2}
    c.register(f1, incarnation="b")  # stale: it left while the ISR still met min ISR
    c.heartbeat(f1, now=10)
    assert c.part("t").leader == NO_LEADER
    c.register(f2, incarnation="b")  # eligible: a clean election
    c.heartbeat(f2, now=10)
    p = c.part("t")
    assert p.leader == f2 and p.isr == (f2,) and p.elr == (leader,) and p.unclean_elections == 0


def test_a_broker_back_from_an_unclean_shutdown_leaves_the_isr_and_elr_and_cannot_lead():
    c = Cluster()
    c.create("t", partitions=1, rf=3)
    leader, f1, f2 = c.part("t").replicas
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [f1, f2]))
    assert c.part("t").isr == (leader,) and set(c.part("t").elr) == {f1, f2}
    c.register(leader, incarnation="b", clean_shutdown=False)  # its power was cut
    p = c.part("t")
    assert p.leader == NO_LEADER and p.isr == () and set(p.elr) == {f1, f2}
    c.heartbeat(leader, now=10)
    assert c.part("t").leader == NO_LEADER  # what it lost, the ELR members still hold
    c.register(f1, incarnation="b")
    c.heartbeat(f1, now=10)
    p = c.part("t")
    assert p.leader == f1 and p.isr == (f1,) and p.elr == (f2,)


def test_when_every_eligible_replica_lost_data_the_last_known_one_leads_recorded_as_unclean():
    c = Cluster()
    c.create("t", partitions=1, rf=2)
    leader, follower = c.part("t").replicas
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [follower, leader]))
    assert c.part("t").isr == () and set(c.part("t").elr) == {leader, follower}
    c.register(leader, incarnation="b", clean_shutdown=False)
    assert c.part("t").elr == (follower,) and c.part("t").last_known_elr == ()
    c.register(follower, incarnation="b", clean_shutdown=False)
    p = c.part("t")  # nobody is proven to hold every committed record any more
    assert p.elr == () and p.last_known_elr == (follower,) and p.leader == NO_LEADER
    c.heartbeat(leader, now=10)
    assert c.part("t").leader == NO_LEADER  # not a last known member: it keeps waiting
    c.heartbeat(follower, now=10)
    p = c.part("t")  # Kafka's last known leader: it may have lost records, and that is on record
    assert p.leader == follower and p.isr == (follower,) and p.last_known_elr == ()
    assert p.unclean_elections == 1 and c.image.unclean_elections[-1].leader == follower


def test_a_second_unclean_shutdown_of_the_sole_holder_is_an_unclean_election():
    """The shape of a chaos run that lost writes: two followers lose their unsynced tails
    and fall out, then the last ISR member is killed (kept eligible), comes back and leads,
    and then loses power too before either follower caught up."""
    c = Cluster()
    c.create("t", partitions=1, rf=3)  # min ISR 2
    a, b, holder = c.part("t").replicas
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [a]))
    c.register(a, incarnation="b", clean_shutdown=False)
    c.heartbeat(a, now=10)
    c.register(b, incarnation="b", clean_shutdown=False)  # b led: holder takes over
    c.heartbeat(b, now=10)
    assert c.part("t").isr == (holder,) and c.part("t").elr == ()
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [holder]))  # killed: page cache intact
    assert c.part("t").elr == (holder,)
    c.register(holder, incarnation="b")
    c.heartbeat(holder, now=20)
    assert c.part("t").leader == holder and c.part("t").unclean_elections == 0
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [holder]))  # then its power is cut
    c.register(holder, incarnation="c", clean_shutdown=False)
    p = c.part("t")
    assert p.isr == () and p.elr == () and p.last_known_elr == (holder,)
    c.heartbeat(holder, now=30)
    p = c.part("t")
    assert p.leader == holder and p.unclean_elections == 1


def test_a_snapshot_keeps_the_last_known_elr():
    from kraft.metadata.image_codec import image_from_dict, image_to_dict
    c = Cluster()
    c.create("t", partitions=1, rf=2)
    c.create("u", partitions=1, rf=2)
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [1, 2, 3]))
    for b in (1, 2, 3):
        c.register(b, incarnation="b", clean_shutdown=False)
    assert c.part("t").last_known_elr and c.part("t").elr == ()
    assert image_from_dict(image_to_dict(c.image)) == c.image


def test_a_snapshot_keeps_the_elr():
    from kraft.metadata.image_codec import image_from_dict, image_to_dict
    c = Cluster()
    c.create("t", partitions=2, rf=3)
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [2, 3]))
    assert any(c.part("t", i).elr for i in range(2))
    assert image_from_dict(image_to_dict(c.image)) == c.image


def test_a_restart_within_the_session_after_a_clean_shutdown_keeps_the_broker_eligible():
    c = Cluster()
    c.create("t", partitions=1, rf=2)
    leader, follower = c.part("t").replicas
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [follower]))
    c.register(leader, incarnation="b")  # killed and restarted, page cache intact
    p = c.part("t")
    assert p.leader == NO_LEADER and set(p.elr) == {leader, follower}
    c.heartbeat(leader, now=10)
    assert c.part("t").leader == leader and c.part("t").isr == (leader,)


def test_an_isr_growing_back_to_min_isr_empties_the_elr():
    from kraft.controller.partition_control import alter_partition
    c = Cluster()
    c.create("t", partitions=1, rf=3)
    leader, f1, f2 = c.part("t").replicas
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [f1, f2]))
    c.register(f1, incarnation="b")
    c.heartbeat(f1, now=10)
    p = c.part("t")
    assert p.isr == (leader,) and set(p.elr) == {f1, f2}
    epoch = c.image.brokers[leader].broker_epoch
    c.run(alter_partition(c.image, DEFAULTS, "id-t", 0, leader, epoch, p.leader_epoch,
                          p.partition_epoch, (leader, f1)))
    p = c.part("t")
    assert p.isr == (leader, f1) and p.elr == ()  # the HW moves again: f2 falls behind


def test_lowering_min_isr_to_what_the_isr_has_empties_the_elr_in_the_same_batch():
    c = Cluster()
    c.create("t", partitions=1, rf=3)
    c.create("u", partitions=1, rf=3)
    leader = c.part("t").leader
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [b for b in (1, 2, 3) if b != leader]))
    assert c.part("t").elr != () and c.part("u").elr != ()
    c.run(alter_topic_configs(c.image, DEFAULTS, "t", {"min.insync.replicas": 1}))
    assert c.part("t").elr == () and c.part("u").elr != ()
    c.run(alter_cluster_configs(c.image, DEFAULTS, {"min.insync.replicas": 1}))
    assert c.part("u").elr == ()


def test_unclean_toggle_elects_a_stale_replica_live_and_records_it():
    c = Cluster()
    c.create("t", partitions=1, rf=2, configs=MIN_ISR_1)
    leader, follower = c.part("t").replicas
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [follower]))
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [leader]))
    c.register(follower, incarnation="b")
    c.heartbeat(follower, now=10)
    assert c.part("t").leader == NO_LEADER  # unclean off: wait for the ISR member
    c.run(alter_topic_configs(c.image, DEFAULTS, "t", {"unclean.leader.election.enable": "true"}))
    p = c.part("t")
    assert p.leader == follower and p.isr == (follower,) and p.unclean_elections == 1
    assert c.image.unclean_elections[-1].leader == follower
    assert topic_config(c.image, DEFAULTS, "t", "unclean.leader.election.enable") is True


def test_a_cluster_wide_unclean_toggle_elects_where_no_topic_value_forbids_it():
    c = Cluster()
    c.create("t", partitions=1, rf=3, configs=MIN_ISR_1)
    c.create("kept", partitions=1, rf=3, configs={**MIN_ISR_1, "unclean.leader.election.enable": False})
    for b in (1, 2, 3):  # every partition ends offline with broker 3 as its last ISR member
        c.run_records(bc.fence_brokers(c.image, DEFAULTS, [b]))
    for b in (1, 2):  # back, but stale
        c.register(b, incarnation="b")
        c.heartbeat(b, now=10)
    assert c.part("t").leader == NO_LEADER and c.part("kept").leader == NO_LEADER
    c.run(alter_cluster_configs(c.image, DEFAULTS, {"unclean.leader.election.enable": "true"}))
    assert topic_config(c.image, DEFAULTS, "t", "unclean.leader.election.enable") is True
    assert topic_config(c.image, DEFAULTS, "kept", "unclean.leader.election.enable") is False
    assert c.part("t").leader in (1, 2) and c.part("t").unclean_elections == 1
    assert c.part("kept").leader == NO_LEADER and c.part("kept").unclean_elections == 0
    with pytest.raises(InvalidValue, match="log.retention.ms"):
        alter_cluster_configs(c.image, DEFAULTS, {"retention.ms": "1"})
    with pytest.raises(InvalidValue, match="message.max.bytes"):
        alter_cluster_configs(c.image, DEFAULTS, {"message.max.bytes": "-5"})


def test_unclean_enabled_topic_elects_returning_stale_replica_at_unfence():
    c = Cluster()
    c.create("t", partitions=1, rf=2, configs={**MIN_ISR_1, "unclean.leader.election.enable": True})
    leader, follower = c.part("t").replicas
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [follower]))
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [leader]))
    c.register(follower, incarnation="b")
    c.heartbeat(follower, now=10)
    assert c.part("t").leader == follower and c.part("t").unclean_elections == 1


def test_controlled_shutdown_moves_leadership_before_exit():
    c = Cluster()
    c.create("t", partitions=6)
    epoch = c.image.brokers[1].broker_epoch
    response = c.run(bc.controlled_shutdown(c.image, DEFAULTS, 1, epoch))
    assert response["moved"] > 0
    assert c.image.brokers[1].in_controlled_shutdown and c.image.brokers[1].fenced
    assert all(c.part("t", i).leader in (2, 3) for i in range(6))


def test_preferred_leader_returns_after_the_broker_is_back_in_isr():
    c = Cluster()
    c.create("t", partitions=3)
    p0 = c.part("t")
    preferred = p0.replicas[0]
    c.run_records([build_partition_change(c.image, "id-t", 0, p0, unclean_allowed=False, min_isr=2,
                                          unusable=frozenset({preferred}))][:1])
    assert c.part("t").leader != preferred
    # still not in the ISR: nothing to do
    assert preferred_leader_changes(c.image, DEFAULTS) == []
    p = c.part("t")
    c.run_records([PartitionChange(topic_id="id-t", partition=0,
                                   expected_partition_epoch=p.partition_epoch,
                                   isr=tuple(sorted(set(p.isr) | {preferred})))])
    c.run_records(preferred_leader_changes(c.image, DEFAULTS))
    assert c.part("t").leader == preferred


def test_placement_spreads_leaders_and_replicas_evenly():
    c = Cluster(brokers=(1, 2, 3, 4))
    c.create("a", partitions=8, rf=3)
    parts = c.image.topic("a").partitions
    assert Counter(p.leader for p in parts) == {1: 2, 2: 2, 3: 2, 4: 2}
    assert Counter(b for p in parts for b in p.replicas) == {1: 6, 2: 6, 3: 6, 4: 6}
    assert all(len(set(p.replicas)) == 3 for p in parts)
    # single-partition topics still spread their leaders across brokers
    for i in range(8):
        c.create(f"s{i}", partitions=1, rf=1)
    leaders = Counter(c.part(f"s{i}").leader for i in range(8))
    assert max(leaders.values()) - min(leaders.values()) <= 1


def test_placement_refuses_rf_over_live_brokers():
    c = Cluster()
    with pytest.raises(ValueError, match="larger than the 3 available brokers"):
        place_replicas(c.image, 1, 4)
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [3]))
    with pytest.raises(InvalidValue, match="2 available"):
        c.create("t", rf=3)


@pytest.mark.parametrize("name", ["", ".", "..", "a" * 250, "a/b", "ä", "with space", None, 5])
def test_illegal_topic_names(name):
    with pytest.raises(InvalidValue):
        validate_topic_name(name)


@pytest.mark.parametrize("name", ["__consumer_offsets", "__transaction_state"])
def test_only_the_cluster_creates_deletes_or_grows_an_internal_topic(name):
    c = Cluster()
    with pytest.raises(InvalidValue, match="internal topic"):
        create_topic(c.image, CreateTopic(name, 1, 1), DEFAULTS, topic_id="id-x")
    assert c.image.topic(name) is None
    c.run(create_topic(c.image, CreateTopic(name, 2, 3, by_cluster=True), DEFAULTS, topic_id="id-x"))
    assert len(c.part(name).replicas) == 3
    with pytest.raises(InvalidValue, match="internal topic"):
        delete_topic(c.image, name)
    with pytest.raises(InvalidValue, match="internal topic"):
        create_partitions(c.image, name, 4)


def test_legal_topic_names():
    for name in ["a", "a" * 249, "A.b_c-9", "..."]:
        assert validate_topic_name(name) == name


def test_create_topic_errors():
    c = Cluster()
    c.create("a.b")
    with pytest.raises(TopicAlreadyExists):
        c.create("a.b")
    with pytest.raises(InvalidValue, match="collides"):
        c.create("a_b")
    for bad in (0, -5, 10_001, "3", 2.5, True):  # -1 means "the default", as in Kafka
        with pytest.raises(InvalidValue):
            c.create("x", partitions=bad)
    with pytest.raises(InvalidValue):
        c.create("x", configs={"min.insync.replicas": "x"})
    with pytest.raises(InvalidValue):
        c.create("x", configs={"num.partitions": 3})
    with pytest.raises(InvalidValue):
        c.create("x", configs={"no.such.config": 1})
    assert c.image.topic("x") is None


def test_create_partitions_grows_with_the_topics_replication_factor_and_never_shrinks():
    c = Cluster()
    c.create("g", partitions=2, rf=2)
    response = c.run(create_partitions(c.image, "g", 5))
    assert response == {"topic_name": "g", "partitions_count": 5, "replication_factor": 2}
    parts = c.image.topic("g").partitions
    assert len(parts) == 5 and all(len(p.replicas) == 2 and p.leader == p.replicas[0] for p in parts)
    assert len({p.leader for p in parts[2:]}) > 1  # the new leaders are spread
    for bad in (4, 5, "6", True, None, 5 + 10_001):
        with pytest.raises(InvalidValue):
            create_partitions(c.image, "g", bad)
    with pytest.raises(TopicNotFound):
        create_partitions(c.image, "nope", 9)
    assert len(c.image.topic("g").partitions) == 5


def test_defaults_apply_when_counts_are_absent():
    c = Cluster()
    response = c.run(create_topic(c.image, CreateTopic("d"), DEFAULTS, "id-d"))
    assert response["partitions_count"] == 3 and response["replication_factor"] == 3


def test_delete_and_alter_unknown_topic():
    c = Cluster()
    with pytest.raises(TopicNotFound):
        delete_topic(c.image, "nope")
    with pytest.raises(TopicNotFound):
        alter_topic_configs(c.image, DEFAULTS, "nope", {"retention.ms": 1})
    c.create("t")
    with pytest.raises(InvalidValue):
        alter_topic_configs(c.image, DEFAULTS, "t", {"retention.ms": "soon"})
    c.run(alter_topic_configs(c.image, DEFAULTS, "t", {"retention.ms": 1000}))
    assert topic_config(c.image, DEFAULTS, "t", "retention.ms") == 1000
    c.run(alter_topic_configs(c.image, DEFAULTS, "t", {"retention.ms": None}))
    assert topic_config(c.image, DEFAULTS, "t", "retention.ms") == int(DEFAULTS["retention.ms"])


def test_failed_log_dir_leaves_isrs_and_leadership_and_rejoins_when_it_says_so():
    from kraft.controller.partition_control import alter_partition
    from kraft.errors import IneligibleReplica
    c = Cluster()
    c.create("t", partitions=3)
    led = [i for i in range(3) if c.part("t", i).leader == 2]
    assert led
    epoch = c.image.brokers[2].broker_epoch
    c.run(bc.heartbeat(c.image, c.hb, 2, epoch, c.image.offset, 10, DEFAULTS, log_dir_failed=True))
    assert c.image.brokers[2].log_dir_failed and not c.image.is_usable(2)
    assert not c.image.brokers[2].fenced  # it still heartbeats: only its data dir is out
    for i in range(3):
        assert 2 not in c.part("t", i).isr and c.part("t", i).leader not in (2, NO_LEADER)
    # a leader cannot take it back into an ISR while the failure stands
    part = c.part("t", 0)
    with pytest.raises(IneligibleReplica):
        alter_partition(c.image, DEFAULTS, c.image.topic("t").topic_id, 0, part.leader,
                        c.image.brokers[part.leader].broker_epoch, part.leader_epoch,
                        part.partition_epoch, part.isr + (2,))
    # the same report again changes nothing
    assert bc.heartbeat(c.image, c.hb, 2, epoch, c.image.offset, 20, DEFAULTS, log_dir_failed=True)[0] == []
    c.run(bc.heartbeat(c.image, c.hb, 2, epoch, c.image.offset, 30, DEFAULTS, log_dir_failed=False))
    assert not c.image.brokers[2].log_dir_failed and c.image.is_usable(2)
    part = c.part("t", 0)
    records, _ = alter_partition(c.image, DEFAULTS, c.image.topic("t").topic_id, 0, part.leader,
                                 c.image.brokers[part.leader].broker_epoch, part.leader_epoch,
                                 part.partition_epoch, part.isr + (2,))
    assert records  # rejoining by catching up is allowed again


def test_sole_isr_member_with_failed_log_dir_goes_offline_and_returns_as_leader():
    c = Cluster()
    c.create("solo", partitions=1, rf=1)
    owner = c.part("solo").leader
    epoch = c.image.brokers[owner].broker_epoch
    c.run(bc.heartbeat(c.image, c.hb, owner, epoch, c.image.offset, 10, DEFAULTS, log_dir_failed=True))
    assert c.part("solo").leader == NO_LEADER and c.part("solo").elr == (owner,)
    c.run(bc.heartbeat(c.image, c.hb, owner, epoch, c.image.offset, 20, DEFAULTS, log_dir_failed=False))
    assert c.part("solo").leader == owner
