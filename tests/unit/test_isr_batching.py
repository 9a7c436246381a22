"""ISR changes in batches (Kafka's AlterPartitionManager): every change a leader has
pending leaves in one request, the controller judges each on its own and writes the
accepted ones together, and each answer carries the partition's state, which the
leader takes at once. Real controller logic on a real metadata state machine, real
replicas on real logs; only the network between the leader and the controller is
left out (the call runs the controller's command in process)."""

from __future__ import annotations

import asyncio

from kraft.controller import broker_control as bc
from kraft.controller.commands import build_command
from kraft.controller.partition_control import alter_partitions
from kraft.controller.topic_control import CreateTopic, create_topic
from kraft.errors import StaleBrokerEpoch
from kraft.metadata.records import BecomeController, MetadataBatch, RegisterBroker, encode_batch
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.config.topic_configs import DEFAULT_TOPIC_CONFIGS
from kraft.replication.alter_partition_manager import AlterPartitionManager
from kraft.replication.partition_replica import PartitionReplica, now_ms
from kraft.storage.partition_log import PartitionLog

import pytest

DEFAULTS = {**DEFAULT_TOPIC_CONFIGS, "num.partitions": "3", "replication.factor": "3",
            "min.insync.replicas": "2"}
PARTITIONS = 40


class Controller:
    """The metadata state machine and the controller's pure commands, run in process."""

    def __init__(self) -> None:
        self.sm = MetadataStateMachine()
        self.apply([BecomeController(controller_id=1, controller_epoch=1)])
        self.hb = bc.BrokerHeartbeats(session_timeout_ms=3000)
        self.calls: list[tuple[str, int]] = []  # (op, changes in it)
        for b in (1, 2, 3):
            records, _ = bc.register_broker(self.image, RegisterBroker(
                broker_id=b, incarnation_id=f"i{b}", host="h", http_port=1), DEFAULTS)
            self.apply(records)
            self.heartbeat(b)

    @property
    def image(self):
        return self.sm.image

    def apply(self, records) -> None:
        if records:
            result = self.sm.apply(encode_batch(MetadataBatch(controller_epoch=1, records=tuple(records))))
            assert result.ok, result.error

    def heartbeat(self, b: int) -> None:
        records, _ = bc.heartbeat(self.image, self.hb, b, self.image.brokers[b].broker_epoch,
                                  self.image.offset, 0, DEFAULTS)
        self.apply(records)

    async def call(self, op: str, payload: dict) -> dict:
        self.calls.append((op, len(payload.get("partitions", ()))))
        records, answer = build_command(op, payload, None, DEFAULTS)(self.image)
        self.apply(records)
        return answer


@pytest.fixture
def controller() -> Controller:
    c = Controller()
    records, _ = create_topic(c.image, CreateTopic("t", PARTITIONS, 3, {}), DEFAULTS, topic_id="tid")
    c.apply(records)
    return c


def leaders_on(broker: int, c: Controller, tmp_path) -> list[PartitionReplica]:
    """This broker's replicas of every partition it leads, as the metadata says."""
    out = []
    for index, reg in enumerate(c.image.topics["tid"].partitions):
        if reg.leader == broker:
            replica = PartitionReplica(broker, "t", "tid", index, PartitionLog.open(tmp_path / f"p{index}"), 0)
            replica.apply_registration(reg, now_ms(), 2)
            out.append(replica)
    return out


def shrink_all(c: Controller, leader: int, out: int) -> None:
    """Take `out` out of every ISR this leader has, as a fencing would (the leader's
    replicas do not know yet)."""
    items = [{"topic_id": "tid", "partition": i, "leader_epoch": reg.leader_epoch,
              "partition_epoch": reg.partition_epoch, "new_isr": [b for b in reg.isr if b != out]}
             for i, reg in enumerate(c.image.topics["tid"].partitions) if reg.leader == leader]
    records, _ = alter_partitions(c.image, DEFAULTS, leader, c.image.brokers[leader].broker_epoch, items)
    c.apply(records)


async def settled(manager: AlterPartitionManager, replicas, done, bound_s: float = 10.0) -> None:
    runner = asyncio.create_task(manager.run())
    try:
        async with asyncio.timeout(bound_s):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        runner.cancel()
    for r in replicas:
        r.log.close()


