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
from kraft.errors import OutcomeUnknown, StaleBrokerEpoch
from kraft.metadata.records import BecomeController, MetadataBatch, RegisterBroker, encode_batch
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.config.topic_configs import DEFAULT_TOPIC_CONFIGS
from kraft.replication import alter_partition_manager, fetch_protocol as fp
from kraft.replication.alter_partition_manager import AlterPartitionManager
from kraft.replication.fetch_session import LeaderFetchSession
from kraft.replication.partition_replica import PartitionReplica, now_ms
from kraft.replication.replica_manager import ReplicaManager
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


def propose_dropping(manager: AlterPartitionManager, replicas, follower: int) -> None:
    """Every replica's follower `follower` fell behind (the others are caught up): each
    leader proposes to drop it."""
    for r in replicas:
        r.leader.followers[follower].last_caught_up_ms = -10_000
        for other, progress in r.leader.followers.items():
            progress.leo = 0 if other != follower else -1
        r.leader.leo = 1
        manager.propose(r, r.leader.shrink_proposal(now_ms(), 5000))


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
    propose_dropping(manager, replicas, follower)

    asyncio.run(settled(manager, replicas, lambda: all(r.leader.pending_isr is None for r in replicas)))
    assert c.calls == [("alter_partitions", len(replicas))]  # one request carried them all
    for r in replicas:
        reg = c.image.topics["tid"].partitions[r.partition]
        assert follower not in reg.isr
        # taken from the answer, not from metadata (nothing applied it to the replica)
        assert r.leader.isr == reg.isr and r.partition_epoch == reg.partition_epoch


