"""The share coordinator on the runtime's writes: a share-partition's state written and
read for a new leader in arrival order (the old leader's acknowledgement in flight lands
before the new leader's read, or is fenced after it), stored once committed, and a load
of the log giving the same states."""

from __future__ import annotations

import asyncio

import pytest
from coordinator_logs import LocalLogs

from kraft.config.cluster_tables import GroupSettings
from kraft.config.topic_names import SHARE_STATE_TOPIC
from kraft.coordinator.placement import key_partition
from kraft.errors import FencedLeaderEpoch, NotEnoughReplicas
from kraft.metadata.image import BrokerRegistration, MetadataImage, PartitionRegistration, TopicImage
from kraft.share.share_coordinator import ShareCoordinator
from kraft.share.share_state import ShareSnapshot, load, state_key

NODE, PARTITIONS = 1, 3
KEY = state_key("g", "topic-id", 0)


class Cluster(LocalLogs):
    """This node leading every __share_group_state partition (coordinator_logs.LocalLogs:
    `hold` keeps the acks=all wait back, `before_append` fails an append before it
    reaches the log)."""

    def __init__(self, tmp_path):
        super().__init__(tmp_path, SHARE_STATE_TOPIC, PARTITIONS)

    def image(self) -> MetadataImage:
        broker = BrokerRegistration(NODE, 1, "inc", "127.0.0.1", 1, ("broker",), fenced=False)
        topic = TopicImage(SHARE_STATE_TOPIC, "id-state", tuple(
            PartitionRegistration((NODE,), (NODE,), NODE, 1) for _ in range(PARTITIONS)))
        return MetadataImage(offset=1, brokers={NODE: broker}, topics={"id-state": topic},
                             topic_ids={SHARE_STATE_TOPIC: "id-state"})


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    yield c
    c.close()


def coordinator(cluster: Cluster) -> ShareCoordinator:
    settings = GroupSettings(share_state_topic_partitions=PARTITIONS)
    coord = ShareCoordinator(NODE, settings, cluster.image, cluster, cluster.controller_call, cluster.wait_metadata,
                             cluster.append_local)
    coord.runtime.follow_leadership()
    return coord


def loaded_states(cluster: Cluster) -> dict:
    p = key_partition(KEY, PARTITIONS)
    return load(cluster.replicas[p], 1).states


async def test_the_old_leaders_write_in_flight_lands_before_the_new_leaders_read(cluster):
    coord = coordinator(cluster)
    await coord.write(KEY, ShareSnapshot(1, 10))
    cluster.hold = asyncio.Event()
    old = asyncio.create_task(coord.write(KEY, ShareSnapshot(1, 20)))  # an acknowledgement still in flight
    taking_over = asyncio.create_task(coord.read_for_leader(KEY, 2))
    late = asyncio.create_task(coord.write(KEY, ShareSnapshot(1, 30)))  # the old leader, once more
    with pytest.raises(FencedLeaderEpoch):
        await late
    cluster.hold.set()
    await old
    assert await taking_over == ShareSnapshot(2, 20)  # saw the old write, then stored its own epoch
    assert coord.read(KEY) == ShareSnapshot(2, 20) == loaded_states(cluster)[KEY]


async def test_a_read_with_nothing_to_store_answers_once_the_write_before_it_is_committed(cluster):
    coord = coordinator(cluster)
    cluster.hold = asyncio.Event()
    writing = asyncio.create_task(coord.write(KEY, ShareSnapshot(3, 5)))
    reading = asyncio.create_task(coord.read_for_leader(KEY, 3))
    await asyncio.sleep(0.01)
    assert not reading.done()
    cluster.hold.set()
    await writing
    assert await reading == ShareSnapshot(3, 5)


async def test_a_failed_append_leaves_the_state_as_the_log_says_and_deletes_are_written_too(cluster):
    coord = coordinator(cluster)
    await coord.write(KEY, ShareSnapshot(1, 10))
    cluster.before_append = NotEnoughReplicas("NOT_ENOUGH_REPLICAS: too few in sync")
    with pytest.raises(NotEnoughReplicas):
        await coord.write(KEY, ShareSnapshot(1, 99))
    assert coord.read(KEY) == ShareSnapshot(1, 10) == loaded_states(cluster)[KEY]
    cluster.before_append = None
    await coord.write(KEY, None)  # DeleteShareGroupState
    assert coord.read(KEY) is None and KEY not in loaded_states(cluster)
