"""pysyncobj's SyncObj as the metadata quorum runs it (used by raft.py's RaftQuorum): its
messages checked and reassembled (raft_frames, raft_append_guard), its journal kept
durable (raft_durable), the voter set changed one controller at a time and read back
(raft_voters), pre-votes before standing (raft_prevote), a follower's refusal never
raising the leader's next index for it (_refusal), and its connections to peers leaving
from this node's own address.
"""

from __future__ import annotations

import logging
import queue
import socket
import time
from collections.abc import Callable

from pysyncobj import SyncObj, SyncObjConf, replicated, tcp_connection
from pysyncobj import syncobj as pysyncobj_module
from pysyncobj.monotonic import monotonic as monotonic_time

from kraft.config.cluster import is_ipv4_literal
from kraft.quorum import raft_frames
from kraft.quorum.raft_append_guard import plan_append
from kraft.quorum.raft_tick_watch import TickWatch
from kraft.quorum.raft_durable import DurableJournal
from kraft.quorum import raft_prevote, raft_voters
from kraft.quorum.raft_transport import OBSERVER_HELLO
from kraft.metadata.state_machine import MetadataStateMachine

log = logging.getLogger("kraft.quorum.raft")  # the quorum adapter's one logger (raft.py)

SNAPSHOT_BYTES = 20 * 1024 * 1024  # Kafka's metadata.log.max.record.bytes.between.snapshots default


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


