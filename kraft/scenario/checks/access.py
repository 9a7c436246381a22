"""The access checker (security on): no intruder request was ever served, through any
fault, and no intruder value is in any log or final read. Pure."""

from __future__ import annotations

from kraft.scenario.checks.common import CheckResult, Examples
from kraft.scenario.history import History

INTRUDER_PREFIX = "intruder-"


def check_access(h: History, max_examples: int = 10, **_) -> CheckResult:
    if not h.access_probes:
        return CheckResult("access", True, "not run (security off)")
    examples = Examples(max_examples)
    served = [p for p in h.access_probes if 200 <= p[3] < 300]
    for ms, what, url, status in served:
        examples.add(f"{what} on {url} at {ms / 1000:.1f}s: HTTP {status}")
    planted = set()
    for p, reads in h.final_reads.items():
        planted |= {(p, o) for o, v in reads if v.startswith(INTRUDER_PREFIX)}
    for p, brokers in h.replica_logs.items():
        for records in brokers.values():
            planted |= {(p, o) for o, _, v in records if v.startswith(INTRUDER_PREFIX)}
    for p, o in sorted(planted):
        examples.add(f"an intruder value is at {h.topic}-{p} offset {o}")
    refused = sum(1 for p in h.access_probes if p[3] in (401, 403))
    unanswered = len(h.access_probes) - refused - len(served)
    ok = not served and not planted
    summary = (f"{len(h.access_probes)} intruder attempts: {refused} refused (401/403), {unanswered} "
               f"unanswered or retriable, {len(served)} served; {len(planted)} intruder values in logs")
    return CheckResult("access", ok, summary,
                       {"attempts": len(h.access_probes), "refused": refused, "served": len(served),
                        "planted": len(planted)}, examples.items)
