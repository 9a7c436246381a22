"""A small read of a huge batch: records up to the read's bound (the one reaching it
included), decoded from as little of the batch as they take, for every codec."""

from __future__ import annotations

import pytest

from kraft.broker.isolation import visible_records
from kraft.storage.compression import GZIP, LZ4, NONE, SNAPPY, ZSTD
from kraft.storage.record import Record
from kraft.storage.record_batch import decode_records, decode_records_prefix, encode_batch

RECORDS = 50_000


def batch_of(count: int, codec: int, base: int = 0, value: bytes = b"v" * 20) -> bytes:
    return encode_batch([Record(None, value, (), 1000) for _ in range(count)], base, -1, compression=codec)


@pytest.mark.parametrize("codec", [NONE, GZIP, SNAPPY, LZ4, ZSTD])
def test_a_small_read_of_a_large_batch_stops_at_its_bound(codec):
    data = batch_of(RECORDS, codec)
    shown, next_position = visible_records(data, 0, max_bytes=1000)
    assert 0 < len(shown) <= 1000 // 20 + 1  # each record takes more than its 20-byte value
    assert [r.offset for r in shown] == list(range(len(shown)))
    assert next_position == len(shown)  # the rest of the batch is read next time
    rest, after = visible_records(data, next_position, max_bytes=1000)
    assert rest[0].offset == next_position and after == next_position + len(rest)


def test_a_record_larger_than_the_bound_is_returned_alone():
    data = batch_of(3, ZSTD, value=b"x" * 200_000)  # larger than what is first opened
    shown, next_position = visible_records(data, 0, max_bytes=10)
    assert [r.offset for r in shown] == [0] and len(shown[0].value) == 200_000
    assert next_position == 1


def test_a_read_from_inside_a_batch_counts_only_what_it_returns():
    data = batch_of(RECORDS, ZSTD)
    shown, next_position = visible_records(data, 40_000, max_bytes=1000)
    assert shown and shown[0].offset == 40_000 and next_position == 40_000 + len(shown)


def test_a_read_within_its_bound_sees_every_batch_whole():
    data = batch_of(10, ZSTD) + batch_of(10, LZ4, base=10)
    shown, next_position = visible_records(data, 0, max_bytes=1 << 20)
    assert [r.offset for r in shown] == list(range(20)) and next_position == 20
    assert shown == decode_records(data[:len(batch_of(10, ZSTD))]) + decode_records(data, len(batch_of(10, ZSTD)))


def test_the_prefix_says_whether_it_holds_the_whole_batch():
    data = batch_of(100, GZIP)
    records, used, whole = decode_records_prefix(data, 0, 1 << 20)
    assert len(records) == 100 and whole and used > 100 * 20
    records, _, whole = decode_records_prefix(data, 0, 100)
    assert len(records) < 100 and not whole


def test_reads_deep_inside_compressed_batches_hold_their_opens_in_the_node_s_budget():
    import pytest

    from kraft.errors import Overloaded
    from kraft.storage.compression import ZSTD
    from kraft.storage.open_budget import OpenBudget
    from kraft.storage.record import Record
    from kraft.storage.record_batch import decode_records_prefix, encode_batch
    batch = encode_batch([Record(None, bytes(100), (), 1) for _ in range(20_000)], 0, -1, compression=ZSTD)
    budget = OpenBudget(limit=4 << 20)
    shown, _, whole = decode_records_prefix(batch, 0, 500, 19_990, budget)
    assert [r.offset for r in shown] == list(range(19_990, 19_995)) and not whole
    assert budget.held == 0  # given back when the read is done
    with budget.lease() as other:  # another read holds most of it: no room to open this far
        other.grow_to(3 << 20)
        with pytest.raises(Overloaded):
            decode_records_prefix(batch, 0, 500, 19_990, budget)
        assert budget.held == 3 << 20
    assert budget.held == 0
