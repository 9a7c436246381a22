"""What a whole Jepsen-style history says about each key's log: its version order, who
wrote each value, who read it. The views every check in jepsen/checks.py shares. Pure.

The version order of a key comes from offsets: every (offset, value) a poll returned
(polls of any outcome: a consumer must only ever be shown real records) and every
offset a send was given, if that send's op surely took effect (ok, or info with one of
its values read by an ok op). Offsets with no value seen are left out, so positions are
dense: transaction markers take offsets no client ever sees, and a gap they leave is no
skip.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from kraft.scenario.jepsen.history import (
    INFO,
    MICRO_OP_FS,
    OK,
    POLL,
    SEND,
    TXN,
    JepsenHistory,
    Key,
    Op,
)


@dataclass
class KeyOrder:
    """One key's log as the history saw it."""

    at_offset: dict[int, set[int]] = field(default_factory=dict)  # offset -> values seen there
    offsets: list[int] = field(default_factory=list)  # offsets holding a value, ascending
    index_of_offset: dict[int, int] = field(default_factory=dict)  # offset -> dense position
    first_index: dict[int, int] = field(default_factory=dict)  # value -> lowest position holding it
    last_index: dict[int, int] = field(default_factory=dict)  # value -> highest position holding it

    def finish(self) -> None:
        self.offsets = sorted(self.at_offset)
        self.index_of_offset = {o: i for i, o in enumerate(self.offsets)}
        for i, o in enumerate(self.offsets):
            for v in self.at_offset[o]:
                self.first_index.setdefault(v, i)
                self.last_index[v] = i

    def position(self, offset: int | None, value: int) -> int | None:
        """Where an observation sits: its offset's position, else (offset unknown) the
        first position its value holds; None when neither is known."""
        if offset is not None and offset in self.index_of_offset:
            return self.index_of_offset[offset]
        return self.first_index.get(value)

    def values_at(self, position: int) -> list[int]:
        return sorted(self.at_offset[self.offsets[position]])


@dataclass
class Analysis:
    history: JepsenHistory
    orders: dict[Key, KeyOrder]
    writer: dict[tuple[Key, int], Op]  # (key, value) -> the completion that sent it
    ok_reads: dict[Key, set[int]]  # values read by ok poll/txn ops
    first_reader: dict[tuple[Key, int], Op]  # (key, value) -> first ok op that read it
    source: dict[tuple[Key, int, int], Op]  # (key, offset, value) -> first op that reported it
    # key -> (positions, entries) of chain(key), built on first use
    chains: dict[Key, tuple[list[int], list[tuple[int, Op, int]]]] = field(default_factory=dict)

    def committed(self, op: Op) -> bool:
        """The op surely took effect: ok, or info and an ok op read one of its sends."""
        if op.type == OK:
            return True
        return op.type == INFO and any(
            s.value in self.ok_reads.get(k, ()) for k, sends in op.sends().items() for s in sends)

    def order(self, key: Key) -> KeyOrder:
        return self.orders.get(key) or KeyOrder()

    def offset_of(self, key: Key, position: int | None) -> int | None:
        order = self.order(key)
        return None if position is None else order.offsets[position]

    def chain(self, key: Key) -> list[tuple[int, Op, int]]:
        """(position, writer, value) for each value of key whose writer surely took effect,
        in version order (a value at several offsets counts at its first)."""
        if key not in self.chains:
            order = self.order(key)
            out = []
            for v, i in order.first_index.items():
                w = self.writer.get((key, v))
                if w is not None and self.committed(w):
                    out.append((i, w, v))
            out.sort(key=lambda x: (x[0], x[2]))
            self.chains[key] = ([p for p, _, _ in out], out)
        return self.chains[key][1]

    def next_write_after(self, key: Key, position: int) -> tuple[int, Op, int] | None:
        """The first entry of chain(key) past position."""
        chain = self.chain(key)
        i = bisect_right(self.chains[key][0], position)
        return chain[i] if i < len(chain) else None


def analyse(h: JepsenHistory) -> Analysis:
    writer: dict[tuple[Key, int], Op] = {}
    ok_reads: dict[Key, set[int]] = {}
    first_reader: dict[tuple[Key, int], Op] = {}
    for op in h.completions:
        if op.f in (SEND, TXN):
            for k, sends in op.sends().items():
                for s in sends:
                    writer.setdefault((k, s.value), op)
        if op.type == OK and op.f in (POLL, TXN):
            for k, pairs in op.reads().items():
                for _, v in pairs:
                    ok_reads.setdefault(k, set()).add(v)
                    first_reader.setdefault((k, v), op)
    a = Analysis(h, {}, writer, ok_reads, first_reader, {})
    for op in h.completions:
        if op.f not in MICRO_OP_FS:
            continue
        if a.committed(op):
            for k, sends in op.sends().items():
                for s in sends:
                    if s.offset is not None:
                        _observe(a, k, s.offset, s.value, op)
        for k, pairs in op.reads().items():
            for offset, v in pairs:
                if offset is not None:
                    _observe(a, k, offset, v, op)
    for order in a.orders.values():
        order.finish()
    return a


def _observe(a: Analysis, key: Key, offset: int, value: int, op: Op) -> None:
    a.orders.setdefault(key, KeyOrder()).at_offset.setdefault(offset, set()).add(value)
    a.source.setdefault((key, offset, value), op)
