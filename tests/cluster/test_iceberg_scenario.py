"""The failure lab's iceberg check (kraft/scenario/checks/iceberg.py): a scenario whose
topic sets iceberg.mode is also judged on its Iceberg table, which must hold each
committed record once, no aborted one, and every acknowledged write (docs/SCENARIOS.md,
"Iceberg topics in the lab").

- jepsen-txn-iceberg-leader-kill, shortened: Jepsen's transactional workload with
  deliberate aborts while the table's coordinator (the node committing it) and t-0's
  leader are killed and the coordinator restarted: the check ran and passed with every count at 0;
- its negative controls, on a real cluster and real tables, no mocks: a table that has
  not caught up within the bound (a large iceberg.target.lag.ms) fails as "did not catch
  up"; a committed record written after the table was read is "missing" (and an
  acknowledged write that is no row); records a user deleted from the log
  (DeleteRecords) while the table keeps their rows are rows that are "not committed";
- the soak (`./dev test -m soak`): jepsen-txn-iceberg-soak, 300 s of process faults on
  random nodes and the table's coordinator killed every 20-30 s, two seeds.
"""

from __future__ import annotations

import json
import time

import pytest
from cluster_client import create_topic
from scenario_runs import SHORT_RECOVERY_S, options

from kraft.config.scenarios import load_scenario
from kraft.scenario import iceberg_table
from kraft.scenario.checks.iceberg import check_iceberg
from kraft.scenario.history import OK, UNKNOWN, History, Write
from kraft.scenario.runner import RunOptions, run_scenario
from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster
confluent_kafka = pytest.importorskip("confluent_kafka", reason="needs confluent-kafka (the test extras)")
from confluent_kafka.admin import AdminClient  # noqa: E402

SCENARIO = "jepsen-txn-iceberg-leader-kill"
SHORT_S = 14  # the restart of the table's coordinator at 12 s, 2 s before healing (scenario_runs.FAULT_END_MARGIN_S)


def _failed(result) -> list[str]:
    return [f"{r.name}: expected {r.expected}, got {r.actual} ({r.summary})" for r in result.verdict.rows if not r.ok]


def _assert_iceberg_passed(result) -> dict:
    assert result.skipped is None, result.skipped
    failed = _failed(result)
    checks = {c.name: c for c in result.checks}
    assert "iceberg" in checks, [c.name for c in result.checks]  # the topic's own check ran and has its row
    ice = checks["iceberg"]
    if failed:  # in full, with every failing check's examples (an assertion message gets cut)
        print("\n".join(failed + [f"{c.name}: {e}" for c in result.checks if not c.ok for e in c.examples]))
    assert not failed, (failed, ice.examples)
    assert ice.ok and ice.ran and "iceberg" in [r.name for r in result.verdict.rows], ice.summary
    c = ice.counts
    assert c["caught_up"] == 1 and c["missing"] == c["duplicated"] == c["not_committed"] == 0, ice.summary
    assert c["acknowledged_not_rows"] == 0 and c["failed_or_aborted_rows"] == 0, ice.summary
    assert c["rows"] == c["committed_records"] > 50, ice.summary
    assert c["failed_or_aborted_writes"] > 0, ice.summary  # aborted transactions were there to leave out
    assert result.facts["anomalies"] == {}
    return c


def test_jepsen_txn_with_leader_kills_leaves_each_committed_record_once_in_the_table(tmp_path):
    """The scenario shortened to 14 s: both kills and the committer's restart happened (not
    skipped), Jepsen found nothing, every lab check passed, and the iceberg check compared a
    caught-up table with the read_committed log: 0 missing, 0 duplicated, 0 not committed,
    every acknowledged transaction's write a row, none of an aborted one."""
    scenario = load_scenario(SCENARIO)
    started = time.monotonic()
    result = run_scenario(scenario, options(scenario, SHORT_S, SHORT_RECOVERY_S, report_dir=tmp_path))
    counts = _assert_iceberg_passed(result)
    faults = [e for e in result.history.faults if e.kind in ("kill", "restart")]
    assert [e.kind for e in faults] == ["kill", "kill", "restart"], result.history.faults
    assert not any(e.detail.startswith("skipped") for e in faults), faults
    assert counts["acknowledged"] > 20, counts
    assert faults[0].target and faults[1].target, faults  # the table's coordinator, then t-0's leader
    ice = next(c for c in result.checks if c.name == "iceberg")
    print(f"{SCENARIO} ({SHORT_S} s): {time.monotonic() - started:.0f} s in all; iceberg: {ice.summary}")


