"""KIP-392's rack-aware choice of a preferred read replica (Kafka's RackAwareReplicaSelector
over the candidates ReplicaManager.findPreferredReadReplica gives it)."""

from kraft.replication.read_replica import NO_PREFERENCE, ReplicaView, rack_aware_choice

RACKS = {1: "a", 2: "b", 3: "b", 4: "c"}


def choose(rack, followers, offset=10, leader=1):
    return rack_aware_choice(rack, leader, followers, offset, RACKS.get)


def test_a_consumer_in_a_followers_rack_is_sent_to_it():
    assert choose("c", [ReplicaView(4, 0, 20, 0)]) == 4


def test_no_rack_the_leaders_rack_or_an_empty_rack_stay_on_the_leader():
    followers = [ReplicaView(2, 0, 20, 0), ReplicaView(4, 0, 20, 0)]
    assert choose(None, followers) == NO_PREFERENCE
    assert choose("a", followers) == NO_PREFERENCE
    assert choose("z", followers) == NO_PREFERENCE


def test_a_follower_without_the_fetch_offset_is_not_chosen():
    assert choose("c", [ReplicaView(4, 0, 9, 0)]) == NO_PREFERENCE  # its log ends below the offset
    assert choose("c", [ReplicaView(4, 11, 20, 0)]) == NO_PREFERENCE  # its log starts above it
    assert choose("c", [ReplicaView(4, -1, -1, 0)]) == NO_PREFERENCE  # it has not fetched yet


def test_among_several_the_most_caught_up_then_the_most_recent_then_the_lowest_id():
    assert choose("b", [ReplicaView(2, 0, 15, 0), ReplicaView(3, 0, 20, 500)]) == 3
    assert choose("b", [ReplicaView(2, 0, 20, 900), ReplicaView(3, 0, 20, 100)]) == 3
    assert choose("b", [ReplicaView(3, 0, 20, 0), ReplicaView(2, 0, 20, 0)]) == 2
