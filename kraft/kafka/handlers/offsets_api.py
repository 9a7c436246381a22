"""ListOffsets (key 2) and OffsetForLeaderEpoch (key 23), answered by partition leaders.

ListOffsets: -2 is the log start, -1 the high watermark (what a consumer may read; for
a read_committed one, the last stable offset), -3 the record with the largest timestamp
(KIP-734, v7), -4 the earliest local offset (v8: the log start, as nothing is tiered),
-5 the latest tiered one (v9) and -6 the earliest not yet uploaded (v11, KIP-1023): none,
-1, as Kafka answers both without tiered storage; any other value the first record
stamped at or after it (Kafka's time index). Each answer carries the leader epoch of
the batch it names, as Kafka's does (the current one for -1).
OffsetForLeaderEpoch: the end of the asked epoch in this leader's log, which
librdkafka uses to validate a position after a leader change.
"""

from __future__ import annotations

from kraft.broker.services import BrokerServices
from kraft.errors import KraftError
from kraft.kafka.wire import error_codes
from kraft.kafka.handlers.leaders import epoch_problem
from kraft.kafka.connection.request_context import RequestContext

EARLIEST, LATEST, MAX_TIMESTAMP, EARLIEST_LOCAL, LATEST_TIERED, EARLIEST_PENDING_UPLOAD = -2, -1, -3, -4, -5, -6
PENDING_UPLOAD_SINCE = 11  # -6 in an older version is a special value it does not know
READ_COMMITTED = 1  # the request's isolation_level (v2+)


async def _list_one(node: BrokerServices, ctx: RequestContext, topic: str, want, stable: bool) -> dict:
    index = int(want.partition_index)
    answer = {"partition_index": index, "error_code": error_codes.NONE, "timestamp": -1,
              "offset": -1, "leader_epoch": -1, "old_style_offsets": []}
    try:
        ctx.check("describe_topic", topic)
        replica = await node.data_plane.leader_replica(topic, index)
        if (problem := epoch_problem(replica, int(getattr(want, "current_leader_epoch", -1)))) is not None:
            answer["error_code"] = problem
            return answer
        start, _ = replica.readable_range()
        epoch_of = replica.epoch_at
        asked = int(want.timestamp)
        if asked == EARLIEST_PENDING_UPLOAD and ctx.api_version < PENDING_UPLOAD_SINCE:
            answer["error_code"] = error_codes.UNSUPPORTED_VERSION
        elif asked in (EARLIEST, EARLIEST_LOCAL):
            answer.update(offset=start, leader_epoch=epoch_of(start))
        elif asked == LATEST:  # read_committed: the last stable offset, as Kafka answers
            answer.update(offset=replica.readable_end(stable), leader_epoch=replica.leader_epoch)
        elif asked == MAX_TIMESTAMP:
            top = replica.record_with_max_timestamp(stable)
            if top is not None:
                answer.update(offset=top.offset, timestamp=top.timestamp, leader_epoch=top.leader_epoch)
        elif asked in (LATEST_TIERED, EARLIEST_PENDING_UPLOAD):
            pass  # nothing is tiered: no offset, as Kafka answers without remote storage
        elif asked < 0:
            answer["error_code"] = error_codes.UNSUPPORTED_VERSION  # a special value of a later version
        else:
            found = replica.offset_for_timestamp(asked, stable)
            if found is not None:
                answer.update(offset=found[0], timestamp=found[1], leader_epoch=epoch_of(found[0]))
    except KraftError as exc:
        answer["error_code"] = error_codes.code_of(exc)
    return answer


async def list_offsets(node: BrokerServices, ctx: RequestContext, request) -> dict:
    stable = int(getattr(request, "isolation_level", 0)) == READ_COMMITTED
    topics = [{"name": t.name, "partitions": [await _list_one(node, ctx, t.name, p, stable)
                                              for p in t.partitions]}
              for t in request.topics]
    return {"throttle_time": 0, "topics": topics}


async def _epoch_end(node: BrokerServices, ctx: RequestContext, topic: str, want) -> dict:
    index = int(want.partition)
    answer = {"error_code": error_codes.NONE, "partition": index, "leader_epoch": -1, "end_offset": -1}
    try:
        ctx.check("describe_topic", topic)
        replica = await node.data_plane.leader_replica(topic, index)
        if (problem := epoch_problem(replica, int(want.current_leader_epoch))) is not None:
            answer["error_code"] = problem
            return answer
        answer["leader_epoch"], answer["end_offset"] = replica.end_offset_for_epoch(int(want.leader_epoch))
    except KraftError as exc:
        answer["error_code"] = error_codes.code_of(exc)
    return answer


async def offset_for_leader_epoch(node: BrokerServices, ctx: RequestContext, request) -> dict:
    topics = [{"topic": t.topic, "partitions": [await _epoch_end(node, ctx, t.topic, p) for p in t.partitions]}
              for t in request.topics]
    return {"throttle_time": 0, "topics": topics}
