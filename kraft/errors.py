"""Every error a client can be answered with: one class per condition.

Each class carries Kafka's name and numeric error code for the condition (what the
Kafka protocol listener puts on the wire) and whether a client may retry. The HTTP API
maps the same classes to REST status and error code in one table,
`kraft.api.error_map`. Nothing matches on message text: callers test the class.

The lowest layer: it imports nothing of kraft.
"""

from __future__ import annotations

# An HTTP client (another node, or a bundled client) that sends this header gets the
# error's class name in the answer ("error_class"), and tells conditions apart by it.
ERROR_CLASS_HEADER = "X-Kraft-Error-Class"


class KraftError(Exception):
    kafka_name = "UNKNOWN_SERVER_ERROR"
    kafka_code = -1
    retriable = False

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


# -- the request itself (the client's fault; HTTP only, INVALID_REQUEST on the wire) ----
class RequestError(KraftError):
    kafka_name, kafka_code = "INVALID_REQUEST", 42


class BadRequest(RequestError):
    """Malformed request: bad JSON, missing or mistyped field, bad parameter."""


class NotFound(RequestError):
    """No such endpoint or resource (other than topics, partitions, instances)."""


class AlreadyRunning(RequestError):
    """Something that runs one at a time runs already (a failure-lab run: its own error,
    kraft/console/lab_runs.py)."""


class MethodNotAllowed(RequestError):
    pass


class NotAcceptable(RequestError):
    pass


class FormatMismatch(RequestError):
    """The Accept header's format is not the consumer instance's."""


class PayloadTooLarge(RequestError):
    """A request body over the node's cap."""


class UnsupportedMediaType(RequestError):
    pass


class EmptyBody(RequestError):
    pass


class Unauthorized(RequestError):
    """An internal endpoint called without the cluster secret."""

    kafka_name, kafka_code = "CLUSTER_AUTHORIZATION_FAILED", 31


class AuthenticationFailed(RequestError):
    """No credentials, or wrong ones. The message never says whether the user exists."""

    kafka_name, kafka_code = "SASL_AUTHENTICATION_FAILED", 58


class AuthorizationFailed(RequestError):
    """An ACL denies the principal this operation (deny wins; no ACL may mean deny)."""

    kafka_name, kafka_code = "CLUSTER_AUTHORIZATION_FAILED", 31


class TopicAuthorizationFailed(AuthorizationFailed):
    kafka_name, kafka_code = "TOPIC_AUTHORIZATION_FAILED", 29


class GroupAuthorizationFailed(AuthorizationFailed):
    kafka_name, kafka_code = "GROUP_AUTHORIZATION_FAILED", 30


class TransactionalIdAuthorizationFailed(AuthorizationFailed):
    kafka_name, kafka_code = "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", 53


class InvalidValue(RequestError):
    """Well-formed request, unacceptable value (bad name, RF too large, unknown config)."""


class InvalidTopic(InvalidValue):
    """A name no client may use here: an internal topic written by a client."""

    kafka_name, kafka_code = "INVALID_TOPIC_EXCEPTION", 17


class InvalidPartitions(InvalidValue):
    kafka_name, kafka_code = "INVALID_PARTITIONS", 37


class InvalidReplicationFactor(InvalidValue):
    kafka_name, kafka_code = "INVALID_REPLICATION_FACTOR", 38


class ReplicationFactorChange(InvalidReplicationFactor):
    """A reassignment to a replica set of another size, from a request that allows none
    (AlterPartitionReassignments v1, KIP-860)."""


class BrokerNotFound(NotFound):
    """No broker of that id is registered (nor being decommissioned)."""

    kafka_name, kafka_code = "BROKER_ID_NOT_REGISTERED", 102


class DecommissionRefused(InvalidReplicationFactor):
    """The cluster cannot do without the broker: the others could not hold some topic's
    replication factor, it is the last broker, or (recommission) it is not leaving."""


class RebalanceInProgress(RequestError):
    """A rebalance is already running: cancel it (or let it finish) before another."""

    kafka_name, kafka_code = "REASSIGNMENT_IN_PROGRESS", 60


class BrokerDecommissioned(KraftError):
    """A registration refused: the broker was decommissioned (recommission it first)."""

    kafka_name, kafka_code = "BROKER_ID_NOT_REGISTERED", 102


