"""Log compaction on real files: a PartitionLog cleaned by log_cleaner, reopened, crashed mid-swap,
copied by a follower, and the ReplicaManager duty that drives it."""
from __future__ import annotations

import asyncio
import os
import time
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraft.storage import cleaned_swap
from kraft.storage import log_cleaner
from kraft.storage.compaction import CleanerSettings
from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import Record, decode_all, iter_batches

CONFIG = LogConfig(segment_bytes=1024, index_interval_bytes=128, segment_ms=None)
COMPACT = CleanerSettings(compact=True)
FAR_FUTURE = 2**50  # every tombstone expired
KEYS = [b"k%d" % i for i in range(5)]


def now_ms() -> int:
    return int(time.time() * 1000)


def disk_bytes(path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file() and f.suffix == ".log")


def updates(log: PartitionLog, count: int, keys=KEYS, start: int = 0, epoch: int = 0, per_batch: int = 1) -> None:
    for i in range(start, start + count, per_batch):
        batch = [Record(keys[j % len(keys)], b"value-%06d" % j + b"." * 30, (), 10_000 + j)
                 for j in range(i, min(i + per_batch, start + count))]
        log.append(batch, leader_epoch=epoch)


def records(log: PartitionLog, offset: int | None = None) -> list[tuple[int, bytes | None, bytes | None, int]]:
    start = log.log_start_offset if offset is None else offset
    return [(r.offset, r.key, r.value, r.timestamp_ms) for r in decode_all(log.read(start, 1 << 30))]


def expected_after_clean(before, cleaned_end: int, expired: bool = False):
    """Model: below cleaned_end the latest record per key (tombstones while not expired);
    everything from cleaned_end on (the active segment) as it was."""
    latest = {}
    for offset, key, _, _ in before:
        if key is not None:
            latest[key] = offset
    out = []
    for rec in before:
        offset, key, value, _ = rec
        if offset >= cleaned_end or key is None or latest[key] == offset and not (value is None and expired):
            out.append(rec)
    return out


@pytest.fixture
def log(tmp_path):
    plog = PartitionLog.open(tmp_path, CONFIG)
    yield plog
    plog.close()


def test_compaction_keeps_the_latest_value_per_key_with_original_offsets(tmp_path, log):
    updates(log, 600)
    before = records(log)
    start, end, active_base = log.log_start_offset, log.log_end_offset, log.segments[-1].base_offset
    size_before = disk_bytes(tmp_path)
    result = log_cleaner.clean(log, log.log_end_offset, COMPACT, now_ms())
    after = records(log)
    assert after == expected_after_clean(before, active_base)
    assert result.installed and result.records_removed == len(before) - len(after)
    assert (log.log_start_offset, log.log_end_offset) == (start, end)
    assert disk_bytes(tmp_path) < size_before / 5
    assert not (tmp_path / cleaned_swap.STAGING_NAME).exists() and not (tmp_path / cleaned_swap.SWAP_NAME).exists()
    # a second pass merges the small cleaned segments and changes no record
    assert log_cleaner.clean(log, log.log_end_offset, COMPACT, now_ms()) is None  # nothing dirty
    merged = log_cleaner.clean(log, log.log_end_offset, COMPACT, now_ms(), force=True)
    assert merged.installed and merged.segments_after < merged.segments_before
    assert records(log) == after
    # reopen, after a clean shutdown and after a crash: the same log
    log.close()
    for clean in (True, False):
        again = PartitionLog.open(tmp_path, CONFIG)
        assert records(again) == after
        assert (again.log_start_offset, again.log_end_offset) == (start, end)
        again.close(clean=clean)


def test_reading_a_removed_offset_finds_the_next_surviving_record(log):
    updates(log, 300)
    log_cleaner.clean(log, log.log_end_offset, COMPACT, now_ms())
    survivors = [r[0] for r in records(log)]
    for offset in (0, 1, survivors[0] - 1, survivors[0], survivors[0] + 1):
        got = records(log, offset)
        assert got and got[0][0] == min(o for o in survivors if o >= offset)
    # a tiny byte budget still returns a whole batch (here a filler) that moves a reader on
    first = next(iter_batches(log.read(0, 1)))[1]
    assert first.base_offset == 0 and first.next_offset <= survivors[0]
    assert log.offset_for_timestamp(10_000)[0] == survivors[0]


