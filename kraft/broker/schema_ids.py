"""Schema ID validation at the broker, as Confluent Server's topic configs define it.

With `confluent.value.schema.validation=true` (`confluent.key.schema.validation` for
keys) every record written to the topic must carry Confluent's framing (magic byte 0,
then the schema id as a 4-byte big-endian int) naming a schema the registry holds under
the subject the topic's subject name strategy gives (`confluent.value.subject.name.strategy`,
TopicNameStrategy by default: `<topic>-value`). As in Confluent Server, the payload
itself is not read, and a null value or key (a tombstone) passes. A batch with any
record that fails is refused whole (INVALID_RECORD, naming each record by its index).

Pure: the caller resolves the ids a batch names (schema_id_cache.py) and hands them in.
Off, a topic costs two look-ups in its configs per batch (`validated_sides` is empty).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kraft.errors import InvalidRecord
from kraft.schemas.subject_names import subject_for
from kraft.schemas.wire_format import HEADER_SIZE, MAGIC_BYTE, frame

FRAME_BYTES = HEADER_SIZE  # the magic byte and the 4-byte schema id
KEY_VALIDATION = "confluent.key.schema.validation"
VALUE_VALIDATION = "confluent.value.schema.validation"
KEY_STRATEGY = "confluent.key.subject.name.strategy"
VALUE_STRATEGY = "confluent.value.subject.name.strategy"
# Confluent's strategy classes (io.confluent...RecordNameStrategy) by the REST door's names for them
_STRATEGY_KINDS = {"RecordNameStrategy": "RECORD_NAME", "TopicRecordNameStrategy": "TOPIC_RECORD_NAME"}
MAX_NAMED_SUBJECTS = 3  # a refusal names at most this many subjects that do hold the id

# (key, value) as a record carries them
KeyValue = tuple[bytes | None, bytes | None]


@dataclass(frozen=True)
class SchemaIdInfo:
    """What validation needs of a registered id: the subjects whose live versions hold it,
    and the schema's record name (Avro's record full name, Protobuf's first message, JSON
    Schema's title), which the record name strategies name subjects by."""
    subjects: frozenset[str]
    record_name: str | None = None


@dataclass(frozen=True)
class Side:
    """The key or the value, validated under a subject name strategy."""
    is_key: bool
    strategy: str

    @property
    def label(self) -> str:
        return "key" if self.is_key else "value"

    def subject(self, topic: str, info: SchemaIdInfo) -> str | None:
        """The subject the strategy names for this id on this topic; None when the record
        name strategies need a record name the schema lacks."""
        kind = _STRATEGY_KINDS.get(self.strategy.rpartition(".")[2], "TOPIC_NAME")
        return subject_for(kind, topic, self.is_key, info.record_name)


def validated_sides(configs: Mapping[str, str]) -> tuple[Side, ...]:
    """The sides the topic's configs validate, key first; empty when validation is off."""
    sides: tuple[Side, ...] = ()
    if configs.get(KEY_VALIDATION) == "true":
        sides += (Side(True, configs[KEY_STRATEGY]),)
    if configs.get(VALUE_VALIDATION) == "true":
        sides += (Side(False, configs[VALUE_STRATEGY]),)
    return sides


def framed_id(data: bytes) -> int | None:
    """The schema id of Confluent's framing at the start of `data`, or None without one."""
    if len(data) < FRAME_BYTES or data[0] != MAGIC_BYTE:
        return None
    return int.from_bytes(data[1:FRAME_BYTES], "big")


def named_ids(records: Sequence[KeyValue], sides: Sequence[Side]) -> set[int]:
    """Every schema id the batch's validated fields name: what must be resolved."""
    frames: set[bytes] = set()
    for side in sides:
        at = 0 if side.is_key else 1
        frames.update(data[:FRAME_BYTES] for record in records if (data := record[at]) is not None)
    return {schema_id for frame in frames if (schema_id := framed_id(frame)) is not None}


def _passing_frames(side: Side, topic: str, known: Mapping[int, SchemaIdInfo | None]) -> frozenset[bytes]:
    """The framings (magic byte and id) that pass on this side: a record is checked by
    one slice and one set look-up, and only a failing one is looked at closer."""
    return frozenset(frame(schema_id, b"") for schema_id, info in known.items()
                     if info is not None and side.subject(topic, info) in info.subjects)


def problem(data: bytes | None, side: Side, topic: str, known: Mapping[int, SchemaIdInfo | None]) -> str | None:
    """Why this key or value fails validation; None when it passes."""
    if data is None:
        return None  # tombstones and null keys pass, as in Confluent Server
    schema_id = framed_id(data)
    if schema_id is None:
        if len(data) < FRAME_BYTES:
            return (f"the {side.label} has {len(data)} bytes: too short for Confluent's framing "
                    f"(magic byte 0 and a 4-byte schema id)")
        return f"the {side.label} starts with byte {data[0]}, not Confluent's magic byte 0"
    info = known.get(schema_id)
    if info is None:
        return f"the {side.label}'s schema id {schema_id} is not in the schema registry"
    subject = side.subject(topic, info)
    if subject is not None and subject in info.subjects:
        return None
    holders = ", ".join(repr(s) for s in sorted(info.subjects)[:MAX_NAMED_SUBJECTS])
    if subject is None:
        return (f"the {side.label}'s schema id {schema_id} has no record name, which "
                f"{side.strategy.rpartition('.')[2]} names the subject by (it is under {holders})")
    return (f"the {side.label}'s schema id {schema_id} is not registered under subject {subject!r} "
            f"(it is under {holders})")


def refusals(records: Sequence[KeyValue], sides: Sequence[Side], topic: str,
             known: Mapping[int, SchemaIdInfo | None]) -> list[tuple[int, str]]:
    """(index in the batch, why) for every record that fails, key first."""
    failing: dict[int, str] = {}
    for side in sides:
        at, passing = (0 if side.is_key else 1), _passing_frames(side, topic, known)
        for index, record in enumerate(records):
            data = record[at]
            if data is None or data[:FRAME_BYTES] in passing or index in failing:
                continue
            if (why := problem(data, side, topic, known)) is not None:
                failing[index] = why
    return sorted(failing.items())


def check_schema_ids(records: Sequence[KeyValue], sides: Sequence[Side], topic: str,
                     known: Mapping[int, SchemaIdInfo | None]) -> None:
    """InvalidRecord naming every record that fails; the batch is refused whole."""
    failed = refusals(records, sides, topic, known)
    if failed:
        configs = ", ".join(f"confluent.{s.label}.schema.validation=true" for s in sides)
        raise InvalidRecord(f"{len(failed)} of {len(records)} records fail schema validation on topic "
                            f"{topic!r} ({configs}); the first: {failed[0][1]}", tuple(failed))
