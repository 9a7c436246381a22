"""What a consumer at an isolation level sees of the batches it read (pure).

Kafka leaves this to the client: a fetch at read_committed stops at the last stable
offset and lists the aborted transactions in range; the consumer drops the records of
those transactions and never hands out control records. REST consumers have no client
library, so the broker does the same walk for them, in the same order Kafka's consumer
does it: an aborted transaction's producer is "aborted" from its first offset until its
ABORT marker passes.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Iterable
from typing import NamedTuple


from kraft.errors import Overloaded
from kraft.storage.record import Record
from kraft.storage.open_budget import READ_OPENS, OpenBudget
from kraft.storage.record_batch import control_marker, decode_records, decode_records_prefix, iter_batches



OPEN_RETRY_S = 0.05  # a read waiting for room in the budget looks again this often

# a node-to-node read_committed read carries its aborted transactions in this header
ABORTED_HEADER = "X-Kraft-Aborted-Transactions"


class Aborted(NamedTuple):
    producer_id: int
    first_offset: int


def visible_records(data: bytes, position: int, aborted: Iterable[Aborted] | None = None,
                    max_bytes: int | None = None, opens: OpenBudget | None = None,
                    max_records: int | None = None) -> tuple[list[Record], int]:
    """The records at or after ``position`` a consumer may see, and the offset after the
    last record read (a compacted batch or a control batch holds offsets but no records
    to show). ``aborted``: None at read_uncommitted; at read_committed, the aborted
    transactions (producer id, first offset) that overlap the read. ``max_bytes``: the
    records stop once their bytes reach it (the one reaching it included), also inside
    a batch: a small read of a huge batch decodes a few records, not all of them.
    ``opens``: where a bounded read holds what it opens of compressed batches.
    ``max_records``: with ``max_bytes``, the records stop at that many too."""
    records: list[Record] = []
    next_position = position
    pending = [(a.first_offset, a.producer_id) for a in aborted or ()]
    heapq.heapify(pending)
    aborting: set[int] = set()
    budget = max_bytes
    for pos, header in iter_batches(data):
        if (budget is not None and budget <= 0) or (max_records is not None and len(records) >= max_records):
            break
        next_position = max(next_position, header.next_offset)
        while pending and pending[0][0] <= header.last_offset:
            aborting.add(heapq.heappop(pending)[1])
        if header.is_control:
            marker = control_marker(data, pos)
            if not marker.commit:
                aborting.discard(header.producer_id)
            continue  # control records are the broker's, never an application's
        if header.is_transactional and header.producer_id in aborting:
            continue
        if budget is None:
            records.extend(r for r in decode_records(data, pos, verify=False)
                           if r.offset is not None and r.offset >= position)  # always set: decoded from the log
            continue
        left = None if max_records is None else max_records - len(records)
        shown, used, whole = decode_records_prefix(data, pos, budget, position, opens, left)
        records.extend(shown)
        budget -= used
        if not whole and shown and shown[-1].offset is not None:
            next_position = max(position, shown[-1].offset + 1)  # the rest of this batch is read next time
            break
    return records, next_position


async def visible_records_off_loop(data: bytes, position: int, aborted: Iterable[Aborted] | None,
                                   max_bytes: int, deadline: float,
                                   max_records: int | None = None) -> tuple[list[Record], int]:
    """visible_records on a worker thread (a read deep inside a huge batch is CPU the
    loop should not hold), within the node's budget for opened batches: a read that
    finds no room waits for some until ``deadline``, then answers Overloaded."""
    while True:
        try:
            return await asyncio.to_thread(visible_records, data, position, aborted, max_bytes, READ_OPENS,
                                           max_records)
        except Overloaded:
            if time.monotonic() + OPEN_RETRY_S >= deadline:
                raise
            await asyncio.sleep(OPEN_RETRY_S)
