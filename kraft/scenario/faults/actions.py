"""Faults as actions on a running cluster, each with its undo, and the schedule.

`schedule()` is pure: the scenario's fault specs + a seeded RNG -> a timeline of
(time, spec). `FaultActions` applies one spec to the cluster at that moment (targets
are resolved then, e.g. "the leader of t-0 now") and remembers how to undo it.
"""

from __future__ import annotations

import asyncio
import time
import random
from dataclasses import dataclass
from typing import Any

from kraft.scenario import client_sides, targets

from kraft.scenario.faults import membership as membership_faults

from kraft.scenario.faults import process as process_faults

from kraft.scenario.faults import storage as storage_faults
from kraft.scenario.history import FaultEvent
from kraft.config.scenarios import HOSTILE_KINDS, FaultSpec

NETWORK = ("isolate", "isolate-with-clients", "partition", "one_way", "ring", "lossy", "slow", "netem")


def schedule(faults, duration_s: float, rng: random.Random) -> list[tuple[float, FaultSpec]]:
    out = []
    for spec in faults:
        if spec.at is not None:
            if spec.at < duration_s:
                out.append((spec.at, spec))
            continue
        lo, hi = spec.every
        t = rng.uniform(lo, hi)
        while t < duration_s:
            out.append((t, spec))
            t += rng.uniform(lo, hi)
    return sorted(out, key=lambda x: x[0])


@dataclass
class Undo:
    kind: str
    nodes: list[int]
    due: float | None  # seconds after start; None: at heal
    abuse: Any = None  # an abuse under way (hostile_abuse.Running), for "end-abuse"


