"""Histories in the shape of Jepsen's Kafka workload, as JSON lines (docs/SCENARIOS.md,
"Jepsen's Kafka checks"), parsed into operations the checkers in jepsen/checks.py read.

One JSON object per line, one operation each:

    {"index": 3, "time_ns": 1200, "process": 0, "type": "ok", "f": "send",
     "value": [["send", "1", [0, 17]]]}

- index: optional int, unique; defaults to the operation's position in the file (from 0)
- time_ns or time_ms: optional number, when it happened (only shown, never judged)
- process: int or string, the client; ops of the process "nemesis" are skipped
- type: "invoke", then one completion "ok" | "fail" (did not happen) | "info" (unknown)
- f: "send" | "poll" | "txn" (micro-ops), "assign" | "subscribe" (a list of keys),
  "crash" (the client was torn down) or "debug-topic-partitions" (ignored)
- value, for send/poll/txn, a list of micro-ops:
  ["send", key, value] as invoked (or a completion without an offset),
  ["send", key, [offset or null, value]] as completed,
  ["poll"] as invoked, ["poll", {key: [[offset, value], ...], ...}] as completed
- rebalanced_keys: optional list of keys whose assignment changed during the op (the
  client's rebalance log): its internal poll order is not judged for those keys

A key names one topic-partition (Jepsen's keys are ints; here strings, and ints are
accepted and turned into strings); values are ints, unique per history; offsets are ints.

Parsing is pure: lines in, a JepsenHistory or a HistoryError naming the line out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

INVOKE, OK, FAIL, INFO = "invoke", "ok", "fail", "info"
TYPES = (INVOKE, OK, FAIL, INFO)
SEND, POLL, TXN, ASSIGN, SUBSCRIBE, CRASH, DEBUG = (
    "send", "poll", "txn", "assign", "subscribe", "crash", "debug-topic-partitions")
MICRO_OP_FS = (SEND, POLL, TXN)
FS = (SEND, POLL, TXN, ASSIGN, SUBSCRIBE, CRASH, DEBUG)
NEMESIS = "nemesis"

Key = str
Pair = tuple[int | None, int]  # (offset, value); None = offset not known


class HistoryError(ValueError):
    """Input that is not a history; the message names the line (1-based)."""

    def __init__(self, line: int, reason: str):
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Send:
    key: Key
    value: int
    offset: int | None  # None: as invoked, or the client learned no offset


@dataclass
class Poll:
    reads: dict[Key, list[Pair]]  # empty for an invoked ["poll"]


MicroOp = Send | Poll


@dataclass
class Op:
    index: int
    line: int
    process: int | str
    type: str
    f: str
    mops: list[MicroOp] = field(default_factory=list)  # send/poll/txn
    keys: list[Key] = field(default_factory=list)  # assign/subscribe
    time_ns: int | None = None
    rebalanced_keys: frozenset[Key] = frozenset()
    invoke_index: int | None = None  # a completion's invoke
    synthetic: bool = False  # an info completion made up for an invoke that never completed

    def sends(self) -> dict[Key, list[Send]]:
        """key -> this op's sends to it, in op order."""
        out: dict[Key, list[Send]] = {}
        for m in self.mops:
            if isinstance(m, Send):
                out.setdefault(m.key, []).append(m)
        return out

    def reads(self) -> dict[Key, list[Pair]]:
        """key -> every (offset, value) this op polled, in op order; keys polled with
        nothing returned are left out."""
        out: dict[Key, list[Pair]] = {}
        for m in self.mops:
            if isinstance(m, Poll):
                for k, pairs in m.reads.items():
                    if pairs:
                        out.setdefault(k, []).extend(pairs)
        return out


@dataclass
class JepsenHistory:
    ops: list[Op]  # client ops in file order, invokes and completions
    completions: list[Op]  # ok / fail / info, in file order (made-up infos last)


def parse_history(lines: Iterable[str]) -> JepsenHistory:
    """Parse JSON lines into a JepsenHistory; blank lines are skipped. Raises
    HistoryError for the first line that is not a well-formed op or breaks the
    invoke/completion pairing of its process."""
    ops: list[Op] = []
    seen_indexes: set[int] = set()
    pending: dict[int | str, Op] = {}  # process -> its invoke awaiting completion
    completions: list[Op] = []
    position = 0
    last_line = 0
    for line_no, text in enumerate(lines, start=1):
        last_line = line_no
        if not text.strip():
            continue
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise HistoryError(line_no, f"not JSON ({exc})") from None
        op = _op(raw, line_no, position)
        if op is None:  # a nemesis op: faults are not judged here
            continue
        if op.index in seen_indexes:
            raise HistoryError(line_no, f"index {op.index} appears twice")
        seen_indexes.add(op.index)
        position += 1
        if op.type == INVOKE:
            if op.process in pending:
                raise HistoryError(line_no, f"process {op.process!r} invokes again while its invoke "
                                            f"at line {pending[op.process].line} has no completion")
            pending[op.process] = op
        else:
            invoke = pending.pop(op.process, None)
            if invoke is None:
                raise HistoryError(line_no, f"{op.type} of process {op.process!r} has no invoke before it")
            if invoke.f != op.f:
                raise HistoryError(line_no, f"{op.type} {op.f!r} completes process {op.process!r}'s "
                                            f"invoke of {invoke.f!r} at line {invoke.line}")
            op.invoke_index = invoke.index
            completions.append(op)
        ops.append(op)
    next_index = max(seen_indexes, default=-1) + 1
    for invoke in pending.values():
        # Never completed: it may or may not have happened, as an info completion says.
        # Jepsen completes a history the same way before checking it.
        completions.append(Op(next_index, last_line, invoke.process, INFO, invoke.f,
                              list(invoke.mops), list(invoke.keys), None, invoke.rebalanced_keys,
                              invoke.index, synthetic=True))
        next_index += 1
    return JepsenHistory(ops, completions)


