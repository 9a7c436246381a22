"""Consumer-group checkers (workload group_members > 0). Pure.

group_offsets: within one assignment of a partition to a member (one generation), the
offsets it committed, as acknowledged, never go backwards; and no acknowledged commit
is lost: at the end the group's committed offset of each partition is at least the
highest offset any member had acknowledged for it (a new owner starts from the
committed offset, so a lost commit shows as a smaller one).

group_delivery: at least once: every record of the final read was consumed by some
member, and every record a member consumed is the one the log holds at that offset.
"""

from __future__ import annotations

from kraft.scenario.checks.common import CheckResult, Examples, where
from kraft.scenario.history import History


def check_group_offsets(h: History, max_examples: int = 10, **_) -> CheckResult:
    if not h.group_events:
        return CheckResult("group_offsets", True, "not run (no consumer group)")
    examples = Examples(max_examples)
    epoch: dict[tuple[str, int], int] = {}  # (member, partition) -> assignments so far
    last: dict[tuple[str, int, int], int] = {}  # (member, partition, epoch) -> last acknowledged commit
    highest: dict[int, tuple[int, float, str]] = {}
    backwards = commits = 0
    for ms, member, kind, p, offset in h.group_events:
        if kind == "assign":
            epoch[(member, p)] = epoch.get((member, p), 0) + 1
        elif kind == "commit-ok":
            commits += 1
            key = (member, p, epoch.get((member, p), 0))
            if key in last and offset < last[key]:
                backwards += 1
                examples.add(f"{member} committed {where(h, p)} offset {offset} at {ms:.0f} ms after "
                             f"{last[key]} in the same assignment")
            last[key] = max(offset, last.get(key, offset))
            if p not in highest or offset > highest[p][0]:
                highest[p] = (offset, ms, member)
    lost = 0
    for p, (offset, ms, member) in sorted(highest.items()):
        final = h.group_final_committed.get(p)
        if final is None or final < offset:
            lost += 1
            examples.add(f"{member}'s commit of {where(h, p)} offset {offset} (acknowledged at {ms:.0f} ms) "
                         f"is lost: the group's committed offset at the end is {final}")
    rebalances = sum(1 for e in h.group_events if e[2] == "assign")
    summary = (f"{commits} acknowledged commits, {backwards} backwards within an assignment, {lost} "
               f"partitions whose acknowledged commit was lost; {rebalances} assignments")
    return CheckResult("group_offsets", not backwards and not lost, summary,
                       {"commits": commits, "backwards": backwards, "lost": lost, "assignments": rebalances},
                       examples.final())


def check_group_delivery(h: History, max_examples: int = 10, **_) -> CheckResult:
    if not h.group_events:
        return CheckResult("group_delivery", True, "not run (no consumer group)")
    examples = Examples(max_examples)
    log = {(p, o): v for p, records in h.final_reads.items() for o, v in records}
    consumed: dict[tuple[int, int], str] = {}
    wrong = 0
    for p, offset, value in h.group_consumed:
        held = log.get((p, offset))
        if held is not None and held != value:
            wrong += 1
            examples.add(f"a member read {value!r} at {where(h, p)} offset {offset}; the log holds {held!r}")
        consumed[(p, offset)] = value
    missed = [(p, o, v) for (p, o), v in sorted(log.items()) if (p, o) not in consumed]
    for p, o, v in missed:
        examples.add(f"{where(h, p)} offset {o} ({v}) was never consumed by the group")
    again = len(h.group_consumed) - len(consumed)
    summary = (f"{len(log) - len(missed)} of {len(log)} records consumed by the group ({again} more than "
               f"once), {len(missed)} never, {wrong} reads that differ from the log")
    return CheckResult("group_delivery", not missed and not wrong, summary,
                       {"records": len(log), "missed": len(missed), "redelivered": again, "wrong": wrong},
                       examples.final())
