"""Transactions in a real PartitionLog on disk: markers, the last stable offset, the
aborted-transaction index across segments, restarts clean and not, truncation,
followers, fencing, retention and compaction."""
from __future__ import annotations

import json
import time

import pytest

from kraft.errors import (
    InvalidAppend,
    InvalidProducerEpoch,
    InvalidTxnState,
    StaleLeaderEpoch,
    TransactionCoordinatorFenced,
)
from kraft.storage import log_cleaner
from kraft.storage.compaction import CleanerSettings
from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.producer_snapshots import snapshot_offsets
from kraft.storage.record_batch import Record, decode_all, encode_batch, encode_control_batch, iter_batches
from kraft.storage.txn_index import AbortedTxn

SMALL = LogConfig(segment_bytes=1024, index_interval_bytes=128, segment_ms=None)
COMPACT = CleanerSettings(compact=True)
FAR_FUTURE = 2**50  # every tombstone and marker past delete.retention.ms


def recs(n: int, tag: str, keys: list[bytes] | None = None) -> list[Record]:
    return [Record(keys[i % len(keys)] if keys else None, f"{tag}{i}".encode().ljust(40, b"."), (), 1000 + i)
            for i in range(n)]


def txn(pid: int, epoch: int, seq: int, n: int = 2, tag: str = "t", keys: list[bytes] | None = None) -> bytes:
    """A transactional batch as a producer sends it."""
    return encode_batch(recs(n, tag, keys), 0, -1, pid, epoch, seq, is_transactional=True)


def plain(pid: int, epoch: int, seq: int, n: int = 2, tag: str = "p") -> bytes:
    return encode_batch(recs(n, tag), 0, -1, pid, epoch, seq)


def values(log: PartitionLog) -> list[bytes]:
    """Every data record's value (markers are control records: left out, as consumers do)."""
    data = log.read(log.log_start_offset, 1 << 30)
    out = []
    for pos, header in iter_batches(data):
        if not header.is_control:
            out += [r.value for r in decode_all(data[pos:pos + header.size])]
    return out


def markers(log: PartitionLog) -> list[int]:
    data = log.read(log.log_start_offset, 1 << 30)
    return [h.base_offset for _, h in iter_batches(data) if h.is_control]


def state(log: PartitionLog) -> tuple:
    """What a restart, a follower or a rebuild must reproduce."""
    return (log.producer_states(), log.first_unstable_offset,
            log.aborted_transactions(log.log_start_offset, log.log_end_offset + 1))


@pytest.fixture
def log(tmp_path):
    plog = PartitionLog.open(tmp_path, SMALL)
    yield plog
    plog.close()


def workload(log: PartitionLog, rounds: int, leader_epoch: int = 1) -> dict[int, int]:
    """Three producers interleaving transactions over many segments: producer 1 commits,
    2 aborts, 3 alternates; each round leaves producer 3's transaction open until the
    next. Returns the next sequence per producer."""
    seq = {1: 0, 2: 0, 3: 0}
    for r in range(rounds):
        for pid in (1, 2, 3):
            log.append(txn(pid, 0, seq[pid], tag=f"r{r}p{pid}-"), leader_epoch)
            seq[pid] += 2
        log.append_marker(1, 0, True, 0, leader_epoch)
        log.append(txn(2, 0, seq[2], tag=f"r{r}p2b-"), leader_epoch)
        seq[2] += 2
        log.append_marker(2, 0, False, 0, leader_epoch)
        if r % 2:
            log.append_marker(3, 0, r % 4 == 1, 0, leader_epoch)
    return seq


def model_aborted(log: PartitionLog) -> list[AbortedTxn]:
    """The aborted transactions, found by walking every batch of the log."""
    data = log.read(log.log_start_offset, 1 << 30)
    first: dict[int, int] = {}
    out = []
    for pos, header in iter_batches(data):
        if header.is_control:
            start = first.pop(header.producer_id, None)
            commit = decode_all(data[pos:pos + header.size])[0].key[-1] == 1
            if start is not None and not commit:
                out.append(AbortedTxn(header.producer_id, start, header.base_offset))
        elif header.is_transactional:
            first.setdefault(header.producer_id, header.base_offset)
    return out