def _history(topic: str, partitions: int, data: dict, writes: list[Write] = ()) -> History:
    h = History(topic, partitions)
    h.iceberg = data
    h.writes = list(writes)
    return h


class _Acked:
    """Delivery reports as lab Writes: ok with the offset the cluster gave."""

    def __init__(self):
        self.writes: list[Write] = []

    def callback(self, err, msg):
        if err is None:
            self.writes.append(Write("p", len(self.writes), msg.value().decode(), msg.partition(), "all", 0.0, 0.0,
                                     OK, msg.offset()))


def test_the_iceberg_check_fails_on_a_table_behind_and_on_a_log_it_does_not_match():
    """Negative controls on a live cluster, the tables read as the lab reads them:
    1. a topic whose table trails by design (iceberg.target.lag.ms = 10 min) and a 3 s
       bound: "did not catch up", with each partition's lag;
    2. a table caught up with committed writes and an aborted transaction: the check passes
       (so what fails next is the disagreement, not the setup); then one more committed
       record written after the table was read: 1 missing row and 1 acknowledged write
       that is no row, named by partition and offset;
    3. DeleteRecords below offset 5 of partition 0 after the table holds those records: the
       read_committed log no longer has them, so 5 rows are not committed records."""
    with LocalCluster(3) as c:
        c.start().wait_ready(timeout_s=60)
        create_topic(c, "behind", partitions=2, configs={"iceberg.mode": "key_value",
                                                         "iceberg.target.lag.ms": 600_000})
        create_topic(c, "mirror", partitions=2, configs={"iceberg.mode": "key_value",
                                                         "iceberg.target.lag.ms": 1000})
        acked = _Acked()
        p = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all",
                                      "enable.idempotence": True, "linger.ms": 5})
        for i in range(40):
            p.produce("behind", value=b"b%d" % i, partition=i % 2)
            p.produce("mirror", value=b"m%d" % i, partition=i % 2, on_delivery=acked.callback)
        assert p.flush(30) == 0
        tx = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "transactional.id": "ice-check"})
        tx.init_transactions(30)
        tx.begin_transaction()
        for i in range(6):
            tx.produce("mirror", value=b"aborted-%d" % i, partition=i % 2)
        tx.abort_transaction(30)
        aborted = [Write("tx", i, f"aborted-{i}", i % 2, "all", 0.0, 0.0, UNKNOWN, None, "fail: aborted on purpose")
                   for i in range(6)]
        assert len(acked.writes) == 40

        # 1. behind: a bound far below the target lag
        data = iceberg_table.collect(c, "behind", 2, {"iceberg.mode": "key_value",
                                                      "iceberg.target.lag.ms": 600_000}, bound_s=3)
        result = check_iceberg(_history("behind", 2, data))
        assert not result.ok and result.counts["caught_up"] == 0, result.summary
        assert "did not catch up within 3 s" in result.summary and "behind-0" in result.summary, result.summary
        assert result.counts["missing"] > 0  # and what it holds is short of the log, as said
        print("behind:", result.summary, result.examples)

        # 2. mirror, caught up: passes; then a record the table has not seen yet
        configs = {"iceberg.mode": "key_value", "iceberg.target.lag.ms": 1000}
        data = iceberg_table.collect(c, "mirror", 2, configs)
        clean = check_iceberg(_history("mirror", 2, data, acked.writes + aborted))
        assert clean.ok, (clean.summary, clean.examples)
        assert clean.counts["rows"] == clean.counts["committed_records"] == 40, clean.summary
        assert clean.counts["failed_or_aborted_writes"] == 6 and clean.counts["acknowledged"] == 40
        p.produce("mirror", value=b"late", partition=1, on_delivery=acked.callback)
        assert p.flush(30) == 0
        late = acked.writes[-1]
        stale = dict(data)  # the table as read before the write, the log read after it
        stale.update(iceberg_table.read_committed_log(c.bootstrap_servers, "mirror", 2, [None, None]))
        result = check_iceberg(_history("mirror", 2, stale, acked.writes + aborted))
        assert not result.ok, result.summary
        assert result.counts["missing"] == 1 and result.counts["acknowledged_not_rows"] == 1, result.summary
        assert result.counts["duplicated"] == result.counts["not_committed"] == 0, result.summary
        assert any(f"mirror-1 offset {late.offset} value 'late'" in e for e in result.examples), result.examples
        assert "missing 1," in result.summary, result.summary
        print("late record:", result.summary, result.examples)

        # 3. records deleted from the log, still rows of the table
        admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
        futures = admin.delete_records([confluent_kafka.TopicPartition("mirror", 0, 5)], request_timeout=30)
        for f in futures.values():
            f.result(30)
        data = iceberg_table.collect(c, "mirror", 2, configs)
        assert data["caught_up"], data["view"]
        result = check_iceberg(_history("mirror", 2, data, acked.writes + aborted))
        assert not result.ok and result.counts["not_committed"] == 5, (result.summary, result.examples)
        assert result.counts["missing"] == result.counts["duplicated"] == 0, result.summary
        assert any("mirror-0 offset 0 " in e and "below the log start 5" in e for e in result.examples), \
            result.examples
        print("deleted records:", result.summary, result.examples)
        # what a report keeps of it reads back the same (History.to_json / from_json)
        again = History.from_json(json.loads(json.dumps(_history("mirror", 2, data, acked.writes).to_json())))
        assert check_iceberg(again).counts == check_iceberg(_history("mirror", 2, data, acked.writes)).counts


