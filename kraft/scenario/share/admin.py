"""The share workload's setup, with confluent-kafka's admin client in the runner's process
(blocking: run in a thread).

configure: the dead-letter topic (its name must start with `dlq.`, and the topic's owner
allows groups to write there with errors.deadletterqueue.group.enable=true), then the
group's own configs (resource type GROUP): from the earliest record (set before any
consumer joins: a share-partition starts where the group's config says when it is first
read), the lock, the delivery limit, the dead-letter topic with a copy of each record.
"""

from __future__ import annotations

import time


def dead_letter_topic(topic: str) -> str:
    return f"dlq.{topic}"


def configure(bootstrap: str, topic: str, group: str, lock_ms: int, limit: int, dead_letters: str | None,
              bound_s: float) -> None:
    """Retried until bound_s passes (a node may be starting); raises RuntimeError then."""
    import confluent_kafka as ck
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic, \
        ResourceType
    admin = AdminClient({"bootstrap.servers": bootstrap})
    configs = {"share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": str(lock_ms),
               "share.delivery.count.limit": str(limit)}
    if dead_letters:
        configs.update({"errors.deadletterqueue.topic.name": dead_letters,
                        "errors.deadletterqueue.copy.record.enable": "true"})
    deadline = time.monotonic() + bound_s
    made = not dead_letters
    while True:
        try:
            if dead_letters and not made:
                new = NewTopic(dead_letters, num_partitions=1, replication_factor=3,
                               config={"errors.deadletterqueue.group.enable": "true", "min.insync.replicas": "2"})
                for future in admin.create_topics([new]).values():
                    try:
                        future.result(10)
                    except ck.KafkaException as exc:
                        if exc.args[0].code() != ck.KafkaError.TOPIC_ALREADY_EXISTS:
                            raise
                made = True
            entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in configs.items()]
            resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=entries)
            for future in admin.incremental_alter_configs([resource]).values():
                future.result(10)
            return
        except ck.KafkaException as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not configure the share group {group!r}: {exc}") from None
            time.sleep(0.5)
