"""The cluster's state: topics, partitions and offsets; what stands in the way for now
(retriable: leaders, replicas, the controller); leader elections (KIP-460) and the
controller quorum's voters (KIP-853)."""

from __future__ import annotations

from kraft.errors.base import KraftError, RequestError, RetriableError
from kraft.errors.request import InvalidValue, NotFound


class UnknownTopicOrPartition(KraftError):
    kafka_name, kafka_code = "UNKNOWN_TOPIC_OR_PARTITION", 3


class TopicNotFound(UnknownTopicOrPartition):
    pass


class PartitionNotFound(UnknownTopicOrPartition):
    pass


class TopicAlreadyExists(KraftError):
    kafka_name, kafka_code = "TOPIC_ALREADY_EXISTS", 36


class OffsetOutOfRange(KraftError):
    """An offset outside [log start, log end] (or, for readers, the high watermark)."""

    kafka_name, kafka_code = "OFFSET_OUT_OF_RANGE", 1

    def __init__(self, message: str, offset: int | None = None,
                 log_start_offset: int | None = None, log_end_offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset

    @classmethod
    def outside(cls, offset: int, start: int, end: int) -> OffsetOutOfRange:
        return cls(f"offset {offset} is out of range: valid offsets are [{start}, {end}] "
                   "(log end included, reads there are empty)", offset, start, end)


class NotLeaderOrFollower(RetriableError):
    """This broker does not lead the partition (now)."""

    kafka_name, kafka_code = "NOT_LEADER_OR_FOLLOWER", 6


class LeaderNotAvailable(RetriableError):
    """Offline partition, or a new leader whose high watermark is still catching up."""

    kafka_name, kafka_code = "LEADER_NOT_AVAILABLE", 5


class NotEnoughReplicas(RetriableError):
    """acks=all refused before appending: ISR smaller than min.insync.replicas."""

    kafka_name, kafka_code = "NOT_ENOUGH_REPLICAS", 19


class OutcomeUnknown(RetriableError):
    """Timed out after the request may have taken effect: it may or may not survive.
    Never a definite failure; a retry may apply it twice unless it is idempotent."""

    kafka_name, kafka_code = "REQUEST_TIMED_OUT", 7


class MetadataNotReady(RetriableError):
    """This node's metadata image has not caught up with what the request needs."""

    kafka_name, kafka_code = "LEADER_NOT_AVAILABLE", 5


class BrokerNotAvailable(RetriableError):
    """No (registered, unfenced) broker can serve this now."""

    kafka_name, kafka_code = "BROKER_NOT_AVAILABLE", 8


class CoordinatorLoadInProgress(RetriableError):
    kafka_name, kafka_code = "COORDINATOR_LOAD_IN_PROGRESS", 14


class CoordinatorNotAvailable(RetriableError):
    kafka_name, kafka_code = "COORDINATOR_NOT_AVAILABLE", 15


class NotCoordinator(RetriableError):
    kafka_name, kafka_code = "NOT_COORDINATOR", 16


class NotController(RetriableError):
    """This node is not (or no longer) the active controller."""

    kafka_name, kafka_code = "NOT_CONTROLLER", 41


class ConcurrentMetadataChange(RetriableError):
    """The controller's compare-and-set missed: the metadata changed under the request."""

    kafka_name, kafka_code = "NOT_CONTROLLER", 41


class NoActiveController(RetriableError):
    """No controller quorum answered: metadata cannot change now."""

    kafka_name, kafka_code = "NOT_CONTROLLER", 41


class IneligibleReplica(RetriableError):
    """A replica that is fenced or shutting down (or registered again since it fetched)
    cannot join the ISR; `brokers` names which."""

    kafka_name, kafka_code = "INELIGIBLE_REPLICA", 107

    def __init__(self, message: str = "", brokers: list[int] | None = None) -> None:
        super().__init__(message)
        self.brokers = list(brokers or [])


class FencedLeaderEpoch(RetriableError):
    """A request made in a leader epoch that has ended: a fenced leader."""

    kafka_name, kafka_code = "FENCED_LEADER_EPOCH", 74


class InvalidUpdateVersion(RetriableError):
    """A partition change based on a stale partition epoch."""

    kafka_name, kafka_code = "INVALID_UPDATE_VERSION", 95


class StaleBrokerEpoch(KraftError):
    """The broker must register again: its registration was replaced."""

    kafka_name, kafka_code = "STALE_BROKER_EPOCH", 77


class ElectionNotNeeded(KraftError):
    """The partition already has the leader the election would choose."""

    kafka_name, kafka_code = "ELECTION_NOT_NEEDED", 84


class PreferredLeaderNotAvailable(RetriableError):
    """The preferred (first) replica is not alive and in sync: it cannot lead now."""

    kafka_name, kafka_code = "PREFERRED_LEADER_NOT_AVAILABLE", 80


class EligibleLeadersNotAvailable(RetriableError):
    """No live replica may lead the partition, not even by an unclean election."""

    kafka_name, kafka_code = "ELIGIBLE_LEADERS_NOT_AVAILABLE", 83


class DuplicateVoter(InvalidValue):
    """The node is a voter already, or another voter has its Raft address."""

    kafka_name, kafka_code = "DUPLICATE_VOTER", 126


class VoterNotFound(NotFound):
    kafka_name, kafka_code = "VOTER_NOT_FOUND", 127


class VoterChangeRefused(RequestError):
    """The change would stop the quorum (too few voters up and caught up after it, or
    no voter left), or the node to add is not following the quorum as an observer."""


class VoterChangeNotNow(RetriableError):
    """Another voter change is not yet committed, the observer to add has not caught up,
    or leadership could not be handed on in time: retry."""

    kafka_name, kafka_code = "REQUEST_TIMED_OUT", 7
