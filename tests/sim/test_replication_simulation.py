"""Seeded simulation of one partition's replication with random crashes.

Real partition logs on disk, the real controller decisions (fencing, elections,
AlterPartition) on a real metadata state machine, and the real replica logic; only
time, scheduling and the network are simulated. A crash is a kill (the log survives)
or a power cut (an unsynced tail of the log is gone, and the broker registers as after
an unclean shutdown); one broker at a time has lost data. Checked after every step:
acknowledged acks=all records survive, the HW shown to clients never decreases,
one leader per leader epoch, and ISR members agree with the leader below the HW.
"""

from __future__ import annotations

import random

import pytest

from kraft.controller import broker_control as bc
from kraft.controller.partition_control import alter_partition
from kraft.controller.topic_control import CreateTopic, create_topic
from kraft.errors import KraftError, NotEnoughReplicas, NotLeaderOrFollower
from kraft.metadata.records import (
    BecomeController,
    MetadataBatch,
    RegisterBroker,
    encode_batch,
)
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.config.topic_configs import DEFAULT_TOPIC_CONFIGS
from kraft.storage.partition_log import PartitionLog
from kraft.replication.partition_replica import PartitionReplica
from kraft.storage.record import Record
from kraft.storage.record_batch import decode_all
from kraft.storage.record_batch import encode_batch as encode_records

DEFAULTS = {**DEFAULT_TOPIC_CONFIGS, "num.partitions": "1", "replication.factor": "3"}
BROKERS = (1, 2, 3)
MIN_ISR = 2
LAG_MS = 500


