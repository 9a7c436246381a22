"""The logs agree: one place per value, one value per place, identical ISR replicas.
Pure functions over a History (reads, final reads and the replicas' logs on disk).
"""

from __future__ import annotations

import bisect

from kraft.scenario.checks.common import (
    MAX_EXAMPLES,
    CheckResult,
    Examples,
    observations,
    replica_limit,
    where,
)
from kraft.scenario.history import History


def check_duplicates(h: History, max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    """No value at two different (partition, offset) places, across consumer reads, the
    final read and every replica's whole log. Values are unique per attempt, so a value
    in two places was appended twice. Reading one place many times is not a duplicate.

    One kind is told apart and does not fail the check: every copy written by the same
    idempotent producer, each under a different producer epoch. Only the client picks
    its epoch, so the client re-sent the record after bumping it. librdkafka does this
    when a request behind a refused one meets OUT_OF_ORDER_SEQUENCE_NUMBER: it renumbers
    everything unacknowledged under a new epoch, records an earlier attempt may already
    have written among them (its issue #4953; Kafka's own brokers answer the same, and
    the Java client retries without a bump). Such records are counted and shown apart."""
    places: dict[str, dict[tuple[int, int], str]] = {}
    for p, offset, value, source in observations(h, committed_replicas_only=False):
        places.setdefault(value, {}).setdefault((p, offset), source)
    writers = _BatchWriters(h)
    dups: dict[str, dict[tuple[int, int], str]] = {}
    resent: dict[str, dict[tuple[int, int], str]] = {}
    for value, at in places.items():
        if len(at) > 1:
            (resent if writers.client_resent(at) else dups)[value] = at
    examples = Examples(max_examples)
    for label, found in (("", dups), ("re-sent by the client under a new epoch: ", resent)):
        for value, at in found.items():
            spots = "; ".join(f"{where(h, p)} offset {o}{writers.describe(p, o)} ({src})"
                              for (p, o), src in sorted(at.items()))
            examples.add(f"{label}{value} at {len(at)} places: {spots}")
    counts = {"values": len(places), "duplicated": len(dups),
              "extra_places": sum(len(at) - 1 for at in dups.values()), "client_resent": len(resent)}
    summary = f"{len(dups)} of {len(places)} values seen at more than one offset"
    if resent:
        summary += (f" ({len(resent)} more re-sent by their idempotent client under a bumped producer "
                    "epoch: the client's doing, not the cluster's)")
    return CheckResult("duplicates", not dups, summary, counts, examples.final())


class _BatchWriters:
    """Which idempotent producer wrote a record: (producer id, epoch, the record's own
    sequence), from the batch headers in the replicas' logs (History.producer_batches)."""

    def __init__(self, h: History):
        self._batches = h.producer_batches
        self._starts = {p: [b[0] for b in batches] for p, batches in h.producer_batches.items()}

    def of(self, p: int, offset: int) -> list[tuple[int, int, int]]:
        """Every writer a replica's log names for this place (two on divergent replicas)."""
        batches = self._batches.get(p, [])
        i = bisect.bisect_right(self._starts.get(p, []), offset)
        return sorted({(pid, epoch, seq + offset - base)
                       for base, last, pid, epoch, seq in batches[max(0, i - 8):i] if base <= offset <= last})

    def describe(self, p: int, offset: int) -> str:
        return "".join(f", written by producer {pid} epoch {epoch} sequence {seq}"
                       for pid, epoch, seq in self.of(p, offset))

    def client_resent(self, at) -> bool:
        """Each copy has one known writer, all the same producer id, no epoch twice."""
        found = [self.of(p, o) for p, o in at]
        if any(len(w) != 1 for w in found):
            return False
        epochs = [w[0][1] for w in found]
        return len({w[0][0] for w in found}) == 1 and len(set(epochs)) == len(epochs)


def check_inconsistent_offsets(h: History, max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    """No (partition, offset) holds two different values anywhere: consumer reads, the
    final read, and replica logs below that partition's final HW (final_end_offsets;
    above it a replica may keep an uncommitted tail that differs legitimately)."""
    values: dict[tuple[int, int], dict[str, str]] = {}
    for p, offset, value, source in observations(h, committed_replicas_only=True):
        values.setdefault((p, offset), {}).setdefault(value, source)
    bad = {at: vs for at, vs in values.items() if len(vs) > 1}
    examples = Examples(max_examples)
    for (p, offset), vs in sorted(bad.items()):
        seen = "; ".join(f"{v!r} ({src})" for v, src in vs.items())
        examples.add(f"{where(h, p)} offset {offset} holds {len(vs)} values: {seen}")
    counts = {"places": len(values), "inconsistent": len(bad)}
    summary = f"{len(bad)} of {len(values)} (partition, offset) places hold different values"
    return CheckResult("inconsistent_offsets", not bad, summary, counts, examples.final())


def _first_difference(a_name: str, a: list, b_name: str, b: list) -> str:
    for x, y in zip(a, b):
        if x != y:
            return (f"{a_name} has offset {x[0]} {_entry(x)}, "
                    f"{b_name} has offset {y[0]} {_entry(y)}")
    longer, name = (a, a_name) if len(a) > len(b) else (b, b_name)
    extra = abs(len(a) - len(b))
    return f"{name} has {extra} more records from offset {longer[min(len(a), len(b))][0]}"


def _entry(x) -> str:
    return f"(epoch {x[1]}, {x[2]!r})"


def check_replica_divergence(h: History, max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    """For each partition, the logs of the brokers in final_isr are identical as
    (offset, leader epoch, value) below the final HW (final_end_offsets). Each is
    compared with the lowest-id ISR member's log. A replica outside the final ISR that
    differs is counted (outside_isr_divergent) but is not a failure; an ISR member whose
    log was not collected is counted (isr_logs_missing) and cannot be compared."""
    counts = {"partitions": 0, "isr_replicas_compared": 0, "divergent_partitions": 0,
              "isr_logs_missing": 0, "outside_isr_replicas": 0, "outside_isr_divergent": 0}
    examples = Examples(max_examples)
    for p in sorted(set(h.replica_logs) | set(h.final_isr)):
        logs = h.replica_logs.get(p, {})
        limit = replica_limit(h, p)
        committed = {b: [tuple(e) for e in log if e[0] < limit] for b, log in logs.items()}
        isr = sorted(h.final_isr.get(p, []))
        present = [b for b in isr if b in committed]
        counts["partitions"] += 1
        counts["isr_logs_missing"] += len(isr) - len(present)
        for b in isr:
            if b not in committed:
                examples.add(f"{where(h, p)}: ISR member broker {b} has no log to compare")
        if not present:
            continue
        ref = present[0]
        divergent = False
        for b in present[1:]:
            counts["isr_replicas_compared"] += 1
            if committed[b] != committed[ref]:
                divergent = True
                examples.add(f"{where(h, p)} below HW {limit}: " + _first_difference(
                    f"broker {ref}", committed[ref], f"broker {b}", committed[b]))
        counts["divergent_partitions"] += divergent
        for b in sorted(set(committed) - set(isr)):
            counts["outside_isr_replicas"] += 1
            if committed[b] != committed[ref]:
                counts["outside_isr_divergent"] += 1
                examples.add(f"{where(h, p)} below HW {limit} (outside the ISR, not a failure): "
                             + _first_difference(f"broker {ref}", committed[ref],
                                                 f"broker {b}", committed[b]))
    c = counts
    summary = (f"{c['divergent_partitions']} of {c['partitions']} partitions with divergent ISR "
               f"replicas ({c['isr_replicas_compared']} compared; outside the ISR "
               f"{c['outside_isr_divergent']} of {c['outside_isr_replicas']} differ)")
    if counts["isr_logs_missing"]:
        summary += f"; {counts['isr_logs_missing']} ISR logs missing"
    return CheckResult("replica_divergence", counts["divergent_partitions"] == 0, summary, counts,
                       examples.final())
