"""One client of the share workload, in a process of its own:
`python -m kraft.scenario.share.client --bootstrap ... --topic t --group g --role producer|consumer`.

The same line protocol as jepsen/client.py: one op request per line on stdin, one
reply per line on stdout ({"type": "ok" | "fail" | "info", "value", "error"?}), first
{"ready": true}; EOF on stdin: close and exit; the process dies with the workload.

- producer, `send`: a real confluent-kafka producer (idempotent, acks=all), as the queue
  workload's send: ok with the offset once the delivery report came back, else info.
- consumer: one ShareConsumer (explicit acknowledgement) subscribed to the topic.
  `poll`: the records it was handed, each [offset, value, delivery count] under its key;
  it holds them until the next `ack`. `ack` ([[key, offset, value, kind], ...]):
  acknowledge each held record as told, then commit_sync; each acknowledgement's outcome
  is ok when its partition's commit result was a success, fail when the broker refused it
  (INVALID_RECORD_STATE: this consumer did not hold the record any more), else info
  (unknown: it may have taken effect).
- consumer, `dead-letters` (the drain's): the dead-letter topic (one partition) with a
  plain consumer, from the beginning on the first call, then on from where the last
  stopped: the records read within "wait_s", each [partition, offset, value or null,
  {header: text}], and "done" once the end was reached with every value of "expect" read.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from typing import Any


from kraft.scenario.jepsen.client import _die_with_parent, _report, serve_ops
from kraft.scenario.jepsen.gen import key_of, partition_of

# the broker refused the acknowledgement: it surely did not take effect
REFUSED = ("INVALID_RECORD_STATE",)


class ShareClient:
    def __init__(self, bootstrap: str, topic: str, group: str, role: str, timeout_ms: int, poll_ms: int):
        import confluent_kafka as ck  # a test extra: the runner checks for it first
        self.ck, self.topic = ck, topic
        self.timeout_s, self.poll_s = timeout_ms / 1000, poll_ms / 1000
        common = {"bootstrap.servers": bootstrap, "topic.metadata.refresh.interval.ms": 1000,
                  "reconnect.backoff.max.ms": 1000, "log_level": 3}
        self.producer = self.consumer = None
        if role == "producer":
            self.producer = ck.Producer({**common, "acks": "all", "enable.idempotence": True, "linger.ms": 0,
                                         "message.timeout.ms": timeout_ms})
        else:
            self.consumer = ck.ShareConsumer({**common, "group.id": group,
                                              "share.acknowledgement.mode": "explicit"})
            self.consumer.subscribe([topic])
        self.held: dict[tuple[int, int], Any] = {}  # (partition, offset) -> the message of the last poll
        self.bootstrap = bootstrap
        self.letters: Any = None  # the dead-letter reader, made at the first dead-letters op
        self.letter_values: set[int] = set()

    def handle(self, req: dict) -> dict:
        f = req["f"]
        if f == "send" and self.producer is not None:
            return self.send(req["value"])
        if f == "poll" and self.consumer is not None:
            return self.poll(float(req.get("wait_s") or self.poll_s))
        if f == "ack" and self.consumer is not None:
            return self.ack(req["value"])
        if f == "dead-letters" and self.consumer is not None:
            return self.dead_letters(req["value"], set(req.get("expect") or ()), float(req.get("wait_s", 1)))
        return {"type": "fail", "value": req["value"], "error": f"not an op of this client: {f!r}"}

    def close(self) -> None:
        if self.producer is not None:
            self.producer.flush(1)
        if self.consumer is not None:
            self.consumer.close()  # what it still holds goes back to the group
        if self.letters is not None:
            self.letters.close()

    def send(self, mops: list) -> dict:
        assert self.producer is not None
        reports: dict[int, tuple[int | None, str | None]] = {}
        [[_, key, value]] = mops
        try:
            self.producer.produce(self.topic, str(value).encode(), partition=partition_of(key),
                                  on_delivery=_report(reports, value))
        except (BufferError, self.ck.KafkaException) as exc:
            return {"type": "fail", "value": mops, "error": f"refused: {exc}"}
        self.producer.flush(self.timeout_s)
        offset, error = reports.get(value, (None, "no delivery report"))
        done = [["send", key, [offset, value]]]
        return {"type": "ok", "value": done} if error is None else {"type": "info", "value": done, "error": error}

    def poll(self, wait_s: float) -> dict:
        assert self.consumer is not None
        got: dict[str, list] = {}
        errors = []
        self.held = {}
        for m in self.consumer.poll(wait_s):
            if m.error() is not None:
                errors.append(str(m.error()))
                continue
            partition, offset, value = m.partition(), m.offset(), m.value()
            assert partition is not None and offset is not None and value is not None, "a record without them"
            self.held[(partition, offset)] = m
            got.setdefault(key_of(self.topic, partition), []).append([offset, int(value), m.delivery_count()])
        reply: dict = {"type": "ok", "value": [["poll", got]]}
        if errors:
            reply["error"] = "; ".join(errors[:3])
        return reply

    def ack(self, acks: list) -> dict:
        assert self.consumer is not None
        kinds = {"accept": self.ck.AcknowledgeType.ACCEPT, "release": self.ck.AcknowledgeType.RELEASE,
                 "reject": self.ck.AcknowledgeType.REJECT}
        refused: dict[tuple[int, int], str] = {}  # the client itself would not send these
        for key, offset, _value, kind in acks:
            where = (partition_of(key), offset)
            m = self.held.get(where)
            try:
                if m is None:
                    raise ValueError("not held")
                self.consumer.acknowledge(m, kinds[kind])
            except Exception as exc:  # noqa: BLE001 - IllegalStateException: no longer in flight
                refused[where] = f"acknowledge: {exc}"
        self.held = {}
        try:
            results = self.consumer.commit_sync(self.timeout_s)
        except self.ck.KafkaException as exc:
            return {"type": "info", "value": [[*a, "info"] for a in acks], "error": f"commit_sync: {exc}"}
        by_partition = {tp.partition: r for tp, r in (results or {}).items() if tp.topic == self.topic}
        done, errors = [], []
        for key, offset, value, kind in acks:
            p = partition_of(key)
            outcome, error = _outcome(by_partition, p, refused.get((p, offset)))
            done.append([key, offset, value, kind, outcome])
            if error:
                errors.append(f"{key}@{offset}: {error}")
        reply: dict = {"type": "ok", "value": done}
        if errors:
            reply["error"] = "; ".join(errors[:3])
        return reply

    def dead_letters(self, topic: str, expect: set[int], wait_s: float) -> dict:
        ck = self.ck
        if self.letters is None:
            self.letters = ck.Consumer({"bootstrap.servers": self.bootstrap, "enable.auto.commit": False,
                                        "group.id": f"lab-dead-letters-{uuid.uuid4().hex[:8]}",
                                        "enable.partition.eof": True, "log_level": 3})
            self.letters.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
        got, done = [], False
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not done:
            m = self.letters.poll(min(0.2, max(0.0, deadline - time.monotonic())))
            if m is None:
                continue
            error = m.error()
            if error is not None:
                done = error.code() == ck.KafkaError._PARTITION_EOF and expect <= self.letter_values
                continue
            raw = m.value()
            value = int(raw) if raw is not None else None
            if value is not None:
                self.letter_values.add(value)
            got.append([m.partition(), m.offset(), value, {str(h[0]): _text(h[1]) for h in (m.headers() or [])}])
        return {"type": "ok", "value": got, "done": done}


def _text(v: str | bytes | None) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else (v or "")


def _outcome(by_partition: dict, partition: int, refused: str | None) -> tuple[str, str | None]:
    """An acknowledgement's outcome from its partition's commit result."""
    if refused is not None:
        return "fail", refused
    if partition not in by_partition:
        return "info", "no commit result for its partition"
    result = by_partition[partition]
    if result is None:
        return "ok", None
    err = result.args[0] if getattr(result, "args", None) else result
    name = err.name() if hasattr(err, "name") else str(err)
    return ("fail" if name in REFUSED else "info"), str(err)[:200]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--role", required=True, choices=("producer", "consumer"))
    ap.add_argument("--timeout-ms", type=int, default=10_000)
    ap.add_argument("--poll-ms", type=int, default=500)
    ap.add_argument("--parent", type=int, default=os.getppid())
    args = ap.parse_args(argv)
    _die_with_parent(args.parent)
    client = ShareClient(args.bootstrap, args.topic, args.group, args.role, args.timeout_ms, args.poll_ms)
    return serve_ops(client)


if __name__ == "__main__":
    sys.exit(main())
