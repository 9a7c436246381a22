"""Seeded, deterministic simulation of several controllers on one in-memory Raft log.

Like Kafka's RaftEventSimulationTest in spirit: random leader changes, nodes that lag
behind the log, deposed controllers that still believe they lead and keep proposing
from their stale images (pysyncobj forwards such commands to the new leader), and a
simulated clock that expires broker sessions. After every step the invariants are
checked on every node.
"""

from __future__ import annotations

import random

import pytest

from kraft.controller import broker_control as bc
from kraft.controller.config_control import alter_topic_configs
from kraft.controller.preferred_leader import preferred_leader_changes
from kraft.controller.topic_control import CreateTopic, create_topic, delete_topic
from kraft.errors import KraftError
from kraft.quorum.memory import MemoryRaft
from kraft.metadata.image import NO_LEADER
from kraft.metadata.records import (
    BecomeController,
    MetadataBatch,
    RegisterBroker,
    encode_batch,
)
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.config.topic_configs import DEFAULT_TOPIC_CONFIGS

DEFAULTS = {**DEFAULT_TOPIC_CONFIGS, "num.partitions": "2", "replication.factor": "2"}
VOTERS = (1, 2, 3)
BROKERS = (1, 2, 3, 4)


class SimController:
    """One node's controller: believes it leads in `epoch` until told otherwise."""

    def __init__(self, seat):
        self.seat = seat
        self.epoch: int | None = None
        self.hb = bc.BrokerHeartbeats(session_timeout_ms=3000)

    def propose(self, records) -> bool:
        if not records or self.epoch is None:
            return False
        batch = MetadataBatch(controller_epoch=self.epoch, records=tuple(records))
        return self.seat.propose_sync(encode_batch(batch)).ok


