"""Request frames with hostile lengths: refused before anything is allocated.

kio's native reader reserves an array's room as soon as it reads the array's length; a
frame claiming 2^32-1 elements aborted the broker. The decoder runs here in a child
process with its address space capped, so an over-allocation fails the test (MemoryError
or an abort) instead of taking pytest down.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from kio.serial import entity_writer

from kafka_request_samples import array_paths, request_frame, served_versions
from kraft.kafka.wire import frame_bounds
from kraft.kafka.wire.codec import MalformedRequest, decode_request, load_request_schema
from kraft.kafka.connection.dispatch import parse

ADDRESS_SPACE_BYTES = 1 << 30
HERE = Path(__file__).parent

# every served API and version; each length replaced by huge values, and every cut
_MUTATE_ALL = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    sys.path.insert(0, {here!r})
    from kafka_request_samples import request_frame, served_versions
    from kraft.kafka.wire.codec import MalformedRequest
    from kraft.kafka.connection.dispatch import parse

    HUGE = [b"\\x7f\\xff\\xff\\xff", b"\\x7f\\xff", b"\\xff\\xff\\xff\\xff\\x0f", b"\\xfe\\xff\\xff\\xff\\x07"]
    served = refused = 0
    for key, version in served_versions():
        frame = request_frame(key, version)
        variants = [frame[:cut] for cut in range(8, len(frame))]
        for at in range(8, len(frame)):
            variants += [frame[:at] + huge + frame[at + len(huge):] for huge in HUGE]
            variants.append(frame[:at] + HUGE[2] + frame[at + 1:])  # a one-byte varint made five
        for variant in variants:
            try:
                parse(variant)
                served += 1
            except MalformedRequest:
                refused += 1
    print(served, refused)
""")


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
def test_huge_and_cut_lengths_in_every_served_request_are_refused_within_a_memory_bound():
    script = _MUTATE_ALL.format(limit=ADDRESS_SPACE_BYTES, here=str(HERE))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    served, refused = map(int, done.stdout.split())
    assert refused > 10_000 and served > 0  # every version's frame was cut and stretched


def _one_frame_under_the_cap(frame_hex: str) -> subprocess.CompletedProcess:
    script = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE_BYTES}, {ADDRESS_SPACE_BYTES}))
        from kraft.kafka.wire.codec import MalformedRequest
        from kraft.kafka.connection.dispatch import parse
        try:
            parse(bytes.fromhex({frame_hex!r}))
        except MalformedRequest as exc:
            print("refused:", exc)
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("frame_hex", ["0003000c00000007ffff00ffffffff0f", "0020000400000007ffff00ffffffff0f"],
                         ids=["metadata-v12", "describe-configs-v4"])
def test_the_reported_frames_are_refused(frame_hex):
    done = _one_frame_under_the_cap(frame_hex)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused: " in done.stdout and "elements claimed" in done.stdout


def test_every_sample_request_passes_the_check_unchanged():
    for key, version in served_versions():
        frame = request_frame(key, version)
        schema = load_request_schema(key, version)
        assert frame_bounds.check(frame, schema.__header_schema__, schema) is frame, (key, version)


def _with_unknown_tag(tags: bytes) -> bytes:
    """The tagged-field section `tags` (an empty one, b"\\x00") with tag 99 of 3 bytes added."""
    count = tags[0]
    return bytes([count + 1]) + tags[1:] + b"\x63\x03abc"


def test_unknown_tagged_fields_in_the_header_and_the_body_are_skipped():
    frame = request_frame(3, 12)  # Metadata v12: header v2, then the body, each ending in tags
    header_end = 8 + 2 + len("sample") + 1
    assert frame[header_end - 1] == 0
    with_tags = frame[:header_end - 1] + _with_unknown_tag(frame[header_end - 1:header_end]) + frame[header_end:]
    with_tags = with_tags[:-1] + _with_unknown_tag(with_tags[-1:])
    head, body = decode_request(with_tags, 3, 12)
    assert head.correlation_id == 7 and head.client_id == "sample"
    assert body == decode_request(frame, 3, 12)[1]


def test_unknown_tagged_fields_in_nested_structs_are_skipped():
    """Metadata v12's topics end in tagged sections of their own."""
    schema = load_request_schema(3, 12)
    topic_cls = schema.__dataclass_fields__["topics"].type.__args__[0].__args__[0]
    header = request_frame(3, 12)[:8 + 2 + len("sample") + 1]
    buf = io.BytesIO()
    entity_writer(schema)(buf, schema(topics=(topic_cls(topic_id=None, name="t"),),
                                      include_topic_authorized_operations=False))
    body = buf.getvalue()
    topic_tags_at = 1 + 16 + 2  # the array's length, a null topic id, the name
    assert body[topic_tags_at] == 0
    tagged = body[:topic_tags_at] + _with_unknown_tag(body[topic_tags_at:topic_tags_at + 1]) + body[topic_tags_at + 1:]
    assert decode_request(header + tagged, 3, 12)[1] == decode_request(header + body, 3, 12)[1]


def test_a_known_tag_that_overruns_its_declared_size_is_refused():
    """kio reads a known tag by its type and ignores its size: the two must agree."""
    fetch = request_frame(1, 12)
    assert decode_request(fetch, 1, 12)[1].cluster_id == "s"  # Fetch v12's tag 0, set by the sample
    at = fetch.rindex(b"\x00\x02\x02s")  # tag 0, size 2, a compact string of one byte, "s"
    shrunk = fetch[:at] + b"\x00\x01" + fetch[at + 2:]
    with pytest.raises(MalformedRequest, match="does not fill"):
        decode_request(shrunk, 1, 12)


def test_null_arrays_where_the_schema_allows_none_are_refused_and_others_are_read_as_none():
    """Every array of every served version, at every nesting level, made null."""
    refused = read = 0
    for key, version in served_versions():
        for path in array_paths(load_request_schema(key, version)):
            frame = request_frame(key, version, null_at=path)
            try:
                body = parse(frame).body
            except MalformedRequest as exc:
                assert "null where the schema allows none" in str(exc), (key, version, path, exc)
                refused += 1
                continue
            for name in path[:-1]:  # through the single elements down to the null
                body = getattr(body, name)
                body = body[0] if isinstance(body, tuple) else body
            assert getattr(body, path[-1]) is None, (key, version, path)
            read += 1
    assert refused > 300 and read > 30
