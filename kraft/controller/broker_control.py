"""Broker lifecycle commands: register, heartbeat, fence on session expiry, shut down.

Pure: the heartbeat times are soft state the active controller keeps in memory (as
Kafka's BrokerHeartbeatManager does); a new controller gives every broker a fresh
session. Fencing a broker moves its leaderships to ISR members in the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kraft.controller.result import ControllerResult
from kraft.metadata.effective_configs import TopicSettings
from kraft.controller.decommission import refuse_decommissioned
from kraft.controller.partition_change import build_partition_change
from kraft.errors import StaleBrokerEpoch
from collections.abc import Iterable

from kraft.metadata.image import MetadataImage
from kraft.metadata.records import BrokerRegistrationChange, MetadataRecord, PartitionChange, RegisterBroker



@dataclass
class BrokerHeartbeats:
    session_timeout_ms: int
    last_seen_ms: dict[int, int] = field(default_factory=dict)
    metadata_offsets: dict[int, int] = field(default_factory=dict)  # as last reported

    def reset(self, image: MetadataImage, now_ms: int) -> None:
        """A new controller gives every registered broker a full session."""
        self.last_seen_ms = {b: now_ms for b in image.brokers}

    def note_arrival(self, broker_id: int, now_ms: int) -> None:
        """A heartbeat arrived (it may wait in the controller's queue a while): the
        broker is alive now, whatever the queue's delay."""
        if broker_id in self.last_seen_ms:
            self.last_seen_ms[broker_id] = max(self.last_seen_ms[broker_id], now_ms)

    def extend(self, by_ms: int) -> None:
        """The controller could not read heartbeats for `by_ms`: no broker pays for that."""
        self.last_seen_ms = {b: t + by_ms for b, t in self.last_seen_ms.items()}

    def touch(self, broker_id: int, now_ms: int, metadata_offset: int = -1) -> None:
        self.last_seen_ms[broker_id] = now_ms
        self.metadata_offsets[broker_id] = metadata_offset

    def overdue(self, image: MetadataImage, now_ms: int, after_ms: int) -> list[int]:
        """Unfenced brokers silent for more than after_ms (worth checking on)."""
        return [b.broker_id for b in image.brokers.values() if not b.fenced
                and now_ms - self.last_seen_ms.get(b.broker_id, now_ms) > after_ms]

    def expired(self, image: MetadataImage, now_ms: int) -> list[int]:
        return [
            b.broker_id
            for b in image.brokers.values()
            if not b.fenced
            and now_ms - self.last_seen_ms.get(b.broker_id, now_ms) > self.session_timeout_ms
        ]


def register_broker(image: MetadataImage, req: RegisterBroker, defaults: dict[str, str]) -> ControllerResult:
    current = image.brokers.get(req.broker_id)
    if current is not None and current.incarnation_id == req.incarnation_id:
        return ControllerResult([], {"broker_epoch": current.broker_epoch})  # a retried registration
    refuse_decommissioned(image, req.broker_id)
    records: list[MetadataRecord] = [req]
    gone = frozenset({req.broker_id})
    if current is not None:
        # A new incarnation lost the old one's in-memory state, and after an unclean
        # shutdown maybe records too: it leaves leaderships, ISRs, and then ELRs.
        records += leadership_moves(image, defaults, gone,
                                    lost_data=frozenset() if req.clean_shutdown else gone)
    return ControllerResult(records, {"broker_epoch": image.offset + 1})  # the offset this batch will get


def heartbeat(
    image: MetadataImage, hb: BrokerHeartbeats, broker_id: int, broker_epoch: int,
    metadata_offset: int, now_ms: int, defaults: dict[str, str], log_dir_failed: bool = False,
) -> ControllerResult:
    current = image.brokers.get(broker_id)
    if current is None or current.broker_epoch != broker_epoch:
        raise StaleBrokerEpoch(f"broker {broker_id} epoch {broker_epoch} is not registered")
    hb.touch(broker_id, now_ms, metadata_offset)
    if log_dir_failed != current.log_dir_failed:
        return ControllerResult(log_dir_change(image, defaults, broker_id, broker_epoch, log_dir_failed),
                                {"fenced": current.fenced, "metadata_offset": image.offset})
    records: list[MetadataRecord] = []
    # Unfence only a broker that has caught up with metadata as far as its own registration.
    if current.fenced and not current.in_controlled_shutdown and metadata_offset >= broker_epoch:
        records.append(BrokerRegistrationChange(broker_id=broker_id, broker_epoch=broker_epoch,
                                                fenced=False))
        if not current.log_dir_failed:
            records += elections_for_returning(image, defaults, broker_id)
    fenced = current.fenced and not records
    return ControllerResult(records, {"fenced": fenced, "metadata_offset": image.offset})


def steady_heartbeat(image: MetadataImage, hb: BrokerHeartbeats, broker_id: int, broker_epoch: int,
                     metadata_offset: int, now_ms: int, log_dir_failed: bool = False) -> dict[str, Any] | None:
    """The answer to a heartbeat that changes nothing (its broker registered with this
    epoch, unfenced, its data dir as it says), from the committed image; None when the
    heartbeat may need records (`heartbeat` in the controller's queue decides those)."""
    current = image.brokers.get(broker_id)
    if current is None or current.broker_epoch != broker_epoch or current.fenced \
            or current.log_dir_failed != log_dir_failed:
        return None
    hb.touch(broker_id, now_ms, metadata_offset)
    return {"fenced": False, "metadata_offset": image.offset}


def log_dir_change(image: MetadataImage, defaults: dict[str, str], broker_id: int, broker_epoch: int,
                   failed: bool) -> list[BrokerRegistrationChange | PartitionChange]:
    """A broker's data dir failed (Kafka's offline log dir): it leaves every ISR and
    leadership, as a fenced broker does, while it keeps heartbeating; recovered, it may
    lead offline partitions it is in the ISR of, and rejoin the others by fetching."""
    change = BrokerRegistrationChange(broker_id=broker_id, broker_epoch=broker_epoch,
                                      log_dir_failed=failed)
    if failed:
        return [change] + leadership_moves(image, defaults, frozenset({broker_id}))
    broker = image.brokers[broker_id]
    if broker.fenced or broker.in_controlled_shutdown:
        return [change]  # elections wait for its unfencing
    return [change] + elections_for_returning(image, defaults, broker_id)


def fence_expired(image: MetadataImage, hb: BrokerHeartbeats, now_ms: int,
                  defaults: dict[str, str]) -> list[MetadataRecord]:
    expired = hb.expired(image, now_ms)
    if not expired:
        return []
    return fence_brokers(image, defaults, expired)


def fence_brokers(image: MetadataImage, defaults: dict[str, str], broker_ids: Iterable[int],
                  shutdown: bool = False) -> list[MetadataRecord]:
    records: list[MetadataRecord] = []
    for b in broker_ids:
        reg = image.brokers[b]
        records.append(BrokerRegistrationChange(
            broker_id=b, broker_epoch=reg.broker_epoch, fenced=True,
            in_controlled_shutdown=True if shutdown else None))
    records += leadership_moves(image, defaults, frozenset(broker_ids))
    return records


def controlled_shutdown(image: MetadataImage, defaults: dict[str, str], broker_id: int,
                        broker_epoch: int) -> ControllerResult:
    current = image.brokers.get(broker_id)
    if current is None or current.broker_epoch != broker_epoch:
        raise StaleBrokerEpoch(f"broker {broker_id} epoch {broker_epoch} is not registered")
    records = fence_brokers(image, defaults, [broker_id], shutdown=True)
    return ControllerResult(records, {"moved": sum(1 for r in records if isinstance(r, PartitionChange))})


def leadership_moves(image: MetadataImage, defaults: dict[str, str], gone: frozenset[int],
                     lost_data: frozenset[int] = frozenset()) -> list[PartitionChange]:
    """Partition changes that take `gone` brokers out of every ISR and leadership (into
    the ELR where the ISR is below min ISR), and `lost_data` brokers out of the ELR too."""
    out = []
    settings = TopicSettings(image, defaults)
    for topic, index, part in image.all_partitions():
        if not (gone & set(part.isr)) and part.leader not in gone \
                and not (lost_data & set(part.elr)):
            continue
        change = build_partition_change(
            image, topic.topic_id, index, part, unusable=gone, lost_data=lost_data,
            unclean_allowed=settings.unclean(topic.name), min_isr=settings.min_isr(topic.name),
        )
        if change is not None:
            out.append(change)
    return out


def elections_for_returning(image: MetadataImage, defaults: dict[str, str], broker_id: int) -> list[PartitionChange]:
    """Offline partitions that the returning broker can lead (it is not usable yet in
    `image`, so the choice is made as if it were): from the ISR or ELR, or unclean."""
    out = []
    returning = frozenset({broker_id})
    settings = TopicSettings(image, defaults)
    for topic, index, part in image.all_partitions():
        if part.online or broker_id not in part.replicas:
            continue
        change = build_partition_change(
            image, topic.topic_id, index, part, returning=returning,
            unclean_allowed=settings.unclean(topic.name), min_isr=settings.min_isr(topic.name),
        )
        if change is not None and change.leader is not None:
            out.append(change)
    return out

