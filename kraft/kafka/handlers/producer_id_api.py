"""InitProducerId (key 22): a producer id for an idempotent producer, epoch 0, or for
a transactional one from its transaction coordinator (kraft/kafka/handlers/txn_api.py).

The ids come from the same controller-granted blocks as the REST API's, so a producer
id is unique across both doors.
"""

from __future__ import annotations

from kraft.broker.services import BrokerServices
from kraft.errors import KraftError
from kraft.kafka.wire import error_codes
from kraft.kafka.handlers import txn_api
from kraft.kafka.connection.request_context import RequestContext


async def handle(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer = {"throttle_time": 0, "error_code": error_codes.NONE, "producer_id": -1, "producer_epoch": -1}
    if request.transactional_id is not None:
        return await txn_api.init_transactional_producer(node, ctx, request, answer)
    if not ctx.may_get_producer_id():
        answer["error_code"] = error_codes.CLUSTER_AUTHORIZATION_FAILED
        return answer
    if node.producer_ids is None:
        answer["error_code"] = error_codes.COORDINATOR_NOT_AVAILABLE
        return answer
    try:
        answer["producer_id"] = await node.producer_ids.next_id()
    except KraftError as exc:
        answer["error_code"] = error_codes.code_of(exc)
        return answer
    answer["producer_epoch"] = 0
    return answer
