"""A consumer's session expiring, on call: the group coordinator removes the member as it
does when the member's session.timeout.ms passes without a heartbeat."""

from __future__ import annotations

from kraft.server.local_cluster import LocalCluster
from kraft.testing.wire import call
from kraft.errors.kafka_codes import NONE


class SessionExpiryRefused(RuntimeError):
    """The coordinator would not remove the member; the message has Kafka's error code."""


def remove_member(local: LocalCluster, coordinator: int, group: str, member_id: str,
                  credentials: tuple[str, str] | None = None) -> None:
    """LeaveGroup (v5) on the member's behalf: the coordinator drops it and rebalances the
    group at once, the end of an expired session. The member learns it at its next
    heartbeat (UNKNOWN_MEMBER_ID), loses its partitions and joins again as a new member."""
    from kio.schema.leave_group.v5.request import LeaveGroupRequest, MemberIdentity
    from kio.schema.types import GroupId
    node = local.config.node(coordinator)
    if node.kafka_port is None:
        raise SessionExpiryRefused(f"node {coordinator} has no Kafka listener")
    answer = call(node.host, node.kafka_port, LeaveGroupRequest(group_id=GroupId(group), members=(
        MemberIdentity(member_id=member_id, group_instance_id=None, reason="the session expired on call"),)),
        tls=local.tls, credentials=credentials)
    codes = [int(answer.error_code.value)] + [int(m.error_code.value) for m in answer.members]
    if any(code != NONE for code in codes):
        raise SessionExpiryRefused(f"the coordinator (node {coordinator}) refused to remove {member_id} "
                                   f"from group {group}: Kafka error codes {codes}")
