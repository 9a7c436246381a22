"""The table coordinator (kraft/broker/table_coordinator.py): the first Iceberg topic makes
__iceberg_coordinator through the controller; a node commits exactly the tables whose
partition of it (by the topic's name, Kafka's hash) it leads, and hears when that changes;
the node a reader is told commits a table is that partition's leader."""

from __future__ import annotations

import dataclasses

from coordinator_logs import LocalLogs

from kraft.broker.iceberg_tables import iceberg_topics
from kraft.broker.table_coordinator import TableCoordinator, stand_in, table_coordinator
from kraft.config.cluster_tables import IcebergSettings
from kraft.config.topic_names import ICEBERG_COORDINATOR_TOPIC
from kraft.coordinator.placement import key_partition
from kraft.metadata.image import BrokerRegistration, MetadataImage, PartitionRegistration, TopicImage

NODE, OTHER, PARTITIONS = 1, 2, 4
TOPICS = [f"events-{i}" for i in range(12)]  # their names hash to every partition of 4
ICEBERG = {"iceberg.mode": "key_value"}


class Cluster(LocalLogs):
    """Two brokers; this node holds every __iceberg_coordinator partition's log, leading
    those `leaders` says (the other broker leads the rest)."""

    def __init__(self, tmp_path):
        super().__init__(tmp_path, ICEBERG_COORDINATOR_TOPIC, PARTITIONS)
        self.exists = True
        self.configs: dict[str, dict[str, str]] = {t: ICEBERG for t in TOPICS}
        self.created: list[dict] = []
        self.offset = 1

    def lead(self, partitions: set[int], epoch: int = 1) -> None:
        for p, replica in self.replicas.items():
            replica.is_leader = p in partitions
            replica.leader_epoch = epoch
        self.offset += 1

    def image(self) -> MetadataImage:
        brokers = {n: BrokerRegistration(n, 1, f"inc-{n}", "127.0.0.1", n, ("broker",), fenced=False)
                   for n in (NODE, OTHER)}
        topics, ids = {}, {}
        if self.exists:
            parts = tuple(PartitionRegistration((NODE, OTHER), (NODE, OTHER),
                                                NODE if r.is_leader else OTHER, r.leader_epoch)
                          for _, r in sorted(self.replicas.items()))
            topics, ids = {"id-coord": TopicImage(ICEBERG_COORDINATOR_TOPIC, "id-coord", parts)}, \
                {ICEBERG_COORDINATOR_TOPIC: "id-coord"}
        return MetadataImage(offset=self.offset, brokers=brokers, topics=topics, topic_ids=ids,
                             topic_configs=self.configs)

    async def controller_call(self, op: str, body: dict) -> dict:
        self.created.append({"op": op, **body})
        self.exists, self.offset = True, self.offset + 1  # the controller made it
        return {"metadata_offset": self.offset}


def coordinator(cluster: Cluster, changes: list[int]) -> TableCoordinator:
    settings = IcebergSettings.model_validate({"coordinator.topic.num.partitions": PARTITIONS})
    return TableCoordinator(NODE, settings, cluster.image, cluster, cluster.controller_call, cluster.wait_metadata,
                            cluster.append_local, lambda image: bool(iceberg_topics(image)),
                            lambda: changes.append(1))


def test_a_node_commits_the_tables_whose_partition_it_leads_and_hears_when_that_moves(tmp_path):
    cluster, changes = Cluster(tmp_path), []
    try:
        mine = {0, 2}
        cluster.lead(mine)
        coord = coordinator(cluster, changes)
        coord.runtime.follow_leadership()
        placed = {t: key_partition(t, PARTITIONS) for t in TOPICS}
        assert set(placed.values()) == set(range(PARTITIONS))  # the test covers both sides
        assert {t for t in TOPICS if coord.coordinates(t)} == {t for t, p in placed.items() if p in mine}
        assert len(changes) == 2  # a load per partition led
        image = cluster.image()
        assert all(table_coordinator(image, t) == (NODE if placed[t] in mine else OTHER) for t in TOPICS)

        cluster.lead({1, 2, 3})  # partition 0 moved away, 1 and 3 came here
        coord.runtime.follow_leadership()
        assert {t for t in TOPICS if coord.coordinates(t)} == {t for t, p in placed.items() if p != 0}
        assert len(changes) == 5  # one unload, two loads
        before = coord.loaded()
        cluster.lead({1, 2, 3}, epoch=2)  # a new leader epoch: loaded again, at the new epoch
        coord.runtime.follow_leadership()
        assert coord.loaded() == {(p, 2) for p in (1, 2, 3)} != before
    finally:
        cluster.close()