def test_the_active_segment_and_records_past_the_high_watermark_are_untouched(log):
    updates(log, 300)
    before = records(log)
    active_base = log.segments[-1].base_offset
    hw = log.segments[-2].base_offset + 1  # the last closed segment ends past the HW
    log_cleaner.clean(log, hw, COMPACT, now_ms())
    cleaned_end = log.segments[-2].base_offset
    assert cleaned_end < active_base
    # only what the HW covers counts: the values after it do not supersede older ones
    latest_below_hw = {}
    for offset, key, _, _ in before:
        if offset < hw:
            latest_below_hw[key] = offset
    kept = {r[0] for r in records(log)}
    assert set(latest_below_hw.values()) <= kept
    assert {r[0] for r in before if r[0] >= cleaned_end} <= kept


def test_tombstones_stay_until_delete_retention_ms_then_go(tmp_path, log):
    updates(log, 200)
    log.append([Record(b"k0", None, (), 20_000)], leader_epoch=0)  # delete k0 ...
    log.append([Record(b"k1", None, (), 20_001)], leader_epoch=0)  # ... and k1, which comes back:
    log.append([Record(b"k1", b"back", (), 20_002)], leader_epoch=0)
    updates(log, 100, keys=[b"x"], start=1000)
    log.roll()
    before = records(log)
    log_cleaner.clean(log, log.log_end_offset, COMPACT, now_ms())
    assert records(log) == expected_after_clean(before, log.log_end_offset)
    keyed = {k: v for _, k, v, _ in records(log)}
    assert keyed[b"k0"] is None and keyed[b"k1"] == b"back"  # k0's tombstone is young: kept
    retention = CleanerSettings(compact=True, delete_retention_ms=60_000)
    log_cleaner.clean(log, log.log_end_offset, retention, now_ms() + 30_000, force=True)
    assert any(k == b"k0" for _, k, _, _ in records(log))
    log_cleaner.clean(log, log.log_end_offset, retention, now_ms() + 120_000, force=True)
    assert records(log) == expected_after_clean(before, log.log_end_offset, expired=True)
    assert not any(k == b"k0" for _, k, _, _ in records(log))


def test_null_keys_survive_and_a_log_without_keys_is_not_rewritten(tmp_path, log):
    updates(log, 200, keys=[None])
    mtimes = {f.name: f.stat().st_mtime_ns for f in tmp_path.glob("*.log")}
    before = records(log)
    result = log_cleaner.clean(log, log.log_end_offset, COMPACT, FAR_FUTURE)
    assert not result.installed
    assert records(log) == before
    assert {f.name: f.stat().st_mtime_ns for f in tmp_path.glob("*.log")} == mtimes
    assert log_cleaner.first_dirty_offset(tmp_path) == log.segments[-1].base_offset  # not scanned again


def test_an_idempotent_producers_last_batch_keeps_its_header(log):
    log.append([Record(b"a", b"1", (), 1)], leader_epoch=0, producer_id=5, producer_epoch=0, base_sequence=0)
    log.append([Record(b"a", b"2", (), 2)], leader_epoch=0, producer_id=5, producer_epoch=0, base_sequence=1)
    updates(log, 100, keys=[b"a"])
    log.roll()
    log_cleaner.clean(log, log.log_end_offset, COMPACT, now_ms())
    headers = [h for _, h in iter_batches(log.read(0, 1 << 30))]
    mine = [h for h in headers if h.producer_id == 5]
    assert [(h.base_offset, h.base_sequence, h.record_count) for h in mine] == [(1, 1, 0)]


def test_a_follower_copies_the_compacted_log_batch_for_batch(tmp_path, log):
    updates(log, 150, epoch=0)
    updates(log, 150, start=150, epoch=3, per_batch=3)
    log_cleaner.clean(log, log.log_end_offset, COMPACT, now_ms())
    follower = PartitionLog.open(tmp_path / "follower", CONFIG)
    try:
        for _ in range(1000):  # fetch loop, bounded
            if follower.log_end_offset == log.log_end_offset:
                break
            follower.append_as_follower(log.read(follower.log_end_offset, 700))
        assert records(follower) == records(log)
        assert follower.leader_epoch_cache.entries == log.leader_epoch_cache.entries
        # truncation by offset still works in a compacted region
        cut = records(log)[2][0]
        follower.truncate_to(cut)
        assert follower.log_end_offset <= cut and records(follower) == [r for r in records(log) if r[0] < cut]
    finally:
        follower.close()


