"""The anomalies of Jepsen's Kafka workload, checked on a JepsenHistory
(docs/SCENARIOS.md, "Jepsen's Kafka checks"). Names and definitions follow Jepsen's
(jepsen.tests.kafka); the code and words are kraft's. Pure: a history in, a report out.

Positions are places in a key's version order (jepsen/orders.py): a read or send sits
at its offset's position, or at its value's when the offset is not known. Two
observations one position apart are adjacent in the log; more is a skip, less (or the
same) goes backwards.
"""

from __future__ import annotations

from collections.abc import Iterator

from kraft.config.scenarios import ANOMALY_NAMES
from kraft.scenario.jepsen.cycles import cycle_findings
from kraft.scenario.jepsen.findings import Case, Finding, JepsenReport
from kraft.scenario.jepsen.history import (
    ASSIGN,
    CRASH,
    FAIL,
    INFO,
    MICRO_OP_FS,
    OK,
    POLL,
    SEND,
    SUBSCRIBE,
    TXN,
    JepsenHistory,
    Key,
    Op,
    Pair,
)
from kraft.scenario.jepsen.orders import Analysis, analyse

DEFINITIONS = {
    "lost-write": "a send that surely happened (ok, or info and read) is never read by an ok op, "
                  "though an ok op read a later position of its key",
    "duplicate": "one value at two or more offsets of one key",
    "inconsistent-offsets": "one offset of one key holding two or more values, across sends and polls",
    "G1a": "aborted read: an ok op read a value whose send failed",
    "precommitted-read": "an op read a value it sent itself, before it committed",
    "nonmonotonic-send": "a process's op sent to a key at or before the position its previous send "
                         "there reached (per assignment epoch)",
    "int-nonmonotonic-send": "within one op, a send to a key at or before the op's previous send there",
    "int-send-skip": "within one op, two successive sends to a key with another value between them "
                     "(allowed: sends of concurrent transactions interleave)",
    "nonmonotonic-poll": "a process's poll of a key started at or before where its previous poll of it "
                         "ended (per assignment epoch)",
    "int-nonmonotonic-poll": "within one op, a read of a key at or before the op's previous read of it",
    "poll-skip": "a process's poll of a key started past the position after its previous poll's last, "
                 "over values the log holds (per assignment epoch)",
    "int-poll-skip": "within one op, two successive reads of a key with values of the log between them",
}

CYCLE_NAMES = ("G0", "G1c", "G-single")
# every check's name, in report order: the names a scenario file may expect
assert ANOMALY_NAMES == tuple(DEFINITIONS) + CYCLE_NAMES, "kraft/config/scenarios.py lists them"


def check_jepsen_history(h: JepsenHistory, strict: bool = False) -> JepsenReport:
    """Every check, in DEFINITIONS order then the cycles (G0, G1c, G-single).
    strict: cases Kafka's model allows fail too."""
    a = analyse(h)
    cases: dict[str, list[Case]] = {name: [] for name in DEFINITIONS}
    cases["lost-write"] = lost_writes(a)
    cases["duplicate"] = duplicates(a)
    cases["inconsistent-offsets"] = inconsistent_offsets(a)
    cases["G1a"] = aborted_reads(a)
    cases["precommitted-read"] = precommitted_reads(a)
    for name, case in process_order_cases(a):
        cases[name].append(case)
    for name, case in internal_order_cases(a):
        cases[name].append(case)
    findings = [Finding(name, DEFINITIONS[name], cs) for name, cs in cases.items()]
    findings += cycle_findings(a)
    return JepsenReport(findings, unseen(a), stats(h), strict)


def lost_writes(a: Analysis) -> list[Case]:
    out = []
    for k, read in sorted(a.ok_reads.items()):
        order = a.order(k)
        known = [(order.first_index[v], v) for v in read if v in order.first_index]
        if not known:
            continue
        bound, top = max(known)  # the furthest position some ok op read
        reader = a.first_reader[(k, top)]
        # a value at several positions must have been read once the last of them was passed
        for v, last in sorted(order.last_index.items(), key=lambda x: (x[1], x[0])):
            if last > bound:
                break
            w = a.writer.get((k, v))
            if v in read or w is None or not a.committed(w):
                continue
            o, top_o = order.offsets[order.first_index[v]], order.offsets[bound]
            out.append(Case(f"key {k}: value {v} at offset {o}, sent by op {w.index} ({w.type}), was never "
                            f"read, though op {reader.index} read offset {top_o} (value {top}) past it",
                            [w.index, reader.index], k, [o, top_o], [v, top]))
    return out


