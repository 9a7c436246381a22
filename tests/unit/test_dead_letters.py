"""KIP-1191's dead letters, pure: where they may go and what they carry."""

from kraft.metadata.image import MetadataImage, PartitionRegistration, TopicImage
from kraft.share.dead_letters import dead_letter_problem, dead_letter_record
from kraft.share.share_partition import DeadLetter
from kraft.storage.record import Record


def image_with(topic: str, partitions: int, configs: dict[str, str]) -> MetadataImage:
    parts = tuple(PartitionRegistration(replicas=(1,), isr=(1,), leader=1) for _ in range(partitions))
    t = TopicImage(name=topic, topic_id="ab" * 16, partitions=parts)
    return MetadataImage(topics={t.topic_id: t}, topic_ids={topic: t.topic_id}, topic_configs={topic: configs})


def test_a_dead_letter_topic_must_be_named_with_the_prefix_exist_and_allow_it():
    allowed = image_with("dlq.orders", 3, {"errors.deadletterqueue.group.enable": "true"})
    assert dead_letter_problem(allowed, "dlq.orders", "dlq.") == (None, 3)
    assert "does not start with" in dead_letter_problem(allowed, "orders-dlq", "dlq.")[0]
    assert "does not exist" in dead_letter_problem(allowed, "dlq.other", "dlq.")[0]
    closed = image_with("dlq.orders", 3, {})
    assert "group.enable=true" in dead_letter_problem(closed, "dlq.orders", "dlq.")[0]


def test_a_dead_letter_names_its_source_and_copies_the_record_when_asked():
    headers = dict(dead_letter_record("g", "orders", 4, DeadLetter(17, 5, rejected=False),
                                      Record(b"k", b"v", (("h", b"x"),), 1), 99).headers)
    assert {k: v.decode() for k, v in headers.items()} == {
        "__dlq.errors.topic": "orders", "__dlq.errors.partition": "4", "__dlq.errors.offset": "17",
        "__dlq.errors.group": "g", "__dlq.errors.delivery.count": "5",
        "__dlq.errors.message": "Offset delivery count limit reached."}
    copied = dead_letter_record("g", "orders", 4, DeadLetter(17, 1, rejected=True), Record(b"k", b"v"), 99)
    assert (copied.key, copied.value, copied.timestamp_ms) == (b"k", b"v", 99)
    bare = dead_letter_record("g", "orders", 4, DeadLetter(17, 1, rejected=True), None, 99)
    assert (bare.key, bare.value) == (None, None)
