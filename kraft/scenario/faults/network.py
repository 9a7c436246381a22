"""Real network faults between nodes' loopback addresses: iptables drops and tc shaping.

Every node of a LocalCluster has its own 127.0.0.N and binds its outgoing Raft and HTTP
connections to it, so a packet between two nodes carries both node addresses. Dropping
such packets in the OUTPUT hook is enough on loopback (every packet is locally
generated). All rules live in one dedicated chain, ``KRAFT-<pid>``, jumped to from
OUTPUT; ``heal()`` flushes it, ``close()`` also removes the jump and the chain. Rules only
name node addresses, so a client on 127.0.0.1 (the runner, the tests) keeps reaching
every node unless a method is asked to include client traffic.

The processes of one [[hosts]] entry share its address, as those of one machine do: a
fault on one of them is a fault on its address, so it takes the whole host, and no rule
ever parts two nodes of one address (a partition or one-way cut that would is refused).

Shaping (``slow``) uses an htb qdisc on ``lo`` with u32 filters on the source (and
destination) address; netem is used nowhere because many kernels (this CI's included)
do not have it — ``netem_available()`` says so.

    with NetworkFaults(cluster.hosts) as net:
        net.isolate(leader)
        ...
        net.heal()
"""

from __future__ import annotations

import atexit
import itertools
import os
from typing import Iterable

TC_HANDLE = "4b52"  # htb root handle on lo ("KR"); classes 4b52:<node+0x10>
_instances = itertools.count()


from kraft.scenario.client_sides import iptables_spec, isolation_rules
from kraft.scenario.faults.netfilter import (  # noqa: F401 (re-exported)
    CHAIN_PREFIX,
    DEVICE,
    NetworkFaultError,
    _drop_chain,
    _iptables,
    _run,
    _said,
    _tc,
    iptables_available,
    netem_available,
    tc_shaping_available,
)


