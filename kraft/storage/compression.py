"""The codecs of Kafka record batches: gzip, snappy, lz4 and zstd, as the attributes'
low three bits name them (1..4).

Batches are stored as the producer sent them; these functions open them where records
are read (REST consume, compaction, recovery) and close them where a topic's
compression.type asks for another codec. Every decompression is bounded: a small batch
that claims to open into gigabytes is refused before the memory is spent.

snappy has two framings in the wild: Java clients write xerial's block framing, others
raw snappy; both are read, and xerial is written (what every client reads).
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib

import cramjam
import lz4.frame
import zstandard

from kraft.errors import CorruptBatchError, MessageTooLarge, UnsupportedCompressionError

NONE, GZIP, SNAPPY, LZ4, ZSTD = 0, 1, 2, 3, 4
CODEC_OF_NAME = {"uncompressed": NONE, "gzip": GZIP, "snappy": SNAPPY, "lz4": LZ4, "zstd": ZSTD}
NAME_OF_CODEC = {v: k for k, v in CODEC_OF_NAME.items()}
MAX_DECOMPRESSED_BYTES = 64 << 20  # per batch

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = struct.Struct(">8sii")
_XERIAL_BLOCK = 32 << 10
_INT32 = struct.Struct(">i")


def decompress(codec: int, data: bytes | memoryview, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """The records section of a batch compressed with `codec`, at most `limit` bytes."""
    try:
        if codec == GZIP:
            out = _gunzip(bytes(data), limit)
        elif codec == SNAPPY:
            out = _unsnappy(bytes(data), limit)
        elif codec == LZ4:
            out = _unlz4(bytes(data), limit)
        elif codec == ZSTD:
            out = _unzstd(bytes(data), limit)
        else:
            raise UnsupportedCompressionError(f"compression codec {codec} is not one of Kafka's (1..4)")
    except (CorruptBatchError, MessageTooLarge):
        raise
    except (zlib.error, cramjam.DecompressionError, RuntimeError, zstandard.ZstdError, EOFError,
            struct.error, ValueError) as exc:
        raise CorruptBatchError(f"{NAME_OF_CODEC.get(codec, codec)} data does not decompress: {exc}") from None
    return out


def decompress_prefix(codec: int, data: bytes | memoryview, want: int,
                      limit: int = MAX_DECOMPRESSED_BYTES) -> tuple[bytes, bool]:
    """At least the first ``want`` bytes of the records section (fewer only when that is
    all of it), and whether that is all of it: a small read of a huge batch opens only
    what it shows. Raw snappy has no frames to stop at, so it opens whole (within limit)."""
    want = min(want, limit)
    try:
        if codec == GZIP:
            return _gunzip_prefix(bytes(data), want)
        if codec == LZ4:
            lz4_opener = lz4.frame.LZ4FrameDecompressor()
            out = lz4_opener.decompress(bytes(data), max_length=want)
            return out, lz4_opener.eof
        if codec == ZSTD:
            with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(bytes(data)), read_across_frames=True) as reader:
                out = reader.read(want)
                return out, len(out) < want or not reader.read(1)
        if codec == SNAPPY and bytes(data[:len(_XERIAL_MAGIC)]) == _XERIAL_MAGIC:
            return _unsnappy_xerial_prefix(bytes(data), want, limit)
    except (zlib.error, cramjam.DecompressionError, RuntimeError, zstandard.ZstdError, EOFError,
            struct.error, ValueError) as exc:
        raise CorruptBatchError(f"{NAME_OF_CODEC.get(codec, codec)} data does not decompress: {exc}") from None
    return decompress(codec, data, limit), True


def _gunzip_prefix(data: bytes, want: int) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    total, rest = 0, data
    while True:  # member after member (want - total > 0 here: zlib takes 0 as "no bound")
        opener = zlib.decompressobj(wbits=31)
        part = opener.decompress(rest, want - total)
        parts.append(part)
        total += len(part)
        rest = opener.unused_data
        if not (opener.eof and rest and total < want):
            return b"".join(parts), opener.eof and not rest


def _unsnappy_xerial_prefix(data: bytes, want: int, limit: int) -> tuple[bytes, bool]:
    pos, total, blocks = _XERIAL_HEADER.size, 0, []
    while pos < len(data) and total < want:
        (size,) = _INT32.unpack_from(data, pos)
        block = data[pos + 4:pos + 4 + size]
        if size < 0 or len(block) != size:
            raise CorruptBatchError("snappy (xerial) block is cut short")
        total += cramjam.snappy.decompress_raw_len(block)
        if total > limit:
            raise _too_large(limit)
        blocks.append(bytes(cramjam.snappy.decompress_raw(block)))
        pos += 4 + size
    return b"".join(blocks), pos >= len(data)


def compress(codec: int, data: bytes) -> bytes:
    if codec == GZIP:
        return gzip.compress(data, compresslevel=6, mtime=0)
    if codec == SNAPPY:
        return _snappy_xerial(data)
    if codec == LZ4:
        framed: bytes = lz4.frame.compress(data)  # lz4 ships no types
        return framed
    if codec == ZSTD:
        return zstandard.ZstdCompressor(level=3).compress(data)
    raise UnsupportedCompressionError(f"compression codec {codec} is not one of Kafka's (1..4)")


def _too_large(limit: int) -> MessageTooLarge:
    return MessageTooLarge(f"a compressed batch opens into more than {limit} bytes")


def _gunzip(data: bytes, limit: int) -> bytes:
    """Every member of a gzip stream, as Java's GZIPInputStream (Kafka's reader) reads
    concatenated members; bytes after the last member that are not one are refused."""
    parts: list[bytes] = []
    total, rest = 0, data
    while True:
        opener = zlib.decompressobj(wbits=31)
        part = opener.decompress(rest, limit - total + 1)
        total += len(part)
        if total > limit:
            raise _too_large(limit)
        if not opener.eof:
            raise CorruptBatchError("gzip data is cut short")
        parts.append(part)
        rest = opener.unused_data
        if not rest:
            return b"".join(parts)


def _unsnappy(data: bytes, limit: int) -> bytes:
    if not data.startswith(_XERIAL_MAGIC):
        if cramjam.snappy.decompress_raw_len(data) > limit:
            raise _too_large(limit)
        return bytes(cramjam.snappy.decompress_raw(data))
    return _unsnappy_xerial_prefix(data, limit + 1, limit)[0]  # every block: the limit refuses first


def _snappy_xerial(data: bytes) -> bytes:
    parts = [_XERIAL_HEADER.pack(_XERIAL_MAGIC, 1, 1)]
    for start in range(0, len(data), _XERIAL_BLOCK):
        block = bytes(cramjam.snappy.compress_raw(data[start:start + _XERIAL_BLOCK]))
        parts.append(_INT32.pack(len(block)))
        parts.append(block)
    return b"".join(parts)


def _unlz4(data: bytes, limit: int) -> bytes:
    opener = lz4.frame.LZ4FrameDecompressor()
    out: bytes = opener.decompress(data, max_length=limit + 1)  # lz4 ships no types
    if len(out) > limit:
        raise _too_large(limit)
    if not opener.eof:
        raise CorruptBatchError("lz4 frame is cut short")
    return out


# The most a zstd block can open into per byte it takes: 128 KiB from a 3-byte RLE block.
_ZSTD_MAX_RATIO = (128 << 10) // 3


def _unzstd(data: bytes, limit: int) -> bytes:
    """Every frame of a zstd stream, opened once, as zstd-jni's stream (Kafka's reader)
    reads concatenated frames; anything else after a frame is refused. Fed in pieces no
    larger than could open into what the limit leaves, so the limit holds within 128 KiB."""
    parts: list[bytes] = []
    total, pos = 0, 0
    opener = zstandard.ZstdDecompressor().decompressobj()
    while pos < len(data):
        step = max(16, (limit - total) // _ZSTD_MAX_RATIO)
        piece = data[pos:pos + step]
        part = opener.decompress(piece)
        pos += len(piece)
        total += len(part)
        if total > limit:
            raise _too_large(limit)
        parts.append(part)
        if opener.eof:  # a frame ended: what it did not take starts the next one
            pos -= len(opener.unused_data)
            opener = zstandard.ZstdDecompressor().decompressobj()
            if pos == len(data):
                return b"".join(parts)
    raise CorruptBatchError("zstd frame is cut short")


def stored_codec(compression_type: str, sent: int) -> int:
    """The codec a batch is stored with under a topic's compression.type: "producer"
    keeps what the producer sent (REST producers send uncompressed records), any
    other value names the codec, "uncompressed" none."""
    if compression_type == "producer":
        return sent
    return CODEC_OF_NAME[compression_type]
