"""Iceberg exactly once: the topic's table holds each committed record once, and nothing
else (docs/ICEBERG.md, "What reaches the table"). A pure function over History.iceberg,
which the runner gathers from the live cluster (kraft/scenario/iceberg_table.py) when
the scenario's topic sets iceberg.mode.

The table's rows are compared with the committed log as a read_committed consumer reads
it, from the beginning of each partition to the end it finds (the last stable offset;
nothing writes after the workload), once the table said it had caught up (lag 0 on
every partition):

- missing: a committed record with no row at its (partition, offset);
- duplicated: a (partition, offset) with more than one row;
- not committed: a row where the read_committed log holds no record (an aborted
  transaction's record, a transaction marker's offset, past the last stable offset),
  or whose key, value, timestamp or headers differ from the record there.

And, from what the workload recorded: every acknowledged write (outcome ok; acks=all,
or acks=1 where the log still holds it) is a row, with its value (at its offset, when
the acknowledgement gave one); no write that
definitely failed, or whose transaction its client aborted, is one. The check fails when
the table did not catch up within its bound, when the table or the log could not be
read to the end, and on any count above 0.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from kraft.scenario.checks.common import MAX_EXAMPLES, CheckResult, Examples, where
from kraft.scenario.history import FAIL, OK, UNKNOWN, History, Write

EXAMPLES_EACH = 3  # per kind of offender, in the verdict's examples
MAX_OFFENDERS = 1000  # in the JSON report
FIELDS = ("key", "value", "timestamp", "headers")  # a row's fields after (partition, offset)
Placed = dict[tuple[int, int], list[list[Any]]]  # (partition, offset) -> the rows there


def check_iceberg(h: History, max_examples: int = MAX_EXAMPLES, **_: Any) -> CheckResult:
    data = h.iceberg
    if not data:
        return CheckResult("iceberg", True, "not run (the topic has no iceberg.mode)")
    if data.get("not_run"):
        return CheckResult("iceberg", True, f"not run ({data['not_run']})")
    # the comparison's end: where the read_committed log ended (its LSO), else the lag answer's LSO
    said: list[int | None] = list(data.get("until") or [None] * h.partitions)
    until: list[int | None] = list(data.get("log_end") or said)
    rows = data.get("rows")
    log = data.get("log") or []
    each = max(1, min(EXAMPLES_EACH, max_examples))
    kinds = {k: Examples(each) for k in ("missing", "duplicated", "not_committed", "acknowledged", "aborted")}
    offenders: list[str] = []

    def offend(kind: str, text: str) -> None:
        kinds[kind].add(text)
        if len(offenders) < MAX_OFFENDERS:
            offenders.append(f"{kind}: {text}")

    committed = {(r[0], r[1]): r for r in log}
    placed: Placed = {}
    for r in rows or []:
        placed.setdefault((r[0], r[1]), []).append(r)
    markers = {p: set(offsets) for p, offsets in h.control_offsets.items()}
    counts = {"rows": len(rows or []), "committed_records": len(committed), "missing": 0, "duplicated": 0,
              "duplicate_rows": 0, "not_committed": 0, "differing": 0}

    if rows is not None:
        _compare(h, committed, placed, until, data, markers, counts, offend)

    acked, unmatched = _acknowledged(h, placed, committed)
    counts["acknowledged"] = acked
    counts["acknowledged_not_rows"] = len(unmatched)
    for w in unmatched:
        offend("acknowledged", f"{w.value} acknowledged on {where(h, w.partition)}"
               + (f" at offset {w.offset}" if w.offset is not None else "") + ": no such row")
    refused, seen = _refused_rows(h, placed)
    counts["failed_or_aborted_writes"] = refused
    counts["failed_or_aborted_rows"] = len(seen)
    for w, (p, o) in seen:
        offend("aborted", f"{w.value} ({w.error or w.outcome}) is a row at {where(h, p)} offset {o}")

    caught_up = bool(data.get("caught_up"))
    problems = _problems(h, data, rows, caught_up)
    bad = sum(counts[k] for k in ("missing", "duplicated", "not_committed", "acknowledged_not_rows",
                                  "failed_or_aborted_rows"))
    counts["caught_up"] = int(caught_up)
    counts["waited_ms"] = int(1000 * float(data.get("waited_s") or 0))
    counts["beyond_lso"] = int(data.get("log_beyond") or 0)
    counts["lso_disagreements"] = sum(1 for a, b in zip(said, until) if a is not None and b is not None and a != b)

    head = (f"caught up in {data.get('waited_s', 0):g} s (bound {data.get('bound_s', 0):g} s)" if caught_up
            else "the table as it was")
    summary = (f"{head}: {counts['rows']} rows against {counts['committed_records']} committed records to the "
               f"LSO ({_lsos(until)}); missing {counts['missing']}, duplicated {counts['duplicated']}, "
               f"not committed {counts['not_committed']}"
               + (f" ({counts['differing']} differing)" if counts["differing"] else "")
               + f"; {acked - len(unmatched)} of {acked} acknowledged writes are rows"
               + f"; {len(seen)} of {refused} failed or aborted writes are rows")
    if counts["lso_disagreements"]:
        summary += f" (the lag answer's LSO was {_lsos(said)})"
    if problems:
        summary = "; ".join(problems) + "; " + summary
    examples = [text for kind in kinds.values() for text in kind.final()]
    return CheckResult("iceberg", not problems and bad == 0, summary, counts, examples, offenders=offenders)


def _no_record_why(p: int, o: int, until: list[int | None], starts: list[int | None],
                   markers: dict[int, set[int]]) -> str:
    end = until[p] if p < len(until) else None
    start = starts[p] if p < len(starts) else None
    if end is not None and o >= end:
        return f"past the last stable offset {end}"
    if start is not None and o < start:
        return f"below the log start {start} (deleted from the log: DeleteRecords, retention)"
    if o in markers.get(p, ()):
        return "a transaction marker's offset"
    return "the read_committed log has no record there (an aborted transaction's record?)"


def _acknowledged(h: History, placed: Placed, committed: dict[tuple[int, int], list[Any]]) -> tuple[int, list[Write]]:
    """The acknowledged writes that must be rows, and those with no row holding their
    value (at their offset when known, else anywhere in their partition): acks=all ones
    always; acks=1 ones where the committed log holds them (an acks=1 write the log lost
    is lost_writes' to judge); acks=0 ones promise nothing."""
    by_partition: dict[int, Counter[str]] = {}
    for (p, _), found in placed.items():
        for r in found:
            by_partition.setdefault(p, Counter())[lab_value(r[3])] += 1
    in_log: dict[int, set[str]] = {}
    for (p, _), rec in committed.items():
        in_log.setdefault(p, set()).add(lab_value(rec[3]))
    acked = [w for w in h.writes if w.outcome == OK and (
        w.acks == "all" or (w.acks == "1" and w.value in in_log.get(w.partition, ())))]
    missing = []
    for w in acked:
        if w.offset is not None:
            ok = any(lab_value(r[3]) == w.value for r in placed.get((w.partition, w.offset), ()))
        else:
            ok = by_partition.get(w.partition, Counter())[w.value] > 0
        if not ok:
            missing.append(w)
    return len(acked), missing


def _refused_rows(h: History, placed: Placed) -> tuple[int, list[tuple[Write, tuple[int, int]]]]:
    """Writes that definitely failed, or whose transaction its client aborted (a txn op
    answered fail: outcome unknown, error "fail: ..."), and the rows holding their value."""
    refused = {(w.partition, w.value): w for w in h.writes
               if w.outcome == FAIL or (w.outcome == UNKNOWN and (w.error or "").startswith("fail: "))}
    seen = []
    if refused:
        for (p, o), found in sorted(placed.items()):
            for r in found:
                w = refused.get((p, lab_value(r[3])))
                if w is not None:
                    seen.append((w, (p, o)))
    return len(refused), seen


def lab_value(text: str | None) -> str:
    """A row's value as the lab's writes name it (the runner's final read does the same):
    JSON decoded ("\\"p0-17\\"" -> p0-17, "123" -> 123), else the text itself."""
    if text is None:
        return "null"
    try:
        return str(json.loads(text))
    except ValueError:
        return text


def _show(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _lsos(until: list[int | None]) -> str:
    return ", ".join(f"p{p} {o}" for p, o in enumerate(until))


def _compare(h: History, committed: dict, placed: Placed, until: list[int | None], data: dict, markers: dict,
             counts: dict[str, int], offend: Any) -> None:
    """Each committed record against the rows at its offset: missing, duplicated, or a row
    that is no committed record (or differs from it)."""
    for (p, o), rec in sorted(committed.items()):
        if (p, o) not in placed:
            counts["missing"] += 1
            offend("missing", f"{where(h, p)} offset {o} value {_show(rec[3])}: committed, no row")
    for (p, o), found in sorted(placed.items()):
        if len(found) > 1:
            counts["duplicated"] += 1
            counts["duplicate_rows"] += len(found) - 1
            offend("duplicated", f"{where(h, p)} offset {o}: {len(found)} rows (values "
                   + ", ".join(_show(r[3]) for r in found[:3]) + ")")
        rec = committed.get((p, o))
        for r in found:
            if rec is None:
                counts["not_committed"] += 1
                offend("not_committed", f"{where(h, p)} offset {o} value {_show(r[3])}: "
                       + _no_record_why(p, o, until, data.get("log_start") or [], markers))
            elif r[2:] != rec[2:]:
                counts["not_committed"] += 1
                counts["differing"] += 1
                what = "; ".join(f"{name} {_show(a)} in the table, {_show(b)} in the log"
                                 for name, a, b in zip(FIELDS, r[2:], rec[2:]) if a != b)
                offend("not_committed", f"{where(h, p)} offset {o}: {what}")


def _problems(h: History, data: dict, rows: Any, caught_up: bool) -> list[str]:
    """What kept the comparison from being whole: a table that never caught up, a table
    or a log that could not be read."""
    problems = []
    if not caught_up:
        lags = ", ".join(f"{where(h, v.get('partition_id', i))} {v.get('lag')}"
                         for i, v in enumerate(data.get("view") or []))
        problems.append(f"the table did not catch up within {data.get('bound_s', 0):g} s (lag in records: "
                        f"{lags or data.get('view_error') or 'never answered'})")
    if data.get("collect_error"):
        problems.append(f"the table or the log could not be gathered: {data['collect_error']}")
    elif rows is None:
        problems.append(f"the table could not be read: {data.get('table_error')}")
    if not data.get("log_complete"):
        problems.append("the read_committed log was not read to the last stable offset"
                        + (f": {data.get('log_error')}" if data.get("log_error") else ""))
    return problems
