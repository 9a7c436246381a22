"""The pysyncobj adapter: with raft_syncobj.py (the SyncObj it runs), the only modules that
import pysyncobj.

Configuration follows the traps measured in docs/DESIGN.md: journal + full dump together
(made durable by raft_durable),
no append batching, a password, an explicit bind address, short retry and fallback
timeouts. The library's tick thread runs `apply`; results and "applied" notifications
are bridged into asyncio with call_soon_threadsafe. Snapshots are JSON, not pickles
of our objects (pysyncobj's own bookkeeping tuple is still pickled by its rules). The
voter set changes one controller at a time through the library's membership entries,
kept and read back by the adapter (raft_voters; docs/DESIGN.md says which library
behaviours it replaces); a controller outside the set follows as an observer. A voter
whose election timer runs out stands only after a pre-vote wins (raft_prevote), so a
controller returning from a pause or a partition does not unseat a healthy leader.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from pysyncobj import FAIL_REASON, SyncObjConf

from kraft.quorum import raft_transport
from kraft.storage.fs_sync import fsync_path
from kraft.quorum import raft_fallback, raft_library, raft_voters
from kraft.quorum.raft_files import (
    BOOTSTRAP_VOTERS,
    CATCH_UP_FIRST,
    JOURNAL,
    RAFT_DIR,
    SNAPSHOT,
    RaftData,
    RaftStateDamaged,
    check_raft_files,
    caught_up,
    journal_entries,
    mark_catch_up_first,
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
from kraft.quorum.raft_syncobj import SNAPSHOT_BYTES, KeptTailFilter, MetadataSyncObj, bind_raft_sources_to
from kraft.quorum.raft_timing import QuorumTimings

log = logging.getLogger(__name__)
_LEADER_STATE = 2  # pysyncobj's _RAFT_STATE.LEADER


class RaftQuorum:
    """One controller's seat in the metadata quorum."""

    def __init__(
        self,
        node_id: int,
        voters: dict[int, str],  # node id -> "host:port" of every controller
        data_dir: Path,
        password: str,
        timings: QuorumTimings = QuorumTimings(),
        snapshot_every: int | None = None,
        snapshot_bytes: int | None = None,
        bind_address: str | None = None,  # "host:port" to listen on, when not our voter address
        source_host: str | None = "",  # our connections' source address; "": our voter host
    ):
        self.node_id = node_id
        self._bind_address = bind_address
        self._source_host = source_host
        self.state_machine = MetadataStateMachine()
        self._address = voters[node_id]  # this controller's own Raft address
        self._file_voters = dict(voters)  # the bootstrap set of a brand-new cluster
        self._voters = dict(voters)  # the set in force (from the log once started)
        self._addr_to_id = {addr: nid for nid, addr in voters.items()}
        self._is_voter = True
        self._catch_up_first = False  # see set_bootstrap_voters
        self._extra_hosts: set[str] = set()
        self._loaded_voters: dict[int, str] | None = None  # the set of the snapshot last read
        self._dir = Path(data_dir) / RAFT_DIR
        self._password = password
        self._timings = timings
        # Log entries between snapshots; an operator knob (and a way for tests to
        # exercise snapshot + journal recovery without writing 5,000 entries).
        self._snapshot_every = snapshot_every or int(
            os.environ.get("KRAFT_METADATA_SNAPSHOT_ENTRIES", "5000"))
        # and by the bytes of those entries, as Kafka (metadata.log.max.record.bytes.between.snapshots)
        self._snapshot_bytes = snapshot_bytes or int(
            os.environ.get("KRAFT_METADATA_SNAPSHOT_BYTES", str(SNAPSHOT_BYTES)))
        self._listeners: list[Callable[[], object]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._obj: MetadataSyncObj | None = None
        self._listener: socket.socket | None = None
        self._caught_up_ms: dict[int, int] = {}
        self._elected_ms = -1  # when this node last became the leader (the quorum view's last election)

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        """Build the SyncObj on the calling (main) thread: its tick thread is tied to it."""
        self._loop = asyncio.get_running_loop()
        raft_library.check()  # a pysyncobj release without a member the adapter relies on: refused by name
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
        if self._catch_up_first:
            mark_catch_up_first(self._dir)  # before the voter set is kept: a restart remembers it
        catch_up = (self._dir / CATCH_UP_FIRST).exists()
        base, self._voters = self._voters_on_disk()
        self._addr_to_id = {addr: nid for nid, addr in self._voters.items()}
        self._is_voter = self._voters.get(self.node_id) == self._address and not catch_up
        me = self._address
        conf = SyncObjConf(
            journalFile=str(self._dir / JOURNAL),
            fullDumpFile=str(self._dir / SNAPSHOT),
            serializer=self._write_snapshot,
            deserializer=self._read_snapshot,
            appendEntriesUseBatch=False,
            password=self._password,
            bindAddress=self._bind_address or me,
            connectionRetryTime=0.5,
            **self._timings.syncobj_settings(),
            appendEntriesPeriod=0.1,
            dynamicMembershipChange=True,  # one voter at a time, through the log (raft_voters)
            onStateChanged=self._state_changed,
            logCompactionMinEntries=self._snapshot_every,
            logCompactionMinTime=300,
        )
        source = me.rsplit(":", 1)[0] if self._source_host == "" else self._source_host
        if source is not None:
            bind_raft_sources_to(source)
        # bound here, not on the library's thread, so a taken port stops the node at once
        # (RaftPortUnavailable) instead of being retried in silence
        self._listener = raft_transport.open_listener(self._bind_address or me)
        transport_class = raft_transport.install(self._allowed_hosts(), self._listener)
        # KRAFT_METADATA_FSYNC=0 only to measure what durability costs (bench/): without it
        # a power cut can make a voter forget what it acknowledged.
        durable = os.environ.get("KRAFT_METADATA_FSYNC", "1") != "0"
        try:
            self._obj = MetadataSyncObj(me, [], conf, self.state_machine, self._notify_applied,
                                         transport_class, durable, node_id=self.node_id,
                                         voters=self._voters, on_voters=self._voters_changed,
                                         loaded_voters=lambda: self._loaded_voters, applied_voters=base,
                                         catch_up_first=catch_up, snapshot_bytes=self._snapshot_bytes)
        except BaseException:
            self._close_listener()
            raise
        if self._is_voter and len(self._voters) == 1:
            # a sole voter has no one to split a vote with: its election timer (there to
            # spread candidates apart) would only delay the start, so it stands at once
            # (0 is the library's own "elect now", as for a leadership transfer)
            self._obj._SyncObj__raftElectionDeadline = 0
        logging.getLogger("pysyncobj.syncobj").addFilter(KeptTailFilter(lambda: self._obj))

    # -- the voter set ------------------------------------------------------------------
    def fresh(self) -> bool:
        """No Raft state yet: this controller has never voted, followed nor been told
        who the voters are (see set_bootstrap_voters)."""
        return not any((self._dir / name).exists() for name in (SNAPSHOT, BOOTSTRAP_VOTERS)) and \
            len(self._journal_entries()) <= 1

    def set_bootstrap_voters(self, voters: dict[int, str], catch_up_first: bool = False) -> None:
        """Before start, for a fresh controller: the voter set the running quorum
        reported (this node then starts as an observer unless it is in it).
        catch_up_first: named in it, it still votes for nobody until its log holds what a
        leader has committed (the quorum committed entries without it, or with it before
        its Raft state was lost); kept on disk until then (raft_files.CATCH_UP_FIRST)."""
        self._file_voters = dict(voters)
        self._catch_up_first = catch_up_first

    def _voters_on_disk(self) -> tuple[dict[int, str], dict[int, str]]:
        """(the set at the start of the log, the set in force): the snapshot's, moved on by every membership entry of the
        journal after it (committed or not, as Raft's single-server changes count them);
        with no snapshot, the set this data dir started with (kept in BOOTSTRAP_VOTERS,
        written at the first start: cluster.toml's controllers, or what the quorum
        reported to a node that joined it)."""
        kept = self._dir / BOOTSTRAP_VOTERS
        if kept.exists():
            base = {int(k): v for k, v in orjson.loads(kept.read_bytes()).items()}
        else:
            base = dict(self._file_voters)
            tmp = kept.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps({str(k): v for k, v in base.items()}))
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, kept)
            fsync_path(self._dir)
        after = 0
        snapshot = self._dir / SNAPSHOT
        if snapshot.exists():
            _, (last, _, cluster) = read_snapshot(snapshot)
            after = last[1]
            if isinstance(cluster, dict):
                base = {int(k): v for k, v in cluster.items()}
        tail = [command for command, index, _ in self._journal_entries() if index > after]
        return base, raft_voters.voters_in_log(base, tail)

    def _journal_entries(self) -> list:
        path = self._dir / JOURNAL
        return journal_entries(path.read_bytes()) if path.exists() else []

    def _voters_changed(self, voters: dict[int, str], is_voter: bool) -> None:
        """On the tick thread: a membership entry appended or undone, or this controller
        caught up (a voter now)."""
        if is_voter and self._obj is not None and (self._dir / CATCH_UP_FIRST).exists():
            self._obj.sync_journal()  # what it caught up to is on disk before it may vote
            caught_up(self._dir)
        self._voters = voters
        self._addr_to_id = {**self._addr_to_id, **{addr: nid for nid, addr in voters.items()}}
        self._is_voter = is_voter
        raft_transport.allow_hosts(self._allowed_hosts())

    def _allowed_hosts(self) -> set[str]:
        addresses = [*self._file_voters.values(), *self._voters.values()]
        return {addr.rsplit(":", 1)[0] for addr in addresses} | self._extra_hosts

    def allow_hosts(self, hosts: set[str]) -> None:
        """Also accept Raft connections from these hosts (the registered nodes: a new
        controller is named in no other controller's cluster.toml)."""
        if not hosts <= self._extra_hosts | self._allowed_hosts():
            self._extra_hosts |= hosts
            raft_transport.allow_hosts(self._allowed_hosts())

    def voters(self) -> dict[int, str]:
        return dict(self._voters)

    def is_voter(self) -> bool:
        return self._is_voter

    def _caught_up(self, obj: MetadataSyncObj) -> tuple[set[int], dict[int, str]]:
        """On the leader: (the voters and observers holding what it has committed that
        answered it within the leader fallback time, the leader included; the observers
        connected now, by node id)."""
        commit = obj.raftCommitIndex
        progress = obj.progress()
        caught = {self.node_id} if obj.is_voter else set()
        for nid, addr in obj.voters.items():
            match, silent_s = progress.get(addr, (-1, 1e9))
            if match >= commit and silent_s <= self._timings.leader_fallback_s:
                caught.add(nid)
        observers = {}
        for readonly_id, (nid, addr) in list(obj.observers.items()):
            observers[nid] = addr
            match, silent_s = progress.get(readonly_id, (-1, 1e9))
            if match >= commit and silent_s <= self._timings.leader_fallback_s:
                caught.add(nid)
        return caught, observers

    async def change_voters(self, kind: str, node_id: int, timeout_s: float) -> dict[int, str]:
        """On the leader: add (an observer) or remove one voter; returns the new set once
        committed. Raises VoterChangeProblem (refused, nothing written), NotLeaderError
        (not the leader, or leadership handed on first: removing the leader itself) or
        ProposalOutcomeUnknown (written, not known to be committed)."""
        obj = self._obj
        if obj is None or not obj._isLeader():
            raise NotLeaderError("this node is not the active controller")
        if obj.voters != obj.applied_voters:
            raise raft_voters.VoterChangeProblem("in_progress", (
                f"a voter change is in progress (voters {_ids(obj.applied_voters)} -> {_ids(obj.voters)}); "
                "retry once it is committed"))
        deadline = time.monotonic() + timeout_s
        caught, observers = self._caught_up(obj)
        if kind == raft_voters.ADD:
            while node_id in observers and node_id not in caught and time.monotonic() < deadline:
                await asyncio.sleep(0.1)  # the observer is still catching up (Kafka waits too)
                caught, observers = self._caught_up(obj)
            if node_id in observers and node_id not in caught and node_id not in obj.voters:
                raise raft_voters.VoterChangeProblem("timeout", (
                    f"observer {node_id} did not catch up with the leader within {timeout_s:.0f}s; retry"))
            change = raft_voters.plan_add(obj.voters, node_id, observers.get(node_id), caught)
        else:
            change = raft_voters.plan_remove(obj.voters, node_id, caught)
            if node_id == self.node_id:
                await self._hand_on_leadership(obj, deadline)
                raise NotLeaderError("leadership moved before removing the leader; retry at the new one")
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        done = _settling(loop, fut, lambda result: None, denied=raft_voters.VoterChangeProblem("in_progress", (
            "the leader takes one voter change at a time, after its first entry of the term is committed; retry")))
        command = raft_voters.membership_command(change)
        obj._applyCommand(command[1:], done, raft_voters.MEMBERSHIP)
        try:
            async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                await fut
        except TimeoutError:
            raise ProposalTimeout("the voter change was not committed in time; it may still be") from None
        return dict(change.voters_after)

    async def _hand_on_leadership(self, obj: MetadataSyncObj, deadline: float) -> None:
        """Raft's TimeoutNow to the most caught-up voter; waits until this node leads no more."""
        while obj._isLeader() and time.monotonic() < deadline:
            obj.call_on_tick(lambda: obj.transferLeadership(None, None))
            for _ in range(10):
                await asyncio.sleep(0.1)
                if not obj._isLeader():
                    return
        if obj._isLeader():
            raise raft_voters.VoterChangeProblem("timeout", "leadership could not be handed to another voter in time")

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
        obj = self._obj
        if obj is not None:  # the set as of the snapshot's index, with node ids (raft_voters)
            raft_data = (raft_data[0], raft_data[1], dict(obj.applied_voters))
        write_snapshot(Path(filename), self.state_machine.snapshot(), raft_data)

    def _read_snapshot(self, filename: str) -> RaftData:
        state, (last, before, cluster) = read_snapshot(Path(filename))
        self.state_machine.restore(state)
        if not isinstance(cluster, dict):
            self._loaded_voters = None
            return last, before, cluster
        self._loaded_voters = {int(k): v for k, v in cluster.items()}
        # the library sets its peers from this; the adapter then sets them from the log
        return last, before, [addr for addr in self._loaded_voters.values() if addr != self._address]

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
        return [*(f"Raft frames from {host} fail authentication (formatted with another "
                  f"raft_password or cluster id?)" for host in raft_transport.AUTH_FAILURES.recent()),
                *(f"the controller at {address} is not in the voter set (removed) but acts as a voter: "
                  "stop it, or start it with no Raft state to follow as an observer"
                  for address in raft_transport.STRANGE_VOTERS.recent())]

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
        progress = obj.progress() if is_leader else {}  # only the leader tracks the others

        def seat(nid: int, key: str) -> VoterStatus:
            match = commit if nid == self.node_id else progress.get(key, (-1, 0.0))[0]
            if match >= commit and is_leader:
                self._caught_up_ms[nid] = now_ms
            return VoterStatus(nid, match, max(0, commit - match) if match >= 0 else commit,
                               self._caught_up_ms.get(nid, -1))
        voters = [seat(nid, addr) for nid, addr in sorted(obj.voters.items())]
        observers = [seat(nid, readonly_id) for readonly_id, (nid, _) in sorted(
            obj.observers.items(), key=lambda item: item[1][0]) if nid not in obj.voters]
        return QuorumStatus(
            node_id=self.node_id,
            leader_id=leader,
            term=st["raft_term"],
            commit_index=commit,
            last_applied=st["last_applied"],
            is_leader=is_leader,
            has_quorum=bool(st["has_quorum"]) and obj.is_voter,
            voters=tuple(voters),
            elected_ms=self._elected_ms if is_leader else -1,
            observers=tuple(observers),
            is_voter=obj.is_voter,
            voter_change_pending=obj.voters != obj.applied_voters,
        )

    # -- writes ------------------------------------------------------------------------
    async def propose(self, batch_json: str, timeout_s: float) -> ApplyResult:
        obj = self._obj
        if obj is None or not obj._isLeader():
            raise NotLeaderError("this node is not the active controller")
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        obj.apply(batch_json, callback=_settling(loop, fut, lambda result: ApplyResult(**result)))
        try:
            async with asyncio.timeout(timeout_s):
                return await fut
        except TimeoutError:
            raise ProposalTimeout(
                f"metadata write not committed within {timeout_s:.1f}s; it may still commit"
            ) from None


