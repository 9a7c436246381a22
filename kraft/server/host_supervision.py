"""A [[hosts]] entry's processes as one unit on this machine: which nodes `kraft up --host`
starts, and how `kraft host restart` asks the `kraft up` that supervises a host to
restart them.

The CLI and `kraft up` talk through small files in the host's data dir (the parent of
its processes' node dirs, on the machine that runs them): `kraft up` writes its pid in
SUPERVISOR_FILE while it supervises the host; the CLI writes a request id in
REQUEST_FILE; `kraft up`'s supervision loop restarts the host's processes, writes the id
and their new pids in DONE_FILE, and removes the request. Each file is written whole
(a temporary file renamed), so a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from kraft.api.console.lab_records import pid_alive
from kraft.config.cluster import ClusterConfig
from kraft.config.host_config import HostConfig
from kraft.config.node_config import NodeConfig

SUPERVISOR_FILE = "kraft-up.pid"
REQUEST_FILE = "restart-request"
DONE_FILE = "restart-done"


class HostSelectionError(Exception):
    """A --host name the file does not give (its one line names the hosts it does)."""


def select_hosts(config: ClusterConfig, names: Iterable[str]) -> tuple[HostConfig, ...]:
    """The hosts named (each name may be a comma list), in the file's order, each once."""
    wanted = [name.strip() for value in names for name in value.split(",") if name.strip()]
    known = {host.name: host for host in config.hosts}
    if not wanted:
        raise HostSelectionError(f"--host names no host; {config.file_name}'s hosts are {', '.join(known) or 'none'}")
    for name in wanted:
        if name not in known:
            have = (f"the file's hosts are {', '.join(known)}" if known
                    else "the file has no [[hosts]] entries")
            raise HostSelectionError(f"{config.file_name}: no host named {name!r}; {have}")
    return tuple(host for host in config.hosts if host.name in wanted)


def nodes_of(config: ClusterConfig, hosts: Iterable[HostConfig]) -> tuple[NodeConfig, ...]:
    ids = {node_id for host in hosts for node_id in host.node_ids}
    return tuple(node for node in config.nodes if node.id in ids)


def host_dir(config: ClusterConfig, host: HostConfig) -> Path:
    """Where the host's processes keep their node dirs (node-<id> each)."""
    return config.path_of(host.data_dir)


def _write_whole(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def supervisor(directory: Path) -> int | None:
    """The pid of the `kraft up` supervising the host now; None when none does (a file
    left by one that was killed names a process that is gone)."""
    text = _read(directory / SUPERVISOR_FILE)
    if text is None or not text.strip().isdigit():
        return None
    pid = int(text.strip())
    return pid if pid_alive(pid) else None


def request_restart(directory: Path) -> str:
    request = uuid.uuid4().hex
    _write_whole(directory / REQUEST_FILE, request)
    return request


def withdraw(directory: Path, request: str) -> None:
    """Take back a request nobody took (only ours: a later one is left alone)."""
    if (_read(directory / REQUEST_FILE) or "").strip() == request:
        _remove(directory / REQUEST_FILE)


def restarted(directory: Path, request: str) -> dict[int, int] | None:
    """node id -> new pid once the request was carried out; None before."""
    try:
        done = json.loads(_read(directory / DONE_FILE) or "{}")
    except ValueError:
        return None
    if done.get("request") != request:
        return None
    return {int(node): int(pid) for node, pid in done.get("pids", {}).items()}


@dataclass
class RestartDesk:
    """`kraft up`'s side: it claims each host it supervises, takes restart requests in
    its supervision loop, and lets go when it stops."""
    dirs: dict[str, Path]  # host name -> its data dir
    node_ids: dict[str, tuple[int, ...]]
    pid: int = field(default_factory=os.getpid)

    @classmethod
    def of(cls, config: ClusterConfig, hosts: Iterable[HostConfig]) -> RestartDesk:
        hosts = tuple(hosts)
        return cls({h.name: host_dir(config, h) for h in hosts}, {h.name: h.node_ids for h in hosts})

    def claim(self) -> None:
        for directory in self.dirs.values():
            directory.mkdir(parents=True, exist_ok=True)
            for stale in (REQUEST_FILE, DONE_FILE):  # from a run that ended mid-request
                _remove(directory / stale)
            _write_whole(directory / SUPERVISOR_FILE, str(self.pid))

    def poll(self, restart: Callable[[tuple[int, ...]], dict[int, int]],
             say: Callable[[str], None] = lambda line: None) -> None:
        """Carry out each request waiting: restart(node ids) -> their new pids."""
        for name, directory in self.dirs.items():
            request = (_read(directory / REQUEST_FILE) or "").strip()
            if not request:
                continue
            say(f"restarting host {name} (nodes {', '.join(map(str, self.node_ids[name]))}) as asked")
            pids = restart(self.node_ids[name])
            _write_whole(directory / DONE_FILE, json.dumps({"request": request, "pids": pids}))
            _remove(directory / REQUEST_FILE)

    def release(self) -> None:
        for directory in self.dirs.values():
            if (_read(directory / SUPERVISOR_FILE) or "").strip() == str(self.pid):
                _remove(directory / SUPERVISOR_FILE)
