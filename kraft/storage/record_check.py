"""Check a RecordBatch v2 the way decode_records would, without building records.

A leader takes batches from clients it cannot trust, and every batch it stores must
decode later (REST consume, compaction, recovery). Decoding each record into objects
only to throw them away was a third of a leader's CPU under produce load; this walk
checks the same things — the CRC, the codec's data, every record's framing and
field lengths, header names as UTF-8, offset deltas 0..n-1, nothing after the last
record — and allocates nothing per record.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, NamedTuple, TypeVar

from kraft.errors import CorruptBatchError, InvalidAppend
from kraft.storage.record_batch import HEADER_SIZE, BatchHeader, ensure_valid, record_section
from kraft.storage.varint import VarintError, read_varint, read_varlong

# Records walked between two yields of check_records_in_slices: about 4 ms of an idle
# node's event loop, still under 20 ms on a machine loaded five times over; an ordinary
# batch is one slice.
SLICE_RECORDS = 4_096
# A codec's input above this size is opened or closed off the event loop (a 1 MB gzip
# batch can open into 64 MiB: a tenth of a second or more); below it the hop to a
# worker thread costs more than it saves.
OFFLOAD_ABOVE_BYTES = 16 << 10
T = TypeVar("T")


class Offload(NamedTuple):
    """What sliced work yields for a step its driver may run on a worker thread (a
    codec's C code, which releases the GIL, on bytes no one else touches); the driver
    sends the step's result back in. A bare ``None`` is a plain pause."""

    run: Callable[[], Any]


Sliced = Generator[Offload | None, Any, T]


def check_records(batch: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """The header of the sound batch at ``pos``; CorruptBatchError (or the codec's
    errors) otherwise, InvalidAppend for records that parse but do not count 0, 1, 2..."""
    return run_to_end(check_records_in_slices(batch, pos))


def run_to_end(work: Sliced[T]) -> T:
    """What a sliced piece of work returns, run without pauses (offloaded steps inline)."""
    result = None
    while True:
        try:
            step = work.send(result)
        except StopIteration as done:
            value: T = done.value  # the generator's return value, a T by Sliced[T]
            return value
        result = None if step is None else step.run()


def maybe_offload(run: Callable[[], T], input_size: int) -> Sliced[T]:
    """``run()``'s result, computed off the loop by the driver when its input is large."""
    if input_size <= OFFLOAD_ABOVE_BYTES:
        return run()
    result: T = yield Offload(run)  # the driver sends back run()'s result
    return result


def check_records_in_slices(batch: bytes | bytearray | memoryview, pos: int = 0) -> Sliced[BatchHeader]:
    """check_records as a generator that yields after every SLICE_RECORDS records, so
    its driver can let other work run between slices; it returns the header."""
    header, _ = yield from walk_records(batch, pos)
    return header


def walk_records(batch: bytes | bytearray | memoryview, pos: int = 0,
                 keyless: list[int] | None = None) -> Sliced[tuple[BatchHeader, bytes | bytearray | memoryview]]:
    """check_records_in_slices returning also the batch's records section (opened, when
    compressed); with ``keyless``, the index of every record without a key is added to it."""
    header = ensure_valid(batch, pos)
    if header.compression:
        size = header.size - HEADER_SIZE
        section: bytes | bytearray | memoryview = yield from maybe_offload(
            lambda: record_section(batch, pos, header), size)
        cursor, end = 0, len(section)
    else:
        section, cursor, end = batch, pos + HEADER_SIZE, pos + header.size
    for first in range(0, header.record_count, SLICE_RECORDS):
        if first:
            yield None
        try:
            cursor = _walk(section, cursor, end, first, min(first + SLICE_RECORDS, header.record_count), keyless)
        except VarintError as exc:
            raise CorruptBatchError(f"batch at offset {header.base_offset}: {exc}") from None
        except IndexError:
            raise CorruptBatchError(f"batch at offset {header.base_offset}: a record runs past the batch end") from None
    if cursor != end:
        raise CorruptBatchError(f"batch at offset {header.base_offset} has {end - cursor} bytes after its records")
    if header.compression:
        return header, section
    return header, memoryview(batch)[pos + HEADER_SIZE:pos + header.size]


def _walk(buf: bytes | bytearray | memoryview, pos: int, end: int, first: int, stop: int, keyless: list[int] | None) -> int:
    """Position after the well-formed records of offset deltas ``first``..``stop - 1``
    starting at ``pos``.

    One function with the one- and two-byte varint cases written out (longer ones go
    to read_varint): a call per field doubled the cost. Reading past ``buf`` raises IndexError (the caller's)."""
    for expected_delta in range(first, stop):
        b = buf[pos]  # record length: 1 or 2 bytes for records under 8 KiB
        if b < 0x80:
            length = (b >> 1) ^ -(b & 1)
            pos += 1
        elif (b2 := buf[pos + 1]) < 0x80:
            z = (b & 0x7F) | (b2 << 7)
            length = (z >> 1) ^ -(z & 1)
            pos += 2
        else:
            length, pos = read_varint(buf, pos)
        stop = pos + length
        if length < 0 or stop > end:
            raise CorruptBatchError(f"record length {length} runs past the batch end")
        pos += 1  # attributes
        if buf[pos] < 0x80:  # timestamp delta: any value will do
            pos += 1
        elif buf[pos + 1] < 0x80:
            pos += 2
        else:
            _, pos = read_varlong(buf, pos)
        b = buf[pos]  # offset delta: two bytes from 64 on, so most of a large batch's
        if b < 0x80:
            delta = (b >> 1) ^ -(b & 1)
            pos += 1
        elif (b2 := buf[pos + 1]) < 0x80:
            z = (b & 0x7F) | (b2 << 7)
            delta = (z >> 1) ^ -(z & 1)
            pos += 2
        else:
            delta, pos = read_varint(buf, pos)
        if delta != expected_delta:
            raise InvalidAppend("records must carry offset deltas 0, 1, 2, ...")  # Kafka's INVALID_RECORD
        b = buf[pos]  # the key: null (one byte, 0x01) in most records
        if b == 1:
            if keyless is not None:
                keyless.append(expected_delta)
            pos += 1
        else:
            pos = _field(buf, pos, stop)[1]
        b = buf[pos]  # the value
        if b < 0x80:
            size = (b >> 1) ^ -(b & 1)
            pos += 1
        elif (b2 := buf[pos + 1]) < 0x80:
            z = (b & 0x7F) | (b2 << 7)
            size = (z >> 1) ^ -(z & 1)
            pos += 2
        else:
            size, pos = read_varint(buf, pos)
        if size >= 0:
            pos += size
        elif size != -1:
            raise CorruptBatchError(f"field length {size} runs past the record end")
        if pos >= stop:
            raise CorruptBatchError(f"record declares {length} bytes but its fields need more")
        if buf[pos] == 0:  # no headers: the common case
            pos += 1
        else:
            pos = _headers(buf, pos, stop)
        if pos != stop:
            raise CorruptBatchError(f"record declares {length} bytes but its fields use {pos - stop + length}")
    return pos


def _headers(buf: bytes | bytearray | memoryview, pos: int, stop: int) -> int:
    count, pos = read_varint(buf, pos)
    if count < 0:
        raise CorruptBatchError(f"negative header count {count}")
    for _ in range(count):
        name_at, pos = _field(buf, pos, stop)
        if name_at < 0:
            raise CorruptBatchError("null header key")
        try:
            bytes(buf[name_at:pos]).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptBatchError("header key is not valid UTF-8") from None
        _, pos = _field(buf, pos, stop)
    return pos


def _field(buf: bytes | bytearray | memoryview, pos: int, stop: int) -> tuple[int, int]:
    """(where the field's bytes start, or -1 for null; the position after it)."""
    length, pos = read_varint(buf, pos)
    if length == -1:
        return -1, pos
    if length < 0 or pos + length > stop:
        raise CorruptBatchError(f"field length {length} runs past the record end")
    return pos, pos + length
