"""Opening one Raft frame's payload: zlib, then pysyncobj's pickle, both bounded (sans-IO).

A frame's payload is a zlib stream of a pickle (protocol 2). Two rules keep a frame, even
one that passed authentication, from costing more than its share:

- the zlib stream may open into at most MAX_MESSAGE_BYTES: a 64 MiB frame of zeros
  would otherwise open into about 64 GiB;
- the pickle may name no callable but the five the library's messages need (bytes,
  set, frozenset and bytearray are rebuilt through them under protocol 2; b"" is a call
  of bytes itself), and those only with the arguments protocol 2 gives them: any other
  global in a pickle runs code on load, and bytes(n) or bytearray(n) allocates n bytes.

Anything else is FrameRefused; the connection that sent it ends.
"""

from __future__ import annotations

import _codecs
import io
import pickle
import zlib

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # as large as a frame may be: messages are entries of one batch


class FrameRefused(ValueError):
    """A payload that does not open into a message of the library's shape."""


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    # protocol 2 writes bytes as _codecs.encode(text, "latin1"); no other codec is asked for
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise FrameRefused(f"pickle asks for the codec {encoding!r}")
    return _codecs.encode(text, "latin1")


def _empty_bytes(*args: object) -> bytes:
    # protocol 2 writes b"" as bytes(); a size argument would allocate that many zeros
    if args:
        raise FrameRefused("pickle calls bytes with arguments")
    return b""


def _bytearray(*args: object) -> bytearray:
    # protocol 2 writes bytearray(b"...") or bytearray(); never a size to fill with zeros
    if len(args) > 1 or (args and not isinstance(args[0], bytes)):
        raise FrameRefused("pickle calls bytearray with other than bytes")
    return bytearray(*args)  # type: ignore[arg-type]


_ALLOWED = {
    ("_codecs", "encode"): _latin1,
    ("builtins", "bytes"): _empty_bytes,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): _bytearray,
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        module = "builtins" if module == "__builtin__" else module  # protocol 2's name for it
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise FrameRefused(f"pickle names {module}.{name}") from None


def loads(data: bytes) -> object:
    """A pickle of plain values (what pysyncobj sends); FrameRefused for anything else."""
    try:
        return _PlainUnpickler(io.BytesIO(data)).load()
    except FrameRefused:
        raise
    except Exception as exc:  # a malformed pickle fails in many ways: all are one refusal
        raise FrameRefused(f"not a pickle: {type(exc).__name__}") from None


def inflate(data: bytes, limit: int = MAX_MESSAGE_BYTES) -> bytes:
    """The zlib stream `data`, opened into at most `limit` bytes."""
    opener = zlib.decompressobj()
    try:
        out = opener.decompress(data, limit + 1)
    except zlib.error as exc:
        raise FrameRefused(f"payload does not decompress: {exc}") from None
    if len(out) > limit:
        raise FrameRefused(f"payload opens into more than {limit} bytes")
    if not opener.eof:
        raise FrameRefused("payload is cut short")
    return out


def open_payload(data: bytes) -> object:
    """The message in a decrypted frame payload."""
    return loads(inflate(data))


def kafka_request_shape(head: bytes) -> bool:
    """The first 8 bytes of a connection look like a Kafka request (a big-endian size of
    a few bytes to a megabyte, then an API key and version Kafka has): a Kafka client
    given a Raft port, worth a hint. A controller's frames never match: after their
    size comes a Fernet token, base64 text ("gA..."), never an API key below 100."""
    if len(head) < 8:
        return False
    size = int.from_bytes(head[0:4], "big")
    api_key = int.from_bytes(head[4:6], "big", signed=True)
    version = int.from_bytes(head[6:8], "big", signed=True)
    return 8 <= size <= 1 << 20 and 0 <= api_key < 100 and 0 <= version < 30
