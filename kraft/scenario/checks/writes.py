"""The fate of writes: acknowledged ones survive, failed ones never appear, and any loss
is explained by an unclean election the cluster recorded. Pure functions over a History.
"""

from __future__ import annotations

from kraft.scenario.checks.common import (
    CHECKED_ACKS,
    MAX_EXAMPLES,
    CheckResult,
    Examples,
    acknowledged,
    describe_write,
    final_values,
    lost,
    observations,
    where,
)
from kraft.scenario.history import FAIL, OK, UNKNOWN, History, Write


def check_lost_writes(h: History, max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    """Every write acknowledged with acks=1/all is in the final read of its partition
    (matched by value). Unknown outcomes are never lost writes (they may or may not
    have been written); the ones that did land are counted for information. acks=0
    writes promise nothing and are not checked."""
    final = final_values(h)
    acked = acknowledged(h)
    missing = lost(h)
    counts = {"acknowledged": len(acked), "lost": len(missing)}
    for level in CHECKED_ACKS:
        counts[f"acknowledged_acks_{level}"] = sum(1 for w in acked if w.acks == level)
        counts[f"lost_acks_{level}"] = sum(1 for w in missing if w.acks == level)
    unknown = [w for w in h.writes if w.outcome == UNKNOWN]
    counts["unknown_outcome"] = len(unknown)
    counts["unknown_outcome_found"] = sum(1 for w in unknown
                                          if w.value in final.get(w.partition, ()))
    counts["acks0_ok"] = sum(1 for w in h.writes if w.outcome == OK and w.acks == "0")
    incomplete = [p for p in range(h.partitions) if not h.final_read_complete.get(p, False)]
    counts["final_read_incomplete"] = len(incomplete)

    examples = Examples(max_examples)
    for w in missing:
        examples.add(f"{describe_write(h, w)}, not in the final read; {_replicas_hold(h, w)}")
    summary = (f"{len(missing)} of {len(acked)} acknowledged writes lost "
               f"(acks=all {counts['lost_acks_all']}/{counts['acknowledged_acks_all']}, "
               f"acks=1 {counts['lost_acks_1']}/{counts['acknowledged_acks_1']}); "
               f"{counts['unknown_outcome_found']} of {len(unknown)} unknown-outcome writes landed")
    if incomplete:
        summary += f"; final read incomplete on {', '.join(where(h, p) for p in incomplete)}"
    return CheckResult("lost_writes", not missing, summary, counts, examples.final(),
                       offenders=[f"{where(h, w.partition)}@{_at(w)}={w.value}" for w in missing])


def _replicas_hold(h: History, w: Write) -> str:
    """What each replica's log holds of a lost write, so a failure names its mechanism:
    a value every replica has at its offset was hidden from the read (a read_committed
    abort), one that no replica has was truncated or never replicated."""
    parts = []
    for broker, records in sorted(h.replica_logs.get(w.partition, {}).items()):
        at = [o for o, _, v in records if v == w.value]
        held = next((v for o, _, v in records if o == w.offset), None)
        if at:
            parts.append(f"broker {broker} has it at {', '.join(map(str, at))}")
        elif held is not None:
            parts.append(f"broker {broker} has {held} at {w.offset}")
        else:
            parts.append(f"broker {broker} has no record at {w.offset}")
    offset = -1 if w.offset is None else w.offset
    batch = next((b for b in h.producer_batches.get(w.partition, ()) if b[0] <= offset <= b[1]), None)
    if batch is not None:
        parts.append(f"producer {batch[2]} epoch {batch[3]} wrote {batch[0]}..{batch[1]}")
    markers = [o for o in h.control_offsets.get(w.partition, ()) if o > offset][:3]
    if markers:
        parts.append(f"next markers at {', '.join(map(str, markers))}")
    return "; ".join(parts) or "no replica log was read"


def check_aborted_reads(h: History, max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    """A write that definitely failed (outcome fail) is never seen: not by a consumer,
    not in the final read, not in any replica's log (uncommitted tails included — a
    refused write must not have been appended anywhere)."""
    failed: dict[str, Write] = {w.value: w for w in h.writes if w.outcome == FAIL}
    seen: dict[str, str] = {}
    sightings = 0
    for p, offset, value, source in observations(h, committed_replicas_only=False):
        if value in failed:
            sightings += 1
            seen.setdefault(value, f"{where(h, p)} offset {offset} ({source})")
    examples = Examples(max_examples)
    for value, place in seen.items():
        w = failed[value]
        at = w.complete_ms if w.complete_ms is not None else w.invoke_ms
        examples.add(f"{value} failed at {at:.0f} ms on {where(h, w.partition)} "
                     f"({w.error or 'no error text'}) but seen at {place}")
    counts = {"failed": len(failed), "seen": len(seen), "sightings": sightings}
    summary = f"{len(seen)} of {len(failed)} failed writes seen ({sightings} sightings)"
    return CheckResult("aborted_reads", not seen, summary, counts, examples.final())


def unclean_increases(h: History) -> dict[int, list[tuple[float, int]]]:
    """partition -> [(time first seen, new count)] each time the recorded number of
    unclean elections rose. The count starts at 0 (a fresh cluster), so a first sample
    already showing elections is an increase seen at that sample's time."""
    out: dict[int, list[tuple[float, int]]] = {}
    highest: dict[int, int] = {}
    for s in sorted(h.samples, key=lambda s: s.time_ms):
        if s.unclean_elections > highest.get(s.partition, 0):
            highest[s.partition] = s.unclean_elections
            out.setdefault(s.partition, []).append((s.time_ms, s.unclean_elections))
    return out


def check_unclean_accounting(h: History, max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    """Every lost write (as in lost_writes) is attributed to a recorded unclean election
    on its partition: some sample at or after the write was acknowledged (complete_ms)
    shows that partition's unclean_elections count higher than any earlier sample. The
    sampler only sees an election after it happened, so any later increase counts."""
    increases = unclean_increases(h)
    missing = lost(h)
    attributed: list[tuple[Write, float, int]] = []
    unattributed: list[Write] = []
    for w in missing:
        acked_at = w.complete_ms if w.complete_ms is not None else w.invoke_ms
        later = [(t, n) for t, n in increases.get(w.partition, []) if t >= acked_at]
        if later:
            attributed.append((w, *later[0]))
        else:
            unattributed.append(w)
    elections = sum(max((s.unclean_elections for s in h.samples if s.partition == p), default=0)
                    for p in {s.partition for s in h.samples})
    examples = Examples(max_examples)
    for w in unattributed:
        examples.add(f"{describe_write(h, w)}, lost with no unclean election recorded on "
                     f"{where(h, w.partition)} after it")
    for w, t, n in attributed:
        examples.add(f"{describe_write(h, w)}, lost; attributed to unclean election #{n} on "
                     f"{where(h, w.partition)} seen at {t:.0f} ms")
    counts = {"lost": len(missing), "attributed": len(attributed),
              "unattributed": len(unattributed), "unclean_elections": elections}
    summary = (f"{len(attributed)} of {len(missing)} lost writes attributed to a recorded unclean "
               f"election ({elections} unclean elections recorded)")
    return CheckResult("unclean_accounting", not unattributed, summary, counts, examples.final())


def _at(w) -> str:
    return "?" if w.offset is None else str(w.offset)  # an implicitly acknowledged write has no offset
