"""The active controller folds the commands waiting in its queue into one metadata entry,
and does not fence brokers for its own stalls.

Driven through the real QuorumController on the in-memory quorum: many concurrent topic
creates cost a few log entries instead of one each, every caller gets its own answer,
and an answer that rested on an earlier command of the same batch is never given when
that batch fails to commit.
"""

from __future__ import annotations

import asyncio

import pytest

from kraft.config.topic_configs import DEFAULT_TOPIC_CONFIGS
from kraft.controller.commands import build_command
from kraft.controller.quorum_controller import DUTY_PERIOD_S, QuorumController
from kraft.errors import ConcurrentMetadataChange, TopicAlreadyExists
from kraft.metadata.records import BecomeController, MetadataBatch, encode_batch
from kraft.quorum.memory import MemoryRaft

DEFAULTS = {**DEFAULT_TOPIC_CONFIGS, "num.partitions": "1", "replication.factor": "3"}


class Running:
    """Node 1's controller, active, with brokers 1-3 registered and unfenced."""

    def __init__(self, session_timeout_ms: int = 60_000):
        self.now = 1000.0  # the controller's clock, moved by the test
        self.raft = MemoryRaft((1, 2, 3))
        self.seat = self.raft.seat(1)
        self.controller = QuorumController(self.seat, 1, DEFAULTS, session_timeout_ms=session_timeout_ms,
                                           clock=lambda: self.now)

    async def __aenter__(self):
        self.raft.elect(1)
        self.task = asyncio.create_task(self.controller.run())
        for _ in range(200):
            if self.controller.active:
                break
            await asyncio.sleep(0.01)
        assert self.controller.active
        for b in (1, 2, 3):
            reg = await self.call("register", {"broker_id": b, "incarnation_id": f"i{b}",
                                               "host": "127.0.0.1", "http_port": 9000 + b,
                                               "roles": ["broker"]})
            await self.call("heartbeat", {"broker_id": b, "broker_epoch": reg["broker_epoch"],
                                          "metadata_offset": 10**6})
        return self

    async def __aexit__(self, *exc):
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task

    def call(self, op: str, payload: dict):
        return self.controller.submit(build_command(op, payload, self.controller, DEFAULTS))

    def heartbeat(self, broker_id: int):
        """A heartbeat as the controller link sends it: answered at once when it changes nothing."""
        payload = {"broker_id": broker_id, "metadata_offset": 10**6,
                   "broker_epoch": self.seat.state_machine.image.brokers[broker_id].broker_epoch}
        return self.call("heartbeat", payload)

    def create(self, name: str):
        return self.call("create_topic", {"name": name})


async def test_concurrent_creates_share_entries_and_all_land():
    async with Running() as r:
        before = len(r.raft.log)
        answers = await asyncio.gather(*(r.create(f"t{i}") for i in range(40)))
        entries = len(r.raft.log) - before
        image = r.seat.state_machine.image
    assert len(answers) == 40
    assert all(a["topic_id"] for a in answers)
    assert sorted(image.topic_ids) == sorted(f"t{i}" for i in range(40))
    # 40 commands, one entry per batch (a duty may add one of its own)
    assert entries <= 3, entries
    assert {a["metadata_offset"] for a in answers} <= {e + before for e in range(1, entries + 1)}


async def test_same_name_twice_in_one_batch_creates_it_once():
    async with Running() as r:
        answers = await asyncio.gather(r.create("dup"), r.create("dup"), return_exceptions=True)
        image = r.seat.state_machine.image
    errors = [a for a in answers if isinstance(a, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], TopicAlreadyExists)
    assert list(image.topic_ids) == ["dup"]
    assert len(image.topic("dup").partitions) == 1


async def test_an_answer_resting_on_a_failed_batch_is_a_retriable_error():
    async with Running() as r:
        # Another controller took over in the log; node 1 has not noticed yet, so its
        # next batch is stamped with a stale epoch and refused when applied.
        newer = r.controller.epoch + 1
        r.raft.append(encode_batch(MetadataBatch(
            controller_epoch=newer, records=(BecomeController(controller_id=2, controller_epoch=newer),))))
        answers = await asyncio.gather(r.create("x"), r.create("x"), return_exceptions=True)
        image = r.seat.state_machine.image
    # The duplicate's "already exists" rested on the first create, which never committed:
    # both callers are told to retry, nobody is told the topic exists.
    assert all(isinstance(a, ConcurrentMetadataChange) for a in answers), answers
    assert "x" not in image.topic_ids


def fenced(r: Running) -> list[int]:
    return sorted(b.broker_id for b in r.seat.state_machine.image.brokers.values() if b.fenced)


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
async def test_a_stalled_controller_does_not_fence_brokers_for_its_own_stall():
    async with Running(session_timeout_ms=3000) as r:
        assert fenced(r) == []
        r.now += 10  # the controller process was stuck 10 s: no heartbeat could be read
        await asyncio.sleep(DUTY_PERIOD_S * 4)
        assert fenced(r) == []
        # Silence on a clock that moves normally still ends a session.
        for _ in range(20):
            r.now += 0.4
            await asyncio.sleep(DUTY_PERIOD_S * 1.5)
        assert fenced(r) == [1, 2, 3]


async def test_a_steady_heartbeat_is_answered_while_a_batch_waits_for_its_commit():
    """Behind a catch-up's batches of ISR changes a heartbeat's answer waited seconds for
    commits it has nothing to do with, and its broker counted itself cut off."""
    async with Running() as r:
        await r.call("register", {"broker_id": 4, "incarnation_id": "i4", "host": "127.0.0.1",
                                  "http_port": 9004, "roles": ["broker"]})  # fenced until it heartbeats
        gate = asyncio.Event()
        propose = r.seat.propose

        async def slow_commit(batch_json: str, timeout_s: float):
            await gate.wait()
            return await propose(batch_json, timeout_s)
        r.seat.propose = slow_commit
        create = asyncio.create_task(r.create("behind"))
        await asyncio.sleep(0.05)  # its batch is proposing
        offset = r.seat.state_machine.image.offset
        steady = await asyncio.wait_for(r.heartbeat(1), 2)
        assert steady == {"fenced": False, "metadata_offset": offset}
        unfencing = asyncio.create_task(r.heartbeat(4))  # it needs a record: it waits its turn
        await asyncio.sleep(0.05)
        assert not create.done() and not unfencing.done()
        gate.set()
        await create
        assert (await unfencing)["fenced"] is False
        assert 4 not in fenced(r)
