"""A throwaway cluster of real node processes in a temp dir, one 127.0.0.N per node.

Used by the test suite, the benchmarks and the scenario runner. Each node gets its
own loopback address so a network fault can single it out; ports are found free on
that address. Every process is killed when the cluster is closed, whatever happened.
A cluster of [[hosts]] entries (host_entries=) puts each host's processes on one address.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from kraft.config.cluster import load_cluster_config
from kraft.config.data_dir import PARTITIONS_DIR
from kraft.server import lazy_disks, local_hosts, small_disks
from kraft.storage import run_state
from kraft.server.launcher import prepare_data_dirs
from kraft.server.thread_freeze import frozen_main_thread


FREE_PORTS_FROM = 10240  # test clusters' ports; the bundled cluster.toml's are all below it
NODE_START_BOUND_S = 90.0  # spawn to an open HTTP port, for a node whose process is alive


def default_first_address() -> int:
    """Where a cluster's nodes start, 127.0.0.N: 2 unless KRAFT_LOCAL_CLUSTER_FIRST_ADDRESS
    says otherwise (each parallel test worker takes its own range, so two clusters never
    race for the same address and port)."""
    return int(os.environ.get("KRAFT_LOCAL_CLUSTER_FIRST_ADDRESS", "2"))


def ephemeral_port_range() -> tuple[int, int]:
    """The kernel's range for the ports it hands out itself (bind to 0, connect)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(host: str, count: int) -> list[int]:
    """`count` distinct free ports below the kernel's ephemeral range. A port from that
    range is only free until some socket connects: a node binds its outgoing Raft
    connections to its own address, and the kernel once gave one of them the node's own
    HTTP port before the node listened on it (the node then could not start). All are
    bound at once, so the same port is never handed out twice."""
    low = FREE_PORTS_FROM
    high = ephemeral_port_range()[0]
    chooser = random.SystemRandom()
    sockets: list[socket.socket] = []
    try:
        for _ in range(200):
            if len(sockets) == count:
                return [s.getsockname()[1] for s in sockets]
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((host, chooser.randrange(low, high) if high - low > 1000 else 0))
            except OSError:  # taken: try another
                s.close()
                continue
            sockets.append(s)
        raise OSError(f"no {count} free ports on {host}")
    finally:
        for s in sockets:
            s.close()