def _op(raw: Any, line: int, position: int) -> Op | None:
    if not isinstance(raw, dict):
        raise HistoryError(line, "an op must be a JSON object")
    process = raw.get("process")
    if process == NEMESIS:
        return None
    if isinstance(process, bool) or not isinstance(process, (int, str)):
        raise HistoryError(line, "process must be an int or a string")
    type_ = raw.get("type")
    if type_ not in TYPES:
        raise HistoryError(line, f"type must be one of {', '.join(TYPES)}, not {type_!r}")
    f = raw.get("f")
    if f not in FS:
        raise HistoryError(line, f"f must be one of {', '.join(FS)}, not {f!r}")
    index = raw.get("index", position)
    if not _is_int(index):
        raise HistoryError(line, f"index must be an int, not {index!r}")
    op = Op(index, line, process, type_, f, time_ns=_time_ns(raw, line),
            rebalanced_keys=frozenset(_keys(raw.get("rebalanced_keys", []), line, "rebalanced_keys")))
    value = raw.get("value")
    if f in MICRO_OP_FS:
        if not isinstance(value, list):
            raise HistoryError(line, f"value of a {f} must be a list of micro-ops")
        op.mops = [_micro_op(m, line, i) for i, m in enumerate(value)]
    elif f in (ASSIGN, SUBSCRIBE):
        op.keys = _keys(value, line, "value")
    return op


def _micro_op(raw: Any, line: int, i: int) -> MicroOp:
    where = f"micro-op {i}"
    if not isinstance(raw, list) or not raw or raw[0] not in (SEND, POLL):
        raise HistoryError(line, f"{where} must be [\"send\", key, value] or [\"poll\", ...], not {raw!r}")
    if raw[0] == SEND:
        if len(raw) != 3:
            raise HistoryError(line, f"{where}: a send is [\"send\", key, value or [offset, value]]")
        key = _key(raw[1], line, where)
        v = raw[2]
        if _is_int(v):
            return Send(key, v, None)
        if isinstance(v, list) and len(v) == 2 and (v[0] is None or _is_offset(v[0])) and _is_int(v[1]):
            return Send(key, v[1], v[0])
        raise HistoryError(line, f"{where}: the sent value must be an int or [offset or null, int], not {v!r}")
    if len(raw) == 1:
        return Poll({})
    if len(raw) != 2 or not isinstance(raw[1], dict):
        raise HistoryError(line, f"{where}: a poll is [\"poll\"] or [\"poll\", {{key: [[offset, value], ...]}}]")
    reads: dict[Key, list[Pair]] = {}
    for k, pairs in raw[1].items():
        key = _key(k, line, where)
        if not isinstance(pairs, list):
            raise HistoryError(line, f"{where}: key {key} must map to a list of [offset, value]")
        out: list[Pair] = []
        for p in pairs:
            if not (isinstance(p, list) and len(p) == 2 and (p[0] is None or _is_offset(p[0]))
                    and _is_int(p[1])):
                raise HistoryError(line, f"{where}: key {key} holds {p!r}, not [offset, int value]")
            out.append((p[0], p[1]))
        reads[key] = out
    return Poll(reads)


def _key(raw: Any, line: int, where: str) -> Key:
    if _is_int(raw):
        return str(raw)
    if isinstance(raw, str) and raw:
        return raw
    raise HistoryError(line, f"{where}: a key must be a non-empty string or an int, not {raw!r}")


def _keys(raw: Any, line: int, name: str) -> list[Key]:
    if not isinstance(raw, list):
        raise HistoryError(line, f"{name} must be a list of keys")
    return [_key(k, line, name) for k in raw]


def _time_ns(raw: dict, line: int) -> int | None:
    for name, scale in (("time_ns", 1), ("time_ms", 1_000_000)):
        t = raw.get(name)
        if t is None:
            continue
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise HistoryError(line, f"{name} must be a number, not {t!r}")
        return int(t * scale)
    return None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_offset(v: Any) -> bool:
    return _is_int(v) and v >= 0