def duplicates(a: Analysis) -> list[Case]:
    out = []
    for k, order in sorted(a.orders.items()):
        where: dict[int, list[int]] = {}
        for o in order.offsets:
            for v in order.at_offset[o]:
                where.setdefault(v, []).append(o)
        for v, offsets in sorted(where.items()):
            if len(offsets) > 1:
                ops = [a.source[(k, o, v)].index for o in offsets]
                out.append(Case(f"key {k}: value {v} at offsets {', '.join(map(str, offsets))} "
                                f"(reported by ops {', '.join(map(str, ops))})",
                                ops, k, offsets, [v], size=len(offsets)))
    return out


def inconsistent_offsets(a: Analysis) -> list[Case]:
    out = []
    for k, order in sorted(a.orders.items()):
        for o in order.offsets:
            values = sorted(order.at_offset[o])
            if len(values) > 1:
                ops = [a.source[(k, o, v)].index for v in values]
                out.append(Case(f"key {k} offset {o}: values {', '.join(map(str, values))} "
                                f"(reported by ops {', '.join(map(str, ops))})",
                                ops, k, [o], values, size=len(values)))
    return out


def aborted_reads(a: Analysis) -> list[Case]:
    out = []
    for op in a.history.completions:
        if op.type != OK or op.f not in (POLL, TXN):
            continue
        for k, pairs in op.reads().items():
            for o, v in pairs:
                w = a.writer.get((k, v))
                if w is not None and w.type == FAIL:
                    out.append(Case(f"key {k}: op {op.index} read value {v} at offset {_o(o)}, sent by "
                                    f"op {w.index}, which failed", [w.index, op.index], k, _offsets(o), [v]))
    return out


def precommitted_reads(a: Analysis) -> list[Case]:
    out = []
    for op in a.history.completions:
        reads = op.reads()
        for k, sends in op.sends().items():
            for o, v in reads.get(k, ()):
                if any(s.value == v for s in sends):
                    out.append(Case(f"key {k}: op {op.index} ({op.type}) read value {v} at offset {_o(o)}, "
                                    f"which it sent itself", [op.index], k, _offsets(o), [v]))
    return out


def process_order_cases(a: Analysis) -> Iterator[tuple[str, Case]]:
    """nonmonotonic-send, nonmonotonic-poll and poll-skip: each process's ops in order.

    An epoch of a process's consumer ends where Jepsen's does: an assign or subscribe
    (that did not fail) keeps only the keys it names; a crash or an info completion ends
    it (Jepsen never reuses a process after info). A process that subscribed is
    rebalanced by the cluster between its polls, so its poll skips and backward polls
    are allowed, as Jepsen allows them in a test that subscribes."""
    by_process: dict[int | str, list[Op]] = {}
    for op in a.history.completions:
        by_process.setdefault(op.process, []).append(op)
    for process, ops in by_process.items():
        last_send: dict[Key, tuple[Op, int | None, int | None, int]] = {}  # key -> op, pos, offset, value
        last_poll: dict[Key, tuple[Op, int | None, int | None, int]] = {}
        subscribed = False
        for op in ops:
            if op.f in (ASSIGN, SUBSCRIBE) and op.type != FAIL:
                keep = set(op.keys)
                last_send = {k: v for k, v in last_send.items() if k in keep}
                last_poll = {k: v for k, v in last_poll.items() if k in keep}
                subscribed = op.f == SUBSCRIBE
            if op.f == CRASH:
                last_send, last_poll, subscribed = {}, {}, False
            if op.f in (SEND, TXN) and op.type in (OK, INFO):
                for k, sends in op.sends().items():
                    first = sends[0]
                    pos = a.order(k).position(first.offset, first.value)
                    if k in last_send:
                        prev, ppos, po, pv = last_send[k]
                        if _delta(ppos, pos) < 1:
                            yield "nonmonotonic-send", Case(
                                f"process {process}, key {k}: op {op.index} sent value {first.value} at offset "
                                f"{_o(_offset(a, k, first.offset, pos))} after op {prev.index} sent value {pv} "
                                f"at offset {_o(po)}", [prev.index, op.index], k,
                                _offsets(po, _offset(a, k, first.offset, pos)), [pv, first.value])
                    last = sends[-1]
                    lpos = a.order(k).position(last.offset, last.value)
                    last_send[k] = (op, lpos, _offset(a, k, last.offset, lpos), last.value)
            if op.f in (POLL, TXN):
                for k, pairs in op.reads().items():
                    if k in last_poll:
                        yield from _poll_pair(a, process, k, last_poll[k], op, pairs[0], subscribed)
                    if op.type == OK:
                        o, v = pairs[-1]
                        pos = a.order(k).position(o, v)
                        last_poll[k] = (op, pos, _offset(a, k, o, pos), v)
            if op.type == INFO:
                last_send, last_poll, subscribed = {}, {}, False


