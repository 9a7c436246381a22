"""The request itself: the client's fault (HTTP only, INVALID_REQUEST on the wire unless a
class names its own Kafka code): malformed or refused input, authentication and
authorization, values out of range, limits and quotas."""

from __future__ import annotations

from kraft.errors.base import KraftError, RequestError


class BadRequest(RequestError):
    """Malformed request: bad JSON, missing or mistyped field, bad parameter."""


class NotFound(RequestError):
    """No such endpoint or resource (other than topics, partitions, instances)."""


class AlreadyRunning(RequestError):
    """Something that runs one at a time runs already (a failure-lab run: its own error,
    kraft/api/console/lab_runs.py)."""


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