class NetworkFaults:
    """Packet-level faults between the nodes of one cluster (hosts: node id -> address).

    Every method adds to the faults already active; ``heal()`` removes them all.
    """

    available = staticmethod(iptables_available)
    netem_available = staticmethod(netem_available)
    slow_available = staticmethod(tc_shaping_available)

    def __init__(self, hosts: dict[int, str], chain: str | None = None, device: str = DEVICE):
        if not hosts:
            raise ValueError("NetworkFaults needs the nodes' addresses (node id -> 127.0.0.N)")
        self.hosts = {int(n): str(a) for n, a in hosts.items()}
        k = next(_instances)
        self.chain = chain or f"{CHAIN_PREFIX}{os.getpid()}" + (f"-{k}" if k else "")
        if len(self.chain) > 28:
            raise ValueError(f"iptables chain names are at most 28 characters: {self.chain!r}")
        self.device = device
        self._faults: list[str] = []
        self._specs: set[tuple[str, ...]] = set()  # rules in the chain now: each added once
        self._chain_ready = False
        self._tc_root = False
        self._tc_classes: dict[int, str] = {}
        self._closed = False
        atexit.register(self.close)

    # -- context manager ---------------------------------------------------------------
    def __enter__(self) -> "NetworkFaults":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- faults --------------------------------------------------------------------------
    def isolate(self, node: int) -> str:
        """Cut ``node`` off from every other node, both directions."""
        self._check(node)
        others = self._apart(node)
        for m in others:
            self._drop(node, m)
            self._drop(m, node)
        return self._record(f"isolate node {node}{self._along(node)} from {_ids(others)}")

    def isolate_from_everyone(self, node: int) -> str:
        """Cut ``node`` off from every other address, other nodes and clients alike (its
        traffic to itself still flows)."""
        self._check(node)
        addr = self.hosts[node]
        self._rule(["-s", addr, "!", "-d", addr, "-j", "DROP"])
        self._rule(["-d", addr, "!", "-s", addr, "-j", "DROP"])
        return self._record(f"isolate node {node} from every other address (nodes and clients)")

    def isolate_with_clients(self, node: int, side_gids: list[int], other_gids: list[int]) -> str:
        """Cut ``node`` and the client processes of groups ``side_gids`` off from every
        other node, and the clients of ``other_gids`` off from ``node``
        (client_sides.py)."""
        self._check(node)
        others = self._apart(node)  # the node's address stands for its whole host
        for rule in isolation_rules(node, {m: self.hosts[m] for m in [node, *others]}, side_gids, other_gids):
            self._rule(iptables_spec(rule))
        return self._record(f"isolate node {node}{self._along(node)} and the clients of groups {_ids(side_gids)} from "
                            f"{_ids(others)} and the clients of groups {_ids(other_gids)}")

    def partition(self, groups: list[set[int]]) -> str:
        """No traffic between groups. Nodes in no group form one more group, so
        ``partition([{1, 2}])`` on five nodes is {1, 2} | {3, 4, 5}."""
        groups = [set(g) for g in groups]
        seen: set[int] = set()
        for g in groups:
            for n in g:
                self._check(n)
            if g & seen:
                raise ValueError(f"partition groups overlap: {sorted(g & seen)}")
            seen |= g
        rest = set(self.hosts) - seen
        if rest:
            groups.append(rest)
        groups = [g for g in groups if g]
        if len(groups) < 2:
            raise ValueError("a partition needs at least two non-empty groups")
        for i, a in enumerate(groups):
            self._unparted(a, set().union(*groups[i + 1:]), "a partition")
        for i, a in enumerate(groups):
            for b in groups[i + 1:]:
                for x in sorted(a):
                    for y in sorted(b):
                        self._drop(x, y)
                        self._drop(y, x)
        return self._record("partition " + " | ".join(_ids(g) for g in groups))

    def one_way(self, src: Iterable[int], dst: Iterable[int]) -> str:
        """Drop packets from every node of ``src`` to every node of ``dst`` only.
        (TCP cannot connect either way then: a SYN-ACK is a src→dst packet too; UDP and
        already-sent dst→src packets still arrive.)"""
        src, dst = set(src), set(dst)
        for n in src | dst:
            self._check(n)
        if not src or not dst:
            raise ValueError("one_way needs non-empty src and dst sets")
        self._unparted(src - dst, dst - src, "a one-way cut")
        for x in sorted(src):
            for y in sorted(dst):
                if x != y:
                    self._drop(x, y)
        return self._record(f"drop {_ids(src)} -> {_ids(dst)} (one way)")

    def ring(self) -> str:
        """Each node reaches only its two neighbours in id order (the last and the first
        are neighbours): with five nodes every node sees a majority counting itself, but
        no majority is fully connected. With three nodes or fewer this cuts nothing. The
        nodes of one address (a host's processes) are one member of the ring."""
        members: dict[str, list[int]] = {}
        for m in sorted(self.hosts):
            members.setdefault(self.hosts[m], []).append(m)
        ring = list(members.values())
        n = len(ring)
        cut = 0
        for i, a in enumerate(ring):
            for j, b in enumerate(ring):
                if i != j and j not in ((i - 1) % n, (i + 1) % n):
                    self._drop(a[0], b[0])
                    cut += 1
        said = " - ".join(str(m[0]) if len(m) == 1 else _ids(m) for m in ring + ring[:1])
        return self._record(f"ring {said}" + ("" if cut else " (no effect: fewer than 4 nodes)"))

    def lossy(self, node: int, probability: float, include_clients: bool = False) -> str:
        """Drop each packet between ``node`` and the other nodes with ``probability``
        (iptables statistic match); with include_clients, its packets to and from any
        address (clients on 127.0.0.1 too)."""
        self._check(node)
        if not 0.0 < probability <= 1.0:
            raise ValueError(f"probability must be in (0, 1], got {probability}")
        stat = ["-m", "statistic", "--mode", "random", "--probability", f"{probability:.6f}"]
        if include_clients:
            self._rule(["-s", self.hosts[node], *stat, "-j", "DROP"])
            self._rule(["-d", self.hosts[node], *stat, "-j", "DROP"])
        else:
            for m in self.hosts:
                if m != node:
                    self._drop(node, m, stat)
                    self._drop(m, node, stat)
        who = "any address" if include_clients else "the other nodes"
        return self._record(f"lossy node {node}: drop {probability:.0%} of packets to/from {who}")

    def slow(self, node: int, rate_kbit: int, include_clients: bool = False) -> str:
        """Rate-limit packets sent by ``node`` (to the other nodes; with include_clients,
        to any address) to ``rate_kbit`` with an htb class on lo and u32 filters on the
        source address. Other traffic is not classified and passes unshaped."""
        self._check(node)
        if rate_kbit <= 0:
            raise ValueError(f"rate_kbit must be positive, got {rate_kbit}")
        ok, reason = tc_shaping_available()
        if not ok:
            raise NetworkFaultError(reason)
        self._ensure_tc_root()
        classid = f"{TC_HANDLE}:{node + 0x10:x}"
        verb = "change" if node in self._tc_classes else "add"
        _tc("class", verb, "dev", self.device, "parent", f"{TC_HANDLE}:", "classid", classid,
            "htb", "rate", f"{rate_kbit}kbit", "ceil", f"{rate_kbit}kbit")
        if verb == "add":
            self._tc_classes[node] = classid
            src = ["match", "ip", "src", f"{self.hosts[node]}/32"]
            addresses = sorted({self.hosts[m] for m in self._apart(node)})
            for addr in [None] if include_clients else addresses:
                dst = [] if addr is None else ["match", "ip", "dst", f"{addr}/32"]
                _tc("filter", "add", "dev", self.device, "parent", f"{TC_HANDLE}:",
                    "protocol", "ip", "prio", "1", "u32", *src, *dst, "flowid", classid)
        who = "any address" if include_clients else "the other nodes"
        return self._record(f"slow node {node}: {rate_kbit} kbit/s to {who}")

    # -- healing ---------------------------------------------------------------------------
    def netem(self, delay_ms: int = 0, loss_pct: float = 0.0, reorder_pct: float = 0.0) -> str:
        """Delay, lose and reorder ALL loopback traffic with netem (the kernel must have
        it: check netem_available() first). It replaces any htb shaping on the device."""
        ok, reason = netem_available()
        if not ok:
            raise NetworkFaultError(reason)
        if self._tc_root:
            _tc("qdisc", "del", "dev", self.device, "root", "handle", f"{TC_HANDLE}:", check=False)
            self._tc_classes.clear()
        spec = ["delay", f"{int(delay_ms)}ms"] if delay_ms or reorder_pct else []
        if loss_pct:
            spec += ["loss", f"{loss_pct}%"]
        if reorder_pct:
            spec += ["reorder", f"{reorder_pct}%"]
        _tc("qdisc", "add", "dev", self.device, "root", "handle", f"{TC_HANDLE}:", "netem", *spec)
        self._tc_root = True
        return self._record(f"netem on {self.device}: delay {delay_ms}ms, loss {loss_pct}%, "
                            f"reorder {reorder_pct}%")

    def heal(self) -> list[str]:
        """Remove every fault (iptables rules and shaping); returns what was healed.
        Tries every step and raises the first error afterwards."""
        healed, self._faults = self._faults, []
        self._specs.clear()
        errors = []
        if self._chain_ready:
            proc = _iptables("-F", self.chain, check=False)
            if proc.returncode != 0:
                errors.append(f"iptables -F {self.chain}: {_said(proc)}")
        if self._tc_root:
            proc = _tc("qdisc", "del", "dev", self.device, "root", "handle", f"{TC_HANDLE}:",
                       check=False)
            if proc.returncode != 0:
                errors.append(f"tc qdisc del dev {self.device} root: {_said(proc)}")
            self._tc_root = False
            self._tc_classes.clear()
        if errors:
            raise NetworkFaultError("; ".join(errors))
        return healed

    def close(self) -> None:
        """Heal, then remove the chain and its jump from OUTPUT. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        errors = []
        try:
            self.heal()
        except NetworkFaultError as exc:
            errors.append(str(exc))
        if self._chain_ready:
            errors += _drop_chain(self.chain)
            self._chain_ready = False
        if errors:
            raise NetworkFaultError("; ".join(errors))

    def describe(self) -> list[str]:
        """The active faults, one short sentence each (for reports)."""
        return list(self._faults)

    def rules(self) -> list[str]:
        """The chain's rules as ``iptables -S`` prints them (for debugging)."""
        if not self._chain_ready:
            return []
        out = _iptables("-S", self.chain, check=False).stdout.splitlines()
        return [line for line in out if line.startswith("-A ")]

    # -- internals -----------------------------------------------------------------------
    def _check(self, node: int) -> None:
        if self._closed:
            raise NetworkFaultError("this NetworkFaults is closed")
        if node not in self.hosts:
            raise ValueError(f"unknown node {node!r}; nodes are {sorted(self.hosts)}")

    def _record(self, text: str) -> str:
        self._faults.append(text)
        return text

    def _chain_exists(self) -> bool:
        return _iptables("-S", self.chain, check=False).returncode == 0

    def _ensure_chain(self) -> None:
        if self._chain_ready:
            return
        ok, reason = iptables_available()
        if not ok:
            raise NetworkFaultError(reason)
        if self._chain_exists():
            _iptables("-F", self.chain)
        else:
            _iptables("-N", self.chain)
        self._chain_ready = True
        if _iptables("-C", "OUTPUT", "-j", self.chain, check=False).returncode != 0:
            _iptables("-I", "OUTPUT", "1", "-j", self.chain)

    def _rule(self, spec: list[str]) -> None:
        if tuple(spec) in self._specs:  # e.g. the second process of an isolated host
            return
        self._ensure_chain()
        _iptables("-A", self.chain, *spec)
        self._specs.add(tuple(spec))

    def _drop(self, src: int, dst: int, extra: list[str] | None = None) -> None:
        if self.hosts[src] == self.hosts[dst]:  # one host: its processes always reach each other
            return
        self._rule(["-s", self.hosts[src], "-d", self.hosts[dst], *(extra or []), "-j", "DROP"])

    def _apart(self, node: int) -> list[int]:
        """The nodes a rule can part from ``node``: those at another address."""
        return [m for m in sorted(self.hosts) if self.hosts[m] != self.hosts[node]]

    def _along(self, node: int) -> str:
        """What a fault on ``node`` takes along: the other nodes of its address."""
        same = [m for m in self.hosts if m != node and self.hosts[m] == self.hosts[node]]
        return f" (with {_ids(same)}: one host at {self.hosts[node]})" if same else ""

    def _unparted(self, a: set[int], b: set[int], what: str) -> None:
        """Refuse a cut between two sets that share an address: rules by address cannot
        part two processes of one host."""
        shared = sorted({self.hosts[x] for x in a} & {self.hosts[y] for y in b})
        if shared:
            nodes = sorted(n for n in a | b if self.hosts[n] == shared[0])
            raise ValueError(f"{what} cannot part nodes {nodes}: they share {shared[0]} (one host); "
                             "put the whole host on one side")

    def _ensure_tc_root(self) -> None:
        if self._tc_root:
            return
        proc = _tc("qdisc", "add", "dev", self.device, "root", "handle", f"{TC_HANDLE}:", "htb",
                   check=False)
        if proc.returncode != 0:
            current = _tc("qdisc", "show", "dev", self.device, "root", check=False).stdout.strip()
            raise NetworkFaultError(
                f"cannot install an htb root qdisc on {self.device}: {_said(proc)} "
                f"(current root: {current or 'unknown'}; another process may be shaping it)")
        self._tc_root = True


def _ids(nodes: Iterable[int]) -> str:
    return "{" + ", ".join(str(n) for n in sorted(nodes)) + "}"
