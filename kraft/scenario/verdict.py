"""Checker results + the scenario's expectations -> a verdict. Pure.

A negative control expects a checker to FAIL (loss must be detected); "any" leaves a
checker unjudged. Facts (errors seen, unclean elections, offline periods, the
longest write outage) are measured from the history and judged the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kraft.scenario.history import OK, History, admin_retention_ms
from kraft.config.scenarios import UNDO_KINDS, Expectations


@dataclass(frozen=True)
class Row:
    name: str
    expected: str
    actual: str
    ok: bool
    summary: str


@dataclass
class Verdict:
    rows: list[Row] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)


def measure(h: History) -> dict:
    oks = sorted(w.complete_ms for w in h.writes if w.outcome == OK and w.complete_ms is not None)
    first_fault = min((f.time_ms for f in h.faults if f.kind != "heal"), default=None)
    gap = 0.0
    if first_fault is not None and oks:
        window = [t for t in oks if t >= first_fault - 1000]
        points = [first_fault] + window
        gap = max((b - a for a, b in zip(points, points[1:])), default=0.0)
    return {
        "writes": len(h.writes),
        "writes_ok": len(oks),
        # acknowledged writes per second over the span they were acknowledged in
        "writes_ok_per_s": round(len(oks) / max(0.001, (oks[-1] - min(w.invoke_ms for w in h.writes)) / 1000), 1)
        if oks else 0.0,
        "writes_fail": sum(1 for w in h.writes if w.outcome == "fail"),
        "writes_unknown": sum(1 for w in h.writes if w.outcome == "unknown"),
        "reads": len(h.reads),
        "faults": sum(1 for f in h.faults if f.kind not in UNDO_KINDS
                      and not f.detail.startswith("skipped")),
        "unclean_elections": sum(max((s.unclean_elections for s in h.samples if s.partition == p),
                                     default=0) for p in range(h.partitions)),
        "offline_seen": any(s.leader is None for s in h.samples),
        "elections": elections(h),
        "max_unavailability_s": round(gap / 1000, 3),
        "errors": dict(Counter(_error_kind(w.error) for w in h.writes if w.error).most_common(8)),
    }


def elections(h: History) -> int:
    """How far the Raft term (the controller epoch) rose from the first sample to the
    last: every election raises it, won or not (a lost one shows in the next winner's)."""
    terms = [s.raft_term for s in h.samples if s.raft_term is not None]
    return max(terms) - terms[0] if terms else 0


def _error_kind(error: str) -> str:
    """"50003: NOT_ENOUGH_REPLICAS: ..." -> "50003 NOT_ENOUGH_REPLICAS"."""
    parts = [p.strip() for p in error.split(":")]
    return " ".join(parts[:2])[:60]


def jepsen_rows(expect: Expectations, report, final_complete: bool | None) -> list[Row]:
    """Rows for Jepsen's checks (report: a JepsenReport): one per anomaly found or
    expected to be found, and one for the whole that fails on any anomaly not expected
    and on a final poll that did not reach the end (lost writes could not be judged)."""
    found = report.anomalies()
    rows = []
    for name in sorted(set(found) | {n for n, e in expect.anomalies.items() if e == "found"}):
        expected, n = expect.anomaly(name), found.get(name, 0)
        ok = expected == "any" or (n > 0) == (expected == "found")
        finding = next((f for f in report.findings if f.name == name), None)
        example = finding.example(report.strict) if finding is not None else None
        rows.append(Row(f"jepsen {name}", expected, str(n), ok,
                        f"e.g. {example.text}" if example is not None and n else "none found"))
    unexpected = sorted(n for n in found if expect.anomaly(n) == "none")
    stats = report.stats
    summary = (f"{stats.get('ops', 0)} ops checked; final poll "
               + report.final_text[0 if final_complete else 1] + (f"; {report.summary}" if report.summary else "")
               + ("; unexpected: " + ", ".join(f"{n} {found[n]}" for n in unexpected) if unexpected else ""))
    allowed = report.allowed()
    if allowed:
        summary += "; allowed by Kafka's model: " + ", ".join(f"{n} {c}" for n, c in sorted(allowed.items()))
    rows.append(Row("jepsen", "no unexpected anomaly", f"{len(unexpected)} unexpected",
                    not unexpected and bool(final_complete), summary))
    return rows


def judge(expect: Expectations, checks, h: History, jepsen=None,
          jepsen_final_complete: bool | None = None) -> tuple[Verdict, dict]:
    """jepsen: the JepsenReport of a Jepsen workload's history, judged too."""
    facts = measure(h)
    v = Verdict()
    for c in checks:
        expected = expect.verdict(c.name)
        actual = "pass" if c.ok else "fail"
        v.rows.append(Row(c.name, expected, actual, expected in ("any", actual), c.summary))
    for text in expect.errors_seen:
        seen = sum(1 for w in h.writes if text in (w.error or ""))
        v.rows.append(Row(f"errors_seen {text}", "seen", f"{seen} writes", seen > 0,
                          f"writes that failed with {text}: {seen}"))
    if h.topics_created:
        created = [name for name, outcome, _ in h.topics_created if outcome == OK]
        lost = sorted(set(created) - set(h.final_topics))
        changed = sorted(name for name in set(created) - set(lost)
                         if h.final_retention_ms.get(name) != admin_retention_ms(name))
        facts["topics_created"] = len(created)
        v.rows.append(Row("metadata_lost", "0", str(len(lost) + len(changed)), not lost and not changed,
                          f"acknowledged topic creations: {len(created)}, missing at the end: "
                          f"{len(lost)}{' e.g. ' + ', '.join(lost[:3]) if lost else ''}, with another "
                          f"retention.ms: {len(changed)}{' e.g. ' + ', '.join(changed[:3]) if changed else ''}"))
    if expect.unclean_elections != "any":
        n = facts["unclean_elections"]
        actual = "some" if n else "none"
        v.rows.append(Row("unclean_elections", expect.unclean_elections, actual,
                          actual == expect.unclean_elections, f"recorded unclean elections: {n}"))
    if expect.offline_seen is not None:
        seen = facts["offline_seen"]
        v.rows.append(Row("offline_seen", str(expect.offline_seen).lower(), str(seen).lower(),
                          seen == expect.offline_seen, "a partition was seen without a leader"
                          if seen else "every sample showed a leader"))
    if expect.max_unavailability_s is not None:
        gap = facts["max_unavailability_s"]
        v.rows.append(Row("max_unavailability", f"<= {expect.max_unavailability_s}s", f"{gap}s",
                          gap <= expect.max_unavailability_s,
                          f"longest gap between acknowledged writes after the first fault: {gap}s"))
    if expect.max_elections is not None:
        n = facts["elections"]
        terms = [s.raft_term for s in h.samples if s.raft_term is not None]
        span = f"Raft term {terms[0]} -> {max(terms)}" if terms else "no controller term sampled"
        v.rows.append(Row("elections", f"<= {expect.max_elections}", str(n),
                          bool(terms) and n <= expect.max_elections, f"{span} over the run: {n} elections"))
    if jepsen is not None:
        v.rows.extend(jepsen_rows(expect, jepsen, jepsen_final_complete))
        facts["anomalies"] = jepsen.anomalies()
    return v, facts