class InvalidConfig(InvalidValue):
    kafka_name, kafka_code = "INVALID_CONFIG", 40


class ReadOnlyBrokerConfig(InvalidValue):
    """A broker setting that does not change live (cluster.toml's), as Kafka refuses a
    non-dynamic broker config: INVALID_REQUEST."""

    kafka_name, kafka_code = "INVALID_REQUEST", 42


class PolicyViolation(InvalidValue):
    """A topic's settings forbid the request (DeleteRecords on a compacted-only topic)."""

    kafka_name, kafka_code = "POLICY_VIOLATION", 44


class InvalidReplicaAssignment(InvalidValue):
    """A manual replica assignment that cannot be: unknown or repeated brokers, partitions
    not numbered 0..n-1, replica lists of different lengths."""

    kafka_name, kafka_code = "INVALID_REPLICA_ASSIGNMENT", 39


class InvalidRecord(InvalidValue):
    """Records a topic refuses (KIP-467): e.g. a record without a key on a compacted
    topic. The whole batch is refused; ``record_errors`` names each record, by its
    index in the batch (in the request, for REST), with why."""

    kafka_name, kafka_code = "INVALID_RECORD", 87

    def __init__(self, message: str, record_errors: tuple[tuple[int, str], ...] = ()) -> None:
        super().__init__(message)
        self.record_errors = record_errors


class InvalidAcl(RequestError):
    """An ACL binding that cannot exist (bad enum, CLUSTER name other than kafka-cluster)."""


class TooManyRecords(RequestError):
    """More records in one request than a node takes at once."""

    kafka_name, kafka_code = "RECORD_LIST_TOO_LARGE", 18


class BodyTimeout(RequestError):
    """The client did not send its whole request body in time."""


class Overloaded(KraftError):
    """The node holds as many request bodies as it may: retry later."""

    kafka_name, kafka_code = "THROTTLING_QUOTA_EXCEEDED", 89
    retriable = True


class QuotaExceeded(Overloaded):
    """A client over one of its quotas (Kafka's client quotas): retry after `retry_after_s`."""

    def __init__(self, message: str = "", retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnsupportedMessageFormat(RequestError):
    """A batch of an older format (magic 0/1), or a batch feature this broker does not serve."""

    kafka_name, kafka_code = "UNSUPPORTED_FOR_MESSAGE_FORMAT", 43


class MessageTooLarge(KraftError):
    """A batch larger than the topic's max.message.bytes."""

    kafka_name, kafka_code = "MESSAGE_TOO_LARGE", 10


# -- topics, partitions, offsets --------------------------------------------------------
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


# -- retriable: the cluster's state, not the request, is in the way -----------------------
class RetriableError(KraftError):
    retriable = True


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
    """A replica that is fenced or shutting down cannot join the ISR."""

    kafka_name, kafka_code = "INELIGIBLE_REPLICA", 107


class FencedLeaderEpoch(RetriableError):
    """A request made in a leader epoch that has ended: a fenced leader."""

    kafka_name, kafka_code = "FENCED_LEADER_EPOCH", 74


class InvalidUpdateVersion(RetriableError):
    """A partition change based on a stale partition epoch."""

    kafka_name, kafka_code = "INVALID_UPDATE_VERSION", 95


class StaleBrokerEpoch(KraftError):
    """The broker must register again: its registration was replaced."""

    kafka_name, kafka_code = "STALE_BROKER_EPOCH", 77


# -- consumer instances (REST Proxy v2) ---------------------------------------------------
class ConsumerInstanceNotFound(KraftError):
    kafka_name, kafka_code = "UNKNOWN_MEMBER_ID", 25


class UserAlreadyExists(KraftError):
    kafka_name, kafka_code = "DUPLICATE_RESOURCE", 92


# -- consumer groups (admin) --------------------------------------------------------------
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


# -- leader elections (KIP-460) -----------------------------------------------------------
class ElectionNotNeeded(KraftError):
    """The partition already has the leader the election would choose."""

    kafka_name, kafka_code = "ELECTION_NOT_NEEDED", 84


class PreferredLeaderNotAvailable(RetriableError):
    """The preferred (first) replica is not alive and in sync: it cannot lead now."""

    kafka_name, kafka_code = "PREFERRED_LEADER_NOT_AVAILABLE", 80


class EligibleLeadersNotAvailable(RetriableError):
    """No live replica may lead the partition, not even by an unclean election."""

    kafka_name, kafka_code = "ELIGIBLE_LEADERS_NOT_AVAILABLE", 83


# -- SCRAM credentials through the Kafka admin API -----------------------------------------
class UnacceptableCredential(InvalidValue):
    """A credential kraft will not store (too few or too many iterations, no salt, no name)."""

    kafka_name, kafka_code = "UNACCEPTABLE_CREDENTIAL", 93


class UnsupportedSaslMechanism(InvalidValue):
    kafka_name, kafka_code = "UNSUPPORTED_SASL_MECHANISM", 33


class CredentialNotFound(NotFound):
    """A user, or a user's credential of one mechanism, that does not exist."""

    kafka_name, kafka_code = "RESOURCE_NOT_FOUND", 91


class DuplicateResource(InvalidValue):
    """One request names the same user twice."""

    kafka_name, kafka_code = "DUPLICATE_RESOURCE", 92


# -- the controller quorum (KIP-853) ------------------------------------------------------
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


class ConsumerInstanceExists(KraftError):
    kafka_name, kafka_code = "INVALID_REQUEST", 42


class ConsumerConflict(KraftError):
    """The instance's or group's state forbids it: mixing subscribe and assign, a commit
    from a member the group no longer knows or for a partition it does not own."""

    kafka_name, kafka_code = "ILLEGAL_GENERATION", 22


class FencedInstanceId(ConsumerConflict):
    """A static member's replaced process (KIP-345): another process joined with its
    group.instance.id."""

    kafka_name, kafka_code = "FENCED_INSTANCE_ID", 82


# -- idempotent producers -----------------------------------------------------------------
class ProducerSequenceError(KraftError):
    """An idempotent producer's batch that must not be appended (the producer's fault).
    The message starts with the name REST answers show (`shown_name`, Kafka's name
    unless said otherwise); ``detail`` is the rest."""

    shown_name = ""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.shown_name or self.kafka_name}: {detail}")
        self.detail = detail


