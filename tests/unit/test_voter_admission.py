"""Whether a restarting controller's peers prove it was removed from the quorum
(kraft/server/voter_admission.py): proof from the leader, or from a majority of one
voter set; never from a minority, a stale follower, or a quorum that has not formed."""

from __future__ import annotations

import itertools

import pytest

from kraft.server.voter_admission import VoterAnswer, removal_proof, removed_message


def answer(node_id: int, voters, leader: int | None = None) -> VoterAnswer:
    return VoterAnswer(node_id, frozenset(voters), leader)


def test_the_leaders_own_answer_proves_a_removal():
    proof = removal_proof(1, [answer(4, {2, 3, 4}, leader=4)])
    assert proof is not None and proof.node_id == 4


def test_a_majority_of_the_new_set_proves_a_removal():
    proof = removal_proof(1, [answer(2, {2, 3, 4}, leader=4), answer(3, {2, 3, 4}, leader=4)])
    assert proof is not None and proof.voters == {2, 3, 4}


@pytest.mark.parametrize("answers", [
    [],
    [answer(2, {2, 3, 4}, leader=4)],                            # one follower of three: a minority
    [answer(2, {1, 2, 3}, leader=2), answer(3, {1, 2, 3}, leader=2)],  # still a voter
    [answer(2, {2, 3, 4}, leader=4), answer(3, {1, 2, 3, 4}, leader=4)],  # they disagree: no majority
    [answer(5, {2, 3, 4}, leader=4), answer(6, {2, 3, 4}, leader=4)],     # not members of the set they report
])
def test_no_proof_without_the_leader_or_a_majority(answers):
    assert removal_proof(1, answers) is None


def test_a_re_added_voter_is_never_refused_by_followers_that_lag():
    """Node 1 was put back ({1,2,3,4}); the change is committed, so at least three of the
    four hold it, the leader among them (a leader holds every committed entry). Whichever
    two of 2, 3, 4 have it, the lagging third alone is no proof."""
    for holders in itertools.combinations((2, 3, 4), 2):
        lagging = next(n for n in (2, 3, 4) if n not in holders)
        leader = holders[0]
        answers = [answer(n, {1, 2, 3, 4}, leader) for n in holders] + [answer(lagging, {2, 3, 4}, leader)]
        assert removal_proof(1, answers) is None


@pytest.mark.parametrize("body", [
    {"voters": {"2": "h:1"}, "established": False, "leader_id": 2},
    {"voters": {"x": "h:1"}, "established": True},
    {"voters": ["2"], "established": True, "leader_id": "two"},
    {},
])
def test_answers_of_no_formed_quorum_or_of_a_bad_shape_count_for_nothing(body):
    assert VoterAnswer.of(2, body) is None


def test_an_answer_from_a_node_without_the_leader_field_still_counts():
    assert VoterAnswer.of(2, {"voters": {"2": "h:1", "3": "h:2"}, "established": True}) == answer(2, {2, 3})


def test_the_message_names_the_voters_the_cause_and_both_ways_out():
    text = removed_message(1, answer(2, {2, 3, 4}), "/var/lib/kraft/node-1/__cluster_metadata")
    assert "voters are 2, 3, 4" in text and "remove-voter 1" in text
    assert "move /var/lib/kraft/node-1/__cluster_metadata aside" in text and "add-voter 1" in text
