"""Order: producers' acknowledged offsets increase; consumers read without gaps or
reversals. A pure function over a History.
"""

from __future__ import annotations

from bisect import bisect_left

from kraft.scenario.checks.common import MAX_EXAMPLES, CheckResult, Examples, where
from kraft.scenario.history import OK, History


def _fault_between(fault_times: list[float], start: float, end: float) -> bool:
    i = bisect_left(fault_times, start)
    return i < len(fault_times) and fault_times[i] <= end


def check_order(h: History, max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    """The rules:

    - Producers: for each (producer, partition), the acknowledged writes (outcome ok,
      with an offset) taken in seq order have strictly increasing offsets. A producer
      writes one record at a time, so a later write acknowledged at a lower or equal
      offset is a reversal. Unless the earlier write is missing from a complete final
      read: then the new leader gave its lost offset out again (acks=1 or unclean
      election after a leader died), which is the loss itself, judged by lost_writes;
      counted in producer_reversals_after_loss, not a failure.
    - Consumers: for each (consumer, partition), the reads sorted by time_ms (ties keep
      the recorded order) go up one offset at a time. Next offset > previous + 1 is a
      gap, always a failure (offsets that only transaction markers take, which no
      reader is shown, are no gap: control_offsets). Next offset <= previous is a reversal, unless a fault event
      happened between the two reads (previous.time_ms <= fault <= next.time_ms): then
      it is a restart after a fault, counted in consumer_restarts but not a failure.
      Where a consumer's reading starts is not judged.
    - The final read of each partition is one more consumer stream with the same rules
      and no fault excuse (the cluster is healed by then).
    """
    examples = Examples(max_examples)
    counts = {"producer_pairs": 0, "producer_reversals": 0, "producer_reversals_after_loss": 0,
              "consumer_reads": 0, "consumer_gaps": 0, "consumer_reversals": 0,
              "consumer_restarts": 0, "marker_skips": 0}
    markers = {p: set(offsets) for p, offsets in h.control_offsets.items()}
    survived = {p: {v for _, v in records} for p, records in h.final_reads.items()
                if h.final_read_complete.get(p)}

    by_producer: dict[tuple[str, int], list] = {}
    for w in h.writes:
        if w.outcome == OK and w.offset is not None:
            by_producer.setdefault((w.producer, w.partition), []).append(w)
    for (producer, p), writes in sorted(by_producer.items()):
        writes.sort(key=lambda w: w.seq)
        for prev, cur in zip(writes, writes[1:]):
            counts["producer_pairs"] += 1
            if cur.offset <= prev.offset:
                if p in survived and prev.value not in survived[p]:
                    counts["producer_reversals_after_loss"] += 1
                    continue
                counts["producer_reversals"] += 1
                examples.add(f"{producer} on {where(h, p)}: {cur.value} acknowledged at offset "
                             f"{cur.offset} after {prev.value} at offset {prev.offset}")

    streams: dict[tuple[str, int], list[tuple[float, int]]] = {}
    for r in h.reads:
        streams.setdefault((r.consumer, r.partition), []).append((r.time_ms, r.offset))
    for key in streams:
        streams[key].sort(key=lambda x: x[0])
    fault_times = sorted(f.time_ms for f in h.faults)
    final = {("final read", p): [(None, o) for o, _ in records]
             for p, records in h.final_reads.items()}

    for (consumer, p), reads in sorted(streams.items()) + sorted(final.items()):
        counts["consumer_reads"] += len(reads)
        for (t0, prev), (t1, cur) in zip(reads, reads[1:]):
            if cur == prev + 1:
                continue
            when = f" at {t1:.0f} ms" if t1 is not None else ""
            if cur > prev + 1 and all(o in markers.get(p, ()) for o in range(prev + 1, cur)):
                counts["marker_skips"] += 1
            elif cur > prev + 1:
                counts["consumer_gaps"] += 1
                examples.add(f"{consumer} on {where(h, p)}: gap, read offset {cur} "
                             f"after {prev}{when}")
            elif t0 is not None and t1 is not None and _fault_between(fault_times, t0, t1):
                counts["consumer_restarts"] += 1
            else:
                counts["consumer_reversals"] += 1
                examples.add(f"{consumer} on {where(h, p)}: reversal, read offset {cur} "
                             f"after {prev}{when}")

    bad = counts["producer_reversals"] + counts["consumer_gaps"] + counts["consumer_reversals"]
    c = counts
    summary = (f"{c['producer_reversals']} producer reversals in {c['producer_pairs']} pairs"
               + (f" ({c['producer_reversals_after_loss']} more after a lost write)"
                  if c["producer_reversals_after_loss"] else "") + "; "
               f"{c['consumer_gaps']} gaps, {c['consumer_reversals']} reversals in "
               f"{c['consumer_reads']} reads ({c['consumer_restarts']} restarts after faults)")
    return CheckResult("order", bad == 0, summary, counts, examples.final())