def _poll_pair(a: Analysis, process: int | str, k: Key, prev: tuple[Op, int | None, int | None, int],
               op: Op, first: Pair, subscribed: bool) -> Iterator[tuple[str, Case]]:
    prev_op, ppos, po, pv = prev
    o, v = first
    pos = a.order(k).position(o, v)
    o = _offset(a, k, o, pos)
    delta = _delta(ppos, pos)
    allowed = "the process subscribed: the cluster may move its partitions between polls" if subscribed else ""
    where = (f"process {process}, key {k}: op {op.index} first read offset {_o(o)} (value {v}) "
             f"after op {prev_op.index} last read offset {_o(po)} (value {pv})")
    if delta < 1:
        yield "nonmonotonic-poll", Case(where, [prev_op.index, op.index], k, _offsets(po, o), [pv, v],
                                        allowed=allowed)
    elif delta > 1:
        assert ppos is not None and pos is not None
        skipped = _between(a, k, ppos, pos)
        yield "poll-skip", Case(f"{where}, skipping {_skipped_text(skipped)}", [prev_op.index, op.index], k,
                                _offsets(po, o), [pv, v], size=delta - 1, allowed=allowed)


def internal_order_cases(a: Analysis) -> Iterator[tuple[str, Case]]:
    """int-poll-skip, int-nonmonotonic-poll, int-send-skip, int-nonmonotonic-send: each
    op's own successive reads (sends) of one key, over all its micro-ops."""
    for op in a.history.completions:
        if op.f not in MICRO_OP_FS:
            continue
        for k, pairs in op.reads().items():
            if k in op.rebalanced_keys:  # its assignment changed mid-op: no order to expect
                continue
            for (o1, v1), (o2, v2) in zip(pairs, pairs[1:]):
                yield from _internal_pair(a, op, k, "read", "int-nonmonotonic-poll", "int-poll-skip",
                                          (o1, v1), (o2, v2), allowed="")
        for k, sends in op.sends().items():
            for s1, s2 in zip(sends, sends[1:]):
                yield from _internal_pair(a, op, k, "sent", "int-nonmonotonic-send", "int-send-skip",
                                          (s1.offset, s1.value), (s2.offset, s2.value),
                                          allowed="another producer's sends may land between a transaction's")


def _internal_pair(a: Analysis, op: Op, k: Key, verb: str, backwards: str, skip: str,
                   first: Pair, second: Pair, allowed: str) -> Iterator[tuple[str, Case]]:
    order = a.order(k)
    p1, p2 = order.position(*first), order.position(*second)
    o1, o2 = _offset(a, k, first[0], p1), _offset(a, k, second[0], p2)
    delta = _delta(p1, p2)
    where = (f"key {k}: op {op.index} {verb} value {second[1]} at offset {_o(o2)} right after value "
             f"{first[1]} at offset {_o(o1)}")
    if delta < 1:
        yield backwards, Case(where, [op.index], k, _offsets(o1, o2), [first[1], second[1]])
    elif delta > 1:
        assert p1 is not None and p2 is not None
        yield skip, Case(f"{where}, skipping {_skipped_text(_between(a, k, p1, p2))}", [op.index], k,
                         _offsets(o1, o2), [first[1], second[1]], size=delta - 1, allowed=allowed)


def unseen(a: Analysis) -> dict[Key, list[int]]:
    """key -> values sent by ok ops that no ok op read (not an anomaly: nobody may have
    polled that far yet)."""
    out: dict[Key, list[int]] = {}
    for op in a.history.completions:
        if op.type == OK and op.f in (SEND, TXN):
            for k, sends in op.sends().items():
                for s in sends:
                    if s.value not in a.ok_reads.get(k, ()):
                        out.setdefault(k, []).append(s.value)
    return out


def stats(h: JepsenHistory) -> dict[str, int]:
    out = {"ops": len(h.completions)}
    for op in h.completions:
        out[f"{op.f} {op.type}"] = out.get(f"{op.f} {op.type}", 0) + 1
    out["never completed"] = sum(1 for op in h.completions if op.synthetic)
    return out


def _delta(p1: int | None, p2: int | None) -> int:
    # an observation whose position is unknown says nothing: treat it as adjacent, as Jepsen does
    return 1 if p1 is None or p2 is None else p2 - p1


def _between(a: Analysis, k: Key, p1: int, p2: int) -> list[tuple[int, list[int]]]:
    order = a.order(k)
    return [(order.offsets[i], order.values_at(i)) for i in range(p1 + 1, p2)]


def _skipped_text(skipped: list[tuple[int, list[int]]]) -> str:
    shown = ", ".join(f"offset {o} (value {'/'.join(map(str, vs))})" for o, vs in skipped[:5])
    return shown + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")


def _offset(a: Analysis, k: Key, offset: int | None, position: int | None) -> int | None:
    return offset if offset is not None else a.offset_of(k, position)


def _offsets(*offsets: int | None) -> list[int]:
    return [o for o in offsets if o is not None]


def _o(offset: int | None) -> str:
    return "?" if offset is None else str(offset)
