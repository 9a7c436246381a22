"""The AppendEntries plan against a model of the library's handling: whatever stale,
repeated or current message a follower gets, it never drops an entry it has applied,
never acknowledges an entry it does not share with the leader, and still converges."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kraft.quorum.raft_append_guard import plan_append


def library_handles(follower: list, message: dict, keep_tail: bool) -> tuple[list, int]:
    """What pysyncobj does with a matching AppendEntries: truncate after prevLogIdx
    (unless told to keep the tail), append the entries, answer next index."""
    prev = message["prevLogIdx"]
    log = list(follower)
    if len(log) - 1 > prev and not keep_tail:  # index i is at list position i (index 0 = the marker)
        del log[prev + 1:]
    for entry in message["entries"]:
        log.append(entry)
    entries = message["entries"]
    return log, (entries[-1][1] + 1 if entries else prev + 1)


def entries(terms: list[int]) -> list:
    return [(f"cmd{i}-{t}".encode(), i, t) for i, t in enumerate(terms)]


def term_at_of(log):
    return lambda i: log[i][2] if 0 <= i < len(log) else None


@st.composite
def scenario(draw):
    leader_terms = [0] + sorted(draw(st.lists(st.integers(1, 4), min_size=1, max_size=12)))
    leader = entries(leader_terms)
    shared = draw(st.integers(1, len(leader)))  # follower holds the leader's first `shared` entries
    # then entries of term 0, which no leader entry after the marker has: a stale tail
    follower = leader[:shared] + [(b"stale", shared + k, 0) for k in range(draw(st.integers(0, 4)))]
    applied = draw(st.integers(0, shared - 1))
    prev = draw(st.integers(0, len(leader) - 1))
    count = draw(st.integers(0, len(leader) - 1 - prev))
    message = {"type": "append_entries", "term": 9, "prevLogIdx": prev, "prevLogTerm": leader[prev][2],
               "entries": leader[prev + 1:prev + 1 + count], "commit_index": draw(st.integers(0, len(leader) - 1))}
    return leader, follower, applied, message


@settings(max_examples=400, deadline=None)
@given(scenario())
def test_no_applied_entry_is_dropped_and_no_false_ack(case):
    leader, follower, applied, message = case
    plan = plan_append(message, term_at_of(follower), 0, len(follower) - 1, applied)
    assert plan.action != "refuse"  # applied entries are the leader's: never a real conflict here
    if plan.action == "pass" and (message["prevLogIdx"] >= len(follower)
                                  or follower[message["prevLogIdx"]][2] != message["prevLogTerm"]):
        return  # the library answers "reset": nothing changes
    handed = message if plan.action == "pass" else plan.message
    after, next_index = library_handles(follower, handed, plan.keep_tail)
    assert after[:applied + 1] == follower[:applied + 1]  # nothing applied was dropped
    assert after[:next_index] == leader[:next_index]  # what it acknowledges, it shares
    if plan.keep_tail:
        assert handed["commit_index"] <= next_index - 1  # commits nothing it did not vouch for


def test_a_repeated_message_keeps_the_tail_instead_of_truncating():
    log = entries([0, 1, 1, 1, 1, 1])
    stale = {"prevLogIdx": 1, "prevLogTerm": 1, "entries": log[2:4], "commit_index": 5}
    plan = plan_append(stale, term_at_of(log), 0, 5, last_applied=5)
    assert plan.action == "rewrite" and plan.keep_tail
    assert plan.message["prevLogIdx"] == 3 and plan.message["entries"] == []
    assert plan.message["commit_index"] == 3


def test_a_real_conflict_below_the_applied_index_is_refused():
    ours = entries([0, 1, 1, 1])
    message = {"prevLogIdx": 1, "prevLogTerm": 1, "entries": [(b"x", 2, 2)], "commit_index": 2}
    assert plan_append(message, term_at_of(ours), 0, 3, last_applied=3).action == "refuse"
    # above the applied index, Raft deletes from the conflict on: handed on for the library
    assert plan_append(message, term_at_of(ours), 0, 3, last_applied=1).action == "pass"


def test_a_heartbeat_at_our_end_or_a_mismatch_is_handed_on_unchanged():
    ours = entries([0, 1, 1])
    assert plan_append({"prevLogIdx": 2, "prevLogTerm": 1, "entries": [], "commit_index": 2},
                       term_at_of(ours), 0, 2, 2).action == "pass"
    assert plan_append({"prevLogIdx": 2, "prevLogTerm": 7, "entries": [], "commit_index": 2},
                       term_at_of(ours), 0, 2, 2).action == "pass"
