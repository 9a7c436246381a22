"""The authorized-operations bitfield of Metadata, DescribeCluster and DescribeGroups
(KIP-430): for each operation a resource type supports, bit (Kafka's operation code) set
when the principal may do it. With ACLs off everything is allowed, so every supported
operation is set, as Kafka answers without an authorizer. Not asked for: Kafka's
"not included" value, INT32_MIN."""

from __future__ import annotations

from collections.abc import Callable

from kraft.kafka.connection.request_context import RequestContext
from kraft.kafka.handlers.acl_api import OPERATIONS
from kraft.security.acls import CLUSTER_RESOURCE, SUPPORTED_OPERATIONS

NOT_REQUESTED = -2147483648
_CODE = {name: code for code, name in OPERATIONS.items()}


def bitfield(resource_type: str, allowed: Callable[[str], bool]) -> int:
    """The bits of the supported operations `allowed(operation)` grants. Pure."""
    return sum(1 << _CODE[op] for op in SUPPORTED_OPERATIONS[resource_type] if allowed(op))


def authorized_operations(ctx: RequestContext, wanted: bool, resource_type: str,
                          name: str = CLUSTER_RESOURCE) -> int:
    """The field's value for this connection's principal; NOT_REQUESTED unless `wanted`."""
    if not wanted:
        return NOT_REQUESTED
    return bitfield(resource_type, lambda op: ctx.acl_allowed(op, resource_type, name))