def test_the_controller_judges_each_change_and_writes_the_accepted_ones_together(controller):
    c = controller
    parts = c.image.topics["tid"].partitions
    leader = parts[0].leader
    mine = [i for i, reg in enumerate(parts) if reg.leader == leader][:3]
    epoch = c.image.brokers[leader].broker_epoch
    ok = {"topic_id": "tid", "partition": mine[0], "leader_epoch": parts[mine[0]].leader_epoch,
          "partition_epoch": parts[mine[0]].partition_epoch, "new_isr": [leader]}
    stale = {**ok, "partition": mine[1], "partition_epoch": parts[mine[1]].partition_epoch - 1}
    bad = {**ok, "partition": mine[2], "partition_epoch": parts[mine[2]].partition_epoch, "new_isr": [9]}
    records, answer = alter_partitions(c.image, DEFAULTS, leader, epoch, [ok, stale, bad])
    assert len(records) == 1  # only the accepted change is written
    by = {a["partition"]: a for a in answer["partitions"]}
    assert "error" not in by[mine[0]] and by[mine[0]]["isr"] == [leader]
    assert by[mine[0]]["partition_epoch"] == parts[mine[0]].partition_epoch + 1
    # a stale epoch is refused with the state now, so the leader can settle it at once
    assert by[mine[1]]["error"] == "INVALID_UPDATE_VERSION"
    assert by[mine[1]]["partition_epoch"] == parts[mine[1]].partition_epoch
    assert by[mine[1]]["isr"] == list(parts[mine[1]].isr)
    assert by[mine[2]]["error"] == "INVALID_REQUEST"
    with pytest.raises(StaleBrokerEpoch):  # a leader whose registration was replaced: all of them
        alter_partitions(c.image, DEFAULTS, leader, epoch - 1, [ok])


def test_every_pending_change_leaves_in_one_request_and_the_leader_takes_the_answer(controller, tmp_path):
    c = controller
    leader = c.image.topics["tid"].partitions[0].leader
    follower = next(b for b in (1, 2, 3) if b != leader)
    replicas = leaders_on(leader, c, tmp_path)
    manager = AlterPartitionManager(leader, lambda: c.image.brokers[leader].broker_epoch, c.call, lambda: c.image)
    for r in replicas:  # every follower but one fell behind: each leader proposes to drop it
        r.leader.followers[follower].last_caught_up_ms = -10_000
        for other, progress in r.leader.followers.items():
            progress.leo = 0 if other != follower else -1
        r.leader.leo = 1
        manager.propose(r, r.leader.shrink_proposal(now_ms(), 5000))

    asyncio.run(settled(manager, replicas, lambda: all(r.leader.pending_isr is None for r in replicas)))
    assert c.calls == [("alter_partitions", len(replicas))]  # one request carried them all
    for r in replicas:
        reg = c.image.topics["tid"].partitions[r.partition]
        assert follower not in reg.isr
        # taken from the answer, not from metadata (nothing applied it to the replica)
        assert r.leader.isr == reg.isr and r.partition_epoch == reg.partition_epoch


def test_a_stale_epoch_is_settled_by_the_state_the_answer_carries(controller, tmp_path):
    c = controller
    leader = c.image.topics["tid"].partitions[0].leader
    out = next(b for b in (1, 2, 3) if b != leader)
    replicas = leaders_on(leader, c, tmp_path)
    shrink_all(c, leader, out)  # the controller moved on; the leaders' epochs are now stale
    manager = AlterPartitionManager(leader, lambda: c.image.brokers[leader].broker_epoch, c.call, lambda: c.image)
    for r in replicas:  # the dropped follower is caught up: each leader proposes the full ISR
        for progress in r.leader.followers.values():
            progress.leo = 0
        r.leader.isr = tuple(b for b in r.leader.isr if b != out)  # as the leader last heard
        manager.propose(r, r.leader.expansion_due())

    def whole() -> bool:
        return all(len(c.image.topics["tid"].partitions[r.partition].isr) == 3 and r.leader.pending_isr is None
                   for r in replicas)
    asyncio.run(settled(manager, replicas, whole))
    # the refused batch settled every partition from its answer; the next carried them all again
    assert c.calls == [("alter_partitions", len(replicas))] * 2
    assert all(r.leader.isr == c.image.topics["tid"].partitions[r.partition].isr for r in replicas)