# -- open, commit, abort -------------------------------------------------------------------------
def test_commit_and_abort_move_the_stable_offset_and_the_aborted_list(log):
    assert log.first_unstable_offset is None and log.last_stable_offset(0) == 0
    assert log.append(plain(9, 0, 0), 1) == (0, 1)
    assert log.append(txn(1, 0, 0), 1) == (2, 3)
    assert log.append(txn(2, 0, 0), 1) == (4, 5)
    assert log.first_unstable_offset == 2
    assert log.last_stable_offset(high_watermark=6) == 2
    assert log.last_stable_offset(high_watermark=1) == 1
    assert log.append(txn(1, 0, 2), 1) == (6, 7)
    assert log.append_marker(1, 0, commit=True, coordinator_epoch=0, leader_epoch=1) == 8
    assert log.first_unstable_offset == 4
    assert log.append_marker(2, 0, commit=False, coordinator_epoch=0, leader_epoch=1) == 9
    assert log.first_unstable_offset is None
    # the outcome counts once the high watermark passed the marker, as Kafka's LSO does
    assert log.last_stable_offset(high_watermark=9) == 4
    assert log.last_stable_offset(high_watermark=10) == 10
    assert log.aborted_transactions(0, 10) == [AbortedTxn(2, 4, 9)]
    assert log.aborted_transactions(0, 4) == []  # the aborted one starts at 4
    assert log.aborted_transactions(10, 20) == []  # it ended at 9
    assert log.log_end_offset == 10
    assert len(values(log)) == 8 and markers(log) == [8, 9]


def test_the_leader_refuses_what_kafka_refuses_and_writes_nothing(log):
    log.append(txn(1, 0, 0), 1)
    with pytest.raises(InvalidTxnState):
        log.append(plain(1, 0, 2), 1)
    with pytest.raises(InvalidAppend, match="append_marker"):
        log.append(encode_control_batch(1, 0, True, 0), 1)
    with pytest.raises(InvalidAppend, match="producer id"):
        log.append(recs(1, "x"), 1, is_transactional=True)
    log.append_marker(1, 0, False, coordinator_epoch=3, leader_epoch=1)
    end = log.log_end_offset
    with pytest.raises(TransactionCoordinatorFenced):
        log.append_marker(1, 0, True, coordinator_epoch=2, leader_epoch=1)
    with pytest.raises(StaleLeaderEpoch):
        log.append_marker(1, 0, True, coordinator_epoch=3, leader_epoch=0)
    assert log.log_end_offset == end
    log.append_marker(1, 1, False, coordinator_epoch=3, leader_epoch=1)  # a new epoch fences epoch 0
    end = log.log_end_offset
    with pytest.raises(InvalidProducerEpoch):
        log.append(txn(1, 0, 2), 1)
    with pytest.raises(InvalidProducerEpoch):
        log.append_marker(1, 0, True, coordinator_epoch=3, leader_epoch=1)
    assert log.log_end_offset == end
    assert log.append(txn(1, 1, 0), 1) == (end, end + 1)
    # the records path writes transactional batches too (a coordinator's, without sequence)
    assert log.append(recs(1, "c"), 1, producer_id=7, producer_epoch=0, is_transactional=True) == (end + 2, end + 2)
    assert log.first_unstable_offset == end


