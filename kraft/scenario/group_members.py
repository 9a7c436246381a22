"""Consumer-group members that are real Kafka clients (confluent-kafka), for the
group checkers (checks/groups.py).

Each member runs in its own thread (the client's calls block), subscribes to the
scenario topic in one group, consumes, and commits what it consumed every
COMMIT_EVERY_S seconds and when partitions are revoked, as applications using manual
commits do. It records each assignment, revocation and commit with its outcome, and
each record consumed. The thread ends when `stop` is set; the workload owns it.

Commits are asynchronous, their outcome reported to the on_commit callback that
consume() serves: a synchronous commit has no timeout, and after power cuts moved the
group's coordinator all three members once waited in one for good. At most one commit
is in flight: two unanswered commits can reach a new coordinator in either order (the
client retries the first after the second), and the older offset would then win.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from kraft.scenario.history import History

COMMIT_EVERY_S = 0.5
FINAL_COMMIT_BOUND_S = 10.0
GROUP = "lab-group"


class GroupMember:
    def __init__(self, name: str, bootstrap: str, h: History, now_ms: Callable[[], float]):
        self.name, self.bootstrap, self.h, self.now_ms = name, bootstrap, h, now_ms
        self._assigned: set[int] = set()
        self._next: dict[int, int] = {}  # assigned partition -> next offset to commit (once it read one)
        self._in_flight = False  # a commit was sent and its answer has not come yet
        self.last_return = time.monotonic()  # when a client call last returned (the workload watches it)

    def run(self, stop: threading.Event) -> None:
        import confluent_kafka  # a test extra: the runner checks for it first
        self._kafka = confluent_kafka
        consumer = confluent_kafka.Consumer({
            "bootstrap.servers": self.bootstrap, "group.id": GROUP, "client.id": self.name,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000, "max.poll.interval.ms": 60000,
            "topic.metadata.refresh.interval.ms": 1000, "reconnect.backoff.max.ms": 1000, "log_level": 2,
            "on_commit": _never_raising(self._on_commit), **_client_debug(self.name),
        })
        consumer.subscribe([self.h.topic], on_assign=_never_raising(self._on_assign),
                           on_revoke=_never_raising(self._on_revoke), on_lost=_never_raising(self._on_lost))
        last_commit = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    batch = consumer.consume(num_messages=500, timeout=0.2)
                except SystemError:  # see kafka_producer.serve_reports
                    continue
                finally:
                    self.last_return = time.monotonic()
                for msg in batch:
                    partition, offset, raw = msg.partition(), msg.offset(), msg.value()
                    if msg.error() is not None or partition not in self._assigned:
                        continue
                    assert offset is not None  # a consumed message always has one
                    value = raw.decode(errors="replace") if raw is not None else "null"
                    self.h.group_consumed.append((partition, offset, value))
                    self._next[partition] = offset + 1
                if time.monotonic() - last_commit >= COMMIT_EVERY_S and not self._waiting_for_an_answer():
                    self._commit(consumer)
                    last_commit = time.monotonic()
            self._final_commit(consumer)
        finally:
            consumer.close()  # leaves the group: the others take its partitions at once

    def _event(self, kind: str, partition: int, offset: int = -1) -> None:
        self.h.group_events.append((self.now_ms(), self.name, kind, partition, offset))

    def _on_assign(self, consumer, partitions) -> None:
        for tp in partitions:
            self._event("assign", tp.partition)
            self._assigned.add(tp.partition)
            self._next.pop(tp.partition, None)  # nothing consumed in this assignment yet

    def _on_revoke(self, consumer, partitions) -> None:
        if not self._waiting_for_an_answer():  # else the next owner may read some again (at least once)
            self._commit(consumer)
        for tp in partitions:
            self._event("revoke", tp.partition)
            self._assigned.discard(tp.partition)
            self._next.pop(tp.partition, None)

    def _on_lost(self, consumer, partitions) -> None:
        for tp in partitions:  # the group moved on without us: a commit now would be fenced
            self._event("lost", tp.partition)
            self._assigned.discard(tp.partition)
            self._next.pop(tp.partition, None)

    def _waiting_for_an_answer(self) -> bool:
        return self._in_flight

    def _commit(self, consumer) -> None:
        pending = dict(self._next)
        if not pending:
            return
        offsets = [self._kafka.TopicPartition(self.h.topic, p, o) for p, o in sorted(pending.items())]
        try:
            consumer.commit(offsets=offsets, asynchronous=True)
        except self._kafka.KafkaException:  # refused at once (e.g. no longer in the group)
            for p, o in sorted(pending.items()):
                self._event("commit-fail", p, o)
            return
        self._in_flight = True

    def _on_commit(self, err, partitions) -> None:
        self._in_flight = False
        for tp in partitions or []:
            failed = err is not None or tp.error is not None
            self._event("commit-fail" if failed else "commit-ok", tp.partition, tp.offset)

    def _final_commit(self, consumer) -> None:
        """Commit what was consumed and wait (bounded) for the answer. Records that poll()
        still hands out here are not recorded as consumed: the runner stops the members
        only once they have consumed everything it checks."""
        deadline = time.monotonic() + FINAL_COMMIT_BOUND_S
        while self._waiting_for_an_answer() and time.monotonic() < deadline:
            self._serve(consumer)
        self._commit(consumer)
        while self._waiting_for_an_answer() and time.monotonic() < deadline:
            self._serve(consumer)

    def _serve(self, consumer) -> None:
        try:
            consumer.poll(0.1)
        except SystemError:  # see kafka_producer.serve_reports
            pass


def _client_debug(name: str) -> dict:
    """With KRAFT_LAB_CLIENT_LOGS=DIR, each member's librdkafka group and protocol debug
    log goes to DIR/<member>.log (a stalled group's client side; logs reach the file when
    the member's consume() returns)."""
    where = os.environ.get("KRAFT_LAB_CLIENT_LOGS")
    if not where:
        return {}
    os.makedirs(where, exist_ok=True)
    path = os.path.abspath(os.path.join(where, f"{name}.log"))
    logger = logging.getLogger(f"kraft.lab.client.{name}")
    logger.propagate = False
    for old in list(logger.handlers):  # an earlier run in this process may have logged elsewhere
        if getattr(old, "baseFilename", None) != path:
            logger.removeHandler(old)
            old.close()
    if not logger.handlers:
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return {"debug": "cgrp,protocol", "log_level": 7, "logger": logger}


def _never_raising(callback):
    """An exception escaping a confluent-kafka callback corrupts the client's next call
    (a SystemError); the member records nothing for that callback and carries on."""
    def run(*args):
        try:
            callback(*args)
        except Exception:  # noqa: BLE001
            pass
    return run


def final_committed(bootstrap: str, topic: str, partitions: int, timeout_s: float = 10.0) -> dict[int, int]:
    """The group's committed offsets as the coordinator returns them now (members gone)."""
    import confluent_kafka
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "log_level": 2,
                                         "enable.auto.commit": False})
    try:
        asked = [confluent_kafka.TopicPartition(topic, p) for p in range(partitions)]
        answered = consumer.committed(asked, timeout=timeout_s)
        return {tp.partition: tp.offset for tp in answered if tp.error is None and tp.offset >= 0}
    except confluent_kafka.KafkaException:
        return {}
    finally:
        consumer.close()
