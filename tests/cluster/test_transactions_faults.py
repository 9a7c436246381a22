"""Kafka transactions (KIP-98) under node faults, with real node processes and
confluent-kafka's transactional producer and read_committed consumer.

What a user of transactions counts on, whatever dies:
- `kill -9` of the transaction coordinator (the leader of the transactional id's
  __transaction_state partition), and separately of a data partition's leader, in the
  middle of a stream of transactions over several partitions of two topics: every
  transaction whose commit_transaction returned is fully visible to a read_committed
  consumer, every aborted one invisible, none torn (all of a transaction's records or
  none), nothing twice; the producer carries on (it aborts on abortable errors and
  starts over on fatal ones, as confluent-kafka's documentation says) and commits
  again, also once the killed node is back and has taken its leadership back.
- every node restarted (stopped, and once killed with -9) while a transaction is open
  and its producer is gone: the coordinator aborts it at its transaction.timeout.ms, a
  read_committed consumer then reads past it (the last stable offset moves) and never
  sees its records, and a new producer with the same transactional id starts and
  commits.

Its own cluster (the faults ruin a shared one), on the worker's default addresses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from cluster_client import brokers_unfenced, call, create_topic

from kraft.server.local_cluster import LocalCluster
from kraft.testing.elections import elect
from kraft.transactions.txn_placement import TXN_STATE_TOPIC, txn_partition

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition  # noqa: E402

NODES = (1, 2, 3)
# the coordinator looks for expired transactions every second (Kafka: every 10 s), so an
# abandoned transaction is aborted soon after its timeout
TXN_TOML = """[transactions]
"transaction.abort.timed.out.transaction.cleanup.interval.ms" = 1000
"""
OPEN_TXN_TIMEOUT_MS = 5000
STREAM_TXN_TIMEOUT_MS = 60000
RECORDS_PER_TXN = 7  # over the 5 partitions of two topics: each transaction touches all
ABORT_EVERY = 4  # every 4th transaction is aborted on purpose (its records flushed first)
COMMITS_PER_PHASE = 5


# -- where things are ------------------------------------------------------------------------
def partition_info(c, topic: str, partition: int, via: int) -> dict:
    status, body = call("GET", f"{c.v3(via)}/topics/{topic}/partitions/{partition}", retry_s=10)
    assert status == 200, body
    return body


def txn_state_partition(c, transactional_id: str, via: int) -> int:
    """The id's __transaction_state partition (Kafka's hash over the topic's partition count)."""
    status, body = call("GET", f"{c.v3(via)}/topics/{TXN_STATE_TOPIC}/partitions", retry_s=10)
    assert status == 200, body
    return txn_partition(transactional_id, len(body["data"]))


def coordinator_of(c, transactional_id: str, via: int) -> int:
    """The node that coordinates the id: the leader of its __transaction_state partition."""
    return partition_info(c, TXN_STATE_TOPIC, txn_state_partition(c, transactional_id, via), via)["leader_id"]


def running(c) -> list[int]:
    return [n for n in NODES if c.running(n)]


# -- reading what a consumer sees -------------------------------------------------------------
def consumer(c, isolation: str, **extra) -> Consumer:
    return Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": f"faults-reader-{isolation}",
                     "isolation.level": isolation, "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "enable.partition.eof": True,
                     "fetch.wait.max.ms": 50,  # an empty fetch answers at once: the end is seen sooner
                     "log_level": 3, **extra})


