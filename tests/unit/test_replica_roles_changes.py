"""replica_roles applies what changed: a delta touching one topic leaves the replicas of
the others alone; a change of this broker's registration, a cluster-wide config, a
full-image jump or the retry of an image not fully applied looks at every partition."""

from __future__ import annotations

import asyncio
import errno

import pytest

from kraft.metadata.effective_configs import effective_topic_configs
from kraft.metadata.records import (
    BecomeController,
    BrokerRegistrationChange,
    ConfigRecord,
    MetadataBatch,
    PartitionChange,
    PartitionRecord,
    RegisterBroker,
    RemoveTopic,
    TopicRecord,
    encode_batch,
)
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.replication import log_manager
from kraft.replication.log_manager import OPEN_BATCH
from kraft.replication.partition_replica import PartitionReplica
from kraft.replication.replica_manager import ReplicaManager

ME = 1


def batch(*records):
    return encode_batch(MetadataBatch(controller_epoch=1, request_id=None, records=tuple(records)))


def create(name, topic_id, partitions=2):
    # led here, so that no fetcher is wanted (fetchers need the manager's task group)
    return [TopicRecord(name=name, topic_id=topic_id)] + [
        PartitionRecord(topic_id=topic_id, partition=p, replicas=(ME, 2), isr=(ME,), leader=ME)
        for p in range(partitions)]


class Cluster:
    """A state machine fed real records, and broker 1's replica manager following it."""

    def __init__(self, tmp_path, monkeypatch):
        self.sm = MetadataStateMachine()
        self.applied: list[tuple[str, int]] = []  # apply_registration calls, in order
        real = PartitionReplica.apply_registration

        def spy(replica, reg, now, min_isr=1):
            self.applied.append((replica.topic, replica.partition))
            return real(replica, reg, now, min_isr)

        monkeypatch.setattr(PartitionReplica, "apply_registration", spy)
        self.manager = ReplicaManager(
            ME, tmp_path / "node",
            lambda topic: {k: v for k, (v, _) in effective_topic_configs(self.sm.image, {}, topic).items()},
            5000, None, None)
        self.commit(BecomeController(controller_id=1, controller_epoch=1))
        self.commit(*(RegisterBroker(broker_id=b, incarnation_id=f"i{b}", host="127.0.0.1",
                                     http_port=8080 + b) for b in (1, 2)))
        self.commit(*create("a", "id-a"), *create("b", "id-b"))

    def commit(self, *records) -> None:
        result = self.sm.apply(batch(*records))
        assert result.ok, result.error

    def follow(self) -> bool | None:
        """What the node does after a burst of batches, and one round of roles.run()."""
        self.applied.clear()
        self.manager.on_metadata(*self.sm.take_changes())
        return asyncio.run(self.manager.roles.apply_offered())

    def leader(self, topic, partition):
        return self.manager.replica(topic, partition).leader

    def close(self) -> None:
        for replica in self.manager.hosted:
            replica.log.close()


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    c = Cluster(tmp_path, monkeypatch)
    assert c.follow()  # the first image is applied whole
    assert sorted(c.applied) == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    yield c
    c.close()


def test_a_partition_change_in_one_topic_leaves_the_others_alone(cluster):
    cluster.commit(PartitionChange(topic_id="id-a", partition=1, expected_partition_epoch=0,
                                   isr=(ME, 2)))
    assert cluster.follow()
    assert cluster.applied == [("a", 1)]
    assert cluster.leader("a", 1).isr == (ME, 2) and cluster.leader("a", 0).isr == (ME,)


def test_a_new_topic_opens_only_its_own_replicas(cluster):
    cluster.commit(*create("c", "id-c", partitions=3))
    assert cluster.follow()
    assert cluster.applied == [("c", 0), ("c", 1), ("c", 2)]
    assert cluster.leader("c", 2) is not None


def test_a_topic_config_change_reaches_every_partition_of_that_topic_only(cluster):
    cluster.commit(ConfigRecord(resource_type="topic", resource_name="b",
                                name="min.insync.replicas", value="1"))
    assert cluster.follow()
    assert sorted(cluster.applied) == [("b", 0), ("b", 1)]
    assert cluster.leader("b", 0).min_isr == 1 and cluster.leader("a", 0).min_isr == 2  # the default


def test_removing_a_topic_removes_its_replicas_and_touches_no_other(cluster):
    cluster.commit(RemoveTopic(topic_id="id-a"))
    assert cluster.follow()
    assert cluster.applied == []
    assert cluster.manager.replica("a", 0) is None and cluster.manager.replica("b", 0) is not None


def test_moving_a_partition_away_removes_only_that_replica(cluster):
    cluster.commit(PartitionChange(topic_id="id-b", partition=0, expected_partition_epoch=0,
                                   replicas=(2,), isr=(2,), leader=2))
    assert cluster.follow()
    assert cluster.manager.replica("b", 0) is None
    assert cluster.manager.replica("b", 1) is not None and cluster.manager.replica("a", 0) is not None


