"""Consumer groups and REST consumer instances (REST Proxy v2): unknown, in use or in
conflict."""

from __future__ import annotations

from kraft.errors.base import KraftError
from kraft.errors.request import NotFound


class ConsumerInstanceNotFound(KraftError):
    kafka_name, kafka_code = "UNKNOWN_MEMBER_ID", 25


class GroupIdNotFound(NotFound):
    """No such group here: no member, no committed offset."""

    kafka_name, kafka_code = "GROUP_ID_NOT_FOUND", 69


class NonEmptyGroup(KraftError):
    """The group has members: it cannot be deleted (or, for a protocol whose subscriptions
    cannot be read, lose offsets) until they leave."""

    kafka_name, kafka_code = "NON_EMPTY_GROUP", 68


class GroupSubscribedToTopic(KraftError):
    """OffsetDelete for a topic the group's members consume now."""

    kafka_name, kafka_code = "GROUP_SUBSCRIBED_TO_TOPIC", 86


class ConsumerInstanceExists(KraftError):
    kafka_name, kafka_code = "INVALID_REQUEST", 42


class ConsumerConflict(KraftError):
    """The instance's or group's state forbids it: mixing subscribe and assign, a commit
    from a member the group no longer knows or for a partition it does not own."""

    kafka_name, kafka_code = "ILLEGAL_GENERATION", 22


class RecordNotHeld(ConsumerConflict):
    """A share group acknowledgement of a record the member does not hold (acquired by
    another, never acquired, its lock run out, or already acknowledged)."""

    kafka_name, kafka_code = "INVALID_RECORD_STATE", 121


class FencedInstanceId(ConsumerConflict):
    """A static member's replaced process (KIP-345): another process joined with its
    group.instance.id."""

    kafka_name, kafka_code = "FENCED_INSTANCE_ID", 82


class InconsistentGroupProtocol(ConsumerConflict):
    """A classic member (JoinGroup, a REST instance) for a group of KIP-848 consumers, as
    Kafka refuses it."""

    kafka_name, kafka_code = "INCONSISTENT_GROUP_PROTOCOL", 23
