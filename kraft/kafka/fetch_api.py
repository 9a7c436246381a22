"""Fetch (key 1): committed batches from partitions this broker leads, long-polled.

The answer waits up to max_wait for min_bytes across the partitions (Kafka's
delayed fetch) and stops adding data at max_bytes, though a partition's first batch
is always whole so no consumer stalls. Fetch sessions are answered sessionless
(session id 0): clients then send full fetches, which Kafka allows. Record bytes are
not read into Python: they go from the segment files to the socket with sendfile
(kafka/splice.py), as Kafka's zero-copy transfer does.
"""

from __future__ import annotations

import time
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.errors import KraftError, OffsetOutOfRange
from kraft.kafka import error_codes, session
from kraft.kafka.entities import millis
from kraft.kafka.leaders import epoch_problem
from kraft.kafka.splice import Spliced, new_marker
from kraft.replication.change_signal import ChangeSignal, wait_any

READ_COMMITTED = 1  # the request's isolation_level


async def _read_partition(node: BrokerServices, topic: str, want, budget: int, spliced: Spliced,
                          stable: bool) -> tuple[dict[str, Any], int, ChangeSignal | None]:
    """(partition answer, bytes in it, the replica's change signal or None). The
    records stay in the segment files: a marker in the answer, the slices in
    ``spliced``. stable (read_committed): only below the last stable offset, with the
    aborted transactions there, whose records the client drops."""
    index = int(want.partition)
    answer: dict[str, Any] = {"partition_index": index, "error_code": error_codes.NONE, "high_watermark": -1,
              "last_stable_offset": -1, "log_start_offset": -1, "aborted_transactions": [],
              "preferred_read_replica": -1, "records": b""}
    try:
        session.check(node, "READ", "TOPIC", topic)
        replica = await node.data_plane.leader_replica(topic, index)
        if (problem := epoch_problem(replica, int(getattr(want, "current_leader_epoch", -1)))) is not None:
            answer["error_code"] = problem
            return answer, 0, None
        start, hw = replica.readable_range()
        lso = replica.last_stable_offset()
        offset = int(want.fetch_offset)
        answer.update(high_watermark=hw, last_stable_offset=lso, log_start_offset=start)
        if not start <= offset <= hw:
            raise OffsetOutOfRange(f"offset {offset} is outside {start}..{hw}", offset, start, hw)
        end = lso if stable else hw
        size = 0
        if offset < end and budget > 0:
            slices = replica.log.read_slices(offset, min(int(want.partition_max_bytes), budget), max_offset=end)
            if slices:
                marker = new_marker()
                spliced.slices[marker] = slices
                answer["records"] = marker
                size = sum(part.length for part in slices)
                node.data_plane.traffic.bytes_out += size
                if stable:  # every one overlapping what may be read: the client keeps those it meets
                    answer["aborted_transactions"] = [
                        {"producer_id": a.producer_id, "first_offset": a.first_offset}
                        for a in replica.log.aborted_transactions(offset, end)]
        return answer, size, replica.changed
    except KraftError as exc:
        answer["error_code"] = error_codes.code_of(exc)
        return answer, 0, None


async def handle(node: BrokerServices, head, request) -> Spliced:
    deadline = time.monotonic() + max(0, millis(request.max_wait)) / 1000
    max_bytes = int(getattr(request, "max_bytes", 2**31 - 1))
    stable = int(getattr(request, "isolation_level", 0)) == READ_COMMITTED
    while True:
        spliced = Spliced({})
        responses: list[dict[str, Any]] = []
        signals: list[ChangeSignal] = []
        total, failed = 0, False
        try:
            for topic in request.topics:
                parts = []
                for want in topic.partitions:
                    answer, size, signal = await _read_partition(node, topic.topic, want, max_bytes - total, spliced,
                                                                 stable)
                    total += size
                    failed |= answer["error_code"] != error_codes.NONE
                    if signal is not None:
                        signals.append(signal)
                    parts.append(answer)
                responses.append({"topic": topic.topic, "partitions": parts})
        except BaseException:
            spliced.close()
            raise
        left = deadline - time.monotonic()
        if failed or total >= int(request.min_bytes) or left <= 0 or not signals:
            spliced.body.update(throttle_time=0, error_code=error_codes.NONE, session_id=0,
                                responses=responses)
            return spliced
        spliced.close()  # not enough yet: read again once something changes
        await wait_any(signals, left)