def test_the_verdict_names_duplicated_and_differing_rows():
    """The check's arithmetic on rows it is handed (no cluster): a (partition, offset) twice
    is one duplicated place with one extra row, a row whose value differs from the log's
    is not a committed record, and either fails the check with an example that says so."""
    log = [[0, o, None, str(o), 1000 + o, []] for o in range(4)]
    rows = [list(r) for r in log] + [[0, 2, None, "2", 1002, []]]  # offset 2 twice
    rows[3] = [0, 3, None, "999", 1003, []]  # offset 3 with another value
    data = {"caught_up": True, "waited_s": 0.1, "bound_s": 61.0, "view": [], "until": [4], "rows": rows,
            "log": log, "log_complete": True, "log_start": [0], "translated": {"0": 4}}
    result = check_iceberg(_history("t", 1, data))
    assert not result.ok and result.counts["duplicated"] == 1 and result.counts["duplicate_rows"] == 1
    assert result.counts["not_committed"] == result.counts["differing"] == 1 and result.counts["missing"] == 0
    assert "t-0 offset 2: 2 rows" in " ".join(result.examples), result.examples
    assert "value '999' in the table, '3' in the log" in " ".join(result.examples), result.examples
    assert check_iceberg(_history("t", 1, {**data, "rows": log})).ok


@pytest.mark.soak  # 300 s of faults each, about 6 minutes on 2 cores
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("seed", [1, 2])
def test_jepsen_txn_iceberg_soak_finds_each_committed_record_once(seed, tmp_path):
    """jepsen-txn-iceberg-soak: 300 s of process faults on random nodes (kill, stop,
    pause, restart) and the committer killed every 20-30 s, with deliberate aborts: the
    iceberg check passes as in the short run. Its counts are printed for the record."""
    scenario = load_scenario("jepsen-txn-iceberg-soak")
    result = run_scenario(scenario, RunOptions(seed=seed, report_dir=tmp_path))
    counts = _assert_iceberg_passed(result)
    assert result.facts["faults"] >= 20, result.facts["faults"]
    print(f"jepsen-txn-iceberg-soak seed {seed}: {result.facts['faults']} faults; iceberg {counts}")
