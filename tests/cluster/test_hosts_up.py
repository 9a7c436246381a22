"""A cluster.toml of [[hosts]] entries as an operator runs it: `kraft up` starts every
process of every host, SIGTERM stops them all, a second start (here one `kraft up
--host` per machine's worth of hosts) gives the same ids, ports and data dirs, `kraft
host restart` restarts exactly one host's processes, and `kraft host decommission`
asks once per broker of the host.

Three hosts of two processes each on 127.0.0.106-108 (no other module's range, see
tests/conftest.py); every host's first process is a controller. One start of the whole
file, then one split start, shared by the tests (module-scoped fixtures).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kraft.config.cluster import load_cluster_config
from kraft.config.data_dir import read_identity
from kraft.server.local_cluster import FREE_PORTS_FROM, ephemeral_port_range, http_json
from kraft.server.taken_addresses import taken_addresses

pytestmark = pytest.mark.cluster

KRAFT = [sys.executable, "-m", "kraft"]
FIRST_ADDRESS = 106
HOSTS = ("a", "b", "c")
PROCESSES = 2
PORTS_PER_HOST = 2 * PROCESSES + 1  # http and kafka runs, then the controller's raft port
START_BOUND_S = 120  # six Python processes starting on a loaded 2-core machine
STOP_BOUND_S = 60


def address(index: int) -> str:
    return f"127.0.0.{FIRST_ADDRESS + index}"


def free_base(addresses: list[str], count: int) -> int:
    """A first port with `count` consecutive ports free on every address (all held at
    once while looking, so none is counted twice)."""
    for base in range(FREE_PORTS_FROM + (os.getpid() % 2000) * 7, ephemeral_port_range()[0] - count, count):
        held: list[socket.socket] = []
        try:
            for host in addresses:
                for port in range(base, base + count):
                    s = socket.socket()
                    held.append(s)
                    s.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise OSError(f"no {count} consecutive free ports on {addresses}")


def host_entry(index: int, base: int) -> str:
    name = HOSTS[index]
    return (f'\n[[hosts]]\nname = "{name}"\nprocesses = {PROCESSES}\nfirst_id = {1 + index * PROCESSES}\n'
            f'controller = true\naddress = "{address(index)}"\nhttp_port = {base}\n'
            f'kafka_port = {base + PROCESSES}\nraft_port = {base + 2 * PROCESSES}\ndata_dir = "data/{name}"\n')


def write_file(directory: Path, extra: str = "") -> Path:
    base = free_base([address(i) for i in range(len(HOSTS))], PORTS_PER_HOST)
    path = directory / "cluster.toml"
    path.write_text('[cluster]\nname = "hosts"\n\n[groups]\n"group.initial.rebalance.delay.ms" = 0\n'
                    + "".join(host_entry(i, base) for i in range(len(HOSTS))) + extra)
    return path


def start_up(path: Path, *hosts: str) -> subprocess.Popen:
    args = [a for name in hosts for a in ("--host", name)]
    return subprocess.Popen(KRAFT + ["up", "-c", str(path), "--ready-timeout", str(START_BOUND_S), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_started(up: subprocess.Popen) -> str:
    """The URL `kraft up` prints once ready ("" when it exited instead)."""
    url = up.stdout.readline().strip()
    assert url, f"kraft up exited ({up.wait()}): {up.stderr.read()}"
    return url


def stop_up(up: subprocess.Popen) -> tuple[int, str]:
    if up.poll() is None:
        up.send_signal(signal.SIGTERM)
    try:
        code = up.wait(STOP_BOUND_S)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)
        code = up.wait(10)
    return code, up.stderr.read()


def node_pids(path: Path) -> dict[int, int]:
    """node id -> pid of each `kraft node --id N -c <path>` running now."""
    pids = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "node" in argv and "--id" in argv and str(path) in argv and (entry / "stat").read_text().split()[2] != "Z":
            pids[int(argv[argv.index("--id") + 1])] = int(entry.name)
    return pids


def until(check, bound_s: float, what: str):
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.3)
    raise AssertionError(f"not within {bound_s:.0f}s: {what}")


def kraft(*args: str, timeout: float = 200) -> subprocess.CompletedProcess:
    return subprocess.run(KRAFT + list(args), capture_output=True, text=True, timeout=timeout)


def ready(url: str) -> bool:
    try:
        return http_json("GET", url + "/status/ready", timeout=3)[0] == 200
    except OSError:
        return False


def cluster_id(url: str) -> str:
    return http_json("GET", url + "/v3/clusters")[1]["data"][0]["cluster_id"]


@dataclass
class Run:
    """What one start looked like while it ran, and how it stopped."""
    path: Path
    pids: dict[int, int] = field(default_factory=dict)
    ready: dict[int, bool] = field(default_factory=dict)
    identities: dict[int, tuple] = field(default_factory=dict)  # node id -> (cluster id, node id) of its dir
    replicas: list[list[int]] = field(default_factory=list)  # an RF 3 topic's partitions
    too_many: tuple = ()  # the answer to an RF 4 topic on three hosts
    exit_code: int | None = None
    stderr: str = ""
    left_running: dict[int, int] = field(default_factory=dict)
    taken: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def hosts_file(tmp_path_factory) -> Path:
    return write_file(tmp_path_factory.mktemp("hosts"))


def _look(run: Run, config, url: str) -> None:
    run.pids = node_pids(run.path)
    run.ready = {n.id: ready(n.http_url) for n in config.nodes}
    run.identities = {n.id: (i.cluster_id, i.node_id) for n in config.nodes if (i := read_identity(n.data_path))}
    cid = cluster_id(url)
    create = url + f"/v3/clusters/{cid}/topics"
    status, body = http_json("POST", create, {"topic_name": "spread", "partitions_count": 6, "replication_factor": 3})
    assert status in (200, 201), body
    parts = until(lambda: http_json("GET", create + "/spread/partitions")[1].get("data"), 30, "spread's partitions")
    run.replicas = [p["replica_ids"] for p in parts]
    run.too_many = http_json("POST", create, {"topic_name": "four", "partitions_count": 1, "replication_factor": 4})


@pytest.fixture(scope="module")
def first_start(hosts_file) -> Run:
    """`kraft up` of the whole file: looked at while ready, then stopped with SIGTERM."""
    config = load_cluster_config(hosts_file)
    run = Run(hosts_file)
    up = start_up(hosts_file)
    try:
        _look(run, config, wait_started(up))
    finally:
        run.exit_code, run.stderr = stop_up(up)
    run.left_running = node_pids(hosts_file)
    run.taken = taken_addresses(config)
    return run


def test_up_starts_every_process_of_every_host_and_each_registers_its_host(first_start, hosts_file):
    config = load_cluster_config(hosts_file)
    assert sorted(first_start.pids) == [1, 2, 3, 4, 5, 6] == sorted(n.id for n in config.nodes)
    assert all(first_start.ready.values()), first_start.ready
    # the brokers told the cluster their host: no partition has two replicas on one host
    # (nodes 1 and 2 are host a's, 3 and 4 b's, 5 and 6 c's), and RF 4 is refused on three hosts
    host_of = {n.id: n.host_name for n in config.nodes}
    assert len(first_start.replicas) == 6
    for replicas in first_start.replicas:
        assert sorted(host_of[b] for b in replicas) == ["a", "b", "c"], first_start.replicas
    status, body = first_start.too_many
    assert status == 422 and "larger than the 3 available hosts" in body["message"], body


def test_sigterm_stops_every_process_of_every_host_and_frees_every_port(first_start):
    assert first_start.exit_code == 0, first_start.stderr
    assert first_start.left_running == {}
    assert first_start.taken == []


@pytest.fixture(scope="module")
def split_start(first_start, hosts_file):
    """The same file started again as two machines would: `kraft up --host a` and `kraft
    up --host b,c`."""
    ups = {"a": start_up(hosts_file, "a"), "b,c": start_up(hosts_file, "b,c")}
    try:
        urls = {name: wait_started(up) for name, up in ups.items()}
        yield ups, urls
    finally:
        for up in ups.values():
            stop_up(up)


def test_a_second_start_gives_the_same_ids_on_the_same_ports_with_the_same_data_dirs(split_start, first_start,
                                                                                     hosts_file):
    config = load_cluster_config(hosts_file)
    _, urls = split_start
    pids = node_pids(hosts_file)
    assert sorted(pids) == [1, 2, 3, 4, 5, 6] and not set(pids.values()) & set(first_start.pids.values())
    for node in config.nodes:
        assert until(lambda: ready(node.http_url), 60, f"node {node.id} ready")
        assert read_identity(node.data_path) is not None
        assert (read_identity(node.data_path).cluster_id, node.id) == first_start.identities[node.id]
    # the topic of the first start is there, on the same brokers
    cid = cluster_id(urls["a"])
    parts = http_json("GET", urls["a"] + f"/v3/clusters/{cid}/topics/spread/partitions")[1]["data"]
    assert [p["replica_ids"] for p in parts] == first_start.replicas
    brokers = {b["broker_id"]: b for b in http_json("GET", urls["b,c"] + f"/v3/clusters/{cid}/brokers")[1]["data"]}
    assert {b: (brokers[b]["host"], brokers[b]["port"]) for b in brokers} == \
        {n.id: (n.host, n.http_port) for n in config.nodes}


def test_host_list_shows_each_hosts_processes_ready(split_start, hosts_file):
    done = kraft("host", "list", "-c", str(hosts_file))
    assert done.returncode == 0, done.stderr
    config = load_cluster_config(hosts_file)
    rows = {line.split("│")[2].strip(): line for line in done.stdout.splitlines() if line.count("│") > 5}
    for node in config.nodes:
        assert node.host_name in rows[str(node.id)] and "ready" in rows[str(node.id)], done.stdout
        assert node.http_url in rows[str(node.id)], done.stdout
    assert "host a: supervised by kraft up" in done.stdout and "host b: supervised by kraft up" in done.stdout


def test_host_restart_restarts_exactly_that_hosts_processes_and_the_cluster_is_ready_again(split_start,
                                                                                          hosts_file):
    ups, urls = split_start
    before = node_pids(hosts_file)
    cid = cluster_id(urls["b,c"])
    epochs = {b["broker_id"]: b["broker_epoch"]
              for b in http_json("GET", urls["b,c"] + f"/v3/clusters/{cid}/brokers")[1]["data"]}
    done = kraft("host", "restart", "b", "-c", str(hosts_file))
    assert done.returncode == 0, done.stdout + done.stderr
    after = node_pids(hosts_file)
    assert sorted(after) == [1, 2, 3, 4, 5, 6]
    changed = sorted(n for n in after if after[n] != before[n])
    assert changed == [3, 4], (before, after)
    assert f"node 3: pid {after[3]}, ready" in done.stdout and f"node 4: pid {after[4]}, ready" in done.stdout
    # the cluster saw new incarnations of 3 and 4 only
    new_epochs = until(lambda: {b["broker_id"]: b["broker_epoch"] for b in http_json(
        "GET", urls["a"] + f"/v3/clusters/{cid}/brokers")[1]["data"]} if all(
        ready(n.http_url) for n in load_cluster_config(hosts_file).nodes) else None, 60, "every node ready")
    assert sorted(b for b in new_epochs if new_epochs[b] != epochs[b]) == [3, 4]
    assert all(up.poll() is None for up in ups.values())


def test_host_decommission_is_whole_or_refused_in_one_line(split_start, hosts_file):
    _, urls = split_start
    cid = cluster_id(urls["a"])

    def leaving() -> list[int]:  # decommissioning, or done (unregistered)
        return [b for b in range(1, 7) if http_json("GET", urls["a"] + f"/v1/brokers/{b}/decommission")[1].get(
            "state") in ("decommissioning", "decommissioned")]
    # spread has RF 3 on three hosts: broker 5's replicas could go to broker 6 alone, but
    # not with 6 leaving too: the first is refused and nothing starts (one at a time, 5's
    # moves to 6 could finish before 6 were refused: a host half decommissioned)
    refused = kraft("host", "decommission", "c", "-c", str(hosts_file))
    assert refused.returncode == 1 and refused.stdout == ""
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("kraft: broker 5: ") and "replication factor 3" in line
    assert leaving() == []
    assert http_json("DELETE", urls["a"] + f"/v3/clusters/{cid}/topics/spread")[0] in (200, 204)
    done = kraft("host", "decommission", "c", "-c", str(hosts_file))
    assert done.returncode == 0, done.stderr
    assert "broker 5: " in done.stdout and "broker 6: " in done.stdout
    assert until(lambda: set(leaving()) >= {5, 6} or None, 10, "5 and 6 decommissioning")
    back = kraft("host", "recommission", "c", "-c", str(hosts_file))
    assert back.returncode == 0, back.stderr
    assert "broker 5: recommissioned" in back.stdout and "broker 6: recommissioned" in back.stdout


def test_restart_of_a_host_no_kraft_up_supervises_here_says_so(tmp_path):
    path = write_file(tmp_path)
    done = kraft("host", "restart", "a", "-c", str(path))
    assert done.returncode == 1 and "no kraft up on this machine supervises host a" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_unknown_host_is_refused_naming_the_files_hosts(tmp_path):
    path = write_file(tmp_path)
    done = kraft("up", "-c", str(path), "--host", "a,z")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == f"kraft up: {path}: no host named 'z'; the file's hosts are a, b, c"
    assert not (tmp_path / "data").exists()  # nothing formatted, nothing started


def test_a_host_whose_ids_or_ports_collide_with_a_nodes_entry_is_refused_at_up(tmp_path):
    path = write_file(tmp_path)
    config = load_cluster_config(path)
    taken = config.node(2)  # host a's second process
    path.write_text(path.read_text() + f'\n[[nodes]]\nid = 2\nroles = ["broker"]\nhost = "127.0.0.1"\n'
                                       f'http_port = {taken.http_port}\nkafka_port = {taken.kafka_port}\n'
                                       f'data_dir = "elsewhere"\n')
    done = kraft("up", "-c", str(path))
    assert done.returncode == 2 and done.stdout == ""
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "node id 2" in line and "hosts[0]" in line, line
    path.write_text(path.read_text().replace("id = 2\nroles", "id = 100\nroles").replace(
        'host = "127.0.0.1"', f'host = "{taken.host}"'))
    done = kraft("up", "-c", str(path))
    assert done.returncode == 2 and done.stdout == ""
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and f"port {taken.http_port} on {taken.host}" in line, line