class MetadataSyncObj(SyncObj):
    def __init__(self, self_addr: str, peers: list[str], conf: SyncObjConf, state_machine: MetadataStateMachine,
                 on_applied: Callable[[], object], transport_class: type, durable: bool = True, *,
                 node_id: int | None = None, voters: dict[int, str] | None = None,
                 on_voters: Callable[[dict[int, str], bool], object] | None = None,
                 loaded_voters: Callable[[], dict[int, str] | None] = lambda: None,
                 applied_voters: dict[int, str] | None = None, catch_up_first: bool = False,
                 snapshot_bytes: int = SNAPSHOT_BYTES) -> None:
        """catch_up_first: this controller's log may lack committed entries (its Raft state
        was lost): named a voter, it votes for nobody until caught up (_install_voters).
        voters: the voter set this node starts with (computed from its Raft files, see
        RaftQuorum.start), None where membership is not tracked (tests of other rules);
        peers are then the other voters. on_voters(voters, is_voter) runs on the tick
        thread whenever the set in the log changes; loaded_voters(): the set held by the
        snapshot the library just loaded (None for one written before sets were kept).
        snapshot_bytes: a snapshot is taken once the entries applied since the last one hold
        this much (Kafka's metadata.log.max.record.bytes.between.snapshots)."""
        self._sm = state_machine
        self._on_applied = on_applied
        self._keep_tail = False
        self.journal: DurableJournal | None = None
        self.node_id = node_id
        self.address = self_addr
        self.voters: dict[int, str] = dict(voters or {})  # the latest set in the log, committed or not
        # the set as of the last applied entry: the journal's changes are applied again from
        # the start of the log (the snapshot's set, or the data dir's first set)
        self.applied_voters: dict[int, str] = dict(self.voters if applied_voters is None else applied_voters)
        named = voters is None or self.voters.get(node_id) == self_addr  # type: ignore[arg-type]
        self._promotion_pending = named and catch_up_first  # named in the set, not yet caught up
        self.is_voter = named and not self._promotion_pending
        self._on_voters = on_voters
        self._loaded_voters = loaded_voters
        self._pending_change = 0  # log index of the last membership change this leader appended
        self.observers: dict[str, tuple[int, str]] = {}  # the library's read-only node id -> (node id, address)
        self._tick_calls: queue.SimpleQueue = queue.SimpleQueue()  # callables for the tick thread
        self._pre_vote = raft_prevote.PreVoteRound()  # before the library's tick thread can ask
        self._leader_heard_at = float("-inf")  # monotonic: the last AppendEntries of our term or a later one
        self.tick_watch = TickWatch()
        self._snapshot_bytes = snapshot_bytes
        self._bytes_since_snapshot = 0  # of the entries applied since a snapshot was last asked for
        if voters is not None:
            peers = [addr for addr in self.voters.values() if addr != self_addr]
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
        self.addOnTickCallback(self._run_tick_calls)

    def sync_journal(self) -> None:
        """Called before an entry is applied."""
        if self.journal is not None:
            self.journal.sync()

    def ready_to_send(self) -> bool:
        """Called before any Raft message leaves: False while what it would stand on (the
        journal, the term and vote) is not on disk."""
        return self.journal is None or self.journal.ready_to_send()

    def _onTick(self, timeToWait=0.0):
        self.tick_watch.begin()
        try:
            super()._onTick(timeToWait)
        finally:
            slow = self.tick_watch.end()
            if slow is not None:
                log.warning("%s (this controller %s)", slow, "leads" if self._isLeader() else "follows")

    @replicated
    def apply(self, batch_json):
        started = time.monotonic()
        self.sync_journal()  # a lone voter commits without sending: on disk before applied
        result = self._sm.apply(batch_json)
        self._on_applied()
        self.tick_watch.applied(time.monotonic() - started)
        self._bytes_since_snapshot += len(batch_json)
        if self._bytes_since_snapshot >= self._snapshot_bytes:
            # The library snapshots by entry count and time only; at thousands of partitions
            # a few hundred entries held hundreds of MB, all replayed at every start in one
            # turn of this thread (Kafka snapshots by bytes, for the same reason).
            self._bytes_since_snapshot = 0
            self.forceLogCompaction()
        return result.to_json()

    def _SyncObj__onMessageReceived(self, node, message):
        if isinstance(message, dict) and not self._admit(node, message):
            return
        if isinstance(message, dict) and message.get("type") in (raft_prevote.PRE_VOTE, raft_prevote.PRE_VOTE_ANSWER):
            self._on_pre_vote(node, message)
            return
        if (isinstance(message, dict) and message.get("type") == "append_entries"
                and message.get("term", -1) >= self.raftCurrentTerm):
            self._leader_heard_at = monotonic_time()  # a live leader: no election is due
            self._pre_vote.cancel()
        if isinstance(message, dict) and message.get("type") == "next_node_idx" and message.get("reset"):
            message = self._refusal(node, message)
        answer = self._received(node, message)
        if self._promotion_pending and self._caught_up_with_leader():
            self._install_voters(self.voters)  # now it may act on the set it is in
        return answer

    # Raft's AppendEntries rule where the library breaks it (see raft_append_guard).
    def _received(self, node, message):
        chunk = (message.get("transmission") if isinstance(message, dict) and message.get("type") == "append_entries"
                 and "prevLogIdx" in message and message.get("term", -1) >= self.raftCurrentTerm else None)
        if chunk in ("process", "finish") and not isinstance(getattr(self, "_SyncObj__recvTransmission", None), bytes):
            return  # no "start" before it (the library would raise on it): the leader sends it all again
        if chunk == "finish":
            message = self._reassembled(message)
            if message is None:
                return
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

    def _refusal(self, node, message: dict) -> dict:
        """A follower's refusal (on the leader): it may lower the next index, never raise it.
        The leader sends a lagging follower all it lacks in one go, as several
        AppendEntries each starting where the last ended. A follower whose log ends in
        entries of an older term refuses the first at the conflict (next index: that
        entry) and each later one because it starts past its log's end (next index: that
        end + 1). The library takes the last answer, so every round moved the next index
        back past the conflict and the follower never caught up (a killed or paused
        leader, back with appends that never left it, stayed at its old offset)."""
        current = self._SyncObj__raftNextIndex.get(node)
        hinted = message.get("next_node_idx")
        if isinstance(current, int) and isinstance(hinted, int) and hinted > current:
            return dict(message, next_node_idx=current)
        return message

    def _admit(self, node, message: dict) -> bool:
        """Observers (the library's read-only nodes) only answer appends; an observer
        votes for nobody and is never told to stand."""
        kind = message.get("type")
        if node in self._SyncObj__readonlyNodes:
            if kind == OBSERVER_HELLO:
                self.observers[node.id] = (int(message["node_id"]), str(message["address"]))
            return kind == "next_node_idx"
        return self.is_voter or kind not in ("request_vote", "timeout_now", raft_prevote.PRE_VOTE)

    def _reassembled(self, message: dict) -> dict | None:
        """An entry of at least appendEntriesBatchSizeBytes arrives in chunks ("start",
        "process", "finish"); the last chunk completes it, and the library then appends
        it with the same truncation as any AppendEntries. Made whole here, the message
        meets the same guard (a big metadata batch resent from an older index would
        otherwise drop applied entries)."""
        head = getattr(self, "_SyncObj__recvTransmission")  # bytes: _received checked
        data = message.get("data")
        if not isinstance(data, bytes) or len(head) + len(data) > raft_frames.MAX_MESSAGE_BYTES:
            setattr(self, "_SyncObj__recvTransmission", "")
            log.warning("dropping a chunked AppendEntries: its last chunk is malformed or the entry too large")
            return None
        try:  # what the library itself would unpickle, with plain values only
            entry = raft_frames.loads(head + data)
        except raft_frames.FrameRefused as exc:
            # The library's leader marks a chunk "finish" once the entry's command (not its
            # pickle, a few bytes longer) fits: when a chunk boundary falls between the two
            # lengths, one more "finish" follows with the pickle's last bytes. Kept, so that
            # chunk completes it; an entry that never does is dropped at the next "start".
            setattr(self, "_SyncObj__recvTransmission", head + data)
            log.info("a chunked AppendEntries is not whole at its first last chunk (%s): waiting for the next", exc)
            return None
        setattr(self, "_SyncObj__recvTransmission", "")  # consumed, as the library would
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

    # -- the voter set (see raft_voters) -------------------------------------------------
    def call_on_tick(self, call: Callable[[], object]) -> None:
        """Run `call` on the tick thread (the library's state is not thread-safe)."""
        self._tick_calls.put(call)

    def _run_tick_calls(self) -> None:
        while True:
            try:
                call = self._tick_calls.get_nowait()
            except queue.Empty:
                return
            call()

    def _SyncObj__changeCluster(self, request):
        """The leader, before appending a change. The library means to allow one change
        at a time but never records the pending one (its __changeClusterIDx stays None):
        a second change was appended while the first was not committed, two servers
        apart from the last committed set. Refused here until the first is applied."""
        if self._pending_change > self.raftLastApplied:
            return False
        index = self._SyncObj__getCurrentLogIndex() + 1  # where the library appends it
        if not super()._SyncObj__changeCluster(request):
            return False
        self._pending_change = index
        return True

    def _SyncObj__doChangeCluster(self, request, reverse=False):
        """A change appended (on the leader, or a follower taking the entry), or undone
        because the entry is truncated. Each of kraft's entries carries the whole set."""
        change = raft_voters.change_of(request)
        if change is None:
            return False
        if reverse:
            if self._keep_tail:
                return True  # the guard keeps the entry (raft_append_guard): its set stands
            self._install_voters(raft_voters.reverse(change, self.voters))
        else:
            self._install_voters(change.voters_after)
        return True

    def _SyncObj__doApplyCommand(self, command):
        """A change took effect when it was appended; applying it only moves the set a
        snapshot at this index holds (the library would apply it a second time, which
        at a restart undoes what later entries of the log say)."""
        change = raft_voters.parse_membership(command)
        if change is not None:
            self.sync_journal()  # a lone voter commits without sending: on disk before applied
            self.applied_voters = dict(change.voters_after)
            return None
        return super()._SyncObj__doApplyCommand(command)

    def _SyncObj__loadDumpFile(self, clearJournal):
        super()._SyncObj__loadDumpFile(clearJournal)
        base = self._loaded_voters()
        if base is None:
            return  # a snapshot from before voter sets were kept: the constructor's set stands
        self.applied_voters = dict(base)
        applied = self.raftLastApplied
        tail = [entry[0] for entry in self._SyncObj__raftLog if entry[1] > applied]
        self._install_voters(raft_voters.voters_in_log(base, tail))

    def _caught_up_with_leader(self) -> bool:
        leader_commit = self._SyncObj__leaderCommitIndex
        return leader_commit is not None and self._SyncObj__getCurrentLogIndex() >= leader_commit

    def _install_voters(self, voters: dict[int, str]) -> None:
        was_voter = self.is_voter
        self.voters = dict(voters)
        named = self.voters.get(self.node_id) == self.address  # type: ignore[arg-type]
        # An observer catching up passes through older sets, some of which may name it (a
        # controller removed, wiped and back as an observer). Acting on one would make it
        # announce itself as a voter the current set does not have: every voter refuses
        # it, and it stands for election alone. It becomes a voter once its log holds what
        # the leader has committed, and then only if it is still named (never voting is
        # always safe; only the leader's own count decides what commits). A voter whose
        # Raft state was lost starts the same way (catch_up_first): its empty log would
        # grant any candidate its vote, one lacking what the quorum committed included.
        self._promotion_pending = named and not was_voter and not self._caught_up_with_leader()
        self.is_voter = named and not self._promotion_pending
        before = self.otherNodes
        self._SyncObj__updateClusterConfiguration([a for a in self.voters.values() if a != self.address])
        if self._isLeader():  # the library's own add does this; its bulk update does not
            for node in self.otherNodes - before:
                self._SyncObj__lastResponseTime[node] = monotonic_time()
        if was_voter != self.is_voter:
            # a voter announces its address, an observer that it is read-only (raft_transport):
            # every connection starts again under the new name
            transport = self._SyncObj__transport
            for node in list(transport._nodes):
                transport.dropNode(node)
                transport.addNode(node)
            log.warning("this controller is %s", "now a voter" if self.is_voter else
                        "not a voter: it follows the quorum as an observer")
        if self._on_voters is not None:
            self._on_voters(dict(self.voters), self.is_voter)

    def _SyncObj__connectedToAnyone(self):
        # only the library's election timer asks, once it has run out: an observer never
        # stands for election, and a voter stands only after a pre-vote won (raft_prevote)
        return self.is_voter and super()._SyncObj__connectedToAnyone() and self._may_stand()

    # -- pre-vote (see raft_prevote) ---------------------------------------------------
    def _may_stand(self) -> bool:
        """True: the library raises the term and asks for votes now. Otherwise a pre-vote
        round is asked (or still waited for) and the timer stays run out."""
        others = self._SyncObj__otherNodes
        if not others or self._SyncObj__transferInProgress:
            return True  # a lone voter, or the leader handing on leadership (TimeoutNow)
        term, now = self.raftCurrentTerm, monotonic_time()
        if self._pre_vote.take_win(term):
            return True
        if not self._pre_vote.open(term, now):
            self._pre_vote.begin(term, self._SyncObj__selfNode.id, now, self._SyncObj__generateRaftTimeout())
            asking = raft_prevote.request(term, self._SyncObj__getCurrentLogIndex(),
                                          self._SyncObj__getCurrentLogTerm())
            for node in list(others):
                self._SyncObj__transport.send(node, asking)
        return False

    def _on_pre_vote(self, node, message: dict) -> None:
        """A pre-vote or an answer, from a voter of our set; nothing else is ever changed."""
        if node not in self._SyncObj__otherNodes or not raft_prevote.well_formed(message):
            return
        if message["type"] == raft_prevote.PRE_VOTE_ANSWER:
            self._pre_vote.note(node.id, message, len(self._SyncObj__otherNodes) + 1)
            return
        view = raft_prevote.VoterView(
            term=self.raftCurrentTerm, last_log_index=self._SyncObj__getCurrentLogIndex(),
            last_log_term=self._SyncObj__getCurrentLogTerm(), is_leader=self._isLeader(),
            since_leader_s=monotonic_time() - self._leader_heard_at, min_election_timeout_s=self.conf.raftMinTimeout)
        self._SyncObj__transport.send(node, raft_prevote.answer(message, view))

    def _SyncObj__onReadonlyNodeDisconnected(self, node):
        self.observers.pop(node.id, None)
        super()._SyncObj__onReadonlyNodeDisconnected(node)

    def progress(self) -> dict[str, tuple[int, float]]:
        """On the leader: each follower's and observer's (match index, seconds since it
        last answered), by the library's node id. Copies, read from another thread."""
        match = self._SyncObj__raftMatchIndex.copy()
        answered = self._SyncObj__lastResponseTime.copy()
        now = monotonic_time()
        return {node.id: (index, now - answered.get(node, -1e9)) for node, index in match.items()}

    def last_log_index(self) -> int:
        return self._SyncObj__getCurrentLogIndex()


class KeptTailFilter(logging.Filter):
    """The library logs its (skipped) truncation before it calls delete: drop that line."""

    def __init__(self, obj_of):
        super().__init__()
        self._obj_of = obj_of

    def filter(self, record):
        obj = self._obj_of()
        return not (obj is not None and obj._keep_tail and "truncating already-applied" in record.getMessage())
