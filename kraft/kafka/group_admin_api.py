"""Consumer groups for Kafka admin tools: ListGroups (16), DescribeGroups (15).

A broker lists the groups it coordinates (admin clients ask every broker), both the
Kafka clients' groups and the REST API's; DescribeGroups is answered by a group's
coordinator, like the other group requests.
"""

from __future__ import annotations

from kraft.broker.services import BrokerServices
from kraft.errors import KraftError, NotFound
from kraft.kafka import error_codes, session
from kraft.kafka.group_api import CONSUMER_PROTOCOL, LOCATE_WAIT_S, assignment_bytes


async def list_groups(node: BrokerServices, head, request) -> dict:
    states = set(getattr(request, "states_filter", ()) or ())
    groups = []
    for summary in node.groups.summaries():
        if not summary or (states and summary["state"] not in states):
            continue
        if not session.allowed(node, "DESCRIBE", "GROUP", summary["group_id"]):
            continue  # Kafka lists the groups the principal may describe
        groups.append({"group_id": summary["group_id"], "protocol_type": summary.get("protocol_type", CONSUMER_PROTOCOL),
                       "group_state": summary["state"], "group_type": "classic"})
    return {"throttle_time": 0, "error_code": error_codes.NONE, "groups": groups}


async def describe_groups(node: BrokerServices, head, request) -> dict:
    return {"throttle_time": 0, "groups": [await _describe_one(node, g) for g in request.groups]}


def _answer(group_id: str, code: int, state: str = "") -> dict:
    return {"error_code": code, "error_message": None, "group_id": group_id, "group_state": state,
            "protocol_type": "", "protocol_data": "", "members": [], "authorized_operations": -2147483648}


async def _describe_one(node: BrokerServices, group_id: str) -> dict:
    if not group_id:
        return _answer(group_id, error_codes.INVALID_GROUP_ID)
    if not session.allowed(node, "DESCRIBE", "GROUP", group_id):
        return _answer(group_id, 30)  # GROUP_AUTHORIZATION_FAILED
    try:
        target = await node.groups.locate(group_id, create=False, wait_s=LOCATE_WAIT_S)
        if target is not None:
            return _answer(group_id, error_codes.NOT_COORDINATOR)
        summary = node.groups.describe(group_id)
    except NotFound:  # no group has been used yet
        summary = {}
    except KraftError as exc:
        return _answer(group_id, error_codes.code_of(exc))
    if not summary:
        return _answer(group_id, error_codes.NONE, "Dead")  # Kafka's answer for a group it does not know
    answer = _answer(group_id, error_codes.NONE, summary["state"])
    answer.update(protocol_type=summary.get("protocol_type", CONSUMER_PROTOCOL), protocol_data=summary["partition_assignor"])
    kafka_client_group = node.groups.loaded_client_group(group_id)
    if kafka_client_group is not None:  # the leader's bytes, as relayed to each member
        members = [{"member_id": m["member_id"], "group_instance_id": None, "client_id": m["client_id"],
                    "client_host": "", "member_metadata": m["metadata"],
                    "member_assignment": m["member_assignment"]} for m in kafka_client_group.members()]
    else:  # REST consumer instances: no Kafka protocol metadata of their own
        members = [{"member_id": m["consumer_id"], "group_instance_id": None, "client_id": m["client_id"],
                    "client_host": "", "member_metadata": b"",
                    "member_assignment": assignment_bytes([tuple(a) for a in m["assignments"]])}
                   for m in summary["members"]]
    answer["members"] = members
    return answer
