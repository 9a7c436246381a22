"""`kraft up`: every node of the file as a child process on this machine.

Refuses to start when something already answers on the file's addresses (the cluster
running already). Formats fresh data dirs with one cluster id and one Raft password,
waits until every node is ready and the cluster takes an acks=all write (no partition
below its min.insync.replicas that could be back up, enough brokers for a topic with
the default settings), prints where the API is, and
stops all nodes (SIGTERM, then SIGKILL after a grace period) on Ctrl-C/SIGTERM. A
node that exits before the cluster is ready (a taken port, a data dir it cannot write)
stops the start at once: its row says why, from the last line it wrote. A warning a
node gives at start that the operator must not miss (users and ACLs in the metadata
while cluster.toml has no [security]) is repeated under the table. A node that dies
later is reported; the others keep running, and the exit code says a node failed.

`kraft up --host NAME` runs only those [[hosts]] entries' processes (the others run on
other machines): ready once each of them is. While it runs, `kraft host restart NAME`
has it stop and start one host's processes as a unit (kraft.server.host_supervision).
"""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Callable, Collection

from rich.markup import escape
from rich.table import Table

from kraft.config.cluster import ClusterConfig, ConfigFileError, check_data_dirs
from kraft.config.host_config import HostConfig
from kraft.config.node_config import NodeConfig
from kraft.config.data_dir import (
    DataDirError,
    format_data_dir,
    new_cluster_id,
    new_raft_password,
    read_identity,
)
from kraft.quorum.raft_files import RAFT_DIR, mark_catch_up_first
from kraft.server import terminal
from kraft.server.host_supervision import HostSelectionError, RestartDesk, nodes_of, select_hosts
from kraft.server.security_notice import UNENFORCED_SECURITY_START
from kraft.server.taken_addresses import taken_addresses

STOP_GRACE_S = 15.0
console = terminal.console(stderr=True)  # not cut to 80 columns in a pipe or a log
NODE_REFUSAL_PREFIX = "kraft node: "  # how kraft/server/main.py says why it cannot start


class LaunchError(Exception):
    pass


def prepare_data_dirs(config: ClusterConfig, warn: Callable[[str], None] = lambda message: None,
                      only: Collection[int] | None = None) -> str:
    """Format the dirs that are new, with the cluster id the others already have. A dir
    found empty beside formatted ones (wiped, or a node new to the file) is formatted too,
    and said loudly: `warn` gets the line, and so does that node's node.log. `only`: the
    nodes this machine runs (`kraft up --host`); the others' dirs, where they are here
    too, still say the cluster's id."""
    check_data_dirs(config, only)
    found = {}
    for node in config.nodes:
        ident = read_identity(node.data_path)
        if ident is not None:
            if ident.node_id != node.id:
                raise LaunchError(f"{node.data_path} belongs to node {ident.node_id}, not {node.id}")
            found[node.id] = ident
    ids = {i.cluster_id for i in found.values()} | ({config.cluster.id} if config.cluster.id else set())
    if len(ids) > 1:
        raise LaunchError(f"data dirs belong to different clusters: {', '.join(sorted(ids))}")
    passwords = {i.raft_password for i in found.values()}
    if config.cluster.raft_password:
        passwords.add(config.cluster.raft_password)
    if len(passwords) > 1:
        raise LaunchError("data dirs hold different Raft passwords; they cannot form one quorum")
    if only is not None and not (ids and passwords):
        # a new id here would be a cluster of its own: every machine must format the same one
        raise LaunchError("no data dir here is formatted and the file sets no [cluster] id and raft_password: "
                          "set both in the file (the same on every machine), or format these nodes' dirs "
                          "first (kraft format --id N --cluster-id ... --raft-password ...)")
    cluster_id = ids.pop() if ids else new_cluster_id()
    password = passwords.pop() if passwords else new_raft_password()
    for node in config.nodes:
        if node.id not in found and (only is None or node.id in only):
            format_data_dir(node.data_path, cluster_id, node.id, password)
            if node.is_controller and any(config.node(n).is_controller for n in found):
                # its Raft log may lack what the other controllers committed: no vote until caught up
                mark_catch_up_first(node.data_path / RAFT_DIR)
            if found:
                warning = reformatted_warning(node, sorted(found), cluster_id)
                _log_beside_node(node, warning)
                warn(warning)
    return cluster_id


