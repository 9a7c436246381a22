"""A REST read of tiny records is bounded by count as well as bytes: a megabyte of
10-byte records is a hundred thousand records to decode and render, so the read stops
at max_records and says where the next one starts."""

from kraft.broker.isolation import visible_records
from kraft.storage.record import Record
from kraft.storage.record_batch import encode_batch

TINY = Record(None, b"1", (), 1_700_000_000_000)


def tiny_batches(count: int, per_batch: int) -> bytes:
    return b"".join(encode_batch([TINY] * per_batch, base, 0) for base in range(0, count, per_batch))


def test_a_read_stops_at_max_records_across_batches_and_goes_on_from_there():
    data = tiny_batches(5_000, 100)
    shown, next_position = visible_records(data, 0, max_bytes=1 << 20, max_records=1_234)
    assert [r.offset for r in shown] == list(range(1_234))
    assert next_position == 1_234
    rest, after = visible_records(data, next_position, max_bytes=1 << 20, max_records=10_000)
    assert [r.offset for r in rest] == list(range(1_234, 5_000)) and after == 5_000


def test_one_huge_batch_of_tiny_records_is_decoded_only_up_to_max_records():
    data = encode_batch([TINY] * 50_000, 0, 0)
    shown, next_position = visible_records(data, 10, max_bytes=1 << 20, max_records=300)
    assert [r.offset for r in shown] == list(range(10, 310)) and next_position == 310


def test_without_max_records_only_bytes_bound_a_read():
    data = tiny_batches(3_000, 1_000)
    shown, next_position = visible_records(data, 0, max_bytes=1 << 20)
    assert len(shown) == 3_000 and next_position == 3_000
