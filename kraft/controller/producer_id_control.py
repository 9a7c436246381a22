"""Producer id blocks for idempotent produce (Kafka's AllocateProducerIds). Pure.

A broker asks for a block and hands ids out of it locally; each block is one
ProducerIds record moving the cluster's next id forward, so no id is ever given
twice, even when a request times out and its block is never used (ids are cheap).
"""

from __future__ import annotations

from kraft.controller.result import ControllerResult
from kraft.errors import StaleBrokerEpoch
from kraft.metadata.image import MetadataImage
from kraft.metadata.records import ProducerIds

BLOCK_SIZE = 1000


def allocate_producer_ids(image: MetadataImage, broker_id: int, broker_epoch: int,
                          block_size: int = BLOCK_SIZE) -> ControllerResult:
    reg = image.brokers.get(broker_id)
    if reg is None or reg.broker_epoch != broker_epoch:
        raise StaleBrokerEpoch(f"broker {broker_id} epoch {broker_epoch} is not registered")
    first = image.next_producer_id
    record = ProducerIds(broker_id=broker_id, broker_epoch=broker_epoch,
                         next_producer_id=first + block_size)
    return ControllerResult([record], {"first_producer_id": first, "size": block_size})
