"""The bytes of the `hostile` scenario's abuse, built apart from any socket (pure).

Kafka frames are a 4-byte big-endian length and then the request (header and body).
Ordinary requests are encoded by kio; the hostile ones are those with a byte or two
changed (a huge array length, a null where an array must be, unknown tagged fields, a
tagged field longer than the frame) and seeded random mutations of ordinary ones.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import functools
import hashlib
import hmac
import random
import struct
import time
from typing import Any

from kio.index import load_request_schema

from kraft.kafka.wire.codec import decode_response, encode_request
from kraft.kafka.wire.frame_bounds import encode_uvarint
from kraft.storage.compression import ZSTD
from kraft.storage.record_batch import Record, encode_batch

# Frames that once aborted a broker: Metadata v12 and DescribeConfigs v4 whose first
# array claims 4,294,967,294 entries (an unsigned varint of 0xffffffff) in a 10-byte body.
KNOWN_KILLERS = {
    "Metadata v12 with a 4-billion-entry topic array": bytes.fromhex("0003000c00000007ffff00ffffffff0f"),
    "DescribeConfigs v4 with a 4-billion-entry resource array": bytes.fromhex("0020000400000007ffff00ffffffff0f"),
}
HUGE_BATCH_RECORDS = 1_000_000
DECLARED_FRAME_SIZES = (100 << 20, 100 << 20, 56 << 20)  # 256 MiB declared by three connections
_SIZE = struct.Struct(">i")


def framed(payload: bytes) -> bytes:
    return _SIZE.pack(len(payload)) + payload


def declared_size(size: int) -> bytes:
    """The length prefix of a frame that never comes."""
    return _SIZE.pack(size)


def request(api_key: int, version: int, correlation_id: int = 1, client_id: str = "hostile", **fields) -> bytes:
    """An ordinary request of any API and version kio knows, framed."""
    cls: Any = load_request_schema(api_key, version)
    return encode_request(cls(**fields), correlation_id, client_id)


def api_versions(correlation_id: int = 1) -> bytes:
    """An ApiVersions v3, what every client sends first (answered before any login)."""
    return request(18, 3, correlation_id, client_software_name="hostile", client_software_version="1")


def decode_answer(api_key: int, version: int, payload: bytes):
    """The response entity of an answer frame's payload (without its length)."""
    return decode_response(api_key, version, payload)


def error_codes(entity) -> list[int]:
    """Every error_code anywhere in a decoded answer, top level first."""
    out: list[int] = []
    if dataclasses.is_dataclass(entity):
        for f in dataclasses.fields(entity):
            value = getattr(entity, f.name)
            if f.name == "error_code":
                out.append(int(getattr(value, "value", value)))
            else:
                out.extend(error_codes(value))
    elif isinstance(entity, tuple):
        for item in entity:
            out.extend(error_codes(item))
    return out


def ordinary_requests(topic: str) -> dict[str, bytes]:
    """Real requests a client sends, the material that mutations start from."""
    no_wait = datetime.timedelta(0)
    load = load_request_schema
    metadata_topic = _element(load(3, 12), "topics").__args__[0]
    resource = _element(load(32, 4), "resources")
    return {
        "ApiVersions v3": api_versions(),
        "Metadata v12": request(3, 12, topics=(metadata_topic(topic_id=None, name=topic),),
                                allow_auto_topic_creation=False, include_topic_authorized_operations=False),
        "DescribeConfigs v4": request(32, 4, resources=(resource(resource_type=2, resource_name=topic,
                                                                 configuration_keys=None),),
                                      include_synonyms=False, include_documentation=False),
        "Fetch v11 (empty)": request(1, 11, replica_id=-1, max_wait=no_wait, min_bytes=0, max_bytes=1024,
                                     isolation_level=0, session_id=0, session_epoch=-1, topics=(),
                                     forgotten_topics_data=(), rack_id=""),
    }


def _element(cls: Any, name: str) -> Any:
    """The element type of a kio entity's tuple field."""
    return cls.__dataclass_fields__[name].type.__args__[0]


def _header(api_key: int, version: int, correlation_id: int, flexible: bool) -> bytes:
    client = b"hostile"
    head = struct.pack(">hhih", api_key, version, correlation_id, len(client)) + client
    return head + (b"\0" if flexible else b"")  # header v2 ends with an empty tag buffer


def null_arrays() -> dict[str, bytes]:
    """Requests whose array is null: legal for Metadata's topics (all topics), refused
    elsewhere (an array that must be there)."""
    h = _header
    return {
        "Metadata v12, topics null": framed(h(3, 12, 11, True) + b"\x00\x00\x00\x00"),
        "DescribeConfigs v4, resources null": framed(h(32, 4, 12, True) + b"\x00\x00\x00\x00"),
        "CreateTopics v5, topics null": framed(h(19, 5, 13, True) + b"\x00" + struct.pack(">i", 1000) + b"\x00\x00"),
        "DeleteRecords v1, topics null": framed(h(21, 1, 14, False) + struct.pack(">ii", -1, 1000)),
        "Produce v7, topic_data null": framed(h(0, 7, 15, False) + struct.pack(">hhii", -1, -1, 1000, -1)),
    }


def with_tag_buffer(frame: bytes, tags: bytes) -> bytes:
    """A flexible request whose closing (empty) tag buffer is replaced by `tags`."""
    payload = frame[4:]
    if payload[-1:] != b"\0":
        raise ValueError("not a flexible request ending in an empty tag buffer")
    return framed(payload[:-1] + tags)