class OutOfOrderSequence(ProducerSequenceError):
    """A gap or overlap in a producer's sequence numbers (not a retry of a known batch)."""

    kafka_name, kafka_code = "OUT_OF_ORDER_SEQUENCE_NUMBER", 45


class UnknownProducerId(OutOfOrderSequence):
    """A producer this partition has no batch of sent a sequence other than 0: the
    partition forgot it (retention) or never saw it; the producer starts over."""

    kafka_name, kafka_code = "UNKNOWN_PRODUCER_ID", 59
    shown_name = "OUT_OF_ORDER_SEQUENCE_NUMBER"  # what REST answers have always said


class InvalidProducerEpoch(ProducerSequenceError):
    """A producer epoch older than one that has already written to the partition."""

    kafka_name, kafka_code = "INVALID_PRODUCER_EPOCH", 47


# -- transactions (KIP-98) ----------------------------------------------------------------
class TransactionError(KraftError):
    """A transactional request the coordinator or a partition refuses (the client's
    state or fault, not the cluster's)."""


class InvalidTxnState(TransactionError):
    """The transaction is in no state for this request: a produce to a partition not
    added to it, EndTxn with no open transaction, a non-transactional write from a
    producer whose transaction is open."""

    kafka_name, kafka_code = "INVALID_TXN_STATE", 48


class PartitionNotInTransaction(InvalidTxnState):
    """A transactional batch for a partition its transaction does not hold (KIP-890's
    check). INVALID_TXN_STATE to older clients; Produce v11+ answers it
    TRANSACTION_ABORTABLE, which tells the client to abort and go on."""


class InvalidProducerIdMapping(TransactionError):
    """The producer id does not belong to the transactional id."""

    kafka_name, kafka_code = "INVALID_PRODUCER_ID_MAPPING", 49


class InvalidTransactionTimeout(TransactionError):
    """transaction.timeout.ms is not positive or exceeds transaction.max.timeout.ms."""

    kafka_name, kafka_code = "INVALID_TRANSACTION_TIMEOUT", 50