async def test_the_first_iceberg_topic_makes_the_coordinator_topic(tmp_path):
    cluster, changes = Cluster(tmp_path), []
    try:
        cluster.exists, cluster.configs = False, {"plain": {"retention.ms": "1000"}}
        coord = coordinator(cluster, changes)
        coord.new_image(cluster.image())
        assert coord._creating is None and cluster.created == []  # no Iceberg topic: nothing made
        cluster.configs = {**cluster.configs, "events": ICEBERG}
        coord.new_image(cluster.image())
        assert coord._creating is not None
        await coord._creating
        assert len(cluster.created) == 1, cluster.created
        made = cluster.created[0]
        assert made["op"] == "create_topic" and made["name"] == ICEBERG_COORDINATOR_TOPIC
        # as many partitions as configured; replicas capped at the live hosts (two here)
        assert made["partitions"] == PARTITIONS and made["replication_factor"] == 2
        assert made["configs"]["cleanup.policy"] == "compact" and made["configs"]["min.insync.replicas"] == "2"
        coord.new_image(cluster.image())
        assert coord._creating.done() and len(cluster.created) == 1  # made once
        assert coord.coordinates("events")  # and its partition, led here, loaded
    finally:
        cluster.close()


def test_no_coordinator_is_named_before_its_topic_exists_or_while_its_partition_has_no_leader(tmp_path):
    cluster = Cluster(tmp_path)
    try:
        cluster.exists = False
        assert table_coordinator(cluster.image(), "events") is None
        cluster.exists = True
        image = cluster.image()
        p = key_partition("events", PARTITIONS)
        topic = image.topic(ICEBERG_COORDINATOR_TOPIC)
        parts = list(topic.partitions)
        parts[p] = dataclasses.replace(parts[p], leader=-1)
        offline = dataclasses.replace(image, topics={"id-coord": dataclasses.replace(topic, partitions=tuple(parts))})
        assert table_coordinator(offline, "events") is None
    finally:
        cluster.close()


def test_while_a_table_has_no_coordinator_the_leader_of_its_first_led_partition_stands_in(tmp_path):
    cluster = Cluster(tmp_path)
    try:
        events = TopicImage("events", "id-events", (PartitionRegistration((1,), (1,), -1, 1),
                                                    PartitionRegistration((2,), (2,), OTHER, 1),
                                                    PartitionRegistration((1,), (1,), NODE, 1)))

        def with_events(image: MetadataImage) -> MetadataImage:
            return dataclasses.replace(image, topics={**image.topics, "id-events": events},
                                       topic_ids={**image.topic_ids, "events": "id-events"})
        cluster.exists = False  # __iceberg_coordinator not made yet
        assert stand_in(with_events(cluster.image()), "events") == OTHER  # partition 0 has no leader
        cluster.exists = True
        image = with_events(cluster.image())
        assert stand_in(image, "events") is None  # the coordinator commits
        p = key_partition("events", PARTITIONS)
        topic = image.topic(ICEBERG_COORDINATOR_TOPIC)
        parts = list(topic.partitions)
        parts[p] = dataclasses.replace(parts[p], leader=-1)  # its replicas down
        offline = dataclasses.replace(image, topics={**image.topics, "id-coord": dataclasses.replace(
            topic, partitions=tuple(parts))})
        assert table_coordinator(offline, "events") is None and stand_in(offline, "events") == OTHER
        assert stand_in(offline, "no-such-topic") is None
    finally:
        cluster.close()
