"""The schema registry's ACLs: each request mapped to the ACL Confluent's Schema Registry
authorizer asks for the same work (SUBJECT_READ, SUBJECT_WRITE, SUBJECT_DELETE,
SUBJECT_COMPATIBILITY_*, GLOBAL_COMPATIBILITY_*), decided by Kafka's ACL rules on the
resource type SUBJECT, literal and prefixed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiohttp import web

from kraft.broker.access import AccessControl, Identity
from kraft.config.cluster_tables import SecuritySettings
from kraft.kafka.handlers.acl_api import _kafka_filters
from kraft.registry import config_routes, listing_routes, routes
from kraft.registry.access_table import (
    BY_WRITER,
    FORBIDDEN,
    ROUTE_NEEDS,
    SCHEMA_ID,
    check_write,
    does,
    route_need,
    write_need,
)
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_requests import (
    DeleteConfig,
    DeleteMode,
    DeleteSubject,
    DeleteVersion,
    Register,
    SetConfig,
    SetMode,
)
from kraft.security.acls import AclBinding, binding_from, filter_from

ALICE = Identity("User:alice", "127.0.0.1")
ADMIN = Identity("User:admin", "127.0.0.1")


def acl(name: str, operation: str, pattern: str = "LITERAL", principal: str = "User:alice",
        permission: str = "ALLOW") -> AclBinding:
    return binding_from({"resource_type": "SUBJECT", "resource_name": name, "pattern_type": pattern,
                         "principal": principal, "host": "*", "operation": operation, "permission": permission})


def access_with(*bindings: AclBinding) -> AccessControl:
    image = SimpleNamespace(acls=frozenset(bindings), scram_credentials={})
    return AccessControl(SecuritySettings(super_users=("admin",)), lambda: image)  # type: ignore[arg-type, return-value]


def served_routes() -> set[tuple[str, str]]:
    app = web.Application()
    routes.add_routes(app)
    config_routes.add_routes(app)
    listing_routes.add_routes(app)
    return {(r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}


def test_every_registry_route_has_an_acl_and_every_entry_a_route():
    served = served_routes()
    assert served - set(ROUTE_NEEDS) == set(), "registry routes without an ACL"
    assert set(ROUTE_NEEDS) - served == set(), "ACLs for routes that do not exist"


@pytest.mark.parametrize(("method", "path", "need"), [
    ("GET", "/subjects/{subject}/versions", does("read_subject")),  # SUBJECT_READ
    ("GET", "/subjects/{subject}/versions/{version}", does("read_subject")),
    ("POST", "/subjects/{subject}", does("read_subject")),  # look-up is a read in Confluent's table
    ("POST", "/compatibility/subjects/{subject}/versions/{version}", does("write_subject")),  # SUBJECT_WRITE
    ("GET", "/config/{subject}", does("describe_subject_configs")),  # SUBJECT_COMPATIBILITY_READ
    ("GET", "/mode/{subject}", does("describe_subject_configs")),
    ("GET", "/config", does("describe_cluster_configs")),  # GLOBAL_COMPATIBILITY_READ
    ("GET", "/mode", does("describe_cluster_configs")),
    ("GET", "/schemas/ids/{id}", SCHEMA_ID),  # SCHEMA_READ: READ on a subject holding it
    ("POST", "/subjects/{subject}/versions", BY_WRITER),
    ("HEAD", "/config", does("describe_cluster_configs")),
])
def test_each_route_asks_what_confluents_authorizer_asks(method, path, need):
    assert route_need(method, path) == need


def test_a_route_missing_from_the_table_has_no_need_and_internal_routes_their_signature():
    assert route_need("GET", "/no/such/route") is None
    assert route_need("POST", "/internal/v1/schemas/write").kind == "internal"


@pytest.mark.parametrize(("write", "need"), [
    (Register("orders-value", "AVRO", "{}"), ("write_subject", "orders-value")),  # SUBJECT_WRITE
    (DeleteSubject("orders-value", permanent=True), ("delete_subject", "orders-value")),  # SUBJECT_DELETE
    (DeleteVersion("orders-value", 1), ("delete_subject", "orders-value")),
    (SetConfig("orders-value", "FULL"), ("alter_subject_configs", "orders-value")),  # SUBJECT_COMPATIBILITY_WRITE
    (DeleteConfig("orders-value"), ("alter_subject_configs", "orders-value")),
    (SetMode("orders-value", "READONLY"), ("alter_subject_configs", "orders-value")),
    (DeleteMode("orders-value"), ("alter_subject_configs", "orders-value")),
    (SetConfig(None, "NONE"), ("alter_cluster_configs", "kafka-cluster")),  # GLOBAL_COMPATIBILITY_WRITE
    (DeleteConfig(None), ("alter_cluster_configs", "kafka-cluster")),
    (SetMode(None, "IMPORT"), ("alter_cluster_configs", "kafka-cluster")),
])
def test_each_write_asks_its_acl_on_its_subject_or_the_cluster(write, need):
    assert write_need(write) == need


def test_read_on_a_prefix_reads_but_does_not_register():
    access = access_with(acl("orders-", "READ", "PREFIXED"))
    assert access.may(ALICE, "read_subject", "orders-value")
    assert access.may(ALICE, "describe_subject", "orders-value")  # READ implies DESCRIBE: listed
    assert not access.may(ALICE, "read_subject", "payments-value")
    with pytest.raises(RegistryError) as refused:
        check_write(access, Register("orders-value", "AVRO", "{}"), ALICE)
    assert refused.value.error_code == FORBIDDEN and refused.value.status == 403
    assert refused.value.message == "User is denied operation Write on Subject: orders-value"


def test_write_on_a_literal_subject_registers_there_only():
    access = access_with(acl("orders-value", "WRITE"))
    check_write(access, Register("orders-value", "AVRO", "{}"), ALICE)
    with pytest.raises(RegistryError):
        check_write(access, Register("orders-key", "AVRO", "{}"), ALICE)


def test_a_deny_wins_over_an_allow():
    access = access_with(acl("orders-", "ALL", "PREFIXED"), acl("orders-secret", "DELETE", permission="DENY"))
    check_write(access, DeleteSubject("orders-value"), ALICE)
    with pytest.raises(RegistryError):
        check_write(access, DeleteSubject("orders-secret"), ALICE)


def test_subject_config_change_needs_alter_configs_which_implies_describe_configs():
    access = access_with(acl("orders-value", "ALTER_CONFIGS"))
    check_write(access, SetConfig("orders-value", "FULL"), ALICE)
    assert access.may(ALICE, "describe_subject_configs", "orders-value")
    with pytest.raises(RegistryError) as refused:
        check_write(access, SetConfig(None, "FULL"), ALICE)  # the global config is the cluster's
    assert "AlterConfigs on Cluster" in refused.value.message


def test_super_users_pass_and_a_node_writing_for_itself_is_not_asked():
    access = access_with()
    check_write(access, SetConfig(None, "NONE"), ADMIN)
    check_write(access, Register("anything", "AVRO", "{}"), None)
    with pytest.raises(RegistryError):
        check_write(access, Register("anything", "AVRO", "{}"), ALICE)


def test_subject_acls_are_kafka_bindings_of_their_own_type():
    binding = acl("orders-", "READ", "PREFIXED")
    assert binding.resource_type == "SUBJECT"
    assert filter_from({"resource_type": "subject"}).matches(binding)
    assert not filter_from({"resource_type": "TOPIC"}).matches(binding)


def test_the_kafka_door_never_names_subject_acls():
    """Its wire has no code for SUBJECT: a filter for ANY type is narrowed to Kafka's four."""
    narrowed = _kafka_filters(filter_from({"principal": "User:alice"}))
    assert sorted(f.resource_type or "" for f in narrowed) == ["CLUSTER", "GROUP", "TOPIC", "TRANSACTIONAL_ID"]
    assert not any(f.matches(acl("orders-", "READ", "PREFIXED")) for f in narrowed)
