"""A group changing kind (KIP-848's online upgrade and downgrade), after Kafka 4's
ConsumerGroup.fromClassicGroup / convertToClassicGroup. Pure.

Upgrade: the first KIP-848 member of a non-empty classic group whose members all speak
the consumer protocol turns it into a consumer group. Each classic member carries over
as a classic member of it, its epoch the classic generation and its current partitions
both its assignment and its target, so that nothing moves until the new member's
arrival moves the group epoch; then each rejoins (its Heartbeat answers
REBALANCE_IN_PROGRESS) and is reconciled like any classic member.

Downgrade: when the last KIP-848 member has left and only classic members remain, the
group turns back into a classic one: the members keep their partitions, and a rebalance
starts that they rejoin as known members.

Which directions are allowed is group.consumer.migration.policy (Kafka's values); a
group converts only if its members fit the other kind's size limit (group.max.size,
group.consumer.max.size).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum

from kraft.groups.classic_group import ClassicGroup
from kraft.groups.consumer_group import ClassicProtocol, ConsumerGroup, GroupConfig, Member
from kraft.groups.group_events import GroupState
from kraft.groups.group_member import GroupConfig as ClassicGroupConfig
from kraft.groups.group_member import Member as ClassicMember

CONSUMER_PROTOCOL = "consumer"


class MigrationPolicy(Enum):
    DISABLED = "disabled"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    BIDIRECTIONAL = "bidirectional"

    @property
    def upgrades(self) -> bool:
        return self in (MigrationPolicy.UPGRADE, MigrationPolicy.BIDIRECTIONAL)

    @property
    def downgrades(self) -> bool:
        return self in (MigrationPolicy.DOWNGRADE, MigrationPolicy.BIDIRECTIONAL)


def upgrade_refusal(classic: ClassicGroup, consumer_max_size: int = 2**31 - 1) -> str | None:
    """Why the classic group cannot convert now; None when it can."""
    members = [classic.member(mid) for mid in classic.members]
    if not members:
        return "it has no members"
    if len(members) > consumer_max_size:  # as Kafka: it would be over the consumer group limit
        return f"its {len(members)} members are more than group.consumer.max.size ({consumer_max_size})"
    if any(m.protocol_type != CONSUMER_PROTOCOL for m in members):
        return f"its members use protocol type {classic.protocol_type!r}, not the consumer protocol"
    if classic.state is not GroupState.STABLE:
        return "it is rebalancing; retry"
    return None


def consumer_group_from_classic(classic: ClassicGroup, config: GroupConfig, new_member_id: Callable[[], str],
                                topics: Mapping[str, int], now_ms: int) -> ConsumerGroup:
    """The consumer group a Stable classic group becomes (module docstring)."""
    group = ConsumerGroup(classic.group_id, config, new_member_id)
    generation = classic.generation
    for mid in classic.members:
        m = classic.member(mid)
        assigned = frozenset(classic.assignment_of(mid))
        group.members[mid] = Member(
            member_id=mid, instance_id=m.group_instance_id, client_id=m.client_id,
            topic_names=tuple(sorted(m.topics)), rebalance_timeout_ms=m.rebalance_timeout_ms,
            epoch=generation, assigned=assigned, last_sent=assigned, last_seen_ms=now_ms,
            classic=ClassicProtocol(m.session_timeout_ms,
                                    tuple((name, m.metadata.get(name, b"")) for name in m.protocols)))
        group.target[mid] = assigned
    group.topics_changed(topics)  # what the members subscribe to now
    group.group_epoch = group.assignment_epoch = generation
    return group


def classic_group_from_consumer(group: ConsumerGroup, partitions: Mapping[str, int], member_id_prefix: str,
                                now_ms: int, config: ClassicGroupConfig | None = None) -> ClassicGroup:
    """The classic group a consumer group of classic members only becomes."""
    members = []
    for m in group.members.values():
        assert m.classic is not None, "only classic members convert back"
        members.append(ClassicMember(
            m.member_id, m.client_id, m.classic.session_timeout_ms, m.rebalance_timeout_ms,
            tuple(name for name, _ in m.classic.protocols), frozenset(m.topic_names), now_ms, CONSUMER_PROTOCOL,
            dict(m.classic.protocols), group_instance_id=m.instance_id, carried_generation=m.epoch))
    classic = ClassicGroup(group.group_id, partitions, config, member_id_prefix=member_id_prefix, relay=True)
    classic.take_over(members, {m.member_id: tuple(sorted(m.owns())) for m in group.members.values()},
                      group.group_epoch, now_ms)
    return classic
