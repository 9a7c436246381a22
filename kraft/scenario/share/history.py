"""The share workload's history (JSON lines, as the Jepsen workloads write theirs), parsed
into what share/checks.py judges. Pure: lines in, a ShareHistory or a HistoryError out.

The first line names the group under test:

    {"process": "setup", "type": "info", "f": "share-group", "value": {"topic": "t",
     "group": "share", "delivery_limit": 5, "lock_ms": 3000, "dead_letter_topic": "dlq.t" or null}}

then ops, each an invoke and its completion (ok / fail / info) by one process:

- send: [["send", key, value]], completed [["send", key, [offset or null, value]]]
- poll: [["poll"]], completed [["poll", {key: [[offset, value, delivery count], ...]}]]:
  the records the group handed this consumer, now held by it
- ack: [[key, offset, value, kind], ...] (kind accept / release / reject), completed
  [[key, offset, value, kind, outcome], ...]: each acknowledgement's own outcome (ok,
  fail: surely not taken, info: unknown)
- crash: the workload killed the process (-9), whatever it held; an info completion
  also ends its process (the workload kills it, as Jepsen retires a process after info)
- dead-letters (the drain's processes): completed [[partition, offset, value or null,
  {header: text}], ...], the group's dead-letter topic read on from where that process
  read last (a new process reads from the beginning again: each offset counts once)

Lines of the process "nemesis" (faults) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kraft.scenario.jepsen.history import HistoryError

SETUP = "share-group"


@dataclass(frozen=True)
class Delivery:
    pos: int  # the poll's invoke, in history order
    index: int  # the poll's completion index, to find it
    process: int | str
    key: str
    offset: int
    value: int
    count: int


@dataclass(frozen=True)
class Ack:
    invoked: int  # positions in history order
    completed: int
    index: int
    process: int | str
    key: str
    offset: int
    value: int
    kind: str
    outcome: str


@dataclass(frozen=True)
class Kill:
    pos: int
    index: int
    process: int | str
    held: tuple[Delivery, ...]  # delivered to it and not acknowledged when it died


@dataclass(frozen=True)
class DeadLetter:
    index: int
    offset: int
    value: int | None  # the copied record's value (None: not copied)
    headers: dict[str, str]


@dataclass
class ShareHistory:
    config: dict
    sends: dict[int, tuple[str, int | None, str, int]] = field(default_factory=dict)  # value -> (key, offset, outcome, index)
    deliveries: list[Delivery] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    dead_letters: list[DeadLetter] | None = None  # None: the dead-letter topic was not read
    _letter_offsets: set[int] = field(default_factory=set)
    ops: int = 0  # completed send, poll and ack ops


def is_share_history(first_line: str) -> bool:
    try:
        raw = orjson.loads(first_line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(raw, dict) and raw.get("f") == SETUP


def parse_share_history(lines: Iterable[str]) -> ShareHistory:
    h: ShareHistory | None = None
    invokes: dict[int | str, tuple[int, dict]] = {}  # process -> (position, its invoke line)
    held: dict[int | str, list[Delivery]] = {}  # process -> its last poll's records, until it acknowledges
    for pos, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise HistoryError(pos, f"not JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise HistoryError(pos, "an op must be a JSON object")
        if raw.get("f") == SETUP:
            h = ShareHistory(dict(raw.get("value") or {}))
            continue
        if h is None:
            raise HistoryError(pos, f"the first line must be the {SETUP!r} line")
        process = raw.get("process")
        if not isinstance(process, (int, str)):
            raise HistoryError(pos, "process must be an int or a string")
        if process == "nemesis":
            continue
        if raw.get("type") == "invoke":
            invokes[process] = (pos, raw)
            if raw.get("f") == "ack":
                held.pop(process, None)
            continue
        if process not in invokes:
            raise HistoryError(pos, f"{raw.get('type')} of process {process!r} has no invoke before it")
        invoked, _ = invokes.pop(process)
        try:
            _completion(h, raw, pos, invoked, held)
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise HistoryError(pos, f"a {raw.get('f')!r} completion that does not parse: {exc!r}") from None
    if h is None:
        raise HistoryError(1, f"no {SETUP!r} line")
    return h


def _completion(h: ShareHistory, raw: dict, pos: int, invoked: int, held: dict) -> None:
    f, type_, process, index = raw.get("f"), raw.get("type"), raw["process"], int(raw.get("index", pos))
    value: Any = raw.get("value")
    if f in ("send", "poll", "ack"):
        h.ops += 1
    if f == "send":
        for _, key, (offset, v) in (m for m in value if isinstance(m[2], list)):
            h.sends[int(v)] = (str(key), offset, str(type_), index)
    elif f == "poll" and type_ == "ok":
        got = [Delivery(invoked, index, process, str(key), int(o), int(v), int(c))
               for _, reads in value for key, records in reads.items() for o, v, c in records]
        h.deliveries.extend(got)
        held[process] = got
    elif f == "ack":
        for a in value:
            outcome = a[4] if len(a) > 4 else "info"  # a client that died mid-op said nothing
            h.acks.append(Ack(invoked, pos, index, process, str(a[0]), int(a[1]), int(a[2]), str(a[3]),
                              outcome if type_ == "ok" else "info"))
    elif f == "dead-letters" and type_ == "ok":
        h.dead_letters = h.dead_letters or []
        for _, o, v, headers in value:
            if int(o) not in h._letter_offsets:
                h._letter_offsets.add(int(o))
                h.dead_letters.append(DeadLetter(index, int(o), None if v is None else int(v), dict(headers)))
    if f == "crash" or type_ == "info":  # either way the workload killed the process
        h.kills.append(Kill(pos, index, process, tuple(held.pop(process, ()))))
