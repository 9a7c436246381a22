"""WriteTxnMarkers (27), as Kafka's transaction coordinators send it to partition leaders:
each marker's control record appended to each named partition this broker leads and
committed (acks=all), answered per partition. Only brokers send it: anyone else
(RequestContext.is_cluster_member: on an open cluster too) gets CLUSTER_AUTHORIZATION_FAILED
for every partition and nothing is written. v2 carries the marker's transaction version: at 2 the leader
refuses a marker that arrives after the producer's next transaction began at its epoch (a late one, see
ProducerStateTable.check_marker); v1 means 1.
"""

from __future__ import annotations

from kraft.broker.services import BrokerServices
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext
from kraft.transactions.txn_markers import TxnMarker
from kraft.errors.kafka_codes import CLUSTER_AUTHORIZATION_FAILED



async def write_txn_markers(node: BrokerServices, ctx: RequestContext, request) -> dict:
    allowed = ctx.is_cluster_member()
    markers = [TxnMarker(int(m.producer_id), int(m.producer_epoch), bool(m.transaction_result),
                         int(m.coordinator_epoch), tuple(sorted((t.name, int(p)) for t in m.topics
                                                                for p in t.partition_indexes)),
                         int(getattr(m, "transaction_version", 1)) or 1)
               for m in request.markers]
    answers = await node.txn_link.write_here(markers) if allowed else [{} for _ in markers]
    results = []
    for marker, answer in zip(markers, answers):
        by_topic: dict[str, list[dict]] = {}
        for tp in marker.partitions:
            error = answer.get(tp)
            code = (CLUSTER_AUTHORIZATION_FAILED if not allowed else error_codes.NONE if error is None
                    else error_codes.code_of(error))
            by_topic.setdefault(tp[0], []).append({"partition_index": tp[1], "error_code": code})
        results.append({"producer_id": marker.producer_id,
                        "topics": [{"name": name, "partitions": parts} for name, parts in by_topic.items()]})
    return {"markers": results}