def reformatted_warning(node: NodeConfig, others: list[int], cluster_id: str) -> str:
    """What `kraft up` says when it formats one node's empty data dir while others hold data."""
    held = f"node{'s' if len(others) > 1 else ''} {', '.join(map(str, others))}"
    voter = (" it rejoins the controller quorum with an empty metadata log and votes for no one until it has "
             "caught up from a leader;" if node.is_controller else "")
    return (f"node {node.id}'s data dir {node.data_path} holds no data while {held} hold cluster "
            f"{cluster_id}'s: formatted it afresh for that cluster. If it was wiped (not a node new to the "
            f"file), node {node.id} lost its data:{voter} its partition replicas are copied back from the "
            f"other brokers (a partition with no other replica is lost). Stop now (Ctrl-C) if that is not "
            f"what you meant")


def _log_beside_node(node: NodeConfig, line: str) -> None:
    """One line in the node's node.log, where its own lines go (kraft/server/main.py's format)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(node.data_path / "node.log", "a") as log_file:
        log_file.write(f"{stamp},000 node-{node.id} WARNING kraft.up: {line}\n")


def _get_json(url: str, timeout: float = 1.0, context=None):
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return None, None


class Launcher:
    def __init__(self, config: ClusterConfig, config_path: Path | None,
                 nodes: tuple[NodeConfig, ...] | None = None):
        self.config = config
        self.nodes = config.nodes if nodes is None else nodes  # those this machine runs
        security = config.security
        self._tls = (ssl.create_default_context(cafile=str(config.path_of(security.tls_ca)))
                     if security and security.tls_ca else None)
        self.config_path = config_path
        self.procs: dict[int, subprocess.Popen] = {}
        self.logs: dict[int, BinaryIO] = {}
        self._log_start: dict[int, int] = {}  # where this run's part of each node.log begins
        self._reported: set[subprocess.Popen] = set()  # exited processes already announced
        self._stopping = False
        self.write_problems: list[str] = []  # the last reasons the cluster would refuse acks=all
        self.failed: list[int] = []  # nodes that exited by themselves

    def start(self) -> None:
        for node in self.nodes:
            self._start_node(node)

    def _start_node(self, node: NodeConfig) -> None:
        log_path = node.data_path / "node.log"
        log_file = open(log_path, "ab")
        self._log_start[node.id] = log_path.stat().st_size
        self.logs[node.id] = log_file
        cmd = [sys.executable, "-m", "kraft", "node", "--id", str(node.id)]
        cmd += ["-c", str(self.config_path)] if self.config_path else ["--embedded-default"]
        self.procs[node.id] = subprocess.Popen(
            cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=str(self.config.base_dir),
            start_new_session=True)  # Ctrl-C reaches us only; we stop them in order

    def restart(self, node_ids: tuple[int, ...]) -> dict[int, int]:
        """Stop these nodes as stop() does, then start them again (one host's processes,
        as one unit); their new pids. A node that stopped uncleanly is said, not failed."""
        for node_id in self._stop_procs({n: self.procs[n] for n in node_ids}):
            console.print(f"[yellow]node {node_id} did not stop cleanly for the restart[/]")
        for node_id in node_ids:
            self.logs.pop(node_id).close()
            self._start_node(self.config.node(node_id))
        return {node_id: self.procs[node_id].pid for node_id in node_ids}

    def wait_ready(self, timeout_s: float, should_stop=lambda: False, acks_all: bool = True) -> bool:
        """Every node ready, and (acks_all) the cluster takes an acks=all write (write_problems)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not should_stop():
            self.reap()
            ready = [_get_json(n.http_url + "/status/ready", context=self._tls)[0] == 200 for n in self.nodes
                     if self.procs[n.id].poll() is None]
            if ready and all(ready) and not self.exited():
                self.write_problems = self._write_problems() if acks_all else []
                if not self.write_problems:
                    return True
            if self.exited():
                return False  # it will not come back by itself: say why now, not at the deadline
            time.sleep(0.2)
        return False

    def _write_problems(self) -> list[str]:
        """Why an acks=all write would fail now, as any node sees it: each is asked, since
        a partition's leader may see its ISR grow before another node does, or after.
        /status/ready?acks=all answers without credentials (a cluster with security too)."""
        for node in self.nodes:
            code, body = _get_json(node.http_url + "/status/ready?acks=all", timeout=5.0, context=self._tls)
            if code != 200:
                return [f"node {node.id}: {(body or {}).get('reason') or 'no answer'}"]
        return []

    def exited(self) -> list[int]:
        return [node_id for node_id, proc in self.procs.items() if proc.poll() is not None]

    def _run_log_lines(self, node_id: int) -> list[str]:
        """What the node logged in this run."""
        path = self.config.node(node_id).data_path / "node.log"
        try:
            with open(path, "rb") as log_file:
                log_file.seek(self._log_start.get(node_id, 0))
                return log_file.read().decode(errors="replace").splitlines()
        except OSError:
            return []

    def start_notices(self) -> list[str]:
        """Warnings the nodes logged at start that the operator must see (users and ACLs
        not enforced), each once with the nodes that gave it."""
        said: dict[str, list[int]] = {}
        for node in self.nodes:
            for line in self._run_log_lines(node.id):
                if (at := line.find(UNENFORCED_SECURITY_START)) >= 0:
                    said.setdefault(line[at:].strip(), []).append(node.id)
        return [f"node{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}: {text}"
                for text, ids in said.items()]

    def exit_reason(self, node_id: int) -> str:
        """The line a node that exited left last in its log: its refusal, when it wrote one."""
        lines = self._run_log_lines(node_id)
        refusals = [line[len(NODE_REFUSAL_PREFIX):] for line in lines if line.startswith(NODE_REFUSAL_PREFIX)]
        said = refusals or [line for line in lines if line.strip()]
        return said[-1].strip()[:300] if said else ""

    def reap(self) -> None:
        for node_id, proc in list(self.procs.items()):
            code = proc.poll()
            if code is not None and not self._stopping and proc not in self._reported:
                self._reported.add(proc)
                self.failed.append(node_id)
                reason = self.exit_reason(node_id)
                console.print(f"[red]node {node_id} exited with code {code}[/]"
                              f"{': ' + escape(reason) if reason else ''}; "
                              f"see {escape(str(self.config.node(node_id).data_path / 'node.log'))}")

    def status_table(self) -> Table:
        table = Table(title=f"kraft cluster '{self.config.cluster.name}'")
        for col in ("node", "roles", "http", "kafka", "raft", "state"):
            table.add_column(col)
        for node in self.nodes:
            code, body = _get_json(node.http_url + "/status/ready", context=self._tls)
            state = "ready" if code == 200 else (body or {}).get("reason", "down")
            if self.procs[node.id].poll() is not None:
                reason = self.exit_reason(node.id)
                state = f"exited ({self.procs[node.id].returncode})" + (f": {reason}" if reason else "")
            state = escape(state)
            table.add_row(str(node.id), ",".join(node.roles), node.http_url,
                          node.kafka_address or "-", node.raft_address or "-", state)
        return table

    def stop(self) -> list[int]:
        """SIGTERM to every node, SIGKILL to those still running after the grace period;
        returns the nodes that did not stop cleanly (a non-zero exit, or killed)."""
        self._stopping = True
        unclean = self._stop_procs(self.procs)
        for f in self.logs.values():
            f.close()
        return unclean

    def _stop_procs(self, procs: dict[int, subprocess.Popen]) -> list[int]:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        unclean = []
        for node_id, proc in procs.items():
            try:
                code = proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            if code != 0 and proc not in self._reported:
                unclean.append(node_id)
        return unclean


