"""One record inside a Kafka RecordBatch v2, and its varint wire form.

Layout (Kafka protocol docs, "Record"): length varint, attributes int8,
timestampDelta varlong, offsetDelta varint, keyLength varint (-1 = null), key,
valueLength varint (-1 = null), value, header count varint, then per header:
keyLength varint, key (UTF-8), valueLength varint (-1 = null), value.
"""
from __future__ import annotations

from dataclasses import dataclass

from replication.log_errors import CorruptBatchError
from replication.varint import VarintError, read_varint, read_varlong, write_varint

Header = tuple[str, bytes | None]


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()
    timestamp_ms: int = 0
    # None until the record is in a log; decoding fills in the absolute offset.
    offset: int | None = None


def encode_record(out: bytearray, record: Record, offset_delta: int, timestamp_delta: int) -> None:
    """Append the length-prefixed wire form of ``record`` to ``out``."""
    body = bytearray(b"\x00")  # attributes: unused in v2, always 0
    write_varint(body, timestamp_delta)
    write_varint(body, offset_delta)
    _write_bytes(body, record.key)
    _write_bytes(body, record.value)
    write_varint(body, len(record.headers))
    for name, value in record.headers:
        if name is None:
            raise ValueError("header keys cannot be null")
        _write_bytes(body, name.encode("utf-8"))
        _write_bytes(body, value)
    write_varint(out, len(body))
    out += body


def decode_record(
    buf: bytes | memoryview, pos: int, end: int, base_offset: int, base_timestamp: int
) -> tuple[Record, int]:
    """Decode the record at ``pos`` (not past ``end``); return it and the next position."""
    try:
        length, pos = read_varint(buf, pos)
        stop = pos + length
        if length < 0 or stop > end:
            raise CorruptBatchError(f"record length {length} runs past the batch end")
        pos += 1  # attributes
        ts_delta, pos = read_varlong(buf, pos)
        offset_delta, pos = read_varint(buf, pos)
        key, pos = _read_bytes(buf, pos, stop)
        value, pos = _read_bytes(buf, pos, stop)
        count, pos = read_varint(buf, pos)
        if count < 0:
            raise CorruptBatchError(f"negative header count {count}")
        headers = []
        for _ in range(count):
            name, pos = _read_bytes(buf, pos, stop)
            if name is None:
                raise CorruptBatchError("null header key")
            hvalue, pos = _read_bytes(buf, pos, stop)
            headers.append((name.decode("utf-8"), hvalue))
    except VarintError as exc:
        raise CorruptBatchError(str(exc)) from None
    except UnicodeDecodeError:
        raise CorruptBatchError("header key is not valid UTF-8") from None
    if pos != stop:
        raise CorruptBatchError(f"record declares {length} bytes but its fields use {pos - stop + length}")
    record = Record(key, value, tuple(headers), base_timestamp + ts_delta, base_offset + offset_delta)
    return record, pos


def _write_bytes(out: bytearray, data: bytes | None) -> None:
    if data is None:
        out.append(1)  # zig-zag varint of -1
        return
    write_varint(out, len(data))
    out += data


def _read_bytes(buf: bytes | memoryview, pos: int, stop: int) -> tuple[bytes | None, int]:
    length, pos = read_varint(buf, pos)
    if length == -1:
        return None, pos
    if length < -1 or pos + length > stop:
        raise CorruptBatchError(f"field length {length} runs past the record end")
    return bytes(buf[pos:pos + length]), pos + length
