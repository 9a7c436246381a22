"""The cost of `/status/ready?acks=all` (and the cluster health's acks_all_problems) at
many partitions: a walk over every partition, against the index a node keeps image by
image (kraft.metadata.write_readiness.BelowMinIsr), in one run.

    .venv/bin/python bench/readiness_probe.py [--partitions 30000] [--changes 50]

A real state machine holds `--partitions` partitions (topics of 100, RF 3, every ISR one
replica: a full restart's first seconds); then, `--changes` times, one partition's ISR
becomes whole (an AlterPartition landing) and the probe is answered both ways from the
image that holds it. The index's time includes following that image's changes.
"""
from __future__ import annotations

import argparse
import statistics
import time

from kraft.metadata.records import (BecomeController, BrokerRegistrationChange, MetadataBatch, PartitionChange,
                                    PartitionRecord, RegisterBroker, TopicRecord, encode_batch)
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.metadata.write_readiness import BelowMinIsr, acks_all_problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=30_000)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()
    sm = MetadataStateMachine()

    def apply(*records):
        assert sm.apply(encode_batch(MetadataBatch(controller_epoch=1, records=records))).ok

    apply(BecomeController(controller_id=1, controller_epoch=1),
          *(RegisterBroker(broker_id=b, incarnation_id=f"i{b}", host="127.0.0.1", http_port=8080 + b) for b in (1, 2, 3)))
    apply(*(BrokerRegistrationChange(broker_id=b, broker_epoch=sm.image.brokers[b].broker_epoch, fenced=False)
            for b in (1, 2, 3)))
    topics = max(1, args.partitions // 100)
    for t in range(topics):
        apply(TopicRecord(name=f"t{t}", topic_id=f"id{t}"),
              *(PartitionRecord(topic_id=f"id{t}", partition=p, replicas=(1, 2, 3), isr=(1,), leader=1)
                for p in range(100)))
    below = BelowMinIsr({})
    below.follow(*reversed(sm.take_changes()))
    walk, followed = [], []
    for i in range(args.changes):
        topic = sm.image.topic(f"t{i % topics}")
        part = topic.partitions[i // topics % 100]
        apply(PartitionChange(topic_id=topic.topic_id, partition=i // topics % 100,
                              expected_partition_epoch=part.partition_epoch, isr=(1, 2, 3)))
        changes, image = sm.take_changes()
        start = time.perf_counter()
        below.follow(image, changes)
        by_index = acks_all_problems(image, {}, named=False, below=below)
        followed.append(time.perf_counter() - start)
        start = time.perf_counter()
        by_walk = acks_all_problems(image, {}, named=False)
        walk.append(time.perf_counter() - start)
        assert by_index == by_walk, (by_index, by_walk)
    for name, times in (("walk over every partition", walk), ("index followed per image", followed)):
        ms = sorted(t * 1000 for t in times)
        print(f"{name}: median {statistics.median(ms):.2f} ms, min {ms[0]:.2f}, max {ms[-1]:.2f} "
              f"({args.changes} probes, {topics * 100} partitions)")
    print(f"ratio of medians: {statistics.median(walk) / statistics.median(followed):.0f}x")


if __name__ == "__main__":
    main()
