"""Faults on call: the failure lab's own actions (kraft/scenario), each waiting until the
cluster has observably reached the state the fault leads to.

A fault method returns once the cluster says so itself (leaders moved, broker fenced,
ISR shrunk or restored), or raises TimeoutError naming what was not reached within
`wait_s`. Undo methods return once the node is back (and, by default, in sync).
"""

from __future__ import annotations

from kraft.scenario import targets

from kraft.scenario.faults import process as process_faults
from kraft.scenario.faults.netfilter import iptables_available
from kraft.scenario.faults.network import NetworkFaults
from kraft.scenario.faults.lazy_fs import MAX_DELAY_MS
from kraft.server import lazy_disks
from kraft.server.local_cluster import LocalCluster, http_json
from kraft.testing import cluster_state as state
from kraft.testing import elections, group_faults
from kraft.testing.elections import ElectionRefused

FAULT_WAIT_S = 60.0  # a broker's session (3 s by default) plus an election, on a busy machine


class DiskFaultsUnavailable(RuntimeError):
    """This cluster cannot slow a disk (its nodes are not on the lazy filesystem); says why."""


class NetworkFaultsUnavailable(RuntimeError):
    """This machine cannot run network faults (they need root and iptables); says why."""


class FaultMethods:
    """Mixed into Cluster: `local` is its LocalCluster."""

    local: LocalCluster
    _network: NetworkFaults | None = None

    def client_config(self) -> dict:
        """A Kafka client's connection settings for this cluster (bootstrap.servers, and
        the security settings when the cluster has them)."""
        return {"bootstrap.servers": self.local.bootstrap_servers}

    def _credentials(self) -> tuple[str, str] | None:
        """(user, password) of a secured cluster's ready user; None for a plain one."""
        return None

    # -- processes ---------------------------------------------------------------------------
    def kill(self, node: int, wait: bool = True, wait_s: float = FAULT_WAIT_S) -> None:
        """kill -9 the node; returns once the controller has fenced it and its partitions
        have other leaders (where an in-sync replica could take over). wait=False: returns
        once the process is dead, for a kill that leaves too few controllers to fence it
        (a majority of the quorum down) until another node comes back."""
        process_faults.kill(self.local, [node])
        if wait:
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

    # -- disks -------------------------------------------------------------------------------
    def slow_disk(self, node: int, delay_ms: int) -> None:
        """Every read, write and fsync of the node's data dir waits delay_ms (0..60000)
        first, from now on; returns once its filesystem has the delay in force. Needs a
        cluster started with lazy_fs=True (root and FUSE: disk_faults_available()).
        heal_disk() undoes it; a restart keeps it, a power cut does not."""
        if not 0 <= delay_ms <= MAX_DELAY_MS:
            raise ValueError(f"delay_ms is 0..{MAX_DELAY_MS}, not {delay_ms}")
        self._disk(node).set_delay(delay_ms)

    def heal_disk(self, node: int) -> None:
        """The node's disk is fast again."""
        self._disk(node).set_delay(0)

    @staticmethod
    def disk_faults_available() -> tuple[bool, str]:
        """(usable, why or why not): disk faults need root, /dev/fuse and libfuse 3."""
        return lazy_disks.available()

    def _disk(self, node: int) -> lazy_disks.LazyDisk:
        disk = self.local.lazy_disks.get(node)
        if disk is None:
            ok, why = lazy_disks.available()
            raise DiskFaultsUnavailable("disk faults need the nodes' data on the lazy filesystem: start the "
                                        "cluster with lazy_fs=True" + ("" if ok else f" ({why})"))
        return disk

    # -- leaders and groups ------------------------------------------------------------------
    def elect_leader(self, topic: str, partition: int = 0, election: str = "preferred",
                     wait_s: float = FAULT_WAIT_S) -> int:
        """Kafka's ElectLeaders for one partition (kafka-leader-election.sh): "preferred"
        moves leadership to the first replica, "unclean" lets an out-of-sync replica lead
        a partition that has no leader. Returns the leader once the cluster shows the
        election's outcome (an election that is not needed counts as done)."""
        refusal = elections.elect(self.client_config(), topic, partition, election)
        if refusal is not None:
            raise ElectionRefused(f"{election} election of {topic}-{partition} refused: {refusal}")
        done = elections.outcome(election)
        self._until(lambda: done(targets.partition_view(self.local, topic, partition)), wait_s,
                    f"the {election} election of {topic}-{partition} done")
        return self._leader(topic, partition)

    def expire_session(self, group: str, member_id: str, wait_s: float = FAULT_WAIT_S) -> None:
        """The consumer's session expires now: its group coordinator removes it (as when
        session.timeout.ms passes without a heartbeat) and rebalances the group. Returns
        once the group no longer lists the member; the consumer finds out at its next
        heartbeat, loses its partitions and joins again under a new member id.
        member_id: the consumer's own (confluent_kafka's Consumer.memberid())."""
        coordinator = targets.coordinator(self.local, "group-coordinator", group)
        group_faults.remove_member(self.local, coordinator, group, member_id, self._credentials())
        self._until(lambda: member_id not in self._group_member_ids(group), wait_s,
                    f"member {member_id} gone from group {group}")

    def _group_member_ids(self, group: str) -> set[str]:
        status, body = http_json("GET", f"{self.local.v3(self._any_running())}/consumer-groups/{group}/consumers",
                                 headers=self.local.headers, context=self.local.tls, timeout=5.0)
        if status != 200 or not isinstance(body, dict):
            raise targets.TargetUnavailable(f"group {group}'s members could not be read ({status})")
        return {m["consumer_id"] for m in body.get("data", [])}

    def _any_running(self) -> int:
        return next(n for n in sorted(self.local.hosts) if self.local.running(n) and not self.local.paused(n))

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
        seen = {"last": "nothing read yet"}

        def out() -> bool:
            if not state.fenced(state.brokers_seen_by_controller(self.local), node):
                seen["last"] = "not fenced"
                return False
            views = state.partition_views(self.local)
            led, held = state.led_by(views, node), state.in_isr_of_others(views, node)
            seen["last"] = f"still leads {led[:5]}, still in the ISR of {held[:5]}"
            return not led and not held
        try:
            self._until(out, wait_s, f"node {node} fenced, its leaderships moved and out of every ISR")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}: {seen['last']}") from None

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
