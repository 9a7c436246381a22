"""One client of the Jepsen-style workloads, in a process of its own:
`python -m kraft.scenario.jepsen.client --bootstrap ... --topic t --mode queue|txn`.

A real confluent-kafka producer and consumer on the Kafka listeners. The workload
(jepsen/workload.py) writes one op request per line on stdin ({"f", "value"}, as a
history's invoke holds it, see jepsen/gen.py) and reads one reply per line on stdout:
{"type": "ok" | "fail" | "info", "value": the completed micro-ops, "error"?,
"rebalanced_keys"?}. The first line out is {"ready": true}, once the clients exist
(and, for txn, init_transactions returned). EOF on stdin: close and exit. The process
dies with the workload (PR_SET_PDEATHSIG), so none outlives a run.

- send (queue): produce each value to its key's partition (idempotent, acks=all; or
  --acks 1, not idempotent), flush;
  ok when every delivery report came back without error, with the offsets; fail when the
  client refused the first record before sending anything; else info.
- poll: consume what is there (at most --poll-max records, --poll-ms), ok. Subscribed
  queue clients commit their position after a poll that returned records. With "until"
  ({key: end offset}) it is a final poll: it consumes until every key reached its end
  (a partition-EOF event at or past it) or "max_s" passed, and says "done".
- txn: begin, the sends and polls in order, send_offsets_to_transaction (subscribed and
  something consumed), commit: ok ("abort": flush the sends, then abort, fail). An
  error the transaction can be aborted after: abort, seek the consumer back to right
  after its last ok read of each key this transaction read (the next op reads those
  records again), fail. Anything else: info.
- assign: the keys' partitions; a key this process read before resumes right after its
  last ok read (as Java's consumer keeps the position of a partition that stays
  assigned), others start at the group's committed offset, else the earliest
  ("from_beginning": the earliest; --assign-resume committed: every key starts at the
  committed offset, a negative control's client that forgets its positions);
  subscribe: the topic, in the group, whose rebalances are reported as rebalanced_keys
  of the op they happened in.

Consumers read read_committed (or --isolation read_uncommitted). An exception nobody
expected is an info: the workload then retires the process, as Jepsen retires a process
after an info.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import time

import orjson

from kraft.scenario.jepsen.gen import TXN, key_of, partition_of

TXN_TIMEOUT_MS = 10_000  # an open transaction of a killed client is aborted within this
FINAL_CHUNK = 50_000  # records per final poll op
FETCH_MIN_BYTES, FETCH_WAIT_MS = 100_000, 300


class Client:
    def __init__(self, bootstrap: str, topic: str, mode: str, transactional_id: str, group: str,
                 timeout_ms: int, poll_max: int, poll_ms: int, acks: str = "all",
                 isolation: str = "read_committed", assign_resume: str = "last-read"):
        import confluent_kafka as ck  # a test extra: the runner checks for it first
        self.ck, self.topic, self.mode = ck, topic, mode
        self.timeout_s = timeout_ms / 1000
        self.poll_max, self.poll_s = poll_max, poll_ms / 1000
        common = {"bootstrap.servers": bootstrap, "topic.metadata.refresh.interval.ms": 1000,
                  "reconnect.backoff.max.ms": 1000, "log_level": 3}
        # idempotence needs acks=all; acks=1 is the negative controls' producer (it is
        # answered once the leader alone has the record)
        producer = {**common, "acks": acks, "enable.idempotence": acks == "all", "linger.ms": 0,
                    "message.timeout.ms": timeout_ms}
        self.transactional = mode == TXN and bool(transactional_id)  # the final reader only reads
        if self.transactional:
            producer.update({"transactional.id": transactional_id, "transaction.timeout.ms": TXN_TIMEOUT_MS,
                             "message.timeout.ms": min(timeout_ms, TXN_TIMEOUT_MS)})
        self.producer = ck.Producer(producer)
        if self.transactional:
            self.producer.init_transactions(max(self.timeout_s, 30))
        self.consumer = ck.Consumer({
            **common, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": isolation, "enable.partition.eof": True,
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000, "max.poll.interval.ms": 60000,
            # every client reads: a broker answers each fetch after 300 ms (or 100 kB)
            # rather than at each new record, which nearly doubled the ops per second
            "fetch.min.bytes": FETCH_MIN_BYTES, "fetch.wait.max.ms": FETCH_WAIT_MS})
        self.assign_resume = assign_resume
        self.subscribed = False
        self.rebalanced: set[str] = set()
        self.last_read: dict[str, int] = {}  # key -> offset of the last record an ok op read

    def _read_ok(self, polls: list[dict[str, list]]) -> None:
        for reads in polls:
            for key, pairs in reads.items():
                if pairs:
                    self.last_read[key] = pairs[-1][0]

    # -- the protocol ------------------------------------------------------------------
    def handle(self, req: dict) -> dict:
        self.rebalanced = set()
        f = req["f"]
        if f == "assign":
            reply = self.assign(req["value"], bool(req.get("from_beginning")))
        elif f == "subscribe":
            reply = self.subscribe(req["value"])
        elif f == "send":
            reply = self.send(req["value"])
        elif f == "poll":
            reply = self.poll(req.get("until"), float(req.get("max_s", 10)))
        elif f == "txn":
            reply = self.txn(req["value"], bool(req.get("abort")))
        else:
            reply = {"type": "fail", "value": req["value"], "error": f"unknown op {f!r}"}
        if self.rebalanced:
            reply["rebalanced_keys"] = sorted(self.rebalanced, key=partition_of)
        return reply

    def close(self) -> None:
        try:
            self.producer.flush(1)
        finally:
            self.consumer.close()

    # -- assignment ----------------------------------------------------------------------
    def assign(self, keys: list[str], from_beginning: bool) -> dict:
        """As Java's consumer keeps the position of a partition that stays assigned, a
        key this process read before resumes right after its last read; others start at
        the group's committed offset (else the earliest)."""
        if self.subscribed:
            self.consumer.unsubscribe()
            self.subscribed = False
        tps = []
        for k in keys:
            if from_beginning:
                offset = self.ck.OFFSET_BEGINNING
            elif self.assign_resume == "committed":  # a negative control's client: positions forgotten
                offset = self.ck.OFFSET_INVALID
            else:
                offset = self.last_read[k] + 1 if k in self.last_read else self.ck.OFFSET_INVALID
            tps.append(self.ck.TopicPartition(self.topic, partition_of(k), offset))
        self.consumer.assign(tps)
        return {"type": "ok", "value": keys}

    def subscribe(self, keys: list[str]) -> dict:
        if not self.subscribed:
            self.consumer.unassign()
        self.consumer.subscribe([self.topic], on_assign=self._rebalance, on_revoke=self._rebalance,
                                on_lost=self._rebalance)
        self.subscribed = True
        return {"type": "ok", "value": keys}

    def _rebalance(self, consumer, partitions) -> None:
        try:  # an exception escaping a callback corrupts the client's next call
            self.rebalanced.update(key_of(self.topic, tp.partition) for tp in partitions)
        except Exception:  # noqa: BLE001
            pass

    # -- sends -----------------------------------------------------------------------------
    def send(self, mops: list) -> dict:
        reports: dict[int, tuple[int | None, str | None]] = {}
        handed = 0
        try:
            for _, key, value in mops:
                self.producer.produce(self.topic, str(value).encode(), partition=partition_of(key),
                                      on_delivery=_report(reports, value))
                handed += 1
        except (BufferError, self.ck.KafkaException) as exc:
            if handed == 0:
                return {"type": "fail", "value": mops, "error": f"refused: {exc}"}
        self.producer.flush(self.timeout_s)
        value = [["send", k, [reports.get(v, (None, None))[0], v]] for _, k, v in mops]
        errors = [reports[v][1] if v in reports else "no delivery report" for _, _, v in mops
                  if v not in reports or reports[v][1] is not None]
        if not errors:
            return {"type": "ok", "value": value}
        return {"type": "info", "value": value, "error": errors[0]}

    # -- polls ------------------------------------------------------------------------------
    def poll(self, until: dict | None, max_s: float) -> dict:
        reads: dict[str, list] = {}
        if until is None:
            self._take(self._consume(), reads, {})
            self._read_ok([reads])
            if self.subscribed and reads:
                try:
                    self.consumer.commit(asynchronous=True)
                except self.ck.KafkaException:
                    pass  # nothing to commit, or not in the group now: the next owner reads them again
            return {"type": "ok", "value": [["poll", reads]]}
        ends: dict[str, int] = {}
        deadline = time.monotonic() + max_s
        done = False
        while time.monotonic() < deadline and sum(map(len, reads.values())) < FINAL_CHUNK:
            self._take(self.consumer.consume(num_messages=self.poll_max, timeout=0.2), reads, ends)
            done = all(ends.get(k, -1) >= end for k, end in until.items())
            if done:
                break
        return {"type": "ok", "value": [["poll", reads]], "done": done}

    def _consume(self) -> list:
        """As Java's poll(): wait up to poll_ms for a first record, then take what is
        there without waiting (librdkafka's consume() would wait for all poll_max)."""
        first = self.consumer.poll(self.poll_s)
        if first is None:
            return []
        return [first] + self.consumer.consume(num_messages=self.poll_max - 1, timeout=0)

    def _take(self, msgs, reads: dict[str, list], ends: dict[str, int]) -> None:
        for m in msgs:
            key = key_of(self.topic, m.partition())
            err = m.error()
            if err is not None:
                if err.code() == self.ck.KafkaError._PARTITION_EOF:
                    ends[key] = m.offset()
                continue
            reads.setdefault(key, []).append([m.offset(), int(m.value())])

    # -- transactions ----------------------------------------------------------------------
    def txn(self, mops: list, abort: bool = False) -> dict:
        p, c = self.producer, self.consumer
        reports: dict[int, tuple[int | None, str | None]] = {}
        polls: list[dict[str, list]] = []
        try:
            p.begin_transaction()
        except self.ck.KafkaException as exc:
            return {"type": "info", "value": mops, "error": f"begin: {exc}"}
        try:
            for m in mops:
                if m[0] == "send":
                    p.produce(self.topic, str(m[2]).encode(), partition=partition_of(m[1]),
                              on_delivery=_report(reports, m[2]))
                else:
                    polls.append({})
                    self._take(self._consume(), polls[-1], {})
            if abort:  # on purpose: the sends reach the logs first, then the abort marker
                p.flush(self.timeout_s)
                return self._abort(mops, reports, polls, "aborted by the client on purpose")
            if self.subscribed and any(polls):
                positions = [tp for tp in c.position(c.assignment()) if tp.offset >= 0]
                if positions:
                    p.send_offsets_to_transaction(positions, c.consumer_group_metadata(), self.timeout_s)
            p.commit_transaction(self.timeout_s)
        except BufferError as exc:
            return self._abort(mops, reports, polls, f"queue full: {exc}")
        except self.ck.KafkaException as exc:
            err = exc.args[0]
            if err.txn_requires_abort():
                return self._abort(mops, reports, polls, str(err))
            return {"type": "info", "value": _completed(mops, reports, polls), "error": str(err)}
        self._read_ok(polls)
        return {"type": "ok", "value": _completed(mops, reports, polls)}

    def _abort(self, mops, reports, polls, why: str) -> dict:
        try:
            self.producer.abort_transaction(self.timeout_s)
        except self.ck.KafkaException as exc:
            return {"type": "info", "value": _completed(mops, reports, polls), "error": f"{why}; abort: {exc}"}
        rewind: dict[str, int] = {}  # back to right after the last ok read, else to this op's first
        for reads in polls:
            for key, pairs in reads.items():
                if pairs:
                    rewind.setdefault(key, self.last_read[key] + 1 if key in self.last_read else pairs[0][0])
        assigned = {tp.partition for tp in self.consumer.assignment()}
        for key, offset in rewind.items():
            if partition_of(key) in assigned:
                try:
                    self.consumer.seek(self.ck.TopicPartition(self.topic, partition_of(key), offset))
                except self.ck.KafkaException:
                    pass  # the partition is moving away: its next owner starts from the committed offset
        return {"type": "fail", "value": _completed(mops, reports, polls), "error": why}