class Sim:
    def __init__(self, seed: int, tmp_path):
        self.rng = random.Random(seed)
        self.tmp = tmp_path
        self.now = 0
        self.sm = MetadataStateMachine()
        self.hb = bc.BrokerHeartbeats(session_timeout_ms=1000)
        self.incarnation = {b: 0 for b in BROKERS}
        self.replicas: dict[int, PartitionReplica | None] = {}
        self.seq = 0
        self.pending: list[tuple[int, int, int, bytes]] = []  # (leader, epoch, last offset, value)
        self.acked: dict[int, bytes] = {}  # offset -> value acknowledged with acks=all
        self.max_client_hw = 0
        self.epoch_leaders: dict[int, int] = {}
        self.crashes = self.elections = self.power_cuts = 0
        self.lost_data: set[int] = set()  # power cut, not yet back in the ISR
        self.commit([BecomeController(controller_id=1, controller_epoch=1)])
        for b in BROKERS:
            self.register(b)
        self.run(create_topic(self.sm.image, CreateTopic("t", 1, 3, {"min.insync.replicas": MIN_ISR}),
                              DEFAULTS, "tid"))
        for b in BROKERS:
            self.start(b)

    # -- metadata (the controller's real decisions) ------------------------------------
    def commit(self, records) -> None:
        if records:
            result = self.sm.apply(encode_batch(MetadataBatch(controller_epoch=1, records=tuple(records))))
            assert result.ok, result.error

    def run(self, outcome):
        self.commit(outcome[0])
        return outcome[1]

    @property
    def reg(self):
        return self.sm.image.topic("t").partitions[0]

    def register(self, b):
        self.incarnation[b] += 1
        req = RegisterBroker(broker_id=b, incarnation_id=f"{b}.{self.incarnation[b]}", host="h", http_port=1,
                             clean_shutdown=b not in self.lost_data)
        self.run(bc.register_broker(self.sm.image, req, DEFAULTS))
        epoch = self.sm.image.brokers[b].broker_epoch
        self.run(bc.heartbeat(self.sm.image, self.hb, b, epoch, self.sm.image.offset, self.now, DEFAULTS))

    def deliver_metadata(self, b):
        replica = self.replicas.get(b)
        if replica is not None:
            replica.apply_registration(self.reg, self.now, MIN_ISR)

    # -- brokers -------------------------------------------------------------------------
    def start(self, b):
        log = PartitionLog.open(self.tmp / f"b{b}")
        self.replicas[b] = PartitionReplica(b, "t", "tid", 0, log, hw=0)
        self.deliver_metadata(b)

    def crash(self, b):
        replica = self.replicas.get(b)
        if replica is None:
            return
        replica.log.close(clean=False)
        self.replicas[b] = None
        self.crashes += 1
        self.commit(bc.fence_brokers(self.sm.image, DEFAULTS, [b]))  # its session expires

    def power_cut(self, b):
        """Killed, and the log keeps only a prefix: what a power cut leaves of unsynced data."""
        if self.replicas.get(b) is None or self.lost_data - {b}:
            return
        self.crash(b)
        log = PartitionLog.open(self.tmp / f"b{b}")
        log.truncate_to(self.rng.randint(log.log_start_offset, log.log_end_offset))
        log.close(clean=False)
        self.lost_data.add(b)
        self.power_cuts += 1

    def restart(self, b):
        if self.replicas.get(b) is not None:
            return
        self.start(b)
        self.register(b)

    # -- steps -----------------------------------------------------------------------------
    def produce(self):
        leader = self.reg.leader
        replica = self.replicas.get(leader)
        if replica is None:
            return
        self.seq += 1
        value = str(self.seq).encode()
        try:
            _, last, epoch = replica.append(encode_records([Record(None, value)], 0, -1), True)
        except (NotLeaderOrFollower, NotEnoughReplicas):
            return  # a definite failure: nothing written
        self.pending.append((leader, epoch, last, value))

    def complete_acks(self):
        still = []
        for leader, epoch, last, value in self.pending:
            replica = self.replicas.get(leader)
            if replica is None or replica.leader is None or replica.leader_epoch != epoch:
                continue  # outcome unknown: the client never hears back
            if replica.leader.hw > last:
                if replica.leader.can_ack_all(MIN_ISR):
                    self.acked[last] = value
                continue
            still.append((leader, epoch, last, value))
        self.pending = still

    def fetch(self):
        followers = [b for b, r in self.replicas.items() if r is not None and r.leader is None]
        if not followers:
            return
        b = self.rng.choice(followers)
        f = self.replicas[b]
        leader = self.replicas.get(f.leader_id)
        if leader is None:
            return
        asked = f.fetch_position()
        data, proposal = leader.serve_fetch(b, asked, self.rng.choice((50, 5000)), self.now)
        if proposal is not None:
            self.alter(leader, proposal)
        f.on_fetched(data, asked, leader.broker_id)

    def alter(self, leader: PartitionReplica, isr):
        if self.rng.random() < 0.2:
            leader.leader.on_proposal_failed()  # lost on the way to the controller
            return
        reg = self.sm.image.brokers[leader.broker_id]
        try:
            self.run(alter_partition(self.sm.image, DEFAULTS, "tid", 0, leader.broker_id, reg.broker_epoch,
                                     leader.leader_epoch, leader.partition_epoch, tuple(isr)))
        except KraftError:
            pass
        if leader.leader is not None:
            leader.leader.on_proposal_failed() if leader.leader.pending_isr == tuple(isr) and \
                self.reg.isr != tuple(isr) else None

    def shrink(self):
        leader = self.replicas.get(self.reg.leader)
        if leader is not None and leader.leader is not None:
            proposal = leader.leader.shrink_proposal(self.now, LAG_MS)
            if proposal is not None:
                self.alter(leader, proposal)

    def step(self):
        r = self.rng.random()
        if r < 0.30:
            self.produce()
        elif r < 0.70:
            self.fetch()
        elif r < 0.78:
            self.now += self.rng.choice((10, 100, 600))
            self.shrink()
        elif r < 0.81:
            self.crash(self.rng.choice(BROKERS))
        elif r < 0.84:
            self.power_cut(self.rng.choice(BROKERS))
        elif r < 0.92:
            self.restart(self.rng.choice(BROKERS))
        for b in BROKERS:  # metadata reaches brokers, sometimes late
            if self.rng.random() < 0.8:
                self.deliver_metadata(b)
        self.complete_acks()
        self.check()

    # -- invariants ------------------------------------------------------------------------
    def values(self, replica, upto=None) -> dict[int, bytes]:
        log = replica.log
        end = log.log_end_offset if upto is None else min(upto, log.log_end_offset)
        if end <= log.log_start_offset:
            return {}
        return {r.offset: r.value for r in decode_all(log.read(log.log_start_offset, 1 << 30, end))}

    def check(self):
        reg = self.reg
        self.lost_data -= {b for b in reg.isr if self.replicas.get(b) is not None}  # caught up
        if reg.leader >= 0 and reg.leader_epoch not in self.epoch_leaders:
            self.epoch_leaders[reg.leader_epoch] = reg.leader
            self.elections += 1
        assert self.epoch_leaders.get(reg.leader_epoch, reg.leader) == reg.leader
        leader = self.replicas.get(reg.leader)
        if leader is None or leader.leader is None:
            return
        log = self.values(leader)
        for offset, value in self.acked.items():
            assert log.get(offset) == value, f"acknowledged offset {offset} lost or changed"
        if leader.leader.hw_established:
            assert leader.leader.hw >= self.max_client_hw, "HW went backwards for clients"
            self.max_client_hw = leader.leader.hw
        hw = leader.leader.hw
        below = self.values(leader, hw)
        for b in reg.isr:
            member = self.replicas.get(b)
            if member is not None and b != reg.leader:
                theirs = self.values(member, hw)
                assert all(below[o] == v for o, v in theirs.items()), f"ISR member {b} diverges"


@pytest.mark.parametrize("seed", range(8))
def test_replication_keeps_acknowledged_writes_through_crashes(seed, tmp_path):
    sim = Sim(seed, tmp_path)
    for _ in range(400):
        sim.step()
    for b in BROKERS:  # heal: everyone back, replication catches up
        sim.restart(b)
    for _ in range(300):
        sim.deliver_metadata(sim.rng.choice(BROKERS))
        sim.fetch()
        sim.complete_acks()
        sim.check()
    assert sim.acked, "the run acknowledged nothing: not a useful simulation"
    # healed: every replica is back in the ISR with a byte-identical log
    reg = sim.reg
    assert reg.leader >= 0 and set(reg.isr) == set(BROKERS), f"ISR {reg.isr} after healing"
    leader = sim.replicas[reg.leader]
    hw = leader.leader.hw
    assert hw == leader.log.log_end_offset
    expected = leader.log.read(0, 1 << 30, hw)
    for b in BROKERS:
        assert sim.replicas[b].log.read(0, 1 << 30, hw) == expected, f"broker {b} differs"


def test_the_replication_simulation_reaches_failovers(tmp_path):
    acked = crashes = elections = power_cuts = 0
    for seed in range(100, 108):
        sim = Sim(seed, tmp_path / str(seed))
        for _ in range(400):
            sim.step()
        acked += len(sim.acked)
        crashes += sim.crashes
        elections += sim.elections
        power_cuts += sim.power_cuts
    assert acked > 150 and crashes > 20 and elections > 20 and power_cuts > 5
