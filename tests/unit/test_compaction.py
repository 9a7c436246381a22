"""The compaction rules (kraft/storage/compaction.py) and the batch rewrite, without files."""
from __future__ import annotations

import pytest

from kraft.storage.batch_rewrite import filler, trim
from kraft.storage.compaction import (
    KEEP_ALL,
    BatchRef,
    CleanerSettings,
    Copy,
    Filler,
    RecordRef,
    SegmentStats,
    Trim,
    cleanable_count,
    decide,
    dirty_ratio,
    group_segments,
    layout,
    note_latest,
    tombstones_expired,
    worth_cleaning,
)
from kraft.storage.record_batch import BatchHeader, Record, decode_records, encode_batch, verify_crc


def batch(base: int, *records: tuple[bytes | None, bytes | None], epoch: int = 0, pid: int = -1,
          ts: int = 1000) -> BatchRef:
    refs = tuple(RecordRef(base + i, k, v is None) for i, (k, v) in enumerate(records))
    return BatchRef(base, base + len(records) - 1, epoch, ts, ts + len(records), pid, refs)


def latest_of(*batches: BatchRef, limit: int = 10**9) -> dict[bytes, int]:
    latest: dict[bytes, int] = {}
    for b in batches:
        note_latest(latest, b, limit)
    return latest


def kept_offsets(batches, latest, expired=False) -> list[int]:
    out = []
    for b in batches:
        d = decide(b, latest, expired)
        idx = range(len(b.records)) if d == KEEP_ALL else (d or ())
        out += [b.records[i].offset for i in idx]
    return out


# -- records ----------------------------------------------------------------------------------

def test_latest_value_of_each_key_wins_across_batches_and_within_one():
    batches = [batch(0, (b"a", b"1"), (b"b", b"1"), (b"a", b"2")), batch(3, (b"b", b"2")), batch(4, (b"c", b"1"))]
    latest = latest_of(*batches)
    assert latest == {b"a": 2, b"b": 3, b"c": 4}
    assert kept_offsets(batches, latest) == [2, 3, 4]
    assert decide(batches[0], latest, False) == (2,)
    assert decide(batches[1], latest, False) == KEEP_ALL


def test_a_key_updated_later_in_the_log_drops_values_from_earlier_segments():
    cleaned = [batch(0, (b"a", b"old"), (b"z", b"only"))]
    active = batch(2, (b"a", b"new"))  # the active segment: read for the map, never cleaned
    latest = latest_of(*cleaned, active)
    assert kept_offsets(cleaned, latest) == [1]


def test_records_at_or_past_the_high_watermark_do_not_count():
    committed = batch(0, (b"a", b"1"))
    uncommitted = batch(1, (b"a", b"2"))  # may still be truncated away
    latest = latest_of(committed, uncommitted, limit=1)
    assert latest == {b"a": 0}
    assert kept_offsets([committed], latest) == [0]


def test_null_keys_are_kept_as_they_are():
    batches = [batch(0, (None, b"x"), (b"a", b"1"), (None, b"y")), batch(3, (b"a", b"2"), (None, b"z"))]
    latest = latest_of(*batches)
    assert kept_offsets(batches, latest) == [0, 2, 3, 4]


def test_tombstones_are_kept_until_delete_retention_then_removed():
    batches = [batch(0, (b"a", b"1"), (b"b", b"1")), batch(2, (b"a", None))]
    latest = latest_of(*batches)
    # the tombstone supersedes the value at once; the tombstone itself waits
    assert kept_offsets(batches, latest, expired=False) == [1, 2]
    assert kept_offsets(batches, latest, expired=True) == [1]
    assert not tombstones_expired(1000, now_ms=1000 + 500, delete_retention_ms=500)
    assert tombstones_expired(1000, now_ms=1000 + 501, delete_retention_ms=500)


def test_a_tombstone_followed_by_a_new_value_goes_at_once():
    batches = [batch(0, (b"a", None)), batch(1, (b"a", b"back"))]
    assert kept_offsets(batches, latest_of(*batches), expired=False) == [1]


def test_control_and_undecodable_batches_are_kept_whole():
    control = batch(0, (b"a", b"1"))._replace(is_control=True)
    compressed = BatchRef(1, 4, 0, 0, 0, records=None)
    latest = {b"a": 99}
    assert decide(control, latest, True) == KEEP_ALL
    assert decide(compressed, latest, True) == KEEP_ALL
    assert latest_of(control) == {}  # control records carry no user keys


def test_a_producers_last_batch_stays_as_a_header_when_emptied():
    b = batch(0, (b"a", b"1"), pid=7)
    assert decide(b, {b"a": 5}, False) is None
    assert decide(b, {b"a": 5}, False, must_keep=True) == ()


# -- segments and layout ---------------------------------------------------------------------------

def test_the_active_segment_and_segments_past_the_high_watermark_are_never_cleanable():
    segs = [SegmentStats(0, 10, 100), SegmentStats(10, 20, 100), SegmentStats(20, 25, 50)]
    assert cleanable_count(segs, high_watermark=25) == 2  # the last one is active
    assert cleanable_count(segs, high_watermark=19) == 1  # the second ends past the HW
    assert cleanable_count(segs[-1:], high_watermark=25) == 0
    assert cleanable_count([SegmentStats(0, 0, 0), SegmentStats(0, 5, 10)], 5) == 0


def test_dirty_ratio_counts_what_the_last_pass_did_not_clean():
    segs = [SegmentStats(0, 10, 100), SegmentStats(10, 20, 300)]
    assert dirty_ratio(segs, -1) == 1.0
    assert dirty_ratio(segs, 10) == 0.75
    assert dirty_ratio(segs, 20) == 0.0
    assert worth_cleaning(segs, 10, 0.5) and not worth_cleaning(segs, 10, 0.8)
    assert not worth_cleaning(segs, 20, 0.0)  # nothing new: never a pass


