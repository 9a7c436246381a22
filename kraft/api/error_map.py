"""The one table from error classes to the HTTP API's status and error code (docs/API.md).

A class not in the table takes the entry of its nearest listed ancestor; the HTTP
status is the code's first three digits. Errors that are the cluster's own trouble
(storage, unclassified) are 5xx; a user's mistake never is.
"""

from __future__ import annotations

from kraft import errors as e

REST_ERROR_CODES: dict[type[e.KraftError], int] = {
    e.KraftError: 500,
    e.RequestError: 400,
    e.BadRequest: 400,
    e.NotFound: 404,
    e.MethodNotAllowed: 405,
    e.NotAcceptable: 406,
    e.FormatMismatch: 40601,
    e.PayloadTooLarge: 413,
    e.MessageTooLarge: 413,
    e.UnsupportedMediaType: 415,
    e.EmptyBody: 422,
    e.TooManyRecords: 413,
    e.BodyTimeout: 408,
    e.Overloaded: 429,
    e.Unauthorized: 401,
    e.AuthenticationFailed: 40101,
    e.AuthorizationFailed: 40301,
    e.InvalidAcl: 40002,  # as Confluent's v3 answers a bad ACL
    e.InvalidValue: 42206,
    e.ProducerSequenceError: 42206,
    e.TransactionError: 40905,  # the transaction's state forbids it
    e.TransactionalIdNotFound: 40405,
    e.UnknownTopicOrPartition: 40402,
    e.TopicNotFound: 40401,
    e.PartitionNotFound: 40402,
    e.OffsetOutOfRange: 40402,
    e.ConsumerInstanceNotFound: 40403,
    e.TopicAlreadyExists: 40002,  # as Confluent's v3 answers it (HTTP 400)
    e.ConsumerInstanceExists: 40902,
    e.UserAlreadyExists: 40901,
    e.ConsumerConflict: 40903,
    e.StaleBrokerEpoch: 40904,
    e.NonEmptyGroup: 40906,  # DELETE of a group with members
    e.GroupSubscribedToTopic: 40907,
    e.AlreadyRunning: 40908,  # one at a time: the failure lab's runs
    e.DecommissionRefused: 40909,  # the remaining brokers cannot do without this one
    e.BrokerDecommissioned: 40910,  # a decommissioned broker registering again
    e.RebalanceInProgress: 40911,  # a rebalance is already running
    e.VoterChangeRefused: 40912,  # the quorum would stop, or the node is not an observer
    e.DuplicateVoter: 40913,  # a voter already, or its Raft address is another voter's
    e.VoterNotFound: 40406,
    e.SchemaNotFound: 40403,  # the REST door's schema formats: Confluent REST Proxy's codes
    e.KeySchemaMissing: 42201,
    e.ValueSchemaMissing: 42202,
    e.DataDoesNotFitSchema: 42203,
    e.SchemaRefused: 42205,
    e.RecordNotDecodable: 42207,
    e.RetriableError: 50003,
    e.NoActiveController: 50301,
    e.RecordBatchError: 400,
    e.StorageError: 500,
}


def rest_error_code(exc: e.KraftError) -> int:
    for cls in type(exc).__mro__:
        code = REST_ERROR_CODES.get(cls)  # type: ignore[call-overload]
        if code is not None:
            return code
    return 500


def http_status(code: int) -> int:
    return int(str(code)[:3])


def error_body(exc: e.KraftError, name_class: bool = False) -> tuple[dict, int]:
    """The envelope and status; `name_class` adds the class for a peer node to rebuild."""
    code = rest_error_code(exc)
    message = exc.message
    if code == 500 and not name_class:
        message = f"internal error: {type(exc).__name__}: {exc.message}"
    body: dict = {"error_code": code, "message": message}
    if isinstance(exc, e.InvalidRecord) and exc.record_errors:  # KIP-467's per-record reasons
        body["record_errors"] = [{"batch_index": i, "message": m} for i, m in exc.record_errors]
    if name_class:
        body["error_class"] = type(exc).__name__
    return body, http_status(code)
