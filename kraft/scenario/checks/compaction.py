"""The compaction checker (workload compacted_keys > 0). Pure.

Compaction may drop any record that a later record of the same key replaces, never
the latest: for every key with an acknowledged write, the record the topic holds last
for that key at the end is the latest acknowledged write of that key, or a later write
of that key whose answer was lost (it may have landed).
"""

from __future__ import annotations

from kraft.scenario.checks.common import CheckResult, Examples
from kraft.scenario.history import OK, History


def check_compaction(h: History, max_examples: int = 10, **_) -> CheckResult:
    if not h.compacted_writes:
        return CheckResult("compaction", True, "not run (no compacted topic)")
    examples = Examples(max_examples)
    latest_acked: dict[str, tuple[int, str]] = {}
    written: dict[str, set[str]] = {}
    for key, value, outcome, offset in h.compacted_writes:
        written.setdefault(key, set()).add(value)
        if outcome == OK and offset is not None and (key not in latest_acked or offset > latest_acked[key][0]):
            latest_acked[key] = (offset, value)
    held: dict[str, tuple[int, str]] = {}
    for offset, key, value in h.compacted_final:
        if key not in held or offset > held[key][0]:
            held[key] = (offset, value)
    bad = 0
    for key, (offset, value) in sorted(latest_acked.items()):
        got = held.get(key)
        if got is None:
            problem = "is gone"
        elif got[0] < offset or (got[0] == offset and got[1] != value):
            problem = f"was replaced by {got[1]!r} at offset {got[0]}"
        elif got[0] > offset and got[1] not in written[key]:
            problem = f"was replaced by {got[1]!r} at offset {got[0]}, never written for this key"
        else:
            continue
        bad += 1
        examples.add(f"key {key}: the latest acknowledged value {value!r} (offset {offset}) {problem}")
    landed = sum(1 for w in h.compacted_writes if w[2] == OK)
    summary = (f"{len(latest_acked) - bad} of {len(latest_acked)} keys end with their latest acknowledged "
               f"value; {landed} acknowledged writes, {len(h.compacted_final)} records left after compaction")
    return CheckResult("compaction", not bad, summary,
                       {"keys": len(latest_acked), "bad": bad, "acknowledged": landed,
                        "remaining": len(h.compacted_final)}, examples.final())
