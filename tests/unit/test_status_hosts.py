"""`kraft status` names each node's host and sums each host when brokers belong to
[[hosts]] entries (kraft.cli.cluster_summary), and looks as before when none do."""

from __future__ import annotations

from kraft.cli import cluster_summary as cs

CLUSTER = {"cluster_id": "AAAAAAAAAAAAAAAAAAAAAQ", "cluster_name": "local", "security_enabled": True,
           "controller_id": 1}
QUORUM = {"leader_id": 1, "voters": [{"node_id": 1, "lag": 0}], "observers": [], "problems": []}


def broker_row(n: int, host_name: str | None, **extra) -> dict:
    return {"broker_id": n, "host_name": host_name, "leaders": 1, "replicas": 2, "under_replicated": 0,
            "cpu_percent": 10.0, "rss_bytes": 100 * 2**20, **extra}


def answers(rows: list[dict], hosts: list[dict]) -> cs.Answers:
    ids = [r["broker_id"] for r in rows]
    health = {"is_healthy": True, "controller_id": 1, "all_nodes": ids, "nodes_down": [], "brokers": rows,
              "hosts": hosts}
    return cs.Answers(cluster=CLUSTER, health=health,
                      brokers=[{"broker_id": n, "host": "127.0.0.1", "port": 8080 + n} for n in ids],
                      topics=[{"topic_name": "t", "partitions_count": 3}], quorum=QUORUM,
                      ready={n: cs.Readiness(cs.READY) for n in ids},
                      addresses={n: f"http://127.0.0.1:{8080 + n}" for n in ids})


def test_each_node_names_its_host_and_each_host_has_a_line():
    rows = [broker_row(1, "a"), broker_row(2, "a"), broker_row(3, None, cpu_percent=None, rss_bytes=None)]
    hosts = [{"host": "a", "host_name": "a", "brokers": [1, 2], "leaders": 2, "replicas": 4,
              "under_replicated": 1, "cpu_percent": 20.0, "rss_bytes": 200 * 2**20, "unreported": []},
             {"host": "broker=3", "host_name": None, "brokers": [3], "leaders": 1, "replicas": 2,
              "under_replicated": 0, "cpu_percent": None, "rss_bytes": None, "unreported": [3]}]
    s = cs.summarize(answers(rows, hosts))
    assert s.columns[:2] == ("Node", "Host")
    assert [r[:2] for r in s.rows] == [["1", "a"], ["2", "a"], ["3", "-"]]
    assert s.rows[0][2:] == ["controller,broker", "http://127.0.0.1:8081", "yes", "unfenced", "leader"]
    assert s.hosts == [
        "host a: broker(s) 1, 2; 2 leader(s), 4 replica(s), 1 under-replicated; CPU 20%, memory 200 MiB",
        "broker 3 (no host entry): broker(s) 3; 1 leader(s), 2 replica(s), 0 under-replicated; "
        "CPU and memory unknown"]


def test_without_host_entries_the_table_is_as_before():
    rows = [broker_row(1, None), broker_row(2, None)]
    s = cs.summarize(answers(rows, []))
    assert s.columns == ("Node", "Roles", "Address", "Ready", "Broker", "Metadata")
    assert s.hosts == []


def test_an_older_node_without_hosts_in_its_answer_is_read_as_before():
    a = answers([broker_row(1, "a")], [])
    s = cs.summarize(cs.Answers(**{**a.__dict__, "health": {k: v for k, v in a.health.items()
                                                              if k not in ("brokers", "hosts")}}))
    assert "Host" not in s.columns and s.hosts == []
