"""Faults on call: the failure lab's own actions (kraft/scenario), each waiting until the
cluster has observably reached the state the fault leads to.

A fault method returns once the cluster says so itself (leaders moved, broker fenced,
ISR shrunk or restored), or raises TimeoutError naming what was not reached within
`wait_s`. Undo methods return once the node is back (and, by default, in sync).
"""

from __future__ import annotations

from kraft.scenario import process_faults, targets
from kraft.scenario.netfilter import iptables_available
from kraft.scenario.network import NetworkFaults
from kraft.server.local_cluster import LocalCluster
from kraft.testing import cluster_state as state

FAULT_WAIT_S = 60.0  # a broker's session (3 s by default) plus an election, on a busy machine


class NetworkFaultsUnavailable(RuntimeError):
    """This machine cannot run network faults (they need root and iptables); says why."""


class FaultMethods:
    """Mixed into Cluster: `local` is its LocalCluster."""

    local: LocalCluster
    _network: NetworkFaults | None = None

    # -- processes ---------------------------------------------------------------------------
    def kill(self, node: int, wait_s: float = FAULT_WAIT_S) -> None:
        """kill -9 the node; returns once the controller has fenced it and its partitions
        have other leaders (where an in-sync replica could take over)."""
        process_faults.kill(self.local, [node])
        self._wait_out(node, wait_s)

    def restart(self, node: int, wait_in_sync: bool = True, wait_s: float = FAULT_WAIT_S) -> None:
        """Start a stopped node again (kill -9 first if it runs); returns once it serves,
        is registered unfenced and (wait_in_sync) is back in the ISR of its partitions."""
        if self.local.running(node):
            process_faults.kill(self.local, [node])
        process_faults.restart(self.local, [node])
        self._wait_back(node, wait_in_sync, wait_s)

    def kill_leader(self, topic: str, partition: int = 0, wait_s: float = FAULT_WAIT_S) -> int:
        """kill -9 the partition's leader; returns its id once another replica leads."""
        old = self._leader(topic, partition)
        process_faults.kill(self.local, [old])
        self._until(lambda: self._leader_other_than(topic, partition, old), wait_s,
                    f"a new leader of {topic}-{partition} after node {old} was killed")
        return old

    def pause(self, node: int, wait_s: float = FAULT_WAIT_S) -> None:
        """SIGSTOP the node (alive, silent); returns once it is fenced and its partitions
        have other leaders."""
        process_faults.pause(self.local, [node])
        self._wait_out(node, wait_s)

    def resume(self, node: int, wait_in_sync: bool = True, wait_s: float = FAULT_WAIT_S) -> None:
        """SIGCONT a paused node; returns once it serves, unfenced (and in sync)."""
        process_faults.resume(self.local, [node])
        self._wait_back(node, wait_in_sync, wait_s)

    # -- network -----------------------------------------------------------------------------
    def isolate(self, node: int, clients: bool = False, wait_s: float = FAULT_WAIT_S) -> None:
        """Cut the node off from the other nodes (clients=True: from every other address,
        the test's clients too). Needs root and iptables (network_faults_available());
        returns once the others have fenced it and moved its leaderships. heal() undoes it."""
        net = self._net()
        net.isolate_from_everyone(node) if clients else net.isolate(node)
        self._isolated = getattr(self, "_isolated", set()) | {node}
        self._wait_out(node, wait_s)

    def heal(self, wait_in_sync: bool = True, wait_s: float = FAULT_WAIT_S) -> None:
        """Remove every network fault; returns once each isolated node is back."""
        if self._network is not None:
            self._network.heal()
        for node in sorted(getattr(self, "_isolated", set())):
            self._wait_back(node, wait_in_sync, wait_s)
        self._isolated = set()

    @staticmethod
    def network_faults_available() -> tuple[bool, str]:
        """(usable, why or why not): network faults need root and a working iptables."""
        return iptables_available()

    def _net(self) -> NetworkFaults:
        ok, why = iptables_available()
        if not ok:
            raise NetworkFaultsUnavailable(why)
        if self._network is None:
            self._network = NetworkFaults(self.local.hosts)
        return self._network

    def _close_network(self) -> None:
        if self._network is not None:
            self._network.close()
            self._network = None

    # -- waits -------------------------------------------------------------------------------
    def _wait_out(self, node: int, wait_s: float) -> None:
        def out() -> bool:
            if not state.fenced(state.brokers_seen_by_controller(self.local), node):
                return False
            views = state.partition_views(self.local)
            return not state.led_by(views, node) and state.out_of_isr_everywhere(views, node)
        self._until(out, wait_s, f"node {node} fenced, its leaderships moved and out of every ISR")

    def _wait_back(self, node: int, wait_in_sync: bool, wait_s: float) -> None:
        self.local.wait_ready([node], timeout_s=wait_s)

        def back() -> bool:
            if state.fenced(state.brokers_seen_by_controller(self.local), node):
                return False
            return not wait_in_sync or state.in_every_isr(state.partition_views(self.local), node)
        self._until(back, wait_s, f"node {node} unfenced" + (" and in every ISR" if wait_in_sync else ""))

    def _leader(self, topic: str, partition: int) -> int:
        leader = targets.partition_view(self.local, topic, partition).get("leader_id")
        if leader is None or leader < 0:
            raise targets.TargetUnavailable(f"partition {topic}-{partition} has no leader now")
        return leader

    def _leader_other_than(self, topic: str, partition: int, old: int) -> bool:
        leader = targets.partition_view(self.local, topic, partition).get("leader_id")
        return leader is not None and leader >= 0 and leader != old

    def _until(self, predicate, wait_s: float, what: str) -> None:
        def check():
            try:
                return predicate()
            except targets.TargetUnavailable:  # no node can tell right now: ask again
                return False
        self.local.wait_until(check, timeout_s=wait_s, what=what, interval_s=0.2)