def test_segments_group_while_their_sizes_fit_segment_bytes():
    segs = [SegmentStats(0, 10, 40), SegmentStats(10, 20, 40), SegmentStats(20, 30, 40), SegmentStats(30, 40, 90)]
    assert group_segments(segs, 100) == [range(2), range(2, 3), range(3, 4)]
    assert group_segments(segs, 1000) == [range(4)]
    wide = [SegmentStats(0, 10, 1), SegmentStats(2**31, 2**31 + 5, 1)]
    assert group_segments(wide, 1000) == [range(1), range(1, 2)]  # relative offsets are int32


def test_layout_keeps_every_offset_covered_with_fillers_split_by_epoch():
    batches = [batch(0, (b"a", b"1")), batch(1, (b"a", b"2")), batch(2, (b"a", b"3"), epoch=1),
               batch(3, (b"b", b"1"), (b"a", b"4"), epoch=1), batch(5, (b"c", b"1"), epoch=2)]
    latest = latest_of(*batches, batch(6, (b"a", b"5"), epoch=2))
    pieces = list(layout((b, decide(b, latest, False)) for b in batches))
    assert pieces == [Filler(0, 1, 0, 1000, 1001), Filler(2, 2, 1, 1000, 1001),
                      Trim(batches[3], (0,)), Copy(batches[4])]
    spans = [(p.base_offset, p.last_offset) if isinstance(p, Filler) else (p.batch.base_offset, p.batch.last_offset)
             for p in pieces]
    assert [s[0] for s in spans[1:]] == [s[1] + 1 for s in spans[:-1]]  # contiguous, no gap
    assert spans[0][0] == 0 and spans[-1][1] == 5


def test_settings_from_topic_configs():
    assert not CleanerSettings.from_topic_configs({}).compact
    both = CleanerSettings.from_topic_configs({"cleanup.policy": "compact,delete", "delete.retention.ms": "5",
                                               "min.cleanable.dirty.ratio": "0.1"})
    assert both == CleanerSettings(True, True, 5, 0.1)
    only = CleanerSettings.from_topic_configs({"cleanup.policy": "compact"})
    assert only.compact and not only.delete and only.delete_retention_ms == 86_400_000


# -- the bytes -----------------------------------------------------------------------------------

def test_trim_keeps_header_offsets_timestamps_and_headers_of_survivors():
    records = [Record(b"a", b"1", (("h", b"x"),), 1000), Record(b"b", None, (), 1005), Record(b"a", b"2", (), 1003)]
    original = encode_batch(records, 40, 3, producer_id=9, producer_epoch=1, base_sequence=12)
    out = trim(original, (1, 2))
    assert verify_crc(out)
    h0, h1 = BatchHeader.parse(original), BatchHeader.parse(out)
    assert h1._replace(batch_length=h0.batch_length, crc=h0.crc, record_count=h0.record_count) == h0
    assert h1.record_count == 2 and h1.last_offset == 42
    got = decode_records(out)
    assert [(r.offset, r.key, r.value, r.timestamp_ms) for r in got] == [(41, b"b", None, 1005), (42, b"a", b"2", 1003)]
    assert decode_records(trim(original, ())) == [] and verify_crc(trim(original, ()))


@pytest.mark.parametrize("codec", [1, 2, 3, 4])
def test_trim_of_a_compressed_batch_keeps_its_codec(codec):
    records = [Record(b"a", b"1" * 100, (), 1000), Record(b"b", b"2" * 100, (), 1001), Record(b"a", b"3" * 100, (), 1002)]
    original = encode_batch(records, 10, 0, compression=codec)
    out = trim(original, (1, 2))
    assert verify_crc(out) and BatchHeader.parse(out).compression == codec
    assert [(r.offset, r.value) for r in decode_records(out)] == [(11, b"2" * 100), (12, b"3" * 100)]
    emptied = trim(original, ())
    assert verify_crc(emptied) and decode_records(emptied) == []


@pytest.mark.parametrize("base,last", [(0, 0), (7, 1000)])
def test_filler_is_a_valid_header_only_batch(base, last):
    out = filler(base, last, 4, 100, 200)
    header = BatchHeader.parse(out)
    assert verify_crc(out) and header.size == len(out) == 61
    assert (header.base_offset, header.last_offset, header.leader_epoch, header.record_count) == (base, last, 4, 0)
    assert (header.base_timestamp, header.max_timestamp, header.producer_id) == (100, 200, -1)
    assert decode_records(out) == []


def test_the_compaction_topic_configs_parse_as_kafka_spells_them():
    from kraft.config.topic_configs import DEFAULT_TOPIC_CONFIGS, ConfigError, parse_config_value, typed_value
    assert DEFAULT_TOPIC_CONFIGS["delete.retention.ms"] == "86400000"
    assert DEFAULT_TOPIC_CONFIGS["min.cleanable.dirty.ratio"] == "0.5"
    assert parse_config_value("min.cleanable.dirty.ratio", 1) == "1.0"
    assert typed_value("min.cleanable.dirty.ratio", "0.25") == 0.25
    for bad in ("1.5", "-0.1", "nan", "half", True):
        with pytest.raises(ConfigError, match="must be a number between 0.0 and 1.0"):
            parse_config_value("min.cleanable.dirty.ratio", bad)
    with pytest.raises(ConfigError):
        parse_config_value("delete.retention.ms", -1)
    assert CleanerSettings.from_topic_configs(DEFAULT_TOPIC_CONFIGS) == CleanerSettings()
