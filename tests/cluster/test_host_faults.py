"""The host as a failure domain in the failure lab: a cluster of [[hosts]] entries (3
hosts of 2 broker processes each, each host on an address of its own) keeps every
partition's replicas on 3 distinct hosts, the lab's targets name a whole host, and a
whole host SIGKILLed (every process of the host of t-0's leader) loses no acknowledged
write with RF 3 and min.insync.replicas 2 (the built-in host-kill scenario, shortened).
"""

from __future__ import annotations

import pytest
from scenario_runs import SHORT_RECOVERY_S, run

from kraft.scenario.history import OK
from kraft.scenario.targets import resolve
from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster


def test_replicas_sit_on_three_hosts_and_a_host_target_names_its_processes():
    with LocalCluster(host_entries=3, processes_per_host=2) as c:
        assert c.host_of == {1: "h1", 2: "h1", 3: "h2", 4: "h2", 5: "h3", 6: "h3"}
        assert c.hosts[1] == c.hosts[2] != c.hosts[3]  # one address per host
        c.start().wait_ready(timeout_s=60)
        status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": "t", "partitions_count": 6,
                                                               "replication_factor": 3})
        assert status == 201, body

        def led():
            status, body = c.get(1, f"/v3/clusters/{c.cluster_id}/topics/t/partitions")
            views = body["data"] if status == 200 else []
            return views if len(views) == 6 and all(v.get("leader_id") is not None for v in views) else None
        views = c.wait_until(led, 30, "every partition of t led")
        for view in views:
            hosts = sorted(c.host_of[r] for r in view["replica_ids"])
            assert hosts == ["h1", "h2", "h3"], view
        assert {v["leader_id"] for v in views} == set(c.hosts)  # every process serves, not one per host
        leader = next(v["leader_id"] for v in views if v["partition_id"] == 0)
        host = c.host_of[leader]
        assert resolve(c, "leader-host:t-0") == sorted(n for n in c.hosts if c.host_of[n] == host)
        assert resolve(c, "host:h2") == [3, 4]
        with pytest.raises(ValueError, match="hosts are h1, h2, h3"):
            resolve(c, "host:h9")


def test_a_whole_host_killed_loses_no_acknowledged_write():
    result, failed = run("host-kill", duration=14, recovery=SHORT_RECOVERY_S)
    assert result.skipped is None, result.skipped
    assert not failed, failed
    kill = next(f for f in result.history.faults if f.kind == "kill")
    assert kill.target in ([1, 2], [3, 4], [5, 6]), kill  # both processes of one host
    restart = next(f for f in result.history.faults if f.kind == "start")
    lost = next(c for c in result.checks if c.name == "lost_writes")
    assert lost.counts["lost"] == 0 and lost.counts["acknowledged"] > 50, lost.summary
    # t-0 lost its leader's host and still took acks=all writes before it came back: its
    # replicas on the two other hosts are an ISR of min.insync.replicas
    assert any(w.partition == 0 and w.outcome == OK and kill.time_ms < w.invoke_ms
               and w.complete_ms < restart.time_ms for w in result.history.writes)