def tagged_field_frames(topic: str) -> dict[str, bytes]:
    base = ordinary_requests(topic)
    unknown = encode_uvarint(2) + encode_uvarint(9999) + encode_uvarint(3) + b"abc" + encode_uvarint(10000) + encode_uvarint(0)
    too_long = encode_uvarint(1) + encode_uvarint(5) + encode_uvarint(0x7FFFFFFF)
    too_many = encode_uvarint(0xFFFFFFFF)
    return {
        "Metadata v12 with two unknown tagged fields": with_tag_buffer(base["Metadata v12"], unknown),
        "ApiVersions v3 with two unknown tagged fields": with_tag_buffer(base["ApiVersions v3"], unknown),
        "Metadata v12 with a tagged field longer than the frame": with_tag_buffer(base["Metadata v12"], too_long),
        "DescribeConfigs v4 with 4 billion tagged fields": with_tag_buffer(base["DescribeConfigs v4"], too_many),
    }


def mutations(topic: str, count: int, seed: int) -> dict[str, bytes]:
    """`count` seeded mutations of ordinary requests, each framed with its true length."""
    rng = random.Random(seed)
    bases = sorted(ordinary_requests(topic).items())
    out = {}
    for i in range(count):
        name, frame = rng.choice(bases)
        payload = bytearray(frame[4:])
        how = rng.choice(("flip", "0xff", "truncate", "append", "splice"))
        at = rng.randrange(len(payload))
        if how == "flip":
            payload[at] ^= 1 << rng.randrange(8)
        elif how == "0xff":
            payload[at:at + 4] = b"\xff\xff\xff\xff"
        elif how == "truncate":
            del payload[max(at, 8):]  # keep the API key, version and correlation id
        elif how == "append":
            payload += rng.randbytes(rng.randrange(1, 64))
        else:
            payload[at:at] = rng.randbytes(rng.randrange(1, 16))
        out[f"mutation {i}: {name}, {how} at {at}"] = framed(bytes(payload))
    return out


@functools.cache
def huge_batch(records: int = HUGE_BATCH_RECORDS) -> bytes:
    """One zstd batch of a million one-byte records (about 800 KB on the wire, 8 MB open),
    stamped now: a batch stamped long ago is past retention.ms and deleted at the next check."""
    one = Record(None, b"x", (), int(time.time() * 1000))
    return encode_batch([one] * records, 0, -1, compression=ZSTD)


def produce(topic: str, partition: int, batch: bytes, correlation_id: int = 1) -> bytes:
    """A Produce v9 (acks=all) of one batch."""
    cls = load_request_schema(0, 9)
    topic_data = _element(cls, "topic_data")
    part = _element(topic_data, "partition_data")
    return request(0, 9, correlation_id, transactional_id=None, acks=-1, timeout=datetime.timedelta(seconds=20),
                   topic_data=(topic_data(name=topic, partition_data=(part(index=partition, records=batch),)),))


def fetch(topic: str, partition: int, offset: int, correlation_id: int = 1) -> bytes:
    """A Fetch v11 from `offset` (no session, no wait)."""
    cls = load_request_schema(1, 11)
    ftopic = _element(cls, "topics")
    fpart = _element(ftopic, "partitions")
    return request(1, 11, correlation_id, replica_id=-1, max_wait=datetime.timedelta(0), min_bytes=0,
                   max_bytes=1 << 20, isolation_level=0, session_id=0, session_epoch=-1, rack_id="",
                   forgotten_topics_data=(), topics=(ftopic(topic=topic, partitions=(fpart(
                       partition=partition, current_leader_epoch=-1, fetch_offset=offset, log_start_offset=-1,
                       partition_max_bytes=1 << 20),)),))


def delete_records(topic: str, partition: int, before: int, correlation_id: int = 1) -> bytes:
    cls = load_request_schema(21, 2)
    dtopic = _element(cls, "topics")
    dpart = _element(dtopic, "partitions")
    return request(21, 2, correlation_id, timeout=datetime.timedelta(seconds=10),
                   topics=(dtopic(name=topic, partitions=(dpart(partition_index=partition, offset=before),)),))


def sasl_handshake(mechanism: str, correlation_id: int = 1) -> bytes:
    return request(17, 1, correlation_id, mechanism=mechanism)


def sasl_authenticate(auth_bytes: bytes, correlation_id: int = 2) -> bytes:
    return request(36, 2, correlation_id, auth_bytes=auth_bytes)


def plain_auth(user: str, password: str) -> bytes:
    return b"\0" + user.encode() + b"\0" + password.encode()


# -- a SCRAM-SHA-256 client (RFC 5802), to fail its proof on purpose -------------------

def scram_first(user: str, nonce: str) -> str:
    """The client-first-message-bare (the GS2 header "n,," goes in front on the wire)."""
    return f"n={user},r={nonce}"


def scram_final(first_bare: str, server_first: str, password: str) -> str:
    """The client-final-message for `password` (a wrong one gets the exchange refused)."""
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    return f"{without_proof},p={base64.b64encode(proof).decode()}"


_INTERNAL_DETAIL = ("Traceback", 'File "', ".py\"", ".py,", "/tmp/", "/home/", "site-packages")


def leaks_internals(text: str) -> bool:
    """An answer that shows a traceback or a file path: what no client may be shown."""
    return any(mark in text for mark in _INTERNAL_DETAIL)