def run_up(config: ClusterConfig, config_path: Path | None, ready_timeout_s: float = 60,
           on_ready: Callable[[], None] = lambda: None, hosts: tuple[str, ...] = ()) -> int:
    """0 after Ctrl-C/SIGTERM when every node ran and stopped cleanly; 1 when a node failed
    (at start or later); 2 when nothing was started (a taken address, the data dirs, a
    host the file does not name). hosts: only these [[hosts]] entries' processes run here,
    ready once each of them is (the other hosts run on other machines)."""
    try:
        local = select_hosts(config, hosts) if hosts else config.hosts
    except HostSelectionError as exc:
        console.print(f"kraft up: {escape(str(exc))}")
        return 2
    nodes = nodes_of(config, local) if hosts else config.nodes
    if taken := taken_addresses(config.model_copy(update={"nodes": nodes})):
        console.print(f"kraft up: something already answers on {', '.join(taken)}: is this cluster "
                      f"already running? Stop it first, or give this file other addresses")
        return 2
    try:
        cluster_id = prepare_data_dirs(config, lambda line: console.print(f"[bold yellow]warning:[/] {escape(line)}"),
                                       [n.id for n in nodes] if hosts else None)
    except (LaunchError, DataDirError, ConfigFileError) as exc:
        console.print(f"kraft up: {escape(str(exc))}")
        return 2
    for warning in config.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    launcher = Launcher(config, config_path, nodes)
    desk = RestartDesk.of(config, local)
    stop_requested = []
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop_requested.append(1))
    launcher.start()
    unclean: list[int] = []
    try:
        desk.claim()  # `kraft host restart` finds who supervises the host
        if not launcher.wait_ready(ready_timeout_s, lambda: bool(stop_requested), acks_all=not hosts):
            if stop_requested:
                return 0
            _say_not_ready(launcher, ready_timeout_s)
            return 1
        _say_ready(launcher, cluster_id, local if hosts else ())
        on_ready()
        while not stop_requested:
            launcher.reap()
            desk.poll(launcher.restart, lambda line: console.print(escape(line)))
            time.sleep(0.2)
    finally:
        desk.release()
        console.print("stopping all nodes ...")
        unclean = launcher.stop()
    if failed := sorted(set(launcher.failed) | set(unclean)):
        console.print(f"[red]node{'s' if len(failed) > 1 else ''} {', '.join(map(str, failed))} "
                      f"failed (see above and {'their' if len(failed) > 1 else 'its'} node.log)[/]")
        return 1
    return 0


