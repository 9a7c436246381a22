"""What each schema registry request needs on a cluster with [security], in one table. Pure.

Confluent's Schema Registry names its own operations (SUBJECT_READ, SUBJECT_WRITE, ...);
kraft keeps Kafka's ACL model and gives them the resource type SUBJECT, with the global
config and mode as the cluster's configs (docs/API.md, "Schema registry security"):

| Confluent's operation        | requests                                        | kraft's ACL                      |
|------------------------------|-------------------------------------------------|----------------------------------|
| SUBJECT_READ                 | a subject's versions, a version, its text, its   | READ on the subject              |
|                              | referencedby, look-up (POST /subjects/{s}),      |                                  |
|                              | GET /subjects/{s}/metadata                       |                                  |
| SUBJECT_WRITE                | register; compatibility checks                   | WRITE on the subject             |
| SUBJECT_DELETE               | DELETE a subject or a version                    | DELETE on the subject            |
| SUBJECT_COMPATIBILITY_READ   | GET /config/{s}, GET /mode/{s}                   | DESCRIBE_CONFIGS on the subject  |
| SUBJECT_COMPATIBILITY_WRITE  | PUT/DELETE /config/{s}, PUT/DELETE /mode/{s}     | ALTER_CONFIGS on the subject     |
| GLOBAL_COMPATIBILITY_READ    | GET /config, GET /mode                           | DESCRIBE_CONFIGS on the cluster  |
| GLOBAL_COMPATIBILITY_WRITE   | PUT/DELETE /config, PUT/DELETE /mode             | ALTER_CONFIGS on the cluster     |
| SCHEMA_READ                  | /schemas/ids/{id}..., /schemas/guids/{guid}...   | READ on some subject holding it  |
| GLOBAL_READ                  | GET /subjects                                    | listed: subjects one may DESCRIBE|
|                              | GET /schemas                                     | listed: versions of subjects one |
|                              |                                                  | may READ                         |

READ, WRITE and DELETE imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS (Kafka's
rules, kraft/security/authorizer.py). A write's ACL is asked where the write is decided
(the writer, once), from the request itself (`check_write`); every other route's by
the port's middleware (kraft/registry/security.py). Pure: AccessControl only reads the
metadata image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kraft.broker.access import AccessControl, Identity
from kraft.broker.acl_needs import NEEDS, ClientOperation
from kraft.schemas.registry_requests import (
    DeleteConfig,
    DeleteMode,
    DeleteSubject,
    DeleteVersion,
    Register,
    SetConfig,
    SetMode,
    WriteRequest,
)
from kraft.schemas.registry_errors import RegistryError
from kraft.security.acls import CLUSTER_RESOURCE

FORBIDDEN = 40301  # Confluent's error_code for a denied operation
UNAUTHORIZED = 40101  # ... and for a request without valid credentials

Kind = Literal["authenticated", "operation", "schema_id", "decided_by_writer", "internal"]


@dataclass(frozen=True)
class RouteNeed:
    """authenticated: any user; operation: `operation` on the path's subject (or the
    cluster); schema_id: READ on some subject holding the id; decided_by_writer: the write
    request's own ACL, asked by the writer; internal: node-to-node, its signature instead."""

    kind: Kind
    operation: ClientOperation | None = None


AUTHENTICATED = RouteNeed("authenticated")
SCHEMA_ID = RouteNeed("schema_id")
BY_WRITER = RouteNeed("decided_by_writer")
INTERNAL = RouteNeed("internal")


def does(operation: ClientOperation) -> RouteNeed:
    return RouteNeed("operation", operation)


S = "/subjects/{subject}"
V = S + "/versions/{version}"
ID = "/schemas/ids/{id}"
GUID = "/schemas/guids/{guid}"

