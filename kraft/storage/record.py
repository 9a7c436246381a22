"""One record inside a Kafka RecordBatch v2, and its varint wire form.

Layout (Kafka protocol docs, "Record"): length varint, attributes int8,
timestampDelta varlong, offsetDelta varint, keyLength varint (-1 = null), key,
valueLength varint (-1 = null), value, header count varint, then per header:
keyLength varint, key (UTF-8), valueLength varint (-1 = null), value.
"""
from __future__ import annotations

from dataclasses import dataclass

from kraft.errors import CorruptBatchError
from kraft.storage.varint import VarintError, read_varint, read_varlong, varint_bytes, write_varint

Header = tuple[str, bytes | None]


# Not frozen: a frozen dataclass's __init__ costs ~4x more, and produce and consume
# build one Record per record. Nothing changes a Record after it is made.
@dataclass(slots=True)
class Record:
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()
    timestamp_ms: int = 0
    # None until the record is in a log; decoding fills in the absolute offset.
    offset: int | None = None


NULL = varint_bytes(-1)
NO_HEADERS = varint_bytes(0)
ATTRIBUTES = b"\x00"  # unused in v2, always 0


def encode_record(parts: list[bytes], record: Record, offset_delta: int, timestamp_delta: int) -> None:
    """Append the pieces of ``record``'s length-prefixed wire form to ``parts``.
    Pieces, not one buffer: the batch joins everything once."""
    key, value = record.key, record.value
    ts = varint_bytes(timestamp_delta)
    od = varint_bytes(offset_delta)
    kl = NULL if key is None else varint_bytes(len(key))
    vl = NULL if value is None else varint_bytes(len(value))
    hd = NO_HEADERS if not record.headers else _headers(record.headers)
    size = (1 + len(ts) + len(od) + len(kl) + len(vl) + len(hd)
            + (0 if key is None else len(key)) + (0 if value is None else len(value)))
    parts.extend((varint_bytes(size), ATTRIBUTES, ts, od, kl))
    if key is not None:
        parts.append(key)
    parts.append(vl)
    if value is not None:
        parts.append(value)
    parts.append(hd)


def _headers(headers: tuple[Header, ...]) -> bytes:
    out = bytearray()
    write_varint(out, len(headers))
    for name, value in headers:
        if name is None:
            raise ValueError("header keys cannot be null")
        _write_bytes(out, name.encode("utf-8"))
        _write_bytes(out, value)
    return bytes(out)


def decode_record(
    buf: bytes | bytearray | memoryview, pos: int, end: int, base_offset: int, base_timestamp: int,
    append_time: int | None = None,
) -> tuple[Record, int]:
    """Decode the record at ``pos`` (not past ``end``); return it and the next position.
    ``append_time``: the batch's LogAppendTime, every record's timestamp when set."""
    try:
        length, pos = read_varint(buf, pos)
        stop = pos + length
        if length < 0 or stop > end:
            raise CorruptBatchError(f"record length {length} runs past the batch end")
        pos += 1  # attributes
        # the deltas and the header count fit one byte in most records: read here, the
        # general reader only past that (a call costs as much as the reading)
        b = buf[pos]
        if b < 0x80:
            ts_delta, pos = (b >> 1) ^ -(b & 1), pos + 1
        else:
            ts_delta, pos = read_varlong(buf, pos)
        b = buf[pos]
        if b < 0x80:
            offset_delta, pos = (b >> 1) ^ -(b & 1), pos + 1
        else:
            offset_delta, pos = read_varint(buf, pos)
        key, pos = _read_bytes(buf, pos, stop)
        value, pos = _read_bytes(buf, pos, stop)
        if buf[pos] == 0:  # no headers
            headers: tuple[Header, ...] = ()
            pos += 1
        else:
            headers, pos = _read_headers(buf, pos, stop)
    except VarintError as exc:
        raise CorruptBatchError(str(exc)) from None
    except IndexError:
        raise CorruptBatchError("record truncated") from None
    if pos != stop:
        raise CorruptBatchError(f"record declares {length} bytes but its fields use {pos - stop + length}")
    timestamp = base_timestamp + ts_delta if append_time is None else append_time
    return Record(key, value, headers, timestamp, base_offset + offset_delta), pos


def _read_headers(buf: bytes | bytearray | memoryview, pos: int, stop: int) -> tuple[tuple[Header, ...], int]:
    count, pos = read_varint(buf, pos)
    if count < 0:
        raise CorruptBatchError(f"negative header count {count}")
    headers = []
    for _ in range(count):
        name, pos = _read_bytes(buf, pos, stop)
        if name is None:
            raise CorruptBatchError("null header key")
        hvalue, pos = _read_bytes(buf, pos, stop)
        try:
            headers.append((name.decode("utf-8"), hvalue))
        except UnicodeDecodeError:
            raise CorruptBatchError("header key is not valid UTF-8") from None
    return tuple(headers), pos


def _write_bytes(out: bytearray, data: bytes | None) -> None:
    if data is None:
        out.append(1)  # zig-zag varint of -1
        return
    write_varint(out, len(data))
    out += data


def _read_bytes(buf: bytes | bytearray | memoryview, pos: int, stop: int) -> tuple[bytes | None, int]:
    b = buf[pos]
    if b < 0x80:  # a null (-1) or a length below 64: one byte
        length, pos = (b >> 1) ^ -(b & 1), pos + 1
    else:
        length, pos = read_varint(buf, pos)
    if length == -1:
        return None, pos
    if length < -1 or pos + length > stop:
        raise CorruptBatchError(f"field length {length} runs past the record end")
    return bytes(buf[pos:pos + length]), pos + length


def record_size(record: Record) -> int:
    """Key, value and header bytes: what max.message.bytes counts for one record."""
    size = len(record.key or b"") + len(record.value or b"")
    return size + sum(len(k) + len(v or b"") for k, v in record.headers)
