"""Raft's rule for AppendEntries, where pysyncobj breaks it (part of the pysyncobj adapter).

The library truncates its log after `prevLogIdx` whenever it holds more entries than
an AppendEntries message carries, even when every entry the message carries is
already there: a stale or repeated message (the leader resending from an older next
index) makes a follower drop entries it has applied, logging "truncating
already-applied log entries ... may have diverged". Raft says a follower deletes
entries only from the first conflict (same index, other term), and such an entry is
never committed. `plan_append` decides, from the follower's log and the message, what
the library should be handed: pure logic, no library state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class AppendPlan:
    action: str  # "pass" (hand on unchanged), "rewrite" (hand on `message`), "refuse"
    message: dict | None = None
    keep_tail: bool = False  # entries after the message's range match so far: do not truncate them
    reason: str = ""


def plan_append(message: dict, term_at: Callable[[int], int | None], first_index: int, last_index: int,
                last_applied: int) -> AppendPlan:
    """term_at(i): the term of our entry at index i, None when we do not hold it."""
    entries = list(message.get("entries") or [])
    prev = message["prevLogIdx"]
    if prev < first_index or term_at(prev) != message["prevLogTerm"]:
        return AppendPlan("pass")  # no match at prev: the library answers "reset", truncates nothing
    matched = 0
    for _, index, term in entries:
        ours = term_at(index)
        if ours is None:
            break  # beyond our end: appended as usual
        if ours != term:  # the first conflict: everything from here on is deleted
            if index <= last_applied:
                return AppendPlan("refuse", reason=(
                    f"leader's entry {index} (term {term}) conflicts with an applied entry (term {ours})"))
            break
        matched += 1
    end = entries[matched - 1][1] if matched else prev
    rest = entries[matched:]
    if not matched and (rest or end >= last_index):
        return AppendPlan("pass")  # nothing of ours is dropped but what Raft drops
    rewritten = dict(message, prevLogIdx=end, prevLogTerm=term_at(end), entries=rest)
    if rest or end >= last_index:
        return AppendPlan("rewrite", rewritten)
    # Every entry matched and we hold more: keep them, and commit no further than the
    # message vouched for (our later entries may still be replaced).
    rewritten["commit_index"] = min(message["commit_index"], end)
    return AppendPlan("rewrite", rewritten, keep_tail=True)

