"""What a group looks like from outside (REST views, ListGroups, DescribeGroups, the CLI):
one dict shape for every kind of group. Pure over the groups handed in."""

from __future__ import annotations

from typing import Any

from kraft.groups.consumer_group import ConsumerGroup
from kraft.groups.kafka_client_group import KafkaClientGroup
from kraft.groups.offset_store import CommittedOffset
from kraft.groups.rest_instance_group import RestInstanceGroup

Committed = dict[tuple[str, int], CommittedOffset]


def _committed_rows(committed: Committed) -> list[dict[str, Any]]:
    return [{"topic": t, "partition": p, "offset": c.offset, "metadata": c.metadata}
            for (t, p), c in sorted(committed.items())]


def describe_group(group_id: str, node_id: int, committed: Committed, rest: RestInstanceGroup | None,
                   clients: KafkaClientGroup | None, consumer_group: ConsumerGroup | None) -> dict[str, Any]:
    """The group of that id as it is here: {} when there is none and no committed offset."""
    if consumer_group is not None:
        return consumer_group_summary(consumer_group, node_id, committed)
    if clients is not None and rest is None:
        return _describe_clients(clients, node_id, committed)
    if rest is None and not committed:
        return {}
    members = []
    if rest is not None:
        for instance in rest.instances.values():
            members.append({"instance_id": instance.instance_id, "consumer_id": instance.member_id or "",
                            "client_id": instance.instance_id,
                            "assignments": [list(tp) for tp in instance.owned]})
    state = rest.state.value if rest is not None and rest.instances else "Empty"
    return {
        "group_id": group_id, "coordinator_id": node_id, "state": state,
        "generation": rest.coordinator.generation if rest is not None else 0,
        "partition_assignor": (rest.coordinator.protocol or "") if rest is not None else "",
        "protocol_type": "consumer",  # REST instances, or a group that only stores offsets
        "is_simple": rest is None or not any(i.subscribed for i in rest.instances.values()),
        "members": members,
        "committed": _committed_rows(committed),
    }


def _describe_clients(group: KafkaClientGroup, node_id: int, committed: Committed) -> dict[str, Any]:
    members = [{"instance_id": m["member_id"], "consumer_id": m["member_id"], "client_id": m["client_id"],
                "assignments": [list(tp) for tp in m["assignment"]]} for m in group.members()]
    return {
        "group_id": group.group_id, "coordinator_id": node_id,
        "state": group.state.value if members else "Empty",
        "generation": group.coordinator.generation,
        "partition_assignor": group.coordinator.protocol or "",
        "protocol_type": group.coordinator.protocol_type or "consumer",
        "is_simple": False, "members": members,
        "committed": _committed_rows(committed),
    }


def consumer_group_summary(group: ConsumerGroup, node_id: int, committed: Committed) -> dict[str, Any]:
    """A KIP-848 group as describe_group shows every group (REST views, ListGroups)."""
    members = [{"instance_id": m.instance_id or m.member_id, "consumer_id": m.member_id, "client_id": m.client_id,
                "member_epoch": m.epoch, "member_type": "classic" if m.classic is not None else "consumer",
                "assignments": [list(tp) for tp in sorted(m.assigned)],
                "target_assignment": [list(tp) for tp in sorted(group.target.get(mid, ()))]}
               for mid, m in group.members.items() if not m.left_static]
    return {
        "group_id": group.group_id, "coordinator_id": node_id, "state": group.state.value,
        "generation": group.group_epoch, "assignment_epoch": group.assignment_epoch,
        "partition_assignor": group.assignor, "protocol_type": "consumer", "group_type": "consumer",
        "is_simple": False, "is_mixed": group.has_classic_members, "members": members,
        "committed": _committed_rows(committed),
    }
