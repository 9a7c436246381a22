"""Network faults with real iptables rules and tc shaping on loopback, target resolution
by role, and wiping a follower's data.

The socket tests bind TCP/UDP servers and clients to their own 127.0.0.N like cluster
nodes do; they use 127.0.0.202+ (and the cluster tests 127.0.0.150+) rather than the
LocalCluster default 127.0.0.2+, so rules installed here cannot cut a cluster that
another test run on this machine has started meanwhile.
"""

from __future__ import annotations

import os
import random
import json
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from kraft.server.local_cluster import LocalCluster, http_json
from kraft.scenario.faults import process as process_faults
from kraft.scenario.client_sides import client_gid
from kraft.scenario.faults.network import NetworkFaultError, NetworkFaults
from kraft.scenario.targets import TargetUnavailable, resolve
from kraft.storage.log_inspect import partition_dirs, read_records

AVAILABLE, WHY = NetworkFaults.available()
needs_iptables = pytest.mark.skipif(not AVAILABLE, reason=f"network faults unavailable: {WHY}")

CLIENT = 0  # 127.0.0.1: the runner / test process
CONNECT_TIMEOUT_S = 0.5
CLUSTER_BASE = 150


def addrs(n: int, base: int = 202) -> dict[int, str]:
    return {i: f"127.0.0.{base + i - 1}" for i in range(1, n + 1)}


class Lab:
    """A TCP listener and a UDP socket on each node address."""

    def __init__(self, hosts: dict[int, str]):
        self.hosts = hosts
        self.tcp, self.udp = {}, {}
        self._stop = threading.Event()
        self._threads = []
        for n, addr in hosts.items():
            srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind((addr, 0))
            srv.listen(128)
            srv.settimeout(0.2)
            self.tcp[n] = srv
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((addr, 0))
            self.udp[n] = u
            t = threading.Thread(target=self._accept, args=(srv,), daemon=True)
            t.start()
            self._threads.append(t)

    def _accept(self, srv):
        while not self._stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.close()

    def close(self):
        self._stop.set()
        for t in self._threads:
            t.join(2)
        for s in [*self.tcp.values(), *self.udp.values()]:
            s.close()

    def addr(self, n: int) -> str:
        return "127.0.0.1" if n == CLIENT else self.hosts[n]

    def connects(self, src: int, dst: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
            c.bind((self.addr(src), 0))
            c.settimeout(CONNECT_TIMEOUT_S)
            try:
                c.connect(self.tcp[dst].getsockname())
                return True
            except OSError:  # timeout (SYN or SYN-ACK dropped) or EPERM from OUTPUT
                return False

    def reachable(self) -> set[tuple[int, int]]:
        """Every (src, dst) pair, client included as a source, that can open TCP."""
        pairs = [(s, d) for s in [CLIENT, *self.hosts] for d in self.hosts if s != d]
        with ThreadPoolExecutor(len(pairs)) as pool:
            ok = list(pool.map(lambda p: self.connects(*p), pairs))
        return {p for p, good in zip(pairs, ok) if good}

    def all_pairs(self) -> set[tuple[int, int]]:
        return {(s, d) for s in [CLIENT, *self.hosts] for d in self.hosts if s != d}

    def udp_delivered(self, src: int, dst: int, count: int) -> int:
        """Send count datagrams src -> dst; how many arrived."""
        target = self.udp[dst].getsockname()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.bind((self.addr(src), 0))
            me = c.getsockname()
            for i in range(count):
                try:
                    c.sendto(b"%d" % i, target)
                except OSError:  # EPERM: dropped in OUTPUT
                    pass
        got = 0
        r = self.udp[dst]
        r.settimeout(0.3)
        while True:
            try:
                _, frm = r.recvfrom(64)
            except socket.timeout:
                return got
            if frm == me:
                got += 1


@pytest.fixture
def lab3():
    lab = Lab(addrs(3))
    yield lab
    lab.close()


def without(pairs, *cut):
    return pairs - set(cut)


def our_chains() -> list[str]:
    listing = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True).stdout
    return [line for line in listing.splitlines() if re.search(rf"KRAFT-{os.getpid()}\b", line)]


