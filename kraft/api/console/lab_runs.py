"""The failure lab's runs, owned by the node that started them.

A run is `python -m kraft scenario run NAME --events FILE --report DIR` in its own
process group, on a throwaway cluster of its own (LocalCluster on the lab's loopback
addresses, never this node's peers: a node cannot safely kill its own cluster), whose
node processes share that group. At most one runs at a time. The node's shutdown stops
it (SIGTERM: the runner tears its cluster down; SIGKILL to the whole group after a
grace); a node killed outright is noticed by the run itself (owner_watch.py). Each run
keeps a directory under the node's data dir (`lab/`):
events.jsonl (live_events.py), output.log, and the reports the CLI writes. Runs started
from the command line are recorded in the machine's lab runs directory (lab_records.py)
and listed beside them, with origin "cli".
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kraft.api.console.lab_records import RUN_ID, cli_runs_root, pid_alive, read_meta, run_dirs
from kraft.errors import AlreadyRunning, BadRequest, NotFound

OWNER_ENV = "KRAFT_LAB_OWNER_PID"  # a run watches the node named here (kraft/scenario/owner_watch.py)
STOP_GRACE_S = 20.0
LAB_FIRST_ADDRESS_ENV = "KRAFT_LAB_FIRST_ADDRESS"
DEFAULT_LAB_FIRST_ADDRESS = 230  # 127.0.0.230+: away from `kraft up`'s and the tests' clusters
MAX_EVENTS_PER_ANSWER = 2000


class LabRunInProgress(AlreadyRunning):
    """The failure lab runs one scenario at a time."""


@dataclass
class Run:
    run_id: str
    scenario: str
    directory: Path
    started_ms: int
    process: subprocess.Popen | None = None  # None: a run of an earlier node process
    stopped: bool = False


class LabRuns:
    def __init__(self, root: Callable[[], Path], first_address: int | None = None,
                 cli_root: Callable[[], Path] = cli_runs_root) -> None:
        self._root = root  # the node's data dir's lab/, looked up at first use
        self._cli_root = cli_root  # where `kraft scenario run` records its runs
        self.first_address = first_address if first_address is not None else int(
            os.environ.get(LAB_FIRST_ADDRESS_ENV, DEFAULT_LAB_FIRST_ADDRESS))
        self._current: Run | None = None

    @property
    def root(self) -> Path:
        return self._root()

    # -- starting and stopping ---------------------------------------------------------
    def start(self, scenario: str, duration: float | None, seed: int) -> dict:
        current = self._current
        if current is not None and current.process is not None and current.process.poll() is None:
            raise LabRunInProgress(f"run {current.run_id} is still running; stop it first "
                                   f"(DELETE /v1/lab/runs/{current.run_id})")
        started = time.time()
        run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started)) + f"-{scenario}"
        directory = self.root / run_id
        if directory.exists():
            raise LabRunInProgress(f"a run named {run_id} was started this second; retry")
        directory.mkdir(parents=True)
        command = [sys.executable, "-m", "kraft", "scenario", "run", scenario, "--seed", str(seed),
                   "--report", str(directory), "--events", str(directory / "events.jsonl")]
        if duration is not None:
            command += ["--duration", str(duration)]
        # the run watches this process (owner_watch.py): it ends, cluster and all, if we die
        env = {**os.environ, "KRAFT_LOCAL_CLUSTER_FIRST_ADDRESS": str(self.first_address),
               OWNER_ENV: str(os.getpid())}
        with (directory / "output.log").open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       cwd=str(directory), env=env, start_new_session=True)
        (directory / "run.json").write_text(json.dumps({"run_id": run_id, "scenario": scenario,
                                                        "started_ms": int(started * 1000),
                                                        "duration": duration, "seed": seed,
                                                        "pid": process.pid}))
        self._current = Run(run_id, scenario, directory, int(started * 1000), process)
        return self.describe(run_id)

    async def stop(self, run_id: str) -> dict:
        run = self._current
        if run is None or run.run_id != run_id or run.process is None or run.process.poll() is not None:
            self._find(run_id)  # 404 when unknown
            return self.describe(run_id)  # already over: nothing to stop
        run.stopped = True
        await asyncio.to_thread(_end_process, run.process)
        return self.describe(run_id)

    async def close(self) -> None:
        """The node is stopping: no run outlives it."""
        run = self._current
        if run is not None and run.process is not None and run.process.poll() is None:
            run.stopped = True
            await asyncio.to_thread(_end_process, run.process)

    # -- reading -----------------------------------------------------------------------
    def describe(self, run_id: str, since: int | None = None) -> dict:
        """The run's state; with `since`, its events from that index on."""
        directory = self._find(run_id)
        meta = read_meta(directory)
        events = _read_events(directory / "events.jsonl")
        out = {"run_id": run_id, "scenario": meta.get("scenario"), "started_ms": meta.get("started_ms"),
               "duration": meta.get("duration"), "seed": meta.get("seed"),
               "origin": meta.get("origin", "console"), **self._state(run_id, events, meta)}
        if since is not None:
            chunk = events[since:since + MAX_EVENTS_PER_ANSWER]
            out["events"] = chunk
            out["next"] = since + len(chunk)
        return out

    def _state(self, run_id: str, events: list[dict], meta: dict) -> dict:
        run = self._current
        code = None
        if run is not None and run.run_id == run_id and run.process is not None:
            code = run.process.poll()
            if code is None:
                return {"state": "running", "exit_code": None}
        verdict = next((e for e in reversed(events) if e.get("event") in ("verdict", "skipped")), None)
        if verdict is not None and verdict["event"] == "skipped":
            return {"state": "skipped", "exit_code": code, "reason": verdict.get("reason")}
        if verdict is not None:
            return {"state": "passed" if verdict.get("passed") else "failed", "exit_code": code,
                    "report_html": verdict.get("report_html"), "report_json": verdict.get("report_json")}
        if run is not None and run.run_id == run_id and run.stopped:
            return {"state": "stopped", "exit_code": code}
        if meta.get("origin") == "cli" and pid_alive(meta.get("pid")):  # `kraft scenario run` at work
            return {"state": "running", "exit_code": None}
        return {"state": "ended without a verdict", "exit_code": code,
                "reason": "the run stopped before its checks (see its output.log)"}

    def list_runs(self) -> list[dict]:
        """This node's runs and the command line's, newest first."""
        ids = sorted({d.name for root in self._roots() for d in run_dirs(root)}, reverse=True)
        return [self.describe(i) for i in ids]

    def _roots(self) -> list[Path]:
        return [self.root, self._cli_root()]

    def report_file(self, run_id: str, kind: str) -> Path:
        directory = self._find(run_id)
        state = self.describe(run_id)
        name = state.get(f"report_{kind}")
        if not name:
            raise NotFound(f"run {run_id} has no {kind} report ({state['state']})")
        path = directory / Path(name).name
        if not path.is_file():
            raise NotFound(f"run {run_id} has no {kind} report")
        return path

    def output(self, run_id: str, limit: int = 64 * 1024) -> str:
        path = self._find(run_id) / "output.log"
        data = path.read_bytes() if path.is_file() else b""
        return data[-limit:].decode(errors="replace")

    def _find(self, run_id: str) -> Path:
        if not RUN_ID.fullmatch(run_id):
            raise BadRequest(f"{run_id!r} is not a run id (GET /v1/lab/runs lists them)")
        for root in self._roots():
            directory = root / run_id
            if directory.is_dir():
                return directory
        raise NotFound(f"run {run_id} not found")


def _end_process(process: subprocess.Popen) -> None:
    """SIGTERM to the run's process group (the runner tears its cluster down), SIGKILL
    after the grace."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def _read_events(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            break  # a line being written: the next answer has it
    return events
