"""Network faults when nodes share an address (the processes of one [[hosts]] entry):
real iptables rules on loopback, TCP connects between real sockets. A fault on one
process takes its whole host off the others, never cuts the host's processes from each
other, and a cut that would part two processes of one host is refused.

The addresses are 127.0.0.230+, apart from the clusters' (127.0.0.2+, 150+) and
test_network_faults.py's (202+), so these rules cut nothing else running meanwhile.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from kraft.scenario.faults.network import NetworkFaults

AVAILABLE, WHY = NetworkFaults.available()
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"network faults unavailable: {WHY}")

# three hosts of two processes, and a node of its own
HOSTS = {1: "127.0.0.230", 2: "127.0.0.230", 3: "127.0.0.231", 4: "127.0.0.231",
         5: "127.0.0.232", 6: "127.0.0.232", 7: "127.0.0.233"}


@pytest.fixture(scope="module")
def listeners():
    socks = {}
    for n, addr in HOSTS.items():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((addr, 0))
        s.listen(1024)  # connects complete in the kernel's backlog: nobody needs to accept
        socks[n] = s
    yield socks
    for s in socks.values():
        s.close()


def reachable(listeners) -> set[tuple[int, int]]:
    """Every (src, dst) pair of distinct nodes that can open TCP."""
    def connects(pair):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
            c.bind((HOSTS[pair[0]], 0))
            c.settimeout(0.5)
            try:
                c.connect(listeners[pair[1]].getsockname())
                return True
            except OSError:  # dropped (timeout) or refused by OUTPUT (EPERM)
                return False
    pairs = [(a, b) for a in HOSTS for b in HOSTS if a != b]
    with ThreadPoolExecutor(len(pairs)) as pool:
        return {p for p, ok in zip(pairs, pool.map(connects, pairs)) if ok}


def everything() -> set[tuple[int, int]]:
    return {(a, b) for a in HOSTS for b in HOSTS if a != b}


def between(a: set[int], b: set[int]) -> set[tuple[int, int]]:
    return {(x, y) for x in a for y in b} | {(y, x) for x in a for y in b}


def test_isolating_a_hosts_processes_cuts_the_host_off_but_not_from_itself(listeners):
    assert reachable(listeners) == everything()
    with NetworkFaults(HOSTS) as net:
        said = [net.isolate(1), net.isolate(2)]
        assert said[0] == "isolate node 1 (with {2}: one host at 127.0.0.230) from {3, 4, 5, 6, 7}"
        assert len(net.rules()) == 6  # host h1 from each other address, both ways, once
        assert reachable(listeners) == everything() - between({1, 2}, {3, 4, 5, 6, 7})
        net.heal()
        assert reachable(listeners) == everything()


def test_partition_ring_and_one_way_keep_a_host_whole(listeners):
    with NetworkFaults(HOSTS) as net:
        net.partition([{1, 2, 7}])
        assert net.describe() == ["partition {1, 2, 7} | {3, 4, 5, 6}"]
        assert reachable(listeners) == everything() - between({1, 2, 7}, {3, 4, 5, 6})
        net.heal()
        with pytest.raises(ValueError, match=r"cannot part nodes \[3, 4\]: they share 127.0.0.231"):
            net.partition([{1, 2, 3}])
        with pytest.raises(ValueError, match=r"cannot part nodes \[5, 6\]"):
            net.one_way({5}, {6, 7})
        assert net.rules() == []  # a refused cut adds nothing
        # four members, hosts one each: each reaches its two neighbours, not the opposite one
        assert net.ring() == "ring {1, 2} - {3, 4} - {5, 6} - 7 - {1, 2}"
        assert reachable(listeners) == everything() - between({1, 2}, {5, 6}) - between({3, 4}, {7})
