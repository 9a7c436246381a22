"""What the Jepsen-style checks report: cases of each anomaly, and the verdict. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from kraft.scenario.jepsen.history import Key

MAX_JSON_CASES = 32  # like Jepsen, the JSON shows a sample of each anomaly, not all of it


@dataclass
class Case:
    """One occurrence of an anomaly, with what a person needs to find it in the history."""

    text: str  # one line to read
    ops: list[int]  # the indexes of the ops involved
    key: Key | None = None
    offsets: list[int] = field(default_factory=list)
    values: list[int] = field(default_factory=list)
    size: int = 0  # smaller is simpler to read (a skip's length, a cycle's length)
    # non-empty: Kafka's model allows this, as Jepsen judges it; reported, not failed
    allowed: str = ""


@dataclass
class Finding:
    name: str
    definition: str
    cases: list[Case] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.cases)

    def failing(self, strict: bool = False) -> list[Case]:
        return [c for c in self.cases if strict or not c.allowed]

    def example(self, strict: bool = False) -> Case | None:
        """The simplest failing case, else the simplest allowed one."""
        if not self.cases:
            return None
        return min(self.cases, key=lambda c: (not (strict or not c.allowed), c.size, c.ops))


@dataclass
class JepsenReport:
    findings: list[Finding]
    unseen: dict[Key, list[int]]  # key -> values acknowledged but never read by an ok op
    stats: dict[str, int]
    strict: bool = False
    # the verdict row's words for the final reads (complete, not) and the workload's own
    # facts (the share workload's deliveries, dead letters, kills)
    final_text: tuple[str, str] = ("reached every partition's end", "did NOT reach every partition's end")
    summary: str = ""

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.failing(self.strict)]

    @property
    def valid(self) -> bool:
        return not self.failed

    def anomalies(self) -> dict[str, int]:
        """Jepsen's name -> how many failing cases, for each anomaly found ({} when clean)."""
        return {f.name: n for f in self.findings if (n := len(f.failing(self.strict)))}

    def allowed(self) -> dict[str, int]:
        """name -> cases Kafka's model allows (reported, never failed), where any."""
        return {f.name: n for f in self.findings if (n := f.count - len(f.failing(self.strict)))}

    def to_json(self) -> dict:
        return {
            "valid": self.valid,
            "strict": self.strict,
            "failed": [f.name for f in self.failed],
            "stats": self.stats,
            "anomalies": {
                f.name: {"count": f.count, "failing": len(f.failing(self.strict)),
                         "definition": f.definition,
                         "example": asdict(ex) if (ex := f.example(self.strict)) else None,
                         "cases": [asdict(c) for c in f.cases[:MAX_JSON_CASES]]}
                for f in self.findings
            },
            "unseen": {"count": sum(len(v) for v in self.unseen.values()),
                       "by_key": {k: len(v) for k, v in sorted(self.unseen.items())},
                       "values": {k: sorted(v)[:MAX_JSON_CASES] for k, v in sorted(self.unseen.items())}},
        }


def report_lines(report: JepsenReport) -> list[str]:
    """The report for a person: one line per check (name, count, status, the simplest
    example), then unseen and the verdict."""
    s = report.stats
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(s.items()) if k not in ("ops", "never completed"))
    lines = [f"{s['ops']} completed ops ({kinds})"
             + (f"; {s['never completed']} never completed (taken as info)" if s.get("never completed") else "")]
    for f in report.findings:
        failing = len(f.failing(report.strict))
        status = "FAIL" if failing else "allowed" if f.count else "ok"
        line = f"{f.name:22s} {f.count:6d}  {status}"
        ex = f.example(report.strict)
        if ex is not None:
            line += f"  e.g. {ex.text}"
            if ex.allowed and not report.strict:
                line += f" [allowed: {ex.allowed}]"
        lines.append(line)
    total = sum(len(v) for v in report.unseen.values())
    line = f"{'unseen':22s} {total:6d}  info (acknowledged, not read by any ok poll; not an anomaly)"
    if total:
        line += "  " + "; ".join(f"key {k}: {len(v)} (e.g. {', '.join(map(str, sorted(v)[:3]))})"
                                 for k, v in sorted(report.unseen.items())[:5])
    lines.append(line)
    lines.append("verdict: " + ("PASS" if report.valid else "FAIL: " + ", ".join(f.name for f in report.failed)))
    return lines