def test_a_late_version_2_marker_cannot_end_the_transaction_that_followed_its_own(log):
    """Transactions version 2: a marker carries the epoch after its transaction's data, and
    the producer's next transaction is written at that epoch. A copy of the earlier abort
    marker that arrives late (a delayed request) must not abort the next transaction's
    records: it is refused, the open transaction stays open and its own marker (the epoch
    after) commits it. At that epoch with nothing open the copy is a retry and is taken.
    A version 1 marker keeps its old rule: the data's own epoch is its epoch."""
    log.append(txn(1, 0, 0, tag="first"), 1)
    log.append_marker(1, 1, False, 0, 1, transaction_version=2)  # aborts "first", epoch 1 begins
    log.append_marker(1, 1, False, 0, 1, transaction_version=2)  # nothing open: a retry, taken
    nxt, _ = log.append(txn(1, 1, 0, tag="next"), 1)  # the next transaction, at epoch 1
    end = log.log_end_offset
    with pytest.raises(InvalidProducerEpoch, match="stale"):
        log.append_marker(1, 1, False, 0, 1, transaction_version=2)  # the late copy
    assert log.log_end_offset == end and log.first_unstable_offset == nxt
    log.append_marker(1, 2, True, 0, 1, transaction_version=2)
    assert log.first_unstable_offset is None
    assert [a.first_offset for a in log.aborted_transactions(0, log.log_end_offset)] == [0]
    assert [v[:4] for v in values(log)] == [b"firs", b"firs", b"next", b"next"]
    # version 1: commits at the data's epoch, so the same epoch ends an open transaction
    log.append(txn(2, 0, 0, tag="v1"), 1)
    log.append_marker(2, 0, True, 0, 1)
    assert log.first_unstable_offset is None


def test_a_retried_transactional_batch_is_not_written_twice(log):
    log.append(txn(1, 0, 0), 1)
    log.append(txn(1, 0, 2), 1)
    assert log.append(txn(1, 0, 0), 1) == (0, 1)
    assert log.log_end_offset == 4


def test_producer_states_answer_describe_producers(log):
    log.append(txn(1, 0, 0, n=3), 1)
    log.append_marker(1, 0, True, 4, 1, timestamp_ms=5000)
    log.append(txn(2, 3, 0), 1)
    by_id = {p.producer_id: p for p in log.producer_states()}
    assert by_id[1].producer_epoch == 0 and by_id[1].last_sequence == 2
    assert by_id[1].coordinator_epoch == 4 and by_id[1].last_timestamp == 5000
    assert by_id[1].current_txn_start_offset == -1
    assert (by_id[2].producer_epoch, by_id[2].current_txn_start_offset, by_id[2].coordinator_epoch) == (3, 4, -1)


# -- the aborted-transaction index ---------------------------------------------------------------
def test_aborted_transactions_across_segments_match_a_walk_of_the_log(tmp_path, log):
    workload(log, 12)
    assert len(log.segments) > 4
    assert sorted(p.name for p in tmp_path.glob("*.txnindex"))  # beside the segments of the ABORTs
    everything = model_aborted(log)
    assert log.aborted_transactions(0, log.log_end_offset) == everything
    end = log.log_end_offset
    for start in range(0, end, 7):
        for upper in (start + 1, start + 13, end):
            expected = [a for a in everything if a.last_offset >= start and a.first_offset < upper]
            assert log.aborted_transactions(start, upper) == expected, (start, upper)


def test_index_files_go_with_their_segments_on_retention(tmp_path, log):
    log.append(txn(8, 0, 0), 1)  # open at offset 0 throughout
    workload(log, 12)
    bases = {s.base_offset for s in log.segments}
    assert {int(p.stem) for p in tmp_path.glob("*.txnindex")} <= bases
    everything = model_aborted(log)
    log.apply_retention(now_ms=10**15, retention_ms=1, max_offset=log.segments[3].base_offset)
    assert {int(p.stem) for p in tmp_path.glob("*.txnindex")} <= {s.base_offset for s in log.segments}
    start = log.log_start_offset
    # a transaction begun before the new log start keeps its first offset
    overlapping = [a for a in everything if a.last_offset >= start]
    assert any(a.first_offset < start for a in overlapping)
    assert log.aborted_transactions(start, log.log_end_offset) == overlapping
    assert log.first_unstable_offset == start  # never below the log start, as in Kafka
    assert log.last_stable_offset(log.log_end_offset) == start


