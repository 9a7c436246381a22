"""Every error a client can be answered with: one class per condition.

Each class carries Kafka's name and numeric error code for the condition (what the
Kafka protocol listener puts on the wire) and whether a client may retry. The HTTP API
maps the same classes to REST status and error code in one table,
`kraft.api.error_map`. Nothing matches on message text: callers test the class.

One module per kind of condition (base, request, cluster, groups, credentials,
producers, schemas, storage); every class is importable from `kraft.errors` itself.

The lowest layer: it imports nothing of kraft outside it.
"""

from __future__ import annotations

import functools

from kraft.errors.base import (  # noqa: F401 - kraft.errors names them all
    ERROR_CLASS_HEADER, KraftError, RequestError, RetriableError, UnknownServerError,
)
from kraft.errors.request import (  # noqa: F401 - kraft.errors names them all
    BadRequest, NotFound, AlreadyRunning, MethodNotAllowed, NotAcceptable, FormatMismatch,
    PayloadTooLarge, UnsupportedMediaType, EmptyBody, Unauthorized, AuthenticationFailed,
    AuthorizationFailed, TopicAuthorizationFailed, GroupAuthorizationFailed,
    TransactionalIdAuthorizationFailed, InvalidValue, InvalidTopic, InvalidPartitions,
    InvalidReplicationFactor, ReplicationFactorChange, BrokerNotFound, DecommissionRefused,
    RebalanceInProgress, BrokerDecommissioned, InvalidConfig, ReadOnlyBrokerConfig, PolicyViolation,
    InvalidReplicaAssignment, InvalidRecord, InvalidAcl, TooManyRecords, BodyTimeout, Overloaded,
    QuotaExceeded, UnsupportedMessageFormat, MessageTooLarge,
)
from kraft.errors.cluster import (  # noqa: F401 - kraft.errors names them all
    UnknownTopicOrPartition, TopicNotFound, PartitionNotFound, TopicAlreadyExists, OffsetOutOfRange,
    NotLeaderOrFollower, LeaderNotAvailable, NotEnoughReplicas, OutcomeUnknown, MetadataNotReady,
    BrokerNotAvailable, CoordinatorLoadInProgress, CoordinatorNotAvailable, NotCoordinator,
    NotController, ConcurrentMetadataChange, NoActiveController, IneligibleReplica,
    FencedLeaderEpoch, InvalidUpdateVersion, StaleBrokerEpoch, ElectionNotNeeded,
    PreferredLeaderNotAvailable, EligibleLeadersNotAvailable, DuplicateVoter, VoterNotFound,
    VoterChangeRefused, VoterChangeNotNow,
)
from kraft.errors.groups import (  # noqa: F401 - kraft.errors names them all
    ConsumerInstanceNotFound, GroupIdNotFound, NonEmptyGroup, GroupSubscribedToTopic,
    ConsumerInstanceExists, ConsumerConflict, FencedInstanceId, InconsistentGroupProtocol, RecordNotHeld,
)
from kraft.errors.credentials import (  # noqa: F401 - kraft.errors names them all
    UserAlreadyExists, UnacceptableCredential, UnsupportedSaslMechanism, CredentialNotFound,
    DuplicateResource,
)
from kraft.errors.producers import (  # noqa: F401 - kraft.errors names them all
    ProducerSequenceError, OutOfOrderSequence, UnknownProducerId, InvalidProducerEpoch,
    TransactionError, InvalidTxnState, PartitionNotInTransaction, InvalidProducerIdMapping,
    InvalidTransactionTimeout, ConcurrentTransactions, TransactionCoordinatorFenced, ProducerFenced,
    TransactionalIdNotFound, UnstableOffsetCommit,
)
from kraft.errors.schemas import (  # noqa: F401 - kraft.errors names them all
    SchemaNotFound, KeySchemaMissing, ValueSchemaMissing, DataDoesNotFitSchema, SchemaRefused,
    RecordNotDecodable, SchemaRegistryUnavailable,
)
from kraft.errors.storage import (  # noqa: F401 - kraft.errors names them all
    StorageError, RecordBatchError, CorruptBatchError, UnsupportedCompressionError, InvalidAppend,
    StaleLeaderEpoch, LogClosed, DamagedLog, LogDirFailed, StorageUnavailable,
)


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


def error_from_code(code: int, message: str) -> KraftError:
    """Rebuild an error another broker answered with a Kafka code (a Kafka answer names no
    class): a retriable class with that code where there is one (Kafka's retriable codes,
    KAFKA_STORAGE_ERROR among them, stay retriable), else the most general, so the kind is
    kept (a fenced epoch stays fenced); a code kraft has no class for is unknown."""
    return error_from_name(_class_name_for_code(code), message)


@functools.cache
def _class_name_for_code(code: int) -> str:
    """error_from_code's choice, made once per code (it walks every error class)."""
    candidates = [cls for cls in all_error_classes().values() if cls.kafka_code == code]
    if not candidates or code == UnknownServerError.kafka_code:
        return UnknownServerError.__name__
    return min(candidates, key=lambda c: (not issubclass(c, RetriableError), len(c.__mro__))).__name__
