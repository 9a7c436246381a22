"""Controller requests: typed on the sending side, a pure command on the controller.

Each request class names its operation (`op`); a door builds one and sends it through
the controller link, which runs it here or forwards its payload to the active
controller (POST /internal/v1/controller/{op}). There, `build_command` validates the
payload again (it crossed the network), so a malformed request is the caller's 400,
never a controller crash.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kraft.controller.result import ControllerResult
from kraft.controller.request_base import ControllerRequest, first_problem
from kraft.controller import (
    partition_commands,
    broker_control,
    config_control,
    decommission,
    election,
    iceberg_control,
    producer_id_control,
    quota_control,
    reassignment,
    rebalance,
    security_control,
    topic_control,
)
from kraft.controller.quorum_controller import Command, QuorumController
from kraft.errors import BadRequest
from kraft.metadata.client_quotas import entity_of
from kraft.metadata.image import MetadataImage
from kraft.metadata.records import RegisterBroker
from kraft.security.acls import binding_from, filter_from
from kraft.security.scram import MAX_ITERATIONS, MIN_ITERATIONS, ScramCredential




class Heartbeat(ControllerRequest):
    op = "heartbeat"
    broker_id: int
    broker_epoch: int
    metadata_offset: int
    log_dir_failed: bool = False


class AddVoter(ControllerRequest):
    """KIP-853's AddRaftVoter: an observer (a controller following the quorum) votes."""

    op = "add_voter"
    node_id: int = Field(ge=0, le=2**31 - 1)


class RemoveVoter(ControllerRequest):
    op = "remove_voter"
    node_id: int = Field(ge=0, le=2**31 - 1)


_VOTER_REQUESTS: dict[str, type[AddVoter] | type[RemoveVoter]] = {"add_voter": AddVoter, "remove_voter": RemoveVoter}


def voter_change_of(op: str, payload: Any) -> int | None:
    """The node id of a voter change request (checked), None for any other operation."""
    request_class = _VOTER_REQUESTS.get(op)
    if request_class is None:
        return None
    if not isinstance(payload, dict):
        raise BadRequest("controller operation payload must be a JSON object")
    return request_class(**payload).node_id


class Shutdown(ControllerRequest):
    op = "shutdown"
    broker_id: int
    broker_epoch: int


class CreateTopic(ControllerRequest):
    op = "create_topic"
    name: Any
    partitions: Any = None
    replication_factor: Any = None
    configs: dict[str, Any] = Field(default_factory=dict)
    validate_only: bool = False
    assignments: list[tuple[int, list[int]]] | None = None  # (partition, brokers): the client's own placement
    # set only by a coordinator creating its internal topic; no door copies it from a client
    by_cluster: bool = False


class DeleteTopic(ControllerRequest):
    op = "delete_topic"
    name: str


class CreatePartitions(ControllerRequest):
    op = "create_partitions"
    name: str
    partitions_count: Any
    validate_only: bool = False
    assignments: list[list[int]] | None = None  # brokers of each new partition


class AllocateProducerIds(ControllerRequest):
    op = "allocate_producer_ids"
    broker_id: int
    broker_epoch: int


class _ConfigChanges(ControllerRequest):
    """Changes to one resource's configs (None removes a value); validate_only writes nothing."""
    changes: dict[str, Any]
    validate_only: bool = False


class AlterClusterConfigs(_ConfigChanges):
    op = "alter_cluster_configs"


class AlterBrokerConfigs(_ConfigChanges):
    op = "alter_broker_configs"
    broker_id: int


class AlterGroupConfigs(_ConfigChanges):
    op = "alter_group_configs"
    group_id: str


class AlterConfigs(_ConfigChanges):
    op = "alter_configs"
    topic: str


class Reassign(ControllerRequest):
    op = "reassign_partition"
    topic: str
    partition: int
    replicas: list[Any] | None  # None cancels
    allow_rf_change: bool = True  # false: a target of another length is refused (KIP-860)


class Decommission(ControllerRequest):
    op = "decommission_broker"
    broker_id: int
    together: list[int] = []  # brokers leaving with it (a host's others): no taker of its replicas

    def payload(self) -> dict[str, Any]:  # without an empty `together`: older controllers forbid it
        return self.model_dump(mode="json", exclude_defaults=True)


class Recommission(ControllerRequest):
    op = "recommission_broker"
    broker_id: int


class ExecuteRebalance(ControllerRequest):
    op = "execute_rebalance"
    max_moves_in_flight: int = rebalance.DEFAULT_MOVES_IN_FLIGHT


class CancelRebalance(ControllerRequest):
    op = "cancel_rebalance"


class ElectLeaders(ControllerRequest):
    op = "elect_leaders"
    election: Literal["PREFERRED", "UNCLEAN"]
    partitions: list[tuple[str, int]] | None  # None: every partition


class CreateAcls(ControllerRequest):
    op = "create_acls"
    acls: list[dict[str, Any]]


class DeleteAcls(ControllerRequest):
    op = "delete_acls"
    filter: dict[str, Any]


