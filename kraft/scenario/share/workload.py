"""The share-group workload (`[workload] jepsen = "share"`, docs/SCENARIOS.md): Jepsen-style
client processes around one share group (KIP-932), each op recorded as invoke then ok /
fail / info in a JSON-lines history that share/history.py parses and share/checks.py
judges.

It runs as the Jepsen workloads do (jepsen/workload.py: slots, one client process each,
info retires a process, the workload owns and kills every process), with its own ops
(share/gen.py) and clients (share/client.py): `producers` slots send unique values,
`clients` slots are share consumers that poll, then acknowledge each record (accept,
release or reject) in one commit, or now and then are killed holding what they polled.

Before any client starts it makes the group's dead-letter topic and sets the group's
configs (share/admin.py), and writes them as the history's first line. After the run's
writes stop: the drain, one more consumer (process "final") that accepts everything it is
handed until every value the producers had acknowledged is done (accepted or rejected,
or delivered at the limit, so archived), giving up once the idle bound passes without a
record; then the dead-letter topic, read from the beginning.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from kraft.scenario.share import admin as share_admin
from kraft.scenario.history import History
from kraft.scenario.jepsen.findings import JepsenReport
from kraft.scenario.jepsen.gen import Mix
from kraft.scenario.jepsen.workload import (
    FINAL_POLL_S,
    FINAL_POLLS_CAP_S,
    READY_BOUND_S,
    REPLY_MARGIN_S,
    RESPAWN_PAUSE_S,
    JepsenWorkload,
    _Process,
)
from kraft.scenario.share.checks import check_share_history
from kraft.scenario.share.gen import ACCEPT, REJECT, ShareOps, deliveries
from kraft.scenario.share.history import SETUP, parse_share_history

SHARE = "share"
GROUP = "share"
CONFIGURE_BOUND_S = 60.0  # the dead-letter topic and the group's configs, on a cluster just started
DRAIN_WAIT_S = 1.0  # a drain poll waits this long for records


class ShareWorkload(JepsenWorkload):
    def __init__(self, h: History, bootstrap: str, producers: int, consumers: int, t0: float, seed: int,
                 history_path: Path, timeout_ms: int = 10_000, mix: Mix = Mix(), poll_ms: int = 500,
                 release_share: float = 0.1, reject_share: float = 0.05, lock_ms: int = 3000,
                 delivery_limit: int = 5, dead_letters: bool = True, client_groups: bool = False):
        # the queue's op generator the base makes goes unused: the ops come from ShareOps
        super().__init__("queue", h, bootstrap, producers + consumers, t0, seed, history_path,
                         timeout_ms=timeout_ms, mix=mix, poll_ms=poll_ms, client_groups=client_groups)
        self.mode, self.producers = SHARE, producers
        self.ops = ShareOps(h.topic, h.partitions, random.Random(seed), mix, release_share, reject_share)
        self.config: dict[str, Any] = {"topic": h.topic, "group": GROUP, "delivery_limit": delivery_limit, "lock_ms": lock_ms,
                       "dead_letter_topic": share_admin.dead_letter_topic(h.topic) if dead_letters else None,
                       "producers": producers, "consumers": consumers}
        # what the drain waits for: values acknowledged by a producer and not yet done
        self._sent_ok: set[int] = set()
        self._done: set[int] = set()  # accepted (ok or unknown), rejected ok, or delivered at the limit
        self._rejected: set[int] = set()  # rejected ok
        self._accepted: set[int] = set()  # ok or unknown
        self._at_limit: set[int] = set()
        self._report: JepsenReport | None = None
        self._letters_read = False  # the drain read every dead letter it waited for

    # -- setup and the clients -------------------------------------------------------------
    async def _before_slots(self) -> None:
        c = self.config
        await asyncio.to_thread(share_admin.configure, self.bootstrap, self.h.topic, GROUP, c["lock_ms"],
                                c["delivery_limit"], c["dead_letter_topic"], CONFIGURE_BOUND_S)
        self._write({"process": "setup", "type": "info", "f": SETUP, "value": c})

    def _client_args(self, slot: int | str) -> list[str]:
        role = "producer" if isinstance(slot, int) and slot < self.producers else "consumer"
        return [sys.executable, "-m", "kraft.scenario.share.client", "--bootstrap", self.bootstrap,
                "--topic", self.h.topic, "--group", GROUP, "--role", role, "--timeout-ms", str(self.timeout_ms),
                "--poll-ms", str(self.poll_ms), "--parent", str(os.getpid())]

    async def _op(self, p: _Process, process: int | str, request: dict) -> dict:
        reply = await super()._op(p, process, request)
        self._note(request["f"], reply)
        return reply

    def _note(self, f: str, reply: dict) -> None:
        """Keep what the drain and the dead-letter read wait for."""
        if f == "send" and reply["type"] == "ok":
            self._sent_ok.update(m[2][1] for m in reply["value"])
        elif f == "poll" and reply["type"] == "ok":
            worn = {v for _, _, v, count in deliveries(reply) if count >= self.config["delivery_limit"]}
            self._at_limit |= worn
            self._done |= worn  # whatever becomes of it now, it never comes back
        elif f == "dead-letters" and reply["type"] == "ok":
            self._done |= {v for _, _, v, _ in reply["value"] if v is not None}
        elif f == "ack":
            for a in reply.get("value") or []:
                kind, outcome = a[3], (a[4] if len(a) > 4 and reply["type"] == "ok" else "info")
                # an accept of unknown outcome may be done (the checks count it so); a
                # reject of unknown outcome is waited for: it comes back, or is a dead letter
                if (kind, outcome) in ((ACCEPT, "ok"), (ACCEPT, "info"), (REJECT, "ok")):
                    self._done.add(a[2])
                    (self._accepted if kind == ACCEPT else self._rejected).add(a[2])

    def _outstanding(self) -> set[int]:
        return self._sent_ok - self._done

    # -- the run ---------------------------------------------------------------------------
    async def _slot(self, slot: int) -> None:
        process, producer = slot, slot < self.producers
        while not self.stop_ops.is_set():
            p: _Process | None = await self._spawn(slot)
            if p is None:
                await asyncio.sleep(RESPAWN_PAUSE_S)
                continue
            reply = None
            while p is not None and not self.stop_ops.is_set():
                reply = await self._op(p, process, self.ops.send() if producer else self.ops.poll())
                follow = self.ops.after_poll(deliveries(reply)) if not producer and reply["type"] == "ok" else None
                if follow is not None and follow["f"] == "crash":  # killed holding what it polled
                    self._invoke(process, follow)
                    await self._retire(p)
                    self._complete(process, follow, {"type": "info", "value": None})
                    p = None
                elif follow is not None:  # the ack goes out even when the run is stopping
                    reply = await self._op(p, process, follow)
                if reply["type"] == "info":
                    break
            if p is not None:
                await self._end_process(p, reply)
            process += self.clients

    async def final_polls(self, end_offsets: dict[int, int], idle_bound_s: float) -> bool:
        """The drain, then the rest of the dead-letter topic. Returns whether every value
        the producers had acknowledged was done and every dead letter expected was read
        (else the checks could not judge them all). It gives up once idle_bound_s pass
        without a record (delivered or dead letter), or after FINAL_POLLS_CAP_S in all."""
        started = time.monotonic()
        deadline = started + idle_bound_s
        attempt = 0
        self._final = True
        self._letters_read = self.config["dead_letter_topic"] is None

        def left() -> float:
            return min(deadline, started + FINAL_POLLS_CAP_S) - time.monotonic()

        while left() > 0 and (self._outstanding() or not self._letters_read):
            process = f"final-{attempt}" if attempt else "final"
            attempt += 1
            p = await self._spawn("final", max(1.0, min(READY_BOUND_S, left())))
            if p is None:
                await asyncio.sleep(RESPAWN_PAUSE_S)
                continue
            try:
                while left() > 0 and (self._outstanding() or not self._letters_read):
                    progressed = await self._drain_step(p, process, left())
                    if progressed is None:  # the process is done for
                        break
                    if progressed:
                        deadline = time.monotonic() + idle_bound_s
            finally:
                await p.close()
                self._live.discard(p)
        self.final_complete = not self._outstanding() and self._letters_read
        return self.final_complete

    async def _drain_step(self, p: _Process, process: str, left_s: float) -> bool | None:
        """One poll of the drain (acknowledged: accept), or, when it got nothing, a look at
        the dead letters (a record archived at the limit is done too); once nothing is
        outstanding, the dead letters until every one expected was read. Whether it got
        anywhere; None when an op's outcome was not ok."""
        topic = self.config["dead_letter_topic"]
        if self._outstanding():
            reply = await self._op(p, process, self.ops.poll(DRAIN_WAIT_S))
            follow = self.ops.after_poll(deliveries(reply), accept_all=True) if reply["type"] == "ok" else None
            if follow is not None:
                return True if (await self._op(p, process, follow))["type"] == "ok" else None
            if reply["type"] != "ok":
                return None
            if topic is None:
                return False
        # a record archived when its lock ran out at the limit is written as a dead letter
        # then, so it may still be on its way; one rejected ok is there already (the leader
        # writes it before it answers the acknowledgement): the checks judge it, no wait
        expect = sorted(self._at_limit - self._accepted - self._rejected) if not self._outstanding() else []
        wait_s = max(1.0, min(FINAL_POLL_S, left_s)) if expect else DRAIN_WAIT_S
        reply = await self._op(p, process, {"f": "dead-letters", "value": topic, "expect": expect,
                                            "wait_s": wait_s, "bound_s": wait_s + REPLY_MARGIN_S})
        if reply["type"] != "ok":
            return None
        self._letters_read = bool(reply.get("done")) and not self._outstanding()
        return bool(reply["value"])

    # -- the checks --------------------------------------------------------------------------
    def check(self) -> JepsenReport:
        with self.history_path.open(encoding="utf-8") as lines:
            self._report = check_share_history(parse_share_history(lines))
        return self._report

    def facts(self) -> dict:
        """The Jepsen workloads' facts, with the group's settings and the checks' counts
        (deliveries, redeliveries, dead letters, records held at a kill and delivered again)."""
        out = super().facts()
        out.update({"share_group": self.config, "share": self._report.stats if self._report else None})
        return out


def share_workload(wl, h: History, bootstrap: str, t0: float, seed: int, history_path: Path, mix: Mix,
                   client_groups: bool) -> ShareWorkload:
    """The workload a scenario's [workload] (jepsen = "share") describes."""
    return ShareWorkload(h, bootstrap, wl.producers, wl.clients, t0, seed, history_path,
                         timeout_ms=max(wl.timeout_ms, 10_000), mix=mix, poll_ms=wl.poll_ms,
                         release_share=wl.release_share, reject_share=wl.reject_share, lock_ms=wl.share_lock_ms,
                         delivery_limit=wl.share_delivery_limit, dead_letters=wl.share_dead_letters,
                         client_groups=client_groups)