def test_a_burst_beyond_one_requests_share_leaves_in_requests_of_bounded_size(controller, tmp_path, monkeypatch):
    """Each request is one metadata entry every controller applies at once: thousands
    after a full restart go in several requests, one after the other, none left behind."""
    monkeypatch.setattr(alter_partition_manager, "MAX_CHANGES_PER_REQUEST", 4)
    c = controller
    leader = c.image.topics["tid"].partitions[0].leader
    follower = next(b for b in (1, 2, 3) if b != leader)
    replicas = leaders_on(leader, c, tmp_path)
    assert len(replicas) > 2 * 4
    manager = AlterPartitionManager(leader, lambda: c.image.brokers[leader].broker_epoch, c.call, lambda: c.image)
    propose_dropping(manager, replicas, follower)

    asyncio.run(settled(manager, replicas, lambda: all(r.leader.pending_isr is None for r in replicas)))
    sizes = [n for op, n in c.calls if op == "alter_partitions"]
    assert sum(sizes) == len(replicas) and max(sizes) == 4 and len(sizes) == -(-len(replicas) // 4)
    for r in replicas:
        assert follower not in c.image.topics["tid"].partitions[r.partition].isr


def leader_manager(c: Controller, leader: int, replicas, tmp_path) -> ReplicaManager:
    """The leader's replica manager hosting its replicas, its ISR changes sent to `c`."""
    rm = ReplicaManager(leader, tmp_path / "node", lambda topic: {}, 5000, c.call, None)
    rm.broker_epoch = c.image.brokers[leader].broker_epoch
    rm.roles.latest = c.image
    for r in replicas:
        rm.hosted.add(r)
    return rm


async def follower_fetch(rm: ReplicaManager, session: LeaderFetchSession, follower: int, c: Controller,
                         replicas, full: bool = False) -> None:
    """One fetch of `follower`, at the end of every partition: a full one names them all,
    an incremental one nothing (an idle follower's position does not move)."""
    rm.roles.latest = c.image
    positions = tuple(fp.FetchPartition("tid", r.partition, r.log.log_end_offset, -1, r.leader_epoch)
                      for r in replicas) if full else ()
    await rm.handle_fetch(fp.FetchRequest(follower, c.image.brokers[follower].broker_epoch, 0, 1 << 20, positions,
                                          incremental=not full), session)


def test_a_stale_epoch_is_settled_by_the_state_the_answer_carries(controller, tmp_path):
    c = controller
    leader = c.image.topics["tid"].partitions[0].leader
    out = next(b for b in (1, 2, 3) if b != leader)
    replicas = leaders_on(leader, c, tmp_path)
    shrink_all(c, leader, out)  # the controller moved on; the leaders' epochs are now stale
    rm = leader_manager(c, leader, replicas, tmp_path)
    for r in replicas:  # as the leader last heard: the follower out, the others caught up
        r.leader.isr = tuple(b for b in r.leader.isr if b != out)
        for b, progress in r.leader.followers.items():
            progress.leo = 0 if b != out else -1
    session = LeaderFetchSession()

    async def scenario():
        runner = asyncio.create_task(rm.alter_partition.run())
        await follower_fetch(rm, session, out, c, replicas, full=True)  # caught up: proposed, stale
        async with asyncio.timeout(10):
            while c.calls != [("alter_partitions", len(replicas))] or any(r.leader.pending_isr for r in replicas):
                await asyncio.sleep(0.01)
            # every refusal settled from its answer; the follower's next fetch proposes again
            await follower_fetch(rm, session, out, c, replicas)
            while not all(out in c.image.topics["tid"].partitions[r.partition].isr for r in replicas):
                await asyncio.sleep(0.01)
        runner.cancel()

    asyncio.run(scenario())
    for r in replicas:
        r.log.close()
    assert c.calls == [("alter_partitions", len(replicas))] * 2
    assert all(r.leader.isr == c.image.topics["tid"].partitions[r.partition].isr for r in replicas)


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


def test_a_caught_up_idle_follower_taken_out_by_a_fencing_comes_back(controller, tmp_path):
    """An idle follower's position never moves, so its fetch is not looked at again once
    it is caught up: when the controller takes it out of the ISR (fenced) and lets it back
    (unfenced), its session looks at those partitions once more with its next fetch, and
    the leader proposes it from that fetch, all partitions in one request."""
    c = controller
    leader = c.image.topics["tid"].partitions[0].leader
    out = next(b for b in (1, 2, 3) if b != leader)
    replicas = leaders_on(leader, c, tmp_path)
    rm = leader_manager(c, leader, replicas, tmp_path)
    session = LeaderFetchSession()

    async def scenario():
        runner = asyncio.create_task(rm.alter_partition.run())
        await follower_fetch(rm, session, out, c, replicas, full=True)  # caught up and in every ISR
        c.apply(bc.fence_brokers(c.image, DEFAULTS, [out]))  # out of every ISR
        for r in replicas:  # the metadata reaches the leader
            r.apply_registration(c.image.topics["tid"].partitions[r.partition], now_ms(), 2)
        await follower_fetch(rm, session, out, c, replicas)  # fenced: kept aside, not proposed
        await asyncio.sleep(0.2)
        assert c.calls == [] and all(out not in r.leader.isr for r in replicas)
        c.heartbeat(out)  # unfenced; the leader hears of it with the metadata
        rm.alter_partition.on_brokers_changed({out}, c.image)
        await follower_fetch(rm, session, out, c, replicas)  # names nothing: its session looks again
        async with asyncio.timeout(10):
            while not all(out in r.leader.isr for r in replicas):
                await asyncio.sleep(0.01)
        runner.cancel()

    asyncio.run(scenario())
    for r in replicas:
        r.log.close()
    assert c.calls == [("alter_partitions", len(replicas))]
    assert all(out in c.image.topics["tid"].partitions[r.partition].isr for r in replicas)


def test_a_stopped_manager_ends_even_when_its_call_loses_the_cancellation(controller, tmp_path):
    """A cancellation that meets an HTTP timeout can come out as the timeout: the manager
    took it for a lost answer and sent again every few seconds, and the node's stop
    waited for it until the process was killed."""
    c = controller
    leader = c.image.topics["tid"].partitions[0].leader
    follower = next(b for b in (1, 2, 3) if b != leader)
    replicas = leaders_on(leader, c, tmp_path)

    lost = []

    async def lossy_call(op: str, payload: dict) -> dict:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if lost:  # only the first is lost: a failing test ends instead of hanging
                raise
            lost.append(op)
            raise OutcomeUnknown("forwarded to the controller but got no answer (TimeoutError)") from None
        raise AssertionError("unreachable")

    async def scenario() -> None:
        manager = AlterPartitionManager(leader, lambda: c.image.brokers[leader].broker_epoch, lossy_call,
                                        lambda: c.image)
        propose_dropping(manager, replicas, follower)
        runner = asyncio.create_task(manager.run())
        await asyncio.sleep(0.05)  # its request is in flight
        manager.stop()
        runner.cancel()  # lost by the call
        done, _ = await asyncio.wait({runner}, timeout=5)
        runner.cancel()
        assert lost and runner in done, "the stopped manager went on sending"
    asyncio.run(scenario())
    for r in replicas:
        r.log.close()
