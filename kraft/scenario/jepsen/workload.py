"""The Jepsen-style workloads (queue, txn): client processes driven op by op, each op
recorded as invoke then ok / fail / info into a JSON-lines history
(docs/SCENARIOS.md, "Jepsen's workloads").

Each of `clients` slots runs one client process at a time (jepsen/client.py: real
confluent-kafka clients). A slot asks the generator (jepsen/gen.py) for an op, records
its invoke, hands it to its process and records the reply. No reply within the op's
bound, or a process that died, is an info; after an info the process is killed and a
new one takes the slot under a new process number (slot + k * clients), as Jepsen
retires a process after an info. A `crash` op kills the process on purpose. Txn
clients of one slot share a transactional id, so a new process fences its dead
predecessor and aborts what it left open.

After the run's writes stop, one more client (process "final") assigns every key from
the beginning and polls until it reached each partition's end: the reads the lost-write
check needs. The workload owns every process it starts; close() kills what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import BinaryIO

import orjson

from kraft.scenario.client_sides import client_gid
from kraft.scenario.history import History
from kraft.scenario.jepsen.checks import check_jepsen_history
from kraft.scenario.jepsen.findings import JepsenReport
from kraft.scenario.jepsen.gen import Mix, OpGenerator, key_of
from kraft.scenario.jepsen.history import parse_history
from kraft.scenario.jepsen.record import (
    OpStats,
    completion_line,
    invoke_line,
    mirror_writes,
    nemesis_line,
    settle_writes,
)

log = logging.getLogger(__name__)

GROUP = "jepsen"
READY_BOUND_S = 45.0  # a new client: connect, init_transactions under faults
CLOSE_BOUND_S = 10.0  # EOF on stdin to exit: leave the group, flush
REPLY_MARGIN_S = 10.0  # beyond the client's own timeouts, before the op counts as info
RESPAWN_PAUSE_S = 0.5  # between a failed start and the next
FINAL_POLL_S = 20.0  # one final poll op, at most
FINAL_POLLS_CAP_S = 600.0  # the final polls in all, however much they still read
READ_LIMIT = 256 * 1024 * 1024  # one reply line (a final poll returns many records)


def transactional_id(slot: int) -> str:
    return f"jepsen-txn-{slot}"


class _Process:
    """One client process and its pipes."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc

    async def ask(self, request: dict, bound_s: float) -> dict | None:
        """The reply, or None when the process died or did not answer within bound_s."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(orjson.dumps(request) + b"\n")
            await self.proc.stdin.drain()
            line = await asyncio.wait_for(self.proc.stdout.readline(), bound_s)
        except (TimeoutError, ConnectionError, BrokenPipeError, ValueError):
            return None
        if not line:
            return None
        try:
            reply = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        return reply if isinstance(reply, dict) and reply.get("type") in ("ok", "fail", "info") else None

    async def close(self) -> None:
        """EOF on stdin, a bounded wait, then SIGKILL."""
        if self.proc.returncode is None and self.proc.stdin is not None:
            with contextlib.suppress(ConnectionError, BrokenPipeError):
                self.proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), CLOSE_BOUND_S)
        await self.kill()

    async def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), CLOSE_BOUND_S)


class JepsenWorkload:
    def __init__(self, mode: str, h: History, bootstrap: str, clients: int, t0: float, seed: int,
                 history_path: Path, timeout_ms: int = 10_000, mix: Mix = Mix(), poll_max: int = 500,
                 poll_ms: int = 20, acks: str = "all", isolation: str = "read_committed",
                 client_groups: bool = False, assign_resume: str = "last-read"):
        self.mode, self.h, self.bootstrap, self.clients, self.t0 = mode, h, bootstrap, clients, t0
        self.acks, self.isolation, self.assign_resume = acks, isolation, assign_resume
        # each slot's processes under a group id of its own, so that a network fault can
        # single out a slot's packets (client_sides.py); needs root
        self.client_groups = client_groups
        self.timeout_ms, self.poll_max, self.poll_ms = timeout_ms, poll_max, poll_ms
        self.gen = OpGenerator(mode, h.topic, h.partitions, random.Random(seed), mix)
        self.history_path = history_path
        self.log_path = history_path.with_name(history_path.name.replace(".history.jsonl", "") + ".clients.log")
        self.stats = OpStats()  # of the workload's ops, not the final polls
        self._final = False
        self.stop_ops = asyncio.Event()
        self.final_complete: bool | None = None  # None: no final poll yet
        self._index = 0
        self._out: BinaryIO | None = None
        self._log: BinaryIO | None = None
        self._live: set[_Process] = set()
        self._slots: list[asyncio.Task] = []

    # -- recording -------------------------------------------------------------------------
    def _now_ns(self) -> int:
        return int((time.monotonic() - self.t0) * 1e9)

    def _write(self, line: dict) -> None:
        assert self._out is not None, "recording outside run()"
        self._out.write(orjson.dumps(line) + b"\n")

    def _invoke(self, process: int | str, request: dict) -> int:
        now = self._now_ns()
        if not self._final:
            self.stats.invoked(request["f"], now)
        self._write(invoke_line(self._index, now, process, request))
        self._index += 1
        return now

    def _complete(self, process: int | str, request: dict, reply: dict, invoked_ns: int | None = None) -> None:
        now = self._now_ns()
        if not self._final:
            self.stats.completed(request["f"], reply["type"], now, invoked_ns)
        self._write(completion_line(self._index, now, process, request, reply))
        self._index += 1

    def nemesis(self, time_ms: float, kind: str, nodes: list[int], detail: str) -> None:
        """A fault, as a line of the process "nemesis" (the checks skip them)."""
        if self._out is not None:
            self._write(nemesis_line(int(time_ms * 1e6), kind, nodes, detail))

    def slot_groups(self) -> list[int] | None:
        """The group id of each slot's processes, when they have their own."""
        return [client_gid(s) for s in range(self.clients)] if self.client_groups else None

    def progress(self) -> str:
        """The live line: completions so far, by type."""
        c = self.stats
        return (f"ops ok={c.total(('ok',))} fail={c.total(('fail',))} info={c.total(('info',))} "
                f"({c.per_second()}/s)")

    def facts(self) -> dict:
        """What the report shows of the workload: its rate (completed send/poll/txn ops
        per second, from the first invoke to the last completion before the final
        polls), the ok rate, the ops by type, and whether the final poll reached the end."""
        return {"ops_per_second": self.stats.per_second(), "ok_ops_per_second": self.stats.per_second(("ok",)),
                "ops": dict(sorted(self.stats.counts.items())), "final_poll_complete": self.final_complete,
                "clients": self.clients, "ops_timeline": self.stats.timeline()}

    # -- the run ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Owned by the runner: the slots run until stop_ops; returns when they ended."""
        self.history_path.parent.mkdir(parents=True, exist_ok=True)
        self._out = out = self.history_path.open("wb")
        self._log = self.log_path.open("ab")
        try:
            await self._before_slots()
            async with asyncio.TaskGroup() as tg:
                self._slots = [tg.create_task(self._slot(s)) for s in range(self.clients)]
        finally:
            await self._kill_all()
            out.flush()

    async def _before_slots(self) -> None:
        """The history is open, no client runs yet (the share workload sets up its group)."""

    async def writes_finished(self) -> None:
        """Stop asking for ops; returns when every slot's op in flight completed."""
        self.stop_ops.set()
        if self._slots:
            await asyncio.wait(self._slots)

    async def close(self) -> None:
        """Kill every client still running, close the files. Idempotent."""
        await self._kill_all()
        for f in (self._out, self._log):
            if f is not None:
                f.close()
        self._out = self._log = None

    async def _kill_all(self) -> None:
        for p in list(self._live):
            await p.kill()
        self._live.clear()

    def check(self) -> JepsenReport:
        """Jepsen's checks of the history written."""
        with self.history_path.open(encoding="utf-8") as lines:
            return check_jepsen_history(parse_history(lines))

    def _client_args(self, slot: int | str) -> list[str]:
        """The command line of a slot's client process."""
        args = [sys.executable, "-m", "kraft.scenario.jepsen.client", "--bootstrap", self.bootstrap,
                "--topic", self.h.topic, "--mode", self.mode, "--group", GROUP,
                "--timeout-ms", str(self.timeout_ms), "--poll-max", str(self.poll_max), "--poll-ms", str(self.poll_ms),
                "--acks", self.acks, "--assign-resume", self.assign_resume, "--parent", str(os.getpid()),
                # the final reader reads committed records only: an aborted read found
                # must be one of the workload's clients
                "--isolation", self.isolation if isinstance(slot, int) else "read_committed"]
        if isinstance(slot, int):
            args += ["--transactional-id", transactional_id(slot)]
        return args

    async def _spawn(self, slot: int | str, ready_bound_s: float = READY_BOUND_S) -> _Process | None:
        args = self._client_args(slot)
        group = client_gid(slot) if self.client_groups and isinstance(slot, int) else None
        proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE, stderr=self._log,
                                                    limit=READ_LIMIT, group=group)
        p = _Process(proc)
        self._live.add(p)
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), ready_bound_s)
        except TimeoutError:
            line = b""
        if line.strip() != b'{"ready":true}':
            log.info("a %s client for slot %s did not start (its log: %s)", self.mode, slot, self.log_path)
            await self._retire(p)
            return None
        return p

    async def _retire(self, p: _Process) -> None:
        await p.kill()
        self._live.discard(p)

    def _bound_s(self, request: dict) -> float:
        # a txn may wait for its sends, the offsets and the commit, each up to the timeout
        steps = 3 if request["f"] == "txn" else 1
        return steps * self.timeout_ms / 1000 + REPLY_MARGIN_S

    async def _op(self, p: _Process, process: int | str, request: dict) -> dict:
        """Invoke, ask, complete; a missing reply is an info."""
        invoked_ns = self._invoke(process, request)
        invoke_ms = invoked_ns / 1e6
        writes = mirror_writes(process, request, invoke_ms, self.acks)
        self.h.writes.extend(writes)
        reply = await p.ask(request, request.pop("bound_s", None) or self._bound_s(request))
        if reply is None:
            reply = {"type": "info", "value": request["value"], "error": "no answer from the client process"}
        request_for_line = {"f": request["f"], "value": request["value"]}
        self._complete(process, request_for_line, reply, invoked_ns)
        settle_writes(writes, request_for_line, reply, self._now_ns() / 1e6)
        return reply

    async def _slot(self, slot: int) -> None:
        process = slot
        while not self.stop_ops.is_set():
            p = await self._spawn(slot)
            if p is None:
                await asyncio.sleep(RESPAWN_PAUSE_S)
                continue
            request, reply = self.gen.first(), None
            while not self.stop_ops.is_set():
                if request["f"] == "crash":
                    self._invoke(process, request)
                    await self._retire(p)
                    self._complete(process, request, {"type": "info", "value": None})
                    p = None
                    break
                reply = await self._op(p, process, request)
                if reply["type"] == "info":
                    break
                request = self.gen.next()
            if p is not None:
                await self._end_process(p, reply)
            process += self.clients

    async def _end_process(self, p: _Process, reply: dict | None) -> None:
        """A slot's process at the end of its ops: closed when the run ends, retired after an info."""
        if reply is None or reply["type"] != "info":  # the run ends: a clean close
            await p.close()
            self._live.discard(p)
        else:
            await self._retire(p)

    # -- the final read --------------------------------------------------------------------
    async def final_polls(self, end_offsets: dict[int, int], idle_bound_s: float) -> bool:
        """A fresh client assigns every key from the beginning and polls until each
        partition reached end_offsets (the final read's). It gives up once idle_bound_s
        pass without a poll that returned records (a last stable offset stuck below the
        end never lets it finish), or after FINAL_POLLS_CAP_S in all: a long history on a
        loaded machine may take longer than the idle bound to read, and still finish.
        Retried with a new process when one dies. Returns whether every key reached its end."""
        keys = [key_of(self.h.topic, p) for p in range(self.h.partitions)]
        until = {key_of(self.h.topic, p): end_offsets.get(p, 0) for p in range(self.h.partitions)}
        started = time.monotonic()
        deadline = started + idle_bound_s
        attempt = 0
        self.final_complete, self._final = False, True

        def left() -> float:
            return min(deadline, started + FINAL_POLLS_CAP_S) - time.monotonic()

        while left() > 0 and not self.final_complete:
            process = f"final-{attempt}" if attempt else "final"
            attempt += 1
            p = await self._spawn("final", max(1.0, min(READY_BOUND_S, left())))
            if p is None:
                await asyncio.sleep(RESPAWN_PAUSE_S)
                continue
            try:
                reply = await self._op(p, process, {"f": "assign", "value": keys, "from_beginning": True})
                while reply["type"] == "ok" and left() > 0:
                    wait = max(1.0, min(FINAL_POLL_S, left()))
                    reply = await self._op(p, process, {"f": "poll", "value": [["poll"]], "until": until,
                                                        "max_s": wait, "bound_s": wait + REPLY_MARGIN_S})
                    if reply["type"] == "ok" and any(reply["value"][0][1].values()):
                        deadline = time.monotonic() + idle_bound_s  # it is getting somewhere
                    if reply["type"] == "ok" and reply.get("done"):
                        self.final_complete = True
                        break
            finally:
                await p.close()
                self._live.discard(p)
        return self.final_complete