class FaultActions:
    def __init__(self, cluster, network, rng: random.Random, record, topic: str,
                 client_groups: list[int] | None = None, abuse=None):
        """record(FaultEvent-args) appends to the history with the current time;
        client_groups: the group id of each Jepsen client slot's processes, when they
        have their own (isolate-with-clients takes some of them along); abuse: the
        owner of the hostile scenario's abuse (hostile_abuse.Abuse), when it has some."""
        self.abuse = abuse
        self.client_groups = client_groups
        self.cluster = cluster
        self.net = network
        self.rng = rng
        self.record = record
        self.topic = topic
        self.pending: list[Undo] = []
        # power-cut node -> its broker epoch before the cut, until it is seen registered
        # again (which takes it out of every ISR) and back in every ISR
        self.lost_unsynced: dict[int, int] = {}

    async def apply(self, spec: FaultSpec, now_s: float) -> None:
        kind = spec.fault
        if kind == "random":
            kind = self.rng.choice(spec.choices)
        if kind in membership_faults.KINDS:  # an operator's change, not a fault: nothing to undo
            try:
                nodes, detail = await asyncio.to_thread(membership_faults.act, kind, self.cluster, spec.target,
                                                        self.rng)
            except (targets.TargetUnavailable, TimeoutError, RuntimeError, OSError) as exc:
                nodes, detail = [], f"failed: {exc}"
            self.record(kind, nodes, detail)
            return
        try:
            nodes = targets.resolve(self.cluster, spec.target, self.rng)
        except targets.TargetUnavailable as exc:
            self.record(kind, [], f"skipped: {exc}")
            return
        if kind in HOSTILE_KINDS:
            self._start_abuse(kind, [n for n in nodes if self.cluster.running(n)], spec, now_s)
            return
        nodes = [n for n in nodes if self._applicable(kind, n)]
        if not nodes and kind not in ("ring",):
            self.record(kind, [], "skipped: no running target")
            return
        if kind == "power-cut" and spec.one_unsynced_loss_at_a_time:
            why_not = await self._why_not_cut_now(nodes)
            if why_not:
                self.record(kind, [], f"skipped: {why_not}")
                return
        detail = await self._do(kind, nodes, spec)
        self.record(kind, nodes, detail)
        undo = self._undo_kind(kind)
        if undo is not None:
            due = now_s + spec.duration if spec.duration is not None else None
            self.pending.append(Undo(undo, nodes, due))

    def _start_abuse(self, kind: str, nodes: list[int], spec: FaultSpec, now_s: float) -> None:
        """The abuse runs beside the schedule; it ends at its duration or at the heal,
        and that event (end-abuse) says what it did."""
        if not nodes or self.abuse is None:
            self.record(kind, nodes, "skipped: " + ("no running target" if not nodes else "no abuse owner"))
            return
        run, detail = self.abuse.start(kind, nodes, dict(spec.params))
        self.record(kind, nodes, detail)
        due = now_s + spec.duration if spec.duration is not None else None
        self.pending.append(Undo("end-abuse", nodes, due, run))

    async def _why_not_cut_now(self, nodes: list[int]) -> str | None:
        """None when cutting `nodes` keeps to one unsynced loss at a time (and then they
        are remembered as cut), else why not."""
        if len(nodes) > 1:
            return f"cuts one node at a time, not {nodes}"
        try:
            epochs, outside = await asyncio.to_thread(_epochs_and_out_of_sync, self.cluster)
        except targets.TargetUnavailable as exc:
            return f"cannot tell which nodes are back in every ISR ({exc})"
        if any(n not in epochs for n in nodes):
            return f"no broker epoch known for {nodes}"
        self._forget_repaired(epochs, outside)
        waiting = sorted(set(self.lost_unsynced) - set(nodes))
        if waiting:
            return f"node(s) {waiting} lost unsynced writes in an earlier power cut and are not back in every ISR yet"
        self.lost_unsynced.update({n: epochs[n] for n in nodes})
        return None

    def _forget_repaired(self, epochs: dict[int, int], outside: set[int]) -> None:
        """A cut node has registered again (which took it out of every ISR) and is in
        every ISR now: what it lost has been replaced."""
        for n, epoch in list(self.lost_unsynced.items()):
            if epochs.get(n, -1) > epoch and n not in outside:
                del self.lost_unsynced[n]

    def _applicable(self, kind: str, node: int) -> bool:
        if kind in NETWORK or kind == "power-cut":  # a stopped node's unsynced writes die too
            return True
        busy = {n for u in self.pending for n in u.nodes}
        return self.cluster.running(node) and node not in busy

    async def _do(self, kind: str, nodes: list[int], spec: FaultSpec) -> str:
        c = self.cluster
        if kind == "kill":
            return process_faults.kill(c, nodes).detail
        if kind == "pause":
            return process_faults.pause(c, nodes).detail
        if kind == "stop":  # SIGTERM waits for the controlled shutdown: off the loop
            return (await asyncio.to_thread(process_faults.stop, c, nodes)).detail
        if kind == "restart":
            return (await asyncio.to_thread(process_faults.restart, c, nodes)).detail
        if kind == "rolling-restart":  # each node in turn, the next once every ISR is whole again
            bound_s = float(spec.params.get("isr_bound_s", ROLLING_ISR_BOUND_S))
            return await asyncio.to_thread(rolling_restart, c, nodes, bound_s)
        if kind == "wipe":
            details = []
            for n in nodes:
                await asyncio.to_thread(process_faults.stop, c, [n])
                details.append(process_faults.wipe(c, n).detail)
                c.start_node(n)
            return "; ".join(details)
        if kind == "power-cut":  # off the loop: remounting takes a moment
            return (await asyncio.to_thread(storage_faults.power_cut, c, nodes)).detail
        if kind in ("disk-full", "disk-free"):
            act = storage_faults.disk_full if kind == "disk-full" else storage_faults.disk_free
            return "; ".join(act(c, n).detail for n in nodes)
        if kind == "corrupt":
            return "; ".join(storage_faults.corrupt_segment(
                c, n, self.topic, int(spec.params.get("partition", 0)), self.rng,
                int(spec.params.get("bytes", 6))).detail for n in nodes)
        if kind == "isolate":
            for n in nodes:
                self.net.isolate(n)
        elif kind == "isolate-with-clients":
            return self._isolate_with_clients(nodes, spec)
        elif kind == "partition":
            rest = set(c.hosts) - set(nodes)
            self.net.partition([set(nodes), rest])
        elif kind == "one_way":
            self.net.one_way(set(nodes), set(c.hosts) - set(nodes))
        elif kind == "ring":
            self.net.ring()
        elif kind == "lossy":
            for n in nodes:
                self.net.lossy(n, float(spec.params.get("probability", 0.2)))
        elif kind == "slow":
            for n in nodes:
                self.net.slow(n, int(spec.params.get("rate_kbit", 256)))
        elif kind == "netem":
            self.net.netem(int(spec.params.get("delay_ms", 50)), float(spec.params.get("loss_pct", 0)),
                           float(spec.params.get("reorder_pct", 0)))
        else:
            raise ValueError(f"fault {kind!r} cannot be applied here")
        return "; ".join(self.net.describe())

    def _isolate_with_clients(self, nodes: list[int], spec: FaultSpec) -> str:
        """The first target node and a share of the client slots (params.clients,
        default half) on one side, the other nodes and clients on the other."""
        if not self.client_groups:
            raise ValueError("isolate-with-clients needs client processes with group ids of their own")
        side, rest = client_sides.split_slots(len(self.client_groups),
                                              float(spec.params.get("clients", client_sides.DEFAULT_SHARE)),
                                              self.rng)
        self.net.isolate_with_clients(nodes[0], [self.client_groups[s] for s in side],
                                      [self.client_groups[s] for s in rest])
        return f"client slots {side} with node {nodes[0]}; " + "; ".join(self.net.describe())

    @staticmethod
    def _undo_kind(kind: str) -> str | None:
        return {"kill": "start", "stop": "start", "power-cut": "start", "pause": "resume",
                "disk-full": "disk-free"}.get(
            kind, "heal" if kind in NETWORK else None)

    async def undo_due(self, now_s: float, everything: bool = False) -> None:
        keep = []
        for u in self.pending:
            if everything or (u.due is not None and u.due <= now_s):
                await self._undo(u)
            else:
                keep.append(u)
        self.pending = keep

    async def _undo(self, u: Undo) -> None:
        if u.kind == "start":
            for n in u.nodes:
                if not self.cluster.running(n):
                    self.cluster.start_node(n)
        elif u.kind == "resume":
            process_faults.resume(self.cluster, u.nodes)
        elif u.kind == "disk-free":
            for n in u.nodes:
                storage_faults.disk_free(self.cluster, n)
        elif u.kind == "heal":
            self.net.heal()
        elif u.kind == "end-abuse":
            self.record(u.kind, u.nodes, f"{u.abuse.kind}: {await self.abuse.end(u.abuse)}")
            return
        self.record(u.kind, u.nodes, "")