def http_json(method: str, url: str, body=None, headers=None, timeout: float = 10.0,
              raw: bytes | None = None, context=None):
    """(status, parsed JSON or None). Never raises for an HTTP error status."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None and not (headers and "Content-Type" in headers):
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, _parse(resp.read())
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        try:
            return exc.code, _parse(payload)
        except ValueError:
            return exc.code, payload.decode(errors="replace")


def _parse(payload: bytes):
    """JSON, or newline-delimited JSON (v3 streaming produce) as a list."""
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        pass
    try:
        return [json.loads(line) for line in payload.splitlines() if line.strip()]
    except ValueError:
        return payload.decode(errors="replace")  # not JSON (e.g. /metrics)


def security_toml(users: dict[str, str], super_users=("admin",), mechanisms: dict | None = None,
                  **settings) -> str:
    """A [security] table for LocalCluster(extra_toml=...): users by name -> password (their
    mechanism from `mechanisms`, else SCRAM-SHA-256) and any other [security] keys
    (Kafka's dotted names too: pass them as `**{"sasl.enabled.mechanisms": [...]}`)."""
    lines = ["[security]", f"super_users = {json.dumps(list(super_users))}"]
    # Kafka's dotted names are quoted keys
    lines += [f"{k if k.isidentifier() else json.dumps(k)} = {json.dumps(v)}" for k, v in settings.items()]
    for name, password in users.items():
        lines += ["[[security.users]]", f"name = {json.dumps(name)}", f"password = {json.dumps(password)}"]
        if mechanisms and name in mechanisms:
            lines.append(f"mechanism = {json.dumps(mechanisms[name])}")
    return "\n".join(lines) + "\n"


class LocalCluster:
    def __init__(self, nodes: int = 3, controllers: int | None = None, base_dir: Path | None = None,
                 topic_defaults: dict | None = None, timeouts: dict | None = None,
                 first_address: int | None = None, env: dict | None = None, groups: dict | None = None,
                 cluster: dict | None = None, http: dict | None = None, storage: dict | None = None,
                 partitions_fs_mb: int | None = None, extra_toml: str = "",
                 headers: dict | None = None, lazy_fs: bool = False, own_sessions: bool = True,
                 racks: dict[int, str] | None = None, inter_broker_listener: bool = False,
                 host_entries: int = 0, processes_per_host: int = 1):
        """cluster: extra [cluster] settings, e.g. {"auto.create.topics.enable": False};
        host_entries: the file names that many [[hosts]] entries (h1, h2, ...) of
        processes_per_host processes each instead of `nodes` [[nodes]]; each host on an
        address of its own, its first process a controller (the first `controllers`
        hosts' only, when given); host_of says each node's host (local_hosts.py);
        racks: node id -> its rack (Kafka's broker.rack) for the nodes named;
        inter_broker_listener: each broker gets an inter_broker_port (the other brokers dial it);
        extra_toml: more tables, as TOML text (e.g. [security]); headers: sent by this
        object's own requests (e.g. an admin's Authorization);
        http: [http] settings, e.g. {"access.control.allow.origin": "*"}; partitions_fs_mb:
        each node's partition data on a tmpfs of that size (root; see small_disks);
        lazy_fs: each node's data dir on the lazy filesystem, for power_cut (root, FUSE;
        see lazy_disks); own_sessions=False: the nodes stay in the caller's process group, so
        one killpg ends the caller and its nodes (the failure lab's runs)."""
        self._tmp = None
        self.own_sessions = own_sessions
        if base_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kraft-cluster-")
            base_dir = Path(self._tmp.name)
        self.base_dir = Path(base_dir)
        if first_address is None:
            first_address = default_first_address()
        if host_entries and racks:
            raise ValueError("racks name nodes; a cluster of [[hosts]] entries has none")
        self.host_of: dict[int, str] = {}  # node id -> its [[hosts]] entry's name
        if host_entries:
            self.hosts, self.host_of = local_hosts.layout(host_entries, processes_per_host, first_address)
            nodes = host_entries
        else:  # node id -> its address
            self.hosts = {i: f"127.0.0.{first_address + i - 1}" for i in range(1, nodes + 1)}
        controllers = nodes if controllers is None else controllers
        self.config_path = self.base_dir / "cluster.toml"
        self.headers = dict(headers or {})
        self.tls: ssl.SSLContext | None = None  # for https nodes: set by whoever turns TLS on
        # as Kafka's own integration tests: no initial rebalance delay unless a test asks
        groups = {"group.initial.rebalance.delay.ms": 0, **(groups or {})}
        self._write_config(nodes, controllers, topic_defaults or {}, timeouts or {}, groups,
                           cluster or {}, http or {}, storage or {}, extra_toml, racks or {}, inter_broker_listener,
                           processes_per_host if host_entries else 0)
        self.config = load_cluster_config(self.config_path)
        self.cluster_id = prepare_data_dirs(self.config)
        self.procs: dict[int, subprocess.Popen] = {}
        self._started_at: dict[int, float] = {}
        # a node started from a file of its own (a cluster grown by a node the others'
        # files never name); the others use config_path
        self.node_config_paths: dict[int, Path] = {}
        self.disk_mounts: dict[int, Path] = {}
        self.lazy_disks: dict[int, lazy_disks.LazyDisk] = {}
        try:
            for node in self.config.nodes:
                if lazy_fs:
                    self.lazy_disks[node.id] = lazy_disks.put_under(node.data_path)
                if partitions_fs_mb is not None:
                    path = node.data_path / PARTITIONS_DIR
                    small_disks.mount(path, partitions_fs_mb)
                    self.disk_mounts[node.id] = path
        except BaseException:
            self.close()  # what was mounted is unmounted, the temp dir removed
            raise
        self.env = {**os.environ, **(env or {})}

    def _write_config(self, nodes, controllers, topic_defaults, timeouts, groups, cluster, http,
                      storage, extra_toml, racks, inter_broker_listener=False, processes_per_host=0) -> None:
        """`nodes` [[nodes]], or with processes_per_host `nodes` [[hosts]] of that many."""
        lines = ['[cluster]', 'name = "test"']
        lines += [f'"{k}" = {json.dumps(v)}' for k, v in cluster.items()]
        lines += ["", "[topic_defaults]"]
        lines += [f'"{k}" = {json.dumps(v)}' for k, v in topic_defaults.items()]
        lines += ["", "[timeouts]"] + [f'"{k}" = {v}' for k, v in timeouts.items()]
        lines += ["", "[groups]"] + [f'"{k}" = {v}' for k, v in groups.items()]
        lines += ["", "[http]"] + [f'"{k}" = {json.dumps(v)}' for k, v in http.items()]
        lines += ["", "[storage]"] + [f'"{k}" = {json.dumps(v)}' for k, v in storage.items()]
        lines += ["", extra_toml]
        if processes_per_host:
            lines += local_hosts.entries(self.hosts, processes_per_host, controllers, inter_broker_listener,
                                         (FREE_PORTS_FROM, ephemeral_port_range()[0]))
        for i in [] if processes_per_host else range(1, nodes + 1):
            host = self.hosts[i]
            roles = '["controller", "broker"]' if i <= controllers else '["broker"]'
            ports = free_ports(host, 5)
            lines += ["", "[[nodes]]", f"id = {i}", f"roles = {roles}", f'host = "{host}"',
                      f"http_port = {ports[0]}", f"kafka_port = {ports[2]}", f"schema_registry_port = {ports[3]}"]
            if i <= controllers:
                lines.append(f"raft_port = {ports[1]}")
            if inter_broker_listener:
                lines.append(f"inter_broker_port = {ports[4]}")
            lines.append(f'data_dir = "node-{i}"')
            if i in racks:
                lines.append(f"rack = {json.dumps(racks[i])}")
        self.config_path.write_text("\n".join(lines) + "\n")

    # -- processes -------------------------------------------------------------------
    def start(self, node_ids=None) -> "LocalCluster":
        for node_id in node_ids or self.hosts:
            self.start_node(node_id)
        return self

    def start_node(self, node_id: int) -> None:
        assert node_id not in self.procs or self.procs[node_id].poll() is not None
        log = open(self.log_path(node_id), "ab")
        self._started_at[node_id] = time.monotonic()
        self.procs[node_id] = subprocess.Popen(
            [sys.executable, "-m", "kraft.server.node_process",
             str(self.node_config_paths.get(node_id, self.config_path)), str(node_id)],
            stdout=log, stderr=subprocess.STDOUT, cwd=str(self.base_dir), start_new_session=self.own_sessions,
            env=self._node_env(node_id))
        log.close()

    def _node_env(self, node_id: int) -> dict:
        disk = self.lazy_disks.get(node_id)
        if disk is None:
            return self.env
        # on the lazy filesystem each node is its own machine, rebooted by a power cut
        return {**self.env, run_state.BOOT_ID_FILE_ENV: str(disk.boot_id_file)}

    def log_path(self, node_id: int) -> Path:
        return self.config.node(node_id).data_path.parent / f"node-{node_id}.log"

    def kill(self, node_id: int) -> None:
        proc = self.procs[node_id]
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a paused process must die too
            proc.kill()
        proc.wait()

    def stop(self, node_id: int, timeout_s: float = 20.0) -> int:
        proc = self.procs[node_id]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def stop_all(self, timeout_s: float = 20.0) -> None:
        """SIGTERM every running node at once, as an operator stopping the cluster would; one
        by one, the last node waits for a quorum that has already gone."""
        running = [n for n in self.procs if self.running(n)]
        for node_id in running:
            self.procs[node_id].send_signal(signal.SIGCONT)  # a paused node must hear it
            self.procs[node_id].send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for node_id in running:
            proc = self.procs[node_id]
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def pause(self, node_id: int) -> None:
        os.kill(self.procs[node_id].pid, signal.SIGSTOP)

    def resume(self, node_id: int) -> None:
        os.kill(self.procs[node_id].pid, signal.SIGCONT)

    def freeze_loop(self, node_id: int):
        """A context manager: the node's event loop frozen (its main thread stopped) while
        its other threads run on (thread_freeze.py; needs root)."""
        return frozen_main_thread(self.procs[node_id].pid)

    def power_cut(self, node_ids) -> dict[int, dict]:
        """Cut the power of these nodes at once: each is killed and its data dir keeps only
        what was fsynced (lazy_fs=True). Returns, per node, what its disk dropped. The
        nodes stay down; start_node brings one back."""
        for node_id in node_ids:
            if self.running(node_id):
                self.kill(node_id)
        return {node_id: self.lazy_disks[node_id].cut() for node_id in node_ids}

    def running(self, node_id: int) -> bool:
        return node_id in self.procs and self.procs[node_id].poll() is None

    def paused(self, node_id: int) -> bool:
        """Running but stopped (SIGSTOP, by pause or anyone): it answers nothing until
        resumed, so a question to it can only time out."""
        if not self.running(node_id):
            return False
        try:
            stat = Path(f"/proc/{self.procs[node_id].pid}/stat").read_text()
        except OSError:  # no procfs here: not known to be paused
            return False
        return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")

    def close(self) -> None:
        for node_id in list(self.procs):
            if self.running(node_id):
                self.kill(node_id)
        if self.disk_mounts:
            for path in self.disk_mounts.values():
                small_disks.unmount(path)
            self.disk_mounts.clear()
        for disk in self.lazy_disks.values():
            disk.close()
        self.lazy_disks.clear()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- HTTP ------------------------------------------------------------------------
    def url(self, node_id: int) -> str:
        return self.config.node(node_id).http_url

    @property
    def schema_registry_url(self) -> str:
        """Every node's schema registry, for a client's schema.registry.url."""
        return self.config.schema_registry_urls

    @property
    def bootstrap_servers(self) -> str:
        """Every node's Kafka listener, for a Kafka client's bootstrap.servers."""
        return self.config.kafka_bootstrap_servers

    def v3(self, node_id: int) -> str:
        return f"{self.url(node_id)}/v3/clusters/{self.cluster_id}"

    def get(self, node_id: int, path: str, timeout: float = 5.0):
        return http_json("GET", self.url(node_id) + path, timeout=timeout, headers=self.headers,
                         context=self.tls)

    def wait_until(self, predicate, timeout_s: float = 30.0, what: str = "condition",
                   interval_s: float = 0.1):
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
            except OSError as exc:  # a node that is down or restarting
                last = exc
            if last and not isinstance(last, Exception):
                return last
            time.sleep(interval_s)
        raise TimeoutError(f"{what} not reached within {timeout_s:.0f}s (last: {last!r})")

    def wait_ready(self, node_ids=None, timeout_s: float = 30.0) -> None:
        """Every node named (default: every running one) answers ready within timeout_s;
        a node still starting (alive, its HTTP port not open yet) is given until
        NODE_START_BOUND_S after its start: on a loaded machine a process's imports alone
        can take tens of seconds. A node that exits is named at once with its log."""
        ids = list(node_ids or [n for n in self.hosts if self.running(n)])
        deadline = time.monotonic() + timeout_s
        state: dict[int, str] = {}

        def ready(n: int) -> bool:
            if n in self.procs and not self.running(n):  # it will never answer: say why
                raise RuntimeError(f"node {n} exited ({self.procs[n].returncode}): {self.log_tail(n)}")
            try:
                status = self.get(n, "/status/ready", 2.0)[0]
            except OSError as exc:
                refused = isinstance(getattr(exc, "reason", exc), ConnectionRefusedError)
                state[n] = "not listening yet" if refused else f"no answer ({exc!r})"
                return False
            state[n] = f"answers {status}"
            return status == 200

        while True:
            waiting = [n for n in ids if not ready(n)]
            if not waiting:
                return
            now = time.monotonic()
            starting = [n for n in waiting if state[n] == "not listening yet"
                        and now < self._started_at.get(n, 0.0) + NODE_START_BOUND_S]
            if now >= deadline and not starting:
                raise TimeoutError(f"nodes {ids} ready not reached within {timeout_s:.0f}s: " + "; ".join(
                    f"node {n} {state[n]}, started {now - self._started_at.get(n, now):.0f}s ago, "
                    f"log: {self.log_tail(n, 3) or '(empty)'}" for n in waiting))
            time.sleep(0.1)

    def log_tail(self, node_id: int, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path(node_id).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def controller_id(self, via: int | None = None) -> int | None:
        for node_id in ([via] if via else [n for n in self.hosts if self.running(n)]):
            try:
                status, body = self.get(node_id, "/v3/clusters", 2.0)
            except OSError:
                continue
            if status == 200:
                return body["data"][0]["controller_id"]
        return None

    def raft_leader(self) -> int | None:
        """The node that serves as active controller now, asked of the quorum itself."""
        for node_id in [n for n in self.hosts if self.running(n)]:
            try:
                status, body = http_json("GET", self.v3(node_id) + "/quorum", timeout=2.0,
                                         headers=self.headers, context=self.tls)
            except OSError:
                continue
            if status == 200 and body.get("leader_id") is not None:
                return body["leader_id"]
        return None
