"""Producer id blocks: the controller command (pure, through the real state machine) and
the broker-side allocator that hands ids out of them."""
from __future__ import annotations

import asyncio

import pytest

from kraft.controller.commands import build_command
from kraft.controller.producer_id_control import BLOCK_SIZE, allocate_producer_ids
from kraft.errors import BadRequest, StaleBrokerEpoch
from kraft.broker.producer_ids import ProducerIdAllocator
from kraft.metadata.image_codec import image_from_dict, image_to_dict
from kraft.metadata.records import BecomeController, MetadataBatch, RegisterBroker, encode_batch
from kraft.metadata.state_machine import MetadataStateMachine


def apply(sm, records):
    result = sm.apply(encode_batch(MetadataBatch(controller_epoch=1, records=tuple(records))))
    return result


def booted() -> MetadataStateMachine:
    sm = MetadataStateMachine()
    assert apply(sm, [BecomeController(controller_id=1, controller_epoch=1)]).ok
    for b in (1, 2):
        assert apply(sm, [RegisterBroker(broker_id=b, incarnation_id=f"i{b}", host="h",
                                         http_port=1)]).ok
    return sm


def test_blocks_never_overlap_and_survive_the_snapshot_codec():
    sm = booted()
    seen = []
    for broker in (1, 2, 1):
        epoch = sm.image.brokers[broker].broker_epoch
        records, response = allocate_producer_ids(sm.image, broker, epoch)
        assert apply(sm, records).ok
        seen.append((response["first_producer_id"], response["size"]))
    assert seen == [(0, BLOCK_SIZE), (BLOCK_SIZE, BLOCK_SIZE), (2 * BLOCK_SIZE, BLOCK_SIZE)]
    assert image_from_dict(image_to_dict(sm.image)).next_producer_id == 3 * BLOCK_SIZE


def test_stale_broker_epoch_is_refused_by_the_command_and_at_replay():
    sm = booted()
    epoch = sm.image.brokers[1].broker_epoch
    with pytest.raises(StaleBrokerEpoch):
        allocate_producer_ids(sm.image, 1, epoch + 100)
    with pytest.raises(StaleBrokerEpoch):
        allocate_producer_ids(sm.image, 9, 0)
    records, _ = allocate_producer_ids(sm.image, 1, epoch)
    assert apply(sm, records).ok
    assert not apply(sm, records).ok  # the same block again does not move forward: rejected


def test_the_rpc_payload_is_validated():
    with pytest.raises(BadRequest, match="allocate_producer_ids: broker_epoch"):
        build_command("allocate_producer_ids", {"broker_id": 1}, None, {})
    with pytest.raises(BadRequest):
        build_command("allocate_producer_ids", {"broker_id": 1, "broker_epoch": 2, "x": 1}, None, {})


def test_allocator_hands_out_a_block_then_asks_for_the_next():
    blocks = iter([{"first_producer_id": 0, "size": 3}, {"first_producer_id": 10, "size": 3}])
    asked = []

    async def request_block():
        asked.append(1)
        await asyncio.sleep(0.01)  # concurrent callers must wait for one request, not each send one
        return next(blocks)

    async def main():
        allocator = ProducerIdAllocator(request_block)
        return await asyncio.gather(*(allocator.next_id() for _ in range(5)))

    assert sorted(asyncio.run(main())) == [0, 1, 2, 10, 11]
    assert len(asked) == 2
