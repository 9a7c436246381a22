"""The lines a Jepsen-style workload records, its rate, and the writes it lends the lab's
own checkers. Pure: requests and replies in, dicts and Writes out.

A history line is what jepsen/history.py parses (docs/SCENARIOS.md, "The history
format"); a line may carry more fields ("error", "node"), which the parser ignores.
Faults go in as lines of the process "nemesis" (skipped by the checks, there to read).

Each send of a send or txn op is also a scenario Write (kraft.scenario.history), so the
lab's checkers (lost writes against the final read, duplicates, order, the replicas'
logs, liveness, ...) judge the same run: ok -> OK at its offset, info -> UNKNOWN, fail
-> FAIL for a plain send (nothing was handed to the client) and UNKNOWN for an aborted
transaction (its records are in the logs, behind an abort marker).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kraft.scenario.history import FAIL, OK, UNKNOWN, Write
from kraft.scenario.jepsen.gen import partition_of

WORKLOAD_FS = ("send", "poll", "txn", "ack")  # the ops ops_per_second counts (ack: the share workload's)


def invoke_line(index: int, time_ns: int, process: int | str, request: dict) -> dict:
    return {"index": index, "time_ns": time_ns, "process": process, "type": "invoke",
            "f": request["f"], "value": request["value"]}


def completion_line(index: int, time_ns: int, process: int | str, request: dict, reply: dict) -> dict:
    """reply: the client's answer {"type", "value", "error"?, "rebalanced_keys"?}, or one
    the workload made up (an info when the client died or did not answer in time)."""
    line = {"index": index, "time_ns": time_ns, "process": process, "type": reply["type"],
            "f": request["f"], "value": reply.get("value", request["value"])}
    if reply.get("rebalanced_keys"):
        line["rebalanced_keys"] = sorted(reply["rebalanced_keys"])
    if reply.get("error"):
        line["error"] = str(reply["error"])[:300]
    return line


def nemesis_line(time_ns: int, kind: str, nodes: list[int], detail: str) -> dict:
    return {"time_ns": time_ns, "process": "nemesis", "type": "info", "f": kind, "value": nodes,
            "detail": detail}


@dataclass
class OpStats:
    """Completions of the workload's send/poll/txn ops, by type, the span they took, and
    per second of the run: [ok, fail or info, mean latency ms, max latency ms]."""

    counts: dict[str, int] = field(default_factory=dict)  # "txn ok" -> n
    first_invoke_ns: int | None = None
    last_complete_ns: int | None = None
    seconds: dict[int, list[float]] = field(default_factory=dict)  # second -> [ok, not ok, sum ms, max ms]

    def invoked(self, f: str, time_ns: int) -> None:
        if f in WORKLOAD_FS and self.first_invoke_ns is None:
            self.first_invoke_ns = time_ns

    def completed(self, f: str, type_: str, time_ns: int, invoked_ns: int | None = None) -> None:
        if f not in WORKLOAD_FS:
            return
        self.counts[f"{f} {type_}"] = self.counts.get(f"{f} {type_}", 0) + 1
        self.last_complete_ns = time_ns
        sec = self.seconds.setdefault(int(time_ns // 1_000_000_000), [0, 0, 0.0, 0.0])
        sec[0 if type_ == "ok" else 1] += 1
        if invoked_ns is not None:
            ms = (time_ns - invoked_ns) / 1e6
            sec[2] += ms
            sec[3] = max(sec[3], ms)

    def timeline(self) -> dict[int, list[float]]:
        """second -> [ok, fail or info, mean latency ms, max latency ms], for the report."""
        return {s: [ok, bad, round(total / max(1, ok + bad), 1), round(top, 1)]
                for s, (ok, bad, total, top) in sorted(self.seconds.items())}

    def total(self, types: tuple[str, ...] = ("ok", "fail", "info")) -> int:
        return sum(n for k, n in self.counts.items() if k.split()[1] in types)

    def per_second(self, types: tuple[str, ...] = ("ok", "fail", "info")) -> float:
        if self.first_invoke_ns is None or self.last_complete_ns is None:
            return 0.0
        span_s = max(0.001, (self.last_complete_ns - self.first_invoke_ns) / 1e9)
        return round(self.total(types) / span_s, 1)


def mirror_writes(process: int | str, request: dict, invoke_ms: float, acks: str = "all") -> list[Write]:
    """One Write per send of a send or txn op, as invoked."""
    if request["f"] not in ("send", "txn"):
        return []
    return [Write(f"j{process}", m[2], str(m[2]), partition_of(m[1]), acks, invoke_ms)
            for m in request["value"] if m[0] == "send"]


def settle_writes(writes: list[Write], request: dict, reply: dict, complete_ms: float) -> None:
    """Fill in each Write's outcome and offset from the op's completion."""
    offsets = {}
    for m in reply.get("value") or []:
        if m[0] == "send" and isinstance(m[2], list):
            offsets[m[2][1]] = m[2][0]
    outcome = {"ok": OK, "info": UNKNOWN}.get(reply["type"])
    if outcome is None:  # fail
        outcome = FAIL if request["f"] == "send" else UNKNOWN
    error = reply.get("error") or ("aborted transaction" if request["f"] == "txn" and reply["type"] == "fail"
                                   else None)
    for w in writes:
        w.complete_ms, w.outcome, w.offset = complete_ms, outcome, offsets.get(w.seq)
        w.error = f"{reply['type']}: {error}" if error and outcome != OK else None