def _settling(loop: asyncio.AbstractEventLoop, fut: asyncio.Future, result_of: Callable[[Any], Any],
              denied: Exception | None = None) -> Callable[[Any, Any], None]:
    """pysyncobj's completion callback for one command: it runs on the tick thread (never
    block there, never call sync methods) and settles `fut` on the loop: SUCCESS with
    result_of(result), REQUEST_DENIED with `denied` when given, a failure that may have
    reached the log as an unknown outcome, any other as QuorumError."""
    def done(result, error):
        def settle():
            if fut.done():
                return
            if error == FAIL_REASON.SUCCESS:
                fut.set_result(result_of(result))
            elif error == FAIL_REASON.REQUEST_DENIED and denied is not None:
                fut.set_exception(denied)
            elif error in _MAYBE_IN_LOG:
                fut.set_exception(ProposalOutcomeUnknown(_fail_reason(error)))
            else:
                fut.set_exception(QuorumError(_fail_reason(error)))
        if not loop.is_closed():
            loop.call_soon_threadsafe(settle)
    return done


# A command the tick thread forwarded to another leader (leadership moved between our
# check and its turn) may be in that leader's log; every other failure is before the log.
_MAYBE_IN_LOG = (FAIL_REASON.LEADER_CHANGED, FAIL_REASON.UNKNOWN_OUTCOME)


def _ids(voters) -> str:
    return "{" + ", ".join(str(i) for i in sorted(voters)) + "}"


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