ROLLING_ISR_BOUND_S = 300.0  # a rolling restart waits this long at most for whole ISRs per node


def rolling_restart(cluster, nodes: list[int], bound_s: float) -> str:
    """SIGTERM and start each node in turn; before the next, wait until the node answers
    ready and no replica of any partition is out of its ISR. Says how long each took
    (what an operator rolling an upgrade waits for), or where a wait gave up."""
    said = []
    for n in nodes:
        process_faults.restart(cluster, [n])
        start = time.monotonic()
        left = None

        def whole() -> bool:
            nonlocal left
            try:
                left = targets.out_of_sync_replicas(cluster)
            except targets.TargetUnavailable:
                return False
            return not left
        ready = _until(lambda: cluster.get(n, "/status/ready", 2.0)[0] == 200, bound_s)
        if ready is None or _until(whole, bound_s - ready) is None:
            said.append(f"node {n}: ISRs not whole {bound_s:.0f} s after its restart "
                        f"(out of sync: {sorted(left or [])})")
            break
        said.append(f"node {n}: ready {ready:.1f} s, every ISR whole {time.monotonic() - start:.1f} s after its restart")
    return "; ".join(said)


def _until(predicate, bound_s: float, pause_s: float = 0.5) -> float | None:
    """Seconds until predicate() holds, or None past bound_s."""
    start = time.monotonic()
    while time.monotonic() - start < bound_s:
        try:
            if predicate():
                return time.monotonic() - start
        except OSError:  # a node restarting answers nothing yet
            pass
        time.sleep(pause_s)
    return None


def _epochs_and_out_of_sync(cluster) -> tuple[dict[int, int], set[int]]:
    epochs = targets.broker_epochs(cluster)
    return epochs, targets.out_of_sync_replicas(cluster)  # asked second: at least as fresh


def fault_event(time_ms: float, kind: str, nodes: list[int], detail: str) -> FaultEvent:
    return FaultEvent(time_ms, kind, list(nodes), detail)