class Simulation:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.raft = MemoryRaft(VOTERS)
        self.ctl = {n: SimController(self.raft.seat(n)) for n in VOTERS}
        self.now = 0
        self.incarnations = {b: 0 for b in BROKERS}
        self.topics = 0
        self.stale_proposals = 0
        self.stale_accepted = 0
        self.leader_of_epoch: dict[int, int] = {}  # controller epoch -> controller id
        self.partition_leaders: dict[tuple, int] = {}  # (topic id, p, leader epoch) -> leader
        self.last_seen: dict[int, dict] = {n: {} for n in VOTERS}  # per node: key -> epoch
        self.reference = MetadataStateMachine()  # an independent replay of the log
        self.reference_images = [self.reference.image]

    # -- steps ---------------------------------------------------------------------
    def elect(self):
        node = self.rng.choice(VOTERS + (None,))
        self.raft.elect(node)
        if node is None:
            return
        c = self.ctl[node]
        c.seat.catch_up()  # a Raft leader has every committed entry
        c.epoch = self.raft.term
        c.hb.reset(c.seat.state_machine.image, self.now)
        c.propose([BecomeController(controller_id=node, controller_epoch=self.raft.term)])

    def command(self):
        believers = [c for c in self.ctl.values() if c.epoch is not None]
        if not believers:
            return
        c = self.rng.choice(believers)
        stale = c.epoch != self.raft.term or self.raft.leader != c.seat.node_id
        image = c.seat.state_machine.image
        try:
            records = self._pick_command(c, image)
        except KraftError:
            return  # a refused request writes nothing
        if not records:
            return
        before = c.seat.state_machine.image.controller_epoch
        accepted = c.propose(records)
        if stale:
            self.stale_proposals += 1
            if accepted and before > c.epoch:
                self.stale_accepted += 1

    def _pick_command(self, c, image):
        kind = self.rng.randrange(8)
        b = self.rng.choice(BROKERS)
        if kind == 0:
            self.incarnations[b] += self.rng.choice((0, 1))
            req = RegisterBroker(broker_id=b, incarnation_id=f"{b}-{self.incarnations[b]}",
                                 host="h", http_port=1,
                                 clean_shutdown=self.rng.random() < 0.7)  # else: a power cut
            return bc.register_broker(image, req, DEFAULTS)[0]
        if kind in (1, 2) and b in image.brokers:
            reg = image.brokers[b]
            return bc.heartbeat(image, c.hb, b, reg.broker_epoch, image.offset, self.now, DEFAULTS)[0]
        if kind == 3:
            self.topics += 1
            name = f"t{self.topics % 7}"
            return create_topic(image, CreateTopic(name, self.rng.randint(1, 3), self.rng.randint(1, 3)),
                                DEFAULTS, topic_id=f"id{self.topics}")[0]
        if kind == 4:
            return bc.fence_expired(image, c.hb, self.now, DEFAULTS)
        if kind == 5 and image.topic_ids:
            name = self.rng.choice(sorted(image.topic_ids))
            value = self.rng.choice(("true", "false"))
            return alter_topic_configs(image, DEFAULTS, name,
                                       {"unclean.leader.election.enable": value})[0]
        if kind == 6 and image.topic_ids and self.rng.random() < 0.3:
            return delete_topic(image, self.rng.choice(sorted(image.topic_ids)))[0]
        if kind == 7:
            return preferred_leader_changes(image, DEFAULTS)
        return []

    def lag(self):
        seat = self.ctl[self.rng.choice(VOTERS)].seat
        seat.catch_up(seat.applied + self.rng.randint(0, 3))

    def notice_deposed(self):
        for c in self.ctl.values():
            if c.epoch is not None and (c.epoch != self.raft.term or self.raft.leader != c.seat.node_id):
                if self.rng.random() < 0.3:
                    c.epoch = None

    def step(self):
        r = self.rng.random()
        if r < 0.08:
            self.elect()
        elif r < 0.75:
            self.command()
        elif r < 0.9:
            self.lag()
        else:
            self.now += self.rng.choice((100, 500, 4000))
        self.notice_deposed()
        self.check()

    # -- invariants ------------------------------------------------------------------
    def check(self):
        for node, c in self.ctl.items():
            seat = c.seat
            image = seat.state_machine.image
            # the image is exactly the replay of the committed prefix it has applied
            assert self._replayed(seat.applied) == image, f"node {node} image differs from replay"
            # one active controller per controller epoch, across nodes and time
            if image.controller_epoch:
                first = self.leader_of_epoch.setdefault(image.controller_epoch, image.controller_id)
                assert first == image.controller_id
            # epochs never go back on a node
            seen = self.last_seen[node]
            self._monotonic(seen, ("controller",), image.controller_epoch)
            for b in image.brokers.values():
                self._monotonic(seen, ("broker", b.broker_id), b.broker_epoch)
            for topic, index, part in image.all_partitions():
                key = (topic.topic_id, index)
                self._monotonic(seen, ("leader_epoch",) + key, part.leader_epoch)
                self._monotonic(seen, ("partition_epoch",) + key, part.partition_epoch)
                assert set(part.isr) <= set(part.replicas) and set(part.elr) <= set(part.replicas)
                assert (part.isr or part.elr or part.last_known_elr) and not set(part.isr) & set(part.elr)
                assert not part.last_known_elr or not (part.isr or part.elr)
                assert part.leader == NO_LEADER or part.leader in part.isr
                if part.leader != NO_LEADER:
                    owner = self.partition_leaders.setdefault(key + (part.leader_epoch,), part.leader)
                    assert owner == part.leader, f"two leaders for {key} epoch {part.leader_epoch}"
        assert self.stale_accepted == 0

    def _replayed(self, length: int):
        """The image a fresh node gets by replaying the first `length` log entries."""
        while len(self.reference_images) <= length:
            self.reference.apply(self.raft.log[len(self.reference_images) - 1])
            self.reference_images.append(self.reference.image)
        return self.reference_images[length]

    @staticmethod
    def _monotonic(seen, key, value):
        assert value >= seen.get(key, value), f"{key} went back from {seen[key]} to {value}"
        seen[key] = value


@pytest.mark.parametrize("seed", range(30))
def test_simulated_controllers_keep_the_invariants(seed):
    sim = Simulation(seed)
    sim.elect()
    for _ in range(250):
        sim.step()
    for c in sim.ctl.values():
        c.seat.catch_up()
    sim.check()
    # every node converged on the same image
    first, *rest = [c.seat.state_machine.image for c in sim.ctl.values()]
    assert all(image == first for image in rest)


def test_the_simulation_does_exercise_stale_proposals():
    """Guard against a simulation that never reaches the interesting cases."""
    stale = elections = topics = fenced = 0
    for seed in range(30):
        sim = Simulation(seed)
        sim.elect()
        for _ in range(250):
            sim.step()
        stale += sim.stale_proposals
        elections += sim.raft.term
        image = sim.ctl[1].seat.state_machine.image
        topics += len(image.topics)
        fenced += sum(1 for b in image.brokers.values() if b.fenced)
    assert stale > 20 and elections > 100 and topics > 30 and fenced > 5