def test_a_follower_that_cannot_join_yet_is_proposed_again_once_usable(controller, tmp_path):
    c = controller
    leader = c.image.topics["tid"].partitions[0].leader
    out = next(b for b in (1, 2, 3) if b != leader)
    replicas = leaders_on(leader, c, tmp_path)
    shrink_all(c, leader, out)
    c.apply(bc.fence_brokers(c.image, DEFAULTS, [out]))  # fenced: KIP-841 keeps it out of ISRs
    for r in replicas:
        r.apply_registration(c.image.topics["tid"].partitions[r.partition], now_ms(), 2)
    manager = AlterPartitionManager(leader, lambda: c.image.brokers[leader].broker_epoch, c.call, lambda: c.image)

    async def scenario():
        runner = asyncio.create_task(manager.run())
        for r in replicas:  # the fenced follower fetched to the end: not proposed while fenced
            _, proposal = r.leader.on_follower_fetch(out, 0, now_ms())
            if proposal is not None:
                manager.propose(r, proposal)
        await asyncio.sleep(0.2)
        assert c.calls == [] and all(r.leader.pending_isr is None for r in replicas)
        c.heartbeat(out)  # unfenced; the leader hears of it with the metadata
        manager.on_brokers_changed({out}, c.image)
        async with asyncio.timeout(10):
            while not all(out in r.leader.isr for r in replicas):
                await asyncio.sleep(0.01)
        runner.cancel()

    asyncio.run(scenario())
    for r in replicas:
        r.log.close()
    assert c.calls == [("alter_partitions", len(replicas))]
    assert all(out in c.image.topics["tid"].partitions[r.partition].isr for r in replicas)


def test_a_member_registered_again_since_it_fetched_is_not_taken(controller):
    """KIP-903: the leader names the broker epoch each joining member fetched with; one
    that registered again since (it may have lost unflushed records) is refused."""
    c = controller
    leader = c.image.topics["tid"].partitions[0].leader
    out = next(b for b in (1, 2, 3) if b != leader)
    shrink_all(c, leader, out)
    reg = c.image.topics["tid"].partitions[0]
    epoch = c.image.brokers[out].broker_epoch
    item = {"topic_id": "tid", "partition": 0, "leader_epoch": reg.leader_epoch,
            "partition_epoch": reg.partition_epoch, "new_isr": [*reg.isr, out]}
    records, answer = alter_partitions(c.image, DEFAULTS, leader, c.image.brokers[leader].broker_epoch,
                                       [{**item, "new_isr_epochs": {out: epoch - 1}}])
    (refused,) = answer["partitions"]
    assert records == [] and refused["error"] == "INELIGIBLE_REPLICA" and refused["ineligible"] == [out]
    records, answer = alter_partitions(c.image, DEFAULTS, leader, c.image.brokers[leader].broker_epoch,
                                       [{**item, "new_isr_epochs": {out: epoch}}])
    assert len(records) == 1 and "error" not in answer["partitions"][0]


def test_a_caught_up_follower_taken_out_by_a_fencing_comes_back_without_fetching(controller, tmp_path):
    """An idle follower's fetch is never looked at again once it is caught up: when the
    controller takes it out of the ISR (fenced) and lets it back (unfenced), the leader
    proposes it from what its last fetch showed, if it is still the same incarnation."""
    c = controller
    leader = c.image.topics["tid"].partitions[0].leader
    out = next(b for b in (1, 2, 3) if b != leader)
    replicas = leaders_on(leader, c, tmp_path)
    manager = AlterPartitionManager(leader, lambda: c.image.brokers[leader].broker_epoch, c.call, lambda: c.image)
    stale = replicas[: len(replicas) // 2]  # these last saw the follower as an older incarnation
    for r in replicas:
        r.on_isr_changed = manager.propose_due
        for b in r.leader.followers:  # each fetched to the end, as the broker epoch it had then
            r.leader.on_follower_fetch(b, 0, now_ms(), c.image.brokers[b].broker_epoch - (r in stale and b == out))
    c.apply(bc.fence_brokers(c.image, DEFAULTS, [out]))  # out of every ISR

    async def scenario():
        runner = asyncio.create_task(manager.run())
        for r in replicas:  # the metadata reaches the leader: the ISR shrank
            r.apply_registration(c.image.topics["tid"].partitions[r.partition], now_ms(), 2)
        await asyncio.sleep(0.2)
        assert c.calls == []  # fenced: not proposed
        c.heartbeat(out)
        manager.on_brokers_changed({out}, c.image)
        async with asyncio.timeout(10):
            while not all(out in r.leader.isr for r in replicas if r not in stale):
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        runner.cancel()

    asyncio.run(scenario())
    for r in replicas:
        r.log.close()
    assert all(out not in r.leader.isr for r in stale)  # its next fetch will say what it has
    assert c.calls == [("alter_partitions", len(replicas) - len(stale))]
