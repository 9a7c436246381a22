"""The hostile scenario's pure parts: the frames it sends and the checkers that judge
what the cluster did under them."""

from __future__ import annotations

import struct

import pytest

from kraft.scenario.hostile import frames
from kraft.scenario.checks.hostile import check_hostile_answers, check_nodes_alive, check_served, check_unfenced
from kraft.scenario.history import OK, FaultEvent, History, Read, Write


def test_every_frame_carries_its_true_length_and_the_known_killers_are_byte_exact():
    built = {**frames.mutations("t", 20, 7), **frames.tagged_field_frames("t"), **frames.null_arrays()}
    for name, frame in built.items():
        assert struct.unpack(">i", frame[:4])[0] == len(frame) - 4, name
    assert frames.KNOWN_KILLERS["Metadata v12 with a 4-billion-entry topic array"].hex() == \
        "0003000c00000007ffff00ffffffff0f"


def test_mutations_are_the_same_for_the_same_seed_and_differ_for_another():
    assert frames.mutations("t", 10, 7) == frames.mutations("t", 10, 7)
    assert frames.mutations("t", 10, 7) != frames.mutations("t", 10, 8)


def test_unknown_tagged_fields_replace_the_closing_tag_buffer_only():
    base = frames.ordinary_requests("t")["ApiVersions v3"]
    tagged = frames.tagged_field_frames("t")["ApiVersions v3 with two unknown tagged fields"]
    assert tagged[4:-1].startswith(base[4:-1]) and tagged[len(base) - 1] == 2  # two tags where 0 was


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
def test_the_huge_batch_holds_a_million_records_below_kafkas_default_message_size():
    from kraft.storage.record_batch import BatchHeader
    batch = frames.huge_batch()
    header = BatchHeader.parse(batch)
    assert header.last_offset_delta + 1 == frames.HUGE_BATCH_RECORDS and header.compression == 4
    assert len(batch) < 1_048_588  # Kafka's message.max.bytes


def test_a_crowd_spreads_over_consecutive_addresses_and_never_past_the_last_loopback_one():
    from kraft.scenario.hostile.kafka import crowd_addresses
    assert crowd_addresses("127.0.0.6", 4) == ["127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9"]
    assert crowd_addresses("127.0.0.251", 4)[-1] == "127.0.0.254"
    with pytest.raises(ValueError):
        crowd_addresses("127.0.0.252", 4)


def test_scram_proof_matches_rfc_7677s_example():
    bare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    assert frames.scram_final(bare, server_first, "pencil") == \
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="


def test_an_answer_with_a_traceback_or_a_path_leaks():
    assert frames.leaks_internals('Traceback (most recent call last):\n  File "/x/kraft/a.py", line 3')
    assert not frames.leaks_internals('{"error_code": 40002, "message": "topic name is reserved"}')


def _abused(*faults: FaultEvent) -> History:
    h = History("t", 1)
    h.faults = [FaultEvent(1000, "hostile-frames", [1], "started"), *faults]
    h.heal_ms = 11_000
    h.watched = True
    return h


def test_served_fails_on_a_stretch_without_success_and_passes_without_one():
    h = _abused()
    for i, t in enumerate([1500, 2500, 9000, 10_500]):
        h.writes.append(Write("p0", i, f"p0-{i}", 0, "all", t - 10, t, OK, i))
    failing = check_served(h, served_gap_ms=5000)
    assert not failing.ok and failing.counts["longest_gap_ms"] == 6500, failing.summary
    h.reads.append(Read("c0", 0, 0, "p0-0", 5500))
    assert check_served(h, served_gap_ms=5000).ok
    assert check_served(h).summary.startswith("not run")


def test_a_node_death_or_fence_counts_unless_a_fault_on_that_node_came_first():
    h = _abused()
    h.node_exits, h.fenced_seen = [(5000, 1, -6)], [(6000, 1)]
    assert not check_nodes_alive(h).ok and "signal 6" in check_nodes_alive(h).examples[0]
    assert not check_unfenced(h).ok
    killed = _abused(FaultEvent(4000, "kill", [1], ""))
    killed.node_exits, killed.fenced_seen = h.node_exits, h.fenced_seen
    assert check_nodes_alive(killed).ok and check_unfenced(killed).ok


def test_hostile_answers_fail_on_any_answer_a_client_may_not_get():
    h = _abused()
    h.abuse_answers = [(1, "hostile-frames", 1, "a frame", "closed", True)]
    assert check_hostile_answers(h).ok
    h.abuse_answers.append((2, "hostile-internal-topic", 1, "REST create of __transaction_state", "HTTP 201", False))
    result = check_hostile_answers(h)
    assert not result.ok and "HTTP 201" in result.examples[0]