# -- restarts, crashes, truncation -----------------------------------------------------------------
@pytest.mark.parametrize("clean", [True, False])
def test_an_open_transaction_and_the_index_survive_a_restart(tmp_path, clean):
    log = PartitionLog.open(tmp_path, SMALL)
    seq = workload(log, 9)  # producer 3's transaction is open at the end
    log.append(txn(1, 0, seq[1], tag="late"), 1)  # and one in the active segment only
    before = state(log)
    assert before[1] is not None
    log.close(clean=clean)
    reopened = PartitionLog.open(tmp_path, SMALL)
    assert state(reopened) == before
    reopened.append_marker(3, 0, False, 0, 1)
    reopened.append_marker(1, 0, False, 0, 1)
    assert reopened.first_unstable_offset is None
    assert reopened.aborted_transactions(0, reopened.log_end_offset) == model_aborted(reopened)
    reopened.close()


def test_a_crash_that_lost_index_entries_and_tore_the_log_rebuilds_them(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    workload(log, 9)  # producer 3's transaction is open at the end
    active = log.segments[-1]
    first5, _ = log.append(txn(5, 0, 0), 1)
    marker5 = log.append_marker(5, 0, False, 0, 1)
    first6, _ = log.append(txn(6, 0, 0), 1)
    log.append_marker(6, 0, False, 0, 1)  # torn away below
    log.append_marker(3, 0, True, 0, 1)
    assert log.first_unstable_offset is None
    log_path, index_path = active.log.path, active.txn_index.path
    size_before_marker = active.find_position(first6 + 2)[0]
    log.close(clean=False)
    index_path.unlink()  # the index lost everything of the active segment
    with open(log_path, "r+b") as f:
        f.truncate(size_before_marker + 20)  # the marker of producer 6 torn, producer 3's lost
    reopened = PartitionLog.open(tmp_path, SMALL)
    assert reopened.log_end_offset == first6 + 2
    assert reopened.first_unstable_offset == log.segments[-1].base_offset  # producer 3's, open again
    assert {p.producer_id: p.current_txn_start_offset for p in reopened.producer_states()}[6] == first6
    assert reopened.aborted_transactions(0, reopened.log_end_offset) == model_aborted(reopened)
    assert AbortedTxn(5, first5, marker5) in reopened.aborted_transactions(0, 1 << 40)
    assert index_path.exists()
    reopened.close()


def test_a_crash_leaving_index_entries_past_the_log_end_drops_them(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    log.append(txn(1, 0, 0), 1)
    log.append_marker(1, 0, False, 0, 1)
    log.append(txn(1, 0, 2), 1)
    log.append_marker(1, 0, False, 0, 1)
    segment = log.segments[-1]
    keep = segment.find_position(3)[0]
    log.close(clean=False)
    with open(segment.log.path, "r+b") as f:
        f.truncate(keep)  # the second transaction never reached the disk, its index entry did
    reopened = PartitionLog.open(tmp_path, SMALL)
    assert reopened.log_end_offset == 3
    assert reopened.aborted_transactions(0, 100) == [AbortedTxn(1, 0, 2)]
    reopened.close()


def test_snapshots_carry_open_transactions_so_recovery_replays_only_the_doubt(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    log.append(txn(8, 0, 0, tag="first"), 1)  # stays open over every roll below
    workload(log, 6)
    assert snapshot_offsets(tmp_path)
    newest = json.loads((tmp_path / f"{snapshot_offsets(tmp_path)[-1]:020d}.producer").read_bytes())
    assert newest["version"] == 2
    assert {entry[0]: entry[4] for entry in newest["producers"]}[8] == 0  # producer 8: open since 0
    before = state(log)
    log.close(clean=False)
    reopened = PartitionLog.open(tmp_path, SMALL)
    assert state(reopened) == before and reopened.first_unstable_offset == 0
    reopened.close()


def test_a_version_1_snapshot_from_an_older_kraft_still_opens(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    for i in range(3):
        log.append(plain(4, 0, 2 * i), 1)
    log.close()
    end = 6
    for offset in snapshot_offsets(tmp_path):
        (tmp_path / f"{offset:020d}.producer").unlink()
    (tmp_path / f"{end:020d}.producer").write_text(json.dumps(
        {"version": 1, "offset": end, "producers": [[4, 0, [[0, 1, 0, 1], [2, 3, 2, 3], [4, 5, 4, 5]]]]}))
    reopened = PartitionLog.open(tmp_path, SMALL)
    assert reopened.append(plain(4, 0, 4), 1) == (4, 5)  # the snapshot was used: a known retry
    assert reopened.append(txn(4, 0, 6), 1) == (6, 7)
    assert reopened.first_unstable_offset == 6
    reopened.close()


def test_truncation_reopens_a_transaction_whose_marker_was_cut(log):
    workload(log, 6)
    log.append(txn(7, 0, 0), 1)
    first = log.log_end_offset - 2
    log.append(txn(7, 0, 2), 1)
    marker = log.append_marker(7, 0, False, 0, 1, timestamp_ms=77)
    after_marker = state(log)
    assert AbortedTxn(7, first, marker) in after_marker[2]
    log.truncate_to(marker)  # the marker was not replicated: the new leader never had it
    assert log.first_unstable_offset == first
    assert AbortedTxn(7, first, marker) not in log.aborted_transactions(0, 1 << 40)
    assert log.aborted_transactions(0, 1 << 40) == model_aborted(log)
    again = log.append_marker(7, 0, False, 0, 2, timestamp_ms=77)  # the coordinator writes it again
    assert again == marker and state(log) == after_marker
    log.truncate_to(first)
    assert log.first_unstable_offset is None or log.first_unstable_offset < first
    assert log.aborted_transactions(0, 1 << 40) == model_aborted(log)
    log.truncate_fully_and_start_at(500)
    assert state(log) == ([], None, [])


# -- followers -------------------------------------------------------------------------------------
def test_a_follower_copies_markers_and_ends_with_the_same_state(tmp_path):
    leader = PartitionLog.open(tmp_path / "leader", SMALL)
    follower = PartitionLog.open(tmp_path / "follower", SMALL)
    workload(leader, 5)
    offset = 0
    while offset < leader.log_end_offset:  # fetches of a few batches each, as replication does
        chunk = leader.read(offset, 300)
        follower.append_as_follower(chunk)
        offset = follower.log_end_offset
    assert state(follower) == state(leader)
    # as the new leader it refuses what the old one would have
    with pytest.raises(TransactionCoordinatorFenced):
        follower.append_marker(3, 0, True, -5, 2)
    leader.close()
    follower.close()


def test_a_follower_records_whatever_the_leader_wrote(tmp_path):
    """Followers do not judge: a marker a leader would refuse now is recorded all the same."""
    follower = PartitionLog.open(tmp_path, SMALL)
    data = encode_batch(recs(2, "a"), 0, 1, 1, 0, 0, is_transactional=True)
    follower.append_as_follower(data)
    follower.append_as_follower(encode_control_batch(1, 0, False, 5, base_offset=2, leader_epoch=1))
    follower.append_as_follower(encode_control_batch(1, 0, False, 4, base_offset=3, leader_epoch=1))
    assert follower.log_end_offset == 4
    assert follower.aborted_transactions(0, 4) == [AbortedTxn(1, 0, 2)]
    assert follower.producer_states()[0].coordinator_epoch == 5
    follower.close()


# -- compaction ------------------------------------------------------------------------------------
KEYS = [b"a", b"b", b"c"]


def keyed_values(log: PartitionLog) -> dict[bytes, bytes]:
    data = log.read(log.log_start_offset, 1 << 30)
    latest: dict[bytes, bytes] = {}
    for pos, header in iter_batches(data):
        if header.is_control:
            continue
        for r in decode_all(data[pos:pos + header.size]):
            latest[r.key] = r.value
    return latest


def compacting_workload(log: PartitionLog) -> list[int]:
    """Committed values, then aborted overwrites of the same keys, over several segments.
    Returns the offsets of the last marker of each producer."""
    seq = {1: 0, 2: 0}
    last = []
    for r in range(8):
        log.append(txn(1, 0, seq[1], n=3, tag=f"good{r}-", keys=KEYS), 1)
        seq[1] += 3
        last = [log.append_marker(1, 0, True, 0, 1)]
        log.append(txn(2, 0, seq[2], n=3, tag=f"bad{r}-", keys=KEYS), 1)
        seq[2] += 3
        last.append(log.append_marker(2, 0, False, 0, 1))
    log.append(plain(9, 0, 0, n=1), 1)
    log.roll()
    return last


def test_compaction_removes_aborted_data_and_keeps_markers_until_retention(tmp_path, log):
    last_markers = compacting_workload(log)
    end = log.log_end_offset
    assert all(v.startswith(b"bad7") for k, v in keyed_values(log).items() if k)  # a naive reading
    result = log_cleaner.clean(log, end, COMPACT, int(time.time() * 1000), force=True)
    assert result is not None and result.installed
    assert all(not v.startswith(b"bad") for v in values(log))
    assert keyed_values(log) == {b"a": b"good7-0".ljust(40, b"."), b"b": b"good7-1".ljust(40, b"."),
                                 b"c": b"good7-2".ljust(40, b"."), None: b"p0".ljust(40, b".")}
    assert len(markers(log)) == 16  # delete.retention.ms has not passed
    # no data of the aborted transactions is left: their index entries went with it
    assert log.aborted_transactions(0, end) == []
    log_cleaner.clean(log, end, COMPACT, FAR_FUTURE, force=True)
    # past delete.retention.ms: only each producer's last marker stays (it holds its epoch)
    assert markers(log) == last_markers
    assert log.log_end_offset == end and log.first_unstable_offset is None
    before = state(log)
    log.close(clean=False)
    for offset in snapshot_offsets(tmp_path):
        (tmp_path / f"{offset:020d}.producer").unlink()
    reopened = PartitionLog.open(tmp_path, SMALL)  # a rebuild from the cleaned batches alone
    assert reopened.first_unstable_offset is None
    assert reopened.aborted_transactions(0, end) == before[2] == []
    reopened.close()


def test_a_committed_transactions_marker_stays_while_its_data_does(log):
    log.append(txn(1, 0, 0, n=2, keys=[b"x", b"y"]), 1)
    log.append_marker(1, 0, True, 0, 1)
    log.append(plain(2, 0, 0, n=1), 1)  # producer 2 writes last
    log.append_marker(2, 0, True, 0, 1)  # an empty transaction's marker
    log.roll()
    log.append(plain(3, 0, 0, n=1), 1)
    log_cleaner.clean(log, log.log_end_offset, COMPACT, FAR_FUTURE, force=True)
    assert 2 in markers(log)  # its transaction's data is still there
    assert 4 in markers(log)  # producer 2's last batch keeps its epoch
    assert len(values(log)) == 4


def test_an_aborted_overwrite_does_not_remove_the_committed_value(log):
    log.append(txn(1, 0, 0, n=1, tag="keep", keys=[b"k"]), 1)
    log.append_marker(1, 0, True, 0, 1)
    log.append(txn(2, 0, 0, n=1, tag="drop", keys=[b"k"]), 1)
    log.append_marker(2, 0, False, 0, 1)
    log.roll()
    log.append(plain(3, 0, 0, n=1), 1)
    log_cleaner.clean(log, log.log_end_offset, COMPACT, int(time.time() * 1000), force=True)
    assert keyed_values(log)[b"k"] == b"keep0".ljust(40, b".")
    assert b"drop0".ljust(40, b".") not in values(log)


def test_an_open_transaction_is_never_compacted(log):
    log.append(txn(1, 0, 0, n=1, tag="old", keys=[b"k"]), 1)
    log.append_marker(1, 0, True, 0, 1)
    log.append(txn(2, 0, 0, n=1, tag="open", keys=[b"k"]), 1)  # may still abort
    for r in range(30):
        log.append(plain(3, 0, r, n=1, tag=f"filler{r}-"), 1)
    log.roll()
    assert len(log.segments) > 2
    log_cleaner.clean(log, log.log_end_offset, COMPACT, FAR_FUTURE, force=True)
    assert b"old0".ljust(40, b".") in values(log)  # the open overwrite does not count yet
    assert b"open0".ljust(40, b".") in values(log)
    log.append_marker(2, 0, False, 0, 1)
    log.roll()
    log_cleaner.clean(log, log.log_end_offset, COMPACT, FAR_FUTURE, force=True)
    assert b"open0".ljust(40, b".") not in values(log)
    assert b"old0".ljust(40, b".") in values(log)


def test_a_follower_copies_a_compacted_transactional_log(tmp_path, log):
    compacting_workload(log)
    log.append(txn(4, 0, 0), 1)  # open, in the active segment
    log_cleaner.clean(log, log.log_end_offset, COMPACT, int(time.time() * 1000), force=True)
    follower = PartitionLog.open(tmp_path / "follower", SMALL)
    follower.append_as_follower(log.read(0, 1 << 30))
    assert follower.first_unstable_offset == log.first_unstable_offset
    assert follower.aborted_transactions(0, 1 << 40) == log.aborted_transactions(0, 1 << 40)
    follower.close()


def test_an_index_file_reloads_drops_a_torn_entry_and_cuts_by_marker_offset(tmp_path):
    from kraft.storage.txn_index import TxnIndex, TxnIndexEntry
    path = tmp_path / "00000000000000000000.txnindex"
    index = TxnIndex(path)
    assert index.entries() == [] and not path.exists()  # created by the first entry only
    entries = [TxnIndexEntry(1, 0, 4, 2), TxnIndexEntry(2, 2, 6, 7), TxnIndexEntry(3, 8, 9, 10)]
    for e in entries:
        index.append(e)
    index.flush()
    assert TxnIndex(path).entries() == entries
    with open(path, "ab") as f:
        f.write(b"\x00\x00\x00\x00\x00\x01")  # a torn fourth entry
    reloaded = TxnIndex(path)
    assert reloaded.entries() == entries
    reloaded.append(TxnIndexEntry(4, 10, 12, 13))  # appends stay aligned after the torn bytes
    assert TxnIndex(path).entries() == entries + [TxnIndexEntry(4, 10, 12, 13)]
    reloaded.truncate_to(9)  # markers at 9 and later were cut
    assert TxnIndex(path).entries() == entries[:2]
    reloaded.truncate_to(0)
    assert not path.exists()


def test_checkers_reading_the_files_see_data_records_and_no_markers(tmp_path):
    from kraft.storage.log_inspect import producer_batches, read_records
    log = PartitionLog.open(tmp_path / "p0", SMALL)
    log.append(txn(7, 0, 0, n=2, tag="kept"), 0)
    log.append_marker(7, 0, True, 0, 0)
    log.append(txn(7, 0, 2, n=1, tag="next"), 0)
    log.append_marker(7, 0, False, 0, 0)
    log.close()
    records = read_records(tmp_path / "p0")
    assert [offset for offset, _, _, _ in records] == [0, 1, 3]  # offsets 2 and 4 are markers
    assert all(value.startswith((b"kept", b"next")) for _, _, _, value in records)
    assert [(base, last) for base, last, _, _, _ in producer_batches(tmp_path / "p0")] == [(0, 1), (3, 3)]