def _report(reports: dict, value: int):
    def report(err, msg) -> None:
        try:  # an exception escaping a callback corrupts the client's next call
            if err is None:
                offset = msg.offset()
                reports[value] = (offset if offset is not None and offset >= 0 else None, None)
            else:
                reports[value] = (None, f"{err.name()}: {err.str()}")
        except Exception as exc:  # noqa: BLE001 - the send stays without a report: info
            reports.pop(value, None)
            print(f"delivery report failed: {exc!r}", file=sys.stderr)
    return report


def _completed(mops: list, reports: dict, polls: list[dict]) -> list:
    out, i = [], 0
    for m in mops:
        if m[0] == "send":
            out.append(["send", m[1], [reports.get(m[2], (None, None))[0], m[2]]])
        else:
            out.append(["poll", polls[i] if i < len(polls) else {}])
            i += 1
    return out


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when the workload's process dies (Linux; elsewhere EOF on
    stdin ends it once the current call returns)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def _write(obj: dict) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj) + b"\n")
    sys.stdout.buffer.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--mode", required=True, choices=("queue", "txn"))
    ap.add_argument("--transactional-id", default="")
    ap.add_argument("--group", default="jepsen")
    ap.add_argument("--timeout-ms", type=int, default=10_000)
    ap.add_argument("--poll-max", type=int, default=500)
    ap.add_argument("--poll-ms", type=int, default=50)
    ap.add_argument("--acks", default="all", choices=("all", "1", "0"))
    ap.add_argument("--isolation", default="read_committed", choices=("read_committed", "read_uncommitted"))
    ap.add_argument("--assign-resume", default="last-read", choices=("last-read", "committed"))
    ap.add_argument("--parent", type=int, default=os.getppid())
    args = ap.parse_args(argv)
    _die_with_parent(args.parent)
    client = Client(args.bootstrap, args.topic, args.mode, args.transactional_id, args.group,
                    args.timeout_ms, args.poll_max, args.poll_ms, args.acks, args.isolation,
                    args.assign_resume)
    return serve_ops(client)


def serve_ops(client) -> int:
    """Say ready, then answer each op line on stdin with one reply line until EOF; close."""
    _write({"ready": True})
    try:
        for line in sys.stdin.buffer:
            if not line.strip():
                continue
            req = orjson.loads(line)
            try:
                reply = client.handle(req)
            except Exception as exc:  # noqa: BLE001 - unknown outcome; the workload retires us
                reply = {"type": "info", "value": req.get("value"), "error": f"client: {exc!r}"}
            _write(reply)
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