class Credential(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"]
    salt: str
    stored_key: str
    server_key: str
    iterations: int = Field(ge=MIN_ITERATIONS, le=MAX_ITERATIONS)


class SetUserCredential(ControllerRequest):
    op = "set_user_credential"
    name: str
    credential: Credential
    mode: Literal["create", "update", "upsert"] = "upsert"


class DeleteUser(ControllerRequest):
    op = "delete_user"
    name: str


class ScramDeletion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    mechanism: str  # "" for a mechanism kraft does not know


class ScramUpsertion(BaseModel):
    """A credential derived on the node that took the request (salt, StoredKey, ServerKey
    in base64); the salted password itself never travels further."""

    model_config = ConfigDict(extra="forbid")

    name: str
    mechanism: str
    iterations: int
    salt: str = ""
    stored_key: str = ""
    server_key: str = ""


class AlterScramCredentials(ControllerRequest):
    op = "alter_scram_credentials"
    deletions: list[ScramDeletion]
    upsertions: list[ScramUpsertion]


class QuotaChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    value: float | None  # None: remove


class QuotaEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity: list[tuple[str, str | None]]  # (entity type, name or None for the default)
    ops: list[QuotaChange]


class AlterClientQuotas(ControllerRequest):
    op = "alter_client_quotas"
    entries: list[QuotaEntry]
    validate_only: bool = False


class CommitIcebergTable(ControllerRequest):
    """A table commit of an Iceberg topic (see iceberg_control)."""

    op = "commit_iceberg_table"
    topic: str
    topic_id: str
    based_on: str | None = Field(default=None, max_length=4096)
    metadata_location: str = Field(min_length=1, max_length=4096)


def build_command(op: str, payload: Any, controller: QuorumController,
                  defaults: dict[str, str]) -> Command:
    try:
        builder = _BUILDERS[op]
    except KeyError:
        raise BadRequest(f"unknown controller operation {op!r}") from None
    if not isinstance(payload, dict):
        raise BadRequest("controller operation payload must be a JSON object")
    try:
        return builder(payload, controller, defaults)
    except ValidationError as exc:
        raise BadRequest(f"{op}: {first_problem(exc)}") from None


def _register(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = RegisterBroker.model_validate({**p, "type": "RegisterBroker"})
    return lambda image: broker_control.register_broker(image, req, defaults)


@dataclass(frozen=True)
class HeartbeatCommand:
    """A heartbeat: in the queue when it may need records (unfencing, a data dir's change);
    one that changes nothing is answered from the committed image at once (`at_once`),
    else behind a catch-up's batches of ISR changes its answer waited seconds and the
    broker counted itself cut off."""

    hb: Heartbeat
    controller: QuorumController
    defaults: dict[str, str]

    def __call__(self, image: MetadataImage) -> ControllerResult:
        hb = self.hb
        return broker_control.heartbeat(image, self.controller.heartbeats, hb.broker_id, hb.broker_epoch,
                                        hb.metadata_offset, self.controller.now_ms(), self.defaults,
                                        hb.log_dir_failed)

    def at_once(self, image: MetadataImage) -> dict[str, Any] | None:
        hb = self.hb
        return broker_control.steady_heartbeat(image, self.controller.heartbeats, hb.broker_id, hb.broker_epoch,
                                               hb.metadata_offset, self.controller.now_ms(), hb.log_dir_failed)


def _heartbeat(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    hb = Heartbeat.model_validate(p)
    controller.heartbeats.note_arrival(hb.broker_id, controller.now_ms())
    return HeartbeatCommand(hb, controller, defaults)


def _shutdown(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = Shutdown.model_validate(p)
    return lambda image: broker_control.controlled_shutdown(
        image, defaults, req.broker_id, req.broker_epoch)


def _create_topic(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = CreateTopic.model_validate(p)
    assignments = None if req.assignments is None else tuple((p, tuple(b)) for p, b in req.assignments)
    create = topic_control.CreateTopic(req.name, req.partitions, req.replication_factor,
                                       req.configs, assignments, req.by_cluster)
    topic_id = uuid.uuid4().hex  # chosen before the command: replay must not draw uuids
    return _dry_run_if(req.validate_only, lambda image: topic_control.create_topic(
        image, create, defaults, topic_id))


def _delete_topic(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = DeleteTopic.model_validate(p)
    return lambda image: topic_control.delete_topic(image, req.name)


def _create_partitions(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = CreatePartitions.model_validate(p)
    assignments = None if req.assignments is None else [tuple(b) for b in req.assignments]
    return _dry_run_if(req.validate_only, lambda image: topic_control.create_partitions(
        image, req.name, req.partitions_count, assignments))


def _alter_configs(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = AlterConfigs.model_validate(p)
    return _dry_run_if(req.validate_only, lambda image: config_control.alter_topic_configs(
        image, defaults, req.topic, req.changes))


def _alter_cluster_configs(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = AlterClusterConfigs.model_validate(p)
    return _dry_run_if(req.validate_only, lambda image: config_control.alter_cluster_configs(
        image, defaults, req.changes))


def _alter_broker_configs(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = AlterBrokerConfigs.model_validate(p)
    return _dry_run_if(req.validate_only, lambda image: config_control.alter_broker_configs(
        image, req.broker_id, req.changes))


def _alter_group_configs(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = AlterGroupConfigs.model_validate(p)
    return _dry_run_if(req.validate_only, lambda image: config_control.alter_group_configs(req.group_id, req.changes))


def _dry_run_if(validate_only: bool, command: Command) -> Command:
    """validate_only: every check runs against the live image; no record is written."""
    if not validate_only:
        return command
    return lambda image: ControllerResult([], command(image).answer)


def _allocate_producer_ids(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = AllocateProducerIds.model_validate(p)
    return lambda image: producer_id_control.allocate_producer_ids(
        image, req.broker_id, req.broker_epoch)


def _reassign(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = Reassign.model_validate(p)
    target = None if req.replicas is None else tuple(req.replicas)
    return lambda image: reassignment.reassign(image, req.topic, req.partition, target, req.allow_rf_change)


def _decommission(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = Decommission.model_validate(p)
    return lambda image: decommission.decommission(image, req.broker_id, req.together)


def _recommission(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = Recommission.model_validate(p)
    return lambda image: decommission.recommission(image, req.broker_id)


def _execute_rebalance(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = ExecuteRebalance.model_validate(p)
    return lambda image: rebalance.execute(image, req.max_moves_in_flight)


def _cancel_rebalance(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    CancelRebalance.model_validate(p)
    return rebalance.cancel


def _elect_leaders(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = ElectLeaders.model_validate(p)
    wanted = None if req.partitions is None else [(t, p) for t, p in req.partitions]
    return lambda image: election.elect_leaders(image, defaults, req.election, wanted)


def _create_acls(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = CreateAcls.model_validate(p)
    bindings = [binding_from(a) for a in req.acls]
    return lambda image: security_control.create_acls(image, bindings)


def _delete_acls(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = DeleteAcls.model_validate(p)
    acl_filter = filter_from(req.filter)
    return lambda image: security_control.delete_acls(image, acl_filter)


def _set_user_credential(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = SetUserCredential.model_validate(p)
    try:
        credential = ScramCredential.from_record_fields(req.credential)
    except (binascii.Error, ValueError):
        raise BadRequest("set_user_credential: credential fields must be base64") from None
    return lambda image: security_control.set_user_credential(image, req.name, credential, req.mode)


def _alter_scram_credentials(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = AlterScramCredentials.model_validate(p)
    upserts = []
    for u in req.upsertions:
        credential = None
        if u.salt and u.stored_key and u.server_key:
            try:
                salt, stored_key, server_key = (base64.b64decode(f, validate=True)
                                                for f in (u.salt, u.stored_key, u.server_key))
                credential = ScramCredential(u.mechanism, salt, stored_key, server_key, u.iterations)
            except (binascii.Error, ValueError):
                raise BadRequest("alter_scram_credentials: credential fields must be base64") from None
        upserts.append(security_control.ScramUpsert(u.name, u.mechanism, u.iterations, credential))
    deletions = [(d.name, d.mechanism) for d in req.deletions]
    return lambda image: security_control.alter_scram_credentials(image, deletions, upserts)


def _alter_client_quotas(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = AlterClientQuotas.model_validate(p)
    entries = [(entity_of(e.entity), [(o.key, o.value) for o in e.ops]) for e in req.entries]
    return lambda image: quota_control.alter_client_quotas(image, entries, req.validate_only)


def _commit_iceberg_table(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = CommitIcebergTable.model_validate(p)
    return lambda image: iceberg_control.commit_table(image, req.topic, req.topic_id, req.based_on,
                                                      req.metadata_location)


def _delete_user(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = DeleteUser.model_validate(p)
    return lambda image: security_control.delete_user(image, req.name)


_BUILDERS = {
    "reassign_partition": _reassign,
    "elect_leaders": _elect_leaders,
    "decommission_broker": _decommission,
    "recommission_broker": _recommission,
    "execute_rebalance": _execute_rebalance,
    "cancel_rebalance": _cancel_rebalance,
    "create_acls": _create_acls,
    "delete_acls": _delete_acls,
    "set_user_credential": _set_user_credential,
    "delete_user": _delete_user,
    "alter_scram_credentials": _alter_scram_credentials,
    "alter_client_quotas": _alter_client_quotas,
    "allocate_producer_ids": _allocate_producer_ids,
    "commit_iceberg_table": _commit_iceberg_table,
    **partition_commands.BUILDERS,
    "register": _register,
    "heartbeat": _heartbeat,
    "shutdown": _shutdown,
    "create_topic": _create_topic,
    "delete_topic": _delete_topic,
    "create_partitions": _create_partitions,
    "alter_configs": _alter_configs,
    "alter_cluster_configs": _alter_cluster_configs,
    "alter_broker_configs": _alter_broker_configs,
    "alter_group_configs": _alter_group_configs,
}
