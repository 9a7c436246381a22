"""PartitionLog against a plain list of batches, driven by hypothesis.

Real files in a temp dir; tiny segments so rolls, index lookups and recovery of
multi-segment logs happen all the time. Crashes are simulated by releasing the
files without the clean-shutdown marker (what kill -9 leaves), optionally with
a torn or corrupted tail.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kraft.storage.log_config import LogConfig
from kraft.errors import OffsetOutOfRange
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import Record, encode_batch, iter_batches

CONFIG = LogConfig(segment_bytes=600, index_interval_bytes=100, segment_ms=None)
values_strategy = st.lists(st.binary(max_size=50), min_size=1, max_size=5)


@dataclass
class Batch:
    base: int
    count: int
    epoch: int
    data: bytes  # the exact bytes the log must hold

    @property
    def next_offset(self) -> int:
        return self.base + self.count


class PartitionLogModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="plog-model-"))
        self.log = PartitionLog.open(self.dir, CONFIG)
        self.batches: list[Batch] = []
        self.start = 0
        self.end = 0
        self.epoch = 0
        self.clock = 0

    def teardown(self) -> None:
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _records(self, values: list[bytes]) -> list[Record]:
        records = []
        for i, value in enumerate(values):
            self.clock += 10
            records.append(Record(b"k%d" % i, value, (("n", b"%d" % i),), self.clock))
        return records

    def _batch_at(self, offset: int) -> int:
        return next(i for i, b in enumerate(self.batches) if b.next_offset > offset)

    # -- rules ---------------------------------------------------------------

    @rule(values=values_strategy, new_epoch=st.booleans())
    def append(self, values, new_epoch):
        self.epoch += new_epoch
        records = self._records(values)
        assert self.log.append(records, leader_epoch=self.epoch) == (self.end, self.end + len(records) - 1)
        self.batches.append(Batch(self.end, len(records), self.epoch, encode_batch(records, self.end, self.epoch)))
        self.end += len(records)

    @rule(batches=st.lists(values_strategy, min_size=1, max_size=3), torn_tail=st.integers(0, 40))
    def append_as_follower(self, batches, torn_tail):
        encoded, offset = [], self.end
        for values in batches:
            records = self._records(values)
            encoded.append(Batch(offset, len(records), self.epoch, encode_batch(records, offset, self.epoch)))
            offset += len(records)
        tail = encode_batch(self._records([b"torn"]), offset, self.epoch)[:torn_tail]
        assert self.log.append_as_follower(b"".join(b.data for b in encoded) + tail) == (self.end, offset - 1)
        self.batches.extend(encoded)
        self.end = offset

    @rule(data=st.data(), max_bytes=st.integers(1, 2500))
    def read(self, data, max_bytes):
        offset = data.draw(st.integers(max(0, self.start - 3), self.end + 3), label="offset")
        if not self.start <= offset <= self.end:
            with pytest.raises(OffsetOutOfRange):
                self.log.read(offset, max_bytes)
            return
        got = self.log.read(offset, max_bytes)
        if offset == self.end:
            assert got == b""
            return
        first = self._batch_at(offset)
        count = len(list(iter_batches(got)))
        expected = self.batches[first:first + count]
        assert count >= 1 and got == b"".join(b.data for b in expected)
        assert count == 1 or len(got) <= max_bytes
        if first + count < len(self.batches):  # it stopped only because the next one did not fit
            assert len(got) + len(self.batches[first + count].data) > max_bytes

    @rule(data=st.data())
    def truncate_to(self, data):
        offset = data.draw(st.integers(max(0, self.start - 4), self.end + 2), label="offset")
        if offset < self.start:
            self.batches, self.start, self.end = [], offset, offset
        elif offset < self.end:
            cut = self._batch_at(offset)
            self.end = self.batches[cut].base
            del self.batches[cut:]
        assert self.log.truncate_to(offset) == self.end

    @rule()
    def roll(self):
        self.log.roll()

    @rule()
    def clean_reopen(self):
        self.log.close()
        self.log = PartitionLog.open(self.dir, CONFIG)

    @rule(damage=st.sampled_from([None, "garbage", "partial-batch", "cut-last", "flip-last"]), data=st.data())
    def crash_reopen(self, damage, data):
        self.log.close(clean=False)
        files = sorted(self.dir.glob("*.log"))
        if damage == "garbage":
            with open(files[-1], "ab") as f:
                f.write(data.draw(st.binary(min_size=1, max_size=80), label="garbage"))
        elif damage == "partial-batch":
            whole = encode_batch(self._records([b"lost"]), self.end, self.epoch)
            with open(files[-1], "ab") as f:
                f.write(whole[:data.draw(st.integers(1, len(whole) - 1), label="cut")])
        elif damage in ("cut-last", "flip-last") and self.batches:
            last = self.batches.pop()
            path = [p for p in files if p.stat().st_size][-1]
            content = bytearray(path.read_bytes())
            assert content.endswith(last.data)
            if damage == "cut-last":
                del content[-data.draw(st.integers(1, len(last.data) - 1), label="cut"):]
            else:  # a byte the CRC covers (attributes onwards)
                content[len(content) - len(last.data) + data.draw(st.integers(21, len(last.data) - 1))] ^= 0x5A
            path.write_bytes(bytes(content))
            self.end = last.base
        self.log = PartitionLog.open(self.dir, CONFIG)

    @rule(retention_bytes=st.integers(0, 3000))
    def retention_by_bytes(self, retention_bytes):
        deleted = self.log.apply_retention(now_ms=0, retention_bytes=retention_bytes)
        self._follow_log_start()
        segments = self.log.segments
        if deleted:
            assert self.log.size_bytes >= retention_bytes  # it keeps at least retention.bytes
        if segments[0].size:  # and deleting one more segment would go under it
            assert self.log.size_bytes - segments[0].size < retention_bytes

    @rule(age=st.integers(0, 500), retention_ms=st.integers(0, 300))
    def retention_by_time(self, age, retention_ms):
        now = self.clock + age
        self.log.apply_retention(now_ms=now, retention_ms=retention_ms)
        self._follow_log_start()
        first = self.log.segments[0]
        assert first.size == 0 or now - first.max_timestamp <= retention_ms

    def _follow_log_start(self):
        start = self.log.log_start_offset
        assert self.start <= start <= self.end
        assert start == self.end or any(b.base == start for b in self.batches)  # whole segments only
        self.batches = [b for b in self.batches if b.base >= start]
        self.start = start

    # -- invariants ----------------------------------------------------------

    @invariant()
    def log_matches_model(self):
        log = self.log
        assert (log.log_start_offset, log.log_end_offset) == (self.start, self.end)
        everything = log.read(self.start, 10**9) if self.end > self.start else b""
        assert everything == b"".join(b.data for b in self.batches)
        segments = log.segments
        assert all(a.next_offset == b.base_offset for a, b in zip(segments, segments[1:]))
        assert all(s.size <= CONFIG.segment_bytes for s in segments)

    @invariant()
    def epochs_match_model(self):
        derived: list[tuple[int, int]] = []
        for batch in self.batches:
            if not derived or derived[-1][0] != batch.epoch:
                derived.append((batch.epoch, batch.base))
        cached = [tuple(e) for e in self.log.leader_epoch_cache.entries if e.start_offset < self.end]
        assert cached == derived
        if derived:
            assert self.log.end_offset_for_epoch(derived[-1][0]) == (derived[-1][0], self.end)


PartitionLogModel.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPartitionLogModel = PartitionLogModel.TestCase