@needs_iptables
def test_isolate_partition_one_way_and_heal(lab3):
    everything = lab3.all_pairs()
    assert lab3.reachable() == everything
    with NetworkFaults(lab3.hosts) as net:
        assert net.isolate(1) == "isolate node 1 from {2, 3}"
        assert lab3.reachable() == without(everything, (1, 2), (2, 1), (1, 3), (3, 1))
        assert net.describe() == ["isolate node 1 from {2, 3}"]
        assert len(net.rules()) == 4
        assert our_chains()  # the chain and its jump from OUTPUT are there
        assert net.heal() == ["isolate node 1 from {2, 3}"]
        assert lab3.reachable() == everything and net.describe() == []

        net.partition([{1}, {2, 3}])
        assert lab3.reachable() == without(everything, (1, 2), (2, 1), (1, 3), (3, 1))
        net.heal()
        net.partition([{3}])  # unlisted nodes form the other side: {3} | {1, 2}
        assert net.describe() == ["partition {3} | {1, 2}"]
        assert lab3.reachable() == without(everything, (3, 1), (1, 3), (3, 2), (2, 3))
        net.heal()

        net.one_way({1}, {2})
        # TCP fails both ways (the SYN-ACK 1 -> 2 is dropped too) ...
        assert lab3.reachable() == without(everything, (1, 2), (2, 1))
        # ... but datagrams show the direction: 2 -> 1 arrives, 1 -> 2 does not
        assert lab3.udp_delivered(2, 1, 5) == 5
        assert lab3.udp_delivered(1, 2, 5) == 0
        assert lab3.udp_delivered(1, 3, 5) == 5
        net.heal()
        assert lab3.reachable() == everything
    assert our_chains() == []


@needs_iptables
def test_ring_of_five_each_node_reaches_only_its_neighbours():
    lab = Lab(addrs(5))
    try:
        with NetworkFaults(lab.hosts) as net:
            assert net.ring() == "ring 1 - 2 - 3 - 4 - 5 - 1"
            neighbours = {(a, b) for a in range(1, 6) for b in range(1, 6)
                          if a != b and (a - b) % 5 in (1, 4)}
            clients = {(CLIENT, n) for n in range(1, 6)}
            assert lab.reachable() == neighbours | clients
        assert lab.reachable() == lab.all_pairs()
    finally:
        lab.close()
    assert our_chains() == []


@needs_iptables
def test_lossy_drops_some_but_not_all_and_leaves_clients_alone(lab3):
    with NetworkFaults(lab3.hosts) as net:
        net.lossy(1, 0.5)
        delivered = lab3.udp_delivered(1, 2, 200)
        assert 20 <= delivered <= 180, delivered
        back = lab3.udp_delivered(3, 1, 200)
        assert 20 <= back <= 180, back
        assert lab3.udp_delivered(2, 3, 50) == 50  # not involved
        assert lab3.udp_delivered(CLIENT, 1, 50) == 50  # the client is untouched
        net.heal()
        assert lab3.udp_delivered(1, 2, 50) == 50
    assert our_chains() == []