def test_a_delta_looks_for_removed_replicas_only_among_the_topics_it_names(cluster):
    """Which hosted replicas a delta removed is looked for among its topics' partitions
    only: the table of every replica hosted is not walked (30,000 of them made each delta
    cost 3-5 ms); a removal still finds its replica."""
    cluster.commit(*[r for t in range(20) for r in create(f"t{t}", f"id-t{t}")])
    assert cluster.follow()

    class Walked(dict):
        walks = 0

        def __iter__(self):
            Walked.walks += 1
            return super().__iter__()

    hosted = cluster.manager.hosted
    hosted.by_id = Walked(hosted.by_id)
    cluster.commit(PartitionChange(topic_id="id-t3", partition=1, expected_partition_epoch=0,
                                   replicas=(2,), isr=(2,), leader=2))
    assert cluster.follow()
    assert Walked.walks == 0
    assert cluster.manager.replica("t3", 1) is None and cluster.manager.replica("t3", 0) is not None
    assert len(hosted) == 2 * 22 - 1 and sorted(hosted.keys_of(["id-t3"])) == [("id-t3", 0)]


def test_another_brokers_registration_touches_nothing_this_ones_everything(cluster):
    epoch = cluster.sm.image.brokers[2].broker_epoch
    cluster.commit(BrokerRegistrationChange(broker_id=2, broker_epoch=epoch, fenced=False))
    assert cluster.follow()
    assert cluster.applied == []
    cluster.commit(BrokerRegistrationChange(broker_id=ME, broker_epoch=epoch, fenced=False))
    assert cluster.follow()
    assert sorted(cluster.applied) == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]


def test_a_cluster_wide_config_and_a_full_image_jump_look_at_everything(cluster):
    cluster.commit(ConfigRecord(resource_type="cluster", resource_name="",
                                name="min.insync.replicas", value="1"))
    assert cluster.follow()
    assert len(cluster.applied) == 4 and cluster.leader("a", 1).min_isr == 1
    cluster.sm.install_image(cluster.sm.image)
    assert cluster.follow()
    assert len(cluster.applied) == 4


def test_an_image_not_fully_applied_is_applied_again_whole(cluster, monkeypatch):
    spy = PartitionReplica.apply_registration
    failed = []

    def fails_once(replica, reg, now, min_isr=1):
        if (replica.topic, replica.partition) == ("a", 1) and not failed:
            failed.append(True)  # its leader-epoch checkpoint not written: out of descriptors
            raise OSError(errno.EMFILE, "Too many open files")
        return spy(replica, reg, now, min_isr)

    monkeypatch.setattr(PartitionReplica, "apply_registration", fails_once)
    cluster.commit(PartitionChange(topic_id="id-a", partition=1, expected_partition_epoch=0,
                                   isr=(ME, 2)))
    assert cluster.follow() is False and failed
    assert cluster.leader("a", 1).isr == (ME,)  # stays what it was until the retry
    cluster.applied.clear()
    assert asyncio.run(cluster.manager.roles.apply_offered()) is True  # run()'s retry
    assert sorted(cluster.applied) == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert cluster.leader("a", 1).isr == (ME, 2)
    assert asyncio.run(cluster.manager.roles.apply_offered()) is None  # nothing new since


def test_offers_not_yet_applied_accumulate(cluster):
    cluster.commit(PartitionChange(topic_id="id-a", partition=0, expected_partition_epoch=0,
                                   isr=(ME, 2)))
    cluster.manager.on_metadata(*cluster.sm.take_changes())
    cluster.commit(PartitionChange(topic_id="id-b", partition=1, expected_partition_epoch=0,
                                   isr=(ME, 2)))
    assert cluster.follow()  # one apply of the newest image covers both offers
    assert sorted(cluster.applied) == [("a", 0), ("b", 1)]
    assert cluster.leader("a", 0).isr == (ME, 2) and cluster.leader("b", 1).isr == (ME, 2)


def test_many_new_logs_open_in_a_few_thread_jobs_and_one_that_fails_holds_back_no_other(cluster, monkeypatch):
    jobs: list[int] = []
    each = log_manager._open_each

    def counted(root, logs, previous_run_closed):
        jobs.append(len(logs))
        return each(root, logs, previous_run_closed)
    opened = log_manager.open_replica_log
    failed = []

    def fails_once(root, topic, index, *rest):
        if (topic, index) == ("c", 5) and not failed:
            failed.append(True)
            raise OSError(errno.EMFILE, "Too many open files")
        return opened(root, topic, index, *rest)
    monkeypatch.setattr(log_manager, "_open_each", counted)
    monkeypatch.setattr(log_manager, "open_replica_log", fails_once)
    cluster.commit(*create("c", "id-c", partitions=200))
    assert cluster.follow() is False  # c-5 is not open: the image is applied again
    assert sum(jobs) == 200 and len(jobs) == -(-200 // OPEN_BATCH)  # not a thread job per log
    assert cluster.manager.replica("c", 5) is None
    assert all(cluster.leader("c", p) is not None for p in range(200) if p != 5)
    assert asyncio.run(cluster.manager.roles.apply_offered()) is True  # run()'s retry
    assert cluster.leader("c", 5) is not None