ROUTE_NEEDS: dict[tuple[str, str], RouteNeed] = {
    ("GET", "/"): AUTHENTICATED,
    ("GET", "/schemas/types"): AUTHENTICATED,
    ("GET", "/contexts"): AUTHENTICATED,
    ("GET", "/subjects"): AUTHENTICATED,  # lists the subjects the caller may DESCRIBE
    ("GET", ID): SCHEMA_ID,
    ("GET", ID + "/schema"): SCHEMA_ID,
    ("GET", ID + "/subjects"): SCHEMA_ID,  # lists the holders the caller may READ
    ("GET", ID + "/versions"): SCHEMA_ID,
    ("GET", "/schemas"): AUTHENTICATED,  # lists the versions of subjects the caller may READ
    ("GET", GUID): SCHEMA_ID,
    ("GET", GUID + "/ids"): SCHEMA_ID,
    ("GET", "/v1/metadata/id"): AUTHENTICATED,
    ("GET", "/v1/metadata/version"): AUTHENTICATED,
    ("*", "/dek-registry/{tail}"): AUTHENTICATED,  # every method refused alike (not served)
    ("POST", S): does("read_subject"),  # look-up: Confluent's SUBJECT_READ
    ("DELETE", S): BY_WRITER,
    ("GET", S + "/versions"): does("read_subject"),
    ("POST", S + "/versions"): BY_WRITER,
    ("GET", V): does("read_subject"),
    ("DELETE", V): BY_WRITER,
    ("GET", V + "/schema"): does("read_subject"),
    ("GET", V + "/referencedby"): does("read_subject"),
    ("GET", S + "/metadata"): does("read_subject"),  # the latest version with given metadata
    ("POST", "/compatibility" + S + "/versions"): does("write_subject"),  # Confluent: SUBJECT_WRITE
    ("POST", "/compatibility" + V): does("write_subject"),
    ("GET", "/config"): does("describe_cluster_configs"),
    ("PUT", "/config"): BY_WRITER,
    ("DELETE", "/config"): BY_WRITER,
    ("GET", "/config/{subject}"): does("describe_subject_configs"),
    ("PUT", "/config/{subject}"): BY_WRITER,
    ("DELETE", "/config/{subject}"): BY_WRITER,
    ("GET", "/mode"): does("describe_cluster_configs"),
    ("PUT", "/mode"): BY_WRITER,
    ("DELETE", "/mode"): BY_WRITER,
    ("GET", "/mode/{subject}"): does("describe_subject_configs"),
    ("PUT", "/mode/{subject}"): BY_WRITER,
    ("DELETE", "/mode/{subject}"): BY_WRITER,
}


def route_need(method: str, template: str) -> RouteNeed | None:
    """The need of a route (its path template); None for a route missing from the table
    (the middleware then asks for a super user: the safest answer)."""
    if template.startswith("/internal/"):
        return INTERNAL
    return ROUTE_NEEDS.get(("GET" if method == "HEAD" else method, template)) or ROUTE_NEEDS.get(("*", template))


def resource_name(operation: ClientOperation, subject: str | None) -> str:
    """The name an operation's ACL is asked on: the subject, or the one cluster."""
    if NEEDS[operation].resource_type == "CLUSTER":
        return CLUSTER_RESOURCE
    assert subject is not None, f"{operation} needs a subject"
    return subject


def write_need(request: WriteRequest) -> tuple[ClientOperation, str]:
    """The ACL a write asks, and the name it is asked on."""
    if isinstance(request, Register):
        return "write_subject", request.subject
    if isinstance(request, (DeleteSubject, DeleteVersion)):
        return "delete_subject", request.subject
    if isinstance(request, (SetConfig, DeleteConfig, SetMode, DeleteMode)):
        if request.subject is None:
            return "alter_cluster_configs", CLUSTER_RESOURCE
        return "alter_subject_configs", request.subject
    raise AssertionError(f"no ACL for {type(request).__name__}")


def _camel(operation: str) -> str:
    """WRITE -> Write, ALTER_CONFIGS -> AlterConfigs: the names Confluent's messages use."""
    return "".join(word.capitalize() for word in operation.split("_"))


def denied_message(operation: ClientOperation, name: str) -> str:
    """Confluent's words for a denied request ("User is denied operation Write on Subject: s")."""
    need = NEEDS[operation]
    what = f"Subject: {name}" if need.resource_type == "SUBJECT" else f"Cluster: {name} (the global config and mode)"
    return f"User is denied operation {_camel(need.operation)} on {what}"


def require(access: AccessControl, who: Identity, operation: ClientOperation, name: str) -> None:
    """`operation` on `name`, or Confluent's 403 (40301)."""
    if not access.may(who, operation, name):
        raise RegistryError(FORBIDDEN, denied_message(operation, name))


def check_write(access: AccessControl, write: WriteRequest, who: Identity | None) -> None:
    """The writer's check before it decides: `who` may make this write (None: a node
    writing for itself, or security off)."""
    if who is not None and access.enabled:
        operation, name = write_need(write)
        require(access, who, operation, name)