def _seconds_to_send(lab, src: int, dst: int, nbytes: int) -> float:
    """Time until dst's side has received nbytes sent over TCP from src."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind((lab.addr(dst), 0))
    srv.listen(1)
    got = []

    def receive():
        conn, _ = srv.accept()
        n = 0
        while n < nbytes:
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            n += len(chunk)
        got.append(n)
        conn.close()

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    started = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
        c.bind((lab.addr(src), 0))
        c.connect(srv.getsockname())
        c.sendall(b"x" * nbytes)
        t.join(15)
    srv.close()
    assert got == [nbytes]
    return time.monotonic() - started


SLOW_OK, SLOW_WHY = NetworkFaults.slow_available()  # htb + u32 on lo; netem is not needed


@needs_iptables
@pytest.mark.skipif(not SLOW_OK, reason=f"tc shaping unavailable: {SLOW_WHY}")
def test_slow_rate_limits_one_source_address_only(lab3):
    with NetworkFaults(lab3.hosts) as net:
        assert net.slow(1, 1000) == "slow node 1: 1000 kbit/s to the other nodes"
        # 256 KB at 1 Mbit/s is ~2 s (htb lets the first 64 KB loopback packet through)
        assert _seconds_to_send(lab3, 1, 2, 256_000) > 1.0
        assert _seconds_to_send(lab3, 3, 2, 256_000) < 0.5
        assert _seconds_to_send(lab3, 1, CLIENT, 256_000) < 0.5  # to the client: unshaped
        net.heal()
        assert _seconds_to_send(lab3, 1, 2, 256_000) < 0.5
    qdisc = subprocess.run(["tc", "qdisc", "show", "dev", "lo"], capture_output=True, text=True)
    assert "4b52:" not in qdisc.stdout


def test_netem_probe_answers_with_a_reason():
    ok, why = NetworkFaults.netem_available()
    assert isinstance(ok, bool) and why
    if not ok:
        assert "netem" in why


def client_reaches(lab: Lab, gid: int) -> set[int]:
    """The nodes a process of group ``gid`` (a Jepsen client slot's) opens TCP to."""
    targets = {n: list(lab.tcp[n].getsockname()) for n in lab.hosts}
    code = ("import json, socket, sys\n"
            "ok = []\n"
            "for n, addr in json.loads(sys.argv[1]).items():\n"
            "    try:\n"
            f"        socket.create_connection(tuple(addr), timeout={CONNECT_TIMEOUT_S}).close()\n"
            "        ok.append(int(n))\n"
            "    except OSError:\n"
            "        pass\n"
            "print(json.dumps(ok))\n")
    ran = subprocess.run([sys.executable, "-c", code, json.dumps(targets)], capture_output=True, text=True,
                         timeout=30, group=gid, check=True)
    return set(json.loads(ran.stdout))


@needs_iptables
def test_isolate_with_clients_takes_one_groups_clients_along_and_cuts_the_others_from_it():
    """Clients all come from 127.0.0.1; their process group decides their side."""
    lab = Lab(addrs(3, base=207))
    side, other = client_gid(0), client_gid(1)
    try:
        everything = lab.all_pairs()
        assert client_reaches(lab, side) == client_reaches(lab, other) == {1, 2, 3}
        with NetworkFaults(lab.hosts) as net:
            detail = net.isolate_with_clients(1, [side], [other])
            assert detail.startswith("isolate node 1 and the clients of groups {47000} from {2, 3}")
            assert lab.reachable() == without(everything, (1, 2), (2, 1), (1, 3), (3, 1))  # root's clients: all
            assert client_reaches(lab, side) == {1}
            assert client_reaches(lab, other) == {2, 3}
            assert client_reaches(lab, client_gid(5)) == {1, 2, 3}  # a group on neither side
            net.heal()
            assert client_reaches(lab, side) == client_reaches(lab, other) == {1, 2, 3}
            assert lab.reachable() == everything
    finally:
        lab.close()


@needs_iptables
def test_cleanup_after_an_error_and_close_is_idempotent(lab3):
    with pytest.raises(RuntimeError, match="boom"):
        with NetworkFaults(lab3.hosts) as net:
            net.isolate(2)
            assert our_chains()
            raise RuntimeError("boom")
    assert our_chains() == []
    net.close()  # again: nothing to do, no error
    with pytest.raises(NetworkFaultError):
        net.isolate(1)
    assert lab3.reachable() == lab3.all_pairs()
    with NetworkFaults(lab3.hosts) as other:
        with pytest.raises(ValueError):
            other.isolate(9)
        with pytest.raises(ValueError):
            other.partition([{1, 2}, {2, 3}])
        with pytest.raises(ValueError):
            other.lossy(1, 1.5)
    assert our_chains() == []


# -- real clusters -----------------------------------------------------------------------------
def create_topic(cluster, via, name, timeout=10.0, **extra):
    body = {"topic_name": name, "partitions_count": 1, **extra}
    return http_json("POST", cluster.v3(via) + "/topics", body, timeout=timeout)


def topic_names(cluster, via):
    status, body = http_json("GET", cluster.v3(via) + "/topics", timeout=3)
    return {t["topic_name"] for t in body["data"]} if status == 200 else set()


@needs_iptables
@pytest.mark.cluster
def test_isolated_controller_loses_the_quorum_and_catches_up_after_healing():
    rng = random.Random(1)
    # the create through the cut-off node fails when its controller request times out:
    # 3 s here instead of the default 5
    with LocalCluster(3, first_address=CLUSTER_BASE, timeouts={"controller.request.timeout.ms": 3000}) as cluster, \
            NetworkFaults(cluster.hosts) as net:
        cluster.start().wait_ready()
        assert create_topic(cluster, 1, "before")[0] == 201
        [old] = resolve(cluster, "controller", rng)
        net.isolate(old)
        majority = [n for n in cluster.hosts if n != old]

        def new_leader():
            status, q = http_json("GET", cluster.v3(majority[0]) + "/quorum", timeout=2)
            return status == 200 and q.get("leader_id") not in (None, old) and q["leader_id"]

        new = cluster.wait_until(new_leader, 20, "a new Raft leader on the majority side")
        assert new in majority

        def created():
            status, body = create_topic(cluster, majority[1], "during")
            return (status == 201 or body.get("error_code") == 40002) and status
        cluster.wait_until(created, 20, "topic created through the majority", interval_s=0.2)

        status, body = create_topic(cluster, old, "minority", timeout=20)
        assert status != 201 and 500 <= status < 600, (status, body)
        assert body["error_code"] in (50003, 50301), body
        assert "during" not in topic_names(cluster, old)

        net.heal()
        cluster.wait_until(lambda: "during" in topic_names(cluster, old), 20,
                           "isolated node caught up")
        for n in cluster.hosts:
            assert "minority" not in topic_names(cluster, n)
    assert our_chains() == []


def _log(cluster, node, topic="w", partition=0):
    dirs = partition_dirs(cluster.config.node(node).data_path, topic, partition)
    return read_records(dirs[0]) if dirs else []


@pytest.mark.cluster
def test_targets_resolve_and_a_wiped_follower_resyncs():
    with LocalCluster(3, first_address=CLUSTER_BASE) as cluster:
        cluster.start().wait_ready()
        assert create_topic(cluster, 1, "w", replication_factor=3)[0] == 201
        records = [{"key": f"k{i}", "value": {"i": i}} for i in range(5)]
        status, body = http_json("POST", cluster.url(2) + "/topics/w", {"records": records},
                                 headers={"Content-Type": "application/vnd.kafka.json.v2+json"})
        assert status == 200 and [o["offset"] for o in body["offsets"]] == [0, 1, 2, 3, 4], body

        status, part = http_json("GET", cluster.v3(1) + "/topics/w/partitions/0")
        assert resolve(cluster, "leader:w-0") == [part["leader_id"]]
        [follower] = resolve(cluster, "follower:w-0", random.Random(3))
        assert follower in part["replica_ids"] and follower != part["leader_id"]
        assert resolve(cluster, "controller") == [cluster.raft_leader()]
        assert resolve(cluster, "controllers") == [1, 2, 3]
        assert resolve(cluster, "all") == [1, 2, 3]
        assert resolve(cluster, "node:2") == [2]
        picks = [resolve(cluster, "random", random.Random(s))[0] for s in range(8)]
        assert set(picks) <= {1, 2, 3}
        assert picks == [resolve(cluster, "random", random.Random(s))[0] for s in range(8)]
        for bad in ("", "bogus", "leader:w", "leader:w-x", "node:9", "node:x", "controller:1"):
            with pytest.raises(ValueError):
                resolve(cluster, bad)
        with pytest.raises(TargetUnavailable):
            resolve(cluster, "leader:nosuch-0")

        leader = part["leader_id"]
        cluster.wait_until(lambda: len(_log(cluster, follower)) == 5, 10, "follower replicated")
        before = _log(cluster, leader)
        assert [r[0] for r in before] == [0, 1, 2, 3, 4]
        with pytest.raises(process_faults.NodeRunning):
            process_faults.wipe(cluster, follower)

        assert process_faults.stop(cluster, [follower]).target == [follower]
        action = process_faults.wipe(cluster, follower)
        data = cluster.config.node(follower).data_path
        assert action.kind == "wipe" and action.target == [follower]
        assert "partitions/" in action.detail
        assert not (data / "partitions").exists()
        assert not (data / "replication-offset-checkpoint").exists()
        assert (data / "meta.properties").exists() and (data / "__cluster_metadata").is_dir()
        assert _log(cluster, follower) == []

        event = process_faults.restart(cluster, [follower]).event(1234.0)
        assert event.kind == "restart" and event.target == [follower]
        cluster.wait_ready([follower])
        cluster.wait_until(lambda: _log(cluster, follower) == before, 20,
                           "wiped follower re-synced from the leader")