def end_offsets(reader: Consumer, tps: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """Each partition's end for this reader (ListOffsets with its isolation level: the
    high watermark for read_uncommitted, the last stable offset for read_committed)."""
    return {tp: reader.get_watermark_offsets(TopicPartition(*tp), timeout=5, cached=False)[1] for tp in tps}


def wait_stable(c, tps, timeout_s: float = 60.0) -> dict[tuple[str, int], int]:
    """Wait (bounded) until no transaction holds any of these partitions open: the last
    stable offset has reached the high watermark. Returns the ends."""
    committed, uncommitted = consumer(c, "read_committed"), consumer(c, "read_uncommitted")
    last = None
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                lso, hw = end_offsets(committed, tps), end_offsets(uncommitted, tps)
            except KafkaException as exc:  # a leader moving: ask again
                last = exc
            else:
                if lso == hw:
                    return hw
                last = {tp: (lso[tp], hw[tp]) for tp in tps if lso[tp] != hw[tp]}
            time.sleep(0.2)
    finally:
        committed.close()
        uncommitted.close()
    raise AssertionError(f"a transaction still holds partitions open after {timeout_s:.0f} s "
                         f"(last stable offset, high watermark): {last}")


View = dict[tuple[str, int], list[tuple[int, bytes]]]  # partition -> [(offset, value)] as read


def read_all(c, isolation: str, tps, ends: dict, timeout_s: float = 60.0) -> View:
    """Every record a consumer with this isolation level reads from the start of each
    partition to its end (bounded in time)."""
    reader = consumer(c, isolation)
    view: View = {tp: [] for tp in tps}
    try:
        reader.assign([TopicPartition(t, p, 0) for t, p in tps])
        at_end = {tp for tp in tps if ends[tp] == 0}
        deadline = time.monotonic() + timeout_s
        while at_end != set(tps):
            assert time.monotonic() < deadline, f"{isolation} read not at the end after {timeout_s:.0f} s: " \
                                                f"{sorted(set(tps) - at_end)} still reading"
            msg = reader.poll(0.5)
            if msg is None:
                continue
            tp = (msg.topic(), msg.partition())
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    if msg.offset() >= ends[tp]:
                        at_end.add(tp)
                    continue
                assert not msg.error().fatal(), msg.error()
                continue  # transient (a broker coming back): the client retries
            view[tp].append((msg.offset(), msg.value()))
    finally:
        reader.close()
    return view


def all_values(view: View) -> list[bytes]:
    return [v for records in view.values() for _, v in records]


class LiveReader(threading.Thread):
    """A read_committed consumer that reads along while the stream runs and nodes die and
    come back, until `finish` tells it where the partitions end (or `stop`)."""

    def __init__(self, c, tps):
        super().__init__(daemon=True)
        self.reader = consumer(c, "read_committed")
        self.reader.assign([TopicPartition(t, p, 0) for t, p in tps])
        self.view: View = {tp: [] for tp in tps}
        self.last: dict | None = None  # partition -> offset of its last record, once known
        self.errors: list[str] = []
        self.stopped = threading.Event()
        self.done = threading.Event()

    def caught_up(self) -> bool:
        return self.last is not None and all(
            last is None or (self.view[tp] and self.view[tp][-1][0] >= last) for tp, last in self.last.items())

    def run(self) -> None:
        deadline = time.monotonic() + 400  # bounded; the test stops it on its way out anyway
        try:
            while not self.stopped.is_set() and not self.caught_up() and time.monotonic() < deadline:
                msg = self.reader.poll(0.2)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        self.errors.append(str(msg.error()))
                    continue
                self.view[(msg.topic(), msg.partition())].append((msg.offset(), msg.value()))
        finally:
            self.reader.close()
            self.done.set()

    def finish(self, final: View, timeout_s: float = 60.0) -> View:
        self.last = {tp: records[-1][0] if records else None for tp, records in final.items()}
        assert self.done.wait(timeout_s), \
            f"the live reader did not reach the end in {timeout_s:.0f} s: " \
            f"{ {tp: (r[-1][0] if r else None, self.last[tp]) for tp, r in self.view.items()} }"
        return self.view

    def stop(self) -> None:
        self.stopped.set()
        self.done.wait(30)


# -- a stream of transactions -----------------------------------------------------------------
@dataclass
class Stream:
    """A transactional producer used as confluent-kafka's documentation says: a retriable
    error retries the call, an abortable one aborts the transaction, a fatal one starts a
    new producer with the same transactional id (its init fences the old one and ends its
    transaction). Each transaction's fate as the application saw it is recorded."""

    c: LocalCluster
    transactional_id: str
    tps: list[tuple[str, int]]
    committed: dict[int, list[bytes]] = field(default_factory=dict)  # commit_transaction returned
    aborted: dict[int, list[bytes]] = field(default_factory=dict)  # abort_transaction returned
    unknown: dict[int, list[bytes]] = field(default_factory=dict)  # fatal error: either, never torn
    errors: list[str] = field(default_factory=list)
    restarts: int = 0
    producer: Producer | None = None
    next_txn: int = 0

    def start(self) -> Stream:
        self.producer = Producer({"bootstrap.servers": self.c.bootstrap_servers,
                                  "transactional.id": self.transactional_id,
                                  "transaction.timeout.ms": STREAM_TXN_TIMEOUT_MS, "linger.ms": 2,
                                  "log_level": 3})
        self._retrying("init_transactions", self.producer.init_transactions, 90)
        return self

    def _retrying(self, what: str, call_, budget_s: float) -> None:
        deadline = time.monotonic() + budget_s
        for _ in range(100):
            try:
                call_(max(1.0, min(15.0, deadline - time.monotonic())))
                return
            except KafkaException as exc:
                err = exc.args[0]
                self.errors.append(f"txn {self.next_txn}: {what}: {err}")
                if not err.retriable() or time.monotonic() >= deadline:
                    raise
        raise AssertionError(f"{what} retried 100 times")

    def _start_over(self) -> None:
        self.restarts += 1
        old, self.producer = self.producer, None
        if old is not None:
            old.purge()
            del old
        self.start()

    def one(self, fault=None, fault_at: str = "", records: list[bytes] | None = None,
            commit: bool | None = None) -> str:
        """One transaction over every partition (its values numbered, every ABORT_EVERY-th
        aborted, unless given). `fault` runs in a thread as the commit (or abort) starts
        (fault_at="commit") or right after it returned (fault_at="committed": its markers
        are still being written). Returns the transaction's fate."""
        n = self.next_txn
        self.next_txn += 1
        if records is None:
            records = [f"{self.transactional_id}/{n}/{k}".encode() for k in range(RECORDS_PER_TXN)]
        if commit is None:
            commit = n % ABORT_EVERY != ABORT_EVERY - 1
        p = self.producer
        thread = None

        def strike():
            nonlocal thread
            if fault is not None and thread is None:
                thread = threading.Thread(target=fault)
                thread.start()

        try:
            p.begin_transaction()
            for k, value in enumerate(records):
                topic, partition = self.tps[k % len(self.tps)]
                p.produce(topic, value, partition=partition)
                p.poll(0)
            if not commit:
                p.flush(10)  # in the log before the abort: read_uncommitted sees them
            if fault_at == "commit":
                strike()
            if commit:
                self._retrying("commit_transaction", p.commit_transaction, 60)
                self.committed[n] = records
                return "committed"
            self._retrying("abort_transaction", p.abort_transaction, 60)
            self.aborted[n] = records
            return "aborted"
        except KafkaException as exc:
            err = exc.args[0]
            if err.txn_requires_abort():
                try:
                    self._retrying("abort_transaction", p.abort_transaction, 60)
                    self.aborted[n] = records
                    return "aborted"
                except KafkaException:
                    pass
            self.unknown[n] = records
            self._start_over()
            return "unknown"
        finally:
            strike()  # at the latest once the transaction has ended
            if thread is not None:
                thread.join(30)

    def run_until(self, commits: int, timeout_s: float, what: str) -> None:
        """Transactions until `commits` more have committed (bounded in time and count)."""
        target = len(self.committed) + commits
        deadline = time.monotonic() + timeout_s
        for _ in range(500):
            if len(self.committed) >= target:
                return
            assert time.monotonic() < deadline, f"{what}: only {len(self.committed)} of {target} " \
                                                f"transactions committed in {timeout_s:.0f} s; {self.errors[-5:]}"
            self.one()
        raise AssertionError(f"{what}: {target} commits not reached in 500 transactions")

    def close(self) -> None:
        if self.producer is not None:
            self.producer.flush(10)
            self.producer = None


def assert_all_or_nothing(stream: Stream, read_committed: list[bytes], read_uncommitted: list[bytes]) -> None:
    """What the transactions' fates promise a read_committed reader."""
    seen = Counter(read_committed)
    twice = sorted(v for v, n in seen.items() if n > 1)
    assert not twice, f"{len(twice)} records read twice, e.g. {twice[:5]}"
    missing = {n: [v for v in vs if v not in seen] for n, vs in stream.committed.items()}
    missing = {n: vs for n, vs in missing.items() if vs}
    assert not missing, f"committed transactions not (fully) visible: {missing}"
    shown = {n: [v for v in vs if v in seen] for n, vs in stream.aborted.items()}
    shown = {n: vs for n, vs in shown.items() if vs}
    assert not shown, f"aborted transactions visible to read_committed: {shown}"
    torn = {n: [v in seen for v in vs] for n, vs in stream.unknown.items()}
    torn = {n: flags for n, flags in torn.items() if any(flags) and not all(flags)}
    assert not torn, f"transactions torn (some records visible, some not): {torn}"
    known = {v for fate in (stream.committed, stream.aborted, stream.unknown) for vs in fate.values() for v in vs}
    strangers = sorted(set(seen) - known)
    assert not strangers, f"records no transaction wrote: {strangers[:5]}"
    # the aborted transactions' records are in the log: read_committed leaves them out
    in_log = set(read_uncommitted)
    assert any(v in in_log for vs in stream.aborted.values() for v in vs), \
        "no aborted record in the log: the run did not exercise read_committed's filtering"


# -- the cluster ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def module_cluster():
    with LocalCluster(3, topic_defaults={"min.insync.replicas": 2}, extra_toml=TXN_TOML) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


@pytest.fixture
def c(module_cluster):
    """The module's cluster with every node up and every broker unfenced."""
    down = [n for n in NODES if not module_cluster.running(n)]
    if down:
        module_cluster.start(down)
    module_cluster.wait_ready(timeout_s=60)
    module_cluster.wait_until(lambda: brokers_unfenced(module_cluster), 30, "all brokers unfenced")
    return module_cluster


def topics(c, prefix: str) -> list[tuple[str, int]]:
    create_topic(c, f"{prefix}-a", 3)
    create_topic(c, f"{prefix}-b", 2)
    return [(f"{prefix}-a", p) for p in range(3)] + [(f"{prefix}-b", p) for p in range(2)]


# -- 1. kill -9 during a stream of transactions ----------------------------------------------
def stream_through_kills(c, prefix: str, choose_victim) -> None:
    """A stream of transactions over two topics while a read_committed consumer reads
    along; the node `choose_victim` picks is killed twice: as a commit starts, and (after
    it came back and took its leadership back) right after a commit returned, while the
    markers are being written. Then what read_committed and read_uncommitted consumers see."""
    tps = topics(c, prefix)
    stream = Stream(c, f"{prefix}-producer", tps).start()
    live = LiveReader(c, tps)
    live.start()
    try:
        stream.run_until(COMMITS_PER_PHASE, 60, "before the kill")
        for fault_at in ("commit", "committed"):
            victim = choose_victim(stream)
            fate = stream.one(fault=lambda: c.kill(victim), fault_at=fault_at, commit=True)
            print(f"killed node {victim} at {fault_at} of transaction {stream.next_txn - 1}: {fate}")
            stream.run_until(COMMITS_PER_PHASE, 90, f"after node {victim} was killed")
            # the node comes back (its logs recovered after kill -9) and, in sync again,
            # takes its leadership back (preferred replica) while the stream goes on
            c.start_node(victim)
            c.wait_ready([victim], timeout_s=60)
            stream.run_until(COMMITS_PER_PHASE, 60, f"after node {victim} came back")
            if fault_at == "commit":
                watched = tps + [(TXN_STATE_TOPIC, txn_state_partition(c, stream.transactional_id, via=victim))]
                c.wait_until(lambda: stream.one() and leads_its_preferred(c, victim, watched), 60,
                             f"node {victim} leading its preferred partitions again", interval_s=0)
                stream.run_until(COMMITS_PER_PHASE, 60, f"after node {victim} led again")
        stream.close()
        print(f"{len(stream.committed)} committed, {len(stream.aborted)} aborted, {len(stream.unknown)} unknown; "
              f"{stream.restarts} producer restarts; errors: {stream.errors[:10]}")
        ends = wait_stable(c, tps)
        final = read_all(c, "read_committed", tps, ends)
        assert_all_or_nothing(stream, all_values(final), all_values(read_all(c, "read_uncommitted", tps, ends)))
        # what a read_committed consumer read while the nodes died and came back is what one
        # reads now: the same records at the same offsets, nothing aborted, nothing twice
        along = live.finish(final)
        assert along == final, ({tp: (along[tp], final[tp]) for tp in tps if along[tp] != final[tp]}, live.errors[:5])
    finally:
        stream.close()
        live.stop()


def leads_its_preferred(c, node: int, tps) -> bool:
    """Whether `node` leads every partition it is the first replica of; where it does not
    yet, a preferred election is asked for (Kafka's ElectLeaders: the controller's own
    move comes only every few seconds)."""
    via = next(n for n in NODES if n != node)
    behind = [tp for tp in tps if (info := partition_info(c, *tp, via=via))["replica_ids"][0] == node
              and info["leader_id"] != node]
    for tp in behind:  # refused while the node is not back in the ISR: asked again next time
        elect({"bootstrap.servers": c.bootstrap_servers}, *tp, "preferred")
    return not behind


def test_kill_9_of_the_transaction_coordinator_during_a_stream_tears_no_transaction(c):
    def the_coordinator(stream):
        return coordinator_of(c, stream.transactional_id, via=running(c)[0])

    stream_through_kills(c, "coordkill", the_coordinator)


def test_kill_9_of_a_partition_leader_during_a_stream_tears_no_transaction(c):
    def a_data_leader(stream):
        via = running(c)[0]
        coordinator = coordinator_of(c, stream.transactional_id, via=via)
        leaders = {partition_info(c, *tp, via=via)["leader_id"] for tp in stream.tps}
        others = sorted(leaders - {coordinator})
        assert others, f"every partition is led by the coordinator {coordinator}: no data-only leader to kill"
        return others[0]

    stream_through_kills(c, "leaderkill", a_data_leader)


# -- 2. every node restarted with a transaction open ------------------------------------------
OPEN_TXN_PRODUCER = r"""
import json, sys, time
from confluent_kafka import Producer
bootstrap, tid, timeout_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
tps, values = json.loads(sys.argv[4]), json.loads(sys.argv[5])
p = Producer({"bootstrap.servers": bootstrap, "transactional.id": tid, "transaction.timeout.ms": timeout_ms,
              "log_level": 3})
p.init_transactions(60)
p.begin_transaction()
for i, v in enumerate(values):
    topic, partition = tps[i % len(tps)]
    p.produce(topic, v.encode(), partition=partition)
left = p.flush(30)
print("open" if left == 0 else f"unflushed {left}", flush=True)
time.sleep(300)
"""


def open_a_transaction_and_vanish(c, tid: str, tps, records: list[bytes]) -> None:
    """A producer process writes `records` in a transaction it never ends, and is killed."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-c", OPEN_TXN_PRODUCER, c.bootstrap_servers, tid,
                                 str(OPEN_TXN_TIMEOUT_MS), json.dumps(tps), json.dumps([v.decode() for v in records])],
                                stdout=subprocess.PIPE, stderr=err, text=True)
        line: list[str] = []
        try:
            reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
            reader.start()
            reader.join(90)
        finally:
            proc.kill()  # SIGKILL: no abort, no EndTxn, nothing more from this producer
            proc.communicate(timeout=30)
            err.seek(0)
        assert line and line[0].strip() == "open", (line, err.read().decode(errors="replace")[-2000:])


def committed_batch(c, tid: str, tps, records: list[bytes]) -> None:
    """A transaction of `records` that commits (a fresh producer with this id)."""
    stream = Stream(c, tid, tps).start()
    try:
        assert stream.one(records=records, commit=True) == "committed", stream.errors
    finally:
        stream.close()


def high_watermarks(c, tps) -> dict:
    reader = consumer(c, "read_uncommitted")
    try:
        return end_offsets(reader, tps)
    finally:
        reader.close()


@pytest.mark.parametrize("how", ["stop", "kill_9"])
def test_an_open_transaction_is_aborted_at_its_timeout_after_every_node_restarts(c, how):
    tps = topics(c, f"open-{how}")
    tid = f"abandoned-{how}"
    before = [f"before/{i}".encode() for i in range(5)]
    opened = [f"open/{i}".encode() for i in range(10)]  # two on each partition
    after = [f"after/{i}".encode() for i in range(5)]
    bystander = Stream(c, f"bystander-{how}", tps).start()
    try:
        assert bystander.one(records=before, commit=True) == "committed", bystander.errors
        open_a_transaction_and_vanish(c, tid, tps, opened)
        assert bystander.one(records=after, commit=True) == "committed", bystander.errors
    finally:
        bystander.close()

    # the open transaction holds read_committed readers back on every partition it wrote
    reader = consumer(c, "read_committed")
    try:
        lso, hw = end_offsets(reader, tps), high_watermarks(c, tps)
    finally:
        reader.close()
    assert all(lso[tp] < hw[tp] for tp in tps), (lso, hw)

    if how == "stop":
        c.stop_all()
    else:
        for n in NODES:
            c.kill(n)
    c.start().wait_ready(timeout_s=60)

    # no client of the transactional id is left: its coordinator aborts the transaction
    # at its timeout, and the last stable offset moves past it
    ends = wait_stable(c, tps, timeout_s=60)
    committed = all_values(read_all(c, "read_committed", tps, ends))
    assert sorted(committed) == sorted(before + after), committed
    assert set(opened) <= set(all_values(read_all(c, "read_uncommitted", tps, ends))), \
        "the open transaction's records are gone from the log (they were acknowledged with acks=all)"

    # a new producer with the same transactional id starts and commits
    again = [f"again/{i}".encode() for i in range(5)]
    committed_batch(c, tid, tps, again)
    ends = wait_stable(c, tps, timeout_s=30)
    assert sorted(all_values(read_all(c, "read_committed", tps, ends))) == sorted(before + after + again)
