"""Process faults on a LocalCluster's nodes: kill, stop, pause, resume, restart, wipe.

Each helper takes a list of node ids, acts on every one of them, and returns an Action
(kind, target, detail) that the runner turns into the history's FaultEvent with
``action.event(time_ms)``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kraft.scenario.history import FaultEvent

PARTITIONS_DIR = "partitions"
HW_CHECKPOINT = "replication-offset-checkpoint"
KEPT = ("meta.properties", "__cluster_metadata")  # identity and the metadata quorum's log


class NodeRunning(RuntimeError):
    """A fault that needs a stopped node was asked of a running one."""


@dataclass
class Action:
    kind: str  # "kill", "stop", "pause", "resume", "restart", "wipe"
    target: list[int]
    detail: str = ""
    skipped: list[int] = field(default_factory=list)  # asked for, but nothing to do

    def event(self, time_ms: float) -> FaultEvent:
        return FaultEvent(time_ms=time_ms, kind=self.kind, target=list(self.target),
                          detail=self.detail)


def _ids(nodes) -> list[int]:
    return [nodes] if isinstance(nodes, int) else list(nodes)


def _detail(what: str, skipped: list[int], why: str) -> str:
    return what + (f"; skipped {skipped} ({why})" if skipped else "")


def _each_running(cluster, nodes, kind: str, act, what: str) -> Action:
    done, skipped = [], []
    for n in _ids(nodes):
        if cluster.running(n):
            act(n)
            done.append(n)
        else:
            skipped.append(n)
    return Action(kind, done, _detail(what, skipped, "not running"), skipped)


def kill(cluster, nodes) -> Action:
    """SIGKILL (a paused node is continued first so it dies)."""
    return _each_running(cluster, nodes, "kill", cluster.kill, "SIGKILL")


def stop(cluster, nodes, timeout_s: float = 20.0) -> Action:
    """SIGTERM: controlled shutdown (SIGKILL after timeout_s). A paused node is
    continued first, otherwise it could not shut down."""
    done, skipped, codes = [], [], []
    for n in _ids(nodes):
        if cluster.running(n):
            cluster.resume(n)
            codes.append(f"{n}:{cluster.stop(n, timeout_s)}")
            done.append(n)
        else:
            skipped.append(n)
    what = "SIGTERM" + (f" (exit codes {', '.join(codes)})" if codes else "")
    return Action("stop", done, _detail(what, skipped, "not running"), skipped)


def pause(cluster, nodes) -> Action:
    return _each_running(cluster, nodes, "pause", cluster.pause, "SIGSTOP")


def resume(cluster, nodes) -> Action:
    return _each_running(cluster, nodes, "resume", cluster.resume, "SIGCONT")


def restart(cluster, nodes, how: str = "stop") -> Action:
    """Start each node with its data dir; one still running is first stopped (how="stop",
    SIGTERM) or killed (how="kill")."""
    if how not in ("stop", "kill"):
        raise ValueError(f"how must be 'stop' or 'kill', got {how!r}")
    bounced, started = [], []
    for n in _ids(nodes):
        if cluster.running(n):
            (stop if how == "stop" else kill)(cluster, [n])
            bounced.append(n)
        cluster.start_node(n)
        started.append(n)
    detail = "started" + (f" ({how} first: {bounced})" if bounced else "")
    return Action("restart", started, detail)


def wipe(cluster, node: int) -> Action:
    """Delete a stopped node's partition data (every replica's log and the high-watermark
    checkpoint) but keep its identity (meta.properties) and the metadata quorum's log, so
    it restarts as the same node and re-fetches its replicas from the leaders."""
    if cluster.running(node):
        raise NodeRunning(f"node {node} is running; stop or kill it before wiping its data")
    data = Path(cluster.config.node(node).data_path)
    removed = []
    partitions = data / PARTITIONS_DIR
    if partitions.exists():
        count = sum(1 for p in partitions.iterdir() if p.is_dir())
        shutil.rmtree(partitions)
        removed.append(f"{PARTITIONS_DIR}/ ({count} replica dirs)")
    for checkpoint in sorted(data.glob(HW_CHECKPOINT + "*")):  # and a torn .tmp
        checkpoint.unlink()
        removed.append(checkpoint.name)
    detail = ("deleted " + ", ".join(removed)) if removed else "no partition data to delete"
    return Action("wipe", [node], f"{detail}; kept {', '.join(KEPT)}")