class ConcurrentTransactions(TransactionError):
    """The previous transaction of this id is still completing (markers being written)."""

    kafka_name, kafka_code = "CONCURRENT_TRANSACTIONS", 51
    retriable = True


class TransactionCoordinatorFenced(TransactionError):
    """A marker from a coordinator epoch older than one the partition has seen."""

    kafka_name, kafka_code = "TRANSACTION_COORDINATOR_FENCED", 52


class ProducerFenced(TransactionError):
    """Another producer with the same transactional id has a newer epoch."""

    kafka_name, kafka_code = "PRODUCER_FENCED", 90


class TransactionalIdNotFound(TransactionError):
    """No transaction state for this transactional id."""

    kafka_name, kafka_code = "TRANSACTIONAL_ID_NOT_FOUND", 105


class UnstableOffsetCommit(TransactionError):
    """A transactional offset commit for this partition awaits its marker (require_stable)."""

    kafka_name, kafka_code = "UNSTABLE_OFFSET_COMMIT", 88
    retriable = True


# -- storage ----------------------------------------------------------------------------
class StorageError(KraftError):
    """The partition log refused or failed an operation."""


class RecordBatchError(StorageError, ValueError):
    """The bytes are not a usable RecordBatch v2 (the sender's or the disk's fault)."""

    kafka_name, kafka_code = "CORRUPT_MESSAGE", 2


class CorruptBatchError(RecordBatchError):
    """CRC mismatch, impossible length, wrong magic or malformed record."""


class UnsupportedCompressionError(RecordBatchError):
    """The batch is compressed with a codec this log cannot decode."""

    kafka_name, kafka_code = "UNSUPPORTED_COMPRESSION_TYPE", 76


class InvalidAppend(StorageError):
    """An append the log must refuse (e.g. a gap in follower offsets)."""

    kafka_name, kafka_code = "INVALID_RECORD", 87


class StaleLeaderEpoch(InvalidAppend):
    """A leader append carried an epoch older than the log's latest: a fenced leader."""

    kafka_name, kafka_code = "FENCED_LEADER_EPOCH", 74


class LogClosed(StorageError):
    """The log was closed; the caller holds a stale handle."""

    kafka_name, kafka_code = "KAFKA_STORAGE_ERROR", 56
    retriable = True


class DamagedLog(RetriableError, StorageError):
    """Stored batches failed their checks (CRC, length, offsets): they are never served.
    Retriable: leadership moves to a healthy replica, or this one repairs itself."""

    kafka_name, kafka_code = "KAFKA_STORAGE_ERROR", 56


class LogDirFailed(RetriableError, StorageError):
    """The node's data directory takes no writes (disk full, read-only, failing)."""

    kafka_name, kafka_code = "KAFKA_STORAGE_ERROR", 56


class StorageUnavailable(RetriableError, StorageError):
    """A write failed for want of something that comes back (no file descriptor or memory
    left): nothing was stored, the data dir stays in service; retry."""

    kafka_name, kafka_code = "KAFKA_STORAGE_ERROR", 56


class UnknownServerError(KraftError):
    """A bug or an answer kraft cannot classify: the message says what failed; never used
    for bad input."""


def all_error_classes() -> dict[str, type[KraftError]]:
    """Every error class by name, so a node can rebuild one another node answered."""
    found: dict[str, type[KraftError]] = {KraftError.__name__: KraftError}
    todo = [KraftError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.setdefault(sub.__name__, sub)
            todo.append(sub)
    return found


def error_from_name(name: str | None, message: str) -> KraftError:
    """Rebuild an error answered by another node (it names the class), keeping its kind:
    an unknown outcome stays unknown, a refusal stays a refusal."""
    cls = all_error_classes().get(name or "", UnknownServerError)
    if cls is OffsetOutOfRange:
        return OffsetOutOfRange(message)
    if issubclass(cls, ProducerSequenceError):
        err = cls.__new__(cls)
        KraftError.__init__(err, message)
        err.detail = message.partition(": ")[2]
        return err
    return cls(message)


class InconsistentGroupProtocol(ConsumerConflict):
    """A classic member (JoinGroup, a REST instance) for a group of KIP-848 consumers, as
    Kafka refuses it."""

    kafka_name, kafka_code = "INCONSISTENT_GROUP_PROTOCOL", 23
