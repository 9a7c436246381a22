"""The pysyncobj adapter: the only module that imports pysyncobj.

Configuration follows the traps measured in docs/DESIGN.md: journal + full dump together
(made durable by raft_durable),
no append batching, a password, an explicit bind address, short retry and fallback
timeouts. The library's tick thread runs `apply`; results and "applied" notifications
are bridged into asyncio with call_soon_threadsafe. Snapshots are JSON, not pickles
of our objects (pysyncobj's own bookkeeping tuple is still pickled by its rules).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle  # pysyncobj's own format for a Raft entry sent in chunks
import socket
import time
from collections.abc import Callable
from pathlib import Path

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated, tcp_connection
from pysyncobj import syncobj as pysyncobj_module

from kraft.config.cluster import is_ipv4_literal
from kraft.quorum import raft_transport
from kraft.quorum.raft_append_guard import plan_append
from kraft.quorum.raft_durable import DurableJournal
from kraft.quorum import raft_fallback
from kraft.quorum.raft_files import (
    JOURNAL,
    SNAPSHOT,
    RaftData,
    RaftStateDamaged,
    check_raft_files,
    read_snapshot,
    write_snapshot,
)
from kraft.quorum.protocol import (
    NotLeaderError,
    ProposalOutcomeUnknown,
    ProposalTimeout,
    QuorumError,
    QuorumStatus,
    VoterStatus,
)
from kraft.metadata.state_machine import ApplyResult, MetadataStateMachine

log = logging.getLogger(__name__)
_LEADER_STATE = 2  # pysyncobj's _RAFT_STATE.LEADER


class _SourceBoundSockets:
    """Stands in for the `socket` module inside pysyncobj's tcp_connection: sockets it
    opens to peers are bound to this node's own address first. On one machine with a
    127.0.0.N per node, that makes a node's traffic carry its own source address, so
    network faults (iptables on source/destination) can single a node out."""

    def __init__(self, real, host: str):
        self._real = real
        self._host = host

    def socket(self, family=-1, type=-1, *args):
        sock = self._real.socket(family, type, *args)
        if family == self._real.AF_INET:
            # the port is chosen at connect, and a listener may still bind it: this node's
            # own ports are not yet bound while Raft starts connecting
            sock.setsockopt(self._real.IPPROTO_IP, self._real.IP_BIND_ADDRESS_NO_PORT, 1)
            sock.setsockopt(self._real.SOL_SOCKET, self._real.SO_REUSEADDR, 1)
            sock.bind((self._host, 0))
        return sock

    def __getattr__(self, name):
        return getattr(self._real, name)


def bind_raft_sources_to(host: str) -> None:
    if is_ipv4_literal(host):
        tcp_connection.socket = _SourceBoundSockets(socket, host)


class _MetadataSyncObj(SyncObj):
    def __init__(self, self_addr: str, peers: list[str], conf: SyncObjConf, state_machine: MetadataStateMachine,
                 on_applied: Callable[[], object], transport_class: type, durable: bool = True) -> None:
        self._sm = state_machine
        self._on_applied = on_applied
        self._keep_tail = False
        self.journal: DurableJournal | None = None
        made = pysyncobj_module.createJournal

        def durable_journal(journal_file):
            self.journal = DurableJournal(journal_file, conf.fullDumpFile)
            return self.journal
        if durable:
            pysyncobj_module.createJournal = durable_journal  # the library looks it up at construction
        try:
            super().__init__(self_addr, peers, conf, transportClass=transport_class)
        finally:
            pysyncobj_module.createJournal = made

    def sync_journal(self) -> None:
        """Called before an entry is applied."""
        if self.journal is not None:
            self.journal.sync()

    def ready_to_send(self) -> bool:
        """Called before any Raft message leaves: False while what it would stand on (the
        journal, the term and vote) is not on disk."""
        return self.journal is None or self.journal.ready_to_send()

    @replicated
    def apply(self, batch_json):
        self.sync_journal()  # a lone voter commits without sending: on disk before applied
        result = self._sm.apply(batch_json)
        self._on_applied()
        return result.to_json()

    # Raft's AppendEntries rule where the library breaks it (see raft_append_guard).
    def _SyncObj__onMessageReceived(self, node, message):
        if (isinstance(message, dict) and message.get("type") == "append_entries" and "prevLogIdx" in message
                and message.get("transmission") == "finish" and message.get("term", -1) >= self.raftCurrentTerm):
            message = self._reassembled(message)
        if (isinstance(message, dict) and message.get("type") == "append_entries" and "prevLogIdx" in message
                and message.get("transmission") is None and message.get("term", -1) >= self.raftCurrentTerm):
            plan = self._plan_append(message)
            if plan.action == "refuse":
                log.critical("refusing an AppendEntries from %s: %s; this controller's log and the "
                             "leader's disagree on an applied entry (a Raft safety failure)", node, plan.reason)
                return
            if plan.action == "rewrite":
                self._keep_tail = plan.keep_tail
                try:
                    return super()._SyncObj__onMessageReceived(node, plan.message)
                finally:
                    self._keep_tail = False
        return super()._SyncObj__onMessageReceived(node, message)

    def _reassembled(self, message: dict) -> dict:
        """An entry of at least appendEntriesBatchSizeBytes arrives in chunks ("start",
        "process", "finish"); the last chunk completes it, and the library then appends
        it with the same truncation as any AppendEntries. Made whole here, the message
        meets the same guard (a big metadata batch resent from an older index would
        otherwise drop applied entries)."""
        head: object = getattr(self, "_SyncObj__recvTransmission", None)
        if not isinstance(head, bytes):
            return message  # no "start" seen: the library answers it as it would
        setattr(self, "_SyncObj__recvTransmission", "")  # consumed, as the library would
        entry = pickle.loads(head + message["data"])  # what the library itself would unpickle
        whole = {k: v for k, v in message.items() if k not in ("transmission", "data")}
        whole["entries"] = [entry]
        return whole

    def _plan_append(self, message):
        journal = self._SyncObj__raftLog
        first, last = journal[0][1], journal[-1][1]

        def term_at(index):
            return journal[index - first][2] if first <= index <= last else None
        return plan_append(message, term_at, first, last, self.raftLastApplied)

    def _SyncObj__deleteEntriesFrom(self, from_index):
        if not self._keep_tail:
            super()._SyncObj__deleteEntriesFrom(from_index)


class _KeptTailFilter(logging.Filter):
    """The library logs its (skipped) truncation before it calls delete: drop that line."""

    def __init__(self, obj_of):
        super().__init__()
        self._obj_of = obj_of

    def filter(self, record):
        obj = self._obj_of()
        return not (obj is not None and obj._keep_tail and "truncating already-applied" in record.getMessage())


class RaftQuorum:
    """One controller's seat in the metadata quorum."""

    def __init__(
        self,
        node_id: int,
        voters: dict[int, str],  # node id -> "host:port" of every controller
        data_dir: Path,
        password: str,
        election_timeout_s: tuple[float, float] = (0.4, 1.4),
        snapshot_every: int | None = None,
        bind_address: str | None = None,  # "host:port" to listen on, when not our voter address
        source_host: str | None = "",  # our connections' source address; "": our voter host
    ):
        self.node_id = node_id
        self._bind_address = bind_address
        self._source_host = source_host
        self.state_machine = MetadataStateMachine()
        self._voters = dict(voters)
        self._addr_to_id = {addr: nid for nid, addr in voters.items()}
        self._dir = Path(data_dir) / "__cluster_metadata"
        self._password = password
        self._timeouts = election_timeout_s
        # Log entries between snapshots; an operator knob (and a way for tests to
        # exercise snapshot + journal recovery without writing 5,000 entries).
        self._snapshot_every = snapshot_every or int(
            os.environ.get("KRAFT_METADATA_SNAPSHOT_ENTRIES", "5000"))
        self._listeners: list[Callable[[], object]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._obj: _MetadataSyncObj | None = None
        self._listener: socket.socket | None = None
        self._caught_up_ms: dict[int, int] = {}
        self._elected_ms = -1  # when this node last became the leader (the quorum view's last election)

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        """Build the SyncObj on the calling (main) thread: its tick thread is tied to it."""
        self._loop = asyncio.get_running_loop()
        self._dir.mkdir(parents=True, exist_ok=True)
        try:
            check_raft_files(self._dir)
        except RaftStateDamaged as exc:
            if exc.path is None or exc.path.name != SNAPSHOT:
                raise
            rebuilt = raft_fallback.rebuild_snapshot(self._dir, JOURNAL)
            if rebuilt is None:
                raise
            log.warning("metadata snapshot damaged (%s); %s", exc, rebuilt)
            check_raft_files(self._dir)
        me = self._voters[self.node_id]
        conf = SyncObjConf(
            journalFile=str(self._dir / JOURNAL),
            fullDumpFile=str(self._dir / SNAPSHOT),
            serializer=self._write_snapshot,
            deserializer=self._read_snapshot,
            appendEntriesUseBatch=False,
            password=self._password,
            bindAddress=self._bind_address or me,
            connectionRetryTime=0.5,
            connectionTimeout=2.0,
            leaderFallbackTimeout=1.0,
            raftMinTimeout=self._timeouts[0],
            raftMaxTimeout=self._timeouts[1],
            appendEntriesPeriod=0.1,
            dynamicMembershipChange=False,
            onStateChanged=self._state_changed,
            logCompactionMinEntries=self._snapshot_every,
            logCompactionMinTime=300,
        )
        source = me.rsplit(":", 1)[0] if self._source_host == "" else self._source_host
        if source is not None:
            bind_raft_sources_to(source)
        peers = [addr for nid, addr in sorted(self._voters.items()) if nid != self.node_id]
        # bound here, not on the library's thread, so a taken port stops the node at once
        # (RaftPortUnavailable) instead of being retried in silence
        self._listener = raft_transport.open_listener(self._bind_address or me)
        transport_class = raft_transport.install({addr.rsplit(":", 1)[0] for addr in self._voters.values()},
                                                 self._listener)
        # KRAFT_METADATA_FSYNC=0 only to measure what durability costs (bench/): without it
        # a power cut can make a voter forget what it acknowledged.
        durable = os.environ.get("KRAFT_METADATA_FSYNC", "1") != "0"
        try:
            self._obj = _MetadataSyncObj(me, peers, conf, self.state_machine, self._notify_applied,
                                         transport_class, durable)
        except BaseException:
            self._close_listener()
            raise
        logging.getLogger("pysyncobj.syncobj").addFilter(_KeptTailFilter(lambda: self._obj))

    def stop(self) -> None:
        if self._obj is not None:
            obj, self._obj = self._obj, None
            obj.destroy_synchronous()
        self._close_listener()

    def _close_listener(self) -> None:
        # the library closes it when it unbinds; this covers a SyncObj that never bound it
        raft_transport.GuardedTransport.listener = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _state_changed(self, old: int, new: int) -> None:
        """On the tick thread: remember when this node won an election."""
        self._elected_ms = int(time.time() * 1000) if new == _LEADER_STATE else -1

    # -- snapshots (run on the tick thread) -------------------------------------------
    def _write_snapshot(self, filename: str, raft_data: RaftData) -> None:
        raft_fallback.keep_previous(self._dir)  # a damaged new one can be rebuilt from it
        # the library renames it into place; the directory is fsynced before the journal
        # drops the entries it holds (raft_durable)
        write_snapshot(Path(filename), self.state_machine.snapshot(), raft_data)

    def _read_snapshot(self, filename: str) -> RaftData:
        state, raft_data = read_snapshot(Path(filename))
        self.state_machine.restore(state)
        return raft_data

    # -- notifications -----------------------------------------------------------------
    def add_apply_listener(self, callback: Callable[[], object]) -> None:
        self._listeners.append(callback)

    def _notify_applied(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._run_listeners)
            except RuntimeError:  # loop closed between the check and the call
                pass

    def _run_listeners(self) -> None:
        for callback in self._listeners:
            callback()

    # -- reads (local, possibly stale) -----------------------------------------------
    def is_leader(self) -> bool:
        return self._obj is not None and self._obj._isLeader()

    def leader_id(self) -> int | None:
        if self._obj is None:
            return None
        leader = self._obj._getLeader()
        return None if leader is None else self._addr_to_id.get(str(leader))

    def peer_problems(self) -> list[str]:
        """Why peers may be missing from the quorum, one sentence each (lately seen)."""
        return [f"Raft frames from {host} fail authentication (formatted with another "
                f"raft_password or cluster id?)" for host in raft_transport.AUTH_FAILURES.recent()]

    def term(self) -> int:
        return self._obj.raftCurrentTerm if self._obj is not None else 0

    def status(self) -> QuorumStatus:
        obj = self._obj
        if obj is None:
            return QuorumStatus(self.node_id, None, 0, 0, 0, False, False)
        st = obj.getStatus()
        leader = self.leader_id()
        commit = st["commit_idx"]
        is_leader = st["state"] == _LEADER_STATE
        now_ms = int(time.time() * 1000)
        voters = []
        for nid, addr in sorted(self._voters.items()):
            if nid == self.node_id:
                match = commit
            else:  # only the leader tracks its followers' match index
                match = st.get(f"match_idx_server_{addr}", -1)
            if match >= commit and is_leader:
                self._caught_up_ms[nid] = now_ms
            voters.append(VoterStatus(nid, match, max(0, commit - match) if match >= 0 else commit,
                                      self._caught_up_ms.get(nid, -1)))
        return QuorumStatus(
            node_id=self.node_id,
            leader_id=leader,
            term=st["raft_term"],
            commit_index=commit,
            last_applied=st["last_applied"],
            is_leader=is_leader,
            has_quorum=bool(st["has_quorum"]),
            voters=tuple(voters),
            elected_ms=self._elected_ms if is_leader else -1,
        )

    # -- writes ------------------------------------------------------------------------
    async def propose(self, batch_json: str, timeout_s: float) -> ApplyResult:
        obj = self._obj
        if obj is None or not obj._isLeader():
            raise NotLeaderError("this node is not the active controller")
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def done(result, error):  # tick thread: never block, never call sync methods
            def settle():
                if fut.done():
                    return
                if error == FAIL_REASON.SUCCESS:
                    fut.set_result(ApplyResult(**result))
                elif error in _MAYBE_IN_LOG:
                    fut.set_exception(ProposalOutcomeUnknown(_fail_reason(error)))
                else:
                    fut.set_exception(QuorumError(_fail_reason(error)))
            if not loop.is_closed():
                loop.call_soon_threadsafe(settle)

        obj.apply(batch_json, callback=done)
        try:
            async with asyncio.timeout(timeout_s):
                return await fut
        except TimeoutError:
            raise ProposalTimeout(
                f"metadata write not committed within {timeout_s:.1f}s; it may still commit"
            ) from None


# A command the tick thread forwarded to another leader (leadership moved between our
# check and its turn) may be in that leader's log; every other failure is before the log.
_MAYBE_IN_LOG = (FAIL_REASON.LEADER_CHANGED, FAIL_REASON.UNKNOWN_OUTCOME)


def _fail_reason(code) -> str:
    names = {
        FAIL_REASON.QUEUE_FULL: "commit queue full",
        FAIL_REASON.MISSING_LEADER: "no Raft leader",
        FAIL_REASON.DISCARDED: "proposal discarded by a leader change",
        FAIL_REASON.NOT_LEADER: "this node is no longer the Raft leader",
        FAIL_REASON.LEADER_CHANGED: "Raft leader changed before commit",
        FAIL_REASON.REQUEST_DENIED: "request denied",
        FAIL_REASON.UNKNOWN_OUTCOME: "the Raft leader's answer came too late to say",
    }
    return names.get(code, f"Raft failure {code}")
