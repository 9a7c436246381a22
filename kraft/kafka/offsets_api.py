"""ListOffsets (key 2) and OffsetForLeaderEpoch (key 23), answered by partition leaders.

ListOffsets: -2 is the log start, -1 the high watermark (what a consumer may read; for
a read_committed one, the last stable offset), any other value the first record stamped at or after it (Kafka's time index).
OffsetForLeaderEpoch: the end of the asked epoch in this leader's log, which
librdkafka uses to validate a position after a leader change.
"""

from __future__ import annotations

from kraft.broker.services import BrokerServices
from kraft.errors import KraftError
from kraft.kafka import error_codes, session
from kraft.kafka.leaders import epoch_problem

EARLIEST, LATEST = -2, -1
READ_COMMITTED = 1  # the request's isolation_level (v2+)


async def _list_one(node: BrokerServices, topic: str, want, stable: bool) -> dict:
    index = int(want.partition_index)
    answer = {"partition_index": index, "error_code": error_codes.NONE, "timestamp": -1,
              "offset": -1, "leader_epoch": -1, "old_style_offsets": []}
    try:
        session.check(node, "DESCRIBE", "TOPIC", topic)
        replica = await node.data_plane.leader_replica(topic, index)
        if (problem := epoch_problem(replica, int(getattr(want, "current_leader_epoch", -1)))) is not None:
            answer["error_code"] = problem
            return answer
        start, _ = replica.readable_range()
        asked = int(want.timestamp)
        if asked == EARLIEST:
            answer["offset"] = start
        elif asked == LATEST:  # read_committed: the last stable offset, as Kafka answers
            answer["offset"] = replica.readable_end(stable)
        elif asked < 0:
            answer["error_code"] = error_codes.UNSUPPORTED_VERSION  # -3 (max timestamp) and later specials
        else:
            found = replica.offset_for_timestamp(asked, stable)
            if found is not None:
                answer["offset"], answer["timestamp"] = found
        answer["leader_epoch"] = replica.leader_epoch
    except KraftError as exc:
        answer["error_code"] = error_codes.code_of(exc)
    return answer


async def list_offsets(node: BrokerServices, head, request) -> dict:
    stable = int(getattr(request, "isolation_level", 0)) == READ_COMMITTED
    topics = [{"name": t.name, "partitions": [await _list_one(node, t.name, p, stable) for p in t.partitions]}
              for t in request.topics]
    return {"throttle_time": 0, "topics": topics}


async def _epoch_end(node: BrokerServices, topic: str, want) -> dict:
    index = int(want.partition)
    answer = {"error_code": error_codes.NONE, "partition": index, "leader_epoch": -1, "end_offset": -1}
    try:
        session.check(node, "DESCRIBE", "TOPIC", topic)
        replica = await node.data_plane.leader_replica(topic, index)
        if (problem := epoch_problem(replica, int(want.current_leader_epoch))) is not None:
            answer["error_code"] = problem
            return answer
        answer["leader_epoch"], answer["end_offset"] = replica.log.end_offset_for_epoch(int(want.leader_epoch))
    except KraftError as exc:
        answer["error_code"] = error_codes.code_of(exc)
    return answer


async def offset_for_leader_epoch(node: BrokerServices, head, request) -> dict:
    topics = [{"topic": t.topic, "partitions": [await _epoch_end(node, t.topic, p) for p in t.partitions]}
              for t in request.topics]
    return {"throttle_time": 0, "topics": topics}