def _say_not_ready(launcher: Launcher, ready_timeout_s: float) -> None:
    table = launcher.status_table()  # asks every node: those failing alike have exited by then
    if failed := launcher.exited():
        console.print(f"[red]node{'s' if len(failed) > 1 else ''} "
                      f"{', '.join(map(str, failed))} could not start[/]")
    elif launcher.write_problems:
        console.print(f"[red]cluster not ready after {ready_timeout_s:.0f}s: every node is up, but an "
                      f"acks=all write would fail: {escape('; '.join(launcher.write_problems))}[/]")
    else:
        console.print(f"[red]cluster not ready after {ready_timeout_s:.0f}s[/]")
    console.print(table)


def _say_ready(launcher: Launcher, cluster_id: str, hosts: tuple[HostConfig, ...] = ()) -> None:
    config = launcher.config
    console.print(launcher.status_table())
    for notice in launcher.start_notices():
        console.print(f"[yellow]warning:[/] {escape(notice)}")
    stops = (f"host{'s' if len(hosts) > 1 else ''} {', '.join(h.name for h in hosts)}" if hosts
             else "the cluster")
    console.print(f"cluster id {cluster_id}; API at {launcher.nodes[0].http_url} "
                  f"(any node serves all of it). Ctrl-C stops {stops}.")
    if bootstrap := config.kafka_bootstrap_servers:
        console.print(f"Kafka clients: bootstrap.servers={bootstrap}")
    if registry := config.schema_registry_urls:
        console.print(f"Schema registry clients: schema.registry.url={registry}")
    console.print(f"Web console: {launcher.nodes[0].http_url}/console/ (every node serves it)")
    print(launcher.nodes[0].http_url, flush=True)  # stdout: for scripts