def test_nothing_is_swapped_when_the_log_changed_during_the_pass(tmp_path, log):
    updates(log, 300)
    job = log_cleaner.select(log, log.log_end_offset, COMPACT, now_ms())
    staged = log_cleaner.prepare(job)
    log.apply_retention(now_ms(), retention_bytes=log.size_bytes // 2)  # the first segments go
    before = records(log)
    assert not log_cleaner.install(log, job, staged).installed
    assert records(log) == before and not (tmp_path / cleaned_swap.STAGING_NAME).exists()
    # a truncation below the pass's high watermark with a new epoch's data after it
    job = log_cleaner.select(log, log.log_end_offset, COMPACT, now_ms())
    staged = log_cleaner.prepare(job)
    end = log.log_end_offset
    log.truncate_to(end - 3)
    updates(log, 3, epoch=1, start=5000)
    assert not log_cleaner.install(log, job, staged).installed


# -- crashes in the middle of a swap ------------------------------------------------------------------

def staged_pass(log, force=False):
    job = log_cleaner.select(log, log.log_end_offset, COMPACT, now_ms(), force=force)
    return job, log_cleaner.prepare(job)


def test_crash_before_the_commit_keeps_the_old_segments(tmp_path):
    log = PartitionLog.open(tmp_path, CONFIG)
    updates(log, 300)
    before = records(log)
    staged_pass(log)
    assert (tmp_path / cleaned_swap.STAGING_NAME).is_dir()
    log.close(clean=False)  # kill -9 while the cleaned files were being written
    log = PartitionLog.open(tmp_path, CONFIG)
    assert records(log) == before and not (tmp_path / cleaned_swap.STAGING_NAME).exists()
    log.close()


@pytest.mark.parametrize("merge", [False, True], ids=["rewrite", "merge"])
@pytest.mark.parametrize("moved", [0, 1, 2, 4, 1000])
def test_crash_after_the_commit_finishes_the_swap_at_open(tmp_path, moved, merge):
    log = PartitionLog.open(tmp_path, CONFIG)
    updates(log, 300)
    before = records(log)
    active_base = log.segments[-1].base_offset
    if merge:  # a second pass folds the small cleaned segments into one
        log_cleaner.clean(log, log.log_end_offset, COMPACT, now_ms())
    _, staged = staged_pass(log, force=merge)
    assert len(staged.new_bases) < len(staged.replaced_bases) if merge else staged.new_bases == staged.replaced_bases
    cleaned_swap.commit(tmp_path, staged.replaced_bases, staged.new_bases)
    swap = tmp_path / cleaned_swap.SWAP_NAME
    for f in sorted(p for p in swap.iterdir() if p.name != cleaned_swap.MANIFEST_NAME)[:moved]:
        os.replace(f, tmp_path / f.name)  # part of complete() ran before the crash
    log.close(clean=False)
    log = PartitionLog.open(tmp_path, CONFIG)
    try:
        assert not swap.exists()
        assert records(log) == expected_after_clean(before, active_base)
        assert sorted(int(f.stem) for f in tmp_path.glob("*.log")) == [s.base_offset for s in log.segments]
        assert {int(f.stem) for f in tmp_path.glob("*index")} == {s.base_offset for s in log.segments}
        assert (log.log_start_offset, log.log_end_offset) == (before[0][0], before[-1][0] + 1)
        updates(log, 10, start=900)  # and it goes on working
        assert records(log)[-1][2].startswith(b"value-000909")
    finally:
        log.close()


# -- the replica manager's duties ---------------------------------------------------------------------

def manager_with(tmp_path, log, configs):
    from kraft.replication.replica_manager import ReplicaManager
    rm = ReplicaManager(1, tmp_path / "node", lambda topic: configs, 5000, None, None)
    replica = SimpleNamespace(topic="t", topic_id="id", partition=0, log=log, high_watermark=log.log_end_offset,
                              signal_change=lambda: None)
    rm.replicas[("id", 0)] = replica
    return rm, replica


def test_replica_manager_cleans_compacted_partitions_and_skips_delete_for_compact_only(tmp_path, log):
    import threading
    updates(log, 300)
    old = {"cleanup.policy": "compact", "retention.ms": "1", "retention.bytes": "-1",
           "delete.retention.ms": "86400000", "min.cleanable.dirty.ratio": "0.5"}
    rm, replica = manager_with(tmp_path, log, old)
    segments = len(log.segments)
    rm.logs.apply_retention()  # everything is older than 1 ms, but compact alone never deletes
    assert len(log.segments) == segments and log.log_start_offset == 0
    asyncio.run(rm.logs.cleaner.clean_one(replica, threading.Event()))
    assert len(records(log)) < 300 // 2
    deleting = {**old, "cleanup.policy": "compact,delete"}
    rm, _ = manager_with(tmp_path, log, deleting)
    rm.logs.apply_retention()
    assert log.log_start_offset > 0


def test_replica_manager_leaves_delete_only_partitions_alone(tmp_path, log):
    import threading
    updates(log, 300)
    rm, replica = manager_with(tmp_path, log, {"cleanup.policy": "delete"})
    before = records(log)
    asyncio.run(rm.logs.cleaner.clean_one(replica, threading.Event()))
    assert records(log) == before and not (tmp_path / log_cleaner.CHECKPOINT_NAME).exists()


# -- property: any history of appends, rolls and passes ---------------------------------------------

PUT = st.tuples(st.just("put"), st.sampled_from([b"a", b"b", b"c", None]), st.booleans(), st.integers(1, 3))
ops = st.lists(st.one_of(PUT, PUT, PUT, st.tuples(st.just("roll")), st.tuples(st.just("crash")),
                         st.tuples(st.just("clean"), st.booleans(), st.floats(0, 1))), min_size=10, max_size=80)
PROP_CONFIG = LogConfig(segment_bytes=200, index_interval_bytes=64, segment_ms=None)


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
def test_compaction_never_changes_what_survives_at_an_offset(tmp_path_factory, history):
    path = tmp_path_factory.mktemp("prop")
    log = PartitionLog.open(path, PROP_CONFIG)
    written: dict[int, tuple] = {}
    try:
        for op in history:
            if op[0] == "put":
                _, key, tombstone, n = op
                value = None if tombstone else b"v%d" % len(written) + b"." * 20
                base, _ = log.append([Record(key, value, (), 50 + i) for i in range(n)], leader_epoch=0)
                for i in range(n):
                    written[base + i] = (key, value)
            elif op[0] == "roll":
                log.roll()
            elif op[0] == "crash":
                log.close(clean=False)
                log = PartitionLog.open(path, PROP_CONFIG)
            else:  # a pass with the high watermark anywhere in the log
                hw = int(op[2] * log.log_end_offset)
                log_cleaner.clean(log, hw, COMPACT, FAR_FUTURE if op[1] else now_ms(), force=True)
        got = records(log)
        assert [o for o, *_ in got] == sorted(o for o, *_ in got)
        assert all(written[o] == (k, v) for o, k, v, _ in got)  # survivors unchanged
        latest = {}
        for offset, (key, value) in sorted(written.items()):
            if key is not None:
                latest[key] = (offset, value)
        offsets = {o for o, *_ in got}
        for key, (offset, value) in latest.items():
            assert offset in offsets or value is None  # the latest value always survives
        assert all(o in offsets for o, (k, _) in written.items() if k is None)
        assert log.log_end_offset == (max(written) + 1 if written else 0) and log.log_start_offset == 0
        log.close()
        log = PartitionLog.open(path, PROP_CONFIG)
        assert records(log) == got
    finally:
        log.close()


def test_appends_and_rolls_while_the_pass_runs_in_its_thread(tmp_path, log):
    import threading
    updates(log, 400)
    rm, replica = manager_with(tmp_path, log, {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.5"})

    async def race():
        task = asyncio.create_task(rm.logs.cleaner.clean_one(replica, threading.Event()))
        for i in range(200):  # the loop keeps appending (and rolling) between the thread's reads
            updates(log, 1, start=1000 + i)
            await asyncio.sleep(0)
        await task

    asyncio.run(race())
    got = records(log)
    assert [r[0] for r in got] == sorted({r[0] for r in got})
    assert {r[2] for r in got if r[0] >= 400} == {b"value-%06d" % j + b"." * 30 for j in range(1000, 1200)}
    latest = {}
    for offset, key, value, _ in got:
        latest[key] = value
    assert latest == {KEYS[j % 5]: b"value-%06d" % j + b"." * 30 for j in range(1195, 1200)}
    assert len(got) < 400
