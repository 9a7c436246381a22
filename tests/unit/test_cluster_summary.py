"""What `kraft status` shows and `kraft health` judges (kraft.cli.cluster_summary), from
answers shaped as the cluster's endpoints give them."""

from __future__ import annotations

from kraft.cli import cluster_summary as cs
from kraft.cli.share_group import in_flight_text

CLUSTER = {"cluster_id": "AAAAAAAAAAAAAAAAAAAAAQ", "cluster_name": "local", "security_enabled": False,
           "controller_id": 1}


def broker(n: int, **extra) -> dict:
    return {"broker_id": n, "host": "127.0.0.1", "port": 8080 + n, "fenced": False, **extra}


def health(**extra) -> dict:
    base = {"is_healthy": True, "controller_id": 1, "all_nodes": [1, 2, 3], "nodes_down": [],
            "nodes_with_failed_log_dir": [], "leaderless_partitions": [], "leaderless_count": 0,
            "under_replicated_partitions": [], "under_replicated_count": 0, "damaged_replicas": [],
            "damaged_count": 0, "acks_all_problems": []}
    return {**base, **extra}


QUORUM = {"leader_id": 1, "voters": [{"node_id": n, "lag": 0} for n in (1, 2, 3)], "observers": [],
          "problems": []}
READY = {n: cs.Readiness(cs.READY) for n in (1, 2, 3)}
TOPICS = [{"topic_name": "a", "partitions_count": 3}, {"topic_name": "b", "partitions_count": 2}]


def answers(**changes) -> cs.Answers:
    fields = {"cluster": CLUSTER, "health": health(), "brokers": [broker(n) for n in (1, 2, 3)],
              "topics": TOPICS, "quorum": QUORUM, "ready": dict(READY),
              "addresses": {n: f"http://127.0.0.1:{8080 + n}" for n in (1, 2, 3)}}
    return cs.Answers(**{**fields, **changes})


def test_a_healthy_cluster_is_one_line_for_health_and_a_row_per_node_for_status():
    s = cs.summarize(answers())
    assert s.healthy and s.problems == []
    assert cs.verdict(s) == ["healthy: 3 node(s) up, controller node 1, 5 partition(s) led and fully replicated"]
    assert s.rows[0] == ["1", "controller,broker", "http://127.0.0.1:8081", "yes", "unfenced", "leader"]
    assert s.rows[1][-1] == "voter, lag 0"
    assert "Partitions: 5 (5 led, 0 without a leader, 0 under-replicated)" in s.partitions
    assert "local" in s.headline and "controller: node 1" in s.headline and "security: off" in s.headline
    assert any("security is off" in n for n in s.notes)


def test_a_node_down_is_one_problem_naming_every_reason():
    down = answers(health=health(is_healthy=False, nodes_down=[3]),
                   brokers=[broker(1), broker(2), broker(3, fenced=True)],
                   ready={**READY, 3: cs.Readiness(cs.UNREACHABLE, "Connection refused")})
    s = cs.summarize(down)
    assert not s.healthy
    assert s.problems == ["node 3: its broker is down (fenced or not registered); does not answer at "
                          "http://127.0.0.1:8083"]
    assert s.rows[2][3:5] == ["no answer: Connection refused", "fenced"]
    assert cs.verdict(s)[0] == "unhealthy:"


def test_partitions_without_a_leader_or_under_replicated_are_named_up_to_five():
    refs = [{"ns": "kafka", "topic": "a", "partition_id": i} for i in range(7)]
    s = cs.summarize(answers(health=health(is_healthy=False, leaderless_partitions=refs, leaderless_count=7,
                                           under_replicated_partitions=refs[:1], under_replicated_count=1,
                                           acks_all_problems=["1 partition(s) below min.insync.replicas"])))
    assert s.problems == ["7 partition(s) without a leader (offline): a-0, a-1, a-2, a-3, a-4 and 2 more",
                          "1 partition(s) under-replicated: a-0",
                          "acks=all writes would fail: 1 partition(s) below min.insync.replicas"]


def test_no_quorum_answer_and_no_controller_are_problems():
    s = cs.summarize(answers(quorum=None, quorum_error="no leader (error_code 50302)",
                             health=health(controller_id=-1), cluster={**CLUSTER, "controller_id": None}))
    assert s.problems[:2] == ["the controller quorum does not answer: no leader (error_code 50302)",
                              "no active controller (the quorum has no leader)"]
    assert "controller: none" in s.headline and s.rows[0][-1] == "?"


def test_a_damaged_replica_is_a_problem_only_without_a_healthy_copy():
    damaged = [{"node_id": 2, "topic": "a", "partition": 0, "healthy_copy": True},
               {"node_id": 3, "topic": "b", "partition": 1, "healthy_copy": False}]
    s = cs.summarize(answers(health=health(damaged_replicas=damaged, damaged_count=2)))
    assert s.problems == ["node 3: b-1 damaged with no healthy copy"]
    assert any("1 damaged replica(s) being repaired" in n for n in s.notes)


def test_the_servers_own_verdict_counts_when_nothing_else_says_why():
    assert cs.summarize(answers(health=health(is_healthy=False))).problems == [
        "the cluster reports itself unhealthy (/v1/cluster/health_overview)"]


def test_a_controller_only_node_and_an_observer_broker():
    quorum = {**QUORUM, "voters": [{"node_id": 1, "lag": 0}],
              "observers": [{"node_id": 4, "kind": "broker", "lag": 2}]}
    s = cs.summarize(answers(quorum=quorum, brokers=[broker(4)], health=health(all_nodes=[1, 4]),
                             addresses={1: "http://h:1"}, ready={1: cs.Readiness(cs.READY),
                                                                  4: cs.Readiness(cs.UNKNOWN)}))
    assert [r[:2] for r in s.rows] == [["1", "controller"], ["4", "broker"]]
    assert s.rows[1][-1] == "observer, lag 2" and s.rows[1][3] == "?"
    assert any("no address known" in n for n in s.notes) and s.healthy


def test_node_addresses_prefer_the_files_and_bracket_ipv6():
    brokers = [broker(1), {"broker_id": 2, "host": "::1", "port": 9000}]
    assert cs.node_addresses({1: "https://n1:8081"}, brokers, "https") == {1: "https://n1:8081",
                                                                         2: "https://[::1]:9000"}
    assert cs.scheme_of("https://h:1") == "https" and cs.scheme_of("http://h:1") == "http"


def test_in_flight_counts_show_only_states_with_records():
    assert in_flight_text({"available": 3, "acquired": 0, "acknowledged": 2}) == "available=3 acknowledged=2"
    assert in_flight_text({"available": 0}) == "-"
