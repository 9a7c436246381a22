"""Where failure-lab runs are recorded, so the console lists every run of this machine.

A run started from the console lives under the node's data dir (`lab/`, lab_runs.py). A
run started from the command line (`kraft scenario run`, not by the console) is recorded
in the machine's lab runs directory: `$KRAFT_LAB_RUNS` when set, else
`$XDG_STATE_HOME/kraft/lab-runs` (`~/.local/state/kraft/lab-runs`). Each run is a
directory named `YYYYmmdd-HHMMSS-<scenario>` holding run.json (who started it, when, its
pid, where its full reports went), events.jsonl (the live feed the console draws) and a
copy of its JSON and HTML reports. The console lists both places, newest first; a
node run as another user (a systemd service) sees the command line's runs when both
name the same directory in KRAFT_LAB_RUNS.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

RUNS_ENV = "KRAFT_LAB_RUNS"
RUN_ID = re.compile(r"\d{8}-\d{6}-[a-z0-9-]{1,64}")
KEEP_RUNS = 200  # the newest runs kept; an older one's record goes when a new run starts


def cli_runs_root() -> Path:
    """The directory command-line runs are recorded in."""
    named = os.environ.get(RUNS_ENV)
    if named:
        return Path(named)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "kraft" / "lab-runs"


def run_id_for(scenario: str, started_s: float) -> str:
    """`YYYYmmdd-HHMMSS-<scenario>` (a scenario file's name folded to [a-z0-9-])."""
    name = re.sub(r"[^a-z0-9-]+", "-", scenario.lower()).strip("-")[:64] or "scenario"
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(started_s)) + f"-{name}"


def new_run_dir(root: Path, scenario: str) -> tuple[str, Path]:
    """A new run's directory under root (a second run of the same scenario in the same
    second gets the next second's name)."""
    started = time.time()
    for later in range(60):
        run_id = run_id_for(scenario, started + later)
        directory = root / run_id
        try:
            directory.mkdir(parents=True)
        except FileExistsError:
            continue
        _forget_old_runs(root)
        return run_id, directory
    raise FileExistsError(f"no free run directory for {scenario} under {root}")


def write_meta(directory: Path, meta: dict) -> None:
    (directory / "run.json").write_text(json.dumps(meta))


def read_meta(directory: Path) -> dict:
    try:
        found = json.loads((directory / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def pid_alive(pid: object) -> bool:
    """Whether the process runs (a zombie is over)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def run_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [d for d in root.iterdir() if d.is_dir() and RUN_ID.fullmatch(d.name)]


def _forget_old_runs(root: Path) -> None:
    """A machine that runs scenarios every day must not fill its disk with their records."""
    for old in sorted(run_dirs(root), key=lambda d: d.name)[:-KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)
